//! `make local`: runs the API on http://127.0.0.1:8228 against a moto server, with the notifier,
//! the coverage check, the collectors and the history export on their schedules. Each step below starts one part.

use authorizer::AuthorizerApp;
use inventory_runtime::{Lookup, Sdk};
use inventory_store::{settings, Settings, SystemClock};
use lambda_http::Error;
use local_stack::moto::{moto_binary, MotoServer};
use local_stack::server::{serve, Api, Functions};
use local_stack::{
    collector, coverage, history_export, kubernetes, moto_sdk_config, schedule, stream, template, threat_data,
    LocalEnvironment, LOCAL_REGION,
};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_PORT: u16 = 8228;
const DEFAULT_TABLE: &str = "runtime-inventory";
/// The local stack's only user: for local use, never deployed.
const LOCAL_USER: &str = "admin";
const LOCAL_PASSWORD: &str = "admin";
const LOCAL_USERS_PATH: &str = "/runtime-inventory-local/users";
const LOCAL_API_KEYS_PATH: &str = "/runtime-inventory-local/api-keys";

#[tokio::main]
async fn main() -> Result<(), Error> {
    inventory_store::logging::init();
    let port = port_from_env()?;
    let moto = MotoServer::start().map_err(|error| {
        format!("starting moto ({}) failed: {error}; run `make local` to install it", moto_binary().display())
    })?;
    let config = moto_sdk_config(moto.endpoint()).await;
    let sdk = Sdk::new(config.clone());
    // One key: the clusters function encrypts with it, the Kubernetes collector decrypts.
    let environment = LocalEnvironment::from_process()
        .fallback(settings::TABLE_NAME, DEFAULT_TABLE)
        .fallback(settings::KUBERNETES_ALLOWED_NETWORKS, kubernetes::LOCAL_ALLOWED_NETWORKS)
        .set(settings::CLUSTER_CREDENTIALS_KEY, local_stack::credentials_key(&config).await?)
        .set(inventory_identity::USERS_PATH, LOCAL_USERS_PATH)
        .set(inventory_identity::API_KEYS_PATH, LOCAL_API_KEYS_PATH)
        .set(inventory_store::bus::EVENT_BUS_NAME, stream::LOCAL_BUS)
        .set(notifier::API_URL, format!("http://127.0.0.1:{port}"))
        .set(::history_export::HISTORY_ARCHIVE_BUCKET, history_export::LOCAL_BUCKET);
    let (environment, oidc_provider) = single_sign_on(&sdk, environment).await?;
    let lookup = |name: &str| environment.lookup(name);
    let settings = Settings::from_lookup(lookup)?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    template::create_inventory_table(&dynamodb, &settings.table_name).await?;

    let api = api(&sdk, &lookup).await?;
    let check_schedule = start_notifier_and_coverage_check(&sdk, &dynamodb, &lookup).await?;
    let collector_schedule = start_collector(&sdk, moto.endpoint(), &lookup).await?;
    let (kubernetes_schedule, _demo_server) = start_kubernetes_collector(&sdk, &lookup, port).await?;
    let (export_schedule, export_interval) = history_export::start(&sdk, &lookup).await?;
    let store = inventory_store::Store::build(&sdk, &settings.table_name);
    let (threat_schedule, threat_interval) = threat_data::start(&sdk, store, &environment).await?;

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    print_banner(port, moto.endpoint(), &settings, &collector_schedule, &check_schedule);
    println!(
        "  kubernetes: collector every {:?} ({}); see docs/clusters.md",
        kubernetes_schedule.1, kubernetes_schedule.0
    );
    println!(
        "  history:   the day before exported every {export_interval:?} ({export_schedule}) to s3://{}/intervals/ in moto; see docs/history.md",
        history_export::LOCAL_BUCKET
    );
    println!(
        "  threat:    KEV and EPSS loaded at start and every {threat_interval:?} ({threat_schedule}) from the repository's files on loopback; see docs/vulnerabilities.md"
    );
    let issuer = environment.lookup(authorizer::config::OIDC_ISSUER).unwrap_or_default();
    match &oidc_provider {
        Some(_) => println!(
            "  sso:       bearer tokens of the local OIDC provider {issuer} (user {}, group {} - read-only on admin); see docs/authentication.md",
            local_stack::oidc::DEMO_USER,
            local_stack::oidc::DEMO_GROUP
        ),
        None => println!("  sso:       bearer tokens of {issuer}; see docs/authentication.md"),
    }
    println!("Press Ctrl-C to stop.");
    tokio::select! {
        result = serve(listener, api) => result?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    drop(moto);
    Ok(())
}

/// Port of the local OIDC provider, when the environment names none (`OIDC_ISSUER`).
const LOCAL_OIDC_PORT: u16 = 8229;
const LOCAL_ROLE_MAPPING_PARAMETER: &str = "/runtime-inventory-local/oidc-role-mapping";
/// The local provider's demo group reads the default account.
const LOCAL_ROLE_MAPPING: &str =
    r#"{"claim": "groups", "rules": [{"group": "inventory-readers", "role": "read-only", "accounts": ["admin"]}]}"#;
/// The role mapping as JSON, for the local stack only (deployed, it is a template parameter).
const OIDC_ROLE_MAPPING: &str = "OIDC_ROLE_MAPPING";

/// Single sign-on as the environment asks (`OIDC_ISSUER`, `OIDC_AUDIENCE`, `OIDC_ROLE_MAPPING`
/// as JSON), else against a provider of its own on loopback: the mapping goes to moto's SSM,
/// where the authorizer reads it when deployed. Answers the environment and the provider it started.
async fn single_sign_on(
    sdk: &Sdk,
    environment: LocalEnvironment,
) -> Result<(LocalEnvironment, Option<local_stack::oidc::OidcServer>), Error> {
    use authorizer::config::{OIDC_AUDIENCE, OIDC_ISSUER, OIDC_ROLE_MAPPING_PARAMETER};
    let (environment, provider) = match environment.lookup(OIDC_ISSUER).filter(|issuer| !issuer.trim().is_empty()) {
        Some(_) => (environment, None),
        None => {
            // Its usual port, else any: the issuer is whatever it listens on.
            let provider = match local_stack::oidc::OidcServer::start_on(LOCAL_OIDC_PORT, chrono::Utc::now).await {
                Ok(provider) => provider,
                Err(_) => local_stack::oidc::OidcServer::start(chrono::Utc::now).await?,
            };
            let environment = environment
                .set(OIDC_ISSUER, provider.issuer())
                .fallback(OIDC_AUDIENCE, local_stack::oidc::LOCAL_CLIENT_ID)
                .fallback(query::console::CONSOLE_CLIENT_ID, local_stack::oidc::LOCAL_CLIENT_ID);
            (environment, Some(provider))
        }
    };
    let mapping = environment.lookup(OIDC_ROLE_MAPPING).unwrap_or_else(|| LOCAL_ROLE_MAPPING.to_owned());
    authorizer::oidc::RoleMapping::parse(&mapping).map_err(|error| format!("{OIDC_ROLE_MAPPING}: {error}"))?;
    let ssm = aws_sdk_ssm::Client::new(sdk.config());
    let put = ssm.put_parameter().name(LOCAL_ROLE_MAPPING_PARAMETER).value(mapping).overwrite(true);
    put.r#type(aws_sdk_ssm::types::ParameterType::String).send().await?;
    Ok((environment.set(OIDC_ROLE_MAPPING_PARAMETER, LOCAL_ROLE_MAPPING_PARAMETER), provider))
}

fn port_from_env() -> Result<u16, Error> {
    match std::env::var("LOCAL_STACK_PORT") {
        Ok(value) => Ok(value.parse().map_err(|_| format!("LOCAL_STACK_PORT must be a port number, got {value:?}"))?),
        Err(_) => Ok(DEFAULT_PORT),
    }
}

/// The API: the authorizer against the local user in moto's SSM (as it reads SSM when
/// deployed), then the functions.
async fn api(sdk: &Sdk, lookup: Lookup<'_>) -> Result<Arc<Api>, Error> {
    let users = inventory_identity::users::SsmUsers::new(aws_sdk_ssm::Client::new(sdk.config()), LOCAL_USERS_PATH);
    let local_user = inventory_identity::users::UserRecord {
        password_hash: inventory_identity::password::hash_password(LOCAL_PASSWORD)?,
        accounts: vec![inventory_store::auth::DEFAULT_ACCOUNT.to_owned()],
        role: inventory_store::auth::Role::Admin,
    };
    users.put(LOCAL_USER, &local_user, None).await?;
    Ok(Arc::new(Api {
        authorizer: AuthorizerApp::build(
            sdk,
            authorizer::Config::from_lookup_with(lookup, authorizer::config::Issuers::LoopbackHttpToo)?,
            Arc::new(SystemClock),
        ),
        functions: Functions::build(|_| sdk.clone(), lookup, Arc::new(SystemClock))?,
    }))
}

/// The table's stream feeds the notifier, the coverage check runs on its schedule, both put to
/// a local bus whose events land in a queue and are printed. Answers the check's schedule.
async fn start_notifier_and_coverage_check(
    sdk: &Sdk,
    dynamodb: &aws_sdk_dynamodb::Client,
    lookup: Lookup<'_>,
) -> Result<(String, Duration), Error> {
    let events = aws_sdk_eventbridge::Client::new(sdk.config());
    let sqs = aws_sdk_sqs::Client::new(sdk.config());
    let queue_url = stream::wire_bus_to_queue(&events, &sqs, stream::LOCAL_BUS, stream::LOCAL_QUEUE).await?;
    let notifier = notifier::NotifierApp::build(sdk, notifier::Config::from_lookup(lookup)?, Arc::new(SystemClock));
    let (check_schedule, check_interval) =
        schedule::scheduled(coverage::SCHEDULE_VARIABLE, coverage::SCHEDULE_PARAMETER)?;
    let check = coverage_check::CoverageCheckApp::build(
        sdk,
        coverage_check::Config::from_lookup(lookup)?,
        Arc::new(SystemClock),
    );
    tokio::spawn(coverage::run_on_schedule(check, check_interval));
    let (_, worklist_interval) =
        schedule::scheduled(coverage::WORKLIST_SCHEDULE_VARIABLE, coverage::WORKLIST_SCHEDULE_PARAMETER)?;
    let worklist = notifier::NotifierApp::build(sdk, notifier::Config::from_lookup(lookup)?, Arc::new(SystemClock));
    tokio::spawn(coverage::run_worklist_check(worklist, worklist_interval));
    let table = Settings::from_lookup(lookup)?.table_name;
    let reader = stream::StreamReader::new(
        aws_sdk_dynamodbstreams::Client::new(sdk.config()),
        stream::stream_arn(dynamodb, &table).await?,
    );
    let stream_dynamodb = dynamodb.clone();
    tokio::spawn(async move { stream::run(reader, &notifier, &stream_dynamodb, &table, Duration::from_secs(1)).await });
    tokio::spawn(print_events(sqs, queue_url));
    Ok((check_schedule, check_interval))
}

/// Prints each event that reaches the local queue, as it arrives.
async fn print_events(sqs: aws_sdk_sqs::Client, queue_url: String) {
    loop {
        match stream::receive_all(&sqs, &queue_url).await {
            Ok(received) => {
                for event in received {
                    println!("{}: {}", event["detail-type"].as_str().unwrap_or("event"), event["detail"]);
                }
            }
            Err(error) => tracing::warn!(%error, "reading the local queue failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The collector on the template's schedule against moto's ECS, with a demo cluster unless
/// `LOCAL_STACK_DEMO_ECS=0`. Answers its schedule and regions, for the banner.
async fn start_collector(
    sdk: &Sdk,
    moto_endpoint: &str,
    lookup: Lookup<'_>,
) -> Result<(String, Duration, Vec<String>), Error> {
    let (schedule, interval) = schedule::scheduled(collector::SCHEDULE_VARIABLE, collector::SCHEDULE_PARAMETER)?;
    let config = ::collector::Config::from_lookup(lookup, Some(LOCAL_REGION))?;
    if std::env::var("LOCAL_STACK_DEMO_ECS").as_deref() != Ok("0") {
        let ecs = aws_sdk_ecs::Client::new(sdk.config());
        let cluster = collector::create_demo_cluster(&ecs, moto_endpoint, LOCAL_REGION).await?;
        println!("  demo ECS:  {cluster} (3 tasks; LOCAL_STACK_DEMO_ECS=0 leaves it out)");
    }
    let regions = config.collector.regions.clone();
    let app = ::collector::CollectorApp::build(sdk, config, Arc::new(SystemClock)).await;
    tokio::spawn(collector::run_on_schedule(app, interval));
    Ok((schedule, interval, regions))
}

/// The Kubernetes collector on the template's schedule, and the demo API server unless
/// `LOCAL_STACK_DEMO_KUBERNETES=0`. Answers its schedule, and the server to keep running.
async fn start_kubernetes_collector(
    sdk: &Sdk,
    lookup: Lookup<'_>,
    port: u16,
) -> Result<((String, Duration), Option<local_stack::kube_api::KubeApiServer>), Error> {
    let schedule = schedule::scheduled(kubernetes::SCHEDULE_VARIABLE, kubernetes::SCHEDULE_PARAMETER)?;
    let demo = if std::env::var("LOCAL_STACK_DEMO_KUBERNETES").as_deref() != Ok("0") {
        let path = kubernetes::demo_body_path();
        let server = kubernetes::start_demo_server(&path).await?;
        let path = std::fs::canonicalize(&path)?;
        println!(
            "  demo Kubernetes API: {} (token {:?}; LOCAL_STACK_DEMO_KUBERNETES=0 leaves it out)",
            server.url,
            kubernetes::DEMO_TOKEN
        );
        println!("    register it: curl -u admin:admin -H 'content-type: application/json' -d @{} http://127.0.0.1:{port}/v1/enterprise/inventories/clusters", path.display());
        Some(server)
    } else {
        None
    };
    let config = kubernetes_collector::Config::from_lookup(lookup, Some(LOCAL_REGION))?;
    let collector = kubernetes_collector::KubernetesCollectorApp::build(sdk, config, Arc::new(SystemClock)).await;
    tokio::spawn(kubernetes::run_on_schedule(collector, schedule.1));
    Ok((schedule, demo))
}

fn print_banner(
    port: u16,
    moto_endpoint: &str,
    settings: &Settings,
    (schedule, interval, regions): &(String, Duration, Vec<String>),
    (check_schedule, check_interval): &(String, Duration),
) {
    println!("Runtime Inventory local stack");
    println!("  API:       http://127.0.0.1:{port}  (try GET /version)");
    println!("  console:   http://127.0.0.1:{port}/ui  (sign in as below)");
    println!("  auth:      HTTP basic, user {LOCAL_USER:?} password {LOCAL_PASSWORD:?} (admin of account admin; local only), users in SSM {LOCAL_USERS_PATH}");
    println!("  AWS (moto): {moto_endpoint}  table {}", settings.table_name);
    println!(
        "  settings:  INVENTORY_TTL_DAYS={} INVENTORY_INGEST_OVERWRITE={}",
        settings.ttl_days, settings.ingest_overwrite
    );
    println!(
        "  stream:    table stream -> notifier -> EventBridge bus {} -> SQS queue {}",
        stream::LOCAL_BUS,
        stream::LOCAL_QUEUE
    );
    println!("  collector: every {interval:?} ({schedule}), regions {regions:?}");
    println!(
        "  coverage:  check every {check_interval:?} ({check_schedule}); a cluster silent for STALE_AFTER_MINUTES={} puts a stale event",
        settings.stale_after_minutes
    );
}

//! `make local`: runs the API on http://127.0.0.1:8228 against a moto server, with the notifier,
//! the coverage check, the collectors and the history export on their schedules. Each step below starts one part.

use aws_config::SdkConfig;
use inventory::{Settings, Store, SystemClock};
use lambda_http::Error;
use local_stack::moto::{moto_binary, MotoServer};
use local_stack::server::{serve, Api, Functions};
use local_stack::{
    collector, coverage, history_export, kubernetes, moto_sdk_config, schedule, stream, template, LOCAL_REGION,
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

#[tokio::main]
async fn main() -> Result<(), Error> {
    inventory::logging::init();
    let port = port_from_env()?;
    let settings = settings_from_env()?;
    let moto = MotoServer::start().map_err(|error| {
        format!("starting moto ({}) failed: {error}; run `make local` to install it", moto_binary().display())
    })?;
    let config = moto_sdk_config(moto.endpoint()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    template::create_inventory_table(&dynamodb, &settings.table_name).await?;
    let store = Store::new(dynamodb.clone(), settings.table_name.clone());

    // One key: the clusters function encrypts with it, the Kubernetes collector decrypts.
    let credentials_key = local_stack::credentials_key(&config).await?;
    let api = api(&config, &store, &settings, &credentials_key).await?;
    let check_schedule = start_notifier_and_coverage_check(&config, &dynamodb, &settings, port).await?;
    let collector_schedule = start_collector(&config, moto.endpoint(), store.clone(), &settings).await?;
    let (kubernetes_schedule, _demo_server) =
        start_kubernetes_collector(&config, store.clone(), &settings, &credentials_key, port).await?;
    let (export_schedule, export_interval) = history_export::start(&config, store).await?;

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
    println!("Press Ctrl-C to stop.");
    tokio::select! {
        result = serve(listener, api) => result?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    drop(moto);
    Ok(())
}

fn port_from_env() -> Result<u16, Error> {
    match std::env::var("LOCAL_STACK_PORT") {
        Ok(value) => Ok(value.parse().map_err(|_| format!("LOCAL_STACK_PORT must be a port number, got {value:?}"))?),
        Err(_) => Ok(DEFAULT_PORT),
    }
}

/// Settings as the template passes them; the table name defaults for local use.
fn settings_from_env() -> Result<Settings, Error> {
    Ok(Settings::from_lookup(|key| match (key, std::env::var(key)) {
        (_, Ok(value)) => Some(value),
        (inventory::settings::TABLE_NAME, Err(_)) => Some(DEFAULT_TABLE.to_owned()),
        _ => None,
    })?)
}

/// The API: the authorizer against the local user in moto's SSM (as it reads SSM when
/// deployed), then the functions.
async fn api(config: &SdkConfig, store: &Store, settings: &Settings, credentials_key: &str) -> Result<Arc<Api>, Error> {
    let users = authorizer::users::SsmUsers::new(aws_sdk_ssm::Client::new(config), LOCAL_USERS_PATH);
    let local_user = authorizer::users::UserRecord {
        password_hash: authorizer::password::hash_password(LOCAL_PASSWORD)?,
        accounts: vec![inventory::auth::DEFAULT_ACCOUNT.to_owned()],
        role: inventory::auth::Role::Admin,
    };
    users.put(LOCAL_USER, &local_user, None).await?;
    let auth_config = authorizer::config::AuthConfig::from_lookup(|key| match key {
        authorizer::config::USERS_PATH => Some(LOCAL_USERS_PATH.to_owned()),
        _ => std::env::var(key).ok(),
    })?;
    Ok(Arc::new(Api {
        authorizer: authorizer::decide::Authorizer::new(users, auth_config.cache_ttl),
        functions: Functions {
            ingest: ingest::IngestApp::new(store.clone(), settings.clone(), Arc::new(SystemClock)),
            query: query::QueryApp::new(store.clone(), settings.clone(), Arc::new(SystemClock)),
            delete: delete::DeleteApp::new(store.clone(), settings.clone(), Arc::new(SystemClock)),
            subscriptions: subscriptions::SubscriptionsApp::new(store.clone(), Arc::new(SystemClock)),
            clusters: clusters::ClustersApp::new(
                store.clone(),
                aws_sdk_kms::Client::new(config),
                credentials_key,
                clusters::ClustersSettings::from_lookup(local_stack::kubernetes::local_lookup)?,
                Arc::new(SystemClock),
            ),
        },
    }))
}

/// The table's stream feeds the notifier, the coverage check runs on its schedule, both put to
/// a local bus whose events land in a queue and are printed. Answers the check's schedule.
async fn start_notifier_and_coverage_check(
    config: &SdkConfig,
    dynamodb: &aws_sdk_dynamodb::Client,
    settings: &Settings,
    port: u16,
) -> Result<(String, Duration), Error> {
    let events = aws_sdk_eventbridge::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let queue_url = stream::wire_bus_to_queue(&events, &sqs, stream::LOCAL_BUS, stream::LOCAL_QUEUE).await?;
    let clock = || Arc::new(SystemClock);
    let store = Store::new(dynamodb.clone(), settings.table_name.clone());
    let notifier =
        notifier::NotifierApp::new(store.clone(), settings.clone(), events.clone(), stream::LOCAL_BUS, clock())
            .with_api_url(Some(format!("http://127.0.0.1:{port}")));
    let (check_schedule, check_interval) =
        schedule::scheduled(coverage::SCHEDULE_VARIABLE, coverage::SCHEDULE_PARAMETER)?;
    let check = coverage_check::CoverageCheckApp::new(store, events, settings.clone(), stream::LOCAL_BUS, clock());
    tokio::spawn(coverage::run_on_schedule(check, check_interval));
    let reader = stream::StreamReader::new(
        aws_sdk_dynamodbstreams::Client::new(config),
        stream::stream_arn(dynamodb, &settings.table_name).await?,
    );
    let (stream_dynamodb, table) = (dynamodb.clone(), settings.table_name.clone());
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
    config: &SdkConfig,
    moto_endpoint: &str,
    store: Store,
    settings: &Settings,
) -> Result<(String, Duration, Vec<String>), Error> {
    let (schedule, interval) = schedule::scheduled(collector::SCHEDULE_VARIABLE, collector::SCHEDULE_PARAMETER)?;
    let collector_config = ::collector::config::CollectorConfig::from_env(Some(LOCAL_REGION))?;
    if std::env::var("LOCAL_STACK_DEMO_ECS").as_deref() != Ok("0") {
        let ecs = aws_sdk_ecs::Client::new(config);
        let cluster = collector::create_demo_cluster(&ecs, moto_endpoint, LOCAL_REGION).await?;
        println!("  demo ECS:  {cluster} (3 tasks; LOCAL_STACK_DEMO_ECS=0 leaves it out)");
    }
    let app = ::collector::CollectorApp::from_config(config, store, settings.clone(), &collector_config).await;
    tokio::spawn(collector::run_on_schedule(app, interval));
    Ok((schedule, interval, collector_config.regions))
}

/// The Kubernetes collector on the template's schedule, and the demo API server unless
/// `LOCAL_STACK_DEMO_KUBERNETES=0`. Answers its schedule, and the server to keep running.
async fn start_kubernetes_collector(
    config: &SdkConfig,
    store: Store,
    settings: &Settings,
    credentials_key: &str,
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
    let collector_settings =
        kubernetes_collector::settings::CollectorSettings::from_lookup(kubernetes::local_lookup, Some(LOCAL_REGION))?;
    let clock = Arc::new(SystemClock);
    let collector = kubernetes_collector::run::KubernetesCollector::new(
        store.clone(),
        inventory::Ingestor::new(store, settings.clone(), clock.clone()),
        aws_sdk_kms::Client::new(config),
        credentials_key.to_owned(),
        collector_settings,
        Vec::new(),
        config.credentials_provider(),
        clock,
    );
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

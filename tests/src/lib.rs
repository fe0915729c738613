//! Test harness: one moto server per test binary, a fresh table per test created from the
//! template, the functions' handlers driven with API Gateway v2 events from `events/`, and a
//! count of the DynamoDB requests the SDK actually sends.

pub mod browser;
pub mod template;
pub mod write_keys;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{DateTime, TimeZone, Utc};
use clusters::ClustersApp;
use delete::DeleteApp;
use ingest::IngestApp;
use inventory::auth::{Caller, Role, Verdict};
use inventory::http::ApiFunction;
use inventory::{Clock, ManualClock, Settings, Store};
use lambda_http::http::StatusCode;
use local_stack::moto::{workspace_root, MotoServer};
use local_stack::server::Functions;
use query::QueryApp;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use subscriptions::SubscriptionsApp;

/// DynamoDB operations that write.
pub const WRITE_OPERATIONS: &[&str] = &["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(|| MotoServer::start().expect("moto server starts (run `make test` to install it)"))
}

/// Counts every HTTP request the SDK sends, retries included, by operation name.
#[derive(Debug, Default, Clone)]
pub struct RequestCounter(Arc<Mutex<HashMap<String, u64>>>);

impl RequestCounter {
    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }

    pub fn get(&self, operation: &str) -> u64 {
        self.0.lock().unwrap().get(operation).copied().unwrap_or(0)
    }

    pub fn writes(&self) -> u64 {
        WRITE_OPERATIONS.iter().map(|operation| self.get(operation)).sum()
    }
}

/// The name of the operation an interceptor sees (`GetItem`, `PutEvents`, ...).
fn operation(config: &ConfigBag) -> Option<&str> {
    config.load::<Metadata>().map(Metadata::name)
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(operation) = operation(config) {
            *self.0.lock().unwrap().entry(operation.to_owned()).or_default() += 1;
        }
        Ok(())
    }
}

/// Fails the `nth` request (1-based) of `operation` before it is sent, as a network or service
/// fault in the middle of a batch would.
#[derive(Debug, Clone)]
pub struct FailNth {
    operation: &'static str,
    nth: u64,
    seen: Arc<Mutex<u64>>,
}

impl FailNth {
    pub fn new(operation: &'static str, nth: u64) -> Self {
        Self { operation, nth, seen: Arc::default() }
    }
}

impl Intercept for FailNth {
    fn name(&self) -> &'static str {
        "FailNth"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if operation(config) == Some(self.operation) {
            let mut seen = self.seen.lock().unwrap();
            *seen += 1;
            if *seen == self.nth {
                return Err(format!("injected failure of {} #{}", self.operation, self.nth).into());
            }
        }
        Ok(())
    }
}

/// Holds the first request of `operation` until the test lets it go: a writer paused in the
/// middle of its writes. Blocks its thread, so it needs a multi-thread runtime.
#[derive(Debug, Clone, Default)]
pub struct PauseFirst {
    operation: &'static str,
    state: Arc<(Mutex<PauseState>, std::sync::Condvar)>,
}

#[derive(Debug, Default)]
struct PauseState {
    reached: bool,
    released: bool,
}

impl PauseFirst {
    pub fn new(operation: &'static str) -> Self {
        Self { operation, state: Arc::default() }
    }

    /// Waits (off the async threads) until the paused request has been reached.
    pub async fn reached(&self) {
        let state = Arc::clone(&self.state);
        tokio::task::spawn_blocking(move || {
            let (lock, signal) = &*state;
            let _reached = signal.wait_while(lock.lock().unwrap(), |state| !state.reached).unwrap();
        })
        .await
        .unwrap();
    }

    pub fn release(&self) {
        let (lock, signal) = &*self.state;
        lock.lock().unwrap().released = true;
        signal.notify_all();
    }
}

impl Intercept for PauseFirst {
    fn name(&self) -> &'static str {
        "PauseFirst"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if operation(config) != Some(self.operation) {
            return Ok(());
        }
        let (lock, signal) = &*self.state;
        let mut state = lock.lock().unwrap();
        if state.reached {
            return Ok(());
        }
        state.reached = true;
        signal.notify_all();
        let _released = signal.wait_while(state, |state| !state.released).unwrap();
        Ok(())
    }
}

/// SDK configuration pointing at this binary's moto server.
pub async fn moto_config() -> aws_config::SdkConfig {
    local_stack::moto_sdk_config(moto().endpoint()).await
}

/// Sets one of moto's canned results (`inspector2/findings-results`, `ecr/scan-finding-results`).
pub async fn moto_static_result(path: &str, json: &serde_json::Value) {
    local_stack::moto::set_static_result(moto().endpoint(), path, &json.to_string()).await.expect("moto static result")
}

/// Starts an EC2 instance in moto for `access_key`'s account.
pub async fn moto_ec2_instance(access_key: &str, region: &str) -> String {
    local_stack::moto::run_ec2_instance(moto().endpoint(), access_key, region).await.expect("moto RunInstances")
}

pub fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap() + chrono::TimeDelta::days(n)
}

/// `client` (counted by the harness) held to `binary`'s policy in the template.
fn guarded(client: &aws_sdk_dynamodb::Client, binary: &'static str) -> aws_sdk_dynamodb::Client {
    let config = client.config().to_builder().interceptor(template::PolicyGuard::new(binary)).build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

pub struct Harness {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub clock: Arc<ManualClock>,
    pub requests: RequestCounter,
    pub settings: Settings,
    pub functions: Functions,
    /// The KMS key cluster credentials are encrypted with (moto's).
    pub credentials_key: String,
}

/// The notifier with the table's stream as input and a queue behind its bus as output.
pub struct Notifications {
    pub app: notifier::NotifierApp,
    reader: local_stack::stream::StreamReader,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    /// Wired to the bus; each function's client adds its policy guard.
    events: aws_sdk_eventbridge::Client,
    bus: String,
}

impl Notifications {
    /// This bus's EventBridge client configuration, held to `binary`'s policy.
    fn events_config(&self, binary: &'static str) -> aws_sdk_eventbridge::config::Builder {
        self.events.config().to_builder().interceptor(template::PolicyGuard::new(binary))
    }

    /// Another notifier on the same bus whose EventBridge client also runs `interceptor`.
    pub fn notifier_with(&self, harness: &Harness, interceptor: impl Intercept + 'static) -> notifier::NotifierApp {
        let events =
            aws_sdk_eventbridge::Client::from_conf(self.events_config("notifier").interceptor(interceptor).build());
        notifier::NotifierApp::new(
            harness.store_for("notifier"),
            harness.settings.clone(),
            events,
            &self.bus,
            harness.clock.clone(),
        )
    }

    /// Another notifier on the same bus whose DynamoDB client also runs `interceptor`.
    pub fn notifier_with_store(
        &self,
        harness: &Harness,
        interceptor: impl Intercept + 'static,
    ) -> notifier::NotifierApp {
        let store = Store::new(harness.client_with("notifier", interceptor), harness.table.clone());
        let events = aws_sdk_eventbridge::Client::from_conf(self.events_config("notifier").build());
        notifier::NotifierApp::new(store, harness.settings.clone(), events, &self.bus, harness.clock.clone())
    }

    /// Hands a batch to `app` as Lambda would.
    pub async fn deliver_to(
        app: &notifier::NotifierApp,
        event: aws_lambda_events::event::dynamodb::Event,
    ) -> aws_lambda_events::event::streams::DynamoDbEventResponse {
        let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
        app.handle(event).await.expect("the notifier answers every batch")
    }

    /// The stream records written since the last call, as Lambda delivers them.
    pub async fn next_event(&mut self) -> aws_lambda_events::event::dynamodb::Event {
        let records = self.reader.read_new().await.expect("stream records");
        local_stack::stream::lambda_event(&records, self.reader.stream_arn()).expect("a Lambda stream event")
    }

    pub async fn deliver(
        &self,
        event: aws_lambda_events::event::dynamodb::Event,
    ) -> aws_lambda_events::event::streams::DynamoDbEventResponse {
        Self::deliver_to(&self.app, event).await
    }

    /// The `detail` of every scheduled-for-analysis event the bus delivered since the last call
    /// (other events delivered meanwhile are dropped).
    pub async fn fired(&self) -> Vec<Value> {
        let events = self.received().await.into_iter();
        events
            .filter(|event| event["detail-type"] == inventory::bus::SCHEDULED_DETAIL_TYPE)
            .map(|e| e["detail"].clone())
            .collect()
    }

    /// Every event the bus delivered since the last call, whole.
    pub async fn received(&self) -> Vec<Value> {
        local_stack::stream::receive_all(&self.sqs, &self.queue_url).await.expect("queue")
    }

    /// The coverage check putting to this bus, held to its policy; `fail` also runs on its
    /// EventBridge client.
    pub fn coverage_check(&self, harness: &Harness, fail: Option<FailNth>) -> coverage_check::CoverageCheckApp {
        let binary = "coverage-check";
        let mut events = self.events_config(binary);
        if let Some(fail) = fail {
            events = events.interceptor(fail);
        }
        let events = aws_sdk_eventbridge::Client::from_conf(events.build());
        let store = Store::new(harness.client_for(binary), harness.table.clone());
        coverage_check::CoverageCheckApp::new(store, events, harness.settings.clone(), &self.bus, harness.clock.clone())
    }
}

pub struct Response {
    pub status: StatusCode,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Harness {
    /// A new table with the given `inventory_ttl_days` and `inventory_ingest_overwrite`.
    pub async fn new(ttl_days: u32, overwrite: bool) -> Self {
        static TABLES: AtomicU32 = AtomicU32::new(0);
        let table = format!("inventory-{}-{}", std::process::id(), TABLES.fetch_add(1, Ordering::Relaxed));
        let config = local_stack::moto_sdk_config(moto().endpoint()).await;
        let requests = RequestCounter::default();
        let dynamodb_config = aws_sdk_dynamodb::config::Builder::from(&config).interceptor(requests.clone()).build();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb_config);
        local_stack::template::create_inventory_table(&dynamodb, &table).await.expect("table from template");
        let settings =
            Settings { table_name: table.clone(), ttl_days, ingest_overwrite: overwrite, stale_after_minutes: 30 };
        // Reports in the fixtures are dated 2026-11-20; "now" starts just after.
        let clock = Arc::new(ManualClock::new(day(0) + chrono::TimeDelta::minutes(1)));
        // Each function gets a client of its own, held to its policy in the template.
        let client_of = |binary| guarded(&dynamodb, binary);
        let store_of = |binary| Store::new(client_of(binary), table.clone());
        let ingest = IngestApp::new(store_of("ingest"), settings.clone(), clock.clone());
        let query = QueryApp::new(store_of("query"), settings.clone(), clock.clone());
        let delete = DeleteApp::new(store_of("delete"), settings.clone(), clock.clone());
        let subscriptions = SubscriptionsApp::new(store_of("subscriptions"), clock.clone());
        let credentials_key = local_stack::credentials_key(&config).await.expect("a KMS key");
        let kms = aws_sdk_kms::Client::new(&config);
        let clusters = ClustersApp::new(store_of("clusters"), kms, credentials_key.clone(), loopback(), clock.clone());
        requests.reset();
        let functions = Functions { ingest, query, delete, subscriptions, clusters };
        Self { dynamodb, table, clock, requests, settings, functions, credentials_key }
    }

    /// A DynamoDB client counted like the others and held to `binary`'s policy.
    pub fn client_for(&self, binary: &'static str) -> aws_sdk_dynamodb::Client {
        guarded(&self.dynamodb, binary)
    }

    /// A store on `client_for(binary)`.
    pub fn store_for(&self, binary: &'static str) -> Store {
        Store::new(self.client_for(binary), self.table.clone())
    }

    /// `client_for(binary)` whose requests also run `interceptor`.
    pub fn client_with(&self, binary: &'static str, interceptor: impl Intercept + 'static) -> aws_sdk_dynamodb::Client {
        let client = self.client_for(binary);
        aws_sdk_dynamodb::Client::from_conf(client.config().to_builder().interceptor(interceptor).build())
    }

    /// The ingest function on a store whose client also runs `interceptor`.
    pub fn ingest_with(&self, interceptor: impl Intercept + 'static) -> IngestApp {
        let client = self.client_with("ingest", interceptor);
        IngestApp::new(Store::new(client, self.table.clone()), self.settings.clone(), self.clock.clone())
    }

    /// Posts a Kubernetes report to `app` as an admin of the default account.
    pub async fn post_k8s_to(&self, app: &impl ApiFunction, report: &Value) -> Response {
        self.catch_up_with(report);
        let event = admin_event("post-kubernetes-inventory.json", None, Some(&report.to_string()), Some("admin"), &[]);
        let request = lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event");
        response_of(app.handle(request).await)
    }

    /// The ECS events function storing into this test's table under `admin`, held to its policy.
    pub fn ecs_events(&self) -> ecs_events::EcsEventsApp {
        let store = Store::new(self.client_for("ecs-events"), self.table.clone());
        ecs_events::EcsEventsApp::new(store, self.settings.clone(), "admin".into(), self.clock.clone())
    }

    /// The API on a loopback port, as the local stack serves it: the authorizer (users in moto's
    /// SSM, each `(user, password, role)` in the default account) before this table's functions.
    /// Answers the base URL.
    pub async fn serve(&self, users: &[(&str, &str, inventory::auth::Role)]) -> String {
        self.serve_counted(users).await.0
    }

    /// `serve`, and a count of the SSM requests its authorizer sends.
    pub async fn serve_counted(&self, users: &[(&str, &str, inventory::auth::Role)]) -> (String, RequestCounter) {
        let config = local_stack::moto_sdk_config(moto().endpoint()).await;
        let path = format!("/{}/users", self.table);
        let store = authorizer::users::SsmUsers::new(aws_sdk_ssm::Client::new(&config), path.clone());
        for (user, password, role) in users {
            let record = authorizer::users::UserRecord {
                password_hash: authorizer::password::hash_password(password).expect("a hash"),
                accounts: vec![inventory::auth::DEFAULT_ACCOUNT.to_owned()],
                role: *role,
            };
            store.put(user, &record, None).await.expect("user stored");
        }
        let store_of = |binary| Store::new(self.client_for(binary), self.table.clone());
        let functions = Functions {
            ingest: IngestApp::new(store_of("ingest"), self.settings.clone(), self.clock.clone()),
            query: QueryApp::new(store_of("query"), self.settings.clone(), self.clock.clone()),
            delete: DeleteApp::new(store_of("delete"), self.settings.clone(), self.clock.clone()),
            subscriptions: SubscriptionsApp::new(store_of("subscriptions"), self.clock.clone()),
            clusters: ClustersApp::new(
                store_of("clusters"),
                aws_sdk_kms::Client::new(&config),
                self.credentials_key.clone(),
                loopback(),
                self.clock.clone(),
            ),
        };
        let ssm_requests = RequestCounter::default();
        let counted = aws_sdk_ssm::config::Builder::from(&config).interceptor(ssm_requests.clone()).build();
        let users = authorizer::users::SsmUsers::new(aws_sdk_ssm::Client::from_conf(counted), path);
        let authorizer = authorizer::decide::Authorizer::new(users, std::time::Duration::from_secs(60));
        let api = Arc::new(local_stack::server::Api { authorizer, functions });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        tokio::spawn(local_stack::server::serve(listener, api));
        (format!("http://{address}"), ssm_requests)
    }

    /// A collector storing into this test's table with the test's clock.
    pub fn collector(&self, concurrency: usize) -> collector::run::Collector {
        let store = Store::new(self.client_for("collector"), self.table.clone());
        let ingestor = inventory::Ingestor::new(store, self.settings.clone(), self.clock.clone());
        collector::run::Collector::new(ingestor, "admin".into(), concurrency, self.clock.clone())
    }

    /// A Kubernetes collector storing into this test's table with the test's clock, decrypting
    /// with moto's KMS, finding EKS clusters through `eks_targets`.
    pub async fn kubernetes_collector(
        &self,
        settings: kubernetes_collector::settings::CollectorSettings,
        eks_targets: Vec<kubernetes_collector::eks::EksTarget>,
    ) -> kubernetes_collector::run::KubernetesCollector {
        let store = Store::new(self.client_for("kubernetes-collector"), self.table.clone());
        let ingestor = inventory::Ingestor::new(store.clone(), self.settings.clone(), self.clock.clone());
        let config = local_stack::moto_sdk_config(moto().endpoint()).await;
        kubernetes_collector::run::KubernetesCollector::new(
            store,
            ingestor,
            aws_sdk_kms::Client::new(&config),
            self.credentials_key.clone(),
            settings,
            eks_targets,
            config.credentials_provider(),
            self.clock.clone(),
        )
    }

    /// Sends an API Gateway v2 event built from `events/<name>` with body, account and
    /// query string replaced, to the function that serves its route.
    pub async fn call(
        &self,
        event_name: &str,
        body: Option<&str>,
        account: Option<&str>,
        query: &[(&str, &str)],
    ) -> Response {
        self.call_path(event_name, None, body, account, query).await
    }

    /// As `call`, with the request path replaced (for routes with path parameters).
    pub async fn call_path(
        &self,
        event_name: &str,
        path: Option<&str>,
        body: Option<&str>,
        account: Option<&str>,
        query: &[(&str, &str)],
    ) -> Response {
        self.send(admin_event(event_name, path, body, account, query)).await
    }

    /// Hands an API Gateway v2 event to the function the route table names for it.
    pub async fn send(&self, event: Value) -> Response {
        let request = lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event");
        response_of(self.functions.dispatch(request).await)
    }

    /// The API URL the harness's notifier puts in scheduled events.
    pub const NOTIFIER_API_URL: &str = "https://api.example.com/";

    /// A bus and queue of this test's own, and the notifier putting to that bus.
    pub async fn notifications(&self) -> Notifications {
        let config = local_stack::moto_sdk_config(moto().endpoint()).await;
        let events = aws_sdk_eventbridge::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let bus = format!("bus-{}", self.table);
        let queue_url = local_stack::stream::wire_bus_to_queue(&events, &sqs, &bus, &format!("queue-{}", self.table))
            .await
            .expect("bus wired to a queue");
        let guarded = aws_sdk_eventbridge::Client::from_conf(
            events.config().to_builder().interceptor(template::PolicyGuard::new("notifier")).build(),
        );
        let app = notifier::NotifierApp::new(
            self.store_for("notifier"),
            self.settings.clone(),
            guarded,
            &bus,
            self.clock.clone(),
        )
        .with_api_url(Some(Self::NOTIFIER_API_URL.to_owned()));
        let stream_arn = local_stack::stream::stream_arn(&self.dynamodb, &self.table).await.expect("stream");
        let reader = local_stack::stream::StreamReader::new(aws_sdk_dynamodbstreams::Client::new(&config), stream_arn);
        Notifications { app, reader, sqs, queue_url, events, bus }
    }

    /// Creates a subscription through the API and activates it when asked.
    pub async fn subscribe(&self, account: &str, key: &str, active: bool) -> String {
        let body = serde_json::json!({"subscription_key": key, "subscription_type": "runtime_inventory"}).to_string();
        let created = self.call("post-subscriptions.json", Some(&body), Some(account), &[]).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let id = created.body[0]["subscription_id"].as_str().unwrap().to_owned();
        if active {
            let path = format!("/v1/subscriptions/{id}");
            let activated = self
                .call_path("put-subscription.json", Some(&path), Some(r#"{"active":true}"#), Some(account), &[])
                .await;
            assert_eq!(activated.status, StatusCode::OK);
        }
        id
    }

    /// Posts a report as an agent does right after building it: the clock moves to a minute
    /// after the report's time if it is behind.
    pub async fn post_k8s(&self, report: &Value) -> Response {
        self.catch_up_with(report);
        self.call("post-kubernetes-inventory.json", Some(&report.to_string()), Some("admin"), &[]).await
    }

    pub async fn post_ecs(&self, report: &Value) -> Response {
        self.catch_up_with(report);
        self.call("post-ecs-inventory.json", Some(&report.to_string()), Some("admin"), &[]).await
    }

    fn catch_up_with(&self, report: &Value) {
        let Some(time) = report["timestamp"].as_str().and_then(|raw| DateTime::parse_from_rfc3339(raw).ok()) else {
            return;
        };
        let posted = time.with_timezone(&Utc) + chrono::TimeDelta::minutes(1);
        if posted > self.clock.now() {
            self.clock.set(posted);
        }
    }

    /// All items of `GET /v2/inventories` for the account, following `next` cursors.
    pub async fn list(&self, account: &str, query: &[(&str, &str)]) -> Vec<Value> {
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut params: Vec<(&str, &str)> = query.to_vec();
            if let Some(cursor) = &next {
                params.push(("next", cursor));
            }
            let response = self.call("get-inventories.json", None, Some(account), &params).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.body);
            items.extend(response.body["items"].as_array().unwrap().iter().cloned());
            match response.body["next"].as_str() {
                Some(cursor) => next = Some(cursor.to_owned()),
                None => return items,
            }
        }
    }

    /// Every raw item in the table (a test-only scan, to check what is physically stored).
    pub async fn stored_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.dynamodb.scan().table_name(&self.table).into_paginator().items().send().try_collect().await.expect("scan")
    }
}

/// `api_event` as API Gateway passes it on once the authorizer accepted an admin of the account.
/// The clusters function's settings as the local stack's: servers on loopback are reachable.
fn loopback() -> clusters::ClustersSettings {
    clusters::ClustersSettings::from_lookup(loopback_lookup).expect("the local allow-list")
}

/// No environment but the local stack's allow-list (loopback), which the test API servers need.
pub fn loopback_lookup(key: &str) -> Option<String> {
    (key == inventory::settings::KUBERNETES_ALLOWED_NETWORKS)
        .then(|| local_stack::kubernetes::LOCAL_ALLOWED_NETWORKS.to_owned())
}

pub fn admin_event(
    event_name: &str,
    path: Option<&str>,
    body: Option<&str>,
    account: Option<&str>,
    query: &[(&str, &str)],
) -> Value {
    let mut event = api_event(event_name, path, body, account, query);
    let caller = Caller { user: "test-admin".into(), account: account.unwrap_or("admin").into(), role: Role::Admin };
    event["requestContext"]["authorizer"] = serde_json::json!({ "lambda": Verdict::Allowed(caller).to_context() });
    event
}

fn response_of(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let status = response.status();
    let headers = response.headers().clone();
    let mut bytes = inventory::http::body_bytes(response.body()).to_vec();
    if headers.get(lambda_http::http::header::CONTENT_ENCODING).is_some_and(|encoding| encoding == "gzip") {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes.as_slice()), &mut plain).expect("gzip body");
        bytes = plain;
    }
    let json = headers.get(lambda_http::http::header::CONTENT_TYPE).is_none_or(|kind| kind == "application/json");
    let body = match (bytes.is_empty(), json) {
        (true, _) => Value::Null,
        (false, true) => serde_json::from_slice(&bytes).expect("JSON body"),
        // The console's page and assets.
        (false, false) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
    };
    Response { status, headers, body }
}

/// An API Gateway v2 event built from `events/<name>` with path, body, `x-anchore-account` and
/// query string replaced, before any authorizer ran.
pub fn api_event(
    event_name: &str,
    path: Option<&str>,
    body: Option<&str>,
    account: Option<&str>,
    query: &[(&str, &str)],
) -> Value {
    let mut event = load_event(event_name);
    // The sample's credentials and authorizer context are the caller's to supply.
    event["requestContext"].as_object_mut().unwrap().remove("authorizer");
    event["headers"].as_object_mut().unwrap().remove("authorization");
    if let Some(path) = path {
        event["rawPath"] = path.into();
        event["requestContext"]["http"]["path"] = path.into();
        if let Some(id) = path.rsplit('/').next() {
            event["pathParameters"] = serde_json::json!({ "subscription_id": id });
        }
    }
    match body {
        Some(body) => event["body"] = Value::String(body.to_owned()),
        None => {
            event.as_object_mut().unwrap().remove("body");
        }
    }
    let headers = event["headers"].as_object_mut().unwrap();
    match account {
        Some(account) => headers.insert("x-anchore-account".into(), account.into()),
        None => headers.remove("x-anchore-account"),
    };
    if !query.is_empty() {
        let raw: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode_query(v))).collect();
        event["rawQueryString"] = raw.join("&").into();
        event["queryStringParameters"] = query.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    } else {
        event["rawQueryString"] = "".into();
        event.as_object_mut().unwrap().remove("queryStringParameters");
    }
    event
}

fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub fn load_event(name: &str) -> Value {
    let path = workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).expect("event JSON")
}

/// The body of a sample event, i.e. the agent's report.
pub fn sample_report(event_name: &str) -> Value {
    serde_json::from_str(load_event(event_name)["body"].as_str().unwrap()).unwrap()
}

pub fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

/// A Kubernetes report for `cluster` with one pod per container.
/// `containers` lists (namespace, image tag, digest number) per container.
pub fn k8s_report(cluster: &str, timestamp: DateTime<Utc>, containers: &[(&str, &str, u64)]) -> Value {
    let mut namespaces: Vec<&str> = containers.iter().map(|(ns, _, _)| *ns).collect();
    namespaces.sort();
    namespaces.dedup();
    serde_json::json!({
        "cluster_name": cluster,
        "timestamp": timestamp.to_rfc3339(),
        "namespaces": namespaces.iter().map(|ns| serde_json::json!({"name": ns, "uid": format!("uid-{ns}")})).collect::<Vec<_>>(),
        "nodes": [{"name": "node-a", "uid": "node-a"}],
        "pods": containers.iter().enumerate().map(|(i, (ns, _, _))| serde_json::json!({
            "name": format!("pod-{i}"), "uid": format!("{cluster}-pod-{i}"), "namespace_uid": format!("uid-{ns}"), "node_uid": "node-a"
        })).collect::<Vec<_>>(),
        "containers": containers.iter().enumerate().map(|(i, (_, tag, d))| serde_json::json!({
            "id": format!("containerd://{cluster}-{i}"), "name": "app", "pod_uid": format!("{cluster}-pod-{i}"),
            "image_tag": tag, "image_digest": digest(*d)
        })).collect::<Vec<_>>(),
    })
}

/// An item's size as DynamoDB bills it: attribute names plus values (a number about one byte
/// per two digits, lists and maps 3 bytes plus their elements).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    fn value_size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + 1 + value_size(v)).sum::<usize>(),
            AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
            AttributeValue::B(blob) => blob.as_ref().len(),
            _ => 1,
        }
    }
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// Read units of reading `bytes` strongly consistently (4 KB a unit).
pub fn read_units(bytes: usize) -> usize {
    bytes.div_ceil(4096).max(1)
}

/// `(context, image_digest)` pairs of listed items, sorted.
pub fn listed(items: &[Value]) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = items
        .iter()
        .map(|item| (item["context"].as_str().unwrap().to_owned(), item["image_digest"].as_str().unwrap().to_owned()))
        .collect();
    pairs.sort();
    pairs
}

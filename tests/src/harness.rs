//! A fresh table per test, created from the template, and the functions built on it as each
//! function's `main` builds them: their `Config` from this test's environment, their SDK
//! clients on moto, each held to its policy in the template and counted.

use crate::events::admin_event;
use crate::fixtures::day;
use crate::interceptors::RequestCounter;
use crate::moto::moto_config;
use crate::notifications::Notifications;
use crate::template::PolicyGuard;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use chrono::{DateTime, Utc};
use ingest::IngestApp;
use inventory_runtime::Sdk;
use inventory_store::auth::{Caller, Role};
use inventory_store::http::ApiFunction;
use inventory_store::{settings, Clock, ManualClock, Settings, Store};
use lambda_http::http::StatusCode;
use local_stack::server::Functions;
use local_stack::LocalEnvironment;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub struct Harness {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub clock: Arc<ManualClock>,
    pub requests: RequestCounter,
    pub settings: Settings,
    pub functions: Functions,
    /// The KMS key cluster credentials are encrypted with (moto's).
    pub credentials_key: String,
    /// moto, with `requests` counting every client's requests.
    sdk: Sdk,
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
        let config = moto_config().await;
        let requests = RequestCounter::default();
        let sdk = Sdk::new(config.clone()).with_interceptor(requests.clone());
        let dynamodb = inventory_runtime::client!(sdk, aws_sdk_dynamodb);
        local_stack::template::create_inventory_table(&dynamodb, &table).await.expect("table from template");
        let settings =
            Settings { table_name: table.clone(), ttl_days, ingest_overwrite: overwrite, stale_after_minutes: 30 };
        // Reports in the fixtures are dated 2026-11-20; "now" starts just after.
        let clock = Arc::new(ManualClock::new(day(0) + chrono::TimeDelta::minutes(1)));
        let credentials_key = local_stack::credentials_key(&config).await.expect("a KMS key");
        let environment = environment(&settings, &credentials_key);
        let functions =
            Functions::build(|binary| guarded(&sdk, binary), |name| environment.lookup(name), clock.clone())
                .expect("the functions' configuration");
        requests.reset();
        Self { dynamodb, table, clock, requests, settings, functions, credentials_key, sdk }
    }

    /// The SDK `binary` is built with: moto, counted, held to its policy in the template.
    pub fn sdk_for(&self, binary: &'static str) -> Sdk {
        guarded(&self.sdk, binary)
    }

    /// What the template would set for this test's functions.
    pub fn environment(&self) -> LocalEnvironment {
        environment(&self.settings, &self.credentials_key)
    }

    /// A DynamoDB client counted like the others and held to `binary`'s policy.
    pub fn client_for(&self, binary: &'static str) -> aws_sdk_dynamodb::Client {
        inventory_runtime::client!(self.sdk_for(binary), aws_sdk_dynamodb)
    }

    /// A store on `client_for(binary)`.
    pub fn store_for(&self, binary: &'static str) -> Store {
        Store::new(self.client_for(binary), self.table.clone())
    }

    /// `client_for(binary)` whose requests also run `interceptor`.
    pub fn client_with(&self, binary: &'static str, interceptor: impl Intercept + 'static) -> aws_sdk_dynamodb::Client {
        inventory_runtime::client!(self.sdk_for(binary).with_interceptor(interceptor), aws_sdk_dynamodb)
    }

    /// The ingest function whose clients also run `interceptor`.
    pub fn ingest_with(&self, interceptor: impl Intercept + 'static) -> IngestApp {
        let config = ingest::Config::from_lookup(|name| self.environment().lookup(name)).expect("ingest's config");
        IngestApp::build(&self.sdk_for("ingest").with_interceptor(interceptor), config, self.clock.clone())
    }

    /// Posts a Kubernetes report to `app` as an admin of the default account.
    pub async fn post_k8s_to(&self, app: &impl ApiFunction, report: &Value) -> Response {
        self.catch_up_with(report);
        let event = admin_event("post-kubernetes-inventory.json", None, Some(&report.to_string()), Some("admin"), &[]);
        let request = lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event");
        response_of(app.handle(request).await)
    }

    /// The findings sync's threat data loader, reading `feeds` (the repository's files on loopback).
    pub fn threat_loader(&self, feeds: &local_stack::feeds::FeedServer) -> findings_sync::threat::ThreatLoader {
        let (sdk, store) = (self.sdk_for("findings-sync"), self.store_for("findings-sync"));
        local_stack::threat_data::loader(&sdk, store, &self.environment(), feeds, self.clock.clone())
            .expect("the loader's configuration")
    }

    /// The ECS events function storing into this test's table under `admin`, held to its policy.
    pub fn ecs_events(&self) -> ecs_events::EcsEventsApp {
        let config = ecs_events::Config::from_lookup(|name| self.environment().lookup(name)).expect("its config");
        ecs_events::EcsEventsApp::build(&self.sdk_for("ecs-events"), config, self.clock.clone())
    }

    /// The API on a loopback port, as the local stack serves it: the authorizer (users in moto's
    /// SSM, each `(user, password, role)` in the default account) before this table's functions.
    /// Answers the base URL.
    pub async fn serve(&self, users: &[(&str, &str, inventory_store::auth::Role)]) -> String {
        self.serve_counted(users).await.0
    }

    /// `serve`, and a count of the SSM requests its authorizer sends.
    pub async fn serve_counted(&self, users: &[(&str, &str, inventory_store::auth::Role)]) -> (String, RequestCounter) {
        self.serve_with(users, &[]).await
    }

    /// `serve_counted` with these settings (environment variables) beside the test's.
    pub async fn serve_with(
        &self,
        users: &[(&str, &str, inventory_store::auth::Role)],
        settings: &[(&'static str, &str)],
    ) -> (String, RequestCounter) {
        let path = users_path(&self.settings.table_name);
        let store = inventory_identity::users::SsmUsers::new(aws_sdk_ssm::Client::new(&moto_config().await), path);
        for (user, password, role) in users {
            let record = inventory_identity::users::UserRecord {
                password_hash: inventory_identity::password::hash_password(password).expect("a hash"),
                accounts: vec![inventory_store::auth::DEFAULT_ACCOUNT.to_owned()],
                role: *role,
            };
            store.put(user, &record, None).await.expect("user stored");
        }
        let mut environment = self.environment();
        for (name, value) in settings {
            environment = environment.set(name, *value);
        }
        let lookup = |name: &str| environment.lookup(name);
        let functions = Functions::build(|binary| self.sdk_for(binary), lookup, self.clock.clone()).expect("config");
        let ssm_requests = RequestCounter::default();
        let authorizer_sdk = self.sdk_for("authorizer").with_interceptor(ssm_requests.clone());
        // The local stack's rule for issuers: a test's provider is on http://127.0.0.1.
        let issuers = authorizer::config::Issuers::LoopbackHttpToo;
        let config = authorizer::Config::from_lookup_with(lookup, issuers).expect("the authorizer's config");
        let authorizer = authorizer::AuthorizerApp::build(&authorizer_sdk, config, self.clock.clone());
        let api = Arc::new(local_stack::server::Api { authorizer, functions });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        tokio::spawn(local_stack::server::serve(listener, api));
        (format!("http://{address}"), ssm_requests)
    }

    /// A collector storing into this test's table with the test's clock.
    pub fn collector(&self, concurrency: usize) -> collector::run::Collector {
        let store = Store::new(self.client_for("collector"), self.table.clone());
        let ingestor = inventory_store::Ingestor::new(store, self.settings.clone(), self.clock.clone());
        collector::run::Collector::new(ingestor, "admin".into(), concurrency, self.clock.clone())
    }

    /// The Kubernetes collector storing into this test's table with the test's clock, decrypting
    /// with moto's KMS.
    pub async fn kubernetes_collector(
        &self,
        kubernetes: kubernetes_collector::config::KubernetesConfig,
    ) -> kubernetes_collector::KubernetesCollectorApp {
        let config = kubernetes_collector::Config {
            settings: self.settings.clone(),
            kubernetes,
            credentials_key: self.credentials_key.clone(),
        };
        kubernetes_collector::KubernetesCollectorApp::build(
            &self.sdk_for("kubernetes-collector"),
            config,
            self.clock.clone(),
        )
        .await
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

    /// `method path` as the test's admin of `admin`, to the function the route table names.
    pub async fn request(&self, method: &str, path: &str, body: Option<&str>, query: &[(&str, &str)]) -> Response {
        let admin = Caller { user: "test-admin".into(), account: "admin".into(), role: Role::Admin };
        self.send(crate::events::caller_event(&admin, method, path, body, query)).await
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
        Notifications::new(self).await
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

/// `sdk`'s clients also held to `binary`'s policy in the template.
fn guarded(sdk: &Sdk, binary: &'static str) -> Sdk {
    sdk.with_interceptor(PolicyGuard::new(binary))
}

/// What the template would set for a test's functions: its table and settings, moto's KMS key,
/// and loopback allowed (the test API servers are there).
fn environment(settings: &Settings, credentials_key: &str) -> LocalEnvironment {
    LocalEnvironment::isolated()
        .set(settings::TABLE_NAME, &settings.table_name)
        .set(settings::TTL_DAYS, settings.ttl_days.to_string())
        .set(settings::INGEST_OVERWRITE, settings.ingest_overwrite.to_string())
        .set(settings::STALE_AFTER_MINUTES, settings.stale_after_minutes.to_string())
        .set(settings::CLUSTER_CREDENTIALS_KEY, credentials_key)
        .set(settings::KUBERNETES_ALLOWED_NETWORKS, local_stack::kubernetes::LOCAL_ALLOWED_NETWORKS)
        .set(inventory_identity::USERS_PATH, users_path(&settings.table_name))
        .set(inventory_identity::API_KEYS_PATH, format!("/{}/api-keys", settings.table_name))
}

/// Where a test's users are kept: a path of its own table's.
pub fn users_path(table: &str) -> String {
    format!("/{table}/users")
}

/// No environment but the local stack's allow-list (loopback), which the test API servers need.
pub fn loopback_lookup(key: &str) -> Option<String> {
    (key == inventory_store::settings::KUBERNETES_ALLOWED_NETWORKS)
        .then(|| local_stack::kubernetes::LOCAL_ALLOWED_NETWORKS.to_owned())
}

/// One HTTP/1.1 GET of `url` (`http://127.0.0.1:port/path`) on a fresh connection, with
/// `authorization` if given: its status code (0 for no status line) and body.
pub async fn http_get(url: &str, authorization: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (address, path) = url.trim_start_matches("http://").split_once('/').expect("http://host:port/path");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("the server listens");
    let credentials = authorization.map(|value| format!("Authorization: {value}\r\n")).unwrap_or_default();
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {address}\r\n{credentials}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("the request sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("the answer read");
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

pub fn response_of(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let status = response.status();
    let headers = response.headers().clone();
    let mut bytes = inventory_store::http::body_bytes(response.body()).to_vec();
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

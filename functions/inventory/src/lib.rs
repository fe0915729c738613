//! Runtime inventory storage and services, shared by the functions, on the AWS-free domain of
//! `inventory_core` (re-exported below, so `inventory::model` and the rest keep their paths).
//!
//! The rule: what two or more functions run lives here; what one function alone runs lives in
//! that function's crate (the notifier's `notify`, the coverage check's `staleness`, the delete
//! function's `deleter`, the query function's `details`).
//!
//! Where the code is (route or trigger → function crate → service → store module):
//!
//! | route or trigger | function | service | store |
//! |---|---|---|---|
//! | report routes | `ingest` | `report` (parse), `ingest::Ingestor`, `plan` | `store::{contexts, items, batch}`, `lease` |
//! | agent registration, health | `ingest`, `query` | `integrations` | `store::integrations` |
//! | listings, clusters, details, `/ui` | `query` | `query`, `coverage`, `query::details` | `store::{contexts, items}` |
//! | deletes | `delete` | `delete::deleter` | `store::{items, batch}`, `lease` |
//! | subscriptions | `subscriptions` | `subscriptions` | `store::{subscriptions, markers}` |
//! | image vulnerabilities | `ingest`, `query` | `findings` (parse, merge), `vulnerabilities` | `store::findings`, `lease` |
//! | table stream | `notifier` | `notifier::notify` | `store::markers`, `bus` |
//! | coverage schedule | `coverage-check` | `coverage_check::staleness` | `store::{contexts, markers}`, `bus` |
//! | collector, ECS task events | `collector`, `ecs-events` | `ecs_events`, through `Ingestor` | as reports |
//!
//! One definition each: routes in `routes`, key formats in `keys`, bounds in `limits`, event
//! detail types in `bus`, DynamoDB calls in `store`.

pub mod bus;
pub mod coverage;
pub mod ecs_events;
pub mod ingest;
pub mod integrations;
pub mod lease;
pub mod metrics;
pub mod query;
pub mod settings;
pub mod store;
pub mod subscriptions;
pub mod vulnerabilities;

pub use inventory_api::{auth, http, logging, routes};
pub use inventory_core::{
    clock, cluster_config, findings, history, image, inventory_type, keys, limits, model, plan, report, subscription,
    workload,
};

pub use clock::{Clock, ManualClock, SystemClock};
pub use ingest::{IngestError, IngestSummary, Ingestor};
pub use query::{InventoryQuery, InventoryReader};
pub use settings::Settings;
pub use store::Store;

use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use std::time::Duration;

/// Settings and a store built from the function's environment: what every function's
/// `main` needs, built once per execution environment.
pub async fn store_from_env() -> Result<(Store, Settings), settings::SettingsError> {
    let settings = Settings::from_env()?;
    let store = Store::from_sdk_config(&sdk_config().await, settings.table_name.clone());
    Ok((store, settings))
}

/// Connecting to an AWS endpoint (the SDK's default).
pub const SDK_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// One attempt of an SDK call: DynamoDB, SSM and EventBridge answer in milliseconds.
pub const SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// A whole SDK call, retries included: shorter than the authorizer's 10 s timeout and than a
/// lease's write margin, so no call can hang a function or outlive its lease.
pub const SDK_OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

/// Connect, attempt and operation timeouts for every SDK client of the functions.
pub fn sdk_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(SDK_CONNECT_TIMEOUT)
        .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
        .operation_timeout(SDK_OPERATION_TIMEOUT)
        .build()
}

/// The HTTPS client of every SDK client: rustls on ring rather than the SDKs' default AWS-LC,
/// which made each binary about 2 MB larger for the same TLS (BENCHMARKS.md). Plain `http://`
/// endpoints (moto) work through it too.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// What every SDK configuration starts from: the HTTPS client and the timeouts.
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(sdk_timeouts())
}

/// The SDK configuration of the execution environment (`AWS_ENDPOINT_URL` is honoured).
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_loader().load().await
}

/// Time a scheduled run keeps back before its Lambda deadline: what it read by then is still
/// stored (the collectors, the findings sync).
pub const RUN_DEADLINE_RESERVE: chrono::TimeDelta = chrono::TimeDelta::seconds(20);

/// Why a scheduled run failed, if it did: only when it met errors and did nothing (`done`), so
/// the function's Errors metric and alarm show a run that is wholly broken, while a run that did
/// some of its work succeeds with its errors in its summary.
pub fn failed_run<'a>(what: &str, errors: impl ExactSizeIterator<Item = &'a str>, done: usize) -> Option<String> {
    let count = errors.len();
    let mut errors = errors;
    let first = errors.next()?;
    (done == 0).then(|| format!("no {what}; {count} errors, first: {first}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_run_fails_only_when_it_met_errors_and_did_nothing() {
        let errors = ["a timeout", "a 403"];
        assert_eq!(
            super::failed_run("cluster collected", errors.into_iter(), 0).as_deref(),
            Some("no cluster collected; 2 errors, first: a timeout")
        );
        assert_eq!(super::failed_run("cluster collected", errors.into_iter(), 1), None, "some work done");
        assert_eq!(super::failed_run("cluster collected", [].into_iter(), 0), None, "nothing to do");
    }

    use super::*;

    #[tokio::test]
    async fn every_client_gets_connect_attempt_and_operation_timeouts() {
        let config = sdk_config().await;
        let timeouts = config.timeout_config().expect("timeouts are set");
        assert_eq!(timeouts.connect_timeout(), Some(SDK_CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(SDK_ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(SDK_OPERATION_TIMEOUT));
        let margin = lease::LEASE_WRITE_MARGIN.to_std().unwrap();
        assert!(SDK_OPERATION_TIMEOUT < margin, "a write in flight ends before its lease could be taken over");
    }

    #[tokio::test]
    async fn every_client_gets_an_https_client_without_aws_lc() {
        // Without the SDKs' default client, a config with no client set fails its first request.
        assert!(sdk_config().await.http_client().is_some());
        let lockfile = include_str!("../../../Cargo.lock");
        assert!(!lockfile.contains("name = \"aws-lc-sys\""), "a dependency's features brought AWS-LC back");
    }
}

//! The whole system on loopback: a moto server as AWS, the table from the template, and the
//! functions' handlers behind a local HTTP server. Development and tests only.

pub mod collector;
pub mod coverage;
pub mod feeds;
pub mod history_export;
pub mod kube_api;
pub mod kubernetes;
pub mod moto;
pub mod oidc;
pub mod schedule;
pub mod server;
pub mod stream;
pub mod template;
pub mod threat_data;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};

pub const LOCAL_REGION: &str = "us-east-1";

/// The environment the functions' `Config::from_lookup` read in the local stack and the test
/// harness: the values it must set itself (the local bus, key, bucket, users), then the process
/// environment (the local stack's only), then the defaults it gives what the template would set.
#[derive(Debug, Clone)]
pub struct LocalEnvironment {
    set: Vec<(&'static str, String)>,
    reads_process: bool,
    defaults: Vec<(&'static str, String)>,
}

impl LocalEnvironment {
    /// The local stack's: the process environment overrides the defaults.
    pub fn from_process() -> Self {
        Self { set: Vec::new(), reads_process: true, defaults: Vec::new() }
    }

    /// The test harness's: what it sets and nothing of the process.
    pub fn isolated() -> Self {
        Self { reads_process: false, ..Self::from_process() }
    }

    /// `name` is `value` whatever the environment says.
    pub fn set(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.set.push((name, value.into()));
        self
    }

    /// `name` is `value` unless the environment sets it.
    pub fn fallback(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.defaults.push((name, value.into()));
        self
    }

    pub fn lookup(&self, name: &str) -> Option<String> {
        let find =
            |pairs: &[(&str, String)]| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone());
        let process = || std::env::var(name).ok().filter(|_| self.reads_process);
        find(&self.set).or_else(process).or_else(|| find(&self.defaults))
    }
}

/// SDK configuration for a moto endpoint: fixed dummy credentials, never real ones. moto on a
/// busy two-core machine is far slower than AWS, so its calls get longer timeouts than the
/// deployed functions' (`inventory_runtime::sdk::timeouts`), though never none.
pub async fn moto_sdk_config(endpoint: &str) -> SdkConfig {
    let timeouts = inventory_runtime::sdk::timeouts()
        .to_builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(60))
        .operation_timeout(std::time::Duration::from_secs(120))
        .build();
    inventory_runtime::sdk::config_loader()
        .timeout_config(timeouts)
        .endpoint_url(endpoint)
        .region(Region::new(LOCAL_REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// A KMS key in moto for the cluster configurations' credentials, as the stack's key is.
pub async fn credentials_key(config: &SdkConfig) -> Result<String, aws_sdk_kms::Error> {
    let created = aws_sdk_kms::Client::new(config)
        .create_key()
        .description("cluster configuration credentials (local stack)")
        .send()
        .await?;
    Ok(created.key_metadata().map(|metadata| metadata.key_id().to_owned()).unwrap_or_default())
}

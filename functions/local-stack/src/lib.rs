//! The whole system on loopback: a moto server as AWS, the table from the template, and the
//! functions' handlers behind a local HTTP server. Development and tests only.

pub mod collector;
pub mod coverage;
pub mod history_export;
pub mod kube_api;
pub mod kubernetes;
pub mod moto;
pub mod schedule;
pub mod server;
pub mod stream;
pub mod template;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};

pub const LOCAL_REGION: &str = "us-east-1";

/// SDK configuration for a moto endpoint: fixed dummy credentials, never real ones. moto on a
/// busy two-core machine is far slower than AWS, so its calls get longer timeouts than the
/// deployed functions' (`inventory::sdk_timeouts`), though never none.
pub async fn moto_sdk_config(endpoint: &str) -> SdkConfig {
    let timeouts = inventory::sdk_timeouts()
        .to_builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(60))
        .operation_timeout(std::time::Duration::from_secs(120))
        .build();
    inventory::sdk_config_loader()
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

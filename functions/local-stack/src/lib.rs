//! The whole system on loopback: a moto server as AWS, the table from the template, and the
//! functions' handlers behind a local HTTP server. Development and tests only.

pub mod collector;
pub mod moto;
pub mod server;
pub mod stream;
pub mod template;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, Region};

pub const LOCAL_REGION: &str = "us-east-1";

/// SDK configuration for a moto endpoint: fixed dummy credentials, never real ones.
pub async fn moto_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(LOCAL_REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

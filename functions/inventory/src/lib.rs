//! Runtime inventory domain and storage, shared by every function.

pub mod auth;
pub mod clock;
pub mod delete;
pub mod http;
pub mod image;
pub mod ingest;
pub mod lease;
pub mod limits;
pub mod model;
pub mod notify;
pub mod plan;
pub mod query;
pub mod report;
pub mod settings;
pub mod store;
pub mod subscriptions;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ingest::{IngestError, IngestSummary, Ingestor};
pub use query::{InventoryQuery, InventoryReader};
pub use settings::Settings;
pub use store::Store;

/// Settings and a store built from the function's environment: what every function's
/// `main` needs, built once per execution environment.
pub async fn store_from_env() -> Result<(Store, Settings), settings::SettingsError> {
    let settings = Settings::from_env()?;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk_config().await), settings.table_name.clone());
    Ok((store, settings))
}

/// The SDK configuration of the execution environment (`AWS_ENDPOINT_URL` is honoured).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

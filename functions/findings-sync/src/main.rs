use inventory_runtime::{config::from_env, Sdk};
use inventory_store::SystemClock;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    inventory_store::logging::init();
    let sdk = Sdk::load().await;
    let config = findings_sync::Config::from_lookup(from_env, sdk.region())?;
    inventory_runtime::events::run(findings_sync::FindingsSyncApp::build(&sdk, config, Arc::new(SystemClock)).await)
        .await
}

use inventory_runtime::{config::from_env, Sdk};
use inventory_store::SystemClock;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    inventory_store::logging::init();
    let sdk = Sdk::load().await;
    let config = coverage_check::Config::from_lookup(from_env)?;
    let app = coverage_check::CoverageCheckApp::build(&sdk, config, Arc::new(SystemClock));
    inventory_runtime::events::run(app).await
}

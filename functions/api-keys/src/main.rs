use inventory_core::clock::SystemClock;
use inventory_runtime::{config::from_env, Sdk};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    inventory_api::logging::init();
    let config = api_keys::Config::from_lookup(from_env)?;
    inventory_api::http::run(api_keys::ApiKeysApp::build(&Sdk::load().await, config, Arc::new(SystemClock))).await
}

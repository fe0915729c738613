use inventory_runtime::{config::from_env, Sdk};
use inventory_store::SystemClock;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    inventory_store::logging::init();
    let config = vex::Config::from_lookup(from_env)?;
    inventory_store::http::run(vex::VexApp::build(&Sdk::load().await, config, Arc::new(SystemClock))).await
}

use inventory_runtime::{config::from_env, Sdk};
use inventory_store::SystemClock;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    inventory_store::logging::init();
    let sdk = Sdk::load().await;
    let config = kubernetes_collector::Config::from_lookup(from_env, sdk.region())?;
    let app = kubernetes_collector::KubernetesCollectorApp::build(&sdk, config, Arc::new(SystemClock)).await;
    inventory_runtime::events::run(app).await
}

use inventory_runtime::{config::from_env, Sdk};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    inventory_api::logging::init();
    let config = authorizer::Config::from_lookup(from_env)?;
    inventory_runtime::events::run(authorizer::AuthorizerApp::build(
        &Sdk::load().await,
        config,
        std::sync::Arc::new(inventory_core::clock::SystemClock),
    ))
    .await
}

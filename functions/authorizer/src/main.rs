use lambda_runtime::{run, service_fn, tracing, Error};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let app = Arc::new(authorizer::AuthorizerApp::from_env().await?);
    run(service_fn(move |event| {
        let app = Arc::clone(&app);
        async move { app.handle(event).await }
    }))
    .await
}

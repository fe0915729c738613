use lambda_http::{run, service_fn, tracing, Error};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let app = Arc::new(subscriptions::SubscriptionsApp::from_env().await?);
    run(service_fn(move |request| {
        let app = Arc::clone(&app);
        async move { app.handle(request).await }
    }))
    .await
}

use lambda_runtime::{run, service_fn, Error};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    inventory::logging::init();
    let app = Arc::new(history_export::HistoryExportApp::from_env().await?);
    run(service_fn(move |event| {
        let app = Arc::clone(&app);
        async move { app.handle(event).await }
    }))
    .await
}

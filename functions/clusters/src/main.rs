use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    inventory::logging::init();
    inventory::http::run(clusters::ClustersApp::from_env().await?).await
}

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    inventory::logging::init();
    inventory::http::run(delete::DeleteApp::from_env().await?).await
}

use lambda_http::{tracing, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    inventory::http::run(query::QueryApp::from_env().await?).await
}

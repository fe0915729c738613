use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    inventory_api::logging::init();
    version::run().await
}

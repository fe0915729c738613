use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    inventory::logging::init();
    version::run().await
}

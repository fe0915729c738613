//! The floor of the cold-start bench (`make bench-cold-start`): a `lambda_http` function that
//! builds a DynamoDB client once and does one `GetItem` per request. Nothing a function needs
//! can cost less, so each function is measured as a ratio to this.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The functions' own HTTPS client (rustls on ring), so the floor carries the same TLS.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(inventory_runtime::sdk::https_client())
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("INVENTORY_TABLE").unwrap_or_default();
    lambda_http::run(service_fn(move |_request: Request| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S("floor".into()))
                .key("sk", AttributeValue::S("floor".into()))
                .send()
                .await?;
            Ok::<_, Error>(Response::new(Body::from(format!("{}", item.item.is_some()))))
        }
    }))
    .await
}

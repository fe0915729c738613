//! Adds the `contexts` and `digests` index keys to items written before those indexes existed.
//! Run once after upgrading, with credentials that can scan and update the table:
//! `INVENTORY_TABLE=<table> cargo run -p inventory --bin inventory-migrate`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let variable = inventory::settings::TABLE_NAME;
    let table = std::env::var(variable).map_err(|_| format!("set {variable} to the table's name"))?;
    let client = aws_sdk_dynamodb::Client::new(&inventory::sdk_config().await);
    let migrated = inventory::migrate::migrate(&inventory::Store::new(client, table)).await?;
    println!("{}", serde_json::to_string(&migrated)?);
    Ok(())
}

//! Moves inventory items written before per-context partitions into them (`inventory::store::migration`).
//! Run once right after upgrading, with credentials that can scan, put and delete items:
//! `INVENTORY_TABLE=<table> cargo run -p inventory --bin inventory-migrate`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let variable = inventory::settings::TABLE_NAME;
    let table = std::env::var(variable).map_err(|_| format!("set {variable} to the table's name"))?;
    let store = inventory::Store::from_sdk_config(&inventory::sdk_config().await, table);
    let migrated = store.migrate_old_layout().await?;
    println!("{}", serde_json::to_string(&migrated)?);
    Ok(())
}

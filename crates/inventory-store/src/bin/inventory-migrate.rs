//! Moves inventory items written before per-context partitions into them (`inventory_store::store::migration`).
//! Run once right after upgrading, with credentials that can scan, put and delete items:
//! `INVENTORY_TABLE=<table> cargo run -p inventory --bin inventory-migrate`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let variable = inventory_store::settings::TABLE_NAME;
    let table = std::env::var(variable).map_err(|_| format!("set {variable} to the table's name"))?;
    let store = inventory_store::Store::build(&inventory_runtime::Sdk::load().await, table);
    let migrated = store.migrate_old_layout().await?;
    println!("{}", serde_json::to_string(&migrated)?);
    Ok(())
}

//! One-shot migration of inventory items written in the layout before per-context partitions:
//! context and image records under one partition per account and type (`{account}#inv#{type}`)
//! move to their context's partition, with their index keys recomputed for the sharded
//! `contexts` and `digests` indexes.
//!
//! It scans the table: the one `Scan` of the project, run by hand once after an upgrade
//! (`cargo run -p inventory --bin inventory-migrate`, which calls `Store::migrate_old_layout`), never by a function. Run it right after
//! deploying: until it has run, reports of contexts it has not moved start them afresh, and a
//! context a report already wrote in the new layout keeps that state (its old items are dropped).

use super::{sdk_error, Item, Store, StoreError};
use crate::keys::{contexts_pk, digest_pk, inventory_pk, ItemKind};
use crate::model::{InventoryType, MIGRATED_ATTRIBUTE};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    pub contexts: u64,
    pub images: u64,
    /// Contexts a report already wrote in the new layout since the upgrade: their old items
    /// are dropped.
    pub superseded: u64,
}

/// The account and type of an old-layout inventory partition key, `{account}#inv#{type}`.
fn old_inventory_partition(pk: &str) -> Option<(&str, InventoryType)> {
    let (account, inventory_type) = pk.split_once("#inv#")?;
    Some((account, InventoryType::parse(inventory_type)?))
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|value| value.as_s().ok()).map(String::as_str)
}

/// The item in the new layout, if `item` is an old-layout context or image record.
fn relocated(item: &Item) -> Option<Item> {
    let (account, inventory_type) = old_inventory_partition(text(item, "pk")?)?;
    let context = text(item, "context")?;
    let mut moved = item.clone();
    moved.insert("pk".into(), AttributeValue::S(inventory_pk(account, inventory_type, context)));
    // Not new to its context: the notifier announces nothing for it.
    moved.insert(MIGRATED_ATTRIBUTE.into(), AttributeValue::Bool(true));
    match ItemKind::parse(text(item, "kind")?)? {
        ItemKind::Context => {
            moved.insert("context_pk".into(), AttributeValue::S(contexts_pk(account, inventory_type, context)));
        }
        ItemKind::Image => match text(item, "image_digest").filter(|digest| !digest.is_empty()) {
            Some(digest) => {
                let key = digest_pk(account, inventory_type, digest, context);
                moved.insert("digest_pk".into(), AttributeValue::S(key));
            }
            None => {
                moved.remove("digest_pk");
            }
        },
        _ => return None,
    }
    Some(moved)
}

impl Store {
    /// Moves every old-layout context and image record; a second run finds nothing.
    pub async fn migrate_old_layout(&self) -> Result<Migrated, StoreError> {
        migrate(self).await
    }
}

async fn migrate(store: &Store) -> Result<Migrated, StoreError> {
    let client = &store.client;
    let candidates: Vec<Item> = client
        .scan()
        .table_name(&store.table)
        .filter_expression("kind IN (:context, :image)")
        .expression_attribute_values(":context", AttributeValue::S(ItemKind::Context.as_str().into()))
        .expression_attribute_values(":image", AttributeValue::S(ItemKind::Image.as_str().into()))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk_error("Scan"))?;
    // Per context, its record first: a context a report already wrote anew keeps that state.
    let mut by_context: BTreeMap<String, Vec<(&Item, Item)>> = BTreeMap::new();
    for item in &candidates {
        if let Some(moved) = relocated(item) {
            let new_pk = text(&moved, "pk").unwrap_or_default().to_owned();
            by_context.entry(new_pk).or_default().push((item, moved));
        }
    }
    let mut migrated = Migrated::default();
    for mut items in by_context.into_values() {
        items.sort_by_key(|(old, _)| text(old, "kind") != Some(ItemKind::Context.as_str()));
        let mut superseded = false;
        for (old, moved) in items {
            let is_context = text(old, "kind") == Some(ItemKind::Context.as_str());
            if !superseded {
                match put_if_absent(store, moved).await? {
                    true if is_context => migrated.contexts += 1,
                    true => migrated.images += 1,
                    false if is_context => {
                        superseded = true;
                        migrated.superseded += 1;
                    }
                    false => {}
                }
            }
            client
                .delete_item()
                .table_name(&store.table)
                .key("pk", old["pk"].clone())
                .key("sk", old["sk"].clone())
                .send()
                .await
                .map_err(sdk_error("DeleteItem"))?;
        }
    }
    Ok(migrated)
}

/// Writes `item` unless its key exists; whether it was written.
async fn put_if_absent(store: &Store, item: Item) -> Result<bool, StoreError> {
    match store.put_if(item, "attribute_not_exists(pk)").await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string()))).collect()
    }

    #[test]
    fn old_layout_records_move_to_their_context_partition_with_sharded_index_keys() {
        let context = item(&[
            ("pk", "team-a#inv#kubernetes"),
            ("sk", "c/ns"),
            ("kind", "context"),
            ("context", "c/ns"),
            ("context_pk", "team-a#kubernetes"),
        ]);
        let moved = relocated(&context).unwrap();
        assert_eq!(text(&moved, "pk"), Some("team-a#inv#kubernetes#c/ns"));
        assert_eq!(text(&moved, "sk"), Some("c/ns"));
        let shard_key = contexts_pk("team-a", InventoryType::Kubernetes, "c/ns");
        assert_eq!(text(&moved, "context_pk"), Some(shard_key.as_str()));

        let image = item(&[
            ("pk", "admin#inv#ecs"),
            ("sk", "arn#sha256:1"),
            ("kind", "image"),
            ("context", "arn"),
            ("image_digest", "sha256:1"),
        ]);
        let moved = relocated(&image).unwrap();
        assert_eq!(text(&moved, "pk"), Some("admin#inv#ecs#arn"));
        let shard_key = digest_pk("admin", InventoryType::Ecs, "sha256:1", "arn");
        assert_eq!(text(&moved, "digest_pk"), Some(shard_key.as_str()));
        let tag_only = item(&[("pk", "admin#inv#ecs"), ("sk", "arn#t"), ("kind", "image"), ("context", "arn")]);
        assert!(!relocated(&tag_only).unwrap().contains_key("digest_pk"));
    }

    #[test]
    fn items_already_in_the_new_layout_and_details_stay() {
        let new_layout = item(&[("pk", "admin#inv#ecs#arn"), ("sk", "arn"), ("kind", "context"), ("context", "arn")]);
        assert_eq!(relocated(&new_layout), None);
        let detail = item(&[("pk", "admin#det#ecs#arn"), ("sk", "c#1"), ("kind", "detail"), ("context", "arn")]);
        assert_eq!(relocated(&detail), None);
    }
}

//! One-shot migration of items written before the `contexts` and `digests` indexes existed:
//! context records get `context_pk`, image records with a digest get `digest_pk`. Reports add
//! both themselves (context records on the next report, image records within two days, when
//! their refresh rewrites them); this makes listings and digest lookups complete at once.
//!
//! It scans the table: the one `Scan` of the project, run by hand once after an upgrade
//! (`cargo run -p inventory --bin inventory-migrate`), never by a function.

use crate::model::{contexts_pk, digest_pk, InventoryType, KIND_CONTEXT, KIND_IMAGE};
use crate::store::{sdk_error, Item, Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    pub contexts: u64,
    pub images: u64,
    /// Changed or deleted by a writer meanwhile, which keys them itself.
    pub skipped: u64,
}

/// The account and type of an inventory partition key, `{account}#inv#{type}`.
fn inventory_partition(pk: &str) -> Option<(&str, InventoryType)> {
    let (account, inventory_type) = pk.split_once("#inv#")?;
    Some((account, InventoryType::parse(inventory_type)?))
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|value| value.as_s().ok()).map(String::as_str)
}

/// The index attribute an unmigrated item needs, with its value.
fn missing_key(item: &Item) -> Option<(&'static str, String)> {
    let (account, inventory_type) = inventory_partition(text(item, "pk")?)?;
    match text(item, "kind")? {
        KIND_CONTEXT => Some(("context_pk", contexts_pk(account, inventory_type))),
        KIND_IMAGE => {
            let digest = text(item, "image_digest").filter(|digest| !digest.is_empty())?;
            Some(("digest_pk", digest_pk(account, inventory_type, digest)))
        }
        _ => None,
    }
}

pub async fn migrate(store: &Store) -> Result<Migrated, StoreError> {
    let client = store.client();
    let unmigrated: Vec<Item> = client
        .scan()
        .table_name(store.table())
        .filter_expression(
            "(kind = :context AND attribute_not_exists(context_pk)) OR \
             (kind = :image AND attribute_not_exists(digest_pk) AND image_digest <> :none)",
        )
        .projection_expression("pk, sk, kind, image_digest")
        .expression_attribute_values(":context", AttributeValue::S(KIND_CONTEXT.into()))
        .expression_attribute_values(":image", AttributeValue::S(KIND_IMAGE.into()))
        .expression_attribute_values(":none", AttributeValue::S(String::new()))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk_error("Scan"))?;
    let mut migrated = Migrated::default();
    for item in &unmigrated {
        let Some((attribute, value)) = missing_key(item) else { continue };
        let result = client
            .update_item()
            .table_name(store.table())
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .update_expression("SET #attribute = :value")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#attribute)")
            .expression_attribute_names("#attribute", attribute)
            .expression_attribute_values(":value", AttributeValue::S(value))
            .send()
            .await;
        match result {
            Ok(_) if attribute == "context_pk" => migrated.contexts += 1,
            Ok(_) => migrated.images += 1,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                migrated.skipped += 1;
            }
            Err(error) => return Err(sdk_error("UpdateItem")(error)),
        }
    }
    Ok(migrated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string()))).collect()
    }

    #[test]
    fn each_unmigrated_item_gets_its_index_key() {
        let context = item(&[("pk", "team-a#inv#kubernetes"), ("sk", "c/ns"), ("kind", "context")]);
        assert_eq!(missing_key(&context), Some(("context_pk", "team-a#kubernetes".into())));
        let image =
            item(&[("pk", "admin#inv#ecs"), ("sk", "arn#sha256:1"), ("kind", "image"), ("image_digest", "sha256:1")]);
        assert_eq!(missing_key(&image), Some(("digest_pk", "admin#ecs#sha256:1".into())));
        let tag_only = item(&[("pk", "admin#inv#ecs"), ("sk", "arn#tag:x"), ("kind", "image"), ("image_digest", "")]);
        assert_eq!(missing_key(&tag_only), None);
        let detail = item(&[("pk", "admin#det#ecs#arn"), ("sk", "c#1"), ("kind", "detail")]);
        assert_eq!(missing_key(&detail), None);
    }
}

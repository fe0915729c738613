//! A context's image and detail items, pages and prefixes of a partition, and the keys-only
//! `digests` index.

use super::{decode, key, sdk_error, string, Item, Store, StoreError};
use crate::keys::{detail_pk, digest_shard_pk, image_sk, inventory_pk, DIGESTS_INDEX};
use crate::model::{ContextRecord, DetailRecord, ImageRecord, InventoryType};
use crate::plan::{StoredContext, Tracked};
use aws_sdk_dynamodb::types::{AttributeValue, Select};

/// One page of the inventory partition, in sort-key order.
pub struct InventoryPage {
    pub items: Vec<Item>,
    pub last_evaluated_sk: Option<String>,
}

impl Store {
    /// A context's images and details, with its record as already read. Any writer that
    /// changed the items since has moved the record's version, so a plan made from this state
    /// fails its conditional write and is made again.
    pub async fn load_items(
        &self,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        record: Option<ContextRecord>,
    ) -> Result<StoredContext, StoreError> {
        let inventory = inventory_pk(account, inventory_type, context);
        let image_prefix = image_sk(context, "");
        let details_pk = detail_pk(account, inventory_type, context);
        let (images, details) =
            futures::try_join!(self.query_all(&inventory, Some(&image_prefix)), self.query_all(&details_pk, None),)?;
        let images = images
            .into_iter()
            .map(|item| {
                let record: ImageRecord = decode(item)?;
                Ok((record.image_key, Tracked { content: record.content, tracking: record.tracking }))
            })
            .collect::<Result<_, StoreError>>()?;
        let details = details
            .into_iter()
            .map(|item| {
                let record: DetailRecord = decode(item)?;
                Ok((record.sk, Tracked { content: record.data, tracking: record.tracking }))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(StoredContext { record, images, details })
    }

    /// The first `count` items of a partition whose sort keys start with `sk_prefix`, in order.
    pub async fn query_prefix(&self, pk: &str, sk_prefix: &str, count: usize) -> Result<Vec<Item>, StoreError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", string(pk))
            .expression_attribute_values(":prefix", string(sk_prefix))
            .limit(count.clamp(1, 1000) as i32);
        let mut stream = request.into_paginator().items().send();
        let mut items = Vec::new();
        while items.len() < count {
            match stream.next().await {
                Some(item) => items.push(item.map_err(sdk_error("Query"))?),
                None => break,
            }
        }
        Ok(items)
    }

    /// How many items of a partition have sort keys starting with `sk_prefix`.
    pub async fn count_prefix(&self, pk: &str, sk_prefix: &str) -> Result<u32, StoreError> {
        let pages: Vec<_> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", string(pk))
            .expression_attribute_values(":prefix", string(sk_prefix))
            .select(Select::Count)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(sdk_error("Query"))?;
        Ok(pages.iter().map(|page| page.count().max(0) as u32).sum())
    }

    /// One page of a context's inventory partition: its record first (unless the page starts
    /// after it), then its image records, in sort-key order.
    pub async fn query_inventory(
        &self,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        start_after: Option<&str>,
        page_size: i32,
    ) -> Result<InventoryPage, StoreError> {
        let pk = inventory_pk(account, inventory_type, context);
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .limit(page_size)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", string(&pk));
        if let Some(sk) = start_after {
            request = request.set_exclusive_start_key(Some(key(&pk, sk)));
        }
        let output = request.send().await.map_err(sdk_error("Query"))?;
        let last_evaluated_sk = output.last_evaluated_key.and_then(|mut key| match key.remove("sk") {
            Some(AttributeValue::S(sk)) => Some(sk),
            _ => None,
        });
        Ok(InventoryPage { items: output.items.unwrap_or_default(), last_evaluated_sk })
    }

    /// The keys (`pk`, `sk`) of an account's image records of a type with this digest, from the
    /// `digests` index, in sort-key order.
    pub async fn digest_keys(
        &self,
        account: &str,
        inventory_type: InventoryType,
        digest: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.sharded_index_keys(DIGESTS_INDEX, "digest_pk", |shard| {
            digest_shard_pk(account, inventory_type, digest, shard)
        })
        .await
    }
}

//! Context records: reads, the conditional writes that carry leases and versions, and the
//! listings of the keys-only `contexts` index.

use super::{decode, encode, item_key, sdk_error, string, Expect, Item, Store, StoreError};
use crate::keys::{context_sk, contexts_shard_pk, inventory_pk, CONTEXTS_INDEX, INDEX_SHARDS};
use crate::model::{ContextRecord, InventoryType};
use crate::plan::StoredContext;

/// The fields of a context record the coverage check reads.
pub const COVERAGE_FIELDS: &[&str] = &[
    "pk",
    "sk",
    "kind",
    "inventory_type",
    "context",
    "last_report_at",
    "source",
    "detail_counts",
    "report_interval_seconds",
    "probably_truncated",
];

impl Store {
    pub async fn get_context(
        &self,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        consistent: bool,
    ) -> Result<Option<ContextRecord>, StoreError> {
        self.get(&inventory_pk(account, inventory_type, context), &context_sk(context), consistent).await
    }

    /// Everything stored for one context, read consistently.
    pub async fn load_context(
        &self,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
    ) -> Result<StoredContext, StoreError> {
        let record = self.get_context(account, inventory_type, context, true).await?;
        self.load_items(account, inventory_type, context, record).await
    }

    /// Writes the context record if the stored one is in the expected state.
    pub async fn put_context(&self, record: &ContextRecord, expect: Expect) -> Result<(), StoreError> {
        self.put_leased(encode(record), expect).await
    }

    /// Deletes the context record if it is in the expected state.
    pub async fn delete_context(&self, record: &ContextRecord, expect: Expect) -> Result<(), StoreError> {
        self.delete_leased(&record.pk, &record.sk, expect).await
    }

    /// Every context record of an account and type: their keys from the `contexts` index (which
    /// holds keys only, so a report's context write costs the index nothing), then the records.
    pub async fn list_contexts(
        &self,
        account: &str,
        inventory_type: InventoryType,
    ) -> Result<Vec<ContextRecord>, StoreError> {
        self.list_contexts_with(account, inventory_type, None).await
    }

    /// `list_contexts` with only the fields coverage reads (`COVERAGE_FIELDS`: no namespace
    /// metadata, which may take 32 KiB a record).
    pub async fn list_context_coverage(
        &self,
        account: &str,
        inventory_type: InventoryType,
    ) -> Result<Vec<ContextRecord>, StoreError> {
        self.list_contexts_with(account, inventory_type, Some(COVERAGE_FIELDS)).await
    }

    async fn list_contexts_with(
        &self,
        account: &str,
        inventory_type: InventoryType,
        fields: Option<&[&str]>,
    ) -> Result<Vec<ContextRecord>, StoreError> {
        let keys = self.context_keys(account, inventory_type).await?;
        // A record deleted since the index was read is simply not found.
        self.batch_get_fields(&keys, fields).await?.into_iter().map(decode).collect()
    }

    /// Every context record of every account, with only the fields the coverage check reads
    /// (`COVERAGE_FIELDS`: no namespace metadata, which may take 32 KiB a record, nor lease):
    /// a `Scan` of the keys-only `contexts` index, which holds one small item per context, each
    /// page's records read in a batch before the next page. For the scheduled coverage check,
    /// which has no list of accounts; requests stay in the API's `Query`s.
    pub async fn all_context_coverage(&self) -> Result<Vec<ContextRecord>, StoreError> {
        let mut pages = self.client.scan().table_name(&self.table).index_name(CONTEXTS_INDEX).into_paginator().send();
        let mut records = Vec::new();
        while let Some(page) = pages.next().await {
            let keys: Vec<(String, String)> =
                page.map_err(sdk_error("Scan"))?.items().iter().filter_map(item_key).collect();
            for item in self.batch_get_fields(&keys, Some(COVERAGE_FIELDS)).await? {
                records.push(decode(item)?);
            }
        }
        Ok(records)
    }

    /// The names of an account's contexts of a type, in order, from the `contexts` index.
    pub async fn context_names(&self, account: &str, inventory_type: InventoryType) -> Result<Vec<String>, StoreError> {
        Ok(self.context_keys(account, inventory_type).await?.into_iter().map(|(_, context)| context).collect())
    }

    /// The contexts of an account and type whose names start with `prefix`, in order: each
    /// shard's query reads only those (a cluster's namespaces, not the account's contexts).
    pub async fn contexts_with_prefix(
        &self,
        account: &str,
        inventory_type: InventoryType,
        prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        let keys = self
            .sharded_index_keys_with(CONTEXTS_INDEX, "context_pk", Some(prefix), |shard| {
                contexts_shard_pk(account, inventory_type, shard)
            })
            .await?;
        Ok(keys.into_iter().map(|(_, context)| context).collect())
    }

    /// The keys of an account's context records of a type, ordered by context.
    async fn context_keys(
        &self,
        account: &str,
        inventory_type: InventoryType,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.sharded_index_keys(CONTEXTS_INDEX, "context_pk", |shard| contexts_shard_pk(account, inventory_type, shard))
            .await
    }

    /// The keys every shard of a keys-only index holds, read at once, ordered by sort key.
    pub(super) async fn sharded_index_keys(
        &self,
        index: &str,
        attribute: &str,
        shard_pk: impl Fn(u8) -> String,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.sharded_index_keys_with(index, attribute, None, shard_pk).await
    }

    /// As `sharded_index_keys`, only the keys whose sort key starts with `sk_prefix`.
    async fn sharded_index_keys_with(
        &self,
        index: &str,
        attribute: &str,
        sk_prefix: Option<&str>,
        shard_pk: impl Fn(u8) -> String,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let shards = (0..INDEX_SHARDS).map(|shard| {
            let value = shard_pk(shard);
            async move { self.index_keys(index, attribute, &value, sk_prefix).await }
        });
        let mut keys: Vec<(String, String)> = futures::future::try_join_all(shards).await?.concat();
        keys.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(keys)
    }

    /// The keys (`pk`, `sk`) a keys-only index holds under one partition value, in sort-key order.
    async fn index_keys(
        &self,
        index: &str,
        attribute: &str,
        value: &str,
        sk_prefix: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .expression_attribute_names("#partition", attribute)
            .expression_attribute_values(":value", string(value));
        // DynamoDB refuses an empty key value: no prefix is no condition.
        let request = match sk_prefix.filter(|prefix| !prefix.is_empty()) {
            Some(prefix) => request
                .key_condition_expression("#partition = :value AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", string(prefix)),
            None => request.key_condition_expression("#partition = :value"),
        };
        let items: Vec<Item> =
            request.into_paginator().items().send().try_collect().await.map_err(sdk_error("Query"))?;
        Ok(items.iter().filter_map(item_key).collect())
    }
}

//! DynamoDB access: loading a context, batched writes, the context record's conditional
//! writes, and inventory queries.

use crate::model::{
    contexts_shard_pk, detail_pk, digest_shard_pk, image_sk, inventory_pk, ContextRecord, DetailRecord, ImageRecord,
    InventoryType, CONTEXTS_INDEX, DIGESTS_INDEX, INDEX_SHARDS,
};
use crate::plan::{StoredContext, Tracked};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, Select, WriteRequest};
use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::time::Duration;

pub type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limit on requests per `BatchWriteItem`.
pub const BATCH_WRITE_LIMIT: usize = 25;
/// DynamoDB's limit on keys per `BatchGetItem`.
pub const BATCH_GET_LIMIT: usize = 100;
const DEFAULT_WRITE_CONCURRENCY: usize = 8;
const MAX_UNPROCESSED_RETRIES: u32 = 8;
const BACKOFF_BASE: Duration = Duration::from_millis(50);
const BACKOFF_CAP: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {message}")]
    Sdk { operation: &'static str, message: String },
    #[error("DynamoDB left {count} requests of a batch unprocessed after {MAX_UNPROCESSED_RETRIES} retries")]
    Unprocessed { count: usize },
    #[error("stored item {key} cannot be read: {message}")]
    Corrupt { key: String, message: String },
    #[error("the conditional write was rejected")]
    ConditionFailed,
}

pub(crate) fn sdk_error<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |error| {
        let message = match &error {
            SdkError::ServiceError(service) => service.err().to_string(),
            other => aws_sdk_dynamodb::error::DisplayErrorContext(other).to_string(),
        };
        StoreError::Sdk { operation, message }
    }
}

/// Exponential backoff with full jitter.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE.saturating_mul(1 << attempt.min(16)).min(BACKOFF_CAP);
    ceiling.mul_f64(fastrand::f64().max(0.1))
}

fn string(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), string(pk)), ("sk".to_owned(), string(sk))])
}

fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let describe = |item: &Item| match (item.get("pk"), item.get("sk")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("{pk} / {sk}"),
        _ => "(no key)".to_owned(),
    };
    let key = describe(&item);
    serde_dynamo::from_item(item).map_err(|error| StoreError::Corrupt { key, message: error.to_string() })
}

/// Whether a conditional write was refused because its condition did not hold.
pub fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().and_then(|error| error.code()) == Some("ConditionalCheckFailedException")
}

pub fn encode<T: serde::Serialize>(value: &T) -> Item {
    serde_dynamo::to_item(value).expect("records serialise to DynamoDB items")
}

/// Sends a batch request, then what DynamoDB left unprocessed, with jittered backoff, until
/// nothing is left; answers the requests sent and the items the requests returned.
async fn until_processed<P, Sent>(
    mut pending: P,
    left: impl Fn(&P) -> usize,
    send: impl Fn(P) -> Sent,
) -> Result<(u64, Vec<Item>), StoreError>
where
    Sent: std::future::Future<Output = Result<(Vec<Item>, P), StoreError>>,
{
    let mut found = Vec::new();
    for attempt in 0..=MAX_UNPROCESSED_RETRIES {
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        let (items, rest) = send(pending).await?;
        found.extend(items);
        if left(&rest) == 0 {
            return Ok((u64::from(attempt) + 1, found));
        }
        tracing::warn!(unprocessed = left(&rest), attempt, "retrying unprocessed batch requests");
        pending = rest;
    }
    Err(StoreError::Unprocessed { count: left(&pending) })
}

/// A single write of a batch.
#[derive(Debug, Clone)]
pub enum BatchWrite {
    Put(Item),
    Delete { pk: String, sk: String },
}

impl BatchWrite {
    fn into_request(self) -> WriteRequest {
        match self {
            Self::Put(item) => WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().expect("item is set"))
                .build(),
            Self::Delete { pk, sk } => WriteRequest::builder()
                .delete_request(DeleteRequest::builder().set_key(Some(key(&pk, &sk))).build().expect("key is set"))
                .build(),
        }
    }
}

/// Which stored state a conditional context write expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No record exists yet.
    Absent,
    /// The record is still at this version (0: written before versions existed, or never).
    Version(u64),
    /// The record still carries this lease, at this version.
    Holder { owner: String, version: u64 },
}

impl Expect {
    fn condition(&self) -> (String, Option<HashMap<String, AttributeValue>>) {
        let number = |n: u64| AttributeValue::N(n.to_string());
        match self {
            Self::Absent => ("attribute_not_exists(pk)".to_owned(), None),
            Self::Version(0) => (
                "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :version)".to_owned(),
                Some(HashMap::from([(":version".to_owned(), number(0))])),
            ),
            Self::Version(version) => {
                ("version = :version".to_owned(), Some(HashMap::from([(":version".to_owned(), number(*version))])))
            }
            Self::Holder { owner, version } => (
                "lock_owner = :owner AND version = :version".to_owned(),
                Some(HashMap::from([(":owner".to_owned(), string(owner)), (":version".to_owned(), number(*version))])),
            ),
        }
    }
}

/// One page of the inventory partition, in sort-key order.
pub struct InventoryPage {
    pub items: Vec<Item>,
    pub last_evaluated_sk: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    write_concurrency: usize,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), write_concurrency: DEFAULT_WRITE_CONCURRENCY }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn query_all(&self, pk: &str, sk_prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_values(":pk", string(pk));
        request = match sk_prefix {
            Some(prefix) => request
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", string(prefix)),
            None => request.key_condition_expression("pk = :pk"),
        };
        request.into_paginator().items().send().try_collect().await.map_err(sdk_error("Query"))
    }

    /// Every item of a partition, read consistently.
    pub async fn query_partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        self.query_all(pk, None).await
    }

    pub async fn get_context(
        &self,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        consistent: bool,
    ) -> Result<Option<ContextRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&inventory_pk(account, inventory_type, context), context)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        output.item.map(decode).transpose()
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

    /// Writes in 25-item batches with bounded concurrency; returns the requests sent.
    pub async fn batch_write(&self, writes: Vec<BatchWrite>) -> Result<u64, StoreError> {
        self.batch_write_guarded(writes, || Ok(())).await
    }

    /// As `batch_write`, asking `guard` before each batch is sent; its first error stops the
    /// writes not yet started.
    pub async fn batch_write_guarded<E: From<StoreError>>(
        &self,
        writes: Vec<BatchWrite>,
        guard: impl Fn() -> Result<(), E>,
    ) -> Result<u64, E> {
        let chunks: Vec<Vec<WriteRequest>> = writes
            .chunks(BATCH_WRITE_LIMIT)
            .map(|chunk| chunk.iter().cloned().map(BatchWrite::into_request).collect())
            .collect();
        let guard = &guard;
        futures::stream::iter(chunks)
            .map(|chunk| async move {
                guard()?;
                Ok::<_, E>(self.write_chunk(chunk).await?)
            })
            .buffer_unordered(self.write_concurrency)
            .try_fold(0, |total, requests| async move { Ok(total + requests) })
            .await
    }

    async fn write_chunk(&self, pending: Vec<WriteRequest>) -> Result<u64, StoreError> {
        let send = |pending| async move {
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(sdk_error("BatchWriteItem"))?;
            let rest = output.unprocessed_items.and_then(|mut tables| tables.remove(&self.table)).unwrap_or_default();
            Ok((Vec::new(), rest))
        };
        let (requests, _) = until_processed(pending, Vec::len, send).await?;
        Ok(requests)
    }

    /// Writes the context record if the stored one is in the expected state.
    pub async fn put_context(&self, record: &ContextRecord, expect: Expect) -> Result<(), StoreError> {
        let (condition, values) = expect.condition();
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(record)))
            .condition_expression(condition)
            .set_expression_attribute_values(values);
        match request.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service))
                if matches!(service.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(StoreError::ConditionFailed)
            }
            Err(error) => Err(sdk_error("PutItem")(error)),
        }
    }

    /// Deletes the context record if it is in the expected state.
    pub async fn delete_context(&self, record: &ContextRecord, expect: Expect) -> Result<(), StoreError> {
        let (condition, values) = expect.condition();
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&record.pk, &record.sk)))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service))
                if matches!(service.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(StoreError::ConditionFailed)
            }
            Err(error) => Err(sdk_error("DeleteItem")(error)),
        }
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

    /// The contexts of an account and type whose names start with `prefix`, in order.
    pub async fn contexts_with_prefix(
        &self,
        account: &str,
        inventory_type: InventoryType,
        prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut names = self.context_names(account, inventory_type).await?;
        names.retain(|name| name.starts_with(prefix));
        Ok(names)
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

    /// The items at `keys` (`pk`, `sk`) that exist, in no particular order; 100 keys a request,
    /// unprocessed keys retried.
    pub async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<Item>, StoreError> {
        self.batch_get_fields(keys, None).await
    }

    /// `batch_get`, reading only `fields` of each item when given.
    pub async fn batch_get_fields(
        &self,
        keys: &[(String, String)],
        fields: Option<&[&str]>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        // Every name through a placeholder: some (`source`, `context`) are reserved words.
        let projection = fields.map(|fields| (0..fields.len()).map(|n| format!("#f{n}")).collect::<Vec<_>>().join(","));
        let names = fields
            .map(|fields| fields.iter().enumerate().map(|(n, name)| (format!("#f{n}"), name.to_string())).collect());
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|(pk, sk)| key(pk, sk)).collect()))
                .set_projection_expression(projection.clone())
                .set_expression_attribute_names(names.clone())
                .build()
                .expect("keys are set");
            let send = |pending| async move {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(sdk_error("BatchGetItem"))?;
                let items = output.responses.and_then(|mut tables| tables.remove(&self.table)).unwrap_or_default();
                let rest = output.unprocessed_keys.and_then(|mut tables| tables.remove(&self.table));
                let rest = rest.unwrap_or_else(|| {
                    KeysAndAttributes::builder().set_keys(Some(Vec::new())).build().expect("keys are set")
                });
                Ok((items, rest))
            };
            found.extend(until_processed(keys, |rest| rest.keys().len(), send).await?.1);
        }
        Ok(found)
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

    /// The keys every shard of a keys-only index holds, read at once, ordered by sort key.
    async fn sharded_index_keys(
        &self,
        index: &str,
        attribute: &str,
        shard_pk: impl Fn(u8) -> String,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let shards = (0..INDEX_SHARDS).map(|shard| {
            let value = shard_pk(shard);
            async move { self.index_keys(index, attribute, &value).await }
        });
        let mut keys: Vec<(String, String)> = futures::future::try_join_all(shards).await?.concat();
        keys.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(keys)
    }

    /// The keys (`pk`, `sk`) a keys-only index holds under one partition value, in sort-key order.
    async fn index_keys(&self, index: &str, attribute: &str, value: &str) -> Result<Vec<(String, String)>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#partition = :value")
            .expression_attribute_names("#partition", attribute)
            .expression_attribute_values(":value", string(value))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk_error("Query"))?;
        Ok(items.iter().filter_map(item_key).collect())
    }
}

/// An item's `pk` and `sk`.
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

fn item_key(item: &Item) -> Option<(String, String)> {
    match (item.get("pk"), item.get("sk")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some((pk.clone(), sk.clone())),
        _ => None,
    }
}

pub fn decode_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    decode(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn put(n: usize) -> BatchWrite {
        BatchWrite::Put(key("pk", &format!("sk{n}")))
    }

    #[tokio::test(start_paused = true)]
    async fn unprocessed_items_are_retried_until_written() {
        let unprocessed = WriteRequest::builder()
            .put_request(PutRequest::builder().set_item(Some(key("pk", "sk0"))).build().unwrap())
            .build();
        let rule = mock!(Client::batch_write_item)
            .sequence()
            .output(move || {
                BatchWriteItemOutput::builder().unprocessed_items("table", vec![unprocessed.clone()]).build()
            })
            .times(2)
            .output(|| BatchWriteItemOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        let store = Store::new(client, "table");
        let requests = store.batch_write((0..3).map(put).collect()).await.unwrap();
        assert_eq!(requests, 3);
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_that_never_succeed_are_an_error() {
        let unprocessed = WriteRequest::builder()
            .put_request(PutRequest::builder().set_item(Some(key("pk", "sk0"))).build().unwrap())
            .build();
        let throttled = mock!(Client::batch_write_item)
            .sequence()
            .output(move || {
                BatchWriteItemOutput::builder().unprocessed_items("table", vec![unprocessed.clone()]).build()
            })
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&throttled]);
        let error = Store::new(client, "table").batch_write(vec![put(0)]).await.unwrap_err();
        assert!(matches!(error, StoreError::Unprocessed { count: 1 }));
        assert_eq!(throttled.num_calls(), MAX_UNPROCESSED_RETRIES as usize + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn unprocessed_keys_are_read_again() {
        let item = key("pk", "sk1");
        let (first, second) = (item.clone(), item.clone());
        let rule = mock!(Client::batch_get_item)
            .sequence()
            .output(move || {
                let unprocessed = KeysAndAttributes::builder().keys(key("pk", "sk1")).build().unwrap();
                BatchGetItemOutput::builder()
                    .responses("table", vec![key("pk", "sk0")])
                    .unprocessed_keys("table", unprocessed)
                    .build()
            })
            .output(move || BatchGetItemOutput::builder().responses("table", vec![first.clone()]).build())
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        let keys = [("pk".to_owned(), "sk0".to_owned()), ("pk".to_owned(), "sk1".to_owned())];
        let found = Store::new(client, "table").batch_get(&keys).await.unwrap();
        assert_eq!((found.len(), rule.num_calls()), (2, 2));
        assert!(found.contains(&second));
    }

    #[tokio::test]
    async fn large_writes_are_split_into_batches_of_25() {
        let accepted = mock!(Client::batch_write_item)
            .match_requests(|request| {
                request.request_items().and_then(|items| items.get("table")).is_some_and(|writes| writes.len() <= 25)
            })
            .sequence()
            .output(|| BatchWriteItemOutput::builder().build())
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&accepted]);
        let requests = Store::new(client, "table").batch_write((0..60).map(put).collect()).await.unwrap();
        assert_eq!((requests, accepted.num_calls()), (3, 3));
    }
}

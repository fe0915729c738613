//! Every DynamoDB call of the project, by what it stores, with the key formats of
//! `inventory_store::keys` (`crates/inventory-core/src/keys.rs`, in the order of `docs/storage.md`):
//!
//! | module | stores |
//! |---|---|
//! | `contexts` | context records, their conditional writes (leases, versions) and the `contexts` index |
//! | `items` | image and detail items of a context, pages of a partition, the `digests` index |
//! | `batch` | batched writes and reads, unprocessed requests retried |
//! | `subscriptions` | subscriptions and their uniqueness guards |
//! | `markers` | "sent once" markers and their claims, stale-cluster markers |
//! | `integrations` | registered agents and their health reports |
//! | `clusters` | cluster configurations of the embedded mode |
//! | `findings` | images' findings (a record and chunks per scanner) and the vulnerability and severity indexes |
//! | `chunks` | data too large for an item, compressed and split over a partition's items |
//! | `threat` | threat data feeds: a record per feed naming its current generation, the generation's chunks |
//! | `sbom` | images' SBOMs (a record and chunks of packages and document), the package index and watches |
//! | `vex` | VEX annotations, their image copies and audit trails, each account's rules |
//! | `worklist` | where images run now, each running image's exposure pairs and their list |
//! | `migration` | the one-shot move of the old layout (the project's one full `Scan`) |
//!
//! No service holds a DynamoDB client: they call a `Store`.

mod batch;
mod chunks;
mod clusters;
mod contexts;
mod findings;
mod history;
mod integrations;
mod items;
mod markers;
mod migration;
mod sbom;
mod subscriptions;
mod threat;
mod vex;
mod worklist;

pub use batch::{BatchWrite, BATCH_GET_LIMIT, BATCH_WRITE_LIMIT};
pub use chunks::split_compressed;
pub use chunks::{chunk_count, CHUNK_BYTES};
pub use contexts::COVERAGE_FIELDS;
pub use findings::{
    findings_chunk_write, findings_flag_write, severity_entry_delete, severity_entry_write, vulnerable_image_delete,
    vulnerable_image_write, FindingsChunk,
};
pub use history::{interval_copies, HistoryContext};
pub use integrations::HealthWrite;
pub use items::InventoryPage;
pub use markers::{Claim, SentOnceMarker, VulnerabilityEvent};
pub use migration::Migrated;
pub use sbom::{package_entry_delete, package_entry_write, sbom_chunk_writes, SbomChunk};
pub use threat::ThreatFeedRecord;
pub use vex::{
    annotation_deletes, annotation_writes, audit_write, rules_chunk_deletes, rules_generation, vex_account_write,
    VexRulesRecord,
};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::Duration;

pub type Item = HashMap<String, AttributeValue>;

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
    /// DynamoDB refused the request itself (`ValidationException`: an item past 400 KB, a key
    /// too long): retrying the same request fails again, so it is the caller's input at fault.
    #[error("DynamoDB {operation} refused the request: {message}")]
    Refused { operation: &'static str, message: String },
}

impl StoreError {
    /// The one answer of an API route whose store call failed, `what` naming what could not be
    /// read or written. A request DynamoDB refused as such (an item past 400 KB, a key too long)
    /// is the caller's input at fault and fails again: 400. Anything else (throttled, timed out,
    /// unreachable, a batch left unprocessed) is 503, which Anchore's agents and CLI retry. The
    /// cause is logged, never answered.
    pub fn answer(self, what: &str) -> crate::http::ApiError {
        match self {
            StoreError::Refused { .. } => {
                tracing::warn!(error = %self, what, "the store refused the request");
                crate::http::ApiError::bad_request(
                    "body",
                    format!("{what} cannot be stored: DynamoDB refused it as too large"),
                )
            }
            _ => {
                tracing::error!(error = %self, what, "the store failed");
                crate::http::ApiError::unavailable(&format!("{what} could not be read or written"))
            }
        }
    }
}

/// `?` on a store call in a handler: `StoreError::answer` for the inventory.
impl From<StoreError> for crate::http::ApiError {
    fn from(error: StoreError) -> Self {
        error.answer("the inventory")
    }
}

pub(crate) fn sdk_error<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    move |error| match &error {
        SdkError::ServiceError(service) if service.err().code() == Some("ValidationException") => {
            StoreError::Refused { operation, message: service.err().to_string() }
        }
        SdkError::ServiceError(service) => StoreError::Sdk { operation, message: service.err().to_string() },
        other => {
            StoreError::Sdk { operation, message: aws_sdk_dynamodb::error::DisplayErrorContext(other).to_string() }
        }
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

/// A conditional request's outcome: `ConditionFailed` when its condition did not hold.
pub(crate) fn conditional<T, E, R>(operation: &'static str, result: Result<T, SdkError<E, R>>) -> Result<(), StoreError>
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(error) if is_condition_failure(&error) => Err(StoreError::ConditionFailed),
        Err(error) => Err(sdk_error(operation)(error)),
    }
}

pub fn encode<T: serde::Serialize>(value: &T) -> Item {
    serde_dynamo::to_item(value).expect("records serialise to DynamoDB items")
}

/// Which stored state a conditional write of a leased record expects.
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

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    write_concurrency: usize,
}

impl Store {
    /// The store of a function: its DynamoDB client built from the function's SDK configuration.
    pub fn build(sdk: &inventory_runtime::Sdk, table: impl Into<String>) -> Self {
        Self::new(inventory_runtime::client!(sdk, aws_sdk_dynamodb), table)
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), write_concurrency: DEFAULT_WRITE_CONCURRENCY }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn query_all(&self, pk: &str, sk_prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_values(":pk", string(pk));
        // DynamoDB refuses an empty key value: no prefix is no condition.
        request = match sk_prefix.filter(|prefix| !prefix.is_empty()) {
            Some(prefix) => request
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", string(prefix)),
            None => request.key_condition_expression("pk = :pk"),
        };
        request.into_paginator().items().send().try_collect().await.map_err(sdk_error("Query"))
    }

    /// Every item of a partition, read eventually consistently (half the read units): for
    /// answers that a write a moment ago may miss.
    async fn query_all_eventually(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", string(&pk));
        request.into_paginator().items().send().try_collect().await.map_err(sdk_error("Query"))
    }

    /// Writes `record`, replacing any item of its key.
    async fn put<T: serde::Serialize>(&self, record: &T) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(record)))
            .send()
            .await
            .map_err(sdk_error("PutItem"))?;
        Ok(())
    }

    /// The item at (`pk`, `sk`), if any, decoded; `consistent` for a strongly consistent read.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
        consistent: bool,
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        output.item.map(decode).transpose()
    }

    /// Writes `item` if `condition` holds; `ConditionFailed` if it does not.
    async fn put_if(&self, item: Item, condition: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .send()
            .await;
        conditional("PutItem", result)
    }

    /// Writes a leased record (`lease::Leased`) if the stored one is in the expected state.
    pub async fn put_leased(&self, item: Item, expect: Expect) -> Result<(), StoreError> {
        let (condition, values) = expect.condition();
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
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

    /// Deletes a leased record if it is in the expected state.
    pub async fn delete_leased(&self, pk: &str, sk: &str, expect: Expect) -> Result<(), StoreError> {
        let (condition, values) = expect.condition();
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
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

    /// Every item of a partition, read consistently.
    pub async fn query_partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        self.query_all(pk, None).await
    }
}

/// An item's `pk` and `sk`.
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
mod answer_tests {
    use super::StoreError;
    use lambda_http::http::StatusCode;

    #[test]
    fn a_request_the_store_refuses_answers_400_and_a_failing_store_503() {
        let refused = StoreError::Refused { operation: "BatchWriteItem", message: "Item size has exceeded".into() };
        let answer = crate::vulnerabilities::VulnerabilityError::Store(refused).into();
        let answer: crate::http::ApiError = answer;
        assert_eq!((answer.status, answer.detail["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")));
        let failed = StoreError::Sdk { operation: "BatchWriteItem", message: "throttled".into() };
        assert_eq!(crate::http::ApiError::from(failed).status, StatusCode::SERVICE_UNAVAILABLE);
        let unprocessed = StoreError::Unprocessed { count: 3 };
        assert_eq!(unprocessed.answer("the subscriptions").status, StatusCode::SERVICE_UNAVAILABLE);
    }
}

//! Firing `runtime_inventory` subscriptions from the table's stream: an image record inserted
//! for a context means the image appeared there; every active subscription of the account whose
//! key covers the context schedules the image for analysis once, as an EventBridge event.
//!
//! Once: before an event is put, its (subscription, digest) marker is claimed with a conditional
//! write, so two shards or a redelivered batch cannot both send it; a failed put gives the claim
//! back for the retry, and a claim whose holder crashed runs out after `CLAIM_DURATION`.

use crate::clock::Clock;
use crate::model::{ImageRecord, InventoryType, KIND_IMAGE};
use crate::subscriptions::{Subscription, SubscriptionError, Subscriptions, RUNTIME_INVENTORY};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Environment variable naming the bus events go to.
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
pub const EVENT_SOURCE: &str = "runtime-inventory";
pub const EVENT_DETAIL_TYPE: &str = "Runtime Inventory Image Scheduled";
/// `PutEvents` takes at most this many entries.
const PUT_EVENTS_LIMIT: usize = 10;
/// How long a claim on a marker holds before another delivery may take it: longer than the
/// notifier's timeout (a template test checks it), so only a crashed holder's claim runs out.
pub const CLAIM_DURATION: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
const MARKER_CLAIMED: &str = "claimed";
const MARKER_FIRED: &str = "fired";

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("stream record cannot be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Subscriptions(#[from] SubscriptionError),
    #[error("DynamoDB {operation} failed: {message}")]
    Store { operation: &'static str, message: String },
    #[error("EventBridge PutEvents failed: {0}")]
    PutEvents(String),
    #[error("subscription {0}'s event for this image is claimed by another delivery and not confirmed sent; retry")]
    ClaimedElsewhere(String),
    #[error("EventBridge rejected {failed} of {sent} events")]
    Rejected { failed: usize, sent: usize },
}

/// An image that appeared in a context for the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appearance {
    pub account: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_digest: String,
    pub image_tag: String,
    pub first_seen: String,
}

#[derive(Deserialize)]
struct Kind {
    #[serde(default)]
    kind: Option<String>,
}

/// The appearance a stream record announces, if any: inserts of image records with a digest.
/// Updates (refreshes, departures, returns) and removals announce nothing.
pub fn appearance(record: &EventRecord) -> Result<Option<Appearance>, NotifyError> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let new_image = record.change.new_image.clone();
    let kind: Kind = serde_dynamo::from_item(new_image.clone()).map_err(|e| NotifyError::Unreadable(e.to_string()))?;
    if kind.kind.as_deref() != Some(KIND_IMAGE) {
        return Ok(None);
    }
    let image: ImageRecord = serde_dynamo::from_item(new_image).map_err(|e| NotifyError::Unreadable(e.to_string()))?;
    let account = image
        .pk
        .split_once('#')
        .map(|(account, _)| account.to_owned())
        .ok_or_else(|| NotifyError::Unreadable(format!("partition key {:?} names no account", image.pk)))?;
    if image.content.image_digest.is_empty() {
        // Known by tag only; it fires when its digest is reported (a new record).
        return Ok(None);
    }
    Ok(Some(Appearance {
        account,
        inventory_type: image.inventory_type,
        context: image.context,
        image_digest: image.content.image_digest,
        image_tag: image.content.image_tag,
        first_seen: crate::ingest::format_time(image.tracking.first_seen),
    }))
}

/// The `detail` of each event put on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledImage {
    pub account: String,
    pub image_digest: String,
    pub image_tag: String,
    pub context: String,
    pub inventory_type: InventoryType,
    pub subscription_id: String,
    pub subscription_key: String,
    pub first_seen: String,
}

pub struct Notifier {
    subscriptions: Subscriptions,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    events: aws_sdk_eventbridge::Client,
    bus: String,
    clock: Arc<dyn Clock>,
}

fn marker_key(account: &str, subscription_id: &str, digest: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("{account}#fired#{subscription_id}"))),
        ("sk".to_owned(), AttributeValue::S(digest.to_owned())),
    ])
}

/// The marker of (subscription, digest) in `state`, without claim fields.
fn marker_item(appearance: &Appearance, subscription_id: &str, state: &str) -> HashMap<String, AttributeValue> {
    let mut item = marker_key(&appearance.account, subscription_id, &appearance.image_digest);
    item.insert("kind".to_owned(), AttributeValue::S("fired".to_owned()));
    item.insert("context".to_owned(), AttributeValue::S(appearance.context.clone()));
    item.insert("state".to_owned(), AttributeValue::S(state.to_owned()));
    item
}

fn store_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, R>) -> NotifyError {
    move |error| NotifyError::Store {
        operation,
        message: aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string(),
    }
}

/// What claiming a (subscription, digest) marker found.
enum Claimed {
    /// This delivery holds the claim, under this token.
    Now(String),
    /// The event was sent already.
    Fired,
    /// Another delivery holds a claim that has not run out; it was not confirmed sent yet.
    Elsewhere,
}

/// A (subscription, digest) marker this delivery claimed.
struct Claim {
    subscription: Subscription,
    token: String,
}

impl Notifier {
    pub fn new(
        subscriptions: Subscriptions,
        dynamodb: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        events: aws_sdk_eventbridge::Client,
        bus: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { subscriptions, dynamodb, table: table.into(), events, bus: bus.into(), clock }
    }

    /// Processes a stream batch in order and stops at the first record that fails: Lambda
    /// resumes from the reported record, so the ones after it are delivered again anyway. A
    /// record that can never be read is logged and skipped rather than blocking its shard.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        let mut active: HashMap<String, Vec<Subscription>> = HashMap::new();
        for record in &event.records {
            let sequence = record.change.sequence_number.clone();
            match self.process(record, &mut active).await {
                Ok(_) => {}
                Err(NotifyError::Unreadable(reason)) => {
                    tracing::error!(%reason, sequence = sequence.as_deref().unwrap_or("?"), "skipping a stream record that cannot be read");
                }
                Err(error) => {
                    tracing::error!(%error, sequence = sequence.as_deref().unwrap_or("?"), "stream record failed; the batch resumes from it");
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = sequence;
                    response.batch_item_failures.push(failure);
                    break;
                }
            }
        }
        response
    }

    async fn process(
        &self,
        record: &EventRecord,
        active: &mut HashMap<String, Vec<Subscription>>,
    ) -> Result<usize, NotifyError> {
        let Some(appearance) = appearance(record)? else {
            return Ok(0);
        };
        if !active.contains_key(&appearance.account) {
            let subscriptions = self.subscriptions.list(&appearance.account, Some(RUNTIME_INVENTORY), None).await?;
            active.insert(appearance.account.clone(), subscriptions.into_iter().filter(|s| s.active).collect());
        }
        let mut claims = Vec::new();
        let mut first_error = None;
        for subscription in active[&appearance.account].iter().filter(|s| s.watches(&appearance.context)) {
            match self.claim(&appearance, &subscription.subscription_id).await {
                Ok(Claimed::Now(token)) => claims.push(Claim { subscription: subscription.clone(), token }),
                Ok(Claimed::Fired) => {}
                // Not sent yet: the record is retried until that delivery settles or its claim runs out.
                Ok(Claimed::Elsewhere) => {
                    first_error =
                        first_error.or(Some(NotifyError::ClaimedElsewhere(subscription.subscription_id.clone())))
                }
                Err(error) => first_error = first_error.or(Some(error)),
            }
        }
        if let Some(error) = first_error {
            // Claims taken so far go back, so the retry sends them (or they run out).
            for claim in &claims {
                self.settle(&appearance, claim, false).await.ok();
            }
            return Err(error);
        }
        let mut sent = 0;
        for chunk in claims.chunks(PUT_EVENTS_LIMIT) {
            // Every chunk is settled (sent or given back) before the record is reported.
            match self.put_events(&appearance, chunk).await {
                Ok(count) => sent += count,
                Err(error) => first_error = first_error.or(Some(error)),
            }
        }
        first_error.map_or(Ok(sent), Err)
    }

    /// Claims the marker of (subscription, digest).
    async fn claim(&self, appearance: &Appearance, subscription_id: &str) -> Result<Claimed, NotifyError> {
        let token = format!("{:016x}", fastrand::u64(..));
        let now = self.clock.now();
        let mut item = marker_item(appearance, subscription_id, MARKER_CLAIMED);
        item.insert("claim_token".to_owned(), AttributeValue::S(token.clone()));
        item.insert("claim_until".to_owned(), AttributeValue::N((now + CLAIM_DURATION).timestamp().to_string()));
        let result = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR (#state = :claimed AND claim_until < :now)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", AttributeValue::S(MARKER_CLAIMED.to_owned()))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claimed::Now(token)),
            Err(error) if is_condition_failure(&error) => self.marker_state(appearance, subscription_id).await,
            Err(error) => Err(store_error("PutItem")(error)),
        }
    }

    /// Whether a marker that could not be claimed was fired or is claimed by another delivery.
    async fn marker_state(&self, appearance: &Appearance, subscription_id: &str) -> Result<Claimed, NotifyError> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(marker_key(&appearance.account, subscription_id, &appearance.image_digest)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error("GetItem"))?;
        let state = output.item().and_then(|item| item.get("state")).and_then(|state| state.as_s().ok());
        // Markers written before claims existed have no state: they were fired.
        Ok(if state == Some(&MARKER_CLAIMED.to_owned()) { Claimed::Elsewhere } else { Claimed::Fired })
    }

    /// Marks a claimed marker fired (`true`) or gives the claim back (`false`).
    async fn settle(&self, appearance: &Appearance, claim: &Claim, fired: bool) -> Result<(), NotifyError> {
        let subscription_id = &claim.subscription.subscription_id;
        let token = AttributeValue::S(claim.token.clone());
        let result = if fired {
            self.dynamodb
                .put_item()
                .table_name(&self.table)
                .set_item(Some(marker_item(appearance, subscription_id, MARKER_FIRED)))
                .condition_expression("claim_token = :token")
                .expression_attribute_values(":token", token)
                .send()
                .await
                .map(drop)
                .map_err(|error| (is_condition_failure(&error), store_error("PutItem")(error)))
        } else {
            self.dynamodb
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(marker_key(&appearance.account, subscription_id, &appearance.image_digest)))
                .condition_expression("claim_token = :token")
                .expression_attribute_values(":token", token)
                .send()
                .await
                .map(drop)
                .map_err(|error| (is_condition_failure(&error), store_error("DeleteItem")(error)))
        };
        match result {
            Ok(()) => Ok(()),
            // Our claim ran out and another delivery took it: that one settles the marker.
            Err((true, _)) => Ok(()),
            Err((false, error)) => Err(error),
        }
    }

    /// Puts one event per claim; accepted ones are marked fired, rejected ones given back.
    async fn put_events(&self, appearance: &Appearance, claims: &[Claim]) -> Result<usize, NotifyError> {
        let entries: Vec<PutEventsRequestEntry> = claims
            .iter()
            .map(|claim| {
                let detail = ScheduledImage {
                    account: appearance.account.clone(),
                    image_digest: appearance.image_digest.clone(),
                    image_tag: appearance.image_tag.clone(),
                    context: appearance.context.clone(),
                    inventory_type: appearance.inventory_type,
                    subscription_id: claim.subscription.subscription_id.clone(),
                    subscription_key: claim.subscription.subscription_key.clone(),
                    first_seen: appearance.first_seen.clone(),
                };
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(EVENT_SOURCE)
                    .detail_type(EVENT_DETAIL_TYPE)
                    .detail(serde_json::to_string(&detail).unwrap_or_default())
                    .build()
            })
            .collect();
        let output = match self.events.put_events().set_entries(Some(entries)).send().await {
            Ok(output) => output,
            Err(error) => {
                for claim in claims {
                    // A claim that cannot be given back runs out by itself.
                    self.settle(appearance, claim, false).await.ok();
                }
                return Err(NotifyError::PutEvents(aws_sdk_eventbridge::error::DisplayErrorContext(error).to_string()));
            }
        };
        let results = output.entries();
        let mut failed = 0;
        let mut settle_error = None;
        for (index, claim) in claims.iter().enumerate() {
            let accepted = results.get(index).is_some_and(|result| result.error_code().is_none());
            failed += usize::from(!accepted);
            // Every claim is settled even when one cannot be: a claim left behind runs out.
            if let Err(error) = self.settle(appearance, claim, accepted).await {
                settle_error = settle_error.or(Some(error));
            }
        }
        if let Some(error) = settle_error {
            return Err(error);
        }
        if failed > 0 || output.failed_entry_count() > 0 {
            return Err(NotifyError::Rejected {
                failed: failed.max(output.failed_entry_count() as usize),
                sent: claims.len(),
            });
        }
        Ok(claims.len())
    }
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    error: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> bool {
    error.as_service_error().and_then(|error| error.code()) == Some("ConditionalCheckFailedException")
}

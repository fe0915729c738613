//! Firing `runtime_inventory` subscriptions from the table's stream: an image record inserted
//! for a context means the image appeared there; every active subscription of the account whose
//! key is a prefix of the context schedules the image for analysis once, as an EventBridge event.

use crate::model::{ImageRecord, InventoryType, KIND_IMAGE};
use crate::subscriptions::{Subscription, SubscriptionError, Subscriptions, RUNTIME_INVENTORY};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Environment variable naming the bus events go to.
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
pub const EVENT_SOURCE: &str = "runtime-inventory";
pub const EVENT_DETAIL_TYPE: &str = "Runtime Inventory Image Scheduled";
/// `PutEvents` takes at most this many entries.
const PUT_EVENTS_LIMIT: usize = 10;

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
}

fn fired_key(account: &str, subscription_id: &str, digest: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("{account}#fired#{subscription_id}"))),
        ("sk".to_owned(), AttributeValue::S(digest.to_owned())),
    ])
}

impl Notifier {
    pub fn new(
        subscriptions: Subscriptions,
        dynamodb: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        events: aws_sdk_eventbridge::Client,
        bus: impl Into<String>,
    ) -> Self {
        Self { subscriptions, dynamodb, table: table.into(), events, bus: bus.into() }
    }

    /// Processes a stream batch; records that fail are reported for retry, the rest succeed.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        let mut active: HashMap<String, Vec<Subscription>> = HashMap::new();
        for record in &event.records {
            if let Err(error) = self.process(record, &mut active).await {
                let sequence = record.change.sequence_number.clone();
                tracing::error!(%error, sequence = sequence.as_deref().unwrap_or("?"), "stream record failed");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence;
                response.batch_item_failures.push(failure);
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
        let mut due = Vec::new();
        for subscription in active[&appearance.account].iter().filter(|s| s.watches(&appearance.context)) {
            if !self.already_fired(&appearance, &subscription.subscription_id).await? {
                due.push(subscription.clone());
            }
        }
        let mut sent = 0;
        for chunk in due.chunks(PUT_EVENTS_LIMIT) {
            sent += self.put_events(&appearance, chunk).await?;
        }
        Ok(sent)
    }

    async fn already_fired(&self, appearance: &Appearance, subscription_id: &str) -> Result<bool, NotifyError> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(fired_key(&appearance.account, subscription_id, &appearance.image_digest)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| NotifyError::Store { operation: "GetItem", message: e.to_string() })?;
        Ok(output.item.is_some())
    }

    /// Puts one event per subscription and remembers each one EventBridge accepted.
    async fn put_events(&self, appearance: &Appearance, subscriptions: &[Subscription]) -> Result<usize, NotifyError> {
        let entries: Vec<PutEventsRequestEntry> = subscriptions
            .iter()
            .map(|subscription| {
                let detail = ScheduledImage {
                    account: appearance.account.clone(),
                    image_digest: appearance.image_digest.clone(),
                    image_tag: appearance.image_tag.clone(),
                    context: appearance.context.clone(),
                    inventory_type: appearance.inventory_type,
                    subscription_id: subscription.subscription_id.clone(),
                    subscription_key: subscription.subscription_key.clone(),
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
        let output = self
            .events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| NotifyError::PutEvents(aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string()))?;
        let results = output.entries();
        let mut failed = 0;
        for (index, subscription) in subscriptions.iter().enumerate() {
            let accepted = results.get(index).is_some_and(|result| result.error_code().is_none());
            if !accepted {
                failed += 1;
                continue;
            }
            let mut marker = fired_key(&appearance.account, &subscription.subscription_id, &appearance.image_digest);
            marker.insert("kind".to_owned(), AttributeValue::S("fired".to_owned()));
            marker.insert("context".to_owned(), AttributeValue::S(appearance.context.clone()));
            self.dynamodb
                .put_item()
                .table_name(&self.table)
                .set_item(Some(marker))
                .send()
                .await
                .map_err(|e| NotifyError::Store { operation: "PutItem", message: e.to_string() })?;
        }
        if failed > 0 || output.failed_entry_count() > 0 {
            return Err(NotifyError::Rejected {
                failed: failed.max(output.failed_entry_count() as usize),
                sent: subscriptions.len(),
            });
        }
        Ok(subscriptions.len())
    }
}

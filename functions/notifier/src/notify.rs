//! Events from the table's stream. An image record inserted for a context means the image
//! appeared there: one `Image Added` event, and every active `runtime_inventory` subscription of
//! the account whose key covers the context schedules the image for analysis once. An image
//! record deleted means the image left the context: one `Image Removed` event, with why.
//!
//! Once: before an event is put, its marker is claimed with a conditional write ((subscription,
//! digest) for scheduling, the stream record for added and removed), so two shards or a
//! redelivered batch cannot both send it; a failed put gives the claim back for the retry, and a
//! claim whose holder crashed runs out after `CLAIM_DURATION`.

mod change;
pub mod exposure;
pub mod history;

pub use change::{change, Change, ImageAdded, ImageRemoved, ANNOUNCED_KINDS, TTL_PRINCIPAL};

use exposure::{exposures, RunningIn, DEFAULT_THRESHOLD};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use inventory::bus::{
    Bus, Event as BusEvent, Failure, ADDED_DETAIL_TYPE, REMOVED_DETAIL_TYPE, SCHEDULED_DETAIL_TYPE,
    VULNERABLE_DETAIL_TYPE,
};
use inventory::clock::Clock;
use inventory::findings::Severity;
use inventory::image::pinned_reference;
use inventory::model::InventoryType;
use inventory::store::{Claim as MarkerClaim, SentOnceMarker as Marker, Store, StoreError};
use inventory::subscriptions::{Subscription, SubscriptionError, Subscriptions, RUNTIME_INVENTORY};
use inventory::vulnerabilities::{Vulnerabilities, VulnerabilityError};
use inventory::{InventoryReader, Settings};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// How long a claim on a marker holds before another delivery may take it: longer than the
/// notifier's timeout (a template test checks it), so only a crashed holder's claim runs out.
pub const CLAIM_DURATION: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
/// How long the marker of an added or removed event is kept: longer than Lambda redelivers a
/// stream record (`MaximumRecordAgeInSeconds`, a day), after which its TTL deletes it.
pub const LIFECYCLE_MARKER_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(2);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("stream record cannot be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Subscriptions(#[from] SubscriptionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Findings(#[from] VulnerabilityError),
    #[error("EventBridge PutEvents failed: {0}")]
    PutEvents(String),
    #[error("the event of marker {0} for this record is claimed by another delivery and not confirmed sent; retry")]
    ClaimedElsewhere(String),
    #[error("EventBridge rejected {failed} of {sent} events")]
    Rejected { failed: usize, sent: usize },
}

/// The field of every event's `detail` that names it stably across sends.
pub const EVENT_ID_FIELD: &str = "event_id";

/// Where findings of an image are posted.
fn findings_path(digest: &str) -> String {
    format!("/v2/images/{digest}/vulnerabilities")
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
    /// What a scanner pulls: the repository pinned to the digest.
    pub image_reference: String,
    /// Where a scan's findings go back (`POST`, role `scanner`): the path, and the full URL when
    /// the notifier knows the API's (`API_URL`).
    pub findings_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings_url: Option<String>,
}

pub struct Notifier {
    subscriptions: Subscriptions,
    store: Store,
    vulnerabilities: Vulnerabilities,
    reader: InventoryReader,
    /// The lowest severity of findings that makes a running image an exposure.
    threshold: Severity,
    bus: Bus,
    /// The API's base URL, without a trailing `/`.
    api_url: Option<String>,
    /// Days closed running intervals are kept; 0 records none.
    history_retention_days: u32,
    clock: Arc<dyn Clock>,
}

/// The event's stable id (`detail.event_id`): the same on every send of it. Sends are at least
/// once (a crash between `PutEvents` and settling the claim sends again once the claim runs
/// out), so consumers deduplicate on it.
fn event_id(marker: &Marker) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(format!("{}\n{}", marker.pk, marker.sk).as_bytes()))
}

/// An event to put once, and the marker that records it was.
#[derive(Debug, Clone)]
struct Pending {
    marker: Marker,
    detail_type: &'static str,
    detail: String,
}

impl Pending {
    fn new(marker: Marker, detail_type: &'static str, detail: &impl Serialize) -> Self {
        let mut detail = serde_json::to_value(detail).unwrap_or_default();
        if let Some(fields) = detail.as_object_mut() {
            fields.insert(EVENT_ID_FIELD.to_owned(), event_id(&marker).into());
        }
        Self { marker, detail_type, detail: detail.to_string() }
    }
}

/// What claiming a marker found.
enum Claimed {
    /// This delivery holds the claim, under this token.
    Now(String),
    /// The event was sent already.
    Fired,
    /// Another delivery holds a claim that has not run out; it was not confirmed sent yet.
    Elsewhere,
}

/// A marker this delivery claimed.
struct Claim {
    pending: Pending,
    token: String,
}

impl Notifier {
    pub fn new(
        store: Store,
        settings: Settings,
        events: aws_sdk_eventbridge::Client,
        bus: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            subscriptions: Subscriptions::new(store.clone(), Arc::clone(&clock)),
            vulnerabilities: Vulnerabilities::new(store.clone(), Arc::clone(&clock)),
            reader: InventoryReader::new(store.clone(), settings, Arc::clone(&clock)),
            threshold: DEFAULT_THRESHOLD,
            store,
            bus: Bus::new(events, bus),
            api_url: None,
            history_retention_days: inventory::history::DEFAULT_HISTORY_RETENTION_DAYS,
            clock,
        }
    }

    /// Findings at this severity or above make a running image an exposure (default critical).
    pub fn with_exposure_threshold(mut self, threshold: Severity) -> Self {
        self.threshold = threshold;
        self
    }

    /// Where the image runs is exposed to its findings at or above the threshold: one event
    /// per (context, vulnerability), each with its marker.
    async fn exposure_events(
        &self,
        account: &str,
        digest: &str,
        running: &[RunningIn],
    ) -> Result<Vec<Pending>, NotifyError> {
        if running.is_empty() {
            return Ok(Vec::new());
        }
        let image = match self.vulnerabilities.image(account, digest).await {
            Ok(Some(image)) => image,
            // No findings, or a digest no findings can be stored under: nothing is exposed.
            Ok(None) | Err(VulnerabilityError::Digest(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        Ok(exposures(account, digest, running, &image.findings, self.threshold)
            .into_iter()
            .map(|(marker, detail)| Pending::new(marker, VULNERABLE_DETAIL_TYPE, &detail))
            .collect())
    }

    /// Closed running intervals are kept this many days; 0 records none.
    pub fn with_history_retention(mut self, days: u32) -> Self {
        self.history_retention_days = days;
        self
    }

    async fn record_history(&self, step: history::HistoryStep) -> Result<(), NotifyError> {
        match step {
            history::HistoryStep::Open(interval) => {
                self.store.open_interval(&interval, self.history_retention_days).await?;
            }
            history::HistoryStep::Close { place, to } => {
                self.store.close_interval(&place, to, self.history_retention_days).await?;
            }
        }
        Ok(())
    }

    /// Scheduled events carry the full URL to post findings to under this base URL.
    pub fn with_api_url(mut self, api_url: Option<String>) -> Self {
        self.api_url = api_url.map(|url| url.trim_end_matches('/').to_owned()).filter(|url| !url.is_empty());
        self
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

    /// The events a change puts: its added or removed event, and for an added image one
    /// scheduled event per active subscription watching its context.
    async fn events_of(
        &self,
        change: &Change,
        active: &mut HashMap<String, Vec<Subscription>>,
    ) -> Result<Vec<Pending>, NotifyError> {
        let expires_at = (self.clock.now() + LIFECYCLE_MARKER_RETENTION).timestamp();
        let added = match change {
            Change::Removed { event_id, removed } => {
                let marker =
                    Marker::lifecycle(&removed.account, removed.inventory_type, &removed.context, event_id, expires_at);
                return Ok(vec![Pending::new(marker, REMOVED_DETAIL_TYPE, removed)]);
            }
            Change::Added { added, .. } => added,
            Change::FindingsChanged { account, image_digest, .. } => {
                let running: Vec<RunningIn> = self
                    .reader
                    .running(account, std::slice::from_ref(image_digest))
                    .await?
                    .into_iter()
                    .map(|item| RunningIn {
                        inventory_type: item.inventory_type,
                        context: item.context,
                        image_tag: item.image_tag,
                        workloads: item.workloads,
                    })
                    .collect();
                return self.exposure_events(account, image_digest, &running).await;
            }
        };
        let marker =
            Marker::lifecycle(&added.account, added.inventory_type, &added.context, change.event_id(), expires_at);
        let mut pending = vec![Pending::new(marker, ADDED_DETAIL_TYPE, added)];
        if !active.contains_key(&added.account) {
            let subscriptions = self.subscriptions.list(&added.account, Some(RUNTIME_INVENTORY), None).await?;
            active.insert(added.account.clone(), subscriptions.into_iter().filter(|s| s.active).collect());
        }
        for subscription in active[&added.account].iter().filter(|s| s.watches(&added.context)) {
            let detail = ScheduledImage {
                account: added.account.clone(),
                image_digest: added.image_digest.clone(),
                image_tag: added.image_tag.clone(),
                context: added.context.clone(),
                inventory_type: added.inventory_type,
                subscription_id: subscription.subscription_id.clone(),
                subscription_key: subscription.subscription_key.clone(),
                first_seen: added.first_seen.clone(),
                image_reference: pinned_reference(&added.image_tag, &added.image_digest),
                findings_path: findings_path(&added.image_digest),
                findings_url: self.api_url.as_ref().map(|api| format!("{api}{}", findings_path(&added.image_digest))),
            };
            let marker =
                Marker::scheduled(&added.account, &subscription.subscription_id, &added.image_digest, &added.context);
            pending.push(Pending::new(marker, SCHEDULED_DETAIL_TYPE, &detail));
        }
        let here = RunningIn {
            inventory_type: added.inventory_type,
            context: added.context.clone(),
            image_tag: added.image_tag.clone(),
            workloads: added.workloads.clone(),
        };
        pending.extend(self.exposure_events(&added.account, &added.image_digest, &[here]).await?);
        Ok(pending)
    }

    async fn process(
        &self,
        record: &EventRecord,
        active: &mut HashMap<String, Vec<Subscription>>,
    ) -> Result<usize, NotifyError> {
        if let Some(step) = history::history_step(record)?.filter(|_| self.history_retention_days > 0) {
            self.record_history(step).await?;
        }
        let Some(change) = change(record)? else {
            return Ok(0);
        };
        let mut claims = Vec::new();
        let mut first_error = None;
        for pending in self.events_of(&change, active).await? {
            match self.claim(&pending.marker).await {
                Ok(Claimed::Now(token)) => claims.push(Claim { pending, token }),
                Ok(Claimed::Fired) => {}
                // Not sent yet: the record is retried until that delivery settles or its claim runs out.
                Ok(Claimed::Elsewhere) => {
                    first_error = first_error.or(Some(NotifyError::ClaimedElsewhere(pending.marker.pk.clone())))
                }
                Err(error) => first_error = first_error.or(Some(error)),
            }
        }
        if let Some(error) = first_error {
            // Claims taken so far go back, so the retry sends them (or they run out).
            for claim in &claims {
                self.settle(claim, false).await.ok();
            }
            return Err(error);
        }
        // Every claim is settled (sent or given back) before the record is reported.
        self.put_events(&claims).await
    }

    /// Claims a marker under a fresh token.
    async fn claim(&self, marker: &Marker) -> Result<Claimed, NotifyError> {
        let token = format!("{:016x}", fastrand::u64(..));
        let now = self.clock.now();
        let until = (now + CLAIM_DURATION).timestamp();
        Ok(match self.store.claim_marker(marker, &token, now.timestamp(), until).await? {
            MarkerClaim::Taken => Claimed::Now(token),
            MarkerClaim::Fired => Claimed::Fired,
            MarkerClaim::HeldElsewhere => Claimed::Elsewhere,
        })
    }

    /// Marks a claimed marker fired (`true`) or gives the claim back (`false`).
    async fn settle(&self, claim: &Claim, fired: bool) -> Result<(), NotifyError> {
        Ok(self.store.settle_marker(&claim.pending.marker, &claim.token, fired).await?)
    }

    /// Puts one event per claim; accepted ones are marked fired, the others given back so the
    /// retry sends them.
    async fn put_events(&self, claims: &[Claim]) -> Result<usize, NotifyError> {
        let events: Vec<BusEvent> = claims
            .iter()
            .map(|claim| BusEvent { detail_type: claim.pending.detail_type, detail: &claim.pending.detail })
            .collect();
        let fates = self.bus.put(&events).await;
        let (mut settle_error, mut not_sent, mut rejected) = (None, None, 0);
        for (claim, fate) in claims.iter().zip(fates) {
            match fate {
                // Every claim is settled even when one cannot be: a claim left behind runs out.
                Ok(()) => {
                    if let Err(error) = self.settle(claim, true).await {
                        settle_error = settle_error.or(Some(error));
                    }
                }
                Err(failure) => {
                    self.settle(claim, false).await.ok();
                    match failure {
                        Failure::NotSent(error) => not_sent = not_sent.or(Some(error)),
                        Failure::Rejected { .. } => rejected += 1,
                    }
                }
            }
        }
        if let Some(error) = settle_error {
            return Err(error);
        }
        if let Some(error) = not_sent {
            return Err(NotifyError::PutEvents(error));
        }
        if rejected > 0 {
            return Err(NotifyError::Rejected { failed: rejected, sent: claims.len() });
        }
        Ok(claims.len())
    }
}

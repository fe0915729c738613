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
pub mod check;
pub mod exposure;
pub mod intervals;
pub mod watches;
pub mod worklist;

pub use change::{change, Change, ImageAdded, ImageRemoved, ANNOUNCED_KINDS, TTL_PRINCIPAL};

use exposure::{exposures, RunningIn, DEFAULT_THRESHOLD};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::{StreamExt, TryStreamExt};
use inventory_store::bus::{
    Bus, Event as BusEvent, ADDED_DETAIL_TYPE, KEV_RUNNING_DETAIL_TYPE, REMOVED_DETAIL_TYPE, SCHEDULED_DETAIL_TYPE,
    VULNERABLE_DETAIL_TYPE, WATCHED_PACKAGE_DETAIL_TYPE,
};
use inventory_store::clock::Clock;
use inventory_store::findings::Severity;
use inventory_store::image::pinned_reference;
use inventory_store::model::InventoryType;
use inventory_store::packages::{Packages, PackagesError};
use inventory_store::sbom::WatchSpec;
use inventory_store::store::{interval_copies, BatchWrite};
use inventory_store::store::{Claim as MarkerClaim, SentOnceMarker as Marker, Store, StoreError};
use inventory_store::subscriptions::{Subscription, SubscriptionError, Subscriptions, RUNTIME_INVENTORY};
use inventory_store::threat::ThreatReader;
use inventory_store::vex::{repositories, Lens, Rules, RulesReader};
use inventory_store::vulnerabilities::{Vulnerabilities, VulnerabilityError};
use inventory_store::{InventoryReader, Settings};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
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
    #[error(transparent)]
    Vex(#[from] inventory_store::vex::AnnotationError),
    #[error(transparent)]
    Packages(#[from] PackagesError),
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

/// Where the SBOM of an image is posted.
fn sbom_path(digest: &str) -> String {
    format!("/v2/images/{digest}/sbom")
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
    /// Where the image's SBOM goes (`POST`, role `scanner`): `syft <image_reference> -o
    /// cyclonedx-json`, posted beside the findings, makes its packages searchable.
    pub sbom_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_url: Option<String>,
}

pub struct Notifier {
    subscriptions: Subscriptions,
    packages: Packages,
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
    worklist: worklist::Worklist,
    threat: ThreatReader,
    /// The accounts' VEX rules: what they suppress is not announced.
    rules: RulesReader,
    /// The annotations, lapsed by the scheduled check when they expire.
    annotations: inventory_store::vex::Annotations,
    /// Days to fix a running vulnerability of each severity (the worklist check's due dates).
    sla: inventory_store::threat::SlaPolicy,
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
            packages: Packages::new(store.clone(), Arc::clone(&clock)),
            vulnerabilities: Vulnerabilities::new(store.clone(), Arc::clone(&clock)),
            reader: InventoryReader::new(store.clone(), settings, Arc::clone(&clock)),
            threshold: DEFAULT_THRESHOLD,
            worklist: worklist::Worklist::new(store.clone(), Arc::clone(&clock)),
            threat: ThreatReader::new(store.clone()),
            rules: RulesReader::new(store.clone()),
            annotations: inventory_store::vex::Annotations::new(store.clone(), Arc::clone(&clock), false),
            sla: inventory_store::threat::SlaPolicy::default(),
            store,
            bus: Bus::new(events, bus),
            api_url: None,
            history_retention_days: inventory_store::history::DEFAULT_HISTORY_RETENTION_DAYS,
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
        reads: &BatchReads,
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
        let mut events = exposures(account, digest, running, &image.findings, self.threshold);
        if !events.is_empty() {
            // Only a record with events to announce reads the account's VEX rules.
            let rules = reads.rules(account, &self.rules).await?;
            let repositories = repositories(running.iter().map(|place| (digest, place.image_tag.as_str())));
            let lens = Lens { rules: &rules, repositories: &repositories, now: self.clock.now() };
            events.retain(|(_, detail)| !detail.is_suppressed(&lens));
        }
        Ok(events.into_iter().map(|(marker, detail)| Pending::new(marker, VULNERABLE_DETAIL_TYPE, &detail)).collect())
    }

    /// Known Exploited Vulnerability Running events of the vulnerabilities that started running.
    /// The threat data is read once per batch, by the first record that needs it.
    async fn kev_events(
        &self,
        exposures: &[worklist::NewExposure],
        reads: &BatchReads,
    ) -> Result<Vec<Pending>, NotifyError> {
        if exposures.is_empty() {
            return Ok(Vec::new());
        }
        let threat = reads.threat.get_or_try_init(|| self.threat.current()).await?;
        let kev = exposures.iter().filter(|exposure| threat.facts(&exposure.pair.vulnerability_id).kev.is_some());
        let mut unsuppressed = Vec::new();
        // Only exposures to KEV entries make events: only those read the rules and are judged.
        for exposure in kev {
            let rules = reads.rules(&exposure.account, &self.rules).await?;
            let place = &exposure.place;
            let repositories = repositories([(place.image_digest.as_str(), place.image_tag.as_str())]);
            let lens = Lens { rules: &rules, repositories: &repositories, now: self.clock.now() };
            let verdict = exposure.pair.verdict(&lens, &place.image_digest, Some(&place.at.context));
            if !verdict.is_some_and(|verdict| verdict.suppressed) {
                unsuppressed.push(exposure.clone());
            }
        }
        Ok(worklist::kev_events(&unsuppressed, threat)
            .into_iter()
            .map(|(marker, detail)| Pending::new(marker, KEV_RUNNING_DETAIL_TYPE, &detail))
            .collect())
    }

    pub fn with_sla(mut self, sla: inventory_store::threat::SlaPolicy) -> Self {
        self.sla = sla;
        self
    }

    /// Closed running intervals are kept this many days; 0 records none.
    pub fn with_history_retention(mut self, days: u32) -> Self {
        self.history_retention_days = days;
        self
    }

    async fn record_history(
        &self,
        step: intervals::HistoryStep,
        copies: &mut Vec<(usize, BatchWrite)>,
        index: usize,
    ) -> Result<(), NotifyError> {
        match step {
            intervals::HistoryStep::Open(interval) => {
                if self.store.open_interval_record(&interval, self.history_retention_days).await? {
                    copies.extend(interval_copies(&interval).into_iter().map(|write| (index, write)));
                }
            }
            intervals::HistoryStep::Close { place, to } => {
                // A copy of this item's open interval still to write would outlive its close.
                if !copies.is_empty() {
                    self.store.batch_write(distinct(std::mem::take(copies))).await?;
                }
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

    /// Processes a stream batch: the reads every record shares once, then the records of
    /// different items at once (each item's in order, stopping at its first failure), then every
    /// event of the batch, ten to a `PutEvents`. The earliest record that failed is reported:
    /// Lambda delivers the batch again from it, and what the records after it did is done once
    /// (claimed markers, conditional intervals). A record that can never be read is logged and
    /// skipped rather than blocking its shard.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let records = &event.records;
        let reads = match self.batch_reads(records).await {
            Ok(reads) => reads,
            Err(error) => {
                tracing::error!(%error, "the batch's shared reads failed; it is delivered again");
                return failure_at(records, Some(0));
            }
        };
        let reads = &reads;
        let processing: Vec<_> =
            items(records).into_iter().map(|indices| self.process_item(records, indices, reads)).collect();
        let outcomes: Vec<ItemOutcome> =
            futures::stream::iter(processing).buffer_unordered(CONCURRENT_ITEMS).collect().await;
        let item_failed = outcomes.iter().filter_map(|outcome| outcome.failed).min();
        let mut copies: Vec<(usize, BatchWrite)> = Vec::new();
        let mut claims: Vec<(usize, Claim)> = Vec::new();
        for outcome in outcomes {
            copies.extend(outcome.copies);
            claims.extend(outcome.claims);
        }
        let copies_failed = self.write_copies(copies).await;
        let events_failed = self.put_events(claims).await;
        failure_at(records, [item_failed, copies_failed, events_failed].into_iter().flatten().min())
    }

    /// Each record's change, and each account's active `runtime_inventory` subscriptions and
    /// whether it has findings at all, read once for the batch's added images.
    async fn batch_reads(&self, records: &[EventRecord]) -> Result<BatchReads, NotifyError> {
        // Every error `change` answers is the record's own: kept as why it cannot be read.
        let changes: Vec<Result<Option<Change>, String>> = records
            .iter()
            .map(|record| {
                change(record).map_err(|error| match error {
                    NotifyError::Unreadable(reason) => reason,
                    other => other.to_string(),
                })
            })
            .collect();
        let accounts: BTreeSet<String> = changes
            .iter()
            .filter_map(|change| match change {
                Ok(Some(Change::Added { added, .. })) => Some(added.account.clone()),
                _ => None,
            })
            .collect();
        let reads = accounts.into_iter().map(|account| async move {
            let (subscriptions, findings, watches) = futures::try_join!(
                async { Ok::<_, NotifyError>(self.subscriptions.list(&account, Some(RUNTIME_INVENTORY), None).await?) },
                async { Ok::<_, NotifyError>(self.store.any_findings(&account).await?) },
                async { Ok::<_, NotifyError>(self.packages.watches(&account).await?) },
            )?;
            Ok::<_, NotifyError>((account, subscriptions, findings, watches))
        });
        let mut batch = BatchReads { changes, ..BatchReads::default() };
        for (account, subscriptions, findings, watches) in futures::future::try_join_all(reads).await? {
            if findings {
                batch.with_findings.insert(account.clone());
            }
            if !watches.is_empty() {
                batch.watches.insert(account.clone(), watches);
            }
            batch.subscriptions.insert(account, subscriptions.into_iter().filter(|s| s.active).collect());
        }
        Ok(batch)
    }

    /// One item's records, in order, up to the first that fails.
    async fn process_item(&self, records: &[EventRecord], indices: Vec<usize>, reads: &BatchReads) -> ItemOutcome {
        let mut outcome = ItemOutcome::default();
        for index in indices {
            let record = &records[index];
            let sequence = record.change.sequence_number.as_deref().unwrap_or("?");
            match self.process(record, reads, &mut outcome.copies, index).await {
                Ok(claims) => outcome.claims.extend(claims.into_iter().map(|claim| (index, claim))),
                Err(NotifyError::Unreadable(reason)) => {
                    tracing::error!(%reason, sequence, "skipping a stream record that cannot be read");
                }
                Err(error) => {
                    tracing::error!(%error, sequence, "stream record failed; the batch resumes from it");
                    outcome.failed = Some(index);
                    break;
                }
            }
        }
        outcome
    }

    /// Writes the batch's interval copies together; the earliest record whose copies could not
    /// be written, if any.
    async fn write_copies(&self, copies: Vec<(usize, BatchWrite)>) -> Option<usize> {
        let earliest = copies.iter().map(|(index, _)| *index).min()?;
        match self.store.batch_write(distinct(copies)).await {
            Ok(_) => None,
            Err(error) => {
                tracing::error!(%error, "writing running intervals failed");
                Some(earliest)
            }
        }
    }

    /// The events a change puts: its added or removed event, and for an added image one
    /// scheduled event per active subscription watching its context.
    async fn events_of(&self, change: &Change, reads: &BatchReads) -> Result<Vec<Pending>, NotifyError> {
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
                return self.exposure_events(account, image_digest, &running, reads).await;
            }
            Change::SbomChanged { account, image_digest, .. } => {
                return self.sbom_watch_events(account, image_digest).await;
            }
            Change::WatchCreated { account, watch, .. } => return self.new_watch_events(account, watch).await,
        };
        let marker =
            Marker::lifecycle(&added.account, added.inventory_type, &added.context, change.event_id(), expires_at);
        let mut pending = vec![Pending::new(marker, ADDED_DETAIL_TYPE, added)];
        let watching = reads.subscriptions.get(&added.account).into_iter().flatten();
        for subscription in watching.filter(|s| s.watches(&added.context)) {
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
                sbom_path: sbom_path(&added.image_digest),
                sbom_url: self.api_url.as_ref().map(|api| format!("{api}{}", sbom_path(&added.image_digest))),
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
        // An account without findings has no exposure to read.
        if reads.with_findings.contains(&added.account) {
            pending.extend(self.exposure_events(&added.account, &added.image_digest, &[here], reads).await?);
        }
        pending.extend(self.added_watch_events(added, reads).await?);
        Ok(pending)
    }

    /// The watches of the account that match an image that started running: each watch's
    /// images are read once per batch, by the first record that needs them.
    async fn added_watch_events(&self, added: &ImageAdded, reads: &BatchReads) -> Result<Vec<Pending>, NotifyError> {
        let place = watches::Place {
            image_tag: added.image_tag.clone(),
            inventory_type: added.inventory_type,
            context: added.context.clone(),
            workloads: added.workloads.clone(),
            first_seen: added.first_seen.clone(),
        };
        let mut pending = Vec::new();
        for watch in reads.watches.get(&added.account).into_iter().flatten() {
            let carriers = reads.carriers(&added.account, watch, &self.packages).await?;
            let matched = carriers.get(&added.image_digest).map(Vec::as_slice).unwrap_or_default();
            let events = watches::watch_events(
                &added.account,
                watch,
                &added.image_digest,
                matched,
                std::slice::from_ref(&place),
            );
            pending.extend(
                events.into_iter().map(|(marker, detail)| Pending::new(marker, WATCHED_PACKAGE_DETAIL_TYPE, &detail)),
            );
        }
        Ok(pending)
    }

    /// A new SBOM of an image: the account's watches it matches, for every place the image runs.
    async fn sbom_watch_events(&self, account: &str, digest: &str) -> Result<Vec<Pending>, NotifyError> {
        let watches = self.packages.watches(account).await?;
        if watches.is_empty() {
            return Ok(Vec::new());
        }
        let Some((_, packages)) = self.packages.image_packages(account, digest).await? else { return Ok(Vec::new()) };
        let places = self.places_of(account, digest).await?;
        let mut pending = Vec::new();
        for watch in &watches {
            let Some(query) = watch_query(watch) else { continue };
            let matched: Vec<String> =
                packages.iter().filter(|package| query.matches(package)).map(|package| package.purl.clone()).collect();
            let events = watches::watch_events(account, watch, digest, &matched, &places);
            pending.extend(
                events.into_iter().map(|(marker, detail)| Pending::new(marker, WATCHED_PACKAGE_DETAIL_TYPE, &detail)),
            );
        }
        Ok(pending)
    }

    /// A new watch: every running image carrying what it looks for, at every place it runs.
    async fn new_watch_events(&self, account: &str, watch: &WatchSpec) -> Result<Vec<Pending>, NotifyError> {
        let carriers = carriers_of(&self.packages, account, watch).await?;
        // Collected before they are streamed, as in `put_events` (rustc's `Send` check).
        let reads: Vec<_> = carriers
            .into_iter()
            .map(|(digest, matched)| async move {
                let places = self.places_of(account, &digest).await?;
                Ok::<_, NotifyError>(watches::watch_events(account, watch, &digest, &matched, &places))
            })
            .collect();
        let events: Vec<_> = futures::stream::iter(reads).buffer_unordered(CONCURRENT_ITEMS).try_collect().await?;
        let events = events.into_iter().flatten();
        Ok(events.map(|(marker, detail)| Pending::new(marker, WATCHED_PACKAGE_DETAIL_TYPE, &detail)).collect())
    }

    /// Where an image runs now: its running places.
    async fn places_of(&self, account: &str, digest: &str) -> Result<Vec<watches::Place>, NotifyError> {
        Ok(self
            .store
            .running_places_of(account, digest)
            .await?
            .into_iter()
            .map(|place| watches::Place {
                image_tag: place.image_tag,
                inventory_type: place.at.inventory_type,
                context: place.at.context,
                workloads: place.at.workloads,
                first_seen: inventory_store::clock::format_time(place.at.from),
            })
            .collect())
    }

    /// One record: its history step, then its events' markers claimed; the claims, for the
    /// batch's `PutEvents`. An opened interval's copies join `copies` (written with the batch's),
    /// or are written first when this record closes the interval.
    async fn process(
        &self,
        record: &EventRecord,
        reads: &BatchReads,
        copies: &mut Vec<(usize, BatchWrite)>,
        index: usize,
    ) -> Result<Vec<Claim>, NotifyError> {
        let step = intervals::history_step(record)?;
        let mut exposures = match &step {
            Some(step) => self.worklist.apply(step, reads.with_findings.contains(step.account())).await?,
            None => Vec::new(),
        };
        if let Some(step) = step.filter(|_| self.history_retention_days > 0) {
            self.record_history(step, copies, index).await?;
        }
        let change = reads.changes[index].as_ref().map_err(|reason| NotifyError::Unreadable(reason.clone()))?;
        let Some(change) = change else {
            return Ok(Vec::new());
        };
        if let Change::FindingsChanged { account, image_digest, .. } = change {
            exposures.extend(self.worklist.findings_changed(account, image_digest).await?);
        }
        let mut events = self.events_of(change, reads).await?;
        events.extend(self.kev_events(&exposures, reads).await?);
        // Two records of a batch may announce one event (an image's new findings and its
        // arrival): the first to get here claims and sends it, for both.
        let events = events.into_iter().filter(|pending| reads.first_to_claim(&pending.marker));
        let claiming = events.map(|pending| async move {
            let claimed = self.claim(&pending.marker).await;
            (pending, claimed)
        });
        let mut claims = Vec::new();
        let mut first_error = None;
        for (pending, claimed) in futures::future::join_all(claiming).await {
            match claimed {
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
            futures::future::join_all(claims.iter().map(|claim| self.settle(claim, false))).await;
            return Err(error);
        }
        Ok(claims)
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

    /// Puts the batch's events, ten to a request; accepted ones are marked fired, the others
    /// given back so the retry sends them. Every claim is settled even when one cannot be (a
    /// claim left behind runs out). The earliest record with an event not sent or not settled.
    async fn put_events(&self, claims: Vec<(usize, Claim)>) -> Option<usize> {
        let events: Vec<BusEvent> = claims
            .iter()
            .map(|(_, claim)| BusEvent { detail_type: claim.pending.detail_type, detail: &claim.pending.detail })
            .collect();
        let fates = self.bus.put(&events).await;
        // Futures collected before they are streamed: a stream mapping borrowed claims fails
        // rustc's `Send` check of the spawned future ("`FnOnce` is not general enough").
        let settled: Vec<_> = claims
            .iter()
            .zip(fates)
            .map(|((index, claim), fate)| async move {
                let sent = fate.is_ok();
                let settled = self.settle(claim, sent).await;
                match (fate, settled) {
                    (Ok(()), Ok(())) => None,
                    (Ok(()), Err(error)) => {
                        tracing::error!(%error, "settling a sent event's marker failed");
                        Some(*index)
                    }
                    (Err(failure), _) => {
                        tracing::error!(?failure, "an event was not put");
                        Some(*index)
                    }
                }
            })
            .collect();
        futures::stream::iter(settled)
            .buffer_unordered(CONCURRENT_ITEMS)
            .filter_map(|failed| async move { failed })
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .min()
    }
}

/// The images carrying what a watch looks for, each with its matching packages (purls). A
/// watch too broad to search (past the index read bound) is logged and matches nothing rather
/// than holding up its shard.
async fn carriers_of(
    packages: &Packages,
    account: &str,
    watch: &WatchSpec,
) -> Result<HashMap<String, Vec<String>>, NotifyError> {
    let mut carriers: HashMap<String, Vec<String>> = HashMap::new();
    let Some(query) = watch_query(watch) else { return Ok(carriers) };
    let entries = match packages.carrying(account, &query).await {
        Ok(entries) => entries,
        Err(PackagesError::Query { message, .. }) => {
            tracing::error!(watch = %watch.watch_id, %message, "a package watch matches too much to search; skipped");
            return Ok(carriers);
        }
        Err(error) => return Err(error.into()),
    };
    for entry in entries {
        carriers.entry(entry.image_digest).or_default().push(entry.package.purl);
    }
    Ok(carriers)
}

/// A stored watch's search; a watch that no longer parses (a rule changed since) is logged and
/// fires nothing.
fn watch_query(watch: &WatchSpec) -> Option<inventory_store::sbom::PackageQuery> {
    watch
        .query()
        .map_err(
            |error| tracing::error!(watch = %watch.watch_id, %error, "a package watch cannot be searched; skipped"),
        )
        .ok()
}

/// Items whose records are processed at once.
const CONCURRENT_ITEMS: usize = 16;

/// What a batch reads once, for every record.
#[derive(Default)]
struct BatchReads {
    /// Each record's change, by its index in the batch; why, for a record that cannot be read.
    changes: Vec<Result<Option<Change>, String>>,
    /// Each account's active `runtime_inventory` subscriptions.
    subscriptions: HashMap<String, Vec<Subscription>>,
    /// The accounts with any findings.
    with_findings: HashSet<String>,
    /// The markers this batch's records claimed.
    claimed: std::sync::Mutex<HashSet<(String, String)>>,
    /// The threat data, read by the first record with a new exposure.
    threat: tokio::sync::OnceCell<inventory_store::threat::ThreatData>,
    /// Each account's VEX rules, read by the first record with an event they may suppress.
    rules: tokio::sync::Mutex<HashMap<String, Arc<Rules>>>,
    /// The package watches of the accounts with added images that have any.
    watches: HashMap<String, Vec<WatchSpec>>,
    /// Each watch's images with their matching packages (purls), read by the first record of
    /// the batch that needs them.
    carriers: tokio::sync::Mutex<HashMap<(String, String), Arc<HashMap<String, Vec<String>>>>>,
}

impl BatchReads {
    async fn rules(&self, account: &str, reader: &RulesReader) -> Result<Arc<Rules>, NotifyError> {
        let mut read = self.rules.lock().await;
        if let Some(rules) = read.get(account) {
            return Ok(Arc::clone(rules));
        }
        let rules = reader.rules(account).await?;
        read.insert(account.to_owned(), Arc::clone(&rules));
        Ok(rules)
    }

    async fn carriers(
        &self,
        account: &str,
        watch: &WatchSpec,
        packages: &Packages,
    ) -> Result<Arc<HashMap<String, Vec<String>>>, NotifyError> {
        let mut read = self.carriers.lock().await;
        let key = (account.to_owned(), watch.watch_id.clone());
        if let Some(carriers) = read.get(&key) {
            return Ok(Arc::clone(carriers));
        }
        let carriers = Arc::new(carriers_of(packages, account, watch).await?);
        read.insert(key, Arc::clone(&carriers));
        Ok(carriers)
    }

    /// Whether no other record of the batch claimed `marker` yet (this one now does).
    fn first_to_claim(&self, marker: &Marker) -> bool {
        let mut claimed = self.claimed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        claimed.insert((marker.pk.clone(), marker.sk.clone()))
    }
}

/// What one item's records came to: interval copies and claims, each with its record's index in
/// the batch, and the record that failed, if one did.
#[derive(Default)]
struct ItemOutcome {
    copies: Vec<(usize, BatchWrite)>,
    claims: Vec<(usize, Claim)>,
    failed: Option<usize>,
}

/// The indices of the batch's records, grouped by the item each changes, in batch order.
fn items(records: &[EventRecord]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_key: HashMap<Vec<(String, String)>, usize> = HashMap::new();
    for (index, record) in records.iter().enumerate() {
        let mut key: Vec<(String, String)> =
            record.change.keys.iter().map(|(name, value)| (name.clone(), format!("{value:?}"))).collect();
        key.sort();
        match by_key.get(&key) {
            Some(&group) => groups[group].push(index),
            None => {
                by_key.insert(key, groups.len());
                groups.push(vec![index]);
            }
        }
    }
    groups
}

/// The writes once each: a batch may not write one key twice (the contexts' list entry is every
/// open's in the context).
fn distinct(copies: Vec<(usize, BatchWrite)>) -> Vec<BatchWrite> {
    let mut seen = HashSet::new();
    copies.into_iter().map(|(_, write)| write).filter(|write| seen.insert(write.key())).collect()
}

/// The answer that has Lambda deliver the batch again from `failed`, if a record failed.
fn failure_at(records: &[EventRecord], failed: Option<usize>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    if let Some(record) = failed.and_then(|index| records.get(index)) {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = record.change.sequence_number.clone();
        response.batch_item_failures.push(failure);
    }
    response
}

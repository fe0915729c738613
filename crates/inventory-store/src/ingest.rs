//! Storing a report: per context, read what is stored, plan the changes, and apply them
//! under the context's lease, so concurrent or retried reports for the same context are applied
//! one after the other. Each context of a report succeeds or fails on its own.

use crate::clock::{format_time, Clock};
use crate::keys::{context_sk, contexts_pk, detail_pk, image_sk, inventory_pk, ItemKind};
use crate::lease::{ContextLease, LeaseError};
use crate::model::{split_kubernetes_context, ContextRecord, DetailRecord, ImageRecord, InventoryType, ReportSource};
use crate::plan::{plan_context, plan_from_record, ContextPlan, Plan, ReportMeta, Retention, StoredContext, Write};
use crate::report::{ContextReport, ContextSnapshot, ItemNotes, ParsedReport};
use crate::settings::Settings;
use crate::store::{backoff, encode, BatchWrite, Expect, Store, StoreError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use std::sync::Arc;

const MAX_CONTEXT_ATTEMPTS: u32 = 6;
const CONTEXT_CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error("another report for context {0:?} is being stored; retry later")]
    Busy(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextStatus {
    /// The report's changes are stored.
    Stored,
    /// A newer report was already stored for the context; nothing changed.
    Stale,
    /// The collector reports the context (it sees every task, the agent at most 100); nothing
    /// changed.
    Superseded,
    /// Another writer held the context throughout; nothing changed, retry.
    Busy,
    /// Storing failed; the context is as before or partly written, and unlocked: the next
    /// report repairs it.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextSummary {
    pub context: String,
    pub status: ContextStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub containers: u32,
    pub images_added: u32,
    pub images_removed: u32,
    pub images_unchanged: u32,
    /// DynamoDB write requests spent on this context.
    pub write_requests: u64,
}

impl ContextSummary {
    /// Nothing done yet.
    fn new(context: &str) -> Self {
        Self {
            context: context.to_owned(),
            status: ContextStatus::Stored,
            error: None,
            containers: 0,
            images_added: 0,
            images_removed: 0,
            images_unchanged: 0,
            write_requests: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    pub inventory_type: InventoryType,
    pub timestamp: String,
    pub contexts: Vec<ContextSummary>,
    pub images_added: u32,
    pub images_removed: u32,
    pub images_unchanged: u32,
    pub write_requests: u64,
    /// Items of the report that were skipped or adjusted.
    #[serde(flatten)]
    pub notes: ItemNotes,
    /// What the caller should know of the report as a whole (a probably truncated one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl IngestSummary {
    /// Whether any context ended with `status`.
    pub fn any(&self, status: ContextStatus) -> bool {
        self.contexts.iter().any(|context| context.status == status)
    }
}

#[derive(Clone)]
pub struct Ingestor {
    store: Store,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

impl Ingestor {
    pub fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self { store, settings, clock }
    }

    /// What departures do; `may_delete: false` departs items as in TTL mode, so they stay
    /// until the TTL or the next complete report. So it is for a report that skipped an item (it
    /// says nothing of that item, which overwrite would delete as "no longer reported") and for
    /// a task event (a departed task keeps its ECS version, which orders later events and sweeps).
    fn retention(&self, may_delete: bool) -> Retention {
        Retention { ttl: self.settings.ttl_delta(), overwrite: self.settings.ingest_overwrite && may_delete }
    }

    /// Why a report dated `timestamp` would store nothing visible: it is older than the
    /// retention (`InventoryTtlDays`), so its items would be expired the moment they are written.
    pub fn past_retention(&self, timestamp: DateTime<Utc>) -> Option<String> {
        let ttl = self.settings.ttl_delta()?;
        (timestamp + ttl <= self.clock.now()).then(|| {
            format!(
                "is older than the inventory's retention of {} days (InventoryTtlDays): nothing in it would be listed",
                self.settings.ttl_days
            )
        })
    }

    /// Stores every context of a report; one context failing does not stop the others.
    pub async fn ingest(&self, account: &str, report: ParsedReport<'_>) -> IngestSummary {
        let ParsedReport { inventory_type, source, timestamp, contexts, notes, probably_truncated } = report;
        let meta = ReportMeta { time: timestamp, source, probably_truncated };
        let retention = self.retention(notes.skipped_count == 0);
        // Collected first: a stream mapping borrowed contexts through a closure fails rustc's
        // `Send` check of the handler's future ("implementation of `FnOnce` is not general enough").
        let pending: Vec<_> = contexts
            .iter()
            .map(|content| self.ingest_report_context(account, inventory_type, meta, retention, content))
            .collect();
        let mut summaries: Vec<ContextSummary> =
            futures::stream::iter(pending).buffer_unordered(CONTEXT_CONCURRENCY).collect().await;
        // kai reports a whole cluster: with overwrite ("always the latest inventory", kai's
        // `image_ttl_days: -1`), a namespace it no longer lists departs at once.
        if source == ReportSource::Kai && retention.overwrite {
            let reported: Vec<&str> = contexts.iter().map(|content| content.context.as_str()).collect();
            summaries.extend(self.depart_unreported_namespaces(account, &reported, meta, retention).await);
        }
        summaries.sort_by(|a, b| a.context.cmp(&b.context));
        let total = |field: fn(&ContextSummary) -> u32| summaries.iter().map(field).sum();
        IngestSummary {
            inventory_type,
            timestamp: format_time(timestamp),
            images_added: total(|s| s.images_added),
            images_removed: total(|s| s.images_removed),
            images_unchanged: total(|s| s.images_unchanged),
            write_requests: summaries.iter().map(|s| s.write_requests).sum(),
            contexts: summaries,
            notes,
            warnings: probably_truncated.then(crate::report::probably_truncated_warning).into_iter().collect(),
        }
    }

    /// Empties the stored namespaces of the reported contexts' cluster that the report does not
    /// list and that still hold items. A failure to find them is logged: the report itself is
    /// stored, and the next one tries again.
    async fn depart_unreported_namespaces(
        &self,
        account: &str,
        reported: &[&str],
        meta: ReportMeta,
        retention: Retention,
    ) -> Vec<ContextSummary> {
        let Some(cluster) = reported.first().map(|context| split_kubernetes_context(context).0) else {
            return Vec::new();
        };
        let kubernetes = InventoryType::Kubernetes;
        let stored = match self.store.contexts_with_prefix(account, kubernetes, &format!("{cluster}/")).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::error!(account, cluster, %error, "listing the cluster's namespaces failed");
                return Vec::new();
            }
        };
        let mut departed = Vec::new();
        for context in stored {
            // Cluster `a`'s prefix also finds the namespaces of a cluster named `a/b`.
            if split_kubernetes_context(&context).0 != cluster || reported.contains(&context.as_str()) {
                continue;
            }
            match self.store.get_context(account, kubernetes, &context, false).await {
                Ok(Some(record)) if record.holds_items() => {
                    let empty = ContextReport::from(ContextSnapshot::empty(&context));
                    departed.push(self.ingest_report_context(account, kubernetes, meta, retention, &empty).await);
                }
                Ok(_) => {}
                Err(error) => tracing::error!(account, context, %error, "reading a namespace to depart failed"),
            }
        }
        departed
    }

    /// Stores one context of a report; a failure is its summary's, not the report's.
    async fn ingest_report_context(
        &self,
        account: &str,
        inventory_type: InventoryType,
        meta: ReportMeta,
        retention: Retention,
        content: &ContextReport<'_>,
    ) -> ContextSummary {
        let mut summary = ContextSummary::new(&content.context);
        summary.containers = content.container_count;
        let desired = Desired::Report(content);
        if let Err(error) = self.ingest_context(account, inventory_type, meta, retention, desired, &mut summary).await {
            summary.status = match error {
                IngestError::Busy(_) => ContextStatus::Busy,
                _ => ContextStatus::Failed,
            };
            tracing::error!(account, context = %content.context, %error, "storing a context failed");
            summary.error = Some(error.to_string());
        }
        summary
    }

    /// Stores one context whose new content is derived from what is stored (an ECS task state
    /// change applied to its cluster): `derive` sees the stored context, read once under the same
    /// retry and lease rules as a report, and answers `None` when there is nothing to change.
    pub async fn ingest_derived(
        &self,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        source: crate::model::ReportSource,
        derive: &(dyn Fn(&StoredContext, DateTime<Utc>) -> Option<ContextSnapshot> + Sync),
    ) -> Result<ContextSummary, IngestError> {
        let mut summary = ContextSummary::new(context);
        let report = ReportMeta { time: self.clock.now(), source, probably_truncated: false };
        let desired = Desired::Derived(context, derive);
        self.ingest_context(account, inventory_type, report, self.retention(false), desired, &mut summary).await?;
        Ok(summary)
    }

    /// Stores one context's content: reads its record, decides the plan, writes it; again when
    /// another writer held or took the context meanwhile.
    async fn ingest_context(
        &self,
        account: &str,
        inventory_type: InventoryType,
        report: ReportMeta,
        retention: Retention,
        desired: Desired<'_>,
        summary: &mut ContextSummary,
    ) -> Result<(), IngestError> {
        let job = Job { account, inventory_type, context: desired.context(), report, retention, desired };
        for attempt in 0..MAX_CONTEXT_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt + 2)).await;
            }
            let now = self.clock.now();
            // The record alone decides most reports (same content as stored): one small read.
            let previous = self.store.get_context(account, inventory_type, job.context, true).await?;
            if previous.as_ref().is_some_and(|record| record.lease_is_live(now)) {
                continue;
            }
            let Some(plan) = self.decide(&job, previous.as_ref(), now, summary).await? else { return Ok(()) };
            let Some(state) = &plan.context_write else { return Ok(()) };
            let record = context_record(&job, previous.as_ref(), state, now);
            if self.apply(&job, &plan, record, previous.as_ref(), summary).await? {
                return Ok(());
            }
        }
        Err(IngestError::Busy(job.context.to_owned()))
    }

    /// The plan of one attempt, its counts in `summary`; none when nothing is to be written (an
    /// older report, a context the collector reports, nothing derived).
    async fn decide(
        &self,
        job: &Job<'_>,
        previous: Option<&ContextRecord>,
        now: DateTime<Utc>,
        summary: &mut ContextSummary,
    ) -> Result<Option<ContextPlan>, IngestError> {
        let Job { account, inventory_type, context, report, retention, desired } = *job;
        let load = || self.store.load_items(account, inventory_type, context, previous.cloned());
        let decided = match desired {
            Desired::Report(content) => {
                let hash = &content.content_hash;
                match plan_from_record(previous, content.namespace.as_ref(), hash, report, now, retention) {
                    Some(plan) => plan,
                    // Built only now: most reports are decided from the record.
                    None => plan_context(load().await?, content.snapshot(), hash, report, now, retention),
                }
            }
            Desired::Derived(_, derive) => {
                let stored = load().await?;
                let Some(derived) = derive(&stored, now) else { return Ok(None) };
                summary.containers = derived.container_count();
                let hash = derived.content_hash();
                plan_context(stored, derived, &hash, report, now, retention)
            }
        };
        let plan = match decided {
            Plan::Stale { last_report_at } => {
                tracing::info!(context, %last_report_at, report_time = %report.time, "ignoring an older report");
                summary.status = ContextStatus::Stale;
                return Ok(None);
            }
            Plan::Superseded { last_report_at } => {
                tracing::info!(context, %last_report_at, source = ?report.source, "the collector reports this context; not stored");
                summary.status = ContextStatus::Superseded;
                return Ok(None);
            }
            Plan::Apply(plan) => plan,
        };
        summary.images_added = plan.images.added;
        summary.images_removed = plan.images.removed;
        summary.images_unchanged = plan.images.unchanged;
        Ok(Some(plan))
    }

    /// Writes a plan: the record alone when no item changes (one conditional write), else the
    /// items under the context's lease and the record with it. False when another writer got
    /// there first: the caller reads again.
    async fn apply(
        &self,
        job: &Job<'_>,
        plan: &ContextPlan,
        record: ContextRecord,
        previous: Option<&ContextRecord>,
        summary: &mut ContextSummary,
    ) -> Result<bool, IngestError> {
        if plan.item_write_count() == 0 {
            let expect = previous.map_or(Expect::Absent, |record| Expect::Version(record.version));
            return match self.store.put_context(&record, expect).await {
                Ok(()) => {
                    summary.write_requests += 1;
                    Ok(true)
                }
                Err(StoreError::ConditionFailed) => Ok(false),
                Err(error) => Err(error.into()),
            };
        }
        // A first report keeps the context unlisted until its items are written.
        let placeholder = || ContextRecord { last_report_at: None, first_seen: None, ..record.clone() };
        let Some(mut lease) = ContextLease::acquire(&self.store, self.clock.clone(), previous, placeholder).await?
        else {
            return Ok(false);
        };
        summary.write_requests += 1;
        summary.write_requests += lease.write(item_writes(job.account, job.inventory_type, job.context, plan)).await?;
        lease.commit(record).await?;
        summary.write_requests += 1;
        Ok(true)
    }
}

/// What one context's ingest is asked: where, what report, and what content.
#[derive(Clone, Copy)]
struct Job<'a> {
    account: &'a str,
    inventory_type: InventoryType,
    context: &'a str,
    report: ReportMeta,
    retention: Retention,
    desired: Desired<'a>,
}

/// The context's record once `state` is written over `previous`.
fn context_record(
    job: &Job<'_>,
    previous: Option<&ContextRecord>,
    state: &crate::plan::ContextState,
    now: DateTime<Utc>,
) -> ContextRecord {
    let Job { account, inventory_type, context, .. } = *job;
    ContextRecord {
        version: previous.map_or(0, |record| record.version) + 1,
        pk: inventory_pk(account, inventory_type, context),
        sk: context_sk(context),
        kind: ItemKind::Context.as_str().to_owned(),
        inventory_type,
        context: context.to_owned(),
        last_report_at: Some(state.last_report_at),
        first_seen: Some(state.first_seen),
        updated_at: Some(now),
        namespace: state.namespace.clone(),
        source: Some(state.source),
        expires_at: state.expires_at,
        context_pk: Some(contexts_pk(account, inventory_type, context)),
        detail_counts: Some(state.detail_counts.clone()),
        content_hash: Some(state.content_hash.clone()),
        refresh_due_at: state.refresh_due_at,
        report_interval_seconds: report_interval(previous, state.last_report_at),
        lock_owner: None,
        lock_until: None,
        probably_truncated: state.probably_truncated,
    }
}

/// The content a context is to hold: a report's, or one derived from what is stored.
#[derive(Clone, Copy)]
enum Desired<'a> {
    Report(&'a ContextReport<'a>),
    Derived(&'a str, &'a (dyn Fn(&StoredContext, DateTime<Utc>) -> Option<ContextSnapshot> + Sync)),
}

impl Desired<'_> {
    fn context(&self) -> &str {
        match self {
            Self::Report(content) => &content.context,
            Self::Derived(context, _) => context,
        }
    }
}

/// Seconds since the context's previous report, kept from the previous record when the report
/// time did not move (a retried or out-of-order report says nothing about the interval).
fn report_interval(previous: Option<&ContextRecord>, report_time: DateTime<Utc>) -> Option<i64> {
    let previous = previous?;
    match previous.last_report_at {
        Some(at) if report_time > at => Some((report_time - at).num_seconds()),
        _ => previous.report_interval_seconds,
    }
}

fn item_writes(account: &str, inventory_type: InventoryType, context: &str, plan: &ContextPlan) -> Vec<BatchWrite> {
    let inventory = inventory_pk(account, inventory_type, context);
    let details = detail_pk(account, inventory_type, context);
    let images = plan.image_writes.iter().map(|write| match write {
        Write::Put { key, content, tracking } => BatchWrite::Put(encode(&ImageRecord::new(
            account,
            inventory_type,
            context,
            key,
            content.clone(),
            tracking.clone(),
        ))),
        Write::Delete { key } => BatchWrite::Delete { pk: inventory.clone(), sk: image_sk(context, key) },
    });
    let detail_items = plan.detail_writes.iter().map(|write| match write {
        Write::Put { key, content, tracking } => BatchWrite::Put(encode(&DetailRecord {
            pk: details.clone(),
            sk: key.clone(),
            kind: ItemKind::Detail.as_str().to_owned(),
            inventory_type,
            context: context.to_owned(),
            data: content.clone(),
            tracking: tracking.clone(),
        })),
        Write::Delete { key } => BatchWrite::Delete { pk: details.clone(), sk: key.clone() },
    });
    images.chain(detail_items).collect()
}

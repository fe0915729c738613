//! Storing a report: per context, read what is stored, plan the changes, and apply them
//! under a short lock held on the context record so concurrent or retried reports for the
//! same context are applied one after the other.

use crate::clock::Clock;
use crate::model::{
    detail_pk, image_sk, inventory_pk, ContextRecord, DetailRecord, ImageRecord, InventoryType, KIND_CONTEXT,
    KIND_DETAIL, KIND_IMAGE,
};
use crate::plan::{plan_context, ContextPlan, Plan, Retention, Write};
use crate::report::{ContextSnapshot, ParsedReport};
use crate::settings::Settings;
use crate::store::{backoff, encode, BatchWrite, Expect, Store, StoreError};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::sync::Arc;

/// Longer than an ingest invocation may run, so a crashed holder's lock runs out.
pub(crate) const LOCK_DURATION: TimeDelta = TimeDelta::minutes(2);
const MAX_CONTEXT_ATTEMPTS: u32 = 6;
const CONTEXT_CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextSummary {
    pub context: String,
    pub status: ContextStatus,
    pub containers: u32,
    pub images_added: u32,
    pub images_removed: u32,
    pub images_unchanged: u32,
    /// DynamoDB write requests spent on this context.
    pub write_requests: u64,
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
}

pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
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

    fn retention(&self) -> Retention {
        Retention { ttl: self.settings.ttl_delta(), overwrite: self.settings.ingest_overwrite }
    }

    pub async fn ingest(&self, account: &str, report: ParsedReport) -> Result<IngestSummary, IngestError> {
        let ParsedReport { inventory_type, timestamp, contexts } = report;
        let mut summaries: Vec<ContextSummary> = futures::stream::iter(contexts)
            .map(|snapshot| self.ingest_context(account, inventory_type, timestamp, snapshot))
            .buffer_unordered(CONTEXT_CONCURRENCY)
            .try_collect()
            .await?;
        summaries.sort_by(|a, b| a.context.cmp(&b.context));
        let total = |field: fn(&ContextSummary) -> u32| summaries.iter().map(field).sum();
        Ok(IngestSummary {
            inventory_type,
            timestamp: format_time(timestamp),
            images_added: total(|s| s.images_added),
            images_removed: total(|s| s.images_removed),
            images_unchanged: total(|s| s.images_unchanged),
            write_requests: summaries.iter().map(|s| s.write_requests).sum(),
            contexts: summaries,
        })
    }

    async fn ingest_context(
        &self,
        account: &str,
        inventory_type: InventoryType,
        report_time: DateTime<Utc>,
        snapshot: ContextSnapshot,
    ) -> Result<ContextSummary, IngestError> {
        let containers = snapshot.details.keys().filter(|key| key.starts_with("c#")).count() as u32;
        let mut summary = ContextSummary {
            context: snapshot.context.clone(),
            status: ContextStatus::Stored,
            containers,
            images_added: 0,
            images_removed: 0,
            images_unchanged: 0,
            write_requests: 0,
        };
        for attempt in 0..MAX_CONTEXT_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt + 2)).await;
            }
            let now = self.clock.now();
            let stored = self.store.load_context(account, inventory_type, &snapshot.context).await?;
            let previous = stored.record.clone();
            if previous.as_ref().is_some_and(|record| lock_is_live(record, now)) {
                continue;
            }
            let plan = match plan_context(stored, &snapshot, report_time, now, self.retention()) {
                Plan::Stale { last_report_at } => {
                    tracing::info!(context = %snapshot.context, %last_report_at, %report_time, "ignoring an older report");
                    summary.status = ContextStatus::Stale;
                    return Ok(summary);
                }
                Plan::Apply(plan) => plan,
            };
            summary.images_added = plan.images.added;
            summary.images_removed = plan.images.removed;
            summary.images_unchanged = plan.images.unchanged;
            let Some(state) = plan.context_write.clone() else {
                return Ok(summary);
            };
            let record = |lock: Option<(&str, i64)>| ContextRecord {
                pk: inventory_pk(account, inventory_type),
                sk: snapshot.context.clone(),
                kind: KIND_CONTEXT.to_owned(),
                inventory_type,
                context: snapshot.context.clone(),
                last_report_at: Some(state.last_report_at),
                first_seen: Some(state.first_seen),
                updated_at: Some(now),
                namespace: state.namespace.clone(),
                expires_at: state.expires_at,
                lock_owner: lock.map(|(owner, _)| owner.to_owned()),
                lock_until: lock.map(|(_, until)| until),
            };
            let expect = match &previous {
                None => Expect::Absent,
                Some(record) => Expect::Unlocked {
                    last_report_at: record.last_report_at.map(serde_json_time),
                    now_epoch: now.timestamp(),
                },
            };

            if plan.item_write_count() == 0 {
                // Only the report time moves: one conditional write, no lock needed.
                match self.store.put_context(&record(None), expect).await {
                    Ok(()) => {
                        summary.write_requests += 1;
                        return Ok(summary);
                    }
                    Err(StoreError::ConditionFailed) => continue,
                    Err(error) => return Err(error.into()),
                }
            }

            let owner = format!("{:016x}", fastrand::u64(..));
            let lock_until = (now + LOCK_DURATION).timestamp();
            let lock = match &previous {
                // Keep the stored state while locked; only the lock fields change.
                Some(stored) => {
                    ContextRecord { lock_owner: Some(owner.clone()), lock_until: Some(lock_until), ..stored.clone() }
                }
                None => ContextRecord { last_report_at: None, first_seen: None, ..record(Some((&owner, lock_until))) },
            };
            match self.store.put_context(&lock, expect).await {
                Ok(()) => summary.write_requests += 1,
                Err(StoreError::ConditionFailed) => continue,
                Err(error) => return Err(error.into()),
            }
            let writes = item_writes(account, inventory_type, &snapshot.context, &plan);
            summary.write_requests += self.store.batch_write(writes).await?;
            self.store.put_context(&record(None), Expect::LockedBy(owner)).await.map_err(|error| match error {
                StoreError::ConditionFailed => IngestError::Busy(snapshot.context.clone()),
                other => other.into(),
            })?;
            summary.write_requests += 1;
            return Ok(summary);
        }
        Err(IngestError::Busy(snapshot.context))
    }
}

pub(crate) fn lock_is_live(record: &ContextRecord, now: DateTime<Utc>) -> bool {
    record.lock_until.is_some_and(|until| until >= now.timestamp())
}

/// The exact string chrono's serde writes, which is what the condition compares against.
pub(crate) fn serde_json_time(time: DateTime<Utc>) -> String {
    match serde_json::to_value(time) {
        Ok(serde_json::Value::String(value)) => value,
        _ => time.to_rfc3339(),
    }
}

fn item_writes(account: &str, inventory_type: InventoryType, context: &str, plan: &ContextPlan) -> Vec<BatchWrite> {
    let inventory = inventory_pk(account, inventory_type);
    let details = detail_pk(account, inventory_type, context);
    let images = plan.image_writes.iter().map(|write| match write {
        Write::Put { key, content, tracking } => BatchWrite::Put(encode(&ImageRecord {
            pk: inventory.clone(),
            sk: image_sk(context, key),
            kind: KIND_IMAGE.to_owned(),
            inventory_type,
            context: context.to_owned(),
            image_key: key.clone(),
            content: content.clone(),
            tracking: tracking.clone(),
        })),
        Write::Delete { key } => BatchWrite::Delete { pk: inventory.clone(), sk: image_sk(context, key) },
    });
    let detail_items = plan.detail_writes.iter().map(|write| match write {
        Write::Put { key, content, tracking } => BatchWrite::Put(encode(&DetailRecord {
            pk: details.clone(),
            sk: key.clone(),
            kind: KIND_DETAIL.to_owned(),
            inventory_type,
            context: context.to_owned(),
            data: content.clone(),
            tracking: tracking.clone(),
        })),
        Write::Delete { key } => BatchWrite::Delete { pk: details.clone(), sk: key.clone() },
    });
    images.chain(detail_items).collect()
}

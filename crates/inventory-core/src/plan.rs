//! The pure part of ingest: given what is stored for a context and what a report says,
//! decide the writes. Nothing here talks to DynamoDB.

use crate::image::TAG_KEY_PREFIX;
use crate::limits::MAX_WORKLOADS_PER_IMAGE;
use crate::model::NamespaceMeta;
use crate::model::{
    count_details, ContextRecord, Detail, DetailCounts, ImageContent, ReportSource, Tracking, WorkloadContainers,
    IMAGE_COUNT_KEY,
};
use crate::report::ContextSnapshot;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Present items rewrite `last_seen` at most this often; reads stay exact because a present
/// item's last sighting is its context's `last_report_at`.
pub const REFRESH_INTERVAL: TimeDelta = TimeDelta::days(1);

/// Each item waits between one and two refresh intervals, chosen by its key. When the first item
/// of a context falls due (the record's `refresh_due_at`), every item due within the next
/// interval is refreshed with it, so a context's items are read and rewritten at most about once
/// a day, and the reports in between read no item.
fn refresh_after(key: &str) -> TimeDelta {
    // FNV-1a: stable across processes and releases, unlike the std hasher.
    let hash = key
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    let spread = REFRESH_INTERVAL.num_seconds() as u64;
    REFRESH_INTERVAL + TimeDelta::seconds((hash % spread) as i64)
}

/// A context the collector stored within this long takes no report from another source: the
/// `ecs-inventory` agent sees at most 100 tasks of a cluster, the collector all of them, so
/// letting both write one context would make images appear and disappear. When the collector
/// stops reporting a cluster, the agent's reports are stored again after this long.
pub const COLLECTOR_PRECEDENCE: TimeDelta = TimeDelta::hours(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `None` keeps inventory forever.
    pub ttl: Option<TimeDelta>,
    pub overwrite: bool,
}

/// Whether an item last seen at `last_seen` is still part of the inventory at `now`.
pub fn is_live(last_seen: DateTime<Utc>, now: DateTime<Utc>, ttl: Option<TimeDelta>) -> bool {
    ttl.is_none_or(|ttl| last_seen + ttl > now)
}

/// The true last sighting of a tracked item, given its context's latest report.
pub fn effective_last_seen(tracking: &Tracking, context_last_report: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match (tracking.present, context_last_report) {
        (true, Some(reported)) => reported.max(tracking.last_seen),
        _ => tracking.last_seen,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tracked<C> {
    pub content: C,
    pub tracking: Tracking,
}

/// What DynamoDB holds for one context.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoredContext {
    pub record: Option<ContextRecord>,
    /// Keyed by image key.
    pub images: HashMap<String, Tracked<ImageContent>>,
    /// Keyed by detail sort key.
    pub details: HashMap<String, Tracked<Detail>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write<C> {
    Put { key: String, content: C, tracking: Tracking },
    Delete { key: String },
}

/// The state the context record takes once the plan is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextState {
    pub last_report_at: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    pub namespace: Option<NamespaceMeta>,
    pub source: ReportSource,
    pub expires_at: Option<i64>,
    /// Details per kind and present images (`i`).
    pub detail_counts: DetailCounts,
    pub content_hash: String,
    /// When the first present item needs refreshing; `None` when nothing is present.
    pub refresh_due_at: Option<i64>,
    /// The latest complete report was probably truncated by its agent.
    pub probably_truncated: bool,
}

impl ContextState {
    /// The state a record holds; none for a record of the old layout (no `context_pk`) or
    /// missing a field, which every plan rewrites.
    pub fn of_record(record: &ContextRecord) -> Option<Self> {
        record.context_pk.as_ref()?;
        Some(Self {
            last_report_at: record.last_report_at?,
            first_seen: record.first_seen?,
            namespace: record.namespace.clone(),
            source: record.source?,
            expires_at: record.expires_at,
            detail_counts: record.detail_counts.clone()?,
            content_hash: record.content_hash.clone()?,
            refresh_due_at: record.refresh_due_at,
            probably_truncated: record.probably_truncated,
        })
    }

    /// Whether `stored` needs no write to become this state: every field equal, expiry by
    /// whether there is one (each report moves its time). The one comparison both plans make.
    pub fn matches(&self, stored: &ContextState) -> bool {
        self.last_report_at == stored.last_report_at
            && self.first_seen == stored.first_seen
            && self.namespace == stored.namespace
            && self.source == stored.source
            && self.expires_at.is_some() == stored.expires_at.is_some()
            && self.detail_counts == stored.detail_counts
            && self.content_hash == stored.content_hash
            && self.refresh_due_at == stored.refresh_due_at
            && self.probably_truncated == stored.probably_truncated
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ChangeCounts {
    pub added: u32,
    pub removed: u32,
    pub unchanged: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContextPlan {
    pub image_writes: Vec<Write<ImageContent>>,
    pub detail_writes: Vec<Write<Detail>>,
    /// `None` when the context record is already up to date.
    pub context_write: Option<ContextState>,
    pub images: ChangeCounts,
}

impl ContextPlan {
    pub fn item_write_count(&self) -> usize {
        self.image_writes.len() + self.detail_writes.len()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The report is older than the one already stored for this context.
    Stale {
        last_report_at: DateTime<Utc>,
    },
    /// The collector reported the context recently; another source's report is not stored.
    Superseded {
        last_report_at: DateTime<Utc>,
    },
    Apply(ContextPlan),
}

struct Timing {
    report_time: DateTime<Utc>,
    source: ReportSource,
    /// Items whose refresh falls due before this are refreshed now.
    refresh_horizon: DateTime<Utc>,
    /// The live context's previous report: the last sighting of items that just left.
    previous_report: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    retention: Retention,
}

impl Timing {
    fn present_tracking(&self, first_seen: DateTime<Utc>) -> Tracking {
        Tracking {
            first_seen,
            last_seen: self.report_time,
            present: true,
            updated_at: self.now,
            // Refreshes are lazy (at most two intervals apart), so the physical TTL carries that slack.
            expires_at: self.retention.ttl.map(|ttl| (self.report_time + ttl + REFRESH_INTERVAL * 2).timestamp()),
        }
    }

    fn departed_tracking(&self, stored: &Tracking) -> Tracking {
        // A task event's STOPPED is seen as it happens; a complete report's departures were last
        // seen by the report before it.
        let last_seen = if self.source == ReportSource::EcsEvents {
            self.report_time
        } else {
            self.previous_report.unwrap_or(stored.last_seen).max(stored.last_seen)
        };
        Tracking {
            first_seen: stored.first_seen,
            last_seen,
            present: false,
            updated_at: self.now,
            expires_at: self.retention.ttl.map(|ttl| (last_seen + ttl).timestamp()),
        }
    }

    fn is_live(&self, tracking: &Tracking) -> bool {
        is_live(effective_last_seen(tracking, self.previous_report), self.now, self.retention.ttl)
    }
}

/// What `diff` decided for one kind of item.
struct Diff<C> {
    writes: Vec<Write<C>>,
    counts: ChangeCounts,
    /// When the first item present afterwards needs refreshing.
    next_refresh: Option<DateTime<Utc>>,
    /// Items a task event changed after the report was read, left as the event stored them:
    /// what is stored then differs from the report's content.
    newer_than_report: bool,
}

/// The writes that make the stored items match `desired`.
fn diff<C: Clone + PartialEq>(
    mut stored: HashMap<String, Tracked<C>>,
    desired: BTreeMap<String, C>,
    timing: &Timing,
) -> Diff<C> {
    let mut newer_than_report = false;
    let mut writes = Vec::new();
    let mut counts = ChangeCounts::default();
    let mut next_refresh: Option<DateTime<Utc>> = None;
    for (key, content) in desired {
        let wait = refresh_after(&key);
        let stored_item = stored.remove(&key).filter(|item| timing.is_live(&item.tracking));
        // A task event departed it after this report was read: the report is out of date for it.
        if stored_item
            .as_ref()
            .is_some_and(|item| !item.tracking.present && item.tracking.last_seen > timing.report_time)
        {
            newer_than_report = true;
            continue;
        }
        let last_seen = match stored_item {
            None => {
                counts.added += 1;
                let tracking = timing.present_tracking(timing.report_time);
                writes.push(Write::Put { key, content, tracking });
                timing.report_time
            }
            Some(item) => {
                let previous = &item.tracking;
                let refresh_due = timing.refresh_horizon - previous.last_seen >= wait
                    || previous.expires_at.is_some() != timing.retention.ttl.is_some();
                if previous.present {
                    counts.unchanged += 1;
                } else {
                    counts.added += 1;
                }
                if !previous.present || item.content != content || refresh_due {
                    let tracking = timing.present_tracking(previous.first_seen);
                    writes.push(Write::Put { key, content, tracking });
                    timing.report_time
                } else {
                    previous.last_seen
                }
            }
        };
        let due = last_seen + wait;
        next_refresh = Some(next_refresh.map_or(due, |next| next.min(due)));
    }
    // Sorted so plans are deterministic.
    let mut departed: Vec<_> = stored.into_iter().collect();
    departed.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, item) in departed {
        let live = timing.is_live(&item.tracking);
        // A task event added it after this report was read: the report could not have seen it.
        if live && item.tracking.present && item.tracking.last_seen > timing.report_time {
            counts.unchanged += 1;
            newer_than_report = true;
            continue;
        }
        if live && item.tracking.present {
            counts.removed += 1;
        }
        if live && timing.retention.overwrite {
            writes.push(Write::Delete { key });
        } else if live && item.tracking.present {
            let tracking = timing.departed_tracking(&item.tracking);
            writes.push(Write::Put { key, content: item.content, tracking });
        } else if item.tracking.expires_at.is_some() != timing.retention.ttl.is_some() {
            // `InventoryTtlDays` was switched to or from 0 (forever): an item already gone
            // takes the new expiry from its last sighting, so it neither outlives the new
            // retention nor expires under "forever".
            let ttl = timing.retention.ttl;
            let expires_at = ttl.map(|ttl| (item.tracking.last_seen + ttl).timestamp());
            let tracking = Tracking { expires_at, updated_at: timing.now, ..item.tracking };
            writes.push(Write::Put { key, content: item.content, tracking });
        }
    }
    Diff { writes, counts, next_refresh, newer_than_report }
}

/// The report a plan is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportMeta {
    pub time: DateTime<Utc>,
    pub source: ReportSource,
    /// `ParsedReport::probably_truncated`.
    pub probably_truncated: bool,
}

/// A report older than the stored one, or from an agent for a context the collector reports,
/// changes nothing; the context record alone decides that.
fn refused(record: Option<&ContextRecord>, report: ReportMeta) -> Option<Plan> {
    let last_report = record.and_then(|record| record.last_report_at);
    if let Some(last_report_at) = last_report.filter(|stored| *stored > report.time) {
        return Some(Plan::Stale { last_report_at });
    }
    let collector_report = record.filter(|record| record.source == Some(ReportSource::Collector));
    let collector_recent =
        collector_report.and_then(|record| record.last_report_at).filter(|at| report.time - *at < COLLECTOR_PRECEDENCE);
    collector_recent
        .filter(|_| report.source != ReportSource::Collector)
        .map(|last_report_at| Plan::Superseded { last_report_at })
}

/// The plan of a report decided from the context record alone, without reading any item: a
/// refused report, or one whose content is what the record says is stored, before any item
/// falls due for a refresh. `None`: the items must be read (`plan_context`).
pub fn plan_from_record(
    record: Option<&ContextRecord>,
    namespace: Option<&NamespaceMeta>,
    content_hash: &str,
    report: ReportMeta,
    now: DateTime<Utc>,
    retention: Retention,
) -> Option<Plan> {
    if let Some(plan) = refused(record, report) {
        return Some(plan);
    }
    let stored =
        ContextState::of_record(record?).filter(|stored| is_live(stored.last_report_at, now, retention.ttl))?;
    if stored.refresh_due_at.is_some_and(|due| report.time.timestamp() >= due) {
        return None;
    }
    // The report says what is stored: only its time moves.
    let state = ContextState {
        last_report_at: report.time,
        namespace: namespace.cloned(),
        source: report.source,
        expires_at: retention.ttl.map(|ttl| (report.time + ttl).timestamp()),
        content_hash: content_hash.to_owned(),
        probably_truncated: report.probably_truncated,
        ..stored.clone()
    };
    if !state.matches(&ContextState { last_report_at: report.time, ..stored.clone() }) {
        return None;
    }
    let present_images = state.detail_counts.get(IMAGE_COUNT_KEY).copied().unwrap_or(0);
    let images = ChangeCounts { unchanged: present_images, ..Default::default() };
    let context_write = (stored.last_report_at != report.time).then_some(state);
    Some(Plan::Apply(ContextPlan { image_writes: Vec::new(), detail_writes: Vec::new(), context_write, images }))
}

/// Decides what a report changes for one context, given everything stored for it and the
/// snapshot's `content_hash`. The snapshot is taken whole: its details move into the writes.
pub fn plan_context(
    mut stored: StoredContext,
    snapshot: ContextSnapshot,
    content_hash: &str,
    report: ReportMeta,
    now: DateTime<Utc>,
    retention: Retention,
) -> Plan {
    // A task event is ordered by its task's version (`ecs_events`), not by report times.
    if let Some(plan) = refused(stored.record.as_ref(), report).filter(|_| report.source != ReportSource::EcsEvents) {
        return plan;
    }
    let timing = Timing::of(stored.record.as_ref(), report, now, retention);
    let superseded = take_superseded(&mut stored.images, &snapshot);
    let nothing_reported = snapshot.images.is_empty() && snapshot.details.is_empty();
    let mut images = diff(stored.images, desired_images(&snapshot), &timing);
    images.writes.extend(superseded.into_iter().map(|key| Write::Delete { key }));
    let mut detail_keys = kept_detail_keys(&stored.details, &snapshot, &timing);
    let details = diff(stored.details, snapshot.details, &timing);
    for write in &details.writes {
        if let Write::Delete { key } = write {
            detail_keys.remove(key.as_str());
        }
    }
    let mut detail_counts = count_details(&detail_keys);
    detail_counts.insert(IMAGE_COUNT_KEY.to_owned(), images.counts.added + images.counts.unchanged);
    let record = stored.record.as_ref();
    let mut state = next_state(record, snapshot.namespace, report, &timing, detail_counts);
    state.refresh_due_at = images.next_refresh.into_iter().chain(details.next_refresh).min().map(|due| due.timestamp());
    // What is stored is not the report's content when events overtook it: no hash, so the next
    // report reads the items.
    if !(images.newer_than_report || details.newer_than_report) {
        state.content_hash = content_hash.to_owned();
    }
    let nothing_to_track = record.is_none() && nothing_reported;
    let record_current = record.and_then(ContextState::of_record).is_some_and(|stored| state.matches(&stored));
    let up_to_date = record_current && images.writes.is_empty() && details.writes.is_empty();
    let context_write = (!nothing_to_track && !up_to_date).then_some(state);
    Plan::Apply(ContextPlan {
        image_writes: images.writes,
        detail_writes: details.writes,
        context_write,
        images: images.counts,
    })
}

impl Timing {
    fn of(record: Option<&ContextRecord>, report: ReportMeta, now: DateTime<Utc>, retention: Retention) -> Self {
        let previous_report =
            record.and_then(|record| record.last_report_at).filter(|at| is_live(*at, now, retention.ttl));
        // The record's first item has fallen due: refresh every item due within the next interval.
        let bulk_refresh =
            record.and_then(|record| record.refresh_due_at).is_some_and(|due| report.time.timestamp() >= due);
        let refresh_horizon = if bulk_refresh { report.time + REFRESH_INTERVAL } else { report.time };
        Self { report_time: report.time, source: report.source, refresh_horizon, previous_report, now, retention }
    }
}

/// The image records the snapshot asks for, by image key.
fn desired_images(snapshot: &ContextSnapshot) -> BTreeMap<String, ImageContent> {
    let content = |image: &crate::report::ImageState| {
        let workloads = image.workloads.iter().take(MAX_WORKLOADS_PER_IMAGE);
        let workloads = workloads.map(|(workload, containers)| WorkloadContainers {
            kind: workload.kind,
            name: workload.name.clone(),
            containers: *containers,
        });
        ImageContent {
            image_digest: image.digest.as_ref().map(ToString::to_string).unwrap_or_default(),
            image_tag: image.tag.clone(),
            container_count: image.container_count,
            workloads: workloads.collect(),
            workload_count: (image.workloads.len() > MAX_WORKLOADS_PER_IMAGE).then_some(image.workloads.len() as u32),
        }
    };
    snapshot.images.iter().map(|(key, image)| (key.clone(), content(image))).collect()
}

/// A container reported by tag while its digest was unknown (pending) now has one: the tag-only
/// record was the same image and is replaced, not kept as departed. Takes those records out of
/// `stored` and answers their keys.
fn take_superseded(stored: &mut HashMap<String, Tracked<ImageContent>>, snapshot: &ContextSnapshot) -> Vec<String> {
    let superseded: Vec<String> = stored
        .keys()
        .filter(|key| {
            key.strip_prefix(TAG_KEY_PREFIX).is_some_and(|tag| snapshot.digest_tags.contains(tag))
                && !snapshot.images.contains_key(*key)
        })
        .cloned()
        .collect();
    for key in &superseded {
        stored.remove(key);
    }
    superseded
}

/// The details the context holds once the plan is applied, before its deletes: the live
/// stored ones and the report's.
fn kept_detail_keys(
    stored: &HashMap<String, Tracked<Detail>>,
    snapshot: &ContextSnapshot,
    timing: &Timing,
) -> std::collections::BTreeSet<String> {
    let live = stored.iter().filter(|(_, item)| timing.is_live(&item.tracking)).map(|(key, _)| key);
    live.chain(snapshot.details.keys()).cloned().collect()
}

/// The context's state after the report, its content hash and refresh time left for the caller.
/// A task event keeps what the last complete report said of the context.
fn next_state(
    record: Option<&ContextRecord>,
    namespace: Option<NamespaceMeta>,
    report: ReportMeta,
    timing: &Timing,
    detail_counts: DetailCounts,
) -> ContextState {
    let first_seen = match (timing.previous_report, record.and_then(|r| r.first_seen)) {
        (Some(_), Some(first_seen)) => first_seen,
        _ => report.time,
    };
    let (last_report_at, source, probably_truncated) =
        match (report.source, timing.previous_report, record.and_then(|r| r.source)) {
            (ReportSource::EcsEvents, Some(last_report_at), Some(source)) => {
                (last_report_at, source, record.is_some_and(|r| r.probably_truncated))
            }
            _ => (report.time, report.source, report.probably_truncated),
        };
    ContextState {
        last_report_at,
        first_seen,
        namespace,
        source,
        expires_at: timing.retention.ttl.map(|ttl| (last_report_at + ttl).timestamp()),
        detail_counts,
        content_hash: String::new(),
        refresh_due_at: None,
        probably_truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Digest;
    use crate::keys::ItemKind;
    use crate::model::InventoryType;
    use crate::report::ImageState;
    use chrono::TimeZone;
    use std::collections::BTreeSet;

    const DIGEST: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";

    fn at(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + TimeDelta::days(day)
    }

    const KEEP: Retention = Retention { ttl: Some(TimeDelta::days(120)), overwrite: false };

    fn snapshot(images: &[&str]) -> ContextSnapshot {
        ContextSnapshot {
            context: "c/ns".into(),
            namespace: None,
            images: images
                .iter()
                .map(|key| {
                    let digest = Digest::parse(key).ok();
                    (
                        key.to_string(),
                        ImageState { digest, tag: "t".into(), container_count: 1, workloads: Default::default() },
                    )
                })
                .collect(),
            details: BTreeMap::new(),
            digest_tags: BTreeSet::new(),
        }
    }

    /// Stored state as if `plan` had been applied.
    fn apply(stored: &mut StoredContext, plan: &ContextPlan) {
        for write in &plan.image_writes {
            match write {
                Write::Put { key, content, tracking } => {
                    stored.images.insert(key.clone(), Tracked { content: content.clone(), tracking: tracking.clone() });
                }
                Write::Delete { key } => {
                    stored.images.remove(key);
                }
            }
        }
        if let Some(state) = &plan.context_write {
            stored.record = Some(ContextRecord {
                pk: "pk".into(),
                sk: "c/ns".into(),
                kind: ItemKind::Context.as_str().into(),
                inventory_type: InventoryType::Kubernetes,
                context: "c/ns".into(),
                version: stored.record.as_ref().map_or(0, |record| record.version) + 1,
                last_report_at: Some(state.last_report_at),
                first_seen: Some(state.first_seen),
                updated_at: None,
                namespace: state.namespace.clone(),
                source: Some(state.source),
                expires_at: state.expires_at,
                context_pk: Some("admin#kubernetes".into()),
                detail_counts: Some(state.detail_counts.clone()),
                content_hash: Some(state.content_hash.clone()),
                refresh_due_at: state.refresh_due_at,
                report_interval_seconds: None,
                lock_owner: None,
                lock_until: None,
                probably_truncated: state.probably_truncated,
            });
        }
    }

    fn plan_of(
        stored: StoredContext,
        snapshot: &ContextSnapshot,
        report: ReportMeta,
        now: DateTime<Utc>,
        retention: Retention,
    ) -> Plan {
        plan_context(stored, snapshot.clone(), &snapshot.content_hash(), report, now, retention)
    }

    fn agent(time: DateTime<Utc>) -> ReportMeta {
        ReportMeta { time, source: ReportSource::K8sInventory, probably_truncated: false }
    }

    fn run(stored: &mut StoredContext, images: &[&str], day: i64, retention: Retention) -> Plan {
        run_from(stored, images, agent(at(day)), retention)
    }

    fn run_from(stored: &mut StoredContext, images: &[&str], report: ReportMeta, retention: Retention) -> Plan {
        let plan = plan_of(stored.clone(), &snapshot(images), report, report.time, retention);
        if let Plan::Apply(plan) = &plan {
            apply(stored, plan);
        }
        plan
    }

    fn applied(plan: Plan) -> ContextPlan {
        match plan {
            Plan::Apply(plan) => plan,
            other => panic!("unexpected plan {other:?}"),
        }
    }

    #[test]
    fn unchanged_repost_writes_only_the_context_heartbeat() {
        let mut stored = StoredContext::default();
        let first = applied(run(&mut stored, &[DIGEST], 0, KEEP));
        assert_eq!(first.image_writes.len(), 1);
        assert_eq!(first.images.added, 1);

        let same_report = applied(run(&mut stored, &[DIGEST], 0, KEEP));
        assert_eq!((same_report.item_write_count(), same_report.context_write.is_none()), (0, true));

        let later = plan_of(stored.clone(), &snapshot(&[DIGEST]), agent(at(0) + TimeDelta::minutes(5)), at(0), KEEP);
        let later = applied(later);
        assert_eq!(later.item_write_count(), 0);
        assert!(later.context_write.is_some());
        assert_eq!(later.images, ChangeCounts { added: 0, removed: 0, unchanged: 1 });
    }

    #[test]
    fn present_items_are_refreshed_once_per_one_to_two_intervals() {
        let mut stored = StoredContext::default();
        run(&mut stored, &[DIGEST], 0, KEEP);
        let within_a_day =
            plan_of(stored.clone(), &snapshot(&[DIGEST]), agent(at(1) - TimeDelta::seconds(1)), at(1), KEEP);
        assert_eq!(applied(within_a_day).item_write_count(), 0);
        let two_days_later = applied(run(&mut stored, &[DIGEST], 2, KEEP));
        assert_eq!(two_days_later.image_writes.len(), 1, "by two days the TTL is pushed forward");
        let Write::Put { tracking, .. } = &two_days_later.image_writes[0] else { panic!() };
        assert_eq!(tracking.first_seen, at(0));
        assert_eq!(tracking.expires_at, Some((at(2) + TimeDelta::days(122)).timestamp()));
    }

    #[test]
    fn switching_the_retention_to_or_from_forever_reaches_departed_items_on_the_next_report() {
        const OLD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        const FOREVER: Retention = Retention { ttl: None, overwrite: false };
        let expiry = |stored: &StoredContext, key: &str| stored.images[key].tracking.expires_at;
        let mut stored = StoredContext::default();
        run(&mut stored, &[DIGEST, OLD], 0, FOREVER);
        run(&mut stored, &[DIGEST], 1, FOREVER);
        run(&mut stored, &[DIGEST], 200, FOREVER);
        assert_eq!(expiry(&stored, OLD), None, "kept forever");
        // Set to 120 days: the image last seen by the day-0 report gets the expiry it would have had.
        let switched = applied(run(&mut stored, &[DIGEST], 201, KEEP));
        assert_eq!(switched.images.removed, 0, "no image leaves because of it");
        assert_eq!(expiry(&stored, OLD), Some((at(0) + TimeDelta::days(120)).timestamp()));
        assert!(expiry(&stored, DIGEST).is_some());
        assert_eq!(applied(run(&mut stored, &[DIGEST], 202, KEEP)).item_write_count(), 0, "applied once");
        // And back to forever: nothing stored keeps an expiry.
        run(&mut stored, &[DIGEST], 203, FOREVER);
        assert_eq!((expiry(&stored, OLD), expiry(&stored, DIGEST)), (None, None));
    }

    fn from_record(stored: &StoredContext, images: &[&str], time: DateTime<Utc>) -> Option<Plan> {
        let snapshot = snapshot(images);
        plan_from_record(
            stored.record.as_ref(),
            snapshot.namespace.as_ref(),
            &snapshot.content_hash(),
            agent(time),
            time,
            KEEP,
        )
    }

    #[test]
    fn the_record_alone_decides_an_unchanged_report_until_a_refresh_is_due() {
        let mut stored = StoredContext::default();
        assert_eq!(from_record(&stored, &[DIGEST], at(0)), None, "a new context needs its items written");
        run(&mut stored, &[DIGEST, "tag:docker.io/library/redis:7"], 0, KEEP);
        let record = stored.record.clone().unwrap();
        let due = record.refresh_due_at.expect("present items fall due");
        assert!((at(1).timestamp()..at(2).timestamp()).contains(&due), "one to two intervals after the report");

        let later = at(0) + TimeDelta::minutes(5);
        let plan = applied(from_record(&stored, &[DIGEST, "tag:docker.io/library/redis:7"], later).unwrap());
        assert_eq!((plan.item_write_count(), plan.images.unchanged), (0, 2));
        let state = plan.context_write.expect("the report time moves");
        assert_eq!(
            (state.last_report_at, state.content_hash.as_str()),
            (later, record.content_hash.as_deref().unwrap())
        );
        let same_time = applied(from_record(&stored, &[DIGEST, "tag:docker.io/library/redis:7"], at(0)).unwrap());
        assert!(same_time.context_write.is_none(), "an identical re-post writes nothing");

        assert_eq!(from_record(&stored, &[DIGEST], later), None, "changed content reads the items");
        let at_due = DateTime::from_timestamp(due, 0).unwrap();
        assert_eq!(from_record(&stored, &[DIGEST, "tag:docker.io/library/redis:7"], at_due), None, "a refresh is due");
        assert!(matches!(from_record(&stored, &[], at(0) - TimeDelta::minutes(1)), Some(Plan::Stale { .. })));
        let unhashed = StoredContext {
            record: Some(ContextRecord { content_hash: None, ..record.clone() }),
            ..StoredContext::default()
        };
        assert_eq!(from_record(&unhashed, &[DIGEST, "tag:docker.io/library/redis:7"], later), None, "a lease held it");
    }

    #[test]
    fn a_due_refresh_rewrites_every_item_due_within_the_next_interval() {
        let mut stored = StoredContext::default();
        let keys: Vec<String> = (0..200).map(|n| format!("sha256:{n:064x}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        run(&mut stored, &keys, 0, KEEP);
        let due = DateTime::from_timestamp(stored.record.as_ref().unwrap().refresh_due_at.unwrap(), 0).unwrap();
        let refresh = applied(plan_of(stored.clone(), &snapshot(&keys), agent(due), due, KEEP));
        assert_eq!(refresh.image_writes.len(), 200, "every item falls due within a day of the first");
        apply(&mut stored, &refresh);
        let next = stored.record.as_ref().unwrap().refresh_due_at.unwrap();
        assert!(next >= (due + REFRESH_INTERVAL).timestamp(), "the next refresh is a day or more away");
    }

    #[test]
    fn refresh_times_spread_over_an_interval() {
        let delays: std::collections::HashSet<i64> =
            (0..100).map(|n| refresh_after(&format!("c#container-{n}")).num_hours()).collect();
        assert!(delays.iter().all(|hours| (24..48).contains(hours)));
        assert!(delays.len() > 10, "{delays:?}");
    }

    #[test]
    fn departed_images_keep_their_last_sighting_until_ttl() {
        let mut stored = StoredContext::default();
        run(&mut stored, &[DIGEST, "tag:x"], 0, KEEP);
        let plan = applied(run(&mut stored, &["tag:x"], 3, KEEP));
        assert_eq!(plan.images, ChangeCounts { added: 0, removed: 1, unchanged: 1 });
        let gone = &stored.images[DIGEST].tracking;
        assert_eq!((gone.present, gone.last_seen), (false, at(0)));
        assert_eq!(gone.expires_at, Some((at(0) + TimeDelta::days(120)).timestamp()));

        // Back within the TTL: same first_seen.
        let back = applied(run(&mut stored, &[DIGEST, "tag:x"], 10, KEEP));
        assert_eq!(back.images.added, 1);
        assert_eq!(stored.images[DIGEST].tracking.first_seen, at(0));
    }

    #[test]
    fn a_digest_learned_later_replaces_the_tag_only_record() {
        let mut stored = StoredContext::default();
        run(&mut stored, &["tag:docker.io/library/nginx:1.27"], 0, KEEP);
        let mut resolved = snapshot(&[DIGEST]);
        resolved.digest_tags.insert("docker.io/library/nginx:1.27".into());
        let plan = applied(plan_of(stored.clone(), &resolved, agent(at(1)), at(1), KEEP));
        assert!(plan.image_writes.contains(&Write::Delete { key: "tag:docker.io/library/nginx:1.27".into() }));
        assert_eq!(plan.images, ChangeCounts { added: 1, removed: 0, unchanged: 0 });

        // Without the tag among the digest tags the tag-only record just departs.
        let plan = applied(plan_of(stored, &snapshot(&[DIGEST]), agent(at(1)), at(1), KEEP));
        assert!(plan.image_writes.iter().all(|write| matches!(write, Write::Put { .. })));
    }

    #[test]
    fn overwrite_deletes_what_the_report_no_longer_contains() {
        let overwrite = Retention { overwrite: true, ..KEEP };
        let mut stored = StoredContext::default();
        run(&mut stored, &[DIGEST, "tag:x"], 0, overwrite);
        let plan = applied(run(&mut stored, &["tag:x"], 1, overwrite));
        assert!(plan.image_writes.contains(&Write::Delete { key: DIGEST.into() }));
        assert!(!stored.images.contains_key(DIGEST));
    }

    #[test]
    fn older_reports_are_stale() {
        let mut stored = StoredContext::default();
        run(&mut stored, &[DIGEST], 5, KEEP);
        assert_eq!(run(&mut stored, &[], 4, KEEP), Plan::Stale { last_report_at: at(5) });
    }

    #[test]
    fn the_collector_takes_precedence_over_agents_while_it_reports() {
        let collector = |time| ReportMeta { time, source: ReportSource::Collector, probably_truncated: false };
        let ecs_agent = |time| ReportMeta { time, source: ReportSource::EcsInventory, probably_truncated: false };
        let mut stored = StoredContext::default();
        applied(run_from(&mut stored, &[DIGEST, "tag:x"], ecs_agent(at(0)), KEEP));
        let taken_over =
            applied(run_from(&mut stored, &[DIGEST, "tag:x"], collector(at(0) + TimeDelta::minutes(1)), KEEP));
        assert!(taken_over.context_write.is_some(), "the collector's report is stored over the agent's");

        // The agent sees part of the cluster: while the collector reports, that changes nothing.
        let partial = ecs_agent(at(0) + TimeDelta::minutes(2));
        assert_eq!(
            run_from(&mut stored, &["tag:x"], partial, KEEP),
            Plan::Superseded { last_report_at: at(0) + TimeDelta::minutes(1) }
        );
        let next_run =
            applied(run_from(&mut stored, &[DIGEST, "tag:x"], collector(at(0) + TimeDelta::minutes(6)), KEEP));
        assert_eq!(next_run.images, ChangeCounts { added: 0, removed: 0, unchanged: 2 });

        // A collector silent for longer than the precedence window hands the context back.
        let later = ecs_agent(at(0) + TimeDelta::minutes(6) + COLLECTOR_PRECEDENCE);
        assert!(matches!(run_from(&mut stored, &["tag:x"], later, KEEP), Plan::Apply(_)));
    }

    #[test]
    fn expired_items_count_as_new() {
        let mut stored = StoredContext::default();
        run(&mut stored, &[DIGEST], 0, KEEP);
        let plan = applied(run(&mut stored, &[DIGEST], 121, KEEP));
        assert_eq!(plan.images.added, 1);
        assert_eq!(stored.images[DIGEST].tracking.first_seen, at(121));
    }

    #[test]
    fn zero_ttl_writes_no_expiry() {
        let forever = Retention { ttl: None, overwrite: false };
        let mut stored = StoredContext::default();
        let plan = applied(run(&mut stored, &[DIGEST], 0, forever));
        let Write::Put { tracking, .. } = &plan.image_writes[0] else { panic!() };
        assert_eq!(tracking.expires_at, None);
        assert_eq!(plan.context_write.unwrap().expires_at, None);
        assert!(is_live(at(0), at(10_000), None));
    }

    #[test]
    fn empty_report_for_an_unknown_context_writes_nothing() {
        let plan = applied(run(&mut StoredContext::default(), &[], 0, KEEP));
        assert_eq!((plan.item_write_count(), plan.context_write), (0, None));
    }
}

//! The scheduled coverage check: a cluster that stops reporting for `STALE_AFTER_MINUTES` puts
//! one `Runtime Inventory Cluster Stale` event, and one `Runtime Inventory Cluster Recovered`
//! when it reports again, long before the TTL deletes its inventory.
//!
//! Each stale cluster has a marker in one partition (`keys::STALE_MARKERS_PK`: written only when a
//! cluster turns stale or recovers). The marker is moved to its next state before the event is
//! put and settled after, so a run that fails in between leaves a state the next run finishes;
//! a put whose confirmation was lost can be sent twice, never not at all.

use chrono::{DateTime, Utc};
use inventory_store::clock::format_time;
use inventory_store::coverage::{summarize, ClusterCoverage};
use inventory_store::keys::{stale_marker_sk, STALE_MARKERS_PK};
use inventory_store::model::{ContextRecord, InventoryType, ReportSource};
use inventory_store::settings::Settings;
use inventory_store::store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const STALE_CLUSTERS_METRIC: &str = "StaleClusters";
pub const CLUSTERS_METRIC: &str = "Clusters";

/// Where a stale cluster's announcements stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerState {
    /// Turned stale; the stale event is not confirmed sent.
    Announcing,
    /// The stale event was sent.
    Stale,
    /// Reported again; the recovered event is not confirmed sent.
    Recovering,
}

impl MarkerState {
    /// As stored (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Announcing => "announcing",
            Self::Stale => "stale",
            Self::Recovering => "recovering",
        }
    }
}

/// What a run does for one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    AnnounceStale,
    AnnounceRecovered,
    /// The cluster's inventory is gone (expired or deleted): its marker goes without an event.
    Forget,
}

/// The step for a cluster that is stale (`Some(true)`), reporting (`Some(false)`) or has no live
/// context (`None`), given its marker.
pub fn step(stale: Option<bool>, marker: Option<MarkerState>) -> Option<Step> {
    use MarkerState::*;
    match (stale, marker) {
        (Some(true), None | Some(Announcing)) => Some(Step::AnnounceStale),
        (Some(true), Some(Stale)) => None,
        // The recovered event may not have gone out; saying "stale" again beats an alert never sent.
        (Some(true), Some(Recovering)) => Some(Step::AnnounceStale),
        (Some(false), None) => None,
        // A stale event that may have been sent is answered by a recovered one.
        (Some(false), Some(_)) => Some(Step::AnnounceRecovered),
        (None, Some(_)) => Some(Step::Forget),
        (None, None) => None,
    }
}

/// A cluster, as markers and events name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterKey {
    pub account: String,
    pub inventory_type: InventoryType,
    pub cluster: String,
}

impl ClusterKey {
    /// The marker's sort key. Accounts never contain `#`; cluster names may follow it.
    pub fn sort_key(&self) -> String {
        stale_marker_sk(&self.account, self.inventory_type, &self.cluster)
    }
}

/// A stale cluster's marker, as stored in `STALE_MARKERS_PK`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleMarker {
    pub pk: String,
    pub sk: String,
    pub account: String,
    pub inventory_type: InventoryType,
    pub cluster: String,
    pub state: MarkerState,
}

impl StaleMarker {
    pub fn new(key: &ClusterKey, state: MarkerState) -> Self {
        Self {
            pk: STALE_MARKERS_PK.to_owned(),
            sk: key.sort_key(),
            account: key.account.clone(),
            inventory_type: key.inventory_type,
            cluster: key.cluster.clone(),
            state,
        }
    }

    pub fn key(&self) -> ClusterKey {
        ClusterKey { account: self.account.clone(), inventory_type: self.inventory_type, cluster: self.cluster.clone() }
    }
}

/// The `detail` of a stale or recovered event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterEvent {
    pub account: String,
    pub inventory_type: InventoryType,
    pub cluster: String,
    pub contexts: Vec<String>,
    pub sources: BTreeSet<ReportSource>,
    pub last_report_at: String,
    pub minutes_since_last_report: i64,
    pub stale_after_minutes: u32,
    /// When the check saw it.
    pub checked_at: String,
}

impl ClusterEvent {
    pub fn new(account: &str, coverage: &ClusterCoverage, stale_after_minutes: u32, now: DateTime<Utc>) -> Self {
        Self {
            account: account.to_owned(),
            inventory_type: coverage.inventory_type,
            cluster: coverage.cluster.clone(),
            contexts: coverage.contexts.clone(),
            sources: coverage.sources.clone(),
            last_report_at: coverage.last_report_at.clone(),
            minutes_since_last_report: coverage.minutes_since_last_report,
            stale_after_minutes,
            checked_at: format_time(now),
        }
    }
}

/// Every account's clusters, from all context records.
pub fn fleet_coverage(
    records: Vec<ContextRecord>,
    now: DateTime<Utc>,
    settings: &Settings,
) -> BTreeMap<ClusterKey, ClusterCoverage> {
    let mut by_account: BTreeMap<String, Vec<ContextRecord>> = BTreeMap::new();
    for record in records {
        if let Some(account) = record.account().map(str::to_owned) {
            by_account.entry(account).or_default().push(record);
        }
    }
    let mut fleet = BTreeMap::new();
    for (account, records) in by_account {
        for coverage in summarize(&records, now, settings.ttl_delta(), settings.stale_after()) {
            let key = ClusterKey {
                account: account.clone(),
                inventory_type: coverage.inventory_type,
                cluster: coverage.cluster.clone(),
            };
            fleet.insert(key, coverage);
        }
    }
    fleet
}

/// The step of every cluster that has one, in key order.
pub fn plan(
    fleet: &BTreeMap<ClusterKey, ClusterCoverage>,
    markers: &[StaleMarker],
) -> Vec<(ClusterKey, Option<MarkerState>, Step)> {
    let marked: BTreeMap<ClusterKey, MarkerState> = markers.iter().map(|m| (m.key(), m.state)).collect();
    let keys: BTreeSet<&ClusterKey> = fleet.keys().chain(marked.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let marker = marked.get(key).copied();
            let stale = fleet.get(key).map(|coverage| coverage.stale);
            step(stale, marker).map(|step| (key.clone(), marker, step))
        })
        .collect()
}

/// One line of CloudWatch Embedded Metric Format: the stale and total cluster counts.
pub fn metric_line(table: &str, now: DateTime<Utc>, clusters: usize, stale: usize) -> String {
    inventory_store::metrics::emf_line(table, now, &[], &[(STALE_CLUSTERS_METRIC, stale), (CLUSTERS_METRIC, clusters)])
}

/// What one run saw and did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CheckSummary {
    pub checked_at: DateTime<Utc>,
    pub clusters: usize,
    pub stale: usize,
    pub stale_events: usize,
    pub recovered_events: usize,
    pub forgotten: usize,
    /// Clusters whose step failed; the next run takes them up again.
    pub errors: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StalenessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another run moved the marker of {0} first")]
    MarkerMoved(String),
    #[error(transparent)]
    Bus(#[from] inventory_store::bus::Failure),
}

mod run;
pub use run::StalenessCheck;

#[cfg(test)]
mod tests;

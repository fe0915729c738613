//! One collector run: list clusters in every target, read each cluster and store it through
//! the ingest library, a bounded number of clusters at a time, until the deadline is near.

use crate::config::Target;
use crate::gather::{gather_cluster, list_clusters, ApiCallCounts, ApiCalls, ClusterInventory, GatherError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use inventory_store::clock::format_time;
use inventory_store::clock::Deadline;
use inventory_store::ingest::ContextStatus;
use inventory_store::report::validate_ecs;
use inventory_store::{Clock, Ingestor};
use serde::Serialize;
use std::sync::Arc;

/// Where something went wrong or was skipped. `cluster` is absent when a whole target is meant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Scope {
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunError {
    #[serde(flatten)]
    pub scope: Scope,
    pub message: String,
}

/// A target or cluster not collected this run, and why; what was stored before stays.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Skipped {
    #[serde(flatten)]
    pub scope: Scope,
    pub reason: String,
}

/// Why a cluster was left as stored because the run came near its deadline.
pub const DEADLINE_REASON: &str = "the Lambda deadline was near";

/// What one run did; logged once and returned as the function result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub started_at: String,
    pub duration_ms: i64,
    pub targets: usize,
    /// Clusters listed in all targets.
    pub clusters: usize,
    pub clusters_stored: usize,
    /// Clusters whose report was older than one already stored.
    pub clusters_stale: usize,
    pub tasks: usize,
    pub services: usize,
    pub containers: usize,
    pub containers_without_digest: usize,
    /// Containers whose image could not be stored; their cluster is not stored this run.
    pub containers_skipped: usize,
    pub images_added: u32,
    pub images_removed: u32,
    /// `failures` entries returned by `DescribeTasks`/`DescribeServices`.
    pub describe_failures: usize,
    pub errors: Vec<RunError>,
    /// Targets or clusters not collected (deadline near, cluster read incompletely); left as stored.
    pub skipped: Vec<Skipped>,
    pub api_calls: ApiCallCounts,
    pub write_requests: u64,
}

pub struct Collector {
    ingestor: Ingestor,
    account: String,
    concurrency: usize,
    clock: Arc<dyn Clock>,
}

enum ClusterOutcome {
    Stored(Box<ClusterCounts>),
    Failed(String),
    /// Not stored this run, with the reason.
    Skipped(String, Box<ClusterCounts>),
}

#[derive(Default)]
struct ClusterCounts {
    stale: bool,
    tasks: usize,
    services: usize,
    containers: usize,
    containers_without_digest: usize,
    containers_skipped: usize,
    describe_failures: usize,
    images_added: u32,
    images_removed: u32,
    write_requests: u64,
}

impl Collector {
    pub fn new(ingestor: Ingestor, account: String, concurrency: usize, clock: Arc<dyn Clock>) -> Self {
        Self { ingestor, account, concurrency: concurrency.max(1), clock }
    }

    /// Collects every target; `deadline` is when the invocation ends (none: no limit).
    pub async fn run(&self, targets: &[Target], deadline: Option<DateTime<Utc>>) -> RunSummary {
        let started = self.clock.now();
        let deadline = Deadline::of_run(Arc::clone(&self.clock), deadline);
        let calls = ApiCalls::default();
        let mut summary = RunSummary { started_at: format_time(started), targets: targets.len(), ..Default::default() };
        let scope = |target: &Target, cluster: Option<&str>| Scope {
            region: target.region.clone(),
            role_arn: target.role_arn.clone(),
            cluster: cluster.map(str::to_owned),
        };

        let (calls_ref, deadline_ref) = (&calls, &deadline);
        // Owned targets keep the futures free of higher-ranked lifetimes, so a run can be spawned.
        let listed: Vec<(Target, Result<Vec<String>, GatherError>)> = futures::stream::iter(targets.to_vec())
            .map(|target| async move {
                let result = list_clusters(&target.client, calls_ref, deadline_ref).await;
                (target, result)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut clusters = Vec::new();
        for (target, result) in listed {
            match result {
                Ok(arns) => clusters.extend(arns.into_iter().map(|arn| (target.clone(), arn))),
                Err(GatherError::Deadline) => {
                    summary.skipped.push(Skipped { scope: scope(&target, None), reason: DEADLINE_REASON.into() })
                }
                Err(error) => {
                    tracing::error!(region = %target.region, role_arn = ?target.role_arn, %error, "listing clusters failed");
                    summary.errors.push(RunError { scope: scope(&target, None), message: error.to_string() });
                }
            }
        }
        summary.clusters = clusters.len();

        let outcomes: Vec<_> = futures::stream::iter(clusters)
            .map(|(target, arn)| async move {
                let outcome = self.collect_cluster(&target, &arn, calls_ref, deadline_ref).await;
                (target, arn, outcome)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for (target, arn, outcome) in outcomes {
            let counts = match outcome {
                ClusterOutcome::Stored(counts) => {
                    summary.clusters_stored += usize::from(!counts.stale);
                    summary.clusters_stale += usize::from(counts.stale);
                    counts
                }
                ClusterOutcome::Failed(message) => {
                    summary.errors.push(RunError { scope: scope(&target, Some(&arn)), message });
                    continue;
                }
                ClusterOutcome::Skipped(reason, counts) => {
                    summary.skipped.push(Skipped { scope: scope(&target, Some(&arn)), reason });
                    counts
                }
            };
            summary.tasks += counts.tasks;
            summary.services += counts.services;
            summary.containers += counts.containers;
            summary.containers_without_digest += counts.containers_without_digest;
            summary.containers_skipped += counts.containers_skipped;
            summary.describe_failures += counts.describe_failures;
            summary.images_added += counts.images_added;
            summary.images_removed += counts.images_removed;
            summary.write_requests += counts.write_requests;
        }
        // Clusters finish in any order; sorted, summaries of the same outcome compare equal.
        summary.errors.sort_by(|a, b| a.scope.cmp(&b.scope));
        summary.skipped.sort();
        summary.api_calls = calls.counts();
        summary.duration_ms = (self.clock.now() - started).num_milliseconds();
        summary
    }

    async fn collect_cluster(
        &self,
        target: &Target,
        cluster_arn: &str,
        calls: &ApiCalls,
        deadline: &Deadline,
    ) -> ClusterOutcome {
        // A partly read cluster is never stored: in overwrite mode it would delete the rest.
        let inventory = match gather_cluster(&target.client, cluster_arn, calls, deadline).await {
            Ok(inventory) => inventory,
            Err(GatherError::Deadline) => {
                return ClusterOutcome::Skipped(DEADLINE_REASON.into(), Box::new(ClusterCounts::default()))
            }
            Err(error) => {
                tracing::error!(cluster = cluster_arn, %error, "reading cluster failed");
                return ClusterOutcome::Failed(error.to_string());
            }
        };
        let mut counts = ClusterCounts::of(&inventory);
        for failure in &inventory.failures {
            tracing::warn!(cluster = cluster_arn, operation = failure.operation, arn = %failure.arn, reason = %failure.reason, "describe call reported a failure");
        }
        if let Some(failure) = inventory.failures.iter().find(|failure| failure.leaves_cluster_incomplete()) {
            let reason = format!("{} could not describe {}: {}", failure.operation, failure.arn, failure.reason);
            return ClusterOutcome::Skipped(reason, Box::new(counts));
        }
        let report = match validate_ecs(inventory.report, self.clock.now()) {
            Ok(report) => report,
            Err(error) => return ClusterOutcome::Failed(format!("report rejected: {error}")),
        };
        counts.containers_skipped = report.notes.skipped_count;
        if let Some(first) = report.notes.skipped.first() {
            for note in &report.notes.skipped {
                tracing::warn!(cluster = cluster_arn, field = %note.field, reason = %note.reason, "container cannot be stored");
            }
            let reason = format!(
                "{} containers cannot be stored, first {}: {}",
                report.notes.skipped_count, first.field, first.reason
            );
            return ClusterOutcome::Skipped(reason, Box::new(counts));
        }
        // Storing takes time too: a cluster read just before the cutoff waits for the next run.
        if deadline.passed() {
            return ClusterOutcome::Skipped(DEADLINE_REASON.into(), Box::new(counts));
        }
        let stored = self.ingestor.ingest(&self.account, report).await;
        counts.images_added = stored.images_added;
        counts.images_removed = stored.images_removed;
        counts.write_requests = stored.write_requests;
        if let Some(message) = stored.contexts.iter().find_map(|context| context.error.as_deref()) {
            tracing::error!(cluster = cluster_arn, error = %message, "storing cluster failed");
            return ClusterOutcome::Failed(format!("storing failed: {message}"));
        }
        counts.stale = stored.contexts.iter().all(|context| context.status == ContextStatus::Stale);
        ClusterOutcome::Stored(Box::new(counts))
    }
}

impl ClusterCounts {
    fn of(inventory: &ClusterInventory) -> Self {
        Self {
            tasks: inventory.report.tasks.len(),
            services: inventory.report.services.len(),
            containers: inventory.report.containers.len(),
            containers_without_digest: inventory.containers_without_digest,
            describe_failures: inventory.failures.len(),
            ..Self::default()
        }
    }
}

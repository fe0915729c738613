//! `GET /v2/clusters`: which clusters report, how often, and which went quiet. Built from the
//! context records alone (one index read per type and a batch read of the records).

use crate::clock::format_time;
use crate::model::{ContextRecord, InventoryType, ReportSource, IMAGE_COUNT_KEY};
use crate::plan::is_live;
use crate::store::{Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One Kubernetes cluster (its namespaces) or one ECS cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterCoverage {
    pub inventory_type: InventoryType,
    /// The Kubernetes cluster name, or the ECS cluster ARN.
    pub cluster: String,
    /// What sent its latest reports.
    pub sources: BTreeSet<ReportSource>,
    pub context_count: usize,
    pub contexts: Vec<String>,
    pub last_report_at: String,
    /// Seconds between the two latest reports of its most recently reported context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_interval_seconds: Option<i64>,
    pub container_count: u64,
    /// Images per context, summed (an image in two namespaces counts twice).
    pub image_count: u64,
    /// No report for longer than `STALE_AFTER_MINUTES`.
    pub stale: bool,
    pub minutes_since_last_report: i64,
    /// Why its inventory is probably incomplete (an agent's report at the agent's page limits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Registered agents that name this cluster, with their health (`GET /v2/system/integrations`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<Value>,
}

/// The fields of a registered agent shown beside its cluster.
const AGENT_FIELDS: [&str; 7] =
    ["uuid", "name", "version", "integration_status", "reported_status", "last_seen", "health_report_interval"];

/// Puts each registered agent (as `IntegrationRegistry::list` answers them) beside the cluster
/// its registration names (`cluster_name`).
pub fn attach_agents(clusters: &mut [ClusterCoverage], integrations: &[Value]) {
    for integration in integrations {
        let Some(name) = integration.get("cluster_name").and_then(Value::as_str) else { continue };
        let summary: serde_json::Map<String, Value> = AGENT_FIELDS
            .iter()
            .filter_map(|field| Some((field.to_string(), integration.get(*field)?.clone())))
            .collect();
        for cluster in clusters.iter_mut().filter(|cluster| cluster.cluster == name) {
            cluster.agents.push(Value::Object(summary.clone()));
        }
    }
}

/// The cluster a context belongs to: `cluster/namespace` for Kubernetes, the ARN for ECS.
pub fn cluster_of(inventory_type: InventoryType, context: &str) -> &str {
    match inventory_type {
        InventoryType::Kubernetes => crate::model::split_kubernetes_context(context).0,
        InventoryType::Ecs => context,
    }
}

/// Groups live context records by cluster, in type then cluster order.
pub fn summarize(
    records: &[ContextRecord],
    now: DateTime<Utc>,
    ttl: Option<TimeDelta>,
    stale_after: TimeDelta,
) -> Vec<ClusterCoverage> {
    let mut clusters: BTreeMap<(InventoryType, &str), Vec<(&ContextRecord, DateTime<Utc>)>> = BTreeMap::new();
    for record in records {
        // A first report still writing, or a context whose inventory has expired, is not covered.
        let Some(last_report) = record.last_report_at.filter(|at| is_live(*at, now, ttl)) else { continue };
        let key = (record.inventory_type, cluster_of(record.inventory_type, &record.context));
        clusters.entry(key).or_default().push((record, last_report));
    }
    clusters
        .into_iter()
        .map(|((inventory_type, cluster), mut contexts)| {
            contexts.sort_by(|a, b| a.0.context.cmp(&b.0.context));
            let latest = contexts.iter().max_by_key(|(_, at)| *at).copied();
            let last_report = latest.map_or(now, |(_, at)| at);
            let count = |record: &ContextRecord, key: &str| -> u64 {
                record.detail_counts.as_ref().and_then(|counts| counts.get(key)).copied().map_or(0, u64::from)
            };
            ClusterCoverage {
                inventory_type,
                cluster: cluster.to_owned(),
                sources: contexts.iter().filter_map(|(record, _)| record.source).collect(),
                context_count: contexts.len(),
                contexts: contexts.iter().map(|(record, _)| record.context.clone()).collect(),
                last_report_at: format_time(last_report),
                report_interval_seconds: latest.and_then(|(record, _)| record.report_interval_seconds),
                container_count: contexts.iter().map(|(record, _)| count(record, "c")).sum(),
                image_count: contexts.iter().map(|(record, _)| count(record, IMAGE_COUNT_KEY)).sum(),
                stale: now - last_report > stale_after,
                minutes_since_last_report: (now - last_report).num_minutes(),
                warning: contexts
                    .iter()
                    .any(|(record, _)| record.probably_truncated)
                    .then(crate::report::probably_truncated_warning),
                agents: Vec::new(),
            }
        })
        .collect()
}

/// Every cluster of an account, both types.
pub async fn list_clusters(
    store: &Store,
    account: &str,
    now: DateTime<Utc>,
    ttl: Option<TimeDelta>,
    stale_after: TimeDelta,
) -> Result<Vec<ClusterCoverage>, StoreError> {
    let mut records = Vec::new();
    for inventory_type in InventoryType::ALL {
        records.extend(store.list_context_coverage(account, inventory_type).await?);
    }
    Ok(summarize(&records, now, ttl, stale_after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record(inventory_type: InventoryType, context: &str, minutes_ago: i64, source: ReportSource) -> ContextRecord {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap();
        ContextRecord {
            first_seen: Some(now - TimeDelta::days(3)),
            source: Some(source),
            detail_counts: Some([("c".to_owned(), 4), ("i".to_owned(), 2)].into()),
            report_interval_seconds: Some(60),
            ..ContextRecord::reported("admin", inventory_type, context, now - TimeDelta::minutes(minutes_ago))
        }
    }

    #[test]
    fn contexts_are_grouped_by_cluster_and_quiet_clusters_are_stale() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap();
        let arn = "arn:aws:ecs:eu-west-2:123456789012:cluster/prod";
        let records = [
            record(InventoryType::Kubernetes, "prod-eu-1/payments", 1, ReportSource::K8sInventory),
            record(InventoryType::Kubernetes, "prod-eu-1/default", 2, ReportSource::K8sInventory),
            record(InventoryType::Kubernetes, "staging/default", 31, ReportSource::K8sInventory),
            record(InventoryType::Ecs, arn, 5, ReportSource::Collector),
            ContextRecord { last_report_at: None, ..record(InventoryType::Kubernetes, "new/ns", 0, ReportSource::Kai) },
        ];
        let clusters = summarize(&records, now, Some(TimeDelta::days(120)), TimeDelta::minutes(30));
        let names: Vec<(&str, bool)> = clusters.iter().map(|c| (c.cluster.as_str(), c.stale)).collect();
        assert_eq!(
            names,
            [(arn, false), ("prod-eu-1", false), ("staging", true)],
            "a first report still writing is left out"
        );
        let prod = &clusters[1];
        assert_eq!(prod.contexts, ["prod-eu-1/default", "prod-eu-1/payments"]);
        assert_eq!((prod.container_count, prod.image_count, prod.minutes_since_last_report), (8, 4, 1));
        assert_eq!(prod.last_report_at, format_time(now - TimeDelta::minutes(1)));
        assert_eq!(prod.report_interval_seconds, Some(60));
        assert_eq!(clusters[2].minutes_since_last_report, 31);
    }

    #[test]
    fn registered_agents_appear_beside_the_cluster_they_name() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap();
        let records = [record(InventoryType::Kubernetes, "prod-eu-1/default", 1, ReportSource::K8sInventory)];
        let mut clusters = summarize(&records, now, None, TimeDelta::minutes(30));
        let agent = serde_json::json!({"uuid": "u1", "name": "k8s-inventory", "cluster_name": "prod-eu-1",
            "integration_status": {"state": "active"}, "registration": {"secret": "not shown"}});
        let elsewhere = serde_json::json!({"uuid": "u2", "cluster_name": "staging"});
        attach_agents(&mut clusters, &[agent, elsewhere]);
        assert_eq!(
            clusters[0].agents,
            [serde_json::json!({"uuid": "u1", "name": "k8s-inventory", "integration_status": {"state": "active"}})]
        );
    }

    #[test]
    fn expired_contexts_are_not_covered() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap();
        let old = record(InventoryType::Kubernetes, "gone/ns", 60 * 24 * 2, ReportSource::K8sInventory);
        assert!(summarize(&[old], now, Some(TimeDelta::days(1)), TimeDelta::minutes(30)).is_empty());
    }
}

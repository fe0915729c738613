//! The exposure metric of a scheduled run: how many workloads run an image whose highest
//! severity is each severity, printed in Embedded Metric Format (`ExposedWorkloads`, dimensions
//! `Table` and `Severity`), so an alarm can watch the critical ones.

use chrono::{DateTime, Utc};
use inventory_store::findings::Severity;
use inventory_store::listing::InventoryItem;
use std::collections::{BTreeMap, BTreeSet};

pub const EXPOSED_WORKLOADS_METRIC: &str = "ExposedWorkloads";
pub const SEVERITY_DIMENSION: &str = "Severity";

/// Distinct workloads (account, context, kind, name) running an image, by the highest severity
/// of its findings VEX leaves visible there (`severities`, one per entry); every severity
/// present, zero included, so an alarm sees a value each day.
pub fn exposed_workloads(
    entries: &[(String, InventoryItem)],
    severities: &[Option<Severity>],
) -> BTreeMap<Severity, usize> {
    let mut workloads: BTreeMap<Severity, BTreeSet<(&str, &str, &str, &str)>> = BTreeMap::new();
    for ((account, item), severity) in entries.iter().zip(severities) {
        let Some(severity) = severity else { continue };
        for workload in &item.workloads {
            let key = (account.as_str(), item.context.as_str(), workload.kind.as_str(), workload.name.as_str());
            workloads.entry(*severity).or_default().insert(key);
        }
    }
    Severity::ALL.into_iter().map(|severity| (severity, workloads.get(&severity).map_or(0, BTreeSet::len))).collect()
}

/// One EMF line per severity.
pub fn metric_lines(table: &str, now: DateTime<Utc>, counts: &BTreeMap<Severity, usize>) -> Vec<String> {
    counts
        .iter()
        .map(|(severity, count)| {
            let dimensions = [(SEVERITY_DIMENSION, severity.as_str())];
            inventory_store::metrics::emf_line(table, now, &dimensions, &[(EXPOSED_WORKLOADS_METRIC, *count)])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory_store::model::InventoryType;

    fn item(context: &str, digest: &str, workload: &str) -> InventoryItem {
        InventoryItem::running(InventoryType::Kubernetes, context, digest, workload)
    }

    #[test]
    fn workloads_are_counted_once_at_their_images_highest_severity() {
        let entries = [
            ("a".to_owned(), item("prod/web", "sha256:1", "api")),
            ("a".to_owned(), item("prod/web", "sha256:2", "api")),
            ("a".to_owned(), item("prod/jobs", "sha256:1", "report")),
            ("b".to_owned(), item("prod/web", "sha256:1", "api")),
            ("a".to_owned(), item("prod/web", "sha256:3", "cache")),
        ];
        let (critical, low) = (Some(Severity::Critical), Some(Severity::Low));
        let counts = exposed_workloads(&entries, &[critical, critical, critical, low, None]);
        assert_eq!((counts[&Severity::Critical], counts[&Severity::Low], counts[&Severity::High]), (2, 1, 0));
        let lines = metric_lines("t", Utc::now(), &counts);
        assert_eq!(lines.len(), 6);
        let critical: serde_json::Value = serde_json::from_str(&lines[lines.len() - 1]).unwrap();
        assert_eq!(
            (critical["Severity"].as_str(), critical[EXPOSED_WORKLOADS_METRIC].as_u64()),
            (Some("critical"), Some(2))
        );
        assert_eq!(critical["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Table", "Severity"]]));
    }
}

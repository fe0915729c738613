use super::*;
use chrono::{TimeDelta, TimeZone};
use inventory_store::metrics::METRIC_NAMESPACE;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap()
}

fn settings() -> Settings {
    Settings { table_name: "t".into(), ttl_days: 1, ingest_overwrite: false, stale_after_minutes: 30 }
}

fn record(account: &str, context: &str, minutes_ago: i64) -> ContextRecord {
    let last_report_at = now() - TimeDelta::minutes(minutes_ago);
    ContextRecord {
        source: Some(ReportSource::K8sInventory),
        ..ContextRecord::reported(account, InventoryType::Kubernetes, context, last_report_at)
    }
}

fn key(account: &str, cluster: &str) -> ClusterKey {
    ClusterKey { account: account.into(), inventory_type: InventoryType::Kubernetes, cluster: cluster.into() }
}

#[test]
fn each_cluster_state_and_marker_has_one_step() {
    use MarkerState::*;
    let cases = [
        (Some(true), None, Some(Step::AnnounceStale)),
        (Some(true), Some(Announcing), Some(Step::AnnounceStale)),
        (Some(true), Some(Stale), None),
        (Some(true), Some(Recovering), Some(Step::AnnounceStale)),
        (Some(false), None, None),
        (Some(false), Some(Announcing), Some(Step::AnnounceRecovered)),
        (Some(false), Some(Stale), Some(Step::AnnounceRecovered)),
        (Some(false), Some(Recovering), Some(Step::AnnounceRecovered)),
        (None, Some(Stale), Some(Step::Forget)),
        (None, None, None),
    ];
    for (stale, marker, expected) in cases {
        assert_eq!(step(stale, marker), expected, "stale {stale:?}, marker {marker:?}");
    }
}

#[test]
fn clusters_of_every_account_are_planned_apart() {
    let records = vec![
        record("team-a", "prod/default", 1),
        record("team-a", "quiet/default", 45),
        record("team-b", "quiet/default", 2),
        record("team-b", "back/default", 3),
    ];
    let fleet = fleet_coverage(records, now(), &settings());
    assert_eq!(fleet.len(), 4);
    let markers = [
        StaleMarker::new(&key("team-b", "back"), MarkerState::Stale),
        StaleMarker::new(&key("team-b", "expired"), MarkerState::Stale),
    ];
    let steps: Vec<(String, Step)> = plan(&fleet, &markers).into_iter().map(|(k, _, s)| (k.sort_key(), s)).collect();
    assert_eq!(
        steps,
        [
            ("team-a#kubernetes#quiet".to_owned(), Step::AnnounceStale),
            ("team-b#kubernetes#back".to_owned(), Step::AnnounceRecovered),
            ("team-b#kubernetes#expired".to_owned(), Step::Forget),
        ],
        "team-b's quiet is a different cluster from team-a's"
    );
}

#[test]
fn an_expired_cluster_is_not_in_the_fleet() {
    let fleet = fleet_coverage(vec![record("a", "gone/ns", 60 * 25)], now(), &settings());
    assert!(fleet.is_empty(), "a TTL of one day hides a cluster silent for 25 hours");
}

#[test]
fn marker_states_are_stored_by_their_names() {
    for state in [MarkerState::Announcing, MarkerState::Stale, MarkerState::Recovering] {
        assert_eq!(serde_json::to_value(state).unwrap(), serde_json::json!(state.as_str()));
    }
}

#[test]
fn the_metric_line_is_embedded_metric_format() {
    let line: serde_json::Value = serde_json::from_str(&metric_line("inventory", now(), 7, 2)).unwrap();
    assert_eq!(line["StaleClusters"], 2);
    assert_eq!(line["Clusters"], 7);
    assert_eq!(line["Table"], "inventory");
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], METRIC_NAMESPACE);
    assert_eq!(directive["Dimensions"], serde_json::json!([["Table"]]));
    assert_eq!(line["_aws"]["Timestamp"], now().timestamp_millis());
}

//! The scheduled coverage check against moto: a cluster that goes quiet puts one stale event,
//! and one recovered event when it reports again; a failed put is sent by the next run.

use chrono::TimeDelta;
use integration_tests::{day, k8s_report, FailNth, Harness, Notifications};
use inventory::staleness::{RECOVERED_DETAIL_TYPE, STALE_DETAIL_TYPE, STALE_PARTITION};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

/// (detail-type, cluster) of each event the bus delivered since the last call.
async fn announced(notifications: &Notifications) -> Vec<(String, String)> {
    let events: Vec<Value> = notifications.received().await;
    events
        .iter()
        .map(|event| {
            assert_eq!(event["source"], "runtime-inventory");
            (event["detail-type"].as_str().unwrap().to_owned(), event["detail"]["cluster"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn post(harness: &Harness, cluster: &str, minute: i64) {
    let report = k8s_report(cluster, day(0) + TimeDelta::minutes(minute), &[("default", "app:1", 1)]);
    assert_eq!(harness.post_k8s(&report).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_quiet_cluster_puts_one_stale_event_and_one_recovered_event() {
    let harness = Harness::new(120, false).await;
    let notifications = harness.notifications().await;
    let check = notifications.coverage_check(&harness, None);
    post(&harness, "prod-eu-1", 0).await;
    post(&harness, "staging", 0).await;

    harness.clock.set(day(0) + TimeDelta::minutes(10));
    harness.requests.reset();
    let summary = check.run().await.expect("a run");
    assert_eq!((summary.clusters, summary.stale, summary.stale_events), (2, 0, 0));
    assert_eq!(
        (harness.requests.get("Scan"), harness.requests.get("BatchGetItem"), harness.requests.get("Query")),
        (1, 1, 1),
        "a run with nothing to announce reads the contexts index, their records and the markers"
    );
    assert_eq!(harness.requests.writes(), 0);

    // Half an hour on, only prod-eu-1 has reported again.
    post(&harness, "prod-eu-1", 30).await;
    harness.clock.set(day(0) + TimeDelta::minutes(32));
    let summary = check.run().await.expect("a run");
    assert_eq!((summary.stale, summary.stale_events), (1, 1));
    let events = notifications.received().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], STALE_DETAIL_TYPE);
    let detail = &events[0]["detail"];
    assert_eq!(
        (&detail["account"], &detail["inventory_type"], &detail["cluster"], &detail["contexts"]),
        (&json!("admin"), &json!("kubernetes"), &json!("staging"), &json!(["staging/default"]))
    );
    assert_eq!(
        (detail["minutes_since_last_report"].as_i64(), detail["stale_after_minutes"].as_u64()),
        (Some(32), Some(30))
    );
    assert_eq!(detail["sources"], json!(["k8s-inventory"]));

    // Still quiet: nothing more.
    harness.clock.set(day(0) + TimeDelta::minutes(37));
    assert_eq!(check.run().await.expect("a run").stale_events, 0);
    assert_eq!(announced(&notifications).await, []);

    post(&harness, "staging", 40).await;
    harness.clock.set(day(0) + TimeDelta::minutes(41));
    let summary = check.run().await.expect("a run");
    assert_eq!((summary.stale, summary.recovered_events), (0, 1));
    assert_eq!(announced(&notifications).await, [(RECOVERED_DETAIL_TYPE.to_owned(), "staging".to_owned())]);
    assert!(
        harness.stored_items().await.iter().all(|item| item["pk"].as_s().unwrap() != STALE_PARTITION),
        "marker gone"
    );
    assert_eq!(check.run().await.expect("a run").recovered_events, 0);
    assert_eq!(announced(&notifications).await, []);
}

#[tokio::test]
async fn an_event_eventbridge_fails_is_sent_by_the_next_run_and_an_expired_cluster_is_forgotten() {
    let harness = Harness::new(1, false).await;
    let notifications = harness.notifications().await;
    post(&harness, "staging", 0).await;
    harness.clock.set(day(0) + TimeDelta::minutes(45));

    let failing = notifications.coverage_check(&harness, Some(FailNth::new("PutEvents", 1)));
    let error = failing.run().await.expect_err("the failed put fails the run, so Lambda counts an error");
    assert!(error.to_string().contains("kubernetes#staging"), "{error}");
    assert_eq!(announced(&notifications).await, []);

    let summary = failing.run().await.expect("the next run");
    assert_eq!(summary.stale_events, 1);
    assert_eq!(announced(&notifications).await, [(STALE_DETAIL_TYPE.to_owned(), "staging".to_owned())]);
    assert_eq!(failing.run().await.expect("a run").stale_events, 0, "sent once");

    // A day later its inventory has expired: the marker goes without an event.
    harness.clock.set(day(1) + TimeDelta::hours(1));
    let summary = failing.run().await.expect("a run");
    assert_eq!((summary.clusters, summary.forgotten, summary.recovered_events), (0, 1, 0));
    assert_eq!(announced(&notifications).await, []);
}

//! `GET /v2/clusters`: every reporting cluster, how often it reports, and which went quiet.

use chrono::TimeDelta;
use integration_tests::{admin_event, day, k8s_report, sample_report, Harness};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

async fn clusters(harness: &Harness) -> Vec<Value> {
    let answer = harness.call("get-clusters.json", None, Some("admin"), &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["clusters"].as_array().unwrap().clone()
}

#[tokio::test]
async fn clusters_report_their_coverage_and_quiet_ones_turn_stale() {
    let harness = Harness::new(120, false).await;
    let a = |minute: i64| k8s_report("prod-eu-1", day(0) + TimeDelta::minutes(minute), &[("a", "app:1", 1), ("b", "app:2", 2)]);
    assert_eq!(harness.post_k8s(&a(0)).await.status, StatusCode::CREATED);
    let quiet = k8s_report("staging", day(0), &[("default", "app:1", 1)]);
    assert_eq!(harness.post_k8s(&quiet).await.status, StatusCode::CREATED);
    assert_eq!(harness.post_ecs(&sample_report("post-ecs-inventory.json")).await.status, StatusCode::CREATED);

    // Half an hour later only prod-eu-1 has reported again.
    assert_eq!(harness.post_k8s(&a(30)).await.status, StatusCode::CREATED);
    harness.clock.set(day(0) + TimeDelta::minutes(32));
    let listed = clusters(&harness).await;
    let summary: Vec<(&str, &str, bool)> = listed
        .iter()
        .map(|c| (c["inventory_type"].as_str().unwrap(), c["cluster"].as_str().unwrap(), c["stale"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("ecs", "arn:aws:ecs:eu-west-2:123456789012:cluster/myclustername", true),
            ("kubernetes", "prod-eu-1", false),
            ("kubernetes", "staging", true)
        ]
    );
    let prod = &listed[1];
    assert_eq!(prod["contexts"], json!(["prod-eu-1/a", "prod-eu-1/b"]));
    assert_eq!(prod["sources"], json!(["k8s-inventory"]));
    assert_eq!((prod["report_interval_seconds"].as_i64(), prod["minutes_since_last_report"].as_i64()), (Some(1800), Some(2)));
    assert_eq!((prod["container_count"].as_u64(), prod["image_count"].as_u64()), (Some(2), Some(2)));
    assert!(listed[2].get("report_interval_seconds").is_none(), "one report shows no interval yet");
    assert!(prod.get("agents").is_none(), "no agent registered yet");

    // A registered agent appears beside the cluster its registration names.
    let registration = sample_report("post-integration-registration.json").to_string();
    let registered = harness.call("post-integration-registration.json", Some(&registration), Some("admin"), &[]).await;
    assert!(registered.status.is_success(), "{}", registered.body);
    let listed = clusters(&harness).await;
    let agents = listed[1]["agents"].as_array().expect("prod-eu-1's agent");
    assert_eq!((agents.len(), agents[0]["name"].as_str()), (1, Some("k8s-inventory")), "{agents:?}");
    assert!(agents[0]["integration_status"]["state"].is_string());
    assert!(listed[2].get("agents").is_none(), "staging has none");

    let other_account = harness.send(admin_event("get-clusters.json", None, None, Some("team-b"), &[])).await;
    assert_eq!(other_account.body["clusters"], json!([]), "accounts see only their own clusters");
}

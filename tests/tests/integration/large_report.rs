//! A 5,000-container report: stored whole, listed exactly, and re-posted at a cost
//! proportional to change (counted at the SDK's HTTP layer).

use chrono::TimeDelta;
use integration_tests::{day, item_size, k8s_report, Harness};
use lambda_http::http::StatusCode;
use std::collections::HashSet;

const CONTAINERS: usize = 5_000;
const NAMESPACES: usize = 10;
const IMAGES: u64 = 400;

#[tokio::test]
async fn five_thousand_containers_store_once_and_repost_cheaply() {
    let harness = Harness::new(120, false).await;
    let namespaces: Vec<String> = (0..NAMESPACES).map(|n| format!("ns-{n}")).collect();
    let containers: Vec<(&str, &str, u64)> = (0..CONTAINERS)
        .map(|i| (namespaces[i % NAMESPACES].as_str(), "registry.example.com/app:1", i as u64 % IMAGES))
        .collect();
    let expected: HashSet<(String, u64)> =
        containers.iter().map(|(ns, _, image)| (format!("big/{ns}"), *image)).collect();
    let report = k8s_report("big", day(0), &containers);

    let first = harness.post_k8s(&report).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let first_writes = harness.requests.writes();
    assert_eq!(first.body["images_added"], expected.len());

    let items = harness.list("admin", &[]).await;
    assert_eq!(items.len(), expected.len());
    let total_containers: u64 = items.iter().map(|item| item["container_count"].as_u64().unwrap()).sum();
    assert_eq!(total_containers, CONTAINERS as u64);

    harness.requests.reset();
    let same = harness.post_k8s(&report).await;
    assert_eq!(same.status, StatusCode::CREATED);
    let identical_writes = harness.requests.writes();
    assert_eq!(identical_writes, 0, "an identical re-post writes nothing");
    let reads = |harness: &Harness| (harness.requests.get("GetItem"), harness.requests.get("Query"));
    assert_eq!(reads(&harness), (NAMESPACES as u64, 0), "and reads one context record per namespace, no item");

    harness.clock.advance(TimeDelta::minutes(5));
    let later = k8s_report("big", day(0) + TimeDelta::minutes(5), &containers);
    harness.requests.reset();
    let unchanged = harness.post_k8s(&later).await;
    assert_eq!(unchanged.body["images_unchanged"], expected.len());
    let heartbeat_writes = harness.requests.writes();
    assert_eq!(heartbeat_writes, NAMESPACES as u64, "one context heartbeat per namespace");
    assert_eq!(harness.requests.get("PutItem"), NAMESPACES as u64);
    assert_eq!(reads(&harness), (NAMESPACES as u64, 0), "an unchanged report reads no item");

    // One container changes image: one container, one image added, maybe one image removed.
    let mut changed = containers.clone();
    changed[0].2 = IMAGES + 1;
    harness.clock.advance(TimeDelta::minutes(5));
    harness.requests.reset();
    harness.post_k8s(&k8s_report("big", day(0) + TimeDelta::minutes(10), &changed)).await;
    let change_writes = harness.requests.writes();
    assert!(change_writes <= NAMESPACES as u64 + 3, "{change_writes} writes for one changed container");

    let largest = harness.stored_items().await.iter().map(item_size).max().unwrap();
    assert!(largest < 8 * 1024, "largest item is {largest} bytes");

    println!(
        "5,000 containers / {NAMESPACES} namespaces / {} images: first post {first_writes} write requests; \
         identical re-post {identical_writes}; unchanged report 5 min later {heartbeat_writes}; \
         one changed container {change_writes}; largest item {largest} bytes",
        expected.len()
    );
}

//! Running intervals end to end: reports stored, the table's stream delivered to the notifier,
//! which opens and closes intervals, read with `GET /v2/history`.

use chrono::TimeDelta;
use integration_tests::{day, digest, k8s_report, Harness, Notifications};
use lambda_http::http::StatusCode;
use serde_json::Value;

async fn deliver(notifications: &mut Notifications) {
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
}

async fn history(harness: &Harness, query: &[(&str, &str)]) -> Vec<Value> {
    let answer = harness.call("get-history.json", None, Some("admin"), query).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["intervals"].as_array().unwrap().clone()
}

/// A report of cluster `c` at `hours` after `day(0)`, with the clock just after it.
async fn post(harness: &Harness, hours: i64, containers: &[(&str, &str, u64)]) {
    let at = day(0) + TimeDelta::hours(hours);
    harness.clock.set(at + TimeDelta::minutes(1));
    let answer = harness.post_k8s(&k8s_report("c", at, containers)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

/// Image 1 runs in c/a and c/b from hour 0; it leaves c/a at 1 (a departure: the context still
/// reports, with image 2) and comes back at 2; then c/b's inventory is deleted (history stays).
async fn three_intervals(harness: &Harness, notifications: &mut Notifications) {
    post(harness, 0, &[("a", "app:1", 1), ("b", "app:1", 1)]).await;
    deliver(notifications).await;
    post(harness, 1, &[("a", "app:2", 2), ("b", "app:1", 1)]).await;
    deliver(notifications).await;
    post(harness, 2, &[("a", "app:1", 1), ("a", "app:2", 2), ("b", "app:1", 1)]).await;
    deliver(notifications).await;
    let query = [("inventory_type", "kubernetes"), ("context", "c/b")];
    let deleted = harness.call("delete-inventories.json", None, Some("admin"), &query).await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    deliver(notifications).await;
}

#[tokio::test]
async fn an_image_that_left_one_context_came_back_and_was_deleted_from_another_has_three_intervals() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let at = |hours: i64| day(0) + TimeDelta::hours(hours);
    three_intervals(&harness, &mut notifications).await;

    let digest_1 = digest(1);
    let intervals = history(&harness, &[("image_digest", &digest_1)]).await;
    let bounds: Vec<(&str, &str, Option<&str>)> = intervals
        .iter()
        .map(|interval| {
            (interval["context"].as_str().unwrap(), interval["from"].as_str().unwrap(), interval["to"].as_str())
        })
        .collect();
    let time = |hours| inventory::clock::format_time(at(hours));
    assert_eq!(bounds.len(), 3, "{intervals:?}");
    assert_eq!(bounds[0], ("c/a", time(0).as_str(), Some(time(0).as_str())), "left after its last sighting at 0");
    assert_eq!(bounds[1], ("c/a", time(2).as_str(), None), "back at 2, still running");
    assert_eq!((bounds[2].0, bounds[2].1), ("c/b", time(0).as_str()));
    assert!(bounds[2].2.is_some_and(|to| to >= time(2).as_str()), "closed when deleted: {intervals:?}");
    assert_eq!(intervals[1]["image_tag"], "docker.io/library/app:1");

    // Between the two c/a intervals only c/b ran it; an unchanged report adds nothing.
    let (from, to) = (time(1), inventory::clock::format_time(at(1) + TimeDelta::minutes(30)));
    let during = history(&harness, &[("image_digest", &digest_1), ("from", &from), ("to", &to)]).await;
    assert_eq!(during.iter().map(|interval| interval["context"].as_str().unwrap()).collect::<Vec<_>>(), ["c/b"]);
    post(&harness, 3, &[("a", "app:1", 1), ("a", "app:2", 2)]).await;
    deliver(&mut notifications).await;
    assert_eq!(history(&harness, &[("image_digest", &digest_1)]).await, intervals);
    // Paged, the same intervals.
    let first =
        harness.call("get-history.json", None, Some("admin"), &[("image_digest", &digest_1), ("limit", "2")]).await;
    let next = first.body["next"].as_str().expect("a next page").to_owned();
    let rest = history(&harness, &[("image_digest", &digest_1), ("limit", "2"), ("next", &next)]).await;
    let paged: Vec<Value> = first.body["intervals"].as_array().unwrap().iter().chain(&rest).cloned().collect();
    assert_eq!(paged, intervals);

    // Its findings name a vulnerability: the exposure windows are where it ran, and when.
    let grype = std::fs::read_to_string(local_stack::moto::workspace_root().join("tests/fixtures/scanners/grype.json"));
    let findings_path = format!("/v2/images/{digest_1}/vulnerabilities");
    let posted = harness
        .call_path("post-image-vulnerabilities.json", Some(&findings_path), Some(&grype.unwrap()), Some("admin"), &[])
        .await;
    assert!(posted.status.is_success(), "{}", posted.body);
    let findings =
        harness.call_path("get-image-vulnerabilities.json", Some(&findings_path), None, Some("admin"), &[]).await;
    let id = findings.body["findings"][0]["vulnerability_id"].as_str().expect("a vulnerability").to_owned();
    let windows_path = format!("/v2/vulnerabilities/{id}/history");
    let windows = harness
        .call_path(
            "get-vulnerability-history.json",
            Some(&windows_path),
            None,
            Some("admin"),
            &[("from", &from), ("to", &to)],
        )
        .await;
    assert_eq!(windows.status, StatusCode::OK, "{}", windows.body);
    assert_eq!(windows.body["images"][0]["image_digest"], digest_1.as_str());
    let contexts: Vec<&str> = windows.body["images"][0]["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["context"].as_str().unwrap())
        .collect();
    assert_eq!(contexts, ["c/b"], "{}", windows.body);
    let unknown = harness
        .call_path(
            "get-vulnerability-history.json",
            Some("/v2/vulnerabilities/CVE-2000-9999/history"),
            None,
            Some("admin"),
            &[],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn what_ran_in_a_context_at_a_time_reads_only_the_intervals_ending_after_it() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let at = |hours: i64| day(0) + TimeDelta::hours(hours);
    three_intervals(&harness, &mut notifications).await;

    let ran_at = async |context: &str, hours: i64, minutes: i64| -> Vec<(String, String)> {
        let when = inventory::clock::format_time(at(hours) + TimeDelta::minutes(minutes));
        let answer =
            harness.call("get-history.json", None, Some("admin"), &[("context", context), ("at", &when)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let mut pairs: Vec<(String, String)> = answer.body["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["context"].as_str().unwrap().to_owned(), i["image_digest"].as_str().unwrap().to_owned()))
            .collect();
        pairs.sort();
        pairs
    };
    let pair = |context: &str, n: u64| (context.to_owned(), digest(n));
    // Between the two stays of image 1 in c/a, only image 2 ran there; c/b (deleted since) ran 1.
    assert_eq!(ran_at("c/a", 1, 30).await, [pair("c/a", 2)]);
    assert_eq!(ran_at("c/*", 1, 30).await, [pair("c/a", 2), pair("c/b", 1)], "a deleted context is still found");
    assert_eq!(ran_at("c/a", 2, 30).await, [pair("c/a", 1), pair("c/a", 2)]);
    assert_eq!(ran_at("c/a", 0, 0).await, [pair("c/a", 1)], "its last sighting is inside its interval");
    assert!(ran_at("c/*", -1, 0).await.is_empty(), "before anything ran");

    // A question at 1:30 in c/a reads the intervals ending then or later: the closed first stay
    // of image 1 ended at 0 and is not read.
    harness.requests.reset();
    ran_at("c/a", 1, 30).await;
    assert_eq!(harness.requests.get("Query"), 2, "one Query per type (kubernetes, ecs)");

    // A data-removal request: an admin deletes c/b's history; c/a's stays.
    let delete = async |context: &str| {
        let query = [("inventory_type", "kubernetes"), ("context", context)];
        harness.call("delete-history.json", None, Some("admin"), &query).await
    };
    let removed = delete("c/b").await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_eq!(removed.headers["x-deleted-items"], "2", "one interval, in its two partitions");
    assert_eq!(ran_at("c/*", 1, 30).await, [pair("c/a", 2)], "c/b is gone from prefix questions too");
    let of_1 = harness.call("get-history.json", None, Some("admin"), &[("image_digest", &digest(1))]).await;
    let contexts: Vec<&str> =
        of_1.body["intervals"].as_array().unwrap().iter().map(|i| i["context"].as_str().unwrap()).collect();
    assert_eq!(contexts, ["c/a", "c/a"]);
    assert_eq!(delete("c/b").await.status, StatusCode::NOT_FOUND);
    let bad = harness.call("delete-history.json", None, Some("admin"), &[("context", "c/a")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

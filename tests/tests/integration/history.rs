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
    let time = |hours| inventory_store::clock::format_time(at(hours));
    assert_eq!(bounds.len(), 3, "{intervals:?}");
    assert_eq!(bounds[0], ("c/a", time(0).as_str(), Some(time(0).as_str())), "left after its last sighting at 0");
    assert_eq!(bounds[1], ("c/a", time(2).as_str(), None), "back at 2, still running");
    assert_eq!((bounds[2].0, bounds[2].1), ("c/b", time(0).as_str()));
    assert!(bounds[2].2.is_some_and(|to| to >= time(2).as_str()), "closed when deleted: {intervals:?}");
    assert_eq!(intervals[1]["image_tag"], "docker.io/library/app:1");

    // Between the two c/a intervals only c/b ran it; an unchanged report adds nothing.
    let (from, to) = (time(1), inventory_store::clock::format_time(at(1) + TimeDelta::minutes(30)));
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
        let when = inventory_store::clock::format_time(at(hours) + TimeDelta::minutes(minutes));
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
    assert_eq!(ran_at("*", 1, 30).await, [pair("c/a", 2), pair("c/b", 1)], "every context of the account");

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

/// Reads against the history's size: `HISTORY_INTERVALS` (default 2,000; 100,000 for the
/// figure in BENCHMARKS.md) closed intervals of other images in one busy context, plus the
/// three a question matches. Read units computed from the items each read returns, as DynamoDB
/// bills them, beside a `Scan` of the history (all a store without these keys could do).
#[tokio::test]
async fn history_reads_follow_the_intervals_returned_not_the_history_stored() {
    use inventory_store::history::IntervalPlace;
    use inventory_store::model::InventoryType;
    use inventory_store::store::{encode, BatchWrite};
    let count: usize = std::env::var("HISTORY_INTERVALS").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000);
    let harness = Harness::new(120, false).await;
    let store = harness.store_for("notifier");
    let start = day(0) - TimeDelta::days(300);
    let place = |context: &str, n: u64| IntervalPlace {
        account: "admin".into(),
        inventory_type: InventoryType::Kubernetes,
        context: context.into(),
        image_digest: digest(n),
    };
    // Other images, each run an hour in prod/busy long ago: in both partitions, as closes write.
    let mut writes = Vec::with_capacity(count * 2);
    for n in 0..count {
        let from = start + TimeDelta::minutes(n as i64);
        let closed = place("prod/busy", 1_000 + n as u64)
            .open("app:1", Vec::new(), from)
            .closed(from + TimeDelta::hours(1), 400);
        writes.push(BatchWrite::Put(encode(&closed.in_context())));
        writes.push(BatchWrite::Put(encode(&closed)));
    }
    // Seeded as the test's own writes, not a function's (none batch-writes history).
    inventory_store::Store::new(harness.dynamodb.clone(), harness.table.clone()).batch_write(writes).await.unwrap();
    // The image asked about: two closed stays and one still running.
    for (context, hours) in [("prod/busy", 0), ("prod/shop", 2), ("prod/busy", 4)] {
        let open = place(context, 1).open("app:1", Vec::new(), day(0) + TimeDelta::hours(hours));
        store.open_interval(&open, 400).await.unwrap();
        if hours < 4 {
            store.close_interval(&place(context, 1), day(0) + TimeDelta::hours(hours + 1), 400).await.unwrap();
        }
    }

    let items = harness.stored_items().await;
    let history_bytes: usize = items
        .iter()
        .filter(|item| item["pk"].as_s().is_ok_and(|pk| pk.contains("#hist#") || pk.contains("#hctx#")))
        .map(integration_tests::item_size)
        .sum();
    let bytes_of = |pk: &str, filter: &dyn Fn(&Value) -> bool| -> usize {
        items
            .iter()
            .filter(|item| item["pk"].as_s().is_ok_and(|p| p == pk))
            .filter(|item| {
                filter(&serde_json::to_value(serde_dynamo::from_item::<_, Value>((*item).clone()).unwrap()).unwrap())
            })
            .map(integration_tests::item_size)
            .sum()
    };
    let scan_units = integration_tests::read_units(history_bytes) as f64 / 2.0;

    harness.requests.reset();
    let by_digest = history(&harness, &[("image_digest", &digest(1))]).await;
    assert_eq!(by_digest.len(), 3);
    assert_eq!(harness.requests.get("Query"), 1, "the digest's partition alone");
    let digest_units = integration_tests::read_units(bytes_of(&format!("admin#hist#{}", digest(1)), &|_| true)) as f64;

    harness.requests.reset();
    let when = inventory_store::clock::format_time(day(0) + TimeDelta::minutes(30));
    let query = [("context", "prod/busy"), ("at", when.as_str()), ("inventory_type", "kubernetes")];
    let answer = harness.call("get-history.json", None, Some("admin"), &query).await;
    let ran: Vec<&str> =
        answer.body["intervals"].as_array().unwrap().iter().map(|i| i["image_digest"].as_str().unwrap()).collect();
    assert_eq!(ran, [digest(1).as_str()], "{}", answer.body);
    assert_eq!(harness.requests.get("Query"), 1);
    let at = day(0) + TimeDelta::minutes(30);
    let ending_after =
        |item: &Value| item["to"].as_str().is_none_or(|to| to >= inventory_store::clock::format_time(at).as_str());
    let context_units =
        integration_tests::read_units(bytes_of("admin#hctx#kubernetes#prod/busy", &ending_after)) as f64;
    println!(
        "history of {count} other intervals: by digest {digest_units} read units, by context at a time {context_units}; \
         a Scan of the history {scan_units} ({:.0}x, {:.0}x)",
        scan_units / digest_units,
        scan_units / context_units
    );
    assert!(context_units < scan_units && digest_units < scan_units);

    // Issue 32, item 9: a question about the whole history stops reading at its bound: at most
    // one page past it (`GET /v2/history?context=p*&at=0001-01-01` read everything at once).
    let long_ago = day(0) - TimeDelta::days(3650);
    harness.requests.reset();
    let bounded = store.context_intervals_ending_after("admin", InventoryType::Kubernetes, "prod/busy", long_ago, 100);
    assert_eq!(bounded.await.unwrap(), None, "more than 100 end after it");
    assert_eq!(harness.requests.get("Query"), 1, "one page of the {count}");
    let all =
        store.context_intervals_ending_after("admin", InventoryType::Kubernetes, "prod/busy", long_ago, count + 2);
    assert_eq!(all.await.unwrap().map(|records| records.len()), Some(count + 2));
    assert_eq!(store.all_intervals("admin", &digest(1), 2).await.unwrap(), None, "three, more than two");
}

/// Issue 32, item 9: an open interval whose close was lost is closed when its image opens
/// again there, at the new start: no copy of it shows the image running forever.
#[tokio::test]
async fn an_interval_whose_close_was_lost_is_closed_when_the_image_opens_again() {
    use inventory_store::history::IntervalPlace;
    use inventory_store::model::InventoryType;
    let harness = Harness::new(120, false).await;
    let store = harness.store_for("notifier");
    let place = IntervalPlace {
        account: "admin".into(),
        inventory_type: InventoryType::Kubernetes,
        context: "prod/shop".into(),
        image_digest: digest(1),
    };
    let first = place.open("app:1", Vec::new(), day(0));
    let second = place.open("app:1", Vec::new(), day(0) + TimeDelta::hours(5));
    store.open_interval(&first, 400).await.unwrap();
    // The departure's close never arrived; the image is back five hours later.
    store.open_interval(&second, 400).await.unwrap();
    // A late redelivery of the first open changes nothing.
    store.open_interval(&first, 400).await.unwrap();

    let intervals = history(&harness, &[("image_digest", &digest(1))]).await;
    let bounds: Vec<(String, Value)> =
        intervals.iter().map(|i| (i["from"].as_str().unwrap().to_owned(), i["to"].clone())).collect();
    let time = |hours| inventory_store::clock::format_time(day(0) + TimeDelta::hours(hours));
    assert_eq!(bounds, [(time(0), Value::String(time(5))), (time(5), Value::Null)]);
    let open_copies = harness
        .stored_items()
        .await
        .iter()
        .filter(|item| item["pk"].as_s().is_ok_and(|pk| pk.contains("#hctx#")))
        .filter(|item| item["sk"].as_s().is_ok_and(|sk| sk.starts_with(inventory_store::keys::HISTORY_OPEN_END)))
        .count();
    assert_eq!(open_copies, 1, "one interval is open in the context");
}

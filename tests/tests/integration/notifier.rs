//! The notifier fed from the table's real stream (moto), putting to a real bus (moto) whose
//! rule delivers to a queue the test reads.

use chrono::TimeDelta;
use integration_tests::{day, digest, k8s_report, sample_report, FailNth, Harness, Notifications};
use inventory_store::Clock;
use lambda_http::http::StatusCode;
use serde_json::Value;

const ECS_ACCOUNT_AND_REGION: &str = "arn:aws:ecs:eu-west-2:123456789012";
const ECS_CLUSTER: &str = "arn:aws:ecs:eu-west-2:123456789012:cluster/myclustername";

fn fired_pairs(fired: &[Value]) -> Vec<(String, String, String)> {
    let mut pairs: Vec<_> = fired
        .iter()
        .map(|detail| {
            let field = |name: &str| detail[name].as_str().unwrap().to_owned();
            (field("subscription_id"), field("context"), field("image_digest"))
        })
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn active_matching_subscriptions_fire_once_per_new_image() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let ecs_region = harness.subscribe("admin", ECS_ACCOUNT_AND_REGION, true).await;
    let _inactive = harness.subscribe("admin", ECS_CLUSTER, false).await;
    let cluster = harness.subscribe("admin", "prod-eu-1", true).await;
    let namespace = harness.subscribe("admin", "prod-eu-1/default", true).await;
    let _elsewhere = harness.subscribe("admin", "arn:aws:ecs:us-east-1:123456789012", true).await;
    let _other_account = harness.subscribe("team", "prod-eu-1", true).await;

    harness.post_ecs(&sample_report("post-ecs-inventory.json")).await;
    harness.post_k8s(&sample_report("post-kubernetes-inventory.json")).await;
    let event = notifications.next_event().await;
    let response = notifications.deliver(event.clone()).await;
    assert!(response.batch_item_failures.is_empty());

    let fired = notifications.fired().await;
    let nginx = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";
    let api = "sha256:996fe12b25dfa8e26af9007549163024a4833a0052f44ac87461273e97d9a9ac";
    let envoy = "sha256:d0d03fbdd5ca194ea17759ae6a0df68a06e4b93e6da637bc66a9bd80e0419ee8";
    let worker = "sha256:9120b3e2aee0e8899a7feda51e8fc27533fed11f4c31afbc563a5b5c14302646";
    let mut expected = vec![
        (ecs_region.clone(), ECS_CLUSTER.to_owned(), nginx.to_owned()),
        (ecs_region.clone(), ECS_CLUSTER.to_owned(), worker.to_owned()),
        (cluster.clone(), "prod-eu-1/default".to_owned(), nginx.to_owned()),
        (cluster.clone(), "prod-eu-1/payments".to_owned(), api.to_owned()),
        (cluster.clone(), "prod-eu-1/payments".to_owned(), envoy.to_owned()),
        (namespace.clone(), "prod-eu-1/default".to_owned(), nginx.to_owned()),
    ];
    expected.sort();
    assert_eq!(fired_pairs(&fired), expected);
    let sample = fired.iter().find(|detail| detail["image_digest"] == worker).unwrap();
    assert_eq!(sample["account"], "admin");
    assert_eq!(sample["inventory_type"], "ecs");
    assert_eq!(sample["image_tag"], "123456789012.dkr.ecr.eu-west-2.amazonaws.com/worker:2.0");
    assert_eq!(sample["subscription_key"], ECS_ACCOUNT_AND_REGION);
    // Where a worker pulls the image from and posts its findings to.
    assert_eq!(sample["image_reference"], format!("123456789012.dkr.ecr.eu-west-2.amazonaws.com/worker@{worker}"));
    assert_eq!(sample["findings_path"], format!("/v2/images/{worker}/vulnerabilities"));
    assert_eq!(sample["findings_url"], format!("https://api.example.com/v2/images/{worker}/vulnerabilities"));

    // Lambda redelivers the whole batch: nothing fires twice.
    let again = notifications.deliver(event).await;
    assert!(again.batch_item_failures.is_empty());
    assert!(notifications.fired().await.is_empty());
}

#[tokio::test]
async fn an_image_in_several_contexts_fires_once_per_subscription() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let subscription = harness.subscribe("admin", "c/", true).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1), ("b", "app:1", 1)])).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("z", "app:1", 1)])).await;
    let event = notifications.next_event().await;
    notifications.deliver(event).await;
    let fired = notifications.fired().await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["subscription_id"], subscription);
    assert_eq!(fired[0]["image_digest"], digest(1));
}

#[tokio::test]
async fn removals_departures_and_refreshes_fire_nothing() {
    let harness = Harness::new(120, true).await;
    let mut notifications = harness.notifications().await;
    harness.subscribe("admin", "c", true).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1), ("a", "app:2", 2), ("b", "app:3", 3)])).await;
    let first = notifications.next_event().await;
    notifications.deliver(first).await;
    assert_eq!(notifications.fired().await.len(), 3);

    // Overwrite drops image 2, a day later refreshes image 1, then namespace b is deleted.
    harness.clock.set(day(3));
    harness.post_k8s(&k8s_report("c", day(3), &[("a", "app:1", 1)])).await;
    let delete = harness
        .call("delete-inventories.json", None, Some("admin"), &[("inventory_type", "kubernetes"), ("context", "c/b")])
        .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    let changes = notifications.next_event().await;
    let names: Vec<&str> = changes.records.iter().map(|record| record.event_name.as_str()).collect();
    assert!(names.contains(&"REMOVE") && names.contains(&"MODIFY"), "{names:?}");
    let response = notifications.deliver(changes).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(notifications.fired().await.is_empty());
}

#[tokio::test]
async fn an_unreadable_record_is_skipped_and_the_rest_of_the_batch_succeeds() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    harness.subscribe("admin", "c", true).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1)])).await;
    let mut event = notifications.next_event().await;
    let image_index = event
        .records
        .iter()
        .position(|record| {
            record.change.new_image.inner().get("kind") == Some(&serde_dynamo::AttributeValue::S("image".into()))
        })
        .expect("an image insert");
    let mut poison = event.records[image_index].clone();
    poison.change.sequence_number = Some("99999999999999999999".to_owned());
    poison.change.new_image.inner_mut().remove("context");
    event.records.insert(0, poison);

    // It can never succeed: retrying it would only hold its shard up.
    let response = notifications.deliver(event).await;
    assert!(response.batch_item_failures.is_empty());
    let fired = notifications.fired().await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["image_digest"], digest(1));
}

#[tokio::test]
async fn a_failed_put_stops_the_batch_gives_the_claim_back_and_the_retry_fires_once() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    harness.subscribe("admin", "c", true).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1), ("b", "app:2", 2)])).await;
    let event = notifications.next_event().await;
    let images: Vec<&str> = event
        .records
        .iter()
        .filter(|record| {
            record.change.new_image.inner().get("kind") == Some(&serde_dynamo::AttributeValue::S("image".into()))
        })
        .filter_map(|record| record.change.sequence_number.as_deref())
        .collect();
    assert_eq!(images.len(), 2);

    let failing = notifications.notifier_with(&harness, FailNth::new("PutEvents", 1));
    let response = Notifications::deliver_to(&failing, event.clone()).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap()).collect();
    assert_eq!(failed, [images[0]], "the first failed record is reported and the batch stops there");
    assert!(notifications.fired().await.is_empty(), "nothing after it was processed");

    // Lambda delivers again from the failed record: each image fires exactly once.
    let response = notifications.deliver(event.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    let mut fired: Vec<String> =
        notifications.fired().await.iter().map(|detail| detail["image_digest"].as_str().unwrap().to_owned()).collect();
    fired.sort();
    assert_eq!(fired, [digest(1), digest(2)]);
    notifications.deliver(event).await;
    assert!(notifications.fired().await.is_empty());
}

#[tokio::test]
async fn keys_match_whole_context_components() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let exact = harness.subscribe("admin", "prod-eu-1", true).await;
    harness.post_k8s(&k8s_report("prod-eu-10", day(0), &[("a", "app:1", 1)])).await;
    harness.post_k8s(&k8s_report("prod-eu-1", day(0), &[("a", "app:2", 2)])).await;
    let event = notifications.next_event().await;
    notifications.deliver(event).await;
    let fired = notifications.fired().await;
    assert_eq!(fired_pairs(&fired), [(exact, "prod-eu-1/a".to_owned(), digest(2))]);
}

/// The sequence that once stopped the local stack's stream reader for good: a failed
/// transaction (the duplicate subscription) made moto replace the stream the reader followed.
#[tokio::test]
async fn the_local_stream_reader_survives_a_failed_transaction() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    assert!(notifications.next_event().await.records.is_empty());
    let subscription = harness.subscribe("admin", ECS_CLUSTER, false).await;
    let body =
        serde_json::json!({"subscription_key": ECS_CLUSTER, "subscription_type": "runtime_inventory"}).to_string();
    let duplicate = harness.call("post-subscriptions.json", Some(&body), Some("admin"), &[]).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let path = format!("/v1/subscriptions/{subscription}");
    let activated =
        harness.call_path("put-subscription.json", Some(&path), Some(r#"{"active":true}"#), Some("admin"), &[]).await;
    assert_eq!(activated.status, StatusCode::OK);

    let mut report = sample_report("post-ecs-inventory.json");
    report["containers"].as_array_mut().unwrap().truncate(1);
    harness.post_ecs(&report).await;
    let event = notifications.next_event().await;
    notifications.deliver(event).await;
    let fired = notifications.fired().await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["subscription_id"], subscription);

    // And it keeps reading.
    report["timestamp"] = "2026-11-20T10:20:00Z".into();
    report["containers"][0]["image_digest"] = digest(9).into();
    harness.post_ecs(&report).await;
    let event = notifications.next_event().await;
    notifications.deliver(event).await;
    assert_eq!(notifications.fired().await.len(), 1);
}

#[tokio::test]
async fn a_claim_held_by_a_crashed_delivery_is_retried_until_it_runs_out_then_sent_once() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let subscription = harness.subscribe("admin", "c", true).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1)])).await;
    let event = notifications.next_event().await;

    // A delivery claimed the marker and died before sending.
    let until = harness.clock.now() + notifier::notify::CLAIM_DURATION;
    let marker = [
        ("pk", AttributeValue::S(format!("admin#fired#{subscription}"))),
        ("sk", AttributeValue::S(digest(1))),
        ("kind", AttributeValue::S("fired".into())),
        ("state", AttributeValue::S("claimed".into())),
        ("claim_token", AttributeValue::S("crashed".into())),
        ("claim_until", AttributeValue::N(until.timestamp().to_string())),
    ];
    let mut put = harness.dynamodb.put_item().table_name(&harness.table);
    for (name, value) in marker {
        put = put.item(name, value);
    }
    put.send().await.unwrap();

    // Not confirmed sent: the record is retried, not dropped.
    let response = notifications.deliver(event.clone()).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(notifications.fired().await.is_empty());

    harness.clock.set(until + TimeDelta::seconds(1));
    let response = notifications.deliver(event.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(notifications.fired().await.len(), 1);
    notifications.deliver(event).await;
    assert!(notifications.fired().await.is_empty(), "sent once");
}

/// A crash between `PutEvents` and marking the event sent sends it again once the claim runs
/// out: delivery is at least once, and both sends carry the same `detail.event_id`.
#[tokio::test]
async fn an_event_sent_again_after_a_lost_confirmation_carries_the_same_event_id() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    harness.subscribe("admin", "c", true).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1)])).await;
    let event = notifications.next_event().await;
    // The image's running place (the worklist's), claims of the added and the scheduled event,
    // then their confirmations: the second is lost. History off: its writes would shift which
    // PutItem is the fifth.
    let sdk = harness.sdk_for("notifier").with_interceptor(integration_tests::FailNth::new("PutItem", 5));
    let crashing = notifications.notifier(&harness, sdk, &[(notifier::HISTORY_RETENTION_DAYS, "0")]);
    let response = Notifications::deliver_to(&crashing, event.clone()).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let first = notifications.fired().await;
    assert_eq!(first.len(), 1);

    harness.clock.set(harness.clock.now() + notifier::notify::CLAIM_DURATION + TimeDelta::seconds(1));
    assert!(notifications.deliver(event).await.batch_item_failures.is_empty());
    let again = notifications.fired().await;
    assert_eq!(again.len(), 1, "sent again: at least once");
    let id = first[0][notifier::notify::EVENT_ID_FIELD].as_str().expect("an event id");
    assert_eq!(again[0][notifier::notify::EVENT_ID_FIELD].as_str(), Some(id), "the same id to deduplicate on");
    assert_eq!(first[0]["image_digest"], again[0]["image_digest"]);
}

/// Issue 32, item 11: the requests the notifier makes for a burst of 100 added images with an
/// active subscription (200 events), exactly. Reads shared by the batch happen once, events go
/// ten to a `PutEvents`; what remains per image is its history and each event's claim and
/// settlement. `NOTIFIER_BURST` (default 100) sizes the burst for BENCHMARKS.md's drain time.
#[tokio::test]
async fn a_burst_of_added_images_costs_a_fixed_number_of_requests_per_image() {
    let images: u64 = std::env::var("NOTIFIER_BURST").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    harness.subscribe("admin", "prod", true).await;
    let containers: Vec<(String, String, u64)> =
        (0..images).map(|n| (format!("ns-{}", n % 10), format!("app-{n}:1"), n + 1)).collect();
    let containers: Vec<(&str, &str, u64)> =
        containers.iter().map(|(ns, tag, n)| (ns.as_str(), tag.as_str(), *n)).collect();
    let answer = harness.post_k8s(&k8s_report("prod", integration_tests::day(0), &containers)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let event = notifications.next_event().await;
    let added = event.records.iter().filter(|record| record.event_name == "INSERT").count();
    let events_counter = integration_tests::RequestCounter::default();
    let notifier = notifications.notifier_with(&harness, events_counter.clone());
    harness.requests.reset();
    let started = std::time::Instant::now();
    let response = Notifications::deliver_to(&notifier, event).await;
    let drained = started.elapsed();
    assert!(response.batch_item_failures.is_empty());
    let operations = ["GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "BatchWriteItem"];
    let counts: Vec<(&str, u64)> = operations.iter().map(|op| (*op, harness.requests.get(op))).collect();
    let put_events = events_counter.get("PutEvents");
    println!("{added} records ({images} images added) drained in {drained:?}: {counts:?}, PutEvents {put_events}");
    let fired = notifications.fired().await;
    assert_eq!(fired.len() as u64, images, "one scheduled event per image");
    // Before issue 32 (one record at a time): 100 GetItem (each image's findings), 1 Query, 700
    // PutItem (3 interval writes and 2 claims and 2 settlements an image), 100 PutEvents.
    // Now: the account's subscriptions, package watches and findings flag once; per image, its
    // open interval (conditional), its running place (the worklist's; an account without findings
    // has no pairs to write) and two claims and settlements; its interval copies and the
    // contexts' list entries batched; the events ten to a request.
    let copies = (images + 10).div_ceil(25);
    let expected = [("GetItem", 1), ("Query", 2), ("PutItem", 6 * images), ("BatchWriteItem", copies)];
    for (operation, count) in expected {
        assert_eq!(harness.requests.get(operation), count, "{operation}");
    }
    assert_eq!(put_events, (2 * images).div_ceil(10));
}

//! `Runtime Inventory Image Added` and `Image Removed`: every image entering or leaving any
//! context puts one event, with why it left; refreshes, departures and lock writes put none.

use integration_tests::{day, digest, k8s_report, FailNth, Harness, Notifications};
use inventory_store::bus::{ADDED_DETAIL_TYPE, REMOVED_DETAIL_TYPE};
use lambda_http::http::StatusCode;
use notifier::notify::TTL_PRINCIPAL;
use serde_json::Value;

/// (detail-type, context, digest, reason) of each added or removed event delivered, sorted.
async fn lifecycle(notifications: &Notifications) -> Vec<(String, String, String, String)> {
    let mut events: Vec<_> = notifications
        .received()
        .await
        .iter()
        .filter(|event| event["detail-type"] == ADDED_DETAIL_TYPE || event["detail-type"] == REMOVED_DETAIL_TYPE)
        .map(|event| {
            let detail = &event["detail"];
            let text = |value: &Value| value.as_str().unwrap_or("").to_owned();
            (
                text(&event["detail-type"]),
                text(&detail["context"]),
                text(&detail["image_digest"]),
                text(&detail["reason"]),
            )
        })
        .collect();
    events.sort();
    events
}

fn added(context: &str, n: u64) -> (String, String, String, String) {
    (ADDED_DETAIL_TYPE.to_owned(), context.to_owned(), digest(n), String::new())
}

fn removed(context: &str, n: u64, reason: &str) -> (String, String, String, String) {
    (REMOVED_DETAIL_TYPE.to_owned(), context.to_owned(), digest(n), reason.to_owned())
}

#[tokio::test]
async fn images_entering_and_leaving_contexts_put_one_event_each_with_the_reason() {
    let harness = Harness::new(120, true).await;
    let mut notifications = harness.notifications().await;
    let report = k8s_report("c", day(0), &[("a", "app:1", 1), ("a", "app:2", 2), ("b", "app:3", 3)]);
    assert_eq!(harness.post_k8s(&report).await.status, StatusCode::CREATED);
    let first = notifications.next_event().await;
    assert!(notifications.deliver(first.clone()).await.batch_item_failures.is_empty());
    assert_eq!(lifecycle(&notifications).await, [added("c/a", 1), added("c/a", 2), added("c/b", 3)]);
    let sample = &first.records.iter().find(|record| record.event_name == "INSERT").unwrap().event_id;
    assert!(!sample.is_empty());
    // Lambda delivers the batch again: nothing is sent twice.
    assert!(notifications.deliver(first).await.batch_item_failures.is_empty());
    assert_eq!(lifecycle(&notifications).await, []);

    // Overwrite drops image 2 and a day later refreshes image 1; then namespace b is deleted.
    harness.clock.set(day(3));
    assert_eq!(harness.post_k8s(&k8s_report("c", day(3), &[("a", "app:1", 1)])).await.status, StatusCode::CREATED);
    let delete = harness
        .call("delete-inventories.json", None, Some("admin"), &[("inventory_type", "kubernetes"), ("context", "c/b")])
        .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    let changes = notifications.next_event().await;
    assert!(notifications.deliver(changes).await.batch_item_failures.is_empty());
    assert_eq!(lifecycle(&notifications).await, [removed("c/a", 2, "overwritten"), removed("c/b", 3, "deleted")]);
}

#[tokio::test]
async fn departures_and_refreshes_put_nothing_and_ttl_expiry_says_expired() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1), ("a", "app:2", 2)])).await;
    let first = notifications.next_event().await;
    notifications.deliver(first).await;
    assert_eq!(lifecycle(&notifications).await.len(), 2);

    // Without overwrite image 2 departs (it stays listed until the TTL) and image 1 is refreshed.
    harness.clock.set(day(3));
    harness.post_k8s(&k8s_report("c", day(3), &[("a", "app:1", 1)])).await;
    let changes = notifications.next_event().await;
    assert!(changes.records.iter().any(|record| record.event_name == "MODIFY"));
    assert!(notifications.deliver(changes).await.batch_item_failures.is_empty());
    assert_eq!(lifecycle(&notifications).await, []);

    // DynamoDB's TTL deletes image 2 (moto runs no TTL: the deletion is made by hand and its
    // record given the TTL service's identity, as AWS documents it).
    let delete = harness
        .call(
            "delete-inventories.json",
            None,
            Some("admin"),
            &[("inventory_type", "kubernetes"), ("context", "c/a"), ("image_digest", &digest(2))],
        )
        .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    let mut expiry = notifications.next_event().await;
    let image = serde_dynamo::AttributeValue::S("image".into());
    expiry
        .records
        .retain(|record| record.event_name == "REMOVE" && record.change.old_image.get("kind") == Some(&image));
    assert_eq!(expiry.records.len(), 1, "the image record; its container and pod records are the rest");
    let mut identity = aws_lambda_events::event::dynamodb::UserIdentity::default();
    identity.type_ = "Service".to_owned();
    identity.principal_id = TTL_PRINCIPAL.to_owned();
    expiry.records[0].user_identity = Some(identity);
    expiry.records[0].change.old_image.remove("removal");

    let failing = notifications.notifier_with(&harness, FailNth::new("PutEvents", 1));
    let response = Notifications::deliver_to(&failing, expiry.clone()).await;
    assert_eq!(response.batch_item_failures.len(), 1, "a failed put is retried");
    assert_eq!(lifecycle(&notifications).await, []);
    assert!(Notifications::deliver_to(&failing, expiry.clone()).await.batch_item_failures.is_empty());
    assert!(notifications.deliver(expiry).await.batch_item_failures.is_empty());
    assert_eq!(lifecycle(&notifications).await, [removed("c/a", 2, "expired")], "once");
}

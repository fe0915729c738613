//! `DELETE /v2/inventories` against a moto server.

use integration_tests::{day, digest, k8s_report, listed, sample_report, Harness};
use inventory_store::keys::inventory_pk;
use inventory_store::model::InventoryType;
use lambda_http::http::StatusCode;

const ECS_CLUSTER: &str = "arn:aws:ecs:eu-west-2:123456789012:cluster/myclustername";
const DELETE: &str = "delete-inventories.json";

fn pair(context: &str, image: u64) -> (String, String) {
    (context.to_owned(), digest(image))
}

async fn stored_keys(harness: &Harness) -> Vec<(String, String)> {
    let mut keys: Vec<_> = harness
        .stored_items()
        .await
        .iter()
        .map(|item| (item["pk"].as_s().unwrap().clone(), item["sk"].as_s().unwrap().clone()))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn parameter_errors_name_the_parameter() {
    let harness = Harness::new(120, false).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1)])).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("context", "c/a")], "inventory_type"),
        (&[("inventory_type", "docker"), ("context", "c/a")], "inventory_type"),
        (&[("inventory_type", "kubernetes")], "context"),
        (&[("inventory_type", "kubernetes"), ("context", "")], "context"),
        (&[("inventory_type", "kubernetes"), ("context", "c")], "context"),
        (&[("inventory_type", "kubernetes"), ("context", "c/a"), ("image_digest", "sha256:zz")], "image_digest"),
    ];
    for (query, parameter) in cases {
        let response = harness.call(DELETE, None, Some("admin"), query).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query:?}");
        assert_eq!(response.body["detail"]["field"], *parameter, "{query:?}");
    }
    assert_eq!(harness.list("admin", &[]).await.len(), 1, "nothing was deleted");
}

#[tokio::test]
async fn deleting_a_context_removes_it_and_only_it() {
    let harness = Harness::new(120, false).await;
    let report = k8s_report("c", day(0), &[("a", "app:1", 1), ("a", "app:2", 2), ("b", "app:1", 1)]);
    harness.post_k8s(&report).await;
    harness.post_k8s(&k8s_report("other", day(0), &[("a", "app:1", 1)])).await;
    harness.call("post-kubernetes-inventory.json", Some(&report.to_string()), Some("team"), &[]).await;
    harness.post_ecs(&sample_report("post-ecs-inventory.json")).await;
    let before = stored_keys(&harness).await;

    let response =
        harness.call(DELETE, None, Some("admin"), &[("inventory_type", "kubernetes"), ("context", "c/a")]).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.body, serde_json::Value::Null);

    let after = stored_keys(&harness).await;
    let removed: Vec<_> = before.iter().filter(|key| !after.contains(key)).collect();
    // 2 images + 2 containers + 2 pods + 1 node + the context record.
    assert_eq!(removed.len(), 8, "{removed:?}");
    assert!(removed.iter().all(|(pk, sk)| pk.starts_with("admin#") && (sk.starts_with("c/a") || pk.ends_with("#c/a"))));
    let kubernetes = harness.list("admin", &[("inventory_type", "kubernetes")]).await;
    assert_eq!(listed(&kubernetes), [pair("c/b", 1), pair("other/a", 1)]);
    assert_eq!(harness.list("team", &[]).await.len(), 3, "another account keeps its c/a");
    assert_eq!(harness.list("admin", &[("inventory_type", "ecs")]).await.len(), 2);

    let again =
        harness.call(DELETE, None, Some("admin"), &[("inventory_type", "kubernetes"), ("context", "c/a")]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.body["httpcode"], 404);
}

#[tokio::test]
async fn deleting_one_image_keeps_the_rest_of_the_context() {
    let harness = Harness::new(120, false).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1), ("a", "app:2", 2), ("b", "app:1", 1)])).await;
    let before = stored_keys(&harness).await;
    let (first, absent) = (digest(1), digest(9));
    let query = [("inventory_type", "kubernetes"), ("context", "c/a"), ("image_digest", first.as_str())];
    let response = harness.call(DELETE, None, Some("admin"), &query).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(listed(&harness.list("admin", &[]).await), [pair("c/a", 2), pair("c/b", 1)]);
    let after = stored_keys(&harness).await;
    let removed: Vec<_> = before.iter().filter(|key| !after.contains(key)).map(|(_, sk)| sk.clone()).collect();
    // The image, its container and its pod; the node still runs the pod of image 2.
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(removed.iter().any(|sk| sk.starts_with("p#")));
    assert!(!removed.iter().any(|sk| sk.starts_with("n#")));

    let missing = harness.call(DELETE, None, Some("admin"), &query).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let other_image = [("inventory_type", "kubernetes"), ("context", "c/a"), ("image_digest", absent.as_str())];
    assert_eq!(harness.call(DELETE, None, Some("admin"), &other_image).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ecs_contexts_are_cluster_arns() {
    let harness = Harness::new(120, false).await;
    harness.post_ecs(&sample_report("post-ecs-inventory.json")).await;
    let unknown = [("inventory_type", "ecs"), ("context", "arn:aws:ecs:eu-west-2:123456789012:cluster/other")];
    assert_eq!(harness.call(DELETE, None, Some("admin"), &unknown).await.status, StatusCode::NOT_FOUND);
    let wrong_account = [("inventory_type", "ecs"), ("context", ECS_CLUSTER)];
    assert_eq!(harness.call(DELETE, None, Some("team"), &wrong_account).await.status, StatusCode::NOT_FOUND);
    let response =
        harness.call(DELETE, None, Some("admin"), &[("inventory_type", "ecs"), ("context", ECS_CLUSTER)]).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(harness.stored_items().await.is_empty());
}

#[tokio::test]
async fn a_context_with_more_than_a_thousand_items_is_deleted_whole() {
    let harness = Harness::new(120, false).await;
    let containers: Vec<(&str, &str, u64)> = (0..600).map(|i| ("big", "app:1", i % 50)).collect();
    harness.post_k8s(&k8s_report("c", day(0), &containers)).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("small", "app:1", 1)])).await;
    let stored = harness.stored_items().await.len();
    assert!(stored > 1_200, "{stored} items");
    let response =
        harness.call(DELETE, None, Some("admin"), &[("inventory_type", "kubernetes"), ("context", "c/big")]).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(harness.stored_items().await.len(), 5, "only c/small remains: image, container, pod, node, context");
}

#[tokio::test]
async fn a_later_report_stores_the_context_again_as_new() {
    let harness = Harness::new(120, false).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1)])).await;
    harness.call(DELETE, None, Some("admin"), &[("inventory_type", "kubernetes"), ("context", "c/a")]).await;
    assert!(harness.list("admin", &[]).await.is_empty());
    let response = harness.post_k8s(&k8s_report("c", day(3), &[("a", "app:1", 1)])).await;
    assert_eq!(response.body["images_added"], 1);
    let items = harness.list("admin", &[]).await;
    assert_eq!(items[0]["first_seen"], "2026-11-23T10:15:00.000Z");
}

#[tokio::test]
async fn a_context_being_ingested_is_not_deleted() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let harness = Harness::new(120, false).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1)])).await;
    let key = |pk: &str, sk: &str| {
        std::collections::HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    };
    let record = harness
        .dynamodb
        .get_item()
        .table_name(&harness.table)
        .set_key(Some(key(&inventory_pk("admin", InventoryType::Kubernetes, "c/a"), "c/a")))
        .send()
        .await
        .unwrap()
        .item
        .expect("context record");
    // Another writer holds the context's lock.
    let mut locked = record.clone();
    locked.insert("lock_owner".into(), AttributeValue::S("someone".into()));
    locked.insert("lock_until".into(), AttributeValue::N((day(0).timestamp() + 3600).to_string()));
    harness.dynamodb.put_item().table_name(&harness.table).set_item(Some(locked)).send().await.unwrap();

    let query = [("inventory_type", "kubernetes"), ("context", "c/a")];
    let busy = harness.call(DELETE, None, Some("admin"), &query).await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert_eq!(harness.list("admin", &[]).await.len(), 1, "nothing was deleted");

    // Once the lock has expired the delete goes through.
    harness.clock.set(day(0) + chrono::TimeDelta::hours(2));
    assert_eq!(harness.call(DELETE, None, Some("admin"), &query).await.status, StatusCode::NO_CONTENT);
    assert!(harness.list("admin", &[]).await.is_empty());
}

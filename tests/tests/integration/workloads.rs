//! Which workloads run an image: derived at ingest from pod names and labels (Kubernetes) or the
//! task's service (ECS), listed on every `GET /v2/inventories` entry and usable as filters.

use integration_tests::{day, digest, sample_report, Harness};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

fn pod(name: &str, uid: &str, labels: Value) -> Value {
    json!({"name": name, "uid": uid, "namespace_uid": "ns-prod", "labels": labels})
}

fn container(uid: &str, image: u64) -> Value {
    json!({"id": format!("containerd://{uid}"), "name": "main", "pod_uid": uid,
        "image_tag": format!("registry.example.com/app-{image}:1"), "image_digest": digest(image)})
}

fn report() -> Value {
    json!({
        "cluster_name": "prod-eu-1",
        "timestamp": day(0).to_rfc3339(),
        "namespaces": [{"name": "prod", "uid": "ns-prod"}],
        "pods": [
            pod("payments-api-7d9f8c6b5-x2x9z", "p1", json!({"pod-template-hash": "7d9f8c6b5"})),
            pod("payments-api-7d9f8c6b5-q8w4n", "p2", json!({"pod-template-hash": "7d9f8c6b5"})),
            pod("web-0", "p3", json!({"controller-revision-hash": "web-6d8f7c9b5",
                "statefulset.kubernetes.io/pod-name": "web-0"})),
            pod("backup-28912345-x7k2p", "p4", json!({"batch.kubernetes.io/job-name": "backup-28912345"})),
            pod("payments-api-7d9f8c6b5-m3k8d", "p5", json!({"pod-template-hash": "7d9f8c6b5"})),
            pod("payments-api-7d9f8c6b5-t6v2c", "p6", json!({"pod-template-hash": "7d9f8c6b5"})),
        ],
        // The CronJob's image sorts after three images it does not run.
        "containers": [container("p1", 1), container("p2", 1), container("p3", 1), container("p4", 9),
            container("p5", 2), container("p6", 3)],
    })
}

fn workloads_of(items: &[Value], image: u64) -> Value {
    let entry = items.iter().find(|item| item["image_digest"] == digest(image)).expect("the image is listed");
    entry["workloads"].clone()
}

#[tokio::test]
async fn each_image_entry_names_the_workloads_that_run_it() {
    let harness = Harness::new(120, false).await;
    assert_eq!(harness.post_k8s(&report()).await.status, StatusCode::CREATED);
    let items = harness.list("admin", &[]).await;
    assert_eq!(
        workloads_of(&items, 1),
        json!([{"kind": "Deployment", "name": "payments-api", "containers": 2},
            {"kind": "StatefulSet", "name": "web", "containers": 1}])
    );
    assert_eq!(workloads_of(&items, 9), json!([{"kind": "CronJob", "name": "backup", "containers": 1}]));

    let digests = |items: Vec<Value>| -> Vec<String> {
        items.iter().map(|item| item["image_digest"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(digests(harness.list("admin", &[("workload_kind", "cronjob")]).await), [digest(9)]);
    assert_eq!(digests(harness.list("admin", &[("workload", "pay*")]).await), [1, 2, 3].map(digest));
    let exact = harness.list("admin", &[("workload", "web"), ("workload_kind", "StatefulSet")]).await;
    assert_eq!(digests(exact), [digest(1)]);
    assert!(harness.list("admin", &[("workload", "web"), ("workload_kind", "Deployment")]).await.is_empty());
    // Paged, the filter still reads past the entries it drops.
    assert_eq!(digests(harness.list("admin", &[("workload_kind", "CronJob"), ("limit", "1")]).await), [digest(9)]);

    let bad = harness.call("get-inventories.json", None, Some("admin"), &[("workload_kind", "ReplicaSet")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.to_string().contains("workload_kind"), "{}", bad.body);
}

#[tokio::test]
async fn ecs_images_are_run_by_their_service() {
    let harness = Harness::new(120, false).await;
    assert_eq!(harness.post_ecs(&sample_report("post-ecs-inventory.json")).await.status, StatusCode::CREATED);
    let items = harness.list("admin", &[("inventory_type", "ecs")]).await;
    assert_eq!(items.len(), 2, "nginx and the worker, both in one task of the `web` service");
    for item in &items {
        assert_eq!(item["workloads"], json!([{"kind": "EcsService", "name": "web", "containers": 1}]), "{item}");
    }
}

//! What an unchanged report costs to read, against a context's size: request counts at the SDK's
//! HTTP layer, read units from the stored items' sizes as DynamoDB bills them (4 KB per
//! strongly consistent read unit). The design before content hashes read the whole context on
//! every report; that cost is computed from the same items, side by side. Numbers: BENCHMARKS.md.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::TimeDelta;
use integration_tests::{day, digest, Harness};
use lambda_http::http::StatusCode;
use serde_json::json;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// DynamoDB's item size: attribute names plus values (numbers about one byte per two digits).
fn item_size(item: &Item) -> usize {
    fn value_size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + 1 + value_size(v)).sum::<usize>(),
            AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
            _ => 1,
        }
    }
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn read_units(bytes: usize) -> usize {
    bytes.div_ceil(4096).max(1)
}

/// One namespace of `containers` pods, each with a few hundred bytes of labels and annotations.
fn report(containers: usize, minute: i64) -> serde_json::Value {
    let labels = json!({"app.kubernetes.io/name": "payments-api", "app.kubernetes.io/part-of": "payments",
        "app.kubernetes.io/version": "4.2.0", "pod-template-hash": "5c4b7d9f8", "team": "payments"});
    let annotations = json!({"kubectl.kubernetes.io/restartedAt": "2026-11-19T08:00:00Z",
        "prometheus.io/scrape": "true", "prometheus.io/port": "9090"});
    json!({
        "cluster_name": "prod-eu-1",
        "timestamp": (day(0) + TimeDelta::minutes(minute)).to_rfc3339(),
        "namespaces": [{"name": "payments", "uid": "ns-payments"}],
        "nodes": [{"name": "node-a", "uid": "node-a"}],
        "pods": (0..containers).map(|i| json!({"name": format!("api-5c4b7d9f8-{i:05}"), "uid": format!("pod-{i:08}"),
            "namespace_uid": "ns-payments", "node_uid": "node-a", "labels": labels, "annotations": annotations})).collect::<Vec<_>>(),
        "containers": (0..containers).map(|i| json!({"id": format!("containerd://{i:064x}"), "name": "api",
            "pod_uid": format!("pod-{i:08}"), "image_tag": format!("registry.example.com/payments/api:{}", i % 50),
            "image_digest": digest(i as u64 % 50)})).collect::<Vec<_>>(),
    })
}

struct Cost {
    requests: (u64, u64, u64),
    read_units: usize,
    full_read_units: usize,
}

async fn unchanged_report_cost(containers: usize) -> Cost {
    let harness = Harness::new(120, false).await;
    assert_eq!(harness.post_k8s(&report(containers, 0)).await.status, StatusCode::CREATED);
    harness.requests.reset();
    let repost = harness.post_k8s(&report(containers, 5)).await;
    assert_eq!(repost.body["images_unchanged"], 50, "{}", repost.body);
    let requests =
        (harness.requests.get("GetItem"), harness.requests.get("Query"), harness.requests.writes());

    let items = harness.stored_items().await;
    let is_record = |item: &&Item| item.get("kind").and_then(|k| k.as_s().ok()).is_some_and(|k| k == "context");
    let record = items.iter().find(is_record).expect("the context record");
    let of_partition = |prefix: &str| -> usize {
        items.iter().filter(|item| !is_record(item)).filter(|item| item["pk"].as_s().unwrap().starts_with(prefix)).map(item_size).sum()
    };
    let (images, details) = (of_partition("admin#inv#"), of_partition("admin#det#"));
    Cost {
        requests,
        read_units: read_units(item_size(record)),
        // Before: the record, then every image and every detail of the context, on every report.
        full_read_units: read_units(item_size(record)) + read_units(images) + read_units(details),
    }
}

#[tokio::test]
async fn an_unchanged_report_reads_the_same_whatever_the_context_size() {
    let mut sizes = vec![500, 5_000];
    if std::env::var_os("READ_COST_LARGE").is_some() {
        sizes.push(20_000);
    }
    let mut costs = Vec::new();
    for containers in sizes {
        let cost = unchanged_report_cost(containers).await;
        println!(
            "unchanged re-post of {containers} containers: GetItem/Query/writes {:?}, {} read units; \
             reading the whole context: {} read units ({:.0}x)",
            cost.requests,
            cost.read_units,
            cost.full_read_units,
            cost.full_read_units as f64 / cost.read_units as f64
        );
        costs.push(cost);
    }
    for cost in &costs {
        assert_eq!(cost.requests, (1, 0, 1), "one record read, no item read, one conditional write");
        assert_eq!(cost.read_units, costs[0].read_units, "flat in the context's size");
    }
    assert!(costs.last().unwrap().full_read_units > 100 * costs[0].read_units);
}

//! Reports, digests and days the tests build their inventories from.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

/// Reports in the fixtures are dated 2026-11-20 (day 0).
pub fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap() + chrono::TimeDelta::days(n)
}

pub fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

/// A Kubernetes report for `cluster` with one pod per container.
/// `containers` lists (namespace, image tag, digest number) per container.
pub fn k8s_report(cluster: &str, timestamp: DateTime<Utc>, containers: &[(&str, &str, u64)]) -> Value {
    let mut namespaces: Vec<&str> = containers.iter().map(|(ns, _, _)| *ns).collect();
    namespaces.sort();
    namespaces.dedup();
    serde_json::json!({
        "cluster_name": cluster,
        "timestamp": timestamp.to_rfc3339(),
        "namespaces": namespaces.iter().map(|ns| serde_json::json!({"name": ns, "uid": format!("uid-{ns}")})).collect::<Vec<_>>(),
        "nodes": [{"name": "node-a", "uid": "node-a"}],
        "pods": containers.iter().enumerate().map(|(i, (ns, _, _))| serde_json::json!({
            "name": format!("pod-{i}"), "uid": format!("{cluster}-pod-{i}"), "namespace_uid": format!("uid-{ns}"), "node_uid": "node-a"
        })).collect::<Vec<_>>(),
        "containers": containers.iter().enumerate().map(|(i, (_, tag, d))| serde_json::json!({
            "id": format!("containerd://{cluster}-{i}"), "name": "app", "pod_uid": format!("{cluster}-pod-{i}"),
            "image_tag": tag, "image_digest": digest(*d)
        })).collect::<Vec<_>>(),
    })
}

/// `(context, image_digest)` pairs of listed items, sorted.
pub fn listed(items: &[Value]) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = items
        .iter()
        .map(|item| (item["context"].as_str().unwrap().to_owned(), item["image_digest"].as_str().unwrap().to_owned()))
        .collect();
    pairs.sort();
    pairs
}

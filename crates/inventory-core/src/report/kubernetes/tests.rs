use super::*;
use crate::report::Rejection;
use crate::report::{BuiltReport, ContextSnapshot};
use chrono::TimeZone;
use serde_json::json;

const D1: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";
const D2: &str = "sha256:996fe12b25dfa8e26af9007549163024a4833a0052f44ac87461273e97d9a9ac";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 16, 0).unwrap()
}

fn k8s() -> serde_json::Value {
    json!({
        "cluster_name": "prod",
        "timestamp": "2026-11-20T10:15:00.123456Z",
        "namespaces": [{"name": "default", "uid": "ns-1"}, {"name": "payments", "uid": "ns-2", "labels": null}],
        "nodes": [{"name": "n1", "uid": "node-1", "arch": "amd64", "kernel_version": 6, "labels": {"a": "b"}}],
        "pods": [
            {"name": "web", "uid": "pod-1", "namespace_uid": "ns-1", "node_uid": "node-1"},
            {"name": "api", "uid": "pod-2", "namespace_uid": "ns-2", "node_uid": "node-1"}
        ],
        "containers": [
            {"id": "c1", "name": "nginx", "pod_uid": "pod-1", "image_tag": "nginx:1.27", "image_digest": D1},
            {"id": "c2", "name": "api", "pod_uid": "pod-2", "image_tag": "api:2", "image_digest": D2},
            {"id": "c3", "name": "side", "pod_uid": "pod-2", "image_tag": "api:latest", "image_digest": D2},
            {"id": "", "name": "pending", "pod_uid": "pod-2", "image_tag": "busybox", "image_digest": ""}
        ],
        "unknown_field": true
    })
}

fn parse(value: &serde_json::Value) -> Result<BuiltReport, FieldError> {
    parse_kubernetes(value.to_string().as_bytes(), now()).map(ParsedReport::built)
}

fn skipped_fields(report: &BuiltReport) -> Vec<&str> {
    report.notes.skipped.iter().map(|note| note.field.as_str()).collect()
}

#[test]
fn kubernetes_report_splits_into_namespace_contexts() {
    let report = parse(&k8s()).unwrap();
    assert_eq!(report.timestamp.to_rfc3339(), "2026-11-20T10:15:00.123+00:00");
    let names: Vec<_> = report.contexts.iter().map(|c| c.context.as_str()).collect();
    assert_eq!(names, ["prod/default", "prod/payments"]);
    assert!(report.notes.is_empty(), "{:?}", report.notes);

    let payments = &report.contexts[1];
    let api = &payments.images[D2];
    assert_eq!(api.container_count, 2);
    assert_eq!(api.tag, "docker.io/library/api:2");
    let pending = &payments.images["tag:docker.io/library/busybox:latest"];
    assert_eq!((pending.digest.as_ref(), pending.container_count), (None, 1));
    // containers + pod + node of the namespace
    assert_eq!(payments.details.len(), 5);
    assert!(payments.details.contains_key("c#pod-2/pending"));
    let Detail::K8sNode { attributes, .. } = &payments.details["n#node-1"] else { panic!() };
    assert_eq!(attributes.len(), 1, "string attributes are kept, others ignored: {attributes:?}");
    assert_eq!(payments.namespace.as_ref().unwrap().uid, "ns-2");
}

#[test]
fn report_level_problems_reject_the_report_naming_the_field() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({"timestamp": "2026-11-20T10:15:00Z"}), "cluster_name"),
        (json!({"cluster_name": "c"}), "timestamp"),
        (json!({"cluster_name": " ", "timestamp": "2026-11-20T10:15:00Z"}), "cluster_name"),
        (json!({"cluster_name": "c", "timestamp": "yesterday"}), "timestamp"),
        (json!({"cluster_name": "c", "timestamp": "2026-11-21T10:15:00Z"}), "timestamp"),
        (json!({"cluster_name": "a#b", "timestamp": "2026-11-20T10:15:00Z"}), "cluster_name"),
        (json!({"cluster_name": 7, "timestamp": "2026-11-20T10:15:00Z"}), "cluster_name"),
        (json!({"cluster_name": "c", "timestamp": "2026-11-20T10:15:00Z", "containers": "x"}), "containers"),
        (json!({"cluster_name": "c", "timestamp": "2026-11-20T10:15:00Z", "pods": {}}), "pods"),
    ];
    for (body, field) in cases {
        let error = parse(&body).unwrap_err();
        assert_eq!((error.field.as_str(), error.rejection), (field, Rejection::Invalid), "{body}");
    }
    assert_eq!(parse_kubernetes(b"{not json", now()).unwrap_err().field, "body");
    assert_eq!(parse_kubernetes(b"[]", now()).unwrap_err().field, "body");
    let empty = parse(&json!({"cluster_name": "", "timestamp": "2026-11-20T10:15:00Z"})).unwrap_err();
    assert!(empty.message.contains("kubeconfig.cluster"), "names the agent setting: {}", empty.message);
}

#[test]
fn one_bad_item_is_skipped_and_listed_while_the_rest_is_kept() {
    let mut report = k8s();
    report["containers"][1]["image_tag"] = json!("");
    report["containers"][2]["name"] = json!(12);
    report["containers"][3]["pod_uid"] = json!("pod-9");
    report["containers"].as_array_mut().unwrap().push(json!(1));
    report["pods"][0]["labels"] = json!(["x"]);
    let parsed = parse(&report).unwrap();
    assert_eq!(
        skipped_fields(&parsed),
        [
            "pods[0].labels",
            "containers[2].name",
            "containers[4]",
            "containers[0].pod_uid",
            "containers[1].image_tag",
            "containers[3].pod_uid"
        ]
    );
    assert_eq!(parsed.notes.skipped_count, 6);
    // Only payments' pod survives, with no containers; default has no pod left.
    let payments = &parsed.contexts[1];
    assert!(payments.images.is_empty());
    assert!(payments.details.contains_key("p#pod-2"));
    assert_eq!(parsed.contexts.len(), 2, "the namespaces are still reported");
}

#[test]
fn what_real_agents_send_is_accepted() {
    let sha512 = format!("sha512:{}", "ab".repeat(64));
    let mut report = k8s();
    report["containers"][0]["image_tag"] = json!("registry.local/team/app:");
    report["containers"][1]["image_digest"] = json!(sha512);
    report["containers"][2]["image_digest"] = json!("sha1:abc");
    let parsed = parse(&report).unwrap();
    assert!(parsed.notes.skipped.is_empty(), "{:?}", parsed.notes);
    let adjusted: Vec<&str> = parsed.notes.adjusted.iter().map(|note| note.field.as_str()).collect();
    assert_eq!(adjusted, ["containers[0].image_tag", "containers[2].image_digest"]);
    assert!(parsed.notes.adjusted[0].reason.contains("'latest'"));
    assert!(parsed.contexts[0].images.contains_key(D1), "the digest keeps identifying the image");
    assert_eq!(parsed.contexts[0].images[D1].tag, "registry.local/team/app:latest");
    assert!(parsed.contexts[1].images.contains_key(&sha512));
    assert!(parsed.contexts[1].images.contains_key("tag:docker.io/library/api:latest"), "kept by tag");
}

#[test]
fn oversized_key_parts_skip_their_item_only() {
    let mut report = k8s();
    report["containers"][0]["image_tag"] = json!(format!("nginx:{}", "a".repeat(1_000_000)));
    report["containers"][1]["id"] = json!("x".repeat(300));
    report["pods"][0]["uid"] = json!("u".repeat(300));
    report["namespaces"][1]["name"] = json!("n".repeat(64));
    let parsed = parse(&report).unwrap();
    assert_eq!(
        skipped_fields(&parsed),
        [
            "namespaces[1].name",
            "pods[0].uid",
            "pods[1].namespace_uid",
            "containers[0].pod_uid",
            "containers[1].pod_uid",
            "containers[2].pod_uid",
            "containers[3].pod_uid"
        ]
    );
    let mut tag_only = k8s();
    tag_only["containers"][0]["image_tag"] = json!(format!("nginx:{}", "a".repeat(1_000_000)));
    let parsed = parse(&tag_only).unwrap();
    assert_eq!(skipped_fields(&parsed), ["containers[0].image_tag"]);
    assert!(parsed.notes.skipped[0].reason.contains("longer than 512 bytes"), "{:?}", parsed.notes);
}

#[test]
fn too_many_items_refuse_the_whole_report() {
    let mut report = k8s();
    report["nodes"] = serde_json::Value::Array(vec![json!({}); crate::limits::MAX_ARRAY_ITEMS + 1]);
    let error = parse(&report).unwrap_err();
    assert_eq!((error.field.as_str(), error.rejection), ("nodes", Rejection::TooLarge));
}

/// Each context's hash and stored form, as ingest sees them.
fn hashed(value: &serde_json::Value) -> Vec<(String, ContextSnapshot)> {
    let body = value.to_string();
    let parsed = parse_kubernetes(body.as_bytes(), now()).unwrap();
    parsed.contexts.into_iter().map(|content| (content.content_hash.clone(), content.into_snapshot())).collect()
}

fn reversed(mut report: serde_json::Value) -> serde_json::Value {
    for array in ["namespaces", "nodes", "pods", "containers"] {
        report[array].as_array_mut().unwrap().reverse();
    }
    report
}

#[test]
fn content_hash_ignores_item_order_and_follows_every_stored_field() {
    let base = hashed(&k8s());
    assert_eq!(hashed(&reversed(k8s())), base, "agents list items in any order");
    assert_ne!(base[0].0, base[1].0);

    let edits: Vec<(&str, fn(&mut serde_json::Value))> = vec![
        ("pod label", |r| r["pods"][1]["labels"] = json!({"app": "api"})),
        ("pod annotation", |r| r["pods"][1]["annotations"] = json!({"a": "b"})),
        ("pod name", |r| r["pods"][1]["name"] = json!("api-2")),
        ("pod node", |r| r["pods"][1]["node_uid"] = json!("")),
        ("node attribute", |r| r["nodes"][0]["arch"] = json!("arm64")),
        ("container id", |r| r["containers"][1]["id"] = json!("c9")),
        ("container name", |r| r["containers"][1]["name"] = json!("api-main")),
        ("container tag", |r| r["containers"][1]["image_tag"] = json!("api:3")),
        ("container digest", |r| r["containers"][3]["image_digest"] = json!(D1)),
        ("container moved", |r| r["containers"][0]["pod_uid"] = json!("pod-2")),
    ];
    for (edit, apply) in edits {
        let mut report = k8s();
        apply(&mut report);
        let changed = hashed(&report);
        assert_ne!(changed[1].1, base[1].1, "{edit} changes what payments stores");
        assert_ne!(changed[1].0, base[1].0, "{edit} changes payments' hash");
    }

    // What is not stored does not count: a label past the metadata budget.
    let capped = |value: &str| {
        let mut report = k8s();
        report["pods"][1]["labels"] = json!({"a": "x".repeat(crate::limits::MAX_METADATA_BYTES - 1), "z": value});
        hashed(&report)
    };
    assert_eq!(capped("1"), capped("2"));
}

#[test]
fn duplicate_keys_are_hashed_in_report_order() {
    // Two pods with one uid: the first one listed is stored.
    let mut report = k8s();
    report["pods"][0]["uid"] = json!("pod-2");
    report["pods"][0]["namespace_uid"] = json!("ns-2");
    let first = hashed(&report);
    let second = hashed(&reversed(report));
    assert_ne!(first[1].1, second[1].1, "the order decides which pod is stored");
    let Detail::K8sPod { name, .. } = &first[1].1.details["p#pod-2"] else { panic!() };
    assert_eq!(name, "web", "the first listed");
    assert_ne!(first[1].0, second[1].0);
    assert_eq!(first[1].0, first[1].1.content_hash(), "hashed as built");
}

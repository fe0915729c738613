//! The legacy kai report (`POST /v1/enterprise/inventories`): per namespace, the images it runs.
//! It is stored as a Kubernetes report: each namespace is a context `cluster/namespace`. kai sends
//! no pods or containers, so a kai context has no details, and an image's `container_count` is the
//! number of times the namespace's list names it (kai lists each image once: 1).

use super::{
    decode, namespace_name, null_as_default, parse_timestamp, resolve_image, validate_cluster, FieldError, ItemNotes,
    ParsedReport, RawItems, SnapshotBuilder,
};
use crate::model::{InventoryType, ReportSource};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

const CLUSTER_NAME_HINT: &str = "set the cluster name in the kai agent (`kubeconfig.cluster` in its configuration)";

#[derive(Deserialize)]
struct Wire<'a> {
    cluster_name: String,
    timestamp: String,
    #[serde(default, borrow)]
    results: RawItems<'a>,
}

#[derive(Deserialize)]
struct Namespace<'a> {
    namespace: String,
    #[serde(default, borrow)]
    images: RawItems<'a>,
}

#[derive(Deserialize)]
struct Image {
    tag: String,
    #[serde(default, rename = "repoDigest", deserialize_with = "null_as_default")]
    repo_digest: String,
}

pub fn parse_kai(body: &[u8], now: DateTime<Utc>) -> Result<ParsedReport<'_>, FieldError> {
    let wire: Wire = decode(body)?;
    let timestamp = parse_timestamp(&wire.timestamp, now)?;
    let cluster = validate_cluster("cluster_name", &wire.cluster_name, CLUSTER_NAME_HINT)?;
    wire.results.check_count("results")?;
    let mut notes = ItemNotes::default();
    let mut namespaces: BTreeMap<String, SnapshotBuilder> = BTreeMap::new();
    for (index, namespace) in wire.results.decode::<Namespace>("results", &mut notes) {
        let prefix = format!("results[{index}]");
        let name = match namespace_name("namespace", &namespace.namespace) {
            Ok(name) => name,
            Err(skip) => {
                skip.note(&prefix, &mut notes);
                continue;
            }
        };
        namespace.images.check_count(&format!("{prefix}.images"))?;
        let builder = namespaces.entry(name).or_default();
        for (image_index, image) in namespace.images.decode::<Image>(&format!("{prefix}.images"), &mut notes) {
            let image_prefix = format!("{prefix}.images[{image_index}]");
            match resolve_image(&image.tag, Some(&image.repo_digest), || image_prefix.clone(), &mut notes) {
                Ok(resolved) => {
                    builder.add_container(&resolved, None);
                }
                // kai names the reference `tag`.
                Err(skip) => notes.skip(format!("{image_prefix}.tag"), skip.reason),
            }
        }
    }
    let contexts = namespaces
        .into_iter()
        .map(|(name, builder)| builder.build(crate::model::kubernetes_context(&cluster, &name), None).into())
        .collect();
    Ok(ParsedReport {
        inventory_type: InventoryType::Kubernetes,
        source: ReportSource::Kai,
        timestamp,
        contexts,
        notes,
        probably_truncated: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::BuiltReport;
    use chrono::TimeZone;
    use serde_json::json;

    const D1: &str = "sha256:4ed1812024ed78962a34727137627e8854a3b414d19e2c35a1dc727a47e16fba";

    fn parse(value: &serde_json::Value) -> Result<BuiltReport, FieldError> {
        parse_kai(value.to_string().as_bytes(), Utc.with_ymd_and_hms(2026, 11, 20, 10, 16, 0).unwrap())
            .map(ParsedReport::built)
    }

    #[test]
    fn namespaces_become_contexts_with_their_images() {
        let report = parse(&json!({
            "cluster_name": "legacy",
            "inventory_type": "kubernetes",
            "timestamp": "2026-11-20T10:15:00Z",
            "results": [
                {"namespace": "kube-public", "images": []},
                {"namespace": "default", "images": [
                    {"tag": "alpine:4ed1812024ed78962a34727137627e8854a3b414d19e2c35a1dc727a47e16fba", "repoDigest": D1},
                    {"tag": "", "repoDigest": D1},
                    {"tag": "busybox", "repoDigest": ""}
                ]},
                {"namespace": "a/b", "images": []},
                {"images": []}
            ],
            "serverVersionMetadata": {"major": "1"}
        }))
        .unwrap();
        let contexts: Vec<&str> = report.contexts.iter().map(|c| c.context.as_str()).collect();
        assert_eq!(contexts, ["legacy/default", "legacy/kube-public"]);
        assert_eq!(report.source, ReportSource::Kai);
        let default = &report.contexts[0];
        assert_eq!(default.images[D1].container_count, 1);
        assert!(default.images.contains_key("tag:docker.io/library/busybox:latest"));
        assert!(default.details.is_empty(), "kai reports no pods or containers");
        let skipped: Vec<&str> = report.notes.skipped.iter().map(|note| note.field.as_str()).collect();
        assert_eq!(skipped, ["results[3].namespace", "results[1].images[1].tag", "results[2].namespace"]);
    }

    #[test]
    fn a_report_without_its_cluster_is_refused() {
        let error = parse(&json!({"timestamp": "2026-11-20T10:15:00Z", "results": []})).unwrap_err();
        assert_eq!(error.field, "cluster_name");
    }
}

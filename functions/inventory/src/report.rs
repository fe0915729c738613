//! Agent reports: the wire shapes of `k8s-inventory` and `ecs-inventory`, validated and
//! turned into one snapshot per context.

use crate::image::{normalize_reference, Digest, ImageKey};
use crate::model::{Detail, InventoryType, Metadata};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// `ecs-inventory` posts this cluster name to check its credentials before the first report.
pub const ECS_CREDENTIAL_CHECK_CLUSTER: &str = "validating-creds";

/// Longest accepted context component; keeps keys far below DynamoDB's 1 KB sort-key limit.
const MAX_NAME_LEN: usize = 400;
/// Labels and annotations kept per object; Kubernetes allows 256 KiB, items must stay small.
const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A report that cannot be stored, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ReportError {
    pub field: String,
    pub message: String,
}

impl ReportError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReport {
    pub inventory_type: InventoryType,
    pub timestamp: DateTime<Utc>,
    /// Empty for the ECS agent's credential check.
    pub contexts: Vec<ContextSnapshot>,
}

/// Everything one report says about one context (a namespace or an ECS cluster).
#[derive(Debug, Clone, PartialEq)]
pub struct ContextSnapshot {
    pub context: String,
    pub namespace: Option<NamespaceMeta>,
    /// Keyed by `ImageKey::encode`.
    pub images: BTreeMap<String, ImageState>,
    /// Containers, pods, nodes, tasks and services, keyed by their detail sort key.
    pub details: BTreeMap<String, Detail>,
    /// Normalised tags of the containers whose digest is known.
    pub digest_tags: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct NamespaceMeta {
    pub uid: String,
    pub name: String,
    pub labels: Metadata,
    pub annotations: Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageState {
    pub digest: Option<Digest>,
    /// The smallest normalised tag seen for the image, so the choice is stable across reports.
    pub tag: String,
    pub container_count: u32,
}

// ---- wire shapes ----------------------------------------------------------------------

/// Go agents encode empty slices and maps as `null`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct K8sReport {
    cluster_name: String,
    timestamp: String,
    #[serde(default, deserialize_with = "null_as_default")]
    containers: Vec<K8sContainer>,
    #[serde(default, deserialize_with = "null_as_default")]
    namespaces: Vec<K8sNamespace>,
    #[serde(default, deserialize_with = "null_as_default")]
    pods: Vec<K8sPod>,
    #[serde(default, deserialize_with = "null_as_default")]
    nodes: Vec<K8sNode>,
}

#[derive(Deserialize)]
struct K8sContainer {
    id: String,
    name: String,
    pod_uid: String,
    image_tag: String,
    #[serde(default)]
    image_digest: Option<String>,
}

#[derive(Deserialize)]
struct K8sNamespace {
    name: String,
    uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: Metadata,
    #[serde(default, deserialize_with = "null_as_default")]
    annotations: Metadata,
}

#[derive(Deserialize)]
struct K8sPod {
    name: String,
    uid: String,
    namespace_uid: String,
    #[serde(default)]
    node_uid: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: Metadata,
    #[serde(default, deserialize_with = "null_as_default")]
    annotations: Metadata,
}

#[derive(Deserialize)]
struct K8sNode {
    name: String,
    uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: Metadata,
    #[serde(default, deserialize_with = "null_as_default")]
    annotations: Metadata,
    #[serde(flatten)]
    other: HashMap<String, serde_json::Value>,
}

/// Node properties kept from the report (strings only; anything else is ignored).
const NODE_ATTRIBUTES: &[&str] = &[
    "arch",
    "container_runtime_version",
    "kernel_version",
    "kube_proxy_version",
    "kubelet_version",
    "kubernetes_version",
    "operating_system",
];

/// The `ecs-inventory` agent's report; the collector builds the same shape from the ECS API.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct EcsReport {
    pub timestamp: String,
    #[serde(default)]
    pub cluster_arn: Option<String>,
    /// Older agents name the cluster ARN `cluster_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<EcsContainer>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: Vec<EcsTask>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub services: Vec<EcsService>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct EcsContainer {
    pub arn: String,
    pub image_tag: String,
    #[serde(default)]
    pub image_digest: Option<String>,
    #[serde(default)]
    pub task_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct EcsTask {
    pub arn: String,
    #[serde(default)]
    pub service_arn: Option<String>,
    #[serde(default)]
    pub task_definition_arn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Metadata,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct EcsService {
    pub arn: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Metadata,
}

// ---- parsing ----------------------------------------------------------------------------

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ReportError> {
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ReportError::new("body", "must be a JSON object"));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        // serde reports a missing field at its parent; name the field itself.
        let missing =
            message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()).map(str::to_owned);
        let field = match (missing, path.as_str()) {
            (Some(name), ".") => name,
            (Some(name), parent) => format!("{parent}.{name}"),
            (None, "." | "?") => "body".to_owned(),
            (None, path) => path.to_owned(),
        };
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("malformed JSON: {inner}")
        } else {
            strip_position(&message)
        };
        ReportError::new(field, message)
    })
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, ReportError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|time| crate::clock::truncate_to_millis(time.with_timezone(&Utc)))
        .map_err(|error| ReportError::new("timestamp", format!("must be an RFC 3339 date-time ({error}): {raw:?}")))
}

/// Context components end up in DynamoDB keys with `#` as separator.
fn validate_name(field: &str, value: &str) -> Result<String, ReportError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ReportError::new(field, "must not be empty"));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(ReportError::new(field, format!("must be at most {MAX_NAME_LEN} bytes")));
    }
    if value.chars().any(|c| c == '#' || c.is_control()) {
        return Err(ReportError::new(field, "must not contain '#' or control characters"));
    }
    Ok(value.to_owned())
}

fn require_non_empty(field: impl FnOnce() -> String, value: &str) -> Result<String, ReportError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ReportError::new(field(), "must not be empty"));
    }
    Ok(value.to_owned())
}

/// Keeps labels/annotations in key order until the byte budget is spent.
fn cap_metadata(metadata: Metadata) -> Metadata {
    let mut used = 0;
    metadata
        .into_iter()
        .take_while(|(key, value)| {
            used += key.len() + value.len();
            used <= MAX_METADATA_BYTES
        })
        .collect()
}

/// Checks a container's image fields as a report would; the collector drops what fails.
pub fn validate_image(image_tag: &str, image_digest: Option<&str>) -> Result<(), ReportError> {
    resolve_image(str::to_owned, image_tag, image_digest).map(drop)
}

/// Resolves a container's image and returns its key and normalised tag.
fn resolve_image(
    field: impl Fn(&str) -> String,
    image_tag: &str,
    image_digest: Option<&str>,
) -> Result<(ImageKey, Option<Digest>, String), ReportError> {
    let reference =
        normalize_reference(image_tag).map_err(|error| ReportError::new(field("image_tag"), error.to_string()))?;
    let digest = Digest::parse_optional(image_digest)
        .map_err(|error| ReportError::new(field("image_digest"), error.to_string()))?
        .or(reference.digest);
    Ok((ImageKey::new(digest.as_ref(), &reference.tag), digest, reference.tag))
}

#[derive(Default)]
struct SnapshotBuilder {
    images: BTreeMap<String, ImageState>,
    details: BTreeMap<String, Detail>,
    digest_tags: BTreeSet<String>,
}

impl SnapshotBuilder {
    fn add_container(&mut self, key: ImageKey, digest: Option<Digest>, tag: String) -> String {
        let encoded = key.encode();
        if digest.is_some() {
            self.digest_tags.insert(tag.clone());
        }
        self.images
            .entry(encoded.clone())
            .and_modify(|image| {
                image.container_count += 1;
                if tag < image.tag {
                    image.tag.clone_from(&tag);
                }
            })
            .or_insert(ImageState { digest, tag, container_count: 1 });
        encoded
    }

    fn build(self, context: String, namespace: Option<NamespaceMeta>) -> ContextSnapshot {
        ContextSnapshot {
            context,
            namespace,
            images: self.images,
            details: self.details,
            digest_tags: self.digest_tags,
        }
    }
}

pub fn parse_kubernetes(body: &[u8]) -> Result<ParsedReport, ReportError> {
    let report: K8sReport = decode(body)?;
    let timestamp = parse_timestamp(&report.timestamp)?;
    let cluster = validate_name("cluster_name", &report.cluster_name)?;

    let mut namespaces: BTreeMap<String, (String, SnapshotBuilder, Option<NamespaceMeta>)> = BTreeMap::new();
    let mut namespace_by_uid: HashMap<String, String> = HashMap::new();
    for (index, namespace) in report.namespaces.into_iter().enumerate() {
        let name = validate_name(&format!("namespaces[{index}].name"), &namespace.name)?;
        if name.contains('/') {
            return Err(ReportError::new(format!("namespaces[{index}].name"), "must not contain '/'"));
        }
        let uid = require_non_empty(|| format!("namespaces[{index}].uid"), &namespace.uid)?;
        namespace_by_uid.insert(uid.clone(), name.clone());
        let meta = NamespaceMeta {
            uid,
            name: name.clone(),
            labels: cap_metadata(namespace.labels),
            annotations: cap_metadata(namespace.annotations),
        };
        namespaces
            .entry(name.clone())
            .or_insert_with(|| (format!("{cluster}/{name}"), SnapshotBuilder::default(), Some(meta)));
    }

    let mut nodes: HashMap<String, Detail> = HashMap::new();
    for (index, node) in report.nodes.into_iter().enumerate() {
        let uid = require_non_empty(|| format!("nodes[{index}].uid"), &node.uid)?;
        let name = require_non_empty(|| format!("nodes[{index}].name"), &node.name)?;
        let attributes = NODE_ATTRIBUTES
            .iter()
            .filter_map(|key| match node.other.get(*key) {
                Some(serde_json::Value::String(value)) => Some((key.to_string(), value.clone())),
                _ => None,
            })
            .collect();
        nodes.entry(uid.clone()).or_insert(Detail::K8sNode {
            uid,
            name,
            attributes,
            labels: cap_metadata(node.labels),
            annotations: cap_metadata(node.annotations),
        });
    }

    let mut pod_namespace: HashMap<String, String> = HashMap::new();
    for (index, pod) in report.pods.into_iter().enumerate() {
        let uid = require_non_empty(|| format!("pods[{index}].uid"), &pod.uid)?;
        let name = require_non_empty(|| format!("pods[{index}].name"), &pod.name)?;
        let namespace_uid = require_non_empty(|| format!("pods[{index}].namespace_uid"), &pod.namespace_uid)?;
        let namespace = namespace_by_uid.get(&namespace_uid).ok_or_else(|| {
            ReportError::new(
                format!("pods[{index}].namespace_uid"),
                format!("no namespace with uid {namespace_uid:?} in this report's namespaces"),
            )
        })?;
        let node_uid = pod.node_uid.map(|uid| uid.trim().to_owned()).filter(|uid| !uid.is_empty());
        let (_, builder, _) = namespaces.get_mut(namespace).expect("namespace_by_uid only names known namespaces");
        if let Some(node) = node_uid.as_ref().and_then(|uid| nodes.get(uid)) {
            builder.details.insert(node.sort_key(), node.clone());
        }
        let detail = Detail::K8sPod {
            uid: uid.clone(),
            name,
            namespace_uid,
            node_uid,
            labels: cap_metadata(pod.labels),
            annotations: cap_metadata(pod.annotations),
        };
        builder.details.entry(detail.sort_key()).or_insert(detail);
        pod_namespace.entry(uid).or_insert_with(|| namespace.clone());
    }

    for (index, container) in report.containers.into_iter().enumerate() {
        let field = |name: &str| format!("containers[{index}].{name}");
        let pod_uid = require_non_empty(|| field("pod_uid"), &container.pod_uid)?;
        let name = require_non_empty(|| field("name"), &container.name)?;
        let namespace = pod_namespace.get(&pod_uid).ok_or_else(|| {
            ReportError::new(field("pod_uid"), format!("no pod with uid {pod_uid:?} in this report's pods"))
        })?;
        let (key, digest, tag) = resolve_image(field, &container.image_tag, container.image_digest.as_deref())?;
        // A container that has not started yet has no runtime id.
        let id = match container.id.trim() {
            "" => format!("{pod_uid}/{name}"),
            id => id.to_owned(),
        };
        let (_, builder, _) = namespaces.get_mut(namespace).expect("pods only name known namespaces");
        let image_key = builder.add_container(key, digest, tag);
        let detail = Detail::K8sContainer { id, name, pod_uid, image_key };
        builder.details.entry(detail.sort_key()).or_insert(detail);
    }

    let contexts = namespaces.into_values().map(|(context, builder, meta)| builder.build(context, meta)).collect();
    Ok(ParsedReport { inventory_type: InventoryType::Kubernetes, timestamp, contexts })
}

pub fn parse_ecs(body: &[u8]) -> Result<ParsedReport, ReportError> {
    validate_ecs(decode(body)?)
}

/// Validates an ECS report, posted by the agent or built by the collector.
pub fn validate_ecs(report: EcsReport) -> Result<ParsedReport, ReportError> {
    let timestamp = parse_timestamp(&report.timestamp)?;
    let (field, raw_cluster) = match (&report.cluster_arn, &report.cluster_name) {
        (Some(arn), _) if !arn.trim().is_empty() => ("cluster_arn", arn.as_str()),
        (_, Some(name)) => ("cluster_name", name.as_str()),
        (Some(arn), None) => ("cluster_arn", arn.as_str()),
        (None, None) => return Err(ReportError::new("cluster_arn", "missing field `cluster_arn`")),
    };
    let cluster = validate_name(field, raw_cluster)?;
    if cluster == ECS_CREDENTIAL_CHECK_CLUSTER {
        return Ok(ParsedReport { inventory_type: InventoryType::Ecs, timestamp, contexts: Vec::new() });
    }

    let mut builder = SnapshotBuilder::default();
    let mut service_arns = BTreeSet::new();
    for (index, service) in report.services.into_iter().enumerate() {
        let arn = require_non_empty(|| format!("services[{index}].arn"), &service.arn)?;
        service_arns.insert(arn.clone());
        let detail = Detail::EcsService { arn, tags: cap_metadata(service.tags) };
        builder.details.entry(detail.sort_key()).or_insert(detail);
    }
    for (index, task) in report.tasks.into_iter().enumerate() {
        let arn = require_non_empty(|| format!("tasks[{index}].arn"), &task.arn)?;
        let optional = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let detail = Detail::EcsTask {
            arn,
            service_arn: optional(task.service_arn),
            task_definition_arn: optional(task.task_definition_arn),
            tags: cap_metadata(task.tags),
        };
        builder.details.entry(detail.sort_key()).or_insert(detail);
    }
    for (index, container) in report.containers.into_iter().enumerate() {
        let field = |name: &str| format!("containers[{index}].{name}");
        let arn = require_non_empty(|| field("arn"), &container.arn)?;
        let (key, digest, tag) = resolve_image(field, &container.image_tag, container.image_digest.as_deref())?;
        let task_arn = container.task_arn.map(|arn| arn.trim().to_owned()).filter(|arn| !arn.is_empty());
        let image_key = builder.add_container(key, digest, tag);
        let detail = Detail::EcsContainer { arn, task_arn, image_key };
        builder.details.entry(detail.sort_key()).or_insert(detail);
    }

    Ok(ParsedReport { inventory_type: InventoryType::Ecs, timestamp, contexts: vec![builder.build(cluster, None)] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D1: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";
    const D2: &str = "sha256:996fe12b25dfa8e26af9007549163024a4833a0052f44ac87461273e97d9a9ac";

    fn k8s() -> serde_json::Value {
        json!({
            "cluster_name": "prod",
            "timestamp": "2026-11-20T10:15:00.123456Z",
            "namespaces": [{"name": "default", "uid": "ns-1"}, {"name": "payments", "uid": "ns-2", "labels": null}],
            "nodes": [{"name": "n1", "uid": "node-1", "arch": "amd64", "labels": {"a": "b"}}],
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

    fn parse_k8s(value: &serde_json::Value) -> Result<ParsedReport, ReportError> {
        parse_kubernetes(value.to_string().as_bytes())
    }

    #[test]
    fn kubernetes_report_splits_into_namespace_contexts() {
        let report = parse_k8s(&k8s()).unwrap();
        assert_eq!(report.timestamp.to_rfc3339(), "2026-11-20T10:15:00.123+00:00");
        let names: Vec<_> = report.contexts.iter().map(|c| c.context.as_str()).collect();
        assert_eq!(names, ["prod/default", "prod/payments"]);

        let payments = &report.contexts[1];
        let api = &payments.images[D2];
        assert_eq!(api.container_count, 2);
        assert_eq!(api.tag, "docker.io/library/api:2");
        let pending = &payments.images["tag:docker.io/library/busybox:latest"];
        assert_eq!((pending.digest.as_ref(), pending.container_count), (None, 1));
        // containers + pod + node of the namespace
        assert_eq!(payments.details.len(), 5);
        assert!(payments.details.contains_key("c#pod-2/pending"));
        assert!(payments.details.contains_key("n#node-1"));
        assert_eq!(payments.namespace.as_ref().unwrap().uid, "ns-2");
    }

    #[test]
    fn missing_and_malformed_fields_are_named() {
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (json!({"timestamp": "2026-11-20T10:15:00Z"}), "cluster_name"),
            (json!({"cluster_name": "c"}), "timestamp"),
            (json!({"cluster_name": " ", "timestamp": "2026-11-20T10:15:00Z"}), "cluster_name"),
            (json!({"cluster_name": "c", "timestamp": "yesterday"}), "timestamp"),
            (json!({"cluster_name": "a#b", "timestamp": "2026-11-20T10:15:00Z"}), "cluster_name"),
            (
                json!({"cluster_name": "c", "timestamp": "2026-11-20T10:15:00Z", "containers": [{"id": "x"}]}),
                "containers[0].name",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(parse_k8s(&body).unwrap_err().field, field, "{body}");
        }
        let mut bad_digest = k8s();
        bad_digest["containers"][1]["image_digest"] = json!("sha256:nothex");
        assert_eq!(parse_k8s(&bad_digest).unwrap_err().field, "containers[1].image_digest");
        let mut dangling = k8s();
        dangling["containers"][0]["pod_uid"] = json!("pod-9");
        assert_eq!(parse_k8s(&dangling).unwrap_err().field, "containers[0].pod_uid");
        let mut wrong_type = k8s();
        wrong_type["pods"][0]["labels"] = json!(["x"]);
        assert_eq!(parse_k8s(&wrong_type).unwrap_err().field, "pods[0].labels");
        assert_eq!(parse_kubernetes(b"{not json").unwrap_err().field, "body");
        assert_eq!(parse_kubernetes(b"[]").unwrap_err().field, "body");
    }

    #[test]
    fn ecs_report_uses_the_cluster_arn_as_context() {
        let body = json!({
            "timestamp": "2026-11-20T10:15:00Z",
            "cluster_name": "arn:aws:ecs:eu-west-2:123456789012:cluster/c",
            "containers": [
                {"arn": "ca1", "image_tag": "nginx", "image_digest": D1, "task_arn": "t1"},
                {"arn": "ca2", "image_tag": "worker:2", "image_digest": "UNKNOWN", "task_arn": "t1"}
            ],
            "tasks": [{"arn": "t1", "service_arn": "s1", "tags": null}],
            "services": null
        });
        let report = parse_ecs(body.to_string().as_bytes()).unwrap();
        assert_eq!(report.contexts.len(), 1);
        let context = &report.contexts[0];
        assert_eq!(context.context, "arn:aws:ecs:eu-west-2:123456789012:cluster/c");
        assert_eq!(context.images.len(), 2);
        assert!(context.images.contains_key("tag:docker.io/library/worker:2"));
        assert_eq!(context.details.len(), 3);
    }

    #[test]
    fn ecs_credential_check_stores_nothing() {
        let body = br#"{"timestamp":"2026-11-20T10:15:00Z","cluster_arn":"validating-creds"}"#;
        assert!(parse_ecs(body).unwrap().contexts.is_empty());
        let missing = br#"{"timestamp":"2026-11-20T10:15:00Z"}"#;
        assert_eq!(parse_ecs(missing).unwrap_err().field, "cluster_arn");
        let empty = br#"{"timestamp":"2026-11-20T10:15:00Z","cluster_arn":""}"#;
        assert_eq!(parse_ecs(empty).unwrap_err().field, "cluster_arn");
    }

    #[test]
    fn oversized_metadata_is_capped() {
        let big: Metadata = (0..100).map(|i| (format!("k{i:03}"), "v".repeat(1000))).collect();
        let capped = cap_metadata(big);
        assert_eq!(capped.len(), 16);
    }
}

//! The `k8s-inventory` report: each namespace is a context `cluster/namespace`.

use super::{
    cap_metadata, decode, namespace_name, null_as_default, optional, parse_timestamp, required, resolve_image,
    validate_cluster, ContextSnapshot, ItemNotes, NamespaceMeta, ParsedReport, RawItems, ReportError, Skip,
    SnapshotBuilder,
};
use crate::limits::{MAX_ID_BYTES, MAX_OBJECT_NAME_BYTES};
use crate::model::{Detail, InventoryType, Metadata, ReportSource};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

const CLUSTER_NAME_HINT: &str = "set the cluster name in the k8s-inventory agent \
    (`kubeconfig.cluster` in its configuration, `k8sInventory.kubeconfig.cluster` in its Helm values)";

#[derive(Deserialize)]
struct Wire<'a> {
    cluster_name: String,
    timestamp: String,
    #[serde(default, borrow)]
    containers: RawItems<'a>,
    #[serde(default, borrow)]
    namespaces: RawItems<'a>,
    #[serde(default, borrow)]
    pods: RawItems<'a>,
    #[serde(default, borrow)]
    nodes: RawItems<'a>,
}

#[derive(Deserialize)]
struct Container {
    #[serde(default, deserialize_with = "null_as_default")]
    id: String,
    name: String,
    pod_uid: String,
    image_tag: String,
    #[serde(default)]
    image_digest: Option<String>,
}

#[derive(Deserialize)]
struct Namespace {
    name: String,
    uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: Metadata,
    #[serde(default, deserialize_with = "null_as_default")]
    annotations: Metadata,
}

#[derive(Deserialize)]
struct Pod {
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

/// A string property of a node, kept when it is a string (anything else is ignored).
#[derive(Default)]
struct NodeAttribute(Option<String>);

impl<'de> Deserialize<'de> for NodeAttribute {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(value) if value.len() <= MAX_OBJECT_NAME_BYTES => Self(Some(value)),
            _ => Self(None),
        })
    }
}

/// Unknown node fields are skipped while decoding, never buffered.
#[derive(Deserialize)]
struct Node {
    name: String,
    uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: Metadata,
    #[serde(default, deserialize_with = "null_as_default")]
    annotations: Metadata,
    #[serde(default)]
    arch: NodeAttribute,
    #[serde(default)]
    container_runtime_version: NodeAttribute,
    #[serde(default)]
    kernel_version: NodeAttribute,
    #[serde(default)]
    kube_proxy_version: NodeAttribute,
    #[serde(default)]
    kubelet_version: NodeAttribute,
    #[serde(default)]
    kubernetes_version: NodeAttribute,
    #[serde(default)]
    operating_system: NodeAttribute,
}

impl Node {
    /// The node's uid and detail.
    fn into_detail(self) -> Result<(String, Detail), Skip> {
        let attributes = [
            ("arch", self.arch),
            ("container_runtime_version", self.container_runtime_version),
            ("kernel_version", self.kernel_version),
            ("kube_proxy_version", self.kube_proxy_version),
            ("kubelet_version", self.kubelet_version),
            ("kubernetes_version", self.kubernetes_version),
            ("operating_system", self.operating_system),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_owned(), value.0?)))
        .collect();
        let uid = required("uid", &self.uid, MAX_ID_BYTES)?;
        let detail = Detail::K8sNode {
            uid: uid.clone(),
            name: required("name", &self.name, MAX_OBJECT_NAME_BYTES)?,
            attributes,
            labels: cap_metadata(self.labels),
            annotations: cap_metadata(self.annotations),
        };
        Ok((uid, detail))
    }
}

impl Namespace {
    fn into_meta(self) -> Result<NamespaceMeta, Skip> {
        let name = namespace_name("name", &self.name)?;
        Ok(NamespaceMeta {
            uid: required("uid", &self.uid, MAX_ID_BYTES)?,
            name,
            labels: cap_metadata(self.labels),
            annotations: cap_metadata(self.annotations),
        })
    }
}

/// One namespace context being built.
struct NamespaceContext {
    context: String,
    meta: NamespaceMeta,
    builder: SnapshotBuilder,
}

pub fn parse_kubernetes(body: &[u8], now: DateTime<Utc>) -> Result<ParsedReport, ReportError> {
    let wire: Wire = decode(body)?;
    let timestamp = parse_timestamp(&wire.timestamp, now)?;
    let cluster = validate_cluster("cluster_name", &wire.cluster_name, CLUSTER_NAME_HINT)?;
    for (array, items) in [
        ("namespaces", &wire.namespaces),
        ("nodes", &wire.nodes),
        ("pods", &wire.pods),
        ("containers", &wire.containers),
    ] {
        items.check_count(array)?;
    }
    let mut notes = ItemNotes::default();

    let mut namespaces: BTreeMap<String, NamespaceContext> = BTreeMap::new();
    let mut namespace_by_uid: HashMap<String, String> = HashMap::new();
    for (index, namespace) in wire.namespaces.decode::<Namespace>("namespaces", &mut notes) {
        match namespace.into_meta() {
            Ok(meta) => {
                namespace_by_uid.insert(meta.uid.clone(), meta.name.clone());
                namespaces.entry(meta.name.clone()).or_insert_with(|| NamespaceContext {
                    context: format!("{cluster}/{}", meta.name),
                    meta,
                    builder: SnapshotBuilder::default(),
                });
            }
            Err(skip) => skip.note(&format!("namespaces[{index}]"), &mut notes),
        }
    }

    let mut nodes: HashMap<String, Detail> = HashMap::new();
    for (index, node) in wire.nodes.decode::<Node>("nodes", &mut notes) {
        match node.into_detail() {
            Ok((uid, detail)) => {
                nodes.entry(uid).or_insert(detail);
            }
            Err(skip) => skip.note(&format!("nodes[{index}]"), &mut notes),
        }
    }

    let mut pod_namespace: HashMap<String, String> = HashMap::new();
    for (index, pod) in wire.pods.decode::<Pod>("pods", &mut notes) {
        let prefix = format!("pods[{index}]");
        let placed = (|| {
            let uid = required("uid", &pod.uid, MAX_ID_BYTES)?;
            let name = required("name", &pod.name, MAX_OBJECT_NAME_BYTES)?;
            let namespace_uid = required("namespace_uid", &pod.namespace_uid, MAX_ID_BYTES)?;
            let namespace = namespace_by_uid.get(&namespace_uid).ok_or_else(|| {
                Skip::new("namespace_uid", format!("no namespace with uid {namespace_uid:?} in this report"))
            })?;
            let node_uid = optional("node_uid", pod.node_uid.as_deref(), MAX_ID_BYTES)?;
            Ok::<_, Skip>((namespace.clone(), uid, name, namespace_uid, node_uid))
        })();
        let (namespace, uid, name, namespace_uid, node_uid) = match placed {
            Ok(placed) => placed,
            Err(skip) => {
                skip.note(&prefix, &mut notes);
                continue;
            }
        };
        let Some(context) = namespaces.get_mut(&namespace) else { continue };
        if let Some(node) = node_uid.as_ref().and_then(|uid| nodes.get(uid)) {
            context.builder.add_detail(node.clone());
        }
        pod_namespace.entry(uid.clone()).or_insert(namespace);
        context.builder.add_detail(Detail::K8sPod {
            uid,
            name,
            namespace_uid,
            node_uid,
            labels: cap_metadata(pod.labels),
            annotations: cap_metadata(pod.annotations),
        });
    }

    for (index, container) in wire.containers.decode::<Container>("containers", &mut notes) {
        let prefix = format!("containers[{index}]");
        let placed = (|| {
            let pod_uid = required("pod_uid", &container.pod_uid, MAX_ID_BYTES)?;
            let name = required("name", &container.name, MAX_OBJECT_NAME_BYTES)?;
            let namespace = pod_namespace.get(&pod_uid).ok_or_else(|| {
                Skip::new("pod_uid", format!("no pod with uid {pod_uid:?} in this report (or the pod was skipped)"))
            })?;
            // A container that has not started yet has no runtime id.
            let id = optional("id", Some(&container.id), MAX_ID_BYTES)?.unwrap_or_else(|| format!("{pod_uid}/{name}"));
            let image = resolve_image(&container.image_tag, container.image_digest.as_deref(), &prefix, &mut notes)?;
            Ok::<_, Skip>((namespace, id, name, pod_uid, image))
        })();
        match placed {
            Ok((namespace, id, name, pod_uid, image)) => {
                let Some(context) = namespaces.get_mut(namespace) else { continue };
                let image_key = context.builder.add_container(image);
                context.builder.add_detail(Detail::K8sContainer { id, name, pod_uid, image_key });
            }
            Err(skip) => skip.note(&prefix, &mut notes),
        }
    }

    let contexts: Vec<ContextSnapshot> = namespaces
        .into_values()
        .map(|namespace| namespace.builder.build(namespace.context, Some(namespace.meta)))
        .collect();
    Ok(ParsedReport {
        inventory_type: InventoryType::Kubernetes,
        source: ReportSource::K8sInventory,
        timestamp,
        contexts,
        notes,
    })
}

#[cfg(test)]
mod tests;

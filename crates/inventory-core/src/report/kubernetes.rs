//! The `k8s-inventory` report: each namespace is a context `cluster/namespace`.

mod content;

pub(super) use content::NamespaceContent;

use super::{
    cap_metadata, check_body, checked, checked_optional, decode_json, namespace_name, null_as_default, parse_timestamp,
    required, validate_cluster, Array, Content, ContextReport, ImageResolver, ItemNotes, ParsedReport, RawItems,
    ReportError, Skip, Text,
};
use crate::limits::{MAX_ID_BYTES, MAX_OBJECT_NAME_BYTES};
use crate::model::NamespaceMeta;
use crate::model::{Detail, InventoryType, ReportSource};
use chrono::{DateTime, Utc};
use content::{container_id, hash_node, ContentHash, ItemEncoder, Items, Parts, PlacedContainer};
use serde::Deserialize;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

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

/// Labels or annotations as read, before they are capped and stored.
type WireMetadata<'a> = BTreeMap<Text<'a>, Text<'a>>;

/// The same report with every item decoded in the one pass.
#[derive(Deserialize)]
struct TypedWire<'a> {
    cluster_name: String,
    timestamp: String,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    containers: Vec<Container<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    namespaces: Vec<Namespace<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    pods: Vec<Pod<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    nodes: Vec<Node<'a>>,
}

/// A decoded report, its arrays typed or raw.
struct Report<'a> {
    cluster_name: String,
    timestamp: String,
    namespaces: Array<'a, Namespace<'a>>,
    nodes: Array<'a, Node<'a>>,
    pods: Array<'a, Pod<'a>>,
    containers: Array<'a, Container<'a>>,
}

impl<'a> Report<'a> {
    /// One typed pass when every item decodes; else the arrays raw, each item decoded alone.
    /// An agent's body is bounded (`MAX_REPORT_BYTES`); one the embedded mode built is not,
    /// since it never crossed the network as one body (its items are bounded as an agent's).
    fn decode(body: &'a [u8], source: ReportSource) -> Result<Self, ReportError> {
        if source == ReportSource::Embedded {
            if body.trim_ascii_start().first() != Some(&b'{') {
                return Err(ReportError::new("body", "must be a JSON object"));
            }
        } else {
            check_body(body)?;
        }
        if let Ok(wire) = serde_json::from_slice::<TypedWire>(body) {
            return Ok(Self {
                cluster_name: wire.cluster_name,
                timestamp: wire.timestamp,
                namespaces: Array::Typed(wire.namespaces),
                nodes: Array::Typed(wire.nodes),
                pods: Array::Typed(wire.pods),
                containers: Array::Typed(wire.containers),
            });
        }
        let wire: Wire = decode_json(body, "")?;
        Ok(Self {
            cluster_name: wire.cluster_name,
            timestamp: wire.timestamp,
            namespaces: Array::Raw(wire.namespaces),
            nodes: Array::Raw(wire.nodes),
            pods: Array::Raw(wire.pods),
            containers: Array::Raw(wire.containers),
        })
    }

    fn check_counts(&self) -> Result<(), ReportError> {
        self.namespaces.check_count("namespaces")?;
        self.nodes.check_count("nodes")?;
        self.pods.check_count("pods")?;
        self.containers.check_count("containers")
    }
}

#[derive(Deserialize)]
struct Container<'a> {
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    id: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    pod_uid: Text<'a>,
    #[serde(borrow)]
    image_tag: Text<'a>,
    #[serde(default, borrow)]
    image_digest: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Namespace<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    uid: Text<'a>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    labels: WireMetadata<'a>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    annotations: WireMetadata<'a>,
}

#[derive(Deserialize)]
struct Pod<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    uid: Text<'a>,
    #[serde(borrow)]
    namespace_uid: Text<'a>,
    #[serde(default, borrow)]
    node_uid: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    labels: WireMetadata<'a>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    annotations: WireMetadata<'a>,
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
struct Node<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    uid: Text<'a>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    labels: WireMetadata<'a>,
    #[serde(default, borrow, deserialize_with = "null_as_default")]
    annotations: WireMetadata<'a>,
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

impl Node<'_> {
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
            labels: cap_metadata(&self.labels),
            annotations: cap_metadata(&self.annotations),
        };
        Ok((uid, detail))
    }
}

impl Namespace<'_> {
    fn into_meta(self) -> Result<NamespaceMeta, Skip> {
        let name = namespace_name("name", &self.name)?;
        Ok(NamespaceMeta {
            uid: required("uid", &self.uid, MAX_ID_BYTES)?,
            name,
            labels: cap_metadata(&self.labels),
            annotations: cap_metadata(&self.annotations),
        })
    }
}

/// One namespace context of the report: its items, and the hash of their content.
struct NamespaceContext {
    context: String,
    meta: NamespaceMeta,
    parts: Parts,
    hash: ContentHash,
}

/// Validates the report and hashes each namespace's content, without building it: the stored
/// form of a context is built only if its hash differs from the stored one.
pub fn parse_kubernetes(body: &[u8], now: DateTime<Utc>) -> Result<ParsedReport<'_>, ReportError> {
    parse(body, now, ReportSource::K8sInventory)
}

/// A report the embedded mode built from a cluster's API (`kubernetes_api::agent_report`): the
/// agent's rules, source `embedded`.
pub fn parse_collected_kubernetes(body: &[u8], now: DateTime<Utc>) -> Result<ParsedReport<'_>, ReportError> {
    parse(body, now, ReportSource::Embedded)
}

fn parse(body: &[u8], now: DateTime<Utc>, source: ReportSource) -> Result<ParsedReport<'_>, ReportError> {
    let wire = Report::decode(body, source)?;
    let timestamp = parse_timestamp(&wire.timestamp, now)?;
    let cluster = validate_cluster("cluster_name", &wire.cluster_name, CLUSTER_NAME_HINT)?;
    wire.check_counts()?;
    let mut notes = ItemNotes::default();
    // Two items with one key make the content depend on the items' order; then each context
    // is built and hashed as built.
    let mut duplicate_keys = false;

    let mut namespaces: Vec<NamespaceContext> = Vec::new();
    let mut namespace_by_name: HashMap<String, usize> = HashMap::new();
    let mut namespace_by_uid: HashMap<String, usize> = HashMap::new();
    for (index, namespace) in wire.namespaces.into_items("namespaces", &mut notes) {
        match namespace.into_meta() {
            Ok(meta) => {
                let at = *namespace_by_name.entry(meta.name.clone()).or_insert_with(|| {
                    namespaces.push(NamespaceContext {
                        context: crate::model::kubernetes_context(&cluster, &meta.name),
                        meta: meta.clone(),
                        parts: Parts::default(),
                        hash: ContentHash::default(),
                    });
                    namespaces.len() - 1
                });
                namespace_by_uid.insert(meta.uid, at);
            }
            Err(skip) => skip.note(&format!("namespaces[{index}]"), &mut notes),
        }
    }

    let mut nodes: HashMap<String, Detail> = HashMap::new();
    for (index, node) in wire.nodes.into_items("nodes", &mut notes) {
        match node.into_detail() {
            Ok((uid, detail)) => match nodes.entry(uid) {
                Entry::Occupied(_) => duplicate_keys = true,
                Entry::Vacant(entry) => {
                    entry.insert(detail);
                }
            },
            Err(skip) => skip.note(&format!("nodes[{index}]"), &mut notes),
        }
    }

    let pods = wire.pods.into_items("pods", &mut notes);
    let containers = wire.containers.into_items("containers", &mut notes);
    let mut encoder = ItemEncoder::default();
    // Each placed pod's namespace and position.
    let mut pod_places: HashMap<&str, (usize, u32)> = HashMap::new();
    for (position, (index, pod)) in pods.iter().enumerate() {
        let placed = (|| {
            let uid = checked("uid", &pod.uid, MAX_ID_BYTES)?;
            let name = checked("name", &pod.name, MAX_OBJECT_NAME_BYTES)?;
            let namespace_uid = checked("namespace_uid", &pod.namespace_uid, MAX_ID_BYTES)?;
            let namespace = namespace_by_uid.get(namespace_uid).ok_or_else(|| {
                Skip::new("namespace_uid", format!("no namespace with uid {namespace_uid:?} in this report"))
            })?;
            let node_uid = checked_optional("node_uid", pod.node_uid.as_deref(), MAX_ID_BYTES)?;
            Ok::<_, Skip>((*namespace, uid, name, namespace_uid, node_uid))
        })();
        let (namespace, uid, name, namespace_uid, node_uid) = match placed {
            Ok(placed) => placed,
            Err(skip) => {
                skip.note(&format!("pods[{index}]"), &mut notes);
                continue;
            }
        };
        let context = &mut namespaces[namespace];
        if let Some((node_uid, node)) = node_uid.and_then(|uid| Some((uid, nodes.get(uid)?))) {
            if !context.parts.nodes.contains(node_uid) {
                context.parts.nodes.insert(node_uid.to_owned());
                context.hash.add(hash_node(node));
            }
        }
        match pod_places.entry(uid) {
            Entry::Occupied(_) => duplicate_keys = true,
            Entry::Vacant(entry) => {
                entry.insert((namespace, position as u32));
            }
        }
        context.parts.pods.push(position as u32);
        context.hash.add(encoder.pod(uid, name, namespace_uid, node_uid, &pod.labels, &pod.annotations));
    }

    let mut images = ImageResolver::default();
    let mut container_ids: HashSet<std::borrow::Cow<str>> = HashSet::new();
    for (position, (index, container)) in containers.iter().enumerate() {
        let prefix = || format!("containers[{index}]");
        let placed = (|| {
            let pod_uid = checked("pod_uid", &container.pod_uid, MAX_ID_BYTES)?;
            let name = checked("name", &container.name, MAX_OBJECT_NAME_BYTES)?;
            let (namespace, pod) = pod_places.get(pod_uid).ok_or_else(|| {
                Skip::new("pod_uid", format!("no pod with uid {pod_uid:?} in this report (or the pod was skipped)"))
            })?;
            let id = checked_optional("id", Some(&container.id), MAX_ID_BYTES)?;
            Ok::<_, Skip>((*namespace, *pod, container_id(id, pod_uid, name), name, pod_uid))
        })();
        let placed = placed.and_then(|placed| {
            let image = images.resolve(&container.image_tag, container.image_digest.as_ref(), prefix, &mut notes)?;
            Ok((placed, image))
        });
        match placed {
            Ok(((namespace, pod, id, name, pod_uid), image)) => {
                let context = &mut namespaces[namespace];
                context.hash.add(encoder.container(&id, name, pod_uid, &images.images[image as usize]));
                context.parts.containers.push(PlacedContainer { container: position as u32, pod, image });
                if !container_ids.insert(id) {
                    duplicate_keys = true;
                }
            }
            Err(skip) => skip.note(&prefix(), &mut notes),
        }
    }

    namespaces.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
    let items = Arc::new(Items { pods, containers, nodes, images: images.images });
    let contexts = namespaces
        .into_iter()
        .map(|namespace| {
            let container_count = namespace.parts.containers.len() as u32;
            let content = NamespaceContent { items: Arc::clone(&items), parts: namespace.parts };
            if duplicate_keys {
                return ContextReport::from(content.build(namespace.context, Some(namespace.meta)));
            }
            ContextReport {
                context: namespace.context,
                namespace: Some(namespace.meta),
                container_count,
                content_hash: namespace.hash.finish(),
                content: Content::Kubernetes(content),
            }
        })
        .collect();
    Ok(ParsedReport {
        inventory_type: InventoryType::Kubernetes,
        source,
        timestamp,
        contexts,
        notes,
        probably_truncated: false,
    })
}

#[cfg(test)]
mod tests;

//! The `k8s-inventory` report: each namespace is a context `cluster/namespace`.

mod content;

pub(super) use content::NamespaceContent;

use super::{
    cap_metadata, check_body, checked, checked_optional, decode_json, namespace_name, null_as_default, parse_timestamp,
    required, validate_cluster, Array, Content, ContextReport, FieldError, ImageResolver, ItemNotes, ParsedReport,
    RawItems, ResolvedImage, Skip, Text,
};
use crate::limits::{MAX_ID_BYTES, MAX_OBJECT_NAME_BYTES};
use crate::model::NamespaceMeta;
use crate::model::{Detail, InventoryType, ReportSource};
use chrono::{DateTime, Utc};
use content::{container_id, hash_node, ContentHash, ItemEncoder, Items, Parts, PlacedContainer};
use serde::Deserialize;
use std::borrow::Cow;
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
    fn decode(body: &'a [u8], source: ReportSource) -> Result<Self, FieldError> {
        if source == ReportSource::Embedded {
            if body.trim_ascii_start().first() != Some(&b'{') {
                return Err(FieldError::invalid("body", "must be a JSON object"));
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

    fn check_counts(&self) -> Result<(), FieldError> {
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
pub fn parse_kubernetes(body: &[u8], now: DateTime<Utc>) -> Result<ParsedReport<'_>, FieldError> {
    parse(body, now, ReportSource::K8sInventory)
}

/// A report the embedded mode built from a cluster's API (`kubernetes_api::agent_report`): the
/// agent's rules, source `embedded`.
pub fn parse_collected_kubernetes(body: &[u8], now: DateTime<Utc>) -> Result<ParsedReport<'_>, FieldError> {
    parse(body, now, ReportSource::Embedded)
}

/// The report in passes: its namespaces (the contexts), nodes, pods placed in their namespaces,
/// containers placed in their pods with their images; then each context's content and hash.
fn parse(body: &[u8], now: DateTime<Utc>, source: ReportSource) -> Result<ParsedReport<'_>, FieldError> {
    let wire = Report::decode(body, source)?;
    let timestamp = parse_timestamp(&wire.timestamp, now)?;
    let cluster = validate_cluster("cluster_name", &wire.cluster_name, CLUSTER_NAME_HINT)?;
    wire.check_counts()?;
    let mut notes = ItemNotes::default();
    let namespaces = wire.namespaces.into_items("namespaces", &mut notes);
    let mut contexts = Contexts::of_namespaces(&cluster, namespaces, &mut notes);
    let nodes = contexts.read_nodes(wire.nodes.into_items("nodes", &mut notes), &mut notes);
    let pods = wire.pods.into_items("pods", &mut notes);
    let containers = wire.containers.into_items("containers", &mut notes);
    let pod_places = contexts.place_pods(&pods, &nodes, &mut notes);
    let images = contexts.place_containers(&containers, &pod_places, &mut notes);
    let items = Arc::new(Items { pods, containers, nodes, images });
    Ok(ParsedReport {
        inventory_type: InventoryType::Kubernetes,
        source,
        timestamp,
        contexts: contexts.into_reports(items),
        notes,
        probably_truncated: false,
    })
}

/// A pod's place: its namespace (a position in `Contexts::namespaces`) and checked fields.
struct PodPlace<'p> {
    namespace: usize,
    uid: &'p str,
    name: &'p str,
    namespace_uid: &'p str,
    node_uid: Option<&'p str>,
}

/// A container's place: its namespace, its pod's position, and checked fields.
struct ContainerPlace<'c> {
    namespace: usize,
    pod: u32,
    id: Cow<'c, str>,
    name: &'c str,
    pod_uid: &'c str,
}

/// The report's contexts, one a namespace name, as the passes place items in them.
#[derive(Default)]
struct Contexts {
    namespaces: Vec<NamespaceContext>,
    by_uid: HashMap<String, usize>,
    /// Two items with one key make the content depend on the items' order; then each context
    /// is built and hashed as built.
    duplicate_keys: bool,
    encoder: ItemEncoder,
}

impl Contexts {
    /// A context for each namespace name; two namespaces of one name are one context.
    fn of_namespaces(cluster: &str, namespaces: Vec<(usize, Namespace<'_>)>, notes: &mut ItemNotes) -> Self {
        let mut contexts = Self::default();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (index, namespace) in namespaces {
            let meta = match namespace.into_meta() {
                Ok(meta) => meta,
                Err(skip) => {
                    skip.note(&format!("namespaces[{index}]"), notes);
                    continue;
                }
            };
            let at = *by_name.entry(meta.name.clone()).or_insert_with(|| {
                contexts.namespaces.push(NamespaceContext {
                    context: crate::model::kubernetes_context(cluster, &meta.name),
                    meta: meta.clone(),
                    parts: Parts::default(),
                    hash: ContentHash::default(),
                });
                contexts.namespaces.len() - 1
            });
            contexts.by_uid.insert(meta.uid, at);
        }
        contexts
    }

    /// The nodes by uid.
    fn read_nodes(&mut self, nodes: Vec<(usize, Node<'_>)>, notes: &mut ItemNotes) -> HashMap<String, Detail> {
        let mut by_uid = HashMap::new();
        for (index, node) in nodes {
            match node.into_detail() {
                Ok((uid, detail)) => match by_uid.entry(uid) {
                    Entry::Occupied(_) => self.duplicate_keys = true,
                    Entry::Vacant(entry) => {
                        entry.insert(detail);
                    }
                },
                Err(skip) => skip.note(&format!("nodes[{index}]"), notes),
            }
        }
        by_uid
    }

    fn pod_place<'p>(&self, pod: &'p Pod<'_>) -> Result<PodPlace<'p>, Skip> {
        let namespace_uid = checked("namespace_uid", &pod.namespace_uid, MAX_ID_BYTES)?;
        Ok(PodPlace {
            uid: checked("uid", &pod.uid, MAX_ID_BYTES)?,
            name: checked("name", &pod.name, MAX_OBJECT_NAME_BYTES)?,
            namespace: *self.by_uid.get(namespace_uid).ok_or_else(|| {
                Skip::new("namespace_uid", format!("no namespace with uid {namespace_uid:?} in this report"))
            })?,
            namespace_uid,
            node_uid: checked_optional("node_uid", pod.node_uid.as_deref(), MAX_ID_BYTES)?,
        })
    }

    /// Each pod in its namespace's context, with the node it runs on. Answers each placed pod's
    /// namespace and position, by uid.
    fn place_pods<'p>(
        &mut self,
        pods: &'p [(usize, Pod<'_>)],
        nodes: &HashMap<String, Detail>,
        notes: &mut ItemNotes,
    ) -> HashMap<&'p str, (usize, u32)> {
        let mut places = HashMap::new();
        for (position, (index, pod)) in pods.iter().enumerate() {
            let place = match self.pod_place(pod) {
                Ok(place) => place,
                Err(skip) => {
                    skip.note(&format!("pods[{index}]"), notes);
                    continue;
                }
            };
            let context = &mut self.namespaces[place.namespace];
            if let Some((node_uid, node)) = place.node_uid.and_then(|uid| Some((uid, nodes.get(uid)?))) {
                if context.parts.nodes.insert(node_uid.to_owned()) {
                    context.hash.add(hash_node(node));
                }
            }
            match places.entry(place.uid) {
                Entry::Occupied(_) => self.duplicate_keys = true,
                Entry::Vacant(entry) => {
                    entry.insert((place.namespace, position as u32));
                }
            }
            context.parts.pods.push(position as u32);
            let (labels, annotations) = (&pod.labels, &pod.annotations);
            let hash =
                self.encoder.pod(place.uid, place.name, place.namespace_uid, place.node_uid, labels, annotations);
            self.namespaces[place.namespace].hash.add(hash);
        }
        places
    }

    fn container_place<'c>(
        container: &'c Container<'_>,
        pod_places: &HashMap<&str, (usize, u32)>,
    ) -> Result<ContainerPlace<'c>, Skip> {
        let pod_uid = checked("pod_uid", &container.pod_uid, MAX_ID_BYTES)?;
        let name = checked("name", &container.name, MAX_OBJECT_NAME_BYTES)?;
        let (namespace, pod) = pod_places.get(pod_uid).ok_or_else(|| {
            Skip::new("pod_uid", format!("no pod with uid {pod_uid:?} in this report (or the pod was skipped)"))
        })?;
        let id = checked_optional("id", Some(&container.id), MAX_ID_BYTES)?;
        Ok(ContainerPlace { namespace: *namespace, pod: *pod, id: container_id(id, pod_uid, name), name, pod_uid })
    }

    /// Each container in its pod's context, with its image. Answers the images, which placed
    /// containers name by position.
    fn place_containers<'a>(
        &mut self,
        containers: &[(usize, Container<'a>)],
        pod_places: &HashMap<&str, (usize, u32)>,
        notes: &mut ItemNotes,
    ) -> Vec<ResolvedImage> {
        let mut images = ImageResolver::default();
        let mut ids: HashSet<Cow<str>> = HashSet::new();
        for (position, (index, container)) in containers.iter().enumerate() {
            let prefix = || format!("containers[{index}]");
            let placed = Self::container_place(container, pod_places).and_then(|place| {
                let image = images.resolve(&container.image_tag, container.image_digest.as_ref(), prefix, notes)?;
                Ok((place, image))
            });
            let (place, image) = match placed {
                Ok(placed) => placed,
                Err(skip) => {
                    skip.note(&prefix(), notes);
                    continue;
                }
            };
            let context = &mut self.namespaces[place.namespace];
            let resolved = &images.images[image as usize];
            context.hash.add(self.encoder.container(&place.id, place.name, place.pod_uid, resolved));
            context.parts.containers.push(PlacedContainer { container: position as u32, pod: place.pod, image });
            self.duplicate_keys |= !ids.insert(place.id);
        }
        images.images
    }

    /// Each context's report, in namespace order: its content's hash, or, when two items shared
    /// a key, its content built.
    fn into_reports<'a>(mut self, items: Arc<Items<'a>>) -> Vec<ContextReport<'a>> {
        self.namespaces.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        let duplicate_keys = self.duplicate_keys;
        let reports = self.namespaces.into_iter().map(|namespace| {
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
        });
        reports.collect()
    }
}

#[cfg(test)]
mod tests;

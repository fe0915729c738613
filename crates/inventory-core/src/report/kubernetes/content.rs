//! A namespace context's content: hashed while the report is validated, and built into its
//! stored form only when that hash differs from the stored one.

use super::{Container, Pod, WireMetadata};
use crate::model::Detail;
use crate::model::NamespaceMeta;
use crate::report::{cap_metadata, capped, present, ContextSnapshot, ResolvedImage, SnapshotBuilder};
use crate::workload::{kubernetes_workload, Workload};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

/// The report's decoded items, shared by its namespace contexts.
pub(super) struct Items<'a> {
    /// With their index in the report.
    pub pods: Vec<(usize, Pod<'a>)>,
    pub containers: Vec<(usize, Container<'a>)>,
    /// By uid.
    pub nodes: HashMap<String, Detail>,
    pub images: Vec<ResolvedImage>,
}

/// A container that passed validation: its position in `Items::containers`, its pod's in
/// `Items::pods` and its image's in `Items::images`.
pub(super) struct PlacedContainer {
    pub container: u32,
    pub pod: u32,
    pub image: u32,
}

/// What one namespace holds: pods and containers as positions in `Items`, in report order.
#[derive(Default)]
pub(super) struct Parts {
    /// The uids of the nodes its pods run on, whose details it holds once.
    pub nodes: HashSet<String>,
    pub pods: Vec<u32>,
    pub containers: Vec<PlacedContainer>,
}

/// A namespace's validated items, not yet in their stored form.
pub struct NamespaceContent<'a> {
    pub(super) items: Arc<Items<'a>>,
    pub(super) parts: Parts,
}

impl NamespaceContent<'_> {
    /// The stored form: what `parse_kubernetes` validated, owned.
    pub(in crate::report) fn build(&self, context: String, namespace: Option<NamespaceMeta>) -> ContextSnapshot {
        let items = &*self.items;
        let mut builder = SnapshotBuilder::default();
        for uid in &self.parts.nodes {
            if let Some(node) = items.nodes.get(uid) {
                builder.add_detail(node.clone());
            }
        }
        let mut workloads: HashMap<u32, Workload> = HashMap::new();
        for &position in &self.parts.pods {
            let pod = &items.pods[position as usize].1;
            let labels = cap_metadata(&pod.labels);
            workloads.entry(position).or_insert_with(|| kubernetes_workload(pod.name.trim(), &labels));
            builder.add_detail(Detail::K8sPod {
                uid: pod.uid.trim().to_owned(),
                name: pod.name.trim().to_owned(),
                namespace_uid: pod.namespace_uid.trim().to_owned(),
                node_uid: pod.node_uid.as_deref().and_then(present).map(str::to_owned),
                labels,
                annotations: cap_metadata(&pod.annotations),
            });
        }
        for placed in &self.parts.containers {
            let container = &items.containers[placed.container as usize].1;
            // A pod whose uid another namespace's pod had first is placed there.
            let workload = workloads.entry(placed.pod).or_insert_with(|| {
                let pod = &items.pods[placed.pod as usize].1;
                kubernetes_workload(pod.name.trim(), &cap_metadata(&pod.labels))
            });
            let image_key = builder.add_container(&items.images[placed.image as usize], Some(workload));
            let (name, pod_uid) = (container.name.trim(), container.pod_uid.trim());
            builder.add_detail(Detail::K8sContainer {
                id: container_id(present(&container.id), pod_uid, name).into_owned(),
                name: name.to_owned(),
                pod_uid: pod_uid.to_owned(),
                image_key,
            });
        }
        builder.build(context, namespace)
    }
}

/// A container's id; one that has not started yet has none and is named by its pod and name.
pub(super) fn container_id<'v>(id: Option<&'v str>, pod_uid: &str, name: &str) -> Cow<'v, str> {
    id.map_or_else(|| Cow::Owned(format!("{pod_uid}/{name}")), Cow::Borrowed)
}

/// A hash of a namespace's items that does not depend on their order in the report (agents
/// list them in any order): the sum of each item's XXH3-128. Valid while no two items share a
/// key, which `parse_kubernetes` checks.
#[derive(Default)]
pub(super) struct ContentHash {
    sum: u128,
    items: u64,
}

impl ContentHash {
    pub fn add(&mut self, item: u128) {
        self.sum = self.sum.wrapping_add(item);
        self.items += 1;
    }

    pub fn finish(&self) -> String {
        let mut hasher = Xxh3::new();
        // Distinct from `ContextSnapshot::content_hash`, which hashes other bytes.
        hasher.update(b"kubernetes items v1");
        hasher.update(&self.sum.to_le_bytes());
        hasher.update(&self.items.to_le_bytes());
        format!("{:032x}", hasher.digest128())
    }
}

pub(super) fn hash_node(node: &Detail) -> u128 {
    let mut hasher = Xxh3::new();
    std::hash::Hash::hash(node, &mut hasher);
    hasher.digest128()
}

/// Encodes an item's stored fields for hashing: each length-prefixed, so that no two different
/// items encode alike.
#[derive(Default)]
pub(super) struct ItemEncoder(Vec<u8>);

impl ItemEncoder {
    fn start(&mut self, kind: u8) -> &mut Self {
        self.0.clear();
        self.0.push(kind);
        self
    }

    fn field(&mut self, value: &str) -> &mut Self {
        self.0.extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.0.extend_from_slice(value.as_bytes());
        self
    }

    fn optional(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.start_entry(b'+').field(value),
            None => self.start_entry(b'-'),
        }
    }

    fn start_entry(&mut self, marker: u8) -> &mut Self {
        self.0.push(marker);
        self
    }

    fn metadata(&mut self, marker: u8, metadata: &WireMetadata) -> &mut Self {
        for (key, value) in capped(metadata) {
            self.start_entry(marker).field(key).field(value);
        }
        self
    }

    fn hash(&self) -> u128 {
        xxh3_128(&self.0)
    }

    /// A pod's validated fields, as `NamespaceContent::build` stores them.
    pub fn pod(
        &mut self,
        uid: &str,
        name: &str,
        namespace_uid: &str,
        node_uid: Option<&str>,
        labels: &WireMetadata,
        annotations: &WireMetadata,
    ) -> u128 {
        self.start(b'p').field(uid).field(name).field(namespace_uid).optional(node_uid);
        self.metadata(b'l', labels).metadata(b'a', annotations).hash()
    }

    pub fn container(&mut self, id: &str, name: &str, pod_uid: &str, image: &ResolvedImage) -> u128 {
        self.start(b'c').field(id).field(name).field(pod_uid).field(&image.key).field(&image.tag);
        self.optional(image.digest.as_ref().map(|digest| digest.as_str())).hash()
    }
}

//! The detail routes (`GET /v2/kubernetes-{containers,namespaces,nodes,pods}`,
//! `GET /v2/ecs-{containers,services,tasks}`), in the shapes of Anchore's OpenAPI, paged with
//! `page` and `page_size`.
//!
//! A page is found without reading the pages before it: the `contexts` index lists an account's
//! contexts (context records only), each record counts its details per kind, so whole contexts
//! are skipped by count and only the items of the page are read (plus, at most, the skipped
//! head of the page's first context). Nodes are the exception: a node is stored once per
//! namespace that runs pods on it, so the node listing reads every node item and merges them.

use chrono::{DateTime, Utc};
use inventory_store::clock::format_time;
use inventory_store::clock::Clock;
use inventory_store::field::{whole_number, FieldError};
use inventory_store::keys::{detail_pk, image_sk, inventory_pk};
use inventory_store::limits::{DEFAULT_DETAIL_PAGE_SIZE, MAX_DETAIL_PAGE_SIZE, MAX_ID_BYTES};
use inventory_store::model::{ContextRecord, Detail, DetailKind, DetailRecord, ImageRecord, InventoryType};
use inventory_store::plan::{effective_last_seen, is_live};
use inventory_store::settings::Settings;
use inventory_store::store::{decode_item, Item, Store, StoreError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// A detail listing: what it lists and the key of its array in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    KubernetesContainers,
    KubernetesPods,
    KubernetesNodes,
    KubernetesNamespaces,
    EcsContainers,
    EcsTasks,
    EcsServices,
}

impl Listing {
    pub fn inventory_type(self) -> InventoryType {
        match self {
            Self::EcsContainers | Self::EcsTasks | Self::EcsServices => InventoryType::Ecs,
            _ => InventoryType::Kubernetes,
        }
    }

    /// The detail kind listed; `None` for namespaces, which are the contexts themselves.
    fn kind(self) -> Option<DetailKind> {
        match self {
            Self::KubernetesContainers | Self::EcsContainers => Some(DetailKind::Container),
            Self::KubernetesPods => Some(DetailKind::Pod),
            Self::KubernetesNodes => Some(DetailKind::Node),
            Self::EcsTasks => Some(DetailKind::Task),
            Self::EcsServices => Some(DetailKind::Service),
            Self::KubernetesNamespaces => None,
        }
    }

    /// As in Anchore's OpenAPI, where pods and nodes are listed under `namespaces` too.
    pub fn array_key(self) -> &'static str {
        match self {
            Self::KubernetesContainers | Self::EcsContainers => "containers",
            Self::KubernetesPods | Self::KubernetesNodes | Self::KubernetesNamespaces => "namespaces",
            Self::EcsTasks => "tasks",
            Self::EcsServices => "services",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based.
    pub page: usize,
    pub page_size: usize,
}

impl Page {
    /// `page` (required, from 1) and `page_size` (default 1,000).
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, FieldError> {
        let page = whole_number(&get, "page", usize::MAX / MAX_DETAIL_PAGE_SIZE)?
            .ok_or_else(|| FieldError::invalid("page", "is required: 1 for the first page"))?;
        let page_size = whole_number(&get, "page_size", MAX_DETAIL_PAGE_SIZE)?.unwrap_or(DEFAULT_DETAIL_PAGE_SIZE);
        Ok(Self { page, page_size })
    }

    fn offset(self) -> usize {
        (self.page - 1) * self.page_size
    }
}

/// Part of one context that belongs to a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Index into the contexts the counts were given for.
    pub context: usize,
    pub skip: usize,
    pub take: usize,
}

/// Which items of which contexts make up the page, given each context's item count in order.
pub fn page_slices(counts: &[usize], page: Page) -> Vec<Slice> {
    let mut to_skip = page.offset();
    let mut to_take = page.page_size;
    let mut slices = Vec::new();
    for (context, &count) in counts.iter().enumerate() {
        if to_take == 0 {
            break;
        }
        if to_skip >= count {
            to_skip -= count;
            continue;
        }
        let take = (count - to_skip).min(to_take);
        slices.push(Slice { context, skip: to_skip, take });
        to_skip = 0;
        to_take -= take;
    }
    slices
}

/// An id from the path: a uid as the agent sent it.
pub fn check_id(parameter: &'static str, id: &str) -> Result<(), FieldError> {
    if !inventory_store::names::is_key_part(id, MAX_ID_BYTES) {
        return Err(FieldError::invalid(
            parameter,
            format!("must be 1 to {MAX_ID_BYTES} bytes without '#' or control characters"),
        ));
    }
    Ok(())
}

/// A stored detail with its context, ready to show.
struct Found {
    context: String,
    record: DetailRecord,
    last_seen: DateTime<Utc>,
}

#[derive(Clone)]
pub struct DetailReader {
    store: Store,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

impl DetailReader {
    pub fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self { store, settings, clock }
    }

    /// The account's live contexts of a type, in context order.
    async fn contexts(&self, account: &str, inventory_type: InventoryType) -> Result<Vec<ContextRecord>, StoreError> {
        let now = self.clock.now();
        let ttl = self.settings.ttl_delta();
        let mut contexts: Vec<ContextRecord> = self
            .store
            .list_contexts(account, inventory_type)
            .await?
            .into_iter()
            .filter(|record| record.last_report_at.is_some_and(|at| is_live(at, now, ttl)))
            .collect();
        contexts.sort_by(|a, b| a.context.cmp(&b.context));
        Ok(contexts)
    }

    fn live(&self, record: &DetailRecord, context: &ContextRecord) -> Option<DateTime<Utc>> {
        let last_seen = effective_last_seen(&record.tracking, context.last_report_at);
        is_live(last_seen, self.clock.now(), self.settings.ttl_delta()).then_some(last_seen)
    }

    /// One page of a listing, as Anchore answers it: `{"<array key>": [...]}`.
    pub async fn list(&self, account: &str, listing: Listing, page: Page) -> Result<Value, StoreError> {
        let contexts = self.contexts(account, listing.inventory_type()).await?;
        let entries: Vec<Value> = match listing.kind() {
            None => {
                // Every Kubernetes context is a namespace; kai's carry no uid or labels.
                contexts.iter().skip(page.offset()).take(page.page_size).map(namespace_entry).collect()
            }
            Some(DetailKind::Node) => {
                let nodes = merge_nodes(self.all_nodes(account, &contexts).await?);
                nodes
                    .into_iter()
                    .skip(page.offset())
                    .take(page.page_size)
                    .map(|found| self.entry(account, &found, &HashMap::new()))
                    .collect()
            }
            Some(kind) => {
                let mut counts = Vec::with_capacity(contexts.len());
                for context in &contexts {
                    let stored =
                        context.detail_counts.as_ref().map(|counts| counts.get(kind.letter()).copied().unwrap_or(0));
                    let count = match stored {
                        Some(count) => count,
                        // Written before records counted their details: count them once here.
                        None => {
                            self.store.count_prefix(&self.detail_pk(account, context), &kind.sort_key_prefix()).await?
                        }
                    };
                    counts.push(count as usize);
                }
                let mut found = Vec::new();
                for slice in page_slices(&counts, page) {
                    let context = &contexts[slice.context];
                    let items = self
                        .store
                        .query_prefix(
                            &self.detail_pk(account, context),
                            &kind.sort_key_prefix(),
                            slice.skip + slice.take,
                        )
                        .await?;
                    let page_items = items.into_iter().skip(slice.skip).collect();
                    found.extend(self.live_details(page_items, std::slice::from_ref(context))?);
                }
                let images = self.images_of(account, listing.inventory_type(), &found).await?;
                found.iter().map(|found| self.entry(account, found, &images)).collect()
            }
        };
        Ok(json!({ listing.array_key(): entries }))
    }

    fn detail_pk(&self, account: &str, context: &ContextRecord) -> String {
        detail_pk(account, context.inventory_type, &context.context)
    }

    /// Image records of the containers found, by (context, image key): tags and digests live there.
    async fn images_of(
        &self,
        account: &str,
        inventory_type: InventoryType,
        found: &[Found],
    ) -> Result<HashMap<(String, String), ImageRecord>, StoreError> {
        let mut keys: Vec<(String, String)> = found
            .iter()
            .filter_map(|found| match &found.record.data {
                Detail::K8sContainer { image_key, .. } | Detail::EcsContainer { image_key, .. } => {
                    Some((inventory_pk(account, inventory_type, &found.context), image_sk(&found.context, image_key)))
                }
                _ => None,
            })
            .collect();
        keys.sort();
        keys.dedup();
        let mut images = HashMap::new();
        for item in self.store.batch_get(&keys).await? {
            let record: ImageRecord = decode_item(item)?;
            images.insert((record.context.clone(), record.image_key.clone()), record);
        }
        Ok(images)
    }

    /// The live details among `items`, each with its context (details of other contexts dropped).
    fn live_details(&self, items: Vec<Item>, contexts: &[ContextRecord]) -> Result<Vec<Found>, StoreError> {
        let by_context: HashMap<&str, &ContextRecord> = contexts.iter().map(|c| (c.context.as_str(), c)).collect();
        let mut found = Vec::new();
        for item in items {
            let record: DetailRecord = decode_item(item)?;
            let Some(context) = by_context.get(record.context.as_str()) else { continue };
            if let Some(last_seen) = self.live(&record, context) {
                found.push(Found { context: record.context.clone(), record, last_seen });
            }
        }
        Ok(found)
    }

    /// The live detail of `kind` with this id in every context that has it: one key per context.
    async fn in_every_context(
        &self,
        account: &str,
        contexts: &[ContextRecord],
        kind: DetailKind,
        id: &str,
    ) -> Result<Vec<Found>, StoreError> {
        let key = format!("{}{id}", kind.sort_key_prefix());
        let keys: Vec<(String, String)> =
            contexts.iter().map(|context| (self.detail_pk(account, context), key.clone())).collect();
        self.live_details(self.store.batch_get(&keys).await?, contexts)
    }

    /// Every node item of the account's Kubernetes contexts.
    async fn all_nodes(&self, account: &str, contexts: &[ContextRecord]) -> Result<Vec<Found>, StoreError> {
        let kind = DetailKind::Node;
        let mut items = Vec::new();
        for context in contexts {
            let count = context.detail_counts.as_ref().and_then(|c| c.get(kind.letter()).copied());
            let count = count.map_or(usize::MAX, |count| count as usize);
            if count > 0 {
                items.extend(
                    self.store.query_prefix(&self.detail_pk(account, context), &kind.sort_key_prefix(), count).await?,
                );
            }
        }
        self.live_details(items, contexts)
    }

    /// `GET /v2/kubernetes-namespaces/{id}`, `/kubernetes-pods/{id}`, `/kubernetes-nodes/{id}`:
    /// `None` when no live one has that uid.
    pub async fn get(&self, account: &str, listing: Listing, uid: &str) -> Result<Option<Value>, StoreError> {
        let contexts = self.contexts(account, InventoryType::Kubernetes).await?;
        let found = match listing {
            Listing::KubernetesNamespaces => {
                let namespace =
                    contexts.iter().find(|context| context.namespace.as_ref().is_some_and(|ns| ns.uid == uid));
                return Ok(namespace.map(namespace_entry));
            }
            Listing::KubernetesNodes => {
                merge_nodes(self.in_every_context(account, &contexts, DetailKind::Node, uid).await?)
            }
            Listing::KubernetesPods => self.in_every_context(account, &contexts, DetailKind::Pod, uid).await?,
            _ => return Ok(None),
        };
        Ok(found.first().map(|found| self.entry(account, found, &HashMap::new())))
    }

    /// One detail in Anchore's shape for its kind (plus `context` where Anchore has none).
    fn entry(&self, account: &str, found: &Found, images: &HashMap<(String, String), ImageRecord>) -> Value {
        let image = |image_key: &str| {
            let tag_only = image_key.strip_prefix(inventory_store::image::TAG_KEY_PREFIX);
            let record = images.get(&(found.context.clone(), image_key.to_owned()));
            let tag = record.map(|r| r.content.image_tag.clone()).or(tag_only.map(str::to_owned)).unwrap_or_default();
            let digest = record.map(|r| r.content.image_digest.clone()).unwrap_or_else(|| match tag_only {
                Some(_) => String::new(),
                None => image_key.to_owned(),
            });
            (tag, digest)
        };
        let context = &found.context;
        let last_seen = format_time(found.last_seen);
        match &found.record.data {
            Detail::K8sContainer { id, name, pod_uid, image_key } => {
                let (image_tag, image_digest) = image(image_key);
                json!({"id": id, "name": name, "pod_id": pod_uid, "account_name": account, "context": context,
                       "image_tag": image_tag, "image_digest": image_digest, "last_seen": last_seen})
            }
            Detail::K8sPod { uid, name, namespace_uid, node_uid, labels, annotations } => {
                json!({"id": uid, "name": name, "account_name": account, "labels": labels, "annotations": annotations,
                       "node_id": node_uid, "namespace_id": namespace_uid, "context": context, "last_seen": last_seen})
            }
            Detail::K8sNode { uid, name, attributes, labels, annotations } => {
                let (cluster, _) = inventory_store::model::split_kubernetes_context(context);
                json!({"uid": uid, "name": name, "labels": labels, "annotations": annotations,
                       "attributes": attributes, "cluster_name": cluster, "last_seen": last_seen})
            }
            Detail::EcsContainer { arn, task_arn, image_key } => {
                let (image_tag, image_digest) = image(image_key);
                json!({"arn": arn, "task_arn": task_arn, "account_name": account, "context": context,
                       "image_tag": image_tag, "image_digest": image_digest, "last_seen": last_seen})
            }
            Detail::EcsTask { arn, service_arn, task_definition_arn, tags, .. } => {
                json!({"arn": arn, "cluster_arn": context, "service_arn": service_arn,
                       "task_definition_arn": task_definition_arn, "tags": tags, "account_name": account,
                       "last_seen": last_seen})
            }
            Detail::EcsService { arn, tags } => {
                json!({"arn": arn, "cluster_arn": context, "tags": tags, "account_name": account, "last_seen": last_seen})
            }
        }
    }
}

/// One entry per node, however many namespaces reported it: its latest sighting, in name order.
fn merge_nodes(found: Vec<Found>) -> Vec<Found> {
    let mut nodes: HashMap<String, Found> = HashMap::new();
    for node in found {
        match nodes.get(&node.record.sk) {
            Some(seen) if seen.last_seen >= node.last_seen => {}
            _ => {
                nodes.insert(node.record.sk.clone(), node);
            }
        }
    }
    let mut nodes: Vec<Found> = nodes.into_values().collect();
    nodes.sort_by(|a, b| (node_name(a), &a.record.sk).cmp(&(node_name(b), &b.record.sk)));
    nodes
}

fn node_name(found: &Found) -> &str {
    match &found.record.data {
        Detail::K8sNode { name, .. } => name,
        _ => "",
    }
}

/// A Kubernetes context as Anchore's `KubernetesNamespace`.
fn namespace_entry(context: &ContextRecord) -> Value {
    let namespace = context.namespace.as_ref();
    let (cluster, name) = inventory_store::model::split_kubernetes_context(&context.context);
    json!({
        "uid": namespace.map(|ns| ns.uid.as_str()),
        "name": namespace.map_or(name, |ns| ns.name.as_str()),
        "labels": namespace.map(|ns| &ns.labels),
        "annotations": namespace.map(|ns| &ns.annotations),
        "cluster_name": cluster,
        "context": context.context,
        "last_seen": context.last_report_at.map(format_time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: usize, page_size: usize) -> Page {
        Page { page, page_size }
    }

    #[test]
    fn pages_skip_whole_contexts_by_count() {
        let counts = [3, 0, 5, 2];
        assert_eq!(page_slices(&counts, page(1, 2)), vec![Slice { context: 0, skip: 0, take: 2 }]);
        assert_eq!(
            page_slices(&counts, page(2, 2)),
            vec![Slice { context: 0, skip: 2, take: 1 }, Slice { context: 2, skip: 0, take: 1 }]
        );
        assert_eq!(
            page_slices(&counts, page(3, 3)),
            vec![Slice { context: 2, skip: 3, take: 2 }, Slice { context: 3, skip: 0, take: 1 }]
        );
        assert_eq!(page_slices(&counts, page(4, 3)), vec![Slice { context: 3, skip: 1, take: 1 }]);
        assert_eq!(page_slices(&counts, page(5, 3)), vec![]);
        let all: usize = page_slices(&counts, page(1, 100)).iter().map(|slice| slice.take).sum();
        assert_eq!(all, 10);
    }

    #[test]
    fn paging_parameters_are_checked_by_name() {
        let parse = |pairs: &[(&str, &str)]| {
            let map: HashMap<&str, &str> = pairs.iter().copied().collect();
            Page::from_params(|name| map.get(name).map(|value| value.to_string()))
        };
        assert_eq!(parse(&[]).unwrap_err().field, "page");
        assert_eq!(parse(&[("page", "0")]).unwrap_err().field, "page");
        assert_eq!(parse(&[("page", "1"), ("page_size", "0")]).unwrap_err().field, "page_size");
        assert_eq!(parse(&[("page", "1"), ("page_size", "100000")]).unwrap_err().field, "page_size");
        assert_eq!(parse(&[("page", "2")]).unwrap(), page(2, DEFAULT_DETAIL_PAGE_SIZE));
        assert!(check_id("pod_id", "a#b").is_err());
        assert!(check_id("pod_id", "c1d98ff5-2a4b-4d5b-9a26-6a0f0e6f1c11").is_ok());
    }
}

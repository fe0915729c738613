//! What is stored: keys and the three record kinds of the single table.
//!
//! Layout (one table, `pk`/`sk` strings, `expires_at` as the TTL attribute):
//! - inventory partition of a context, `pk = {account}#inv#{type}#{context}`:
//!   - context record, `sk = {context}`: last report time, namespace metadata, ingest lock;
//!   - image record, `sk = {context}#{image_key}`: one per image per context (what is listed).
//! - detail partition `pk = {account}#det#{type}#{context}`, `sk = {c|p|n|t|s}#{id}`:
//!   containers, pods, nodes, ECS tasks and services of that context.
//!
//! Every partition holds one context, so a fleet's writes spread over as many keys as it has
//! contexts. The two indexes that gather contexts (`contexts`, `digests`) spread theirs over
//! `INDEX_SHARDS` keys each, chosen by the context; a read queries every shard.
//!
//! Accounts and contexts never contain `#`, so key prefixes cannot collide.

use crate::workload::WorkloadKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub type Metadata = BTreeMap<String, String>;
/// Detail items of a context per kind: the sort key's letter before `#` (and `i`: images).
pub type DetailCounts = BTreeMap<String, u32>;
/// A Kubernetes namespace as stored on its context's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceMeta {
    pub uid: String,
    pub name: String,
    pub labels: Metadata,
    pub annotations: Metadata,
}

/// The key of present images in `DetailCounts`.
pub const IMAGE_COUNT_KEY: &str = "i";

pub const KIND_CONTEXT: &str = "context";
pub const KIND_IMAGE: &str = "image";
pub const KIND_DETAIL: &str = "detail";

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum InventoryType {
    Ecs,
    Kubernetes,
}

impl InventoryType {
    pub const ALL: [InventoryType; 2] = [InventoryType::Ecs, InventoryType::Kubernetes];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ecs => "ecs",
            Self::Kubernetes => "kubernetes",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

impl fmt::Display for InventoryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Kubernetes context: `{cluster}/{namespace}`.
pub fn kubernetes_context(cluster: &str, namespace: &str) -> String {
    format!("{cluster}/{namespace}")
}

/// A Kubernetes context's cluster and namespace. A namespace never holds `/` (the parser refuses
/// one) but a cluster name may: EKS users name clusters by ARN (`arn:...:cluster/prod`), so the
/// split is at the last `/`.
pub fn split_kubernetes_context(context: &str) -> (&str, &str) {
    context.rsplit_once('/').unwrap_or((context, ""))
}

/// The partition of an account's subscriptions (`sk`: the subscription id).
pub fn subscriptions_pk(account: &str) -> String {
    format!("{account}#sub")
}

/// The partition of an account's subscription uniqueness guards: one item per (type, key),
/// written in the same transaction as its subscription.
pub fn subscription_guard_pk(account: &str) -> String {
    format!("{account}#subkey")
}

/// A guard's sort key; `limits::MAX_SUBSCRIPTION_KEY_BYTES` keeps it within DynamoDB's bound.
pub fn subscription_guard_sk(subscription_type: &str, key: &str) -> String {
    format!("{subscription_type}#{key}")
}

/// The partition of a subscription's "sent once" markers, one per digest it scheduled (`sk`).
pub fn scheduled_marker_pk(account: &str, subscription_id: &str) -> String {
    format!("{account}#fired#{subscription_id}")
}

/// Set on items `inventory-migrate` moved to the current layout: not new to their context.
pub const MIGRATED_ATTRIBUTE: &str = "migrated";

/// The state of a marker whose event a delivery has claimed and not yet confirmed sent.
pub const MARKER_CLAIMED: &str = "claimed";

/// The partition of a context's record and image records.
pub fn inventory_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#inv#{inventory_type}#{context}")
}

pub fn detail_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#det#{inventory_type}#{context}")
}

/// The index that holds context records only (its key, `context_pk`, is on no other item).
pub const CONTEXTS_INDEX: &str = "contexts";

/// How many partition keys each index spreads an account's contexts over: a fleet's first
/// reports (one index write per context) or a fleet-wide rollout of one image (one per context)
/// put at most about 1/16 of the index writes on a key, and a read queries 16 keys at once.
pub const INDEX_SHARDS: u8 = 16;

/// The index shard of a context: stable across processes and releases (a hash of the name).
pub fn index_shard(context: &str) -> u8 {
    use sha2::{Digest, Sha256};
    Sha256::digest(context.as_bytes())[0] % INDEX_SHARDS
}

/// A context record's partition in the `contexts` index.
pub fn contexts_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    contexts_shard_pk(account, inventory_type, index_shard(context))
}

/// One shard of an account's contexts in the `contexts` index.
pub fn contexts_shard_pk(account: &str, inventory_type: InventoryType, shard: u8) -> String {
    format!("{account}#{inventory_type}#{shard:02}")
}

/// The index that names the image records carrying a digest (keys only).
pub const DIGESTS_INDEX: &str = "digests";

/// An image record's partition in the `digests` index.
pub fn digest_pk(account: &str, inventory_type: InventoryType, digest: &str, context: &str) -> String {
    digest_shard_pk(account, inventory_type, digest, index_shard(context))
}

/// One shard of the image records carrying a digest in the `digests` index.
pub fn digest_shard_pk(account: &str, inventory_type: InventoryType, digest: &str, shard: u8) -> String {
    format!("{account}#{inventory_type}#{digest}#{shard:02}")
}

pub fn image_sk(context: &str, image_key: &str) -> String {
    format!("{context}#{image_key}")
}

/// Supporting metadata of a context: everything but the image roll-up.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    K8sContainer {
        id: String,
        name: String,
        pod_uid: String,
        image_key: String,
    },
    K8sPod {
        uid: String,
        name: String,
        namespace_uid: String,
        node_uid: Option<String>,
        labels: Metadata,
        annotations: Metadata,
    },
    K8sNode {
        uid: String,
        name: String,
        attributes: Metadata,
        labels: Metadata,
        annotations: Metadata,
    },
    EcsContainer {
        arn: String,
        task_arn: Option<String>,
        image_key: String,
    },
    EcsTask {
        arn: String,
        service_arn: Option<String>,
        task_definition_arn: Option<String>,
        tags: Metadata,
        /// ECS's `version` of the task as last seen (it goes up with every state change): an
        /// ECS Task State Change event no newer than it changes nothing. Unknown to the agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<i64>,
    },
    EcsService {
        arn: String,
        tags: Metadata,
    },
}

/// The detail kinds, by the letter their sort keys start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetailKind {
    Container,
    Pod,
    Node,
    Task,
    Service,
}

impl DetailKind {
    pub fn letter(self) -> &'static str {
        match self {
            Self::Container => "c",
            Self::Pod => "p",
            Self::Node => "n",
            Self::Task => "t",
            Self::Service => "s",
        }
    }

    /// Sort keys of this kind start with this.
    pub fn sort_key_prefix(self) -> String {
        format!("{}#", self.letter())
    }
}

/// How many of `sort_keys` there are per kind.
pub fn count_details<'a>(sort_keys: impl IntoIterator<Item = &'a String>) -> DetailCounts {
    let mut counts = DetailCounts::new();
    for key in sort_keys {
        if let Some((letter, _)) = key.split_once('#') {
            *counts.entry(letter.to_owned()).or_default() += 1;
        }
    }
    counts
}

impl Detail {
    pub fn sort_key(&self) -> String {
        match self {
            Self::K8sContainer { id, .. } => format!("c#{id}"),
            Self::K8sPod { uid, .. } => format!("p#{uid}"),
            Self::K8sNode { uid, .. } => format!("n#{uid}"),
            Self::EcsContainer { arn, .. } => format!("c#{arn}"),
            Self::EcsTask { arn, .. } => format!("t#{arn}"),
            Self::EcsService { arn, .. } => format!("s#{arn}"),
        }
    }
}

/// What sent a report.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportSource {
    #[serde(rename = "k8s-inventory")]
    K8sInventory,
    #[serde(rename = "ecs-inventory")]
    EcsInventory,
    /// The legacy Kubernetes agent (before k8s-inventory 1.0).
    #[serde(rename = "kai")]
    Kai,
    /// The agentless ECS collector: it reads every task of a cluster.
    #[serde(rename = "collector")]
    Collector,
    /// ECS Task State Change events: one task each, ordered by the task's ECS `version`. They
    /// change items, never the context's report time or source (a complete report's), so they
    /// neither make the next sweep look stale nor take a context from an agent.
    #[serde(rename = "ecs-events")]
    EcsEvents,
}

/// Per-context state: when it was last reported, and the context lease.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ContextRecord {
    /// Goes up by one with every write of the record; each write is conditional on the version
    /// it read, so of two writers that read the same state exactly one succeeds.
    #[serde(default)]
    pub version: u64,
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub inventory_type: InventoryType,
    pub context: String,
    /// Absent while a first ingest of the context holds the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_report_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<NamespaceMeta>,
    /// What sent the stored report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ReportSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Its key in the `contexts` index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_pk: Option<String>,
    /// Stored details per kind (`c`, `p`, `n`, `t`, `s`) after the latest report, so a detail
    /// listing skips whole contexts without reading them; `i` counts its present images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_counts: Option<DetailCounts>,
    /// A hash of the content of the latest report applied (`ContextSnapshot::content_hash`):
    /// a report with the same hash changes no item, so it is stored without reading any.
    /// Cleared while a lease holder rewrites the items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// When the first present item's `last_seen` needs refreshing (epoch seconds); until then a
    /// report with the same content writes only this record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_due_at: Option<i64>,
    /// Seconds between the context's two latest reports: how often its agent reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_interval_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_until: Option<i64>,
    /// The latest complete report was probably truncated by its agent (`ParsedReport`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub probably_truncated: bool,
}

impl ContextRecord {
    /// A context record last reported at `last_report_at`, every optional field empty: the
    /// tests' starting point, which each test overrides with what it is about.
    #[cfg(any(test, feature = "test-fixtures"))]
    pub fn reported(
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        last_report_at: DateTime<Utc>,
    ) -> Self {
        Self {
            version: 1,
            pk: inventory_pk(account, inventory_type, context),
            sk: context.into(),
            kind: KIND_CONTEXT.into(),
            inventory_type,
            context: context.into(),
            last_report_at: Some(last_report_at),
            first_seen: None,
            updated_at: None,
            namespace: None,
            source: None,
            expires_at: None,
            context_pk: None,
            detail_counts: None,
            content_hash: None,
            refresh_due_at: None,
            report_interval_seconds: None,
            lock_owner: None,
            lock_until: None,
            probably_truncated: false,
        }
    }

    /// Whether a lease on the context is held at `now`.
    pub fn lease_is_live(&self, now: DateTime<Utc>) -> bool {
        self.lock_until.is_some_and(|until| until >= now.timestamp())
    }
}

/// How an image or detail is tracked over time.
///
/// `present` items were in the context's latest report, so their true last sighting is the
/// context's `last_report_at`; their own `last_seen` is only refreshed now and then to push
/// the physical TTL forward. Items that left the report carry their exact final `last_seen`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Tracking {
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub present: bool,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ImageContent {
    /// Empty while no digest is known.
    pub image_digest: String,
    pub image_tag: String,
    pub container_count: u32,
    /// The workloads running the image, in order, up to `MAX_WORKLOADS_PER_IMAGE`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<WorkloadContainers>,
    /// How many workloads run it, when more than are listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_count: Option<u32>,
}

/// A workload and how many of its containers run an image.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WorkloadContainers {
    pub kind: WorkloadKind,
    pub name: String,
    pub containers: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ImageRecord {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_key: String,
    /// Its key in the `digests` index; absent while no digest is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_pk: Option<String>,
    #[serde(flatten)]
    pub content: ImageContent,
    #[serde(flatten)]
    pub tracking: Tracking,
    /// Why the record is about to be deleted, written just before a `DELETE` route deletes it so
    /// the stream's `REMOVE` says so. Absent on every other write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal: Option<RemovalReason>,
}

impl ImageRecord {
    /// The record of image `image_key` in a context, with its index key.
    pub fn new(
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        image_key: &str,
        content: ImageContent,
        tracking: Tracking,
    ) -> Self {
        Self {
            pk: inventory_pk(account, inventory_type, context),
            sk: image_sk(context, image_key),
            kind: KIND_IMAGE.to_owned(),
            inventory_type,
            context: context.to_owned(),
            image_key: image_key.to_owned(),
            digest_pk: (!content.image_digest.is_empty())
                .then(|| digest_pk(account, inventory_type, &content.image_digest, context)),
            content,
            tracking,
            removal: None,
        }
    }
}

/// Why an image left a context (`Runtime Inventory Image Removed`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// A report replaced the context (`inventory_ingest_overwrite`) without it.
    Overwritten,
    /// `DELETE /v2/inventories` or `/v2/kubernetes-namespaces`.
    Deleted,
    /// Not reported for `inventory_ttl_days`: DynamoDB's TTL deleted it.
    Expired,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DetailRecord {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub data: Detail,
    #[serde(flatten)]
    pub tracking: Tracking,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn tracking() -> Tracking {
        let time = Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap();
        Tracking { first_seen: time, last_seen: time, present: true, updated_at: time, expires_at: Some(1) }
    }

    #[test]
    fn index_shards_are_stable_and_spread() {
        // Stored keys depend on it: a change of the hash would orphan every index entry.
        assert_eq!(index_shard("prod/default"), index_shard("prod/default"));
        assert_eq!(contexts_pk("a", InventoryType::Kubernetes, "prod/default"), "a#kubernetes#02");
        let mut per_shard = [0u32; INDEX_SHARDS as usize];
        for n in 0..1600 {
            per_shard[index_shard(&format!("cluster-{n}/ns")) as usize] += 1;
        }
        assert!(per_shard.iter().all(|count| (60..140).contains(count)), "{per_shard:?}");
    }

    #[test]
    fn records_round_trip_through_dynamodb_items() {
        let image = ImageRecord {
            pk: inventory_pk("admin", InventoryType::Ecs, "ctx"),
            sk: "ctx#sha256:x".into(),
            kind: KIND_IMAGE.into(),
            inventory_type: InventoryType::Ecs,
            context: "ctx".into(),
            image_key: "sha256:x".into(),
            digest_pk: Some(digest_pk("admin", InventoryType::Ecs, "sha256:x", "ctx")),
            content: ImageContent {
                image_digest: "sha256:x".into(),
                image_tag: "t".into(),
                container_count: 3,
                workloads: vec![WorkloadContainers {
                    kind: WorkloadKind::Deployment,
                    name: "web".into(),
                    containers: 3,
                }],
                workload_count: None,
            },
            tracking: tracking(),
            removal: None,
        };
        let item: serde_dynamo::Item = serde_dynamo::to_item(&image).unwrap();
        assert!(!item.contains_key("removal"), "only a record about to be deleted says why");
        assert!(item.get("expires_at").is_some());
        assert_eq!(serde_dynamo::from_item::<_, ImageRecord>(item).unwrap(), image);

        let detail = DetailRecord {
            pk: "p".into(),
            sk: "p#1".into(),
            kind: KIND_DETAIL.into(),
            inventory_type: InventoryType::Kubernetes,
            context: "c/n".into(),
            data: Detail::K8sPod {
                uid: "1".into(),
                name: "web".into(),
                namespace_uid: "ns".into(),
                node_uid: None,
                labels: [("a".to_string(), "b".to_string())].into(),
                annotations: Metadata::new(),
            },
            tracking: Tracking { expires_at: None, ..tracking() },
        };
        let item: serde_dynamo::Item = serde_dynamo::to_item(&detail).unwrap();
        assert!(!item.contains_key("expires_at"), "ttl 0 writes no TTL attribute");
        assert_eq!(serde_dynamo::from_item::<_, DetailRecord>(item).unwrap(), detail);
    }
}

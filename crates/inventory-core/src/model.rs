//! What is stored: the three record kinds of the single table (context, image, detail), built
//! with the key formats of `keys`.

pub use crate::inventory_type::InventoryType;
use crate::keys::{detail_sk, digest_pk, image_sk, inventory_pk, ItemKind};
use crate::workload::WorkloadKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// Set on items `inventory-migrate` moved to the current layout: not new to their context.
pub const MIGRATED_ATTRIBUTE: &str = "migrated";

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
        detail_sk(self.letter(), "")
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
            Self::K8sContainer { id, .. } => detail_sk(DetailKind::Container.letter(), id),
            Self::K8sPod { uid, .. } => detail_sk(DetailKind::Pod.letter(), uid),
            Self::K8sNode { uid, .. } => detail_sk(DetailKind::Node.letter(), uid),
            Self::EcsContainer { arn, .. } => detail_sk(DetailKind::Container.letter(), arn),
            Self::EcsTask { arn, .. } => detail_sk(DetailKind::Task.letter(), arn),
            Self::EcsService { arn, .. } => detail_sk(DetailKind::Service.letter(), arn),
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
    /// The embedded mode: the service reads a configured (or EKS) cluster's API itself, every
    /// namespace of the cluster (or each configured one) at once.
    #[serde(rename = "embedded")]
    Embedded,
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
    /// Whether the context's latest content holds anything (an emptied one holds nothing).
    pub fn holds_items(&self) -> bool {
        self.detail_counts.as_ref().is_none_or(|counts| counts.values().any(|count| *count > 0))
    }
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
            sk: crate::keys::context_sk(context),
            kind: ItemKind::Context.as_str().into(),
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

    /// The account whose context this is: its partition, `{account}#inv#...`, names it.
    pub fn account(&self) -> Option<&str> {
        self.pk.split_once('#').map(|(account, _)| account)
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
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
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
            kind: ItemKind::Image.as_str().to_owned(),
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
    fn records_round_trip_through_dynamodb_items() {
        let image = ImageRecord {
            pk: inventory_pk("admin", InventoryType::Ecs, "ctx"),
            sk: "ctx#sha256:x".into(),
            kind: ItemKind::Image.as_str().into(),
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
            kind: ItemKind::Detail.as_str().into(),
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

//! `DELETE /v2/inventories`: removes a context, or one image of a context, with the
//! supporting metadata that only it referenced.

use inventory_store::clock::Clock;
use inventory_store::field::FieldError;
use inventory_store::image::Digest;
use inventory_store::keys::{detail_pk, image_sk, inventory_pk};
use inventory_store::lease::{ContextLease, LeaseError};
use inventory_store::model::{split_kubernetes_context, Detail, ImageRecord, InventoryType, RemovalReason};
use inventory_store::names::{ClusterName, Context};
use inventory_store::plan::{effective_last_seen, is_live, StoredContext};
use inventory_store::settings::Settings;
use inventory_store::store::{encode, BatchWrite, Store};
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTarget {
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_digest: Option<Digest>,
}

impl DeleteTarget {
    /// Parses `inventory_type` and `context` (both required) and `image_digest`.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, FieldError> {
        let inventory_type = match get("inventory_type").filter(|value| !value.is_empty()) {
            None => return Err(FieldError::invalid("inventory_type", "is required: 'ecs' or 'kubernetes'")),
            Some(raw) => InventoryType::parse(&raw)
                .ok_or_else(|| FieldError::invalid("inventory_type", "must be 'ecs' or 'kubernetes'"))?,
        };
        let context = Context::parse("context", &get("context").unwrap_or_default())?.into_string();
        if inventory_type == InventoryType::Kubernetes && !context.contains('/') {
            return Err(FieldError::invalid("context", "a Kubernetes context is 'cluster/namespace'"));
        }
        let image_digest = get("image_digest")
            .filter(|value| !value.is_empty())
            .map(|raw| Digest::parse(&raw).map_err(|error| FieldError::invalid("image_digest", error.to_string())))
            .transpose()?;
        Ok(Self { inventory_type, context, image_digest })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Nothing matched (for one image: nothing visible); nothing was deleted.
    NotFound,
    /// A report for the context is being stored; nothing was deleted.
    Busy,
    Deleted {
        items: u64,
    },
}

#[derive(Clone)]
pub struct InventoryDeleter {
    store: Store,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

impl InventoryDeleter {
    pub fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self { store, settings, clock }
    }

    pub async fn delete(&self, account: &str, target: &DeleteTarget) -> Result<DeleteOutcome, LeaseError> {
        let stored = self.store.load_context(account, target.inventory_type, &target.context).await?;
        let now = self.clock.now();
        let ttl = self.settings.ttl_delta();
        let last_report = stored.record.as_ref().and_then(|record| record.last_report_at);
        let visible = |key: &str| {
            stored
                .images
                .get(key)
                .is_some_and(|image| is_live(effective_last_seen(&image.tracking, last_report), now, ttl))
        };
        let found = match &target.image_digest {
            Some(digest) => visible(digest.as_str()),
            // A context is deleted whole even with no live image (a namespace without pods, or
            // all expired): its record and details are still listed or kept.
            None => stored.record.is_some() || !stored.images.is_empty() || !stored.details.is_empty(),
        };
        if !found {
            return Ok(DeleteOutcome::NotFound);
        }

        let inventory = inventory_pk(account, target.inventory_type, &target.context);
        let details = detail_pk(account, target.inventory_type, &target.context);
        let (image_keys, detail_keys) = match &target.image_digest {
            None => (stored.images.keys().cloned().collect(), stored.details.keys().cloned().collect()),
            Some(digest) => (vec![digest.to_string()], details_only_used_by(&stored, digest.as_str())),
        };
        // Each image is first marked deleted, so its stream `REMOVE` (and its Image Removed
        // event) says why; an image the delete then fails to remove is rewritten by the next report.
        let marks: Vec<BatchWrite> = image_keys
            .iter()
            .filter_map(|key| {
                let image = stored.images.get(key)?;
                let mut record = ImageRecord::new(
                    account,
                    target.inventory_type,
                    &target.context,
                    key,
                    image.content.clone(),
                    image.tracking.clone(),
                );
                record.removal = Some(RemovalReason::Deleted);
                Some(BatchWrite::Put(encode(&record)))
            })
            .collect();
        let writes: Vec<BatchWrite> = image_keys
            .iter()
            .map(|key| BatchWrite::Delete { pk: inventory.clone(), sk: image_sk(&target.context, key) })
            .chain(detail_keys.iter().map(|key| BatchWrite::Delete { pk: details.clone(), sk: key.clone() }))
            .collect();
        let mut items = writes.len() as u64;
        let Some(record) = &stored.record else {
            // Items without a context record (a first report that failed): nothing to lease.
            self.store.batch_write(marks).await?;
            self.store.batch_write(writes).await?;
            return Ok(DeleteOutcome::Deleted { items });
        };
        // The context's lease keeps a concurrent report from interleaving with the delete.
        let Some(mut lease) =
            ContextLease::acquire(&self.store, self.clock.clone(), Some(record), || record.clone()).await?
        else {
            return Ok(DeleteOutcome::Busy);
        };
        lease.write(marks).await?;
        lease.write(writes).await?;
        // The record goes last, so a failure above leaves the context discoverable for a retry.
        if target.image_digest.is_none() {
            lease.commit_delete().await?;
            items += 1;
        } else {
            let record = lease.record().clone();
            lease.commit(record).await?;
        }
        Ok(DeleteOutcome::Deleted { items })
    }
}

impl InventoryDeleter {
    /// `DELETE /v2/history?inventory_type=&context=`: the context's running intervals, which
    /// deleting its inventory keeps. No lease: history is written by the notifier alone.
    pub async fn delete_history(&self, account: &str, target: &DeleteTarget) -> Result<DeleteOutcome, LeaseError> {
        let intervals = self.store.delete_context_history(account, target.inventory_type, &target.context).await?;
        Ok(if intervals == 0 {
            DeleteOutcome::NotFound
        } else {
            DeleteOutcome::Deleted { items: intervals as u64 * 2 }
        })
    }

    /// `DELETE /v2/kubernetes-namespaces?cluster_name=`: every namespace context of the
    /// cluster, each under its own lease. Contexts a report is being stored for are left and
    /// answered `Busy` once the others are deleted.
    pub async fn delete_cluster(&self, account: &str, cluster: &str) -> Result<DeleteOutcome, LeaseError> {
        let contexts =
            self.store.contexts_with_prefix(account, InventoryType::Kubernetes, &format!("{cluster}/")).await?;
        let (mut items, mut busy, mut found) = (0, false, false);
        // Cluster `a`'s prefix also finds the namespaces of a cluster named `a/b`.
        for context in contexts.into_iter().filter(|context| split_kubernetes_context(context).0 == cluster) {
            let target = DeleteTarget { inventory_type: InventoryType::Kubernetes, context, image_digest: None };
            match self.delete(account, &target).await? {
                DeleteOutcome::NotFound => {}
                DeleteOutcome::Busy => busy = true,
                DeleteOutcome::Deleted { items: deleted } => {
                    found = true;
                    items += deleted;
                }
            }
        }
        Ok(match (busy, found) {
            (true, _) => DeleteOutcome::Busy,
            (false, true) => DeleteOutcome::Deleted { items },
            (false, false) => DeleteOutcome::NotFound,
        })
    }
}

/// `cluster_name` of `DELETE /v2/kubernetes-namespaces`: required, so that no request deletes
/// every cluster's inventory by leaving it out.
pub fn cluster_param(get: impl Fn(&str) -> Option<String>) -> Result<String, FieldError> {
    let cluster = get("cluster_name").filter(|value| !value.trim().is_empty());
    let Some(cluster) = cluster else {
        return Err(FieldError::invalid("cluster_name", "is required: the cluster whose namespaces are deleted"));
    };
    Ok(ClusterName::parse("cluster_name", &cluster)?.into_string())
}

/// The containers running `image_key`, and the pods, nodes, tasks and services that only
/// those containers (or their pods and tasks) referenced.
fn details_only_used_by(stored: &StoredContext, image_key: &str) -> Vec<String> {
    /// Parents referenced by removed children, and by kept ones.
    #[derive(Default)]
    struct References {
        removed: HashSet<String>,
        kept: HashSet<String>,
    }
    impl References {
        fn note(&mut self, parent: Option<&String>, child_removed: bool) {
            if let Some(parent) = parent {
                let set = if child_removed { &mut self.removed } else { &mut self.kept };
                set.insert(parent.clone());
            }
        }
        fn orphaned(&self, parent: &str) -> bool {
            self.removed.contains(parent) && !self.kept.contains(parent)
        }
    }

    let mut removed: Vec<String> = Vec::new();
    let (mut pods, mut tasks) = (References::default(), References::default());
    for (key, detail) in &stored.details {
        match &detail.content {
            Detail::K8sContainer { image_key: image, pod_uid, .. } => {
                let gone = image == image_key;
                pods.note(Some(pod_uid), gone);
                if gone {
                    removed.push(key.clone());
                }
            }
            Detail::EcsContainer { image_key: image, task_arn, .. } => {
                let gone = image == image_key;
                tasks.note(task_arn.as_ref(), gone);
                if gone {
                    removed.push(key.clone());
                }
            }
            _ => {}
        }
    }
    let (mut nodes, mut services) = (References::default(), References::default());
    for (key, detail) in &stored.details {
        match &detail.content {
            Detail::K8sPod { uid, node_uid, .. } => {
                let gone = pods.orphaned(uid);
                nodes.note(node_uid.as_ref(), gone);
                if gone {
                    removed.push(key.clone());
                }
            }
            Detail::EcsTask { arn, service_arn, .. } => {
                let gone = tasks.orphaned(arn);
                services.note(service_arn.as_ref(), gone);
                if gone {
                    removed.push(key.clone());
                }
            }
            _ => {}
        }
    }
    for (key, detail) in &stored.details {
        match &detail.content {
            Detail::K8sNode { uid, .. } if nodes.orphaned(uid) => removed.push(key.clone()),
            Detail::EcsService { arn, .. } if services.orphaned(arn) => removed.push(key.clone()),
            _ => {}
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::types::error::ResourceNotFoundException;
    use aws_sdk_dynamodb::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use chrono::TimeZone;
    use inventory_store::clock::ManualClock;
    use inventory_store::keys::ItemKind;
    use inventory_store::model::{ContextRecord, ImageContent, ImageRecord, Tracking};
    use inventory_store::store::encode;
    use std::sync::Mutex;

    const DIGEST: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";

    #[tokio::test]
    async fn a_store_failure_mid_delete_gives_the_lease_back_at_once() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 20, 10, 20, 0).unwrap();
        let pk = inventory_pk("admin", InventoryType::Kubernetes, "c/a");
        let record = ContextRecord {
            version: 3,
            first_seen: Some(now),
            updated_at: Some(now),
            ..ContextRecord::reported("admin", InventoryType::Kubernetes, "c/a", now)
        };
        let tracking = Tracking { first_seen: now, last_seen: now, present: true, updated_at: now, expires_at: None };
        let image = ImageRecord {
            pk: pk.clone(),
            sk: image_sk("c/a", DIGEST),
            kind: ItemKind::Image.as_str().into(),
            inventory_type: InventoryType::Kubernetes,
            context: "c/a".into(),
            image_key: DIGEST.into(),
            digest_pk: None,
            content: ImageContent {
                image_digest: DIGEST.into(),
                image_tag: "t".into(),
                container_count: 1,
                workloads: Vec::new(),
                workload_count: None,
            },
            tracking,
            removal: None,
        };
        let stored = encode(&record);
        let get = mock!(Client::get_item)
            .then_output(move || GetItemOutput::builder().set_item(Some(stored.clone())).build());
        let image_item = encode(&image);
        let query = mock!(Client::query).then_compute_output(move |input| {
            let images = input.expression_attribute_values().and_then(|values| values.get(":prefix")).is_some();
            QueryOutput::builder().set_items(Some(if images { vec![image_item.clone()] } else { vec![] })).build()
        });
        let puts: std::sync::Arc<Mutex<Vec<(ContextRecord, String)>>> = Default::default();
        let seen = std::sync::Arc::clone(&puts);
        let put = mock!(Client::put_item)
            .match_requests(move |input| {
                let item: ContextRecord = serde_dynamo::from_item(input.item().cloned().unwrap()).unwrap();
                seen.lock().unwrap().push((item, input.condition_expression().unwrap_or_default().to_owned()));
                true
            })
            .then_output(|| PutItemOutput::builder().build());
        let batch = mock!(Client::batch_write_item).then_error(|| {
            BatchWriteItemError::ResourceNotFoundException(ResourceNotFoundException::builder().message("gone").build())
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &query, &put, &batch]);
        let settings =
            Settings { table_name: "t".into(), ttl_days: 120, ingest_overwrite: false, stale_after_minutes: 30 };
        let deleter = InventoryDeleter::new(Store::new(client, "t"), settings, Arc::new(ManualClock::new(now)));

        let target =
            DeleteTarget { inventory_type: InventoryType::Kubernetes, context: "c/a".into(), image_digest: None };
        let error = deleter.delete("admin", &target).await.unwrap_err();
        assert!(error.to_string().contains("BatchWriteItem"), "{error}");
        assert_eq!(batch.num_calls(), 1);
        let puts = puts.lock().unwrap();
        assert_eq!(puts.len(), 2, "the lease was taken, then given back");
        let (taken, _) = &puts[0];
        assert_eq!((taken.version, taken.lock_owner.is_some()), (4, true));
        let (given_back, condition) = &puts[1];
        assert_eq!(condition, "lock_owner = :owner AND version = :version");
        assert_eq!((given_back.version, &given_back.lock_owner, given_back.lock_until), (5, &None, None));
        assert_eq!(given_back.last_report_at, record.last_report_at, "the record is as it was");
    }
}

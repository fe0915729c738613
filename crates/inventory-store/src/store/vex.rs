//! VEX annotations: each whole in the account's partition, a copy of the image-scoped ones in the
//! image's, their audit trails, and the account's rules (the active annotations as reads match
//! them) as chunks of a generation named by a leased record.

use super::chunks::{chunk_deletes, chunk_writes};
use super::{batch::BatchWrite, decode, encode, key, Store, StoreError};
use crate::keys::{
    vex_audit_pk, vex_audit_sk, vex_image_pk, vex_pk, vex_rules_chunks_pk, vex_rules_pk, ItemKind, VEX_ACCOUNTS_PK,
    VEX_RULES_SK,
};
use chrono::{DateTime, Utc};
use inventory_core::vex::{Annotation, AuditEntry};
use serde::{Deserialize, Serialize};

/// An annotation as stored, in the account's partition or (a copy) in its image's.
#[derive(Serialize, Deserialize)]
struct AnnotationItem {
    pk: String,
    sk: String,
    kind: String,
    #[serde(flatten)]
    annotation: Annotation,
}

#[derive(Serialize, Deserialize)]
struct AuditItem {
    pk: String,
    sk: String,
    kind: String,
    #[serde(flatten)]
    entry: AuditEntry,
}

/// Which generation of an account's rules is current, leased while they are rebuilt.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VexRulesRecord {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub account: String,
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_until: Option<i64>,
    /// None until the account's first rules are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    #[serde(default)]
    pub chunks: u32,
    /// XXH3-128 of the rules as stored: a rebuild that changes nothing writes no chunks.
    #[serde(default)]
    pub digest: String,
    /// Active annotations (the rules) and all annotations of the account.
    #[serde(default)]
    pub rules: u64,
    #[serde(default)]
    pub annotations: u64,
    /// The earliest expiry of an active annotation: the scheduled check rebuilds from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_expiry: Option<DateTime<Utc>>,
    /// Image annotations that lapse once a fix appears: the check looks at their findings.
    #[serde(default)]
    pub watch_fixed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl VexRulesRecord {
    pub fn new(account: &str) -> Self {
        Self {
            pk: vex_rules_pk(account),
            sk: VEX_RULES_SK.to_owned(),
            kind: ItemKind::VexRules.as_str().to_owned(),
            account: account.to_owned(),
            version: 0,
            lock_owner: None,
            lock_until: None,
            generation: None,
            chunks: 0,
            digest: String::new(),
            rules: 0,
            annotations: 0,
            next_expiry: None,
            watch_fixed: 0,
            updated_at: None,
        }
    }

    pub fn lease_is_live(&self, now: DateTime<Utc>) -> bool {
        self.lock_until.is_some_and(|until| until >= now.timestamp())
    }

    fn chunks_pk(&self) -> Option<String> {
        self.generation.as_ref().map(|generation| vex_rules_chunks_pk(&self.account, generation))
    }
}

/// The writes that store `annotation` (and its image copy).
pub fn annotation_writes(account: &str, annotation: &Annotation) -> Vec<BatchWrite> {
    annotation_keys(account, annotation)
        .into_iter()
        .map(|(pk, sk, kind)| {
            let item = AnnotationItem { pk, sk, kind: kind.as_str().to_owned(), annotation: annotation.clone() };
            BatchWrite::Put(encode(&item))
        })
        .collect()
}

/// The writes that remove `annotation` (and its image copy); its audit trail stays.
pub fn annotation_deletes(account: &str, annotation: &Annotation) -> Vec<BatchWrite> {
    annotation_keys(account, annotation).into_iter().map(|(pk, sk, _)| BatchWrite::Delete { pk, sk }).collect()
}

fn annotation_keys(account: &str, annotation: &Annotation) -> Vec<(String, String, ItemKind)> {
    let mut keys = vec![(vex_pk(account), annotation.uuid.clone(), ItemKind::VexAnnotation)];
    if let Some(digest) = annotation.statement.scope.image_digest() {
        keys.push((vex_image_pk(account, digest), annotation.uuid.clone(), ItemKind::VexImageAnnotation));
    }
    keys
}

pub fn audit_write(account: &str, entry: &AuditEntry) -> BatchWrite {
    BatchWrite::Put(encode(&AuditItem {
        pk: vex_audit_pk(account, &entry.uuid),
        sk: vex_audit_sk(entry.version, entry.action.as_str()),
        kind: ItemKind::VexAudit.as_str().to_owned(),
        entry: entry.clone(),
    }))
}

/// The entry naming the account among those with annotations.
pub fn vex_account_write(account: &str) -> BatchWrite {
    let mut item = key(VEX_ACCOUNTS_PK, account);
    item.insert("kind".to_owned(), super::string(ItemKind::VexAccount.as_str()));
    BatchWrite::Put(item)
}

fn annotations(items: Vec<super::Item>) -> Result<Vec<Annotation>, StoreError> {
    items.into_iter().map(|item| decode::<AnnotationItem>(item).map(|item| item.annotation)).collect()
}

impl Store {
    /// Writes `after`, changed from the stored version `before_version`, its image copy and its
    /// audit entry: all or nothing, and only if no one changed it since (`ConditionFailed`).
    pub async fn replace_vex_annotation(
        &self,
        account: &str,
        before_version: u64,
        after: &Annotation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
        let puts = annotation_writes(account, after).into_iter().chain([audit_write(account, audit)]);
        let mut items = Vec::new();
        // The annotation itself comes first (`annotation_keys`): it carries the condition.
        for (n, write) in puts.enumerate() {
            let BatchWrite::Put(item) = write else { continue };
            let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
            if n == 0 {
                put = put
                    .condition_expression("#version = :version")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", AttributeValue::N(before_version.to_string()));
            }
            let put = put.build().expect("table and item are set");
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if was_cancelled_by_a_condition(&error) => Err(StoreError::ConditionFailed),
            Err(error) => Err(super::sdk_error("TransactWriteItems")(error)),
        }
    }

    pub async fn vex_annotation(&self, account: &str, uuid: &str) -> Result<Option<Annotation>, StoreError> {
        Ok(self.get::<AnnotationItem>(&vex_pk(account), uuid, true).await?.map(|item| item.annotation))
    }

    /// Every annotation of the account, read consistently: what its rules are built from.
    pub async fn vex_annotations(&self, account: &str) -> Result<Vec<Annotation>, StoreError> {
        annotations(self.query_all(&vex_pk(account), None).await?)
    }

    /// The annotations scoped to one image.
    pub async fn vex_image_annotations(&self, account: &str, digest: &str) -> Result<Vec<Annotation>, StoreError> {
        annotations(self.query_all(&vex_image_pk(account, digest), None).await?)
    }

    /// An annotation's audit trail, oldest first.
    pub async fn vex_audit(&self, account: &str, uuid: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let items = self.query_all(&vex_audit_pk(account, uuid), None).await?;
        items.into_iter().map(|item| decode::<AuditItem>(item).map(|item| item.entry)).collect()
    }

    /// The record of the account's rules (one strongly consistent `GetItem`: a read right after an
    /// annotation was written sees it).
    pub async fn vex_rules_record(&self, account: &str) -> Result<Option<VexRulesRecord>, StoreError> {
        self.get(&vex_rules_pk(account), VEX_RULES_SK, true).await
    }

    /// The compressed rules a record names.
    pub async fn vex_rules_data(&self, record: &VexRulesRecord) -> Result<Vec<u8>, StoreError> {
        match record.chunks_pk() {
            Some(pk) => self.chunk_data(&pk, None, record.chunks).await,
            None => Ok(Vec::new()),
        }
    }

    /// The accounts with annotations.
    pub async fn vex_accounts(&self) -> Result<Vec<String>, StoreError> {
        let items = self.query_all(VEX_ACCOUNTS_PK, None).await?;
        Ok(items.into_iter().filter_map(|item| super::item_key(&item).map(|(_, sk)| sk)).collect())
    }
}

/// The writes of a new generation of rules (`compressed`) for `record`, and the record naming it.
pub fn rules_generation(
    record: &VexRulesRecord,
    compressed: &[u8],
    generation: String,
) -> (Vec<BatchWrite>, VexRulesRecord) {
    let pk = vex_rules_chunks_pk(&record.account, &generation);
    let writes = chunk_writes(&pk, ItemKind::VexRulesChunk, compressed);
    let next = VexRulesRecord { generation: Some(generation), chunks: writes.len() as u32, ..record.clone() };
    (writes, next)
}

/// The deletes of the chunks `record` names (after a newer generation is current).
pub fn rules_chunk_deletes(record: &VexRulesRecord) -> Vec<BatchWrite> {
    record.chunks_pk().map(|pk| chunk_deletes(&pk, record.chunks)).unwrap_or_default()
}

/// A transaction cancelled because one of its conditions did not hold.
fn was_cancelled_by_a_condition<R>(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().iter().any(|reason| reason.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}

//! Images' findings (`{account}#find#{digest}`): the findings record and each scanner's chunks
//! (gzip JSON in a binary attribute), and the vulnerability (`#vuln#`) and severity (`#sev#`)
//! indexes.

use super::{decode, encode, key, sdk_error, string, BatchWrite, Item, Store, StoreError};
use crate::findings::{ImageFindingsRecord, Severity, VulnerableImage};
use crate::keys::{
    findings_chunk_sk, findings_flag_pk, findings_pk, severity_pk, vulnerability_pk, ItemKind, FINDINGS_CHUNK_PREFIX,
    FINDINGS_FLAG_SK, FINDINGS_RECORD_SK,
};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

const CHUNK_ATTRIBUTE: &str = "findings_gz";

/// One stored chunk of a scanner's findings, decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingsChunk {
    pub scanner: String,
    pub generation: String,
    pub index: u32,
    /// The chunk's JSON array of findings; `None` when it cannot be read (a failed post's
    /// leftover is still deleted by its key).
    pub json: Option<Vec<u8>>,
}

impl FindingsChunk {
    fn from_item(item: &Item) -> Option<Self> {
        let sk = item.get("sk")?.as_s().ok()?;
        let mut parts = sk.strip_prefix(FINDINGS_CHUNK_PREFIX)?.rsplitn(3, '#');
        let index = parts.next()?.parse().ok()?;
        let generation = parts.next()?.to_owned();
        let scanner = parts.next()?.to_owned();
        let json = item
            .get(CHUNK_ATTRIBUTE)
            .and_then(|value| value.as_b().ok())
            .and_then(|blob| crate::gzip::decompress(blob.as_ref()).ok());
        Some(Self { scanner, generation, index, json })
    }

    /// The write that removes this chunk.
    pub fn delete(&self, account: &str, digest: &str) -> BatchWrite {
        BatchWrite::Delete {
            pk: findings_pk(account, digest),
            sk: findings_chunk_sk(&self.scanner, &self.generation, self.index),
        }
    }
}

/// The write of one chunk of a scanner's findings.
pub fn findings_chunk_write(
    account: &str,
    digest: &str,
    scanner: &str,
    generation: &str,
    index: u32,
    json: &[u8],
) -> BatchWrite {
    let compressed = crate::gzip::compress(json);
    let mut item = key(&findings_pk(account, digest), &findings_chunk_sk(scanner, generation, index));
    item.insert("kind".to_owned(), string(ItemKind::FindingsChunk.as_str()));
    item.insert(CHUNK_ATTRIBUTE.to_owned(), AttributeValue::B(Blob::new(compressed)));
    BatchWrite::Put(item)
}

/// The write of the item saying the account has findings.
pub fn findings_flag_write(account: &str) -> BatchWrite {
    let mut item = key(&findings_flag_pk(account), FINDINGS_FLAG_SK);
    item.insert("kind".to_owned(), string(ItemKind::FindingsFlag.as_str()));
    BatchWrite::Put(item)
}

/// The write of a vulnerability index entry, or of its removal.
pub fn vulnerable_image_write(entry: &VulnerableImage) -> BatchWrite {
    BatchWrite::Put(encode(entry))
}

pub fn vulnerable_image_delete(account: &str, vulnerability_id: &str, digest: &str) -> BatchWrite {
    BatchWrite::Delete { pk: vulnerability_pk(account, vulnerability_id), sk: digest.to_owned() }
}

/// The write that files an image under its highest severity, or takes it out of one.
pub fn severity_entry_write(account: &str, severity: Severity, digest: &str) -> BatchWrite {
    let mut item = key(&severity_pk(account, severity.as_str()), digest);
    item.insert("kind".to_owned(), string(ItemKind::Severity.as_str()));
    BatchWrite::Put(item)
}

pub fn severity_entry_delete(account: &str, severity: Severity, digest: &str) -> BatchWrite {
    BatchWrite::Delete { pk: severity_pk(account, severity.as_str()), sk: digest.to_owned() }
}

impl Store {
    /// An image's findings record, read consistently.
    pub async fn findings_record(
        &self,
        account: &str,
        digest: &str,
    ) -> Result<Option<ImageFindingsRecord>, StoreError> {
        self.get(&findings_pk(account, digest), FINDINGS_RECORD_SK, true).await
    }

    /// The findings records of `digests` that exist, in no particular order.
    pub async fn findings_records(
        &self,
        account: &str,
        digests: &[String],
    ) -> Result<Vec<ImageFindingsRecord>, StoreError> {
        let keys: Vec<(String, String)> =
            digests.iter().map(|digest| (findings_pk(account, digest), FINDINGS_RECORD_SK.to_owned())).collect();
        self.batch_get(&keys).await?.into_iter().map(decode).collect()
    }

    /// Every chunk stored for an image, of every scanner and generation.
    pub async fn findings_chunks(&self, account: &str, digest: &str) -> Result<Vec<FindingsChunk>, StoreError> {
        let items = self.query_all(&findings_pk(account, digest), Some(FINDINGS_CHUNK_PREFIX)).await?;
        Ok(items.iter().filter_map(FindingsChunk::from_item).collect())
    }

    /// The images carrying a vulnerability, in digest order.
    pub async fn vulnerable_images(
        &self,
        account: &str,
        vulnerability_id: &str,
    ) -> Result<Vec<VulnerableImage>, StoreError> {
        self.query_partition(&vulnerability_pk(account, vulnerability_id)).await?.into_iter().map(decode).collect()
    }

    /// Whether the account ever posted findings: one key read.
    pub async fn any_findings(&self, account: &str) -> Result<bool, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&findings_flag_pk(account), FINDINGS_FLAG_SK)))
            .projection_expression("pk")
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        Ok(output.item.is_some())
    }

    /// The digests of the images whose highest severity is `severity`.
    pub async fn digests_at_severity(&self, account: &str, severity: Severity) -> Result<Vec<String>, StoreError> {
        let items = self.query_partition(&severity_pk(account, severity.as_str())).await?;
        Ok(items.iter().filter_map(|item| item.get("sk")?.as_s().ok().cloned()).collect())
    }
}

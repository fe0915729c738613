//! Images' SBOMs (`{account}#sbom#{digest}`): the record, the chunks of the normalised packages
//! and of the document as posted; the package index (`#pkg#`) and the package watches (`#pkgw`).

use super::chunks::{chunk_write, CHUNK_ATTRIBUTE};
use super::history::at_most;
use super::{decode, encode, key, sdk_error, string, BatchWrite, Item, Store, StoreError};
use crate::keys::{
    package_pk, package_watches_pk, sbom_chunk_prefix, sbom_chunk_sk, sbom_pk, ItemKind, SBOM_DOCUMENT, SBOM_RECORD_SK,
};
use crate::sbom::{EntryKey, ImageSbomRecord, PackageEntry, PackageWatch, StoredSbom};

/// One stored chunk of a part of an SBOM (`pkgs`, `doc`), its bytes gzip-compressed as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomChunk {
    pub part: String,
    pub generation: String,
    pub index: u32,
    /// `None` when it cannot be read (it is still deleted by its key).
    pub compressed: Option<Vec<u8>>,
}

impl SbomChunk {
    fn from_item(item: &Item) -> Option<Self> {
        let sk = item.get("sk")?.as_s().ok()?;
        let mut parts = sk.splitn(3, '#');
        let part = parts.next()?.to_owned();
        let generation = parts.next()?.to_owned();
        let index = parts.next()?.parse().ok()?;
        let compressed =
            item.get(CHUNK_ATTRIBUTE).and_then(|value| value.as_b().ok()).map(|blob| blob.as_ref().to_vec());
        Some(Self { part, generation, index, compressed })
    }

    pub fn delete(&self, account: &str, digest: &str) -> BatchWrite {
        BatchWrite::Delete { pk: sbom_pk(account, digest), sk: sbom_chunk_sk(&self.part, &self.generation, self.index) }
    }
}

/// The writes of one part of an SBOM: each of `pieces` (already compressed) an item.
pub fn sbom_chunk_writes(
    account: &str,
    digest: &str,
    part: &str,
    generation: &str,
    pieces: &[Vec<u8>],
) -> Vec<BatchWrite> {
    let pk = sbom_pk(account, digest);
    let chunks = pieces.iter().enumerate();
    chunks
        .map(|(n, piece)| chunk_write(&pk, &sbom_chunk_sk(part, generation, n as u32), ItemKind::SbomChunk, piece))
        .collect()
}

pub fn package_entry_write(entry: &PackageEntry) -> BatchWrite {
    BatchWrite::Put(encode(entry))
}

pub fn package_entry_delete((pk, sk): &EntryKey) -> BatchWrite {
    BatchWrite::Delete { pk: pk.clone(), sk: sk.clone() }
}

impl Store {
    /// An image's SBOM record, read consistently.
    pub async fn sbom_record(&self, account: &str, digest: &str) -> Result<Option<ImageSbomRecord>, StoreError> {
        self.get(&sbom_pk(account, digest), SBOM_RECORD_SK, true).await
    }

    /// The chunks of an image's SBOM whose sort key starts with `prefix` (`pkgs#`: every
    /// generation's packages; `doc#{generation}#`: one document).
    pub async fn sbom_chunks(&self, account: &str, digest: &str, prefix: &str) -> Result<Vec<SbomChunk>, StoreError> {
        let items = self.query_all(&sbom_pk(account, digest), Some(prefix)).await?;
        let mut chunks: Vec<SbomChunk> = items.iter().filter_map(SbomChunk::from_item).collect();
        chunks.sort_by(|a, b| (&a.generation, a.index).cmp(&(&b.generation, b.index)));
        Ok(chunks)
    }

    /// The document an SBOM record names, as stored (gzip): `chunks` of them, or it is corrupt.
    pub async fn sbom_document(
        &self,
        account: &str,
        digest: &str,
        current: &StoredSbom,
    ) -> Result<Vec<u8>, StoreError> {
        let prefix = sbom_chunk_prefix(SBOM_DOCUMENT, Some(&current.document_generation));
        self.chunk_data(&sbom_pk(account, digest), Some(&prefix), current.document_chunks).await
    }

    /// The index entries filed under a package name, read eventually consistently; `None` when
    /// there are more than `most`.
    pub async fn package_entries(
        &self,
        account: &str,
        package_type: &str,
        name: &str,
        most: usize,
    ) -> Result<Option<Vec<PackageEntry>>, StoreError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", string(&package_pk(account, package_type, name)));
        at_most(request, most).await
    }

    /// Stores a new watch; `ConditionFailed` if its id is taken.
    pub async fn create_package_watch(&self, watch: &PackageWatch) -> Result<(), StoreError> {
        self.put_if(encode(watch), "attribute_not_exists(pk)").await
    }

    /// An account's watches, read consistently.
    pub async fn package_watches(&self, account: &str) -> Result<Vec<PackageWatch>, StoreError> {
        let items = self.query_all(&package_watches_pk(account), None).await?;
        items.into_iter().map(decode).collect()
    }

    pub async fn package_watch(&self, account: &str, watch_id: &str) -> Result<Option<PackageWatch>, StoreError> {
        self.get(&package_watches_pk(account), watch_id, true).await
    }

    /// Deletes a watch; whether there was one.
    pub async fn delete_package_watch(&self, account: &str, watch_id: &str) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&package_watches_pk(account), watch_id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error("DeleteItem"))?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }
}

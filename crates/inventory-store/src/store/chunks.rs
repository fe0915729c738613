//! Data too large for one item (a threat feed's generation, an account's VEX rules, an image's
//! SBOM): compressed bytes split over items (`sk`: `threat_chunk_sk` in a partition of their own,
//! or the SBOM's `sbom_chunk_sk`), written before the record that names their generation, read
//! back whole.

use super::{batch::BatchWrite, key, string, Store, StoreError};
use crate::keys::{threat_chunk_sk, ItemKind};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

/// Compressed bytes per chunk item: inside DynamoDB's 400 KB with the keys.
pub const CHUNK_BYTES: usize = 350_000;
pub(super) const CHUNK_ATTRIBUTE: &str = "data_gz";

/// How many items `bytes` take.
pub fn chunk_count(bytes: usize) -> u32 {
    bytes.div_ceil(CHUNK_BYTES) as u32
}

/// The writes of `compressed` as chunks of partition `pk`.
pub(super) fn chunk_writes(pk: &str, kind: ItemKind, compressed: &[u8]) -> Vec<BatchWrite> {
    let pieces = compressed.chunks(CHUNK_BYTES).enumerate();
    pieces.map(|(n, bytes)| chunk_write(pk, &threat_chunk_sk(n as u32), kind, bytes)).collect()
}

/// One chunk item: `bytes` at (`pk`, `sk`).
pub(super) fn chunk_write(pk: &str, sk: &str, kind: ItemKind, bytes: &[u8]) -> BatchWrite {
    let mut item = key(pk, sk);
    item.insert("kind".to_owned(), string(kind.as_str()));
    item.insert(CHUNK_ATTRIBUTE.to_owned(), AttributeValue::B(Blob::new(bytes)));
    BatchWrite::Put(item)
}

/// Compressed bytes split into items' worth.
pub fn split_compressed(compressed: &[u8]) -> Vec<Vec<u8>> {
    compressed.chunks(CHUNK_BYTES).map(<[u8]>::to_vec).collect()
}

pub(super) fn chunk_deletes(pk: &str, chunks: u32) -> Vec<BatchWrite> {
    (0..chunks).map(|n| BatchWrite::Delete { pk: pk.to_owned(), sk: threat_chunk_sk(n) }).collect()
}

impl Store {
    /// The chunks of partition `pk` (those whose sort key starts with `prefix`), in order:
    /// `expected` of them, or the data is corrupt.
    pub(super) async fn chunk_data(
        &self,
        pk: &str,
        prefix: Option<&str>,
        expected: u32,
    ) -> Result<Vec<u8>, StoreError> {
        let items = self.query_all(pk, prefix).await?;
        if items.len() != expected as usize {
            let message = format!("{} chunks stored, the record names {expected}", items.len());
            return Err(StoreError::Corrupt { key: pk.to_owned(), message });
        }
        let mut data = Vec::new();
        for item in &items {
            let chunk = item.get(CHUNK_ATTRIBUTE).and_then(|value| value.as_b().ok());
            let chunk = chunk
                .ok_or_else(|| StoreError::Corrupt { key: pk.to_owned(), message: "a chunk has no data".into() })?;
            data.extend_from_slice(chunk.as_ref());
        }
        Ok(data)
    }
}

//! Lists stored as JSON arrays in chunks (an image's findings of one scanner, its SBOM's
//! packages), each small enough for a DynamoDB item once compressed, and their content hash: an
//! unchanged list re-posted hashes the same and is not written again.

use crate::limits::FINDINGS_CHUNK_BYTES;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// `items` as JSON arrays of at most `FINDINGS_CHUNK_BYTES` each (one item larger than that is
/// a chunk of its own); an empty list is one empty array.
pub fn chunk_json<T: Serialize>(items: &[T]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut current: Vec<u8> = b"[".to_vec();
    for item in items {
        let encoded = serde_json::to_vec(item).unwrap_or_default();
        if current.len() > 1 && current.len() + encoded.len() + 2 > FINDINGS_CHUNK_BYTES {
            current.push(b']');
            chunks.push(std::mem::replace(&mut current, b"[".to_vec()));
        }
        if current.len() > 1 {
            current.push(b',');
        }
        current.extend_from_slice(&encoded);
    }
    current.push(b']');
    chunks.push(current);
    chunks
}

/// The items of chunks, in chunk order.
pub fn unchunk_json<T: DeserializeOwned>(chunks: &[Vec<u8>]) -> Result<Vec<T>, serde_json::Error> {
    let mut items = Vec::new();
    for chunk in chunks {
        items.extend(serde_json::from_slice::<Vec<T>>(chunk)?);
    }
    Ok(items)
}

/// The content hash of a list as chunked.
pub fn chunks_hash(chunks: &[Vec<u8>]) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for chunk in chunks {
        hasher.update(chunk);
    }
    format!("{:032x}", hasher.digest128())
}

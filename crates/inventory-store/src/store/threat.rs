//! Threat data feeds (`threat` / `{feed}` records, `threat#{feed}#{generation}` chunks): each
//! feed's stored form, gzip-compressed and split over items, and the record naming the current
//! generation, switched last.

use super::chunks::{chunk_deletes, chunk_writes};
use super::{batch::BatchWrite, conditional, decode, encode, string, Store, StoreError};
use crate::keys::{threat_chunks_pk, ItemKind, THREAT_FEEDS_PK};
use serde::{Deserialize, Serialize};

/// Which generation of a feed is current, and what it holds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ThreatFeedRecord {
    pub pk: String,
    /// The feed: `kev` or `epss`.
    pub sk: String,
    pub kind: String,
    pub generation: String,
    /// XXH3-128 of the stored form: an unchanged feed writes nothing.
    pub digest: String,
    /// The catalog's version, or the EPSS model version.
    pub version: String,
    /// The catalog's release time, or the EPSS score date.
    pub dated: String,
    pub entries: u64,
    pub chunks: u32,
    pub loaded_at: String,
}

impl ThreatFeedRecord {
    pub fn new(feed: &str, generation: String, digest: String) -> Self {
        Self {
            pk: THREAT_FEEDS_PK.to_owned(),
            sk: feed.to_owned(),
            kind: ItemKind::ThreatFeed.as_str().to_owned(),
            generation,
            digest,
            version: String::new(),
            dated: String::new(),
            entries: 0,
            chunks: 0,
            loaded_at: String::new(),
        }
    }

    pub fn feed(&self) -> &str {
        &self.sk
    }

    fn chunk_deletes(&self) -> Vec<BatchWrite> {
        chunk_deletes(&threat_chunks_pk(&self.sk, &self.generation), self.chunks)
    }
}

impl Store {
    /// Every feed's record: one `Query` of one small partition (eventually consistent: the data
    /// changes once a day).
    pub async fn threat_feeds(&self) -> Result<Vec<ThreatFeedRecord>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", string(THREAT_FEEDS_PK))
            .send()
            .await
            .map_err(super::sdk_error("Query"))?;
        output.items.unwrap_or_default().into_iter().map(decode).collect()
    }

    /// A generation's compressed stored form, its chunks in order.
    pub async fn threat_feed_data(&self, record: &ThreatFeedRecord) -> Result<Vec<u8>, StoreError> {
        self.chunk_data(&threat_chunks_pk(record.feed(), &record.generation), None, record.chunks).await
    }

    /// Stores a new generation of a feed and makes it current: its chunks, then the record
    /// (conditional on the generation `previous` names, so of two loads one wins and the other's
    /// chunks are removed), then the previous generation's chunks are removed. Answers the
    /// items written.
    pub async fn replace_threat_feed(
        &self,
        record: &ThreatFeedRecord,
        compressed: &[u8],
        previous: Option<&ThreatFeedRecord>,
    ) -> Result<u64, StoreError> {
        let pk = threat_chunks_pk(record.feed(), &record.generation);
        let chunks = chunk_writes(&pk, ItemKind::ThreatChunk, compressed);
        let mut written = chunks.len() as u64;
        self.batch_write(chunks).await?;
        if let Err(error) = self.switch_threat_feed(record, previous).await {
            // Best effort: the error that matters is the switch's.
            let _ = self.batch_write(record.chunk_deletes()).await;
            return Err(error);
        }
        written += 1;
        if let Some(previous) = previous.filter(|previous| previous.generation != record.generation) {
            written += previous.chunks as u64;
            self.batch_write(previous.chunk_deletes()).await?;
        }
        Ok(written)
    }

    async fn switch_threat_feed(
        &self,
        record: &ThreatFeedRecord,
        previous: Option<&ThreatFeedRecord>,
    ) -> Result<(), StoreError> {
        let mut request = self.client.put_item().table_name(&self.table).set_item(Some(encode(record)));
        request = match previous {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(previous) => request
                .condition_expression("generation = :generation")
                .expression_attribute_values(":generation", string(&previous.generation)),
        };
        conditional("PutItem", request.send().await)
    }
}

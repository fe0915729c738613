//! One export: reads the intervals that ran on the range's days, context by context, and
//! replaces each day's object in the bucket.

use crate::archive::{object_key, DayArchive, DayRange};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;
use futures::{StreamExt, TryStreamExt};
use inventory::store::StoreError;
use inventory::Store;
use serde::Serialize;

/// Contexts read at once; their intervals are added in context order all the same.
const CONCURRENT_READS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the history failed")]
    Read(#[from] StoreError),
    #[error("compressing {key} failed")]
    Compress { key: String, source: std::io::Error },
    #[error("writing s3://{bucket}/{key} failed")]
    Write {
        bucket: String,
        key: String,
        #[source]
        source: Box<SdkError<PutObjectError>>,
    },
}

/// What an export wrote: each day's object and its rows.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    pub contexts: usize,
    pub days: Vec<ExportedDay>,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct ExportedDay {
    pub key: String,
    pub rows: usize,
    pub bytes: usize,
}

pub struct HistoryExport {
    store: Store,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl HistoryExport {
    pub fn new(store: Store, s3: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { store, s3, bucket }
    }

    /// Writes every day of the range: the same rows give the same object, so exporting a day
    /// again replaces it with identical bytes, or with what was learnt since.
    pub async fn export(&self, range: DayRange) -> Result<ExportSummary, ExportError> {
        let contexts = self.store.all_history_contexts().await?;
        let mut archives: Vec<DayArchive> = range.days().map(DayArchive::new).collect();
        let start = range.start();
        let store = &self.store;
        // Owned entries and `async move`: a spawned export's future must be `Send` for any borrow.
        let mut reads = futures::stream::iter(contexts.iter().cloned())
            .map(|listed| async move {
                store
                    .context_intervals_ending_after(&listed.account, listed.inventory_type, &listed.context, start)
                    .await
            })
            .buffered(CONCURRENT_READS);
        while let Some(mut intervals) = reads.try_next().await? {
            intervals.sort_by(|a, b| (&a.image_digest, a.from).cmp(&(&b.image_digest, b.from)));
            for archive in &mut archives {
                for interval in &intervals {
                    archive
                        .add(interval)
                        .map_err(|source| ExportError::Compress { key: object_key(archive.day), source })?;
                }
            }
        }
        let mut days = Vec::with_capacity(archives.len());
        for archive in archives {
            let key = object_key(archive.day);
            let rows = archive.rows;
            let body = archive.finish().map_err(|source| ExportError::Compress { key: key.clone(), source })?;
            let bytes = body.len();
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type("application/x-ndjson")
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|source| ExportError::Write {
                    bucket: self.bucket.clone(),
                    key: key.clone(),
                    source: Box::new(source),
                })?;
            tracing::info!(key, rows, bytes, "history day exported");
            days.push(ExportedDay { key, rows, bytes });
        }
        Ok(ExportSummary { contexts: contexts.len(), days })
    }
}

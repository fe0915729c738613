//! One export: reads the intervals that ran on the range's days, context by context, and
//! replaces each day's object in the bucket.

use crate::archive::{object_key, without_context, DayArchive, DayRange, RemovedContext};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;
use futures::{StreamExt, TryStreamExt};
use inventory_store::store::StoreError;
use inventory_store::Store;
use serde::Serialize;

/// Contexts read at once; their intervals are added in context order all the same.
const CONCURRENT_READS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the history failed")]
    Read(#[from] StoreError),
    #[error("compressing {key} failed")]
    Compress { key: String, source: std::io::Error },
    #[error("reading s3://{bucket}/{key} failed")]
    Fetch {
        bucket: String,
        key: String,
        #[source]
        source: Box<SdkError<GetObjectError>>,
    },
    #[error("s3://{bucket}/{key} is not an archive object")]
    NotArchive { bucket: String, key: String, source: std::io::Error },
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
                    .context_intervals_ending_after(
                        &listed.account,
                        listed.inventory_type,
                        &listed.context,
                        start,
                        // No bound: the export writes every interval of its days.
                        usize::MAX,
                    )
                    .await
                    .map(Option::unwrap_or_default)
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
            days.push(self.put(key, rows, body).await?);
            tracing::info!(key = days[days.len() - 1].key, rows, "history day exported");
        }
        Ok(ExportSummary { contexts: contexts.len(), days })
    }

    /// A data-removal request: rewrites each day's object of the range without `removed`'s rows,
    /// the other rows as they were archived (a re-export would lose what the table no longer
    /// holds). A day without an object is left so; `rows` of each day written counts the rows
    /// taken out.
    pub async fn remove(&self, range: DayRange, removed: &RemovedContext) -> Result<ExportSummary, ExportError> {
        let mut days = Vec::new();
        for day in range.days() {
            let key = object_key(day);
            let Some(archived) = self.get(&key).await? else { continue };
            let (kept, taken) = without_context(&archived, removed).map_err(|source| ExportError::NotArchive {
                bucket: self.bucket.clone(),
                key: key.clone(),
                source,
            })?;
            if taken > 0 {
                days.push(self.put(key, taken, kept).await?);
            }
        }
        tracing::info!(days = days.len(), context = removed.context, "context removed from the history archive");
        Ok(ExportSummary { contexts: 1, days })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ExportError> {
        let fetched = self.s3.get_object().bucket(&self.bucket).key(key).send().await;
        let fetch_error = |source| ExportError::Fetch { bucket: self.bucket.clone(), key: key.to_owned(), source };
        let object = match fetched {
            Ok(object) => object,
            Err(error) if error.as_service_error().is_some_and(GetObjectError::is_no_such_key) => return Ok(None),
            Err(error) => return Err(fetch_error(Box::new(error))),
        };
        let body = object.body.collect().await.map_err(|source| ExportError::NotArchive {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            source: std::io::Error::other(source),
        })?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    async fn put(&self, key: String, rows: usize, body: Vec<u8>) -> Result<ExportedDay, ExportError> {
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
        Ok(ExportedDay { key, rows, bytes })
    }
}

//! Findings in and out. A scanner's document replaces that scanner's findings of the image, under
//! the image's findings lease: its chunks are written under a new generation, the vulnerability
//! and severity indexes are brought in step with the merge of every scanner's findings, and the
//! findings record is switched to the new generation last. A post that fails half way leaves
//! chunks no record names; the next post of the image finds them and rewrites every index entry
//! they could have touched.

use crate::clock::Clock;
use crate::findings::{
    chunk_findings, findings_hash, merged_index, parse_findings, plan_index, unchunk_findings, Finding, FindingsError,
    Format, ImageFindingsRecord, MergedFinding, ScanDocument, ScannerFindings, SeverityCounts, SkippedFinding,
};
use crate::image::Digest;
use crate::lease::{FindingsLease, LeaseError};
use crate::limits::MAX_SCANNERS_PER_IMAGE;
use crate::store::{
    backoff, findings_chunk_write, findings_flag_write, severity_entry_delete, severity_entry_write,
    vulnerable_image_delete, vulnerable_image_write, BatchWrite, FindingsChunk, Store, StoreError,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Posts of one image that find its lease held are tried this many times in all.
const MAX_POST_ATTEMPTS: u32 = 6;

#[derive(Debug, thiserror::Error)]
pub enum VulnerabilityError {
    #[error(transparent)]
    Input(#[from] FindingsError),
    #[error("image_digest: {0}")]
    Digest(String),
    #[error("another post of this image's findings is being written; retry")]
    Busy,
    #[error("the image has findings of {MAX_SCANNERS_PER_IMAGE} scanners, the most kept: post as one of them ({0})")]
    TooManyScanners(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
}

/// What a findings route answers for each failure.
impl From<VulnerabilityError> for crate::http::ApiError {
    fn from(error: VulnerabilityError) -> Self {
        use crate::http::ApiError;
        match error {
            VulnerabilityError::Input(FindingsError::TooLarge(_)) => {
                ApiError::payload_too_large("body", error.to_string())
            }
            VulnerabilityError::Input(input) => ApiError::bad_request(input.field(), input.reason()),
            VulnerabilityError::Digest(message) => ApiError::bad_request("image_digest", message),
            VulnerabilityError::Busy => {
                ApiError::new(lambda_http::http::StatusCode::CONFLICT, "conflict", error.to_string())
            }
            VulnerabilityError::TooManyScanners(_) => ApiError::bad_request("scanner", error.to_string()),
            VulnerabilityError::Store(store) => store.answer("the findings"),
            VulnerabilityError::Lease(lease) => lease.answer("the findings"),
        }
    }
}

/// The answer to a post.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PostedFindings {
    pub image_digest: String,
    pub scanner: String,
    pub format: Format,
    pub findings: usize,
    pub by_severity: SeverityCounts,
    /// The digests the document names when none of them is the posted one (a multi-arch
    /// image's index digest differs from the platform manifest a scanner read): reported, kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_mismatch: Option<DigestMismatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedFinding>,
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_count: usize,
}

pub use crate::findings::is_zero;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DigestMismatch {
    pub document_digests: Vec<String>,
}

/// One scanner's part of an image's findings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScannerSummary {
    pub scanner: String,
    pub format: Format,
    pub findings: u32,
    pub by_severity: SeverityCounts,
    pub posted_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatched_digests: Vec<String>,
}

/// `GET /v2/images/{image_digest}/vulnerabilities`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImageVulnerabilities {
    pub image_digest: String,
    /// Answered with the KEV count beside, and each finding with its threat data, by the query
    /// function (`ranked`).
    #[serde(skip)]
    pub vulnerabilities: SeverityCounts,
    pub findings_updated_at: Option<DateTime<Utc>>,
    pub scanners: Vec<ScannerSummary>,
    #[serde(skip)]
    pub findings: Vec<MergedFinding>,
}

/// The stored findings of an image, by scanner, as its record names them, and what else lies
/// in its partition.
struct StoredFindings {
    current: BTreeMap<String, Vec<Finding>>,
    /// Vulnerabilities of chunks no record names (left by a failed post).
    uncertain: BTreeSet<String>,
    /// Chunks the record does not name: deleted once the next record is stored.
    stray: Vec<FindingsChunk>,
    /// Chunks of the current generations.
    named: Vec<FindingsChunk>,
}

fn read_chunks(record: &ImageFindingsRecord, chunks: Vec<FindingsChunk>) -> StoredFindings {
    let mut by_generation: BTreeMap<(String, String), Vec<FindingsChunk>> = BTreeMap::new();
    for chunk in chunks {
        by_generation.entry((chunk.scanner.clone(), chunk.generation.clone())).or_default().push(chunk);
    }
    let mut stored =
        StoredFindings { current: BTreeMap::new(), uncertain: BTreeSet::new(), stray: Vec::new(), named: Vec::new() };
    for ((scanner, generation), mut chunks) in by_generation {
        chunks.sort_by_key(|chunk| chunk.index);
        let json: Vec<Vec<u8>> = chunks.iter().filter_map(|chunk| chunk.json.clone()).collect();
        let findings = unchunk_findings(&json).unwrap_or_else(|error| {
            tracing::error!(%scanner, %generation, %error, "stored findings cannot be read; taken as none");
            Vec::new()
        });
        let current = record.scanners.get(&scanner).is_some_and(|named| named.generation == generation);
        if current {
            stored.current.insert(scanner, findings);
            stored.named.extend(chunks);
        } else {
            stored.uncertain.extend(findings.into_iter().map(|finding| finding.vulnerability_id));
            stored.stray.extend(chunks);
        }
    }
    stored
}

fn by_scanner(findings: &BTreeMap<String, Vec<Finding>>) -> impl Iterator<Item = (&str, &[Finding])> {
    findings.iter().map(|(scanner, findings)| (scanner.as_str(), findings.as_slice()))
}

#[derive(Clone)]
pub struct Vulnerabilities {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl Vulnerabilities {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Stores a scanner's document as that scanner's findings of the image.
    pub async fn post(&self, account: &str, digest: &str, body: &[u8]) -> Result<PostedFindings, VulnerabilityError> {
        let digest = Digest::parse(digest).map_err(|error| VulnerabilityError::Digest(error.to_string()))?;
        self.store_document(account, &digest, parse_findings(body)?).await
    }

    /// Stores a document of findings as its scanner's findings of the image.
    pub async fn store_document(
        &self,
        account: &str,
        digest: &Digest,
        document: ScanDocument,
    ) -> Result<PostedFindings, VulnerabilityError> {
        let digest = digest.to_string();
        let mismatch = (!document.digests.is_empty() && !document.digests.contains(&digest))
            .then(|| DigestMismatch { document_digests: document.digests.clone() });
        let posted = PostedFindings {
            image_digest: digest.clone(),
            scanner: document.scanner.clone(),
            format: document.format,
            findings: document.findings.len(),
            by_severity: document.by_severity(),
            digest_mismatch: mismatch,
            skipped: document.skipped.clone(),
            skipped_count: document.skipped_count,
        };
        for attempt in 0..MAX_POST_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let current = self.store.findings_record(account, &digest).await?;
            if let Some(scanners) = current.as_ref().map(|record| &record.scanners) {
                if !scanners.contains_key(&posted.scanner) && scanners.len() >= MAX_SCANNERS_PER_IMAGE {
                    let names: Vec<&str> = scanners.keys().map(String::as_str).collect();
                    return Err(VulnerabilityError::TooManyScanners(names.join(", ")));
                }
            }
            let placeholder = || ImageFindingsRecord::new(account, &digest);
            let lease = FindingsLease::acquire(&self.store, self.clock.clone(), current.as_ref(), placeholder).await?;
            if let Some(lease) = lease {
                self.replace(account, &digest, &document.findings, &posted, lease).await?;
                return Ok(posted);
            }
        }
        Err(VulnerabilityError::Busy)
    }

    /// Removes an image's findings (every scanner's chunks, its index entries, its record, read
    /// as `current`) under its lease: for images that ran nowhere for the inventory's retention.
    /// `Busy` when a post holds the lease or changed the record since it was read (the next
    /// sweep tries again).
    pub async fn forget(&self, account: &str, current: &ImageFindingsRecord) -> Result<(), VulnerabilityError> {
        let digest = current.image_digest.as_str();
        let placeholder = || ImageFindingsRecord::new(account, digest);
        let lease = FindingsLease::acquire(&self.store, self.clock.clone(), Some(current), placeholder).await?;
        let Some(mut lease) = lease else { return Err(VulnerabilityError::Busy) };
        let record = lease.record().clone();
        let stored = read_chunks(&record, self.store.findings_chunks(account, digest).await?);
        let (_, before) = merged_index(account, digest, by_scanner(&stored.current));
        let change = plan_index(&before, &stored.uncertain, &BTreeMap::new());
        let mut writes: Vec<BatchWrite> =
            change.deletes.iter().map(|id| vulnerable_image_delete(account, id, digest)).collect();
        writes.extend(change.severity_leaves.iter().map(|severity| severity_entry_delete(account, *severity, digest)));
        writes.extend(stored.named.iter().chain(&stored.stray).map(|chunk| chunk.delete(account, digest)));
        lease.write(writes).await?;
        lease.commit_delete().await?;
        Ok(())
    }

    /// Under the lease: the scanner's new chunks, the index changes, then the record.
    async fn replace(
        &self,
        account: &str,
        digest: &str,
        findings: &[Finding],
        posted: &PostedFindings,
        mut lease: FindingsLease,
    ) -> Result<(), VulnerabilityError> {
        let record = lease.record().clone();
        let stored = read_chunks(&record, self.store.findings_chunks(account, digest).await?);
        let chunks = chunk_findings(findings);
        let hash = findings_hash(&chunks);
        let now = self.clock.now();
        let previous = record.scanners.get(&posted.scanner);
        let unchanged = previous.is_some_and(|previous| previous.content_hash == hash) && stored.uncertain.is_empty();
        let (_, before) = merged_index(account, digest, by_scanner(&stored.current));
        let mut after_findings = stored.current.clone();
        after_findings.insert(posted.scanner.clone(), findings.to_vec());
        let (merged, after) = merged_index(account, digest, by_scanner(&after_findings));
        let generation = match previous {
            Some(previous) if unchanged => previous.generation.clone(),
            _ => format!("{:012x}", fastrand::u64(..) >> 16),
        };
        if !unchanged {
            let writes = chunks
                .iter()
                .enumerate()
                .map(|(n, json)| findings_chunk_write(account, digest, &posted.scanner, &generation, n as u32, json))
                .collect();
            lease.write(writes).await?;
            let change = plan_index(&before, &stored.uncertain, &after);
            let mut writes: Vec<BatchWrite> = change.puts.iter().map(vulnerable_image_write).collect();
            writes.extend(change.deletes.iter().map(|id| vulnerable_image_delete(account, id, digest)));
            writes.extend(change.severity.map(|severity| severity_entry_write(account, severity, digest)));
            writes.extend(
                change.severity_leaves.iter().map(|severity| severity_entry_delete(account, *severity, digest)),
            );
            writes.push(findings_flag_write(account));
            lease.write(writes).await?;
        }
        let mut next = record.clone();
        next.scanners.insert(
            posted.scanner.clone(),
            ScannerFindings {
                generation: generation.clone(),
                chunks: chunks.len() as u32,
                format: posted.format,
                findings: findings.len() as u32,
                by_severity: posted.by_severity,
                posted_at: now,
                content_hash: hash,
                mismatched_digests: posted
                    .digest_mismatch
                    .as_ref()
                    .map(|m| m.document_digests.clone())
                    .unwrap_or_default(),
            },
        );
        next.counts =
            SeverityCounts::of(merged.iter().map(|finding| (finding.vulnerability_id.as_str(), finding.severity)));
        next.updated_at = Some(now);
        lease.commit(next).await?;
        // Chunks no record names any more; a failure leaves them for the next post to find.
        let replaced =
            stored.named.iter().filter(|chunk| chunk.scanner == posted.scanner && chunk.generation != generation);
        let garbage: Vec<BatchWrite> =
            replaced.chain(&stored.stray).map(|chunk| chunk.delete(account, digest)).collect();
        if let Err(error) = self.store.batch_write(garbage).await {
            tracing::warn!(%error, image = %digest, "replaced findings chunks were not deleted; the next post deletes them");
        }
        Ok(())
    }

    /// One image's findings, merged across scanners, with each scanner's part.
    pub async fn image(&self, account: &str, digest: &str) -> Result<Option<ImageVulnerabilities>, VulnerabilityError> {
        let digest = Digest::parse(digest).map_err(|error| VulnerabilityError::Digest(error.to_string()))?.to_string();
        let Some(record) = self.store.findings_record(account, &digest).await? else { return Ok(None) };
        if record.scanners.is_empty() {
            return Ok(None);
        }
        let stored = read_chunks(&record, self.store.findings_chunks(account, &digest).await?);
        let (findings, _) = merged_index(account, &digest, by_scanner(&stored.current));
        let scanners = record
            .scanners
            .iter()
            .map(|(scanner, part)| ScannerSummary {
                scanner: scanner.clone(),
                format: part.format,
                findings: part.findings,
                by_severity: part.by_severity,
                posted_at: part.posted_at,
                mismatched_digests: part.mismatched_digests.clone(),
            })
            .collect();
        Ok(Some(ImageVulnerabilities {
            image_digest: digest,
            vulnerabilities: record.counts,
            findings_updated_at: record.updated_at,
            scanners,
            findings,
        }))
    }
}

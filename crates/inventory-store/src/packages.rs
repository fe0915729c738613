//! SBOMs in and packages out. An SBOM replaces the image's previous one under the image's SBOM
//! lease: its packages and the document as posted are written in chunks under a new generation,
//! the package index is brought in step (only what changed; nothing for an unchanged re-post),
//! and the record is switched to the new generation last. A post that fails half way leaves
//! chunks no record names; the next post finds them and rewrites every index entry they could
//! have touched. Searches read the one index partition of the package name they ask for.

use crate::clock::Clock;
use crate::findings::SkippedFinding;
use crate::image::Digest;
use crate::keys::{sbom_chunk_prefix, SBOM_DOCUMENT, SBOM_PACKAGES};
use crate::lease::{LeaseError, SbomLease};
use crate::limits::MAX_PACKAGE_INDEX_READ;
use crate::sbom::{
    package_entries, parse_sbom, plan_package_index, EntryKey, ImageSbomRecord, PackageEntry, PackageQuery,
    PackageWatch, SbomError, SbomFormat, SbomPackage, StoredSbom, WatchSpec,
};
use crate::store::{
    backoff, package_entry_delete, package_entry_write, sbom_chunk_writes, split_compressed, BatchWrite, SbomChunk,
    Store, StoreError,
};
use inventory_core::chunks::{chunk_json, chunks_hash, unchunk_json};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Posts of one image that find its lease held are tried this many times in all.
const MAX_POST_ATTEMPTS: u32 = 6;

#[derive(Debug, thiserror::Error)]
pub enum PackagesError {
    #[error(transparent)]
    Input(#[from] SbomError),
    #[error("image_digest: {0}")]
    Digest(String),
    #[error("{field}: {message}")]
    Query { field: &'static str, message: String },
    #[error("another post of this image's SBOM is being written; retry")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
}

/// What an SBOM or package route answers for each failure.
impl From<PackagesError> for crate::http::ApiError {
    fn from(error: PackagesError) -> Self {
        use crate::http::ApiError;
        match error {
            PackagesError::Input(SbomError::TooLarge(_)) => ApiError::payload_too_large("body", error.to_string()),
            PackagesError::Input(input) => ApiError::bad_request(input.field(), input.reason()),
            PackagesError::Digest(message) => ApiError::bad_request("image_digest", message),
            PackagesError::Query { field, message } => ApiError::bad_request(field, message),
            PackagesError::Busy => {
                ApiError::new(lambda_http::http::StatusCode::CONFLICT, "conflict", error.to_string())
            }
            PackagesError::Store(store) => store.answer("the SBOM"),
            PackagesError::Lease(lease) => lease.answer("the SBOM"),
        }
    }
}

/// The answer to a post.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PostedSbom {
    pub image_digest: String,
    pub format: SbomFormat,
    pub packages: usize,
    /// Package index entries written or deleted: none when the packages did not change.
    pub index_writes: usize,
    /// The packages are those already stored (the document may still be the new one).
    pub unchanged: bool,
    /// The digests the document names when none of them is the posted one (a multi-arch
    /// image's index digest differs from the platform manifest a tool read): reported, kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_mismatch: Option<crate::vulnerabilities::DigestMismatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedFinding>,
    #[serde(skip_serializing_if = "crate::findings::is_zero")]
    pub skipped_count: usize,
}

/// An image's SBOM as `GET /v2/images/{digest}/sbom` answers it, with one page of packages.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImageSbom {
    pub image_digest: String,
    pub format: SbomFormat,
    pub posted_at: chrono::DateTime<chrono::Utc>,
    pub posted_by: String,
    pub package_count: u32,
    pub skipped_count: usize,
    pub document_bytes: u64,
    pub packages: Vec<SbomPackage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// What the stored package chunks of an image hold, by generation.
struct StoredPackages {
    current: Vec<SbomPackage>,
    /// Packages of chunks no record names (a failed post's): their index entries may exist.
    uncertain: Vec<SbomPackage>,
    /// Chunks of other generations than the current one.
    stray: Vec<SbomChunk>,
    /// The current generation's chunks.
    named: Vec<SbomChunk>,
}

fn read_packages(current: Option<&StoredSbom>, chunks: Vec<SbomChunk>) -> StoredPackages {
    let mut stored =
        StoredPackages { current: Vec::new(), uncertain: Vec::new(), stray: Vec::new(), named: Vec::new() };
    let mut by_generation: BTreeMap<String, Vec<SbomChunk>> = BTreeMap::new();
    for chunk in chunks {
        by_generation.entry(chunk.generation.clone()).or_default().push(chunk);
    }
    for (generation, chunks) in by_generation {
        let json: Vec<Vec<u8>> = chunks
            .iter()
            .filter_map(|chunk| chunk.compressed.as_deref().and_then(|c| crate::gzip::decompress(c).ok()))
            .collect();
        let packages = unchunk_json::<SbomPackage>(&json).unwrap_or_else(|error| {
            tracing::error!(%generation, %error, "stored SBOM packages cannot be read; taken as none");
            Vec::new()
        });
        if current.is_some_and(|current| current.generation == generation) {
            stored.current = packages;
            stored.named = chunks;
        } else {
            stored.uncertain.extend(packages);
            stored.stray.extend(chunks);
        }
    }
    stored
}

/// The new packages' chunks under `generation`, then the index of the image (`account`,
/// `digest`) brought in step with them: the index writes made.
async fn write_packages(
    lease: &mut SbomLease,
    (account, digest): (&str, &str),
    stored: &StoredPackages,
    chunks: &[Vec<u8>],
    generation: &str,
    packages: &[SbomPackage],
) -> Result<usize, PackagesError> {
    let compressed: Vec<Vec<u8>> = chunks.iter().map(|json| crate::gzip::compress(json)).collect();
    lease.write(sbom_chunk_writes(account, digest, SBOM_PACKAGES, generation, &compressed)).await?;
    let before = package_entries(account, digest, &stored.current);
    let uncertain: BTreeSet<EntryKey> = package_entries(account, digest, &stored.uncertain).into_keys().collect();
    let change = plan_package_index(&before, &uncertain, package_entries(account, digest, packages));
    let mut writes: Vec<BatchWrite> = change.puts.iter().map(package_entry_write).collect();
    writes.extend(change.deletes.iter().map(package_entry_delete));
    let written = writes.len();
    lease.write(writes).await?;
    Ok(written)
}

fn generation() -> String {
    format!("{:012x}", fastrand::u64(..) >> 16)
}

fn document_hash(body: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(body))
}

#[derive(Clone)]
pub struct Packages {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl Packages {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Stores an SBOM as the image's, replacing the one before.
    pub async fn post(
        &self,
        account: &str,
        digest: &str,
        body: &[u8],
        author: &str,
    ) -> Result<PostedSbom, PackagesError> {
        let digest = Digest::parse(digest).map_err(|error| PackagesError::Digest(error.to_string()))?.to_string();
        let document = parse_sbom(body)?;
        for attempt in 0..MAX_POST_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let current = self.store.sbom_record(account, &digest).await?;
            let placeholder = || ImageSbomRecord::new(account, &digest);
            if let Some(lease) =
                SbomLease::acquire(&self.store, self.clock.clone(), current.as_ref(), placeholder).await?
            {
                return self.replace(account, &digest, &document, body, author, lease).await;
            }
        }
        Err(PackagesError::Busy)
    }

    /// Under the lease: the new chunks, the index changes, the record, then the old chunks go.
    async fn replace(
        &self,
        account: &str,
        digest: &str,
        document: &crate::sbom::SbomDocument,
        body: &[u8],
        author: &str,
        mut lease: SbomLease,
    ) -> Result<PostedSbom, PackagesError> {
        let record = lease.record().clone();
        let previous = record.current.as_ref();
        let stored = read_packages(
            previous,
            self.store.sbom_chunks(account, digest, &sbom_chunk_prefix(SBOM_PACKAGES, None)).await?,
        );
        let chunks = chunk_json(&document.packages);
        let content_hash = chunks_hash(&chunks);
        let unchanged =
            previous.is_some_and(|previous| previous.content_hash == content_hash) && stored.stray.is_empty();
        let (generation, index_writes) = match previous {
            Some(previous) if unchanged => (previous.generation.clone(), 0),
            _ => {
                let generation = generation();
                let written =
                    write_packages(&mut lease, (account, digest), &stored, &chunks, &generation, &document.packages)
                        .await?;
                (generation, written)
            }
        };
        let body_hash = document_hash(body);
        let same_document = previous.filter(|previous| previous.document_hash == body_hash);
        let (document_generation, document_chunks) = match same_document {
            Some(previous) => (previous.document_generation.clone(), previous.document_chunks),
            None => {
                let pieces = split_compressed(&crate::gzip::compress(body));
                lease.write(sbom_chunk_writes(account, digest, SBOM_DOCUMENT, &generation, &pieces)).await?;
                (generation.clone(), pieces.len() as u32)
            }
        };
        // Documents no record will name: the replaced one, and a failed post's.
        let old_documents = if same_document.is_none() || !stored.stray.is_empty() {
            self.store.sbom_chunks(account, digest, &sbom_chunk_prefix(SBOM_DOCUMENT, None)).await?
        } else {
            Vec::new()
        };
        let mut next = record.clone();
        next.current = Some(StoredSbom {
            format: document.format,
            generation: generation.clone(),
            packages: document.packages.len() as u32,
            package_chunks: chunks.len() as u32,
            document_generation: document_generation.clone(),
            document_chunks,
            document_bytes: body.len() as u64,
            content_hash,
            document_hash: body_hash,
            posted_at: self.clock.now(),
            posted_by: author.to_owned(),
            skipped_count: document.skipped_count,
        });
        lease.commit(next).await?;
        // Chunks no record names any more; a failure leaves them for the next post to find.
        let replaced = stored.named.iter().filter(|chunk| chunk.generation != generation);
        let garbage: Vec<BatchWrite> = replaced
            .chain(&stored.stray)
            .chain(old_documents.iter().filter(|chunk| chunk.generation != document_generation))
            .map(|chunk| chunk.delete(account, digest))
            .collect();
        if let Err(error) = self.store.batch_write(garbage).await {
            tracing::warn!(%error, image = %digest, "replaced SBOM chunks were not deleted; the next post deletes them");
        }
        Ok(PostedSbom {
            image_digest: digest.to_owned(),
            format: document.format,
            packages: document.packages.len(),
            index_writes,
            unchanged,
            digest_mismatch: (!document.digests.is_empty() && !document.digests.iter().any(|named| named == digest))
                .then(|| crate::vulnerabilities::DigestMismatch { document_digests: document.digests.clone() }),
            skipped: document.skipped.clone(),
            skipped_count: document.skipped_count,
        })
    }

    /// An image's current packages and what its record says of them; `None` without an SBOM.
    pub async fn image_packages(
        &self,
        account: &str,
        digest: &str,
    ) -> Result<Option<(StoredSbom, Vec<SbomPackage>)>, PackagesError> {
        let digest = Digest::parse(digest).map_err(|error| PackagesError::Digest(error.to_string()))?.to_string();
        let Some(current) = self.store.sbom_record(account, &digest).await?.and_then(|record| record.current) else {
            return Ok(None);
        };
        let prefix = sbom_chunk_prefix(SBOM_PACKAGES, Some(&current.generation));
        let chunks = self.store.sbom_chunks(account, &digest, &prefix).await?;
        let stored = read_packages(Some(&current), chunks);
        Ok(Some((current, stored.current)))
    }

    /// One page of an image's packages, in purl order after `after`.
    pub async fn image(
        &self,
        account: &str,
        digest: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Option<ImageSbom>, PackagesError> {
        let Some((current, mut packages)) = self.image_packages(account, digest).await? else { return Ok(None) };
        packages.sort_by(|a, b| a.purl.cmp(&b.purl));
        packages.retain(|package| after.is_none_or(|after| package.purl.as_str() > after));
        let limit = limit.max(1);
        let next = (packages.len() > limit).then(|| packages[limit - 1].purl.clone());
        packages.truncate(limit);
        Ok(Some(ImageSbom {
            image_digest: Digest::parse(digest).map(|digest| digest.to_string()).unwrap_or_default(),
            format: current.format,
            posted_at: current.posted_at,
            posted_by: current.posted_by,
            package_count: current.packages,
            skipped_count: current.skipped_count,
            document_bytes: current.document_bytes,
            packages,
            next,
        }))
    }

    /// The document as posted; `None` without an SBOM.
    pub async fn document(&self, account: &str, digest: &str) -> Result<Option<Vec<u8>>, PackagesError> {
        let digest = Digest::parse(digest).map_err(|error| PackagesError::Digest(error.to_string()))?.to_string();
        let Some(current) = self.store.sbom_record(account, &digest).await?.and_then(|record| record.current) else {
            return Ok(None);
        };
        let compressed = self.store.sbom_document(account, &digest, &current).await?;
        let document = crate::gzip::decompress(&compressed)
            .map_err(|error| StoreError::Corrupt { key: digest, message: error.to_string() })?;
        Ok(Some(document))
    }

    /// Every image's packages the query asks for: the one index partition of its name.
    pub async fn carrying(&self, account: &str, query: &PackageQuery) -> Result<Vec<PackageEntry>, PackagesError> {
        let entries =
            self.store.package_entries(account, &query.package_type, &query.name, MAX_PACKAGE_INDEX_READ).await?;
        let Some(entries) = entries else {
            let message = format!(
                "more than {MAX_PACKAGE_INDEX_READ} image packages carry this name; narrow the search with a version or range"
            );
            return Err(PackagesError::Query { field: "purl", message });
        };
        Ok(entries.into_iter().filter(|entry| query.matches(&entry.package)).collect())
    }

    /// Stores a new watch made by `author`; 400 when it is not a search this service can run.
    pub async fn create_watch(&self, account: &str, author: &str, spec: NewWatch) -> Result<WatchSpec, PackagesError> {
        let spec = WatchSpec {
            watch_id: format!("{:032x}", fastrand::u128(..)),
            purl: spec.purl,
            name: spec.name,
            package_type: spec.package_type,
            version: spec.version,
            range: spec.range,
            created_at: self.clock.now(),
            created_by: author.to_owned(),
        };
        spec.query()
            .map_err(|error| PackagesError::Query { field: field_name(&error.field), message: error.message })?;
        if self.store.package_watches(account).await?.len() >= crate::limits::MAX_PACKAGE_WATCHES {
            let message = format!("the account has {} watches, the most kept", crate::limits::MAX_PACKAGE_WATCHES);
            return Err(PackagesError::Query { field: "purl", message });
        }
        self.store.create_package_watch(&PackageWatch::new(account, spec.clone())).await?;
        Ok(spec)
    }

    pub async fn watches(&self, account: &str) -> Result<Vec<WatchSpec>, PackagesError> {
        Ok(self.store.package_watches(account).await?.into_iter().map(|watch| watch.spec).collect())
    }

    pub async fn watch(&self, account: &str, watch_id: &str) -> Result<Option<WatchSpec>, PackagesError> {
        if !crate::names::is_key_part(watch_id, 64) {
            return Ok(None);
        }
        Ok(self.store.package_watch(account, watch_id).await?.map(|watch| watch.spec))
    }

    pub async fn delete_watch(&self, account: &str, watch_id: &str) -> Result<bool, PackagesError> {
        if !crate::names::is_key_part(watch_id, 64) {
            return Ok(false);
        }
        Ok(self.store.delete_package_watch(account, watch_id).await?)
    }
}

/// `POST /v2/package-watches`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWatch {
    #[serde(default)]
    pub purl: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type", default)]
    pub package_type: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub range: Option<String>,
}

/// The static name of a watch field an error names.
fn field_name(field: &str) -> &'static str {
    match field {
        "name" => "name",
        "type" => "type",
        "range" => "range",
        "version" => "version",
        _ => "purl",
    }
}

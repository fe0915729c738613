//! What is stored of an image's findings, and what a new document changes: each scanner's
//! findings in chunks of a generation, a record naming the current generations, and the
//! vulnerability and severity indexes derived from their merge.

use super::{merge, Finding, Format, MergedFinding, Package, Severity, SeverityCounts};
use crate::keys::{findings_pk, ItemKind, FINDINGS_RECORD_SK};
use crate::limits::MAX_LISTED_PACKAGES;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One scanner's current findings of an image.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ScannerFindings {
    pub generation: String,
    pub chunks: u32,
    pub format: Format,
    pub findings: u32,
    pub by_severity: SeverityCounts,
    pub posted_at: DateTime<Utc>,
    /// XXH3-128 of the findings as stored: an identical post rewrites nothing.
    pub content_hash: String,
    /// The image digests the document named, when none is the image's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatched_digests: Vec<String>,
}

/// An image's findings record: it names each scanner's current generation, holds the merged
/// counts, and guards the image's chunks and index entries with the lease of a post.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ImageFindingsRecord {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub image_digest: String,
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_until: Option<i64>,
    #[serde(default)]
    pub scanners: BTreeMap<String, ScannerFindings>,
    /// Distinct vulnerabilities of the merged findings by their highest severity.
    #[serde(default)]
    pub counts: SeverityCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl ImageFindingsRecord {
    /// The record of an image with no findings yet.
    pub fn new(account: &str, digest: &str) -> Self {
        Self {
            pk: findings_pk(account, digest),
            sk: FINDINGS_RECORD_SK.to_owned(),
            kind: ItemKind::Findings.as_str().to_owned(),
            image_digest: digest.to_owned(),
            version: 0,
            lock_owner: None,
            lock_until: None,
            scanners: BTreeMap::new(),
            counts: SeverityCounts::default(),
            updated_at: None,
        }
    }

    pub fn lease_is_live(&self, now: DateTime<Utc>) -> bool {
        self.lock_until.is_some_and(|until| until >= now.timestamp())
    }
}

/// An entry of the vulnerability index: one image carrying one vulnerability.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VulnerableImage {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub vulnerability_id: String,
    pub image_digest: String,
    pub severity: Severity,
    /// The first `MAX_LISTED_PACKAGES` packages that carry it.
    pub packages: Vec<AffectedPackage>,
    /// How many packages carry it, when more than `packages` lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_count: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    pub sources: Vec<String>,
}

/// Adds a package to a list bounded by `MAX_LISTED_PACKAGES` (an index entry, an event's
/// detail): past the bound it is only counted, in `count`. A vulnerability in thousands of
/// packages would otherwise make an index entry past DynamoDB's 400 KB or an event past
/// EventBridge's 256 KB.
pub fn add_package(packages: &mut Vec<AffectedPackage>, count: &mut Option<usize>, package: AffectedPackage) {
    let total = count.unwrap_or(packages.len()) + 1;
    if packages.len() < MAX_LISTED_PACKAGES {
        packages.push(package);
    }
    if total > packages.len() {
        *count = Some(total);
    }
}

/// A package of an image that carries the vulnerability, and the versions that fix it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AffectedPackage {
    #[serde(flatten)]
    pub package: Package,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_in: Vec<String>,
}

/// The vulnerability index entries of an image's merged findings, by vulnerability id.
pub fn index_entries(account: &str, digest: &str, merged: &[MergedFinding]) -> BTreeMap<String, VulnerableImage> {
    let mut entries: BTreeMap<String, VulnerableImage> = BTreeMap::new();
    for finding in merged {
        let entry = entries.entry(finding.vulnerability_id.clone()).or_insert_with(|| VulnerableImage {
            pk: crate::keys::vulnerability_pk(account, &finding.vulnerability_id),
            sk: digest.to_owned(),
            kind: ItemKind::VulnerableImage.as_str().to_owned(),
            vulnerability_id: finding.vulnerability_id.clone(),
            image_digest: digest.to_owned(),
            severity: finding.severity,
            packages: Vec::new(),
            package_count: None,
            cvss_score: None,
            sources: Vec::new(),
        });
        entry.severity = entry.severity.max(finding.severity);
        entry.cvss_score = super::higher_score(entry.cvss_score, finding.cvss_score);
        let package = AffectedPackage { package: finding.package.clone(), fixed_in: finding.fixed_in.clone() };
        add_package(&mut entry.packages, &mut entry.package_count, package);
        for source in &finding.sources {
            if !entry.sources.contains(source) {
                entry.sources.push(source.clone());
            }
        }
        entry.sources.sort();
    }
    entries
}

/// What a post changes in the indexes.
#[derive(Debug, Default, PartialEq)]
pub struct IndexChange {
    /// Vulnerability index entries to write.
    pub puts: Vec<VulnerableImage>,
    /// Vulnerabilities the image no longer carries: their entries go.
    pub deletes: Vec<String>,
    /// The severity partition the image belongs to now, if any, and the ones it leaves.
    pub severity: Option<Severity>,
    pub severity_leaves: Vec<Severity>,
}

/// The index writes that take the image from `before` to `after`. `uncertain` names the
/// vulnerabilities a failed post may have written or deleted entries of: when there are any,
/// every entry of `after` is written and every other may go, whatever `before` says.
pub fn plan_index(
    before: &BTreeMap<String, VulnerableImage>,
    uncertain: &BTreeSet<String>,
    after: &BTreeMap<String, VulnerableImage>,
) -> IndexChange {
    let recovering = !uncertain.is_empty();
    let puts = after
        .iter()
        .filter(|(id, entry)| recovering || before.get(*id) != Some(*entry))
        .map(|(_, entry)| entry.clone())
        .collect();
    let deletes =
        before.keys().chain(uncertain).filter(|id| !after.contains_key(*id)).cloned().collect::<BTreeSet<_>>();
    let highest = |entries: &BTreeMap<String, VulnerableImage>| entries.values().map(|entry| entry.severity).max();
    let (was, now) = (highest(before), highest(after));
    let severity_leaves = if recovering {
        Severity::ALL.into_iter().filter(|severity| Some(*severity) != now).collect()
    } else {
        was.filter(|was| Some(*was) != now).into_iter().collect()
    };
    let severity = now.filter(|now| recovering || Some(*now) != was);
    IndexChange { puts, deletes: deletes.into_iter().collect(), severity, severity_leaves }
}

/// Findings as stored: JSON arrays of at most `FINDINGS_CHUNK_BYTES` each (so a chunk stays
/// inside DynamoDB's 400 KB item once compressed, whatever its content).
pub fn chunk_findings(findings: &[Finding]) -> Vec<Vec<u8>> {
    crate::chunks::chunk_json(findings)
}

/// The findings of a scanner's chunks, in chunk order.
pub fn unchunk_findings(chunks: &[Vec<u8>]) -> Result<Vec<Finding>, serde_json::Error> {
    crate::chunks::unchunk_json(chunks)
}

/// The content hash of findings as chunked.
pub fn findings_hash(chunks: &[Vec<u8>]) -> String {
    crate::chunks::chunks_hash(chunks)
}

/// Every scanner's findings merged, with the index entries they make.
pub fn merged_index<'a>(
    account: &str,
    digest: &str,
    by_scanner: impl IntoIterator<Item = (&'a str, &'a [Finding])>,
) -> (Vec<MergedFinding>, BTreeMap<String, VulnerableImage>) {
    let merged = merge(by_scanner);
    let entries = index_entries(account, digest, &merged);
    (merged, entries)
}

//! Vulnerability findings from a scanner's own output: grype JSON, trivy JSON (SchemaVersion 2)
//! and CycloneDX 1.5+ JSON with `vulnerabilities`, told apart by their shape and normalised to
//! one `Finding` per (vulnerability, package). Long texts (descriptions, references) are not kept.

mod cyclonedx;
mod grype;
mod merge;
mod stored;
mod trivy;

pub use merge::{is_zero, merge, MergedFinding, SeverityCounts, VulnerabilitySummary};
pub use stored::{
    add_package, chunk_findings, findings_hash, index_entries, merged_index, plan_index, unchunk_findings,
    AffectedPackage, ImageFindingsRecord, IndexChange, ScannerFindings, VulnerableImage,
};

use crate::limits::{
    MAX_DOCUMENT_DIGESTS, MAX_DOCUMENT_ENTRIES, MAX_FINDINGS_BODY_BYTES, MAX_FINDINGS_PER_DOCUMENT,
    MAX_FINDING_FIELD_BYTES, MAX_FIXED_IN_VERSIONS, MAX_LISTED_ITEM_NOTES, MAX_SCANNER_NAME_BYTES,
    MAX_VULNERABILITY_ID_BYTES,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

/// The formats a findings document may be in, as the error for any other names them.
pub const ACCEPTED_FORMATS: &str =
    "grype JSON (grype -o json), trivy JSON (trivy image --format json, SchemaVersion 2), CycloneDX 1.5+ JSON with a vulnerabilities array";

/// Normalised severity; ordered, so the highest of several is their `max`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Highest first, as answers list them.
    pub const ALL: [Severity; 6] =
        [Self::Critical, Self::High, Self::Medium, Self::Low, Self::Negligible, Self::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Negligible => "negligible",
            Self::Unknown => "unknown",
        }
    }

    /// Every normalised name, highest first, as errors list them.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }

    /// A normalised name exactly (`min_severity=high`).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|severity| severity.as_str() == raw)
    }

    /// A scanner's word for a severity, in any case: grype's `Negligible`, trivy's upper case,
    /// CycloneDX's `info` and `none`. A word none of them uses is `unknown`.
    pub fn from_scanner(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "critical" => Self::Critical,
            "high" => Self::High,
            "medium" | "moderate" => Self::Medium,
            "low" => Self::Low,
            "negligible" | "info" | "informational" | "none" => Self::Negligible,
            _ => Self::Unknown,
        }
    }
}

/// The higher of two scanners' CVSS scores, either of which may be missing.
pub fn higher_score(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The package a finding is in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Package {
    pub name: String,
    pub version: String,
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub package_type: String,
}

/// One vulnerability in one package, as one scanner reported it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Finding {
    pub vulnerability_id: String,
    pub severity: Severity,
    pub package: Package,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_in: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data_source: String,
}

/// A vulnerability id this service keys by: 1 to `MAX_VULNERABILITY_ID_BYTES` bytes, without `#`
/// (a key separator) or control characters.
pub fn is_vulnerability_id(id: &str) -> bool {
    crate::names::is_key_part(id, MAX_VULNERABILITY_ID_BYTES)
}

/// The scanner names the findings synced from AWS are stored under; a posted document may not
/// take them (its findings would replace the synced ones, and the next sync its own).
pub const INSPECTOR_SCANNER: &str = "inspector";
pub const ECR_SCANNER: &str = "ecr";

/// Which scanner output a document is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Grype,
    Trivy,
    CycloneDx,
    /// Amazon Inspector's findings of an ECR image (`inspector2:ListFindings`).
    Inspector,
    /// ECR basic scanning (`ecr:DescribeImageScanFindings`).
    Ecr,
}

/// A finding of the document that was not kept, and why.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SkippedFinding {
    /// Where it is in the document, e.g. `matches[3]` or `Results[0].Vulnerabilities[2]`.
    pub at: String,
    pub reason: String,
}

/// A parsed findings document.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanDocument {
    pub format: Format,
    /// Whose findings these are: a new document of the same scanner replaces them.
    pub scanner: String,
    /// The image digests the document names (to cross-check against the running digest).
    pub digests: Vec<String>,
    /// One per (vulnerability, package), in document order.
    pub findings: Vec<Finding>,
    /// The first `MAX_LISTED_ITEM_NOTES` findings skipped; `skipped_count` counts them all.
    pub skipped: Vec<SkippedFinding>,
    pub skipped_count: usize,
}

impl ScanDocument {
    /// Distinct vulnerabilities by their highest severity in this document.
    pub fn by_severity(&self) -> SeverityCounts {
        SeverityCounts::of(self.findings.iter().map(|finding| (finding.vulnerability_id.as_str(), finding.severity)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindingsError {
    #[error("body is {0} bytes; at most {MAX_FINDINGS_BODY_BYTES} are accepted")]
    TooLarge(usize),
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("body is not a findings document this service reads; accepted: {ACCEPTED_FORMATS}")]
    UnknownFormat,
    #[error(transparent)]
    Invalid(#[from] crate::field::FieldError),
    #[error("the document holds more than {MAX_FINDINGS_PER_DOCUMENT} findings, the most accepted")]
    TooMany,
    #[error("the document's lists hold more than {MAX_DOCUMENT_ENTRIES} entries in all, the most accepted")]
    TooManyEntries,
}

impl FindingsError {
    /// What is wrong with `field()`, without repeating the field's name.
    pub fn reason(&self) -> String {
        match self {
            Self::Invalid(invalid) => invalid.message.clone(),
            other => other.to_string(),
        }
    }

    /// The request field the error is about, for the 4xx answer.
    pub fn field(&self) -> &str {
        match self {
            Self::Invalid(invalid) => &invalid.field,
            Self::TooMany => "findings",
            _ => "body",
        }
    }
}

fn invalid(field: &str, error: impl std::fmt::Display) -> FindingsError {
    crate::field::FieldError::invalid(field, error.to_string()).into()
}

/// Reads a findings document (or a part of one) within the document bounds; any other error is
/// `field`'s.
fn read<'a, T: Deserialize<'a>>(body: &'a [u8], field: &str) -> Result<T, FindingsError> {
    let limits = crate::bounded::Limits { items: MAX_FINDINGS_PER_DOCUMENT, entries: MAX_DOCUMENT_ENTRIES };
    crate::bounded::read(body, limits).map_err(|error| match error {
        crate::bounded::ReadError::TooManyItems => FindingsError::TooMany,
        crate::bounded::ReadError::TooManyEntries => FindingsError::TooManyEntries,
        crate::bounded::ReadError::Json(error) => invalid(field, error),
    })
}

/// The lists a findings document keeps: findings, and every other list.
type FindingList<T> = crate::bounded::ItemList<T>;
use crate::bounded::{EntryList, EntryMap};

/// Only the fields that tell the formats apart, none of them built beyond a borrowed slice.
#[derive(Deserialize)]
struct Shape<'a> {
    matches: Option<serde::de::IgnoredAny>,
    #[serde(rename = "SchemaVersion", borrow)]
    schema_version: Option<&'a RawValue>,
    #[serde(rename = "bomFormat", borrow)]
    bom_format: Option<Cow<'a, str>>,
}

/// Reads a scanner's document; the format is told by its shape.
pub fn parse_findings(body: &[u8]) -> Result<ScanDocument, FindingsError> {
    if body.len() > MAX_FINDINGS_BODY_BYTES {
        return Err(FindingsError::TooLarge(body.len()));
    }
    let shape: Shape = serde_json::from_slice(body).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => FindingsError::UnknownFormat,
        _ => FindingsError::NotJson(error.to_string()),
    })?;
    let mut collected = Collected::default();
    let (format, scanner, digests) = match shape {
        Shape { bom_format: Some(format), .. } if format == "CycloneDX" => {
            let (scanner, digests) = cyclonedx::read(body, &mut collected)?;
            (Format::CycloneDx, scanner, digests)
        }
        Shape { schema_version: Some(version), .. } => {
            if version.get() != "2" {
                let given = bounded(version.get(), MAX_FINDING_FIELD_BYTES);
                return Err(invalid("SchemaVersion", format!("is {given}; trivy's SchemaVersion 2 is read")));
            }
            (Format::Trivy, "trivy".to_owned(), trivy::read(body, &mut collected)?)
        }
        Shape { matches: Some(_), .. } => (Format::Grype, "grype".to_owned(), grype::read(body, &mut collected)?),
        _ => return Err(FindingsError::UnknownFormat),
    };
    if collected.seen > MAX_FINDINGS_PER_DOCUMENT {
        return Err(FindingsError::TooMany);
    }
    let scanner = scanner_name(&scanner);
    if [INSPECTOR_SCANNER, ECR_SCANNER].contains(&scanner.as_str()) {
        let message =
            format!("names the tool {scanner:?}, the name of the findings synced from AWS: name it otherwise");
        return Err(invalid("metadata.tools", message));
    }
    Ok(ScanDocument {
        format,
        scanner,
        digests,
        findings: collected.findings.order,
        skipped: collected.skipped,
        skipped_count: collected.skipped_count,
    })
}

/// A scanner's name as it keys its findings: lower case, bounded, `unknown` when empty.
fn scanner_name(raw: &str) -> String {
    let name: String = raw.trim().to_ascii_lowercase().chars().filter(|c| !c.is_control()).collect();
    match bounded(&name, MAX_SCANNER_NAME_BYTES) {
        "" => "unknown".to_owned(),
        name => name.to_owned(),
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn bounded(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What a format's reader found, before it is a document: one finding per (id, package) in
/// document order, duplicates folded (a package a scanner lists under two targets).
#[derive(Default)]
struct Collected {
    findings: Deduplicated,
    skipped: Vec<SkippedFinding>,
    skipped_count: usize,
    seen: usize,
}

/// A finding as a source's reader extracted it, before bounds.
#[derive(Debug, Clone, Default)]
pub struct RawFinding<'a> {
    pub id: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub package_name: Option<&'a str>,
    pub package_version: Option<&'a str>,
    pub package_type: Option<&'a str>,
    pub fixed_in: Vec<&'a str>,
    pub cvss_score: Option<f64>,
    pub data_source: Option<&'a str>,
}

/// A document of findings read from an API rather than posted (Inspector, ECR): the same bounds,
/// normalisation and folding of repeats as a posted document. `at` names each finding for the
/// list of skipped ones.
pub fn document_of<'a>(
    format: Format,
    scanner: &str,
    findings: impl IntoIterator<Item = (String, RawFinding<'a>)>,
) -> Result<ScanDocument, FindingsError> {
    let mut collected = Collected::default();
    for (at, raw) in findings {
        collected.add(|| at, raw);
    }
    if collected.seen > MAX_FINDINGS_PER_DOCUMENT {
        return Err(FindingsError::TooMany);
    }
    Ok(ScanDocument {
        format,
        scanner: scanner_name(scanner),
        digests: Vec::new(),
        findings: collected.findings.order,
        skipped: collected.skipped,
        skipped_count: collected.skipped_count,
    })
}

impl<'a> RawFinding<'a> {
    /// A finding that names no package: skipped, as every finding belongs to a package.
    fn without_package(id: Option<&'a str>) -> Self {
        Self {
            id,
            severity: None,
            package_name: None,
            package_version: None,
            package_type: None,
            fixed_in: Vec::new(),
            cvss_score: None,
            data_source: None,
        }
    }
}

impl Collected {
    /// Keeps a finding, or lists it as skipped; stops keeping past the document cap (the
    /// document is then refused as a whole, by `seen`).
    fn add(&mut self, at: impl FnOnce() -> String, raw: RawFinding<'_>) {
        self.seen += 1;
        if self.seen > MAX_FINDINGS_PER_DOCUMENT {
            return;
        }
        match finding(raw) {
            Ok(finding) => self.findings.insert(finding),
            Err(reason) => {
                self.skipped_count += 1;
                if self.skipped.len() < MAX_LISTED_ITEM_NOTES {
                    self.skipped.push(SkippedFinding { at: at(), reason: reason.to_owned() });
                }
            }
        }
    }
}

fn finding(raw: RawFinding<'_>) -> Result<Finding, &'static str> {
    let id = raw.id.map(str::trim).filter(|id| !id.is_empty()).ok_or("no vulnerability id")?;
    if !is_vulnerability_id(id) {
        return Err("vulnerability id longer than 128 bytes or holding '#' or control characters");
    }
    let name = raw.package_name.map(str::trim).filter(|name| !name.is_empty()).ok_or("no package name")?;
    let field = |value: Option<&str>| bounded(value.unwrap_or_default().trim(), MAX_FINDING_FIELD_BYTES).to_owned();
    let mut fixed_in: Vec<String> = Vec::new();
    for version in raw.fixed_in.iter().map(|version| bounded(version.trim(), MAX_FINDING_FIELD_BYTES)) {
        if !version.is_empty() && !fixed_in.iter().any(|kept| kept == version) && fixed_in.len() < MAX_FIXED_IN_VERSIONS
        {
            fixed_in.push(version.to_owned());
        }
    }
    Ok(Finding {
        vulnerability_id: id.to_owned(),
        severity: raw.severity.map_or(Severity::Unknown, Severity::from_scanner),
        package: Package {
            name: bounded(name, MAX_FINDING_FIELD_BYTES).to_owned(),
            version: field(raw.package_version),
            package_type: field(raw.package_type),
        },
        fixed_in,
        cvss_score: raw.cvss_score.filter(|score| score.is_finite() && (0.0..=10.0).contains(score)),
        data_source: field(raw.data_source),
    })
}

/// The findings of a document keyed by (id, package name, version), in first-seen order.
#[derive(Default)]
struct Deduplicated {
    order: Vec<Finding>,
    index: BTreeMap<(String, String, String), usize>,
}

impl Deduplicated {
    /// A repeat of a kept finding raises its severity and score and adds its fixes.
    fn insert(&mut self, finding: Finding) {
        let key = (finding.vulnerability_id.clone(), finding.package.name.clone(), finding.package.version.clone());
        match self.index.get(&key) {
            Some(&at) => merge::fold(&mut self.order[at], &finding),
            None => {
                self.index.insert(key, self.order.len());
                self.order.push(finding);
            }
        }
    }
}

/// The image digests a document names, each once, in the order first named.
#[derive(Default)]
struct DigestSet {
    order: Vec<String>,
    seen: HashSet<String>,
}

impl DigestSet {
    /// Adds the `sha256:…` digests in `text` (a repo digest `name@sha256:…`, a purl's
    /// `sha256%3A…`); a document naming more than `MAX_DOCUMENT_DIGESTS` is refused at the first
    /// past it, with `field`.
    fn add_in(&mut self, text: &str, field: &str) -> Result<(), FindingsError> {
        for digest in digests_in(text) {
            if self.seen.contains(&digest) {
                continue;
            }
            if self.order.len() == MAX_DOCUMENT_DIGESTS {
                return Err(invalid(field, format!("names more than {MAX_DOCUMENT_DIGESTS} image digests")));
            }
            self.seen.insert(digest.clone());
            self.order.push(digest);
        }
        Ok(())
    }

    fn into_vec(self) -> Vec<String> {
        self.order
    }
}

/// The `sha256:` (or URL-encoded `sha256%3A`) digests in `text`, lower case.
pub(crate) fn digests_in(text: &str) -> impl Iterator<Item = String> + '_ {
    text.match_indices("sha256").filter_map(move |(at, _)| {
        let rest = &text[at + 6..];
        let hex = rest.strip_prefix(':').or_else(|| rest.strip_prefix("%3A")).or_else(|| rest.strip_prefix("%3a"))?;
        let length = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
        (length == 64).then(|| format!("sha256:{}", hex[..64].to_ascii_lowercase()))
    })
}

#[cfg(test)]
mod tests;

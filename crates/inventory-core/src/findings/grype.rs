//! grype's JSON (`grype -o json`): `matches[]` of `{vulnerability, artifact}`; the image in
//! `source.target` (`manifestDigest`, `repoDigests`).

use super::{Collected, DigestSet, FindingsError, RawFinding};
use super::{EntryList, FindingList};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(borrow)]
    matches: FindingList<Match<'a>>,
    #[serde(default, borrow)]
    source: Option<Source<'a>>,
}

#[derive(Deserialize)]
struct Match<'a> {
    #[serde(borrow)]
    vulnerability: Vulnerability<'a>,
    #[serde(borrow)]
    artifact: Artifact<'a>,
}

#[derive(Deserialize)]
struct Vulnerability<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    severity: Option<Cow<'a, str>>,
    #[serde(rename = "dataSource", borrow)]
    data_source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(default)]
    cvss: EntryList<Cvss>,
    #[serde(default, borrow)]
    fix: Option<Fix<'a>>,
}

#[derive(Deserialize)]
struct Cvss {
    metrics: Option<Metrics>,
}

#[derive(Deserialize)]
struct Metrics {
    #[serde(rename = "baseScore")]
    base_score: Option<f64>,
}

#[derive(Deserialize)]
struct Fix<'a> {
    #[serde(default, borrow)]
    versions: EntryList<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Artifact<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    package_type: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Source<'a> {
    /// An image's is an object; a directory's or a file's a string, with no image digests.
    #[serde(borrow)]
    target: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ImageTarget<'a> {
    #[serde(rename = "manifestDigest", borrow)]
    manifest_digest: Option<Cow<'a, str>>,
    #[serde(rename = "repoDigests", default, borrow)]
    repo_digests: EntryList<Cow<'a, str>>,
}

/// Collects the document's findings; answers the digests it names.
pub(super) fn read(body: &[u8], collected: &mut Collected) -> Result<Vec<String>, FindingsError> {
    let document: Document = super::read(body, "matches")?;
    for (n, found) in document.matches.iter().enumerate() {
        let vulnerability = &found.vulnerability;
        let score = vulnerability.cvss.iter().filter_map(|cvss| cvss.metrics.as_ref()?.base_score).reduce(f64::max);
        let data_source = vulnerability.data_source.as_deref().filter(|source| !source.is_empty());
        let raw = RawFinding {
            id: vulnerability.id.as_deref(),
            severity: vulnerability.severity.as_deref(),
            package_name: found.artifact.name.as_deref(),
            package_version: found.artifact.version.as_deref(),
            package_type: found.artifact.package_type.as_deref(),
            fixed_in: vulnerability.fix.iter().flat_map(|fix| fix.versions.iter().map(|v| v.as_ref())).collect(),
            cvss_score: score,
            data_source: data_source.or(vulnerability.namespace.as_deref()),
        };
        collected.add(|| format!("matches[{n}]"), raw);
    }
    let target = document.source.and_then(|source| source.target).map(RawValue::get).unwrap_or_default();
    let mut digests = DigestSet::default();
    if target.starts_with('{') {
        let target: ImageTarget = super::read(target.as_bytes(), "source.target")?;
        for text in target.manifest_digest.iter().chain(target.repo_digests.iter()) {
            digests.add_in(text, "source.target")?;
        }
    }
    Ok(digests.into_vec())
}

//! trivy's JSON (`trivy image --format json`, SchemaVersion 2): `Results[]` per target, each
//! with `Vulnerabilities[]`; the image's digests in `Metadata.RepoDigests`.

use super::{Collected, DigestSet, FindingsError, RawFinding};
use super::{EntryList, EntryMap, FindingList};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document<'a> {
    #[serde(default, borrow)]
    results: EntryList<TargetResult<'a>>,
    #[serde(default, borrow)]
    metadata: Option<Metadata<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    #[serde(default, borrow)]
    repo_digests: EntryList<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetResult<'a> {
    #[serde(rename = "Type", borrow)]
    package_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    vulnerabilities: Option<FindingList<Vulnerability<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Vulnerability<'a> {
    #[serde(rename = "VulnerabilityID", borrow)]
    vulnerability_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pkg_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    installed_version: Option<Cow<'a, str>>,
    /// Comma-separated when several branches carry a fix.
    #[serde(borrow)]
    fixed_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    severity: Option<Cow<'a, str>>,
    #[serde(borrow)]
    severity_source: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data_source: Option<DataSource<'a>>,
    #[serde(rename = "CVSS", default, borrow)]
    cvss: EntryMap<'a, Cvss>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataSource<'a> {
    #[serde(rename = "ID", borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Cvss {
    #[serde(rename = "V3Score")]
    v3: Option<f64>,
    #[serde(rename = "V2Score")]
    v2: Option<f64>,
}

impl Vulnerability<'_> {
    /// The score of the source trivy took the severity from, else the highest v3, else v2.
    fn score(&self) -> Option<f64> {
        let source = self.severity_source.as_deref().and_then(|source| self.cvss.get(source));
        let highest = |pick: fn(&Cvss) -> Option<f64>| self.cvss.values().filter_map(pick).reduce(f64::max);
        source.and_then(|cvss| cvss.v3.or(cvss.v2)).or_else(|| highest(|c| c.v3)).or_else(|| highest(|c| c.v2))
    }
}

/// Collects the document's findings; answers the digests it names.
pub(super) fn read(body: &[u8], collected: &mut Collected) -> Result<Vec<String>, FindingsError> {
    let document: Document = super::read(body, "Results")?;
    for (r, result) in document.results.iter().enumerate() {
        for (n, vulnerability) in result.vulnerabilities.iter().flatten().enumerate() {
            let source = vulnerability.data_source.as_ref();
            let raw = RawFinding {
                id: vulnerability.vulnerability_id.as_deref(),
                severity: vulnerability.severity.as_deref(),
                package_name: vulnerability.pkg_name.as_deref(),
                package_version: vulnerability.installed_version.as_deref(),
                package_type: result.package_type.as_deref(),
                fixed_in: vulnerability.fixed_version.as_deref().map(|v| v.split(',').collect()).unwrap_or_default(),
                cvss_score: vulnerability.score(),
                data_source: source.and_then(|s| s.id.as_deref().or(s.name.as_deref())),
            };
            collected.add(|| format!("Results[{r}].Vulnerabilities[{n}]"), raw);
        }
    }
    let mut digests = DigestSet::default();
    for text in document.metadata.iter().flat_map(|metadata| metadata.repo_digests.iter()) {
        digests.add_in(text, "Metadata.RepoDigests")?;
    }
    Ok(digests.into_vec())
}

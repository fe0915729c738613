//! grype's JSON (`grype -o json`): `matches[]` of `{vulnerability, artifact}`; the image in
//! `source.target` (`manifestDigest`, `repoDigests`).

use super::{digests_in, distinct, invalid, Collected, FindingsError, RawFinding};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(borrow)]
    matches: Vec<Match<'a>>,
    #[serde(default)]
    source: Option<Source>,
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
    cvss: Vec<Cvss>,
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
    versions: Vec<Cow<'a, str>>,
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
struct Source {
    target: Option<serde_json::Value>,
}

/// Collects the document's findings; answers the digests it names.
pub(super) fn read(body: &[u8], collected: &mut Collected) -> Result<Vec<String>, FindingsError> {
    let document: Document = serde_json::from_slice(body).map_err(|error| invalid("matches", error))?;
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
    // A directory or file source has a string target: no image digests.
    let target = document.source.and_then(|source| source.target).unwrap_or_default();
    let named = ["manifestDigest", "repoDigests"].iter().filter_map(|field| target.get(field));
    let texts: Vec<String> = named
        .flat_map(|value| match value {
            serde_json::Value::String(text) => vec![text.clone()],
            serde_json::Value::Array(items) => {
                items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        })
        .collect();
    Ok(distinct(texts.iter().flat_map(|text| digests_in(text))))
}

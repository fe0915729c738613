//! CycloneDX 1.5+ JSON with `vulnerabilities[]` (`grype -o cyclonedx-json`, `trivy --format
//! cyclonedx --scanners vuln`): each vulnerability `affects` components by `bom-ref`; the
//! scanner is the BOM's tool, the image its `metadata.component`.

use super::{invalid, Collected, DigestSet, FindingsError, RawFinding};
use super::{EntryList, FindingList};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bom<'a> {
    spec_version: Option<String>,
    #[serde(default, borrow)]
    metadata: Option<Metadata<'a>>,
    #[serde(default, borrow)]
    components: EntryList<Component<'a>>,
    #[serde(borrow)]
    vulnerabilities: Option<EntryList<Vulnerability<'a>>>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    /// 1.5+: `{"components": [{"name"}]}`; before: `[{"vendor", "name"}]`.
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
    /// The image: its digests are anywhere in it (version, purl, properties).
    #[serde(borrow)]
    component: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ToolsObject<'a> {
    #[serde(default, borrow)]
    components: EntryList<Tool<'a>>,
}

#[derive(Deserialize)]
struct Tool<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Component<'a> {
    #[serde(rename = "bom-ref", borrow)]
    bom_ref: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    purl: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Vulnerability<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    source: Option<Source<'a>>,
    #[serde(default)]
    ratings: EntryList<Rating>,
    #[serde(default, borrow)]
    affects: FindingList<Affects<'a>>,
}

#[derive(Deserialize)]
struct Source<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Rating {
    score: Option<f64>,
    severity: Option<String>,
}

#[derive(Deserialize)]
struct Affects<'a> {
    #[serde(rename = "ref", borrow)]
    reference: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    versions: EntryList<AffectedVersion<'a>>,
}

#[derive(Deserialize)]
struct AffectedVersion<'a> {
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
}

/// `1.5` and later: the versions whose `vulnerabilities` carry `ratings` and `affects` as read.
fn supported(spec_version: Option<&str>) -> bool {
    let parts: Vec<u32> = spec_version.unwrap_or_default().split('.').map_while(|part| part.parse().ok()).collect();
    parts.len() >= 2 && (parts[0], parts[1]) >= (1, 5)
}

/// The package type of a purl (`pkg:apk/...` is `apk`).
fn purl_type(purl: &str) -> Option<&str> {
    purl.strip_prefix("pkg:")?.split('/').next().filter(|kind| !kind.is_empty())
}

/// The first tool's name, in either form of `metadata.tools`; none when it is in neither.
fn tool_name(tools: Option<&RawValue>) -> Option<String> {
    let tools = tools?.get().as_bytes();
    let tools: EntryList<Tool> = match tools.first()? {
        b'[' => super::read(tools, "metadata.tools").ok()?,
        _ => super::read::<ToolsObject>(tools, "metadata.tools").ok()?.components,
    };
    tools.iter().next().and_then(|tool| tool.name.as_deref()).map(str::to_owned)
}

/// The digests anywhere in the image component (its version, purl, properties).
fn component_digests(component: Option<&RawValue>) -> Result<Vec<String>, FindingsError> {
    let mut digests = DigestSet::default();
    digests.add_in(component.map(RawValue::get).unwrap_or_default(), "metadata.component")?;
    Ok(digests.into_vec())
}

/// Collects the document's findings; answers its scanner and the digests it names.
pub(super) fn read(body: &[u8], collected: &mut Collected) -> Result<(String, Vec<String>), FindingsError> {
    let bom: Bom = super::read(body, "vulnerabilities")?;
    if !supported(bom.spec_version.as_deref()) {
        let given = bom.spec_version.as_deref().unwrap_or("missing");
        return Err(invalid("specVersion", format!("is {given}; CycloneDX 1.5 or later is read")));
    }
    let Some(vulnerabilities) = bom.vulnerabilities else {
        return Err(invalid("vulnerabilities", "is missing: a CycloneDX document without findings is an SBOM"));
    };
    let components: HashMap<&str, &Component> =
        bom.components.iter().filter_map(|c| Some((c.bom_ref.as_deref()?, c))).collect();
    for (n, vulnerability) in vulnerabilities.iter().enumerate() {
        let severity = vulnerability
            .ratings
            .iter()
            .filter_map(|rating| rating.severity.as_deref().map(super::Severity::from_scanner))
            .max();
        let score = vulnerability.ratings.iter().filter_map(|rating| rating.score).reduce(f64::max);
        if vulnerability.affects.is_empty() {
            collected.add(|| format!("vulnerabilities[{n}]"), RawFinding::without_package(vulnerability.id.as_deref()));
        }
        for (a, affected) in vulnerability.affects.iter().enumerate() {
            let component = affected.reference.as_deref().and_then(|reference| components.get(reference));
            let fixed_in = affected
                .versions
                .iter()
                .filter(|version| version.status.as_deref() == Some("unaffected"))
                .filter_map(|version| version.version.as_deref())
                .collect();
            let raw = RawFinding {
                id: vulnerability.id.as_deref(),
                severity: severity.map(super::Severity::as_str),
                package_name: component.and_then(|c| c.name.as_deref()),
                package_version: component.and_then(|c| c.version.as_deref()),
                package_type: component.and_then(|c| c.purl.as_deref()).and_then(purl_type),
                fixed_in,
                cvss_score: score,
                data_source: vulnerability.source.as_ref().and_then(|source| source.name.as_deref()),
            };
            collected.add(|| format!("vulnerabilities[{n}].affects[{a}]"), raw);
        }
    }
    let metadata = bom.metadata.as_ref();
    let scanner = tool_name(metadata.and_then(|m| m.tools)).unwrap_or_else(|| "cyclonedx".to_owned());
    Ok((scanner, component_digests(metadata.and_then(|m| m.component))?))
}

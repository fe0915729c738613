//! The SBOM formats, read in one pass into one `Document` (which of its fields are there tells
//! the format), then into `RawPackage`s borrowing from it: CycloneDX JSON (components, nested ones
//! too, `dependencies` for a Debian binary's source package), SPDX 2.x JSON (purls in
//! `externalRefs`, `GENERATES`/`GENERATED_FROM` for sources) and syft's own JSON (`artifacts`).

use super::{invalid, At, RawPackage, SbomError};
use crate::bounded::{EntryList, ItemList, Keep, KeptList};
use crate::limits::MAX_DOCUMENT_DIGESTS;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;

/// Component types that are no package: what they describe is listed as skipped.
const NOT_PACKAGES: [&str; 5] = ["operating-system", "container", "file", "platform", "data"];

/// Every format's fields, read at once.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Document<'a> {
    #[serde(borrow)]
    pub bom_format: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub spec_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    components: Option<ItemList<Component<'a>>>,
    #[serde(default, borrow)]
    dependencies: EntryList<Dependency<'a>>,
    #[serde(borrow)]
    pub spdx_version: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    packages: ItemList<SpdxPackage<'a>>,
    #[serde(default, borrow)]
    relationships: EntryList<Relationship<'a>>,
    #[serde(borrow)]
    pub artifacts: Option<ItemList<Artifact<'a>>>,
    /// CycloneDX: `metadata.component` is the image.
    #[serde(borrow)]
    metadata: Option<Metadata<'a>>,
    /// syft: the image it read.
    #[serde(borrow)]
    source: Option<SyftSource<'a>>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    component: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SyftSource<'a> {
    #[serde(borrow)]
    metadata: Option<SyftImage<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyftImage<'a> {
    #[serde(borrow)]
    manifest_digest: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    repo_digests: EntryList<Cow<'a, str>>,
}

impl Document<'_> {
    /// The image digests the document names: CycloneDX's `metadata.component` (its version,
    /// purl, properties), syft's manifest and repo digests. Its config digest (syft's `imageID`)
    /// names no image a registry serves, so it is not read.
    pub fn image_digests(&self) -> Vec<String> {
        let mut texts: Vec<&str> = Vec::new();
        if let Some(component) = self.metadata.as_ref().and_then(|metadata| metadata.component) {
            texts.push(component.get());
        }
        if let Some(image) = self.source.as_ref().and_then(|source| source.metadata.as_ref()) {
            texts.extend(image.manifest_digest.as_deref());
            texts.extend(image.repo_digests.iter().map(|digest| digest.as_ref()));
        }
        let mut digests: Vec<String> = Vec::new();
        for digest in texts.into_iter().flat_map(crate::findings::digests_in) {
            if !digests.contains(&digest) && digests.len() < MAX_DOCUMENT_DIGESTS {
                digests.push(digest);
            }
        }
        digests
    }
}

#[derive(Deserialize)]
struct Component<'a> {
    #[serde(rename = "bom-ref", borrow)]
    bom_ref: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    component_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    purl: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    properties: KeptList<Property<'a>>,
    #[serde(default, borrow)]
    components: ItemList<Component<'a>>,
}

/// trivy names a binary's source package in a property.
const TRIVY_SOURCE_PROPERTY: &str = "aquasecurity:trivy:SrcName";

#[derive(Deserialize)]
struct Property<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
}

impl Keep for Property<'_> {
    fn keep(&self) -> bool {
        self.name.as_deref() == Some(TRIVY_SOURCE_PROPERTY)
    }
}

/// A dependency's target that is a Debian source package.
#[derive(Deserialize)]
#[serde(transparent)]
struct Target<'a>(#[serde(borrow)] Cow<'a, str>);

impl Keep for Target<'_> {
    fn keep(&self) -> bool {
        self.0.contains("arch=source")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dependency<'a> {
    #[serde(rename = "ref", borrow)]
    reference: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    depends_on: KeptList<Target<'a>>,
}

/// A CycloneDX BOM's components, in document order, depth first.
pub(super) fn cyclonedx<'d>(bom: &'d Document) -> Result<Vec<RawPackage<'d>>, SbomError> {
    let Some(components) = &bom.components else {
        return Err(invalid("components", "is missing: a CycloneDX SBOM lists its packages in components"));
    };
    // A Debian binary depends on its source package (`arch=source`), and on those of what it
    // embeds (`Built-Using`): its own is the one of its version.
    let mut sources: HashMap<&str, Vec<&str>> = HashMap::new();
    for dependency in bom.dependencies.iter() {
        let Some(reference) = dependency.reference.as_deref() else { continue };
        if !dependency.depends_on.0.is_empty() {
            sources
                .entry(reference)
                .or_default()
                .extend(dependency.depends_on.0.iter().map(|target| target.0.as_ref()));
        }
    }
    let mut packages = Vec::new();
    let mut stack: Vec<(At, &Component)> =
        components.iter().enumerate().rev().map(|(n, c)| (At::Index("components", n), c)).collect();
    while let Some((at, component)) = stack.pop() {
        let nested = component.components.iter().enumerate().rev();
        stack.extend(nested.map(|(n, c)| (At::Path(format!("{at}.components[{n}]")), c)));
        let trivy_source = component.properties.0.first().and_then(|property| property.value.as_deref());
        let candidates = component.bom_ref.as_deref().and_then(|reference| sources.get(reference));
        let source_purl = candidates.and_then(|candidates| own_source(candidates, component.version.as_deref()));
        packages.push(RawPackage {
            at,
            purl: component.purl.as_deref(),
            name: component.name.as_deref(),
            version: component.version.as_deref(),
            package_type: None,
            not_a_package: component
                .component_type
                .as_deref()
                .filter(|kind| NOT_PACKAGES.contains(kind) && component.purl.is_none()),
            source: trivy_source,
            source_purl,
        });
    }
    Ok(packages)
}

/// Of the source packages a binary depends on, the one built at its version (a binNMU's `+bN`
/// aside), else the only one.
fn own_source<'a>(candidates: &[&'a str], version: Option<&str>) -> Option<&'a str> {
    let version = version.map(|version| version.split("+b").next().unwrap_or(version).replace('+', "%2B"));
    let built_at =
        |candidate: &&&str| version.as_ref().is_some_and(|version| candidate.contains(&format!("@{version}?")));
    candidates.iter().find(built_at).or(candidates.first().filter(|_| candidates.len() == 1)).copied()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage<'a> {
    #[serde(rename = "SPDXID", borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version_info: Option<Cow<'a, str>>,
    #[serde(borrow)]
    primary_package_purpose: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    external_refs: EntryList<ExternalRef<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef<'a> {
    #[serde(borrow)]
    reference_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reference_locator: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Relationship<'a> {
    #[serde(borrow)]
    spdx_element_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    related_spdx_element: Option<Cow<'a, str>>,
    #[serde(borrow)]
    relationship_type: Option<Cow<'a, str>>,
}

/// An SPDX document's packages.
pub(super) fn spdx<'d>(document: &'d Document) -> Vec<RawPackage<'d>> {
    let by_id: HashMap<&str, &SpdxPackage> =
        document.packages.iter().filter_map(|package| Some((package.id.as_deref()?, package))).collect();
    // Which package each binary was built from: `source GENERATES binary`, `binary GENERATED_FROM source`.
    let mut sources: HashMap<&str, &str> = HashMap::new();
    for relationship in document.relationships.iter() {
        let (Some(a), Some(b)) =
            (relationship.spdx_element_id.as_deref(), relationship.related_spdx_element.as_deref())
        else {
            continue;
        };
        match relationship.relationship_type.as_deref() {
            Some("GENERATES") => sources.insert(b, a),
            Some("GENERATED_FROM") => sources.insert(a, b),
            _ => None,
        };
    }
    document
        .packages
        .iter()
        .enumerate()
        .map(|(n, package)| {
            let source = package.id.as_deref().and_then(|id| sources.get(id)).and_then(|id| by_id.get(id));
            let purl = purl_of(package);
            RawPackage {
                at: At::Index("packages", n),
                name: package.name.as_deref(),
                version: package.version_info.as_deref(),
                package_type: None,
                not_a_package: package
                    .primary_package_purpose
                    .as_deref()
                    .filter(|purpose| matches!(*purpose, "OPERATING_SYSTEM" | "CONTAINER" | "FILE") && purl.is_none()),
                purl,
                source: None,
                source_purl: source.and_then(|source| purl_of(source)),
            }
        })
        .collect()
}

fn purl_of<'d>(package: &'d SpdxPackage) -> Option<&'d str> {
    package
        .external_refs
        .iter()
        .find(|reference| reference.reference_type.as_deref() == Some("purl"))
        .and_then(|reference| reference.reference_locator.as_deref())
}

#[derive(Deserialize)]
pub(super) struct Artifact<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    package_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    purl: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    metadata: Option<ArtifactMetadata<'a>>,
}

#[derive(Deserialize)]
struct ArtifactMetadata<'a> {
    /// dpkg's source package.
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
}

/// syft's own JSON: its artifacts.
pub(super) fn syft<'d>(artifacts: &'d [Artifact<'d>]) -> Vec<RawPackage<'d>> {
    artifacts
        .iter()
        .enumerate()
        .map(|(n, artifact)| RawPackage {
            at: At::Index("artifacts", n),
            purl: artifact.purl.as_deref().filter(|purl| !purl.is_empty()),
            name: artifact.name.as_deref(),
            version: artifact.version.as_deref(),
            package_type: artifact.package_type.as_deref(),
            not_a_package: None,
            source: artifact.metadata.as_ref().and_then(|metadata| metadata.source.as_deref()),
            source_purl: None,
        })
        .collect()
}

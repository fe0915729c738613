//! SBOMs: CycloneDX JSON, SPDX 2.x JSON and syft's JSON, told apart by their shape; each
//! package normalised to a purl (type, namespace, name, version, qualifiers), Debian binaries
//! with the source package they were built from. A search (`PackageQuery`) names a package by
//! purl or by name and type, optionally an exact version or a `vers` range.

mod documents;
mod stored;
pub mod vers;
pub mod version;

pub use stored::{
    package_entries, plan_package_index, EntryKey, ImageSbomRecord, PackageEntry, PackageIndexChange, PackageWatch,
    StoredSbom, WatchSpec,
};
pub use vers::VersionRange;
pub use version::Ecosystem;

use crate::field::FieldError;
use crate::findings::SkippedFinding;
use crate::limits::{
    MAX_FINDING_FIELD_BYTES, MAX_LISTED_ITEM_NOTES, MAX_PACKAGE_NAME_BYTES, MAX_PURL_BYTES, MAX_PURL_QUALIFIERS,
    MAX_SBOM_BODY_BYTES, MAX_SBOM_DOCUMENT_ENTRIES, MAX_SBOM_PACKAGES,
};
use packageurl::PackageUrl;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

/// The formats an SBOM may be in, as the error for any other names them.
pub const ACCEPTED_SBOM_FORMATS: &str =
    "CycloneDX JSON 1.4-1.7 (syft, trivy, debsbom, cyclonedx-py, Inspector), SPDX 2.2/2.3 JSON, syft JSON";

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SbomFormat {
    CycloneDx,
    Spdx,
    Syft,
}

/// One package of an image, normalised.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SbomPackage {
    /// Canonical: type, namespace, name, version and qualifiers in the purl spec's order.
    pub purl: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The purl type (`deb`, `pypi`, `npm`…; `generic` when the SBOM gives none).
    #[serde(rename = "type")]
    pub package_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub qualifiers: BTreeMap<String, String>,
    /// The source package a binary was built from, when its name differs (Debian's `liblzma5`
    /// from `xz-utils`): a search by the source's name finds it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl SbomPackage {
    /// The names a search finds it under: its own, and its source package's.
    pub fn index_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.source.as_deref())
    }
}

/// A parsed SBOM.
#[derive(Clone, Debug, PartialEq)]
pub struct SbomDocument {
    pub format: SbomFormat,
    /// The image digests the document names (to cross-check against the posted one).
    pub digests: Vec<String>,
    /// Distinct by purl, in document order.
    pub packages: Vec<SbomPackage>,
    pub skipped: Vec<SkippedFinding>,
    pub skipped_count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SbomError {
    #[error("body is {0} bytes; at most {MAX_SBOM_BODY_BYTES} are accepted")]
    TooLarge(usize),
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("body is not an SBOM this service reads; accepted: {ACCEPTED_SBOM_FORMATS}")]
    UnknownFormat,
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("the SBOM lists more than {MAX_SBOM_PACKAGES} packages, the most kept for an image")]
    TooMany,
    #[error("the SBOM's other lists hold more than {MAX_SBOM_DOCUMENT_ENTRIES} entries in all, the most accepted")]
    TooManyEntries,
}

impl SbomError {
    pub fn reason(&self) -> String {
        match self {
            Self::Invalid(invalid) => invalid.message.clone(),
            other => other.to_string(),
        }
    }

    pub fn field(&self) -> &str {
        match self {
            Self::Invalid(invalid) => &invalid.field,
            Self::TooMany => "packages",
            _ => "body",
        }
    }
}

fn invalid(field: &str, error: impl std::fmt::Display) -> SbomError {
    FieldError::invalid(field, error.to_string()).into()
}

/// Where a package is in its document (`components[3]`), for the list of skipped ones: written
/// out only for those.
#[derive(Debug)]
enum At {
    Index(&'static str, usize),
    Path(String),
}

impl std::fmt::Display for At {
    fn fmt(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Self::Index(list, n) => write!(formatter, "{list}[{n}]"),
            Self::Path(path) => formatter.write_str(path),
        }
    }
}

/// A package as a format's reader found it, borrowed from the document, before normalisation.
#[derive(Debug)]
struct RawPackage<'d> {
    at: At,
    purl: Option<&'d str>,
    name: Option<&'d str>,
    version: Option<&'d str>,
    /// A syft artifact's type (`deb`, `python`, `go-module`).
    package_type: Option<&'d str>,
    /// What it is when it is no package (an operating system, a file).
    not_a_package: Option<&'d str>,
    /// Its source package's name or purl, when the document says.
    source: Option<&'d str>,
    source_purl: Option<&'d str>,
}

/// Reads an SBOM in one pass; its format is told by which fields it has.
pub fn parse_sbom(body: &[u8]) -> Result<SbomDocument, SbomError> {
    if body.len() > MAX_SBOM_BODY_BYTES {
        return Err(SbomError::TooLarge(body.len()));
    }
    let limits = crate::bounded::Limits { items: MAX_SBOM_PACKAGES, entries: MAX_SBOM_DOCUMENT_ENTRIES };
    let document: documents::Document = crate::bounded::read(body, limits).map_err(|error| match error {
        crate::bounded::ReadError::TooManyItems => SbomError::TooMany,
        crate::bounded::ReadError::TooManyEntries => SbomError::TooManyEntries,
        crate::bounded::ReadError::Json(error) if error.classify() == serde_json::error::Category::Data => {
            invalid("body", error)
        }
        crate::bounded::ReadError::Json(error) => SbomError::NotJson(error.to_string()),
    })?;
    let (format, raw) = if document.bom_format.as_deref() == Some("CycloneDX") {
        let version = document.spec_version.as_deref().unwrap_or("missing");
        if !matches!(version, "1.4" | "1.5" | "1.6" | "1.7") {
            return Err(invalid("specVersion", format!("is {version}; CycloneDX 1.4 to 1.7 is read")));
        }
        (SbomFormat::CycloneDx, documents::cyclonedx(&document)?)
    } else if let Some(version) = document.spdx_version.as_deref() {
        if !matches!(version, "SPDX-2.2" | "SPDX-2.3") {
            let given = &version[..version.floor_char_boundary(32)];
            return Err(invalid("spdxVersion", format!("is {given}; SPDX-2.2 and SPDX-2.3 are read")));
        }
        (SbomFormat::Spdx, documents::spdx(&document))
    } else if let Some(artifacts) = &document.artifacts {
        (SbomFormat::Syft, documents::syft(artifacts))
    } else {
        return Err(SbomError::UnknownFormat);
    };
    let digests = document.image_digests();
    let mut normalised = SbomDocument { format, digests, packages: Vec::new(), skipped: Vec::new(), skipped_count: 0 };
    // Repeats by their purl's hash: a 128-bit collision is not a concern, a copy of every purl is.
    let mut seen: HashSet<u128> = HashSet::new();
    for raw in raw {
        match normalise(&raw) {
            Ok(package) => {
                if seen.insert(xxhash_rust::xxh3::xxh3_128(package.purl.as_bytes())) {
                    normalised.packages.push(package);
                }
            }
            Err(reason) => {
                normalised.skipped_count += 1;
                if normalised.skipped.len() < MAX_LISTED_ITEM_NOTES {
                    normalised.skipped.push(SkippedFinding { at: raw.at.to_string(), reason });
                }
            }
        }
    }
    Ok(normalised)
}

/// A package by its purl, or by name, version and type when it has none.
fn normalise(raw: &RawPackage) -> Result<SbomPackage, String> {
    if let Some(what) = raw.not_a_package {
        return Err(format!("a component of type {what} is not a package"));
    }
    let source = raw.source.as_deref().or(raw.source_purl.as_deref().and_then(purl_name));
    let mut package = match raw.purl.as_deref().filter(|purl| !purl.is_empty()) {
        Some(purl) => from_purl(purl)?,
        None => {
            let name = raw.name.as_deref().filter(|name| !name.is_empty()).ok_or("has no purl and no name")?;
            let version =
                raw.version.as_deref().filter(|version| !version.is_empty()).ok_or("has no purl and no version")?;
            let package_type = raw.package_type.as_deref().and_then(purl_type_of).unwrap_or("generic");
            from_parts(package_type, None, name, Some(version), BTreeMap::new(), None)?
        }
    };
    let source =
        source.or(package.qualifiers.get("upstream").map(|upstream| upstream.split('@').next().unwrap_or(upstream)));
    package.source =
        source.map(|source| normal_name(&package.package_type, source)).filter(|source| *source != package.name);
    Ok(package)
}

/// The name a purl names, for a source package given by purl.
fn purl_name(purl: &str) -> Option<&str> {
    let path = purl.split(['?', '#']).next()?.split('@').next()?;
    path.rsplit('/').next()
}

/// A purl read and written back canonical.
pub fn from_purl(raw: &str) -> Result<SbomPackage, String> {
    if raw.len() > MAX_PURL_BYTES {
        return Err(format!("its purl is longer than {MAX_PURL_BYTES} bytes"));
    }
    let purl = PackageUrl::from_str(raw).map_err(|error| format!("its purl {raw:?} does not parse: {error}"))?;
    let qualifiers: BTreeMap<String, String> =
        purl.qualifiers().iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
    let parsed = &purl;
    from_parts(purl.ty(), purl.namespace(), purl.name(), purl.version(), qualifiers, Some(parsed))
}

/// A package from its parts, normalised; `parsed` is the purl they came from, written back as it
/// is when normalising changed nothing (most purls: one build less).
fn from_parts(
    package_type: &str,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
    qualifiers: BTreeMap<String, String>,
    parsed: Option<&PackageUrl>,
) -> Result<SbomPackage, String> {
    let package_type = package_type.to_ascii_lowercase();
    let normal = normal_name(&package_type, name);
    if normal.is_empty() || normal.len() > MAX_PACKAGE_NAME_BYTES || normal.contains(['#', '\n']) {
        return Err(format!("its name must be 1 to {MAX_PACKAGE_NAME_BYTES} bytes without '#'"));
    }
    if qualifiers.len() > MAX_PURL_QUALIFIERS {
        return Err(format!("its purl has more than {MAX_PURL_QUALIFIERS} qualifiers"));
    }
    let normal_namespace =
        namespace.filter(|namespace| !namespace.is_empty()).map(|namespace| match package_type.as_str() {
            "deb" | "apk" | "rpm" | "npm" | "pypi" => namespace.to_ascii_lowercase(),
            _ => namespace.to_owned(),
        });
    let version = version.filter(|version| !version.is_empty()).map(str::to_owned);
    let unchanged =
        normal == name && normal_namespace.as_deref() == namespace && package_type == parsed.map_or("", |p| p.ty());
    let purl = match parsed.filter(|_| unchanged) {
        Some(parsed) => parsed.to_string(),
        None => {
            let built = PackageUrl::new(package_type.as_str(), normal.as_str()).and_then(|mut purl| {
                if let Some(namespace) = &normal_namespace {
                    purl.with_namespace(namespace.as_str())?;
                }
                if let Some(version) = &version {
                    purl.with_version(version.as_str())?;
                }
                for (key, value) in &qualifiers {
                    purl.add_qualifier(key.as_str(), value.as_str())?;
                }
                Ok(purl.to_string())
            });
            built.map_err(|error| format!("its purl cannot be written: {error}"))?
        }
    };
    if purl.len() > MAX_PURL_BYTES {
        return Err(format!("its purl is longer than {MAX_PURL_BYTES} bytes"));
    }
    Ok(SbomPackage { purl, name: normal, version, package_type, namespace: normal_namespace, qualifiers, source: None })
}

/// A name as its ecosystem compares names: PyPI's normalised (PEP 503), npm's and Debian's
/// lower case; other ecosystems' names are case sensitive.
pub fn normal_name(package_type: &str, name: &str) -> String {
    match package_type {
        "pypi" => {
            let lower = name.to_ascii_lowercase().replace(['_', '.'], "-");
            let mut normal = String::with_capacity(lower.len());
            for c in lower.chars() {
                if !(c == '-' && normal.ends_with('-')) {
                    normal.push(c);
                }
            }
            normal
        }
        "deb" | "npm" | "apk" | "alpm" => name.to_ascii_lowercase(),
        _ => name.to_owned(),
    }
}

/// The purl type of a scanner's or SBOM tool's package type (`python` → `pypi`).
pub fn purl_type_of(package_type: &str) -> Option<&'static str> {
    Some(match package_type.to_ascii_lowercase().as_str() {
        "deb" | "debian" | "dpkg" | "ubuntu" => "deb",
        "rpm" | "redhat" | "centos" | "rocky" | "alma" | "amazon" | "oracle" | "fedora" | "suse" | "photon" => "rpm",
        "apk" | "alpine" | "wolfi" | "chainguard" => "apk",
        "python" | "pypi" | "python-pkg" | "pip" | "pipenv" | "poetry" | "wheel" | "egg" => "pypi",
        "java-archive" | "jar" | "maven" | "pom" | "gradle" | "jenkins-plugin" => "maven",
        "go-module" | "gobinary" | "gomod" | "golang" | "go" => "golang",
        "npm" | "node-pkg" | "yarn" | "pnpm" | "javascript" => "npm",
        "gem" | "gemspec" | "bundler" | "ruby" => "gem",
        "cargo" | "rust-crate" | "rust-binary" | "crate" => "cargo",
        "nuget" | "dotnet-core" | "dotnet" | "dotnet-deps" => "nuget",
        "composer" | "php-composer" | "php-pecl" => "composer",
        _ => return None,
    })
}

/// What a package search asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageQuery {
    pub package_type: String,
    pub name: String,
    /// Narrows only when the query names it.
    pub namespace: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
    pub version: Option<String>,
    pub range: Option<VersionRange>,
}

impl PackageQuery {
    /// From the route's parameters: `purl=` (its version, if any, is exact) or `name=` with
    /// `type=`; `version=` or `range=`.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, FieldError> {
        let given = |name: &str| get(name).filter(|value| !value.is_empty());
        let mut query = match (given("purl"), given("name")) {
            (Some(purl), _) => {
                let package = from_purl(&purl).map_err(|reason| FieldError::invalid("purl", reason))?;
                Self {
                    package_type: package.package_type,
                    name: package.name,
                    namespace: package.namespace,
                    qualifiers: package.qualifiers,
                    version: package.version,
                    range: None,
                }
            }
            (None, Some(name)) => {
                let raw_type = given("type")
                    .ok_or_else(|| FieldError::invalid("type", "is needed with name= (deb, pypi, npm…)"))?;
                let package_type = purl_type_of(&raw_type).map_or_else(|| raw_type.to_ascii_lowercase(), str::to_owned);
                let name = normal_name(&package_type, &name);
                if name.len() > MAX_PACKAGE_NAME_BYTES || name.contains('#') {
                    return Err(FieldError::invalid(
                        "name",
                        format!("must be at most {MAX_PACKAGE_NAME_BYTES} bytes without '#'"),
                    ));
                }
                Self { package_type, name, namespace: None, qualifiers: BTreeMap::new(), version: None, range: None }
            }
            (None, None) => return Err(FieldError::invalid("purl", "or name= and type= name the package to find")),
        };
        if let Some(version) = given("version") {
            if version.len() > MAX_FINDING_FIELD_BYTES {
                return Err(FieldError::invalid("version", format!("is longer than {MAX_FINDING_FIELD_BYTES} bytes")));
            }
            query.version = Some(version);
        }
        if let Some(raw) = given("range") {
            if query.version.is_some() {
                return Err(FieldError::invalid("range", "cannot be given with a version"));
            }
            let range = VersionRange::parse(&raw).map_err(|reason| FieldError::invalid("range", reason))?;
            if range.scheme != query.package_type {
                let message =
                    format!("is a range of {} versions; the package is of type {}", range.scheme, query.package_type);
                return Err(FieldError::invalid("range", message));
            }
            query.range = Some(range);
        }
        Ok(query)
    }

    /// Whether a package of an image is one the query asks for.
    pub fn matches(&self, package: &SbomPackage) -> bool {
        let named = package.name == self.name || package.source.as_deref() == Some(self.name.as_str());
        let namespace = self.namespace.as_ref().is_none_or(|namespace| package.namespace.as_ref() == Some(namespace));
        let qualifiers = self.qualifiers.iter().all(|(key, value)| package.qualifiers.get(key) == Some(value));
        let version = match (&self.version, &self.range, &package.version) {
            (None, None, _) => true,
            (_, _, None) => false,
            (Some(wanted), _, Some(version)) => {
                wanted == version
                    || Ecosystem::of(&self.package_type)
                        .is_some_and(|ecosystem| ecosystem.compare(wanted, version) == std::cmp::Ordering::Equal)
            }
            (None, Some(range), Some(version)) => range.contains(version),
        };
        package.package_type == self.package_type && named && namespace && qualifiers && version
    }
}

#[cfg(test)]
mod tests;

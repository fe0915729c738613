//! Package URLs in VEX documents: `pkg:oci/…` names an image (by digest) or a repository (without
//! one); any other type names a package.

use super::PackageIdentifier;
use crate::image::Digest;
use crate::sbom::purl_type_of as family;
use packageurl::PackageUrl;
use std::str::FromStr;

/// What a product or subcomponent names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Product {
    /// An image by digest, with its repository when the purl gives one.
    Image {
        digest: String,
        repository: Option<String>,
    },
    /// Every image of a repository.
    Repository(String),
    Package(PackageIdentifier),
}

/// Reads a purl; `Err` says why it names nothing this service can apply a statement to.
pub(super) fn product(raw: &str) -> Result<Product, String> {
    let purl = PackageUrl::from_str(raw).map_err(|error| format!("not a package URL: {error}"))?;
    if purl.ty() != "oci" {
        let name = match purl.namespace() {
            // npm scopes and Go modules: scanners name them whole (`@angular/core`,
            // `github.com/x/y`); a Debian or RPM namespace is the distribution, not the name.
            Some(namespace) if matches!(purl.ty(), "npm" | "golang" | "composer") => {
                format!("{namespace}/{}", purl.name())
            }
            _ => purl.name().to_owned(),
        };
        return Ok(Product::Package(PackageIdentifier {
            name,
            version: purl.version().map(str::to_owned),
            package_type: Some(purl.ty().to_owned()),
        }));
    }
    let repository = purl.qualifiers().get("repository_url").map(|url| {
        let url = url.trim_start_matches("https://").trim_start_matches("http://");
        url.trim_end_matches('/').to_owned()
    });
    match purl.version() {
        Some(version) => {
            let digest = Digest::parse(version).map_err(|error| format!("the version of an oci purl: {error}"))?;
            Ok(Product::Image { digest: digest.as_str().to_owned(), repository })
        }
        None => Ok(Product::Repository(repository.unwrap_or_else(|| purl.name().to_owned()))),
    }
}

/// The purl of an image: `pkg:oci/{name}@{digest}?repository_url={repository}`.
pub(super) fn image(digest: &str, repository: Option<&str>) -> String {
    let name = repository.and_then(|repository| repository.rsplit('/').next()).unwrap_or("image");
    build("oci", name, Some(digest), repository)
}

/// The purl of a package: its type's purl family (`generic` without one).
pub(super) fn package(package: &PackageIdentifier) -> String {
    let family = match package.package_type.as_deref() {
        Some(package_type) => family(package_type).map_or_else(|| package_type.to_ascii_lowercase(), str::to_owned),
        None => "generic".to_owned(),
    };
    let family = family.as_str();
    let (namespace, name) = match package.name.rsplit_once('/') {
        Some((namespace, name)) if matches!(family, "npm" | "golang" | "composer") => (Some(namespace), name),
        _ => (None, package.name.as_str()),
    };
    let built = PackageUrl::new(family, name).and_then(|mut purl| {
        if let Some(namespace) = namespace {
            purl.with_namespace(namespace)?;
        }
        if let Some(version) = &package.version {
            purl.with_version(version.as_str())?;
        }
        Ok(purl.to_string())
    });
    built.unwrap_or_else(|_| format!("pkg:generic/{}", percent(&package.name)))
}

fn build(ty: &str, name: &str, version: Option<&str>, repository: Option<&str>) -> String {
    let built = PackageUrl::new(ty, name).and_then(|mut purl| {
        if let Some(version) = version {
            purl.with_version(version)?;
        }
        if let Some(repository) = repository {
            purl.add_qualifier("repository_url", repository)?;
        }
        Ok(purl.to_string())
    });
    built.unwrap_or_else(|_| format!("pkg:{ty}/{}", percent(name)))
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Whether two package types are one ecosystem: grype, trivy, syft and purl name them
/// differently (`python`, `python-pkg`, `pypi`).
pub(super) fn same_type(a: &str, b: &str) -> bool {
    match (family(a), family(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

use super::*;

/// The real documents of `tests/fixtures/sboms` (debsbom's Debian system in CycloneDX 1.7 and
/// SPDX 2.3, cyclonedx-py's Python environment).
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/sboms/{name}.gz", env!("CARGO_MANIFEST_DIR"));
    crate::gzip::decompress(&std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))).unwrap()
}

fn find<'a>(document: &'a SbomDocument, purl_start: &str) -> &'a SbomPackage {
    document
        .packages
        .iter()
        .find(|package| package.purl.starts_with(purl_start))
        .unwrap_or_else(|| panic!("{purl_start}"))
}

#[test]
fn debsboms_cyclonedx_keeps_every_package_and_links_binaries_to_their_source() {
    let document = parse_sbom(&fixture("debian-bookworm-system.cdx.json")).unwrap();
    assert_eq!(document.format, SbomFormat::CycloneDx);
    assert_eq!(document.packages.len(), 1147);
    assert_eq!(document.skipped_count, 0);
    let liblzma = find(&document, "pkg:deb/debian/liblzma5@");
    assert_eq!(liblzma.version.as_deref(), Some("5.4.1-1"));
    assert_eq!(liblzma.source.as_deref(), Some("xz-utils"));
    assert_eq!(liblzma.qualifiers.get("arch").map(String::as_str), Some("amd64"));
    let source = find(&document, "pkg:deb/debian/xz-utils@5.4.1-1?arch=source");
    assert_eq!((source.name.as_str(), source.source.as_deref()), ("xz-utils", None));
    // A version with `+` is written back percent-encoded, as the purl spec says.
    assert!(find(&document, "pkg:deb/debian/abseil@").purl.contains("%2Bdeb12u2"));
    let query = PackageQuery::from_params(|name| {
        (name == "purl")
            .then(|| "pkg:deb/debian/xz-utils".to_owned())
            .or((name == "range").then(|| "vers:deb/>=5.4.0|<5.5".to_owned()))
    })
    .unwrap();
    let matched: Vec<&str> = document
        .packages
        .iter()
        .filter(|package| query.matches(package))
        .map(|package| package.name.as_str())
        .collect();
    assert_eq!(
        matched,
        ["liblzma-dev", "liblzma5", "xz-utils", "xz-utils"],
        "the binaries built from xz-utils, and its source"
    );
}

#[test]
fn the_same_system_in_spdx_reads_as_the_same_packages() {
    let spdx = parse_sbom(&fixture("debian-bookworm-system.spdx.json")).unwrap();
    let cyclonedx = parse_sbom(&fixture("debian-bookworm-system.cdx.json")).unwrap();
    assert_eq!(spdx.format, SbomFormat::Spdx);
    // SPDX's root package is the operating system: no package, listed as skipped.
    assert_eq!(spdx.skipped_count, 1);
    assert!(spdx.skipped[0].reason.contains("OPERATING_SYSTEM"), "{:?}", spdx.skipped);
    let purls = |document: &SbomDocument| {
        let mut purls: Vec<(String, Option<String>)> =
            document.packages.iter().map(|package| (package.purl.clone(), package.source.clone())).collect();
        purls.sort();
        purls
    };
    let (spdx, cyclonedx) = (purls(&spdx), purls(&cyclonedx));
    let differ: Vec<_> = spdx.iter().zip(&cyclonedx).filter(|(a, b)| a != b).take(3).collect();
    assert!(differ.is_empty() && spdx.len() == cyclonedx.len(), "{differ:?}");
}

#[test]
fn python_names_are_normalised_as_pypi_compares_them() {
    let document = parse_sbom(&fixture("python-venv.cdx.json")).unwrap();
    assert_eq!(document.packages.len(), 46);
    let yaml = find(&document, "pkg:pypi/pyyaml@");
    assert_eq!((yaml.name.as_str(), yaml.version.as_deref()), ("pyyaml", Some("6.0.4")));
    assert_eq!(normal_name("pypi", "Foo.Bar__baz"), "foo-bar-baz");
}

#[test]
fn syft_json_reads_artifacts_with_their_source_and_without_a_purl_by_name_and_type() {
    let body = br#"{"artifacts": [
        {"name": "liblzma5", "version": "5.6.1-1", "type": "deb",
         "purl": "pkg:deb/debian/liblzma5@5.6.1-1?arch=amd64&upstream=xz-utils&distro=debian-12",
         "metadata": {"package": "liblzma5", "source": "xz-utils"}},
        {"name": "requests", "version": "2.31.0", "type": "python", "purl": ""},
        {"name": "mystery", "type": "binary"},
        {"name": "bad", "version": "1", "purl": "not a purl"}],
        "source": {"type": "image"}, "descriptor": {"name": "syft"}}"#;
    let document = parse_sbom(body).unwrap();
    assert_eq!(document.format, SbomFormat::Syft);
    assert_eq!(document.packages[0].source.as_deref(), Some("xz-utils"));
    assert_eq!(document.packages[1].purl, "pkg:pypi/requests@2.31.0");
    assert_eq!(document.skipped_count, 2);
    assert_eq!(document.skipped[0].at, "artifacts[2]");
    assert!(document.skipped[0].reason.contains("no version"));
    assert!(document.skipped[1].reason.contains("does not parse"));
}

#[test]
fn trivys_cyclonedx_names_the_source_in_a_property_and_nested_components_are_read() {
    let body = br#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "operating-system", "name": "debian", "version": "12.5"},
        {"type": "library", "name": "liblzma5", "version": "5.6.1-1", "purl": "pkg:deb/debian/liblzma5@5.6.1-1?arch=amd64",
         "properties": [{"name": "aquasecurity:trivy:SrcName", "value": "xz-utils"}]},
        {"type": "application", "name": "app.jar", "components": [
            {"type": "library", "name": "log4j-core", "version": "2.14.1", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}]}]}"#;
    let document = parse_sbom(body).unwrap();
    let names: Vec<(&str, Option<&str>)> =
        document.packages.iter().map(|package| (package.name.as_str(), package.source.as_deref())).collect();
    assert_eq!(names, [("liblzma5", Some("xz-utils")), ("log4j-core", None)]);
    assert_eq!(document.packages[1].namespace.as_deref(), Some("org.apache.logging.log4j"));
    let skipped: Vec<&str> = document.skipped.iter().map(|skipped| skipped.at.as_str()).collect();
    assert_eq!(skipped, ["components[0]", "components[2]"], "the operating system, and a component without a version");
}

#[test]
fn bad_sboms_are_refused_naming_the_field() {
    let refused = |body: &[u8]| parse_sbom(body).unwrap_err();
    assert!(matches!(refused(b"not json"), SbomError::NotJson(_)));
    assert_eq!(refused(br#"{"matches": []}"#), SbomError::UnknownFormat);
    assert_eq!(refused(br#"{"bomFormat": "CycloneDX", "specVersion": "1.6"}"#).field(), "components");
    assert_eq!(
        refused(br#"{"bomFormat": "CycloneDX", "specVersion": "1.2", "components": []}"#).field(),
        "specVersion"
    );
    assert_eq!(refused(br#"{"spdxVersion": "SPDX-3.0", "packages": []}"#).field(), "spdxVersion");
    let many = format!(
        r#"{{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{}]}}"#,
        vec![r#"{"name":"a","version":"1"}"#; MAX_SBOM_PACKAGES + 1].join(",")
    );
    assert_eq!(refused(many.as_bytes()), SbomError::TooMany);
}

#[test]
fn a_query_narrows_by_what_it_names_and_refuses_a_range_of_another_ecosystem() {
    let params = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    };
    let package = from_purl("pkg:deb/debian/xz-utils@5.6.1-1?arch=amd64&distro=bookworm").unwrap();
    let query = |pairs| PackageQuery::from_params(params(pairs)).unwrap();
    assert!(query(&[("purl", "pkg:deb/debian/xz-utils")]).matches(&package));
    assert!(query(&[("purl", "pkg:deb/xz-utils")]).matches(&package), "a namespace narrows only when named");
    assert!(query(&[("purl", "pkg:deb/debian/xz-utils?arch=amd64")]).matches(&package));
    assert!(!query(&[("purl", "pkg:deb/debian/xz-utils?arch=arm64")]).matches(&package));
    assert!(!query(&[("purl", "pkg:deb/ubuntu/xz-utils")]).matches(&package));
    assert!(query(&[("purl", "pkg:deb/debian/xz-utils@5.6.1-1")]).matches(&package));
    assert!(!query(&[("purl", "pkg:deb/debian/xz-utils"), ("version", "5.6.0-1")]).matches(&package));
    assert!(query(&[("name", "XZ-Utils"), ("type", "dpkg")]).matches(&package));
    let error = |pairs| PackageQuery::from_params(params(pairs)).unwrap_err();
    assert_eq!(error(&[("purl", "pkg:deb/debian/xz-utils"), ("range", "vers:npm/>=1")]).field, "range");
    assert_eq!(error(&[("purl", "pkg:deb/debian/xz-utils"), ("range", "deb/>=1")]).field, "range");
    assert_eq!(error(&[("purl", "xz-utils")]).field, "purl");
    assert_eq!(error(&[("name", "xz-utils")]).field, "type");
    assert_eq!(error(&[]).field, "purl");
    let long = "1".repeat(crate::limits::MAX_FINDING_FIELD_BYTES + 1);
    assert_eq!(
        PackageQuery::from_params(|name| (name == "version")
            .then(|| long.clone())
            .or((name == "purl").then(|| "pkg:npm/a".to_owned())))
        .unwrap_err()
        .field,
        "version"
    );
}

#[test]
fn the_image_digests_a_document_names_are_its_image_not_its_config() {
    let manifest = format!("sha256:{}", "a".repeat(64));
    let repo = format!("registry.example.com/app@sha256:{}", "b".repeat(64));
    let config = format!("sha256:{}", "c".repeat(64));
    let syft = serde_json::json!({"artifacts": [], "source": {"type": "image", "metadata": {
        "imageID": config, "manifestDigest": manifest, "repoDigests": [repo]}}});
    let document = parse_sbom(syft.to_string().as_bytes()).unwrap();
    assert_eq!(document.digests, [manifest.clone(), format!("sha256:{}", "b".repeat(64))]);
    let cyclonedx = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [],
        "metadata": {"component": {"type": "container", "name": "app",
                                   "purl": format!("pkg:oci/app@sha256%3A{}", "d".repeat(64))}}});
    assert_eq!(parse_sbom(cyclonedx.to_string().as_bytes()).unwrap().digests, [format!("sha256:{}", "d".repeat(64))]);
    assert!(parse_sbom(&fixture("debian-bookworm-system.cdx.json")).unwrap().digests.is_empty(), "a system, no image");
}

use super::*;
use std::collections::BTreeSet;

const DIGEST: &str = "sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/scanners/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn ids(document: &ScanDocument) -> Vec<(&str, &str, Severity)> {
    document.findings.iter().map(|f| (f.vulnerability_id.as_str(), f.package.name.as_str(), f.severity)).collect()
}

#[test]
fn grype_json_is_read_with_its_digests() {
    let document = parse_findings(&fixture("grype.json")).unwrap();
    assert_eq!((document.format, document.scanner.as_str()), (Format::Grype, "grype"));
    assert_eq!(document.digests, vec![DIGEST.to_owned()]);
    assert_eq!(
        ids(&document),
        vec![("CVE-1999-0001", "package-1", Severity::Low), ("CVE-1999-0002", "package-2", Severity::Critical)]
    );
    let first = &document.findings[0];
    assert_eq!(first.fixed_in, vec!["1.2.1", "2.1.3", "3.4.0"]);
    assert_eq!(
        (first.cvss_score, first.package.version.as_str(), first.package.package_type.as_str()),
        (Some(8.2), "1.1.1", "rpm")
    );
    assert_eq!(document.by_severity(), SeverityCounts { critical: 1, low: 1, ..SeverityCounts::default() });
    assert_eq!(document.skipped_count, 0);
}

#[test]
fn trivy_json_is_read_across_its_results_without_descriptions() {
    let body = fixture("trivy.json");
    assert!(
        String::from_utf8_lossy(&body).contains("OpenSSL 1.1.1 introduced"),
        "the fixture keeps trivy's descriptions"
    );
    let document = parse_findings(&body).unwrap();
    assert_eq!((document.format, document.scanner.as_str()), (Format::Trivy, "trivy"));
    assert_eq!(document.digests, vec![DIGEST.to_owned()]);
    assert_eq!(
        ids(&document),
        vec![
            ("CVE-2019-1549", "libcrypto1.1", Severity::Medium),
            ("CVE-2019-1551", "libcrypto1.1", Severity::Medium),
            ("CVE-2019-1549", "libssl1.1", Severity::Medium),
            ("CVE-2019-1551", "libssl1.1", Severity::Medium),
            ("CVE-2024-24790", "stdlib", Severity::Critical),
        ]
    );
    let go = &document.findings[4];
    assert_eq!((go.package.package_type.as_str(), go.data_source.as_str()), ("gobinary", "govulndb"));
    assert_eq!((go.fixed_in.clone(), go.cvss_score), (vec!["1.21.11".to_owned(), "1.22.4".to_owned()], Some(9.8)));
    // The severity source's (nvd) v3 score, not redhat's.
    assert_eq!(document.findings[0].cvss_score, Some(5.3));
    assert_eq!(document.by_severity(), SeverityCounts { critical: 1, medium: 2, ..SeverityCounts::default() });
    let stored = serde_json::to_string(&document.findings).unwrap();
    assert!(!stored.contains("OpenSSL 1.1.1 introduced") && !stored.contains("https://"), "{stored}");
}

#[test]
fn cyclonedx_is_read_with_its_tool_as_scanner() {
    let document = parse_findings(&fixture("cyclonedx.json")).unwrap();
    assert_eq!((document.format, document.scanner.as_str()), (Format::CycloneDx, "grype"));
    assert_eq!(document.digests, vec![DIGEST.to_owned()]);
    assert_eq!(
        ids(&document),
        vec![
            ("CVE-2019-1549", "libcrypto1.1", Severity::Medium),
            ("CVE-2024-24790", "stdlib", Severity::Critical),
            ("GHSA-xxxx-info", "stdlib", Severity::Negligible),
        ]
    );
    let openssl = &document.findings[0];
    assert_eq!(
        (openssl.fixed_in.clone(), openssl.package.package_type.as_str()),
        (vec!["1.1.1d-r0".to_owned()], "apk")
    );
    assert_eq!(openssl.data_source, "alpine:distro:alpine:3.10");
}

#[test]
fn documents_of_no_accepted_format_name_the_formats() {
    for body in [r#"{"foo": 1}"#, "[1, 2]", r#"{"bomFormat": "SPDX"}"#] {
        let error = parse_findings(body.as_bytes()).unwrap_err();
        assert_eq!(error, FindingsError::UnknownFormat, "{body}");
        assert!(error.to_string().contains("grype JSON") && error.to_string().contains("CycloneDX 1.5+"));
    }
    assert!(matches!(parse_findings(b"not json"), Err(FindingsError::NotJson(_))));
    let old = r#"{"bomFormat": "CycloneDX", "specVersion": "1.4", "vulnerabilities": []}"#;
    assert_eq!(parse_findings(old.as_bytes()).unwrap_err().field(), "specVersion");
    let sbom = r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}"#;
    assert_eq!(parse_findings(sbom.as_bytes()).unwrap_err().field(), "vulnerabilities");
    let trivy_v1 = r#"{"SchemaVersion": 1, "Results": []}"#;
    assert_eq!(parse_findings(trivy_v1.as_bytes()).unwrap_err().field(), "SchemaVersion");
    let broken = r#"{"matches": [{"vulnerability": 3}]}"#;
    assert_eq!(parse_findings(broken.as_bytes()).unwrap_err().field(), "matches");
}

fn grype_match(id: &str, package: &str) -> serde_json::Value {
    serde_json::json!({"vulnerability": {"id": id, "severity": "High"}, "artifact": {"name": package, "version": "1"}})
}

#[test]
fn a_bad_finding_is_skipped_and_listed_not_the_document() {
    let long_id = "CVE-".to_owned() + &"9".repeat(200);
    let body = serde_json::json!({"matches": [
        grype_match("CVE-2024-1", "openssl"),
        {"vulnerability": {"severity": "High"}, "artifact": {"name": "zlib"}},
        grype_match(&long_id, "zlib"),
        grype_match("CVE-2024-2", ""),
        grype_match("CVE-2024-3", &"p".repeat(1000)),
    ]});
    let document = parse_findings(body.to_string().as_bytes()).unwrap();
    assert_eq!(document.findings.len(), 2);
    assert_eq!(document.findings[1].package.name.len(), crate::limits::MAX_FINDING_FIELD_BYTES);
    let skipped: Vec<&str> = document.skipped.iter().map(|s| s.at.as_str()).collect();
    assert_eq!(skipped, vec!["matches[1]", "matches[2]", "matches[3]"]);
    assert_eq!(document.skipped_count, 3);
    assert!(document.digests.is_empty());
}

#[test]
fn a_document_past_the_cap_is_refused_whole() {
    let matches: Vec<_> =
        (0..=MAX_FINDINGS_PER_DOCUMENT).map(|n| grype_match(&format!("CVE-2024-{n}"), "openssl")).collect();
    let body = serde_json::json!({ "matches": matches }).to_string();
    assert_eq!(parse_findings(body.as_bytes()).unwrap_err(), FindingsError::TooMany);
    let too_large = vec![b' '; MAX_FINDINGS_BODY_BYTES + 1];
    assert_eq!(parse_findings(&too_large).unwrap_err(), FindingsError::TooLarge(MAX_FINDINGS_BODY_BYTES + 1));
}

/// A trivy document of `count` empty findings, then one whose id is a number: read, it would
/// be refused as invalid, so `TooMany` shows that reading stopped before it.
fn trivy_of_empty_findings(count: usize) -> String {
    let mut body = String::with_capacity(3 * count + 100);
    body.push_str("{\"SchemaVersion\": 2, \"Results\": [{\"Vulnerabilities\": [");
    for _ in 0..count {
        body.push_str("{},");
    }
    body.push_str("{\"VulnerabilityID\": 7}]}]}");
    body
}

#[test]
fn a_document_of_millions_of_empty_findings_is_refused_at_the_bound_unread_past_it() {
    // What a 64 KiB gzip body inflates to: 20 million `{}`, 60 MB.
    let body = trivy_of_empty_findings(20_000_000);
    assert_eq!(parse_findings(body.as_bytes()).unwrap_err(), FindingsError::TooMany);
    let just_past = trivy_of_empty_findings(MAX_FINDINGS_PER_DOCUMENT + 1);
    assert_eq!(parse_findings(just_past.as_bytes()).unwrap_err(), FindingsError::TooMany);
    // Empty findings are skipped, and still count: a CycloneDX document of vulnerabilities that
    // affect nothing stops at the entries bound.
    let nothing = vec!["{}"; crate::limits::MAX_DOCUMENT_ENTRIES + 1].join(",");
    let bom =
        format!("{{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.6\", \"vulnerabilities\": [{nothing}, 7]}}");
    assert_eq!(parse_findings(bom.as_bytes()).unwrap_err(), FindingsError::TooManyEntries);
}

/// `count` distinct repo digests of one repository.
fn repo_digests(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("registry.example/app@sha256:{n:064x}")).collect()
}

#[test]
fn a_document_naming_more_digests_than_an_image_has_is_refused() {
    use crate::limits::MAX_DOCUMENT_DIGESTS;
    // The 5 MB trivy document of 70,000 digests that held a function for 41 s.
    let trivy = |digests: Vec<String>| {
        serde_json::json!({"SchemaVersion": 2, "Metadata": {"RepoDigests": digests}, "Results": []}).to_string()
    };
    let error = parse_findings(trivy(repo_digests(70_000)).as_bytes()).unwrap_err();
    assert_eq!(error.field(), "Metadata.RepoDigests", "{error}");
    let grype = serde_json::json!({"matches": [], "source": {"target": {"repoDigests": repo_digests(MAX_DOCUMENT_DIGESTS + 1)}}});
    assert_eq!(parse_findings(grype.to_string().as_bytes()).unwrap_err().field(), "source.target");
    let purls = repo_digests(MAX_DOCUMENT_DIGESTS + 1).join(" ").replace("sha256:", "sha256%3A");
    let bom = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [],
                                 "metadata": {"component": {"purl": purls}}});
    assert_eq!(parse_findings(bom.to_string().as_bytes()).unwrap_err().field(), "metadata.component");
    // The bound is on distinct digests: one named 70,000 times, and exactly the bound, are read.
    let repeated = vec![repo_digests(1)[0].clone(); 70_000];
    assert_eq!(parse_findings(trivy(repeated).as_bytes()).unwrap().digests, [format!("sha256:{:064x}", 0)]);
    let at_the_bound = parse_findings(trivy(repo_digests(MAX_DOCUMENT_DIGESTS)).as_bytes()).unwrap();
    assert_eq!(at_the_bound.digests.len(), MAX_DOCUMENT_DIGESTS);
}

#[test]
fn a_package_listed_twice_is_one_finding_with_the_higher_severity() {
    let mut low = grype_match("CVE-2024-1", "openssl");
    low["vulnerability"]["severity"] = "Low".into();
    low["vulnerability"]["fix"] = serde_json::json!({"versions": ["1.1"]});
    let mut high = grype_match("CVE-2024-1", "openssl");
    high["vulnerability"]["fix"] = serde_json::json!({"versions": ["1.2", "1.1"]});
    let body = serde_json::json!({ "matches": [low, high] }).to_string();
    let document = parse_findings(body.as_bytes()).unwrap();
    assert_eq!(ids(&document), vec![("CVE-2024-1", "openssl", Severity::High)]);
    assert_eq!(document.findings[0].fixed_in, vec!["1.1", "1.2"]);
}

#[test]
fn scanners_severity_words_are_normalised() {
    let cases = [
        ("Critical", Severity::Critical),
        ("CRITICAL", Severity::Critical),
        ("High", Severity::High),
        ("MEDIUM", Severity::Medium),
        ("moderate", Severity::Medium),
        ("Low", Severity::Low),
        ("Negligible", Severity::Negligible),
        ("info", Severity::Negligible),
        ("none", Severity::Negligible),
        ("UNKNOWN", Severity::Unknown),
        ("whatever", Severity::Unknown),
    ];
    for (word, severity) in cases {
        assert_eq!(Severity::from_scanner(word), severity, "{word}");
    }
    assert_eq!(Severity::parse("high"), Some(Severity::High));
    assert_eq!(Severity::parse("High"), None);
}

#[test]
fn scanners_findings_merge_into_one_entry_per_vulnerability_and_package() {
    let grype = parse_findings(&fixture("cyclonedx.json")).unwrap();
    let trivy = parse_findings(&fixture("trivy.json")).unwrap();
    let merged = merge([("grype", grype.findings.as_slice()), ("trivy", trivy.findings.as_slice())]);
    let first = &merged[0];
    assert_eq!((first.vulnerability_id.as_str(), first.severity), ("CVE-2024-24790", Severity::Critical));
    // grype names the Go stdlib's version `go1.22.1`, trivy `v1.22.1`: two packages, both listed.
    assert_eq!(merged.iter().filter(|m| m.vulnerability_id == "CVE-2024-24790").count(), 2);
    let openssl: Vec<&MergedFinding> =
        merged.iter().filter(|m| m.vulnerability_id == "CVE-2019-1549" && m.package.name == "libcrypto1.1").collect();
    assert_eq!(openssl.len(), 1);
    assert_eq!(openssl[0].sources, vec!["grype", "trivy"]);
    assert_eq!(openssl[0].fixed_in, vec!["1.1.1d-r0"]);
    let severities: Vec<Severity> = merged.iter().map(|m| m.severity).collect();
    assert!(severities.windows(2).all(|pair| pair[0] >= pair[1]), "highest first: {severities:?}");
}

#[test]
fn counts_are_per_vulnerability_at_its_highest_severity() {
    let counts = SeverityCounts::of([
        ("CVE-1", Severity::Low),
        ("CVE-1", Severity::High),
        ("CVE-2", Severity::Critical),
        ("CVE-3", Severity::Unknown),
    ]);
    assert_eq!(counts, SeverityCounts { critical: 1, high: 1, unknown: 1, ..SeverityCounts::default() });
    assert_eq!((counts.at_least(Severity::High), counts.at_least(Severity::Low)), (2, 2));
    assert_eq!(counts.at_least(Severity::Unknown), 3);
    assert_eq!(counts.highest(), Some(Severity::Critical));
    assert_eq!(SeverityCounts::default().highest(), None);
}

fn entries(pairs: &[(&str, Severity)]) -> BTreeMap<String, VulnerableImage> {
    let findings: Vec<Finding> = pairs
        .iter()
        .map(|(id, severity)| Finding {
            vulnerability_id: id.to_string(),
            severity: *severity,
            package: Package { name: "openssl".into(), version: "1".into(), package_type: "apk".into() },
            fixed_in: Vec::new(),
            cvss_score: None,
            data_source: String::new(),
        })
        .collect();
    merged_index("admin", DIGEST, [("grype", findings.as_slice())]).1
}

#[test]
fn a_post_writes_only_the_index_entries_that_change() {
    let before = entries(&[("CVE-A", Severity::High), ("CVE-B", Severity::Low)]);
    let after = entries(&[("CVE-A", Severity::High), ("CVE-C", Severity::Critical)]);
    let change = plan_index(&before, &BTreeSet::new(), &after);
    let puts: Vec<&str> = change.puts.iter().map(|entry| entry.vulnerability_id.as_str()).collect();
    assert_eq!((puts, change.deletes.clone()), (vec!["CVE-C"], vec!["CVE-B".to_owned()]));
    assert_eq!((change.severity, change.severity_leaves), (Some(Severity::Critical), vec![Severity::High]));
    assert_eq!(change.puts[0].pk, "admin#vuln#CVE-C");
    assert_eq!(plan_index(&after, &BTreeSet::new(), &after), IndexChange::default());
}

#[test]
fn after_a_failed_post_every_entry_is_rewritten_and_every_stray_one_goes() {
    let before = entries(&[("CVE-A", Severity::High), ("CVE-B", Severity::Low)]);
    let after = entries(&[("CVE-A", Severity::High)]);
    let uncertain: BTreeSet<String> = ["CVE-D".to_owned(), "CVE-A".to_owned()].into();
    let change = plan_index(&before, &uncertain, &after);
    assert_eq!(change.puts.len(), 1, "CVE-A is rewritten although unchanged");
    assert_eq!(change.deletes, vec!["CVE-B".to_owned(), "CVE-D".to_owned()]);
    assert_eq!(change.severity, Some(Severity::High));
    assert_eq!(change.severity_leaves.len(), Severity::ALL.len() - 1);
    assert!(!change.severity_leaves.contains(&Severity::High));
}

#[test]
fn findings_are_stored_in_bounded_chunks_and_read_back_whole() {
    let one = parse_findings(&fixture("trivy.json")).unwrap().findings;
    let many: Vec<Finding> = (0..5000)
        .map(|n| Finding { vulnerability_id: format!("CVE-2024-{n}"), ..one[n % one.len()].clone() })
        .collect();
    let chunks = chunk_findings(&many);
    assert!(chunks.len() > 1);
    assert!(chunks.iter().all(|chunk| chunk.len() <= crate::limits::FINDINGS_CHUNK_BYTES));
    assert_eq!(unchunk_findings(&chunks).unwrap(), many);
    assert_eq!(unchunk_findings(&chunk_findings(&[])).unwrap(), Vec::<Finding>::new());
    assert_ne!(findings_hash(&chunks), findings_hash(&chunk_findings(&many[1..])));
}

#[test]
fn a_reason_does_not_repeat_its_field() {
    let broken = parse_findings(br#"{"matches": 3}"#).unwrap_err();
    assert_eq!(broken.field(), "matches");
    assert!(!broken.reason().starts_with("matches:"), "{}", broken.reason());
    assert_eq!(FindingsError::UnknownFormat.reason(), FindingsError::UnknownFormat.to_string());
}

#[test]
fn a_posted_document_may_not_take_the_name_of_the_findings_synced_from_aws() {
    for tool in ["Inspector", "ECR", " inspector "] {
        let bom = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [],
                                     "metadata": {"tools": {"components": [{"name": tool}]}}});
        let error = parse_findings(bom.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.field(), "metadata.tools", "{tool}: {error}");
    }
    let bom = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [],
                                 "metadata": {"tools": {"components": [{"name": "Amazon Inspector SBOM"}]}}});
    assert_eq!(parse_findings(bom.to_string().as_bytes()).unwrap().scanner, "amazon inspector sbom");
}

#[test]
fn an_index_entry_lists_a_bounded_number_of_packages_and_counts_the_rest() {
    use crate::limits::MAX_LISTED_PACKAGES;
    let matches: Vec<_> =
        (0..MAX_LISTED_PACKAGES + 5).map(|n| grype_match("CVE-2024-1", &format!("package-{n}"))).collect();
    let document = parse_findings(serde_json::json!({ "matches": matches }).to_string().as_bytes()).unwrap();
    let merged = merge([("grype", document.findings.as_slice())]);
    let entries = index_entries("admin", DIGEST, &merged);
    let entry = &entries["CVE-2024-1"];
    assert_eq!((entry.packages.len(), entry.package_count), (MAX_LISTED_PACKAGES, Some(MAX_LISTED_PACKAGES + 5)));
    let one = index_entries("admin", DIGEST, &merged[..1]);
    assert_eq!((one["CVE-2024-1"].packages.len(), one["CVE-2024-1"].package_count), (1, None));
}

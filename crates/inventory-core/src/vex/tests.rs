use super::*;
use crate::findings::AffectedPackage;
use crate::limits::MAX_VEX_STATEMENTS;
use chrono::TimeZone;

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const OTHER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

fn field(error: VexError) -> String {
    error.field().to_owned()
}

fn anchore(body: serde_json::Value, image: Option<&str>) -> Result<Statement, VexError> {
    let digest = image.map(|digest| Digest::parse(digest).unwrap());
    parse_anchore(body.to_string().as_bytes(), digest.as_ref(), now())
}

fn document(body: serde_json::Value) -> Result<ParsedVex, VexError> {
    parse_document(body.to_string().as_bytes(), Expiry::default(), now())
}

fn package(name: &str, version: &str, package_type: &str, fixed_in: &[&str]) -> AffectedPackage {
    AffectedPackage {
        package: Package { name: name.into(), version: version.into(), package_type: package_type.into() },
        fixed_in: fixed_in.iter().map(|version| version.to_string()).collect(),
    }
}

fn annotation(uuid: &str, statement: Statement, minutes: i64) -> Annotation {
    Annotation::new(
        uuid.into(),
        statement,
        "alice",
        now() + chrono::TimeDelta::minutes(minutes),
        AnnotationState::Active,
    )
}

#[test]
fn anchores_body_needs_its_required_fields_and_enums_and_names_the_one_missing() {
    let cases = [
        (serde_json::json!({}), "annotation"),
        (serde_json::json!({"annotation": {"status": "fixed"}}), "annotation.vulnerability_id"),
        (serde_json::json!({"annotation": {"vulnerability_id": "CVE-2021-44228"}}), "annotation.status"),
        (
            serde_json::json!({"annotation": {"vulnerability_id": "CVE-2021-44228", "status": "wontfix"}}),
            "annotation.status",
        ),
        (
            serde_json::json!({"annotation": {"vulnerability_id": "CVE-2021-44228", "status": "not_affected", "justification": "because"}}),
            "annotation.justification",
        ),
        (
            serde_json::json!({"annotation": {"vulnerability_id": "A#B", "status": "fixed"}}),
            "annotation.vulnerability_id",
        ),
        (
            serde_json::json!({"annotation": {"vulnerability_id": "CVE-1", "status": "fixed"}, "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            serde_json::json!({"annotation": {"vulnerability_id": "CVE-1", "status": "fixed"}, "package_identifier": {"name": ""}}),
            "package_identifier.name",
        ),
    ];
    for (body, named) in cases {
        assert_eq!(field(anchore(body.clone(), Some(DIGEST)).unwrap_err()), named, "{body}");
    }
    let long = "x".repeat(MAX_VEX_TEXT_BYTES + 1);
    let error = anchore(
        serde_json::json!({"annotation": {"vulnerability_id": "CVE-1", "status": "affected", "status_notes": long}}),
        Some(DIGEST),
    )
    .unwrap_err();
    assert!(error.is_too_large() && error.field() == "annotation.status_notes");
}

#[test]
fn an_image_route_scopes_to_its_digest_and_the_vex_route_needs_a_scope() {
    let body = serde_json::json!({
        "annotation": {"vulnerability_id": "CVE-2021-44228", "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
        "package_identifier": {"name": "log4j-core", "version": "2.14.1", "type": "java-archive"},
        "expires_at": "2027-01-01T00:00:00Z",
        "expires_when_fixed": true,
    });
    let statement = anchore(body.clone(), Some(DIGEST)).unwrap();
    assert_eq!(statement.scope, Scope::Image(DIGEST.into()));
    assert_eq!(statement.package.as_ref().unwrap().name, "log4j-core");
    assert!(statement.expires_when_fixed && statement.expires_at.is_some());
    assert_eq!(field(anchore(body.clone(), None).unwrap_err()), "scope");
    let mut scoped = body.clone();
    scoped["scope"] = serde_json::json!({"context": "dev-*/*"});
    assert_eq!(field(anchore(scoped.clone(), Some(DIGEST)).unwrap_err()), "scope");
    assert_eq!(anchore(scoped, None).unwrap().scope, Scope::Context("dev-*/*".into()));
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"repository": "a", "context": "b"}),
        serde_json::json!({"cluster": "x"}),
    ] {
        let mut body = body.clone();
        body["scope"] = bad;
        assert_eq!(field(anchore(body, None).unwrap_err()), "scope");
    }
}

#[test]
fn openvex_0_2_0_statements_become_one_per_product_and_subcomponent() {
    let parsed = document(serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "author": "Example",
        "timestamp": "2026-12-01T00:00:00Z",
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": "CVE-2023-1"},
                "products": [
                    {"@id": format!("pkg:oci/app@{}?repository_url=registry.example.com/team/app", DIGEST.replace(':', "%3A")),
                     "subcomponents": [{"@id": "pkg:deb/debian/openssl@3.0.11"}, {"@id": "pkg:npm/%40angular/core@16.0.0"}]},
                    {"@id": "pkg:oci/app?repository_url=registry.example.com/team/app"},
                    {"identifiers": {"purl": "pkg:pypi/requests@2.31.0"}},
                    {"@id": "cpe:/a:example:thing"}
                ],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path"
            },
            {"vulnerability": {"name": "CVE-2023-2"}, "status": "under_investigation", "products": []}
        ]
    }))
    .unwrap();
    let scopes: Vec<(Scope, Option<String>)> = parsed
        .statements
        .iter()
        .map(|statement| (statement.scope.clone(), statement.package.as_ref().map(|package| package.name.clone())))
        .collect();
    assert_eq!(
        scopes,
        [
            (Scope::Image(DIGEST.into()), Some("openssl".into())),
            (Scope::Image(DIGEST.into()), Some("@angular/core".into())),
            (Scope::Repository("registry.example.com/team/app".into()), None),
            (Scope::Account, Some("requests".into())),
        ]
    );
    assert!(parsed.statements.iter().all(|statement| statement.source.as_deref() == Some("https://example.com/vex/1")));
    let skipped: Vec<&str> = parsed.skipped.iter().map(|skipped| skipped.at.as_str()).collect();
    assert_eq!(skipped, ["statements[0].products[3]", "statements[1]"]);
}

#[test]
fn openvex_0_0_x_strings_are_read_too() {
    let parsed = document(serde_json::json!({
        "@context": "https://openvex.dev/ns",
        "@id": "https://example.com/old",
        "statements": [{
            "vulnerability": "CVE-2022-3",
            "products": [format!("pkg:oci/app@{DIGEST}")],
            "subcomponents": ["pkg:golang/github.com/example/mod@v1.2.3"],
            "status": "fixed"
        }]
    }))
    .unwrap();
    assert_eq!(parsed.statements.len(), 1);
    let statement = &parsed.statements[0];
    assert_eq!((statement.vulnerability_id.as_str(), statement.status), ("CVE-2022-3", VexStatus::Fixed));
    assert_eq!(statement.package.as_ref().unwrap().name, "github.com/example/mod");
}

#[test]
fn openvex_rules_refuse_the_whole_document_naming_the_statement() {
    let doc = |statement: serde_json::Value| serde_json::json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "statements": [{"vulnerability": {"name": "CVE-1"}, "products": ["pkg:npm/a@1"], "status": "fixed"}, statement]});
    let cases = [
        (
            serde_json::json!({"vulnerability": {"name": "CVE-1"}, "status": "not_affected"}),
            "statements[1].justification",
        ),
        (
            serde_json::json!({"vulnerability": {"name": "CVE-1"}, "status": "affected"}),
            "statements[1].action_statement",
        ),
        (serde_json::json!({"vulnerability": {"name": "CVE-1"}, "status": "maybe"}), "statements[1].status"),
        (serde_json::json!({"vulnerability": {"name": "CVE-1"}}), "statements[1].status"),
        (serde_json::json!({"status": "fixed"}), "statements[1].vulnerability"),
        (
            serde_json::json!({"vulnerability": {"name": "CVE-1"}, "status": "not_affected", "justification": "fix_not_planned"}),
            "statements[1].justification",
        ),
    ];
    for (statement, named) in cases {
        assert_eq!(field(document(doc(statement.clone())).unwrap_err()), named, "{statement}");
    }
    let impact = serde_json::json!({"vulnerability": {"name": "CVE-1"}, "status": "not_affected", "impact_statement": "not loaded"});
    assert!(document(doc(impact)).is_ok());
}

#[test]
fn a_document_past_the_statement_bound_stops_there() {
    let statement = serde_json::json!({"vulnerability": "CVE-1", "products": ["pkg:npm/a@1"], "status": "fixed"});
    let statements = vec![statement; MAX_VEX_STATEMENTS + 1];
    let error = document(serde_json::json!({"@context": "https://openvex.dev/ns/v0.2.0", "statements": statements}))
        .unwrap_err();
    assert!(error.is_too_large() && error.field() == "statements", "{error}");
    assert!(matches!(
        parse_document(&vec![b' '; MAX_VEX_BODY_BYTES + 1], Expiry::default(), now()),
        Err(VexError::TooLarge(_))
    ));
    assert!(matches!(document(serde_json::json!({"statements": []})), Err(VexError::UnknownFormat)));
}

#[test]
fn cyclonedx_analyses_of_an_images_packages_are_statements_about_that_image() {
    let parsed = document(serde_json::json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "metadata": {"component": {"type": "container", "bom-ref": "img", "name": "app", "purl": format!("pkg:oci/app@{DIGEST}")}},
        "components": [{"type": "library", "bom-ref": "lib-1", "name": "openssl", "purl": "pkg:deb/debian/openssl@3.0.11"}],
        "vulnerabilities": [
            {"id": "CVE-2023-1", "analysis": {"state": "not_affected", "justification": "code_not_reachable", "detail": "not called"},
             "affects": [{"ref": "lib-1"}, {"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#img"}, {"ref": "nowhere"}]},
            {"id": "CVE-2023-2", "affects": [{"ref": "lib-1"}]},
            {"id": "CVE-2023-3", "analysis": {"state": "resolved"}, "affects": [{"ref": "pkg:npm/left-pad@1.0.0"}]}
        ]
    }))
    .unwrap();
    let got: Vec<(&str, VexStatus, Scope, Option<&str>)> = parsed
        .statements
        .iter()
        .map(|statement| {
            (
                statement.vulnerability_id.as_str(),
                statement.status,
                statement.scope.clone(),
                statement.package.as_ref().map(|package| package.name.as_str()),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("CVE-2023-1", VexStatus::NotAffected, Scope::Image(DIGEST.into()), Some("openssl")),
            ("CVE-2023-1", VexStatus::NotAffected, Scope::Image(DIGEST.into()), None),
            ("CVE-2023-3", VexStatus::Fixed, Scope::Image(DIGEST.into()), Some("left-pad")),
        ]
    );
    assert_eq!(parsed.statements[0].justification, Some(Justification::VulnerableCodeNotInExecutePath));
    assert_eq!(parsed.statements[0].impact_statement.as_deref(), Some("not called"));
    let skipped: Vec<&str> = parsed.skipped.iter().map(|skipped| skipped.at.as_str()).collect();
    assert_eq!(skipped, ["vulnerabilities[0].affects[2]", "vulnerabilities[1]"]);
    let old = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.3", "vulnerabilities": []});
    assert_eq!(field(document(old).unwrap_err()), "specVersion");
    let bad_state = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "wontfix"}}]});
    assert_eq!(field(document(bad_state).unwrap_err()), "vulnerabilities[0].analysis.state");
}

fn statement(status: VexStatus, scope: Scope, package: Option<(&str, Option<&str>)>) -> Statement {
    Statement {
        vulnerability_id: "CVE-1".into(),
        status,
        justification: None,
        status_notes: None,
        impact_statement: None,
        action_statement: None,
        additional_details: None,
        package: package.map(|(name, version)| PackageIdentifier {
            name: name.into(),
            version: version.map(str::to_owned),
            package_type: None,
        }),
        scope,
        expires_at: None,
        expires_when_fixed: false,
        source: None,
    }
}

#[test]
fn the_narrowest_statement_covering_a_finding_decides() {
    let repositories = vec!["registry.example.com/team/app".to_owned()];
    let subject = Subject { image_digest: DIGEST, repositories: &repositories, context: Some("dev-east/payments") };
    let openssl = [package("openssl", "3.0.11", "deb", &[])];
    let verdict = |annotations: &[Annotation], packages: &[AffectedPackage], complete: bool| {
        Rules::from_annotations(annotations, now()).verdict("CVE-1", &subject, packages, complete, now())
    };
    let account = annotation("a", statement(VexStatus::NotAffected, Scope::Account, None), 0);
    let image = annotation("b", statement(VexStatus::Affected, Scope::Image(DIGEST.into()), None), -10);
    let got = verdict(&[account.clone(), image.clone()], &openssl, true).unwrap();
    assert_eq!((got.uuid.as_str(), got.status, got.suppressed), ("b", VexStatus::Affected, false));
    let got = verdict(std::slice::from_ref(&account), &openssl, true).unwrap();
    assert_eq!((got.uuid.as_str(), got.suppressed), ("a", true));
    // Other images, repositories and contexts.
    let other_image = annotation("c", statement(VexStatus::Fixed, Scope::Image(OTHER.into()), None), 0);
    assert_eq!(verdict(std::slice::from_ref(&other_image), &openssl, true), None);
    for (scope, covers) in [
        (Scope::Repository("registry.example.com/team/app".into()), true),
        (Scope::Repository("team/app".into()), true),
        (Scope::Repository("m/app".into()), false),
        (Scope::Context("dev-*/*".into()), true),
        (Scope::Context("dev-*".into()), false),
        (Scope::Context("prod-*/*".into()), false),
    ] {
        let found =
            verdict(&[annotation("d", statement(VexStatus::NotAffected, scope.clone(), None), 0)], &openssl, true);
        assert_eq!(found.is_some(), covers, "{scope:?}");
    }
}

#[test]
fn a_package_statement_suppresses_only_when_every_package_carrying_it_is_covered() {
    let repositories = Vec::new();
    let subject = Subject { image_digest: DIGEST, repositories: &repositories, context: None };
    let rules = Rules::from_annotations(
        &[annotation(
            "p",
            statement(VexStatus::NotAffected, Scope::Image(DIGEST.into()), Some(("openssl", Some("3.0.11")))),
            0,
        )],
        now(),
    );
    let one = [package("openssl", "3.0.11", "debian", &[])];
    let two = [package("openssl", "3.0.11", "deb", &[]), package("libssl3", "3.0.11", "deb", &[])];
    let other_version = [package("openssl", "3.0.12", "deb", &[])];
    assert!(rules.verdict("CVE-1", &subject, &one, true, now()).unwrap().suppressed);
    assert!(!rules.verdict("CVE-1", &subject, &one, false, now()).unwrap().suppressed, "a package not listed");
    assert!(!rules.verdict("CVE-1", &subject, &two, true, now()).unwrap().suppressed);
    assert_eq!(rules.verdict("CVE-1", &subject, &other_version, true, now()), None);
    assert_eq!(rules.verdict("CVE-2", &subject, &one, true, now()), None);
    // Scanners' names for a type: the same ecosystem matches, another does not.
    let typed = PackageIdentifier { name: "requests".into(), version: None, package_type: Some("pypi".into()) };
    assert!(typed.covers(&package("requests", "2.31.0", "python-pkg", &[]).package));
    assert!(!typed.covers(&package("requests", "2.31.0", "npm", &[]).package));
}

#[test]
fn statements_lapse_at_their_expiry_and_once_a_fix_appears() {
    let repositories = Vec::new();
    let subject = Subject { image_digest: DIGEST, repositories: &repositories, context: None };
    let mut expiring = statement(VexStatus::NotAffected, Scope::Account, None);
    expiring.expires_at = Some(now() + chrono::TimeDelta::minutes(1));
    let rules = Rules::from_annotations(&[annotation("e", expiring, 0)], now());
    let unfixed = [package("openssl", "3.0.11", "deb", &[])];
    assert!(rules.verdict("CVE-1", &subject, &unfixed, true, now()).unwrap().suppressed);
    assert_eq!(rules.verdict("CVE-1", &subject, &unfixed, true, now() + chrono::TimeDelta::minutes(2)), None);
    let mut until_fixed = statement(VexStatus::NotAffected, Scope::Account, None);
    until_fixed.expires_when_fixed = true;
    let rules = Rules::from_annotations(&[annotation("f", until_fixed, 0)], now());
    assert!(rules.verdict("CVE-1", &subject, &unfixed, true, now()).unwrap().suppressed);
    let fixed = [package("openssl", "3.0.11", "deb", &["3.0.13"])];
    assert_eq!(rules.verdict("CVE-1", &subject, &fixed, true, now()), None);
    // Pending and lapsed annotations are not rules at all.
    let mut pending = annotation("g", statement(VexStatus::NotAffected, Scope::Account, None), 0);
    pending.state = AnnotationState::Pending;
    assert!(Rules::from_annotations(&[pending], now()).is_empty());
}

#[test]
fn context_patterns_match_part_by_part() {
    for (pattern, context, matches) in [
        ("dev-*/*", "dev-east/payments", true),
        ("dev-*/*", "prod-east/payments", false),
        ("dev-*/*", "dev-east", false),
        ("*/kube-system", "any/kube-system", true),
        ("prod/pay*ts", "prod/payments", true),
        ("prod/pay*ts", "prod/paytsx", false),
        ("prod/a*b*c", "prod/abc", true),
        ("prod/a*b*c", "prod/acb", false),
        ("exact/name", "exact/name", true),
    ] {
        assert_eq!(context_matches(pattern, context), matches, "{pattern} {context}");
    }
}

#[test]
fn the_exports_read_back_as_the_same_statements() {
    let repository = "registry.example.com/team/app";
    let mut with_package =
        statement(VexStatus::NotAffected, Scope::Image(DIGEST.into()), Some(("openssl", Some("3.0.11"))));
    with_package.justification = Some(Justification::VulnerableCodeNotInExecutePath);
    with_package.package.as_mut().unwrap().package_type = Some("deb".into());
    let mut npm = statement(VexStatus::Fixed, Scope::Image(DIGEST.into()), Some(("@angular/core", Some("16.0.0"))));
    npm.package.as_mut().unwrap().package_type = Some("npm".into());
    let whole = statement(VexStatus::Affected, Scope::Image(DIGEST.into()), None);
    let mut no_reason = statement(VexStatus::NotAffected, Scope::Image(DIGEST.into()), None);
    no_reason.justification = Some(Justification::FixNotPlanned);
    let annotations: Vec<Annotation> = [with_package, npm, whole, no_reason]
        .into_iter()
        .enumerate()
        .map(|(n, statement)| annotation(&format!("u{n}"), statement, 0))
        .collect();
    type Essence = (String, VexStatus, Scope, Option<(String, Option<String>)>);
    let essence = |statements: &[Statement]| -> Vec<Essence> {
        statements
            .iter()
            .map(|statement| {
                let package = statement.package.as_ref().map(|package| (package.name.clone(), package.version.clone()));
                (statement.vulnerability_id.clone(), statement.status, statement.scope.clone(), package)
            })
            .collect()
    };
    let original: Vec<Statement> = annotations.iter().map(|annotation| annotation.statement.clone()).collect();
    let openvex = openvex_export("urn:uuid:1", "Runtime Inventory", (DIGEST, Some(repository)), &annotations, now());
    std::fs::write("/tmp/openvex.json", openvex.to_string()).unwrap();
    let back = document(openvex).unwrap();
    assert!(back.skipped.is_empty(), "{:?}", back.skipped);
    assert_eq!(essence(&back.statements), essence(&original));
    let cyclonedx = cyclonedx_export(
        "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        (DIGEST, Some(repository)),
        &annotations,
        now(),
    );
    std::fs::write("/tmp/cdx.json", cyclonedx.to_string()).unwrap();
    let back = document(cyclonedx).unwrap();
    assert!(back.skipped.is_empty(), "{:?}", back.skipped);
    assert_eq!(essence(&back.statements), essence(&original));
}

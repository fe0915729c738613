//! VEX annotations against moto: Anchore's per-image routes, documents on `/v2/vex`, the exports
//! against the published schemas, approval, the audit trail, tenants, and the rules reads use.

use integration_tests::{caller_event, digest, Harness, Response};
use inventory_store::auth::{Caller, Role};
use inventory_store::http::ApiFunction;
use inventory_store::vex::RulesReader;
use inventory_store::Clock;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

fn annotations_path(image: &str) -> String {
    format!("/v2/images/{image}/vuln-annotations")
}

fn uuid_of(annotation: &Value) -> String {
    annotation["annotation"]["uuid"].as_str().expect("an annotation uuid").to_owned()
}

async fn post(harness: &Harness, path: &str, body: &Value) -> Response {
    harness.request("POST", path, Some(&body.to_string()), &[]).await
}

fn log4j_not_affected() -> Value {
    json!({
        "annotation": {
            "vulnerability_id": "CVE-2021-44228",
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
            "status_notes": "JndiLookup removed from the jar"
        },
        "package_identifier": {"name": "log4j-core", "version": "2.14.1", "type": "java-archive"}
    })
}

/// Validates `document` with the published schema of `kind`, by the Python of the tools' venv.
fn schema_violations(kind: &str, document: &Value) -> String {
    let root = local_stack::moto::workspace_root();
    let python = local_stack::moto::moto_binary().with_file_name("python3");
    let file = std::env::temp_dir().join(format!("vex-{}-{}.json", std::process::id(), fastrand_name()));
    std::fs::write(&file, document.to_string()).unwrap();
    let output = std::process::Command::new(&python)
        .arg(root.join("tests/fixtures/vex/validate.py"))
        .arg(root.join("tests/fixtures/vex/schemas"))
        .arg(kind)
        .arg(&file)
        .output()
        .unwrap_or_else(|error| panic!("{}: {error} (run `make test` to install the tools)", python.display()));
    std::fs::remove_file(&file).ok();
    assert!(output.status.code().is_some(), "the validator ran: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn fastrand_name() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

#[tokio::test]
async fn anchores_annotation_routes_create_list_filter_update_and_delete() {
    let harness = Harness::new(120, false).await;
    let image = digest(1);
    let created = post(&harness, &annotations_path(&image), &log4j_not_affected()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let uuid = uuid_of(&created.body);
    assert_eq!(created.body["annotation"]["author"], "test-admin");
    assert_eq!(created.body["annotation"]["version"], 1);
    assert_eq!(created.body["package_identifier"]["name"], "log4j-core");
    let other = json!({"annotation": {"vulnerability_id": "CVE-2023-0001", "status": "under_investigation"}, "package_identifier": null});
    assert_eq!(post(&harness, &annotations_path(&image), &other).await.status, StatusCode::CREATED);

    let list = |query: Vec<(&'static str, &'static str)>| {
        let path = annotations_path(&image);
        let harness = &harness;
        async move {
            let response = harness.request("GET", &path, None, &query).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.body);
            let mut ids: Vec<String> = response.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["annotation"]["vulnerability_id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(list(vec![]).await, ["CVE-2021-44228", "CVE-2023-0001"]);
    assert_eq!(list(vec![("vulnerability_id", "CVE-2023-0001")]).await, ["CVE-2023-0001"]);
    assert_eq!(list(vec![("package_name", "log4j-core"), ("package_version", "2.14.1")]).await, ["CVE-2021-44228"]);
    assert_eq!(list(vec![("package_type", "npm")]).await, Vec::<String>::new());
    // Another image's path does not list, read, change or delete them.
    let elsewhere = format!("{}/{uuid}", annotations_path(&digest(2)));
    assert_eq!(harness.request("GET", &elsewhere, None, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(harness.request("DELETE", &elsewhere, None, &[]).await.status, StatusCode::NOT_FOUND);

    let one = format!("{}/{uuid}", annotations_path(&image));
    let mut changed = log4j_not_affected();
    changed["annotation"]["status"] = json!("affected");
    changed["annotation"]["action_statement"] = json!("upgrade to 2.17.1");
    let updated = harness.request("PUT", &one, Some(&changed.to_string()), &[]).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(
        (updated.body["annotation"]["version"].clone(), updated.body["annotation"]["status"].clone()),
        (json!(2), json!("affected"))
    );
    assert_eq!(harness.request("GET", &one, None, &[]).await.body["annotation"]["status"], "affected");

    assert_eq!(harness.request("DELETE", &one, None, &[]).await.status, StatusCode::NO_CONTENT);
    assert_eq!(harness.request("GET", &one, None, &[]).await.status, StatusCode::NOT_FOUND);
    let audit = harness.request("GET", &format!("/v2/vex/{uuid}/audit"), None, &[]).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|entry| entry["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "updated", "deleted"]);
    let update = &audit.body["items"][1];
    assert_eq!(update["by"], "test-admin");
    assert_eq!(update["changes"]["status"], json!({"from": "not_affected", "to": "affected"}));
}

#[tokio::test]
async fn bad_bodies_are_refused_naming_the_field_and_store_nothing() {
    let harness = Harness::new(120, false).await;
    let image = digest(1);
    let openvex =
        |statement: Value| json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "statements": [statement]});
    let cases = [
        (
            "/v2/vex",
            openvex(json!({"vulnerability": {"name": "CVE-1"}, "products": ["pkg:npm/a@1"], "status": "not_affected"})),
            "statements[0].justification",
        ),
        (
            "/v2/vex",
            openvex(json!({"vulnerability": {"name": "CVE-1"}, "products": ["pkg:npm/a@1"], "status": "wontfix"})),
            "statements[0].status",
        ),
        ("/v2/vex", json!({"annotation": {"vulnerability_id": "CVE-1", "status": "fixed"}}), "scope"),
        ("/v2/vex", json!({"hello": "world"}), "body"),
        (
            &annotations_path(&image),
            json!({"annotation": {"vulnerability_id": "CVE-1", "status": "bogus"}}),
            "annotation.status",
        ),
        (&annotations_path(&image), json!({"annotation": {"status": "fixed"}}), "annotation.vulnerability_id"),
        (&annotations_path("sha256:nothex"), log4j_not_affected(), "image_digest"),
    ];
    for (path, body, field) in cases {
        let response = post(&harness, path, &body).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}: {}", response.body);
        assert!(response.body["message"].as_str().unwrap().contains(field), "{field}: {}", response.body);
    }
    let broken = harness.request("POST", "/v2/vex", Some("{not json"), &[]).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert_eq!(harness.request("GET", "/v2/vex", None, &[]).await.body["items"], json!([]));
}

#[tokio::test]
async fn an_openvex_document_is_stored_by_scope_and_its_export_validates_and_reads_back_the_same() {
    let harness = Harness::new(120, false).await;
    let image = digest(1);
    let product = format!("pkg:oci/app@{}?repository_url=registry.example.com/team/app", image.replace(':', "%3A"));
    let document = json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://vendor.example.com/vex/2026-12-01",
        "author": "Vendor security team",
        "timestamp": "2026-12-01T00:00:00Z",
        "version": 1,
        "statements": [
            {"vulnerability": {"name": "CVE-2023-44487"}, "products": [{"@id": product, "subcomponents": [{"@id": "pkg:golang/golang.org/x/net@v0.7.0"}]}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
            {"vulnerability": {"name": "CVE-2024-0001"}, "products": [{"@id": product}], "status": "fixed"},
            {"vulnerability": {"name": "CVE-2024-0002"}, "products": [{"@id": "pkg:oci/app?repository_url=registry.example.com/team/app"}],
             "status": "affected", "action_statement": "upgrade the base image"},
            {"vulnerability": {"name": "CVE-2024-0003"}, "products": [{"@id": "cpe:/a:vendor:app"}], "status": "fixed"}
        ]
    });
    let posted = post(&harness, "/v2/vex", &document).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    assert_eq!(posted.body["format"], "openvex");
    assert_eq!(posted.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        posted.body["skipped"],
        json!([{"at": "statements[3].products[0]", "reason": posted.body["skipped"][0]["reason"]}])
    );
    let scopes: Vec<Value> =
        posted.body["items"].as_array().unwrap().iter().map(|item| item["scope"].clone()).collect();
    assert_eq!(
        scopes,
        [
            json!({"image_digest": image}),
            json!({"image_digest": image}),
            json!({"repository": "registry.example.com/team/app"})
        ]
    );
    // The image's own annotations, through Anchore's route.
    let listed = harness.request("GET", &annotations_path(&image), None, &[]).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);

    let openvex = harness.request("GET", &format!("/v2/images/{image}/vex/openvex"), None, &[]).await;
    assert_eq!(openvex.status, StatusCode::OK, "{}", openvex.body);
    assert_eq!(schema_violations("openvex", &openvex.body), "", "{}", openvex.body);
    let cyclonedx = harness.request("GET", &format!("/v2/images/{image}/vex/cyclonedx-json"), None, &[]).await;
    assert_eq!(cyclonedx.status, StatusCode::OK, "{}", cyclonedx.body);
    assert_eq!(schema_violations("cyclonedx", &cyclonedx.body), "", "{}", cyclonedx.body);
    // The validator does refuse what breaks the schema.
    let mut broken = openvex.body.clone();
    broken.as_object_mut().unwrap().remove("author");
    assert!(schema_violations("openvex", &broken).contains("author"));

    // Either export, posted to another account, makes the same statements about the image.
    let essence = |items: &Value| {
        let mut found: Vec<(String, String, Value, Value)> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let annotation = &item["annotation"];
                let package = &item["package_identifier"];
                (
                    annotation["vulnerability_id"].as_str().unwrap().to_owned(),
                    annotation["status"].as_str().unwrap().to_owned(),
                    item["scope"].clone(),
                    json!([package["name"], package["version"]]),
                )
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    };
    let original = essence(&listed.body["items"]);
    for export in [&openvex.body, &cyclonedx.body] {
        let team_b = Caller { user: "b-admin".into(), account: "team-b".into(), role: Role::Admin };
        let reposted = harness.send(caller_event(&team_b, "POST", "/v2/vex", Some(&export.to_string()), &[])).await;
        assert_eq!(reposted.status, StatusCode::CREATED, "{}", reposted.body);
        assert_eq!(essence(&reposted.body["items"]), original);
        let listed_b = harness.send(caller_event(&team_b, "GET", "/v2/vex", None, &[])).await;
        for item in listed_b.body["items"].as_array().unwrap() {
            let path = format!("/v2/vex/{}", uuid_of(item));
            assert_eq!(
                harness.send(caller_event(&team_b, "DELETE", &path, None, &[])).await.status,
                StatusCode::NO_CONTENT
            );
        }
    }
    // Tenants: the other account's annotations are not the admin account's.
    assert_eq!(harness.request("GET", "/v2/vex", None, &[]).await.body["items"].as_array().unwrap().len(), 3);
    // Pages in uuid order.
    let first = harness.request("GET", "/v2/vex", None, &[("limit", "2")]).await.body;
    let next = first["next"].as_str().expect("a next page").to_owned();
    let rest = harness.request("GET", "/v2/vex", None, &[("limit", "2"), ("next", &next)]).await.body;
    let mut paged: Vec<String> =
        first["items"].as_array().unwrap().iter().chain(rest["items"].as_array().unwrap()).map(uuid_of).collect();
    assert!(rest.get("next").is_none() && paged.len() == 3 && paged.is_sorted());
    paged.dedup();
    assert_eq!(paged.len(), 3);
    assert_eq!(harness.request("GET", "/v2/vex", None, &[("limit", "0")]).await.status, StatusCode::BAD_REQUEST);
    let rules = RulesReader::new(harness.store_for("query"));
    assert_eq!(rules.rules("team-b").await.unwrap().len(), 0);
    assert_eq!(rules.rules("admin").await.unwrap().len(), 3);
}

/// The VEX function with `VEX_REQUIRES_APPROVAL=true`.
fn four_eyes(harness: &Harness) -> vex::VexApp {
    let environment = harness.environment().set(inventory_store::settings::VEX_REQUIRES_APPROVAL, "true");
    let config = vex::Config::from_lookup(|name| environment.lookup(name)).expect("vex's config");
    vex::VexApp::build(&harness.sdk_for("vex"), config, harness.clock.clone())
}

async fn call(app: &vex::VexApp, caller: &Caller, method: &str, path: &str, body: Option<&Value>) -> Response {
    let body = body.map(Value::to_string);
    let event = caller_event(caller, method, path, body.as_deref(), &[]);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    integration_tests::harness::response_of(app.handle(request).await)
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(uuid_of).collect()
}

#[tokio::test]
async fn with_four_eyes_a_suppressing_statement_applies_once_someone_else_approves_it() {
    let harness = Harness::new(120, false).await;
    let app = four_eyes(&harness);
    let person = |user: &str, role| Caller { user: user.into(), account: "admin".into(), role };
    let (alice, bob, reader) =
        (person("alice", Role::VexApprover), person("bob", Role::VexApprover), person("rita", Role::ReadOnly));
    let image = digest(1);
    let rules = RulesReader::new(harness.store_for("query"));

    let created = call(&app, &alice, "POST", &annotations_path(&image), Some(&log4j_not_affected())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["state"], "pending");
    let uuid = uuid_of(&created.body);
    assert!(rules.rules("admin").await.unwrap().is_empty(), "pending statements do not apply");
    // What does not silence anything needs no approval.
    let watching = json!({"annotation": {"vulnerability_id": "CVE-2023-0001", "status": "under_investigation"}});
    assert_eq!(call(&app, &alice, "POST", &annotations_path(&image), Some(&watching)).await.body["state"], "active");
    // An approver's queue.
    let in_state = |state: &'static str| harness.send(caller_event(&bob, "GET", "/v2/vex", None, &[("state", state)]));
    let queue = in_state("pending").await.body;
    assert_eq!(ids_of(&queue), [uuid.clone()]);
    assert_eq!(ids_of(&in_state("active").await.body).len(), 1, "the one under investigation");
    let refused = in_state("waiting").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body["message"].as_str().unwrap().contains("state"), "{}", refused.body);

    let approve = format!("/v2/vex/{uuid}/approve");
    assert_eq!(call(&app, &alice, "POST", &approve, None).await.status, StatusCode::FORBIDDEN, "not its author");
    let approved = call(&app, &bob, "POST", &approve, None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!((approved.body["state"].clone(), approved.body["approved_by"].clone()), (json!("active"), json!("bob")));
    assert_eq!(call(&app, &bob, "POST", &approve, None).await.status, StatusCode::CONFLICT, "approved once");
    let applied = rules.rules("admin").await.unwrap();
    assert_eq!(applied.len(), 2);
    assert!(applied.names("CVE-2021-44228"));

    // An admin's own statement applies at once.
    let admin = person("root", Role::Admin);
    let mut fixed = log4j_not_affected();
    fixed["annotation"]["vulnerability_id"] = json!("CVE-2022-0002");
    assert_eq!(call(&app, &admin, "POST", &annotations_path(&image), Some(&fixed)).await.body["state"], "active");
    let audit = call(&app, &reader, "GET", &format!("/v2/vex/{uuid}/audit"), None).await;
    let entries: Vec<(&str, &str)> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry["action"].as_str().unwrap(), entry["by"].as_str().unwrap()))
        .collect();
    assert_eq!(entries, [("created", "alice"), ("approved", "bob")]);
}

#[tokio::test]
async fn rules_follow_the_annotations_and_an_expired_one_lapses_once() {
    let harness = Harness::new(120, false).await;
    let image = digest(1);
    let rules = RulesReader::new(harness.store_for("query"));
    let mut expiring = log4j_not_affected();
    expiring["expires_at"] = json!((harness.clock.now() + chrono::TimeDelta::minutes(1)).to_rfc3339());
    let created = post(&harness, &annotations_path(&image), &expiring).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let scoped =
        json!({"annotation": {"vulnerability_id": "CVE-2024-1", "status": "fixed"}, "scope": {"context": "dev-*/*"}});
    assert_eq!(post(&harness, "/v2/vex", &scoped).await.status, StatusCode::CREATED);
    let current = rules.rules("admin").await.unwrap();
    assert_eq!(current.len(), 2);

    harness.clock.advance(chrono::TimeDelta::minutes(2));
    let annotations = inventory_store::vex::Annotations::new(harness.store_for("vex"), harness.clock.clone(), false);
    let rebuilt = annotations.rebuild("admin").await.unwrap();
    assert_eq!(rebuilt.lapsed.len(), 1);
    assert_eq!(rebuilt.lapsed[0].statement.vulnerability_id, "CVE-2021-44228");
    assert_eq!(annotations.rebuild("admin").await.unwrap().lapsed.len(), 0, "lapsed once");
    let after = rules.rules("admin").await.unwrap();
    assert_eq!(after.len(), 1);
    assert!(!after.names("CVE-2021-44228") && after.names("CVE-2024-1"));
    let lapsed = harness.request("GET", &format!("/v2/vex/{}", uuid_of(&created.body)), None, &[]).await;
    assert_eq!(
        (lapsed.body["state"].clone(), lapsed.body["lapse_reason"].clone()),
        (json!("lapsed"), json!("expired"))
    );
    let stored = harness.request("GET", "/v2/vex", None, &[]).await;
    let context = stored.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["annotation"]["vulnerability_id"] == "CVE-2024-1")
        .unwrap()
        .clone();
    assert_eq!(context["scope"], json!({"context": "dev-*/*"}));

    // Changes are conditional on the version read: one made from a stale read is refused, and
    // nothing of it (annotation, image copy, audit entry) is written.
    let store = harness.store_for("vex");
    let uuid = uuid_of(&created.body);
    let current = store.vex_annotation("admin", &uuid).await.unwrap().unwrap();
    let mut changed = current.clone();
    changed.version += 1;
    changed.statement.status_notes = Some("from a stale read".into());
    let audit_of = |after: &inventory_store::vex::Annotation| {
        inventory_store::vex::AuditEntry::of(
            inventory_store::vex::AuditAction::Updated,
            "admin",
            harness.clock.now(),
            Some(&current),
            after,
        )
    };
    let stale = store.replace_vex_annotation("admin", current.version - 1, &changed, &audit_of(&changed)).await;
    assert!(matches!(stale, Err(inventory_store::store::StoreError::ConditionFailed)), "{stale:?}");
    assert_eq!(store.vex_annotation("admin", &uuid).await.unwrap().unwrap(), current);
    assert_eq!(store.vex_audit("admin", &uuid).await.unwrap().len(), 2, "created, lapsed");
    store.replace_vex_annotation("admin", current.version, &changed, &audit_of(&changed)).await.unwrap();
    assert_eq!(store.vex_image_annotations("admin", &image).await.unwrap(), [changed.clone()]);
    assert_eq!(store.vex_audit("admin", &uuid).await.unwrap().len(), 3);
}

async fn deliver(notifications: &mut integration_tests::Notifications) {
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
}

fn trivy_fixture() -> String {
    std::fs::read_to_string(local_stack::moto::workspace_root().join("tests/fixtures/scanners/trivy.json")).unwrap()
}

/// Image 1 running in `namespaces` of cluster `prod` (as `registry.example.com/shop/web:1`), with
/// trivy's findings posted, the stream delivered.
async fn running_with_trivy_findings(
    harness: &Harness,
    notifications: &mut integration_tests::Notifications,
    namespaces: &[&str],
) {
    running_with_findings(harness, notifications, namespaces, &trivy_fixture()).await;
}

async fn running_with_findings(
    harness: &Harness,
    notifications: &mut integration_tests::Notifications,
    namespaces: &[&str],
    trivy: &str,
) {
    let containers: Vec<(&str, &str, u64)> =
        namespaces.iter().map(|namespace| (*namespace, "registry.example.com/shop/web:1", 1)).collect();
    let report = integration_tests::k8s_report("prod", integration_tests::day(0), &containers);
    assert_eq!(harness.post_k8s(&report).await.status, StatusCode::CREATED);
    deliver(notifications).await;
    let path = format!("/v2/images/{}/vulnerabilities", digest(1));
    assert_eq!(harness.request("POST", &path, Some(trivy), &[]).await.status, StatusCode::CREATED);
    deliver(notifications).await;
}

fn ids(rows: &Value, key: &str, field: &str) -> Vec<String> {
    rows[key].as_array().unwrap().iter().map(|row| row[field].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_not_affected_trivy_finding_leaves_every_answer_and_its_events_until_it_expires() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let at = integration_tests::day(0);
    running_with_trivy_findings(&harness, &mut notifications, &["web"]).await;
    let critical = "CVE-2024-24790";
    assert_eq!(notifications.vulnerable_running().await, [("prod/web".to_owned(), critical.to_owned())]);

    // Tenants: another account's statement, account-wide, changes nothing here.
    let team_b = Caller { user: "b-admin".into(), account: "team-b".into(), role: Role::Admin };
    let elsewhere =
        json!({"annotation": {"vulnerability_id": critical, "status": "fixed"}, "scope": {"account": true}});
    let posted = harness.send(caller_event(&team_b, "POST", "/v2/vex", Some(&elsewhere.to_string()), &[])).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    let worklist = harness.request("GET", "/v2/vulnerabilities", None, &[]).await.body;
    assert!(ids(&worklist, "vulnerabilities", "vulnerability_id").contains(&critical.to_owned()));
    assert_eq!(worklist["suppressed"], 0);

    // Not affected, for a minute: the stdlib of this image.
    let statement = json!({
        "annotation": {"vulnerability_id": critical, "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
        "package_identifier": {"name": "stdlib", "version": "v1.22.1", "type": "gobinary"},
        "expires_at": (harness.clock.now() + chrono::TimeDelta::minutes(1)).to_rfc3339(),
    });
    let created = post(&harness, &annotations_path(&digest(1)), &statement).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let uuid = uuid_of(&created.body);

    let worklist = harness.request("GET", "/v2/vulnerabilities", None, &[]).await.body;
    assert!(!ids(&worklist, "vulnerabilities", "vulnerability_id").contains(&critical.to_owned()), "{worklist}");
    assert_eq!(worklist["suppressed"], 1);
    let shown = harness.request("GET", "/v2/vulnerabilities", None, &[("include_suppressed", "true")]).await.body;
    let row = shown["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["vulnerability_id"] == critical)
        .unwrap()
        .clone();
    assert_eq!(row["vex"], json!({"uuid": uuid, "status": "not_affected", "suppressed": true}));
    let exposure = harness.request("GET", &format!("/v2/vulnerabilities/{critical}"), None, &[]).await;
    assert_eq!(exposure.status, StatusCode::OK, "{}", exposure.body);
    assert_eq!((exposure.body["images"].clone(), exposure.body["suppressed"].clone()), (json!([]), json!(1)));
    let listed = harness.request("GET", "/v2/inventories", None, &[("vulnerability_id", critical)]).await.body;
    assert_eq!((listed["items"].clone(), listed["suppressed"].clone()), (json!([]), json!(1)));

    let findings_path = format!("/v2/images/{}/vulnerabilities", digest(1));
    let image = harness.request("GET", &findings_path, None, &[]).await.body;
    assert!(!ids(&image, "findings", "vulnerability_id").contains(&critical.to_owned()), "{image}");
    assert_eq!((image["suppressed"].clone(), image["vulnerabilities"]["critical"].clone()), (json!(1), json!(0)));
    let image = harness.request("GET", &findings_path, None, &[("include_suppressed", "true")]).await.body;
    let finding =
        image["findings"].as_array().unwrap().iter().find(|f| f["vulnerability_id"] == critical).unwrap().clone();
    assert_eq!(finding["vex"]["suppressed"], true);

    // A new context running the image: no event for what is not affected.
    harness.clock.advance(chrono::TimeDelta::seconds(10));
    let later = integration_tests::k8s_report(
        "prod",
        at + chrono::TimeDelta::seconds(10),
        &[("web", "registry.example.com/shop/web:1", 1), ("batch", "registry.example.com/shop/web:1", 1)],
    );
    assert_eq!(harness.post_k8s(&later).await.status, StatusCode::CREATED);
    deliver(&mut notifications).await;
    assert_eq!(notifications.vulnerable_running().await, Vec::<(String, String)>::new());

    // Past its expiry it applies no more, and the check lapses it once.
    harness.clock.advance(chrono::TimeDelta::minutes(2));
    let worklist = harness.request("GET", "/v2/vulnerabilities", None, &[]).await.body;
    assert!(ids(&worklist, "vulnerabilities", "vulnerability_id").contains(&critical.to_owned()));
    assert_eq!(worklist["suppressed"], 0);
    let exposure = harness.request("GET", &format!("/v2/vulnerabilities/{critical}"), None, &[]).await.body;
    assert_eq!(exposure["images"].as_array().unwrap().len(), 1);
    notifications.received().await;
    let checker = notifications.notifier(&harness, harness.sdk_for("notifier"), &[]);
    let checked = checker.check().await.unwrap();
    assert_eq!((checked.lapsed, checked.errors.len()), (1, 0), "{:?}", checked.errors);
    assert_eq!(checker.check().await.unwrap().lapsed, 0, "lapsed once");
    let expired: Vec<Value> = notifications
        .received()
        .await
        .into_iter()
        .filter(|event| event["detail-type"] == inventory_store::bus::VEX_EXPIRED_DETAIL_TYPE)
        .collect();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0]["detail"]["annotation"]["uuid"], uuid.as_str());
    assert_eq!(
        (expired[0]["detail"]["state"].clone(), expired[0]["detail"]["account"].clone()),
        (json!("lapsed"), json!("admin"))
    );
    let audit = harness.request("GET", &format!("/v2/vex/{uuid}/audit"), None, &[]).await.body;
    assert_eq!(audit["items"][1]["action"], "lapsed");
}

/// Each listed entry as (context, critical, medium, kev, suppressed) of its `vulnerabilities`.
async fn inventory(harness: &Harness, query: &[(&str, &str)]) -> (Vec<(String, Value, Value, Value, Value)>, Value) {
    let answer = harness.request("GET", "/v2/inventories", None, query).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let mut items: Vec<_> = answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let counts = &item["vulnerabilities"];
            let field = |name: &str| counts.get(name).cloned().unwrap_or(json!(0));
            let context = item["context"].as_str().unwrap().to_owned();
            (context, field("critical"), field("medium"), field("kev"), field("suppressed"))
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    (items, answer.body.get("suppressed").cloned().unwrap_or(Value::Null))
}

#[tokio::test]
async fn counts_filters_and_cluster_exposure_leave_out_what_vex_suppresses_in_each_context() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let feeds = local_stack::feeds::FeedServer::start().await.unwrap();
    assert_eq!(harness.threat_loader(&feeds).load().await.failure(), None);
    // Image 1 in two namespaces: Log4Shell (listed by CISA, EPSS 0.94, medium here), CVE-2019-1551
    // (medium), CVE-2024-24790 (critical).
    let trivy = trivy_fixture().replace("CVE-2019-1549", "CVE-2021-44228");
    running_with_findings(&harness, &mut notifications, &["batch", "web"], &trivy).await;
    let (one, zero) = (json!(1), json!(0));
    let entry = |context: &str, critical: &Value, medium: u64, kev: &Value, suppressed: &Value| {
        (format!("prod/{context}"), critical.clone(), json!(medium), kev.clone(), suppressed.clone())
    };
    let (all, _) = inventory(&harness, &[]).await;
    assert_eq!(all, [entry("batch", &one, 2, &one, &zero), entry("web", &one, 2, &one, &zero)]);

    // Log4Shell is not exploitable in the batch namespace.
    let batch = json!({
        "annotation": {"vulnerability_id": "CVE-2021-44228", "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
        "scope": {"context": "prod/batch"}
    });
    assert_eq!(post(&harness, "/v2/vex", &batch).await.status, StatusCode::CREATED);
    let (all, suppressed) = inventory(&harness, &[]).await;
    assert_eq!(all, [entry("batch", &one, 1, &zero, &one), entry("web", &one, 2, &one, &zero)]);
    assert_eq!(suppressed, Value::Null, "no filter left an entry out");
    let web_only = (vec![entry("web", &one, 2, &one, &zero)], one.clone());
    assert_eq!(inventory(&harness, &[("kev", "true")]).await, web_only);
    assert_eq!(inventory(&harness, &[("min_epss", "0.05")]).await, web_only, "Log4Shell alone scores above 0.05");
    assert_eq!(
        inventory(&harness, &[("kev", "false")]).await,
        (vec![entry("batch", &one, 1, &zero, &one)], Value::Null),
        "the batch namespace runs no exploited vulnerability VEX leaves"
    );
    let marked = harness.request("GET", "/v2/inventories", None, &[("kev", "true"), ("include_suppressed", "true")]);
    let marked = marked.await.body;
    let batch_entry = marked["items"].as_array().unwrap().iter().find(|item| item["context"] == "prod/batch").unwrap();
    assert_eq!(
        (batch_entry["vex"]["status"].clone(), marked["suppressed"].clone()),
        (json!("not_affected"), one.clone())
    );

    // The critical one is fixed everywhere in the account: no critical image runs.
    let fixed =
        json!({"annotation": {"vulnerability_id": "CVE-2024-24790", "status": "fixed"}, "scope": {"account": true}});
    assert_eq!(post(&harness, "/v2/vex", &fixed).await.status, StatusCode::CREATED);
    let two = json!(2);
    let (all, _) = inventory(&harness, &[]).await;
    assert_eq!(all, [entry("batch", &zero, 1, &zero, &two), entry("web", &zero, 2, &one, &one)]);
    assert_eq!(inventory(&harness, &[("min_severity", "critical")]).await, (vec![], two.clone()));
    let critical = harness.request("GET", "/v2/exposure", None, &[("min_severity", "critical")]).await.body;
    assert_eq!(critical["clusters"], json!([]), "{critical}");
    let medium = harness.request("GET", "/v2/exposure", None, &[("min_severity", "medium")]).await.body;
    let clusters: Vec<(Value, Value, Value, Value)> = medium["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cluster"].clone(),
                c["images"].clone(),
                c["by_severity"]["critical"].clone(),
                c["by_severity"]["medium"].clone(),
            )
        })
        .collect();
    assert_eq!(clusters, [(json!("prod"), one.clone(), zero.clone(), one.clone())]);
}

/// (Query, GetItem, BatchGetItem) requests since the last reset.
fn reads(harness: &Harness) -> (u64, u64, u64) {
    (harness.requests.get("Query"), harness.requests.get("GetItem"), harness.requests.get("BatchGetItem"))
}

#[tokio::test]
async fn reads_cost_the_same_with_thousands_of_annotations_as_with_none() {
    // VEX_ANNOTATIONS=10000 for the figure (BENCHMARKS.md); the default keeps CI quick.
    let count: usize = std::env::var("VEX_ANNOTATIONS").ok().and_then(|raw| raw.parse().ok()).unwrap_or(300);
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    running_with_trivy_findings(&harness, &mut notifications, &["web"]).await;

    let measure = |route: &'static str| {
        let harness = &harness;
        async move {
            harness.requests.reset();
            let answer = harness.request("GET", route, None, &[]).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            (reads(harness), answer.body)
        }
    };
    let (worklist_without, before) = measure("/v2/vulnerabilities").await;
    let (exposure_without, _) = measure("/v2/vulnerabilities/CVE-2024-24790").await;

    // Annotations of other vulnerabilities, account-wide: none of them decides anything here.
    let statements: Vec<Value> = (0..count)
        .map(|n| json!({"vulnerability": format!("CVE-2030-{n:05}"), "products": [format!("pkg:npm/left-pad@1.{n}")], "status": "not_affected", "justification": "component_not_present"}))
        .collect();
    let document = json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "bulk", "statements": statements});
    let posted = post(&harness, "/v2/vex", &document).await;
    assert_eq!((posted.status, posted.body["created"].clone()), (StatusCode::CREATED, json!(count)));
    assert_eq!(posted.body["items"].as_array().unwrap().len(), count.min(inventory_store::limits::DEFAULT_LIMIT));

    // The first read after a change reads the new rules once (one more Query, of their chunks)...
    let (worklist_cold, after) = measure("/v2/vulnerabilities").await;
    // ...and then every read costs what it did with none: the rules record's GetItem was there too.
    let (worklist_with, _) = measure("/v2/vulnerabilities").await;
    let (exposure_with, _) = measure("/v2/vulnerabilities/CVE-2024-24790").await;
    println!(
        "{count} annotations: worklist {worklist_without:?} -> {worklist_with:?} (first read {worklist_cold:?}), \
         exposure {exposure_without:?} -> {exposure_with:?} (Query, GetItem, BatchGetItem)"
    );
    assert_eq!(worklist_cold, (worklist_without.0 + 1, worklist_without.1, worklist_without.2));
    assert_eq!(worklist_with, worklist_without);
    assert_eq!(exposure_with, exposure_without);
    assert_eq!(after["vulnerabilities"], before["vulnerabilities"], "and none of them suppresses anything");
}

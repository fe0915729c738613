//! Scanners' findings posted per image and read back merged, against moto: the vulnerability
//! and severity indexes kept exact through replacements and failed posts.

use integration_tests::{admin_event, FailNth, Harness, Response};
use inventory_store::http::ApiFunction;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DIGEST: &str = "sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

fn fixture(name: &str) -> String {
    let path = local_stack::moto::workspace_root().join("tests/fixtures/scanners").join(name);
    std::fs::read_to_string(&path).unwrap()
}

fn path(digest: &str) -> String {
    format!("/v2/images/{digest}/vulnerabilities")
}

async fn post(harness: &Harness, digest: &str, body: &str) -> Response {
    harness.call_path("post-image-vulnerabilities.json", Some(&path(digest)), Some(body), Some("admin"), &[]).await
}

async fn post_to(app: &impl ApiFunction, digest: &str, body: &str) -> StatusCode {
    let event = admin_event("post-image-vulnerabilities.json", Some(&path(digest)), Some(body), Some("admin"), &[]);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    app.handle(request).await.status()
}

async fn image(harness: &Harness, digest: &str) -> Response {
    harness.call_path("get-image-vulnerabilities.json", Some(&path(digest)), None, Some("admin"), &[]).await
}

/// The partition keys of stored items starting with `prefix`, with their sort keys.
async fn stored(harness: &Harness, prefix: &str) -> BTreeSet<(String, String)> {
    let items = harness.stored_items().await;
    items
        .iter()
        .map(|item| (item["pk"].as_s().unwrap().clone(), item["sk"].as_s().unwrap().clone()))
        .filter(|(pk, _)| pk.starts_with(prefix))
        .collect()
}

async fn indexed_vulnerabilities(harness: &Harness) -> BTreeSet<String> {
    stored(harness, "admin#vuln#")
        .await
        .into_iter()
        .map(|(pk, _)| pk.trim_start_matches("admin#vuln#").to_owned())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

#[tokio::test]
async fn grype_and_trivy_documents_post_and_read_back_merged() {
    let harness = Harness::new(120, false).await;
    let grype = post(&harness, DIGEST, &fixture("grype.json")).await;
    assert_eq!(grype.status, StatusCode::CREATED, "{}", grype.body);
    assert_eq!(
        grype.body,
        json!({"image_digest": DIGEST, "scanner": "grype", "format": "grype", "findings": 2,
               "by_severity": {"critical": 1, "high": 0, "medium": 0, "low": 1, "negligible": 0, "unknown": 0}})
    );
    let trivy = post(&harness, DIGEST, &fixture("trivy.json")).await;
    assert_eq!((trivy.status, trivy.body["findings"].as_u64()), (StatusCode::CREATED, Some(5)));

    let read = image(&harness, DIGEST).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(
        read.body["vulnerabilities"],
        json!({"critical": 2, "high": 0, "medium": 2, "low": 1, "negligible": 0, "unknown": 0})
    );
    let scanners: Vec<&str> =
        read.body["scanners"].as_array().unwrap().iter().map(|s| s["scanner"].as_str().unwrap()).collect();
    assert_eq!(scanners, ["grype", "trivy"]);
    let findings = read.body["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 7);
    assert_eq!(findings[0]["severity"], "critical");
    assert!(findings.iter().all(|finding| finding.get("description").is_none()));
    assert_eq!(
        indexed_vulnerabilities(&harness).await,
        set(&["CVE-1999-0001", "CVE-1999-0002", "CVE-2019-1549", "CVE-2019-1551", "CVE-2024-24790"])
    );
    assert_eq!(
        stored(&harness, "admin#sev#").await,
        BTreeSet::from([("admin#sev#critical".to_owned(), DIGEST.to_owned())])
    );
}

#[tokio::test]
async fn a_scanners_new_document_replaces_its_findings_and_their_index_entries() {
    let harness = Harness::new(120, false).await;
    post(&harness, DIGEST, &fixture("grype.json")).await;
    let mut fewer: Value = serde_json::from_str(&fixture("grype.json")).unwrap();
    fewer["matches"].as_array_mut().unwrap().remove(1);
    let replaced = post(&harness, DIGEST, &fewer.to_string()).await;
    assert_eq!(replaced.status, StatusCode::CREATED, "{}", replaced.body);
    assert_eq!(indexed_vulnerabilities(&harness).await, set(&["CVE-1999-0001"]));
    assert_eq!(stored(&harness, "admin#sev#").await, BTreeSet::from([("admin#sev#low".to_owned(), DIGEST.to_owned())]));
    let chunks = stored(&harness, "admin#find#").await.into_iter().filter(|(_, sk)| sk.starts_with("scan#")).count();
    assert_eq!(chunks, 1, "the replaced generation's chunk is deleted");
    assert_eq!(image(&harness, DIGEST).await.body["vulnerabilities"]["low"], 1);

    // The same document again: the record's post time changes, nothing else is written.
    harness.requests.reset();
    assert_eq!(post(&harness, DIGEST, &fewer.to_string()).await.status, StatusCode::CREATED);
    assert_eq!(harness.requests.get("BatchWriteItem"), 0);
    assert_eq!(
        (harness.requests.get("PutItem"), harness.requests.get("Query")),
        (2, 1),
        "lease and commit; the chunks"
    );
}

#[tokio::test]
async fn after_a_post_that_failed_half_way_the_next_one_leaves_the_index_exact() {
    let harness = Harness::new(120, false).await;
    post(&harness, DIGEST, &fixture("grype.json")).await;
    // The trivy post writes its chunks and its index entries, then fails to store its record
    // (the lease's second PutItem): the lease is given back, the entries stay behind.
    let failing = harness.ingest_with(FailNth::new("PutItem", 2));
    assert_eq!(post_to(&failing, DIGEST, &fixture("trivy.json")).await, StatusCode::SERVICE_UNAVAILABLE);
    let read = image(&harness, DIGEST).await;
    assert_eq!(read.body["scanners"].as_array().unwrap().len(), 1, "the failed post is not named: {}", read.body);
    assert!(indexed_vulnerabilities(&harness).await.contains("CVE-2024-24790"), "its entries were written");

    let mut only_critical: Value = serde_json::from_str(&fixture("grype.json")).unwrap();
    only_critical["matches"].as_array_mut().unwrap().remove(0);
    assert_eq!(post(&harness, DIGEST, &only_critical.to_string()).await.status, StatusCode::CREATED);
    assert_eq!(indexed_vulnerabilities(&harness).await, set(&["CVE-1999-0002"]));
    let chunks: Vec<String> = stored(&harness, "admin#find#")
        .await
        .into_iter()
        .filter(|(_, sk)| sk.starts_with("scan#"))
        .map(|(_, sk)| sk)
        .collect();
    assert_eq!(chunks.len(), 1, "the failed post's chunks are deleted: {chunks:?}");
    assert!(chunks[0].starts_with("scan#grype#"));
}

#[tokio::test]
async fn a_document_naming_another_digest_is_kept_and_the_mismatch_reported() {
    let harness = Harness::new(120, false).await;
    let index_digest = integration_tests::digest(7);
    let response = post(&harness, &index_digest, &fixture("cyclonedx.json")).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    assert_eq!(response.body["scanner"], "grype");
    assert_eq!(response.body["digest_mismatch"], json!({"document_digests": [DIGEST]}));
    assert_eq!(image(&harness, &index_digest).await.body["scanners"][0]["mismatched_digests"], json!([DIGEST]));
}

#[tokio::test]
async fn documents_that_cannot_be_read_are_refused_and_store_nothing() {
    let harness = Harness::new(120, false).await;
    let unknown = post(&harness, DIGEST, r#"{"packages": []}"#).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body["message"].as_str().unwrap().contains("trivy JSON"), "{}", unknown.body);
    let not_json = post(&harness, DIGEST, "<html>").await;
    assert_eq!((not_json.status, not_json.body["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")));
    let broken = post(&harness, DIGEST, r#"{"matches": 3}"#).await;
    assert_eq!(broken.body["detail"]["field"], "matches");
    let message = broken.body["message"].as_str().unwrap();
    assert!(message.starts_with("matches: ") && !message.starts_with("matches: matches"), "{message}");
    let bad_digest = post(&harness, "sha256:nothex", &fixture("grype.json")).await;
    assert_eq!(bad_digest.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_digest.body["detail"]["field"], "image_digest");
    assert!(harness.stored_items().await.is_empty());
    assert_eq!(image(&harness, DIGEST).await.status, StatusCode::NOT_FOUND);
}

fn digests_listed(items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|item| (item["context"].as_str().unwrap().to_owned(), item["image_digest"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn the_inventory_shows_each_images_vulnerabilities_and_filters_by_them() {
    use integration_tests::{day, digest, k8s_report};
    let harness = Harness::new(120, false).await;
    let containers = [("default", "shop/web:1", 1), ("default", "shop/db:1", 2), ("batch", "shop/web:1", 1)];
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &containers)).await.status, StatusCode::CREATED);
    assert_eq!(post(&harness, &digest(1), &fixture("grype.json")).await.status, StatusCode::CREATED);

    let items = harness.list("admin", &[]).await;
    let web = items.iter().find(|item| item["image_digest"] == digest(1).as_str()).unwrap();
    assert_eq!(
        web["vulnerabilities"],
        json!({"critical": 1, "high": 0, "medium": 0, "low": 1, "negligible": 0, "unknown": 0})
    );
    assert!(web["findings_updated_at"].is_string());
    let db = items.iter().find(|item| item["image_digest"] == digest(2).as_str()).unwrap();
    assert!(db.get("vulnerabilities").is_none() && db.get("findings_updated_at").is_none(), "{db}");

    let web_in_both = vec![("prod/batch".to_owned(), digest(1)), ("prod/default".to_owned(), digest(1))];
    harness.requests.reset();
    let by_id = harness.list("admin", &[("vulnerability_id", "CVE-1999-0002"), ("inventory_type", "kubernetes")]).await;
    assert_eq!(digests_listed(&by_id), web_in_both);
    // The vulnerability's partition, the digest's 16 index shards; whether the account has
    // findings; the image and context records, the findings record; the threat data's records
    // (no catalog loaded: no KEV counts to read); the account's VEX rules record.
    let reads = ["Query", "GetItem", "BatchGetItem"].map(|operation| harness.requests.get(operation));
    assert_eq!(reads, [1 + 16 + 1, 1 + 1, 3]);
    assert_eq!(digests_listed(&harness.list("admin", &[("min_severity", "critical")]).await), web_in_both);
    assert!(harness.list("admin", &[("vulnerability_id", "CVE-2000-0000")]).await.is_empty());
    let paged =
        harness.call("get-inventories.json", None, Some("admin"), &[("min_severity", "high"), ("limit", "1")]).await;
    assert_eq!(digests_listed(paged.body["items"].as_array().unwrap()), web_in_both[..1]);
    assert!(paged.body["next"].is_string());

    let mut only_low: Value = serde_json::from_str(&fixture("grype.json")).unwrap();
    only_low["matches"].as_array_mut().unwrap().remove(1);
    post(&harness, &digest(1), &only_low.to_string()).await;
    assert!(harness.list("admin", &[("min_severity", "high")]).await.is_empty());
    assert_eq!(harness.list("admin", &[("min_severity", "low")]).await.len(), 2);
    let refused = harness.call("get-inventories.json", None, Some("admin"), &[("min_severity", "severe")]).await;
    assert_eq!(
        (refused.status, refused.body["detail"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("min_severity"))
    );
}

#[tokio::test]
async fn a_vulnerabilitys_exposure_names_the_live_contexts_of_each_image_carrying_it() {
    use integration_tests::{day, digest, k8s_report};
    let harness = Harness::new(120, false).await;
    let containers = [("default", "shop/web:1", 1), ("default", "shop/db:1", 2), ("batch", "shop/web:1", 1)];
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &containers)).await.status, StatusCode::CREATED);
    post(&harness, &digest(1), &fixture("grype.json")).await;
    post(&harness, &digest(2), &fixture("trivy.json")).await;
    post(&harness, &digest(3), &fixture("trivy.json")).await; // runs nowhere

    let exposure = |id: &'static str, query: Vec<(&'static str, String)>| {
        let harness = &harness;
        async move {
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let path = format!("/v2/vulnerabilities/{id}");
            harness.call_path("get-vulnerability.json", Some(&path), None, Some("admin"), &query).await
        }
    };
    harness.requests.reset();
    let critical = exposure("CVE-1999-0002", vec![]).await;
    assert_eq!(critical.status, StatusCode::OK, "{}", critical.body);
    // The vulnerability's partition, then the digest's 16 index shards per inventory type; the
    // image records and their contexts' records; the threat data feeds' records.
    assert_eq!((harness.requests.get("Query"), harness.requests.get("BatchGetItem")), (1 + 2 * 16 + 1, 2));
    assert_eq!(
        (critical.body["severity"].as_str(), critical.body["images"].as_array().unwrap().len()),
        (Some("critical"), 1)
    );
    let image = &critical.body["images"][0];
    assert_eq!(
        (image["image_digest"].as_str(), image["image_tag"].as_str()),
        (Some(digest(1).as_str()), Some("docker.io/shop/web:1"))
    );
    let contexts: Vec<&str> =
        image["contexts"].as_array().unwrap().iter().map(|c| c["context"].as_str().unwrap()).collect();
    assert_eq!(contexts, ["prod/batch", "prod/default"]);
    assert_eq!(image["packages"], json!([{"name": "package-2", "version": "2.2.2", "type": "deb"}]));

    let openssl = exposure("CVE-2019-1549", vec![]).await;
    assert_eq!(openssl.body["fixed_in"], json!(["1.1.1d-r0"]));
    let running: Vec<&str> =
        openssl.body["images"].as_array().unwrap().iter().map(|i| i["image_digest"].as_str().unwrap()).collect();
    assert_eq!(running, [digest(2)], "the image that runs nowhere is not exposure");

    post(&harness, &digest(1), &fixture("trivy.json")).await;
    let first = exposure("CVE-2019-1549", vec![("limit", "1".into())]).await;
    assert_eq!(first.body["images"][0]["image_digest"], digest(1).as_str());
    let next = first.body["next"].as_str().unwrap().to_owned();
    let second = exposure("CVE-2019-1549", vec![("limit", "1".into()), ("next", next)]).await;
    assert_eq!(second.body["images"][0]["image_digest"], digest(2).as_str());
    // The last image carrying it runs nowhere: its page lists nothing and ends the pages.
    let next = second.body["next"].as_str().unwrap().to_owned();
    let last = exposure("CVE-2019-1549", vec![("limit", "1".into()), ("next", next)]).await;
    assert_eq!((last.body["images"].clone(), last.body.get("next")), (json!([]), None));
    assert_eq!(exposure("CVE-2000-0001", vec![]).await.status, StatusCode::NOT_FOUND);

    let dashboard = harness.call("get-exposure.json", None, Some("admin"), &[("min_severity", "critical")]).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    assert_eq!(
        dashboard.body,
        json!({"min_severity": "critical", "clusters": [{"inventory_type": "kubernetes", "cluster": "prod", "images": 2, "workloads": 3,
               "by_severity": {"critical": 2, "high": 0, "medium": 0, "low": 0, "negligible": 0, "unknown": 0}}]})
    );
    let refused = harness.call("get-exposure.json", None, Some("admin"), &[("min_severity", "urgent")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_vulnerable_image_running_is_announced_once_per_context_and_vulnerability() {
    use integration_tests::{day, digest, k8s_report};
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    // Findings first: trivy's critical CVE-2024-24790 (the threshold is critical).
    post(&harness, &digest(1), &fixture("trivy.json")).await;
    let containers = [("default", "shop/web:1", 1), ("batch", "shop/web:1", 1), ("default", "shop/db:1", 2)];
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &containers)).await.status, StatusCode::CREATED);
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch.clone()).await.batch_item_failures.is_empty());
    let cve = |context: &str, id: &str| (context.to_owned(), id.to_owned());
    assert_eq!(
        notifications.vulnerable_running().await,
        [cve("prod/batch", "CVE-2024-24790"), cve("prod/default", "CVE-2024-24790")]
    );
    notifications.deliver(batch).await;
    assert!(notifications.vulnerable_running().await.is_empty(), "a redelivered batch announces nothing again");

    // New findings of an image that runs: only the new vulnerability is announced.
    post(&harness, &digest(1), &fixture("grype.json")).await;
    let batch = notifications.next_event().await;
    notifications.deliver(batch).await;
    assert_eq!(
        notifications.vulnerable_running().await,
        [cve("prod/batch", "CVE-1999-0002"), cve("prod/default", "CVE-1999-0002")]
    );
    post(&harness, &digest(1), &fixture("grype.json")).await; // identical: no new generation
    let batch = notifications.next_event().await;
    notifications.deliver(batch).await;
    assert!(notifications
        .received()
        .await
        .iter()
        .all(|event| event["detail-type"] != inventory_store::bus::VULNERABLE_DETAIL_TYPE));
}

#[tokio::test]
async fn a_large_document_comes_gzip_compressed() {
    use std::io::Write;
    let harness = Harness::new(120, false).await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(fixture("trivy.json").as_bytes()).unwrap();
    let compressed = encoder.finish().unwrap();
    let send = |body: Vec<u8>, encoding: &'static str| {
        let harness = &harness;
        async move {
            let mut event =
                admin_event("post-image-vulnerabilities.json", Some(&path(DIGEST)), None, Some("admin"), &[]);
            event["body"] = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &body).into();
            event["isBase64Encoded"] = true.into();
            event["headers"]["content-encoding"] = encoding.into();
            harness.send(event).await
        }
    };
    let stored = send(compressed.clone(), "gzip").await;
    assert_eq!((stored.status, stored.body["findings"].as_u64()), (StatusCode::CREATED, Some(5)), "{}", stored.body);
    let not_gzip = send(b"{\"matches\": []}".to_vec(), "gzip").await;
    assert_eq!((not_gzip.status, not_gzip.body["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")));
    let brotli = send(compressed, "br").await;
    assert_eq!(brotli.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// Issue 32, item 1: the two bodies that held the function (41 s and 27.5 s) answer 400 and
/// store nothing. The time each took is printed (`-- --nocapture`), not asserted.
#[tokio::test]
async fn hostile_findings_documents_answer_400_and_store_nothing() {
    use std::io::Write;
    let harness = Harness::new(120, false).await;
    let gzip = |body: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(body).unwrap();
        encoder.finish().unwrap()
    };
    let empty_findings =
        format!("{{\"SchemaVersion\": 2, \"Results\": [{{\"Vulnerabilities\": [{}{{}}]}}]}}", "{},".repeat(20_000_000));
    let digests: Vec<String> = (0..70_000).map(|n| format!("registry.example/app@sha256:{n:064x}")).collect();
    let many_digests = json!({"SchemaVersion": 2, "Metadata": {"RepoDigests": digests}, "Results": []}).to_string();
    for (name, body, field) in [
        ("20,000,000 empty findings", gzip(empty_findings.as_bytes()), "findings"),
        ("70,000 repo digests", gzip(many_digests.as_bytes()), "Metadata.RepoDigests"),
    ] {
        assert!(body.len() < 6 * 1024 * 1024, "{name}: {} bytes fit a Lambda request", body.len());
        let mut event = admin_event("post-image-vulnerabilities.json", Some(&path(DIGEST)), None, Some("admin"), &[]);
        event["body"] = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &body).into();
        event["isBase64Encoded"] = true.into();
        event["headers"]["content-encoding"] = "gzip".into();
        let started = std::time::Instant::now();
        let answer = harness.send(event).await;
        println!("{name}: {} bytes gzip, answered {} in {:?}", body.len(), answer.status, started.elapsed());
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{name}: {}", answer.body);
        assert_eq!(answer.body["detail"]["field"], field, "{name}: {}", answer.body);
    }
    assert_eq!(stored(&harness, "admin#").await, BTreeSet::new(), "nothing is stored");
}

#[tokio::test]
async fn an_image_whose_digest_cannot_hold_findings_announces_no_exposure_and_blocks_nothing() {
    use inventory_store::model::{ImageContent, ImageRecord, InventoryType, Tracking};
    use inventory_store::store::BatchWrite;
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    // Written before digests were validated: no findings can be stored under it.
    let at = integration_tests::day(0);
    let content = ImageContent {
        image_digest: "sha256:legacy".into(),
        image_tag: "docker.io/shop/old:1".into(),
        container_count: 1,
        workloads: Vec::new(),
        workload_count: None,
    };
    let tracking = Tracking { first_seen: at, last_seen: at, present: true, updated_at: at, expires_at: None };
    let record =
        ImageRecord::new("admin", InventoryType::Kubernetes, "prod/default", "sha256:legacy", content, tracking);
    let store = harness.store_for("ingest");
    store.batch_write(vec![BatchWrite::Put(inventory_store::store::encode(&record))]).await.unwrap();
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty(), "the shard is not held up");
    let kinds: Vec<String> =
        notifications.received().await.iter().map(|event| event["detail-type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, [inventory_store::bus::ADDED_DETAIL_TYPE]);
}

/// Issue 32, item 6: an image keeps the findings of a bounded number of scanners; a document of
/// one more is refused, one of a scanner it has replaces that scanner's.
#[tokio::test]
async fn an_image_keeps_a_bounded_number_of_scanners() {
    use inventory_store::limits::MAX_SCANNERS_PER_IMAGE;
    let harness = Harness::new(120, false).await;
    let bom = |tool: &str| {
        json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": {"tools": {"components": [{"name": tool}]}},
               "components": [{"bom-ref": "p", "name": "openssl", "version": "1"}],
               "vulnerabilities": [{"id": "CVE-2024-1", "ratings": [{"severity": "high"}], "affects": [{"ref": "p"}]}]})
        .to_string()
    };
    for n in 0..MAX_SCANNERS_PER_IMAGE {
        let answer = post(&harness, DIGEST, &bom(&format!("scanner-{n}"))).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let one_more = post(&harness, DIGEST, &bom("scanner-extra")).await;
    assert_eq!(
        (one_more.status, one_more.body["detail"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("scanner"))
    );
    assert_eq!(post(&harness, DIGEST, &bom("scanner-3")).await.status, StatusCode::CREATED, "a known scanner");
    let read = image(&harness, DIGEST).await;
    assert_eq!(read.body["scanners"].as_array().unwrap().len(), MAX_SCANNERS_PER_IMAGE);
}

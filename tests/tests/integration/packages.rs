//! SBOMs joined to the inventory, against moto: posts that write only what changed, the package
//! search by purl and `vers` range now and at a past time, Anchore's by-package query, and
//! package watches firing once per place.

use integration_tests::{caller_event, day, digest, k8s_report, Harness, Notifications};
use inventory_store::auth::{Caller, Role};
use inventory_store::Clock;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const XZ_RANGE: &str = "vers:deb/>=5.6.0|<=5.6.1";

/// The real Debian system SBOM of `tests/fixtures/sboms` (debsbom, CycloneDX 1.7, 1,147 packages).
fn debian_sbom() -> String {
    let path = local_stack::moto::workspace_root().join("tests/fixtures/sboms/debian-bookworm-system.cdx.json.gz");
    String::from_utf8(inventory_store::gzip::decompress(&std::fs::read(path).unwrap()).unwrap()).unwrap()
}

/// The same system with the backdoored xz (CVE-2024-3094): xz-utils and the binaries built from
/// it at 5.6.1-1.
fn backdoored(sbom: &str) -> String {
    ["xz-utils", "liblzma5", "liblzma-dev"]
        .iter()
        .fold(sbom.to_owned(), |sbom, name| sbom.replace(&format!("{name}@5.4.1-1"), &format!("{name}@5.6.1-1")))
}

fn sbom_path(n: u64) -> String {
    format!("/v2/images/{}/sbom", digest(n))
}

async fn deliver(notifications: &mut Notifications) {
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
}

async fn search(harness: &Harness, query: &[(&str, &str)]) -> Value {
    let found = harness.request("GET", "/v2/packages", None, query).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    found.body
}

/// (purl, digests) of each row of a search.
fn rows(found: &Value) -> Vec<(String, Vec<String>)> {
    found["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let images = row["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|image| image["image_digest"].as_str().unwrap().to_owned());
            (row["purl"].as_str().unwrap().to_owned(), images.collect())
        })
        .collect()
}

/// What a watch fired since the last read: (watch, context, digest).
async fn watched(notifications: &Notifications) -> Vec<(String, String, String)> {
    let mut fired: Vec<(String, String, String)> = notifications
        .received()
        .await
        .iter()
        .filter(|event| event["detail-type"] == inventory_store::bus::WATCHED_PACKAGE_DETAIL_TYPE)
        .map(|event| {
            let detail = &event["detail"];
            let field = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            (field(&detail["watch"]["watch_id"]), field(&detail["context"]), field(&detail["image_digest"]))
        })
        .collect();
    fired.sort();
    fired
}

/// The done-when scenario of issue 36.
#[tokio::test]
async fn the_backdoored_xz_is_found_where_it_runs_not_before_it_ran_and_a_watch_fires_once_per_place() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let started = day(0);
    let running = [
        ("web", "registry.example.com/shop/web:1", 1),
        ("batch", "registry.example.com/shop/batch:7", 2),
        ("api", "registry.example.com/shop/api:3", 3),
    ];
    assert_eq!(harness.post_k8s(&k8s_report("prod", started, &running)).await.status, StatusCode::CREATED);
    deliver(&mut notifications).await;

    let sbom = debian_sbom();
    for (n, document) in [(1, sbom.clone()), (2, backdoored(&sbom)), (3, sbom.clone())] {
        let posted = harness.request("POST", &sbom_path(n), Some(&document), &[]).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
        assert_eq!((posted.body["format"].clone(), posted.body["packages"].clone()), (json!("cyclonedx"), json!(1147)));
    }
    deliver(&mut notifications).await;

    let query = [("purl", "pkg:deb/debian/xz-utils"), ("range", XZ_RANGE)];
    let found = search(&harness, &query).await;
    let only_two = vec![digest(2)];
    assert_eq!(
        rows(&found),
        [
            ("pkg:deb/debian/liblzma-dev@5.6.1-1?arch=amd64".to_owned(), only_two.clone()),
            ("pkg:deb/debian/liblzma5@5.6.1-1?arch=amd64".to_owned(), only_two.clone()),
            ("pkg:deb/debian/xz-utils@5.6.1-1?arch=amd64".to_owned(), only_two.clone()),
            ("pkg:deb/debian/xz-utils@5.6.1-1?arch=source".to_owned(), only_two.clone()),
        ],
        "the binaries built from xz-utils and the source, in image 2 only: {found}"
    );
    let image = &found["packages"][1]["images"][0];
    assert_eq!(found["packages"][1]["source"], "xz-utils");
    assert_eq!(image["image_tags"], json!(["registry.example.com/shop/batch:7"]));
    let context = &image["contexts"][0];
    assert_eq!(
        (context["inventory_type"].clone(), context["context"].clone()),
        (json!("kubernetes"), json!("prod/batch"))
    );
    assert_eq!(context["workloads"][0]["name"], "pod-1", "{context}");
    // Without the range, every version: the 5.4.1 of the other two images too.
    let any_version = search(&harness, &[("purl", "pkg:deb/debian/xz-utils?arch=source")]).await;
    assert_eq!(
        rows(&any_version),
        [
            ("pkg:deb/debian/xz-utils@5.4.1-1?arch=source".to_owned(), vec![digest(1), digest(3)]),
            ("pkg:deb/debian/xz-utils@5.6.1-1?arch=source".to_owned(), only_two.clone()),
        ]
    );

    // At a time: nothing before it started, image 2 while it ran.
    let before = (started - chrono::TimeDelta::hours(1)).to_rfc3339();
    assert_eq!(search(&harness, &[query[0], query[1], ("at", &before)]).await["packages"], json!([]));
    let while_running = (started + chrono::TimeDelta::seconds(30)).to_rfc3339();
    let then = search(&harness, &[query[0], query[1], ("at", &while_running)]).await;
    assert_eq!(rows(&then).len(), 4, "{then}");
    assert_eq!(then["packages"][0]["images"][0]["contexts"][0]["context"], "prod/batch");

    // Anchore's query on the same data.
    let anchore = harness
        .request(
            "GET",
            "/v2/query/images/by-package",
            None,
            &[("name", "xz-utils"), ("package_type", "dpkg"), ("version", "5.6.1-1")],
        )
        .await;
    assert_eq!(anchore.status, StatusCode::OK, "{}", anchore.body);
    assert_eq!((anchore.body["returned_count"].clone(), anchore.body["page"].clone()), (json!(1), json!("1")));
    assert_eq!(anchore.body["images"][0]["image"]["digest"], digest(2));
    assert_eq!(anchore.body["images"][0]["packages"][0]["will_not_fix"], false);

    // A watch: it fires for where the backdoor runs already, then once for a second context.
    let watch = json!({"purl": "pkg:deb/debian/xz-utils", "range": XZ_RANGE});
    let created = harness.request("POST", "/v2/package-watches", Some(&watch.to_string()), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let watch_id = created.body["watch_id"].as_str().unwrap().to_owned();
    deliver(&mut notifications).await;
    assert_eq!(watched(&notifications).await, [(watch_id.clone(), "prod/batch".to_owned(), digest(2))]);

    harness.clock.advance(chrono::TimeDelta::minutes(5));
    let second = [running[0], running[1], running[2], ("jobs", "registry.example.com/shop/batch:7", 2)];
    assert_eq!(harness.post_k8s(&k8s_report("prod", harness.clock.now(), &second)).await.status, StatusCode::CREATED);
    deliver(&mut notifications).await;
    assert_eq!(watched(&notifications).await, [(watch_id.clone(), "prod/jobs".to_owned(), digest(2))]);

    // Once: the same SBOM again and another report announce nothing more.
    let again = harness.request("POST", &sbom_path(2), Some(&backdoored(&sbom)), &[]).await;
    assert_eq!((again.body["unchanged"].clone(), again.body["index_writes"].clone()), (json!(true), json!(0)));
    harness.clock.advance(chrono::TimeDelta::minutes(5));
    assert_eq!(harness.post_k8s(&k8s_report("prod", harness.clock.now(), &second)).await.status, StatusCode::CREATED);
    deliver(&mut notifications).await;
    assert_eq!(watched(&notifications).await, []);

    let listed = harness.request("GET", "/v2/package-watches", None, &[]).await;
    assert_eq!(listed.body["items"][0]["created_by"], "test-admin");
    let gone = harness.request("DELETE", &format!("/v2/package-watches/{watch_id}"), None, &[]).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        harness.request("GET", &format!("/v2/package-watches/{watch_id}"), None, &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

/// A watch made before the SBOM arrives fires when it does, where the image runs.
#[tokio::test]
async fn a_watch_fires_when_the_sbom_of_a_running_image_arrives() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let watch = json!({"name": "liblzma5", "type": "deb", "version": "5.6.1-1"});
    let created = harness.request("POST", "/v2/package-watches", Some(&watch.to_string()), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        harness.post_k8s(&k8s_report("prod", day(0), &[("web", "registry.example.com/shop/web:1", 5)])).await.status,
        StatusCode::CREATED
    );
    deliver(&mut notifications).await;
    assert_eq!(watched(&notifications).await, [], "no SBOM, nothing known to match");
    let posted = harness.request("POST", &sbom_path(5), Some(&backdoored(&debian_sbom())), &[]).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    deliver(&mut notifications).await;
    let watch_id = created.body["watch_id"].as_str().unwrap().to_owned();
    assert_eq!(watched(&notifications).await, [(watch_id, "prod/web".to_owned(), digest(5))]);
}

#[tokio::test]
async fn an_sbom_replaces_the_one_before_writing_only_what_changed_and_reads_back() {
    let harness = Harness::new(120, false).await;
    let sbom = debian_sbom();
    harness.requests.reset();
    let first = harness.request("POST", &sbom_path(1), Some(&sbom), &[]).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let entries = first.body["index_writes"].as_u64().unwrap();
    // Each package under its name, and each binary whose source package has another name under
    // the source's too.
    let parsed = inventory_store::sbom::parse_sbom(sbom.as_bytes()).unwrap();
    let built_from_another = parsed.packages.iter().filter(|package| package.source.is_some()).count() as u64;
    assert_eq!((entries, built_from_another), (1147 + 595, 595), "{}", first.body);
    println!("first post: {entries} index entries, {} BatchWriteItem", harness.requests.get("BatchWriteItem"));

    harness.requests.reset();
    let again = harness.request("POST", &sbom_path(1), Some(&sbom), &[]).await;
    assert_eq!((again.body["unchanged"].clone(), again.body["index_writes"].clone()), (json!(true), json!(0)));
    assert_eq!(harness.requests.get("BatchWriteItem"), 0, "an unchanged re-post writes no index entry and no chunk");
    assert_eq!(
        (harness.requests.get("PutItem"), harness.requests.get("Query")),
        (2, 1),
        "lease and commit; the chunks"
    );

    let replaced = harness.request("POST", &sbom_path(1), Some(&backdoored(&sbom)), &[]).await;
    assert_eq!(
        replaced.body["index_writes"],
        2 * 6,
        "three packages and their source filings, put and deleted: {}",
        replaced.body
    );
    let old = search(&harness, &[("purl", "pkg:deb/debian/xz-utils@5.4.1-1"), ("running", "any")]).await;
    assert_eq!(old["packages"], json!([]), "the replaced SBOM's entries are gone");
    let stored = harness.stored_items().await;
    let chunks: BTreeSet<String> = stored
        .iter()
        .filter(|item| item["pk"].as_s().unwrap().starts_with("admin#sbom#"))
        .map(|item| item["sk"].as_s().unwrap().clone())
        .collect();
    assert_eq!(chunks.len(), 3, "the record, one chunk of packages, one of the document: {chunks:?}");

    let page = harness.request("GET", &sbom_path(1), None, &[("limit", "10")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        (page.body["package_count"].clone(), page.body["packages"].as_array().unwrap().len()),
        (json!(1147), 10)
    );
    let next = page.body["next"].as_str().unwrap().to_owned();
    let after = harness.request("GET", &sbom_path(1), None, &[("limit", "10"), ("next", &next)]).await;
    assert!(after.body["packages"][0]["purl"].as_str().unwrap() > next.as_str());
    let document = harness.request("GET", &format!("{}/document", sbom_path(1)), None, &[]).await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.body, serde_json::from_str::<Value>(&backdoored(&sbom)).unwrap(), "the document as posted");
    assert_eq!(harness.request("GET", &sbom_path(9), None, &[]).await.status, StatusCode::NOT_FOUND);

    // A document naming another image is kept, and the answer says which it names.
    let named = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "a", "purl": "pkg:npm/a@1"}],
                       "metadata": {"component": {"type": "container", "name": "app", "version": digest(7)}}});
    let posted = harness.request("POST", &sbom_path(8), Some(&named.to_string()), &[]).await;
    assert_eq!(posted.body["digest_mismatch"], json!({"document_digests": [digest(7)]}), "{}", posted.body);
    let posted = harness.request("POST", &sbom_path(7), Some(&named.to_string()), &[]).await;
    assert!(posted.body.get("digest_mismatch").is_none(), "{}", posted.body);

    // An image with an SBOM that runs nowhere: only with running=any.
    let any = search(&harness, &[("purl", "pkg:deb/debian/xz-utils@5.6.1-1?arch=source"), ("running", "any")]).await;
    assert_eq!(rows(&any), [("pkg:deb/debian/xz-utils@5.6.1-1?arch=source".to_owned(), vec![digest(1)])]);
    assert_eq!(any["packages"][0]["images"][0]["contexts"], json!([]));
    assert_eq!(
        search(&harness, &[("purl", "pkg:deb/debian/xz-utils@5.6.1-1?arch=source")]).await["packages"],
        json!([])
    );
}

/// The search reads the index partition of the name asked for and the places of the images
/// carrying it: the other images' SBOMs cost nothing. `PACKAGE_SEARCH_IMAGES` and
/// `PACKAGE_SEARCH_PACKAGES` (default 30 and 20) size the fleet for BENCHMARKS.md; its read units
/// are printed beside a `Scan` of the fleet's SBOMs (`-- --nocapture`).
#[tokio::test]
async fn a_search_costs_the_images_carrying_the_name_not_the_fleets_sboms() {
    let harness = Harness::new(120, false).await;
    let size = |name: &str, default: u64| std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default);
    let (images, packages) = (size("PACKAGE_SEARCH_IMAGES", 30), size("PACKAGE_SEARCH_PACKAGES", 20));
    let carrying = 3;
    for n in 1..=images {
        let mut components: Vec<Value> = (0..packages)
            .map(|p| json!({"name": format!("lib{p}"), "purl": format!("pkg:npm/lib{p}@1.0.{n}")}))
            .collect();
        if n <= carrying {
            components.push(json!({"name": "event-stream", "purl": "pkg:npm/event-stream@3.3.6"}));
        }
        let sbom = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components});
        let posted = harness.request("POST", &sbom_path(n), Some(&sbom.to_string()), &[]).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    }
    let running: Vec<(&str, &str, u64)> = (1..=images).map(|n| ("web", "registry.example.com/app:1", n)).collect();
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &running)).await.status, StatusCode::CREATED);
    let mut notifications = harness.notifications().await;
    deliver(&mut notifications).await;

    harness.requests.reset();
    let found = search(&harness, &[("purl", "pkg:npm/event-stream"), ("range", "vers:npm/>=3.3.6|<4")]).await;
    assert_eq!(rows(&found), [("pkg:npm/event-stream@3.3.6".to_owned(), (1..=carrying).map(digest).collect())]);
    assert_eq!(harness.requests.get("Query"), 1 + carrying, "the name's partition, then each carrier's places");
    assert_eq!(
        harness.requests.get("Scan") + harness.requests.get("BatchGetItem") + harness.requests.get("GetItem"),
        0
    );

    // Read units as DynamoDB bills them: the name's partition (eventually consistent), each
    // carrier's places (consistent); beside a Scan of every image's SBOM items.
    let stored = harness.stored_items().await;
    let bytes = |keep: &dyn Fn(&str, &str) -> bool| -> usize {
        stored
            .iter()
            .filter(|item| keep(item["pk"].as_s().unwrap(), item["sk"].as_s().unwrap()))
            .map(integration_tests::item_size)
            .sum()
    };
    let index = bytes(&|pk, _| pk == "admin#pkg#npm/event-stream") as f64 / 4096.0 / 2.0;
    let places: f64 = (1..=carrying)
        .map(|n| {
            integration_tests::read_units(bytes(&|pk, sk| pk.starts_with("admin#run#") && sk.starts_with(&digest(n))))
                as f64
        })
        .sum();
    let scan = bytes(&|pk, _| pk.contains("#pkg#") || pk.contains("#sbom#")) as f64 / 4096.0 / 2.0;
    let search_units = index.ceil().max(0.5) + places;
    println!(
        "{images} images x {packages} packages, {carrying} carry the name: search {} requests, {search_units:.1} read units; a Scan of the SBOMs {scan:.1} read units ({:.4}x)",
        1 + carrying,
        search_units / scan
    );
    assert!(search_units < scan, "{search_units} against {scan}");
}

#[tokio::test]
async fn bad_sboms_and_searches_are_refused_naming_the_field_and_store_nothing() {
    use std::io::Write;
    let harness = Harness::new(120, false).await;
    let refused = |body: String, field: &'static str| {
        let harness = &harness;
        async move {
            let answer = harness.request("POST", &sbom_path(1), Some(&body), &[]).await;
            assert_eq!(
                (answer.status, answer.body["detail"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some(field)),
                "{}",
                answer.body
            );
        }
    };
    refused("not json".into(), "body").await;
    refused(json!({"matches": []}).to_string(), "body").await;
    refused(json!({"bomFormat": "CycloneDX", "specVersion": "1.6"}).to_string(), "components").await;
    let many: Vec<Value> = (0..20_001).map(|n| json!({"name": "a", "version": n.to_string()})).collect();
    refused(json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": many}).to_string(), "packages").await;
    // A gzip bomb: past the bound once inflated.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; 70 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    let mut event = caller_event(
        &Caller { user: "s".into(), account: "admin".into(), role: Role::Scanner },
        "POST",
        &sbom_path(1),
        None,
        &[],
    );
    event["body"] = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bomb).into();
    event["isBase64Encoded"] = true.into();
    event["headers"]["content-encoding"] = "gzip".into();
    event["headers"]["content-type"] = "application/json".into();
    let answer = harness.send(event).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.body);
    let stored = harness.stored_items().await;
    assert!(stored.iter().all(|item| !item["pk"].as_s().unwrap().starts_with("admin#")), "nothing is stored");

    // One bad purl in a good SBOM is skipped and listed.
    let sbom = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"name": "ok", "purl": "pkg:npm/ok@1.0.0"}, {"name": "bad", "purl": "pkg:"}]});
    let posted = harness.request("POST", &sbom_path(1), Some(&sbom.to_string()), &[]).await;
    assert_eq!(
        (posted.status, posted.body["packages"].clone(), posted.body["skipped_count"].clone()),
        (StatusCode::CREATED, json!(1), json!(1))
    );
    assert_eq!(posted.body["skipped"][0]["at"], "components[1]");

    for (query, field) in [
        (&[("purl", "pkg:npm/ok"), ("range", "vers:npm/>=")][..], "range"),
        (&[("purl", "pkg:npm/ok"), ("range", "vers:generic/>=1")][..], "range"),
        (&[("purl", "npm/ok")][..], "purl"),
        (&[("purl", "pkg:npm/ok"), ("at", "yesterday")][..], "at"),
    ] {
        let answer = harness.request("GET", "/v2/packages", None, query).await;
        assert_eq!(
            (answer.status, answer.body["detail"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{}",
            answer.body
        );
    }
    let watch = harness
        .request("POST", "/v2/package-watches", Some(r#"{"purl": "pkg:npm/ok", "range": "vers:pypi/>=1"}"#), &[])
        .await;
    assert_eq!((watch.status, watch.body["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("range")));
    // A read-only user may search, not watch.
    let reader = Caller { user: "r".into(), account: "admin".into(), role: Role::ReadOnly };
    let searched = harness.send(caller_event(&reader, "GET", "/v2/packages", None, &[("purl", "pkg:npm/ok")])).await;
    assert_eq!(searched.status, StatusCode::OK);
}

/// A burst of images starting to run costs the account's watches once per batch, and each
/// watch's index partition once, whatever the number of images: no read per image.
#[tokio::test]
async fn a_burst_reads_the_watches_and_their_index_partitions_once() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let sbom = json!({"bomFormat": "CycloneDX", "specVersion": "1.6",
                      "components": [{"name": "event-stream", "purl": "pkg:npm/event-stream@3.3.6"}]});
    for n in 1..=2 {
        assert_eq!(
            harness.request("POST", &sbom_path(n), Some(&sbom.to_string()), &[]).await.status,
            StatusCode::CREATED
        );
    }
    for watch in [json!({"purl": "pkg:npm/event-stream"}), json!({"name": "flatmap-stream", "type": "npm"})] {
        let created = harness.request("POST", "/v2/package-watches", Some(&watch.to_string()), &[]).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    deliver(&mut notifications).await;
    assert_eq!(watched(&notifications).await, [], "nothing runs yet");

    let images = 20;
    let running: Vec<(&str, &str, u64)> = (1..=images).map(|n| ("web", "registry.example.com/app:1", n)).collect();
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &running)).await.status, StatusCode::CREATED);
    let batch = notifications.next_event().await;
    harness.requests.reset();
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
    // The subscriptions and the watches of the account; each watch's index partition.
    assert_eq!(harness.requests.get("Query"), 2 + 2);
    let fired = watched(&notifications).await;
    assert_eq!(fired.iter().map(|(_, _, digest)| digest.clone()).collect::<Vec<_>>(), [digest(1), digest(2)]);
}

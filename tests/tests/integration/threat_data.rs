//! The threat data loads against moto: the repository's KEV catalog and an EPSS file in FIRST's
//! shape served on loopback (`local_stack::feeds`), stored whole or not at all, and an unchanged
//! day written not at all.

use findings_sync::threat::{Sources, ThreatConfig, THREAT_DATA_DETAIL_TYPE};
use findings_sync::{FindingsSyncApp, RunSummary};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use integration_tests::Harness;
use inventory_runtime::EventFunction;
use inventory_store::threat::{ThreatData, ThreatReader};
use lambda_http::http::StatusCode;
use local_stack::feeds::{fixture, FeedServer, EPSS_FILE, KEV_FILE};
use std::io::{Read, Write};

fn epss_text() -> String {
    let mut text = String::new();
    GzDecoder::new(&fixture("epss_scores-sample.csv.gz").unwrap()[..]).read_to_string(&mut text).unwrap();
    text
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

async fn stored(harness: &Harness) -> ThreatData {
    ThreatReader::new(harness.store_for("findings-sync")).current().await.expect("the stored feeds read")
}

fn log4shell_epss(data: &ThreatData) -> f64 {
    data.facts("CVE-2021-44228").epss.expect("scored").epss.value()
}

/// The items of every threat data partition (the test's own scan, outside any function).
async fn threat_items(harness: &Harness) -> usize {
    let output = harness
        .dynamodb
        .scan()
        .table_name(&harness.table)
        .filter_expression("begins_with(pk, :threat)")
        .expression_attribute_values(":threat", aws_sdk_dynamodb::types::AttributeValue::S("threat".into()))
        .send()
        .await
        .unwrap();
    output.items().len()
}

#[tokio::test]
async fn the_feeds_load_whole_and_an_unchanged_day_writes_nothing() {
    let harness = Harness::new(120, false).await;
    let feeds = FeedServer::start().await.unwrap();
    let loader = harness.threat_loader(&feeds);
    assert!(stored(&harness).await.kev.is_none(), "nothing is invented before a load");

    let first = loader.load().await;
    assert_eq!(first.failure(), None);
    assert_eq!((first.kev.outcome, first.kev.entries, first.kev.version.as_str()), ("loaded", 1404, "2025.08.25"));
    assert_eq!((first.epss.outcome, first.epss.entries, first.epss.dated.as_str()), ("loaded", 4404, "2026-12-06"));
    // One chunk each (KEV is some 200 KB compressed, the sample EPSS 40 KB) and the record.
    assert_eq!((first.kev.items_written, first.epss.items_written), (2, 2));
    let data = stored(&harness).await;
    let entry = data.facts("CVE-2021-44228").kev.expect("listed");
    assert_eq!((entry.due_date.to_string(), entry.ransomware()), ("2021-12-24".to_owned(), true));
    assert_eq!(log4shell_epss(&data), 0.94358);

    harness.requests.reset();
    let again = loader.load().await;
    assert_eq!((again.kev.outcome, again.epss.outcome), ("unchanged", "unchanged"));
    assert_eq!(harness.requests.writes(), 0, "an unchanged day writes no item");
    assert_eq!(harness.requests.get("Query"), 1, "one read of the feeds' records");

    // A new EPSS day: that feed alone is written, and its previous generation removed.
    let next_day = epss_text()
        .replace("2026-12-06T12:55:00", "2026-12-07T12:55:00")
        .replace("CVE-2021-44228,0.94358", "CVE-2021-44228,0.94400");
    feeds.serve(EPSS_FILE, StatusCode::OK, gzip(&next_day));
    harness.requests.reset();
    let changed = loader.load().await;
    assert_eq!(
        (changed.kev.outcome, changed.epss.outcome, changed.epss.dated.as_str()),
        ("unchanged", "loaded", "2026-12-07")
    );
    assert_eq!(changed.epss.items_written, 3, "the new chunk, the record, the old chunk's delete");
    assert_eq!(harness.requests.get("BatchWriteItem") + harness.requests.get("PutItem"), 3);
    assert_eq!(log4shell_epss(&stored(&harness).await), 0.944);
    assert_eq!(threat_items(&harness).await, 4, "two records and one generation of each feed");
}

#[tokio::test]
async fn a_feed_that_is_not_whole_keeps_the_stored_data_and_fails_the_run() {
    let harness = Harness::new(120, false).await;
    let feeds = FeedServer::start().await.unwrap();
    let loader = harness.threat_loader(&feeds);
    assert_eq!(loader.load().await.failure(), None);
    let kept = stored(&harness).await;

    let published = fixture("epss_scores-sample.csv.gz").unwrap();
    let bad_epss = [
        (StatusCode::OK, published[..published.len() / 2].to_vec(), "truncated or corrupt"),
        (StatusCode::OK, gzip(&epss_text().replace("CVE-2021-44228,0.94358", "CVE-2021-44228,1.5")), "line "),
        (StatusCode::OK, gzip(&epss_text().replace("CVE-2021-44228", "CVE-21-44228")), "is not a CVE id"),
        (StatusCode::OK, gzip(""), "line 1"),
        (StatusCode::INTERNAL_SERVER_ERROR, Vec::new(), "answered HTTP 500"),
    ];
    for (status, body, says) in bad_epss {
        feeds.serve(EPSS_FILE, status, body);
        harness.requests.reset();
        let summary = loader.load().await;
        let failure = summary.failure().expect("the run fails");
        assert!(failure.contains(says) && failure.contains("epss: "), "{failure}");
        assert_eq!((summary.kev.outcome, summary.epss.outcome), ("unchanged", "failed"));
        assert_eq!(harness.requests.writes(), 0, "{says}: nothing is written");
    }
    let kev = String::from_utf8(fixture(KEV_FILE).unwrap()).unwrap().replacen(
        "\"dueDate\": \"2025-09-15\"",
        "\"dueDate\": \"soon\"",
        1,
    );
    feeds.serve(KEV_FILE, StatusCode::OK, kev);
    let failure = loader.load().await.failure().unwrap();
    assert!(failure.contains("kev: the feed is not the documented shape: vulnerabilities[0].dueDate"), "{failure}");
    let still = stored(&harness).await;
    assert_eq!(log4shell_epss(&still), log4shell_epss(&kept));
    assert_eq!(still.kev.unwrap().len(), 1404);

    // As deployed: the schedule's event fails the invocation (the errors alarm).
    let environment = harness
        .environment()
        .set(findings_sync::threat::EPSS_FEED_URL, feeds.url(EPSS_FILE))
        .set(findings_sync::threat::KEV_FEED_URL, feeds.url(KEV_FILE));
    let deployed = |name: &str| harness.environment().lookup(name);
    let config = findings_sync::Config {
        threat: ThreatConfig::from_lookup(|name| environment.lookup(name), Sources::Local).unwrap(),
        ..findings_sync::Config::from_lookup(deployed, Some(local_stack::LOCAL_REGION)).unwrap()
    };
    let app = FindingsSyncApp::build(&harness.sdk_for("findings-sync"), config, harness.clock.clone()).await;
    let event = serde_json::from_value(threat_schedule_input()).unwrap();
    let error = app.handle(lambda_runtime::LambdaEvent::new(event, Default::default())).await.unwrap_err();
    assert!(error.to_string().contains("stored data kept"), "{error}");
    feeds.serve(KEV_FILE, StatusCode::OK, fixture(KEV_FILE).unwrap());
    feeds.serve(EPSS_FILE, StatusCode::OK, published);
    let event = serde_json::from_value(threat_schedule_input()).unwrap();
    let summary = app.handle(lambda_runtime::LambdaEvent::new(event, Default::default())).await.unwrap();
    assert!(matches!(summary, RunSummary::Threat(ref threat) if threat.kev.outcome == "unchanged"), "{summary:?}");
}

/// The constant input of the template's threat data schedule.
fn threat_schedule_input() -> serde_json::Value {
    let template = integration_tests::template::template();
    let input = template["Resources"]["FindingsSyncFunction"]["Properties"]["Events"]["ThreatData"]["Properties"]
        ["Input"]
        .as_str()
        .expect("the schedule has a constant input");
    let input: serde_json::Value = serde_json::from_str(input).unwrap();
    assert_eq!(input["detail-type"], THREAT_DATA_DETAIL_TYPE);
    input
}

#[tokio::test]
async fn a_mirror_in_s3_is_read() {
    let harness = Harness::new(120, false).await;
    let s3 = inventory_runtime::sdk::s3_client(&inventory_runtime::Sdk::new(integration_tests::moto_config().await));
    let bucket = format!("threat-mirror-{}", harness.table);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for (key, name) in [("kev.json", KEV_FILE), ("epss.csv.gz", "epss_scores-sample.csv.gz")] {
        let body = aws_sdk_s3::primitives::ByteStream::from(fixture(name).unwrap());
        s3.put_object().bucket(&bucket).key(format!("feeds/{key}")).body(body).send().await.unwrap();
    }
    let feeds = FeedServer::start().await.unwrap();
    let environment = harness
        .environment()
        .set(findings_sync::threat::KEV_FEED_URL, format!("s3://{bucket}/feeds/kev.json"))
        .set(findings_sync::threat::EPSS_FEED_URL, format!("s3://{bucket}/feeds/epss.csv.gz"));
    let loader = local_stack::threat_data::loader(
        &harness.sdk_for("findings-sync"),
        harness.store_for("findings-sync"),
        &environment,
        &feeds,
        harness.clock.clone(),
    )
    .unwrap();
    let summary = loader.load().await;
    assert_eq!(summary.failure(), None);
    assert_eq!((summary.kev.entries, summary.epss.entries), (1404, 4404));
    assert_eq!(feeds.requests(), 0, "nothing was read from the loopback server");
    assert_eq!(log4shell_epss(&stored(&harness).await), 0.94358);
}

#[tokio::test]
async fn a_running_images_log4shell_finding_carries_its_kev_entry_its_epss_and_its_risk() {
    use integration_tests::{day, digest, k8s_report};
    let harness = Harness::new(120, false).await;
    let containers = [("default", "shop/search:1", 1), ("batch", "shop/search:1", 1)];
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &containers)).await.status, StatusCode::CREATED);
    let scanners = local_stack::moto::workspace_root().join("tests/fixtures/scanners/trivy.json");
    let trivy = std::fs::read_to_string(scanners).unwrap().replace("CVE-2019-1549", "CVE-2021-44228");
    let path = format!("/v2/images/{}/vulnerabilities", digest(1));
    let posted =
        harness.call_path("post-image-vulnerabilities.json", Some(&path), Some(&trivy), Some("admin"), &[]).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    let image = || harness.call_path("get-image-vulnerabilities.json", Some(&path), None, Some("admin"), &[]);
    let finding = |body: &serde_json::Value, id: &str| {
        body["findings"].as_array().unwrap().iter().find(|finding| finding["vulnerability_id"] == id).cloned().unwrap()
    };

    let before = image().await.body;
    let log4shell = finding(&before, "CVE-2021-44228");
    assert_eq!((log4shell.get("is_kev"), log4shell.get("epss")), (None, None), "not loaded: absent, never invented");
    assert_eq!(before["vulnerabilities"].get("kev"), None);

    let feeds = FeedServer::start().await.unwrap();
    assert_eq!(harness.threat_loader(&feeds).load().await.failure(), None);
    let after = image().await.body;
    let log4shell = finding(&after, "CVE-2021-44228");
    assert_eq!(log4shell["is_kev"], true, "{log4shell}");
    assert_eq!(
        log4shell["kev"],
        serde_json::json!({"date_added": "2021-12-10", "due_date": "2021-12-24", "known_ransomware_campaign_use": "Known",
            "required_action": "For all affected software assets for which updates exist, the only acceptable remediation actions are: 1) Apply updates; OR 2) remove affected assets from agency networks. Temporary mitigations using one of the measures provided at https://www.cisa.gov/uscert/ed-22-02-apache-log4j-recommended-mitigation-measures are only acceptable until updates are available."})
    );
    assert_eq!(log4shell["epss"], serde_json::json!({"epss": 0.94358, "percentile": 0.9999, "date": "2026-12-06"}));
    assert_eq!(log4shell["fix_available"], true);
    let unlisted = finding(&after, "CVE-2024-24790");
    assert_eq!((unlisted["is_kev"].as_bool(), unlisted.get("kev")), (Some(false), None));
    assert!(log4shell["risk"].as_f64().unwrap() > unlisted["risk"].as_f64().unwrap());
    assert_eq!(after["vulnerabilities"]["kev"], 1);

    let exposure = harness
        .call_path("get-vulnerability.json", Some("/v2/vulnerabilities/CVE-2021-44228"), None, Some("admin"), &[])
        .await;
    assert_eq!(exposure.status, StatusCode::OK, "{}", exposure.body);
    assert_eq!(
        (exposure.body["is_kev"].as_bool(), exposure.body["kev"]["due_date"].as_str()),
        (Some(true), Some("2021-12-24"))
    );
    let row = &exposure.body["images"][0];
    assert_eq!((row["image_digest"].as_str(), row["is_kev"].as_bool()), (Some(digest(1).as_str()), Some(true)));
    // Two workloads run it (one per namespace): breadth 1 + log10(3) / 2.
    let impact = row["cvss_score"].as_f64().unwrap_or(9.5);
    let expected = (impact * 12.0 * 1.2 * (1.0 + 3f64.log10() / 2.0) * 100.0).round() / 100.0;
    assert_eq!(row["risk"].as_f64(), Some(expected), "{row}");
}

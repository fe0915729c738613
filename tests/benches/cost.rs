//! Dollars per cluster-month (`make bench-cost`): a fleet mix of clusters driven through the real
//! ingest code against moto, each poll's DynamoDB requests counted at the SDK's HTTP layer and its
//! read and write units computed from item sizes as DynamoDB bills them, priced at on-demand list
//! prices beside the design before content hashes (which read the whole context every poll).
//!
//! Per cluster size it measures one first report, one unchanged poll, one poll with 1% of the
//! containers changed and one daily refresh, then scales them to a month of 60-second polls with
//! 1% churn an hour. Under `cargo test` it runs one small cluster as a smoke test.
//!
//! Findings: one image's findings posted (100 findings, trivy's shape), the same findings posted
//! again (what the daily sync does for an image whose findings did not change) and a changed
//! post, measured the same way, then priced for the mix's distinct images.
//!
//! SBOMs: one image's SBOM of 1,000 packages (the real Debian system's first 1,000 components)
//! posted, posted again unchanged, its storage measured; priced for the mix's images, each image
//! new (its SBOM posted) once a month.
//!
//! Threat data: the real KEV catalog and a full-size EPSS file (300,000 rows) loaded, loaded
//! again unchanged, and a new EPSS day, each metered; priced for a day of the fleet.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::TimeDelta;
use integration_tests::write_keys::{item_writes, ItemWrite};
use integration_tests::{day, item_size, k8s_report, read_units, Harness};
use std::sync::{Arc, Mutex};

/// US East (N. Virginia) list prices, in dollars.
const DYNAMODB_PER_MILLION_WRITE_UNITS: f64 = 0.625;
const DYNAMODB_PER_MILLION_READ_UNITS: f64 = 0.125;
const DYNAMODB_PER_GB_MONTH: f64 = 0.25;
const LAMBDA_ARM_PER_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
/// HTTP APIs meter each 512 KB of a request as one request.
const HTTP_API_PER_MILLION_REQUESTS: f64 = 1.00;

const POLLS_PER_MONTH: f64 = 30.0 * 24.0 * 60.0;
const CHURN_POLLS_PER_MONTH: f64 = 30.0 * 24.0;
const REFRESHES_PER_MONTH: f64 = 30.0;

/// Write units of every write request the client sends: a put costs a unit per KB of its item,
/// a delete or update one. With `only`, the writes of items whose `pk` contains one of these.
#[derive(Clone, Debug, Default)]
struct WriteMeter(Arc<Mutex<usize>>, Option<&'static [&'static str]>);

impl WriteMeter {
    fn take(&self) -> usize {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for WriteMeter {
    fn name(&self) -> &'static str {
        "WriteMeter"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metered = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
            let pk = item.get("pk").and_then(|pk| pk.as_s().ok()).map_or("", String::as_str);
            self.1.is_none_or(|only| only.iter().any(|part| pk.contains(part)))
        };
        let units: usize = item_writes(context.input())
            .iter()
            .filter(|write| match write {
                ItemWrite::Put(item) | ItemWrite::Key(item) => metered(item),
            })
            .map(|write| match write {
                ItemWrite::Put(item) => item_size(item).div_ceil(1024).max(1),
                ItemWrite::Key(_) => 1,
            })
            .sum();
        *self.0.lock().unwrap() += units;
        Ok(())
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Poll {
    write_units: f64,
    read_units: f64,
    /// Reading the whole context, as the design before content hashes did on every poll.
    full_read_units: f64,
    body_bytes: f64,
}

struct Cluster {
    containers: usize,
    first: Poll,
    unchanged: Poll,
    churn: Poll,
    refresh: Poll,
    stored_bytes: f64,
}

fn containers_of(size: usize, generation: usize) -> Vec<(String, u64)> {
    let namespaces = size.div_ceil(500);
    let changed = if generation == 0 { 0 } else { size.div_ceil(100) };
    (0..size)
        .map(|i| (format!("ns-{}", i % namespaces), if i < changed { 10_000 + i as u64 } else { i as u64 % 200 }))
        .collect()
}

async fn measure(size: usize) -> Cluster {
    let harness = Harness::new(120, false).await;
    let meter = WriteMeter::default();
    let ingest = harness.ingest_with(meter.clone());
    let poll = |minute: i64, generation: usize| {
        let (harness, ingest, meter) = (&harness, &ingest, &meter);
        async move {
            let containers = containers_of(size, generation);
            let containers: Vec<(&str, &str, u64)> =
                containers.iter().map(|(ns, d)| (ns.as_str(), "registry.example.com/app:1", *d)).collect();
            let report = k8s_report("fleet", day(0) + TimeDelta::minutes(minute), &containers);
            let body_bytes = report.to_string().len() as f64;
            harness.requests.reset();
            let (before, full, _) = stored_cost(harness).await;
            let response = harness.post_k8s_to(ingest, &report).await;
            assert!(response.status.is_success(), "{}", response.body);
            let gets = harness.requests.get("GetItem") as f64;
            let queried = harness.requests.get("Query") > 0;
            // The record is read once (GetItem), and the whole context again when it is queried.
            let read_units = if queried { full + gets - 1.0 } else { before.max(gets) };
            Poll { write_units: meter.take() as f64, read_units, full_read_units: full, body_bytes }
        }
    };
    let first = poll(0, 0).await;
    let unchanged = poll(1, 0).await;
    let churn = poll(2, 1).await;
    // The next day's first due item: every item due within a day is rewritten.
    let refresh = poll(2 * 24 * 60, 1).await;
    let (_, _, stored_bytes) = stored_cost(&harness).await;
    Cluster { containers: size, first, unchanged, churn, refresh, stored_bytes }
}

/// Read units of the context records, of reading everything stored (records included, as the
/// design before content hashes did), and the bytes stored.
async fn stored_cost(harness: &Harness) -> (f64, f64, f64) {
    let items = harness.stored_items().await;
    let records: usize =
        items.iter().filter(|item| item_is_context(item)).map(|item| read_units(item_size(item))).sum();
    let all: usize = items.iter().map(item_size).sum();
    (records as f64, read_units(all) as f64 + records as f64, all as f64)
}

fn item_is_context(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> bool {
    item.get("kind").and_then(|kind| kind.as_s().ok()).is_some_and(|kind| kind == "context")
}

/// Seconds an ingest invocation at 256 MB is billed for a report: a fixed part for its DynamoDB
/// round trips and a part per MB parsed (the CPU bench's rate, scaled to a sixth of a vCPU).
fn ingest_seconds(body_bytes: f64, full_read: bool) -> f64 {
    0.020 + if full_read { 0.030 } else { 0.0 } + body_bytes / 1e6 * 0.040
}

/// Dollars a month, and the baseline's, for one cluster.
fn monthly(cluster: &Cluster) -> (f64, f64) {
    let polls = [
        (cluster.unchanged, POLLS_PER_MONTH - CHURN_POLLS_PER_MONTH - REFRESHES_PER_MONTH),
        (cluster.churn, CHURN_POLLS_PER_MONTH),
        (cluster.refresh, REFRESHES_PER_MONTH),
    ];
    let mut now = 0.0;
    let mut before = 0.0;
    for (poll, count) in polls {
        let writes = poll.write_units * DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6;
        let requests = (poll.body_bytes / 524_288.0).ceil();
        let lambda = LAMBDA_PER_MILLION_REQUESTS / 1e6 * 3.0 // ingest, authorizer, GET /version
            + 0.25 * ingest_seconds(poll.body_bytes, poll.read_units >= poll.full_read_units) * LAMBDA_ARM_PER_GB_SECOND
            + 0.5 * 0.002 * LAMBDA_ARM_PER_GB_SECOND // authorizer, cached
            + 0.125 * 0.001 * LAMBDA_ARM_PER_GB_SECOND; // version
        let api = (requests + 1.0) * HTTP_API_PER_MILLION_REQUESTS / 1e6;
        let shared = writes + lambda + api;
        now += count * (shared + poll.read_units * DYNAMODB_PER_MILLION_READ_UNITS / 1e6);
        let before_lambda = 0.25
            * (ingest_seconds(poll.body_bytes, true)
                - ingest_seconds(poll.body_bytes, poll.read_units >= poll.full_read_units))
            * LAMBDA_ARM_PER_GB_SECOND;
        before += count * (shared + before_lambda + poll.full_read_units * DYNAMODB_PER_MILLION_READ_UNITS / 1e6);
    }
    let storage = cluster.stored_bytes / 1e9 * DYNAMODB_PER_GB_MONTH;
    (now + storage, before + storage)
}

/// Distinct images per cluster of the mix (the reports' 200 digests), findings per image, and
/// the share of images whose findings change on a given day (a new CVE published for them).
const IMAGES_PER_CLUSTER: f64 = 200.0;
const FINDINGS_PER_IMAGE: usize = 100;
const FINDINGS_CHANGED_PER_DAY: f64 = 0.01;

/// What one image's findings cost to post, re-post unchanged and store.
struct ImageFindings {
    first_write_units: f64,
    unchanged_units: (f64, f64),
    changed_units: (f64, f64),
    stored_bytes: f64,
}

/// A trivy document of `count` findings, each shaped like the fixture's.
fn trivy_document(count: usize, generation: usize) -> String {
    let path = local_stack::moto::workspace_root().join("tests/fixtures/scanners/trivy.json");
    let mut document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let template = document["Results"][0]["Vulnerabilities"][0].clone();
    let findings: Vec<serde_json::Value> = (0..count)
        .map(|n| {
            let mut finding = template.clone();
            finding["VulnerabilityID"] = format!("CVE-2024-{:05}", n + generation).into();
            finding["PkgName"] = format!("package-{}", n % 40).into();
            finding
        })
        .collect();
    document["Results"] =
        serde_json::json!([{"Target": "image", "Class": "os-pkgs", "Type": "alpine", "Vulnerabilities": findings}]);
    document.to_string()
}

async fn measure_findings() -> ImageFindings {
    let harness = Harness::new(120, false).await;
    let meter = WriteMeter::default();
    let ingest = harness.ingest_with(meter.clone());
    let post = |body: String| {
        let (harness, ingest, meter) = (&harness, &ingest, &meter);
        async move {
            harness.requests.reset();
            let path = format!("/v2/images/{}/vulnerabilities", integration_tests::digest(1));
            let event = integration_tests::admin_event(
                "post-image-vulnerabilities.json",
                Some(&path),
                Some(&body),
                Some("admin"),
                &[],
            );
            let request = lambda_http::request::from_str(&event.to_string()).unwrap();
            let response = inventory_store::http::ApiFunction::handle(ingest, request).await;
            assert!(response.status().is_success());
            let stored = harness.stored_items().await;
            let sizes = |prefix: &str| -> usize {
                stored
                    .iter()
                    .filter(|item| item["sk"].as_s().is_ok_and(|sk| sk.starts_with(prefix)))
                    .map(|item| read_units(item_size(item)))
                    .sum()
            };
            // The record read (GetItem), and every chunk read (one Query) when a post writes.
            let read = sizes("findings") + if harness.requests.get("Query") > 0 { sizes("scan#") } else { 0 };
            (meter.take() as f64, read as f64)
        }
    };
    let (first_write_units, _) = post(trivy_document(FINDINGS_PER_IMAGE, 0)).await;
    let unchanged = post(trivy_document(FINDINGS_PER_IMAGE, 0)).await;
    let changed = post(trivy_document(FINDINGS_PER_IMAGE, 1)).await;
    let stored_bytes = harness.stored_items().await.iter().map(item_size).sum::<usize>() as f64;
    ImageFindings {
        first_write_units,
        unchanged_units: (unchanged.0, unchanged.1),
        changed_units: (changed.0, changed.1),
        stored_bytes,
    }
}

/// Dollars a month of one cluster's images' findings: stored, re-synced daily, some changed.
fn findings_monthly(image: &ImageFindings) -> f64 {
    let price = |(writes, reads): (f64, f64)| {
        writes * DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6 + reads * DYNAMODB_PER_MILLION_READ_UNITS / 1e6
    };
    // The sync function: ~50 ms of waiting on Inspector and DynamoDB per image, at 256 MB.
    let lambda = 0.25 * 0.050 * LAMBDA_ARM_PER_GB_SECOND;
    let daily = (1.0 - FINDINGS_CHANGED_PER_DAY) * price(image.unchanged_units)
        + FINDINGS_CHANGED_PER_DAY * price(image.changed_units)
        + lambda;
    IMAGES_PER_CLUSTER * (30.0 * daily + image.stored_bytes / 1e9 * DYNAMODB_PER_GB_MONTH)
}

/// Packages of the SBOM measured, and how often an image of a cluster is new (its SBOM posted).
const SBOM_PACKAGES: usize = 1_000;
const SBOM_POSTS_PER_IMAGE_MONTH: f64 = 1.0;

struct SbomCost {
    first_write_units: f64,
    unchanged_write_units: f64,
    index_entries: u64,
    stored_bytes: f64,
}

/// debsbom's Debian system cut to its first `SBOM_PACKAGES` components.
fn sbom_document() -> String {
    let path = local_stack::moto::workspace_root().join("tests/fixtures/sboms/debian-bookworm-system.cdx.json.gz");
    let body = inventory_store::gzip::decompress(&std::fs::read(path).unwrap()).unwrap();
    let mut document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    document["components"].as_array_mut().unwrap().truncate(SBOM_PACKAGES);
    document.to_string()
}

async fn measure_sbom() -> SbomCost {
    let harness = Harness::new(120, false).await;
    let meter = WriteMeter::default();
    let ingest = harness.ingest_with(meter.clone());
    let body = sbom_document();
    let scanner = inventory_store::auth::Caller {
        user: "scan-worker".into(),
        account: "admin".into(),
        role: inventory_store::auth::Role::Scanner,
    };
    let post = async || {
        let path = format!("/v2/images/{}/sbom", integration_tests::digest(1));
        let event = integration_tests::caller_event(&scanner, "POST", &path, Some(&body), &[]);
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = inventory_store::http::ApiFunction::handle(&ingest, request).await;
        assert!(response.status().is_success(), "{:?}", response.body());
        let answer: serde_json::Value =
            serde_json::from_slice(inventory_store::http::body_bytes(response.body())).unwrap_or_default();
        (meter.take() as f64, answer["index_writes"].as_u64().unwrap_or_default())
    };
    let (first_write_units, index_entries) = post().await;
    let (unchanged_write_units, unchanged_entries) = post().await;
    assert_eq!(unchanged_entries, 0, "an unchanged SBOM writes no index entry");
    let stored_bytes = harness.stored_items().await.iter().map(item_size).sum::<usize>() as f64;
    SbomCost { first_write_units, unchanged_write_units, index_entries, stored_bytes }
}

/// Dollars a month of one cluster's images' SBOMs: stored, each image new once a month.
fn sbom_monthly(cost: &SbomCost) -> f64 {
    let posts = IMAGES_PER_CLUSTER * SBOM_POSTS_PER_IMAGE_MONTH;
    let lambda = 0.5 * 0.400 * LAMBDA_ARM_PER_GB_SECOND;
    IMAGES_PER_CLUSTER * cost.stored_bytes / 1e9 * DYNAMODB_PER_GB_MONTH
        + posts * (cost.first_write_units * DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6 + lambda)
}

/// The partitions of running intervals.
const HISTORY_PARTS: &[&str] = &["#hist#", "#hctx#", "hctxs#"];
/// Days closed intervals are kept by default (`HistoryRetentionDays`).
const HISTORY_RETENTION_DAYS: f64 = inventory_store::history::DEFAULT_HISTORY_RETENTION_DAYS as f64;

/// What running intervals cost, measured through the notifier from the table's stream: an
/// image arriving in a context (an interval opened) and leaving it (closed).
struct HistoryCost {
    open_units: f64,
    close_units: f64,
    close_read_units: f64,
    /// A closed interval's items: in its digest's and its context's partitions.
    closed_bytes: f64,
}

async fn measure_history() -> HistoryCost {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    let meter = WriteMeter(Arc::default(), Some(HISTORY_PARTS));
    let notifier = notifications.notifier_with(&harness, meter.clone());
    let mut step = async |minute: i64, containers: &[(&str, &str, u64)]| {
        harness.clock.set(day(0) + TimeDelta::minutes(minute + 1));
        let report = k8s_report("fleet", day(0) + TimeDelta::minutes(minute), containers);
        assert!(harness.post_k8s(&report).await.status.is_success());
        let batch = notifications.next_event().await;
        harness.requests.reset();
        assert!(integration_tests::Notifications::deliver_to(&notifier, batch).await.batch_item_failures.is_empty());
        (meter.take() as f64, harness.requests.get("GetItem") as f64)
    };
    // Two images arrive; then one leaves (a departure: the context still reports the other).
    let (two_opens, _) = step(0, &[("a", "app:1", 1), ("a", "app:2", 2)]).await;
    let (close_units, close_gets) = step(60, &[("a", "app:2", 2)]).await;
    let stored = harness.stored_items().await;
    let closed_bytes: usize = stored
        .iter()
        .filter(|item| item.get("to").is_some())
        .filter(|item| item["pk"].as_s().is_ok_and(|pk| HISTORY_PARTS.iter().any(|part| pk.contains(part))))
        .map(item_size)
        .sum();
    HistoryCost {
        open_units: two_opens / 2.0,
        close_units,
        close_read_units: close_gets,
        closed_bytes: closed_bytes as f64,
    }
}

/// Dollars a month of one cluster's history: 1% of its containers changing image an hour opens
/// as many intervals and (in a steady state) closes as many; closed ones are kept the retention.
fn history_monthly(cost: &HistoryCost, containers: usize) -> (f64, f64) {
    let per_hour = containers as f64 / 100.0;
    let requests = 30.0
        * 24.0
        * per_hour
        * ((cost.open_units + cost.close_units) * DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6
            + cost.close_read_units * DYNAMODB_PER_MILLION_READ_UNITS / 1e6);
    let stored_bytes = per_hour * 24.0 * HISTORY_RETENTION_DAYS * cost.closed_bytes;
    (requests + stored_bytes / 1e9 * DYNAMODB_PER_GB_MONTH, stored_bytes)
}

/// What a day of threat data costs: the findings sync's loads of both feeds, metered.
struct ThreatDataCost {
    first_units: f64,
    unchanged_units: f64,
    unchanged_read_units: f64,
    new_day_units: f64,
    stored_bytes: f64,
}

async fn measure_threat_data(epss_rows: usize) -> ThreatDataCost {
    use local_stack::feeds::{FeedServer, EPSS_FILE};
    use std::io::Write;
    let harness = Harness::new(120, false).await;
    let feeds = FeedServer::start().await.unwrap();
    let epss_day = |day: &str, seed: u64| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(inventory_store::threat::epss::synthetic(epss_rows, day, seed).as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    feeds.serve(EPSS_FILE, lambda_http::http::StatusCode::OK, epss_day("2026-12-06", 1));
    let meter = WriteMeter(Arc::default(), Some(&["threat"]));
    let store = inventory_store::Store::new(harness.client_with("findings-sync", meter.clone()), harness.table.clone());
    let loader = local_stack::threat_data::loader(
        &harness.sdk_for("findings-sync"),
        store,
        &harness.environment(),
        &feeds,
        harness.clock.clone(),
    )
    .unwrap();
    let load = async || {
        harness.requests.reset();
        let summary = loader.load().await;
        assert_eq!(summary.failure(), None);
        meter.take() as f64
    };
    let first_units = load().await;
    let unchanged_units = load().await;
    let unchanged_read_units = harness.requests.get("Query") as f64 * 0.5;
    feeds.serve(EPSS_FILE, lambda_http::http::StatusCode::OK, epss_day("2026-12-07", 2));
    let new_day_units = load().await;
    let stored = harness.stored_items().await;
    let threat = stored.iter().filter(|item| item["pk"].as_s().is_ok_and(|pk| pk.starts_with("threat")));
    let stored_bytes = threat.map(item_size).sum::<usize>() as f64;
    ThreatDataCost { first_units, unchanged_units, unchanged_read_units, new_day_units, stored_bytes }
}

/// Dollars a month of threat data, for the whole deployment (the feeds are stored once): a new
/// EPSS day every day, the catalog unchanged, the function about 2 s at 256 MB.
fn threat_data_monthly(cost: &ThreatDataCost) -> f64 {
    let lambda = 0.25 * 2.0 * LAMBDA_ARM_PER_GB_SECOND + LAMBDA_PER_MILLION_REQUESTS / 1e6;
    let day = cost.new_day_units * DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6
        + cost.unchanged_read_units * DYNAMODB_PER_MILLION_READ_UNITS / 1e6
        + lambda;
    30.0 * day + cost.stored_bytes / 1e9 * DYNAMODB_PER_GB_MONTH
}

const S3_PER_GB_MONTH: f64 = 0.023;
const ATHENA_PER_TB_SCANNED: f64 = 5.0;

/// Bytes a row of the history archive takes, gzip-compressed in a day's object of `rows` rows:
/// a fleet's day of running images, with digests (random), tags, contexts and a workload each.
fn archive_row_bytes(rows: usize) -> f64 {
    use inventory_store::history::IntervalPlace;
    use inventory_store::model::{InventoryType, WorkloadContainers};
    let mut archive = history_export::archive::DayArchive::new(day(0).date_naive());
    // splitmix64: digests as incompressible as real ones.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for n in 0..rows {
        let digest = format!("sha256:{:016x}{:016x}{:016x}{:016x}", random(), random(), random(), random());
        let service = n % 2_000;
        let place = IntervalPlace {
            account: "admin".into(),
            inventory_type: InventoryType::Kubernetes,
            context: format!("cluster-{:03}/namespace-{}", n % 100, service % 10),
            image_digest: digest,
        };
        let workload = WorkloadContainers {
            kind: inventory_store::workload::WorkloadKind::Deployment,
            name: format!("service-{service}"),
            containers: 3,
        };
        let tag = format!("registry.example.com/team-{}/service-{service}:1.{}.{}", service % 40, n % 7, n % 13);
        archive.add(&place.open(&tag, vec![workload], day(0) - TimeDelta::days((n % 30) as i64))).expect("a row");
    }
    archive.finish().expect("gzip").len() as f64 / rows as f64
}

#[tokio::main]
async fn main() {
    let bench = std::env::args().any(|arg| arg == "--bench");
    // A fleet of 100 clusters: sizes from 50 to 5,000 containers, most of them small.
    let mix: &[(usize, usize)] = if bench { &[(50, 40), (500, 35), (2_000, 15), (5_000, 10)] } else { &[(50, 1)] };
    println!("Prices (US East, on demand): DynamoDB ${DYNAMODB_PER_MILLION_WRITE_UNITS}/M write units, ${DYNAMODB_PER_MILLION_READ_UNITS}/M read units, ${DYNAMODB_PER_GB_MONTH}/GB-month; Lambda arm64 ${LAMBDA_ARM_PER_GB_SECOND}/GB-s, ${LAMBDA_PER_MILLION_REQUESTS}/M requests; HTTP API ${HTTP_API_PER_MILLION_REQUESTS}/M requests (512 KB each)");
    println!("Month: {POLLS_PER_MONTH} polls every 60 s, {CHURN_POLLS_PER_MONTH} of them with 1% of the containers changed, {REFRESHES_PER_MONTH} daily refreshes");
    println!(
        "{:>10} {:>9} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "containers", "clusters", "first WU", "poll RU", "poll RU<", "churn WU", "$/month", "$/month <"
    );
    let (mut total, mut total_before, mut clusters) = (0.0, 0.0, 0);
    for &(size, count) in mix {
        let cluster = measure(size).await;
        let (now, before) = monthly(&cluster);
        assert!(
            cluster.unchanged.read_units < cluster.unchanged.full_read_units || size < 10,
            "an unchanged poll reads less"
        );
        println!(
            "{:>10} {:>9} {:>10} {:>10} {:>10} {:>10} {:>12.4} {:>12.4}",
            cluster.containers,
            count,
            cluster.first.write_units,
            cluster.unchanged.read_units,
            cluster.unchanged.full_read_units,
            cluster.churn.write_units,
            now,
            before
        );
        total += now * count as f64;
        total_before += before * count as f64;
        clusters += count;
    }
    println!(
        "fleet of {clusters}: ${:.2} a month, ${:.4} per cluster-month; before content hashes ${:.2}, ${:.4} per cluster-month ({:.1}x)",
        total, total / clusters as f64, total_before, total_before / clusters as f64, total_before / total
    );
    let image = measure_findings().await;
    let findings = findings_monthly(&image) * clusters as f64;
    println!(
        "findings of one image ({FINDINGS_PER_IMAGE}): first post {} WU; same findings again {} WU / {} RU; changed {} WU / {} RU; {} bytes stored",
        image.first_write_units, image.unchanged_units.0, image.unchanged_units.1, image.changed_units.0, image.changed_units.1, image.stored_bytes
    );
    println!(
        "findings of the fleet ({IMAGES_PER_CLUSTER} images a cluster, synced daily, {}% changed a day): ${findings:.2} a month, ${:.4} per cluster-month; with the inventory ${:.2}",
        FINDINGS_CHANGED_PER_DAY * 100.0,
        findings / clusters as f64,
        total + findings
    );
    let sbom = measure_sbom().await;
    let sboms = sbom_monthly(&sbom) * clusters as f64;
    println!(
        "SBOM of one image ({SBOM_PACKAGES} packages): first post {} WU ({} index entries), same SBOM again {} WU (no index entry), {} bytes stored",
        sbom.first_write_units, sbom.index_entries, sbom.unchanged_write_units, sbom.stored_bytes
    );
    println!(
        "SBOMs of the fleet ({IMAGES_PER_CLUSTER} images a cluster, each new once a month): ${sboms:.2} a month, ${:.4} per cluster-month",
        sboms / clusters as f64
    );
    let history = measure_history().await;
    let (mut history_total, mut history_bytes) = (0.0, 0.0);
    for &(size, count) in mix {
        let (dollars, bytes) = history_monthly(&history, size);
        history_total += dollars * count as f64;
        history_bytes += bytes * count as f64;
    }
    println!(
        "history (1% of containers changing image an hour, HistoryRetentionDays {HISTORY_RETENTION_DAYS}): an interval opened {} WU, closed {} WU + {} RU, {} bytes kept per closed interval",
        history.open_units, history.close_units, history.close_read_units, history.closed_bytes
    );
    println!(
        "history of the fleet: ${history_total:.2} a month at the steady state ({:.2} GB kept), ${:.4} per cluster-month; with the inventory and findings ${:.2}",
        history_bytes / 1e9,
        history_total / clusters as f64,
        total + findings + history_total
    );
    // The archive: a row per running image per day (its intervals that day), exported daily.
    let row_bytes = archive_row_bytes(20_000);
    let rows_per_day: f64 =
        mix.iter().map(|&(size, count)| (IMAGES_PER_CLUSTER + size as f64 * 0.24) * count as f64).sum();
    let year_bytes = 365.0 * rows_per_day * row_bytes;
    println!(
        "history archive ({IMAGES_PER_CLUSTER} images a cluster running, plus the day's new intervals): {row_bytes:.0} bytes a row (gzip), {:.0} rows a day for the fleet, {:.2} GB a year; S3 ${:.2} a month after a year, a query of the whole year scans it for ${:.3} (Athena ${ATHENA_PER_TB_SCANNED}/TB)",
        rows_per_day,
        year_bytes / 1e9,
        year_bytes / 1e9 * S3_PER_GB_MONTH,
        year_bytes / 1e12 * ATHENA_PER_TB_SCANNED
    );
    let epss_rows = if bench { 300_000 } else { 3_000 };
    let threat = measure_threat_data(epss_rows).await;
    assert_eq!(threat.unchanged_units, 0.0, "an unchanged day writes nothing");
    let threat_total = threat_data_monthly(&threat);
    println!(
        "threat data (KEV 1,404 entries, EPSS {epss_rows} rows): first load {} WU, unchanged day {} WU + {} RU, new EPSS day {} WU, {} bytes stored; a new EPSS day every day: ${threat_total:.4} a month for the whole deployment (${:.5} per cluster-month of this fleet)",
        threat.first_units,
        threat.unchanged_units,
        threat.unchanged_read_units,
        threat.new_day_units,
        threat.stored_bytes,
        threat_total / clusters as f64
    );
}

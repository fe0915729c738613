//! How many `GET /v2/inventories` items one answer can carry: Lambda returns at most 6 MB, a
//! gzip body base64-encoded, a text body JSON-escaped. Items are shaped like a real fleet's
//! (ECR tags, random digests, millisecond times), built through the real response path
//! (`negotiated_json`). Run with `make bench`; the numbers are in BENCHMARKS.md.

use inventory_store::http::{negotiated_json, payload_bytes};
use inventory_store::limits::MAX_RESPONSE_PAYLOAD_BYTES;
use inventory_store::listing::{InventoryItem, InventoryList};
use inventory_store::model::{InventoryType, WorkloadContainers};
use inventory_store::workload::WorkloadKind;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request};

/// Image `n` of a fleet: 40 namespaces in 3 clusters, each image first seen at its own time,
/// last seen at its context's latest report (shared by the context's items, as stored).
fn item(n: usize, rng: &mut fastrand::Rng) -> InventoryItem {
    let digest: String = (0..64).map(|_| char::from_digit(rng.u32(0..16), 16).unwrap()).collect();
    let context = n % 120;
    let mut random_time = || {
        format!(
            "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            rng.u32(8..12),
            rng.u32(1..29),
            rng.u32(0..24),
            rng.u32(0..60),
            rng.u32(0..60),
            rng.u32(0..1000)
        )
    };
    let first_seen = random_time();
    InventoryItem {
        inventory_type: InventoryType::Kubernetes,
        context: format!("prod-{}-cluster/team-{}", ["eu-1", "us-2", "ap-3"][context % 3], context / 3),
        image_tag: format!(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team-{}/service-{}:v1.{}.{}",
            context / 3,
            n % 300,
            n % 17,
            n % 5
        ),
        image_digest: format!("sha256:{digest}"),
        container_count: 1 + (n % 7) as u32,
        created_at: first_seen.clone(),
        first_seen,
        last_seen: format!("2026-12-01T10:{:02}:{:02}.{:03}Z", context % 60, context % 59, context * 7 % 1000),
        last_updated: random_time(),
        workloads: vec![WorkloadContainers {
            kind: WorkloadKind::Deployment,
            name: format!("service-{}", n % 300),
            containers: 1 + (n % 7) as u32,
        }],
        workload_count: None,
        vulnerabilities: None,
        findings_updated_at: None,
        vex: None,
    }
}

fn request(gzip: bool) -> Request {
    let mut request = lambda_http::http::Request::builder().method("GET").uri("/v2/inventories");
    if gzip {
        request = request.header(header::ACCEPT_ENCODING, "gzip");
    }
    request.body(Body::Empty).unwrap()
}

/// Payload bytes of an answer of `count` items, or `None` past the limit.
fn payload(items: &[InventoryItem], count: usize, gzip: bool) -> Option<usize> {
    let list = InventoryList { items: items[..count].to_vec(), next: None, suppressed: None };
    negotiated_json(&request(gzip), StatusCode::OK, &list).ok().map(|response| payload_bytes(response.body()))
}

/// The largest count that fits, by bisection.
fn capacity(items: &[InventoryItem], gzip: bool) -> usize {
    let (mut fits, mut too_many) = (0, items.len());
    while too_many - fits > 1 {
        let middle = (fits + too_many) / 2;
        if payload(items, middle, gzip).is_some() {
            fits = middle;
        } else {
            too_many = middle;
        }
    }
    fits
}

fn main() {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let total = if bench { 400_000 } else { 2_000 };
    let mut rng = fastrand::Rng::with_seed(7);
    let items: Vec<InventoryItem> = (0..total).map(|n| item(n, &mut rng)).collect();
    if !bench {
        // Under `cargo test`: the path works and compression pays.
        let plain = payload(&items, total, false).unwrap();
        let compressed = payload(&items, total, true).unwrap();
        assert!(compressed * 2 < plain, "gzip {compressed} vs text {plain}");
        return;
    }
    for gzip in [false, true] {
        let fits = capacity(&items, gzip);
        let bytes = payload(&items, fits, gzip).unwrap();
        let encoding = if gzip { "gzip + base64" } else { "JSON text, escaped" };
        println!(
            "{encoding:>20}: {fits:>7} items fit in {MAX_RESPONSE_PAYLOAD_BYTES} bytes ({bytes} used, {:.1} bytes/item)",
            bytes as f64 / fits as f64
        );
    }
}

//! CPU cost of the pure ingest path for a 5,000-container Kubernetes report:
//! JSON parsing + validation, and planning against empty and identical stored state.
//! Run with `make bench`; numbers are recorded in BENCHMARKS.md.

use chrono::{TimeZone, Utc};
use inventory::plan::{plan_context, Plan, ReportMeta, Retention, StoredContext, Tracked, Write};
use inventory::report::parse_kubernetes;
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

const CONTAINERS: usize = 5_000;
const NAMESPACES: usize = 10;
/// `cargo bench` passes `--bench`; under `cargo test` one run checks the bench still works.
fn runs() -> usize {
    if std::env::args().any(|arg| arg == "--bench") {
        30
    } else {
        1
    }
}

fn report() -> Vec<u8> {
    let namespaces: Vec<_> =
        (0..NAMESPACES).map(|n| json!({"name": format!("ns-{n}"), "uid": format!("ns-uid-{n}")})).collect();
    let pods: Vec<_> = (0..CONTAINERS)
        .map(|i| json!({"name": format!("pod-{i}"), "uid": format!("pod-uid-{i}"), "namespace_uid": format!("ns-uid-{}", i % NAMESPACES), "node_uid": "node-1", "labels": {"app": format!("app-{}", i % 50)}}))
        .collect();
    let containers: Vec<_> = (0..CONTAINERS)
        .map(|i| json!({"id": format!("containerd://{i:064x}"), "name": "app", "pod_uid": format!("pod-uid-{i}"), "image_tag": format!("registry.example.com/team/app-{}:1.{}", i % 400, i % 7), "image_digest": format!("sha256:{:064x}", i % 400)}))
        .collect();
    serde_json::to_vec(&json!({
        "cluster_name": "bench",
        "timestamp": "2026-11-20T10:15:00Z",
        "namespaces": namespaces,
        "nodes": [{"name": "node-1", "uid": "node-1", "arch": "arm64"}],
        "pods": pods,
        "containers": containers,
    }))
    .unwrap()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(name: &str, mut run: impl FnMut()) {
    run();
    let runs = runs();
    let samples = (0..runs)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    println!("{name:<48} median {:>10.3} ms over {runs} runs", median(samples).as_secs_f64() * 1e3);
}

fn main() {
    let body = report();
    println!("report: {CONTAINERS} containers, {NAMESPACES} namespaces, {} bytes", body.len());
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 20, 0).unwrap();
    // Baseline in the same run: parsing the same bytes into an untyped JSON tree.
    measure("baseline: serde_json::from_slice::<Value>", || {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap());
    });
    measure("parse + validate (parse_kubernetes)", || {
        black_box(parse_kubernetes(black_box(&body), now).unwrap());
    });

    let parsed = parse_kubernetes(&body, now).unwrap();
    let report = ReportMeta { time: parsed.timestamp, source: parsed.source };
    let retention = Retention { ttl: Some(chrono::TimeDelta::days(120)), overwrite: false };
    measure("plan, nothing stored (first report)", || {
        for snapshot in &parsed.contexts {
            black_box(plan_context(StoredContext::default(), snapshot, report, now, retention));
        }
    });

    // Stored state exactly as the first report leaves it.
    let stored: Vec<StoredContext> = parsed
        .contexts
        .iter()
        .map(|snapshot| {
            let Plan::Apply(plan) = plan_context(StoredContext::default(), snapshot, report, now, retention) else {
                unreachable!()
            };
            let mut stored = StoredContext::default();
            for write in plan.image_writes {
                if let Write::Put { key, content, tracking } = write {
                    stored.images.insert(key, Tracked { content, tracking });
                }
            }
            for write in plan.detail_writes {
                if let Write::Put { key, content, tracking } = write {
                    stored.details.insert(key, Tracked { content, tracking });
                }
            }
            stored
        })
        .collect();
    measure("plan, identical state stored (re-post)", || {
        for (snapshot, stored) in parsed.contexts.iter().zip(&stored) {
            black_box(plan_context(stored.clone(), snapshot, report, now, retention));
        }
    });
}

//! CPU cost of the pure ingest path: JSON parsing + validation, and planning against empty and
//! identical stored state, for a 5,000-container report without metadata and a 10,000-container
//! one with labels and annotations (just under the 6 MB a report may have), each beside
//! a `serde_json::Value` parse of the same bytes. Run with `make bench`; numbers are recorded in
//! BENCHMARKS.md.

use chrono::{TimeZone, Utc};
use inventory_store::plan::{
    plan_context, plan_from_record, Plan, ReportMeta, Retention, StoredContext, Tracked, Write,
};
use inventory_store::report::parse_kubernetes;
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// `cargo bench` passes `--bench`; under `cargo test` one run checks the bench still works.
fn runs() -> usize {
    if std::env::args().any(|arg| arg == "--bench") {
        30
    } else {
        1
    }
}

/// A report of `containers` containers in as many pods over `namespaces` namespaces, 400 images;
/// with `metadata`, each pod carries ~200 bytes of labels and annotations.
fn report(containers: usize, namespaces: usize, metadata: bool) -> Vec<u8> {
    let namespace_list: Vec<_> = (0..namespaces)
        .map(|n| json!({"name": format!("ns-{n}"), "uid": format!("ns-uid-{n}"), "labels": {"team": format!("team-{n}")}}))
        .collect();
    let pods: Vec<_> = (0..containers)
        .map(|i| {
            let mut pod = json!({"name": format!("app-{}-7d9f8c6b5-{i:05}", i % 50), "uid": format!("{i:08x}-6c1f-4d8a-9f3e-2f8d0c7a1b2c"),
                "namespace_uid": format!("ns-uid-{}", i % namespaces), "node_uid": format!("node-{}", i % 20), "labels": {"app": format!("app-{}", i % 50)}});
            if metadata {
                pod["labels"] = json!({"app.kubernetes.io/name": format!("app-{}", i % 50),
                    "app.kubernetes.io/version": format!("1.{}.0", i % 7), "pod-template-hash": "7d9f8c6b5", "team": format!("team-{}", i % namespaces)});
                pod["annotations"] = json!({"prometheus.io/scrape": "true"});
            }
            pod
        })
        .collect();
    let containers: Vec<_> = (0..containers)
        .map(|i| json!({"id": format!("containerd://{i:064x}"), "name": "app", "pod_uid": format!("{i:08x}-6c1f-4d8a-9f3e-2f8d0c7a1b2c"), "image_tag": format!("registry.example.com/team/app-{}:1.{}", i % 400, i % 7), "image_digest": format!("sha256:{:064x}", i % 400)}))
        .collect();
    let nodes: Vec<_> =
        (0..20).map(|n| json!({"name": format!("node-{n}"), "uid": format!("node-{n}"), "arch": "arm64"})).collect();
    serde_json::to_vec(&json!({
        "cluster_name": "bench",
        "timestamp": "2026-11-20T10:15:00Z",
        "namespaces": namespace_list,
        "nodes": nodes,
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
    bench(5_000, 10, false);
    bench(10_000, 10, true);
}

fn bench(containers: usize, namespaces: usize, metadata: bool) {
    let body = report(containers, namespaces, metadata);
    let with = if metadata { "with labels and annotations" } else { "without metadata" };
    println!("report: {containers} containers {with}, {namespaces} namespaces, {} bytes", body.len());
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 20, 0).unwrap();
    // Baseline in the same run: parsing the same bytes into an untyped JSON tree.
    measure("baseline: serde_json::from_slice::<Value>", || {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap());
    });
    measure("parse + validate + hash (parse_kubernetes)", || {
        black_box(parse_kubernetes(black_box(&body), now).unwrap());
    });

    let parsed = parse_kubernetes(&body, now).unwrap();
    let report = ReportMeta { time: parsed.timestamp, source: parsed.source, probably_truncated: false };
    let retention = Retention { ttl: Some(chrono::TimeDelta::days(120)), overwrite: false };
    measure("build the stored form (every context)", || {
        for content in &parsed.contexts {
            black_box(content.snapshot());
        }
    });
    let snapshots: Vec<_> = parsed.contexts.iter().map(|content| content.snapshot()).collect();
    let hashes: Vec<_> = parsed.contexts.iter().map(|content| content.content_hash.clone()).collect();
    measure("build + plan, nothing stored (first report)", || {
        for (content, hash) in parsed.contexts.iter().zip(&hashes) {
            black_box(plan_context(StoredContext::default(), content.snapshot(), hash, report, now, retention));
        }
    });

    // Stored state exactly as the first report leaves it.
    let mut records = Vec::new();
    let stored: Vec<StoredContext> = snapshots
        .iter()
        .zip(&hashes)
        .map(|(snapshot, hash)| {
            let Plan::Apply(plan) =
                plan_context(StoredContext::default(), snapshot.clone(), hash, report, now, retention)
            else {
                unreachable!()
            };
            records.push(plan.context_write.clone().expect("a first report writes its context"));
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
    measure("build + plan, identical state stored (full read)", || {
        for ((content, stored), hash) in parsed.contexts.iter().zip(&stored).zip(&hashes) {
            black_box(plan_context(stored.clone(), content.snapshot(), hash, report, now, retention));
        }
    });
    // What an unchanged report costs beyond parsing: deciding from the record.
    let records: Vec<_> = snapshots
        .iter()
        .zip(records)
        .map(|(snapshot, state)| inventory_store::model::ContextRecord {
            version: 1,
            pk: inventory_store::keys::inventory_pk(
                "admin",
                inventory_store::model::InventoryType::Kubernetes,
                &snapshot.context,
            ),
            sk: snapshot.context.clone(),
            kind: inventory_store::keys::ItemKind::Context.as_str().into(),
            inventory_type: inventory_store::model::InventoryType::Kubernetes,
            context: snapshot.context.clone(),
            last_report_at: Some(state.last_report_at),
            first_seen: Some(state.first_seen),
            updated_at: None,
            namespace: state.namespace,
            source: Some(state.source),
            expires_at: state.expires_at,
            context_pk: Some("admin#kubernetes".into()),
            detail_counts: Some(state.detail_counts),
            content_hash: Some(state.content_hash),
            refresh_due_at: state.refresh_due_at,
            report_interval_seconds: None,
            lock_owner: None,
            lock_until: None,
            probably_truncated: state.probably_truncated,
        })
        .collect();
    let later = ReportMeta { time: report.time + chrono::TimeDelta::minutes(1), ..report };
    measure("plan from the record (unchanged re-post)", || {
        for (content, record) in parsed.contexts.iter().zip(&records) {
            let plan = plan_from_record(
                Some(record),
                content.namespace.as_ref(),
                &content.content_hash,
                later,
                now,
                retention,
            );
            assert!(plan.is_some(), "an unchanged report is decided from the record");
            black_box(plan);
        }
    });
    measure("parse + validate + hash + plan (unchanged re-post)", || {
        let parsed = parse_kubernetes(black_box(&body), now).unwrap();
        for (content, record) in parsed.contexts.iter().zip(&records) {
            let hash = &content.content_hash;
            black_box(plan_from_record(Some(record), content.namespace.as_ref(), hash, later, now, retention));
        }
    });
    measure("parse + validate + hash + build + plan (first report)", || {
        let parsed = parse_kubernetes(black_box(&body), now).unwrap();
        for content in &parsed.contexts {
            black_box(plan_context(
                StoredContext::default(),
                content.snapshot(),
                &content.content_hash,
                report,
                now,
                retention,
            ));
        }
    });
    println!();
}

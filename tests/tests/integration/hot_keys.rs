//! A fleet's first reports spread over many partition keys: every write of a simulated fleet
//! (clusters × 10 namespaces, each reporting for the first time) is recorded by the key it
//! lands on, table and indexes alike, and the hottest key's share is compared with the layout
//! before per-context partitions (the same writes, keyed as that layout keyed them).
//! `FLEET_CLUSTERS=1000` runs the fleet of the issue; the default keeps the suite quick.
//! Numbers: BENCHMARKS.md.

use futures::StreamExt;
use integration_tests::write_keys::{hottest, WriteKeys};
use integration_tests::{day, digest, Harness};
use inventory_store::keys::{index_shard, INDEX_SHARDS};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

const NAMESPACES: usize = 10;
const PODS_PER_NAMESPACE: usize = 3;
/// The sidecar every pod of the fleet runs: the hottest digest there can be.
const SIDECAR: u64 = 1_000_000;

/// One cluster's first report: in each namespace, pods running that namespace's app (the same
/// image across the fleet, as after a fleet-wide rollout) beside the fleet-wide sidecar.
fn first_report(cluster: usize) -> Value {
    let namespaces: Vec<String> = (0..NAMESPACES).map(|n| format!("team-{n}")).collect();
    let pods: Vec<(usize, usize)> =
        (0..NAMESPACES).flat_map(|ns| (0..PODS_PER_NAMESPACE).map(move |pod| (ns, pod))).collect();
    let containers = pods.iter().flat_map(|(ns, pod)| {
        let pod_uid = format!("c{cluster}-{ns}-{pod}");
        [("app", ns + 1, format!("registry.example.com/team-{ns}/app:7")), ("proxy", 0, "istio/proxyv2:1.24".into())]
            .map(|(name, image, tag)| {
                let image_digest = digest(if image == 0 { SIDECAR } else { image as u64 });
                json!({"id": format!("containerd://{pod_uid}-{name}"), "name": name, "pod_uid": pod_uid,
                    "image_tag": tag, "image_digest": image_digest})
            })
    });
    json!({
        "cluster_name": format!("cluster-{cluster:04}"),
        "timestamp": day(0).to_rfc3339(),
        "namespaces": namespaces.iter().map(|ns| json!({"name": ns, "uid": format!("c{cluster}-{ns}")})).collect::<Vec<_>>(),
        "nodes": [{"name": "node-a", "uid": format!("c{cluster}-node-a")}],
        "pods": pods.iter().map(|(ns, pod)| json!({"name": format!("app-5c4b7d9f8-{pod:05}"),
            "uid": format!("c{cluster}-{ns}-{pod}"), "namespace_uid": format!("c{cluster}-team-{ns}"),
            "node_uid": format!("c{cluster}-node-a")})).collect::<Vec<_>>(),
        "containers": containers.collect::<Vec<_>>(),
    })
}

/// A key as the layout before per-context partitions wrote it: one inventory partition per
/// account and type, one `contexts` and one `digests` key per account, type (and digest).
fn old_layout_key(key: &str) -> String {
    if let Some((partition, _context)) = key.split_once("#inv#").and_then(|(account, rest)| {
        let (inventory_type, context) = rest.split_once('#')?;
        Some((format!("{account}#inv#{inventory_type}"), context))
    }) {
        return partition;
    }
    match key.rsplit_once('#') {
        Some((unsharded, _shard)) if key.starts_with("contexts:") || key.starts_with("digests:") => {
            unsharded.to_owned()
        }
        _ => key.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleets_first_reports_put_no_more_than_a_few_percent_of_writes_on_any_key() {
    let clusters: usize = std::env::var("FLEET_CLUSTERS").ok().and_then(|n| n.parse().ok()).unwrap_or(20);
    let harness = Harness::new(120, false).await;
    let keys = WriteKeys::default();
    let ingest = harness.ingest_with(keys.clone());
    // Within one poll interval: several clusters at once.
    let posts = futures::stream::iter(0..clusters)
        .map(|cluster| {
            let (harness, ingest) = (&harness, &ingest);
            async move { harness.post_k8s_to(ingest, &first_report(cluster)).await }
        })
        .buffer_unordered(4);
    futures::pin_mut!(posts);
    while let Some(stored) = posts.next().await {
        assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    }

    let counts = keys.counts();
    let mut old_counts: HashMap<String, u64> = HashMap::new();
    for (key, count) in &counts {
        *old_counts.entry(old_layout_key(key)).or_default() += count;
    }
    let ((share, key), (old_share, old_key)) = (hottest(&counts), hottest(&old_counts));
    let total: u64 = counts.values().sum();
    println!(
        "{clusters} clusters x {NAMESPACES} namespaces, first reports: {total} writes over {} keys; hottest key \
         {key} takes {:.2}%; the layout before: {} keys, hottest {old_key} takes {:.1}% ({:.0}x)",
        counts.len(),
        share * 100.0,
        old_counts.len(),
        old_share * 100.0,
        old_share / share
    );
    assert!(share < 0.03, "the hottest key {key} takes {:.2}% of the writes", share * 100.0);

    // The fleet of the issue, 1,000 clusters (hours against moto): each context writes what the
    // measured ones wrote, and the index shards its names fall in are computed.
    let contexts = (clusters * NAMESPACES) as f64;
    let index_writes =
        |index: &str| counts.iter().filter(|(key, _)| key.starts_with(index)).map(|(_, n)| *n).sum::<u64>();
    let per_context = (total as f64 / contexts, index_writes("contexts:") as f64 / contexts);
    let mut per_shard = [0u64; INDEX_SHARDS as usize];
    for cluster in 0..1000 {
        for namespace in 0..NAMESPACES {
            per_shard[index_shard(&format!("cluster-{cluster:04}/team-{namespace}")) as usize] += 1;
        }
    }
    let fullest = *per_shard.iter().max().unwrap_or(&0) as f64;
    println!(
        "projected for 1,000 clusters x {NAMESPACES} namespaces: the fullest contexts shard holds {fullest} of \
         10,000 contexts and takes {:.2}% of the writes ({:.1} writes per context, {:.1} of them to the index)",
        100.0 * fullest * per_context.1 / (10_000.0 * per_context.0),
        per_context.0,
        per_context.1
    );
    assert!(old_share > 5.0 * share, "the old layout put {:.1}% on {old_key}", old_share * 100.0);

    // Listing stays Query-only, and paging through it answers each image of each context once.
    harness.requests.reset();
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut query = vec![("limit", "700")];
        if let Some(cursor) = &next {
            query.push(("next", cursor));
        }
        let page = harness.call("get-inventories.json", None, Some("admin"), &query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for item in page.body["items"].as_array().unwrap() {
            seen.push((
                item["context"].as_str().unwrap().to_owned(),
                item["image_digest"].as_str().unwrap().to_owned(),
            ));
        }
        match page.body["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), clusters * NAMESPACES * 2, "an app and the sidecar per namespace");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len(), "no item twice");
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "in context, then digest order");
    assert_eq!(harness.requests.get("Scan"), 0);
    println!(
        "paged listing of {} items, 700 a page: {} Query, {} GetItem, {} BatchGetItem requests",
        seen.len(),
        harness.requests.get("Query"),
        harness.requests.get("GetItem"),
        harness.requests.get("BatchGetItem")
    );
}

#[test]
fn old_layout_keys_gather_what_the_new_layout_spreads() {
    assert_eq!(old_layout_key("admin#inv#kubernetes#c/ns"), "admin#inv#kubernetes");
    assert_eq!(old_layout_key("contexts:admin#kubernetes#07"), "contexts:admin#kubernetes");
    assert_eq!(old_layout_key("digests:admin#kubernetes#sha256:ab#15"), "digests:admin#kubernetes#sha256:ab");
    assert_eq!(old_layout_key("admin#det#kubernetes#c/ns"), "admin#det#kubernetes#c/ns");
}

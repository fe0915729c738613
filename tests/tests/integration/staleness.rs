//! The scheduled coverage check against moto: a cluster that goes quiet puts one stale event,
//! and one recovered event when it reports again; a failed put is sent by the next run.

use chrono::TimeDelta;
use integration_tests::{day, item_size, k8s_report, FailNth, Harness, Notifications};
use inventory_store::bus::{RECOVERED_DETAIL_TYPE, STALE_DETAIL_TYPE};
use inventory_store::keys::{ItemKind, STALE_MARKERS_PK};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// (detail-type, cluster) of each event the bus delivered since the last call.
async fn announced(notifications: &Notifications) -> Vec<(String, String)> {
    let events: Vec<Value> = notifications.received().await;
    events
        .iter()
        .map(|event| {
            assert_eq!(event["source"], "runtime-inventory");
            (event["detail-type"].as_str().unwrap().to_owned(), event["detail"]["cluster"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn post(harness: &Harness, cluster: &str, minute: i64) {
    let report = k8s_report(cluster, day(0) + TimeDelta::minutes(minute), &[("default", "app:1", 1)]);
    assert_eq!(harness.post_k8s(&report).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_quiet_cluster_puts_one_stale_event_and_one_recovered_event() {
    let harness = Harness::new(120, false).await;
    let notifications = harness.notifications().await;
    let check = notifications.coverage_check(&harness, None);
    post(&harness, "prod-eu-1", 0).await;
    post(&harness, "staging", 0).await;

    harness.clock.set(day(0) + TimeDelta::minutes(10));
    harness.requests.reset();
    let summary = check.run().await.expect("a run");
    assert_eq!((summary.clusters, summary.stale, summary.stale_events), (2, 0, 0));
    assert_eq!(
        (harness.requests.get("Scan"), harness.requests.get("BatchGetItem"), harness.requests.get("Query")),
        (1, 1, 1),
        "a run with nothing to announce reads the contexts index, their records and the markers"
    );
    assert_eq!(harness.requests.writes(), 0);

    // Half an hour on, only prod-eu-1 has reported again.
    post(&harness, "prod-eu-1", 30).await;
    harness.clock.set(day(0) + TimeDelta::minutes(32));
    let summary = check.run().await.expect("a run");
    assert_eq!((summary.stale, summary.stale_events), (1, 1));
    let events = notifications.received().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], STALE_DETAIL_TYPE);
    let detail = &events[0]["detail"];
    assert_eq!(
        (&detail["account"], &detail["inventory_type"], &detail["cluster"], &detail["contexts"]),
        (&json!("admin"), &json!("kubernetes"), &json!("staging"), &json!(["staging/default"]))
    );
    assert_eq!(
        (detail["minutes_since_last_report"].as_i64(), detail["stale_after_minutes"].as_u64()),
        (Some(32), Some(30))
    );
    assert_eq!(detail["sources"], json!(["k8s-inventory"]));

    // Still quiet: nothing more.
    harness.clock.set(day(0) + TimeDelta::minutes(37));
    assert_eq!(check.run().await.expect("a run").stale_events, 0);
    assert_eq!(announced(&notifications).await, []);

    post(&harness, "staging", 40).await;
    harness.clock.set(day(0) + TimeDelta::minutes(41));
    let summary = check.run().await.expect("a run");
    assert_eq!((summary.stale, summary.recovered_events), (0, 1));
    assert_eq!(announced(&notifications).await, [(RECOVERED_DETAIL_TYPE.to_owned(), "staging".to_owned())]);
    assert!(
        harness.stored_items().await.iter().all(|item| item["pk"].as_s().unwrap() != STALE_MARKERS_PK),
        "marker gone"
    );
    assert_eq!(check.run().await.expect("a run").recovered_events, 0);
    assert_eq!(announced(&notifications).await, []);
}

#[tokio::test]
async fn an_event_eventbridge_fails_is_sent_by_the_next_run_and_an_expired_cluster_is_forgotten() {
    let harness = Harness::new(1, false).await;
    let notifications = harness.notifications().await;
    post(&harness, "staging", 0).await;
    harness.clock.set(day(0) + TimeDelta::minutes(45));

    let failing = notifications.coverage_check(&harness, Some(FailNth::new("PutEvents", 1)));
    let error = failing.run().await.expect_err("the failed put fails the run, so Lambda counts an error");
    assert!(error.to_string().contains("kubernetes#staging"), "{error}");
    assert_eq!(announced(&notifications).await, []);

    let summary = failing.run().await.expect("the next run");
    assert_eq!(summary.stale_events, 1);
    assert_eq!(announced(&notifications).await, [(STALE_DETAIL_TYPE.to_owned(), "staging".to_owned())]);
    assert_eq!(failing.run().await.expect("a run").stale_events, 0, "sent once");

    // A day later its inventory has expired: the marker goes without an event.
    harness.clock.set(day(1) + TimeDelta::hours(1));
    let summary = failing.run().await.expect("a run");
    assert_eq!((summary.clusters, summary.forgotten, summary.recovered_events), (0, 1, 0));
    assert_eq!(announced(&notifications).await, []);
}

/// Live heap bytes, and their peak, of this test binary: the memory measurement below.
struct CountingAllocator;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// What `work` returns, and how far the heap grew above where it started while it ran.
async fn peak_heap_growth<T>(work: impl std::future::Future<Output = T>) -> (T, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let result = work.await;
    (result, PEAK.load(Ordering::Relaxed).saturating_sub(start))
}

/// The coverage check reads every context record of every account. At `COVERAGE_CONTEXTS`
/// contexts (200 unless set; BENCHMARKS.md has 10,000, run alone with `--test-threads=1` for
/// the heap figures), each with namespace labels and annotations at their 32 KiB bound, it
/// reads only the fields it uses: compared with whole records read as it did before.
#[tokio::test]
async fn the_coverage_check_reads_context_records_without_their_namespace_metadata() {
    use inventory_store::keys::contexts_pk;
    use inventory_store::model::NamespaceMeta;
    use inventory_store::model::{ContextRecord, InventoryType};
    use inventory_store::store::{encode, BatchWrite, Store, COVERAGE_FIELDS};
    let contexts: usize = std::env::var("COVERAGE_CONTEXTS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let harness = Harness::new(120, false).await;
    let store = Store::new(harness.dynamodb.clone(), harness.table.clone());
    let half = "x".repeat(inventory_store::limits::MAX_METADATA_BYTES - 16);
    let writes = (0..contexts).map(|n| {
        let context = format!("cluster-{}/ns-{n}", n % 100);
        let mut record: ContextRecord = serde_json::from_value(json!({
            "pk": inventory_store::keys::inventory_pk("admin", InventoryType::Kubernetes, &context),
            "sk": context, "kind": ItemKind::Context.as_str(), "inventory_type": "kubernetes", "context": context,
            "last_report_at": day(0), "source": "k8s-inventory", "detail_counts": {"c": 3, "i": 2},
            "context_pk": contexts_pk("admin", InventoryType::Kubernetes, &context),
        }))
        .unwrap();
        record.namespace = Some(NamespaceMeta {
            uid: format!("uid-{n}"),
            name: format!("ns-{n}"),
            labels: [("team".to_owned(), half.clone())].into(),
            annotations: [("note".to_owned(), half.clone())].into(),
        });
        BatchWrite::Put(encode(&record))
    });
    store.batch_write(writes.collect()).await.expect("records written");
    harness.clock.set(day(0) + TimeDelta::minutes(5));

    let (records, projected_heap) = peak_heap_growth(store.all_context_coverage()).await;
    let records = records.expect("read");
    assert_eq!(records.len(), contexts);
    assert!(records.iter().all(|record| record.namespace.is_none() && record.detail_counts.is_some()));
    // Before: the same keys, whole records.
    let keys: Vec<(String, String)> = records.iter().map(|record| (record.pk.clone(), record.sk.clone())).collect();
    let (whole, whole_heap) = peak_heap_growth(store.batch_get(&keys)).await;
    let whole = whole.expect("read");
    let projected = store.batch_get_fields(&keys, Some(COVERAGE_FIELDS)).await.expect("read");
    let bytes = |items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]| {
        items.iter().map(item_size).sum::<usize>()
    };
    let (projected_bytes, whole_bytes) = (bytes(&projected), bytes(&whole));
    println!(
        "{contexts} contexts: the records read are {projected_bytes} bytes ({} a context), against {whole_bytes} whole \
         ({:.1}x); peak heap growth while reading {projected_heap} bytes, against {whole_heap} ({:.1}x)",
        projected_bytes / contexts,
        whole_bytes as f64 / projected_bytes as f64,
        whole_heap as f64 / projected_heap.max(1) as f64
    );
    assert!(projected_bytes * 50 < whole_bytes, "{projected_bytes} bytes read against {whole_bytes}");
}

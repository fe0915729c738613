//! The context lease under failure and contention, against moto: a write that fails half-way
//! gives the context back at once, interleaved reports end in the newest state, and a holder
//! whose lease ran out writes nothing more.

use chrono::TimeDelta;
use integration_tests::{day, digest, k8s_report, listed, FailNth, Harness, PauseFirst};
use inventory_store::keys::{image_sk, inventory_pk};
use inventory_store::lease::{ContextLease, LeaseError, LEASE_DURATION};
use inventory_store::model::{ContextRecord, InventoryType};
use inventory_store::store::BatchWrite;
use inventory_store::{Clock, Store};
use lambda_http::http::StatusCode;
use serde_json::Value;
use std::sync::Arc;

/// 60 containers of 60 images in one namespace: three batches of image writes.
fn sixty(timestamp: chrono::DateTime<chrono::Utc>, first_digest: u64) -> Value {
    let containers: Vec<(&str, &str, u64)> = (0..60).map(|i| ("a", "app:1", first_digest + i)).collect();
    k8s_report("c", timestamp, &containers)
}

/// Context `c/a` stored by a first report, and the ingest function's store.
async fn stored_context(harness: &Harness) -> (Store, ContextRecord) {
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1)])).await;
    let store = Store::new(harness.client_for("ingest"), harness.table.clone());
    let record = store.get_context("admin", InventoryType::Kubernetes, "c/a", true).await.unwrap().unwrap();
    (store, record)
}

fn lease_fields(items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]) -> usize {
    items.iter().filter(|item| item.contains_key("lock_owner") || item.contains_key("lock_until")).count()
}

#[tokio::test]
async fn a_failure_mid_batch_leaves_no_lease_and_the_next_report_converges() {
    let harness = Harness::new(120, true).await;
    // First report of a context: the second of its batch writes fails.
    let failing = harness.ingest_with(FailNth::new("BatchWriteItem", 2));
    let response = harness.post_k8s_to(&failing, &sixty(day(0), 0)).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE, "{}", response.body);
    assert_eq!(response.body["detail"]["contexts"][0]["status"], "failed");
    assert!(response.body["detail"]["contexts"][0]["error"].as_str().unwrap().contains("injected failure"));
    assert_eq!(lease_fields(&harness.stored_items().await), 0, "the placeholder and its lease are gone");

    // The agent's next poll is stored at once and repairs the context.
    let next = harness.post_k8s(&sixty(day(0) + TimeDelta::minutes(1), 0)).await;
    assert_eq!(next.body["contexts"][0]["status"], "stored", "{}", next.body);
    assert_eq!(harness.list("admin", &[]).await.len(), 60);

    // A changed report of a stored context fails half-way: the record is given back unlocked.
    let failing = harness.ingest_with(FailNth::new("BatchWriteItem", 3));
    let changed = harness.post_k8s_to(&failing, &sixty(day(0) + TimeDelta::minutes(2), 100)).await;
    assert_eq!(changed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(lease_fields(&harness.stored_items().await), 0);
    let repaired = harness.post_k8s(&sixty(day(0) + TimeDelta::minutes(3), 100)).await;
    assert_eq!(repaired.body["contexts"][0]["status"], "stored", "{}", repaired.body);
    let expected: Vec<(String, String)> = (100..160).map(|n| ("c/a".to_owned(), digest(n))).collect();
    assert_eq!(listed(&harness.list("admin", &[]).await), expected, "overwrite converged to the latest report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interleaved_reports_end_in_the_newest_state_whichever_writes_first() {
    for older_first in [true, false] {
        let harness = Arc::new(Harness::new(120, true).await);
        harness.post_k8s(&sixty(day(0), 0)).await;
        let older = sixty(day(1), 200);
        let newer = sixty(day(1) + TimeDelta::minutes(1), 300);
        harness.clock.set(day(1) + TimeDelta::minutes(2));
        let (first, second) = if older_first { (older, newer) } else { (newer, older) };

        // The first writer is paused in the middle of its writes, holding the lease.
        let pause = PauseFirst::new("BatchWriteItem");
        let paused = Arc::new(harness.ingest_with(pause.clone()));
        let first_post = tokio::spawn({
            let (harness, paused) = (Arc::clone(&harness), Arc::clone(&paused));
            async move { harness.post_k8s_to(paused.as_ref(), &first).await }
        });
        pause.reached().await;
        let loads_before = harness.requests.get("GetItem");
        let second_post = tokio::spawn({
            let harness = Arc::clone(&harness);
            async move { harness.post_k8s(&second).await }
        });
        // Let go once the second writer has found the context leased.
        while harness.requests.get("GetItem") < loads_before + 1 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        pause.release();
        let (first_response, second_response) = (first_post.await.unwrap(), second_post.await.unwrap());

        assert_eq!(first_response.body["contexts"][0]["status"], "stored", "{}", first_response.body);
        let second_status = if older_first { "stored" } else { "stale" };
        assert_eq!(second_response.body["contexts"][0]["status"], second_status, "{}", second_response.body);
        let expected: Vec<(String, String)> = (300..360).map(|n| ("c/a".to_owned(), digest(n))).collect();
        assert_eq!(listed(&harness.list("admin", &[]).await), expected, "older first: {older_first}");
        assert_eq!(lease_fields(&harness.stored_items().await), 0);
    }
}

#[tokio::test]
async fn after_a_failed_change_the_previous_content_is_read_in_full_not_trusted_by_hash() {
    let harness = Harness::new(120, true).await;
    assert_eq!(harness.post_k8s(&sixty(day(0), 0)).await.status, StatusCode::CREATED);
    // A change fails half-way: some of its images are written.
    let failing = harness.ingest_with(FailNth::new("BatchWriteItem", 3));
    let changed = harness.post_k8s_to(&failing, &sixty(day(0) + TimeDelta::minutes(1), 100)).await;
    assert_eq!(changed.status, StatusCode::SERVICE_UNAVAILABLE);
    // The agent reports the original content again: its hash is the record's old one, but the
    // items are not what that hash describes any more, so they are read and repaired.
    harness.requests.reset();
    let original = harness.post_k8s(&sixty(day(0) + TimeDelta::minutes(2), 0)).await;
    assert_eq!(original.body["contexts"][0]["status"], "stored", "{}", original.body);
    assert!(harness.requests.get("Query") > 0, "the items were read");
    let expected: Vec<(String, String)> = (0..60).map(|n| ("c/a".to_owned(), digest(n))).collect();
    assert_eq!(listed(&harness.list("admin", &[]).await), expected);
}

#[tokio::test]
async fn a_holder_whose_lease_ran_out_cannot_overwrite_a_newer_report() {
    let harness = Harness::new(120, false).await;
    let (store, record) = stored_context(&harness).await;
    let mut stalled = ContextLease::acquire(&store, harness.clock.clone(), Some(&record), || unreachable!())
        .await
        .unwrap()
        .expect("the context is free");

    // The holder stalls past its lease; a newer report takes the context over.
    harness.clock.advance(LEASE_DURATION + TimeDelta::seconds(1));
    let newer = harness.post_k8s(&k8s_report("c", harness.clock.now(), &[("a", "app:2", 2)])).await;
    assert_eq!(newer.body["contexts"][0]["status"], "stored", "{}", newer.body);

    // The stalled holder's writes are refused before they are sent.
    let writes_before = harness.requests.writes();
    let pk = inventory_pk("admin", InventoryType::Kubernetes, "c/a");
    let delete_newer = vec![BatchWrite::Delete { pk, sk: image_sk("c/a", &digest(2)) }];
    assert!(matches!(stalled.write(delete_newer).await, Err(LeaseError::Expired(_))));
    let old_state = ContextRecord { last_report_at: Some(day(0)), ..record };
    assert!(matches!(stalled.commit(old_state).await, Err(LeaseError::Expired(_))));
    assert_eq!(harness.requests.writes(), writes_before);
    let items = harness.list("admin", &[]).await;
    assert_eq!(listed(&items), [("c/a".to_owned(), digest(1)), ("c/a".to_owned(), digest(2))]);
    assert_eq!(items.iter().find(|item| item["image_digest"] == digest(2)).unwrap()["container_count"], 1);
}

#[tokio::test]
async fn a_cancelled_holder_gives_its_lease_back() {
    let harness = Harness::new(120, false).await;
    let (store, record) = stored_context(&harness).await;
    let lease = ContextLease::acquire(&store, harness.clock.clone(), Some(&record), || unreachable!()).await.unwrap();
    assert!(lease.is_some());
    // The holder's future is dropped mid-way (a timeout, a cancelled request).
    drop(lease);
    for _ in 0..100 {
        let now = store.get_context("admin", InventoryType::Kubernetes, "c/a", true).await.unwrap().unwrap();
        if now.lock_owner.is_none() {
            assert_eq!(now.last_report_at, record.last_report_at);
            let next = harness.post_k8s(&k8s_report("c", day(0) + TimeDelta::minutes(1), &[("a", "app:2", 2)])).await;
            assert_eq!(next.body["contexts"][0]["status"], "stored", "{}", next.body);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the dropped lease was not given back");
}

#[tokio::test]
async fn a_failed_final_write_still_gives_the_lease_back() {
    let harness = Harness::new(120, false).await;
    harness.post_k8s(&sixty(day(0), 0)).await;
    // PutItem #1 takes the lease, #2 (storing the new state) fails.
    let failing = harness.ingest_with(FailNth::new("PutItem", 2));
    let response = harness.post_k8s_to(&failing, &sixty(day(0) + TimeDelta::minutes(1), 100)).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE, "{}", response.body);
    for _ in 0..100 {
        if lease_fields(&harness.stored_items().await) == 0 {
            let next = harness.post_k8s(&sixty(day(0) + TimeDelta::minutes(2), 100)).await;
            assert_eq!(next.body["contexts"][0]["status"], "stored", "{}", next.body);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the lease was not given back after the final write failed");
}

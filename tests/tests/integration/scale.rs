//! Costs that must not grow with the inventory: what an unchanged report reads, against a
//! context's size, and what a digest lookup reads, against the inventory's size. Requests are
//! counted at the SDK's HTTP layer; read units come from the stored items' sizes as DynamoDB
//! bills them (4 KB per strongly consistent read unit, half that eventually consistent). The
//! designs before (read the whole context on every report; filter the whole inventory partition
//! for a digest) are costed from the same items, side by side. Numbers: BENCHMARKS.md.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::TimeDelta;
use integration_tests::{day, digest, item_size, k8s_report, listed, read_units, Harness};
use inventory_store::keys::INDEX_SHARDS;
use lambda_http::http::StatusCode;
use serde_json::json;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// One namespace of `containers` pods, each with a few hundred bytes of labels and annotations;
/// past 5,000 pods with short ids and none, so that the report stays under the 6 MB a request
/// can carry.
fn report(containers: usize, minute: i64) -> serde_json::Value {
    let small = containers > 5_000;
    let labels = if small {
        json!({})
    } else {
        json!({"app.kubernetes.io/name": "payments-api", "app.kubernetes.io/part-of": "payments",
            "app.kubernetes.io/version": "4.2.0", "pod-template-hash": "5c4b7d9f8", "team": "payments"})
    };
    let annotations = if small {
        json!({})
    } else {
        json!({"kubectl.kubernetes.io/restartedAt": "2026-11-19T08:00:00Z",
            "prometheus.io/scrape": "true", "prometheus.io/port": "9090"})
    };
    let id = |i: usize| if small { format!("c{i}") } else { format!("containerd://{i:064x}") };
    let registry = if small { "r.example" } else { "registry.example.com/payments" };
    json!({
        "cluster_name": "prod-eu-1",
        "timestamp": (day(0) + TimeDelta::minutes(minute)).to_rfc3339(),
        "namespaces": [{"name": "payments", "uid": "ns-payments"}],
        "nodes": [{"name": "node-a", "uid": "node-a"}],
        "pods": (0..containers).map(|i| json!({"name": format!("api-{i}"), "uid": format!("p{i}"),
            "namespace_uid": "ns-payments", "labels": labels, "annotations": annotations})).collect::<Vec<_>>(),
        "containers": (0..containers).map(|i| json!({"id": id(i), "name": "api",
            "pod_uid": format!("p{i}"), "image_tag": format!("{registry}/api:{}", i % 50),
            "image_digest": digest(i as u64 % 50)})).collect::<Vec<_>>(),
    })
}

struct Cost {
    requests: (u64, u64, u64),
    read_units: usize,
    full_read_units: usize,
}

async fn unchanged_report_cost(containers: usize) -> Cost {
    let harness = Harness::new(120, false).await;
    assert_eq!(harness.post_k8s(&report(containers, 0)).await.status, StatusCode::CREATED);
    harness.requests.reset();
    let repost = harness.post_k8s(&report(containers, 5)).await;
    assert_eq!(repost.body["images_unchanged"], 50, "{}", repost.body);
    let requests = (harness.requests.get("GetItem"), harness.requests.get("Query"), harness.requests.writes());

    let items = harness.stored_items().await;
    let is_record = |item: &&Item| item.get("kind").and_then(|k| k.as_s().ok()).is_some_and(|k| k == "context");
    let record = items.iter().find(is_record).expect("the context record");
    let of_partition = |prefix: &str| -> usize {
        items
            .iter()
            .filter(|item| !is_record(item))
            .filter(|item| item["pk"].as_s().unwrap().starts_with(prefix))
            .map(item_size)
            .sum()
    };
    let (images, details) = (of_partition("admin#inv#"), of_partition("admin#det#"));
    Cost {
        requests,
        read_units: read_units(item_size(record)),
        // Before: the record, then every image and every detail of the context, on every report.
        full_read_units: read_units(item_size(record)) + read_units(images) + read_units(details),
    }
}

#[tokio::test]
async fn an_unchanged_report_reads_the_same_whatever_the_context_size() {
    let mut sizes = vec![500, 5_000];
    if std::env::var_os("READ_COST_LARGE").is_some() {
        sizes.push(20_000);
    }
    let mut costs = Vec::new();
    for containers in sizes {
        let cost = unchanged_report_cost(containers).await;
        println!(
            "unchanged re-post of {containers} containers: GetItem/Query/writes {:?}, {} read units; \
             reading the whole context: {} read units ({:.0}x)",
            cost.requests,
            cost.read_units,
            cost.full_read_units,
            cost.full_read_units as f64 / cost.read_units as f64
        );
        costs.push(cost);
    }
    for cost in &costs {
        assert_eq!(cost.requests, (1, 0, 1), "one record read, no item read, one conditional write");
        assert_eq!(cost.read_units, costs[0].read_units, "flat in the context's size");
    }
    assert!(costs.last().unwrap().full_read_units > 100 * costs[0].read_units);
}

/// `images` image records in one cluster's namespaces, `matching` of them (in different
/// namespaces) running `digest(0)`.
async fn inventory_with(harness: &Harness, images: usize, matching: usize) {
    let namespaces = ["a", "b", "c", "d"];
    let containers: Vec<(&str, &str, u64)> = (0..images)
        .map(|i| {
            (
                namespaces[i % namespaces.len()],
                "registry.example.com/app:1",
                if i < matching { 0 } else { i as u64 + 1 },
            )
        })
        .collect();
    assert_eq!(harness.post_k8s(&k8s_report("fleet", day(0), &containers)).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_digest_lookup_reads_only_the_records_that_run_it() {
    let images = if std::env::var_os("READ_COST_LARGE").is_some() { 20_000 } else { 2_000 };
    let harness = Harness::new(120, false).await;
    inventory_with(&harness, images, 3).await;
    harness.requests.reset();
    let found = harness.list("admin", &[("image_digest", &digest(0)), ("inventory_type", "kubernetes")]).await;
    assert_eq!(listed(&found), ["a", "b", "c"].map(|ns| (format!("fleet/{ns}"), digest(0))));
    // One query per index shard names the 3 records; one batch reads them, one their contexts'
    // records.
    let shards = u64::from(INDEX_SHARDS);
    assert_eq!((harness.requests.get("Query"), harness.requests.get("BatchGetItem")), (shards, 2));

    let items = harness.stored_items().await;
    let size_of = |kind: &str| -> Vec<usize> {
        items.iter().filter(|item| item["kind"].as_s().unwrap() == kind).map(item_size).collect()
    };
    let (image_sizes, context_sizes) = (size_of("image"), size_of("context"));
    let matching: usize = image_sizes.iter().take(3).sum::<usize>() + context_sizes.iter().take(3).sum::<usize>();
    // Eventually consistent reads: half a unit per 4 KB, at least half a unit per shard's query.
    let lookup_units = (shards as usize * read_units(300) + read_units(matching)) as f64 / 2.0;
    let partition: usize = image_sizes.iter().sum::<usize>() + context_sizes.iter().sum::<usize>();
    let filter_units = read_units(partition) as f64 / 2.0;
    println!(
        "digest lookup among {images} image records, 3 matching: {lookup_units} read units; \
         filtering the whole partition: {filter_units} read units ({:.0}x); average image record {} bytes",
        filter_units / lookup_units,
        image_sizes.iter().sum::<usize>() / image_sizes.len()
    );

    // Paging through matches keeps to the index too.
    let first = harness
        .call("get-inventories.json", None, Some("admin"), &[("image_digest", &digest(0)), ("limit", "2")])
        .await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let next = first.body["next"].as_str().unwrap();
    let rest = harness
        .call("get-inventories.json", None, Some("admin"), &[("image_digest", &digest(0)), ("next", next)])
        .await;
    assert_eq!(rest.body["items"][0]["context"], "fleet/c");
}

/// `item` as the layout before per-context partitions stored it: one inventory partition per
/// account and type, unsharded index keys.
fn in_old_layout(mut item: Item) -> Item {
    let pk = item["pk"].as_s().unwrap().clone();
    let Some((partition, context)) = pk.split_once("#inv#").and_then(|(account, rest)| {
        let (inventory_type, context) = rest.split_once('#')?;
        Some((format!("{account}#inv#{inventory_type}"), (account.to_owned(), inventory_type.to_owned(), context)))
    }) else {
        return item;
    };
    let (account, inventory_type, _) = context;
    item.insert("pk".into(), AttributeValue::S(partition));
    if item.contains_key("context_pk") {
        item.insert("context_pk".into(), AttributeValue::S(format!("{account}#{inventory_type}")));
    }
    if let Some(AttributeValue::S(digest)) = item.get("image_digest").cloned() {
        item.insert("digest_pk".into(), AttributeValue::S(format!("{account}#{inventory_type}#{digest}")));
    }
    item
}

#[tokio::test]
async fn items_written_in_the_old_layout_are_found_after_the_migration() {
    let harness = Harness::new(120, false).await;
    inventory_with(&harness, 8, 2).await;
    for item in harness.stored_items().await {
        let old = in_old_layout(item.clone());
        if old != item {
            let (pk, sk) = (item["pk"].clone(), item["sk"].clone());
            harness.dynamodb.delete_item().table_name(&harness.table).key("pk", pk).key("sk", sk).send().await.unwrap();
            harness.dynamodb.put_item().table_name(&harness.table).set_item(Some(old)).send().await.unwrap();
        }
    }
    let by_digest = [("image_digest", digest(0))];
    let by_digest: Vec<(&str, &str)> = by_digest.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(harness.list("admin", &by_digest).await.is_empty(), "not in the new layout yet");
    assert!(harness.list("admin", &[]).await.is_empty());
    let namespaces = || harness.call("get-kubernetes-namespaces.json", None, Some("admin"), &[("page", "1")]);
    assert_eq!(namespaces().await.body["namespaces"], json!([]));
    // A report after the upgrade, before the migration, for one of the 4 namespaces.
    let newer = k8s_report("fleet", day(0) + TimeDelta::minutes(5), &[("d", "registry.example.com/app:1", 99)]);
    assert_eq!(harness.post_k8s(&newer).await.status, StatusCode::CREATED);

    let store = inventory_store::Store::new(harness.dynamodb.clone(), harness.table.clone());
    let migrated = store.migrate_old_layout().await.unwrap();
    // `fleet/d`: its record and 2 images were superseded by the newer report's.
    assert_eq!((migrated.contexts, migrated.images, migrated.superseded), (3, 6, 1), "{migrated:?}");
    assert_eq!(
        listed(&harness.list("admin", &by_digest).await),
        [("fleet/a".to_owned(), digest(0)), ("fleet/b".to_owned(), digest(0))]
    );
    let everything = listed(&harness.list("admin", &[]).await);
    assert_eq!(everything.len(), 6 + 1, "6 moved images, and fleet/d's newer one: {everything:?}");
    assert!(everything.contains(&("fleet/d".to_owned(), digest(99))));
    assert_eq!(namespaces().await.body["namespaces"].as_array().unwrap().len(), 4);
    let old_partition = |item: &Item| item["pk"].as_s().unwrap().ends_with("#inv#kubernetes");
    assert!(!harness.stored_items().await.iter().any(old_partition), "nothing left in the old layout");
    assert_eq!(store.migrate_old_layout().await.unwrap(), Default::default(), "a second run finds nothing");
}

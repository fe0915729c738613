//! `GET /v2/vulnerabilities` end to end: reports and findings stored, the table's stream
//! delivered to the notifier (which keeps where images run and their exposure pairs), the threat
//! data loaded, and the worklist read with its requests counted.

use chrono::TimeDelta;
use integration_tests::{day, digest, k8s_report, Harness, Notifications};
use lambda_http::http::StatusCode;
use local_stack::feeds::FeedServer;
use serde_json::Value;

async fn deliver(notifications: &mut Notifications) {
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch).await.batch_item_failures.is_empty());
}

async fn post_report(harness: &Harness, hours: i64, containers: &[(&str, &str, u64)]) {
    let at = day(0) + TimeDelta::hours(hours);
    harness.clock.set(at + TimeDelta::minutes(1));
    let answer = harness.post_k8s(&k8s_report("prod", at, containers)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

async fn post_findings(harness: &Harness, image: u64, document: &str) {
    let path = format!("/v2/images/{}/vulnerabilities", digest(image));
    let posted =
        harness.call_path("post-image-vulnerabilities.json", Some(&path), Some(document), Some("admin"), &[]).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
}

fn scanner_fixture(name: &str) -> String {
    std::fs::read_to_string(local_stack::moto::workspace_root().join("tests/fixtures/scanners").join(name)).unwrap()
}

async fn worklist(harness: &Harness, query: &[(&str, &str)]) -> Value {
    let answer =
        harness.call_path("get-vulnerabilities.json", Some("/v2/vulnerabilities"), None, Some("admin"), query).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

fn ids(page: &Value) -> Vec<&str> {
    page["vulnerabilities"].as_array().unwrap().iter().map(|row| row["vulnerability_id"].as_str().unwrap()).collect()
}

/// The (context, digest) of each Known Exploited Vulnerability Running event of Log4Shell the bus
/// delivered since the last call.
async fn kev_events(notifications: &Notifications) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = notifications
        .received()
        .await
        .iter()
        .filter(|event| event["detail-type"] == inventory_store::bus::KEV_RUNNING_DETAIL_TYPE)
        .inspect(|event| assert_eq!(event["detail"]["kev"]["due_date"], "2021-12-24"))
        .map(|event| {
            (
                event["detail"]["context"].as_str().unwrap().to_owned(),
                event["detail"]["image_digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

/// The (context, vulnerability) of each Vulnerability Overdue event the bus delivered since the
/// last call.
async fn overdue_events(notifications: &Notifications) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = notifications
        .received()
        .await
        .iter()
        .filter(|event| event["detail-type"] == inventory_store::bus::OVERDUE_DETAIL_TYPE)
        .map(|event| {
            (
                event["detail"]["context"].as_str().unwrap().to_owned(),
                event["detail"]["vulnerability_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

/// docs/vulnerabilities.md's formula, from a row's fields.
fn risk_of_row(row: &Value) -> f64 {
    let impact = row["cvss_score"].as_f64().unwrap_or(match row["severity"].as_str().unwrap() {
        "critical" => 9.5,
        "high" => 7.5,
        "low" => 2.5,
        "negligible" => 0.5,
        _ => 5.0,
    });
    let exploitation = match (row["is_kev"].as_bool(), row["kev"]["known_ransomware_campaign_use"].as_str()) {
        (Some(true), Some("Known")) => 12.0,
        (Some(true), _) => 10.0,
        _ => 1.0 + 9.0 * row["epss"]["epss"].as_f64().unwrap_or(0.0),
    };
    let fix = if row["fix_available"].as_bool().unwrap() { 1.2 } else { 1.0 };
    let breadth = 1.0 + (1.0 + row["workload_count"].as_f64().unwrap()).log10() / 2.0;
    (impact * exploitation * fix * breadth * 100.0).round() / 100.0
}

#[tokio::test]
async fn the_worklist_ranks_what_runs_now_with_log4shell_first_and_overdue() {
    let harness = Harness::new(120, false).await;
    let mut notifications = harness.notifications().await;
    // Image 1 (trivy's findings, Log4Shell among them) runs in two namespaces; image 2 (grype's) in one.
    post_report(&harness, 0, &[("web", "shop/search:1", 1), ("batch", "shop/search:1", 1), ("web", "shop/db:2", 2)])
        .await;
    deliver(&mut notifications).await;
    let feeds = FeedServer::start().await.unwrap();
    assert_eq!(harness.threat_loader(&feeds).load().await.failure(), None);
    harness.clock.set(day(0) + TimeDelta::hours(3));
    post_findings(&harness, 1, &scanner_fixture("trivy.json").replace("CVE-2019-1549", "CVE-2021-44228")).await;
    post_findings(&harness, 2, &scanner_fixture("grype.json")).await;
    notifications.received().await;
    let batch = notifications.next_event().await;
    assert!(notifications.deliver(batch.clone()).await.batch_item_failures.is_empty());
    // Log4Shell found in an image running in two namespaces: announced once in each.
    assert_eq!(
        kev_events(&notifications).await,
        [("prod/batch".to_owned(), digest(1)), ("prod/web".to_owned(), digest(1))]
    );
    notifications.deliver(batch).await;
    assert!(kev_events(&notifications).await.is_empty(), "a redelivered batch announces nothing again");

    harness.clock.set(day(0) + TimeDelta::days(10));
    harness.requests.reset();
    let all = worklist(&harness, &[]).await;
    let reads =
        || (harness.requests.get("Query"), harness.requests.get("GetItem"), harness.requests.get("BatchGetItem"));
    // The exposure pairs' 16 shards, the running places' 16, the threat data's records (each
    // feed's chunks are read once per process and generation: the notifier read them already),
    // the account's VEX rules record.
    assert_eq!(reads(), (16 + 16 + 1, 1, 0), "nothing else, whatever the size of the inventory or the findings");
    assert_eq!(ids(&all), ["CVE-2021-44228", "CVE-1999-0001", "CVE-2024-24790", "CVE-1999-0002", "CVE-2019-1551"]);
    // The order is the formula's, computed here from each row's own fields.
    let oracle: Vec<f64> = all["vulnerabilities"].as_array().unwrap().iter().map(risk_of_row).collect();
    let risks: Vec<f64> =
        all["vulnerabilities"].as_array().unwrap().iter().map(|row| row["risk"].as_f64().unwrap()).collect();
    assert_eq!(risks, oracle);
    assert!(risks.windows(2).all(|pair| pair[0] >= pair[1]), "{risks:?}");
    assert_eq!(all["total"], 5);
    let log4shell = &all["vulnerabilities"][0];
    assert_eq!(
        (log4shell["is_kev"].as_bool(), log4shell["kev"]["due_date"].as_str()),
        (Some(true), Some("2021-12-24"))
    );
    assert_eq!(
        (log4shell["overdue"].as_bool(), log4shell["due_at"].as_str()),
        (Some(true), Some("2021-12-24T23:59:59Z"))
    );
    assert_eq!((log4shell["images"].as_u64(), log4shell["workload_count"].as_u64()), (Some(1), Some(2)));
    assert_eq!(log4shell["contexts"], serde_json::json!(["prod/batch", "prod/web"]));
    assert_eq!(log4shell["clusters"], serde_json::json!(["prod"]));
    // Known from the post at hour 3 (the image ran from hour 0): exposed since then.
    let known = (day(0) + TimeDelta::hours(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        (log4shell["first_running_at"].as_str(), log4shell["exposure_days"].as_i64()),
        (Some(known.as_str()), Some(9))
    );
    assert_eq!(log4shell["epss"]["epss"], 0.94358);

    // The inventory: each item's KEV count, and the kev and min_epss filters.
    let inventory = |query: &'static [(&'static str, &'static str)]| {
        let harness = &harness;
        async move {
            let answer = harness.call("get-inventories.json", None, Some("admin"), query).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            let mut items: Vec<(String, String, Value)> = answer.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| {
                    (
                        item["context"].as_str().unwrap().to_owned(),
                        item["image_digest"].as_str().unwrap().to_owned(),
                        item["vulnerabilities"]["kev"].clone(),
                    )
                })
                .collect();
            items.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
            items
        }
    };
    let all_items = inventory(&[]).await;
    let one = serde_json::json!(1);
    assert_eq!(
        all_items,
        [
            ("prod/batch".to_owned(), digest(1), one.clone()),
            ("prod/web".to_owned(), digest(1), one.clone()),
            ("prod/web".to_owned(), digest(2), serde_json::json!(0))
        ]
    );
    assert_eq!(inventory(&[("kev", "true")]).await, all_items[..2]);
    assert_eq!(inventory(&[("min_epss", "0.05")]).await, all_items[..2], "Log4Shell's 0.94; image 2's best is 0.046");
    assert_eq!(inventory(&[("kev", "false")]).await, all_items[2..]);
    let refused = harness.call("get-inventories.json", None, Some("admin"), &[("min_epss", "2")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    let exploited = worklist(&harness, &[("kev", "true")]).await;
    assert_eq!(ids(&exploited), ["CVE-2021-44228"]);
    assert_eq!(ids(&worklist(&harness, &[("context", "prod/batch")]).await).len(), 3, "image 1's findings alone");
    let paged = worklist(&harness, &[("limit", "2")]).await;
    let next = paged["next"].as_str().unwrap().to_owned();
    let rest = worklist(&harness, &[("limit", "2"), ("next", &next)]).await;
    assert_eq!(ids(&rest), ["CVE-2024-24790", "CVE-1999-0002"]);
    let refused = harness
        .call_path(
            "get-vulnerabilities.json",
            Some("/v2/vulnerabilities"),
            None,
            Some("admin"),
            &[("min_epss", "high")],
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["detail"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("min_epss")),
        "{}",
        refused.body
    );

    // The scheduled check: Log4Shell is past CISA's due date in both places (its KEV events went
    // out when it was found); at day 16, the two critical ones are past their 15 days.
    let checker = notifications.notifier(&harness, harness.sdk_for("notifier"), &[]);
    let checked = checker.check().await.unwrap();
    assert_eq!(
        (checked.accounts, checked.kev_exposed_workloads, checked.overdue_exposures, checked.events),
        (1, 2, 2, 2)
    );
    let overdue = overdue_events(&notifications).await;
    assert_eq!(
        overdue,
        [("prod/batch".to_owned(), "CVE-2021-44228".to_owned()), ("prod/web".to_owned(), "CVE-2021-44228".to_owned())]
    );
    assert_eq!(checker.check().await.unwrap().events, 0, "each is announced once");
    harness.clock.set(day(0) + TimeDelta::days(16));
    assert_eq!(checker.check().await.unwrap().overdue_exposures, 5);
    assert_eq!(
        overdue_events(&notifications).await,
        [("prod/batch", "CVE-2024-24790"), ("prod/web", "CVE-1999-0002"), ("prod/web", "CVE-2024-24790")]
            .map(|(c, v)| (c.to_owned(), v.to_owned()))
    );
    harness.clock.set(day(0) + TimeDelta::days(10));

    // The same findings again keep the time they were first known; image 2 leaving takes its
    // findings off the list.
    harness.clock.set(day(0) + TimeDelta::days(11));
    post_findings(&harness, 1, &scanner_fixture("trivy.json").replace("CVE-2019-1549", "CVE-2021-44228")).await;
    post_report(&harness, 24 * 11, &[("web", "shop/search:1", 1), ("batch", "shop/search:1", 1)]).await;
    deliver(&mut notifications).await;
    assert!(kev_events(&notifications).await.is_empty(), "the same findings again announce nothing");
    let after = worklist(&harness, &[]).await;
    assert_eq!(ids(&after), ["CVE-2021-44228", "CVE-2024-24790", "CVE-2019-1551"]);
    assert_eq!(after["total"], 3);
    assert_eq!(after["vulnerabilities"][0]["first_running_at"].as_str(), Some(known.as_str()));
}

/// What a worklist read costs against the vulnerabilities running in the account: N distinct
/// vulnerabilities (100; `WORKLIST_VULNERABILITIES=10000` for BENCHMARKS.md) over 20 running
/// images, each in two contexts, beside a `Scan` of the same table for the same answer.
#[tokio::test]
async fn worklist_reads_follow_what_runs_and_not_the_table() {
    use inventory_store::findings::Severity;
    use inventory_store::worklist::{plan_pairs, RunningPlace};
    let vulnerabilities: usize =
        std::env::var("WORKLIST_VULNERABILITIES").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let harness = Harness::new(120, false).await;
    let store = harness.store_for("notifier");
    let images = 20;
    for image in 0..images {
        let digest = digest(image as u64 + 1);
        for context in ["prod/web", "prod/batch"] {
            let interval = inventory_store::history::IntervalPlace {
                account: "admin".into(),
                inventory_type: inventory_store::model::InventoryType::Kubernetes,
                context: context.into(),
                image_digest: digest.clone(),
            }
            .open("shop/app:1", Vec::new(), day(0));
            store.put_running_place(&RunningPlace::of(&interval)).await.unwrap();
        }
        // Each vulnerability in one image: N distinct vulnerabilities, N pairs.
        let ids: Vec<String> =
            (image..vulnerabilities).step_by(images).map(|n| format!("CVE-2024-{:05}", n + 10000)).collect();
        let carried = inventory_store::worklist::Carried {
            severity: Severity::High,
            cvss_score: Some(7.5),
            fix_available: true,
            packages: Vec::new(),
            package_count: None,
        };
        let current = ids.iter().map(|id| (id.as_str(), carried.clone())).collect();
        store.write_pairs("admin", &digest, &plan_pairs(&[], &current, day(0))).await.unwrap();
    }
    // The rest of the table: an inventory of 2,000 image records in 20 contexts.
    for cluster in 0..20 {
        let containers: Vec<(String, String, u64)> =
            (0..100).map(|n| ("ns".to_owned(), format!("shop/app-{n}:1"), (cluster * 100 + n + 100) as u64)).collect();
        let containers: Vec<(&str, &str, u64)> =
            containers.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), *c)).collect();
        assert!(harness.post_k8s(&k8s_report(&format!("c{cluster}"), day(0), &containers)).await.status.is_success());
    }
    worklist(&harness, &[("limit", "1")]).await;
    harness.requests.reset();
    let page = worklist(&harness, &[("limit", "100")]).await;
    assert_eq!(page["total"].as_u64(), Some(vulnerabilities as u64));
    let queries = harness.requests.get("Query");
    let stored = harness.stored_items().await;
    let partition_units = |prefix: &str| -> f64 {
        let mut bytes: std::collections::BTreeMap<&str, usize> = Default::default();
        for item in &stored {
            let pk = item["pk"].as_s().unwrap();
            if pk.starts_with(prefix) {
                *bytes.entry(pk).or_default() += integration_tests::item_size(item);
            }
        }
        bytes.values().map(|bytes| integration_tests::read_units(*bytes) as f64 * 0.5).sum()
    };
    let read = partition_units("admin#work#") + partition_units("admin#run#") + partition_units("threat");
    let scan: f64 = integration_tests::read_units(stored.iter().map(integration_tests::item_size).sum()) as f64 * 0.5;
    println!("worklist of {vulnerabilities} running vulnerabilities: {queries} Query requests, about {read} read units (eventually consistent); a Scan of the table: {scan} read units");
    assert_eq!(queries, 16 + 16 + 1, "one page of each partition: under 1 MB each up to about 90,000 pairs");
    assert!(read < scan, "{read} {scan}");
}

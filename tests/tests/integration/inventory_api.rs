//! Ingest and list against a moto server, through the functions' handlers.

use chrono::TimeDelta;
use integration_tests::{day, digest, k8s_report, listed, sample_report, Harness};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

const ECS_CLUSTER: &str = "arn:aws:ecs:eu-west-2:123456789012:cluster/myclustername";

fn contexts(items: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = items.iter().map(|item| item["context"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn both_formats_are_accepted_on_both_paths() {
    let harness = Harness::new(120, false).await;
    for event in ["post-kubernetes-inventory.json", "post-kubernetes-inventory-v1.json"] {
        let response = harness.call(event, Some(&sample_report(event).to_string()), Some("admin"), &[]).await;
        assert_eq!(response.status, StatusCode::CREATED, "{event}: {}", response.body);
    }
    for event in ["post-ecs-inventory.json", "post-ecs-inventory-v1.json"] {
        let response = harness.call(event, Some(&sample_report(event).to_string()), Some("admin"), &[]).await;
        assert_eq!(response.status, StatusCode::CREATED, "{event}: {}", response.body);
        assert_eq!(response.body["contexts"][0]["context"], ECS_CLUSTER, "legacy cluster_name is the ARN");
    }

    let items = harness.list("admin", &[]).await;
    assert_eq!(contexts(&items), [ECS_CLUSTER, "prod-eu-1/default", "prod-eu-1/payments"]);
    let api = items
        .iter()
        .find(|item| item["image_tag"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:v4.2.0")
        .unwrap();
    assert_eq!(api["container_count"], 2);
    assert_eq!(api["inventory_type"], "kubernetes");
    assert_eq!(api["first_seen"], "2026-11-20T10:15:00.000Z");
    assert_eq!(api["last_seen"], "2026-11-20T10:15:00.000Z");
    let nginx_on_ecs = items
        .iter()
        .find(|item| item["context"] == ECS_CLUSTER && item["image_tag"] == "docker.io/library/nginx:1.27.2");
    assert!(nginx_on_ecs.is_some(), "ECS tags are normalised: {items:?}");

    let kubernetes = harness.list("admin", &[("inventory_type", "kubernetes")]).await;
    assert_eq!(kubernetes.len(), 3);
    let by_digest = harness
        .list("admin", &[("image_digest", "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3")])
        .await;
    assert_eq!(contexts(&by_digest), [ECS_CLUSTER, "prod-eu-1/default"]);
}

#[tokio::test]
async fn version_answers_like_anchore() {
    let harness = Harness::new(120, false).await;
    let response = harness.call("get-version.json", None, None, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body["api"]["version"], "2");
    assert_eq!(response.body["service"]["version"], "5.11.0");
    assert!(response.body["db"]["schema_version"].is_string());
}

#[tokio::test]
async fn context_filters_and_pagination() {
    let harness = Harness::new(120, false).await;
    let containers: Vec<(&str, &str, u64)> =
        (0..7).map(|i| (if i < 4 { "team" } else { "team-b" }, "app:1", i)).collect();
    assert_eq!(harness.post_k8s(&k8s_report("prod", day(0), &containers)).await.status, StatusCode::CREATED);
    assert_eq!(harness.post_k8s(&k8s_report("prod-2", day(0), &containers[..1])).await.status, StatusCode::CREATED);

    assert_eq!(harness.list("admin", &[("context", "prod/team")]).await.len(), 4);
    assert_eq!(harness.list("admin", &[("context", "prod/team*")]).await.len(), 7);
    assert_eq!(harness.list("admin", &[("context", "prod*")]).await.len(), 8);
    assert_eq!(harness.list("admin", &[("context", "prod/nothing")]).await.len(), 0);

    // Pages of 3 cover everything exactly once.
    let paged = harness.list("admin", &[("limit", "3")]).await;
    let all = harness.list("admin", &[]).await;
    assert_eq!(paged.len(), 8);
    assert_eq!(listed(&paged), listed(&all));
    let first_page = harness.call("get-inventories.json", None, Some("admin"), &[("limit", "8")]).await;
    assert!(first_page.body.get("next").is_none(), "no cursor after the last item");

    // A forged cursor, well-formed but with a sort key past DynamoDB's bound, is refused too.
    use base64::Engine;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"t": "kubernetes", "k": "x".repeat(2048)}).to_string());
    for (parameter, value) in
        [("inventory_type", "docker"), ("limit", "0"), ("image_digest", "sha256:1"), ("next", "xyz"), ("next", &forged)]
    {
        let response = harness.call("get-inventories.json", None, Some("admin"), &[(parameter, value)]).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{parameter}");
        assert_eq!(response.body["detail"]["field"], parameter);
    }
}

#[tokio::test]
async fn unreported_items_expire_from_reads_after_the_ttl() {
    let harness = Harness::new(120, false).await;
    let both = [("ns", "app:1", 1), ("ns", "app:2", 2)];
    harness.post_k8s(&k8s_report("c", day(0), &both)).await;
    harness.post_k8s(&k8s_report("c", day(100), &both[..1])).await;

    harness.clock.set(day(119));
    assert_eq!(listed(&harness.list("admin", &[]).await).len(), 2);
    let departed = harness.list("admin", &[("image_digest", &digest(2))]).await;
    assert_eq!(departed[0]["last_seen"], "2026-11-20T10:15:00.000Z", "last sighting was the first report");

    // Image 2 was last seen on day 0, image 1 on day 100.
    harness.clock.set(day(120));
    assert_eq!(listed(&harness.list("admin", &[]).await), [("c/ns".to_owned(), digest(1))]);
    harness.clock.set(day(220) - TimeDelta::seconds(1));
    assert_eq!(harness.list("admin", &[]).await.len(), 1);
    harness.clock.set(day(220));
    assert!(harness.list("admin", &[]).await.is_empty());

    // Expired items carry a TTL DynamoDB acts on; none lies before the item's last sighting.
    for item in harness.stored_items().await {
        let expires_at: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
        assert!(expires_at >= day(120).timestamp(), "{item:?}");
    }
}

#[tokio::test]
async fn zero_ttl_keeps_inventory_forever() {
    let harness = Harness::new(0, false).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("ns", "app:1", 1)])).await;
    harness.clock.set(day(10_000));
    assert_eq!(harness.list("admin", &[]).await.len(), 1);
    let items = harness.stored_items().await;
    assert!(!items.is_empty());
    assert!(items.iter().all(|item| !item.contains_key("expires_at")), "ttl 0 writes no TTL attribute");
}

#[tokio::test]
async fn overwrite_replaces_the_reported_namespaces_only() {
    let harness = Harness::new(120, true).await;
    let report = k8s_report("c", day(0), &[("a", "app:1", 1), ("a", "app:2", 2), ("b", "app:3", 3)]);
    harness.post_k8s(&report).await;
    let stored_before = harness.stored_items().await.len();

    // Namespace a now runs only image 1; namespace b is not in this POST.
    let response = harness.post_k8s(&k8s_report("c", day(1), &[("a", "app:1", 1)])).await;
    assert_eq!(response.body["images_removed"], 1);
    assert_eq!(
        listed(&harness.list("admin", &[]).await),
        [("c/a".to_owned(), digest(1)), ("c/b".to_owned(), digest(3)),]
    );
    // The container and pod of image 2 are gone too, not just the image.
    let stored_after = harness.stored_items().await;
    assert_eq!(stored_after.len(), stored_before - 3);
    let pods: Vec<_> = stored_after.iter().filter(|item| item["sk"].as_s().unwrap().starts_with("p#")).collect();
    assert_eq!(pods.len(), 2);
}

#[tokio::test]
async fn without_overwrite_departed_images_stay_until_the_ttl() {
    let harness = Harness::new(120, false).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1), ("a", "app:2", 2)])).await;
    let response = harness.post_k8s(&k8s_report("c", day(1), &[("a", "app:1", 1)])).await;
    assert_eq!(response.body["images_removed"], 1);
    let items = harness.list("admin", &[]).await;
    assert_eq!(items.len(), 2);
    let current = items.iter().find(|item| item["image_digest"] == digest(1)).unwrap();
    assert_eq!(current["last_seen"], "2026-11-21T10:15:00.000Z");
}

#[tokio::test]
async fn namespaces_of_one_cluster_are_separate_contexts() {
    let harness = Harness::new(120, true).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1), ("b", "app:1", 1)])).await;
    // A POST for namespace b alone (agents batch by namespace) leaves a untouched.
    harness.post_k8s(&k8s_report("c", day(1), &[("b", "app:2", 2)])).await;
    let items = harness.list("admin", &[]).await;
    assert_eq!(listed(&items), [("c/a".to_owned(), digest(1)), ("c/b".to_owned(), digest(2))]);
    let a = &harness.list("admin", &[("context", "c/a")]).await[0];
    assert_eq!(a["last_seen"], "2026-11-20T10:15:00.000Z");
}

#[tokio::test]
async fn reposting_an_identical_report_writes_nothing() {
    let harness = Harness::new(120, false).await;
    let report = sample_report("post-kubernetes-inventory.json");
    harness.post_k8s(&report).await;
    let before = harness.list("admin", &[]).await;
    harness.requests.reset();

    let response = harness.post_k8s(&report).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.body["images_unchanged"], 3);
    assert_eq!(response.body["images_added"], 0);
    assert_eq!(harness.requests.writes(), 0);
    assert_eq!(harness.list("admin", &[]).await, before);
}

#[tokio::test]
async fn older_reports_do_not_roll_back() {
    let harness = Harness::new(120, true).await;
    harness.post_k8s(&k8s_report("c", day(2), &[("a", "app:2", 2)])).await;
    let late = harness.post_k8s(&k8s_report("c", day(1), &[("a", "app:1", 1)])).await;
    assert_eq!(late.status, StatusCode::CREATED);
    assert_eq!(late.body["contexts"][0]["status"], "stale");
    assert_eq!(listed(&harness.list("admin", &[]).await), [("c/a".to_owned(), digest(2))]);
    let current = &harness.list("admin", &[]).await[0];
    assert_eq!(current["last_seen"], "2026-11-22T10:15:00.000Z");
}

#[tokio::test]
async fn accounts_are_isolated() {
    let harness = Harness::new(120, true).await;
    let report = k8s_report("c", day(0), &[("a", "app:1", 1)]);
    let posted = harness.call("post-kubernetes-inventory.json", Some(&report.to_string()), Some("team-a"), &[]).await;
    assert_eq!(posted.status, StatusCode::CREATED);
    assert!(harness.list("admin", &[]).await.is_empty());
    assert_eq!(harness.list("team-a", &[]).await.len(), 1);

    // The same context in another account is independent, even under overwrite.
    harness.clock.set(day(1));
    let other = k8s_report("c", day(1), &[("a", "app:2", 2)]);
    harness.call("post-kubernetes-inventory.json", Some(&other.to_string()), Some("team-b"), &[]).await;
    assert_eq!(listed(&harness.list("team-a", &[]).await), [("c/a".to_owned(), digest(1))]);
    assert_eq!(listed(&harness.list("team-b", &[]).await), [("c/a".to_owned(), digest(2))]);
    // No header means the admin account.
    let default_account = harness.call("get-inventories.json", None, None, &[]).await;
    assert_eq!(default_account.body["items"], json!([]));
}

#[tokio::test]
async fn bad_reports_are_rejected_and_store_nothing() {
    let harness = Harness::new(120, false).await;
    let good = sample_report("post-kubernetes-inventory.json");
    let mut cases: Vec<(&str, String, &str)> = vec![
        ("post-kubernetes-inventory.json", "{\"cluster_name\": \"c\", ".to_owned(), "body"),
        ("post-kubernetes-inventory.json", "".to_owned(), "body"),
        ("post-ecs-inventory.json", "[1, 2]".to_owned(), "body"),
    ];
    let mut mutate = |event: &'static str, field: &'static str, change: &dyn Fn(&mut Value)| {
        let mut report = if event.contains("ecs") { sample_report(event) } else { good.clone() };
        change(&mut report);
        cases.push((event, report.to_string(), field));
    };
    let k8s = "post-kubernetes-inventory.json";
    let ecs = "post-ecs-inventory.json";
    mutate(k8s, "cluster_name", &|r| drop(r.as_object_mut().unwrap().remove("cluster_name")));
    mutate(k8s, "cluster_name", &|r| r["cluster_name"] = json!(""));
    mutate(k8s, "cluster_name", &|r| r["cluster_name"] = json!(["prod"]));
    mutate(k8s, "timestamp", &|r| drop(r.as_object_mut().unwrap().remove("timestamp")));
    mutate(k8s, "timestamp", &|r| r["timestamp"] = json!("20/11/2026 10:15"));
    mutate(k8s, "namespaces", &|r| r["namespaces"] = json!("default"));
    mutate(k8s, "containers", &|r| r["containers"] = json!({"id": "x"}));
    mutate(ecs, "cluster_arn", &|r| r["cluster_arn"] = json!(""));
    mutate(ecs, "cluster_arn", &|r| drop(r.as_object_mut().unwrap().remove("cluster_arn")));
    mutate(ecs, "timestamp", &|r| r["timestamp"] = json!(1_700_000_000));

    for (event, body, field) in cases {
        let response = harness.call(event, Some(&body), Some("admin"), &[]).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert_eq!(response.body["detail"]["field"], field, "{body}");
        assert_eq!(response.body["httpcode"], 400);
        assert!(response.body["message"].as_str().unwrap().starts_with(field));
    }
    assert!(harness.stored_items().await.is_empty(), "a bad report stores nothing");
    assert_eq!(harness.requests.writes(), 0);

    // An account name that cannot be part of a key is refused even inside an authorizer context.
    let bad_account = harness.call(k8s, Some(&good.to_string()), Some("a#b"), &[]).await;
    assert_eq!(bad_account.status, StatusCode::UNAUTHORIZED);
    assert!(harness.stored_items().await.is_empty());
}

/// `(field, reason)` of each skipped item of a 201 answer.
fn skipped(response: &integration_tests::Response) -> Vec<String> {
    response.body["skipped"].as_array().unwrap().iter().map(|note| note["field"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn one_odd_item_is_skipped_and_the_rest_of_the_cluster_stored() {
    let harness = Harness::new(120, false).await;
    let mut report = sample_report("post-kubernetes-inventory.json");
    report["containers"][0]["image_tag"] = json!("");
    report["containers"][1]["image_digest"] = json!(format!("sha512:{}", "ab".repeat(64)));
    report["containers"][2]["image_tag"] = json!("registry.local/team/api:");
    report["containers"][3]["image_digest"] = json!("sha256:abc");
    report["pods"][0]["namespace_uid"] = json!("not-in-this-batch");
    let response = harness.post_k8s(&report).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    assert_eq!(skipped(&response), ["pods[0].namespace_uid", "containers[0].pod_uid"]);
    assert_eq!(response.body["skipped_count"], 2);
    let adjusted: Vec<&str> =
        response.body["adjusted"].as_array().unwrap().iter().map(|note| note["field"].as_str().unwrap()).collect();
    assert_eq!(adjusted, ["containers[2].image_tag", "containers[3].image_digest"]);

    let mut stored: Vec<(String, String)> = harness
        .list("admin", &[])
        .await
        .iter()
        .map(|item| (item["image_tag"].as_str().unwrap().to_owned(), item["image_digest"].as_str().unwrap().to_owned()))
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:v4.2.0".to_owned(),
                format!("sha512:{}", "ab".repeat(64))
            ),
            ("docker.io/envoyproxy/envoy:v1.31.0".to_owned(), String::new()),
            (
                "registry.local/team/api:latest".to_owned(),
                "sha256:996fe12b25dfa8e26af9007549163024a4833a0052f44ac87461273e97d9a9ac".to_owned()
            ),
        ]
    );

    // An ECS container without an ARN is kept under its task.
    let mut ecs = sample_report("post-ecs-inventory.json");
    ecs["containers"][0]["arn"] = json!("");
    let response = harness.post_ecs(&ecs).await;
    assert_eq!((response.status, response.body["skipped_count"].as_u64()), (StatusCode::CREATED, Some(0)));
    assert_eq!(harness.list("admin", &[("inventory_type", "ecs")]).await.len(), 2);
}

#[tokio::test]
async fn a_megabyte_image_tag_skips_its_container_and_leaves_the_context_unlocked() {
    let harness = Harness::new(120, false).await;
    let mut report = k8s_report("c", day(0), &[("a", "app:1", 1), ("a", "app:2", 2)]);
    report["containers"][0]["image_tag"] = json!(format!("app:{}", "x".repeat(1_000_000)));
    let response = harness.post_k8s(&report).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    assert_eq!(skipped(&response), ["containers[0].image_tag"]);
    assert_eq!(listed(&harness.list("admin", &[]).await), [("c/a".to_owned(), digest(2))]);
    // The next report is taken at once.
    let next = harness.post_k8s(&k8s_report("c", day(0) + TimeDelta::minutes(1), &[("a", "app:1", 1)])).await;
    assert_eq!(next.body["contexts"][0]["status"], "stored", "{}", next.body);
}

#[tokio::test]
async fn a_report_past_a_limit_answers_413_naming_the_agent_setting() {
    let harness = Harness::new(120, false).await;
    let mut report = k8s_report("c", day(0), &[("a", "app:1", 1)]);
    report["nodes"] = Value::Array(vec![json!({}); inventory_store::limits::MAX_ARRAY_ITEMS + 1]);
    let response = harness.post_k8s(&report).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.body["detail"]["field"], "nodes");
    assert!(response.body["message"].as_str().unwrap().contains("payloadThresholdBytes"), "{}", response.body);
    assert!(harness.stored_items().await.is_empty());
}

#[tokio::test]
async fn a_report_dated_in_the_future_is_refused_and_does_not_freeze_the_context() {
    let harness = Harness::new(120, false).await;
    let now = day(0);
    harness.clock.set(now);
    let next_year = k8s_report("c", now + TimeDelta::days(365), &[("a", "app:1", 1)]);
    let body = next_year.to_string();
    let response = harness.call("post-kubernetes-inventory.json", Some(&body), Some("admin"), &[]).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.body["detail"]["field"], "timestamp");
    assert!(response.body["message"].as_str().unwrap().contains("the agent's clock is ahead"), "{}", response.body);
    assert!(harness.stored_items().await.is_empty());

    let normal = k8s_report("c", now - TimeDelta::minutes(1), &[("a", "app:2", 2)]);
    let response = harness.post_k8s(&normal).await;
    assert_eq!(response.body["contexts"][0]["status"], "stored", "{}", response.body);
    assert_eq!(listed(&harness.list("admin", &[]).await), [("c/a".to_owned(), digest(2))]);
}

#[tokio::test]
async fn ecs_credential_check_is_accepted_and_stores_nothing() {
    let harness = Harness::new(120, false).await;
    let check = json!({"timestamp": "2026-11-20T10:15:00Z", "cluster_arn": "validating-creds"});
    let response = harness.post_ecs(&check).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert!(response.body.is_object());
    assert!(harness.stored_items().await.is_empty());
}

#[tokio::test]
async fn ecs_containers_without_digest_are_kept_by_tag() {
    let harness = Harness::new(120, false).await;
    let mut report = sample_report("post-ecs-inventory.json");
    report["containers"][1]["image_digest"] = json!("");
    report["containers"][0]["image_digest"] = json!("UNKNOWN");
    harness.post_ecs(&report).await;
    let mut tags: Vec<String> =
        harness.list("admin", &[]).await.iter().map(|i| format!("{}|{}", i["image_tag"], i["image_digest"])).collect();
    tags.sort();
    assert_eq!(
        tags,
        ["\"123456789012.dkr.ecr.eu-west-2.amazonaws.com/worker:2.0\"|\"\"", "\"docker.io/library/nginx:1.27.2\"|\"\"",]
    );
}

#[tokio::test]
async fn concurrent_reports_for_one_context_end_in_the_newest_state() {
    let harness = Harness::new(120, true).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:0", 10)])).await;
    let older = k8s_report("c", day(1), &[("a", "app:1", 1), ("a", "app:2", 2)]);
    let newer = k8s_report("c", day(2), &[("a", "app:3", 3)]);
    let (older, newer) = tokio::join!(harness.post_k8s(&older), harness.post_k8s(&newer));
    assert_eq!((older.status, newer.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(listed(&harness.list("admin", &[]).await), [("c/a".to_owned(), digest(3))]);
    let item = &harness.list("admin", &[]).await[0];
    assert_eq!(item["last_seen"], "2026-11-22T10:15:00.000Z");
}

#[tokio::test]
async fn a_legacy_kai_report_is_stored_like_a_kubernetes_report_and_answered_200() {
    let harness = Harness::new(120, true).await;
    let report = sample_report("post-kai-inventory.json");
    let response = harness.call("post-kai-inventory.json", Some(&report.to_string()), Some("admin"), &[]).await;
    assert_eq!(response.status, StatusCode::OK, "kai counts only 200 as success: {}", response.body);
    assert_eq!(response.body["images_added"], 7);

    let items = harness.list("admin", &[("inventory_type", "kubernetes")]).await;
    assert_eq!(contexts(&items), ["eks-prod/default", "eks-prod/kube-system"]);
    assert!(items.iter().all(|item| item["container_count"] == 1), "kai lists each image once per namespace");
    let alpine = items.iter().find(|item| item["image_tag"].as_str().unwrap().contains("alpine")).unwrap();
    assert_eq!(alpine["image_digest"], "sha256:4ed1812024ed78962a34727137627e8854a3b414d19e2c35a1dc727a47e16fba");

    // Overwrite mode: a later kai report without an image removes it, like any Kubernetes report.
    let mut later = report.clone();
    later["timestamp"] = "2026-11-20T10:20:00Z".into();
    later["results"][2]["images"].as_array_mut().unwrap().pop();
    let body = later.to_string();
    harness.clock.set(day(0) + TimeDelta::minutes(6));
    let response = harness.call("post-kai-inventory.json", Some(&body), Some("admin"), &[]).await;
    assert_eq!((response.status, response.body["images_removed"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(harness.list("admin", &[("context", "eks-prod/default")]).await.len(), 2);
}

#[tokio::test]
async fn under_overwrite_an_item_the_report_skipped_keeps_what_was_stored() {
    let harness = Harness::new(120, true).await;
    let both = [("a", "app:1", 1), ("a", "app:2", 2)];
    harness.post_k8s(&k8s_report("c", day(0), &both)).await;
    let mut report = k8s_report("c", day(0) + TimeDelta::minutes(5), &both);
    report["containers"][0]["image_tag"] = json!("app:\u{7}bell");
    let response = harness.post_k8s(&report).await;
    assert_eq!(skipped(&response), ["containers[0].image_tag"]);
    let kept = [("c/a".to_owned(), digest(1)), ("c/a".to_owned(), digest(2))];
    assert_eq!(listed(&harness.list("admin", &[]).await), kept, "the skipped container's image stays");
    // A complete report without it still overwrites.
    harness.post_k8s(&k8s_report("c", day(0) + TimeDelta::minutes(10), &both[1..])).await;
    assert_eq!(listed(&harness.list("admin", &[]).await), [("c/a".to_owned(), digest(2))]);
}

#[tokio::test]
async fn a_report_older_than_the_retention_is_refused_naming_its_timestamp() {
    let harness = Harness::new(120, false).await;
    harness.clock.set(day(400));
    let response = harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1)])).await;
    assert_eq!(
        (response.status, response.body["detail"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("timestamp"))
    );
    assert!(response.body["message"].as_str().unwrap().contains("120 days"), "{}", response.body);
    assert!(harness.stored_items().await.is_empty());
    // Within the retention, and with no retention at all, it is stored.
    assert_eq!(harness.post_k8s(&k8s_report("c", day(281), &[("a", "app:1", 1)])).await.status, StatusCode::CREATED);
    let forever = Harness::new(0, false).await;
    forever.clock.set(day(400));
    assert_eq!(forever.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1)])).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_context_without_live_images_can_still_be_deleted() {
    // Under overwrite, a namespace reported without pods keeps its record and loses its images.
    let harness = Harness::new(120, true).await;
    harness.post_k8s(&k8s_report("c", day(0), &[("a", "app:1", 1), ("empty", "app:2", 2)])).await;
    let mut report = k8s_report("c", day(0) + TimeDelta::minutes(5), &[("a", "app:1", 1)]);
    report["namespaces"].as_array_mut().unwrap().push(json!({"name": "empty", "uid": "uid-empty"}));
    assert_eq!(harness.post_k8s(&report).await.status, StatusCode::CREATED);
    assert_eq!(listed(&harness.list("admin", &[]).await), [("c/a".to_owned(), digest(1))]);
    let namespaces = || harness.call("get-kubernetes-namespaces.json", None, Some("admin"), &[("page", "1")]);
    assert_eq!(namespaces().await.body["namespaces"].as_array().unwrap().len(), 2);
    let delete = |context: &'static str| {
        let harness = &harness;
        async move {
            let query = [("inventory_type", "kubernetes"), ("context", context)];
            harness.call("delete-inventories.json", None, Some("admin"), &query).await
        }
    };
    let deleted = delete("c/empty").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let left = namespaces().await.body["namespaces"].clone();
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["name"], "a");
    assert_eq!(delete("c/empty").await.status, StatusCode::NOT_FOUND, "gone now");
}

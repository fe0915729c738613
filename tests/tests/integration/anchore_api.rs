//! The rest of Anchore's runtime-inventory API against moto: the detail routes, agent
//! registration and health reports, and unpaged, compressed listings.

use chrono::TimeDelta;
use integration_tests::{admin_event, day, k8s_report, sample_report, Harness, Response};
use inventory_store::keys::{inventory_pk, INDEX_SHARDS};
use inventory_store::model::InventoryType;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn get(harness: &Harness, path: &str, query: &[(&str, &str)]) -> Response {
    harness.send(admin_event("get-inventories.json", Some(path), None, Some("admin"), query)).await
}

/// Every entry of a detail listing, `page_size` at a time.
async fn all_pages(harness: &Harness, path: &str, key: &str, page_size: usize) -> Vec<Value> {
    let mut entries = Vec::new();
    for page in 1.. {
        let size = page_size.to_string();
        let response = get(harness, path, &[("page", &page.to_string()), ("page_size", &size)]).await;
        assert_eq!(response.status, StatusCode::OK, "{path} page {page}: {}", response.body);
        let found = response.body[key].as_array().unwrap().clone();
        assert!(found.len() <= page_size);
        if found.is_empty() {
            return entries;
        }
        entries.extend(found);
    }
    unreachable!()
}

fn values(entries: &[Value], field: &str) -> BTreeSet<String> {
    entries.iter().map(|entry| entry[field].as_str().unwrap_or_default().to_owned()).collect()
}

async fn post_samples(harness: &Harness) {
    for event in ["post-kubernetes-inventory.json", "post-ecs-inventory.json"] {
        let response = harness.call(event, Some(&sample_report(event).to_string()), Some("admin"), &[]).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    }
}

#[tokio::test]
async fn detail_routes_answer_anchores_shapes_page_by_page() {
    let harness = Harness::new(120, false).await;
    post_samples(&harness).await;

    let containers = all_pages(&harness, "/v2/kubernetes-containers", "containers", 3).await;
    assert_eq!(containers.len(), 4, "every container, across both namespaces and two pages");
    let api = containers
        .iter()
        .find(|c| c["image_tag"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:v4.2.0");
    let api = api.expect("tags come from the image records");
    for field in ["id", "name", "pod_id", "account_name", "context", "image_tag", "image_digest"] {
        assert!(api[field].is_string(), "{field} in {api}");
    }
    assert_eq!(api["context"], "prod-eu-1/payments");
    assert!(api["image_digest"].as_str().unwrap().starts_with("sha256:"));

    let pods = all_pages(&harness, "/v2/kubernetes-pods", "namespaces", 2).await;
    assert_eq!(values(&pods, "id"), BTreeSet::from(["pod-0001", "pod-0002", "pod-0003"].map(String::from)));
    assert!(pods.iter().all(|pod| pod["node_id"] == "node-0001" && pod["labels"].is_object()));
    let nodes = all_pages(&harness, "/v2/kubernetes-nodes", "namespaces", 10).await;
    assert_eq!(
        values(&nodes, "uid"),
        BTreeSet::from(["node-0001".to_owned()]),
        "one node, though two namespaces report it"
    );
    assert_eq!(nodes[0]["name"], "ip-10-0-1-12");
    let namespaces = all_pages(&harness, "/v2/kubernetes-namespaces", "namespaces", 1).await;
    assert_eq!(values(&namespaces, "name"), BTreeSet::from(["default", "payments"].map(String::from)));

    let pod = get(&harness, "/v2/kubernetes-pods/pod-0002", &[]).await;
    assert_eq!((pod.status, pod.body["name"].as_str()), (StatusCode::OK, Some("api-5c4b")));
    let node = get(&harness, "/v2/kubernetes-nodes/node-0001", &[]).await;
    assert_eq!(node.body["uid"], "node-0001");
    let namespace = get(&harness, "/v2/kubernetes-namespaces/ns-0002", &[]).await;
    assert_eq!(namespace.body["name"], "payments");
    for path in ["/v2/kubernetes-pods/nope", "/v2/kubernetes-nodes/nope", "/v2/kubernetes-namespaces/nope"] {
        assert_eq!(get(&harness, path, &[]).await.status, StatusCode::NOT_FOUND, "{path}");
    }

    let ecs_containers = all_pages(&harness, "/v2/ecs-containers", "containers", 1).await;
    assert_eq!(ecs_containers.len(), 2);
    assert!(ecs_containers.iter().all(|c| c["task_arn"].is_string() && c["image_digest"].is_string()));
    let tasks = all_pages(&harness, "/v2/ecs-tasks", "tasks", 5).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["cluster_arn"], "arn:aws:ecs:eu-west-2:123456789012:cluster/myclustername");
    assert!(tasks[0]["task_definition_arn"].is_string() && tasks[0]["tags"].is_object());
    assert_eq!(all_pages(&harness, "/v2/ecs-services", "services", 5).await.len(), 1);

    let missing = get(&harness, "/v2/kubernetes-containers", &[]).await;
    assert_eq!((missing.status, missing.body["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("page")));
    let other_account =
        harness.send(admin_event("get-kubernetes-pods.json", None, None, Some("team-b"), &[("page", "1")])).await;
    assert_eq!(other_account.body["namespaces"], json!([]), "accounts see only their own details");

    harness.clock.set(day(121) + TimeDelta::minutes(5));
    assert!(all_pages(&harness, "/v2/kubernetes-containers", "containers", 10).await.is_empty(), "expired details go");
}

#[tokio::test]
async fn a_page_reads_only_the_contexts_it_covers() {
    let harness = Harness::new(120, false).await;
    // Three namespaces of 4 containers each; page 3 of size 4 is exactly the third namespace.
    let containers: Vec<(&str, &str, u64)> =
        ["a", "b", "c"].iter().flat_map(|ns| (0..4).map(move |n| (*ns, "nginx:1", n))).collect();
    assert_eq!(harness.post_k8s(&k8s_report("fleet", day(0), &containers)).await.status, StatusCode::CREATED);
    harness.requests.reset();
    let page = get(&harness, "/v2/kubernetes-containers", &[("page", "3"), ("page_size", "4")]).await;
    assert_eq!(values(page.body["containers"].as_array().unwrap(), "context"), BTreeSet::from(["fleet/c".to_owned()]));
    // One query per shard of the contexts index and one batch of the context records it names,
    // one query of the third namespace's containers, one batch of their image records: the
    // first two namespaces are skipped by count, not read.
    let shards = u64::from(INDEX_SHARDS);
    assert_eq!(
        (harness.requests.get("Query"), harness.requests.get("BatchGetItem"), harness.requests.get("GetItem")),
        (shards + 1, 2, 0)
    );

    // Context records written before they counted their details: counted on the fly.
    for context in ["fleet/a", "fleet/b", "fleet/c"] {
        let key = |value: &str| aws_sdk_dynamodb::types::AttributeValue::S(value.to_owned());
        harness
            .dynamodb
            .update_item()
            .table_name(&harness.table)
            .key("pk", key(&inventory_pk("admin", InventoryType::Kubernetes, context)))
            .key("sk", key(context))
            .update_expression("REMOVE detail_counts")
            .send()
            .await
            .unwrap();
    }
    harness.requests.reset();
    let counted = get(&harness, "/v2/kubernetes-containers", &[("page", "3"), ("page_size", "4")]).await;
    assert_eq!(counted.body, page.body);
    assert_eq!(harness.requests.get("Query"), shards + 1 + 3, "one count per context without counts");
}

#[tokio::test]
async fn a_clusters_namespaces_are_deleted_together() {
    let harness = Harness::new(120, false).await;
    for cluster in ["prod-eu-1", "prod-eu-10"] {
        let report = k8s_report(cluster, day(0), &[("a", "nginx:1", 1), ("b", "redis:7", 2)]);
        assert_eq!(harness.post_k8s(&report).await.status, StatusCode::CREATED);
    }
    let delete = |cluster: &'static str| {
        let harness = &harness;
        async move {
            harness.call("delete-kubernetes-namespaces.json", None, Some("admin"), &[("cluster_name", cluster)]).await
        }
    };
    let deleted = delete("prod-eu-1").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let left: BTreeSet<String> =
        harness.list("admin", &[]).await.iter().map(|i| i["context"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        left,
        BTreeSet::from(["prod-eu-10/a", "prod-eu-10/b"].map(String::from)),
        "prod-eu-10 is another cluster"
    );
    assert_eq!(delete("prod-eu-1").await.status, StatusCode::NOT_FOUND);
    let unnamed = harness.call("delete-kubernetes-namespaces.json", None, Some("admin"), &[("cluster_name", "")]).await;
    assert_eq!(unnamed.body["detail"]["field"], "cluster_name", "no request deletes every cluster");
}

#[tokio::test]
async fn a_k8s_inventory_agent_registers_reports_health_and_posts_batches() {
    let harness = Harness::new(120, false).await;
    let version = harness.call("get-version.json", None, None, &[]).await;
    assert_eq!(version.body["service"]["version"], "5.11.0", "5.11 makes the agent register");

    let registration = integration_tests::sample_report("post-integration-registration.json");
    let registration_text = registration.to_string();
    let register = || harness.call("post-integration-registration.json", Some(&registration_text), Some("admin"), &[]);
    let first = register().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let uuid = first.body["uuid"].as_str().unwrap().to_owned();
    assert_eq!(first.body["integration_status"]["state"], "registered");
    assert_eq!(
        (first.body["account_name"].as_str(), first.body["cluster_name"].as_str()),
        (Some("admin"), Some("prod-eu-1"))
    );
    let again = register().await;
    assert_eq!(
        (again.status, again.body["uuid"].as_str()),
        (StatusCode::OK, Some(uuid.as_str())),
        "same ids, same uuid"
    );

    let health = integration_tests::sample_report("post-integration-health-report.json");
    let path = format!("/v2/system/integrations/{uuid}/health-report");
    for minute in 1..=2 {
        harness.clock.set(day(0) + TimeDelta::minutes(minute));
        let event = admin_event(
            "post-integration-health-report.json",
            Some(&path),
            Some(&health.to_string()),
            Some("admin"),
            &[],
        );
        let reported = harness.send(event).await;
        assert_eq!((reported.status, &reported.body), (StatusCode::CREATED, &Value::Null));
    }
    // The agent's batched POSTs: one namespace per request.
    for namespace in ["default", "payments"] {
        let report = k8s_report("prod-eu-1", day(0), &[(namespace, "nginx:1", 1)]);
        assert_eq!(harness.post_k8s(&report).await.status, StatusCode::CREATED);
    }

    let listed = get(&harness, "/v2/system/integrations", &[]).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let integration = get(&harness, &format!("/v2/system/integrations/{uuid}"), &[]).await.body;
    assert_eq!(integration["integration_status"]["state"], "active");
    assert_eq!(integration["reported_status"]["state"], "healthy");
    assert_eq!(integration["accounts"], json!(["admin"]));
    assert_eq!(integration["last_seen"], "2026-11-20T10:17:00.000Z");
    harness.clock.set(day(0) + TimeDelta::minutes(10));
    let quiet = get(&harness, &format!("/v2/system/integrations/{uuid}"), &[]).await.body;
    assert_eq!(quiet["integration_status"]["state"], "inactive", "three missed reports");

    let unknown = "/v2/system/integrations/00000000-0000-8000-8000-000000000000/health-report";
    let event = admin_event(
        "post-integration-health-report.json",
        Some(unknown),
        Some(&health.to_string()),
        Some("admin"),
        &[],
    );
    assert_eq!(harness.send(event).await.status, StatusCode::NOT_FOUND);
    let elsewhere =
        admin_event("post-integration-health-report.json", Some(&path), Some(&health.to_string()), Some("team-b"), &[]);
    assert_eq!(harness.send(elsewhere).await.status, StatusCode::NOT_FOUND, "another account's integration");
    // A uuid past any key bound is a client error, whether reported to or read.
    let long = format!("/v2/system/integrations/{}", "a".repeat(2048));
    let event = admin_event(
        "post-integration-health-report.json",
        Some(&format!("{long}/health-report")),
        Some(&health.to_string()),
        Some("admin"),
        &[],
    );
    let reported = harness.send(event).await;
    assert!(reported.status.is_client_error(), "{} {}", reported.status, reported.body);
    let read = get(&harness, &long, &[]).await;
    assert!(read.status.is_client_error(), "{} {}", read.status, read.body);
    let mut broken = registration.clone();
    broken.as_object_mut().unwrap().remove("registration_id");
    let refused =
        harness.call("post-integration-registration.json", Some(&broken.to_string()), Some("admin"), &[]).await;
    assert_eq!(
        (refused.status, refused.body["detail"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("registration_id"))
    );
}

#[tokio::test]
async fn an_unpaged_listing_answers_every_item_compressed() {
    let harness = Harness::new(120, false).await;
    // More images than a default page, as anchorectl would list them (no limit, no next).
    let containers: Vec<(&str, &str, u64)> = (0..1200).map(|n| ("big", "nginx:1", n)).collect();
    assert_eq!(harness.post_k8s(&k8s_report("fleet", day(0), &containers)).await.status, StatusCode::CREATED);

    let mut event = admin_event("get-inventories.json", None, None, Some("admin"), &[]);
    event["headers"]["accept-encoding"] = "gzip".into();
    let all = harness.send(event.clone()).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.headers["content-encoding"], "gzip");
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1200);
    assert!(all.body.get("next").is_none());

    event["headers"].as_object_mut().unwrap().remove("accept-encoding");
    let plain = harness.send(event).await;
    assert!(plain.headers.get("content-encoding").is_none());
    assert_eq!(plain.body["items"].as_array().unwrap().len(), 1200);

    let paged = harness.call("get-inventories.json", None, Some("admin"), &[("limit", "500")]).await;
    assert_eq!(paged.body["items"].as_array().unwrap().len(), 500);
    assert!(paged.body["next"].is_string(), "limit still pages");
}

#[tokio::test]
async fn kai_namespaces_are_listed_without_containers() {
    let harness = Harness::new(120, false).await;
    let report = sample_report("post-kai-inventory.json");
    let response = harness.call("post-kai-inventory.json", Some(&report.to_string()), Some("admin"), &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    let namespaces = all_pages(&harness, "/v2/kubernetes-namespaces", "namespaces", 10).await;
    assert_eq!(values(&namespaces, "name"), BTreeSet::from(["default", "kube-system"].map(String::from)));
    assert!(namespaces.iter().all(|ns| ns["uid"].is_null() && ns["cluster_name"] == "eks-prod"), "kai sends no uid");
    assert!(
        all_pages(&harness, "/v2/kubernetes-containers", "containers", 10).await.is_empty(),
        "kai sends no containers"
    );
}

#[tokio::test]
async fn kai_lists_the_inventory_as_the_v1_bare_array() {
    let harness = Harness::new(120, false).await;
    let report = sample_report("post-kai-inventory.json");
    assert_eq!(
        harness.call("post-kai-inventory.json", Some(&report.to_string()), Some("admin"), &[]).await.status,
        StatusCode::OK
    );
    let v1 = harness.call("get-inventories-v1.json", None, Some("admin"), &[]).await;
    assert_eq!(v1.status, StatusCode::OK, "{}", v1.body);
    let v2 = harness.call("get-inventories.json", None, Some("admin"), &[]).await;
    assert!(v1.body.as_array().is_some_and(|items| !items.is_empty()), "{}", v1.body);
    assert_eq!(v1.body, v2.body["items"], "the same items, without the envelope");
    let filtered = harness.call("get-inventories-v1.json", None, Some("admin"), &[("inventory_type", "ecs")]).await;
    assert_eq!(filtered.body, serde_json::json!([]));
}

/// kai's `image_ttl_days: -1` ("always show the latest inventory") is `InventoryIngestOverwrite`:
/// a kai report replaces its cluster, so a namespace it stops listing departs at once (without
/// overwrite, it stays until the TTL).
#[tokio::test]
async fn with_overwrite_a_namespace_kai_stops_reporting_departs_at_once() {
    for overwrite in [true, false] {
        let harness = Harness::new(120, overwrite).await;
        let mut report = sample_report("post-kai-inventory.json");
        let post = async |report: &serde_json::Value| {
            harness.call("post-kai-inventory.json", Some(&report.to_string()), Some("admin"), &[]).await
        };
        assert_eq!(post(&report).await.status, StatusCode::OK);
        let namespaces_of = |items: &[serde_json::Value]| -> BTreeSet<String> {
            items.iter().map(|item| item["context"].as_str().unwrap().to_owned()).collect()
        };
        let before = namespaces_of(&harness.list("admin", &[]).await);
        assert!(before.contains("eks-prod/kube-system") && before.contains("eks-prod/default"), "{before:?}");

        harness.clock.advance(chrono::TimeDelta::minutes(5));
        report["timestamp"] = "2026-11-20T10:20:00Z".into();
        report["results"].as_array_mut().unwrap().retain(|result| result["namespace"] == "default");
        let answer = post(&report).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let after = namespaces_of(&harness.list("admin", &[]).await);
        if overwrite {
            assert_eq!(after, BTreeSet::from(["eks-prod/default".to_owned()]), "{}", answer.body);
            assert!(answer.body["images_removed"].as_u64().unwrap() > 0);
        } else {
            assert_eq!(after, before, "without overwrite the TTL decides");
        }
    }
}

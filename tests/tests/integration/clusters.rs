//! `GET /v2/clusters`: every reporting cluster, how often it reports, and which went quiet.

use chrono::TimeDelta;
use integration_tests::{admin_event, day, k8s_report, sample_report, Harness};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

async fn clusters(harness: &Harness) -> Vec<Value> {
    let answer = harness.call("get-clusters.json", None, Some("admin"), &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["clusters"].as_array().unwrap().clone()
}

#[tokio::test]
async fn clusters_report_their_coverage_and_quiet_ones_turn_stale() {
    let harness = Harness::new(120, false).await;
    let a = |minute: i64| {
        k8s_report("prod-eu-1", day(0) + TimeDelta::minutes(minute), &[("a", "app:1", 1), ("b", "app:2", 2)])
    };
    assert_eq!(harness.post_k8s(&a(0)).await.status, StatusCode::CREATED);
    let quiet = k8s_report("staging", day(0), &[("default", "app:1", 1)]);
    assert_eq!(harness.post_k8s(&quiet).await.status, StatusCode::CREATED);
    assert_eq!(harness.post_ecs(&sample_report("post-ecs-inventory.json")).await.status, StatusCode::CREATED);

    // Half an hour later only prod-eu-1 has reported again.
    assert_eq!(harness.post_k8s(&a(30)).await.status, StatusCode::CREATED);
    harness.clock.set(day(0) + TimeDelta::minutes(32));
    let listed = clusters(&harness).await;
    let summary: Vec<(&str, &str, bool)> = listed
        .iter()
        .map(|c| (c["inventory_type"].as_str().unwrap(), c["cluster"].as_str().unwrap(), c["stale"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("ecs", "arn:aws:ecs:eu-west-2:123456789012:cluster/myclustername", true),
            ("kubernetes", "prod-eu-1", false),
            ("kubernetes", "staging", true)
        ]
    );
    let prod = &listed[1];
    assert_eq!(prod["contexts"], json!(["prod-eu-1/a", "prod-eu-1/b"]));
    assert_eq!(prod["sources"], json!(["k8s-inventory"]));
    assert_eq!(
        (prod["report_interval_seconds"].as_i64(), prod["minutes_since_last_report"].as_i64()),
        (Some(1800), Some(2))
    );
    assert_eq!((prod["container_count"].as_u64(), prod["image_count"].as_u64()), (Some(2), Some(2)));
    assert!(listed[2].get("report_interval_seconds").is_none(), "one report shows no interval yet");
    assert!(prod.get("agents").is_none(), "no agent registered yet");

    // A registered agent appears beside the cluster its registration names.
    let registration = sample_report("post-integration-registration.json").to_string();
    let registered = harness.call("post-integration-registration.json", Some(&registration), Some("admin"), &[]).await;
    assert!(registered.status.is_success(), "{}", registered.body);
    let listed = clusters(&harness).await;
    let agents = listed[1]["agents"].as_array().expect("prod-eu-1's agent");
    assert_eq!((agents.len(), agents[0]["name"].as_str()), (1, Some("k8s-inventory")), "{agents:?}");
    assert!(agents[0]["integration_status"]["state"].is_string());
    assert!(listed[2].get("agents").is_none(), "staging has none");

    let other_account = harness.send(admin_event("get-clusters.json", None, None, Some("team-b"), &[])).await;
    assert_eq!(other_account.body["clusters"], json!([]), "accounts see only their own clusters");
}

/// EKS users name clusters by ARN, which holds a `/`: each is its own cluster, listed, judged
/// stale and deleted by its own name.
#[tokio::test]
async fn clusters_named_by_eks_arn_are_kept_apart() {
    let harness = Harness::new(120, false).await;
    let (a, b) = ("arn:aws:eks:eu-west-1:111122223333:cluster/a", "arn:aws:eks:eu-west-1:111122223333:cluster/b");
    let report = |cluster: &str, minute: i64| {
        k8s_report(cluster, day(0) + TimeDelta::minutes(minute), &[("default", "app:1", 1)])
    };
    for cluster in [a, b] {
        assert_eq!(harness.post_k8s(&report(cluster, 0)).await.status, StatusCode::CREATED);
    }
    // A cluster whose name is another's with `/x` appended is another cluster too.
    let nested = format!("{a}/x");
    assert_eq!(harness.post_k8s(&report(&nested, 0)).await.status, StatusCode::CREATED);
    assert_eq!(harness.post_k8s(&report(a, 30)).await.status, StatusCode::CREATED);
    harness.clock.set(day(0) + TimeDelta::minutes(32));
    let listed = clusters(&harness).await;
    let summary: Vec<(&str, bool)> =
        listed.iter().map(|c| (c["cluster"].as_str().unwrap(), c["stale"].as_bool().unwrap())).collect();
    assert_eq!(summary, [(a, false), (nested.as_str(), true), (b, true)], "b went quiet while a reports");
    assert_eq!(listed[0]["contexts"], json!([format!("{a}/default")]));
    let namespaces = harness.call("get-kubernetes-namespaces.json", None, Some("admin"), &[("page", "1")]).await;
    let names: Vec<(&str, &str)> = namespaces.body["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ns| (ns["cluster_name"].as_str().unwrap(), ns["name"].as_str().unwrap()))
        .collect();
    assert!(names.contains(&(b, "default")) && names.contains(&(nested.as_str(), "default")), "{names:?}");

    let delete = |cluster: String| {
        let harness = &harness;
        async move {
            harness.call("delete-kubernetes-namespaces.json", None, Some("admin"), &[("cluster_name", &cluster)]).await
        }
    };
    let deleted = delete(b.to_owned()).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let deleted = delete(a.to_owned()).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let left: Vec<String> =
        harness.list("admin", &[]).await.iter().map(|i| i["context"].as_str().unwrap().to_owned()).collect();
    assert_eq!(left, [format!("{nested}/default")], "deleting a leaves the cluster named a/x");
    assert_eq!(delete("arn:aws:eks:eu-west-1:111122223333:cluster".into()).await.status, StatusCode::NOT_FOUND);
}

/// The ecs-inventory agent reads one page of tasks (100) and of services (10): a report with
/// exactly that many is answered, and its cluster listed, as probably truncated.
#[tokio::test]
async fn an_ecs_agent_report_at_its_page_limits_is_called_probably_truncated() {
    let harness = Harness::new(120, false).await;
    let report = |tasks: usize, minute: i64| {
        let mut report = sample_report("post-ecs-inventory.json");
        let arn = |n: usize| format!("arn:aws:ecs:eu-west-2:123456789012:task/myclustername/{n:04}");
        report["timestamp"] = json!(inventory_store::clock::format_time(day(0) + TimeDelta::minutes(minute)));
        report["tasks"] = (0..tasks).map(|n| json!({"arn": arn(n)})).collect();
        report["containers"] = (0..tasks)
            .map(|n| {
                json!({"arn": format!("{}-c", arn(n)), "image_tag": "nginx:1", "task_arn": arn(n),
                            "image_digest": integration_tests::digest(1)})
            })
            .collect();
        report
    };
    let warning = |clusters: &[Value]| clusters[0].get("warning").and_then(Value::as_str).map(str::to_owned);
    let posted = harness.post_ecs(&report(100, 0)).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    let said = posted.body["warnings"][0].as_str().expect("the answer says so").to_owned();
    assert!(said.contains("100 tasks") && said.contains("collector"), "{said}");
    assert_eq!(warning(&clusters(&harness).await), Some(said));
    // 99 tasks and 1 service: the whole cluster.
    let posted = harness.post_ecs(&report(99, 1)).await;
    assert!(posted.body.get("warnings").is_none(), "{}", posted.body);
    assert_eq!(warning(&clusters(&harness).await), None);
}

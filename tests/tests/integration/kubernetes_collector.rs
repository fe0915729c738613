//! The embedded mode end to end: clusters configured through the API, read by the Kubernetes
//! collector from a Kubernetes API server served over real HTTPS on loopback (certificates made
//! at test time), stored in moto's DynamoDB and listed by the query routes.

use integration_tests::{Harness, Response};
use kubernetes_collector::config::{EksClusters, KubernetesConfig};
use kubernetes_collector::run::{RunSummary, FAILED, STORED};
use lambda_http::http::StatusCode;
use local_stack::kube_api::{namespace, node, pod, unrelated_certificate_authority, Failure, KubeApiServer};
use serde_json::{json, Value};
use std::time::Duration;

const TOKEN: &str = "service-account-token-of-the-reader";
const DIGEST_A: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";
const DIGEST_B: &str = "sha256:9b2a6a8a5e4c7c7f1c8e0b4f3a7d1c2e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c";

fn settings() -> KubernetesConfig {
    KubernetesConfig::from_lookup(integration_tests::loopback_lookup, Some("us-east-1")).expect("defaults")
}

/// Two namespaces, one node, five pods: three in `shop`, two in `web`.
fn fill(server: &KubeApiServer) {
    let shop = (0..3).map(|n| pod("shop", &format!("cart-{n}"), "node-a", "registry.example.com/cart:1.2", DIGEST_A));
    let web = (0..2).map(|n| pod("web", &format!("front-{n}"), "node-a", "nginx:1.27", DIGEST_B));
    server.set_content(vec![namespace("shop"), namespace("web")], vec![node("node-a")], shop.chain(web).collect());
}

fn config(server: &KubeApiServer, name: &str, namespaces: Value) -> Value {
    json!({"cluster_name": name, "inventory_type": "kubernetes", "cluster_config": {
        "cluster_server": server.url, "cluster_certificate": server.certificate_authority,
        "credential_type": "token", "credential": TOKEN, "namespaces": namespaces}})
}

async fn post(harness: &Harness, body: &Value) {
    let posted = harness.call("post-cluster-config.json", Some(&body.to_string()), Some("admin"), &[]).await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
}

async fn configuration(harness: &Harness, name: &str) -> Response {
    let path = format!("/v1/enterprise/inventories/clusters/{name}");
    harness.call_path("get-cluster-config.json", Some(&path), None, Some("admin"), &[]).await
}

/// (context, image tag) of every listed image.
async fn listed(harness: &Harness) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = harness
        .list("admin", &[])
        .await
        .iter()
        .map(|item| (item["context"].as_str().unwrap().to_owned(), item["image_tag"].as_str().unwrap().to_owned()))
        .collect();
    pairs.sort();
    pairs
}

async fn run(harness: &Harness, settings: KubernetesConfig) -> RunSummary {
    harness.kubernetes_collector(settings).await.run(None).await
}

#[tokio::test]
async fn a_token_cluster_is_read_page_by_page_and_a_gone_namespace_departs_at_once() {
    let harness = Harness::new(120, true).await;
    let server = KubeApiServer::start(TOKEN).await.unwrap();
    fill(&server);
    // The API server may answer fewer items than `limit`: two pods a page make three pages.
    server.state.lock().unwrap().page_cap = Some(2);
    post(&harness, &config(&server, "prod", json!(["all"]))).await;

    let summary = run(&harness, settings()).await;
    assert_eq!((summary.clusters, summary.clusters_stored, summary.errors.len()), (1, 1, 0), "{summary:?}");
    assert_eq!((summary.contexts, summary.containers), (2, 5));
    let requests = server.take_requests();
    let pods: Vec<&String> = requests.iter().filter(|request| request.starts_with("/api/v1/pods")).collect();
    assert_eq!(pods.len(), 3, "{requests:?}");
    assert!(pods[0].contains("limit=500") && pods[1].contains("continue=2") && pods[2].contains("continue=4"));
    assert_eq!(requests.len(), 5, "one namespaces page, three pods pages, one nodes page: {requests:?}");
    assert_eq!(summary.kubernetes_requests, 5);

    assert_eq!(
        listed(&harness).await,
        [
            ("prod/shop".to_owned(), "registry.example.com/cart:1.2".to_owned()),
            ("prod/web".to_owned(), "docker.io/library/nginx:1.27".to_owned()),
        ]
    );
    let v1 = harness.call("get-inventories-v1.json", None, Some("admin"), &[]).await;
    assert_eq!(v1.body.as_array().map(Vec::len), Some(2), "{}", v1.body);
    let shown = configuration(&harness, "prod").await.body;
    assert_eq!(shown["last_collection"]["status"], STORED);
    assert_eq!(
        (shown["last_collection"]["contexts"].clone(), shown["last_collection"]["containers"].clone()),
        (json!(2), json!(5))
    );
    assert!(shown["last_collection"].get("error").is_none(), "{shown}");
    // The same content again: the Kubernetes reads, then per run one Query of the
    // configurations, per namespace one GetItem and one PutItem (the report time), and one
    // UpdateItem of the configuration's last collection.
    harness.clock.advance(chrono::TimeDelta::minutes(5));
    harness.requests.reset();
    let again = run(&harness, settings()).await;
    assert_eq!((again.clusters_stored, again.kubernetes_requests), (1, 5));
    let counted = ["Query", "GetItem", "PutItem", "UpdateItem", "BatchWriteItem", "BatchGetItem"]
        .map(|operation| harness.requests.get(operation));
    assert_eq!(counted, [1, 2, 2, 1, 0, 0], "Query, GetItem, PutItem, UpdateItem, batches");
    let clusters = harness.call("get-clusters.json", None, Some("admin"), &[]).await;
    assert!(clusters.body.to_string().contains("embedded"), "the source is shown: {}", clusters.body);

    // `web` is deleted from the cluster: the next run departs it, and the run after has
    // nothing more to depart.
    server.set_content(
        vec![namespace("shop")],
        vec![node("node-a")],
        (0..3)
            .map(|n| pod("shop", &format!("cart-{n}"), "node-a", "registry.example.com/cart:1.2", DIGEST_A))
            .collect(),
    );
    harness.clock.advance(chrono::TimeDelta::minutes(5));
    let summary = run(&harness, settings()).await;
    assert_eq!((summary.clusters_stored, summary.contexts_departed), (1, 1), "{summary:?}");
    assert_eq!(listed(&harness).await, [("prod/shop".to_owned(), "registry.example.com/cart:1.2".to_owned())]);
    harness.clock.advance(chrono::TimeDelta::minutes(5));
    assert_eq!(run(&harness, settings()).await.contexts_departed, 0);
}

#[tokio::test]
async fn a_client_certificate_cluster_reads_only_its_listed_namespaces() {
    let harness = Harness::new(120, false).await;
    let server = KubeApiServer::start("no-token-is-accepted-here").await.unwrap();
    server.state.lock().unwrap().accepted_tokens.clear();
    fill(&server);
    let mut body = config(&server, "edge", json!(["shop", "absent"]));
    body["cluster_config"]["credential_type"] = "private_key".into();
    body["cluster_config"]["credential"] = server.client_key.clone().into();
    body["cluster_config"]["client_certificate"] = server.client_certificate.clone().into();
    post(&harness, &body).await;

    let summary = run(&harness, settings()).await;
    assert_eq!((summary.clusters_stored, summary.contexts, summary.containers), (1, 1, 3), "{summary:?}");
    let mut requests = server.take_requests();
    requests.sort();
    assert_eq!(
        requests,
        [
            "/api/v1/namespaces/absent",
            "/api/v1/namespaces/shop",
            "/api/v1/namespaces/shop/pods?&limit=500",
            "/api/v1/nodes?&limit=500",
        ],
        "a namespace the cluster does not have is not listed"
    );
    assert_eq!(listed(&harness).await, [("edge/shop".to_owned(), "registry.example.com/cart:1.2".to_owned())]);
    assert!(configuration(&harness, "edge").await.body["last_collection"].get("error").is_none());

    // A role that may not list nodes (EKS's AmazonEKSViewPolicy) still reads the inventory.
    server.fail(Some(Failure::NodesForbidden));
    harness.clock.advance(chrono::TimeDelta::minutes(5));
    assert_eq!(run(&harness, settings()).await.clusters_stored, 1);
    let collection = configuration(&harness, "edge").await.body["last_collection"].clone();
    assert_eq!(collection["status"], STORED);
    assert_eq!(collection["error"], kubernetes_collector::read::NODES_FORBIDDEN);
    assert_eq!(listed(&harness).await.len(), 1);
}

#[tokio::test]
async fn a_cluster_read_in_part_is_not_stored_and_its_configuration_says_why() {
    let harness = Harness::new(120, false).await;
    let server = KubeApiServer::start(TOKEN).await.unwrap();
    fill(&server);
    server.state.lock().unwrap().page_cap = Some(2);
    post(&harness, &config(&server, "prod", json!(["all"]))).await;
    assert_eq!(run(&harness, settings()).await.clusters_stored, 1);
    let stored = listed(&harness).await;
    // What the cluster runs now would change the inventory, were it stored.
    let redis = (0..5).map(|n| pod("shop", &format!("redis-{n}"), "node-a", "redis:7", DIGEST_A)).collect();
    server.set_content(vec![namespace("shop")], vec![node("node-a")], redis);

    let quick = KubernetesConfig { cluster_timeout: Duration::from_secs(1), ..settings() };
    let cases: [(&str, Box<dyn Fn()>, &str); 5] = [
        ("401", Box::new(|| server.state.lock().unwrap().accepted_tokens = vec!["rotated".into()]), "401"),
        ("403", Box::new(|| server.fail(Some(Failure::Status(403)))), "403"),
        ("a missing page", Box::new(|| server.fail(Some(Failure::PodsPage(2, 500)))), "500"),
        ("a timeout", Box::new(|| server.fail(Some(Failure::Hang))), "not read within 1 seconds"),
        ("a wrong CA", Box::new(|| {}), "certificate"),
    ];
    for (case, break_it, expected) in cases {
        {
            let mut state = server.state.lock().unwrap();
            state.accepted_tokens = vec![TOKEN.into()];
            state.failure = None;
        }
        let mut body = config(&server, "prod", json!(["all"]));
        if case == "a wrong CA" {
            body["cluster_config"]["cluster_certificate"] = unrelated_certificate_authority().into();
        }
        post(&harness, &body).await;
        server.take_requests();
        break_it();
        let summary = run(&harness, quick.clone()).await;
        assert_eq!(summary.clusters_stored, 0, "{case}: {summary:?}");
        assert!(summary.errors[0].message.contains(expected), "{case}: {:?}", summary.errors);
        assert_eq!(listed(&harness).await, stored, "{case}: the stored inventory is unchanged");
        let shown = configuration(&harness, "prod").await.body;
        assert_eq!(shown["last_collection"]["status"], FAILED, "{case}");
        let error = shown["last_collection"]["error"].as_str().unwrap();
        assert!(error.contains(expected), "{case}: {error}");
        assert!(!error.contains(TOKEN) && !shown.to_string().contains(TOKEN));
    }
}

/// Issue 32, item 4: a server URL may not reach the metadata service, loopback or a private
/// network the operator has not named, whether given as an address or as a name that resolves to
/// one; and what a server answers is recorded as its status code, never its body.
#[tokio::test]
async fn a_cluster_server_reaches_only_allowed_networks_and_its_answers_are_not_echoed() {
    let harness = Harness::new(120, false).await;
    for server in ["https://169.254.169.254/latest", "https://[fd00:ec2::254]/", "https://10.0.0.1:6443"] {
        let mut body = config(&KubeApiServer::start(TOKEN).await.unwrap(), "metadata", json!(["all"]));
        body["cluster_config"]["cluster_server"] = server.into();
        let posted = harness.call("post-cluster-config.json", Some(&body.to_string()), Some("admin"), &[]).await;
        assert_eq!(posted.status, StatusCode::BAD_REQUEST, "{server}: {}", posted.body);
        assert_eq!(posted.body["detail"]["field"], "cluster_config.cluster_server", "{server}");
    }

    // The stack allows loopback (the test servers'); a collector whose operator did not refuses
    // it, by address and by a name that resolves to it, before any request.
    let server = KubeApiServer::start(TOKEN).await.unwrap();
    fill(&server);
    post(&harness, &config(&server, "by-address", json!(["all"]))).await;
    let mut by_name = config(&server, "by-name", json!(["all"]));
    by_name["cluster_config"]["cluster_server"] = server.url.replace("127.0.0.1", "localhost").into();
    post(&harness, &by_name).await;
    let public_only = KubernetesConfig::from_lookup(|_| None, Some("us-east-1")).unwrap();
    let summary = run(&harness, public_only).await;
    assert_eq!((summary.clusters, summary.clusters_stored), (2, 0), "{summary:?}");
    assert_eq!(server.take_requests(), Vec::<String>::new(), "no request reached the server");
    for error in &summary.errors {
        assert!(error.message.contains("is a loopback address"), "{error:?}");
    }
    assert!(summary.errors.iter().any(|error| error.message.contains("localhost resolves to")), "{summary:?}");
    harness
        .call_path(
            "delete-cluster-config.json",
            Some("/v1/enterprise/inventories/clusters/by-name"),
            None,
            Some("admin"),
            &[],
        )
        .await;

    let quick = KubernetesConfig { cluster_timeout: Duration::from_secs(5), ..settings() };
    server.fail(Some(Failure::Page(500, "<html>internal-host-secret: 42</html>")));
    let summary = run(&harness, quick.clone()).await;
    let shown = configuration(&harness, "by-address").await.body;
    let error = shown["last_collection"]["error"].as_str().unwrap();
    assert!(error.contains("500 Internal Server Error"), "{error}");
    assert!(!error.contains("internal-host-secret") && !format!("{summary:?}").contains("internal-host-secret"));

    // An answer past the bound is not read whole.
    server.fail(Some(Failure::Oversized(inventory_store::limits::MAX_KUBERNETES_RESPONSE_BYTES + 1)));
    let summary = run(&harness, quick).await;
    assert!(summary.errors[0].message.contains("the answer is longer than"), "{summary:?}");
}

#[tokio::test]
async fn a_deleted_configuration_is_no_longer_read() {
    let harness = Harness::new(120, false).await;
    let server = KubeApiServer::start(TOKEN).await.unwrap();
    fill(&server);
    post(&harness, &config(&server, "prod", json!(["all"]))).await;
    assert_eq!(run(&harness, settings()).await.clusters_stored, 1);
    server.take_requests();
    let path = "/v1/enterprise/inventories/clusters/prod";
    let deleted = harness.call_path("delete-cluster-config.json", Some(path), None, Some("admin"), &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let summary = run(&harness, settings()).await;
    assert_eq!(summary.clusters, 0);
    assert!(server.take_requests().is_empty());
    assert_eq!(listed(&harness).await.len(), 2, "its inventory goes by TTL or DELETE /v2/inventories");
}

#[tokio::test]
async fn eks_clusters_are_found_in_moto_and_read_with_an_iam_token() {
    use kubernetes_collector::eks::{find_clusters, EksTarget, TOKEN_PREFIX};
    let harness = Harness::new(120, false).await;
    let config = integration_tests::moto_config().await;
    let eks = aws_sdk_eks::Client::new(&config);
    let name = format!("eks-{}", harness.table);
    eks.create_cluster()
        .name(&name)
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(aws_sdk_eks::types::VpcConfigRequest::builder().subnet_ids("subnet-1").build())
        .send()
        .await
        .unwrap();
    let place = inventory_store::settings::AwsPlace { region: "us-east-1".into(), role_arn: None, credentials: None };
    let targets = vec![EksTarget { place, client: eks.clone() }];
    let (found, errors) = find_clusters(&targets, &EksClusters::Discover).await;
    assert!(errors.is_empty(), "{errors:?}");
    let mut cluster = found.into_iter().find(|cluster| cluster.name == name).expect("discovered");
    assert!(cluster.arn.ends_with(&format!(":cluster/{name}")) && cluster.endpoint.starts_with("https://"));
    let arn = cluster.arn.clone();
    let listed_only = EksClusters::Listed(vec![kubernetes_collector::config::EksArn::parse(&arn).unwrap()]);
    assert_eq!(find_clusters(&targets, &listed_only).await.0.len(), 1);

    // moto's endpoint names no server: the test server stands in for the cluster.
    let server = KubeApiServer::start("no-static-token").await.unwrap();
    fill(&server);
    {
        let mut state = server.state.lock().unwrap();
        state.accepted_tokens.clear();
        state.token_check = Some(|token| {
            use base64::Engine;
            let Some(encoded) = token.strip_prefix(TOKEN_PREFIX) else { return false };
            let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).unwrap_or_default();
            let url = String::from_utf8(url).unwrap_or_default();
            url.starts_with("https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity")
                && url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id")
        });
    }
    cluster.endpoint = server.url.clone();
    cluster.certificate_authority = server.certificate_authority.clone();
    let settings = KubernetesConfig { eks: listed_only, ..settings() };
    let collector = harness.kubernetes_collector(settings).await;
    let summary = collector.collector().run_with_eks(None, vec![cluster], Vec::new()).await;
    assert_eq!((summary.clusters_stored, summary.contexts), (1, 2), "{summary:?}");
    let contexts: Vec<String> = listed(&harness).await.into_iter().map(|(context, _)| context).collect();
    assert!(contexts.contains(&format!("{arn}/shop")), "{contexts:?}");
    let states = harness.store_for("kubernetes-collector").eks_collections().await.unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!((states[0].last_collection.status.as_str(), states[0].stored_contexts.len()), (STORED, 2));
}

/// Issue 32, item 2: a cluster the run does not read says so on its configuration, keeping its
/// last collection's time so it is read first next run; an account past its bound of
/// configurations can post no more, and a run reads no more of it.
#[tokio::test]
async fn clusters_a_run_leaves_out_are_recorded_as_skipped_and_an_account_is_bounded() {
    use inventory_store::http::ApiFunction;
    use kubernetes_collector::run::SKIPPED;
    let harness = Harness::new(120, false).await;
    let server = KubeApiServer::start(TOKEN).await.unwrap();
    fill(&server);
    post(&harness, &config(&server, "first", json!(["all"]))).await;
    post(&harness, &config(&server, "second", json!(["all"]))).await;
    assert_eq!(run(&harness, settings()).await.clusters_stored, 2);
    let collected_at = configuration(&harness, "first").await.body["last_collection"]["at"].clone();

    // Lowered to one a run: the more recently collected of the two waits, and is first next run.
    let later = |minutes| inventory_store::Clock::now(harness.clock.as_ref()) + chrono::TimeDelta::minutes(minutes);
    harness.clock.set(later(5));
    let one_each = KubernetesConfig { clusters_per_account: 1, ..settings() };
    let summary = run(&harness, one_each.clone()).await;
    assert_eq!((summary.clusters_stored, summary.skipped.clone()), (1, vec!["second".to_owned()]), "{summary:?}");
    let second = configuration(&harness, "second").await.body["last_collection"].clone();
    assert_eq!(second["status"], SKIPPED);
    assert_eq!(second["at"], collected_at, "the last collection's time stays");
    assert!(second["error"].as_str().unwrap().contains("KubernetesClustersPerAccount"), "{second}");
    harness.clock.set(later(5));
    let summary = run(&harness, one_each).await;
    assert_eq!(summary.skipped, ["first"], "the clusters take turns");

    // The run's time is out before any cluster starts: each is recorded as skipped.
    let deadline = inventory_store::Clock::now(harness.clock.as_ref())
        + inventory_store::clock::RUN_DEADLINE_RESERVE
        + chrono::TimeDelta::seconds(1);
    let summary = harness.kubernetes_collector(settings()).await.run(Some(deadline)).await;
    assert_eq!(summary.skipped, ["first", "second"]);
    for name in ["first", "second"] {
        let collection = configuration(&harness, name).await.body["last_collection"].clone();
        assert_eq!(collection["status"], SKIPPED, "{name}");
        assert!(collection["error"].as_str().unwrap().contains("time ran out"), "{collection}");
    }

    // Two configurations allowed: a third is refused, a replacement is not.
    let environment = harness.environment().set(inventory_store::settings::KUBERNETES_CLUSTERS_PER_ACCOUNT, "2");
    let clusters_config = clusters::Config::from_lookup(|name| environment.lookup(name)).unwrap();
    let app = clusters::ClustersApp::build(&harness.sdk_for("clusters"), clusters_config, harness.clock.clone());
    for (name, expected) in [("third", StatusCode::CONFLICT), ("second", StatusCode::OK)] {
        let body = config(&server, name, json!(["all"])).to_string();
        let event = integration_tests::admin_event("post-cluster-config.json", None, Some(&body), Some("admin"), &[]);
        let answer = app.handle(lambda_http::request::from_str(&event.to_string()).unwrap()).await;
        assert_eq!(answer.status(), expected, "{name}");
    }
}

/// Issue 32, item 8: a post stores only what it sets. The collector's record of the namespaces
/// it stored, written between a post's read and its write, stays, so a namespace gone from the
/// cluster still departs.
#[tokio::test]
async fn a_posted_configuration_keeps_the_namespaces_the_collector_recorded_meanwhile() {
    let harness = Harness::new(120, false).await;
    let server = KubeApiServer::start(TOKEN).await.unwrap();
    fill(&server);
    post(&harness, &config(&server, "prod", json!(["all"]))).await;
    let store = harness.store_for("clusters");
    let read_by_the_post = store.cluster_config("admin", "prod").await.unwrap().expect("stored");
    assert!(read_by_the_post.stored_contexts.is_empty());
    // Meanwhile, the collector stores the cluster.
    assert_eq!(run(&harness, settings()).await.clusters_stored, 1);
    // The post writes what it read with its own changes.
    let mut posted = read_by_the_post;
    posted.cluster_config.namespaces = vec!["all".into()];
    posted.updated_at = "2026-12-07T03:00:00Z".into();
    store.save_cluster_config(&posted, true).await.unwrap();
    let kept = store.cluster_config("admin", "prod").await.unwrap().unwrap();
    assert_eq!(kept.stored_contexts, ["prod/shop", "prod/web"]);
    assert_eq!(kept.last_collection.map(|collection| collection.status), Some(STORED.to_owned()));
    assert_eq!(kept.updated_at, "2026-12-07T03:00:00Z");

    // So the namespace that is gone departs on the next run.
    server.set_content(vec![namespace("shop")], vec![node("node-a")], Vec::new());
    assert_eq!(run(&harness, settings()).await.contexts_departed, 1);

    // A post that read no configuration does not overwrite one created meanwhile.
    let error = store.save_cluster_config(&posted, false).await.unwrap_err();
    assert!(matches!(error, inventory_store::store::StoreError::ConditionFailed), "{error:?}");
}

/// Issue 32, item 7: a credential longer than KMS encrypts (4,096 bytes; an RSA-4096 client key
/// as PEM is longer) is sealed under a data key and read back by the collector.
#[tokio::test]
async fn a_credential_longer_than_kms_encrypts_is_stored_and_used() {
    let harness = Harness::new(120, false).await;
    let long_token = "t".repeat(10_000);
    let server = KubeApiServer::start(&long_token).await.unwrap();
    fill(&server);
    let mut body = config(&server, "prod", json!(["all"]));
    body["cluster_config"]["credential"] = long_token.clone().into();
    post(&harness, &body).await;
    let stored = harness.store_for("clusters").cluster_config("admin", "prod").await.unwrap().expect("stored");
    assert!(stored.credential_data_key.is_some(), "sealed under a data key");
    assert!(!format!("{stored:?}").contains(&long_token[..64]), "never stored as it was posted");
    let summary = run(&harness, settings()).await;
    assert_eq!((summary.clusters_stored, summary.errors.clone()), (1, Vec::new()), "{summary:?}");
}

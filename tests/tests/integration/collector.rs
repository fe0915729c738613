//! The scheduled ECS collector: real ECS API calls against moto (EC2 launch type), and
//! scripted ECS answers (aws-smithy-mocks) for what moto cannot produce, storing into moto's
//! DynamoDB and read back through `GET /v2/inventories`.

use aws_config::retry::RetryConfig;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_sdk_ecs::config::ProvideCredentials;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_clusters::{ListClustersError, ListClustersOutput};
use aws_sdk_ecs::operation::list_tasks::{ListTasksError, ListTasksOutput};
use aws_sdk_ecs::types::{Container, Tag, Task};
use aws_sdk_ecs::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use chrono::TimeDelta;
use collector::config::{EcsConfig, Target};
use collector::gather::ApiCallCounts;
use collector::run::{Scope, Skipped, DEADLINE_REASON};
use collector::CollectorApp;
use integration_tests::{digest, listed, moto_config, moto_ec2_instance, Harness, RequestCounter};
use inventory_runtime::EventFunction;
use inventory_store::Clock;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An ECS client for setting up moto, not held to the collector's policy.
async fn setup_client(region: &str) -> Client {
    let config =
        aws_sdk_ecs::config::Builder::from(&moto_config().await).region(aws_config::Region::new(region.to_owned()));
    Client::from_conf(config.build())
}

/// moto lists every cluster of a region, so each test works in a region of its own.
async fn moto_target(region: &str) -> (Target, RequestCounter) {
    let counter = RequestCounter::default();
    let config = aws_sdk_ecs::config::Builder::from(&moto_config().await)
        .region(aws_config::Region::new(region.to_owned()))
        .interceptor(counter.clone())
        .interceptor(integration_tests::template::PolicyGuard::new("collector"))
        .build();
    (Target { region: region.into(), role_arn: None, client: Client::from_conf(config) }, counter)
}

struct Workload<'a> {
    family: &'a str,
    image: &'a str,
    tasks: i32,
    /// Tasks run as this service's (`group` `service:<name>`), which carries an `env` tag.
    service: Option<&'a str>,
}

/// The access key moto maps to its default account.
const DEFAULT_ACCOUNT_KEY: &str = "testing";

/// An EC2 cluster with one container instance and the given tasks running; `access_key`
/// picks the moto account the instance is started in.
async fn ec2_cluster(client: &Client, access_key: &str, name: &str, workloads: &[Workload<'_>]) -> String {
    let cluster = client.create_cluster().cluster_name(name).send().await.unwrap().cluster.unwrap();
    let region = client.config().region().unwrap().to_string();
    let instance = moto_ec2_instance(access_key, &region).await;
    let document = serde_json::json!({"instanceId": instance, "region": region}).to_string();
    client.register_container_instance().cluster(name).instance_identity_document(document).send().await.unwrap();
    for workload in workloads {
        let container =
            aws_sdk_ecs::types::ContainerDefinition::builder().name("app").image(workload.image).memory(8).build();
        client
            .register_task_definition()
            .family(workload.family)
            .container_definitions(container)
            .send()
            .await
            .unwrap();
        if let Some(service) = workload.service {
            client
                .create_service()
                .cluster(name)
                .service_name(service)
                .task_definition(workload.family)
                .desired_count(0)
                .tags(Tag::builder().key("env").value("prod").build())
                .send()
                .await
                .unwrap();
        }
        // RunTask starts at most 10 tasks a call; without retries, a resent request can't
        // start tasks twice.
        let once = Client::from_conf(client.config().to_builder().retry_config(RetryConfig::disabled()).build());
        let mut started = 0;
        while started < workload.tasks {
            let count = (workload.tasks - started).min(10);
            let run = once
                .run_task()
                .cluster(name)
                .task_definition(workload.family)
                .launch_type(aws_sdk_ecs::types::LaunchType::Ec2)
                .count(count)
                .tags(Tag::builder().key("family").value(workload.family).build())
                .set_group(workload.service.map(|service| format!("service:{service}")));
            let placed = run.send().await.unwrap().tasks.unwrap_or_default().len();
            assert_eq!(placed, count as usize, "moto placed every task");
            started += count;
        }
    }
    cluster.cluster_arn.unwrap()
}

fn by_context<'a>(items: &'a [Value], context: &str) -> Vec<&'a Value> {
    items.iter().filter(|item| item["context"] == context).collect()
}

#[tokio::test]
async fn collects_ec2_clusters_with_the_fewest_calls() {
    let harness = Harness::new(120, false).await;
    let (target, requests) = moto_target("eu-west-1").await;
    let setup = setup_client("eu-west-1").await;
    let web = Workload { family: "web", image: "nginx:1.27", tasks: 200, service: Some("web") };
    let batch = Workload { family: "batch", image: "busybox:1.36", tasks: 60, service: None };
    let alpha = ec2_cluster(&setup, DEFAULT_ACCOUNT_KEY, "alpha", &[web, batch]).await;
    let cache = Workload { family: "cache", image: "redis:7", tasks: 3, service: None };
    let bravo = ec2_cluster(&setup, DEFAULT_ACCOUNT_KEY, "bravo", &[cache]).await;
    let empty = ec2_cluster(&setup, DEFAULT_ACCOUNT_KEY, "empty", &[]).await;
    requests.reset();

    let summary = harness.collector(4).run(std::slice::from_ref(&target), None).await;
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert_eq!((summary.clusters, summary.clusters_stored), (3, 3));
    assert_eq!((summary.tasks, summary.containers, summary.services), (263, 263, 1), "{summary:?}");
    // moto reports no runtime digests: every container is kept by tag.
    assert_eq!(summary.containers_without_digest, 263);
    assert_eq!(summary.images_added, 3);
    // One ListClusters page; per cluster one ListTasks page (moto does not page),
    // ceil(tasks/100) DescribeTasks and ceil(services/10) DescribeServices.
    let expected =
        ApiCallCounts { list_clusters: 1, list_tasks: 3, describe_tasks: 3 + 1, describe_services: 1, total: 9 };
    assert_eq!(summary.api_calls, expected);
    let sent: u64 =
        ["ListClusters", "ListTasks", "DescribeTasks", "DescribeServices"].iter().map(|op| requests.get(op)).sum();
    assert_eq!(sent, expected.total, "HTTP requests the ECS client sent");

    let items = harness.list("admin", &[("inventory_type", "ecs")]).await;
    let mut alpha_tags: Vec<&str> =
        by_context(&items, &alpha).iter().map(|item| item["image_tag"].as_str().unwrap()).collect();
    alpha_tags.sort();
    assert_eq!(alpha_tags, ["docker.io/library/busybox:1.36", "docker.io/library/nginx:1.27"]);
    assert_eq!(by_context(&items, &bravo).len(), 1);
    assert!(by_context(&items, &empty).is_empty());
    assert!(items.iter().all(|item| item["inventory_type"] == "ecs" && item["image_digest"] == ""));
}

#[tokio::test]
async fn overwrite_mode_clears_a_cluster_whose_tasks_stopped() {
    let harness = Harness::new(7, true).await;
    let (target, _) = moto_target("eu-central-1").await;
    let setup = setup_client("eu-central-1").await;
    let cache = Workload { family: "cache", image: "redis:7", tasks: 2, service: None };
    let cluster = ec2_cluster(&setup, DEFAULT_ACCOUNT_KEY, "cache", &[cache]).await;
    let collector = harness.collector(2);
    collector.run(std::slice::from_ref(&target), None).await;
    assert_eq!(by_context(&harness.list("admin", &[]).await, &cluster).len(), 1);

    let tasks = setup.list_tasks().cluster(&cluster).send().await.unwrap().task_arns.unwrap();
    for task in tasks {
        setup.stop_task().cluster(&cluster).task(task).send().await.unwrap();
    }
    harness.clock.advance(TimeDelta::minutes(5));
    let summary = collector.run(std::slice::from_ref(&target), None).await;
    assert_eq!((summary.clusters_stored, summary.tasks, summary.images_removed), (1, 0, 1));
    assert!(by_context(&harness.list("admin", &[]).await, &cluster).is_empty());
}

#[tokio::test]
async fn a_role_in_another_account_is_assumed() {
    let harness = Harness::new(120, false).await;
    let config = EcsConfig::from_lookup(
        |key| match key {
            collector::config::ROLE_ARNS => Some("arn:aws:iam::111111111111:role/inventory-reader".into()),
            collector::config::REGIONS => Some("eu-north-1".into()),
            _ => None,
        },
        None,
    )
    .unwrap();
    let targets = config.targets(&inventory_runtime::Sdk::new(moto_config().await)).await;
    assert_eq!(targets.len(), 1);
    // moto keeps resources per account: the assumed role's credentials act in 111111111111.
    let workload = Workload { family: "api", image: "api:3", tasks: 1, service: None };
    let role = aws_config::sts::AssumeRoleProvider::builder("arn:aws:iam::111111111111:role/inventory-reader")
        .configure(&moto_config().await)
        .build()
        .await;
    let credentials = role.provide_credentials().await.unwrap();
    let cluster = ec2_cluster(&targets[0].client, credentials.access_key_id(), "other", &[workload]).await;
    assert!(cluster.starts_with("arn:aws:ecs:eu-north-1:111111111111:cluster/"), "{cluster}");

    let summary = harness.collector(1).run(&targets, None).await;
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert_eq!(by_context(&harness.list("admin", &[]).await, &cluster).len(), 1);
}

// ---- scripted ECS answers ---------------------------------------------------------------

fn cluster_arn(name: &str) -> String {
    format!("arn:aws:ecs:us-west-2:123456789012:cluster/{name}")
}

fn running_task(cluster: &str, n: u64, digest: Option<String>) -> Task {
    let task_arn = format!("arn:aws:ecs:us-west-2:123456789012:task/{cluster}/{n:032x}");
    let container = Container::builder()
        .container_arn(format!("arn:aws:ecs:us-west-2:123456789012:container/{cluster}/{n:032x}/app"))
        .image(format!("registry.example.com/{cluster}/app:1"))
        .set_image_digest(digest)
        .build();
    Task::builder().task_arn(task_arn).group("family:app").containers(container).build()
}

/// A scripted region: the named clusters, each running one task whose digest is
/// `digest(n)` for the cluster's index n.
fn scripted(region: &str, clusters: &[&str], on_describe: impl Fn() + Send + Sync + 'static) -> Target {
    let arns: Vec<String> = clusters.iter().map(|name| cluster_arn(name)).collect();
    let list_clusters = mock!(Client::list_clusters)
        .then_output(move || ListClustersOutput::builder().set_cluster_arns(Some(arns.clone())).build());
    let list_tasks = mock!(Client::list_tasks).then_compute_output(|input| {
        let name = input.cluster().unwrap().rsplit('/').next().unwrap();
        ListTasksOutput::builder().task_arns(format!("arn:aws:ecs:us-west-2:123456789012:task/{name}/0")).build()
    });
    let names: Vec<String> = clusters.iter().map(|name| name.to_string()).collect();
    let describe = mock!(Client::describe_tasks).then_compute_output(move |input| {
        on_describe();
        let name = input.cluster().unwrap().rsplit('/').next().unwrap();
        let n = names.iter().position(|known| known == name).unwrap() as u64;
        DescribeTasksOutput::builder().tasks(running_task(name, n, Some(digest(n)))).build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list_clusters, &list_tasks, &describe]);
    Target { region: region.into(), role_arn: None, client }
}

#[tokio::test]
async fn one_failing_region_or_cluster_does_not_stop_the_others() {
    let harness = Harness::new(120, false).await;
    let denied = mock!(Client::list_clusters).then_error(|| {
        ListClustersError::AccessDeniedException(
            aws_sdk_ecs::types::error::AccessDeniedException::builder().message("not authorized").build(),
        )
    });
    let failing_region =
        Target { region: "eu-west-3".into(), role_arn: None, client: mock_client!(aws_sdk_ecs, [&denied]) };

    let arns = vec![cluster_arn("good"), cluster_arn("broken")];
    let list_clusters = mock!(Client::list_clusters)
        .then_output(move || ListClustersOutput::builder().set_cluster_arns(Some(arns.clone())).build());
    let broken = mock!(Client::list_tasks)
        .match_requests(|input| input.cluster() == Some(cluster_arn("broken").as_str()))
        .then_error(|| {
            ListTasksError::ClusterNotFoundException(
                aws_sdk_ecs::types::error::ClusterNotFoundException::builder().message("gone").build(),
            )
        });
    let good = mock!(Client::list_tasks)
        .then_output(|| ListTasksOutput::builder().task_arns("arn:aws:ecs:us-west-2:123456789012:task/good/1").build());
    let describe = mock!(Client::describe_tasks)
        .then_output(|| DescribeTasksOutput::builder().tasks(running_task("good", 1, Some(digest(1)))).build());
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list_clusters, &broken, &good, &describe]);
    let working_region = Target { region: "us-west-2".into(), role_arn: None, client };

    let summary = harness.collector(2).run(&[failing_region, working_region], None).await;
    assert_eq!(summary.clusters_stored, 1);
    let mut scopes: Vec<(String, Option<String>)> =
        summary.errors.iter().map(|error| (error.scope.region.clone(), error.scope.cluster.clone())).collect();
    scopes.sort();
    assert_eq!(
        scopes,
        [("eu-west-3".to_owned(), None), ("us-west-2".to_owned(), Some(cluster_arn("broken")))],
        "{:?}",
        summary.errors
    );
    assert!(summary.errors.iter().any(|error| error.message.contains("not authorized")), "{:?}", summary.errors);
    let items = harness.list("admin", &[]).await;
    assert_eq!(listed(&items), [(cluster_arn("good"), digest(1))]);
}

#[tokio::test]
async fn a_deadline_mid_run_skips_the_clusters_not_started_or_not_yet_stored() {
    let harness = Harness::new(120, false).await;
    // No call starts after the cutoff, 25 s from now.
    let deadline = harness.clock.now() + TimeDelta::seconds(25) + inventory_store::clock::RUN_DEADLINE_RESERVE;
    let clock = harness.clock.clone();
    // Reading a cluster takes 20 s: the first is read and stored in time, the second is read
    // but the cutoff has passed before it could be stored, the third is not started.
    let target = scripted("us-west-2", &["first", "second", "third"], move || clock.advance(TimeDelta::seconds(20)));

    let summary = harness.collector(1).run(&[target], Some(deadline)).await;
    assert_eq!((summary.clusters, summary.clusters_stored), (3, 1));
    assert_eq!(summary.api_calls.describe_tasks, 2, "the second cluster was read completely");
    let skipped: Vec<Option<String>> = summary.skipped.iter().map(|skipped| skipped.scope.cluster.clone()).collect();
    assert_eq!(skipped, [Some(cluster_arn("second")), Some(cluster_arn("third"))]);
    assert_eq!(
        summary.skipped[0],
        Skipped {
            scope: Scope { region: "us-west-2".into(), role_arn: None, cluster: Some(cluster_arn("second")) },
            reason: DEADLINE_REASON.into()
        }
    );
    // Only the cluster stored in time is there; the others are left as they were.
    assert_eq!(listed(&harness.list("admin", &[]).await), [(cluster_arn("first"), digest(0))]);
}

#[tokio::test]
async fn a_pending_container_gets_its_digest_on_a_later_run() {
    let harness = Harness::new(120, false).await;
    let started = Arc::new(AtomicBool::new(false));
    let running = Arc::clone(&started);
    let list_clusters = mock!(Client::list_clusters)
        .then_output(|| ListClustersOutput::builder().cluster_arns(cluster_arn("web")).build());
    let list_tasks = mock!(Client::list_tasks)
        .then_output(|| ListTasksOutput::builder().task_arns("arn:aws:ecs:us-west-2:123456789012:task/web/7").build());
    let describe = mock!(Client::describe_tasks).then_output(move || {
        let digest = running.load(Ordering::SeqCst).then(|| digest(7));
        DescribeTasksOutput::builder().tasks(running_task("web", 7, digest)).build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list_clusters, &list_tasks, &describe]);
    let targets = [Target { region: "us-west-2".into(), role_arn: None, client }];
    let collector = harness.collector(1);

    let pending = collector.run(&targets, None).await;
    assert_eq!(pending.containers_without_digest, 1);
    assert_eq!(listed(&harness.list("admin", &[]).await), [(cluster_arn("web"), String::new())]);

    started.store(true, Ordering::SeqCst);
    harness.clock.advance(TimeDelta::minutes(5));
    let resolved = collector.run(&targets, None).await;
    assert_eq!((resolved.containers_without_digest, resolved.images_added, resolved.images_removed), (0, 1, 0));
    // The tag-only entry is replaced, not left behind as a departed image.
    assert_eq!(listed(&harness.list("admin", &[]).await), [(cluster_arn("web"), digest(7))]);
}

fn scheduled_event(deadline: chrono::DateTime<chrono::Utc>) -> lambda_runtime::LambdaEvent<EventBridgeEvent> {
    let payload = serde_json::from_value(integration_tests::load_event("scheduled-collector.json")).unwrap();
    let mut context = lambda_runtime::Context::default();
    context.deadline = deadline.timestamp_millis() as u64;
    lambda_runtime::LambdaEvent::new(payload, context)
}

#[tokio::test]
async fn the_scheduled_event_runs_the_collector_and_returns_its_summary() {
    let harness = Harness::new(120, false).await;
    let (target, _) = moto_target("ap-south-1").await;
    let setup = setup_client("ap-south-1").await;
    let workload = Workload { family: "web", image: "nginx:1.27", tasks: 2, service: None };
    ec2_cluster(&setup, DEFAULT_ACCOUNT_KEY, "scheduled", &[workload]).await;
    let app = CollectorApp::new(harness.collector(2), vec![target]);
    let event = scheduled_event(harness.clock.now() + TimeDelta::minutes(4));
    let summary = app.handle(event).await.unwrap();
    assert_eq!((summary.clusters_stored, summary.containers), (1, 2));
    assert_eq!(serde_json::to_value(&summary).unwrap()["api_calls"]["total"], 3);

    // Nothing collected and only errors: the invocation fails, so the error metric shows it.
    let denied = mock!(Client::list_clusters).then_error(|| {
        ListClustersError::AccessDeniedException(
            aws_sdk_ecs::types::error::AccessDeniedException::builder().message("not authorized").build(),
        )
    });
    let failing = Target { region: "eu-west-3".into(), role_arn: None, client: mock_client!(aws_sdk_ecs, [&denied]) };
    let app = CollectorApp::new(harness.collector(2), vec![failing]);
    let error = app.handle(scheduled_event(harness.clock.now() + TimeDelta::minutes(4))).await.unwrap_err();
    assert!(error.to_string().contains("not authorized"), "{error}");
}

/// A scripted region with one cluster `name`: each run describes what `describe` answers.
fn one_cluster(name: &str, describe: impl Fn() -> DescribeTasksOutput + Send + Sync + 'static) -> Target {
    let arn = cluster_arn(name);
    let list_clusters = mock!(Client::list_clusters)
        .then_output(move || ListClustersOutput::builder().cluster_arns(arn.clone()).build());
    let tasks: Vec<String> =
        (0..3).map(|n| format!("arn:aws:ecs:us-west-2:123456789012:task/{name}/{n:032x}")).collect();
    let list_tasks = mock!(Client::list_tasks)
        .then_output(move || ListTasksOutput::builder().set_task_arns(Some(tasks.clone())).build());
    let describe = mock!(Client::describe_tasks).then_output(describe);
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list_clusters, &list_tasks, &describe]);
    Target { region: "us-west-2".into(), role_arn: None, client }
}

fn failure(n: u64, reason: &str) -> aws_sdk_ecs::types::Failure {
    let arn = format!("arn:aws:ecs:us-west-2:123456789012:task/web/{n:032x}");
    aws_sdk_ecs::types::Failure::builder().arn(arn).reason(reason).build()
}

#[tokio::test]
async fn a_cluster_read_incompletely_is_not_stored_and_says_why() {
    let harness = Harness::new(120, true).await;
    let all = || (0..3).map(|n| running_task("web", n, Some(digest(n)))).collect::<Vec<_>>();
    let complete = one_cluster("web", move || DescribeTasksOutput::builder().set_tasks(Some(all())).build());
    let first = harness.collector(1).run(&[complete], None).await;
    assert_eq!(first.clusters_stored, 1);
    let stored = listed(&harness.list("admin", &[]).await);
    assert_eq!(stored.len(), 3);

    // Task 2 could not be described: storing the rest would delete it in overwrite mode.
    let two = || (0..2).map(|n| running_task("web", n, Some(digest(n)))).collect::<Vec<_>>();
    let throttled = one_cluster("web", move || {
        DescribeTasksOutput::builder().set_tasks(Some(two())).failures(failure(2, "THROTTLED")).build()
    });
    harness.clock.advance(TimeDelta::minutes(5));
    let partial = harness.collector(1).run(&[throttled], None).await;
    assert_eq!((partial.clusters_stored, partial.describe_failures), (0, 1));
    assert_eq!(partial.skipped.len(), 1);
    assert!(partial.skipped[0].reason.contains("THROTTLED"), "{:?}", partial.skipped);
    assert_eq!(listed(&harness.list("admin", &[]).await), stored, "what was stored stays");

    // A container the report could not store keeps the cluster from being stored too.
    let unnamed = || {
        let mut tasks: Vec<Task> = (0..2).map(|n| running_task("web", n, Some(digest(n)))).collect();
        let bad =
            Container::builder().container_arn("arn:aws:ecs:us-west-2:123456789012:container/web/x").image(" ").build();
        tasks.push(Task::builder().task_arn("arn:aws:ecs:us-west-2:123456789012:task/web/x").containers(bad).build());
        tasks
    };
    let bad_image = one_cluster("web", move || DescribeTasksOutput::builder().set_tasks(Some(unnamed())).build());
    harness.clock.advance(TimeDelta::minutes(5));
    let skipped = harness.collector(1).run(&[bad_image], None).await;
    assert_eq!((skipped.clusters_stored, skipped.containers_skipped), (0, 1));
    assert!(skipped.skipped[0].reason.contains("containers[2].image_tag"), "{:?}", skipped.skipped);
    assert_eq!(listed(&harness.list("admin", &[]).await), stored);

    // A task that stopped between listing and describing is simply not running any more.
    let stopped = one_cluster("web", move || {
        DescribeTasksOutput::builder().set_tasks(Some(two())).failures(failure(2, "MISSING")).build()
    });
    harness.clock.advance(TimeDelta::minutes(5));
    let stored_again = harness.collector(1).run(&[stopped], None).await;
    assert_eq!((stored_again.clusters_stored, stored_again.images_removed), (1, 1));
    assert_eq!(listed(&harness.list("admin", &[]).await).len(), 2);
}

#[tokio::test]
async fn an_agent_report_for_a_cluster_the_collector_reads_changes_nothing() {
    let harness = Harness::new(120, true).await;
    let all = || (0..3).map(|n| running_task("web", n, Some(digest(n)))).collect::<Vec<_>>();
    let collected = harness
        .collector(1)
        .run(&[one_cluster("web", move || DescribeTasksOutput::builder().set_tasks(Some(all())).build())], None)
        .await;
    assert_eq!(collected.clusters_stored, 1);
    let stored = listed(&harness.list("admin", &[]).await);

    // The ecs-inventory agent saw part of the cluster (it sees at most 100 tasks).
    let partial = serde_json::json!({
        "timestamp": inventory_store::clock::format_time(harness.clock.now()),
        "cluster_arn": cluster_arn("web"),
        "containers": [{"arn": "c-0", "image_tag": "registry.example.com/web/app:1", "image_digest": digest(0), "task_arn": "t-0"}],
        "tasks": [{"arn": "t-0"}]
    });
    harness.clock.advance(TimeDelta::minutes(1));
    let response = harness.post_ecs(&partial).await;
    assert_eq!(response.status, lambda_http::http::StatusCode::CREATED);
    assert_eq!(response.body["contexts"][0]["status"], "superseded", "{}", response.body);
    assert_eq!(listed(&harness.list("admin", &[]).await), stored, "no image disappeared");

    // An hour after the collector's last report, the agent's reports are stored again.
    harness.clock.advance(inventory_store::plan::COLLECTOR_PRECEDENCE);
    let mut later = partial.clone();
    later["timestamp"] = inventory_store::clock::format_time(harness.clock.now()).into();
    let response = harness.post_ecs(&later).await;
    assert_eq!(response.body["contexts"][0]["status"], "stored", "{}", response.body);
    assert_eq!(listed(&harness.list("admin", &[]).await).len(), 1);
}

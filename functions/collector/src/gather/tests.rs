use super::*;
use aws_config::retry::RetryConfig;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types::{Container, Service, Task};
use aws_sdk_ecs::Client;
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use chrono::TimeZone;
use chrono::Utc;
use inventory_store::{Clock, ManualClock};
use std::sync::Arc;
use std::time::Duration;

const CLUSTER: &str = "arn:aws:ecs:eu-west-2:123456789012:cluster/prod";
const DIGEST: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";

fn task_arn(n: usize) -> String {
    format!("arn:aws:ecs:eu-west-2:123456789012:task/prod/{n:032x}")
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// Task `n` runs one container of `image`; even tasks belong to service `web`.
fn task(n: usize, image: &str, digest: Option<&str>) -> Task {
    let container = Container::builder()
        .container_arn(format!("arn:aws:ecs:eu-west-2:123456789012:container/prod/{n}/app"))
        .image(image)
        .set_image_digest(digest.map(str::to_owned))
        .build();
    let group = if n.is_multiple_of(2) { "service:web".to_owned() } else { "family:batch".to_owned() };
    Task::builder()
        .task_arn(task_arn(n))
        .task_definition_arn("arn:aws:ecs:eu-west-2:123456789012:task-definition/web:7")
        .group(group)
        .tags(tag("team", "payments"))
        .containers(container)
        .build()
}

/// `ListTasks` answering `total` task ARNs in pages of 100.
fn list_tasks_rule(total: usize) -> Rule {
    mock!(Client::list_tasks).then_compute_output(move |input| {
        let start: usize = input.next_token().map_or(0, |token| token.parse().unwrap());
        let end = (start + 100).min(total);
        ListTasksOutput::builder()
            .set_task_arns(Some((start..end).map(task_arn).collect()))
            .set_next_token((end < total).then(|| end.to_string()))
            .build()
    })
}

/// `DescribeTasks` describing what it is asked for, with a digest on all but task 0.
fn describe_tasks_rule() -> Rule {
    mock!(Client::describe_tasks).then_compute_output(|input| {
        assert!(input.tasks().len() <= TASKS_PER_CALL);
        assert_eq!(input.include(), [TaskField::Tags]);
        let tasks = input.tasks().iter().map(|arn| {
            let n = usize::from_str_radix(arn.rsplit('/').next().unwrap(), 16).unwrap();
            task(n, "nginx:1.27", (n != 0).then_some(DIGEST))
        });
        DescribeTasksOutput::builder().set_tasks(Some(tasks.collect())).build()
    })
}

fn describe_services_rule() -> Rule {
    mock!(Client::describe_services).then_compute_output(|input| {
        assert_eq!(input.services(), ["web"]);
        let service = Service::builder()
            .service_arn("arn:aws:ecs:eu-west-2:123456789012:service/prod/web")
            .service_name("web")
            .tags(tag("env", "prod"))
            .build();
        DescribeServicesOutput::builder().services(service).build()
    })
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()))
}

fn no_deadline() -> Deadline {
    Deadline::of_run(clock(), None)
}

#[tokio::test]
async fn reads_a_cluster_with_the_fewest_calls() {
    let rules = [list_tasks_rule(250), describe_tasks_rule(), describe_services_rule()];
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &rules);
    let calls = ApiCalls::default();
    let inventory = gather_cluster(&client, CLUSTER, &calls, &no_deadline()).await.unwrap();

    assert_eq!(
        calls.counts(),
        ApiCallCounts { list_clusters: 0, list_tasks: 3, describe_tasks: 3, describe_services: 1, total: 7 }
    );
    let report = inventory.report;
    assert_eq!(report.cluster_arn.as_deref(), Some(CLUSTER));
    assert_eq!((report.tasks.len(), report.containers.len()), (250, 250));
    assert_eq!(report.services.len(), 1);
    assert_eq!(report.services[0].tags["env"], "prod");
    // Service tasks point at the service's ARN, others at none.
    assert_eq!(report.tasks[0].service_arn.as_deref(), Some("arn:aws:ecs:eu-west-2:123456789012:service/prod/web"));
    assert_eq!(report.tasks[1].service_arn, None);
    assert_eq!(report.tasks[1].tags["team"], "payments");
    // Task 0 is still pending: no digest yet, kept by tag.
    assert_eq!(report.containers[0].image_digest, None);
    assert_eq!(report.containers[1].image_digest.as_deref(), Some(DIGEST));
    assert_eq!(report.containers[1].task_arn.as_deref(), Some(task_arn(1).as_str()));
    assert_eq!(inventory.containers_without_digest, 1);
}

#[tokio::test]
async fn describe_failures_and_every_container_are_reported() {
    let list = mock!(Client::list_tasks)
        .then_output(|| ListTasksOutput::builder().task_arns(task_arn(1)).task_arns(task_arn(3)).build());
    let describe = mock!(Client::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(task(1, "Not A Valid Image!", None))
            .failures(Failure::builder().arn(task_arn(3)).reason("MISSING").build())
            .build()
    });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
    let inventory = gather_cluster(&client, CLUSTER, &ApiCalls::default(), &no_deadline()).await.unwrap();
    assert_eq!(
        inventory.failures,
        [DescribeFailure { operation: "DescribeTasks", arn: task_arn(3), reason: "MISSING".into() }]
    );
    assert!(!inventory.failures[0].leaves_cluster_incomplete(), "a stopped task is not running any more");
    let throttled = DescribeFailure { operation: "DescribeTasks", arn: task_arn(3), reason: "THROTTLED".into() };
    assert!(throttled.leaves_cluster_incomplete());
    // Validation is the report's: the run decides what a container it cannot store means.
    assert_eq!((inventory.report.tasks.len(), inventory.report.containers.len()), (1, 1));
}

/// Tokio's paused clock as the SDK's time source, so adaptive retry's rate limiter sees its
/// own sleeps pass without the test waiting for them.
#[derive(Debug)]
struct TokioTime(tokio::time::Instant);

impl aws_smithy_async::time::TimeSource for TokioTime {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + self.0.elapsed()
    }
}

#[tokio::test(start_paused = true)]
async fn throttling_is_retried_by_the_sdk() {
    let throttled = mock!(Client::list_tasks)
        .sequence()
        .http_status(400, Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()))
        .times(2)
        .output(|| ListTasksOutput::builder().task_arns(task_arn(1)).build())
        .build();
    let describe = describe_tasks_rule();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&throttled, &describe], |config| {
        config
            .retry_config(RetryConfig::adaptive().with_max_attempts(4))
            .time_source(SharedTimeSource::new(TokioTime(tokio::time::Instant::now())))
    });
    let calls = ApiCalls::default();
    let inventory = gather_cluster(&client, CLUSTER, &calls, &no_deadline()).await.unwrap();
    assert_eq!(inventory.report.containers.len(), 1);
    assert_eq!(throttled.num_calls(), 3);
    // One operation, however many attempts the SDK needed.
    assert_eq!(calls.counts().list_tasks, 1);
}

#[tokio::test]
async fn a_deadline_stops_the_next_call() {
    let clock = clock();
    let cutoff = clock.now() + TimeDelta::seconds(30);
    let advancing = Arc::clone(&clock);
    // The first page arrives after the cutoff has passed.
    let list = mock!(Client::list_tasks).then_compute_output(move |_| {
        advancing.advance(TimeDelta::minutes(1));
        ListTasksOutput::builder().set_task_arns(Some((0..100).map(task_arn).collect())).next_token("100").build()
    });
    let describe = describe_tasks_rule();
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &describe]);
    let result = gather_cluster(
        &client,
        CLUSTER,
        &ApiCalls::default(),
        &Deadline::of_run(clock, Some(cutoff + inventory_store::clock::RUN_DEADLINE_RESERVE)),
    )
    .await;
    assert!(matches!(result, Err(GatherError::Deadline)), "{result:?}");
    assert_eq!((list.num_calls(), describe.num_calls()), (1, 0));
}

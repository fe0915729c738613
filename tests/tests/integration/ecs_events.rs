//! ECS Task State Change events (AWS's documented examples, `events/`) applied against moto: a
//! task that ran between two sweeps is in the inventory, and duplicates or late events never
//! roll it back.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::TimeDelta;
use integration_tests::{day, load_event, Harness};
use inventory_runtime::EventFunction;
use inventory_store::ecs_events::TaskStateChange;
use serde_json::Value;

const CLUSTER: &str = "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster";
const DIGEST: &str = "sha256:74b2c688c700ec95a93e478cdb959737c148df3fbf5ea706abe0318726e885e6";

/// Hands the event in `events/<name>` to the function as EventBridge would; the steps it stored.
async fn deliver(harness: &Harness, name: &str) -> usize {
    let event: EventBridgeEvent<TaskStateChange> = serde_json::from_value(load_event(name)).expect("an ECS event");
    let applied = harness
        .ecs_events()
        .handle(lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()))
        .await
        .expect("applied");
    applied.steps.len()
}

async fn listed(harness: &Harness) -> Vec<Value> {
    harness.list("admin", &[("inventory_type", "ecs")]).await
}

async fn tasks(harness: &Harness) -> Vec<Value> {
    let answer = harness.call("get-ecs-tasks.json", None, Some("admin"), &[("page", "1")]).await;
    assert!(answer.status.is_success(), "{}", answer.body);
    answer.body["tasks"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_task_that_ran_between_two_sweeps_is_recorded_and_late_events_do_not_roll_it_back() {
    let harness = Harness::new(120, false).await;
    let started = day(1);
    harness.clock.set(started);
    assert_eq!(deliver(&harness, "ecs-task-state-change-running.json").await, 1);
    let items = listed(&harness).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!((items[0]["context"].as_str(), items[0]["image_digest"].as_str()), (Some(CLUSTER), Some(DIGEST)));
    assert_eq!(tasks(&harness).await.len(), 1);
    assert_eq!(deliver(&harness, "ecs-task-state-change-running.json").await, 0, "a duplicate changes nothing");

    // Twenty seconds later it stops: stored at the stop's version, then departed.
    harness.clock.set(started + TimeDelta::seconds(20));
    assert_eq!(deliver(&harness, "ecs-task-state-change-stopped.json").await, 2);
    let items = listed(&harness).await;
    assert_eq!(items.len(), 1, "it ran, so it stays listed until the TTL: {items:?}");
    let seen = |field: &str| items[0][field].as_str().unwrap().to_owned();
    assert_eq!(seen("first_seen"), inventory_store::clock::format_time(started));
    assert_eq!(seen("last_seen"), inventory_store::clock::format_time(started + TimeDelta::seconds(20)));

    // The RUNNING event delivered again after the STOPPED one, and the STOPPED one again.
    harness.clock.set(started + TimeDelta::seconds(30));
    assert_eq!(deliver(&harness, "ecs-task-state-change-running.json").await, 0, "a late RUNNING");
    assert_eq!(deliver(&harness, "ecs-task-state-change-stopped.json").await, 0, "a repeated STOPPED");
    let items = listed(&harness).await;
    assert_eq!(
        items[0]["last_seen"].as_str().unwrap(),
        inventory_store::clock::format_time(started + TimeDelta::seconds(20))
    );
}

#[tokio::test]
async fn a_stop_delivered_before_its_start_still_records_the_task_once() {
    let harness = Harness::new(120, false).await;
    harness.clock.set(day(1));
    assert_eq!(deliver(&harness, "ecs-task-state-change-stopped.json").await, 2);
    harness.clock.set(day(1) + TimeDelta::seconds(5));
    assert_eq!(deliver(&harness, "ecs-task-state-change-running.json").await, 0);
    let items = listed(&harness).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["image_digest"], DIGEST);
    assert_eq!(items[0]["last_seen"].as_str().unwrap(), inventory_store::clock::format_time(day(1)));
}

const EVENT_TASK_ID: &str = "c13b4cb40f1f4fe4a2971f76ae5a47ad";
const EVENT_TASK: &str = "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad";

/// A collector sweep of `CLUSTER` read at `time`, seeing `tasks` (task id, image digest number;
/// 0 for the events' container and image) at version 1, stored as the collector stores it.
async fn sweep(harness: &Harness, time: chrono::DateTime<chrono::Utc>, tasks: &[(&str, u64)]) -> Value {
    use inventory_store::report::{validate_ecs, EcsContainer, EcsReport, EcsTask};
    let arn = |id: &str| format!("arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/{id}");
    let report = EcsReport {
        timestamp: inventory_store::clock::format_time(time),
        cluster_arn: Some(CLUSTER.to_owned()),
        tasks: tasks.iter().map(|(id, _)| EcsTask { arn: arn(id), version: Some(1), ..EcsTask::default() }).collect(),
        containers: tasks
            .iter()
            .map(|(id, n)| match n {
                // The event's own task, as a sweep reads it.
                0 => EcsContainer {
                    arn: "arn:aws:ecs:us-west-2:111122223333:container/cf159fd6-3e3f-4a9e-84f9-66cbe726af01".into(),
                    image_tag: "111122223333.dkr.ecr.us-west-2.amazonaws.com/hello-repository:latest".into(),
                    image_digest: Some(DIGEST.into()),
                    task_arn: Some(arn(id)),
                },
                n => EcsContainer {
                    arn: format!("{}-container", arn(id)),
                    image_tag: format!("app:{n}"),
                    image_digest: Some(integration_tests::digest(*n)),
                    task_arn: Some(arn(id)),
                },
            })
            .collect(),
        ..EcsReport::default()
    };
    let store = inventory_store::Store::new(harness.client_for("collector"), harness.table.clone());
    let ingestor = inventory_store::Ingestor::new(store, harness.settings.clone(), harness.clock.clone());
    let parsed = validate_ecs(report, inventory_store::Clock::now(harness.clock.as_ref())).expect("a valid sweep");
    serde_json::to_value(ingestor.ingest("admin", parsed).await).unwrap()
}

fn digests(items: &[Value]) -> Vec<&str> {
    let mut digests: Vec<&str> = items.iter().map(|item| item["image_digest"].as_str().unwrap()).collect();
    digests.sort();
    digests
}

#[tokio::test]
async fn a_sweep_read_before_an_event_is_stored_and_a_lost_stop_is_repaired_by_the_next() {
    let harness = Harness::new(120, true).await;
    let old = integration_tests::digest(1);
    harness.clock.set(day(1));
    assert_eq!(sweep(&harness, day(1), &[("old", 1)]).await["contexts"][0]["status"], "stored");
    // The next sweep starts reading; meanwhile a task starts and its event is applied.
    let read_at = day(1) + TimeDelta::minutes(5);
    harness.clock.set(read_at + TimeDelta::seconds(20));
    assert_eq!(deliver(&harness, "ecs-task-state-change-running.json").await, 1);
    harness.clock.set(read_at + TimeDelta::seconds(40));
    let stored = sweep(&harness, read_at, &[("old", 1)]).await;
    assert_eq!(stored["contexts"][0]["status"], "stored", "{stored}");
    assert_eq!(digests(&listed(&harness).await), [old.as_str(), DIGEST], "the sweep could not see the new task");
    // Its STOPPED event is lost; the next sweep does not see it, and removes it.
    harness.clock.set(read_at + TimeDelta::minutes(5));
    let repaired = sweep(&harness, read_at + TimeDelta::minutes(5), &[("old", 1)]).await;
    assert_eq!(
        (repaired["contexts"][0]["status"].as_str(), repaired["images_removed"].as_u64()),
        (Some("stored"), Some(1))
    );
    assert_eq!(digests(&listed(&harness).await), [old.as_str()]);
    let tasks = tasks(&harness).await;
    assert!(tasks.iter().all(|task| task["arn"] != EVENT_TASK), "{tasks:?}");
}

#[tokio::test]
async fn a_stop_applied_after_a_sweep_was_read_is_not_undone_by_it() {
    let harness = Harness::new(120, true).await;
    harness.clock.set(day(1));
    assert_eq!(deliver(&harness, "ecs-task-state-change-running.json").await, 1);
    // A sweep reads the task running, then the task stops before the sweep is stored.
    let read_at = day(1) + TimeDelta::minutes(1);
    harness.clock.set(read_at + TimeDelta::seconds(30));
    assert_eq!(deliver(&harness, "ecs-task-state-change-stopped.json").await, 2);
    harness.clock.set(read_at + TimeDelta::seconds(40));
    let stored = sweep(&harness, read_at, &[(EVENT_TASK_ID, 0)]).await;
    assert_eq!(stored["contexts"][0]["status"], "stored", "{stored}");
    assert_eq!((stored["images_added"].as_u64(), stored["images_removed"].as_u64()), (Some(0), Some(0)), "{stored}");
    let items = listed(&harness).await;
    let stopped = items.iter().find(|item| item["image_digest"] == DIGEST).expect("it ran, so it is listed");
    assert_eq!(
        stopped["last_seen"],
        inventory_store::clock::format_time(read_at + TimeDelta::seconds(30)),
        "seen until it stopped"
    );
    // The next sweep, read after the stop, removes it under overwrite.
    harness.clock.set(read_at + TimeDelta::minutes(5));
    assert_eq!(sweep(&harness, read_at + TimeDelta::minutes(5), &[]).await["images_removed"], 0);
    assert!(listed(&harness).await.is_empty());
}

#[tokio::test]
async fn events_never_take_a_cluster_from_its_agent() {
    // No collector: the agent's reports are the cluster's complete picture, events add to it.
    let harness = Harness::new(120, false).await;
    harness.clock.set(day(1));
    assert_eq!(deliver(&harness, "ecs-task-state-change-running.json").await, 1);
    let mut report = integration_tests::sample_report("post-ecs-inventory.json");
    report["cluster_arn"] = CLUSTER.into();
    for minute in [1, 30, 59] {
        report["timestamp"] = inventory_store::clock::format_time(day(1) + TimeDelta::minutes(minute)).into();
        let posted = harness.post_ecs(&report).await;
        assert_eq!(posted.body["contexts"][0]["status"], "stored", "minute {minute}: {}", posted.body);
    }
}

//! ECS Task State Change events (AWS's documented examples, `events/`) applied against moto: a
//! task that ran between two sweeps is in the inventory, and duplicates or late events never
//! roll it back.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::TimeDelta;
use integration_tests::{day, load_event, Harness};
use inventory::ecs_events::TaskStateChange;
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
    assert_eq!(seen("first_seen"), inventory::ingest::format_time(started));
    assert_eq!(seen("last_seen"), inventory::ingest::format_time(started + TimeDelta::seconds(20)));

    // The RUNNING event delivered again after the STOPPED one, and the STOPPED one again.
    harness.clock.set(started + TimeDelta::seconds(30));
    assert_eq!(deliver(&harness, "ecs-task-state-change-running.json").await, 0, "a late RUNNING");
    assert_eq!(deliver(&harness, "ecs-task-state-change-stopped.json").await, 0, "a repeated STOPPED");
    let items = listed(&harness).await;
    assert_eq!(
        items[0]["last_seen"].as_str().unwrap(),
        inventory::ingest::format_time(started + TimeDelta::seconds(20))
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
    assert_eq!(items[0]["last_seen"].as_str().unwrap(), inventory::ingest::format_time(day(1)));
}

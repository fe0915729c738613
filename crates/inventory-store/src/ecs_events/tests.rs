use super::*;
use crate::model::{ImageContent, Tracking};
use crate::plan::Tracked;
use chrono::TimeZone;

const RUNNING: &str = include_str!("../../../../events/ecs-task-state-change-running.json");
const STOPPED: &str = include_str!("../../../../events/ecs-task-state-change-stopped.json");
const TASK: &str = "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad";
const DIGEST: &str = "sha256:74b2c688c700ec95a93e478cdb959737c148df3fbf5ea706abe0318726e885e6";

fn event(raw: &str) -> TaskStateChange {
    let event: serde_json::Value = serde_json::from_str(raw).unwrap();
    serde_json::from_value(event["detail"].clone()).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap()
}

/// What the context holds after `snapshot` was stored.
fn stored_after(snapshot: &ContextSnapshot) -> StoredContext {
    let tracking = Tracking { first_seen: now(), last_seen: now(), present: true, updated_at: now(), expires_at: None };
    let mut stored = StoredContext::default();
    for (key, detail) in &snapshot.details {
        stored.details.insert(key.clone(), Tracked { content: detail.clone(), tracking: tracking.clone() });
    }
    for (key, image) in &snapshot.images {
        let content = ImageContent {
            image_digest: image.digest.as_ref().map(|digest| digest.to_string()).unwrap_or_default(),
            image_tag: image.tag.clone(),
            container_count: image.container_count,
            workloads: Vec::new(),
            workload_count: None,
        };
        stored.images.insert(key.clone(), Tracked { content, tracking: tracking.clone() });
    }
    stored
}

fn departed(mut stored: StoredContext, task: &str) -> StoredContext {
    for item in stored.details.values_mut() {
        let of_task = match &item.content {
            Detail::EcsTask { arn, .. } => arn == task,
            Detail::EcsContainer { task_arn, .. } => task_arn.as_deref() == Some(task),
            _ => false,
        };
        item.tracking.present &= !of_task;
    }
    stored
}

#[test]
fn the_documented_events_read_as_running_and_stopped() {
    let running = event(RUNNING);
    assert_eq!((running.transition(), running.version), (Some(Transition::Running), 4));
    assert_eq!(running.containers[0].image_digest.as_deref(), Some(DIGEST));
    assert_eq!(running.description(Metadata::new()).service_arn(&[]), None, "started by a task family, not a service");
    let stopped = event(STOPPED);
    assert_eq!((stopped.transition(), stopped.version), (Some(Transition::Stopped), 6));
    let pending = TaskStateChange { last_status: "PENDING".into(), ..running };
    assert_eq!(pending.transition(), None);
}

#[test]
fn a_service_task_names_its_service_as_stored_else_in_the_long_arn_format() {
    let change = TaskStateChange { group: Some("service:web".into()), ..event(RUNNING) };
    let task = change.description(Metadata::new());
    assert_eq!(task.service_arn(&[]).as_deref(), Some("arn:aws:ecs:us-west-2:111122223333:service/FargateCluster/web"));
    // A service created before the long ARN format keeps its short ARN; its tasks name it so.
    let short = EcsService { arn: "arn:aws:ecs:us-west-2:111122223333:service/web".into(), tags: Metadata::new() };
    assert_eq!(task.service_arn(std::slice::from_ref(&short)), Some(short.arn.clone()));
}

#[test]
fn running_adds_the_task_once_and_late_or_repeated_events_change_nothing() {
    let running = event(RUNNING);
    let added = with_task(&StoredContext::default(), &running, now(), None).expect("a new task is added");
    assert!(added.details.contains_key(&format!("t#{TASK}")));
    assert!(added.images.contains_key(DIGEST), "{:?}", added.images.keys());
    let stored = stored_after(&added);
    assert_eq!(with_task(&stored, &running, now(), None), None, "a duplicate");
    let older = TaskStateChange { version: 3, ..running };
    assert_eq!(with_task(&stored, &older, now(), None), None, "an older event");
}

#[test]
fn stopped_departs_the_task_in_two_steps_that_a_repeat_or_a_late_running_cannot_undo() {
    let (running, stopped) = (event(RUNNING), event(STOPPED));
    let stored = stored_after(&with_task(&StoredContext::default(), &running, now(), None).unwrap());

    // Step 1 stores the task at the STOPPED version, step 2 leaves it out.
    let at_stop = with_task(&stored, &stopped, now(), None).expect("stored at the stop's version");
    let stored = stored_after(&at_stop);
    let without = without_task(&stored, &stopped, now(), None).expect("then left out");
    assert!(!without.details.contains_key(&format!("t#{TASK}")));
    assert!(without.images.is_empty(), "its only container is gone");

    let stored = departed(stored, TASK);
    assert_eq!(with_task(&stored, &stopped, now(), None), None, "a repeated STOPPED");
    assert_eq!(without_task(&stored, &stopped, now(), None), None);
    assert_eq!(with_task(&stored, &running, now(), None), None, "a RUNNING arriving late");
}

#[test]
fn a_stop_whose_start_was_never_seen_still_records_the_task() {
    let stopped = event(STOPPED);
    let added = with_task(&StoredContext::default(), &stopped, now(), None).expect("recorded first");
    assert!(added.images.contains_key(DIGEST));
    assert!(without_task(&stored_after(&added), &stopped, now(), None).is_some(), "then departed");
}

#[test]
fn other_tasks_and_services_are_kept_with_their_images() {
    let running = event(RUNNING);
    let stored = stored_after(&with_task(&StoredContext::default(), &running, now(), None).unwrap());
    let other = TaskStateChange {
        task_arn: format!("{TASK}-other"),
        containers: vec![TaskContainer {
            container_arn: Some("arn:aws:ecs:us-west-2:111122223333:container/other".into()),
            image: Some("nginx:1.27".into()),
            image_digest: None,
        }],
        ..running
    };
    let both = with_task(&stored, &other, now(), None).unwrap();
    assert_eq!(both.details.keys().filter(|key| key.starts_with("t#")).count(), 2);
    assert!(both.images.contains_key(DIGEST), "the first task's image is kept");
    assert_eq!(both.images.len(), 2, "{:?}", both.images.keys());
}

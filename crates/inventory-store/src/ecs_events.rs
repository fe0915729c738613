//! ECS Task State Change events (EventBridge, `aws.ecs`) applied to their cluster's context at
//! once, between the collector's sweeps: a RUNNING task's containers are added, a STOPPED
//! task's removed (departed, like a task a sweep no longer sees).
//!
//! Order: the task's ECS `version` is stored with it. An event no newer than the stored version
//! (present or departed) changes nothing, so duplicates and late events never roll back. A
//! STOPPED event is applied in two steps: the task is first stored at the event's version (added,
//! if its RUNNING event has not arrived: a short task is recorded even then), then departed.

use crate::image::TAG_KEY_PREFIX;
use crate::ingest::{ContextSummary, IngestError, Ingestor};
use crate::model::{Detail, DetailKind, InventoryType, Metadata, ReportSource};
use crate::plan::{effective_last_seen, is_live, StoredContext};
use crate::report::ContextSnapshot;
use crate::report::{
    validate_ecs, ContainerDescription, EcsContainer, EcsReport, EcsService, EcsTask, TaskDescription,
};
use crate::settings::Settings;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The `detail-type` of the events.
pub const TASK_STATE_CHANGE: &str = "ECS Task State Change";

/// The fields of an event's `detail` this service uses (AWS documents many more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStateChange {
    pub cluster_arn: String,
    pub task_arn: String,
    #[serde(default)]
    pub task_definition_arn: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    pub last_status: String,
    pub version: i64,
    #[serde(default)]
    pub containers: Vec<TaskContainer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskContainer {
    #[serde(default)]
    pub container_arn: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub image_digest: Option<String>,
}

/// What an event does to its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Running,
    Stopped,
}

impl TaskStateChange {
    /// RUNNING and STOPPED change the inventory; the states between them do not.
    pub fn transition(&self) -> Option<Transition> {
        match self.last_status.as_str() {
            "RUNNING" => Some(Transition::Running),
            "STOPPED" => Some(Transition::Stopped),
            _ => None,
        }
    }

    /// The task as ECS describes it, with the tags stored of it (an event carries none).
    fn description(&self, tags: Metadata) -> TaskDescription {
        let containers = self.containers.iter().map(|container| ContainerDescription {
            arn: container.container_arn.clone(),
            image: container.image.clone(),
            image_digest: container.image_digest.clone(),
        });
        TaskDescription {
            arn: self.task_arn.clone(),
            cluster_arn: self.cluster_arn.clone(),
            group: self.group.clone(),
            task_definition_arn: self.task_definition_arn.clone(),
            version: self.version,
            tags,
            containers: containers.collect(),
        }
    }
}

/// The stored task: its version and tags, and whether it is present.
fn stored_task(stored: &StoredContext, task_arn: &str) -> Option<(Option<i64>, Metadata, bool)> {
    let task = stored.details.get(&crate::keys::detail_sk(DetailKind::Task.letter(), task_arn))?;
    match &task.content {
        Detail::EcsTask { version, tags, .. } => Some((*version, tags.clone(), task.tracking.present)),
        _ => None,
    }
}

/// What is stored and still live as a report (the shape the collector builds), less `skip_task`.
fn present_report(
    stored: &StoredContext,
    cluster_arn: &str,
    skip_task: &str,
    now: DateTime<Utc>,
    ttl: Option<TimeDelta>,
) -> EcsReport {
    let last_report = stored.record.as_ref().and_then(|record| record.last_report_at);
    let mut report = EcsReport {
        timestamp: crate::clock::format_time(now),
        cluster_arn: Some(cluster_arn.to_owned()),
        ..EcsReport::default()
    };
    let present = stored
        .details
        .values()
        .filter(|item| item.tracking.present && is_live(effective_last_seen(&item.tracking, last_report), now, ttl));
    for item in present {
        match &item.content {
            Detail::EcsTask { arn, .. } if arn == skip_task => {}
            Detail::EcsTask { arn, service_arn, task_definition_arn, tags, version } => report.tasks.push(EcsTask {
                arn: arn.clone(),
                service_arn: service_arn.clone(),
                task_definition_arn: task_definition_arn.clone(),
                tags: tags.clone(),
                version: *version,
            }),
            Detail::EcsContainer { task_arn, .. } if task_arn.as_deref() == Some(skip_task) => {}
            Detail::EcsContainer { arn, task_arn, image_key } => {
                let image = stored.images.get(image_key).map(|image| &image.content);
                let tag = image.map(|image| image.image_tag.clone());
                let tag = tag.or_else(|| image_key.strip_prefix(TAG_KEY_PREFIX).map(str::to_owned)).unwrap_or_default();
                let digest = image.map(|image| image.image_digest.clone()).filter(|digest| !digest.is_empty());
                report.containers.push(EcsContainer {
                    arn: arn.clone(),
                    image_tag: tag,
                    image_digest: digest,
                    task_arn: task_arn.clone(),
                });
            }
            Detail::EcsService { arn, tags } => {
                report.services.push(EcsService { arn: arn.clone(), tags: tags.clone() })
            }
            _ => {}
        }
    }
    report
}

fn snapshot(report: EcsReport, now: DateTime<Utc>) -> Option<ContextSnapshot> {
    validate_ecs(report, now).ok()?.contexts.pop().map(crate::report::ContextReport::into_snapshot)
}

/// The context with the event's task present at the event's version, unless the stored task is
/// as new already: a RUNNING event, and a STOPPED event's first step.
pub fn with_task(
    stored: &StoredContext,
    change: &TaskStateChange,
    now: DateTime<Utc>,
    ttl: Option<TimeDelta>,
) -> Option<ContextSnapshot> {
    let known = stored_task(stored, &change.task_arn);
    if known.as_ref().and_then(|(version, _, _)| *version).is_some_and(|version| version >= change.version) {
        return None;
    }
    let mut report = present_report(stored, &change.cluster_arn, &change.task_arn, now, ttl);
    let description = change.description(known.map(|(_, tags, _)| tags).unwrap_or_default());
    let (task, containers) = description.into_report(&report.services);
    report.tasks.push(task);
    report.containers.extend(containers);
    snapshot(report, now)
}

/// The context without the event's task, if it is present at the event's version: a STOPPED
/// event's second step.
pub fn without_task(
    stored: &StoredContext,
    change: &TaskStateChange,
    now: DateTime<Utc>,
    ttl: Option<TimeDelta>,
) -> Option<ContextSnapshot> {
    let (version, _, present) = stored_task(stored, &change.task_arn)?;
    if !present || version != Some(change.version) {
        return None;
    }
    snapshot(present_report(stored, &change.cluster_arn, &change.task_arn, now, ttl), now)
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub cluster_arn: String,
    pub task_arn: String,
    pub last_status: String,
    pub version: i64,
    /// Each step stored (a STOPPED event takes two; none when the event was no newer than
    /// what is stored, or is a state between RUNNING and STOPPED).
    pub steps: Vec<ContextSummary>,
}

/// Applies one event to its cluster's context under `account`.
pub async fn apply(
    ingestor: &Ingestor,
    settings: &Settings,
    account: &str,
    change: &TaskStateChange,
) -> Result<Applied, IngestError> {
    let ttl = settings.ttl_delta();
    let mut applied = Applied {
        cluster_arn: change.cluster_arn.clone(),
        task_arn: change.task_arn.clone(),
        last_status: change.last_status.clone(),
        version: change.version,
        steps: Vec::new(),
    };
    let Some(transition) = change.transition() else { return Ok(applied) };
    let (cluster, source) = (&change.cluster_arn, ReportSource::EcsEvents);
    let with = |stored: &StoredContext, now| with_task(stored, change, now, ttl);
    let step = ingestor.ingest_derived(account, InventoryType::Ecs, cluster, source, &with).await?;
    applied.steps.extend(Some(step).filter(|step| step.write_requests > 0));
    if transition == Transition::Stopped {
        let without = |stored: &StoredContext, now| without_task(stored, change, now, ttl);
        let step = ingestor.ingest_derived(account, InventoryType::Ecs, cluster, source, &without).await?;
        applied.steps.extend(Some(step).filter(|step| step.write_requests > 0));
    }
    Ok(applied)
}

#[cfg(test)]
mod tests;

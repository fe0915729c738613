//! The `ecs-inventory` report: the context is the cluster ARN. The collector builds the same
//! shape from the ECS API and validates it here too.

use super::{
    cap_metadata, decode, null_as_default, optional, parse_timestamp, required, resolve_image, validate_cluster,
    FieldError, ItemNotes, ParsedReport, RawItems, ResolvedImage, Skip, SnapshotBuilder,
};
use crate::limits::{ECS_AGENT_SERVICE_PAGE, ECS_AGENT_TASK_PAGE, MAX_ARN_BYTES};
use crate::model::{Detail, InventoryType, Metadata, ReportSource};
use crate::workload::{ecs_workload, Workload};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// `ecs-inventory` posts this cluster name to check its credentials before the first report.
pub const ECS_CREDENTIAL_CHECK_CLUSTER: &str = "validating-creds";

const CLUSTER_ARN_HINT: &str = "ecs-inventory sends the ARN of each cluster it lists; check the agent's \
    region setting (`ANCHORE_ECS_INVENTORY_REGION`) and its ecs:ListClusters permission";

/// The `ecs-inventory` agent's report; the collector builds the same shape from the ECS API.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EcsReport {
    pub timestamp: String,
    #[serde(default)]
    pub cluster_arn: Option<String>,
    /// Older agents name the cluster ARN `cluster_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<EcsContainer>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: Vec<EcsTask>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub services: Vec<EcsService>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EcsContainer {
    #[serde(default, deserialize_with = "null_as_default")]
    pub arn: String,
    pub image_tag: String,
    #[serde(default)]
    pub image_digest: Option<String>,
    #[serde(default)]
    pub task_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EcsTask {
    pub arn: String,
    #[serde(default)]
    pub service_arn: Option<String>,
    #[serde(default)]
    pub task_definition_arn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Metadata,
    /// ECS's task `version` (the collector and task state change events know it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EcsService {
    pub arn: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Metadata,
}

/// The group of a task a service started: `service:<name>`.
pub const SERVICE_GROUP_PREFIX: &str = "service:";

/// A running task as ECS describes it, by `DescribeTasks` (the collector) or in an `ECS Task
/// State Change` event: the one mapping of a task to a report's task and containers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDescription {
    pub arn: String,
    pub cluster_arn: String,
    pub group: Option<String>,
    pub task_definition_arn: Option<String>,
    pub version: i64,
    pub tags: Metadata,
    pub containers: Vec<ContainerDescription>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerDescription {
    pub arn: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
}

impl TaskDescription {
    /// The service that started the task, by the name in its group.
    pub fn service_name(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix(SERVICE_GROUP_PREFIX)
    }

    /// The service's ARN as `services` (the cluster's, as ECS answered or as stored) name it;
    /// else the long ARN format, `service/<cluster>/<service>`, from the cluster's ARN.
    pub fn service_arn(&self, services: &[EcsService]) -> Option<String> {
        let name = self.service_name()?;
        let known = services.iter().find(|service| service.arn.rsplit('/').next() == Some(name));
        known.map(|service| service.arn.clone()).or_else(|| {
            let (prefix, cluster) = self.cluster_arn.split_once(":cluster/")?;
            Some(format!("{prefix}:service/{cluster}/{name}"))
        })
    }

    /// The task and its containers as a report of the cluster holds them, `services` its services.
    /// A pending container has no digest yet: it is kept by tag until it has one.
    pub fn into_report(self, services: &[EcsService]) -> (EcsTask, Vec<EcsContainer>) {
        let service_arn = self.service_arn(services);
        let containers = self
            .containers
            .into_iter()
            .map(|container| EcsContainer {
                arn: container.arn.unwrap_or_default(),
                image_tag: container.image.unwrap_or_default(),
                image_digest: container.image_digest.filter(|digest| !digest.trim().is_empty()),
                task_arn: Some(self.arn.clone()),
            })
            .collect();
        let task = EcsTask {
            arn: self.arn,
            service_arn,
            task_definition_arn: self.task_definition_arn,
            tags: self.tags,
            version: Some(self.version),
        };
        (task, containers)
    }
}

/// The agent's report with its arrays undecoded, so that each item is checked alone.
#[derive(Deserialize)]
struct Wire<'a> {
    timestamp: String,
    #[serde(default)]
    cluster_arn: Option<String>,
    #[serde(default)]
    cluster_name: Option<String>,
    #[serde(default, borrow)]
    containers: RawItems<'a>,
    #[serde(default, borrow)]
    tasks: RawItems<'a>,
    #[serde(default, borrow)]
    services: RawItems<'a>,
}

/// Items with their index in the report, for naming them in notes.
struct Items {
    containers: Vec<(usize, EcsContainer)>,
    tasks: Vec<(usize, EcsTask)>,
    services: Vec<(usize, EcsService)>,
}

pub fn parse_ecs(body: &[u8], now: DateTime<Utc>) -> Result<ParsedReport<'_>, FieldError> {
    let wire: Wire = decode(body)?;
    for (array, items) in [("containers", &wire.containers), ("tasks", &wire.tasks), ("services", &wire.services)] {
        items.check_count(array)?;
    }
    let mut notes = ItemNotes::default();
    let items = Items {
        containers: wire.containers.decode("containers", &mut notes),
        tasks: wire.tasks.decode("tasks", &mut notes),
        services: wire.services.decode("services", &mut notes),
    };
    let (arn, name) = (wire.cluster_arn.as_deref(), wire.cluster_name.as_deref());
    build(ReportSource::EcsInventory, &wire.timestamp, arn, name, items, notes, now)
}

/// Validates a report the collector built from the ECS API; it is stored as the collector's.
pub fn validate_ecs(report: EcsReport, now: DateTime<Utc>) -> Result<ParsedReport<'static>, FieldError> {
    let items = Items {
        containers: report.containers.into_iter().enumerate().collect(),
        tasks: report.tasks.into_iter().enumerate().collect(),
        services: report.services.into_iter().enumerate().collect(),
    };
    let (arn, name) = (report.cluster_arn.as_deref(), report.cluster_name.as_deref());
    build(ReportSource::Collector, &report.timestamp, arn, name, items, ItemNotes::default(), now)
}

/// What the answer to a report, and `GET /v2/clusters`, say of a probably truncated one.
pub fn probably_truncated_warning() -> String {
    format!(
        "ecs-inventory reads only the first page of ListTasks ({ECS_AGENT_TASK_PAGE} tasks) and ListServices \
         ({ECS_AGENT_SERVICE_PAGE} services), and this cluster's report has exactly that many: the cluster \
         probably runs more than the report lists; the agentless collector (CollectorEnabled) reads every task"
    )
}

fn add_services(builder: &mut SnapshotBuilder, services: Vec<(usize, EcsService)>, notes: &mut ItemNotes) {
    for (index, service) in services {
        match required("arn", &service.arn, MAX_ARN_BYTES) {
            Ok(arn) => builder.add_detail(Detail::EcsService { arn, tags: cap_metadata(&service.tags) }),
            Err(skip) => skip.note(&format!("services[{index}]"), notes),
        }
    }
}

fn task_detail(task: &EcsTask) -> Result<Detail, Skip> {
    Ok(Detail::EcsTask {
        arn: required("arn", &task.arn, MAX_ARN_BYTES)?,
        service_arn: optional("service_arn", task.service_arn.as_deref(), MAX_ARN_BYTES)?,
        task_definition_arn: optional("task_definition_arn", task.task_definition_arn.as_deref(), MAX_ARN_BYTES)?,
        tags: cap_metadata(&task.tags),
        version: task.version,
    })
}

/// The tasks' details; answers each task's workload (its service, else its task family).
fn add_tasks(
    builder: &mut SnapshotBuilder,
    tasks: Vec<(usize, EcsTask)>,
    notes: &mut ItemNotes,
) -> HashMap<String, Workload> {
    let mut task_workloads = HashMap::new();
    for (index, task) in tasks {
        let detail = match task_detail(&task) {
            Ok(detail) => detail,
            Err(skip) => {
                skip.note(&format!("tasks[{index}]"), notes);
                continue;
            }
        };
        if let Detail::EcsTask { arn, service_arn, task_definition_arn, .. } = &detail {
            if let Some(workload) = ecs_workload(service_arn.as_deref(), task_definition_arn.as_deref()) {
                task_workloads.insert(arn.clone(), workload);
            }
        }
        builder.add_detail(detail);
    }
    task_workloads
}

/// The containers with their images, each counted for its task's workload. Containers reported
/// without an ARN (not started yet) are numbered within their task.
fn add_containers(
    builder: &mut SnapshotBuilder,
    containers: Vec<(usize, EcsContainer)>,
    task_workloads: &HashMap<String, Workload>,
    notes: &mut ItemNotes,
) {
    let mut unnamed_in_task: HashMap<String, usize> = HashMap::new();
    for (index, container) in containers {
        let prefix = || format!("containers[{index}]");
        match container_detail(&container, prefix, &mut unnamed_in_task, notes) {
            Ok((arn, task_arn, image)) => {
                let workload = task_arn.as_ref().and_then(|task| task_workloads.get(task));
                let image_key = builder.add_container(&image, workload);
                builder.add_detail(Detail::EcsContainer { arn, task_arn, image_key });
            }
            Err(skip) => skip.note(&prefix(), notes),
        }
    }
}

/// A container's ARN (given, or numbered within its task), its task's and its image.
fn container_detail(
    container: &EcsContainer,
    prefix: impl Fn() -> String + Copy,
    unnamed_in_task: &mut HashMap<String, usize>,
    notes: &mut ItemNotes,
) -> Result<(String, Option<String>, ResolvedImage), Skip> {
    let task_arn = optional("task_arn", container.task_arn.as_deref(), MAX_ARN_BYTES)?;
    let given_arn = optional("arn", Some(&container.arn), MAX_ARN_BYTES)?;
    let image = match (&given_arn, &task_arn) {
        (None, None) => return Err(Skip::new("arn", "must not be empty when task_arn is empty too")),
        _ => resolve_image(&container.image_tag, container.image_digest.as_deref(), prefix, notes)?,
    };
    let arn = match given_arn {
        Some(arn) => arn,
        None => {
            // Checked above: a container without an ARN has a task.
            let task = task_arn.as_deref().unwrap_or_default();
            let ordinal = unnamed_in_task.entry(task.to_owned()).or_default();
            *ordinal += 1;
            notes.adjust(format!("{}.arn", prefix()), format!("empty; stored as container {ordinal} of its task"));
            format!("{task}/container-{ordinal}")
        }
    };
    Ok((arn, task_arn, image))
}

fn build(
    source: ReportSource,
    timestamp: &str,
    cluster_arn: Option<&str>,
    cluster_name: Option<&str>,
    items: Items,
    mut notes: ItemNotes,
    now: DateTime<Utc>,
) -> Result<ParsedReport<'static>, FieldError> {
    let timestamp = parse_timestamp(timestamp, now)?;
    let (field, raw_cluster) = match (cluster_arn, cluster_name) {
        (Some(arn), _) if !arn.trim().is_empty() => ("cluster_arn", arn),
        (_, Some(name)) => ("cluster_name", name),
        (Some(arn), None) => ("cluster_arn", arn),
        (None, None) => return Err(FieldError::invalid("cluster_arn", "missing field `cluster_arn`")),
    };
    let cluster = validate_cluster(field, raw_cluster, CLUSTER_ARN_HINT)?;
    if cluster == ECS_CREDENTIAL_CHECK_CLUSTER {
        let contexts = Vec::new();
        return Ok(ParsedReport {
            inventory_type: InventoryType::Ecs,
            source,
            timestamp,
            contexts,
            notes,
            probably_truncated: false,
        });
    }
    let probably_truncated = source == ReportSource::EcsInventory
        && (items.tasks.len() == ECS_AGENT_TASK_PAGE || items.services.len() == ECS_AGENT_SERVICE_PAGE);

    let mut builder = SnapshotBuilder::default();
    add_services(&mut builder, items.services, &mut notes);
    let task_workloads = add_tasks(&mut builder, items.tasks, &mut notes);
    add_containers(&mut builder, items.containers, &task_workloads, &mut notes);
    let contexts = vec![builder.build(cluster, None).into()];
    Ok(ParsedReport { inventory_type: InventoryType::Ecs, source, timestamp, contexts, notes, probably_truncated })
}

#[cfg(test)]
mod tests;

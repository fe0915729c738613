//! Reading one cluster from the ECS API into the report the `ecs-inventory` agent would post,
//! with the fewest calls the API allows: list pages, then one describe per 100 tasks and
//! one per 10 services. Nothing is called per task or per container.

use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::types::{DesiredStatus, Failure, ServiceField, Tag, TaskField};
#[cfg(test)]
use chrono::TimeDelta;
use inventory_store::clock::Deadline;
use inventory_store::model::Metadata;
use inventory_store::report::{ContainerDescription, EcsReport, EcsService, TaskDescription, SERVICE_GROUP_PREFIX};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most a `ListTasks` page or a `DescribeTasks` call takes.
pub const TASKS_PER_CALL: usize = 100;
/// The most a `DescribeServices` call takes.
pub const SERVICES_PER_CALL: usize = 10;
const CLUSTERS_PER_PAGE: i32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error("{operation}: {message}")]
    Api { operation: &'static str, message: String },
    #[error("not started: the Lambda deadline is near")]
    Deadline,
}

impl GatherError {
    fn api<E: std::error::Error + 'static>(operation: &'static str, error: E) -> Self {
        Self::Api { operation, message: DisplayErrorContext(&error).to_string() }
    }
}

/// No new ECS call is started once the run's deadline passed.
fn check(deadline: &Deadline) -> Result<(), GatherError> {
    if deadline.passed() {
        return Err(GatherError::Deadline);
    }
    Ok(())
}

/// ECS operations sent during a run (one per page or batch; SDK retries not included).
#[derive(Debug, Default)]
pub struct ApiCalls {
    list_clusters: AtomicU64,
    list_tasks: AtomicU64,
    describe_tasks: AtomicU64,
    describe_services: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApiCallCounts {
    pub list_clusters: u64,
    pub list_tasks: u64,
    pub describe_tasks: u64,
    pub describe_services: u64,
    pub total: u64,
}

impl ApiCalls {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> ApiCallCounts {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let (list_clusters, list_tasks, describe_tasks, describe_services) = (
            read(&self.list_clusters),
            read(&self.list_tasks),
            read(&self.describe_tasks),
            read(&self.describe_services),
        );
        ApiCallCounts {
            list_clusters,
            list_tasks,
            describe_tasks,
            describe_services,
            total: list_clusters + list_tasks + describe_tasks + describe_services,
        }
    }
}

/// ECS's `failures` reason for a task or service that no longer exists.
const MISSING: &str = "MISSING";

/// A `failures` entry of a describe call: logged and counted, never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DescribeFailure {
    pub operation: &'static str,
    pub arn: String,
    pub reason: String,
}

impl DescribeFailure {
    /// A task that stopped (or a service deleted) between listing and describing is simply not
    /// running any more; any other failure means part of the cluster was not read.
    pub fn leaves_cluster_incomplete(&self) -> bool {
        self.reason.split(':').next() != Some(MISSING)
    }
}

/// One cluster as read from ECS.
#[derive(Debug, Clone)]
pub struct ClusterInventory {
    pub report: EcsReport,
    pub failures: Vec<DescribeFailure>,
    /// Containers kept by tag because ECS has not reported their digest yet.
    pub containers_without_digest: usize,
}

pub async fn list_clusters(
    client: &aws_sdk_ecs::Client,
    calls: &ApiCalls,
    deadline: &Deadline,
) -> Result<Vec<String>, GatherError> {
    let mut pages = client.list_clusters().max_results(CLUSTERS_PER_PAGE).into_paginator().send();
    let mut clusters = Vec::new();
    loop {
        check(deadline)?;
        let Some(page) = pages.next().await else { break };
        ApiCalls::count(&calls.list_clusters);
        clusters
            .extend(page.map_err(|error| GatherError::api("ListClusters", error))?.cluster_arns.unwrap_or_default());
    }
    Ok(clusters)
}

fn tags_to_metadata(tags: &[Tag]) -> Metadata {
    tags.iter().filter_map(|tag| Some((tag.key()?.to_owned(), tag.value().unwrap_or_default().to_owned()))).collect()
}

fn describe_failures<'a>(
    operation: &'static str,
    failures: &'a [Failure],
) -> impl Iterator<Item = DescribeFailure> + 'a {
    failures.iter().map(move |failure| DescribeFailure {
        operation,
        arn: failure.arn().unwrap_or_default().to_owned(),
        reason: match (failure.reason(), failure.detail()) {
            (Some(reason), Some(detail)) => format!("{reason}: {detail}"),
            (reason, detail) => reason.or(detail).unwrap_or("unknown").to_owned(),
        },
    })
}

/// Reads a cluster's running tasks and their services into an agent-shaped report.
pub async fn gather_cluster(
    client: &aws_sdk_ecs::Client,
    cluster_arn: &str,
    calls: &ApiCalls,
    deadline: &Deadline,
) -> Result<ClusterInventory, GatherError> {
    let timestamp = inventory_store::clock::format_time(deadline.now());
    let mut failures = Vec::new();
    let tasks = running_tasks(client, cluster_arn, calls, deadline, &mut failures).await?;
    let services = services_of(client, cluster_arn, &tasks, calls, deadline, &mut failures).await?;
    let mut report =
        EcsReport { timestamp, cluster_arn: Some(cluster_arn.to_owned()), services, ..EcsReport::default() };
    for task in tasks.iter().filter_map(|task| description(cluster_arn, task)) {
        let (task, containers) = task.into_report(&report.services);
        report.tasks.push(task);
        report.containers.extend(containers);
    }
    let containers_without_digest =
        report.containers.iter().filter(|container| container.image_digest.is_none()).count();
    Ok(ClusterInventory { report, failures, containers_without_digest })
}

/// The cluster's running tasks, described (with their tags) a batch of pages at a time.
async fn running_tasks(
    client: &aws_sdk_ecs::Client,
    cluster_arn: &str,
    calls: &ApiCalls,
    deadline: &Deadline,
    failures: &mut Vec<DescribeFailure>,
) -> Result<Vec<aws_sdk_ecs::types::Task>, GatherError> {
    let mut tasks = Vec::new();
    let mut batch: Vec<String> = Vec::with_capacity(TASKS_PER_CALL);
    let mut describe = async |arns: Vec<String>| -> Result<(), GatherError> {
        check(deadline)?;
        ApiCalls::count(&calls.describe_tasks);
        let output = client
            .describe_tasks()
            .cluster(cluster_arn)
            .set_tasks(Some(arns))
            .include(TaskField::Tags)
            .send()
            .await
            .map_err(|error| GatherError::api("DescribeTasks", error))?;
        failures.extend(describe_failures("DescribeTasks", output.failures()));
        tasks.extend(output.tasks.unwrap_or_default());
        Ok(())
    };
    let mut pages = client
        .list_tasks()
        .cluster(cluster_arn)
        .desired_status(DesiredStatus::Running)
        .max_results(TASKS_PER_CALL as i32)
        .into_paginator()
        .send();
    loop {
        check(deadline)?;
        let Some(page) = pages.next().await else { break };
        ApiCalls::count(&calls.list_tasks);
        let page = page.map_err(|error| GatherError::api("ListTasks", error))?;
        for arn in page.task_arns.unwrap_or_default() {
            batch.push(arn);
            if batch.len() == TASKS_PER_CALL {
                describe(std::mem::take(&mut batch)).await?;
            }
        }
    }
    if !batch.is_empty() {
        describe(batch).await?;
    }
    Ok(tasks)
}

/// The services that started `tasks`, with their tags.
async fn services_of(
    client: &aws_sdk_ecs::Client,
    cluster_arn: &str,
    tasks: &[aws_sdk_ecs::types::Task],
    calls: &ApiCalls,
    deadline: &Deadline,
    failures: &mut Vec<DescribeFailure>,
) -> Result<Vec<EcsService>, GatherError> {
    let names: BTreeSet<&str> =
        tasks.iter().filter_map(|task| task.group()?.strip_prefix(SERVICE_GROUP_PREFIX)).collect();
    let names: Vec<&str> = names.into_iter().collect();
    let mut services = Vec::new();
    for chunk in names.chunks(SERVICES_PER_CALL) {
        check(deadline)?;
        ApiCalls::count(&calls.describe_services);
        let output = client
            .describe_services()
            .cluster(cluster_arn)
            .set_services(Some(chunk.iter().map(|name| name.to_string()).collect()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|error| GatherError::api("DescribeServices", error))?;
        failures.extend(describe_failures("DescribeServices", output.failures()));
        for service in output.services() {
            let Some(arn) = service.service_arn() else { continue };
            services.push(EcsService { arn: arn.to_owned(), tags: tags_to_metadata(service.tags()) });
        }
    }
    Ok(services)
}

/// A task as `DescribeTasks` answers it; none without an ARN.
fn description(cluster_arn: &str, task: &aws_sdk_ecs::types::Task) -> Option<TaskDescription> {
    let containers = task.containers().iter().map(|container| ContainerDescription {
        arn: container.container_arn().map(str::to_owned),
        image: container.image().map(str::to_owned),
        image_digest: container.image_digest().map(str::to_owned),
    });
    Some(TaskDescription {
        arn: task.task_arn()?.to_owned(),
        cluster_arn: cluster_arn.to_owned(),
        group: task.group().map(str::to_owned),
        task_definition_arn: task.task_definition_arn().map(str::to_owned),
        version: task.version(),
        tags: tags_to_metadata(task.tags()),
        containers: containers.collect(),
    })
}

#[cfg(test)]
mod tests;

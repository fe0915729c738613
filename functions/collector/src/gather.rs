//! Reading one cluster from the ECS API into the report the `ecs-inventory` agent would post,
//! with the fewest calls the API allows: list pages, then one describe per 100 tasks and
//! one per 10 services. Nothing is called per task or per container.

use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::types::{DesiredStatus, Failure, ServiceField, Tag, TaskField};
#[cfg(test)]
use chrono::TimeDelta;
use chrono::{DateTime, Utc};
use inventory::ecs_events::SERVICE_GROUP_PREFIX;
use inventory::model::Metadata;
use inventory::report::{EcsContainer, EcsReport, EcsService, EcsTask};
use inventory::Clock;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// The point after which no new ECS call is started.
#[derive(Clone)]
pub struct Deadline {
    clock: Arc<dyn Clock>,
    cutoff: Option<DateTime<Utc>>,
}

impl Deadline {
    pub fn new(clock: Arc<dyn Clock>, cutoff: Option<DateTime<Utc>>) -> Self {
        Self { clock, cutoff }
    }

    pub fn check(&self) -> Result<(), GatherError> {
        match self.cutoff {
            Some(cutoff) if self.clock.now() >= cutoff => Err(GatherError::Deadline),
            _ => Ok(()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
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
        deadline.check()?;
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
    let timestamp = inventory::clock::format_time(deadline.now());
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    let mut batch: Vec<String> = Vec::with_capacity(TASKS_PER_CALL);

    let mut describe = async |arns: Vec<String>| -> Result<(), GatherError> {
        deadline.check()?;
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
        deadline.check()?;
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

    let service_names: BTreeSet<&str> =
        tasks.iter().filter_map(|task| task.group()?.strip_prefix(SERVICE_GROUP_PREFIX)).collect();
    let mut services = Vec::new();
    let mut service_arns: BTreeMap<String, String> = BTreeMap::new();
    let names: Vec<&str> = service_names.into_iter().collect();
    for chunk in names.chunks(SERVICES_PER_CALL) {
        deadline.check()?;
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
            let (Some(arn), Some(name)) = (service.service_arn(), service.service_name()) else { continue };
            service_arns.insert(name.to_owned(), arn.to_owned());
            services.push(EcsService { arn: arn.to_owned(), tags: tags_to_metadata(service.tags()) });
        }
    }

    let mut report =
        EcsReport { timestamp, cluster_arn: Some(cluster_arn.to_owned()), services, ..EcsReport::default() };
    let mut containers_without_digest = 0;
    for task in &tasks {
        let Some(task_arn) = task.task_arn() else { continue };
        let service_arn = task
            .group()
            .and_then(|group| group.strip_prefix(SERVICE_GROUP_PREFIX))
            .and_then(|name| service_arns.get(name).cloned());
        report.tasks.push(EcsTask {
            arn: task_arn.to_owned(),
            service_arn,
            task_definition_arn: task.task_definition_arn().map(str::to_owned),
            tags: tags_to_metadata(task.tags()),
            version: Some(task.version()),
        });
        for container in task.containers() {
            let arn = container.container_arn().unwrap_or_default().to_owned();
            let image = container.image().unwrap_or_default();
            // Pending tasks have no digest yet; the image is kept by tag until a later run sees it.
            let digest = container.image_digest().filter(|digest| !digest.trim().is_empty());
            containers_without_digest += usize::from(digest.is_none());
            report.containers.push(EcsContainer {
                arn,
                image_tag: image.to_owned(),
                image_digest: digest.map(str::to_owned),
                task_arn: Some(task_arn.to_owned()),
            });
        }
    }
    Ok(ClusterInventory { report, failures, containers_without_digest })
}

#[cfg(test)]
mod tests;

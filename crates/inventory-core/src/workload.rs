//! Which workload runs a pod or an ECS task, derived from what the agents send: they send no
//! owner references, so the owner is read from pod names and the labels controllers stamp.
//!
//! Kubernetes, first rule that applies:
//! 1. `batch.kubernetes.io/job-name` or `job-name` label: a Job of that name; a CronJob when the
//!    job name ends in `-<8 or more digits>` (the CronJob controller appends the scheduled time
//!    in minutes since the epoch), named without that suffix.
//! 2. `controller-revision-hash` label: a StatefulSet when the pod carries
//!    `statefulset.kubernetes.io/pod-name` or `apps.kubernetes.io/pod-index`, or, without
//!    `pod-template-generation`, when its name ends in an ordinal (`web-0`): named without the
//!    ordinal. Otherwise a DaemonSet (its pods carry `pod-template-generation` and a random
//!    5-character suffix): named without the suffix.
//! 3. `pod-template-hash` label whose value appears in the name as `{name}-{hash}-{suffix}`: a
//!    Deployment `{name}` (its ReplicaSet is `{name}-{hash}`).
//! 4. Otherwise a bare Pod, under its own name.
//!
//! ECS: the service (the last part of the task's service ARN; the collector turns a task's
//! `service:` group into that ARN), else the task definition family.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Pod,
    #[serde(rename = "EcsService")]
    EcsService,
    #[serde(rename = "EcsTaskFamily")]
    EcsTaskFamily,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 8] = [
        Self::Deployment,
        Self::StatefulSet,
        Self::DaemonSet,
        Self::Job,
        Self::CronJob,
        Self::Pod,
        Self::EcsService,
        Self::EcsTaskFamily,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
            Self::Pod => "Pod",
            Self::EcsService => "EcsService",
            Self::EcsTaskFamily => "EcsTaskFamily",
        }
    }

    /// Case-insensitive, as users type kinds in query strings.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(raw))
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
}

impl Workload {
    fn new(kind: WorkloadKind, name: &str) -> Self {
        Self { kind, name: name.to_owned() }
    }
}

const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];
const STATEFULSET_LABELS: [&str; 2] = ["statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index"];
/// The CronJob controller's job suffix: the scheduled time in minutes since the epoch.
const CRONJOB_SUFFIX_MIN_DIGITS: usize = 8;
/// Length of the random suffix Kubernetes appends to generated names.
const GENERATED_SUFFIX_LEN: usize = 5;

/// `name` without its last `-suffix`, with the suffix, when both are non-empty.
fn split_suffix(name: &str) -> Option<(&str, &str)> {
    name.rsplit_once('-').filter(|(base, suffix)| !base.is_empty() && !suffix.is_empty())
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// The workload of a Kubernetes pod.
pub fn kubernetes_workload(pod_name: &str, labels: &BTreeMap<String, String>) -> Workload {
    let label = |name: &str| labels.get(name).map(String::as_str).filter(|value| !value.is_empty());

    if let Some(job) = JOB_NAME_LABELS.iter().find_map(|name| label(name)) {
        return match split_suffix(job) {
            Some((cronjob, scheduled)) if is_digits(scheduled) && scheduled.len() >= CRONJOB_SUFFIX_MIN_DIGITS => {
                Workload::new(WorkloadKind::CronJob, cronjob)
            }
            _ => Workload::new(WorkloadKind::Job, job),
        };
    }

    if label("controller-revision-hash").is_some() {
        let stateful_label = STATEFULSET_LABELS.iter().any(|name| label(name).is_some());
        let daemon_label = label("pod-template-generation").is_some();
        if let Some((base, suffix)) = split_suffix(pod_name) {
            if stateful_label || (!daemon_label && is_digits(suffix)) {
                return Workload::new(WorkloadKind::StatefulSet, base);
            }
            if daemon_label || suffix.len() == GENERATED_SUFFIX_LEN {
                return Workload::new(WorkloadKind::DaemonSet, base);
            }
        }
    }

    if let Some(hash) = label("pod-template-hash") {
        if let Some((replica_set, _)) = split_suffix(pod_name) {
            if let Some(deployment) = replica_set.strip_suffix(hash).and_then(|rest| rest.strip_suffix('-')) {
                if !deployment.is_empty() {
                    return Workload::new(WorkloadKind::Deployment, deployment);
                }
            }
        }
    }

    Workload::new(WorkloadKind::Pod, pod_name)
}

/// The workload of an ECS task: its service, else its task definition family.
pub fn ecs_workload(service_arn: Option<&str>, task_definition_arn: Option<&str>) -> Option<Workload> {
    fn last_segment(arn: &str) -> Option<&str> {
        arn.rsplit('/').next().filter(|name| !name.is_empty())
    }
    if let Some(name) = service_arn.and_then(last_segment) {
        return Some(Workload::new(WorkloadKind::EcsService, name));
    }
    // `arn:aws:ecs:region:account:task-definition/family:revision`
    let family = task_definition_arn.and_then(last_segment).map(|name| name.split_once(':').map_or(name, |(f, _)| f));
    family.filter(|name| !name.is_empty()).map(|name| Workload::new(WorkloadKind::EcsTaskFamily, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn k8s(pod: &str, pairs: &[(&str, &str)]) -> (WorkloadKind, String) {
        let workload = kubernetes_workload(pod, &labels(pairs));
        (workload.kind, workload.name)
    }

    #[test]
    fn deployments_are_read_from_the_replica_set_hash() {
        let coredns = k8s("coredns-5d78c9869d-8x2kq", &[("k8s-app", "kube-dns"), ("pod-template-hash", "5d78c9869d")]);
        assert_eq!(coredns, (WorkloadKind::Deployment, "coredns".into()));
        let dashed = k8s(
            "payments-api-v2-7d9f8c6b5-x2x9z",
            &[("app.kubernetes.io/name", "payments-api"), ("pod-template-hash", "7d9f8c6b5")],
        );
        assert_eq!(dashed, (WorkloadKind::Deployment, "payments-api-v2".into()));
        // The hash label without the hash in the name (a renamed pod): no owner is guessed.
        assert_eq!(k8s("standalone", &[("pod-template-hash", "7d9f8c6b5")]), (WorkloadKind::Pod, "standalone".into()));
    }

    #[test]
    fn stateful_sets_and_daemon_sets_are_told_apart() {
        let web = k8s(
            "web-0",
            &[("controller-revision-hash", "web-6d8f7c9b5"), ("statefulset.kubernetes.io/pod-name", "web-0")],
        );
        assert_eq!(web, (WorkloadKind::StatefulSet, "web".into()));
        let by_index = k8s(
            "postgres-12",
            &[("controller-revision-hash", "postgres-59c8d"), ("apps.kubernetes.io/pod-index", "12")],
        );
        assert_eq!(by_index, (WorkloadKind::StatefulSet, "postgres".into()));
        let ordinal_only = k8s("kafka-2", &[("controller-revision-hash", "kafka-7c9d")]);
        assert_eq!(ordinal_only, (WorkloadKind::StatefulSet, "kafka".into()));
        let proxy = k8s(
            "kube-proxy-7xq2m",
            &[("controller-revision-hash", "5f9c7d8b6"), ("k8s-app", "kube-proxy"), ("pod-template-generation", "1")],
        );
        assert_eq!(proxy, (WorkloadKind::DaemonSet, "kube-proxy".into()));
        // A generated suffix made only of digits, on a DaemonSet pod.
        let digits = k8s("aws-node-24567", &[("controller-revision-hash", "6c9f"), ("pod-template-generation", "3")]);
        assert_eq!(digits, (WorkloadKind::DaemonSet, "aws-node".into()));
    }

    #[test]
    fn jobs_and_cron_jobs_come_from_the_job_name_label() {
        let scheduled = k8s(
            "backup-28912345-x7k2p",
            &[("batch.kubernetes.io/job-name", "backup-28912345"), ("job-name", "backup-28912345")],
        );
        assert_eq!(scheduled, (WorkloadKind::CronJob, "backup".into()));
        assert_eq!(k8s("migrate-db-h8x2q", &[("job-name", "migrate-db")]), (WorkloadKind::Job, "migrate-db".into()));
        // A short number is part of a job's own name, not a schedule.
        assert_eq!(k8s("etl-2024-abcde", &[("job-name", "etl-2024")]), (WorkloadKind::Job, "etl-2024".into()));
    }

    #[test]
    fn anything_else_is_a_bare_pod() {
        assert_eq!(k8s("debug-shell", &[]), (WorkloadKind::Pod, "debug-shell".into()));
        assert_eq!(k8s("web-0", &[("app", "web")]), (WorkloadKind::Pod, "web-0".into()), "no controller label");
    }

    #[test]
    fn ecs_tasks_belong_to_their_service_else_their_family() {
        let service = ecs_workload(
            Some("arn:aws:ecs:eu-west-2:123456789012:service/prod/payments"),
            Some("arn:aws:ecs:eu-west-2:123456789012:task-definition/payments:42"),
        );
        assert_eq!(service, Some(Workload { kind: WorkloadKind::EcsService, name: "payments".into() }));
        let old_arn = ecs_workload(Some("arn:aws:ecs:us-east-1:123456789012:service/legacy"), None);
        assert_eq!(old_arn.map(|w| w.name), Some("legacy".into()));
        let family = ecs_workload(None, Some("arn:aws:ecs:eu-west-2:123456789012:task-definition/batch-report:7"));
        assert_eq!(family, Some(Workload { kind: WorkloadKind::EcsTaskFamily, name: "batch-report".into() }));
        assert_eq!(ecs_workload(None, None), None);
    }

    #[test]
    fn kinds_parse_case_insensitively() {
        assert_eq!(WorkloadKind::parse("deployment"), Some(WorkloadKind::Deployment));
        assert_eq!(WorkloadKind::parse("EcsService"), Some(WorkloadKind::EcsService));
        assert_eq!(WorkloadKind::parse("replicaset"), None);
    }
}

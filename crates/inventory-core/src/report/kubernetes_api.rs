//! The Kubernetes API's objects as the embedded mode reads them (`Pod`, `Node`, `Namespace`, with
//! the API reference's field names), turned into the report `k8s-inventory` would send for them.
//! The collector's content then goes through the agent's parser: the same limits, the same
//! skipped items, the same workloads.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

#[derive(Deserialize, Debug, Clone, Default)]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Namespace {
    pub metadata: ObjectMeta,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Node {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub status: Option<NodeStatus>,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    #[serde(default)]
    pub node_info: Option<NodeSystemInfo>,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct NodeSystemInfo {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub kernel_version: String,
    #[serde(default)]
    pub kubelet_version: String,
    #[serde(default)]
    pub operating_system: String,
    #[serde(default)]
    pub container_runtime_version: String,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Pod {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<PodSpec>,
    #[serde(default)]
    pub status: Option<PodStatus>,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub node_name: Option<String>,
    #[serde(default)]
    pub containers: Vec<ContainerSpec>,
    #[serde(default)]
    pub init_containers: Vec<ContainerSpec>,
}

#[derive(Deserialize, Debug, Clone, Default)]
pub struct ContainerSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default)]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(default)]
    pub init_container_statuses: Vec<ContainerStatus>,
}

#[derive(Deserialize, Debug, Clone, Default)]
pub struct ContainerStatus {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "containerID", default)]
    pub container_id: Option<String>,
    #[serde(default)]
    pub image: String,
    #[serde(rename = "imageID", default)]
    pub image_id: String,
}

/// One page of a list (`PodList`, `NodeList`, `NamespaceList`): its items and, when more follow,
/// the `continue` token of the next page.
#[derive(Deserialize, Debug, Clone)]
pub struct List<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub metadata: ListMeta,
}

#[derive(Deserialize, Debug, Clone, Default)]
pub struct ListMeta {
    #[serde(rename = "continue", default)]
    pub continue_token: Option<String>,
}

/// The repository digest of a status's `imageID` (`docker.io/library/nginx@sha256:…`,
/// `docker-pullable://nginx@sha256:…`); an image id without a repository (`sha256:…` of the
/// config, as Docker reports local images) names no pullable digest.
fn repo_digest(image_id: &str) -> Option<&str> {
    image_id.rsplit_once('@').map(|(_, digest)| digest).filter(|digest| digest.contains(':'))
}

fn metadata(meta: &ObjectMeta) -> (Value, Value) {
    (json!(meta.labels), json!(meta.annotations))
}

/// The agent's report (`k8s-inventory` v2 shape) of what the API answered for a cluster.
pub fn agent_report(
    cluster: &str,
    timestamp: DateTime<Utc>,
    namespaces: &[Namespace],
    nodes: &[Node],
    pods: &[Pod],
) -> Value {
    let namespace_uids: HashMap<&str, &str> =
        namespaces.iter().map(|ns| (ns.metadata.name.as_str(), ns.metadata.uid.as_str())).collect();
    let node_uids: HashMap<&str, &str> =
        nodes.iter().map(|node| (node.metadata.name.as_str(), node.metadata.uid.as_str())).collect();
    let namespaces: Vec<Value> = namespaces
        .iter()
        .map(|ns| {
            let (labels, annotations) = metadata(&ns.metadata);
            json!({"name": ns.metadata.name, "uid": ns.metadata.uid, "labels": labels, "annotations": annotations})
        })
        .collect();
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|node| {
            let (labels, annotations) = metadata(&node.metadata);
            let info = node.status.as_ref().and_then(|status| status.node_info.clone()).unwrap_or_default();
            json!({"name": node.metadata.name, "uid": node.metadata.uid, "arch": info.architecture,
                   "kernel_version": info.kernel_version, "kubelet_version": info.kubelet_version,
                   "operating_system": info.operating_system,
                   "container_runtime_version": info.container_runtime_version,
                   "labels": labels, "annotations": annotations})
        })
        .collect();
    let mut pod_list = Vec::new();
    let mut containers = Vec::new();
    for pod in pods {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let node = spec.node_name.as_deref().and_then(|name| node_uids.get(name)).copied();
        let (labels, annotations) = metadata(&pod.metadata);
        pod_list.push(json!({"name": pod.metadata.name, "uid": pod.metadata.uid,
            "namespace_uid": namespace_uids.get(namespace).copied().unwrap_or_default(),
            "node_uid": node, "labels": labels, "annotations": annotations}));
        let statuses = status.container_statuses.iter().chain(&status.init_container_statuses);
        let by_name: HashMap<&str, &ContainerStatus> = statuses.map(|status| (status.name.as_str(), status)).collect();
        for container in spec.containers.iter().chain(&spec.init_containers) {
            let status = by_name.get(container.name.as_str());
            let image =
                if container.image.is_empty() { status.map_or("", |s| s.image.as_str()) } else { &container.image };
            containers.push(json!({
                "id": status.and_then(|s| s.container_id.clone()).unwrap_or_default(),
                "name": container.name,
                "pod_uid": pod.metadata.uid,
                "image_tag": image,
                "image_digest": status.and_then(|s| repo_digest(&s.image_id)).unwrap_or_default(),
            }));
        }
    }
    json!({
        "cluster_name": cluster,
        "timestamp": timestamp.to_rfc3339(),
        "namespaces": namespaces,
        "nodes": nodes,
        "pods": pod_list,
        "containers": containers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse_kubernetes;
    use chrono::TimeZone;

    const DIGEST: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";

    /// A `PodList` page as the API answers it (field names from the API reference).
    fn pod_list() -> List<Pod> {
        serde_json::from_value(json!({
            "kind": "PodList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "1234", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"},
            "items": [{
                "metadata": {"name": "web-7d9f8c6b5-x2kq8", "namespace": "shop", "uid": "pod-1",
                             "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5"},
                             "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d9f8c6b5"}]},
                "spec": {"nodeName": "ip-10-0-1-12",
                         "initContainers": [{"name": "migrate", "image": "registry.example.com/shop/migrate:3"}],
                         "containers": [{"name": "web", "image": "nginx:1.27"},
                                        {"name": "sidecar", "image": "registry.example.com/proxy:2"}]},
                "status": {"phase": "Running",
                    "initContainerStatuses": [{"name": "migrate", "containerID": "containerd://aaa",
                        "image": "registry.example.com/shop/migrate:3", "imageID": format!("registry.example.com/shop/migrate@{DIGEST}"), "ready": false}],
                    "containerStatuses": [{"name": "web", "containerID": "containerd://bbb", "image": "docker.io/library/nginx:1.27",
                        "imageID": format!("docker.io/library/nginx@{DIGEST}"), "ready": true, "restartCount": 0}]}
            }]
        }))
        .unwrap()
    }

    #[test]
    fn api_objects_become_the_report_an_agent_sends() {
        let namespaces: Vec<Namespace> = serde_json::from_value::<List<Namespace>>(json!({"items": [
            {"metadata": {"name": "shop", "uid": "ns-shop", "labels": {"team": "shop"}}}]}))
        .unwrap()
        .items;
        let nodes: Vec<Node> = serde_json::from_value::<List<Node>>(json!({"items": [
            {"metadata": {"name": "ip-10-0-1-12", "uid": "node-1"},
             "status": {"nodeInfo": {"architecture": "arm64", "kubeletVersion": "v1.31.2", "operatingSystem": "linux",
                                     "kernelVersion": "6.1", "containerRuntimeVersion": "containerd://1.7.20"}}}]}))
        .unwrap()
        .items;
        let page = pod_list();
        assert_eq!(page.metadata.continue_token.as_deref(), Some("eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"));
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 15, 0).unwrap();
        let report = agent_report("prod", at, &namespaces, &nodes, &page.items);
        assert_eq!(report["pods"][0]["namespace_uid"], "ns-shop");
        assert_eq!(report["pods"][0]["node_uid"], "node-1");
        assert_eq!(report["nodes"][0]["arch"], "arm64");
        let containers = report["containers"].as_array().unwrap();
        let names: Vec<&str> = containers.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["web", "sidecar", "migrate"], "init containers too");
        assert_eq!(containers[0]["image_digest"], DIGEST);
        assert_eq!(containers[1]["id"], "", "not started yet: no runtime id, no digest");
        assert_eq!(containers[1]["image_digest"], "");

        let body = report.to_string();
        let parsed = parse_kubernetes(body.as_bytes(), at).unwrap();
        assert_eq!(parsed.contexts.len(), 1);
        assert_eq!(parsed.contexts[0].context, "prod/shop");
        assert_eq!(parsed.notes.skipped_count, 0, "{:?}", parsed.notes);
    }

    #[test]
    fn only_a_repository_digest_is_a_digest() {
        assert_eq!(repo_digest(&format!("docker-pullable://nginx@{DIGEST}")), Some(DIGEST));
        assert_eq!(repo_digest(DIGEST), None, "a local image's config id");
        assert_eq!(repo_digest(""), None);
    }
}

//! The Kubernetes collector on its schedule, with a demo Kubernetes API server (the tests' HTTPS
//! server, certificates made at start) so the embedded mode's curl flow works on a laptop
//! without a cluster. A kind or minikube cluster can be configured the same way (docs/clusters.md).

use crate::kube_api::{namespace, node, pod, KubeApiServer};
use kubernetes_collector::KubernetesCollectorApp;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Overrides the template's `KubernetesCollectorSchedule` for local runs.
pub const SCHEDULE_VARIABLE: &str = "KUBERNETES_COLLECTOR_SCHEDULE";
pub const SCHEDULE_PARAMETER: &str = "KubernetesCollectorSchedule";
/// The demo server's bearer token: local only.
pub const DEMO_TOKEN: &str = "local-demo-token";
pub const DEMO_CLUSTER: &str = "local-kind";
/// The networks the local collector (and the clusters function's check) allow: loopback, where
/// the demo API server and a kind or minikube cluster's forwarded port are, and nothing else.
pub const LOCAL_ALLOWED_NETWORKS: &str = "127.0.0.0/8,::1/128";

/// Starts the demo API server (two namespaces, three pods) and writes the configuration body
/// that registers it to `body_path`, for `curl -d @<path>`.
pub async fn start_demo_server(body_path: &Path) -> std::io::Result<KubeApiServer> {
    let server = KubeApiServer::start(DEMO_TOKEN).await?;
    let digest = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";
    let redis = "sha256:9b2a6a8a5e4c7c7f1c8e0b4f3a7d1c2e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c";
    server.set_content(
        vec![namespace("shop"), namespace("payments")],
        vec![node("kind-control-plane")],
        vec![
            pod("shop", "web-0", "kind-control-plane", "nginx:1.27", digest),
            pod("shop", "web-1", "kind-control-plane", "nginx:1.27", digest),
            pod("payments", "cache-0", "kind-control-plane", "redis:7", redis),
        ],
    );
    let body = json!({"cluster_name": DEMO_CLUSTER, "inventory_type": "kubernetes", "cluster_config": {
        "cluster_server": server.url, "cluster_certificate": server.certificate_authority,
        "credential_type": "token", "credential": DEMO_TOKEN, "namespaces": ["all"]}});
    if let Some(parent) = body_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(body_path, serde_json::to_vec_pretty(&body).map_err(std::io::Error::other)?)?;
    Ok(server)
}

/// Where the demo configuration body is written: beside the build output, never committed.
pub fn demo_body_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/local-kind-cluster.json")
}

/// Runs the collector now and then every `interval`, printing each run's summary.
pub async fn run_on_schedule(collector: KubernetesCollectorApp, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let summary = collector.run(None).await;
        if summary.clusters == 0 {
            continue;
        }
        println!(
            "kubernetes collector: {} clusters, {} stored, {} namespaces, {} containers, {} API requests, {} errors{}",
            summary.clusters,
            summary.clusters_stored,
            summary.contexts,
            summary.containers,
            summary.kubernetes_requests,
            summary.errors.len(),
            summary.errors.first().map(|error| format!(" (first: {})", error.message)).unwrap_or_default()
        );
    }
}

//! The collector on its schedule, against moto's ECS, with an optional demo cluster so a
//! fresh local stack has something to collect.

use crate::moto::run_ec2_instance;
use aws_sdk_ecs::types::{ContainerDefinition, LaunchType};
use collector::CollectorApp;
use std::time::Duration;

/// Overrides the template's `CollectorSchedule` for local runs.
pub const SCHEDULE_VARIABLE: &str = "COLLECTOR_SCHEDULE";
pub const SCHEDULE_PARAMETER: &str = "CollectorSchedule";
pub const DEMO_CLUSTER: &str = "local-demo";

/// A cluster on one EC2 container instance running two nginx tasks and one redis task.
pub async fn create_demo_cluster(
    ecs: &aws_sdk_ecs::Client,
    endpoint: &str,
    region: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let cluster = ecs.create_cluster().cluster_name(DEMO_CLUSTER).send().await?.cluster.and_then(|c| c.cluster_arn);
    let instance = run_ec2_instance(endpoint, "testing", region).await?;
    let document = serde_json::json!({"instanceId": instance, "region": region}).to_string();
    ecs.register_container_instance().cluster(DEMO_CLUSTER).instance_identity_document(document).send().await?;
    for (family, image, count) in [("web", "nginx:1.27", 2), ("cache", "redis:7", 1)] {
        let container = ContainerDefinition::builder().name(family).image(image).memory(64).build();
        ecs.register_task_definition().family(family).container_definitions(container).send().await?;
        ecs.run_task()
            .cluster(DEMO_CLUSTER)
            .task_definition(family)
            .launch_type(LaunchType::Ec2)
            .count(count)
            .send()
            .await?;
    }
    Ok(cluster.unwrap_or_default())
}

/// Runs the collector now and then every `interval`, printing each run's summary.
pub async fn run_on_schedule(app: CollectorApp, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let summary = app.run(None).await;
        println!(
            "collector: {} clusters, {} tasks, {} containers, {} images added, {} removed, {} errors, {} ECS calls",
            summary.clusters,
            summary.tasks,
            summary.containers,
            summary.images_added,
            summary.images_removed,
            summary.errors.len(),
            summary.api_calls.total
        );
    }
}

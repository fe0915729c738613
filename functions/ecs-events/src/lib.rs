//! ECS events function: an `ECS Task State Change` from EventBridge is applied to its
//! cluster's context at once; the collector's scheduled sweep stays the reconciling pass.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use inventory_runtime::{ConfigError, EventFunction, Sdk};
use inventory_store::ecs_events::{apply, Applied, TaskStateChange};
use inventory_store::{Clock, Ingestor, Settings, Store};
use lambda_runtime::{Error, LambdaEvent};
use std::sync::Arc;

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    /// The account the agentless ECS inventory is stored under.
    pub account: String,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let account = inventory_store::settings::collector_account(&lookup)?;
        Ok(Self { settings: Settings::from_lookup(&lookup)?, account })
    }
}

pub struct EcsEventsApp {
    ingestor: Ingestor,
    settings: Settings,
    account: String,
}

impl EcsEventsApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        let ingestor = Ingestor::new(store, config.settings.clone(), clock);
        Self { ingestor, settings: config.settings, account: config.account }
    }
}

impl EventFunction for EcsEventsApp {
    type Event = EventBridgeEvent<TaskStateChange>;
    type Response = Applied;

    /// One event. A failure is an error, so EventBridge's asynchronous invocation retries it (a
    /// retry of a step already stored changes nothing: the task's version says so).
    async fn handle(&self, event: LambdaEvent<Self::Event>) -> Result<Applied, Error> {
        let change = event.payload.detail;
        // Boxed: the ingest's future nested in the runtime's is too deep a type for the compiler.
        let applied = Box::pin(apply(&self.ingestor, &self.settings, &self.account, &change)).await?;
        tracing::info!(
            cluster = %applied.cluster_arn,
            task = %applied.task_arn,
            status = %applied.last_status,
            version = applied.version,
            steps = applied.steps.len(),
            "task state change applied"
        );
        Ok(applied)
    }
}

//! ECS events function: an `ECS Task State Change` from EventBridge is applied to its
//! cluster's context at once; the collector's scheduled sweep stays the reconciling pass.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use inventory::ecs_events::{apply, Applied, TaskStateChange};
use inventory::{Clock, Ingestor, Settings, Store, SystemClock};
use lambda_runtime::{Error, LambdaEvent};
use std::sync::Arc;

pub struct EcsEventsApp {
    ingestor: Ingestor,
    settings: Settings,
    account: String,
}

impl EcsEventsApp {
    pub fn new(store: Store, settings: Settings, account: String, clock: Arc<dyn Clock>) -> Self {
        Self { ingestor: Ingestor::new(store, settings.clone(), clock), settings, account }
    }

    /// Builds the app from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let settings = Settings::from_env()?;
        let account = inventory::settings::collector_account(|key| std::env::var(key).ok())?;
        let store = Store::from_sdk_config(&inventory::sdk_config().await, settings.table_name.clone());
        Ok(Self::new(store, settings, account, Arc::new(SystemClock)))
    }

    /// One event. A failure is an error, so EventBridge's asynchronous invocation retries it (a
    /// retry of a step already stored changes nothing: the task's version says so).
    pub async fn handle(&self, event: LambdaEvent<EventBridgeEvent<TaskStateChange>>) -> Result<Applied, Error> {
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

//! Coverage check function: on its schedule, finds clusters that stopped reporting (or came
//! back) and puts one EventBridge event for each change.

pub mod staleness;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use inventory::bus::EVENT_BUS_NAME;
use inventory::{Clock, Settings, Store, SystemClock};
use lambda_runtime::{Error, LambdaEvent};
use staleness::{CheckSummary, StalenessCheck};
use std::sync::Arc;

pub struct CoverageCheckApp {
    check: StalenessCheck,
}

impl CoverageCheckApp {
    pub fn new(
        store: Store,
        events: aws_sdk_eventbridge::Client,
        settings: Settings,
        bus: &str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { check: StalenessCheck::new(store, events, bus, settings, clock) }
    }

    /// Builds the app from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let settings = Settings::from_env()?;
        let bus = std::env::var(EVENT_BUS_NAME).map_err(|_| format!("{EVENT_BUS_NAME} must be set"))?;
        let config = inventory::sdk_config().await;
        let store = Store::from_sdk_config(&config, settings.table_name.clone());
        Ok(Self::new(store, aws_sdk_eventbridge::Client::new(&config), settings, &bus, Arc::new(SystemClock)))
    }

    /// One run. A cluster whose step failed is an error, so it shows in the function's `Errors`
    /// metric; the next scheduled run takes it up again.
    pub async fn run(&self) -> Result<CheckSummary, Error> {
        // Boxed: the run's future nested in the runtime's is too deep a type for the compiler.
        Self::settle(Box::pin(self.check.run()).await?)
    }

    /// Logs a run; a cluster whose step failed fails it.
    fn settle(summary: CheckSummary) -> Result<CheckSummary, Error> {
        tracing::info!(
            clusters = summary.clusters,
            stale = summary.stale,
            stale_events = summary.stale_events,
            recovered_events = summary.recovered_events,
            forgotten = summary.forgotten,
            errors = summary.errors.len(),
            "coverage checked"
        );
        if !summary.errors.is_empty() {
            return Err(format!(
                "{} clusters could not be checked: {}",
                summary.errors.len(),
                summary.errors.join("; ")
            )
            .into());
        }
        Ok(summary)
    }

    /// A scheduled invocation: the run, then its metrics for CloudWatch (the `StaleClusters`
    /// alarm reads them), printed even when a cluster's step failed.
    pub async fn handle(
        &self,
        _event: LambdaEvent<EventBridgeEvent<serde_json::Value>>,
    ) -> Result<CheckSummary, Error> {
        let summary = Box::pin(self.check.run()).await?;
        println!("{}", self.check.metric_line(&summary));
        Self::settle(summary)
    }
}

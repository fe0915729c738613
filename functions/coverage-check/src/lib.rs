//! Coverage check function: on its schedule, finds clusters that stopped reporting (or came
//! back) and puts one EventBridge event for each change.

pub mod staleness;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use inventory_runtime::{ConfigError, EventFunction, Sdk};
use inventory_store::{Clock, Settings, Store};
use lambda_runtime::{Error, LambdaEvent};
use staleness::{CheckSummary, StalenessCheck};
use std::sync::Arc;

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub bus: String,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self { settings: Settings::from_lookup(&lookup)?, bus: inventory_store::bus::event_bus(&lookup) })
    }
}

pub struct CoverageCheckApp {
    check: StalenessCheck,
}

impl CoverageCheckApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        let events = inventory_runtime::client!(sdk, aws_sdk_eventbridge);
        Self { check: StalenessCheck::new(store, events, &config.bus, config.settings, clock) }
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
}

impl EventFunction for CoverageCheckApp {
    type Event = EventBridgeEvent<serde_json::Value>;
    type Response = CheckSummary;

    /// A scheduled invocation: the run, then its metrics for CloudWatch (the `StaleClusters`
    /// alarm reads them), printed even when a cluster's step failed.
    async fn handle(&self, _event: LambdaEvent<Self::Event>) -> Result<CheckSummary, Error> {
        let summary = Box::pin(self.check.run()).await?;
        println!("{}", self.check.metric_line(&summary));
        Self::settle(summary)
    }
}

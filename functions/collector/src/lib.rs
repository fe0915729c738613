//! Collector function: on a schedule, reads what runs on ECS and stores it as if the
//! `ecs-inventory` agent had posted it, with no agent to install.

pub mod config;
pub mod gather;
pub mod run;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use config::{EcsConfig, Target};
use inventory_runtime::{ConfigError, EventFunction, Sdk};
use inventory_store::{Clock, Ingestor, Settings, Store};
use lambda_runtime::{Error, LambdaEvent};
use run::{Collector, RunSummary};
use std::sync::Arc;

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub collector: EcsConfig,
}

impl Config {
    /// `own_region`: the function's, read when `COLLECTOR_REGIONS` is empty.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, own_region: Option<&str>) -> Result<Self, ConfigError> {
        Ok(Self { settings: Settings::from_lookup(&lookup)?, collector: EcsConfig::from_lookup(&lookup, own_region)? })
    }
}

pub struct CollectorApp {
    collector: Collector,
    targets: Vec<Target>,
}

impl CollectorApp {
    /// The app on a collector and its ECS clients (tests give clients that fail).
    pub fn new(collector: Collector, targets: Vec<Target>) -> Self {
        Self { collector, targets }
    }

    /// The function as `main`, the local stack and the test harness run it: the store, and the
    /// ECS clients of every configured region and role.
    pub async fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        let ingestor = Ingestor::new(store, config.settings, Arc::clone(&clock));
        let targets = config.collector.targets(sdk).await;
        let EcsConfig { account, concurrency, .. } = config.collector;
        Self { collector: Collector::new(ingestor, account, concurrency, clock), targets }
    }

    /// One run, logged as one structured summary.
    pub async fn run(&self, deadline: Option<DateTime<Utc>>) -> RunSummary {
        let summary = self.collector.run(&self.targets, deadline).await;
        let json = serde_json::to_string(&summary).unwrap_or_default();
        tracing::info!(summary = %json, "collector run finished");
        summary
    }
}

impl EventFunction for CollectorApp {
    type Event = EventBridgeEvent;
    type Response = RunSummary;

    /// A run fails (so the function's error metric shows it) only when nothing was collected.
    async fn handle(&self, event: LambdaEvent<EventBridgeEvent>) -> Result<RunSummary, Error> {
        tracing::debug!(id = ?event.payload.id, time = ?event.payload.time, "scheduled run");
        // A runtime that sets no deadline (0) gets no cutoff rather than an instant one.
        let deadline = inventory_runtime::run::invocation_end(&event.context);
        let summary = self.run(deadline).await;
        let errors = summary.errors.iter().map(|error| error.message.as_str());
        if let Some(failure) = inventory_runtime::run::failed_run(
            "cluster collected",
            errors,
            summary.clusters_stored + summary.clusters_stale,
        ) {
            return Err(failure.into());
        }
        Ok(summary)
    }
}

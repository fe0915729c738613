//! Collector function: on a schedule, reads what runs on ECS and stores it as if the
//! `ecs-inventory` agent had posted it, with no agent to install.

pub mod config;
pub mod gather;
pub mod run;

use aws_config::SdkConfig;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use config::{CollectorConfig, Target};
use inventory::{Clock, Ingestor, Settings, Store, SystemClock};
use lambda_runtime::{Error, LambdaEvent};
use run::{Collector, RunSummary};
use std::sync::Arc;

pub struct CollectorApp {
    collector: Collector,
    targets: Vec<Target>,
}

impl CollectorApp {
    pub fn new(collector: Collector, targets: Vec<Target>) -> Self {
        Self { collector, targets }
    }

    /// Builds the store, the ECS clients and the settings from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let sdk_config = inventory::sdk_config().await;
        let (store, settings) = inventory::store_from_env().await?;
        let config = CollectorConfig::from_env(sdk_config.region().map(|region| region.as_ref()))?;
        Ok(Self::from_config(&sdk_config, store, settings, &config).await)
    }

    /// Builds the ECS clients for every configured region and role.
    pub async fn from_config(
        sdk_config: &SdkConfig,
        store: Store,
        settings: Settings,
        config: &CollectorConfig,
    ) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ingestor = Ingestor::new(store, settings, Arc::clone(&clock));
        let targets = config.targets(sdk_config).await;
        Self::new(Collector::new(ingestor, config.account.clone(), config.concurrency, clock), targets)
    }

    /// One run, logged as one structured summary.
    pub async fn run(&self, deadline: Option<DateTime<Utc>>) -> RunSummary {
        let summary = self.collector.run(&self.targets, deadline).await;
        let json = serde_json::to_string(&summary).unwrap_or_default();
        tracing::info!(summary = %json, "collector run finished");
        summary
    }

    /// A run fails (so the function's error metric shows it) only when nothing was collected.
    pub async fn handle(&self, event: LambdaEvent<EventBridgeEvent>) -> Result<RunSummary, Error> {
        tracing::debug!(id = ?event.payload.id, time = ?event.payload.time, "scheduled run");
        // A runtime that sets no deadline (0) gets no cutoff rather than an instant one.
        let deadline = (event.context.deadline > 0).then(|| DateTime::<Utc>::from(event.context.deadline()));
        let summary = self.run(deadline).await;
        let errors = summary.errors.iter().map(|error| error.message.as_str());
        if let Some(failure) =
            inventory::failed_run("cluster collected", errors, summary.clusters_stored + summary.clusters_stale)
        {
            return Err(failure.into());
        }
        Ok(summary)
    }
}

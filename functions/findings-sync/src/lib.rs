//! Findings sync function: Amazon Inspector's (or ECR basic scanning's) findings of the ECR
//! images that run, read on each `Image Added` event and on its schedule (new CVEs on images that
//! keep running), across the collector's regions and roles; and, on its own schedule, the threat
//! data (CISA KEV, FIRST EPSS) every finding is ranked by (`threat`).

pub mod accounts;
pub mod ecr;
pub mod metrics;
pub mod sources;
pub mod sync;
pub mod threat;

use accounts::SyncAccounts;
use aws_config::retry::RetryConfig;
use aws_config::Region;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use inventory_runtime::{ConfigError, EventFunction, Sdk};
use inventory_store::bus::ADDED_DETAIL_TYPE;
use inventory_store::settings::{role_account, AwsScope};
use inventory_store::{Clock, InventoryReader, Settings, Store};
use lambda_runtime::{Error, LambdaEvent};
use metrics::{exposed_workloads, metric_lines};
use serde_json::Value;
use std::sync::Arc;
use sync::{ecr_images, FindingsSync, RunningImage, SyncSummary, Target};
use threat::{Sources, ThreatConfig, ThreatLoader, ThreatSummary, THREAT_DATA_DETAIL_TYPE};

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    /// Where Inspector and ECR are read.
    pub scope: AwsScope,
    /// Whose images a registry's findings are read for.
    pub accounts: SyncAccounts,
    /// Where the threat data feeds are read.
    pub threat: ThreatConfig,
}

impl Config {
    /// `own_region`: the function's, read when `COLLECTOR_REGIONS` is empty.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, own_region: Option<&str>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::from_lookup(&lookup)?,
            scope: AwsScope::from_lookup(&lookup, own_region)?,
            accounts: SyncAccounts::from_lookup(&lookup)?,
            threat: ThreatConfig::from_lookup(&lookup, Sources::Deployed)?,
        })
    }
}

/// Images synced at once.
pub const CONCURRENCY: usize = 8;
const SESSION_NAME: &str = "runtime-inventory-findings-sync";

pub struct FindingsSyncApp {
    sync: FindingsSync,
    threat: ThreatLoader,
    table: String,
    /// How long the inventory keeps an image that left (`InventoryTtlDays`; none: forever).
    ttl: Option<chrono::TimeDelta>,
}

/// The Inspector and ECR clients of every configured (role, region).
pub async fn targets(sdk: &Sdk, scope: &AwsScope) -> Vec<Target> {
    let places = scope.places(sdk.config(), SESSION_NAME).await;
    places
        .into_iter()
        .map(|place| {
            let retry = RetryConfig::adaptive().with_max_attempts(5);
            let region = Region::new(place.region.clone());
            let credentials = place.credentials.clone();
            let inspector = inventory_runtime::client!(sdk, aws_sdk_inspector2, |builder| {
                let builder = builder.region(region.clone()).retry_config(retry.clone());
                match credentials.clone() {
                    Some(credentials) => builder.credentials_provider(credentials),
                    None => builder,
                }
            });
            let ecr = inventory_runtime::client!(sdk, aws_sdk_ecr, |builder| {
                let builder = builder.region(region).retry_config(retry);
                match credentials {
                    Some(credentials) => builder.credentials_provider(credentials),
                    None => builder,
                }
            });
            Target {
                region: place.region,
                role_account: place.role_arn.as_deref().and_then(role_account).map(str::to_owned),
                inspector,
                ecr,
            }
        })
        .collect()
}

impl FindingsSyncApp {
    /// The function as `main`, the local stack and the test harness run it: the store, and the
    /// Inspector and ECR clients of every configured region and role.
    pub async fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        let targets = targets(sdk, &config.scope).await;
        let (table, ttl) = (config.settings.table_name.clone(), config.settings.ttl_delta());
        let reader = InventoryReader::new(store.clone(), config.settings, Arc::clone(&clock));
        let threat = ThreatLoader::build(sdk, store.clone(), config.threat, Arc::clone(&clock));
        let sync = FindingsSync::new(store, reader, targets, config.accounts, CONCURRENCY, clock);
        Self { sync, threat, table, ttl }
    }
}

/// What a run did: a findings sync, or a threat data load.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum RunSummary {
    Findings(SyncSummary),
    Threat(ThreatSummary),
}

impl EventFunction for FindingsSyncApp {
    type Event = EventBridgeEvent<Value>;
    type Response = RunSummary;

    /// The threat data schedule's event loads the feeds; an `Image Added` event syncs its image;
    /// anything else (the findings schedule) every running one.
    async fn handle(&self, event: LambdaEvent<EventBridgeEvent<Value>>) -> Result<RunSummary, Error> {
        if event.payload.detail_type == THREAT_DATA_DETAIL_TYPE {
            let summary = Box::pin(self.threat.load()).await;
            tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "threat data load finished");
            return match summary.failure() {
                Some(failure) => Err(failure.into()),
                None => Ok(RunSummary::Threat(summary)),
            };
        }
        let summary = Box::pin(self.sync_findings(event)).await?;
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "findings sync finished");
        let done = summary.from_inspector + summary.from_ecr + summary.not_scanned;
        if let Some(failure) =
            inventory_runtime::run::failed_run("image synced", summary.errors.iter().map(String::as_str), done)
        {
            return Err(failure.into());
        }
        Ok(RunSummary::Findings(summary))
    }
}

impl FindingsSyncApp {
    async fn sync_findings(&self, event: LambdaEvent<EventBridgeEvent<Value>>) -> Result<SyncSummary, Error> {
        let deadline = inventory_runtime::run::invocation_end(&event.context);
        // Boxed: the run's future nested in the runtime's is too deep a type for the compiler.
        if let Some(image) = added_image(&event.payload) {
            return Ok(Box::pin(self.sync.sync(vec![image], deadline)).await);
        }
        let accounts = Box::pin(self.sync.accounts()).await?;
        let entries = Box::pin(self.sync.running_entries(&accounts)).await?;
        let mut summary = Box::pin(self.sync.sync(ecr_images(&entries), deadline)).await;
        summary.expired = Box::pin(self.sync.expire(&accounts, self.ttl)).await?;
        // After the sync, so the metric counts the findings it just stored.
        let severities = Box::pin(self.sync.visible_severities(&entries)).await?;
        for line in metric_lines(&self.table, self.sync.now(), &exposed_workloads(&entries, &severities)) {
            println!("{line}");
        }
        Ok(summary)
    }
}

/// The image an `Image Added` event names.
fn added_image(event: &EventBridgeEvent<Value>) -> Option<RunningImage> {
    if event.detail_type != ADDED_DETAIL_TYPE {
        return None;
    }
    let field = |name: &str| event.detail.get(name)?.as_str().map(str::to_owned);
    Some(RunningImage { account: field("account")?, digest: field("image_digest")?, image_tag: field("image_tag")? })
}

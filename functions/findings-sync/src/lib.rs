//! Findings sync function: Amazon Inspector's (or ECR basic scanning's) findings of the ECR
//! images that run, read on each `Image Added` event and on its schedule (new CVEs on images that
//! keep running), across the collector's regions and roles.

pub mod accounts;
pub mod ecr;
pub mod metrics;
pub mod sources;
pub mod sync;

use accounts::SyncAccounts;
use aws_config::retry::RetryConfig;
use aws_config::{Region, SdkConfig};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use inventory::bus::ADDED_DETAIL_TYPE;
use inventory::settings::{role_account, AwsScope};
use inventory::{Clock, InventoryReader, Settings, Store, SystemClock};
use lambda_runtime::{Error, LambdaEvent};
use metrics::{exposed_workloads, metric_lines};
use serde_json::Value;
use std::sync::Arc;
use sync::{ecr_images, FindingsSync, RunningImage, SyncSummary, Target};

/// Every environment variable this crate reads, beside the library's settings.
pub const ENVIRONMENT_VARIABLES: &[&str] = &[
    inventory::settings::REGIONS,
    inventory::settings::ROLE_ARNS,
    inventory::settings::COLLECTOR_ACCOUNT,
    accounts::FINDINGS_SYNC_ACCOUNTS,
];

/// Images synced at once.
pub const CONCURRENCY: usize = 8;
const SESSION_NAME: &str = "runtime-inventory-findings-sync";

pub struct FindingsSyncApp {
    sync: FindingsSync,
    table: String,
    /// How long the inventory keeps an image that left (`InventoryTtlDays`; none: forever).
    ttl: Option<chrono::TimeDelta>,
}

/// The Inspector and ECR clients of every configured (role, region).
pub async fn targets(sdk_config: &SdkConfig, scope: &AwsScope) -> Vec<Target> {
    let places = scope.places(sdk_config, SESSION_NAME).await;
    places
        .into_iter()
        .map(|place| {
            let retry = RetryConfig::adaptive().with_max_attempts(5);
            let region = Region::new(place.region.clone());
            let mut inspector = aws_sdk_inspector2::config::Builder::from(sdk_config)
                .region(region.clone())
                .retry_config(retry.clone());
            let mut ecr = aws_sdk_ecr::config::Builder::from(sdk_config).region(region).retry_config(retry);
            if let Some(credentials) = place.credentials {
                inspector = inspector.credentials_provider(credentials.clone());
                ecr = ecr.credentials_provider(credentials);
            }
            Target {
                region: place.region,
                role_account: place.role_arn.as_deref().and_then(role_account).map(str::to_owned),
                inspector: aws_sdk_inspector2::Client::from_conf(inspector.build()),
                ecr: aws_sdk_ecr::Client::from_conf(ecr.build()),
            }
        })
        .collect()
}

impl FindingsSyncApp {
    pub fn new(
        store: Store,
        settings: Settings,
        targets: Vec<Target>,
        accounts: SyncAccounts,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (table, ttl) = (settings.table_name.clone(), settings.ttl_delta());
        let reader = InventoryReader::new(store.clone(), settings, Arc::clone(&clock));
        Self { sync: FindingsSync::new(store, reader, targets, accounts, CONCURRENCY, clock), table, ttl }
    }

    /// Builds the store, the clients and the settings from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let sdk_config = inventory::sdk_config().await;
        let (store, settings) = inventory::store_from_env().await?;
        let own_region = sdk_config.region().map(|region| region.as_ref().to_owned());
        let scope = AwsScope::from_lookup(|key| std::env::var(key).ok(), own_region.as_deref())?;
        let accounts = SyncAccounts::from_lookup(|key| std::env::var(key).ok())?;
        Ok(Self::new(store, settings, targets(&sdk_config, &scope).await, accounts, Arc::new(SystemClock)))
    }

    /// An `Image Added` event syncs its image; anything else (the schedule) every running one.
    pub async fn handle(&self, event: LambdaEvent<EventBridgeEvent<Value>>) -> Result<SyncSummary, Error> {
        let deadline = (event.context.deadline > 0)
            .then(|| DateTime::<Utc>::from(event.context.deadline()) - inventory::RUN_DEADLINE_RESERVE);
        // Boxed: the run's future nested in the runtime's is too deep a type for the compiler.
        let summary = match added_image(&event.payload) {
            Some(image) => Box::pin(self.sync.sync(vec![image], deadline)).await,
            None => {
                let accounts = Box::pin(self.sync.accounts()).await?;
                let entries = Box::pin(self.sync.running_entries(&accounts)).await?;
                let mut summary = Box::pin(self.sync.sync(ecr_images(&entries), deadline)).await;
                summary.expired = Box::pin(self.sync.expire(&accounts, self.ttl)).await?;
                // After the sync, so the metric counts the findings it just stored.
                let highest = Box::pin(self.sync.highest_severities(&entries)).await?;
                for line in metric_lines(&self.table, self.sync.now(), &exposed_workloads(&entries, &highest)) {
                    println!("{line}");
                }
                summary
            }
        };
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "findings sync finished");
        let done = summary.from_inspector + summary.from_ecr + summary.not_scanned;
        if let Some(failure) = inventory::failed_run("image synced", summary.errors.iter().map(String::as_str), done) {
            return Err(failure.into());
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

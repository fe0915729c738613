//! Notifier function: the table's stream in, `runtime_inventory` subscription events out; on its
//! schedule, the worklist check (overdue and KEV events, their metrics).

pub mod notify;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use inventory_runtime::{ConfigError, EventFunction, Sdk};
use inventory_store::bus::WORKLIST_CHECK_DETAIL_TYPE;
use inventory_store::findings::Severity;
use inventory_store::{Clock, Settings, Store};
use lambda_runtime::{Error, LambdaEvent};
use notify::check::CheckSummary;
use notify::exposure::{DEFAULT_THRESHOLD, EXPOSURE_SEVERITY_THRESHOLD};
use notify::Notifier;
use std::sync::Arc;

/// The API's base URL, for the findings URL of scheduled events.
pub const API_URL: &str = "API_URL";

/// Days closed running intervals are kept (`HistoryRetentionDays`); 0 records no history.
pub use inventory_store::settings::HISTORY_RETENTION_DAYS;

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub bus: String,
    /// Findings at this severity or above make a running image an exposure.
    pub exposure_threshold: Severity,
    /// Scheduled events carry the URL to post findings to under `api_url`.
    pub api_url: Option<String>,
    /// Closed running intervals are kept this many days; 0 records none.
    pub history_retention_days: u32,
    /// Days to fix a running vulnerability of each severity (`SlaDays`).
    pub sla: inventory_store::threat::SlaPolicy,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let exposure_threshold = match inventory_runtime::config::value(&lookup, EXPOSURE_SEVERITY_THRESHOLD) {
            Some(value) => Severity::parse(&value).ok_or(ConfigError {
                name: EXPOSURE_SEVERITY_THRESHOLD,
                expected: "one of critical, high, medium, low, negligible, unknown",
                value,
            })?,
            None => DEFAULT_THRESHOLD,
        };
        Ok(Self {
            settings: Settings::from_lookup(&lookup)?,
            bus: inventory_store::bus::event_bus(&lookup),
            exposure_threshold,
            api_url: inventory_runtime::config::value(&lookup, API_URL),
            history_retention_days: inventory_store::settings::history_retention_days(&lookup)?,
            sla: inventory_store::settings::sla_policy(&lookup)?,
        })
    }
}

pub struct NotifierApp {
    notifier: Notifier,
    table: String,
}

/// What invokes the notifier: a batch of the table's stream, or the worklist check's schedule.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum NotifierEvent {
    Stream(Event),
    Scheduled(EventBridgeEvent<serde_json::Value>),
}

/// Its answer: the batch's failures, or what the check did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum NotifierResponse {
    Stream(DynamoDbEventResponse),
    Check(CheckSummary),
}

impl NotifierApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        let events = inventory_runtime::client!(sdk, aws_sdk_eventbridge);
        let table = config.settings.table_name.clone();
        let notifier = Notifier::new(store, config.settings, events, &config.bus, clock)
            .with_api_url(config.api_url)
            .with_exposure_threshold(config.exposure_threshold)
            .with_history_retention(config.history_retention_days)
            .with_sla(config.sla);
        Self { notifier, table }
    }

    /// A stream batch, as Lambda delivers it.
    pub async fn stream(&self, event: Event) -> DynamoDbEventResponse {
        let records = event.records.len();
        // Boxed: the batch's future nested in the runtime's is too deep a type for the compiler.
        let response = Box::pin(self.notifier.handle(event)).await;
        tracing::info!(records, failures = response.batch_item_failures.len(), "stream batch processed");
        response
    }

    /// The worklist check; it fails (the errors alarm) when an account could not be checked.
    pub async fn check(&self) -> Result<CheckSummary, Error> {
        let summary = Box::pin(self.notifier.check(&self.table)).await?;
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "worklist check finished");
        match summary.errors.first() {
            Some(first) => Err(format!("{} accounts not checked, first: {first}", summary.errors.len()).into()),
            None => Ok(summary),
        }
    }
}

impl EventFunction for NotifierApp {
    type Event = NotifierEvent;
    type Response = NotifierResponse;

    async fn handle(&self, event: LambdaEvent<NotifierEvent>) -> Result<NotifierResponse, Error> {
        match event.payload {
            NotifierEvent::Stream(batch) => Ok(NotifierResponse::Stream(self.stream(batch).await)),
            NotifierEvent::Scheduled(scheduled) if scheduled.detail_type == WORKLIST_CHECK_DETAIL_TYPE => {
                Ok(NotifierResponse::Check(self.check().await?))
            }
            NotifierEvent::Scheduled(other) => {
                Err(format!("not an event the notifier takes: {}", other.detail_type).into())
            }
        }
    }
}

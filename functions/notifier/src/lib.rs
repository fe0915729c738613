//! Notifier function: the table's stream in, `runtime_inventory` subscription events out.

pub mod notify;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use inventory_runtime::{ConfigError, EventFunction, Sdk};
use inventory_store::findings::Severity;
use inventory_store::{Clock, Settings, Store};
use lambda_runtime::{Error, LambdaEvent};
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
        })
    }
}

pub struct NotifierApp {
    notifier: Notifier,
}

impl NotifierApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        let events = inventory_runtime::client!(sdk, aws_sdk_eventbridge);
        let notifier = Notifier::new(store, config.settings, events, &config.bus, clock)
            .with_api_url(config.api_url)
            .with_exposure_threshold(config.exposure_threshold)
            .with_history_retention(config.history_retention_days);
        Self { notifier }
    }
}

impl EventFunction for NotifierApp {
    type Event = Event;
    type Response = DynamoDbEventResponse;

    async fn handle(&self, event: LambdaEvent<Event>) -> Result<DynamoDbEventResponse, Error> {
        let records = event.payload.records.len();
        // Boxed: the batch's future nested in the runtime's is too deep a type for the compiler.
        let response = Box::pin(self.notifier.handle(event.payload)).await;
        tracing::info!(records, failures = response.batch_item_failures.len(), "stream batch processed");
        Ok(response)
    }
}

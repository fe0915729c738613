//! Notifier function: the table's stream in, `runtime_inventory` subscription events out.

pub mod notify;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use inventory::bus::EVENT_BUS_NAME;
use inventory::findings::Severity;
use inventory::{Clock, Settings, Store, SystemClock};
use lambda_runtime::{Error, LambdaEvent};
use notify::exposure::{DEFAULT_THRESHOLD, EXPOSURE_SEVERITY_THRESHOLD};
use notify::Notifier;
use std::sync::Arc;

/// The API's base URL, for the findings URL of scheduled events.
pub const API_URL: &str = "API_URL";

/// Days closed running intervals are kept (`HistoryRetentionDays`); 0 records no history.
pub use inventory::settings::HISTORY_RETENTION_DAYS;

/// The bus used when `EVENT_BUS_NAME` is not set.
pub const DEFAULT_EVENT_BUS: &str = "default";

pub struct NotifierApp {
    notifier: Notifier,
}

impl NotifierApp {
    pub fn new(
        store: Store,
        settings: Settings,
        events: aws_sdk_eventbridge::Client,
        bus: &str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { notifier: Notifier::new(store, settings, events, bus, clock) }
    }

    /// Findings at this severity or above make a running image an exposure.
    pub fn with_exposure_threshold(self, threshold: Severity) -> Self {
        Self { notifier: self.notifier.with_exposure_threshold(threshold) }
    }

    /// Scheduled events carry the URL to post findings to under `api_url` (`API_URL`).
    pub fn with_api_url(self, api_url: Option<String>) -> Self {
        Self { notifier: self.notifier.with_api_url(api_url) }
    }

    /// Closed running intervals are kept `days`; 0 records none.
    pub fn with_history_retention(self, days: u32) -> Self {
        Self { notifier: self.notifier.with_history_retention(days) }
    }

    /// Builds the app from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let settings = Settings::from_env()?;
        let bus = std::env::var(EVENT_BUS_NAME).unwrap_or_else(|_| DEFAULT_EVENT_BUS.to_owned());
        let config = inventory::sdk_config().await;
        let threshold = match std::env::var(EXPOSURE_SEVERITY_THRESHOLD) {
            Ok(raw) => Severity::parse(raw.trim())
                .ok_or(format!("{EXPOSURE_SEVERITY_THRESHOLD} must be one of {}", Severity::names()))?,
            Err(_) => DEFAULT_THRESHOLD,
        };
        let history_days = inventory::settings::history_retention_days(|key| std::env::var(key).ok())?;
        let store = Store::from_sdk_config(&config, settings.table_name.clone());
        let app = Self::new(store, settings, aws_sdk_eventbridge::Client::new(&config), &bus, Arc::new(SystemClock));
        Ok(app
            .with_api_url(std::env::var(API_URL).ok())
            .with_exposure_threshold(threshold)
            .with_history_retention(history_days))
    }

    pub async fn handle(&self, event: LambdaEvent<Event>) -> Result<DynamoDbEventResponse, Error> {
        let records = event.payload.records.len();
        // Boxed: the batch's future nested in the runtime's is too deep a type for the compiler.
        let response = Box::pin(self.notifier.handle(event.payload)).await;
        tracing::info!(records, failures = response.batch_item_failures.len(), "stream batch processed");
        Ok(response)
    }
}

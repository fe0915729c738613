//! Notifier function: the table's stream in, `runtime_inventory` subscription events out.

pub mod notify;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use inventory::bus::EVENT_BUS_NAME;
use inventory::{Clock, Settings, Store, SystemClock};
use lambda_runtime::{Error, LambdaEvent};
use notify::Notifier;
use std::sync::Arc;

/// The API's base URL, for the findings URL of scheduled events.
pub const API_URL: &str = "API_URL";

/// The bus used when `EVENT_BUS_NAME` is not set.
pub const DEFAULT_EVENT_BUS: &str = "default";

pub struct NotifierApp {
    notifier: Notifier,
}

impl NotifierApp {
    pub fn new(store: Store, events: aws_sdk_eventbridge::Client, bus: &str, clock: Arc<dyn Clock>) -> Self {
        Self { notifier: Notifier::new(store, events, bus, clock) }
    }

    /// Scheduled events carry the URL to post findings to under `api_url` (`API_URL`).
    pub fn with_api_url(self, api_url: Option<String>) -> Self {
        Self { notifier: self.notifier.with_api_url(api_url) }
    }

    /// Builds the app from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let settings = Settings::from_env()?;
        let bus = std::env::var(EVENT_BUS_NAME).unwrap_or_else(|_| DEFAULT_EVENT_BUS.to_owned());
        let config = inventory::sdk_config().await;
        let store = Store::from_sdk_config(&config, settings.table_name);
        let app = Self::new(store, aws_sdk_eventbridge::Client::new(&config), &bus, Arc::new(SystemClock));
        Ok(app.with_api_url(std::env::var(API_URL).ok()))
    }

    pub async fn handle(&self, event: LambdaEvent<Event>) -> Result<DynamoDbEventResponse, Error> {
        let records = event.payload.records.len();
        let response = self.notifier.handle(event.payload).await;
        tracing::info!(records, failures = response.batch_item_failures.len(), "stream batch processed");
        Ok(response)
    }
}

//! History export function: once a day, the running intervals of the day before as gzip JSON
//! Lines in the stack's archive bucket, one object per `dt=YYYY-MM-DD` partition, for Athena
//! (issue #26). Invoked by hand with `{"day": ...}` or `{"from": ..., "to": ...}` it writes (or
//! rewrites) past days.

pub mod archive;
pub mod export;

use archive::{DayRange, RangeError};
use chrono::{DateTime, NaiveDate, Utc};
use export::{ExportSummary, HistoryExport};
use inventory::logging::error_chain;
use inventory::{Clock, SystemClock};
use lambda_runtime::{Error, LambdaEvent};
use serde::Deserialize;
use std::sync::Arc;

/// The environment variable naming the archive bucket.
pub const HISTORY_ARCHIVE_BUCKET: &str = "HISTORY_ARCHIVE_BUCKET";

/// What an invocation asks: days by hand, or the schedule's event (the day before its time).
#[derive(Deserialize, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum ExportRequest {
    Days { from: NaiveDate, to: NaiveDate },
    Day { day: NaiveDate },
    Scheduled { time: DateTime<Utc> },
}

impl ExportRequest {
    pub fn range(&self, now: DateTime<Utc>) -> Result<DayRange, RangeError> {
        match *self {
            Self::Days { from, to } => DayRange::new(from, to, now),
            Self::Day { day } => DayRange::new(day, day, now),
            Self::Scheduled { time } => Ok(DayRange::yesterday(time)),
        }
    }
}

pub struct HistoryExportApp {
    export: HistoryExport,
    clock: Arc<dyn Clock>,
}

/// The S3 client: path-style addresses when an endpoint is configured (moto, `make local`).
pub fn s3_client(sdk_config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk_config).force_path_style(sdk_config.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(config.build())
}

impl HistoryExportApp {
    pub fn new(export: HistoryExport, clock: Arc<dyn Clock>) -> Self {
        Self { export, clock }
    }

    /// Builds the store and the S3 client from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let bucket = std::env::var(HISTORY_ARCHIVE_BUCKET)
            .ok()
            .filter(|bucket| !bucket.is_empty())
            .ok_or_else(|| format!("{HISTORY_ARCHIVE_BUCKET} must be set"))?;
        let sdk_config = inventory::sdk_config().await;
        let (store, _) = inventory::store_from_env().await?;
        Ok(Self::new(HistoryExport::new(store, s3_client(&sdk_config), bucket), Arc::new(SystemClock)))
    }

    pub async fn handle(&self, event: LambdaEvent<serde_json::Value>) -> Result<ExportSummary, Error> {
        let request = ExportRequest::deserialize(&event.payload).map_err(|error| {
            format!(
                "expected {{\"day\": \"YYYY-MM-DD\"}}, {{\"from\": ..., \"to\": ...}} or a scheduled event: {error}"
            )
        })?;
        let range = request.range(self.clock.now())?;
        // Boxed: the export's future nested in the runtime's is too deep a type for the compiler.
        let summary = Box::pin(self.export.export(range)).await.map_err(|error| {
            // The runtime reports only the top error; the S3 or DynamoDB reason is sources down.
            let error = error_chain(&error);
            tracing::error!(%error, "history export failed");
            error
        })?;
        tracing::info!(contexts = summary.contexts, days = summary.days.len(), "history exported");
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_scheduled_event_exports_the_day_before_and_a_manual_request_its_days() {
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 0, 15, 0).unwrap();
        let scheduled = serde_json::json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
            "time": "2026-12-05T00:15:00Z", "detail": {}});
        let request = ExportRequest::deserialize(&scheduled).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        assert_eq!(request.range(now).unwrap().days().collect::<Vec<_>>(), [day(4)]);
        let manual =
            ExportRequest::deserialize(&serde_json::json!({"from": "2026-12-01", "to": "2026-12-03"})).unwrap();
        assert_eq!(manual.range(now).unwrap().days().count(), 3);
        let today = ExportRequest::deserialize(&serde_json::json!({"day": "2026-12-05"})).unwrap();
        assert_eq!(today.range(now), Err(RangeError::NotOver { day: day(5) }));
        assert!(ExportRequest::deserialize(&serde_json::json!({"day": "yesterday"})).is_err());
    }
}

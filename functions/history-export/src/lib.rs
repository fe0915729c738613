//! History export function: once a day, the running intervals of the day before as gzip JSON
//! Lines in the stack's archive bucket, one object per `dt=YYYY-MM-DD` partition, for Athena
//! (issue #26). Invoked by hand with `{"day": ...}` or `{"from": ..., "to": ...}` it writes (or
//! rewrites) past days.

pub mod archive;
pub mod export;

use archive::{DayRange, RangeError, RemovedContext};
use chrono::{DateTime, NaiveDate, Utc};
use export::{ExportSummary, HistoryExport};
use inventory_runtime::{ConfigError, EventFunction, Sdk};
use inventory_store::logging::error_chain;
use inventory_store::{Clock, Settings, Store};
use lambda_runtime::{Error, LambdaEvent};
use serde::Deserialize;
use std::sync::Arc;

/// The environment variable naming the archive bucket.
pub const HISTORY_ARCHIVE_BUCKET: &str = "HISTORY_ARCHIVE_BUCKET";

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub bucket: String,
    /// Days closed intervals are kept: older days can no longer be exported whole.
    pub retention_days: u32,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::from_lookup(&lookup)?,
            bucket: inventory_runtime::config::value(&lookup, HISTORY_ARCHIVE_BUCKET)
                .ok_or(ConfigError::missing(HISTORY_ARCHIVE_BUCKET))?,
            retention_days: inventory_store::settings::history_retention_days(&lookup)?,
        })
    }
}

/// What an invocation asks: days by hand, a context's rows taken out of days (a data-removal
/// request), or the schedule's event (the day before its time). Untagged, so the removal comes
/// first: its fields include the range's.
#[derive(Deserialize, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum ExportRequest {
    Remove { remove: RemovedContext, from: NaiveDate, to: NaiveDate },
    Days { from: NaiveDate, to: NaiveDate },
    Day { day: NaiveDate },
    Scheduled { time: DateTime<Utc> },
}

impl ExportRequest {
    /// The days to write. Days to export must be within the history kept: past it, the table
    /// no longer holds all of their intervals. A removal only takes rows out, of any day.
    pub fn range(&self, now: DateTime<Utc>, retention_days: u32) -> Result<DayRange, RangeError> {
        match *self {
            Self::Remove { from, to, .. } => DayRange::new(from, to, now),
            Self::Days { from, to } => DayRange::new(from, to, now)?.within_retention(now, retention_days),
            Self::Day { day } => DayRange::new(day, day, now)?.within_retention(now, retention_days),
            Self::Scheduled { time } => DayRange::yesterday(time).within_retention(now, retention_days),
        }
    }
}

pub struct HistoryExportApp {
    export: HistoryExport,
    retention_days: u32,
    clock: Arc<dyn Clock>,
}

impl HistoryExportApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        let export = HistoryExport::new(store, inventory_runtime::sdk::s3_client(sdk), config.bucket);
        Self { export, retention_days: config.retention_days, clock }
    }
}

impl EventFunction for HistoryExportApp {
    type Event = serde_json::Value;
    type Response = ExportSummary;

    async fn handle(&self, event: LambdaEvent<serde_json::Value>) -> Result<ExportSummary, Error> {
        let request = ExportRequest::deserialize(&event.payload).map_err(|error| {
            format!(
                "expected {{\"day\": \"YYYY-MM-DD\"}}, {{\"from\": ..., \"to\": ...}}, {{\"remove\": {{\"account\", \"inventory_type\", \"context\"}}, \"from\", \"to\"}} or a scheduled event: {error}"
            )
        })?;
        let range = request.range(self.clock.now(), self.retention_days)?;
        // Boxed: the export's future nested in the runtime's is too deep a type for the compiler.
        let written = match &request {
            ExportRequest::Remove { remove, .. } => Box::pin(self.export.remove(range, remove)).await,
            _ => Box::pin(self.export.export(range)).await,
        };
        let summary = written.map_err(|error| {
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
        assert_eq!(request.range(now, 400).unwrap().days().collect::<Vec<_>>(), [day(4)]);
        let manual =
            ExportRequest::deserialize(&serde_json::json!({"from": "2026-12-01", "to": "2026-12-03"})).unwrap();
        assert_eq!(manual.range(now, 400).unwrap().days().count(), 3);
        let today = ExportRequest::deserialize(&serde_json::json!({"day": "2026-12-05"})).unwrap();
        assert_eq!(today.range(now, 400), Err(RangeError::NotOver { day: day(5) }));
        assert!(ExportRequest::deserialize(&serde_json::json!({"day": "yesterday"})).is_err());
    }

    #[test]
    fn days_whose_intervals_may_have_expired_are_not_exported_again_but_may_have_rows_removed() {
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 0, 15, 0).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        // Kept 3 days: Dec 2's intervals that ended at its start expired at Dec 5 00:00.
        let old = ExportRequest::deserialize(&serde_json::json!({"from": "2026-12-02", "to": "2026-12-04"})).unwrap();
        assert_eq!(old.range(now, 3), Err(RangeError::PastRetention { day: day(2), retention_days: 3 }));
        let kept = ExportRequest::deserialize(&serde_json::json!({"from": "2026-12-03", "to": "2026-12-04"})).unwrap();
        assert_eq!(kept.range(now, 3).unwrap().days().count(), 2);
        let removal = serde_json::json!({"remove": {"account": "admin", "inventory_type": "kubernetes", "context": "c/a"},
                                         "from": "2025-12-02", "to": "2025-12-04"});
        let removal = ExportRequest::deserialize(&removal).unwrap();
        assert!(matches!(removal, ExportRequest::Remove { .. }), "{removal:?}");
        assert_eq!(removal.range(now, 3).unwrap().days().count(), 3, "any day's rows can be removed");
    }
}

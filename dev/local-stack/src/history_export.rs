//! The history export locally: a bucket in moto, and the day before exported at start and then
//! once a day (the template's schedule is a daily cron, which has no local runner).

use history_export::HistoryExportApp;
use inventory_runtime::{EventFunction, Lookup, Sdk};
use inventory_store::{Clock, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// Overrides the daily interval for local runs (a `rate(...)` expression).
pub const SCHEDULE_VARIABLE: &str = "HISTORY_EXPORT_SCHEDULE";
const DEFAULT_SCHEDULE: &str = "rate(1 day)";
pub const LOCAL_BUCKET: &str = "runtime-inventory-history";

/// Creates the archive bucket in moto and starts the export on its schedule; answers the schedule.
pub async fn start(sdk: &Sdk, lookup: Lookup<'_>) -> Result<(String, Duration), String> {
    let expression = std::env::var(SCHEDULE_VARIABLE).unwrap_or_else(|_| DEFAULT_SCHEDULE.to_owned());
    let interval =
        crate::schedule::rate_interval(&expression).map_err(|error| format!("{SCHEDULE_VARIABLE}: {error}"))?;
    let config = history_export::Config::from_lookup(lookup).map_err(|error| error.to_string())?;
    inventory_runtime::sdk::s3_client(sdk)
        .create_bucket()
        .bucket(&config.bucket)
        .send()
        .await
        .map_err(|error| format!("creating the archive bucket: {error}"))?;
    let app = HistoryExportApp::build(sdk, config, Arc::new(SystemClock));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // The schedule's event, as EventBridge sends it: the day before its time is written.
            let scheduled = serde_json::json!({"time": SystemClock.now()});
            match app.handle(lambda_runtime::LambdaEvent::new(scheduled, lambda_runtime::Context::default())).await {
                Ok(summary) => {
                    for day in summary.days {
                        println!("history export: s3://{LOCAL_BUCKET}/{} ({} rows)", day.key, day.rows);
                    }
                }
                Err(error) => println!("history export failed: {error}"),
            }
        }
    });
    Ok((expression, interval))
}

//! The history export locally: a bucket in moto, and the day before exported at start and then
//! once a day (the template's schedule is a daily cron, which has no local runner).

use history_export::archive::DayRange;
use history_export::export::HistoryExport;
use inventory::{Clock, Store, SystemClock};
use std::time::Duration;

/// Overrides the daily interval for local runs (a `rate(...)` expression).
pub const SCHEDULE_VARIABLE: &str = "HISTORY_EXPORT_SCHEDULE";
const DEFAULT_SCHEDULE: &str = "rate(1 day)";
pub const LOCAL_BUCKET: &str = "runtime-inventory-history";

/// Creates the archive bucket in moto and starts the export on its schedule; answers the schedule.
pub async fn start(config: &aws_config::SdkConfig, store: Store) -> Result<(String, Duration), String> {
    let expression = std::env::var(SCHEDULE_VARIABLE).unwrap_or_else(|_| DEFAULT_SCHEDULE.to_owned());
    let interval =
        crate::schedule::rate_interval(&expression).map_err(|error| format!("{SCHEDULE_VARIABLE}: {error}"))?;
    let s3 = history_export::s3_client(config);
    s3.create_bucket()
        .bucket(LOCAL_BUCKET)
        .send()
        .await
        .map_err(|error| format!("creating the archive bucket: {error}"))?;
    let export = HistoryExport::new(store, s3, LOCAL_BUCKET.to_owned());
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match export.export(DayRange::yesterday(SystemClock.now())).await {
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

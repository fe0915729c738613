//! The coverage check on the template's schedule; its events reach the local queue and are
//! printed with the others.

use coverage_check::CoverageCheckApp;
use std::time::Duration;

/// Overrides the template's `CoverageCheckSchedule` for local runs.
pub const SCHEDULE_VARIABLE: &str = "COVERAGE_CHECK_SCHEDULE";
pub const SCHEDULE_PARAMETER: &str = "CoverageCheckSchedule";

/// Runs the check now and then every `interval`, printing what changed.
pub async fn run_on_schedule(app: CoverageCheckApp, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match app.run().await {
            Ok(summary) if summary.stale_events + summary.recovered_events + summary.forgotten > 0 => println!(
                "coverage check: {} clusters, {} stale; {} turned stale, {} recovered",
                summary.clusters, summary.stale, summary.stale_events, summary.recovered_events
            ),
            Ok(_) => {}
            Err(error) => println!("coverage check failed: {error}"),
        }
    }
}

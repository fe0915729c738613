//! The coverage check and the notifier's worklist check on the template's schedules; their events
//! reach the local queue and are printed with the others.

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

/// Overrides the template's `WorklistCheckSchedule` for local runs.
pub const WORKLIST_SCHEDULE_VARIABLE: &str = "WORKLIST_CHECK_SCHEDULE";
pub const WORKLIST_SCHEDULE_PARAMETER: &str = "WorklistCheckSchedule";

/// Runs the notifier's worklist check now and then every `interval`, printing what it found.
pub async fn run_worklist_check(app: notifier::NotifierApp, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match app.check().await {
            Ok(summary) if summary.events > 0 => println!(
                "worklist check: {} accounts, {} workloads run a known exploited vulnerability, {} exposures overdue; {} events",
                summary.accounts, summary.kev_exposed_workloads, summary.overdue_exposures, summary.events
            ),
            Ok(_) => {}
            Err(error) => println!("worklist check failed: {error}"),
        }
    }
}

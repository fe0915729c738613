//! One run of the coverage check against the table and the bus.

use super::{
    fleet_coverage, metric_line, plan, CheckSummary, ClusterEvent, ClusterKey, MarkerState, StaleMarker,
    StalenessError, Step,
};
use inventory_store::bus::{Bus, Event, Failure, RECOVERED_DETAIL_TYPE, STALE_DETAIL_TYPE};
use inventory_store::clock::Clock;
use inventory_store::coverage::ClusterCoverage;
use inventory_store::logging::error_chain;
use inventory_store::settings::Settings;
use inventory_store::store::{Store, StoreError};
use std::sync::Arc;

pub struct StalenessCheck {
    store: Store,
    bus: Bus,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

/// A marker write refused because another run moved the marker first.
fn moved(key: &ClusterKey) -> impl FnOnce(StoreError) -> StalenessError + '_ {
    move |error| match error {
        StoreError::ConditionFailed => StalenessError::MarkerMoved(key.sort_key()),
        other => StalenessError::Store(other),
    }
}

impl StalenessCheck {
    pub fn new(
        store: Store,
        events: aws_sdk_eventbridge::Client,
        bus: impl Into<String>,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { store, bus: Bus::new(events, bus), settings, clock }
    }

    /// The run's metrics as a line of Embedded Metric Format, for the function's log.
    pub fn metric_line(&self, summary: &CheckSummary) -> String {
        metric_line(&self.settings.table_name, summary.checked_at, summary.clusters, summary.stale)
    }

    /// Reads every context record and marker, takes each cluster's step, and prints the metric
    /// A cluster whose step fails is listed in `errors` and taken up by the next run.
    pub async fn run(&self) -> Result<CheckSummary, StalenessError> {
        let now = self.clock.now();
        let fleet = fleet_coverage(self.store.all_context_coverage().await?, now, &self.settings);
        let markers: Vec<StaleMarker> = self.store.stale_markers().await?;
        let mut summary = CheckSummary {
            checked_at: now,
            clusters: fleet.len(),
            stale: fleet.values().filter(|coverage| coverage.stale).count(),
            ..CheckSummary::default()
        };
        for (key, marker, step) in plan(&fleet, &markers) {
            let result = match (step, fleet.get(&key)) {
                (Step::AnnounceStale, Some(coverage)) => self.announce_stale(&key, marker, coverage, now).await,
                (Step::AnnounceRecovered, Some(coverage)) => self.announce_recovered(&key, marker, coverage, now).await,
                (_, _) => self.forget(&key, marker).await,
            };
            match result {
                Ok(()) => match step {
                    Step::AnnounceStale => summary.stale_events += 1,
                    Step::AnnounceRecovered => summary.recovered_events += 1,
                    Step::Forget => summary.forgotten += 1,
                },
                Err(error) => {
                    let error = error_chain(&error);
                    tracing::error!(cluster = %key.sort_key(), %error, "coverage check step failed");
                    summary.errors.push(format!("{}: {error}", key.sort_key()));
                }
            }
        }
        Ok(summary)
    }

    async fn announce_stale(
        &self,
        key: &ClusterKey,
        marker: Option<MarkerState>,
        coverage: &ClusterCoverage,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StalenessError> {
        if marker != Some(MarkerState::Announcing) {
            self.move_marker(key, marker, MarkerState::Announcing).await?;
        }
        self.put_event(
            STALE_DETAIL_TYPE,
            &ClusterEvent::new(&key.account, coverage, self.settings.stale_after_minutes, now),
        )
        .await?;
        self.move_marker(key, Some(MarkerState::Announcing), MarkerState::Stale).await
    }

    async fn announce_recovered(
        &self,
        key: &ClusterKey,
        marker: Option<MarkerState>,
        coverage: &ClusterCoverage,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StalenessError> {
        if marker != Some(MarkerState::Recovering) {
            self.move_marker(key, marker, MarkerState::Recovering).await?;
        }
        let event = ClusterEvent::new(&key.account, coverage, self.settings.stale_after_minutes, now);
        self.put_event(RECOVERED_DETAIL_TYPE, &event).await?;
        self.forget(key, Some(MarkerState::Recovering)).await
    }

    /// Writes the marker in state `to`, if it is still in state `from` (absent for `None`).
    async fn move_marker(
        &self,
        key: &ClusterKey,
        from: Option<MarkerState>,
        to: MarkerState,
    ) -> Result<(), StalenessError> {
        let marker = StaleMarker::new(key, to);
        self.store.put_stale_marker(&marker, from.map(MarkerState::as_str)).await.map_err(moved(key))
    }

    /// Deletes the marker if it is still in state `from`.
    async fn forget(&self, key: &ClusterKey, from: Option<MarkerState>) -> Result<(), StalenessError> {
        let Some(from) = from else { return Ok(()) };
        self.store.delete_stale_marker(&key.sort_key(), from.as_str()).await.map_err(moved(key))
    }

    async fn put_event(&self, detail_type: &str, detail: &ClusterEvent) -> Result<(), StalenessError> {
        let detail = serde_json::to_string(detail).unwrap_or_default();
        let fate = self.bus.put(&[Event { detail_type, detail: &detail }]).await.pop();
        fate.unwrap_or_else(|| Err(Failure::NotSent("no answer for the event".to_owned())))?;
        Ok(())
    }
}

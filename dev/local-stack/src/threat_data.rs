//! The threat data locally: the repository's KEV catalog and EPSS file served on loopback
//! (`feeds`), loaded at start-up and then on `THREAT_DATA_SCHEDULE`. `KEV_FEED_URL` and
//! `EPSS_FEED_URL` point elsewhere (another loopback server, a `file://` path, a mirror in moto's S3).

use crate::feeds::{FeedServer, EPSS_FILE, KEV_FILE};
use crate::LocalEnvironment;
use findings_sync::threat::{Sources, ThreatConfig, ThreatLoader, EPSS_FEED_URL, KEV_FEED_URL};
use inventory_runtime::Sdk;
use inventory_store::{Clock, Store, SystemClock};
use std::sync::Arc;
use std::time::Duration;

pub const SCHEDULE_VARIABLE: &str = "THREAT_DATA_SCHEDULE";
const DEFAULT_SCHEDULE: &str = "rate(1 day)";

/// The loader of the local stack and the tests: `environment`'s feed URLs, else `feeds`' files.
pub fn loader(
    sdk: &Sdk,
    store: Store,
    environment: &LocalEnvironment,
    feeds: &FeedServer,
    clock: Arc<dyn Clock>,
) -> Result<ThreatLoader, String> {
    let environment =
        environment.clone().fallback(KEV_FEED_URL, feeds.url(KEV_FILE)).fallback(EPSS_FEED_URL, feeds.url(EPSS_FILE));
    let config = ThreatConfig::from_lookup(|name| environment.lookup(name), Sources::Local)
        .map_err(|error| error.to_string())?;
    Ok(ThreatLoader::build(sdk, store, config, clock))
}

/// Serves the feeds and loads them now and then on the schedule; answers the schedule.
pub async fn start(sdk: &Sdk, store: Store, environment: &LocalEnvironment) -> Result<(String, Duration), String> {
    let expression = environment.lookup(SCHEDULE_VARIABLE).unwrap_or_else(|| DEFAULT_SCHEDULE.to_owned());
    let interval =
        crate::schedule::rate_interval(&expression).map_err(|error| format!("{SCHEDULE_VARIABLE}: {error}"))?;
    let feeds = FeedServer::start().await.map_err(|error| format!("serving the threat data feeds: {error}"))?;
    let loader = loader(sdk, store, environment, &feeds, Arc::new(SystemClock))?;
    tokio::spawn(async move {
        let _feeds = feeds;
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let summary = loader.load().await;
            match summary.failure() {
                None => println!("threat data: {}", serde_json::to_string(&summary).unwrap_or_default()),
                Some(failure) => println!("threat data load failed: {failure}"),
            }
        }
    });
    Ok((expression, interval))
}

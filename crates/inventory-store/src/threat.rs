//! The threat data as the read routes and the notifier see it: the stored feeds, parsed once per
//! generation and kept in memory between invocations, shared by every reader of the process (of
//! one table). Each call costs one `Query` of the feeds' records (two small items); a feed is read
//! and parsed again only when its generation changed.

pub use inventory_core::threat::*;

use crate::store::{Store, StoreError, ThreatFeedRecord};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::Mutex;

#[derive(Default)]
struct Cached {
    kev: Option<(String, Arc<KevCatalog>)>,
    epss: Option<(String, Arc<EpssFeed>)>,
}

/// Every reader's parsed feeds, by table: the EPSS table is 8 MB, once per process.
fn caches() -> &'static Mutex<HashMap<String, Cached>> {
    static CACHES: OnceLock<Mutex<HashMap<String, Cached>>> = OnceLock::new();
    CACHES.get_or_init(Mutex::default)
}

#[derive(Clone)]
pub struct ThreatReader {
    store: Store,
}

impl ThreatReader {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The current data of both feeds; a feed never loaded is absent.
    pub async fn current(&self) -> Result<ThreatData, StoreError> {
        let records = self.store.threat_feeds().await?;
        let record = |feed: Feed| records.iter().find(|record| record.feed() == feed.name());
        // Held across the reads: concurrent requests of a new generation parse it once.
        let mut caches = caches().lock().await;
        let cached = caches.entry(self.store.table().to_owned()).or_default();
        cached.kev = match record(Feed::Kev) {
            None => None,
            Some(record) => Some(self.refreshed(record, cached.kev.take(), KevCatalog::parse).await?),
        };
        cached.epss = match record(Feed::Epss) {
            None => None,
            Some(record) => Some(self.refreshed(record, cached.epss.take(), EpssFeed::parse).await?),
        };
        Ok(ThreatData {
            kev: cached.kev.as_ref().map(|(_, catalog)| Arc::clone(catalog)),
            epss: cached.epss.as_ref().map(|(_, feed)| Arc::clone(feed)),
        })
    }

    async fn refreshed<T>(
        &self,
        record: &ThreatFeedRecord,
        cached: Option<(String, Arc<T>)>,
        parse: impl FnOnce(&[u8]) -> Result<T, inventory_core::field::FieldError>,
    ) -> Result<(String, Arc<T>), StoreError> {
        if let Some((generation, data)) = cached.filter(|(generation, _)| *generation == record.generation) {
            return Ok((generation, data));
        }
        let stored = self.store.threat_feed_data(record).await?;
        let parsed = parse(&stored).map_err(|error| StoreError::Corrupt {
            key: format!("{} / {}", record.pk, record.sk),
            message: error.to_string(),
        })?;
        Ok((record.generation.clone(), Arc::new(parsed)))
    }
}

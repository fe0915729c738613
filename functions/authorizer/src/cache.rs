//! What the authorizer remembers between requests, bounded so that callers guessing user names
//! cannot push real users out or turn every request into an SSM read:
//! - known users (and the password last verified for each) live apart from names SSM said do
//!   not exist; a flood of unknown names fills and clears only the second map;
//! - SSM is asked at a bounded rate per execution environment; past it, an unknown name is
//!   answered "unavailable" without a read, and a known user whose entry has expired is served
//!   from that entry for a grace period (also when SSM fails, e.g. throttled).
//!
//! API keys are kept the same way, by their value's hash, with the lookup budget shared (an
//! unknown key costs no more than an unknown user), but for at most `MAX_KEY_CACHE` and with no
//! grace: a revoked key must stop working within a minute, SSM readable or not.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Known records kept; more real users (or keys) than this are read from SSM each time (never evicted).
pub const MAX_CACHED_USERS: usize = 1024;
/// Names SSM said do not exist, kept apart; when full, only this map is cleared.
pub const MAX_CACHED_UNKNOWN_NAMES: usize = 4096;
/// SSM reads per second an execution environment may make (SSM's `GetParameter` default
/// throughput is 40 per second for the whole account and region) ...
pub const LOOKUPS_PER_SECOND: f64 = 5.0;
/// ... and in a burst, e.g. a cold start that meets several agents at once.
pub const LOOKUP_BURST: f64 = 20.0;
/// How long past its cache period a known user is still served when SSM cannot be asked.
pub const STALE_GRACE: Duration = Duration::from_secs(15 * 60);
/// How long an API key is reused at most, whatever `AUTH_CACHE_SECONDS` says, and never past
/// it: a revoked key is refused everywhere within this.
pub const MAX_KEY_CACHE: Duration = Duration::from_secs(60);

pub struct CachedRecord<R> {
    pub record: Arc<R>,
    fetched_at: Instant,
    /// Keyed digest of the password last verified against this record (users only).
    pub verified: Option<[u8; 32]>,
}

/// What the cache knows of a name.
pub enum Cached<R> {
    /// A record read within the cache period.
    Known(CachedRecord<R>),
    /// SSM said, within the cache period, that there is no such record.
    Unknown,
    /// Nothing current; `stale` is the expired entry if it is within the grace period.
    Miss { stale: Option<CachedRecord<R>> },
}

/// Records read from SSM by name (users by user name, keys by their value's hash).
pub struct RecordCache<R> {
    ttl: Duration,
    grace: Duration,
    known: HashMap<String, CachedRecord<R>>,
    unknown: HashMap<String, Instant>,
}

impl<R> RecordCache<R> {
    /// `ttl` of zero caches nothing; an entry past `ttl` is still served within `grace` when SSM
    /// cannot be asked.
    pub fn new(ttl: Duration, grace: Duration) -> Self {
        Self { ttl, grace, known: HashMap::new(), unknown: HashMap::new() }
    }

    pub fn get(&self, name: &str) -> Cached<R> {
        if let Some(entry) = self.known.get(name) {
            let age = entry.fetched_at.elapsed();
            if age < self.ttl {
                return Cached::Known(entry.clone());
            }
            return Cached::Miss { stale: (age < self.ttl + self.grace).then(|| entry.clone()) };
        }
        match self.unknown.get(name) {
            Some(at) if at.elapsed() < self.ttl => Cached::Unknown,
            _ => Cached::Miss { stale: None },
        }
    }

    /// Remembers what SSM answered for `name`.
    pub fn remember(&mut self, name: &str, record: Option<Arc<R>>) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let Some(record) = record else {
            self.known.remove(name);
            let ttl = self.ttl;
            make_room(&mut self.unknown, MAX_CACHED_UNKNOWN_NAMES, |at| at.elapsed() < ttl, true);
            self.unknown.insert(name.to_owned(), now);
            return;
        };
        self.unknown.remove(name);
        let keep_for = self.ttl + self.grace;
        if make_room(&mut self.known, MAX_CACHED_USERS, |entry| entry.fetched_at.elapsed() < keep_for, false)
            || self.known.contains_key(name)
        {
            self.known.insert(name.to_owned(), CachedRecord { record, fetched_at: now, verified: None });
        }
    }

    /// Remembers a verified password only against the record it was checked with.
    pub fn mark_verified(&mut self, name: &str, record: &Arc<R>, digest: [u8; 32]) {
        if let Some(entry) = self.known.get_mut(name).filter(|entry| Arc::ptr_eq(&entry.record, record)) {
            entry.verified = Some(digest);
        }
    }
}

impl<R> Clone for CachedRecord<R> {
    fn clone(&self) -> Self {
        Self { record: Arc::clone(&self.record), fetched_at: self.fetched_at, verified: self.verified }
    }
}

/// SSM lookups an execution environment may make, shared by users and keys: an unknown key
/// costs no more than an unknown user.
pub struct LookupBudget {
    unlimited: bool,
    /// Lookups that may be made now, refilled at `LOOKUPS_PER_SECOND` up to `LOOKUP_BURST`.
    tokens: f64,
    refilled_at: Instant,
}

impl LookupBudget {
    /// Without a cache (`ttl` zero) every request reads.
    pub fn new(ttl: Duration) -> Self {
        Self { unlimited: ttl.is_zero(), tokens: LOOKUP_BURST, refilled_at: Instant::now() }
    }

    /// Takes one SSM lookup from the budget, if any is left.
    pub fn take(&mut self) -> bool {
        if self.unlimited {
            return true;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.refilled_at).as_secs_f64() * LOOKUPS_PER_SECOND;
        self.tokens = (self.tokens + refill).min(LOOKUP_BURST);
        self.refilled_at = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// Drops what `keep` refuses when `map` is full, then everything if `clear_when_full`. Whether
/// there is room for one more.
fn make_room<V>(map: &mut HashMap<String, V>, bound: usize, keep: impl Fn(&V) -> bool, clear_when_full: bool) -> bool {
    if map.len() >= bound {
        map.retain(|_, value| keep(value));
        if map.len() >= bound && clear_when_full {
            map.clear();
        }
    }
    map.len() < bound
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Arc<&'static str> {
        Arc::new("a user")
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_names_fill_and_clear_only_their_own_map() {
        let mut cache = RecordCache::new(Duration::from_secs(60), STALE_GRACE);
        cache.remember("agent", Some(record()));
        for n in 0..MAX_CACHED_UNKNOWN_NAMES * 2 + 1 {
            cache.remember(&format!("guess-{n}"), None);
        }
        assert!(matches!(cache.get("agent"), Cached::Known(_)), "a known user is never pushed out");
        assert!(cache.unknown.len() <= MAX_CACHED_UNKNOWN_NAMES);
        assert!(matches!(cache.get(&format!("guess-{}", MAX_CACHED_UNKNOWN_NAMES * 2)), Cached::Unknown));
        // Known users past the bound are read each time, and none already known is dropped.
        for n in 1..MAX_CACHED_USERS + 10 {
            cache.remember(&format!("user-{n}"), Some(record()));
        }
        assert_eq!(cache.known.len(), MAX_CACHED_USERS);
        assert!(matches!(cache.get("agent"), Cached::Known(_)));
        // Once expired past the grace, known entries make room.
        tokio::time::advance(Duration::from_secs(60) + STALE_GRACE).await;
        cache.remember("late", Some(record()));
        assert!(matches!(cache.get("late"), Cached::Known(_)));
        assert_eq!(cache.known.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn lookups_refill_at_their_rate_up_to_the_burst() {
        let mut budget = LookupBudget::new(Duration::from_secs(60));
        let taken = (0..100).filter(|_| budget.take()).count();
        assert_eq!(taken, LOOKUP_BURST as usize);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!((0..100).filter(|_| budget.take()).count(), (LOOKUPS_PER_SECOND * 2.0) as usize);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!((0..100).filter(|_| budget.take()).count(), LOOKUP_BURST as usize);
        let mut uncached = LookupBudget::new(Duration::ZERO);
        assert!((0..100).all(|_| uncached.take()), "without a cache every request reads");
    }
}

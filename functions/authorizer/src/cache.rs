//! What the authorizer remembers between requests, bounded so that callers guessing user names
//! cannot push real users out or turn every request into an SSM read:
//! - known users (and the password last verified for each) live apart from names SSM said do
//!   not exist; a flood of unknown names fills and clears only the second map;
//! - SSM is asked at a bounded rate per execution environment; past it, an unknown name is
//!   answered "unavailable" without a read, and a known user whose entry has expired is served
//!   from that entry for a grace period (also when SSM fails, e.g. throttled).

use crate::users::UserRecord;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Known users kept; more real users than this are read from SSM each time (never evicted).
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

#[derive(Clone)]
pub struct CachedUser {
    pub record: Arc<UserRecord>,
    fetched_at: Instant,
    /// Keyed digest of the password last verified against this record.
    pub verified: Option<[u8; 32]>,
}

/// What the cache knows of a name.
pub enum Cached {
    /// A user read within the cache period.
    Known(CachedUser),
    /// SSM said, within the cache period, that there is no such user.
    Unknown,
    /// Nothing current; `stale` is the user's expired entry if it is within the grace period.
    Miss { stale: Option<CachedUser> },
}

pub struct UserCache {
    ttl: Duration,
    known: HashMap<String, CachedUser>,
    unknown: HashMap<String, Instant>,
    /// Lookups that may be made now, refilled at `LOOKUPS_PER_SECOND` up to `LOOKUP_BURST`.
    lookup_tokens: f64,
    refilled_at: Instant,
}

impl UserCache {
    /// `ttl` of zero caches nothing (every request reads SSM).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            known: HashMap::new(),
            unknown: HashMap::new(),
            lookup_tokens: LOOKUP_BURST,
            refilled_at: Instant::now(),
        }
    }

    pub fn get(&self, user: &str) -> Cached {
        if let Some(entry) = self.known.get(user) {
            let age = entry.fetched_at.elapsed();
            if age < self.ttl {
                return Cached::Known(entry.clone());
            }
            return Cached::Miss { stale: (age < self.ttl + STALE_GRACE).then(|| entry.clone()) };
        }
        match self.unknown.get(user) {
            Some(at) if at.elapsed() < self.ttl => Cached::Unknown,
            _ => Cached::Miss { stale: None },
        }
    }

    /// Takes one SSM lookup from the budget, if any is left. Uncached, every request reads.
    pub fn take_lookup(&mut self) -> bool {
        if self.ttl.is_zero() {
            return true;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.refilled_at).as_secs_f64() * LOOKUPS_PER_SECOND;
        self.lookup_tokens = (self.lookup_tokens + refill).min(LOOKUP_BURST);
        self.refilled_at = now;
        if self.lookup_tokens < 1.0 {
            return false;
        }
        self.lookup_tokens -= 1.0;
        true
    }

    /// Remembers what SSM answered for `user`.
    pub fn remember(&mut self, user: &str, record: Option<Arc<UserRecord>>) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let Some(record) = record else {
            self.known.remove(user);
            let ttl = self.ttl;
            make_room(&mut self.unknown, MAX_CACHED_UNKNOWN_NAMES, |at| at.elapsed() < ttl, true);
            self.unknown.insert(user.to_owned(), now);
            return;
        };
        self.unknown.remove(user);
        let keep_for = self.ttl + STALE_GRACE;
        if make_room(&mut self.known, MAX_CACHED_USERS, |entry| entry.fetched_at.elapsed() < keep_for, false)
            || self.known.contains_key(user)
        {
            self.known.insert(user.to_owned(), CachedUser { record, fetched_at: now, verified: None });
        }
    }

    /// Remembers a verified password only against the record it was checked with.
    pub fn mark_verified(&mut self, user: &str, record: &Arc<UserRecord>, digest: [u8; 32]) {
        if let Some(entry) = self.known.get_mut(user).filter(|entry| Arc::ptr_eq(&entry.record, record)) {
            entry.verified = Some(digest);
        }
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
    use inventory_api::auth::Role;

    fn record() -> Arc<UserRecord> {
        Arc::new(UserRecord { password_hash: String::new(), accounts: vec!["a".into()], role: Role::ReadOnly })
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_names_fill_and_clear_only_their_own_map() {
        let mut cache = UserCache::new(Duration::from_secs(60));
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
        let mut cache = UserCache::new(Duration::from_secs(60));
        let taken = (0..100).filter(|_| cache.take_lookup()).count();
        assert_eq!(taken, LOOKUP_BURST as usize);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!((0..100).filter(|_| cache.take_lookup()).count(), (LOOKUPS_PER_SECOND * 2.0) as usize);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!((0..100).filter(|_| cache.take_lookup()).count(), LOOKUP_BURST as usize);
        let mut uncached = UserCache::new(Duration::ZERO);
        assert!((0..100).all(|_| uncached.take_lookup()), "without a cache every request reads");
    }
}

//! Time source, injectable so tests can move time past the TTL without waiting.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Time a scheduled run keeps back before its invocation ends: what it read by then is still
/// stored (the collectors, the findings sync).
pub const RUN_DEADLINE_RESERVE: TimeDelta = TimeDelta::seconds(20);

/// When a scheduled run starts no more work: its invocation's end less `RUN_DEADLINE_RESERVE`,
/// or never when the invocation has no end (a test, the local stack).
#[derive(Clone)]
pub struct Deadline {
    clock: Arc<dyn Clock>,
    cutoff: Option<DateTime<Utc>>,
}

impl Deadline {
    /// The deadline of a run in an invocation that ends at `ends`.
    pub fn of_run(clock: Arc<dyn Clock>, ends: Option<DateTime<Utc>>) -> Self {
        Self { clock, cutoff: ends.map(|at| at - RUN_DEADLINE_RESERVE) }
    }

    /// Whether the run must start no more work.
    pub fn passed(&self) -> bool {
        self.cutoff.is_some_and(|cutoff| self.clock.now() >= cutoff)
    }

    /// Time left until the cutoff (none: no limit; zero once it passed).
    pub fn left(&self) -> Option<std::time::Duration> {
        self.cutoff.map(|cutoff| (cutoff - self.clock.now()).to_std().unwrap_or_default())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        truncate_to_millis(Utc::now())
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Stored timestamps keep millisecond precision so a re-posted report compares equal.
pub fn truncate_to_millis(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(time)
}

/// A time as the API answers it: RFC 3339, milliseconds, `Z`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn a_run_stops_its_reserve_before_the_invocation_ends_and_never_without_an_end() {
        let start = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z").unwrap().with_timezone(&Utc);
        let clock = Arc::new(ManualClock::new(start));
        let ends = start + RUN_DEADLINE_RESERVE + TimeDelta::seconds(5);
        let deadline = Deadline::of_run(clock.clone(), Some(ends));
        assert!(!deadline.passed());
        assert_eq!(deadline.left(), Some(std::time::Duration::from_secs(5)));
        clock.set(start + TimeDelta::seconds(5));
        assert!(deadline.passed(), "the reserve is kept back");
        assert_eq!(deadline.left(), Some(std::time::Duration::ZERO));
        let unbounded = Deadline::of_run(clock, None);
        assert!(!unbounded.passed());
        assert_eq!(unbounded.left(), None);
    }
}

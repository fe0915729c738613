//! The lease: the one lock protocol of the project, for everything that rewrites a set of items
//! guarded by one record: a context's items (ingest, the collector through it, and DELETE, on the
//! context record), an image's findings (on its findings record), an image's SBOM (on its SBOM
//! record) and an account's VEX rules (on their record).
//!
//! A lease is a conditional write on the guarding record (`lock_owner`, `lock_until`, and a
//! version one up). It is given back on every exit path: by `commit` when the holder finishes,
//! by `write` at once when the item writes fail, and by a release spawned on drop when the holder
//! is cancelled, panics, or its final write fails.
//! A holder that crashed outright leaves a lease that runs out after `LEASE_DURATION`.

use crate::clock::Clock;
use crate::findings::ImageFindingsRecord;
use crate::model::ContextRecord;
use crate::store::{encode, BatchWrite, Expect, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

/// A record that guards a set of items with a lease: it has a version and, while leased, an
/// owner and an expiry.
pub trait Leased: Clone + serde::Serialize + Send + Sync + 'static {
    /// What errors and logs call such a record (`context`).
    const KIND: &'static str;
    /// Which one it is (the context's name).
    fn name(&self) -> &str;
    fn key(&self) -> (&str, &str);
    fn version(&self) -> u64;
    fn lease_is_live(&self, now: DateTime<Utc>) -> bool;
    /// The record at `version`, holding `lease` (owner, until) or none.
    fn leased(self, version: u64, lease: Option<(String, i64)>) -> Self;
}

impl Leased for ContextRecord {
    const KIND: &'static str = "context";

    fn name(&self) -> &str {
        &self.context
    }

    fn key(&self) -> (&str, &str) {
        (&self.pk, &self.sk)
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn lease_is_live(&self, now: DateTime<Utc>) -> bool {
        ContextRecord::lease_is_live(self, now)
    }

    fn leased(self, version: u64, lease: Option<(String, i64)>) -> Self {
        let (lock_owner, lock_until) = lease.map_or((None, None), |(owner, until)| (Some(owner), Some(until)));
        // The items are about to change: until the holder commits, no report may trust the
        // record's content hash (a failed holder gives the record back without it).
        let content_hash = if lock_owner.is_some() { None } else { self.content_hash };
        Self { version, lock_owner, lock_until, content_hash, ..self }
    }
}

/// The lease on a context's items.
pub type ContextLease = Lease<ContextRecord>;

/// `Leased` for a record whose fields are `pk`, `sk`, `version`, `lock_owner`, `lock_until`,
/// with `lease_is_live`, named in errors by `$name`.
macro_rules! leased_record {
    ($record:ty, $kind:literal, $name:ident) => {
        impl Leased for $record {
            const KIND: &'static str = $kind;

            fn name(&self) -> &str {
                &self.$name
            }

            fn key(&self) -> (&str, &str) {
                (&self.pk, &self.sk)
            }

            fn version(&self) -> u64 {
                self.version
            }

            fn lease_is_live(&self, now: DateTime<Utc>) -> bool {
                <$record>::lease_is_live(self, now)
            }

            fn leased(self, version: u64, lease: Option<(String, i64)>) -> Self {
                let (lock_owner, lock_until) = lease.map_or((None, None), |(owner, until)| (Some(owner), Some(until)));
                Self { version, lock_owner, lock_until, ..self }
            }
        }
    };
}

leased_record!(ImageFindingsRecord, "the findings of image", image_digest);
leased_record!(crate::sbom::ImageSbomRecord, "the SBOM of image", image_digest);
leased_record!(crate::store::VexRulesRecord, "the VEX rules of account", account);

/// The lease on an image's findings: its chunks and its index entries.
pub type FindingsLease = Lease<ImageFindingsRecord>;

/// The lease on an image's SBOM: its chunks and its package index entries.
pub type SbomLease = Lease<crate::sbom::ImageSbomRecord>;

/// The lease on an account's VEX rules: one rebuild at a time.
pub type VexRulesLease = Lease<crate::store::VexRulesRecord>;

/// Longer than any function that can hold a lease may run (the template test checks it), so a
/// lease only runs out when its holder is gone.
pub const LEASE_DURATION: TimeDelta = TimeDelta::minutes(5);
/// A holder starts no write with less than this left of its lease, so a write in flight (bounded
/// by the SDK's operation timeout) ends before anyone else can take the lease.
pub const LEASE_WRITE_MARGIN: TimeDelta = TimeDelta::seconds(30);

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the lease on {0} ran out before its writes were done; the rest was not written")]
    Expired(String),
    #[error("the lease on {0} was taken over by another writer")]
    Lost(String),
}

impl LeaseError {
    /// What an API route answers when its leased writes failed: the store's policy
    /// (`StoreError::answer`), and 503 for a lease that ran out or was taken over (a retry
    /// finds the context settled).
    pub fn answer(self, what: &str) -> crate::http::ApiError {
        match self {
            LeaseError::Store(store) => store.answer(what),
            lease => {
                tracing::error!(error = %lease, what, "leased writes failed");
                crate::http::ApiError::unavailable(&format!("{what} could not be written"))
            }
        }
    }
}

pub struct Lease<R: Leased> {
    store: Store,
    clock: Arc<dyn Clock>,
    /// The record as stored while the lease is held.
    held: R,
    /// No record existed before: giving the lease back deletes the placeholder.
    placeholder: bool,
    owner: String,
    until: DateTime<Utc>,
    finished: bool,
}

/// "the lease on context \"prod/default\"" in errors.
fn label<R: Leased>(record: &R) -> String {
    format!("{} {:?}", R::KIND, record.name())
}

impl<R: Leased> Lease<R> {
    /// Takes the lease on the items of a record read as `current`, or, when there is none,
    /// stores `placeholder` holding the lease. `None` when another writer holds the lease or
    /// changed the record since it was read.
    pub async fn acquire(
        store: &Store,
        clock: Arc<dyn Clock>,
        current: Option<&R>,
        placeholder: impl FnOnce() -> R,
    ) -> Result<Option<Self>, StoreError> {
        let now = clock.now();
        let (base, expect) = match current {
            Some(record) if record.lease_is_live(now) => return Ok(None),
            Some(record) => (record.clone(), Expect::Version(record.version())),
            None => (placeholder(), Expect::Absent),
        };
        let owner = format!("{:016x}", fastrand::u64(..));
        let until = now + LEASE_DURATION;
        let version = base.version() + 1;
        let held = base.leased(version, Some((owner.clone(), until.timestamp())));
        match store.put_leased(encode(&held), expect).await {
            Ok(()) => Ok(Some(Self {
                store: store.clone(),
                clock,
                held,
                placeholder: current.is_none(),
                owner,
                until,
                finished: false,
            })),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The record as it is stored while leased.
    pub fn record(&self) -> &R {
        &self.held
    }

    fn check_time(&self) -> Result<(), LeaseError> {
        if self.clock.now() + LEASE_WRITE_MARGIN >= self.until {
            return Err(LeaseError::Expired(label(&self.held)));
        }
        Ok(())
    }

    fn holder(&self) -> Expect {
        Expect::Holder { owner: self.owner.clone(), version: self.held.version() }
    }

    fn lost(&self, error: StoreError) -> LeaseError {
        match error {
            StoreError::ConditionFailed => LeaseError::Lost(label(&self.held)),
            other => other.into(),
        }
    }

    /// Writes items under the lease; no batch starts once the lease is nearly out. When the
    /// writes fail the lease is given back at once, so the next report plans against what was
    /// written instead of waiting for the lease to run out.
    pub async fn write(&mut self, writes: Vec<BatchWrite>) -> Result<u64, LeaseError> {
        let result = self.store.batch_write_guarded(writes, || self.check_time()).await;
        if let Err(error) = &result {
            self.finished = true;
            // A lease out of time has nothing left to give back.
            if !matches!(error, LeaseError::Expired(_)) {
                release(&self.store, &self.held, self.placeholder, self.holder()).await.ok();
            }
        }
        result
    }

    /// Stores the record's new state (without the lease) and gives the lease back.
    pub async fn commit(mut self, record: R) -> Result<(), LeaseError> {
        self.check_time().inspect_err(|_| self.finished = true)?;
        let record = record.leased(self.held.version() + 1, None);
        let result = self.store.put_leased(encode(&record), self.holder()).await;
        self.settle(result)
    }

    /// Deletes the record, and with it the lease.
    pub async fn commit_delete(mut self) -> Result<(), LeaseError> {
        self.check_time().inspect_err(|_| self.finished = true)?;
        let (pk, sk) = self.held.key();
        let result = self.store.delete_leased(pk, sk, self.holder()).await;
        self.settle(result)
    }

    /// The outcome of the final write. A lease out of time or taken over has nothing left to give
    /// back; after any other failure the drop guard still gives it back.
    fn settle(&mut self, result: Result<(), StoreError>) -> Result<(), LeaseError> {
        self.finished = matches!(result, Ok(()) | Err(StoreError::ConditionFailed));
        result.map_err(|error| self.lost(error))
    }
}

async fn release<R: Leased>(store: &Store, held: &R, placeholder: bool, holder: Expect) -> Result<(), StoreError> {
    let result = if placeholder {
        let (pk, sk) = held.key();
        store.delete_leased(pk, sk, holder).await
    } else {
        let restored = held.clone().leased(held.version() + 1, None);
        store.put_leased(encode(&restored), holder).await
    };
    match result {
        // Someone took the lease over after it ran out: nothing of ours to give back.
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(error) => {
            tracing::error!(record = %label(held), %error, "giving a lease back failed; it runs out by itself");
            Err(error)
        }
    }
}

impl<R: Leased> Drop for Lease<R> {
    /// A holder that was cancelled or panicked gives the lease back in the background.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (store, held, placeholder, holder) =
            (self.store.clone(), self.held.clone(), self.placeholder, self.holder());
        tracing::warn!(record = %label(&held), "a lease was dropped unfinished; giving it back");
        runtime.spawn(async move { release(&store, &held, placeholder, holder).await });
    }
}

//! VEX annotations as the API and the scheduled check change them, and the rules every read
//! consults. The annotations are the truth; an account's rules are rebuilt from them under a lease
//! after every change (and by the scheduled check, which also lapses what expired), so a rebuild
//! that failed is made good by the next.

pub use inventory_core::vex::*;

use crate::auth::{Caller, Role};
use crate::clock::Clock;
use crate::field::FieldError;
use crate::lease::{LeaseError, VexRulesLease};
use crate::limits::MAX_ANNOTATIONS_PER_ACCOUNT;
use crate::store::{
    annotation_deletes, annotation_writes, audit_write, backoff, rules_chunk_deletes, rules_generation,
    vex_account_write, Store, StoreError, VexRulesRecord,
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("no annotation {0} in this account")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
}

impl From<AnnotationError> for crate::http::ApiError {
    fn from(error: AnnotationError) -> Self {
        use crate::http::ApiError;
        match error {
            AnnotationError::Invalid(field) => field.into(),
            AnnotationError::NotFound(_) => ApiError::not_found(error.to_string()),
            AnnotationError::Forbidden(message) => ApiError::forbidden(message),
            AnnotationError::Conflict(message) => {
                ApiError::new(lambda_http::http::StatusCode::CONFLICT, "conflict", message)
            }
            AnnotationError::Store(store) => store.answer("the annotations"),
            AnnotationError::Lease(lease) => lease.answer("the annotations"),
        }
    }
}

/// How many times a change waits for another rebuild of the same account before leaving its own
/// to the scheduled check.
const REBUILD_ATTEMPTS: u32 = 8;

#[derive(Clone)]
pub struct Annotations {
    store: Store,
    clock: Arc<dyn Clock>,
    /// `VEX_REQUIRES_APPROVAL`: a suppressing statement of a non-admin waits for an approver.
    requires_approval: bool,
}

/// What a rebuild did: the annotations it lapsed (each to be announced once).
#[derive(Debug, Default)]
pub struct Rebuilt {
    pub lapsed: Vec<Annotation>,
    pub rules: u64,
}

impl Annotations {
    pub fn new(store: Store, clock: Arc<dyn Clock>, requires_approval: bool) -> Self {
        Self { store, clock, requires_approval }
    }

    /// Stores `statements` as new annotations by `caller`, and applies them.
    pub async fn create(
        &self,
        caller: &Caller,
        statements: Vec<Statement>,
    ) -> Result<Vec<Annotation>, AnnotationError> {
        let account = caller.account.as_str();
        let held = self.store.vex_rules_record(account).await?.map_or(0, |record| record.annotations);
        if held as usize + statements.len() > MAX_ANNOTATIONS_PER_ACCOUNT {
            return Err(FieldError::too_large(
                "body",
                format!("the account holds {held} annotations; at most {MAX_ANNOTATIONS_PER_ACCOUNT} are kept"),
            )
            .into());
        }
        let now = self.clock.now();
        let mut writes = vec![vex_account_write(account)];
        let created: Vec<Annotation> = statements
            .into_iter()
            .map(|statement| {
                let state = self.state_for(caller, &statement);
                Annotation::new(new_uuid(), statement, &caller.user, now, state)
            })
            .collect();
        for annotation in &created {
            writes.extend(annotation_writes(account, annotation));
            writes
                .push(audit_write(account, &AuditEntry::of(AuditAction::Created, &caller.user, now, None, annotation)));
        }
        self.store.batch_write(writes).await?;
        self.apply(account).await;
        Ok(created)
    }

    fn state_for(&self, caller: &Caller, statement: &Statement) -> AnnotationState {
        if self.requires_approval && caller.role != Role::Admin && statement.needs_approval() {
            AnnotationState::Pending
        } else {
            AnnotationState::Active
        }
    }

    pub async fn get(&self, account: &str, uuid: &str) -> Result<Annotation, AnnotationError> {
        self.store.vex_annotation(account, uuid).await?.ok_or_else(|| AnnotationError::NotFound(uuid.to_owned()))
    }

    /// An annotation of `image` (Anchore's per-image routes find only the image's own).
    pub async fn get_of(&self, account: &str, uuid: &str, image: Option<&str>) -> Result<Annotation, AnnotationError> {
        let found = self.get(account, uuid).await?;
        match image {
            Some(digest) if found.statement.scope.image_digest() != Some(digest) => {
                Err(AnnotationError::NotFound(uuid.to_owned()))
            }
            _ => Ok(found),
        }
    }

    pub async fn list(&self, account: &str) -> Result<Vec<Annotation>, AnnotationError> {
        Ok(self.store.vex_annotations(account).await?)
    }

    pub async fn list_image(&self, account: &str, digest: &str) -> Result<Vec<Annotation>, AnnotationError> {
        Ok(self.store.vex_image_annotations(account, digest).await?)
    }

    pub async fn audit(&self, account: &str, uuid: &str) -> Result<Vec<AuditEntry>, AnnotationError> {
        let entries = self.store.vex_audit(account, uuid).await?;
        if entries.is_empty() {
            return Err(AnnotationError::NotFound(uuid.to_owned()));
        }
        Ok(entries)
    }

    /// Replaces an annotation's statement (Anchore's PUT): one version up, and back to pending
    /// when the four-eyes rule holds it.
    pub async fn update(
        &self,
        caller: &Caller,
        uuid: &str,
        statement: Statement,
        image: Option<&str>,
    ) -> Result<Annotation, AnnotationError> {
        let account = caller.account.as_str();
        let before = self.get_of(account, uuid, image).await?;
        let now = self.clock.now();
        let state = self.state_for(caller, &statement);
        let after = Annotation {
            statement,
            updated_at: now,
            version: before.version + 1,
            state,
            approved_by: None,
            approved_at: None,
            lapsed_at: None,
            lapse_reason: None,
            ..before.clone()
        };
        self.replace(account, &caller.user, AuditAction::Updated, &before, &after).await?;
        Ok(after)
    }

    /// Approves a pending annotation: by an approver (the route's role) other than its author.
    pub async fn approve(&self, caller: &Caller, uuid: &str) -> Result<Annotation, AnnotationError> {
        let account = caller.account.as_str();
        let before = self.get(account, uuid).await?;
        if before.state != AnnotationState::Pending {
            return Err(AnnotationError::Conflict(format!("annotation {uuid} is not pending approval")));
        }
        if before.author == caller.user {
            return Err(AnnotationError::Forbidden(
                "an annotation is approved by someone other than its author".into(),
            ));
        }
        let now = self.clock.now();
        let after = Annotation {
            state: AnnotationState::Active,
            approved_by: Some(caller.user.clone()),
            approved_at: Some(now),
            updated_at: now,
            version: before.version + 1,
            ..before.clone()
        };
        self.replace(account, &caller.user, AuditAction::Approved, &before, &after).await?;
        Ok(after)
    }

    pub async fn delete(&self, caller: &Caller, uuid: &str, image: Option<&str>) -> Result<(), AnnotationError> {
        let account = caller.account.as_str();
        let before = self.get_of(account, uuid, image).await?;
        let now = self.clock.now();
        let gone = Annotation { updated_at: now, version: before.version + 1, ..before.clone() };
        let mut writes = annotation_deletes(account, &before);
        let mut entry = AuditEntry::of(AuditAction::Deleted, &caller.user, now, Some(&before), &gone);
        entry.changes.insert("deleted".into(), serde_json::json!({ "from": false, "to": true }));
        writes.push(audit_write(account, &entry));
        self.store.batch_write(writes).await?;
        self.apply(account).await;
        Ok(())
    }

    /// Writes `after` over `before` with its audit entry, in one transaction conditional on the
    /// stored version: a change made meanwhile (another update, an approval, the lapse check) wins
    /// and this one is refused, never silently overwritten.
    async fn replace(
        &self,
        account: &str,
        by: &str,
        action: AuditAction,
        before: &Annotation,
        after: &Annotation,
    ) -> Result<(), AnnotationError> {
        let entry = AuditEntry::of(action, by, after.updated_at, Some(before), after);
        match self.store.replace_vex_annotation(account, before.version, after, &entry).await {
            Err(StoreError::ConditionFailed) => {
                return Err(AnnotationError::Conflict(format!(
                    "annotation {} changed meanwhile; read it again",
                    before.uuid
                )))
            }
            result => result?,
        }
        self.apply(account).await;
        Ok(())
    }

    /// Rebuilds the account's rules after a change. A rebuild that cannot be done now (another
    /// holds the lease throughout, the store fails) is the scheduled check's to do: the change
    /// itself is stored.
    async fn apply(&self, account: &str) {
        if let Err(error) = self.rebuild(account).await {
            tracing::warn!(account, %error, "the VEX rules were not rebuilt; the scheduled check will");
        }
    }

    /// Rebuilds the account's rules from its annotations, lapsing those past their expiry first.
    pub async fn rebuild(&self, account: &str) -> Result<Rebuilt, AnnotationError> {
        let mut lease = self.lease(account).await?;
        let now = self.clock.now();
        let mut annotations = self.store.vex_annotations(account).await?;
        let mut lapsed = Vec::new();
        for annotation in annotations.iter_mut().filter(|annotation| {
            annotation.state == AnnotationState::Active && annotation.statement.expires_at.is_some_and(|at| at <= now)
        }) {
            let before = annotation.clone();
            annotation.state = AnnotationState::Lapsed;
            annotation.lapsed_at = Some(now);
            annotation.lapse_reason = Some("expired".into());
            annotation.version += 1;
            annotation.updated_at = now;
            let entry = AuditEntry::of(AuditAction::Lapsed, "system", now, Some(&before), annotation);
            // Conditional like every change: one updated meanwhile is judged again by the
            // rebuild its update runs (which waits for this lease).
            match self.store.replace_vex_annotation(account, before.version, annotation, &entry).await {
                Ok(()) => lapsed.push(annotation.clone()),
                Err(StoreError::ConditionFailed) => *annotation = before,
                Err(error) => return Err(error.into()),
            }
        }
        let rules = Rules::from_annotations(&annotations, now);
        let stored = serde_json::to_vec(&rules).map_err(|error| StoreError::Corrupt {
            key: account.to_owned(),
            message: format!("the rules do not serialise: {error}"),
        })?;
        let digest = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&stored));
        let previous = lease.record().clone();
        let mut record = VexRulesRecord {
            rules: rules.len() as u64,
            annotations: annotations.len() as u64,
            next_expiry: annotations
                .iter()
                .filter(|annotation| annotation.is_live(now))
                .filter_map(|annotation| annotation.statement.expires_at)
                .min(),
            watch_fixed: annotations
                .iter()
                .filter(|annotation| annotation.is_live(now) && annotation.statement.expires_when_fixed)
                .count() as u64,
            updated_at: Some(now),
            ..previous.clone()
        };
        let changed = digest != previous.digest;
        if changed {
            let generation = format!("{:016x}", fastrand::u64(..));
            let (chunks, next) = rules_generation(&record, &crate::gzip::compress(&stored), generation);
            lease.write(chunks).await?;
            record = VexRulesRecord { digest, ..next };
        }
        lease.commit(record).await?;
        if changed {
            // The old generation is no longer named; a failure here leaves unread items only.
            if let Err(error) = self.store.batch_write(rules_chunk_deletes(&previous)).await {
                tracing::warn!(account, %error, "the previous VEX rules were not deleted");
            }
        }
        Ok(Rebuilt { lapsed, rules: rules.len() as u64 })
    }

    /// The lease on the account's rules, waiting a little for another rebuild to finish.
    async fn lease(&self, account: &str) -> Result<VexRulesLease, AnnotationError> {
        for attempt in 0..REBUILD_ATTEMPTS {
            let current = self.store.vex_rules_record(account).await?;
            let placeholder = || VexRulesRecord::new(account);
            if let Some(lease) =
                VexRulesLease::acquire(&self.store, Arc::clone(&self.clock), current.as_ref(), placeholder).await?
            {
                return Ok(lease);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(AnnotationError::Conflict(format!("the VEX rules of account {account} are being rebuilt; try again")))
    }
}

/// A random (version 4) UUID.
fn new_uuid() -> String {
    let bytes: [u8; 16] = (fastrand::u128(..)).to_be_bytes();
    inventory_core::names::uuid(bytes, 4)
}

/// The rules of accounts as reads see them: one strongly consistent `GetItem` of the record per
/// call; the rules themselves are read and parsed only when their generation changed, and kept
/// for every reader of the process (of one table).
#[derive(Clone)]
pub struct RulesReader {
    store: Store,
}

type RulesCache = HashMap<(String, String), (String, Arc<Rules>)>;

fn rules_cache() -> &'static Mutex<RulesCache> {
    static CACHE: OnceLock<Mutex<RulesCache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Accounts whose rules a process keeps; past it the cache starts again (rules are re-read).
const CACHED_ACCOUNTS: usize = 1000;

impl RulesReader {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn rules(&self, account: &str) -> Result<Arc<Rules>, StoreError> {
        let Some(record) = self.store.vex_rules_record(account).await? else {
            return Ok(Arc::new(Rules::default()));
        };
        let Some(generation) = record.generation.clone() else { return Ok(Arc::new(Rules::default())) };
        let key = (self.store.table().to_owned(), account.to_owned());
        let mut cache = rules_cache().lock().await;
        if let Some((cached, rules)) = cache.get(&key) {
            if *cached == generation {
                return Ok(Arc::clone(rules));
            }
        }
        let compressed = self.store.vex_rules_data(&record).await?;
        let rules: Rules = read_gzip_json(&compressed)
            .map_err(|message| StoreError::Corrupt { key: format!("{} / {}", record.pk, record.sk), message })?;
        let rules = Arc::new(rules);
        if cache.len() >= CACHED_ACCOUNTS {
            cache.clear();
        }
        cache.insert(key, (generation, Arc::clone(&rules)));
        Ok(rules)
    }
}

fn read_gzip_json<T: serde::de::DeserializeOwned>(compressed: &[u8]) -> Result<T, String> {
    let json = crate::gzip::decompress(compressed).map_err(|error| error.to_string())?;
    serde_json::from_slice(&json).map_err(|error| error.to_string())
}

/// Whether an annotation is past its expiry at `now` but not yet lapsed: the scheduled check
/// rebuilds such an account.
pub fn lapse_due(record: &VexRulesRecord, now: DateTime<Utc>) -> bool {
    record.next_expiry.is_some_and(|at| at <= now)
}

//! `runtime_inventory` subscriptions, Anchore-compatible: created inactive, activated with PUT.
//!
//! Stored by `store::subscriptions`, with a guard item written first so a key and type are
//! unique per account.

use crate::clock::format_time;
use crate::clock::Clock;
use crate::limits::{MAX_SUBSCRIPTION_ID_BYTES, MAX_SUBSCRIPTION_KEY_BYTES, MAX_SUBSCRIPTION_VALUE_BYTES};
use crate::store::{Store, StoreError};
pub use crate::subscription::{key_covers, Subscription, RUNTIME_INVENTORY, SUBSCRIPTION_TYPES};
use inventory_core::field::FieldError;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("a {subscription_type} subscription for key {key:?} already exists")]
    Duplicate { subscription_type: String, key: String },
    #[error("no subscription {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A `subscription_value` is stored and returned as given, so only its size is bounded.
fn check_value(value: Option<&str>) -> Result<(), SubscriptionError> {
    match value {
        Some(value) if value.len() > MAX_SUBSCRIPTION_VALUE_BYTES => Err(invalid(
            "subscription_value",
            format!("is {} bytes; at most {MAX_SUBSCRIPTION_VALUE_BYTES} are accepted", value.len()),
        )),
        _ => Ok(()),
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> SubscriptionError {
    FieldError::invalid(field, message).into()
}

/// What a subscription route answers for each failure.
impl From<SubscriptionError> for crate::http::ApiError {
    fn from(error: SubscriptionError) -> Self {
        use crate::http::ApiError;
        match error {
            SubscriptionError::Invalid(field) => field.into(),
            SubscriptionError::Duplicate { .. } => {
                ApiError::new(lambda_http::http::StatusCode::CONFLICT, "conflict", error.to_string())
            }
            SubscriptionError::NotFound(_) => ApiError::not_found(error.to_string()),
            SubscriptionError::Store(store) => store.answer("the subscriptions"),
        }
    }
}

/// Body of `POST /v1/subscriptions`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewSubscription {
    pub subscription_key: Option<String>,
    pub subscription_type: Option<String>,
    #[serde(default)]
    pub subscription_value: Option<String>,
}

/// Body of `PUT /v1/subscriptions/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionUpdate {
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub subscription_value: Option<String>,
}

#[derive(Clone)]
pub struct Subscriptions {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl Subscriptions {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub async fn create(&self, account: &str, request: NewSubscription) -> Result<Subscription, SubscriptionError> {
        let subscription_type = request.subscription_type.map(|t| t.trim().to_owned()).unwrap_or_default();
        if subscription_type.is_empty() {
            return Err(invalid("subscription_type", "is required"));
        }
        if !SUBSCRIPTION_TYPES.contains(&subscription_type.as_str()) {
            return Err(invalid("subscription_type", format!("must be one of {SUBSCRIPTION_TYPES:?}")));
        }
        let key = request.subscription_key.map(|k| k.trim().to_owned()).unwrap_or_default();
        if key.is_empty() {
            return Err(invalid("subscription_key", "is required"));
        }
        if key.len() > MAX_SUBSCRIPTION_KEY_BYTES || key.chars().any(char::is_control) {
            return Err(invalid(
                "subscription_key",
                format!("must be at most {MAX_SUBSCRIPTION_KEY_BYTES} bytes (a context's length) without control characters"),
            ));
        }
        check_value(request.subscription_value.as_deref())?;
        let at = self.clock.now();
        let now = format_time(at);
        let subscription = Subscription {
            subscription_id: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            subscription_key: key.clone(),
            subscription_type: subscription_type.clone(),
            subscription_value: request.subscription_value,
            account_name: account.to_owned(),
            active: false,
            created_at: now.clone(),
            last_updated: now,
        };
        match self.store.create_subscription(account, &subscription, at).await {
            Ok(()) => Ok(subscription),
            Err(StoreError::ConditionFailed) => Err(SubscriptionError::Duplicate { subscription_type, key }),
            Err(error) => Err(error.into()),
        }
    }

    /// The account's `runtime_inventory` subscriptions that scheduled `digest` for analysis (their
    /// marker for it was sent; a claim still being sent is not yet).
    pub async fn scheduled(&self, account: &str, digest: &str) -> Result<Vec<Subscription>, SubscriptionError> {
        let subscriptions = self.list(account, Some(RUNTIME_INVENTORY), None).await?;
        let markers = subscriptions
            .iter()
            .map(|subscription| self.store.scheduled_marker_sent(account, &subscription.subscription_id, digest));
        let sent = futures::future::try_join_all(markers).await?;
        Ok(subscriptions
            .into_iter()
            .zip(sent)
            .filter_map(|(subscription, sent)| sent.then_some(subscription))
            .collect())
    }

    /// The account's subscriptions, optionally of one type and key.
    pub async fn list(
        &self,
        account: &str,
        subscription_type: Option<&str>,
        subscription_key: Option<&str>,
    ) -> Result<Vec<Subscription>, SubscriptionError> {
        let mut subscriptions = self.store.subscriptions(account).await?;
        subscriptions.retain(|subscription| {
            subscription_type.is_none_or(|t| t == subscription.subscription_type)
                && subscription_key.is_none_or(|k| k == subscription.subscription_key)
        });
        subscriptions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.subscription_id.cmp(&b.subscription_id)));
        Ok(subscriptions)
    }

    pub async fn get(&self, account: &str, id: &str) -> Result<Subscription, SubscriptionError> {
        // Ids are made here (32 hex digits); anything far from one would only fail as a key.
        if id.len() > MAX_SUBSCRIPTION_ID_BYTES {
            return Err(SubscriptionError::NotFound(id.chars().take(MAX_SUBSCRIPTION_ID_BYTES).collect()));
        }
        self.store.subscription(account, id).await?.ok_or_else(|| SubscriptionError::NotFound(id.to_owned()))
    }

    pub async fn update(
        &self,
        account: &str,
        id: &str,
        update: SubscriptionUpdate,
    ) -> Result<Subscription, SubscriptionError> {
        if update.active.is_none() && update.subscription_value.is_none() {
            return Err(invalid("active", "give active (true or false) or subscription_value"));
        }
        check_value(update.subscription_value.as_deref())?;
        let mut subscription = self.get(account, id).await?;
        if let Some(active) = update.active {
            subscription.active = active;
        }
        if let Some(value) = update.subscription_value {
            subscription.subscription_value = Some(value);
        }
        subscription.last_updated = format_time(self.clock.now());
        match self.store.replace_subscription(account, &subscription).await {
            Ok(()) => Ok(subscription),
            Err(StoreError::ConditionFailed) => Err(SubscriptionError::NotFound(id.to_owned())),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn delete(&self, account: &str, id: &str) -> Result<(), SubscriptionError> {
        let subscription = self.get(account, id).await?;
        Ok(self.store.delete_subscription(account, &subscription).await?)
    }
}

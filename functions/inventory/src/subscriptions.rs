//! `runtime_inventory` subscriptions, Anchore-compatible: created inactive, activated with PUT.
//!
//! Stored in the inventory table: `pk = {account}#sub`, `sk = {subscription_id}`, plus a guard
//! item `pk = {account}#subkey`, `sk = {type}#{key}` written in the same transaction so a key
//! and type are unique per account.

use crate::clock::format_time;
use crate::clock::Clock;
use crate::limits::{MAX_SUBSCRIPTION_ID_BYTES, MAX_SUBSCRIPTION_KEY_BYTES, MAX_SUBSCRIPTION_VALUE_BYTES};
use crate::model::{subscription_guard_pk, subscription_guard_sk, subscriptions_pk};
use crate::store::{decode_item, encode, Item};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

pub const RUNTIME_INVENTORY: &str = "runtime_inventory";
/// The subscription types this service implements.
pub const SUBSCRIPTION_TYPES: &[&str] = &[RUNTIME_INVENTORY];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub subscription_id: String,
    pub subscription_key: String,
    pub subscription_type: String,
    pub subscription_value: Option<String>,
    pub account_name: String,
    pub active: bool,
    pub created_at: String,
    pub last_updated: String,
}

impl Subscription {
    /// A `runtime_inventory` key watches the contexts it names whole components of.
    pub fn watches(&self, context: &str) -> bool {
        self.active && self.subscription_type == RUNTIME_INVENTORY && key_covers(&self.subscription_key, context)
    }
}

/// Whether a subscription key names `context` or a group of contexts it belongs to: the key
/// must end where a component of the context ends. `prod-eu-1` covers `prod-eu-1/payments`
/// but not `prod-eu-10/payments`; `arn:aws:ecs:eu-west-2:123456789012` covers every cluster of
/// that account and region; a key ending in `/` or `:` covers what follows it.
pub fn key_covers(key: &str, context: &str) -> bool {
    const SEPARATORS: [char; 2] = ['/', ':'];
    match context.strip_prefix(key) {
        None => false,
        Some("") => true,
        Some(rest) => key.ends_with(SEPARATORS) || rest.starts_with(SEPARATORS),
    }
}

#[derive(Serialize, Deserialize)]
struct SubscriptionRecord {
    pk: String,
    sk: String,
    kind: String,
    #[serde(flatten)]
    subscription: Subscription,
}

#[derive(Serialize, Deserialize)]
struct GuardRecord {
    pk: String,
    sk: String,
    kind: String,
    subscription_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("a {subscription_type} subscription for key {key:?} already exists")]
    Duplicate { subscription_type: String, key: String },
    #[error("no subscription {0}")]
    NotFound(String),
    #[error("DynamoDB {operation} failed: {message}")]
    Store { operation: &'static str, message: String },
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
    SubscriptionError::Invalid { field, message: message.into() }
}

fn store_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
) -> impl FnOnce(SdkError<E, R>) -> SubscriptionError {
    move |error| SubscriptionError::Store {
        operation,
        message: aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string(),
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

fn key(pk: String, sk: String) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), AttributeValue::S(pk)), ("sk".to_owned(), AttributeValue::S(sk))])
}

fn transaction_condition_failed<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().iter().any(|reason| reason.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}

#[derive(Clone)]
pub struct Subscriptions {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl Subscriptions {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self { client, table: table.into(), clock }
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
        let now = format_time(self.clock.now());
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
        let guard = GuardRecord {
            pk: subscription_guard_pk(account),
            sk: subscription_guard_sk(&subscription_type, &key),
            kind: "subscription_key".to_owned(),
            subscription_id: subscription.subscription_id.clone(),
        };
        let record = self.record(account, subscription.clone());
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("table and item are set")
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put(encode(&guard))).build())
            .transact_items(TransactWriteItem::builder().put(put(encode(&record))).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(subscription),
            Err(error) if transaction_condition_failed(&error) => {
                Err(SubscriptionError::Duplicate { subscription_type, key })
            }
            Err(error) => Err(store_error("TransactWriteItems")(error)),
        }
    }

    fn record(&self, account: &str, subscription: Subscription) -> SubscriptionRecord {
        SubscriptionRecord {
            pk: subscriptions_pk(account),
            sk: subscription.subscription_id.clone(),
            kind: "subscription".to_owned(),
            subscription,
        }
    }

    /// The account's subscriptions, optionally of one type and key.
    /// The account's `runtime_inventory` subscriptions that scheduled `digest` for analysis (their
    /// marker for it was sent; a claim still being sent is not yet).
    pub async fn scheduled(&self, account: &str, digest: &str) -> Result<Vec<Subscription>, SubscriptionError> {
        let subscriptions = self.list(account, Some(RUNTIME_INVENTORY), None).await?;
        let markers = subscriptions.iter().map(|subscription| async move {
            let key = crate::model::scheduled_marker_pk(account, &subscription.subscription_id);
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(key))
                .key("sk", AttributeValue::S(digest.to_owned()))
                .projection_expression("#state")
                .expression_attribute_names("#state", "state")
                .send()
                .await
                .map_err(store_error("GetItem"))?;
            let state = output.item().map(|item| item.get("state").and_then(|state| state.as_s().ok()).cloned());
            // Markers written before claims existed have no state: they were sent.
            Ok::<_, SubscriptionError>(
                matches!(state, Some(state) if state.as_deref() != Some(crate::model::MARKER_CLAIMED)),
            )
        });
        let sent = futures::future::try_join_all(markers).await?;
        Ok(subscriptions
            .into_iter()
            .zip(sent)
            .filter_map(|(subscription, sent)| sent.then_some(subscription))
            .collect())
    }

    pub async fn list(
        &self,
        account: &str,
        subscription_type: Option<&str>,
        subscription_key: Option<&str>,
    ) -> Result<Vec<Subscription>, SubscriptionError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(subscriptions_pk(account)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(store_error("Query"))?;
        let mut subscriptions = Vec::with_capacity(items.len());
        for item in items {
            let record: SubscriptionRecord = decode_item(item)
                .map_err(|error| SubscriptionError::Store { operation: "Query", message: error.to_string() })?;
            let subscription = record.subscription;
            if subscription_type.is_none_or(|t| t == subscription.subscription_type)
                && subscription_key.is_none_or(|k| k == subscription.subscription_key)
            {
                subscriptions.push(subscription);
            }
        }
        subscriptions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.subscription_id.cmp(&b.subscription_id)));
        Ok(subscriptions)
    }

    pub async fn get(&self, account: &str, id: &str) -> Result<Subscription, SubscriptionError> {
        // Ids are made here (32 hex digits); anything far from one would only fail as a key.
        if id.len() > MAX_SUBSCRIPTION_ID_BYTES {
            return Err(SubscriptionError::NotFound(id.chars().take(MAX_SUBSCRIPTION_ID_BYTES).collect()));
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(subscriptions_pk(account), id.to_owned())))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error("GetItem"))?;
        let item = output.item.ok_or_else(|| SubscriptionError::NotFound(id.to_owned()))?;
        let record: SubscriptionRecord = decode_item(item)
            .map_err(|error| SubscriptionError::Store { operation: "GetItem", message: error.to_string() })?;
        Ok(record.subscription)
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
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(&self.record(account, subscription.clone()))))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(subscription),
            Err(error)
                if matches!(error.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) =>
            {
                Err(SubscriptionError::NotFound(id.to_owned()))
            }
            Err(error) => Err(store_error("PutItem")(error)),
        }
    }

    pub async fn delete(&self, account: &str, id: &str) -> Result<(), SubscriptionError> {
        let subscription = self.get(account, id).await?;
        let delete = |pk: String, sk: String| {
            Delete::builder().table_name(&self.table).set_key(Some(key(pk, sk))).build().expect("table and key are set")
        };
        let guard_sk = subscription_guard_sk(&subscription.subscription_type, &subscription.subscription_key);
        self.client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder().delete(delete(subscriptions_pk(account), id.to_owned())).build(),
            )
            .transact_items(
                TransactWriteItem::builder().delete(delete(subscription_guard_pk(account), guard_sk)).build(),
            )
            .send()
            .await
            .map_err(store_error("TransactWriteItems"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::key_covers;

    #[test]
    fn keys_cover_whole_components_only() {
        assert!(key_covers("prod-eu-1", "prod-eu-1/payments"));
        assert!(key_covers("prod-eu-1/", "prod-eu-1/payments"));
        assert!(key_covers("prod-eu-1/payments", "prod-eu-1/payments"));
        assert!(!key_covers("prod-eu-1", "prod-eu-10/payments"));
        assert!(!key_covers("prod-eu-1/pay", "prod-eu-1/payments"));
        assert!(!key_covers("prod-eu-1/payments", "prod-eu-1"));

        let cluster = "arn:aws:ecs:eu-west-2:988505687240:cluster/web";
        assert!(key_covers("arn:aws:ecs:eu-west-2:988505687240", cluster));
        assert!(key_covers("arn:aws:ecs:eu-west-2:988505687240:cluster/", cluster));
        assert!(key_covers(cluster, cluster));
        assert!(!key_covers("arn:aws:ecs:eu-west-2:98850568724", cluster));
        assert!(!key_covers("arn:aws:ecs:eu-west-2:988505687240:cluster/we", cluster));
    }
}

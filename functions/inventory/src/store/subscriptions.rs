//! Subscriptions (`{account}#sub`) and their uniqueness guards (`{account}#subkey`), written
//! together in one transaction so a (type, key) is unique per account.

use super::{decode, encode, key, sdk_error, string, Item, Store, StoreError};
use crate::keys::{subscription_guard_pk, subscription_guard_sk, subscriptions_pk};
use crate::subscription::Subscription;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct SubscriptionRecord {
    pk: String,
    sk: String,
    kind: String,
    #[serde(flatten)]
    subscription: Subscription,
}

impl SubscriptionRecord {
    fn new(account: &str, subscription: Subscription) -> Self {
        Self {
            pk: subscriptions_pk(account),
            sk: subscription.subscription_id.clone(),
            kind: "subscription".to_owned(),
            subscription,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct GuardRecord {
    pk: String,
    sk: String,
    kind: String,
    subscription_id: String,
}

fn transaction_condition_failed<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().iter().any(|reason| reason.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}

impl Store {
    /// Writes a new subscription and its guard; `ConditionFailed` if the account has one of that
    /// type and key already.
    pub async fn create_subscription(&self, account: &str, subscription: &Subscription) -> Result<(), StoreError> {
        let guard = GuardRecord {
            pk: subscription_guard_pk(account),
            sk: subscription_guard_sk(&subscription.subscription_type, &subscription.subscription_key),
            kind: "subscription_key".to_owned(),
            subscription_id: subscription.subscription_id.clone(),
        };
        let record = SubscriptionRecord::new(account, subscription.clone());
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
            Ok(_) => Ok(()),
            Err(error) if transaction_condition_failed(&error) => Err(StoreError::ConditionFailed),
            Err(error) => Err(sdk_error("TransactWriteItems")(error)),
        }
    }

    /// Every subscription of the account, in no particular order.
    pub async fn subscriptions(&self, account: &str) -> Result<Vec<Subscription>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", string(&subscriptions_pk(account)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk_error("Query"))?;
        items.into_iter().map(|item| Ok(decode::<SubscriptionRecord>(item)?.subscription)).collect()
    }

    pub async fn subscription(&self, account: &str, id: &str) -> Result<Option<Subscription>, StoreError> {
        Ok(self
            .get::<SubscriptionRecord>(&subscriptions_pk(account), id, true)
            .await?
            .map(|record| record.subscription))
    }

    /// Replaces a stored subscription; `ConditionFailed` if it was deleted meanwhile.
    pub async fn replace_subscription(&self, account: &str, subscription: &Subscription) -> Result<(), StoreError> {
        let record = SubscriptionRecord::new(account, subscription.clone());
        self.put_if(encode(&record), "attribute_exists(pk)").await
    }

    /// Deletes a subscription and its guard together.
    pub async fn delete_subscription(&self, account: &str, subscription: &Subscription) -> Result<(), StoreError> {
        let delete = |pk: String, sk: String| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(&pk, &sk)))
                .build()
                .expect("table and key are set")
        };
        let guard_sk = subscription_guard_sk(&subscription.subscription_type, &subscription.subscription_key);
        self.client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .delete(delete(subscriptions_pk(account), subscription.subscription_id.clone()))
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder().delete(delete(subscription_guard_pk(account), guard_sk)).build(),
            )
            .send()
            .await
            .map_err(sdk_error("TransactWriteItems"))?;
        Ok(())
    }
}

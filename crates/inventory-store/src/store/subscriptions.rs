//! Subscriptions (`{account}#sub`) and their uniqueness guards (`{account}#subkey`): a guard is
//! written before its subscription, conditionally, so a (type, key) is unique per account.

use super::{decode, encode, key, sdk_error, string, Item, Store, StoreError};
use crate::keys::{subscription_guard_pk, subscription_guard_sk, subscriptions_pk, ItemKind};
use crate::subscription::Subscription;
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
            kind: ItemKind::Subscription.as_str().to_owned(),
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
    /// When the guard was written: a guard without its record, older than
    /// `STALE_GUARD_SECONDS`, is what a failed create left.
    #[serde(default)]
    written_at: i64,
}

/// A create writes its record within seconds of its guard (the API answers in 30 s at the most);
/// a guard whose record is still missing after this long was left by a create that failed.
const STALE_GUARD_SECONDS: i64 = 120;

impl Store {
    /// Writes a new subscription: its guard first, conditionally, so a (type, key) is unique
    /// per account, then its record. No transaction: moto's copies the whole table and fails
    /// under concurrent writes, and two conditional puts are as safe. A create that fails
    /// between the two removes its guard; one that dies there leaves a guard without a record,
    /// which readers never see (they list records) and a later create of the key replaces.
    /// `ConditionFailed` if the account has a subscription of that type and key already.
    pub async fn create_subscription(
        &self,
        account: &str,
        subscription: &Subscription,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let guard = GuardRecord {
            pk: subscription_guard_pk(account),
            sk: subscription_guard_sk(&subscription.subscription_type, &subscription.subscription_key),
            kind: ItemKind::SubscriptionKey.as_str().to_owned(),
            subscription_id: subscription.subscription_id.clone(),
            written_at: now.timestamp(),
        };
        match self.put_if(encode(&guard), "attribute_not_exists(pk)").await {
            Err(StoreError::ConditionFailed) => self.replace_stale_guard(account, &guard, now).await?,
            other => other?,
        }
        let record = SubscriptionRecord::new(account, subscription.clone());
        if let Err(error) = self.put_if(encode(&record), "attribute_not_exists(pk)").await {
            // The guard would keep the key taken by nothing until it is stale.
            let _ = self.delete_guard(&guard.pk, &guard.sk, &guard.subscription_id).await;
            return Err(error);
        }
        Ok(())
    }

    /// Takes the key over from a guard whose subscription was never written (a create that
    /// failed half way); `ConditionFailed` when the key is taken by a subscription, or by a create
    /// still under way.
    async fn replace_stale_guard(
        &self,
        account: &str,
        guard: &GuardRecord,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let Some(existing) = self.get::<GuardRecord>(&guard.pk, &guard.sk, true).await? else {
            return self.put_if(encode(guard), "attribute_not_exists(pk)").await;
        };
        let stale = now.timestamp() - existing.written_at > STALE_GUARD_SECONDS
            && self.subscription(account, &existing.subscription_id).await?.is_none();
        if !stale {
            return Err(StoreError::ConditionFailed);
        }
        let replace = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(guard)))
            .condition_expression("subscription_id = :stale")
            .expression_attribute_values(":stale", string(&existing.subscription_id));
        super::conditional("PutItem", replace.send().await)
    }

    /// Deletes a guard if it is still `subscription_id`'s.
    async fn delete_guard(&self, pk: &str, sk: &str, subscription_id: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .condition_expression("subscription_id = :id")
            .expression_attribute_values(":id", string(subscription_id))
            .send()
            .await;
        match super::conditional("DeleteItem", deleted) {
            // Another create's guard by now: it stays.
            Err(StoreError::ConditionFailed) => Ok(()),
            other => other,
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

    /// Deletes a subscription, then its guard: a guard left by a failure between the two frees
    /// its key once stale, as one a failed create leaves.
    pub async fn delete_subscription(&self, account: &str, subscription: &Subscription) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&subscriptions_pk(account), &subscription.subscription_id)))
            .send()
            .await
            .map_err(sdk_error("DeleteItem"))?;
        let guard_sk = subscription_guard_sk(&subscription.subscription_type, &subscription.subscription_key);
        self.delete_guard(&subscription_guard_pk(account), &guard_sk, &subscription.subscription_id).await
    }
}

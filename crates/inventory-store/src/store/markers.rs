//! Markers: the notifier's "sent once" marker of each event and the claim a delivery takes on it
//! before putting the event, and the coverage check's stale-cluster markers.

use super::{decode, encode, is_condition_failure, key, sdk_error, string, Item, Store, StoreError};
use crate::keys::{
    due_marker_pk, exposure_marker_pk, exposure_marker_sk, kev_marker_pk, lifecycle_marker_pk, scheduled_marker_pk,
    ItemKind, STALE_MARKERS_PK,
};
use crate::model::InventoryType;
use aws_sdk_dynamodb::types::AttributeValue;

/// A delivery has claimed the marker's event and not yet confirmed it sent.
const MARKER_CLAIMED: &str = "claimed";
/// The marker's event was sent.
const MARKER_FIRED: &str = "fired";

/// Where an event's "sent once" marker lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentOnceMarker {
    pub pk: String,
    pub sk: String,
    pub context: String,
    /// Lifecycle markers go once no delivery can repeat their record; scheduled markers stay.
    pub expires_at: Option<i64>,
}

/// The events announced once per (context, digest, vulnerability), each with its markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VulnerabilityEvent {
    /// Vulnerable Image Running.
    Exposure,
    /// Known Exploited Vulnerability Running.
    KevRunning,
    /// Vulnerability Overdue.
    Overdue,
}

impl SentOnceMarker {
    /// (subscription, digest): an image is scheduled once per subscription, whatever context.
    pub fn scheduled(account: &str, subscription_id: &str, digest: &str, context: &str) -> Self {
        Self {
            pk: scheduled_marker_pk(account, subscription_id),
            sk: digest.to_owned(),
            context: context.to_owned(),
            expires_at: None,
        }
    }

    /// One stream record of a context: its added or removed event.
    pub fn lifecycle(
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        event_id: &str,
        expires_at: i64,
    ) -> Self {
        Self {
            pk: lifecycle_marker_pk(account, inventory_type, context),
            sk: event_id.to_owned(),
            context: context.to_owned(),
            expires_at: Some(expires_at),
        }
    }

    /// (context, digest, vulnerability): each vulnerability event is announced once, however
    /// often its image starts running there or its findings are posted again.
    pub fn per_vulnerability(
        event: VulnerabilityEvent,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        digest: &str,
        vulnerability_id: &str,
    ) -> Self {
        let pk = match event {
            VulnerabilityEvent::Exposure => exposure_marker_pk(account, inventory_type, context),
            VulnerabilityEvent::KevRunning => kev_marker_pk(account, inventory_type, context),
            VulnerabilityEvent::Overdue => due_marker_pk(account, inventory_type, context),
        };
        Self { pk, sk: exposure_marker_sk(digest, vulnerability_id), context: context.to_owned(), expires_at: None }
    }

    /// (watch, context, digest): a watch fires once for each place an image carrying what it
    /// looks for runs, however often it starts there or its SBOM is posted again.
    pub fn watched(account: &str, watch_id: &str, digest: &str, inventory_type: InventoryType, context: &str) -> Self {
        Self {
            pk: crate::keys::watch_marker_pk(account, watch_id),
            sk: crate::keys::running_place_sk(digest, inventory_type, context),
            context: context.to_owned(),
            expires_at: None,
        }
    }

    /// An annotation's lapse: announced once.
    pub fn vex_lapsed(account: &str, uuid: &str) -> Self {
        Self {
            pk: crate::keys::vex_event_marker_pk(account),
            sk: uuid.to_owned(),
            context: String::new(),
            expires_at: None,
        }
    }

    /// The marker in `state`, without claim fields.
    fn item(&self, state: &str) -> Item {
        let mut item = key(&self.pk, &self.sk);
        item.insert("kind".to_owned(), string(ItemKind::Fired.as_str()));
        item.insert("context".to_owned(), string(&self.context));
        item.insert("state".to_owned(), string(state));
        if let Some(expires_at) = self.expires_at {
            item.insert("expires_at".to_owned(), AttributeValue::N(expires_at.to_string()));
        }
        item
    }
}

/// What claiming a marker found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This delivery holds the claim.
    Taken,
    /// The event was sent already.
    Fired,
    /// Another delivery holds a claim that has not run out; it was not confirmed sent yet.
    HeldElsewhere,
}

/// Markers written before claims existed have no state: they were sent.
fn claimed(item: Option<&Item>) -> bool {
    item.and_then(|item| item.get("state")).and_then(|state| state.as_s().ok()).map(String::as_str)
        == Some(MARKER_CLAIMED)
}

impl Store {
    /// Claims a marker under `token` until `until` (epoch seconds), unless it was fired or
    /// another claim on it has not run out at `now`.
    pub async fn claim_marker(
        &self,
        marker: &SentOnceMarker,
        token: &str,
        now: i64,
        until: i64,
    ) -> Result<Claim, StoreError> {
        let mut item = marker.item(MARKER_CLAIMED);
        item.insert("claim_token".to_owned(), string(token));
        item.insert("claim_until".to_owned(), AttributeValue::N(until.to_string()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR (#state = :claimed AND claim_until < :now)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", string(MARKER_CLAIMED))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Taken),
            Err(error) if is_condition_failure(&error) => {
                let output = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(key(&marker.pk, &marker.sk)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(sdk_error("GetItem"))?;
                Ok(if claimed(output.item()) { Claim::HeldElsewhere } else { Claim::Fired })
            }
            Err(error) => Err(sdk_error("PutItem")(error)),
        }
    }

    /// Marks a claimed marker fired (`true`) or gives the claim back (`false`). A claim that ran
    /// out and was taken by another delivery is left to that one, which settles it.
    pub async fn settle_marker(&self, marker: &SentOnceMarker, token: &str, fired: bool) -> Result<(), StoreError> {
        let result = if fired {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(marker.item(MARKER_FIRED)))
                .condition_expression("claim_token = :token")
                .expression_attribute_values(":token", string(token))
                .send()
                .await
                .map(drop)
                .map_err(|error| (is_condition_failure(&error), sdk_error("PutItem")(error)))
        } else {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(&marker.pk, &marker.sk)))
                .condition_expression("claim_token = :token")
                .expression_attribute_values(":token", string(token))
                .send()
                .await
                .map(drop)
                .map_err(|error| (is_condition_failure(&error), sdk_error("DeleteItem")(error)))
        };
        match result {
            Ok(()) | Err((true, _)) => Ok(()),
            Err((false, error)) => Err(error),
        }
    }

    /// Whether a subscription's marker for `digest` was sent (a claim still being sent is not).
    pub async fn scheduled_marker_sent(
        &self,
        account: &str,
        subscription_id: &str,
        digest: &str,
    ) -> Result<bool, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&scheduled_marker_pk(account, subscription_id), digest)))
            .projection_expression("#state")
            .expression_attribute_names("#state", "state")
            .send()
            .await
            .map_err(sdk_error("GetItem"))?;
        Ok(output.item().is_some() && !claimed(output.item()))
    }

    /// Every stale-cluster marker.
    pub async fn stale_markers<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, StoreError> {
        self.query_partition(STALE_MARKERS_PK).await?.into_iter().map(decode).collect()
    }

    /// Writes a stale-cluster marker if the stored one is in state `from` (absent for `None`);
    /// `ConditionFailed` if another run moved it.
    pub async fn put_stale_marker<T: serde::Serialize>(
        &self,
        marker: &T,
        from: Option<&str>,
    ) -> Result<(), StoreError> {
        let request = self.client.put_item().table_name(&self.table).set_item(Some(encode(marker)));
        let request = match from {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(from) => request
                .condition_expression("#state = :from")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":from", string(from)),
        };
        super::conditional("PutItem", request.send().await)
    }

    /// Deletes a stale-cluster marker if it is still in state `from`.
    pub async fn delete_stale_marker(&self, sk: &str, from: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(STALE_MARKERS_PK, sk)))
            .condition_expression("#state = :from")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":from", string(from))
            .send()
            .await;
        super::conditional("DeleteItem", result)
    }
}

//! Registered agents (`{account}#integ`) and their latest health reports. The record's shape is
//! the integrations service's; this module reads and writes it.

use super::{decode, key, sdk_error, string, Store, StoreError};
use crate::keys::integrations_pk;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

/// A health report as written onto its integration's record.
pub struct HealthWrite<'a> {
    pub seen: DateTime<Utc>,
    pub report: String,
    pub errors: &'a [String],
    pub interval_seconds: i64,
    pub expires_at: i64,
}

impl Store {
    /// An integration's record, if stored (TTL may not have deleted an expired one yet).
    pub async fn integration<T: serde::de::DeserializeOwned>(
        &self,
        account: &str,
        uuid: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get(&integrations_pk(account), uuid, true).await
    }

    /// Every integration record of the account, in uuid order.
    pub async fn integrations<T: serde::de::DeserializeOwned>(&self, account: &str) -> Result<Vec<T>, StoreError> {
        self.query_partition(&integrations_pk(account)).await?.into_iter().map(decode).collect()
    }

    pub async fn put_integration<T: serde::Serialize>(&self, record: &T) -> Result<(), StoreError> {
        self.put(record).await
    }

    /// Writes a health report onto a live integration in one conditional update, no read;
    /// `ConditionFailed` if the integration is not registered or has expired.
    pub async fn record_health(&self, account: &str, uuid: &str, health: HealthWrite<'_>) -> Result<(), StoreError> {
        let errors = health.errors.iter().map(|error| string(error)).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&integrations_pk(account), uuid)))
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .update_expression(
                "SET last_seen = :seen, updated_at = :seen, health_report = :report, health_errors = :errors, \
                 health_report_interval = :interval, expires_at = :expires",
            )
            .expression_attribute_values(":now", AttributeValue::N(health.seen.timestamp().to_string()))
            .expression_attribute_values(":seen", string(&health.seen.to_rfc3339()))
            .expression_attribute_values(":report", AttributeValue::S(health.report))
            .expression_attribute_values(":errors", AttributeValue::L(errors))
            .expression_attribute_values(":interval", AttributeValue::N(health.interval_seconds.to_string()))
            .expression_attribute_values(":expires", AttributeValue::N(health.expires_at.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::ConditionFailed)
            }
            Err(error) => Err(sdk_error("UpdateItem")(error)),
        }
    }
}

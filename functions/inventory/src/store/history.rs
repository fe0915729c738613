//! Running intervals (`{account}#hist#{digest}`): opened and closed by the notifier from the
//! table's stream, read by digest.

use super::{decode, key, sdk_error, string, Store, StoreError};
use crate::history::{IntervalPlace, IntervalRecord};
use crate::keys::history_pk;
use aws_sdk_dynamodb::types::AttributeValue;

impl Store {
    /// Opens an interval; a redelivered open writes the same item again.
    pub async fn open_interval(&self, record: &IntervalRecord) -> Result<(), StoreError> {
        self.put(record).await
    }

    /// Closes the place's open interval at `to`, if one is open: writes the closed interval, then
    /// deletes the open one if it still starts where it did. Run twice, the second finds none.
    /// Answers whether an interval was closed.
    pub async fn close_interval(
        &self,
        place: &IntervalPlace,
        to: chrono::DateTime<chrono::Utc>,
        retention_days: u32,
    ) -> Result<bool, StoreError> {
        let Some(open) = self.get::<IntervalRecord>(&place.pk(), &place.open_sk(), true).await? else {
            return Ok(false);
        };
        self.put(&open.closed(to, retention_days)).await?;
        let from = serde_dynamo::to_attribute_value(open.from).expect("times serialise");
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&place.pk(), &place.open_sk())))
            .condition_expression("#from = :from")
            .expression_attribute_names("#from", "from")
            .expression_attribute_values(":from", from)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            // Reopened meanwhile (a later record of the same context): that interval stays open.
            Err(error) if super::is_condition_failure(&error) => Ok(true),
            Err(error) => Err(sdk_error("DeleteItem")(error)),
        }
    }

    /// Every interval of a digest.
    pub async fn all_intervals(&self, account: &str, digest: &str) -> Result<Vec<IntervalRecord>, StoreError> {
        self.query_partition(&history_pk(account, digest)).await?.into_iter().map(decode).collect()
    }

    /// One page of a digest's intervals, in (type, context, start) order, the open one of each
    /// context after its closed ones; `after` is the sort key the previous page ended with.
    pub async fn intervals(
        &self,
        account: &str,
        digest: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<IntervalRecord>, Option<String>), StoreError> {
        let pk = history_pk(account, digest);
        let mut records = Vec::new();
        let mut start = after.map(|sk| key(&pk, sk));
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", string(&pk))
                .set_exclusive_start_key(start.take())
                .limit((limit - records.len()).min(1000) as i32)
                .send()
                .await
                .map_err(sdk_error("Query"))?;
            for item in output.items.unwrap_or_default() {
                records.push(decode::<IntervalRecord>(item)?);
            }
            let last = output.last_evaluated_key.filter(|key| !key.is_empty());
            match last {
                Some(last) if records.len() < limit => start = Some(last),
                Some(last) => {
                    let sk = match last.get("sk") {
                        Some(AttributeValue::S(sk)) => Some(sk.clone()),
                        _ => None,
                    };
                    return Ok((records, sk));
                }
                None => return Ok((records, None)),
            }
        }
    }
}

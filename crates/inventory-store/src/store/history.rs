//! Running intervals (`{account}#hist#{digest}`): opened and closed by the notifier from the
//! table's stream, read by digest.

use super::{decode, key, sdk_error, string, BatchWrite, Store, StoreError};
use crate::history::{IntervalPlace, IntervalRecord};
use crate::keys::{history_contexts_pk, history_contexts_sk, history_pk, index_shard, ItemKind, INDEX_SHARDS};
use crate::model::InventoryType;
use aws_sdk_dynamodb::types::AttributeValue;

/// A context that had an interval: listed by `history_contexts_with_prefix` and
/// `all_history_contexts`. One small item per context ever seen, with no expiry: an open
/// interval can outlast any retention.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct HistoryContext {
    pk: String,
    sk: String,
    kind: String,
    pub account: String,
    pub inventory_type: InventoryType,
    pub context: String,
}

impl HistoryContext {
    pub fn new(account: &str, inventory_type: InventoryType, context: &str) -> Self {
        Self {
            pk: history_contexts_pk(index_shard(context)),
            sk: history_contexts_sk(account, inventory_type, context),
            kind: ItemKind::HistoryContext.as_str().to_owned(),
            account: account.to_owned(),
            inventory_type,
            context: context.to_owned(),
        }
    }

    fn of(record: &IntervalRecord) -> Self {
        Self::new(&record.account, record.inventory_type, &record.context)
    }
}

/// The records `query` finds, or `None` when there are more than `most`: no page is read past
/// the one that holds the first record too many.
pub(super) async fn at_most<T: serde::de::DeserializeOwned>(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    most: usize,
) -> Result<Option<Vec<T>>, StoreError> {
    let mut items = query.into_paginator().items().send();
    let mut records = Vec::new();
    while let Some(item) = items.next().await {
        if records.len() == most {
            return Ok(None);
        }
        records.push(decode(item.map_err(sdk_error("Query"))?)?);
    }
    Ok(Some(records))
}

/// An opened interval's other items: its copy in its context's partition, ordered by its end, and
/// the context's entry in the list of contexts with history. Unconditional, so a burst's are
/// written together in batches.
pub fn interval_copies(record: &IntervalRecord) -> Vec<BatchWrite> {
    vec![
        BatchWrite::Put(super::encode(&HistoryContext::of(record))),
        BatchWrite::Put(super::encode(&record.in_context())),
    ]
}

impl Store {
    /// Opens an interval, in its digest's and its context's partitions, unless another is open
    /// there (`open_interval_record`).
    pub async fn open_interval(&self, record: &IntervalRecord, retention_days: u32) -> Result<(), StoreError> {
        if self.open_interval_record(record, retention_days).await? {
            self.batch_write(interval_copies(record)).await?;
        }
        Ok(())
    }

    /// Writes an interval's open record in its digest's partition, unless another is open there:
    /// one that started earlier was left by a lost close and is closed first, at this one's start
    /// (the latest it can have ended), so no copy of it shows the image running forever; one that
    /// started later wins over this late delivery (false: nothing to copy). A redelivered open
    /// writes the same record again. Its copies (`interval_copies`) are the caller's to write,
    /// before any close of the same place.
    pub async fn open_interval_record(&self, record: &IntervalRecord, retention_days: u32) -> Result<bool, StoreError> {
        let place = IntervalPlace {
            account: record.account.clone(),
            inventory_type: record.inventory_type,
            context: record.context.clone(),
            image_digest: record.image_digest.clone(),
        };
        // Each turn closes or yields to the open interval found; one more turn than that is a
        // concurrent open.
        for _ in 0..3 {
            if self.put_open(record).await? {
                return Ok(true);
            }
            match self.get::<IntervalRecord>(&place.pk(), &place.open_sk(), true).await? {
                Some(newer) if newer.from > record.from => return Ok(false),
                Some(_) => {
                    self.close_interval(&place, record.from, retention_days).await?;
                }
                None => {}
            }
        }
        Err(StoreError::ConditionFailed)
    }

    /// Writes an open interval unless another one is open at its key; false when one is.
    async fn put_open(&self, record: &IntervalRecord) -> Result<bool, StoreError> {
        let from = serde_dynamo::to_attribute_value(record.from).expect("times serialise");
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(super::encode(record)))
            .condition_expression("attribute_not_exists(pk) OR #from = :from")
            .expression_attribute_names("#from", "from")
            .expression_attribute_values(":from", from)
            .send()
            .await;
        match super::conditional("PutItem", written) {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The contexts of a type whose names start with `prefix` that ever had an interval kept.
    pub async fn history_contexts_with_prefix(
        &self,
        account: &str,
        inventory_type: InventoryType,
        prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        let listed = self.history_contexts(&history_contexts_sk(account, inventory_type, prefix)).await?;
        Ok(listed.into_iter().map(|listed| listed.context).collect())
    }

    /// Every context of every account that ever had an interval kept, in account, type and
    /// context order: what the daily export reads.
    pub async fn all_history_contexts(&self) -> Result<Vec<HistoryContext>, StoreError> {
        self.history_contexts("").await
    }

    async fn history_contexts(&self, sk_prefix: &str) -> Result<Vec<HistoryContext>, StoreError> {
        let shards = (0..INDEX_SHARDS).map(|shard| {
            let pk = history_contexts_pk(shard);
            async move { self.query_all(&pk, Some(sk_prefix)).await }
        });
        let mut listed: Vec<HistoryContext> =
            futures::future::try_join_all(shards).await?.into_iter().flatten().map(decode).collect::<Result<_, _>>()?;
        listed.sort_by(|a, b| a.sk.cmp(&b.sk));
        Ok(listed)
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
        let closed = open.closed(to, retention_days);
        self.put(&closed.in_context()).await?;
        self.put(&closed).await?;
        let open_in_context = open.in_context();
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&open_in_context.pk, &open_in_context.sk)))
            .send()
            .await
            .map_err(sdk_error("DeleteItem"))?;
        // Last: while it exists, a retry of this close finds the interval still to close.
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
        match super::conditional("DeleteItem", deleted) {
            // Reopened meanwhile (a later record of the same context): that interval stays open.
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(true),
            Err(error) => Err(error),
        }
    }

    /// The intervals of a context that ended at `at` or later, or still run: a superset of
    /// what ran there at `at` (the caller keeps those that had started). `None` when there are
    /// more than `most`: reading stops there.
    pub async fn context_intervals_ending_after(
        &self,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        at: chrono::DateTime<chrono::Utc>,
        most: usize,
    ) -> Result<Option<Vec<IntervalRecord>>, StoreError> {
        let pk = crate::keys::history_context_pk(account, inventory_type, context);
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk >= :end")
            .expression_attribute_values(":pk", string(&pk))
            .expression_attribute_values(":end", string(&crate::clock::format_time(at)));
        at_most(request, most).await
    }

    /// Deletes every interval of a context, from both partitions, and its entry in the list of
    /// contexts with history (data-removal requests). Answers how many intervals went.
    pub async fn delete_context_history(
        &self,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
    ) -> Result<usize, StoreError> {
        use crate::keys::{history_closed_sk, history_context_pk, history_open_sk};
        let pk = history_context_pk(account, inventory_type, context);
        let records: Vec<IntervalRecord> =
            self.query_all(&pk, None).await?.into_iter().map(decode).collect::<Result<_, _>>()?;
        let mut writes = Vec::with_capacity(records.len() * 2 + 1);
        for record in &records {
            let sk = match record.to {
                Some(_) => history_closed_sk(inventory_type, context, record.from),
                None => history_open_sk(inventory_type, context),
            };
            writes.push(BatchWrite::Delete { pk: history_pk(account, &record.image_digest), sk });
            writes.push(BatchWrite::Delete { pk: pk.clone(), sk: record.sk.clone() });
        }
        let listed = HistoryContext::new(account, inventory_type, context);
        writes.push(BatchWrite::Delete { pk: listed.pk, sk: listed.sk });
        self.batch_write(writes).await?;
        Ok(records.len())
    }

    /// Every interval of a digest; `None` when there are more than `most`: reading stops there.
    pub async fn all_intervals(
        &self,
        account: &str,
        digest: &str,
        most: usize,
    ) -> Result<Option<Vec<IntervalRecord>>, StoreError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", string(&history_pk(account, digest)));
        at_most(request, most).await
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

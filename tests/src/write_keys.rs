//! The item writes of a DynamoDB request (`item_writes`), and `WriteKeys`, which records the
//! partition key every item write lands on: the table's `pk`, and the key of each
//! index an item put carries (`context_pk`, `digest_pk`), so a test can see how a fleet's
//! writes spread over keys. A put that leaves an index key unchanged is counted as an index
//! write too, which overstates the indexes' share, never understates it.

use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{BeforeSerializationInterceptorContextRef, Input};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Item = HashMap<String, AttributeValue>;

/// The index attributes of the table, each recorded as `{index}:{value}`.
const INDEX_KEYS: [(&str, &str); 2] = [("context_pk", "contexts"), ("digest_pk", "digests")];

/// Writes per partition key: `pk` values as they are, index keys as `{index}:{value}`.
#[derive(Debug, Default, Clone)]
pub struct WriteKeys(Arc<Mutex<HashMap<String, u64>>>);

impl WriteKeys {
    pub fn counts(&self) -> HashMap<String, u64> {
        self.0.lock().unwrap().clone()
    }

    fn record_put(&self, item: &Item) {
        self.record_key(item);
        let mut counts = self.0.lock().unwrap();
        for (attribute, index) in INDEX_KEYS {
            if let Some(AttributeValue::S(value)) = item.get(attribute) {
                *counts.entry(format!("{index}:{value}")).or_default() += 1;
            }
        }
    }

    fn record_key(&self, key: &Item) {
        if let Some(AttributeValue::S(pk)) = key.get("pk") {
            *self.0.lock().unwrap().entry(pk.clone()).or_default() += 1;
        }
    }
}

impl Intercept for WriteKeys {
    fn name(&self) -> &'static str {
        "WriteKeys"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        for write in item_writes(context.input()) {
            match write {
                ItemWrite::Put(item) => self.record_put(item),
                ItemWrite::Key(key) => self.record_key(key),
            }
        }
        Ok(())
    }
}

/// One item a write request writes: a put with its item, or a delete or update by its key.
pub enum ItemWrite<'a> {
    Put(&'a Item),
    Key(&'a Item),
}

/// Every item write of a DynamoDB request (none for a read): single, batched or transacted.
pub fn item_writes(input: &Input) -> Vec<ItemWrite<'_>> {
    if let Some(put) = input.downcast_ref::<PutItemInput>() {
        put.item().map(ItemWrite::Put).into_iter().collect()
    } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
        delete.key().map(ItemWrite::Key).into_iter().collect()
    } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
        update.key().map(ItemWrite::Key).into_iter().collect()
    } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
        let requests = batch.request_items().into_iter().flat_map(HashMap::values).flatten();
        requests
            .filter_map(|request| match (request.put_request(), request.delete_request()) {
                (Some(put), _) => Some(ItemWrite::Put(put.item())),
                (None, Some(delete)) => Some(ItemWrite::Key(delete.key())),
                (None, None) => None,
            })
            .collect()
    } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
        let items = transaction.transact_items().iter();
        items
            .filter_map(|item| {
                item.put()
                    .map(|put| ItemWrite::Put(put.item()))
                    .or_else(|| item.delete().map(|delete| ItemWrite::Key(delete.key())))
                    .or_else(|| item.update().map(|update| ItemWrite::Key(update.key())))
            })
            .collect()
    } else {
        Vec::new()
    }
}

/// The largest share of `counts`' writes any one key took, and that key.
pub fn hottest(counts: &HashMap<String, u64>) -> (f64, String) {
    let total: u64 = counts.values().sum();
    let (key, most) =
        counts.iter().max_by_key(|(_, count)| **count).map_or((String::new(), 0), |(k, c)| (k.clone(), *c));
    (most as f64 / total.max(1) as f64, key)
}

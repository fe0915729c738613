//! Records the partition key every item write lands on: the table's `pk`, and the key of each
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
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
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
        let input = context.input();
        if let Some(put) = input.downcast_ref::<PutItemInput>() {
            self.record_put(put.item().unwrap_or(&Item::new()));
        } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
            self.record_key(delete.key().unwrap_or(&Item::new()));
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            self.record_key(update.key().unwrap_or(&Item::new()));
        } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
            for request in batch.request_items().into_iter().flat_map(HashMap::values).flatten() {
                if let Some(put) = request.put_request() {
                    self.record_put(put.item());
                } else if let Some(delete) = request.delete_request() {
                    self.record_key(delete.key());
                }
            }
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            for item in transaction.transact_items() {
                if let Some(put) = item.put() {
                    self.record_put(put.item());
                } else if let Some(delete) = item.delete() {
                    self.record_key(delete.key());
                } else if let Some(update) = item.update() {
                    self.record_key(update.key());
                }
            }
        }
        Ok(())
    }
}

/// The largest share of `counts`' writes any one key took, and that key.
pub fn hottest(counts: &HashMap<String, u64>) -> (f64, String) {
    let total: u64 = counts.values().sum();
    let (key, most) = counts.iter().max_by_key(|(_, count)| **count).map_or((String::new(), 0), |(k, c)| (k.clone(), *c));
    (most as f64 / total.max(1) as f64, key)
}

//! Batched writes and reads: 25 writes or 100 keys a request, what DynamoDB leaves unprocessed
//! sent again with jittered backoff.

use super::{backoff, key, sdk_error, Item, Store, StoreError, MAX_UNPROCESSED_RETRIES};
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use futures::{StreamExt, TryStreamExt};

/// DynamoDB's limit on requests per `BatchWriteItem`.
pub const BATCH_WRITE_LIMIT: usize = 25;
/// DynamoDB's limit on keys per `BatchGetItem`.
pub const BATCH_GET_LIMIT: usize = 100;

/// Sends a batch request, then what DynamoDB left unprocessed, with jittered backoff, until
/// nothing is left; answers the requests sent and the items the requests returned.
async fn until_processed<P, Sent>(
    mut pending: P,
    left: impl Fn(&P) -> usize,
    send: impl Fn(P) -> Sent,
) -> Result<(u64, Vec<Item>), StoreError>
where
    Sent: std::future::Future<Output = Result<(Vec<Item>, P), StoreError>>,
{
    let mut found = Vec::new();
    for attempt in 0..=MAX_UNPROCESSED_RETRIES {
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        let (items, rest) = send(pending).await?;
        found.extend(items);
        if left(&rest) == 0 {
            return Ok((u64::from(attempt) + 1, found));
        }
        tracing::warn!(unprocessed = left(&rest), attempt, "retrying unprocessed batch requests");
        pending = rest;
    }
    Err(StoreError::Unprocessed { count: left(&pending) })
}

/// A single write of a batch.
#[derive(Debug, Clone)]
pub enum BatchWrite {
    Put(Item),
    Delete { pk: String, sk: String },
}

impl BatchWrite {
    /// The item it writes or deletes: two writes of one key in one batch are refused.
    pub fn key(&self) -> Option<(String, String)> {
        match self {
            Self::Put(item) => super::item_key(item),
            Self::Delete { pk, sk } => Some((pk.clone(), sk.clone())),
        }
    }

    fn into_request(self) -> WriteRequest {
        match self {
            Self::Put(item) => WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().expect("item is set"))
                .build(),
            Self::Delete { pk, sk } => WriteRequest::builder()
                .delete_request(DeleteRequest::builder().set_key(Some(key(&pk, &sk))).build().expect("key is set"))
                .build(),
        }
    }
}

impl Store {
    /// Writes in 25-item batches with bounded concurrency; returns the requests sent.
    pub async fn batch_write(&self, writes: Vec<BatchWrite>) -> Result<u64, StoreError> {
        self.batch_write_guarded(writes, || Ok(())).await
    }

    /// As `batch_write`, asking `guard` before each batch is sent; its first error stops the
    /// writes not yet started.
    pub async fn batch_write_guarded<E: From<StoreError>>(
        &self,
        writes: Vec<BatchWrite>,
        guard: impl Fn() -> Result<(), E>,
    ) -> Result<u64, E> {
        let chunks: Vec<Vec<WriteRequest>> = writes
            .chunks(BATCH_WRITE_LIMIT)
            .map(|chunk| chunk.iter().cloned().map(BatchWrite::into_request).collect())
            .collect();
        let guard = &guard;
        futures::stream::iter(chunks)
            .map(|chunk| async move {
                guard()?;
                Ok::<_, E>(self.write_chunk(chunk).await?)
            })
            .buffer_unordered(self.write_concurrency)
            .try_fold(0, |total, requests| async move { Ok(total + requests) })
            .await
    }

    async fn write_chunk(&self, pending: Vec<WriteRequest>) -> Result<u64, StoreError> {
        let send = |pending| async move {
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(sdk_error("BatchWriteItem"))?;
            let rest = output.unprocessed_items.and_then(|mut tables| tables.remove(&self.table)).unwrap_or_default();
            Ok((Vec::new(), rest))
        };
        let (requests, _) = until_processed(pending, Vec::len, send).await?;
        Ok(requests)
    }

    /// The items at `keys` (`pk`, `sk`) that exist, in no particular order; 100 keys a request,
    /// unprocessed keys retried.
    pub async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<Item>, StoreError> {
        self.batch_get_fields(keys, None).await
    }

    /// `batch_get`, reading only `fields` of each item when given.
    pub async fn batch_get_fields(
        &self,
        keys: &[(String, String)],
        fields: Option<&[&str]>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        // Every name through a placeholder: some (`source`, `context`) are reserved words.
        let projection = fields.map(|fields| (0..fields.len()).map(|n| format!("#f{n}")).collect::<Vec<_>>().join(","));
        let names = fields
            .map(|fields| fields.iter().enumerate().map(|(n, name)| (format!("#f{n}"), name.to_string())).collect());
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|(pk, sk)| key(pk, sk)).collect()))
                .set_projection_expression(projection.clone())
                .set_expression_attribute_names(names.clone())
                .build()
                .expect("keys are set");
            let send = |pending| async move {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(sdk_error("BatchGetItem"))?;
                let items = output.responses.and_then(|mut tables| tables.remove(&self.table)).unwrap_or_default();
                let rest = output.unprocessed_keys.and_then(|mut tables| tables.remove(&self.table));
                let rest = rest.unwrap_or_else(|| {
                    KeysAndAttributes::builder().set_keys(Some(Vec::new())).build().expect("keys are set")
                });
                Ok((items, rest))
            };
            found.extend(until_processed(keys, |rest| rest.keys().len(), send).await?.1);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
    use aws_sdk_dynamodb::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn put(n: usize) -> BatchWrite {
        BatchWrite::Put(key("pk", &format!("sk{n}")))
    }

    #[tokio::test(start_paused = true)]
    async fn unprocessed_items_are_retried_until_written() {
        let unprocessed = WriteRequest::builder()
            .put_request(PutRequest::builder().set_item(Some(key("pk", "sk0"))).build().unwrap())
            .build();
        let rule = mock!(Client::batch_write_item)
            .sequence()
            .output(move || {
                BatchWriteItemOutput::builder().unprocessed_items("table", vec![unprocessed.clone()]).build()
            })
            .times(2)
            .output(|| BatchWriteItemOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        let store = Store::new(client, "table");
        let requests = store.batch_write((0..3).map(put).collect()).await.unwrap();
        assert_eq!(requests, 3);
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_that_never_succeed_are_an_error() {
        let unprocessed = WriteRequest::builder()
            .put_request(PutRequest::builder().set_item(Some(key("pk", "sk0"))).build().unwrap())
            .build();
        let throttled = mock!(Client::batch_write_item)
            .sequence()
            .output(move || {
                BatchWriteItemOutput::builder().unprocessed_items("table", vec![unprocessed.clone()]).build()
            })
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&throttled]);
        let error = Store::new(client, "table").batch_write(vec![put(0)]).await.unwrap_err();
        assert!(matches!(error, StoreError::Unprocessed { count: 1 }));
        assert_eq!(throttled.num_calls(), MAX_UNPROCESSED_RETRIES as usize + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn unprocessed_keys_are_read_again() {
        let item = key("pk", "sk1");
        let (first, second) = (item.clone(), item.clone());
        let rule = mock!(Client::batch_get_item)
            .sequence()
            .output(move || {
                let unprocessed = KeysAndAttributes::builder().keys(key("pk", "sk1")).build().unwrap();
                BatchGetItemOutput::builder()
                    .responses("table", vec![key("pk", "sk0")])
                    .unprocessed_keys("table", unprocessed)
                    .build()
            })
            .output(move || BatchGetItemOutput::builder().responses("table", vec![first.clone()]).build())
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        let keys = [("pk".to_owned(), "sk0".to_owned()), ("pk".to_owned(), "sk1".to_owned())];
        let found = Store::new(client, "table").batch_get(&keys).await.unwrap();
        assert_eq!((found.len(), rule.num_calls()), (2, 2));
        assert!(found.contains(&second));
    }

    #[tokio::test]
    async fn large_writes_are_split_into_batches_of_25() {
        let accepted = mock!(Client::batch_write_item)
            .match_requests(|request| {
                request.request_items().and_then(|items| items.get("table")).is_some_and(|writes| writes.len() <= 25)
            })
            .sequence()
            .output(|| BatchWriteItemOutput::builder().build())
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&accepted]);
        let requests = Store::new(client, "table").batch_write((0..60).map(put).collect()).await.unwrap();
        assert_eq!((requests, accepted.num_calls()), (3, 3));
    }

    /// Issue 32, item 6: an item past DynamoDB's 400 KB is refused with `ValidationException`,
    /// which retrying repeats: the caller answers 4xx for it, not 503 again and again.
    #[tokio::test]
    async fn a_request_dynamodb_refuses_is_told_apart_from_a_failure() {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;
        let refused = mock!(Client::batch_write_item).then_error(|| {
            let metadata = ErrorMetadata::builder()
                .code("ValidationException")
                .message("Item size has exceeded the maximum allowed size")
                .build();
            BatchWriteItemError::generic(metadata)
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&refused]);
        let error = Store::new(client, "table").batch_write(vec![put(0)]).await.unwrap_err();
        assert!(matches!(error, StoreError::Refused { operation: "BatchWriteItem", .. }), "{error:?}");
    }
}

//! Feeds the table's DynamoDB stream (read from moto) to the notifier, as Lambda's event
//! source mapping would, and wires an EventBridge bus to an SQS queue so firing can be watched.

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use std::collections::HashMap;
use std::time::Duration;

pub const LOCAL_BUS: &str = "runtime-inventory";
pub const LOCAL_QUEUE: &str = "runtime-inventory-scheduled";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The stream ARN of `table`.
pub async fn stream_arn(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<String, Error> {
    let output = dynamodb.describe_table().table_name(table).send().await?;
    output
        .table()
        .and_then(|table| table.latest_stream_arn())
        .map(str::to_owned)
        .ok_or_else(|| format!("table {table} has no stream").into())
}

/// Converts stream records to the event Lambda delivers for them.
pub fn lambda_event(records: &[Record], stream_arn: &str) -> Result<Event, Error> {
    let image = |map: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        map.map(|map| serde_json::to_value(serde_dynamo::Item::from(map.clone()))).transpose()
    };
    let records = records
        .iter()
        .map(|record| {
            let change = record.dynamodb();
            Ok(serde_json::json!({
                "eventID": record.event_id(),
                "eventName": record.event_name().map(|name| name.as_str()),
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": crate::LOCAL_REGION,
                "eventSourceARN": stream_arn,
                "dynamodb": {
                    "ApproximateCreationDateTime": change.and_then(|c| c.approximate_creation_date_time()).map(|t| t.as_secs_f64()),
                    "Keys": image(change.and_then(|c| c.keys.as_ref()))?,
                    "NewImage": image(change.and_then(|c| c.new_image.as_ref()))?,
                    "OldImage": image(change.and_then(|c| c.old_image.as_ref()))?,
                    "SequenceNumber": change.and_then(|c| c.sequence_number()),
                    "SizeBytes": change.and_then(|c| c.size_bytes()).unwrap_or_default(),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                }
            }))
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    Ok(serde_json::from_value(serde_json::json!({ "Records": records }))?)
}

/// Reads a stream shard by shard, remembering where each one is.
pub struct StreamReader {
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    iterators: HashMap<String, Option<String>>,
}

impl StreamReader {
    pub fn new(streams: aws_sdk_dynamodbstreams::Client, stream_arn: String) -> Self {
        Self { streams, stream_arn, iterators: HashMap::new() }
    }

    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// Every record written since the last call.
    pub async fn read_new(&mut self) -> Result<Vec<Record>, Error> {
        let description = self.streams.describe_stream().stream_arn(&self.stream_arn).send().await?;
        for shard in description.stream_description().map(|d| d.shards()).unwrap_or_default() {
            let Some(shard_id) = shard.shard_id() else { continue };
            if !self.iterators.contains_key(shard_id) {
                let iterator = self
                    .streams
                    .get_shard_iterator()
                    .stream_arn(&self.stream_arn)
                    .shard_id(shard_id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await?;
                self.iterators.insert(shard_id.to_owned(), iterator.shard_iterator().map(str::to_owned));
            }
        }
        let mut records = Vec::new();
        for iterator in self.iterators.values_mut() {
            let Some(current) = iterator.clone() else { continue };
            let output = self.streams.get_records().shard_iterator(current).send().await?;
            records.extend(output.records().iter().cloned());
            *iterator = output.next_shard_iterator().map(str::to_owned);
        }
        Ok(records)
    }
}

/// Creates the local bus, a queue, and a rule sending every notifier event to the queue.
/// Returns the queue URL.
pub async fn wire_bus_to_queue(
    events: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    bus: &str,
    queue: &str,
) -> Result<String, Error> {
    events.create_event_bus().name(bus).send().await?;
    let queue_url = sqs.create_queue().queue_name(queue).send().await?.queue_url().unwrap_or_default().to_owned();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?;
    let queue_arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    let pattern = serde_json::json!({ "source": [inventory::notify::EVENT_SOURCE] });
    events.put_rule().name("scheduled-images").event_bus_name(bus).event_pattern(pattern.to_string()).send().await?;
    events
        .put_targets()
        .rule("scheduled-images")
        .event_bus_name(bus)
        .targets(aws_sdk_eventbridge::types::Target::builder().id("queue").arn(queue_arn).build()?)
        .send()
        .await?;
    Ok(queue_url)
}

/// Drains the queue: the EventBridge events delivered so far.
pub async fn receive_all(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<Vec<serde_json::Value>, Error> {
    let mut received = Vec::new();
    loop {
        let output = sqs.receive_message().queue_url(queue_url).max_number_of_messages(10).send().await?;
        let messages = output.messages();
        if messages.is_empty() {
            return Ok(received);
        }
        for message in messages {
            received.push(serde_json::from_str(message.body().unwrap_or("null"))?);
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message().queue_url(queue_url).receipt_handle(handle).send().await?;
            }
        }
    }
}

/// Polls the stream and feeds new records to the notifier until the task is dropped.
pub async fn run(mut reader: StreamReader, notifier: &notifier::NotifierApp, every: Duration) {
    loop {
        match reader.read_new().await {
            Ok(records) if !records.is_empty() => match lambda_event(&records, reader.stream_arn()) {
                Ok(event) => {
                    let lambda = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
                    match notifier.handle(lambda).await {
                        Ok(response) if !response.batch_item_failures.is_empty() => {
                            tracing::warn!(failures = response.batch_item_failures.len(), "notifier reported failures")
                        }
                        Ok(_) => {}
                        Err(error) => tracing::error!(%error, "notifier failed"),
                    }
                }
                Err(error) => tracing::error!(%error, "stream records could not be converted"),
            },
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reading the stream failed"),
        }
        tokio::time::sleep(every).await;
    }
}

//! Feeds the table's DynamoDB stream (read from moto) to the notifier, as Lambda's event
//! source mapping would, and wires an EventBridge bus to an SQS queue so firing can be watched.

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use std::collections::HashMap;
use std::time::Duration;

/// `GetRecords` pages one `read_new` reads from a shard (each up to 1,000 records).
const MAX_PAGES_PER_READ: usize = 100;

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
                // Set on the deletes of DynamoDB's TTL service.
                "userIdentity": record.user_identity().map(|identity| serde_json::json!({
                    "type": identity.r#type(), "principalId": identity.principal_id()
                })),
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

/// Reads a stream shard by shard, remembering the last record read in each.
///
/// Each read asks for a fresh iterator after that record (`AFTER_SEQUENCE_NUMBER`) instead of
/// following `NextShardIterator` forever: when a `TransactWriteItems` fails, moto restores a copy
/// of the whole table, stream included, and a chained iterator keeps reading the dead copy.
pub struct StreamReader {
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Per shard, the sequence number of the last record read (none: read from the start).
    positions: HashMap<String, Option<String>>,
    /// What the last read returned per shard, to resume from a failed record.
    last_read: Vec<ShardRead>,
}

struct ShardRead {
    shard_id: String,
    position_before: Option<String>,
    sequences: Vec<String>,
}

impl StreamReader {
    pub fn new(streams: aws_sdk_dynamodbstreams::Client, stream_arn: String) -> Self {
        Self { streams, stream_arn, positions: HashMap::new(), last_read: Vec::new() }
    }

    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// Every record written since the last call.
    pub async fn read_new(&mut self) -> Result<Vec<Record>, Error> {
        let description = self.streams.describe_stream().stream_arn(&self.stream_arn).send().await?;
        for shard in description.stream_description().map(|d| d.shards()).unwrap_or_default() {
            if let Some(shard_id) = shard.shard_id() {
                self.positions.entry(shard_id.to_owned()).or_default();
            }
        }
        let mut records = Vec::new();
        self.last_read.clear();
        for (shard_id, position) in &mut self.positions {
            let request = self.streams.get_shard_iterator().stream_arn(&self.stream_arn).shard_id(shard_id);
            let request = match position.as_deref() {
                Some(sequence) => {
                    request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(sequence)
                }
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let mut iterator = request.send().await?.shard_iterator().map(str::to_owned);
            let mut shard_records = Vec::new();
            // Bounded: a shard that keeps answering records is read on by the next call (from
            // the last sequence read), never in one call that does not return.
            for _ in 0..MAX_PAGES_PER_READ {
                let Some(current) = iterator.take() else { break };
                let output = self.streams.get_records().shard_iterator(current).send().await?;
                if output.records().is_empty() {
                    break;
                }
                shard_records.extend(output.records().iter().cloned());
                iterator = output.next_shard_iterator().map(str::to_owned);
            }
            let sequences: Vec<String> = shard_records
                .iter()
                .filter_map(|record| Some(record.dynamodb()?.sequence_number()?.to_owned()))
                .collect();
            if let Some(last) = sequences.last() {
                let position_before = position.replace(last.clone());
                self.last_read.push(ShardRead { shard_id: shard_id.clone(), position_before, sequences });
            }
            records.extend(shard_records);
        }
        Ok(records)
    }

    /// The next read starts again at the record `sequence` of the last read (and its shard's
    /// later records), as Lambda does after a batch item failure.
    pub fn resume_from(&mut self, sequence: &str) {
        for read in &self.last_read {
            if let Some(index) = read.sequences.iter().position(|known| known == sequence) {
                let position = index.checked_sub(1).map(|before| read.sequences[before].clone());
                self.positions.insert(read.shard_id.clone(), position.or_else(|| read.position_before.clone()));
            }
        }
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
    let pattern = serde_json::json!({ "source": [inventory_store::bus::EVENT_SOURCE] });
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

/// Polls the stream and feeds new records to the notifier until the task is dropped. A failed
/// record is read again on the next poll; a table that changes while its stream stays silent is
/// reported, since the notifier would then silently miss images.
pub async fn run(
    mut reader: StreamReader,
    notifier: &notifier::NotifierApp,
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    every: Duration,
) {
    let mut watch = StallWatch::default();
    loop {
        match reader.read_new().await {
            Ok(records) if !records.is_empty() => {
                watch.delivered();
                match lambda_event(&records, reader.stream_arn()) {
                    Ok(event) => {
                        let response = notifier.stream(event).await;
                        if let Some(sequence) =
                            response.batch_item_failures.first().and_then(|failure| failure.item_identifier.clone())
                        {
                            tracing::warn!(%sequence, "notifier reported a failed record; reading it again");
                            reader.resume_from(&sequence);
                        }
                    }
                    Err(error) => tracing::error!(%error, "stream records could not be converted"),
                }
            }
            Ok(_) => watch.quiet(dynamodb, table).await,
            Err(error) => tracing::warn!(%error, "reading the stream failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Notices a table whose item count changes while its stream delivers nothing.
#[derive(Default)]
struct StallWatch {
    quiet_polls: u32,
    item_count: Option<i64>,
}

impl StallWatch {
    /// Polls between item-count checks.
    const CHECK_EVERY: u32 = 10;

    fn delivered(&mut self) {
        self.quiet_polls = 0;
        self.item_count = None;
    }

    async fn quiet(&mut self, dynamodb: &aws_sdk_dynamodb::Client, table: &str) {
        self.quiet_polls += 1;
        if self.quiet_polls % Self::CHECK_EVERY != 0 {
            return;
        }
        let Ok(output) = dynamodb.describe_table().table_name(table).send().await else { return };
        let count = output.table().and_then(|table| table.item_count());
        if let (Some(before), Some(now)) = (self.item_count, count) {
            if before != now {
                tracing::warn!(
                    table,
                    items_before = before,
                    items_now = now,
                    quiet_polls = self.quiet_polls,
                    "the table changed but its stream delivered nothing; subscriptions may be missing images"
                );
            }
        }
        self.item_count = count;
    }
}

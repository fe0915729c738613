//! The event bus: every event this service puts on EventBridge, its source and detail types, and
//! how a `PutEvents` batch is sent and its partial failures read.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

/// Environment variable naming the bus events go to (the notifier's and the coverage check's).
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
/// The bus used when `EVENT_BUS_NAME` is unset: the account's default bus.
pub const DEFAULT_EVENT_BUS: &str = "default";

/// `EVENT_BUS_NAME`, or the default bus when it is unset or empty.
pub fn event_bus(lookup: impl Fn(&str) -> Option<String>) -> String {
    inventory_runtime::config::value(lookup, EVENT_BUS_NAME).unwrap_or_else(|| DEFAULT_EVENT_BUS.to_owned())
}
/// The `source` of every event this service puts.
pub const EVENT_SOURCE: &str = "runtime-inventory";
/// A new image in a context, once per subscription that watches it (the notifier).
pub const SCHEDULED_DETAIL_TYPE: &str = "Runtime Inventory Image Scheduled";
/// An image entered a context (the notifier).
pub const ADDED_DETAIL_TYPE: &str = "Runtime Inventory Image Added";
/// An image left a context, with why (the notifier).
pub const REMOVED_DETAIL_TYPE: &str = "Runtime Inventory Image Removed";
/// An image with findings at or above the exposure threshold runs in a context.
pub const VULNERABLE_DETAIL_TYPE: &str = "Runtime Inventory Vulnerable Image Running";
/// An image carrying a vulnerability CISA lists as exploited runs in a context (docs/events.md).
pub const KEV_RUNNING_DETAIL_TYPE: &str = "Runtime Inventory Known Exploited Vulnerability Running";
/// A running vulnerability's fix is past its due date (docs/events.md).
pub const OVERDUE_DETAIL_TYPE: &str = "Runtime Inventory Vulnerability Overdue";
/// An image carrying a package a watch looks for runs in a context (once per watch and place).
pub const WATCHED_PACKAGE_DETAIL_TYPE: &str = "Runtime Inventory Watched Package Running";
/// A VEX annotation reached its expiry and stopped applying (once per annotation).
pub const VEX_EXPIRED_DETAIL_TYPE: &str = "Runtime Inventory VEX Annotation Expired";
/// The detail type of the worklist check's schedule (the template's rule sends it as a constant
/// input to the notifier).
pub const WORKLIST_CHECK_DETAIL_TYPE: &str = "Worklist Check";
/// A cluster stopped reporting (the coverage check).
pub const STALE_DETAIL_TYPE: &str = "Runtime Inventory Cluster Stale";
/// A stale cluster reports again (the coverage check).
pub const RECOVERED_DETAIL_TYPE: &str = "Runtime Inventory Cluster Recovered";

/// Entries one `PutEvents` request takes.
const PUT_EVENTS_LIMIT: usize = 10;

/// One event to put: its detail type and its `detail` as JSON text.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub detail_type: &'a str,
    pub detail: &'a str,
}

/// Why an event was not put.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    /// Its request failed as a whole (the events of other requests may have been put).
    #[error("EventBridge PutEvents failed: {0}")]
    NotSent(String),
    /// EventBridge took the request and refused this entry (an entry without a result too).
    #[error("EventBridge rejected the event: {code}: {message}")]
    Rejected { code: String, message: String },
}

#[derive(Clone)]
pub struct Bus {
    client: aws_sdk_eventbridge::Client,
    name: String,
}

impl Bus {
    pub fn new(client: aws_sdk_eventbridge::Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    /// Puts `events`, `PUT_EVENTS_LIMIT` a request, and answers each one's fate in order.
    pub async fn put(&self, events: &[Event<'_>]) -> Vec<Result<(), Failure>> {
        let mut fates = Vec::with_capacity(events.len());
        for chunk in events.chunks(PUT_EVENTS_LIMIT) {
            let entries = chunk.iter().map(|event| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.name)
                    .source(EVENT_SOURCE)
                    .detail_type(event.detail_type)
                    .detail(event.detail)
                    .build()
            });
            let output = match self.client.put_events().set_entries(Some(entries.collect())).send().await {
                Ok(output) => output,
                Err(error) => {
                    let error = aws_sdk_eventbridge::error::DisplayErrorContext(error).to_string();
                    fates.extend(chunk.iter().map(|_| Err(Failure::NotSent(error.clone()))));
                    continue;
                }
            };
            let results = output.entries();
            fates.extend((0..chunk.len()).map(|index| match results.get(index) {
                Some(result) if result.error_code().is_none() => Ok(()),
                Some(result) => Err(Failure::Rejected {
                    code: result.error_code().unwrap_or("?").to_owned(),
                    message: result.error_message().unwrap_or_default().to_owned(),
                }),
                None => Err(Failure::Rejected {
                    code: "NoResult".to_owned(),
                    message: "no result for the entry".to_owned(),
                }),
            }));
        }
        fates
    }
}

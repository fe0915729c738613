//! The notifier with the table's stream as input and a bus of the test's own as output, whose
//! events land in a queue the test reads.

use crate::harness::Harness;
use crate::interceptors::FailNth;
use crate::moto::moto_config;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use inventory_runtime::Sdk;
use local_stack::LocalEnvironment;
use serde_json::Value;

pub struct Notifications {
    pub app: notifier::NotifierApp,
    reader: local_stack::stream::StreamReader,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    bus: String,
}

impl Notifications {
    pub(crate) async fn new(harness: &Harness) -> Self {
        let config = moto_config().await;
        let events = aws_sdk_eventbridge::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let bus = format!("bus-{}", harness.table);
        let queue_url =
            local_stack::stream::wire_bus_to_queue(&events, &sqs, &bus, &format!("queue-{}", harness.table))
                .await
                .expect("bus wired to a queue");
        let stream_arn = local_stack::stream::stream_arn(&harness.dynamodb, &harness.table).await.expect("stream");
        let reader = local_stack::stream::StreamReader::new(aws_sdk_dynamodbstreams::Client::new(&config), stream_arn);
        let app = notifier_on(&bus, harness, harness.sdk_for("notifier"), &[]);
        Self { app, reader, sqs, queue_url, bus }
    }

    /// A notifier on this bus built with `sdk`, `variables` set beside the harness's.
    pub fn notifier(&self, harness: &Harness, sdk: Sdk, variables: &[(&'static str, &str)]) -> notifier::NotifierApp {
        notifier_on(&self.bus, harness, sdk, variables)
    }

    /// Another notifier on the same bus whose clients also run `interceptor`.
    pub fn notifier_with(&self, harness: &Harness, interceptor: impl Intercept + 'static) -> notifier::NotifierApp {
        self.notifier(harness, harness.sdk_for("notifier").with_interceptor(interceptor), &[])
    }

    /// Hands a batch to `app` as Lambda would.
    pub async fn deliver_to(
        app: &notifier::NotifierApp,
        event: aws_lambda_events::event::dynamodb::Event,
    ) -> aws_lambda_events::event::streams::DynamoDbEventResponse {
        app.stream(event).await
    }

    /// The stream records written since the last call, as Lambda delivers them.
    pub async fn next_event(&mut self) -> aws_lambda_events::event::dynamodb::Event {
        let records = self.reader.read_new().await.expect("stream records");
        local_stack::stream::lambda_event(&records, self.reader.stream_arn()).expect("a Lambda stream event")
    }

    pub async fn deliver(
        &self,
        event: aws_lambda_events::event::dynamodb::Event,
    ) -> aws_lambda_events::event::streams::DynamoDbEventResponse {
        Self::deliver_to(&self.app, event).await
    }

    /// The `detail` of every scheduled-for-analysis event the bus delivered since the last call
    /// (other events delivered meanwhile are dropped).
    pub async fn fired(&self) -> Vec<Value> {
        let events = self.received().await.into_iter();
        events
            .filter(|event| event["detail-type"] == inventory_store::bus::SCHEDULED_DETAIL_TYPE)
            .map(|e| e["detail"].clone())
            .collect()
    }

    /// The (context, vulnerability) of each Vulnerable Image Running event the bus delivered
    /// since the last call, sorted.
    pub async fn vulnerable_running(&self) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = self
            .received()
            .await
            .iter()
            .filter(|event| event["detail-type"] == inventory_store::bus::VULNERABLE_DETAIL_TYPE)
            .map(|event| {
                let detail = &event["detail"];
                let field = |name: &str| detail[name].as_str().unwrap_or_default().to_owned();
                (field("context"), field("vulnerability_id"))
            })
            .collect();
        found.sort();
        found
    }

    /// Every event the bus delivered since the last call, whole.
    pub async fn received(&self) -> Vec<Value> {
        local_stack::stream::receive_all(&self.sqs, &self.queue_url).await.expect("queue")
    }

    /// The coverage check putting to this bus, held to its policy; `fail` also runs on its clients.
    pub fn coverage_check(&self, harness: &Harness, fail: Option<FailNth>) -> coverage_check::CoverageCheckApp {
        let sdk = harness.sdk_for("coverage-check");
        let sdk = match fail {
            Some(fail) => sdk.with_interceptor(fail),
            None => sdk,
        };
        let environment = environment_of(&self.bus, harness);
        let config = coverage_check::Config::from_lookup(|name| environment.lookup(name)).expect("its config");
        coverage_check::CoverageCheckApp::build(&sdk, config, harness.clock.clone())
    }
}

/// What the template would set for the functions putting to `bus`.
fn environment_of(bus: &str, harness: &Harness) -> LocalEnvironment {
    harness
        .environment()
        .set(inventory_store::bus::EVENT_BUS_NAME, bus)
        .set(notifier::API_URL, Harness::NOTIFIER_API_URL)
}

fn notifier_on(bus: &str, harness: &Harness, sdk: Sdk, variables: &[(&'static str, &str)]) -> notifier::NotifierApp {
    let environment =
        variables.iter().fold(environment_of(bus, harness), |environment, (name, value)| environment.set(name, *value));
    let config = notifier::Config::from_lookup(|name| environment.lookup(name)).expect("the notifier's config");
    notifier::NotifierApp::build(&sdk, config, harness.clock.clone())
}

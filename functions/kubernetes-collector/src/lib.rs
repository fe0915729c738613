//! Kubernetes collector: the embedded mode. On a schedule, reads every configured cluster (and,
//! with `EKS_CLUSTERS`, EKS clusters with an IAM token) through the Kubernetes API and stores
//! each as a `k8s-inventory` report would be stored, under the source `embedded`.

pub mod access;
pub mod config;
pub mod eks;
pub mod order;
pub mod read;
pub mod run;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use config::{EksClusters, KubernetesConfig, CREDENTIALS_KEY};
use eks::EksTarget;
use inventory_runtime::{ConfigError, EventFunction, Sdk};
use inventory_store::{Clock, Ingestor, Settings, Store};
use lambda_runtime::{Error, LambdaEvent};
use run::{KubernetesCollector, RunSummary};
use std::sync::Arc;

const SESSION_NAME: &str = "runtime-inventory-kubernetes-collector";

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub kubernetes: KubernetesConfig,
    /// The KMS key cluster credentials' data keys were made under.
    pub credentials_key: String,
}

impl Config {
    /// `own_region`: the function's, where EKS clusters are found when `COLLECTOR_REGIONS` is empty.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, own_region: Option<&str>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::from_lookup(&lookup)?,
            kubernetes: KubernetesConfig::from_lookup(&lookup, own_region)?,
            credentials_key: inventory_runtime::config::value(&lookup, CREDENTIALS_KEY)
                .ok_or(ConfigError::missing(CREDENTIALS_KEY))?,
        })
    }
}

pub struct KubernetesCollectorApp {
    collector: KubernetesCollector,
}

impl KubernetesCollectorApp {
    /// The function as `main`, the local stack and the test harness run it: the store, the KMS
    /// client, and the EKS clients of every configured region and role when EKS clusters are read.
    pub async fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        let ingestor = Ingestor::new(store.clone(), config.settings, Arc::clone(&clock));
        let kubernetes = config.kubernetes;
        let eks_targets =
            if kubernetes.eks == EksClusters::None { Vec::new() } else { eks_targets(sdk, &kubernetes).await };
        let kms = inventory_runtime::client!(sdk, aws_sdk_kms);
        let own_credentials = sdk.config().credentials_provider();
        let collector = KubernetesCollector::new(
            store,
            ingestor,
            kms,
            config.credentials_key,
            kubernetes,
            eks_targets,
            own_credentials,
            clock,
        );
        Self { collector }
    }

    /// The collector the function runs (tests drive its parts).
    pub fn collector(&self) -> &KubernetesCollector {
        &self.collector
    }

    /// One run, logged as one structured summary; `deadline` is when the invocation ends (none:
    /// no limit).
    pub async fn run(&self, deadline: Option<DateTime<Utc>>) -> RunSummary {
        let summary = self.collector.run(deadline).await;
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "kubernetes collector run finished");
        summary
    }
}

impl EventFunction for KubernetesCollectorApp {
    type Event = EventBridgeEvent;
    type Response = RunSummary;

    /// A run fails (so the function's error metric shows it) only when clusters were to be read
    /// and none was stored.
    async fn handle(&self, event: LambdaEvent<EventBridgeEvent>) -> Result<RunSummary, Error> {
        let deadline = inventory_runtime::run::invocation_end(&event.context);
        let summary = self.run(deadline).await;
        let errors = summary.errors.iter().map(|error| error.message.as_str());
        if let Some(failure) = inventory_runtime::run::failed_run("cluster collected", errors, summary.clusters_stored)
        {
            return Err(failure.into());
        }
        Ok(summary)
    }
}

/// One EKS client per configured (role, region).
pub async fn eks_targets(sdk: &Sdk, config: &KubernetesConfig) -> Vec<EksTarget> {
    let places = config.scope.places(sdk.config(), SESSION_NAME).await;
    places
        .into_iter()
        .map(|place| {
            let client = inventory_runtime::client!(sdk, aws_sdk_eks, |builder| {
                let builder = builder.region(aws_config::Region::new(place.region.clone()));
                match place.credentials.clone() {
                    Some(credentials) => builder.credentials_provider(credentials),
                    None => builder,
                }
            });
            EksTarget { place, client }
        })
        .collect()
}

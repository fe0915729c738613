//! Kubernetes collector: the embedded mode. On a schedule, reads every configured cluster (and,
//! with `EKS_CLUSTERS`, EKS clusters with an IAM token) through the Kubernetes API and stores
//! each as a `k8s-inventory` report would be stored, under the source `embedded`.

pub mod access;
pub mod eks;
pub mod order;
pub mod read;
pub mod run;
pub mod settings;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use eks::EksTarget;
use inventory::{Clock, Ingestor, SystemClock};
use lambda_runtime::{Error, LambdaEvent};
use run::{KubernetesCollector, RunSummary};
use settings::{CollectorSettings, EksClusters, CREDENTIALS_KEY};
use std::sync::Arc;

const SESSION_NAME: &str = "runtime-inventory-kubernetes-collector";

pub struct KubernetesCollectorApp {
    collector: KubernetesCollector,
}

impl KubernetesCollectorApp {
    pub fn new(collector: KubernetesCollector) -> Self {
        Self { collector }
    }

    /// Builds the store, the KMS and EKS clients and the settings from the environment.
    pub async fn from_env() -> Result<Self, Error> {
        let sdk_config = inventory::sdk_config().await;
        let (store, library_settings) = inventory::store_from_env().await?;
        let own_region = sdk_config.region().map(|region| region.as_ref().to_owned());
        let settings = CollectorSettings::from_lookup(|key| std::env::var(key).ok(), own_region.as_deref())?;
        let key_id = std::env::var(CREDENTIALS_KEY).map_err(|_| format!("{CREDENTIALS_KEY} must be set"))?;
        let eks_targets =
            if settings.eks == EksClusters::None { Vec::new() } else { eks_targets(&sdk_config, &settings).await };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ingestor = Ingestor::new(store.clone(), library_settings, Arc::clone(&clock));
        let kms = aws_sdk_kms::Client::new(&sdk_config);
        let own_credentials = sdk_config.credentials_provider();
        Ok(Self::new(KubernetesCollector::new(
            store,
            ingestor,
            kms,
            key_id,
            settings,
            eks_targets,
            own_credentials,
            clock,
        )))
    }

    /// One run, logged as one structured summary. It fails (so the function's error metric
    /// shows it) only when clusters were to be read and none was stored.
    pub async fn handle(&self, event: LambdaEvent<EventBridgeEvent>) -> Result<RunSummary, Error> {
        let deadline = (event.context.deadline > 0).then(|| DateTime::<Utc>::from(event.context.deadline()));
        let summary = self.collector.run(deadline).await;
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "kubernetes collector run finished");
        let errors = summary.errors.iter().map(|error| error.message.as_str());
        if let Some(failure) = inventory::failed_run("cluster collected", errors, summary.clusters_stored) {
            return Err(failure.into());
        }
        Ok(summary)
    }
}

/// One EKS client per configured (role, region).
pub async fn eks_targets(sdk_config: &aws_config::SdkConfig, settings: &CollectorSettings) -> Vec<EksTarget> {
    let places = settings.scope.places(sdk_config, SESSION_NAME).await;
    places
        .into_iter()
        .map(|place| {
            let mut builder =
                aws_sdk_eks::config::Builder::from(sdk_config).region(aws_config::Region::new(place.region.clone()));
            if let Some(credentials) = place.credentials.clone() {
                builder = builder.credentials_provider(credentials);
            }
            EksTarget { place, client: aws_sdk_eks::Client::from_conf(builder.build()) }
        })
        .collect()
}

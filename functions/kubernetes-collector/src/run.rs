//! One run: every configured cluster and every EKS cluster, a bounded number at a time, each
//! within its own deadline. A cluster is stored only when read whole; its configuration (or
//! its EKS collection state) records how the run went either way.

use crate::access::{ClusterAccess, Credential};
use crate::config::KubernetesConfig;
use crate::eks::{find_clusters, iam_token, EksCluster, EksError, EksTarget};
use crate::order::{collection_order, Scheduled};
use crate::read::{ClusterRead, Namespaces, Reader};
use aws_credential_types::provider::ProvideCredentials;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use inventory_store::clock::{format_time, Deadline};
use inventory_store::cluster_config::envelope;
use inventory_store::cluster_config::{
    encryption_context, ClusterConfigRecord, CredentialType, EksCollectionRecord, LastCollection,
};
use inventory_store::keys::{eks_collection_sk, ItemKind, EKS_COLLECTIONS_PK};
use inventory_store::limits::MAX_COLLECTION_ERROR_CHARS;
use inventory_store::logging::error_chain;
use inventory_store::report::kubernetes_api::agent_report;
use inventory_store::report::{parse_collected_kubernetes, ContextReport, ContextSnapshot};
use inventory_store::store::StoreError;
use inventory_store::{Clock, Ingestor, Store};
use secrecy::SecretString;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A cluster with less time than this left is not started.
const MIN_CLUSTER_TIME: Duration = Duration::from_secs(5);

/// `last_collection.status` of a cluster stored this run.
pub const STORED: &str = "stored";
/// `last_collection.status` of a cluster not stored this run (what was stored before stays).
pub const FAILED: &str = "failed";
/// `last_collection.status` of a cluster the run did not read: its time ran out first, or the
/// account has more configurations than `KubernetesClustersPerAccount`. The time and counts are
/// the last collection's, so the cluster is read first next run.
pub const SKIPPED: &str = "skipped";

/// A cluster the run failed to collect.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ClusterError {
    pub account: String,
    pub cluster: String,
    pub message: String,
}

/// What one run did; logged once and returned as the function result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub started_at: String,
    pub duration_ms: i64,
    pub clusters: usize,
    pub clusters_stored: usize,
    pub contexts: usize,
    /// Contexts of a stored cluster's previous collection that it no longer has.
    pub contexts_departed: usize,
    pub containers: usize,
    /// Requests to Kubernetes API servers.
    pub kubernetes_requests: u64,
    pub write_requests: u64,
    pub errors: Vec<ClusterError>,
    /// Clusters left for the next run: the Lambda deadline was near, or the account has more
    /// than `KubernetesClustersPerAccount`.
    pub skipped: Vec<String>,
}

/// A cluster to collect, and where its collection is recorded.
enum Source {
    Configured(Box<ClusterConfigRecord>),
    Eks { cluster: EksCluster, account: String, previous: Option<EksCollectionRecord> },
}

impl Scheduled for Source {
    fn account(&self) -> &str {
        match self {
            Self::Configured(record) => &record.account,
            Self::Eks { account, .. } => account,
        }
    }

    fn last_collected(&self) -> &str {
        self.last_collection().map_or("", |collection| collection.at.as_str())
    }

    fn bounded(&self) -> bool {
        matches!(self, Self::Configured(_))
    }
}

impl Source {
    fn last_collection(&self) -> Option<&LastCollection> {
        match self {
            Self::Configured(record) => record.last_collection.as_ref(),
            Self::Eks { previous, .. } => previous.as_ref().map(|record| &record.last_collection),
        }
    }

    /// The report's cluster name: the configured name, or the EKS cluster's ARN (unique across
    /// regions and accounts, as `kubectl` names EKS contexts).
    fn cluster(&self) -> &str {
        match self {
            Self::Configured(record) => &record.cluster_name,
            Self::Eks { cluster, .. } => &cluster.arn,
        }
    }

    fn previous_contexts(&self) -> &[String] {
        match self {
            Self::Configured(record) => &record.stored_contexts,
            Self::Eks { previous, .. } => previous.as_ref().map_or(&[], |record| &record.stored_contexts),
        }
    }
}

/// What collecting one cluster came to.
struct Collected {
    collection: LastCollection,
    /// Set when the cluster was stored whole: the contexts it now has.
    stored_contexts: Option<Vec<String>>,
    departed: usize,
    requests: u64,
    write_requests: u64,
}

impl Collected {
    /// Nothing stored this run, and why; the time and requests are filled in by the caller.
    fn failed(message: &str) -> Self {
        let collection = LastCollection {
            at: String::new(),
            status: FAILED.to_owned(),
            contexts: 0,
            containers: 0,
            error: Some(bounded_error(message)),
        };
        Self { collection, stored_contexts: None, departed: 0, requests: 0, write_requests: 0 }
    }
}

/// Why a cluster was not read: typed up to `collect`, which records its whole chain as the
/// collection's error.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("the stored credential {0}; post the configuration again")]
    Stored(&'static str),
    #[error("{0}; post the configuration again")]
    Envelope(#[from] inventory_store::cluster_config::envelope::EnvelopeError),
    #[error("decrypting the credential failed")]
    Kms(#[source] Box<aws_sdk_kms::error::SdkError<aws_sdk_kms::operation::decrypt::DecryptError>>),
    #[error(transparent)]
    Eks(#[from] EksError),
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    #[error(transparent)]
    Read(#[from] crate::read::ReadError),
    #[error("the cluster was not read within {0} seconds; nothing stored")]
    Timeout(u64),
}

pub struct KubernetesCollector {
    store: Store,
    ingestor: Ingestor,
    kms: aws_sdk_kms::Client,
    key_id: String,
    settings: KubernetesConfig,
    eks_targets: Vec<EksTarget>,
    /// The function's own credentials, to sign EKS tokens where no role is assumed.
    own_credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    clock: Arc<dyn Clock>,
}

/// The contexts a cluster's previous collection stored that this one does not have.
pub fn departed_contexts(previous: &[String], current: &[String]) -> Vec<String> {
    let current: BTreeSet<&String> = current.iter().collect();
    let mut departed: Vec<String> = previous.iter().filter(|context| !current.contains(context)).cloned().collect();
    departed.sort();
    departed.dedup();
    departed
}

/// An error message as kept on a configuration: bounded.
pub fn bounded_error(message: &str) -> String {
    match message.char_indices().nth(MAX_COLLECTION_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

impl KubernetesCollector {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        ingestor: Ingestor,
        kms: aws_sdk_kms::Client,
        key_id: String,
        settings: KubernetesConfig,
        eks_targets: Vec<EksTarget>,
        own_credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { store, ingestor, kms, key_id, settings, eks_targets, own_credentials, clock }
    }

    /// Collects every configured cluster and every EKS cluster found; `deadline` is when the
    /// invocation ends (none: no limit).
    pub async fn run(&self, deadline: Option<DateTime<Utc>>) -> RunSummary {
        let (clusters, errors) = find_clusters(&self.eks_targets, &self.settings.eks).await;
        let errors = errors
            .into_iter()
            .map(|error| {
                tracing::error!(%error, "finding EKS clusters failed");
                ClusterError {
                    account: self.settings.eks_account.clone(),
                    cluster: String::new(),
                    message: error.to_string(),
                }
            })
            .collect();
        self.run_with_eks(deadline, clusters, errors).await
    }

    /// Collects every configured cluster and the EKS clusters given.
    pub async fn run_with_eks(
        &self,
        deadline: Option<DateTime<Utc>>,
        eks_clusters: Vec<EksCluster>,
        errors: Vec<ClusterError>,
    ) -> RunSummary {
        let started = self.clock.now();
        let mut summary = RunSummary { started_at: format_time(started), errors, ..RunSummary::default() };
        let mut sources: Vec<Source> = match self.store.all_cluster_configs().await {
            Ok(records) => records.into_iter().map(|record| Source::Configured(Box::new(record))).collect(),
            Err(error) => {
                tracing::error!(%error, "listing cluster configurations failed");
                summary.errors.push(ClusterError {
                    account: String::new(),
                    cluster: String::new(),
                    message: format!("listing cluster configurations failed: {error}"),
                });
                Vec::new()
            }
        };
        sources.extend(self.eks_sources(eks_clusters).await);
        summary.clusters = sources.len();
        let (sources, beyond) = collection_order(sources, self.settings.clusters_per_account);
        for source in &beyond {
            let reason = format!(
                "the account has more clusters than KubernetesClustersPerAccount ({})",
                self.settings.clusters_per_account
            );
            self.skip(source, &reason, &mut summary).await;
        }

        let deadline = &Deadline::of_run(Arc::clone(&self.clock), deadline);
        let results: Vec<_> = futures::stream::iter(sources)
            .map(|source| async move {
                let collected = self.collect(&source, deadline).await;
                (source, collected)
            })
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;
        for (source, collected) in results {
            match collected {
                Some(collected) => self.account_for(&source, collected, &mut summary).await,
                None => self.skip(&source, "the run's time ran out before it was read", &mut summary).await,
            }
        }
        summary.errors.sort();
        summary.skipped.sort();
        summary.duration_ms = (self.clock.now() - started).num_milliseconds();
        summary
    }

    /// Adds a collected cluster to the summary and records its collection.
    async fn account_for(&self, source: &Source, collected: Collected, summary: &mut RunSummary) {
        let account = source.account().to_owned();
        summary.kubernetes_requests += collected.requests;
        summary.write_requests += collected.write_requests;
        if collected.stored_contexts.is_some() {
            summary.clusters_stored += 1;
            summary.contexts += collected.collection.contexts as usize;
            summary.containers += collected.collection.containers as usize;
            summary.contexts_departed += collected.departed;
        }
        if let Some(message) = collected.collection.error.clone().filter(|_| collected.stored_contexts.is_none()) {
            summary.errors.push(ClusterError { account, cluster: source.cluster().to_owned(), message });
        }
        self.record(source, &collected, summary).await;
    }

    /// A cluster the run does not read: listed, and its configuration says so, keeping its last
    /// collection's time (so it is read first next run) and counts.
    async fn skip(&self, source: &Source, reason: &str, summary: &mut RunSummary) {
        summary.skipped.push(source.cluster().to_owned());
        let previous = source.last_collection();
        let collection = LastCollection {
            at: previous.map(|collection| collection.at.clone()).unwrap_or_default(),
            status: SKIPPED.to_owned(),
            contexts: previous.map_or(0, |collection| collection.contexts),
            containers: previous.map_or(0, |collection| collection.containers),
            error: Some(format!("not read in the run of {}: {reason}", summary.started_at)),
        };
        let skipped = Collected { collection, stored_contexts: None, departed: 0, requests: 0, write_requests: 0 };
        self.record(source, &skipped, summary).await;
    }

    /// The EKS clusters with the contexts their previous collection stored.
    async fn eks_sources(&self, clusters: Vec<EksCluster>) -> Vec<Source> {
        if clusters.is_empty() {
            return Vec::new();
        }
        let mut previous: HashMap<String, EksCollectionRecord> = match self.store.eks_collections().await {
            Ok(records) => records
                .into_iter()
                .filter(|record| record.account == self.settings.eks_account)
                .map(|record| (record.cluster_arn.clone(), record))
                .collect(),
            Err(error) => {
                // Without them a departed namespace is missed this run, not mis-stored.
                tracing::error!(%error, "reading EKS collection states failed");
                HashMap::new()
            }
        };
        clusters
            .into_iter()
            .map(|cluster| {
                let previous = previous.remove(&cluster.arn);
                Source::Eks { cluster, account: self.settings.eks_account.clone(), previous }
            })
            .collect()
    }

    /// Records the collection, counted in the summary; a failure is logged (the next run records
    /// its own).
    async fn record(&self, source: &Source, collected: &Collected, summary: &mut RunSummary) {
        match self.write_collection(source, collected).await {
            Ok(()) => summary.write_requests += 1,
            Err(error) => {
                let (account, status) = (source.account(), &collected.collection.status);
                tracing::error!(account, cluster = source.cluster(), status, %error, "recording the collection failed");
            }
        }
    }

    /// Writes the collection where its cluster's state lives.
    async fn write_collection(&self, source: &Source, collected: &Collected) -> Result<(), StoreError> {
        let account = source.account();
        match source {
            Source::Configured(record) => {
                let result = self
                    .store
                    .record_collection(
                        account,
                        &record.cluster_name,
                        &collected.collection,
                        collected.stored_contexts.as_deref(),
                    )
                    .await;
                match result {
                    // Deleted while it was read: it stays deleted.
                    Err(StoreError::ConditionFailed) => Ok(()),
                    other => other,
                }
            }
            Source::Eks { cluster, .. } => {
                let record = EksCollectionRecord {
                    pk: EKS_COLLECTIONS_PK.to_owned(),
                    sk: eks_collection_sk(account, &cluster.arn),
                    kind: ItemKind::EksCollection.as_str().to_owned(),
                    account: account.to_owned(),
                    cluster_arn: cluster.arn.clone(),
                    last_collection: collected.collection.clone(),
                    stored_contexts: collected
                        .stored_contexts
                        .clone()
                        .unwrap_or_else(|| source.previous_contexts().to_vec()),
                };
                self.store.put_eks_collection(&record).await
            }
        }
    }

    /// Reads and stores one cluster; `None` when too little time was left to start it, or to
    /// store it once read.
    async fn collect(&self, source: &Source, deadline: &Deadline) -> Option<Collected> {
        let mut timeout = self.settings.cluster_timeout;
        if let Some(left) = deadline.left() {
            if left < MIN_CLUSTER_TIME {
                return None;
            }
            timeout = timeout.min(left);
        }
        let requests = AtomicU64::new(0);
        let at = self.clock.now();
        // Only the read is cut off: storing runs to its end, so no context lease is left held.
        let read = match tokio::time::timeout(timeout, self.read(source, &requests, timeout)).await {
            Ok(read) => read,
            Err(_) => Err(CollectError::Timeout(timeout.as_secs())),
        };
        if read.is_ok() && deadline.passed() {
            return None;
        }
        let mut collected = match read {
            Ok(read) => self.store(source, read).await,
            Err(error) => {
                // The typed error ends here: its whole chain is what the collection records.
                let message = error_chain(&error);
                tracing::error!(cluster = source.cluster(), error = %message, "collecting the cluster failed");
                Collected::failed(&message)
            }
        };
        collected.requests = requests.load(Ordering::Relaxed);
        collected.collection.at = format_time(at);
        Some(collected)
    }

    async fn access(&self, source: &Source) -> Result<ClusterAccess, CollectError> {
        match source {
            Source::Configured(record) => {
                let credential = self.decrypt(record).await?;
                let settings = &record.cluster_config;
                let credential = match settings.credential_type {
                    CredentialType::Token => Credential::Token(credential),
                    CredentialType::PrivateKey => Credential::ClientCertificate {
                        certificate: settings.client_certificate.clone().unwrap_or_default(),
                        key: credential,
                    },
                };
                Ok(ClusterAccess {
                    server: settings.cluster_server.clone(),
                    certificate_authority: settings.cluster_certificate.clone(),
                    credential,
                })
            }
            Source::Eks { cluster, .. } => {
                let provider = cluster.place.credentials.clone().or_else(|| self.own_credentials.clone());
                let provider = provider.ok_or_else(|| EksError::Credentials("the function has none".into()))?;
                let credentials =
                    provider.provide_credentials().await.map_err(|error| EksError::Credentials(error_chain(&error)))?;
                let token = iam_token(&credentials, &cluster.place.region, &cluster.name, self.clock.now().into())?;
                Ok(ClusterAccess {
                    server: cluster.endpoint.clone(),
                    certificate_authority: cluster.certificate_authority.clone(),
                    credential: Credential::Token(SecretString::from(token)),
                })
            }
        }
    }

    /// The configuration's credential: its data key decrypted by KMS under the account's and
    /// cluster's context, then opened with it (a configuration stored before envelope encryption
    /// holds the credential itself as KMS ciphertext).
    async fn decrypt(&self, record: &ClusterConfigRecord) -> Result<SecretString, CollectError> {
        let not_base64 = |_| CollectError::Stored("is not base64");
        let ciphertext = STANDARD.decode(&record.credential_ciphertext).map_err(not_base64)?;
        let plaintext = match &record.credential_data_key {
            Some(data_key) => {
                let data_key = self.kms_decrypt(record, STANDARD.decode(data_key).map_err(not_base64)?).await?;
                envelope::open(&data_key, &record.account, &record.cluster_name, &ciphertext)?
            }
            None => self.kms_decrypt(record, ciphertext).await?,
        };
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|_| CollectError::Stored("is not text once decrypted"))
    }

    async fn kms_decrypt(&self, record: &ClusterConfigRecord, ciphertext: Vec<u8>) -> Result<Vec<u8>, CollectError> {
        let request = self
            .kms
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(ciphertext))
            .set_encryption_context(Some(encryption_context(&record.account, &record.cluster_name)));
        let output = request.send().await.map_err(|error| CollectError::Kms(Box::new(error)))?;
        Ok(output.plaintext.ok_or(CollectError::Stored("has no plaintext, KMS answered"))?.into_inner())
    }

    /// Reads the cluster whole.
    async fn read(
        &self,
        source: &Source,
        requests: &AtomicU64,
        timeout: Duration,
    ) -> Result<ClusterRead, CollectError> {
        let access = self.access(source).await?;
        let client = access.client(timeout, &self.settings.allowed_networks).await?;
        let namespaces = match source {
            Source::Configured(record) => Namespaces::of(&record.cluster_config.namespaces),
            Source::Eks { .. } => Namespaces::All,
        };
        Ok(Reader::new(&client, requests).read(namespaces).await?)
    }

    /// Stores what was read, and departs the namespaces of the previous collection it lacks.
    async fn store(&self, source: &Source, read: ClusterRead) -> Collected {
        let now = self.clock.now();
        let failed = |message: String| {
            tracing::error!(cluster = source.cluster(), error = %message, "storing the cluster failed");
            Collected::failed(&message)
        };
        let body =
            match serde_json::to_vec(&agent_report(source.cluster(), now, &read.namespaces, &read.nodes, &read.pods)) {
                Ok(body) => body,
                Err(error) => return failed(error.to_string()),
            };
        let mut report = match parse_collected_kubernetes(&body, now) {
            Ok(report) => report,
            Err(error) => return failed(format!("the cluster's content cannot be stored: {error}")),
        };
        let current: Vec<String> = report.contexts.iter().map(|context| context.context.clone()).collect();
        let containers: u32 = report.contexts.iter().map(|context| context.container_count).sum();
        let departed = departed_contexts(source.previous_contexts(), &current);
        // An empty context departs every item of a namespace that is gone.
        report.contexts.extend(departed.iter().map(|context| ContextReport::from(ContextSnapshot::empty(context))));
        let skipped = report.notes.skipped.first().map(|first| {
            format!("{} items could not be stored, first {}: {}", report.notes.skipped_count, first.field, first.reason)
        });
        let stored = self.ingestor.ingest(source.account(), report).await;
        let failure = stored.contexts.iter().find_map(|context| {
            context.error.as_ref().map(|error| format!("storing {} failed: {error}", context.context))
        });
        if let Some(failure) = &failure {
            tracing::error!(cluster = source.cluster(), error = %failure, "storing the cluster failed");
        }
        let collection = LastCollection {
            at: String::new(),
            status: if failure.is_some() { FAILED } else { STORED }.to_owned(),
            contexts: current.len() as u32,
            containers,
            error: failure.clone().or(skipped).or(read.notes.first().cloned()).map(|message| bounded_error(&message)),
        };
        Collected {
            collection,
            stored_contexts: failure.is_none().then_some(current),
            departed: departed.len(),
            requests: 0,
            write_requests: stored.write_requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_of_the_previous_collection_that_is_gone_departs_once() {
        let previous = ["prod/a".to_owned(), "prod/b".to_owned(), "prod/c".to_owned()];
        let current = ["prod/a".to_owned(), "prod/d".to_owned()];
        assert_eq!(departed_contexts(&previous, &current), ["prod/b", "prod/c"]);
        assert!(departed_contexts(&current, &current).is_empty(), "the next run has nothing to depart");
    }

    #[test]
    fn errors_kept_on_a_configuration_are_bounded() {
        let long = "é".repeat(MAX_COLLECTION_ERROR_CHARS + 10);
        assert_eq!(bounded_error(&long).chars().count(), MAX_COLLECTION_ERROR_CHARS + 1);
        assert_eq!(bounded_error("401"), "401");
    }
}

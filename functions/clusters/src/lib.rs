//! Clusters function: the embedded mode's cluster configurations (admin only, per account) on
//! `/v1/enterprise/inventories/clusters`. The credential (a token or a client key) is sealed under
//! a data key the stack's KMS key makes for it, bound to the account and cluster by its encryption
//! context, before it is stored; no answer and no log line carries it, and this function can make
//! data keys but never decrypt one.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use inventory_runtime::{ConfigError, Sdk};
use inventory_store::auth::Caller;
use inventory_store::clock::format_time;
use inventory_store::cluster_config::envelope;
use inventory_store::cluster_config::network::{literal_address, AllowedNetworks};
use inventory_store::cluster_config::{
    check_cluster_name, encryption_context, parse_cluster_config, ClusterConfigRecord,
};
use inventory_store::http::{body_bytes, json_response, not_found, ApiError, ApiFunction};
use inventory_store::keys::{cluster_config_sk, ItemKind, CLUSTER_CONFIGS_PK};
use inventory_store::routes::{Endpoint, Matched};
use inventory_store::store::StoreError;
use inventory_store::{Clock, Settings, Store};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use std::sync::Arc;

pub use inventory_store::settings::CLUSTER_CREDENTIALS_KEY as CREDENTIALS_KEY;

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    /// The KMS key data keys are made under.
    pub credentials_key: String,
    pub clusters: ClustersSettings,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::from_lookup(&lookup)?,
            credentials_key: inventory_runtime::config::value(&lookup, CREDENTIALS_KEY)
                .ok_or(ConfigError::missing(CREDENTIALS_KEY))?,
            clusters: ClustersSettings::from_lookup(&lookup)?,
        })
    }
}

/// What a posted configuration is checked against.
#[derive(Debug, Clone)]
pub struct ClustersSettings {
    /// Non-public networks a server's literal address may be in (the collector's own list).
    pub allowed_networks: AllowedNetworks,
    /// Configurations one account may have.
    pub clusters_per_account: usize,
}

impl ClustersSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            allowed_networks: inventory_store::settings::allowed_networks(&lookup)?,
            clusters_per_account: inventory_store::settings::clusters_per_account(&lookup)?,
        })
    }
}

pub struct ClustersApp {
    store: Store,
    kms: aws_sdk_kms::Client,
    key_id: String,
    settings: ClustersSettings,
    clock: Arc<dyn Clock>,
}

/// A store failure: `StoreError::answer`'s policy, naming what this function stores.
fn stored(error: StoreError) -> ApiError {
    error.answer("the cluster configuration")
}

impl ClustersApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: Store::build(sdk, &config.settings.table_name),
            kms: inventory_runtime::client!(sdk, aws_sdk_kms),
            key_id: config.credentials_key,
            settings: config.clusters,
            clock,
        }
    }

    /// The credential sealed under a data key KMS makes for it, bound to the account and cluster
    /// (`envelope`): answers the sealed credential and the data key's KMS ciphertext, base64.
    async fn encrypt(&self, account: &str, cluster_name: &str, credential: &str) -> Result<(String, String), ApiError> {
        let request = self
            .kms
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .set_encryption_context(Some(encryption_context(account, cluster_name)));
        let output = request.send().await.map_err(|error| {
            tracing::error!(account, cluster_name, error = %aws_sdk_kms::error::DisplayErrorContext(error), "a data key for a cluster credential could not be made");
            ApiError::unavailable("the credential could not be encrypted")
        })?;
        let (Some(data_key), Some(encrypted_key)) = (output.plaintext(), output.ciphertext_blob()) else {
            return Err(ApiError::unavailable("KMS answered no data key"));
        };
        let sealed =
            envelope::seal(data_key.as_ref(), account, cluster_name, credential.as_bytes()).map_err(|error| {
                tracing::error!(account, cluster_name, %error, "sealing a cluster credential failed");
                ApiError::unavailable("the credential could not be encrypted")
            })?;
        Ok((STANDARD.encode(sealed), STANDARD.encode(encrypted_key.as_ref())))
    }

    async fn create(&self, request: &Request, account: &str) -> Result<Response<Body>, ApiError> {
        let input = parse_cluster_config(body_bytes(request.body()))?;
        self.check_reachable(&input.settings.cluster_server)?;
        let existing = self.store.cluster_config(account, &input.cluster_name).await.map_err(stored)?;
        if existing.is_none() {
            self.check_room(account).await?;
        }
        let (ciphertext, data_key) = self.encrypt(account, &input.cluster_name, &input.credential).await?;
        let now = format_time(self.clock.now());
        let exists = existing.is_some();
        let record = ClusterConfigRecord {
            pk: CLUSTER_CONFIGS_PK.to_owned(),
            sk: cluster_config_sk(account, &input.cluster_name),
            kind: ItemKind::ClusterConfig.as_str().to_owned(),
            account: account.to_owned(),
            cluster_name: input.cluster_name.clone(),
            inventory_type: "kubernetes".to_owned(),
            cluster_config: input.settings,
            credential_ciphertext: ciphertext,
            credential_data_key: Some(data_key),
            created_at: existing.as_ref().map_or_else(|| now.clone(), |record| record.created_at.clone()),
            updated_at: now,
            last_collection: existing.as_ref().and_then(|record| record.last_collection.clone()),
            stored_contexts: existing.map(|record| record.stored_contexts).unwrap_or_default(),
        };
        match self.store.save_cluster_config(&record, exists).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => {
                let message = "the configuration was created or deleted while this post was stored; retry";
                return Err(ApiError::new(StatusCode::CONFLICT, "conflict", message));
            }
            Err(error) => return Err(stored(error)),
        }
        tracing::info!(account, cluster = %record.cluster_name, "cluster configuration stored");
        Ok(json_response(StatusCode::OK, &record.view()))
    }

    /// A literal address the collector would refuse is refused now; a name is checked on each
    /// address it resolves to when the collector connects.
    fn check_reachable(&self, server: &str) -> Result<(), ApiError> {
        match literal_address(server).and_then(|address| self.settings.allowed_networks.refusal(address)) {
            Some(refusal) => Err(ApiError::bad_request(
                "cluster_config.cluster_server",
                format!("{refusal}: not reachable from here"),
            )),
            None => Ok(()),
        }
    }

    /// A new configuration fits under the account's bound: one account's many clusters would
    /// take the collector's runs from every other account's.
    async fn check_room(&self, account: &str) -> Result<(), ApiError> {
        let configured = self.store.cluster_configs(account).await.map_err(stored)?.len();
        let most = self.settings.clusters_per_account;
        if configured >= most {
            let message = format!(
                "the account has {configured} cluster configurations, the most KubernetesClustersPerAccount allows ({most}); delete one first"
            );
            return Err(ApiError::new(StatusCode::CONFLICT, "conflict", message));
        }
        Ok(())
    }
}

impl ApiFunction for ClustersApp {
    const FUNCTION: &'static str = "clusters";

    async fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        let name = matched.param("cluster_name").unwrap_or_default();
        match matched.route.endpoint {
            Endpoint::CreateClusterConfig => self.create(request, account).await,
            Endpoint::ListClusterConfigs => {
                let params = request.query_string_parameters();
                let wanted = params.first("inventory_type").filter(|kind| !kind.is_empty());
                let configs = self.store.cluster_configs(account).await.map_err(stored)?;
                let views: Vec<_> = configs
                    .iter()
                    .filter(|record| wanted.is_none_or(|kind| kind == record.inventory_type))
                    .map(ClusterConfigRecord::view)
                    .collect();
                Ok(json_response(StatusCode::OK, &views))
            }
            Endpoint::GetClusterConfig => {
                check_cluster_name("cluster_name", name)?;
                match self.store.cluster_config(account, name).await.map_err(stored)? {
                    Some(record) => Ok(json_response(StatusCode::OK, &record.view())),
                    None => Err(ApiError::not_found(format!("no cluster configuration {name:?} in this account"))),
                }
            }
            Endpoint::DeleteClusterConfig => {
                check_cluster_name("cluster_name", name)?;
                match self.store.delete_cluster_config(account, name).await {
                    Ok(()) => Ok(Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(Body::Empty)
                        .expect("static response parts are valid")),
                    Err(StoreError::ConditionFailed) => {
                        Err(ApiError::not_found(format!("no cluster configuration {name:?} in this account")))
                    }
                    Err(error) => Err(stored(error)),
                }
            }
            _ => Err(not_found(request)),
        }
    }
}

//! How a cluster is reached: its API server, the CA its certificate must chain to, and a bearer
//! token or a client certificate. Turned into a `kube` client through a kubeconfig, so the
//! client library does the TLS and authentication exactly as `kubectl` would, over a connector
//! that reaches only the addresses the operator allows and a bounded answer per request.

use http_body_util::Limited;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use inventory_store::cluster_config::network::{literal_address, AllowedNetworks};
use inventory_store::limits::MAX_KUBERNETES_RESPONSE_BYTES;
use kube::client::ConfigExt;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;

pub enum Credential {
    /// A service-account token, or an EKS IAM token.
    Token(SecretString),
    /// A client certificate and its key, both base64 PEM (kubeconfig's `*-data`).
    ClientCertificate { certificate: String, key: SecretString },
}

pub struct ClusterAccess {
    pub server: String,
    /// Base64 PEM (kubeconfig's `certificate-authority-data`).
    pub certificate_authority: String,
    pub credential: Credential,
}

impl std::fmt::Debug for ClusterAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.credential {
            Credential::Token(_) => "token",
            Credential::ClientCertificate { .. } => "client certificate",
        };
        f.debug_struct("ClusterAccess").field("server", &self.server).field("credential", &kind).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the cluster configuration cannot be used: {0}")]
    Config(#[source] kube::config::KubeconfigError),
    #[error("no client can be built for the cluster: {0}")]
    Client(#[source] kube::Error),
    #[error("the cluster's server is not reachable from here: {0}")]
    Refused(String),
}

const NAME: &str = "cluster";

impl ClusterAccess {
    /// A client that verifies the server against the configured CA, connects only to addresses
    /// `allowed` permits, reads at most `MAX_KUBERNETES_RESPONSE_BYTES` of an answer and gives
    /// up on a request after `timeout` (the whole read is bounded by the caller as well).
    pub async fn client(&self, timeout: Duration, allowed: &AllowedNetworks) -> Result<kube::Client, AccessError> {
        // A literal address is connected to without resolving, so the resolver never sees it.
        if let Some(refusal) = literal_address(&self.server).and_then(|address| allowed.refusal(address)) {
            return Err(AccessError::Refused(refusal));
        }
        let config = kube::Config::from_custom_kubeconfig(self.kubeconfig(), &KubeConfigOptions::default())
            .await
            .map_err(AccessError::Config)?;
        let mut http = HttpConnector::new_with_resolver(allowed_resolver(Arc::new(allowed.clone())));
        http.enforce_http(false);
        let mut connector = hyper_timeout::TimeoutConnector::new(
            config.rustls_https_connector_with_connector(http).map_err(AccessError::Client)?,
        );
        connector.set_connect_timeout(Some(timeout));
        connector.set_read_timeout(Some(timeout));
        connector.set_write_timeout(Some(timeout));
        let http_client =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build::<_, kube::client::Body>(connector);
        let service = ServiceBuilder::new()
            .layer(config.base_uri_layer())
            .option_layer(config.auth_layer().map_err(AccessError::Client)?)
            .map_response(|response: http::Response<hyper::body::Incoming>| {
                response.map(|body| Limited::new(body, MAX_KUBERNETES_RESPONSE_BYTES))
            })
            .map_err(tower::BoxError::from)
            .service(http_client);
        Ok(kube::Client::new(service, config.default_namespace))
    }

    fn kubeconfig(&self) -> Kubeconfig {
        let (token, client_certificate_data, client_key_data) = match &self.credential {
            Credential::Token(token) => (Some(token.clone()), None, None),
            Credential::ClientCertificate { certificate, key } => (None, Some(certificate.clone()), Some(key.clone())),
        };
        Kubeconfig {
            clusters: vec![NamedCluster {
                name: NAME.to_owned(),
                cluster: Some(Cluster {
                    server: Some(self.server.clone()),
                    certificate_authority_data: Some(self.certificate_authority.clone()),
                    ..Cluster::default()
                }),
            }],
            auth_infos: vec![NamedAuthInfo {
                name: NAME.to_owned(),
                auth_info: Some(AuthInfo { token, client_certificate_data, client_key_data, ..AuthInfo::default() }),
            }],
            contexts: vec![NamedContext {
                name: NAME.to_owned(),
                context: Some(Context { cluster: NAME.to_owned(), user: Some(NAME.to_owned()), ..Context::default() }),
            }],
            current_context: Some(NAME.to_owned()),
            ..Kubeconfig::default()
        }
    }
}

/// Resolves a server's name and hands the connector only the addresses `allowed` permits: the
/// connection goes to an address that was checked, so a name that resolves differently on a
/// second look (DNS rebinding) gains nothing.
fn allowed_resolver(
    allowed: Arc<AllowedNetworks>,
) -> impl tower::Service<
    Name,
    Response = std::vec::IntoIter<SocketAddr>,
    Error = std::io::Error,
    Future = impl std::future::Future<Output = std::io::Result<std::vec::IntoIter<SocketAddr>>> + Send,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::service_fn(move |name: Name| {
        let allowed = Arc::clone(&allowed);
        async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                resolved.partition(|address| allowed.refusal(address.ip()).is_none());
            match refused.first().and_then(|address| allowed.refusal(address.ip())) {
                Some(refusal) if kept.is_empty() => Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{name} resolves to {refusal}"),
                )),
                _ => Ok(kept.into_iter()),
            }
        }
    })
}

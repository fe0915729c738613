//! How a cluster is reached: its API server, the CA its certificate must chain to, and a bearer
//! token or a client certificate. Turned into a `kube` client through a kubeconfig, so the
//! client library does the TLS and authentication exactly as `kubectl` would.

use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};
use secrecy::SecretString;
use std::time::Duration;

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
}

const NAME: &str = "cluster";

impl ClusterAccess {
    /// A client that verifies the server against the configured CA and gives up on a request
    /// after `timeout` (the whole read is bounded by the caller as well).
    pub async fn client(&self, timeout: Duration) -> Result<kube::Client, AccessError> {
        let (token, client_certificate_data, client_key_data) = match &self.credential {
            Credential::Token(token) => (Some(token.clone()), None, None),
            Credential::ClientCertificate { certificate, key } => (None, Some(certificate.clone()), Some(key.clone())),
        };
        let kubeconfig = Kubeconfig {
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
        };
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(AccessError::Config)?;
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        kube::Client::try_from(config).map_err(AccessError::Client)
    }
}

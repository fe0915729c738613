//! Cluster configurations of the embedded mode (`/v1/enterprise/inventories/clusters`): the
//! documented body, validated field by field. The credential is only ever held to be encrypted;
//! what is answered and logged never carries it.

use crate::limits::{
    MAX_CLUSTER_CONFIG_BODY_BYTES, MAX_CLUSTER_CONFIG_NAME_BYTES, MAX_CLUSTER_SERVER_BYTES, MAX_CONFIGURED_NAMESPACES,
    MAX_NAMESPACE_BYTES, MAX_PEM_BASE64_BYTES, MAX_TOKEN_BYTES,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// `namespaces: ["all"]`: every namespace of the cluster.
pub const ALL_NAMESPACES: &str = "all";

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    Token,
    PrivateKey,
}

use crate::field::FieldError;

/// What a configuration says, the credential apart: answered and stored as it is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ClusterSettings {
    pub cluster_server: String,
    pub cluster_certificate: String,
    pub credential_type: CredentialType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<String>,
    pub namespaces: Vec<String>,
}

/// A posted configuration, validated. `Debug` leaves the credential out.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterConfigInput {
    pub cluster_name: String,
    pub settings: ClusterSettings,
    /// The token, or the base64 PEM client key: to be encrypted, never stored or shown as is.
    pub credential: String,
}

impl std::fmt::Debug for ClusterConfigInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfigInput")
            .field("cluster_name", &self.cluster_name)
            .field("settings", &self.settings)
            .field("credential", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct Body {
    cluster_name: Option<String>,
    inventory_type: Option<String>,
    cluster_config: Option<RawConfig>,
}

#[derive(Deserialize)]
struct RawConfig {
    cluster_server: Option<String>,
    cluster_certificate: Option<String>,
    credential_type: Option<String>,
    credential: Option<String>,
    client_certificate: Option<String>,
    namespaces: Option<Vec<String>>,
}

/// A configured cluster's name: a path segment (`/` is refused, unlike an agent's cluster name,
/// which may be an EKS ARN) and a context's first part (`#` is refused).
pub fn check_cluster_name(field: &str, name: &str) -> Result<(), FieldError> {
    if name.is_empty() || name.len() > MAX_CLUSTER_CONFIG_NAME_BYTES {
        return Err(FieldError::invalid(field, format!("must be 1 to {MAX_CLUSTER_CONFIG_NAME_BYTES} bytes")));
    }
    if name.chars().any(|c| c == '/' || c == '#' || c.is_control() || c.is_whitespace()) {
        return Err(FieldError::invalid(field, "must not contain '/', '#', spaces or control characters"));
    }
    Ok(())
}

/// A base64 PEM block of `kind` (`CERTIFICATE`, `PRIVATE KEY`), as kubeconfig's `*-data` holds.
fn check_pem(field: &str, value: &str, kind: &str) -> Result<(), FieldError> {
    if value.len() > MAX_PEM_BASE64_BYTES {
        return Err(FieldError::too_large(
            field,
            format!("is {} bytes; at most {MAX_PEM_BASE64_BYTES} are accepted", value.len()),
        ));
    }
    let decoded = STANDARD.decode(value.trim()).map_err(|_| FieldError::invalid(field, "must be base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| FieldError::invalid(field, "must be base64 PEM text"))?;
    let found =
        text.lines().any(|line| line.starts_with("-----BEGIN ") && line.ends_with("-----") && line.contains(kind));
    if !found {
        return Err(FieldError::invalid(field, format!("must be a base64 PEM {kind} (-----BEGIN ...{kind}-----)")));
    }
    Ok(())
}

/// Parses and checks the documented body, naming the first field that cannot be used.
pub fn parse_cluster_config(body: &[u8]) -> Result<ClusterConfigInput, FieldError> {
    if body.len() > MAX_CLUSTER_CONFIG_BODY_BYTES {
        return Err(FieldError::too_large(
            "body",
            format!("is {} bytes; at most {MAX_CLUSTER_CONFIG_BODY_BYTES} are accepted", body.len()),
        ));
    }
    let body: Body = serde_json::from_slice(body).map_err(|error| FieldError::invalid("body", error.to_string()))?;
    let cluster_name = body.cluster_name.map(|name| name.trim().to_owned()).unwrap_or_default();
    check_cluster_name("cluster_name", &cluster_name)?;
    match body.inventory_type.as_deref() {
        Some("kubernetes") => {}
        _ => return Err(FieldError::invalid("inventory_type", "must be \"kubernetes\"")),
    }
    let config = body.cluster_config.ok_or_else(|| FieldError::invalid("cluster_config", "is required"))?;
    let cluster_server = server(config.cluster_server.as_deref())?;
    let certificate = config.cluster_certificate.unwrap_or_default();
    check_pem("cluster_config.cluster_certificate", &certificate, "CERTIFICATE")?;
    let credential_type = match config.credential_type.as_deref() {
        Some("token") => CredentialType::Token,
        Some("private_key") => CredentialType::PrivateKey,
        _ => return Err(FieldError::invalid("cluster_config.credential_type", "must be \"token\" or \"private_key\"")),
    };
    let credential = config.credential.map(|credential| credential.trim().to_owned()).unwrap_or_default();
    let client_certificate = client_certificate(credential_type, &credential, config.client_certificate)?;
    Ok(ClusterConfigInput {
        cluster_name,
        settings: ClusterSettings {
            cluster_server,
            cluster_certificate: certificate.trim().to_owned(),
            credential_type,
            client_certificate,
            namespaces: namespaces(config.namespaces.unwrap_or_default())?,
        },
        credential,
    })
}

/// `cluster_config.cluster_server`: an https:// URL.
fn server(raw: Option<&str>) -> Result<String, FieldError> {
    let server = raw.unwrap_or_default().trim();
    let host = server.strip_prefix("https://").unwrap_or_default();
    if host.is_empty()
        || host.starts_with('/')
        || server.len() > MAX_CLUSTER_SERVER_BYTES
        || server.contains(char::is_whitespace)
    {
        return Err(FieldError::invalid(
            "cluster_config.cluster_server",
            "must be an https:// URL of the cluster's API server",
        ));
    }
    Ok(server.to_owned())
}

/// The credential checked for its type; answers the client certificate a private key goes with.
fn client_certificate(
    credential_type: CredentialType,
    credential: &str,
    client_certificate: Option<String>,
) -> Result<Option<String>, FieldError> {
    match credential_type {
        CredentialType::Token => {
            if credential.is_empty()
                || credential.len() > MAX_TOKEN_BYTES
                || credential.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(FieldError::invalid(
                    "cluster_config.credential",
                    format!("must be a bearer token of 1 to {MAX_TOKEN_BYTES} bytes"),
                ));
            }
            Ok(None)
        }
        CredentialType::PrivateKey => {
            check_pem("cluster_config.credential", credential, "PRIVATE KEY")?;
            let certificate = client_certificate.ok_or_else(|| {
                FieldError::invalid(
                    "cluster_config.client_certificate",
                    "is required with credential_type \"private_key\"",
                )
            })?;
            check_pem("cluster_config.client_certificate", &certificate, "CERTIFICATE")?;
            Ok(Some(certificate.trim().to_owned()))
        }
    }
}

/// `cluster_config.namespaces`: `["all"]`, or namespace names, sorted without repeats.
fn namespaces(mut namespaces: Vec<String>) -> Result<Vec<String>, FieldError> {
    if namespaces.is_empty() || namespaces.len() > MAX_CONFIGURED_NAMESPACES {
        return Err(FieldError::invalid(
            "cluster_config.namespaces",
            format!("must be [\"{ALL_NAMESPACES}\"] or a list of 1 to {MAX_CONFIGURED_NAMESPACES} namespaces"),
        ));
    }
    let is_label = |name: &str| {
        (1..=MAX_NAMESPACE_BYTES).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if let Some(bad) = namespaces.iter().find(|name| !is_label(name)) {
        return Err(FieldError::invalid("cluster_config.namespaces", format!("{bad:?} is not a namespace name")));
    }
    namespaces.sort();
    namespaces.dedup();
    if namespaces.len() > 1 && namespaces.iter().any(|name| name == ALL_NAMESPACES) {
        return Err(FieldError::invalid("cluster_config.namespaces", format!("\"{ALL_NAMESPACES}\" stands alone")));
    }
    Ok(namespaces)
}

/// The KMS encryption context every credential is encrypted under: decrypting needs the same,
/// so a ciphertext copied to another account's or cluster's configuration cannot be used there.
pub fn encryption_context(account: &str, cluster_name: &str) -> std::collections::HashMap<String, String> {
    [("account", account), ("cluster_name", cluster_name)]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// How a cluster's last collection went.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LastCollection {
    pub at: String,
    /// `stored`, or `failed` (nothing of the cluster was stored that run).
    pub status: String,
    pub contexts: u32,
    pub containers: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A configuration as stored: the credential only as KMS ciphertext (base64), bound to the
/// account and cluster by its encryption context.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfigRecord {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub account: String,
    pub cluster_name: String,
    pub inventory_type: String,
    pub cluster_config: ClusterSettings,
    /// The credential: sealed under `credential_data_key` (base64), or, without one (written
    /// before envelope encryption), KMS ciphertext of the credential itself.
    pub credential_ciphertext: String,
    /// The data key the credential is sealed with, as KMS ciphertext (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_data_key: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_collection: Option<LastCollection>,
    /// The contexts the last stored collection held: one missing from the next is departed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored_contexts: Vec<String>,
}

/// An agentless EKS cluster's collection state (it has no configuration to hold it).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EksCollectionRecord {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub account: String,
    pub cluster_arn: String,
    pub last_collection: LastCollection,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored_contexts: Vec<String>,
}

/// A configuration as answered: everything but the credential.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfigView {
    pub cluster_name: String,
    pub inventory_type: String,
    pub cluster_config: ClusterSettings,
    pub created_at: String,
    pub updated_at: String,
    pub last_collection: Option<LastCollection>,
}

impl ClusterConfigRecord {
    pub fn view(&self) -> ClusterConfigView {
        ClusterConfigView {
            cluster_name: self.cluster_name.clone(),
            inventory_type: self.inventory_type.clone(),
            cluster_config: self.cluster_config.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            last_collection: self.last_collection.clone(),
        }
    }
}

pub mod envelope;
pub mod network;

#[cfg(test)]
mod tests;

//! The one OIDC provider bearer tokens come from: its JWKS found through discovery
//! (`<issuer>/.well-known/openid-configuration`) and cached, refetched for a `kid` it does not
//! know at most once a minute (a provider rotating keys publishes the new one before signing with
//! it, and a caller inventing kids cannot make it fetch more); the role mapping read from its SSM
//! parameter, so an edit applies within the cache period; tokens already verified remembered
//! until they expire, so a console's repeated requests cost a keyed hash, not a signature check.

use crate::oidc::{Expectations, Jwks, RoleMapping};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use inventory_runtime::parameter::ParameterValue;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long a fetched JWKS is used before it is fetched again anyway.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// How soon after a fetch a `kid` the JWKS lacks may fetch it again.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Discovery documents and JWKS larger than this are refused.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// A provider that does not answer within this is unavailable (the authorizer has 10 s).
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// Verified tokens remembered at most; when full, the expired go, then all.
const MAX_CACHED_TOKENS: usize = 1024;

/// The provider's settings (`OIDC_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    /// What `aud` must be; `ssm:<name>` reads it from that parameter (the stack's Cognito client).
    pub audience: ParameterValue,
    /// The SSM parameter holding `OidcRoleMapping`.
    pub mapping_parameter: String,
    pub username_claim: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("fetching {url} failed: {message}")]
    Fetch {
        url: String,
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("the provider's {what} is not usable: {message}")]
    Invalid { what: &'static str, message: String },
    /// The role mapping or the audience could not be read.
    #[error(transparent)]
    Parameter(#[from] inventory_runtime::parameter::ParameterError),
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

struct Keys {
    jwks: Option<Arc<Jwks>>,
    fetched_at: Option<Instant>,
}

pub struct OidcProvider {
    pub settings: OidcSettings,
    /// Made at the first fetch: loading the system's CA certificates is no work for a cold start.
    http: std::sync::OnceLock<HttpClient>,
    ssm: aws_sdk_ssm::Client,
    mapping_ttl: Duration,
    /// Held across a fetch: concurrent requests wait for one fetch rather than each making one.
    keys: tokio::sync::Mutex<Keys>,
    mapping: Mutex<Option<(Arc<RoleMapping>, Instant)>>,
    /// Verified tokens' claims by their keyed digest, with when they stop being valid.
    verified: Mutex<HashMap<[u8; 32], (Arc<Map<String, Value>>, chrono::DateTime<chrono::Utc>)>>,
}

/// What a request for the keys gets, from what is cached and how long ago it was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysDecision {
    UseCached,
    Fetch,
    /// A kid the keys lack, fetched less than `REFETCH_INTERVAL` ago: no new keys to try.
    NothingNew,
    /// The last fetch, less than `REFETCH_INTERVAL` ago, failed.
    RecentlyFailed,
}

impl KeysDecision {
    pub fn of(cached: bool, age: Option<Duration>, unknown_kid: bool) -> Self {
        match (cached, age) {
            (_, Some(age)) if unknown_kid && age < REFETCH_INTERVAL => Self::NothingNew,
            (true, Some(age)) if !unknown_kid && age < JWKS_MAX_AGE => Self::UseCached,
            (false, Some(age)) if age < REFETCH_INTERVAL => Self::RecentlyFailed,
            _ => Self::Fetch,
        }
    }
}

fn http_client() -> HttpClient {
    let provider = rustls::crypto::ring::default_provider();
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match builder.with_provider_and_native_roots(provider) {
        Ok(builder) => builder,
        Err(error) => {
            // Only an http:// issuer (the local stack's) can be reached then.
            tracing::warn!(%error, "no CA certificates found; an https issuer cannot be reached");
            let config = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default versions")
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let connector = builder.https_or_http().enable_http1().build();
    Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector)
}

impl OidcProvider {
    pub fn new(settings: OidcSettings, ssm: aws_sdk_ssm::Client, mapping_ttl: Duration) -> Self {
        Self {
            settings,
            http: std::sync::OnceLock::new(),
            ssm,
            mapping_ttl,
            keys: tokio::sync::Mutex::new(Keys { jwks: None, fetched_at: None }),
            mapping: Mutex::new(None),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// What a token must say: the issuer, and the audience (read from SSM once, if it is there).
    pub async fn expectations(&self) -> Result<Expectations, ProviderError> {
        let audience = self.settings.audience.get(&self.ssm).await?.to_owned();
        Ok(Expectations { issuer: self.settings.issuer.clone(), audience })
    }

    /// Uses `jwks` as if just fetched (the benchmark: no provider to fetch from).
    pub async fn preload(&self, jwks: Jwks) {
        *self.keys.lock().await = Keys { jwks: Some(Arc::new(jwks)), fetched_at: Some(Instant::now()) };
    }

    /// The JWKS to verify with: the cached one unless it is older than `JWKS_MAX_AGE`, or, when
    /// `unknown_kid`, older than `REFETCH_INTERVAL` (else `None`: nothing new to try).
    pub async fn jwks(&self, unknown_kid: bool) -> Result<Option<Arc<Jwks>>, ProviderError> {
        let mut keys = self.keys.lock().await;
        match KeysDecision::of(keys.jwks.is_some(), keys.fetched_at.map(|at| at.elapsed()), unknown_kid) {
            KeysDecision::UseCached => return Ok(keys.jwks.clone()),
            KeysDecision::NothingNew => return Ok(None),
            KeysDecision::RecentlyFailed => {
                let message = "the last fetch failed; it is tried again once a minute".to_owned();
                return Err(ProviderError::Invalid { what: "JWKS", message });
            }
            KeysDecision::Fetch => {}
        }
        // A failed fetch counts too: a provider that is down is asked once a minute, not per request.
        keys.fetched_at = Some(Instant::now());
        let jwks = Arc::new(self.fetch_jwks().await?);
        keys.jwks = Some(Arc::clone(&jwks));
        Ok(Some(jwks))
    }

    async fn fetch_jwks(&self) -> Result<Jwks, ProviderError> {
        let discovery = format!("{}/.well-known/openid-configuration", self.settings.issuer.trim_end_matches('/'));
        let document: Value = serde_json::from_slice(&self.get(&discovery).await?)
            .map_err(|error| ProviderError::Invalid { what: "discovery document", message: error.to_string() })?;
        if document["issuer"].as_str() != Some(self.settings.issuer.as_str()) {
            return Err(ProviderError::Invalid {
                what: "discovery document",
                message: format!("its issuer is {}, not OIDC_ISSUER", document["issuer"]),
            });
        }
        let jwks_uri = document["jwks_uri"]
            .as_str()
            .ok_or(ProviderError::Invalid { what: "discovery document", message: "it has no jwks_uri".into() })?;
        let jwks = Jwks::parse(&self.get(jwks_uri).await?)
            .map_err(|message| ProviderError::Invalid { what: "JWKS", message })?;
        tracing::info!(keys = jwks.len(), "the OIDC provider's keys were fetched");
        Ok(jwks)
    }

    /// A GET of at most `MAX_DOCUMENT_BYTES`, within `FETCH_TIMEOUT`.
    async fn get(&self, url: &str) -> Result<Bytes, ProviderError> {
        let failed = |message: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| ProviderError::Fetch {
            url: url.to_owned(),
            message,
            source,
        };
        let uri: http::Uri = url.parse().map_err(|error: http::uri::InvalidUri| failed(error.to_string(), None))?;
        let fetch = async {
            let http = self.http.get_or_init(http_client);
            let response = http.get(uri).await.map_err(|error| failed(error.to_string(), Some(Box::new(error))))?;
            if !response.status().is_success() {
                return Err(failed(format!("answered {}", response.status()), None));
            }
            let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES);
            body.collect().await.map(|body| body.to_bytes()).map_err(|error| failed(error.to_string(), Some(error)))
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| failed(format!("no answer within {FETCH_TIMEOUT:?}"), None))?
    }

    /// `OidcRoleMapping`, read again once the cache period is over.
    pub async fn mapping(&self) -> Result<Arc<RoleMapping>, ProviderError> {
        {
            let cached = self.mapping.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some((mapping, _)) = cached.as_ref().filter(|(_, at)| at.elapsed() < self.mapping_ttl) {
                return Ok(Arc::clone(mapping));
            }
        }
        let json = inventory_runtime::parameter::read(&self.ssm, &self.settings.mapping_parameter).await?;
        let mapping = Arc::new(
            RoleMapping::parse(&json).map_err(|message| ProviderError::Invalid { what: "OidcRoleMapping", message })?,
        );
        *self.mapping.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((Arc::clone(&mapping), Instant::now()));
        Ok(mapping)
    }

    /// The claims of a token verified before, if it is still valid at `now`.
    pub fn remembered(&self, digest: &[u8; 32], now: chrono::DateTime<chrono::Utc>) -> Option<Arc<Map<String, Value>>> {
        let verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        verified.get(digest).filter(|(_, until)| now < *until).map(|(claims, _)| Arc::clone(claims))
    }

    /// Remembers a verified token's claims until it expires.
    pub fn remember(&self, digest: [u8; 32], claims: Arc<Map<String, Value>>, now: chrono::DateTime<chrono::Utc>) {
        let Some(until) = claims
            .get("exp")
            .and_then(Value::as_i64)
            .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0))
            .map(|exp| exp + crate::oidc::LEEWAY)
        else {
            return;
        };
        let mut verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if verified.len() >= MAX_CACHED_TOKENS {
            verified.retain(|_, (_, until)| now < *until);
            if verified.len() >= MAX_CACHED_TOKENS {
                verified.clear();
            }
        }
        verified.insert(digest, (claims, until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fetched_hourly_and_for_an_unknown_kid_at_most_once_a_minute() {
        let minutes = |m: u64| Some(Duration::from_secs(m * 60));
        let seconds = |s: u64| Some(Duration::from_secs(s));
        assert_eq!(KeysDecision::of(false, None, false), KeysDecision::Fetch, "the first request fetches");
        assert_eq!(KeysDecision::of(true, minutes(59), false), KeysDecision::UseCached);
        assert_eq!(KeysDecision::of(true, minutes(60), false), KeysDecision::Fetch, "an hour old");
        assert_eq!(KeysDecision::of(true, seconds(59), true), KeysDecision::NothingNew);
        assert_eq!(KeysDecision::of(true, seconds(60), true), KeysDecision::Fetch, "a new kid, a minute on");
        assert_eq!(KeysDecision::of(false, seconds(10), false), KeysDecision::RecentlyFailed);
        assert_eq!(KeysDecision::of(false, seconds(10), true), KeysDecision::NothingNew);
        assert_eq!(KeysDecision::of(false, seconds(61), false), KeysDecision::Fetch, "a failed fetch is retried");
    }
}

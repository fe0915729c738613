//! Authorizer settings, from the environment variables the template sets.

use std::time::Duration;

pub use crate::provider::OidcSettings;
pub use inventory_identity::{IdentityPaths, API_KEYS_PATH, USERS_PATH};
use inventory_runtime::parameter::ParameterValue;

/// Seconds a user read from SSM (and a password verified against it) is reused.
pub const CACHE_SECONDS: &str = "AUTH_CACHE_SECONDS";

/// Single sign-on: the provider's issuer (empty: bearer tokens are refused), the audience its
/// tokens must name, the SSM parameter holding `OidcRoleMapping`, and the claim that names the
/// caller (`email` by default, else `sub`).
pub use inventory_api::auth::OIDC_ISSUER;
pub const OIDC_AUDIENCE: &str = "OIDC_AUDIENCE";
pub const OIDC_ROLE_MAPPING_PARAMETER: &str = "OIDC_ROLE_MAPPING_PARAMETER";
pub const OIDC_USERNAME_CLAIM: &str = "OIDC_USERNAME_CLAIM";
const DEFAULT_USERNAME_CLAIM: &str = "email";

pub const DEFAULT_CACHE_SECONDS: u64 = 60;
const MAX_CACHE_SECONDS: u64 = 900;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub paths: IdentityPaths,
    pub cache_ttl: Duration,
    pub oidc: Option<OidcSettings>,
}

/// Which issuers may be trusted: https only when deployed; the local stack's provider on
/// `http://127.0.0.1` (or `localhost`) too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuers {
    HttpsOnly,
    LoopbackHttpToo,
}

fn issuer_allowed(issuer: &str, issuers: Issuers) -> bool {
    let Ok(uri) = issuer.parse::<http::Uri>() else { return false };
    let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost"));
    let well_formed = uri.host().is_some() && uri.query().is_none();
    match uri.scheme_str() {
        Some("https") => well_formed,
        Some("http") => well_formed && loopback && issuers == Issuers::LoopbackHttpToo,
        _ => false,
    }
}

fn oidc_settings(
    lookup: impl Fn(&str) -> Option<String>,
    issuers: Issuers,
) -> Result<Option<OidcSettings>, ConfigError> {
    use inventory_runtime::config::value;
    // Each read whether single sign-on is on or not: one declaration of the variables.
    let (issuer, audience, mapping_parameter, username_claim) = (
        value(&lookup, OIDC_ISSUER),
        value(&lookup, OIDC_AUDIENCE),
        value(&lookup, OIDC_ROLE_MAPPING_PARAMETER),
        value(&lookup, OIDC_USERNAME_CLAIM),
    );
    let Some(issuer) = issuer else { return Ok(None) };
    if !issuer_allowed(&issuer, issuers) {
        let expected = match issuers {
            Issuers::HttpsOnly => "an https:// issuer URL",
            Issuers::LoopbackHttpToo => "an https:// issuer URL, or http://127.0.0.1:PORT locally",
        };
        return Err(ConfigError { name: OIDC_ISSUER, expected, value: issuer });
    }
    Ok(Some(OidcSettings {
        issuer,
        audience: ParameterValue::new(audience.ok_or(ConfigError::missing(OIDC_AUDIENCE))?),
        mapping_parameter: mapping_parameter.ok_or(ConfigError::missing(OIDC_ROLE_MAPPING_PARAMETER))?,
        username_claim: username_claim.unwrap_or_else(|| DEFAULT_USERNAME_CLAIM.to_owned()),
    }))
}

pub use inventory_runtime::ConfigError;

impl Config {
    /// The deployed function's settings: an https issuer only.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup_with(lookup, Issuers::HttpsOnly)
    }

    pub fn from_lookup_with(lookup: impl Fn(&str) -> Option<String>, issuers: Issuers) -> Result<Self, ConfigError> {
        let paths = IdentityPaths::from_lookup(&lookup)?;
        let cache_seconds = match lookup(CACHE_SECONDS).filter(|value| !value.trim().is_empty()) {
            None => DEFAULT_CACHE_SECONDS,
            Some(value) => value
                .trim()
                .parse()
                .ok()
                .filter(|seconds| *seconds <= MAX_CACHE_SECONDS)
                .ok_or(ConfigError { name: CACHE_SECONDS, expected: "whole seconds from 0 to 900", value })?,
        };
        let oidc = oidc_settings(&lookup, issuers)?;
        Ok(Self { paths, cache_ttl: Duration::from_secs(cache_seconds), oidc })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: (&str, &str) = (API_KEYS_PATH, "/runtime-inventory/api-keys");

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn reads_the_path_and_cache_period() {
        let parsed = config(&[(USERS_PATH, "/runtime-inventory/users/"), KEYS]).unwrap();
        assert_eq!(
            parsed,
            Config {
                paths: IdentityPaths {
                    users: "/runtime-inventory/users".into(),
                    api_keys: "/runtime-inventory/api-keys".into()
                },
                cache_ttl: Duration::from_secs(60),
                oidc: None,
            }
        );
        assert_eq!(config(&[(USERS_PATH, "/u"), KEYS, (CACHE_SECONDS, "0")]).unwrap().cache_ttl, Duration::ZERO);
    }

    #[test]
    fn single_sign_on_needs_an_https_issuer_an_audience_and_a_mapping() {
        let issuer = |url: &'static str| {
            [
                (USERS_PATH, "/u"),
                KEYS,
                (OIDC_ISSUER, url),
                (OIDC_AUDIENCE, "console"),
                (OIDC_ROLE_MAPPING_PARAMETER, "/ri/oidc-role-mapping"),
            ]
        };
        let parsed = config(&issuer("https://idp.example.com/realms/ri")).unwrap().oidc.unwrap();
        assert_eq!((parsed.audience, parsed.username_claim.as_str()), (ParameterValue::new("console"), "email"));
        assert_eq!(config(&issuer("http://idp.example.com")).unwrap_err().name, OIDC_ISSUER);
        assert_eq!(config(&issuer("http://127.0.0.1:9000")).unwrap_err().name, OIDC_ISSUER, "not when deployed");
        let local = |pairs: &[(&str, &str)]| {
            Config::from_lookup_with(
                |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string()),
                Issuers::LoopbackHttpToo,
            )
        };
        assert!(local(&issuer("http://127.0.0.1:9000")).unwrap().oidc.is_some());
        assert_eq!(local(&issuer("http://10.0.0.1:9000")).unwrap_err().name, OIDC_ISSUER);
        assert_eq!(config(&issuer("https://idp.example.com")[..3]).unwrap_err().name, OIDC_AUDIENCE);
        assert!(config(&[(USERS_PATH, "/u"), KEYS, (OIDC_ISSUER, " ")]).unwrap().oidc.is_none(), "empty: off");
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(config(&[KEYS]).unwrap_err().name, USERS_PATH);
        assert_eq!(config(&[(USERS_PATH, "users"), KEYS]).unwrap_err().name, USERS_PATH);
        assert_eq!(config(&[(USERS_PATH, "/a//b"), KEYS]).unwrap_err().name, USERS_PATH);
        assert_eq!(config(&[(USERS_PATH, "/u")]).unwrap_err().name, API_KEYS_PATH);
        assert_eq!(config(&[(USERS_PATH, "/u"), KEYS, (CACHE_SECONDS, "3600")]).unwrap_err().name, CACHE_SECONDS);
        assert_eq!(config(&[(USERS_PATH, "/u"), KEYS, (CACHE_SECONDS, "soon")]).unwrap_err().name, CACHE_SECONDS);
    }
}

//! Authorizer settings, from the environment variables the template sets.

use std::time::Duration;

pub use inventory_identity::{IdentityPaths, API_KEYS_PATH, USERS_PATH};

/// Seconds a user read from SSM (and a password verified against it) is reused.
pub const CACHE_SECONDS: &str = "AUTH_CACHE_SECONDS";

pub const DEFAULT_CACHE_SECONDS: u64 = 60;
const MAX_CACHE_SECONDS: u64 = 900;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub paths: IdentityPaths,
    pub cache_ttl: Duration,
}

pub use inventory_runtime::ConfigError;

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
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
        Ok(Self { paths, cache_ttl: Duration::from_secs(cache_seconds) })
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
                cache_ttl: Duration::from_secs(60)
            }
        );
        assert_eq!(config(&[(USERS_PATH, "/u"), KEYS, (CACHE_SECONDS, "0")]).unwrap().cache_ttl, Duration::ZERO);
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

//! Authorizer settings, from the environment variables the template sets.

use std::time::Duration;

/// SSM path under which each user is a parameter (`<path>/<user>`).
pub const USERS_PATH: &str = "AUTH_USERS_PATH";
/// Seconds a user read from SSM (and a password verified against it) is reused.
pub const CACHE_SECONDS: &str = "AUTH_CACHE_SECONDS";

pub const DEFAULT_CACHE_SECONDS: u64 = 60;
const MAX_CACHE_SECONDS: u64 = 900;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub users_path: String,
    pub cache_ttl: Duration,
}

pub use inventory_runtime::ConfigError;

/// An SSM parameter path: `/` then segments of letters, digits and `_.-`.
pub fn is_valid_users_path(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.len() > 1
        && path.len() <= 900
        && path.starts_with('/')
        && path[1..].split('/').all(|segment| {
            !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        })
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let users_path = lookup(USERS_PATH).unwrap_or_default().trim().to_owned();
        if !is_valid_users_path(&users_path) {
            return Err(ConfigError {
                name: USERS_PATH,
                expected: "an SSM path such as /runtime-inventory/users",
                value: users_path,
            });
        }
        let cache_seconds = match lookup(CACHE_SECONDS).filter(|value| !value.trim().is_empty()) {
            None => DEFAULT_CACHE_SECONDS,
            Some(value) => value
                .trim()
                .parse()
                .ok()
                .filter(|seconds| *seconds <= MAX_CACHE_SECONDS)
                .ok_or(ConfigError { name: CACHE_SECONDS, expected: "whole seconds from 0 to 900", value })?,
        };
        Ok(Self {
            users_path: users_path.trim_end_matches('/').to_owned(),
            cache_ttl: Duration::from_secs(cache_seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn reads_the_path_and_cache_period() {
        let parsed = config(&[(USERS_PATH, "/runtime-inventory/users/")]).unwrap();
        assert_eq!(
            parsed,
            Config { users_path: "/runtime-inventory/users".into(), cache_ttl: Duration::from_secs(60) }
        );
        assert_eq!(config(&[(USERS_PATH, "/u"), (CACHE_SECONDS, "0")]).unwrap().cache_ttl, Duration::ZERO);
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(config(&[]).unwrap_err().name, USERS_PATH);
        assert_eq!(config(&[(USERS_PATH, "users")]).unwrap_err().name, USERS_PATH);
        assert_eq!(config(&[(USERS_PATH, "/a//b")]).unwrap_err().name, USERS_PATH);
        assert_eq!(config(&[(USERS_PATH, "/u"), (CACHE_SECONDS, "3600")]).unwrap_err().name, CACHE_SECONDS);
        assert_eq!(config(&[(USERS_PATH, "/u"), (CACHE_SECONDS, "soon")]).unwrap_err().name, CACHE_SECONDS);
    }
}

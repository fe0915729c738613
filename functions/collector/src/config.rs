//! Collector settings, from the environment variables the template sets from its parameters.

use aws_config::retry::RetryConfig;
use aws_config::Region;
use inventory_runtime::Sdk;

pub use inventory_store::settings::{AwsScope, REGIONS, ROLE_ARNS};
/// How many clusters are collected at once.
pub const CONCURRENCY: &str = "COLLECTOR_CONCURRENCY";
/// The Anchore account the inventory is stored under.
pub const ACCOUNT: &str = inventory_store::settings::COLLECTOR_ACCOUNT;

pub const DEFAULT_CONCURRENCY: usize = 4;
const MAX_CONCURRENCY: u64 = 64;
/// Adaptive retry absorbs ECS throttling; enough attempts to ride out a burst.
const MAX_ATTEMPTS: u32 = 8;
/// A whole ECS call with those retries; the collector runs for minutes, so this is longer than
/// the other functions' operation timeout.
pub const ECS_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
const SESSION_NAME: &str = "runtime-inventory-collector";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsConfig {
    pub regions: Vec<String>,
    /// Empty: collect with the function's own credentials.
    pub role_arns: Vec<String>,
    pub concurrency: usize,
    pub account: String,
}

pub use inventory_runtime::ConfigError;

impl EcsConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, own_region: Option<&str>) -> Result<Self, ConfigError> {
        let AwsScope { regions, role_arns } = AwsScope::from_lookup(&lookup, own_region)?;
        let concurrency = inventory_runtime::config::number_in(
            &lookup,
            CONCURRENCY,
            1..=MAX_CONCURRENCY,
            "a whole number from 1 to 64",
        )?
        .map_or(DEFAULT_CONCURRENCY, |n| n as usize);

        let account = inventory_store::settings::collector_account(&lookup)?;
        Ok(Self { regions, role_arns, concurrency, account })
    }

    /// One ECS client per (role, region).
    pub async fn targets(&self, sdk: &Sdk) -> Vec<Target> {
        let scope = AwsScope { regions: self.regions.clone(), role_arns: self.role_arns.clone() };
        let places = scope.places(sdk.config(), SESSION_NAME).await;
        places
            .into_iter()
            .map(|place| {
                let timeouts = inventory_runtime::sdk::timeouts().to_builder().operation_timeout(ECS_OPERATION_TIMEOUT);
                let client = inventory_runtime::client!(sdk, aws_sdk_ecs, |builder| {
                    let builder = builder
                        .region(Region::new(place.region.clone()))
                        .retry_config(RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS))
                        .timeout_config(timeouts.build());
                    match place.credentials.clone() {
                        Some(credentials) => builder.credentials_provider(credentials),
                        None => builder,
                    }
                });
                Target { region: place.region, role_arn: place.role_arn, client }
            })
            .collect()
    }
}

/// Where clusters are listed: one region, with one set of credentials.
#[derive(Clone, Debug)]
pub struct Target {
    pub region: String,
    pub role_arn: Option<String>,
    pub client: aws_sdk_ecs::Client,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)], own_region: Option<&str>) -> Result<EcsConfig, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        EcsConfig::from_lookup(|key| map.get(key).cloned(), own_region)
    }

    #[test]
    fn defaults_collect_the_own_region_and_account() {
        let parsed = config(&[], Some("eu-west-2")).unwrap();
        assert_eq!(
            parsed,
            EcsConfig {
                regions: vec!["eu-west-2".into()],
                role_arns: vec![],
                concurrency: DEFAULT_CONCURRENCY,
                account: "admin".into()
            }
        );
    }

    #[test]
    fn lists_are_comma_separated() {
        let parsed = config(
            &[
                (REGIONS, "us-east-1, eu-west-1,"),
                (ROLE_ARNS, "arn:aws:iam::111111111111:role/inventory,arn:aws-cn:iam::222222222222:role/x/y"),
                (CONCURRENCY, "8"),
                (ACCOUNT, "security"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(parsed.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(parsed.role_arns.len(), 2);
        assert_eq!((parsed.concurrency, parsed.account.as_str()), (8, "security"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let name = |pairs: &[(&str, &str)]| config(pairs, Some("eu-west-2")).unwrap_err().name;
        assert_eq!(config(&[], None).unwrap_err().name, REGIONS);
        assert_eq!(name(&[(REGIONS, "EU West")]), REGIONS);
        assert_eq!(name(&[(ROLE_ARNS, "arn:aws:iam::123:role/x")]), ROLE_ARNS);
        assert_eq!(name(&[(ROLE_ARNS, "arn:aws:iam::111111111111:user/x")]), ROLE_ARNS);
        assert_eq!(name(&[(CONCURRENCY, "0")]), CONCURRENCY);
        assert_eq!(name(&[(CONCURRENCY, "many")]), CONCURRENCY);
        assert_eq!(name(&[(ACCOUNT, "a#b")]), ACCOUNT);
    }
}

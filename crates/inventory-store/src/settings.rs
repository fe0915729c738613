//! Runtime settings. Values come from a key lookup so that a later source
//! (for example SSM Parameter Store) can override the environment.

use crate::limits::MAX_TTL_DAYS;

pub const TABLE_NAME: &str = "INVENTORY_TABLE";
pub const TTL_DAYS: &str = "INVENTORY_TTL_DAYS";
pub const INGEST_OVERWRITE: &str = "INVENTORY_INGEST_OVERWRITE";
pub const STALE_AFTER_MINUTES: &str = "STALE_AFTER_MINUTES";

pub const DEFAULT_TTL_DAYS: u32 = 120;
/// A cluster with no report for longer than this is stale (`GET /v2/clusters`).
pub const DEFAULT_STALE_AFTER_MINUTES: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub table_name: String,
    /// 0 keeps inventory forever.
    pub ttl_days: u32,
    /// When true a report replaces everything stored for the contexts it covers.
    pub ingest_overwrite: bool,
    /// Minutes without a report after which a cluster is stale.
    pub stale_after_minutes: u32,
}

/// The account the agentless ECS inventory (the collector's sweeps and ECS task state change
/// events) is stored under.
pub const COLLECTOR_ACCOUNT: &str = "COLLECTOR_ACCOUNT";

/// `COLLECTOR_ACCOUNT`, `admin` when unset.
/// Comma-separated regions the collector and the findings sync read; empty means the function's
/// own region.
pub const REGIONS: &str = "COLLECTOR_REGIONS";
/// Comma-separated IAM role ARNs to assume; empty means the function's own credentials.
pub const ROLE_ARNS: &str = "COLLECTOR_ROLE_ARNS";
/// The KMS key (id, ARN or alias) cluster credentials are encrypted with: the clusters function
/// encrypts with it, the Kubernetes collector decrypts.
pub const CLUSTER_CREDENTIALS_KEY: &str = "CLUSTER_CREDENTIALS_KEY";

/// Comma-separated CIDRs of non-public networks the Kubernetes collector may connect to (private
/// EKS endpoints, a VPC's clusters); the clusters function refuses a literal server address
/// outside them when a configuration is posted.
pub const KUBERNETES_ALLOWED_NETWORKS: &str = "KUBERNETES_ALLOWED_NETWORKS";

/// `KUBERNETES_ALLOWED_NETWORKS`; unset or empty allows public addresses only.
pub fn allowed_networks(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<crate::cluster_config::network::AllowedNetworks, ConfigError> {
    let value = lookup(KUBERNETES_ALLOWED_NETWORKS).unwrap_or_default();
    crate::cluster_config::network::AllowedNetworks::parse(&value).map_err(|_| ConfigError {
        name: KUBERNETES_ALLOWED_NETWORKS,
        expected: "comma-separated CIDRs such as 10.0.0.0/16,fd00::/8",
        value,
    })
}

/// Cluster configurations one account may have: the clusters function refuses one more, and the
/// Kubernetes collector reads no more of an account per run.
pub const KUBERNETES_CLUSTERS_PER_ACCOUNT: &str = "KUBERNETES_CLUSTERS_PER_ACCOUNT";
pub const DEFAULT_CLUSTERS_PER_ACCOUNT: usize = 25;

/// `KUBERNETES_CLUSTERS_PER_ACCOUNT`, the default when unset.
pub fn clusters_per_account(lookup: impl Fn(&str) -> Option<String>) -> Result<usize, ConfigError> {
    let most = number_in(lookup, KUBERNETES_CLUSTERS_PER_ACCOUNT, 1..=1000, "a whole number from 1 to 1000")?;
    Ok(most.map_or(DEFAULT_CLUSTERS_PER_ACCOUNT, |most| most as usize))
}

/// Days a closed running interval is kept (`HistoryRetentionDays`): the notifier expires what it
/// records after them, and the history export refuses days whose intervals may be gone.
pub const HISTORY_RETENTION_DAYS: &str = "HISTORY_RETENTION_DAYS";

/// `HISTORY_RETENTION_DAYS`, the default when unset; 0 records no history.
pub fn history_retention_days(lookup: impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    let days = number_in(
        lookup,
        HISTORY_RETENTION_DAYS,
        0..=u64::from(MAX_TTL_DAYS),
        "a whole number of days from 0 (no history) to 36500",
    )?;
    Ok(days.map_or(crate::history::DEFAULT_HISTORY_RETENTION_DAYS, |days| days as u32))
}

/// Where the collector and the findings sync read AWS: regions, and roles to assume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsScope {
    pub regions: Vec<String>,
    /// Empty: the function's own credentials.
    pub role_arns: Vec<String>,
}

fn list(value: Option<String>) -> Vec<String> {
    value.unwrap_or_default().split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

fn is_region(value: &str) -> bool {
    value.len() <= 32
        && value.contains('-')
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The account of an IAM role ARN (`arn:aws:iam::123456789012:role/name`), if it is one.
pub fn role_account(value: &str) -> Option<&str> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if partition.starts_with("aws")
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty()) =>
        {
            Some(account)
        }
        _ => None,
    }
}

impl AwsScope {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, own_region: Option<&str>) -> Result<Self, ConfigError> {
        let mut regions = list(lookup(REGIONS));
        if regions.is_empty() {
            regions.extend(own_region.map(str::to_owned));
        }
        if regions.is_empty() {
            return Err(ConfigError {
                name: REGIONS,
                expected: "set when the function has no region (AWS_REGION)",
                value: String::new(),
            });
        }
        if let Some(bad) = regions.iter().find(|region| !is_region(region)) {
            return Err(ConfigError { name: REGIONS, expected: "comma-separated region names", value: bad.clone() });
        }
        regions.dedup();
        let role_arns = list(lookup(ROLE_ARNS));
        if let Some(bad) = role_arns.iter().find(|arn| role_account(arn).is_none()) {
            return Err(ConfigError {
                name: ROLE_ARNS,
                expected: "comma-separated IAM role ARNs (arn:aws:iam::123456789012:role/name)",
                value: bad.clone(),
            });
        }
        Ok(Self { regions, role_arns })
    }

    /// Every (role, region) to read, with the credentials to read it with: the function's own
    /// (`None`), or the role's. One assume-role provider per role, shared by its regions, so its
    /// credentials are fetched once and cached across regions and invocations.
    pub async fn places(&self, sdk_config: &aws_config::SdkConfig, session_name: &str) -> Vec<AwsPlace> {
        let roles: Vec<Option<&String>> =
            if self.role_arns.is_empty() { vec![None] } else { self.role_arns.iter().map(Some).collect() };
        let mut places = Vec::new();
        for role_arn in roles {
            let credentials = match role_arn {
                Some(arn) => Some(aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_config::sts::AssumeRoleProvider::builder(arn)
                        .session_name(session_name)
                        .configure(sdk_config)
                        .build()
                        .await,
                )),
                None => None,
            };
            places.extend(self.regions.iter().map(|region| AwsPlace {
                region: region.clone(),
                role_arn: role_arn.cloned(),
                credentials: credentials.clone(),
            }));
        }
        places
    }
}

/// One region, read with one set of credentials.
#[derive(Clone, Debug)]
pub struct AwsPlace {
    pub region: String,
    pub role_arn: Option<String>,
    /// `None`: the function's own credentials.
    pub credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
}

pub fn collector_account(lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let account = lookup(COLLECTOR_ACCOUNT)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| crate::auth::DEFAULT_ACCOUNT.to_owned());
    if !crate::names::Account::is_valid(&account) {
        return Err(ConfigError { name: COLLECTOR_ACCOUNT, expected: crate::names::Account::RULE, value: account });
    }
    Ok(account)
}

pub use inventory_runtime::config::{number_in, ConfigError};

impl Settings {
    /// Builds settings from any key/value source; later sources can wrap this lookup.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name =
            lookup(TABLE_NAME).filter(|value| !value.trim().is_empty()).ok_or(ConfigError::missing(TABLE_NAME))?;
        let ttl_days = match lookup(TTL_DAYS).filter(|value| !value.trim().is_empty()) {
            None => DEFAULT_TTL_DAYS,
            Some(value) => value.trim().parse().ok().filter(|days| *days <= MAX_TTL_DAYS).ok_or(ConfigError {
                name: TTL_DAYS,
                expected: "a whole number of days from 0 (keeps inventory forever) to 36500",
                value,
            })?,
        };
        let ingest_overwrite = inventory_runtime::config::flag(&lookup, INGEST_OVERWRITE)?;
        let stale_after_minutes = match lookup(STALE_AFTER_MINUTES).filter(|value| !value.trim().is_empty()) {
            None => DEFAULT_STALE_AFTER_MINUTES,
            Some(value) => value.trim().parse().ok().filter(|minutes| *minutes > 0).ok_or(ConfigError {
                name: STALE_AFTER_MINUTES,
                expected: "a whole number of minutes, at least 1",
                value,
            })?,
        };
        Ok(Self { table_name, ttl_days, ingest_overwrite, stale_after_minutes })
    }

    /// How long a cluster may go without a report before it is stale.
    pub fn stale_after(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::minutes(i64::from(self.stale_after_minutes))
    }

    /// How long an unreported item stays visible; `None` means forever.
    pub fn ttl_delta(&self) -> Option<chrono::TimeDelta> {
        (self.ttl_days > 0).then(|| chrono::TimeDelta::days(i64::from(self.ttl_days)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|key| map.get(key).cloned())
    }

    #[test]
    fn defaults_match_the_seed_documents() {
        let parsed = settings(&[(TABLE_NAME, "t")]).unwrap();
        let expected =
            Settings { table_name: "t".into(), ttl_days: 120, ingest_overwrite: false, stale_after_minutes: 30 };
        assert_eq!(parsed, expected);
        assert_eq!(parsed.ttl_delta(), Some(chrono::TimeDelta::days(120)));
    }

    #[test]
    fn zero_days_keeps_forever() {
        let parsed = settings(&[(TABLE_NAME, "t"), (TTL_DAYS, "0"), (INGEST_OVERWRITE, "TRUE")]).unwrap();
        assert_eq!(parsed.ttl_delta(), None);
        assert!(parsed.ingest_overwrite);
    }

    #[test]
    fn bad_values_are_reported_by_name() {
        assert_eq!(settings(&[]), Err(ConfigError::missing(TABLE_NAME)));
        assert!(matches!(settings(&[(TABLE_NAME, "t"), (TTL_DAYS, "-1")]), Err(ConfigError { name: TTL_DAYS, .. })));
        assert!(settings(&[(TABLE_NAME, "t"), (TTL_DAYS, &MAX_TTL_DAYS.to_string())]).is_ok());
        // Past it, expiry arithmetic would overflow and every function panic.
        let too_long = settings(&[(TABLE_NAME, "t"), (TTL_DAYS, &(MAX_TTL_DAYS + 1).to_string())]);
        assert!(
            matches!(&too_long, Err(ConfigError { name: TTL_DAYS, expected, .. }) if expected.contains(&MAX_TTL_DAYS.to_string())),
            "{too_long:?}"
        );
        assert!(matches!(
            settings(&[(TABLE_NAME, "t"), (INGEST_OVERWRITE, "yes")]),
            Err(ConfigError { name: INGEST_OVERWRITE, .. })
        ));
        assert!(matches!(
            settings(&[(TABLE_NAME, "t"), (STALE_AFTER_MINUTES, "0")]),
            Err(ConfigError { name: STALE_AFTER_MINUTES, .. })
        ));
    }
}

/// Days to fix a running vulnerability of each severity (`SlaDays`): the worklist's `due_at`.
pub const SLA_DAYS: &str = "SLA_DAYS";

/// `SLA_DAYS`, or the default policy.
pub fn sla_policy(lookup: impl Fn(&str) -> Option<String>) -> Result<inventory_core::threat::SlaPolicy, ConfigError> {
    match inventory_runtime::config::value(&lookup, SLA_DAYS) {
        None => Ok(inventory_core::threat::SlaPolicy::default()),
        Some(raw) => inventory_core::threat::SlaPolicy::parse(&raw).map_err(|_| ConfigError {
            name: SLA_DAYS,
            expected: "severity=days pairs (critical=15,high=30,medium=90,low=180; 0 = none)",
            value: raw,
        }),
    }
}

/// Whether a `not_affected` or `fixed` annotation of a non-admin waits for an approver
/// (`VexRequiresApproval`).
pub const VEX_REQUIRES_APPROVAL: &str = "VEX_REQUIRES_APPROVAL";

pub fn vex_requires_approval(lookup: impl Fn(&str) -> Option<String>) -> Result<bool, ConfigError> {
    inventory_runtime::config::flag(lookup, VEX_REQUIRES_APPROVAL)
}

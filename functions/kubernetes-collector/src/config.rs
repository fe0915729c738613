//! The Kubernetes collector's settings, from the environment variables the template sets.

use inventory_runtime::config::{number_in, ConfigError};
use inventory_store::cluster_config::network::AllowedNetworks;
use inventory_store::settings::AwsScope;
use std::time::Duration;

/// Clusters read at once.
pub const CONCURRENCY: &str = "KUBERNETES_COLLECTOR_CONCURRENCY";
/// How long one cluster may take to read, in seconds.
pub const CLUSTER_TIMEOUT: &str = "KUBERNETES_CLUSTER_TIMEOUT_SECONDS";
/// `discover`, a comma-separated list of EKS cluster ARNs, or empty (no EKS cluster).
pub const EKS_CLUSTERS: &str = "EKS_CLUSTERS";
pub use inventory_store::settings::CLUSTER_CREDENTIALS_KEY as CREDENTIALS_KEY;

pub const DEFAULT_CONCURRENCY: usize = 4;
pub const DEFAULT_CLUSTER_TIMEOUT: Duration = Duration::from_secs(60);

/// Which EKS clusters are read without a stored credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EksClusters {
    None,
    /// Every cluster `eks:ListClusters` shows in each region and role.
    Discover,
    /// These clusters only.
    Listed(Vec<EksArn>),
}

/// An EKS cluster ARN's parts: `arn:aws:eks:{region}:{account}:cluster/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksArn {
    pub arn: String,
    pub region: String,
    pub name: String,
}

impl EksArn {
    pub fn parse(value: &str) -> Option<Self> {
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", partition, "eks", region, account, resource]
                if partition.starts_with("aws")
                    && !region.is_empty()
                    && account.len() == 12
                    && account.chars().all(|c| c.is_ascii_digit()) =>
            {
                let name = resource.strip_prefix("cluster/").filter(|name| !name.is_empty() && !name.contains('/'))?;
                Some(Self { arn: value.to_owned(), region: (*region).to_owned(), name: name.to_owned() })
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesConfig {
    pub concurrency: usize,
    pub cluster_timeout: Duration,
    pub eks: EksClusters,
    /// Where EKS clusters are discovered.
    pub scope: AwsScope,
    /// The account EKS clusters are stored under.
    pub eks_account: String,
    /// Non-public networks a cluster's server may be in.
    pub allowed_networks: AllowedNetworks,
    /// Configured clusters of one account read per run.
    pub clusters_per_account: usize,
}

impl KubernetesConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, own_region: Option<&str>) -> Result<Self, ConfigError> {
        let concurrency = number_in(&lookup, CONCURRENCY, 1..=32, "a whole number from 1 to 32")?
            .map_or(DEFAULT_CONCURRENCY, |n| n as usize);
        let cluster_timeout = number_in(&lookup, CLUSTER_TIMEOUT, 5..=840, "a number of seconds from 5 to 840")?
            .map_or(DEFAULT_CLUSTER_TIMEOUT, Duration::from_secs);
        let eks_value = lookup(EKS_CLUSTERS).unwrap_or_default();
        let eks = match eks_value.trim() {
            "" => EksClusters::None,
            "discover" => EksClusters::Discover,
            listed => {
                let arns: Option<Vec<EksArn>> =
                    listed.split(',').map(str::trim).filter(|arn| !arn.is_empty()).map(EksArn::parse).collect();
                EksClusters::Listed(arns.ok_or(ConfigError {
                    name: EKS_CLUSTERS,
                    expected:
                        "discover, or comma-separated EKS cluster ARNs (arn:aws:eks:region:123456789012:cluster/name)",
                    value: eks_value.clone(),
                })?)
            }
        };
        let scope = AwsScope::from_lookup(&lookup, own_region)?;
        let eks_account = inventory_store::settings::collector_account(&lookup)?;
        let allowed_networks = inventory_store::settings::allowed_networks(&lookup)?;
        let clusters_per_account = inventory_store::settings::clusters_per_account(&lookup)?;
        Ok(Self { concurrency, cluster_timeout, eks, scope, eks_account, allowed_networks, clusters_per_account })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<KubernetesConfig, ConfigError> {
        let lookup = |key: &str| pairs.iter().find(|(name, _)| *name == key).map(|(_, value)| (*value).to_owned());
        KubernetesConfig::from_lookup(lookup, Some("eu-west-1"))
    }

    #[test]
    fn defaults_read_configured_clusters_only() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(settings.cluster_timeout, DEFAULT_CLUSTER_TIMEOUT);
        assert_eq!(settings.eks, EksClusters::None);
        assert_eq!(settings.eks_account, "admin");
    }

    #[test]
    fn eks_clusters_are_discovered_or_listed_by_arn() {
        assert_eq!(settings(&[(EKS_CLUSTERS, "discover")]).unwrap().eks, EksClusters::Discover);
        let listed = settings(&[(EKS_CLUSTERS, "arn:aws:eks:us-east-1:123456789012:cluster/prod, ")]).unwrap();
        let EksClusters::Listed(arns) = listed.eks else { panic!("a list") };
        assert_eq!(arns[0].region, "us-east-1");
        assert_eq!(arns[0].name, "prod");
        let bad = settings(&[(EKS_CLUSTERS, "arn:aws:ecs:us-east-1:123456789012:cluster/prod")]).unwrap_err();
        assert_eq!(bad.name, EKS_CLUSTERS);
    }

    #[test]
    fn bounds_name_the_variable() {
        assert_eq!(settings(&[(CONCURRENCY, "0")]).unwrap_err().name, CONCURRENCY);
        assert_eq!(settings(&[(CLUSTER_TIMEOUT, "900")]).unwrap_err().name, CLUSTER_TIMEOUT);
        assert_eq!(settings(&[(CLUSTER_TIMEOUT, "30")]).unwrap().cluster_timeout, Duration::from_secs(30));
    }
}

//! Whose images a registry's findings are read for. The function reads Inspector and ECR with the
//! operator's credentials, so any tenant that reports an image of the operator's registry would
//! otherwise read its findings (and learn whether it exists). An operator maps each inventory
//! account to the registry accounts it may read (`FINDINGS_SYNC_ACCOUNTS`); by default only the
//! collector's account, which holds the operator's own inventory, is synced.

use inventory_runtime::ConfigError;

/// `account=registry` pairs, comma-separated; `*` as the registry is any registry the function
/// reads (`admin=*,team-b=111122223333`). Unset or empty: `<COLLECTOR_ACCOUNT>=*`.
pub const FINDINGS_SYNC_ACCOUNTS: &str = "FINDINGS_SYNC_ACCOUNTS";

/// Any registry account.
const ANY_REGISTRY: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAccounts(Vec<(String, String)>);

impl SyncAccounts {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = lookup(FINDINGS_SYNC_ACCOUNTS).unwrap_or_default();
        if value.trim().is_empty() {
            let account = inventory_store::settings::collector_account(&lookup)?;
            return Ok(Self(vec![(account, ANY_REGISTRY.to_owned())]));
        }
        let invalid = || ConfigError {
            name: FINDINGS_SYNC_ACCOUNTS,
            expected: "comma-separated account=registry pairs, the registry a 12-digit AWS account or *",
            value: value.clone(),
        };
        let pairs = value.split(',').map(str::trim).filter(|pair| !pair.is_empty()).map(|pair| {
            let (account, registry) = pair.split_once('=').ok_or_else(invalid)?;
            let (account, registry) = (account.trim(), registry.trim());
            let registry_valid =
                registry == ANY_REGISTRY || (registry.len() == 12 && registry.bytes().all(|b| b.is_ascii_digit()));
            if !inventory_store::names::Account::is_valid(account) || !registry_valid {
                return Err(invalid());
            }
            Ok((account.to_owned(), registry.to_owned()))
        });
        pairs.collect::<Result<_, _>>().map(Self)
    }

    /// Whether `account`'s images of `registry` are synced.
    pub fn allows(&self, account: &str, registry: &str) -> bool {
        self.0.iter().any(|(mapped, allowed)| mapped == account && (allowed == ANY_REGISTRY || allowed == registry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(value: Option<&str>) -> Result<SyncAccounts, ConfigError> {
        SyncAccounts::from_lookup(|key| (key == FINDINGS_SYNC_ACCOUNTS).then(|| value.map(str::to_owned)).flatten())
    }

    #[test]
    fn only_the_collector_account_is_synced_by_default() {
        let default = accounts(None).unwrap();
        assert!(default.allows("admin", "111122223333"));
        assert!(!default.allows("tenant-b", "111122223333"));
    }

    #[test]
    fn an_account_reads_only_the_registries_mapped_to_it() {
        let mapped = accounts(Some("admin=*, team-b=111122223333")).unwrap();
        assert!(mapped.allows("team-b", "111122223333"));
        assert!(!mapped.allows("team-b", "444455556666"));
        assert!(mapped.allows("admin", "444455556666"));
        assert!(!mapped.allows("team-c", "111122223333"));
        for bad in ["team-b", "team-b=1111", "=*", "team b=*"] {
            assert_eq!(accounts(Some(bad)).unwrap_err().name, FINDINGS_SYNC_ACCOUNTS, "{bad}");
        }
    }
}

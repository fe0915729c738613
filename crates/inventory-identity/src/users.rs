//! Users in SSM Parameter Store: one SecureString parameter per user, `<path>/<user name>`,
//! holding a JSON record with the password hash, the user's accounts and its role.

use crate::IdentityError;
use aws_sdk_ssm::types::ParameterType;
use inventory_api::auth::Role;
use inventory_core::api_keys::API_KEY_USER;
use serde::{Deserialize, Serialize};

/// User names become SSM parameter names, which allow only these characters; `_api_key` is
/// the name API keys are sent with, never a user's.
pub fn is_valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name != API_KEY_USER
}

/// What is stored for a user. The password is kept only as an Argon2id hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub password_hash: String,
    /// The accounts the user may act on; the first is used when a request names none.
    pub accounts: Vec<String>,
    pub role: Role,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord").field("accounts", &self.accounts).field("role", &self.role).finish_non_exhaustive()
    }
}

fn what(user: &str) -> String {
    format!("user {user:?}")
}

impl UserRecord {
    /// Parses and checks a stored record.
    pub fn parse(user: &str, json: &str) -> Result<Self, IdentityError> {
        let invalid = |message: String| IdentityError::InvalidRecord { what: what(user), message };
        let record: UserRecord = serde_json::from_str(json).map_err(|error| invalid(error.to_string()))?;
        record.check().map_err(invalid)?;
        Ok(record)
    }

    pub fn check(&self) -> Result<(), String> {
        if !crate::password::is_supported_hash(&self.password_hash) {
            return Err(format!(
                "password_hash must be an Argon2id PHC string of at least m=19456,t=2,p=1 and at most m={},t={},p={}",
                crate::password::MAX_MEMORY_KIB,
                crate::password::MAX_PASSES,
                crate::password::MAX_LANES
            ));
        }
        if self.accounts.is_empty() {
            return Err("accounts must name at least one account".into());
        }
        if let Some(bad) = self.accounts.iter().find(|account| !inventory_core::names::Account::is_valid(account)) {
            return Err(format!("account {bad:?} is not a valid account name"));
        }
        Ok(())
    }
}

/// The users' parameters under one path, read with decryption.
#[derive(Clone, Debug)]
pub struct SsmUsers {
    client: aws_sdk_ssm::Client,
    path: String,
}

impl SsmUsers {
    pub fn new(client: aws_sdk_ssm::Client, path: impl Into<String>) -> Self {
        Self { client, path: path.into().trim_end_matches('/').to_owned() }
    }

    pub fn parameter_name(&self, user: &str) -> String {
        format!("{}/{user}", self.path)
    }

    /// The user's record, or `None` when there is no such user.
    pub async fn get(&self, user: &str) -> Result<Option<UserRecord>, IdentityError> {
        let Some(value) = crate::secure_value(&self.client, self.parameter_name(user), || what(user)).await? else {
            return Ok(None);
        };
        UserRecord::parse(user, &value).map(Some)
    }

    /// Creates or replaces a user (a SecureString encrypted with `kms_key_id`, or SSM's default key).
    pub async fn put(&self, user: &str, record: &UserRecord, kms_key_id: Option<&str>) -> Result<(), IdentityError> {
        let refused = |message: String| IdentityError::Refused { what: what(user), message };
        if !is_valid_user_name(user) {
            return Err(refused(format!("user names are 1 to 64 letters, digits or _.-, not {API_KEY_USER}")));
        }
        record.check().map_err(refused)?;
        let value = serde_json::to_string(record).map_err(|error| refused(error.to_string()))?;
        self.client
            .put_parameter()
            .name(self.parameter_name(user))
            .description("Runtime Inventory API user")
            .r#type(ParameterType::SecureString)
            .set_key_id(kms_key_id.map(str::to_owned))
            .value(value)
            .overwrite(true)
            .send()
            .await
            .map_err(|error| IdentityError::write(what(user), error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: serde_json::Value) -> Result<UserRecord, IdentityError> {
        UserRecord::parse("agent", &json.to_string())
    }

    #[test]
    fn records_are_checked() {
        let hash = crate::password::hash_password("pw").unwrap();
        let good = record(serde_json::json!({"password_hash": hash, "accounts": ["admin"], "role": "inventory-agent"}));
        assert_eq!(good.unwrap().role, Role::InventoryAgent);
        for bad in [
            serde_json::json!({"password_hash": "pw", "accounts": ["admin"], "role": "admin"}),
            serde_json::json!({"password_hash": hash, "accounts": [], "role": "admin"}),
            serde_json::json!({"password_hash": hash, "accounts": ["a#b"], "role": "admin"}),
            serde_json::json!({"password_hash": hash, "accounts": ["admin"], "role": "owner"}),
        ] {
            assert!(matches!(record(bad), Err(IdentityError::InvalidRecord { .. })));
        }
    }

    #[test]
    fn user_names_fit_ssm_parameter_names() {
        assert!(is_valid_user_name("k8s-agent_01.prod"));
        assert!(!is_valid_user_name(""));
        assert!(!is_valid_user_name("a/b"));
        assert!(!is_valid_user_name("alice@example.com"));
        assert!(!is_valid_user_name(&"x".repeat(65)));
        assert!(!is_valid_user_name(API_KEY_USER), "the name keys are sent with");
    }

    #[test]
    fn debug_output_hides_the_hash() {
        let hash = crate::password::hash_password("pw").unwrap();
        let record = UserRecord { password_hash: hash.clone(), accounts: vec!["admin".into()], role: Role::Admin };
        assert!(!format!("{record:?}").contains(&hash));
    }
}

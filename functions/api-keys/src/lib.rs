//! API keys function: Anchore's `/v2/user/api-keys` (a person's own keys) and
//! `/v2/accounts/{account_name}/users/{username}/api-keys` (an admin's, for the users of the
//! account it acts on, the agents' and scanners' included). Keys are kept in SSM by the hash of
//! their value (`inventory_identity::api_keys`); the value is answered once, by the post that
//! makes it, and never logged.

use chrono::{DateTime, Utc};
use inventory_api::auth::Caller;
use inventory_api::http::{decoded_body, json_response, ApiError, ApiFunction};
use inventory_api::routes::{Endpoint, Matched};
use inventory_core::api_keys::{
    new_value, value_hash, KeyChange, KeyStatus, NewApiKey, DEFAULT_API_KEYS_PER_USER, DEFAULT_API_KEY_MAX_DAYS,
};
use inventory_core::clock::Clock;
use inventory_identity::api_keys::{KeyEntry, SsmApiKeys};
use inventory_identity::users::{is_valid_user_name, SsmUsers};
use inventory_identity::{IdentityError, IdentityPaths};
use inventory_runtime::{ConfigError, Sdk};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::Arc;

/// `ApiKeyMaxDays`: how far ahead a key may expire.
pub const MAX_DAYS: &str = "API_KEY_MAX_DAYS";
/// `ApiKeysPerUser`: a user's active keys at most.
pub const KEYS_PER_USER: &str = "API_KEYS_PER_USER";
/// A key's body is a name, a description (1 KB at most) and a time.
const MAX_BODY_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub paths: IdentityPaths,
    pub max_days: u32,
    pub keys_per_user: usize,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        use inventory_runtime::config::number_in;
        let max_days = number_in(&lookup, MAX_DAYS, 1..=3650, "whole days from 1 to 3650")?
            .map_or(DEFAULT_API_KEY_MAX_DAYS, |days| days as u32);
        let keys_per_user = number_in(&lookup, KEYS_PER_USER, 1..=100, "a whole number from 1 to 100")?
            .map_or(DEFAULT_API_KEYS_PER_USER, |keys| keys as usize);
        Ok(Self { paths: IdentityPaths::from_lookup(&lookup)?, max_days, keys_per_user })
    }
}

/// Whose keys a request is about, and whether the user store already said it has that user.
struct Owner {
    user: String,
    in_store: bool,
}

pub struct ApiKeysApp {
    users: SsmUsers,
    keys: SsmApiKeys,
    max_days: u32,
    keys_per_user: usize,
    clock: Arc<dyn Clock>,
}

/// A store failure: 409 for a name taken, else 503 (the cause logged, never answered).
fn stored(error: IdentityError) -> ApiError {
    match error {
        IdentityError::Exists { what } => ApiError::new(StatusCode::CONFLICT, "conflict", what),
        error => {
            tracing::error!(%error, "the API key store failed");
            ApiError::unavailable("the API keys could not be read or written")
        }
    }
}

fn parse<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let body = decoded_body(request, MAX_BODY_BYTES)?;
    serde_json::from_slice(&body).map_err(|error| ApiError::bad_request("body", error))
}

impl ApiKeysApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let ssm = inventory_runtime::client!(sdk, aws_sdk_ssm);
        Self {
            users: SsmUsers::new(ssm.clone(), config.paths.users),
            keys: SsmApiKeys::new(ssm, config.paths.api_keys),
            max_days: config.max_days,
            keys_per_user: config.keys_per_user,
            clock,
        }
    }

    /// Whose keys a request is about: the caller's own, or, on an admin's route, a user of the
    /// account the admin acts on (read from the user store to know it is one).
    async fn owner(&self, caller: &Caller, matched: &Matched<'_>) -> Result<Owner, ApiError> {
        let Some(user) = matched.param("username") else {
            // A key acts as a user of the user store; a person signed in with SSO is not one.
            if !is_valid_user_name(&caller.user) {
                return Err(ApiError::forbidden(format!(
                    "{:?} signed in with single sign-on: API keys act as users of the user store",
                    caller.user
                )));
            }
            return Ok(Owner { user: caller.user.clone(), in_store: false });
        };
        let account = matched.param("account_name").unwrap_or_default();
        if account != caller.account {
            return Err(ApiError::forbidden(format!(
                "acting on account {:?}: send x-anchore-account: {account} to manage its users' keys",
                caller.account
            )));
        }
        let member = match is_valid_user_name(user) {
            true => self
                .users
                .get(user)
                .await
                .map_err(stored)?
                .is_some_and(|record| record.accounts.iter().any(|a| a == account)),
            false => false,
        };
        if !member {
            return Err(ApiError::not_found(format!("account {account:?} has no user {user:?}")));
        }
        Ok(Owner { user: user.to_owned(), in_store: true })
    }

    async fn entry(&self, user: &str, matched: &Matched<'_>) -> Result<KeyEntry, ApiError> {
        let name = matched.param("key_name").unwrap_or_default();
        let missing = || ApiError::not_found(format!("user {user:?} has no API key {name:?}"));
        if inventory_core::api_keys::key_name(name).is_err() {
            return Err(missing());
        }
        self.keys.find(user, name).await.map_err(stored)?.ok_or_else(missing)
    }

    async fn create(&self, request: &Request, caller: &Caller, owner: &Owner) -> Result<Response<Body>, ApiError> {
        let (now, user) = (self.clock.now(), owner.user.as_str());
        let key = parse::<NewApiKey>(request)?.key(user, now, self.max_days)?;
        // A key acts as a user of the user store; a person signed in with SSO is not one.
        if !owner.in_store && self.users.get(user).await.map_err(stored)?.is_none() {
            return Err(ApiError::forbidden(format!(
                "user {user:?} is not in the user store; API keys act as its users"
            )));
        }
        // A name the user has already is refused by the store's claim of it (409).
        let existing = self.keys.list(user).await.map_err(stored)?;
        let active = existing.iter().filter(|entry| entry.key.status(now) == KeyStatus::Active).count();
        if active >= self.keys_per_user {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("user {user:?} has {active} active API keys, the most allowed (ApiKeysPerUser); revoke one"),
            ));
        }
        let value = new_value();
        let entry = KeyEntry { hash: value_hash(&value), key };
        self.keys.create(&entry).await.map_err(stored)?;
        tracing::info!(user, key = entry.key.name, by = caller.user, expires_at = %entry.key.expires_at, "API key created");
        Ok(json_response(StatusCode::OK, &entry.key.answer(now, Some(value))))
    }

    async fn update(&self, request: &Request, caller: &Caller, entry: KeyEntry) -> Result<Response<Body>, ApiError> {
        let now = self.clock.now();
        let change: KeyChange = parse(request)?;
        let changed = KeyEntry { key: change.apply(&entry.key, now, self.max_days)?, hash: entry.hash };
        self.keys.replace(&changed).await.map_err(stored)?;
        let status = changed.key.status(now);
        tracing::info!(user = changed.key.user, key = changed.key.name, by = caller.user, ?status, "API key changed");
        Ok(json_response(StatusCode::OK, &changed.key.answer(now, None)))
    }
}

fn listing(entries: &[KeyEntry], now: DateTime<Utc>) -> Response<Body> {
    let items: Vec<_> = entries.iter().map(|entry| entry.key.answer(now, None)).collect();
    json_response(StatusCode::OK, &json!({ "items": items }))
}

impl ApiFunction for ApiKeysApp {
    const FUNCTION: &'static str = "api-keys";

    async fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> Result<Response<Body>, ApiError> {
        let owner = self.owner(caller, matched).await?;
        let (now, user) = (self.clock.now(), owner.user.as_str());
        match matched.route.endpoint {
            Endpoint::ListApiKeys => Ok(listing(&self.keys.list(user).await.map_err(stored)?, now)),
            Endpoint::CreateApiKey => self.create(request, caller, &owner).await,
            Endpoint::GetApiKey => {
                Ok(json_response(StatusCode::OK, &self.entry(user, matched).await?.key.answer(now, None)))
            }
            Endpoint::UpdateApiKey => self.update(request, caller, self.entry(user, matched).await?).await,
            Endpoint::DeleteApiKey => {
                let entry = self.entry(user, matched).await?;
                self.keys.delete(&entry).await.map_err(stored)?;
                tracing::info!(user, key = entry.key.name, by = caller.user, "API key deleted");
                Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).expect("static parts"))
            }
            _ => Err(inventory_api::http::not_found(request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all =
            vec![(inventory_identity::USERS_PATH, "/ri/users"), (inventory_identity::API_KEYS_PATH, "/ri/api-keys")];
        all.extend_from_slice(pairs);
        Config::from_lookup(|key| all.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn the_bounds_default_to_anchores_and_are_checked() {
        let defaults = config(&[]).unwrap();
        assert_eq!((defaults.max_days, defaults.keys_per_user), (365, 20));
        let set = config(&[(MAX_DAYS, "30"), (KEYS_PER_USER, "5")]).unwrap();
        assert_eq!((set.max_days, set.keys_per_user), (30, 5));
        assert_eq!(config(&[(MAX_DAYS, "0")]).unwrap_err().name, MAX_DAYS);
        assert_eq!(config(&[(KEYS_PER_USER, "many")]).unwrap_err().name, KEYS_PER_USER);
    }
}

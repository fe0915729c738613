//! API keys in SSM, two parameters a key under one path (`AUTH_API_KEYS_PATH`):
//! - `<path>/by-hash/<sha256 of the value>` holds the key (`StoredApiKey`): the authorizer finds
//!   a key with one `GetParameter`, and the value itself is stored nowhere;
//! - `<path>/by-user/<user>/<name>` holds that hash: a user's keys are listed by path, and a
//!   name is claimed by a create that fails if it exists (names unique per user).
//!
//! A create claims the name first, then writes the key; a create that failed in between leaves
//! a name whose key does not exist, which listings skip and the next create of the name takes.

use crate::IdentityError;
use aws_sdk_ssm::error::SdkError;
use aws_sdk_ssm::operation::put_parameter::PutParameterError;
use aws_sdk_ssm::types::ParameterType;
use futures::future::try_join_all;
use inventory_core::api_keys::StoredApiKey;
use std::collections::HashMap;

/// Names `GetParameters` takes at once.
const GET_PARAMETERS_BATCH: usize = 10;

/// A key and the hash it is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub hash: String,
    pub key: StoredApiKey,
}

#[derive(Clone, Debug)]
pub struct SsmApiKeys {
    client: aws_sdk_ssm::Client,
    path: String,
}

fn what(user: &str, name: &str) -> String {
    format!("API key {name:?} of user {user:?}")
}

impl SsmApiKeys {
    pub fn new(client: aws_sdk_ssm::Client, path: impl Into<String>) -> Self {
        Self { client, path: path.into().trim_end_matches('/').to_owned() }
    }

    fn hash_parameter(&self, hash: &str) -> String {
        format!("{}/by-hash/{hash}", self.path)
    }

    fn user_path(&self, user: &str) -> String {
        format!("{}/by-user/{user}", self.path)
    }

    fn name_parameter(&self, user: &str, name: &str) -> String {
        format!("{}/{name}", self.user_path(user))
    }

    /// The key whose value hashes to `hash`, with one read: the authorizer's lookup.
    pub async fn get(&self, hash: &str) -> Result<Option<StoredApiKey>, IdentityError> {
        let what = || "an API key".to_owned();
        let Some(json) = crate::secure_value(&self.client, self.hash_parameter(hash), what).await? else {
            return Ok(None);
        };
        parse(&json, what).map(Some)
    }

    /// The user's key named `name`.
    pub async fn find(&self, user: &str, name: &str) -> Result<Option<KeyEntry>, IdentityError> {
        let Some(hash) =
            crate::secure_value(&self.client, self.name_parameter(user, name), || what(user, name)).await?
        else {
            return Ok(None);
        };
        let key = self.get(&hash).await?;
        Ok(key.filter(|key| key.user == user && key.name == name).map(|key| KeyEntry { hash, key }))
    }

    /// The user's keys, by name.
    pub async fn list(&self, user: &str) -> Result<Vec<KeyEntry>, IdentityError> {
        let listing = || format!("the API keys of user {user:?}");
        let mut hashes = Vec::new();
        let mut pages = self
            .client
            .get_parameters_by_path()
            .path(self.user_path(user))
            .with_decryption(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| IdentityError::read(listing(), error))?;
            hashes.extend(page.parameters.unwrap_or_default().into_iter().filter_map(|parameter| parameter.value));
        }
        let names: Vec<String> = hashes.iter().map(|hash| self.hash_parameter(hash)).collect();
        let reads = names
            .chunks(GET_PARAMETERS_BATCH)
            .map(|batch| self.client.get_parameters().set_names(Some(batch.to_vec())).with_decryption(true).send());
        let mut found = HashMap::new();
        for output in try_join_all(reads).await.map_err(|error| IdentityError::read(listing(), error))? {
            for parameter in output.parameters.unwrap_or_default() {
                if let (Some(name), Some(value)) = (parameter.name, parameter.value) {
                    found.insert(name, value);
                }
            }
        }
        let mut entries = Vec::new();
        for (hash, parameter) in hashes.into_iter().zip(names) {
            // A name whose key is missing is what a failed create left: not a key.
            let Some(json) = found.get(&parameter) else { continue };
            let key = parse(json, listing)?;
            if key.user == user {
                entries.push(KeyEntry { hash, key });
            }
        }
        entries.sort_by(|a, b| a.key.name.cmp(&b.key.name));
        Ok(entries)
    }

    /// Stores a new key: claims its name for its user, then writes it under its hash.
    pub async fn create(&self, entry: &KeyEntry) -> Result<(), IdentityError> {
        let (user, name) = (entry.key.user.as_str(), entry.key.name.as_str());
        let claim = self.put(self.name_parameter(user, name), entry.hash.clone(), false).await;
        match claim {
            Ok(()) => {}
            Err(SdkError::ServiceError(error))
                if matches!(error.err(), PutParameterError::ParameterAlreadyExists(_)) =>
            {
                if self.find(user, name).await?.is_some() {
                    return Err(IdentityError::Exists { what: what(user, name) });
                }
                self.put(self.name_parameter(user, name), entry.hash.clone(), true)
                    .await
                    .map_err(|error| IdentityError::write(what(user, name), error))?;
            }
            Err(error) => return Err(IdentityError::write(what(user, name), error)),
        }
        if let Err(error) = self.put(self.hash_parameter(&entry.hash), record(&entry.key)?, false).await {
            // Best effort: a name left behind is skipped by listings and taken by the next create.
            let _ = self.client.delete_parameter().name(self.name_parameter(user, name)).send().await;
            return Err(IdentityError::write(what(user, name), error));
        }
        Ok(())
    }

    /// Writes a changed key over the stored one.
    pub async fn replace(&self, entry: &KeyEntry) -> Result<(), IdentityError> {
        let (user, name) = (entry.key.user.as_str(), entry.key.name.as_str());
        self.put(self.hash_parameter(&entry.hash), record(&entry.key)?, true)
            .await
            .map_err(|error| IdentityError::write(what(user, name), error))
    }

    /// Deletes a key: the key first, so that it stops working even if its name stays.
    pub async fn delete(&self, entry: &KeyEntry) -> Result<(), IdentityError> {
        let (user, name) = (entry.key.user.as_str(), entry.key.name.as_str());
        for parameter in [self.hash_parameter(&entry.hash), self.name_parameter(user, name)] {
            match self.client.delete_parameter().name(parameter).send().await {
                Ok(_) => {}
                Err(SdkError::ServiceError(error)) if error.err().is_parameter_not_found() => {}
                Err(error) => return Err(IdentityError::write(what(user, name), error)),
            }
        }
        Ok(())
    }

    async fn put(&self, parameter: String, value: String, overwrite: bool) -> Result<(), SdkError<PutParameterError>> {
        self.client
            .put_parameter()
            .name(parameter)
            .description("Runtime Inventory API key")
            .r#type(ParameterType::SecureString)
            .value(value)
            .overwrite(overwrite)
            .send()
            .await
            .map(|_| ())
    }
}

fn parse(json: &str, what: impl FnOnce() -> String) -> Result<StoredApiKey, IdentityError> {
    serde_json::from_str(json)
        .map_err(|error| IdentityError::InvalidRecord { what: what(), message: error.to_string() })
}

fn record(key: &StoredApiKey) -> Result<String, IdentityError> {
    serde_json::to_string(key)
        .map_err(|error| IdentityError::Refused { what: what(&key.user, &key.name), message: error.to_string() })
}

//! API keys, Anchore's contract (5.1+): a key is used as HTTP basic auth with the user name
//! `_api_key` and the key's value as the password, and acts as the user it belongs to. A key is
//! stored by the hash of its value only: the value has 256 bits of randomness, so a fast hash
//! (SHA-256) cannot be searched the way a password's can, and a lookup is one key read. The
//! value is answered once, by the post that makes it.

use crate::field::FieldError;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The user name a key is sent with.
pub const API_KEY_USER: &str = "_api_key";
/// `ApiKeyMaxDays`: how far ahead a key may expire, by default.
pub const DEFAULT_API_KEY_MAX_DAYS: u32 = 365;
/// `ApiKeysPerUser`: a user's active keys at most, by default.
pub const DEFAULT_API_KEYS_PER_USER: usize = 20;
/// A key's value as sent: longer ones are refused unhashed (the values made here are 46 bytes).
pub const MAX_API_KEY_VALUE_BYTES: usize = 128;
/// A key's name (unique per user; a path segment) and description.
pub const MAX_API_KEY_NAME_BYTES: usize = 64;
pub const MAX_API_KEY_DESCRIPTION_BYTES: usize = 1024;
/// What every value made here starts with: a leaked one is recognisable in a scanner's rules.
const VALUE_PREFIX: &str = "ri_";

/// A key's state as Anchore names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

/// A new key's value: 32 random bytes, base64url, prefixed.
pub fn new_value() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).expect("the system's randomness");
    format!("{VALUE_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What a key is stored and looked up by: SHA-256 of its value, hex.
pub fn value_hash(value: &str) -> String {
    // Every authorizer decision on a key makes one: no formatting machinery per byte.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(value.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(HEX[usize::from(byte >> 4)] as char);
        hex.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    hex
}

/// Anchore's time format for keys: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_key_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A key as stored, under its value's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredApiKey {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whose key it is: it acts as this user, whatever the user's role and accounts are then.
    pub user: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    #[serde(default)]
    pub revoked: bool,
}

impl StoredApiKey {
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        match (self.revoked, now >= self.expires_at) {
            (true, _) => KeyStatus::Revoked,
            (false, true) => KeyStatus::Expired,
            (false, false) => KeyStatus::Active,
        }
    }

    /// The key in Anchore's `UserApiKey` shape; `value` only when just made.
    pub fn answer(&self, now: DateTime<Utc>, value: Option<String>) -> UserApiKey {
        UserApiKey {
            name: self.name.clone(),
            description: self.description.clone(),
            expires_at: format_key_time(self.expires_at),
            created_at: format_key_time(self.created_at),
            updated_at: format_key_time(self.updated_at),
            version: self.version,
            value,
            status: self.status(now),
        }
    }
}

/// Anchore's `UserApiKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserApiKey {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub status: KeyStatus,
}

/// A `POST` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub expires_at: Option<String>,
    /// Read-only fields a client may echo back; ignored.
    #[serde(default)]
    pub status: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub created_at: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub updated_at: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub version: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub value: Option<serde::de::IgnoredAny>,
}

impl NewApiKey {
    /// The stored key for `user`, made at `now`, expiring at most `max_days` ahead.
    pub fn key(self, user: &str, now: DateTime<Utc>, max_days: u32) -> Result<StoredApiKey, FieldError> {
        let name = self.name.ok_or_else(|| FieldError::invalid("name", "is required"))?;
        key_name(&name)?;
        let description = self.description.map(|text| description(&text)).transpose()?;
        let raw = self.expires_at.ok_or_else(|| FieldError::invalid("expires_at", "is required"))?;
        let expires_at = expiry(&raw, now, max_days)?;
        Ok(StoredApiKey {
            name,
            description,
            user: user.to_owned(),
            expires_at,
            created_at: now,
            updated_at: now,
            version: 1,
            revoked: false,
        })
    }
}

/// A `PATCH` body: revoke, describe again, or move the expiry (not past the bound, not for a
/// revoked key).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyChange {
    #[serde(default)]
    pub status: Option<KeyStatus>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl KeyChange {
    /// `key` changed at `now`; a revoked key stays revoked.
    pub fn apply(self, key: &StoredApiKey, now: DateTime<Utc>, max_days: u32) -> Result<StoredApiKey, FieldError> {
        let mut changed = key.clone();
        match self.status {
            Some(KeyStatus::Revoked) => changed.revoked = true,
            Some(KeyStatus::Active) if key.revoked => {
                return Err(FieldError::invalid("status", "a revoked key stays revoked: make a new one"));
            }
            Some(KeyStatus::Active) | None => {}
            Some(KeyStatus::Expired) => {
                return Err(FieldError::invalid("status", "may be set to revoked; a key expires at its expires_at"));
            }
        }
        if let Some(text) = self.description {
            changed.description = Some(description(&text)?);
        }
        if let Some(raw) = self.expires_at {
            if key.revoked {
                return Err(FieldError::invalid("expires_at", "a revoked key stays revoked: make a new one"));
            }
            changed.expires_at = expiry(&raw, now, max_days)?;
        }
        changed.updated_at = now;
        changed.version = key.version + 1;
        Ok(changed)
    }
}

/// A key name: 1 to 64 letters, digits, `-`, `_` or `.` (it is a path segment).
pub fn key_name(name: &str) -> Result<(), FieldError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > MAX_API_KEY_NAME_BYTES || !name.chars().all(allowed) {
        let message = format!("must be 1 to {MAX_API_KEY_NAME_BYTES} letters, digits, '-', '_' or '.'");
        return Err(FieldError::invalid("name", message));
    }
    Ok(())
}

fn description(text: &str) -> Result<String, FieldError> {
    if text.len() > MAX_API_KEY_DESCRIPTION_BYTES {
        let message = format!("is longer than {MAX_API_KEY_DESCRIPTION_BYTES} bytes");
        return Err(FieldError::invalid("description", message));
    }
    Ok(text.to_owned())
}

/// `expires_at`: RFC 3339, in the future, at most `max_days` ahead.
fn expiry(raw: &str, now: DateTime<Utc>, max_days: u32) -> Result<DateTime<Utc>, FieldError> {
    let at = DateTime::parse_from_rfc3339(raw)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| FieldError::invalid("expires_at", "must be an RFC 3339 time (2027-01-31T00:00:00Z)"))?;
    if at <= now {
        return Err(FieldError::invalid("expires_at", "must be in the future"));
    }
    if at > now + TimeDelta::days(i64::from(max_days)) {
        return Err(FieldError::invalid(
            "expires_at",
            format!("must be at most {max_days} days ahead (ApiKeyMaxDays)"),
        ));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn new(body: &str) -> Result<StoredApiKey, FieldError> {
        serde_json::from_str::<NewApiKey>(body).unwrap().key("ci-bot", now(), DEFAULT_API_KEY_MAX_DAYS)
    }

    #[test]
    fn a_key_is_made_for_its_user_and_answered_in_anchores_shape() {
        let key = new(r#"{"name": "pipeline", "description": "CI", "expires_at": "2027-06-01T00:00:00Z"}"#).unwrap();
        assert_eq!((key.user.as_str(), key.version, key.status(now())), ("ci-bot", 1, KeyStatus::Active));
        let value = new_value();
        assert!(value.starts_with("ri_") && value.len() == 46, "{value}");
        assert_ne!(new_value(), value);
        assert_eq!(value_hash(&value).len(), 64);
        // SHA-256("abc"), FIPS 180-2's example.
        assert_eq!(value_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let answer = serde_json::to_value(key.answer(now(), Some(value.clone()))).unwrap();
        assert_eq!(answer["expires_at"], "2027-06-01T00:00:00Z");
        assert_eq!((answer["status"].clone(), answer["value"].clone()), ("active".into(), value.into()));
        assert!(
            serde_json::to_value(key.answer(now(), None)).unwrap().get("value").is_none(),
            "the value is answered once"
        );
        assert_eq!(key.status(key.expires_at), KeyStatus::Expired);
    }

    #[test]
    fn a_bad_body_names_its_field() {
        for (body, field) in [
            (r#"{"expires_at": "2027-01-01T00:00:00Z"}"#, "name"),
            (r#"{"name": "a/b", "expires_at": "2027-01-01T00:00:00Z"}"#, "name"),
            (r#"{"name": "ok"}"#, "expires_at"),
            (r#"{"name": "ok", "expires_at": "tomorrow"}"#, "expires_at"),
            (r#"{"name": "ok", "expires_at": "2026-12-01T00:00:00Z"}"#, "expires_at"),
            (r#"{"name": "ok", "expires_at": "2028-01-01T00:00:00Z"}"#, "expires_at"),
        ] {
            assert_eq!(new(body).unwrap_err().field, field, "{body}");
        }
        assert!(serde_json::from_str::<NewApiKey>(r#"{"name": "ok", "role": "admin"}"#).is_err(), "no unknown fields");
    }

    #[test]
    fn a_patch_revokes_for_good() {
        let key = new(r#"{"name": "pipeline", "expires_at": "2027-06-01T00:00:00Z"}"#).unwrap();
        let patch = |body: &str, key: &StoredApiKey| {
            serde_json::from_str::<KeyChange>(body).unwrap().apply(key, now(), DEFAULT_API_KEY_MAX_DAYS)
        };
        let revoked = patch(r#"{"status": "revoked"}"#, &key).unwrap();
        assert_eq!((revoked.status(now()), revoked.version), (KeyStatus::Revoked, 2));
        assert_eq!(patch(r#"{"status": "active"}"#, &revoked).unwrap_err().field, "status");
        assert_eq!(patch(r#"{"expires_at": "2027-01-01T00:00:00Z"}"#, &revoked).unwrap_err().field, "expires_at");
        assert_eq!(patch(r#"{"status": "expired"}"#, &key).unwrap_err().field, "status");
        let described = patch(r#"{"description": "nightly"}"#, &key).unwrap();
        assert_eq!((described.description.as_deref(), described.status(now())), (Some("nightly"), KeyStatus::Active));
    }
}

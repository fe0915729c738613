//! Agent registration and health reports (`k8s-inventory` 1.7+ registers once `GET /version`
//! says 5.11 or later): `POST /v2/system/integrations/registration`,
//! `POST /v2/system/integrations/{uuid}/health-report`, and the integrations listing.
//!
//! An integration is one item, `pk = {account}#integ`, `sk = {uuid}`. Its uuid is derived from
//! the account and the agent's `registration_id` + `registration_instance_id`, so registering
//! again with the same ids gives the same uuid without a lookup table.

use crate::clock::format_time;
use crate::clock::Clock;
use crate::keys::{integrations_pk, ItemKind};
use crate::limits::{
    MAX_ID_BYTES, MAX_INTEGRATION_BODY_BYTES, MAX_INTEGRATION_ERRORS, MAX_INTEGRATION_ERROR_CHARS,
    MAX_INTEGRATION_JSON_BYTES, MAX_INTEGRATION_REASON_BYTES, MAX_INTEGRATION_TYPE_BYTES,
};
use crate::store::{HealthWrite, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// An integration that sends no health report (nor registers again) for this long is deleted by
/// the table's TTL.
pub const INTEGRATION_RETENTION: TimeDelta = TimeDelta::days(7);
/// Anchore calls an integration inactive once it misses three health reports.
const MISSED_REPORTS_INACTIVE: i32 = 3;
/// The schema's bounds on `health_report_interval`, and its value when an agent sends none.
const HEALTH_INTERVAL_SECONDS: std::ops::RangeInclusive<i64> = 30..=600;
const DEFAULT_HEALTH_INTERVAL_SECONDS: i64 = 60;

use inventory_core::field::FieldError;

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, FieldError> {
    if body.len() > MAX_INTEGRATION_BODY_BYTES {
        return Err(FieldError::too_large(
            "body",
            format!("is {} bytes; at most {MAX_INTEGRATION_BODY_BYTES} are accepted", body.len()),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(FieldError::invalid("body", "must be a JSON object")),
        Err(error) => Err(FieldError::invalid("body", format!("is not valid JSON: {error}"))),
    }
}

fn required_id(object: &Map<String, Value>, field: &str) -> Result<String, FieldError> {
    match object.get(field) {
        Some(Value::String(id)) if !id.trim().is_empty() && id.len() <= MAX_ID_BYTES => Ok(id.clone()),
        Some(Value::String(id)) if id.len() > MAX_ID_BYTES => {
            Err(FieldError::invalid(field, format!("is longer than {MAX_ID_BYTES} bytes")))
        }
        Some(_) => Err(FieldError::invalid(field, "must be a non-empty string")),
        None => Err(FieldError::invalid(field, "is required")),
    }
}

fn health_interval(object: &Map<String, Value>) -> Result<i64, FieldError> {
    match object.get("health_report_interval") {
        None | Some(Value::Null) => Ok(DEFAULT_HEALTH_INTERVAL_SECONDS),
        Some(value) => value.as_i64().filter(|seconds| HEALTH_INTERVAL_SECONDS.contains(seconds)).ok_or_else(|| {
            FieldError::invalid("health_report_interval", "must be a whole number of seconds from 30 to 600")
        }),
    }
}

/// Words that, in a key with `_` and `-` removed, mark its value as a secret.
const SECRET_KEY_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "credential",
    "apikey",
    "authorization",
    "privatekey",
    "accesskey",
];
const REDACTED: &str = "******";

/// Secrets are never stored: an agent that sends its configuration may include them, as values
/// of secret-sounding keys or as the user information of a URL (`https://user:pass@host`).
fn redact(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, value) in object.iter_mut() {
                let key: String = key.chars().filter(|c| !"_-".contains(*c)).collect::<String>().to_ascii_lowercase();
                if SECRET_KEY_WORDS.iter().any(|word| key.contains(word)) {
                    *value = json!(REDACTED);
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(text) => {
            if let Some(redacted) = without_url_credentials(text) {
                *text = redacted;
            }
        }
        _ => {}
    }
}

/// `text` with the user information of the URL it holds redacted, if it has any.
fn without_url_credentials(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (_, host) = authority.rsplit_once('@')?;
    let path = &rest[authority.len()..];
    Some(format!("{scheme}://{REDACTED}@{host}{path}"))
}

/// A registration as the agent sent it: checked, with secrets redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub registration_id: String,
    pub registration_instance_id: String,
    pub health_report_interval: i64,
    /// The agent's other fields (`type`, `name`, `version`, `cluster_name`, ...), kept as sent.
    pub fields: Map<String, Value>,
}

impl Registration {
    pub fn parse(body: &[u8]) -> Result<Self, FieldError> {
        let mut fields = parse_object(body)?;
        let registration_id = required_id(&fields, "registration_id")?;
        let registration_instance_id = required_id(&fields, "registration_instance_id")?;
        match fields.get("type") {
            Some(Value::String(kind)) if !kind.is_empty() && kind.len() <= MAX_INTEGRATION_TYPE_BYTES => {}
            Some(_) => {
                return Err(FieldError::invalid("type", "must be a non-empty string such as \"k8s_inventory_agent\""))
            }
            None => return Err(FieldError::invalid("type", "is required")),
        }
        let health_report_interval = health_interval(&fields)?;
        for own in
            ["uuid", "account_name", "username", "accounts", "integration_status", "reported_status", "last_seen"]
        {
            fields.remove(own);
        }
        let mut value = Value::Object(fields);
        redact(&mut value);
        let Value::Object(fields) = value else { unreachable!("an object stays an object") };
        Ok(Self { registration_id, registration_instance_id, health_report_interval, fields })
    }

    /// The same for every registration of one agent instance in one account.
    pub fn uuid(&self, account: &str) -> String {
        let mut hash = Sha256::new();
        for part in [account, &self.registration_id, &self.registration_instance_id] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        let bytes: [u8; 16] = hash.finalize()[..16].try_into().expect("a SHA-256 has 32 bytes");
        // Version 8: a name-based UUID of our own hashing.
        inventory_core::names::uuid(bytes, 8)
    }
}

/// A health report as the agent sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub timestamp: DateTime<Utc>,
    pub health_report_interval: i64,
    pub errors: Vec<String>,
    pub report: Value,
}

impl HealthReport {
    pub fn parse(body: &[u8]) -> Result<Self, FieldError> {
        let object = parse_object(body)?;
        let timestamp = match object.get("timestamp") {
            Some(Value::String(raw)) => DateTime::parse_from_rfc3339(raw)
                .map(|time| time.with_timezone(&Utc))
                .map_err(|error| FieldError::invalid("timestamp", format!("must be an RFC 3339 time: {error}")))?,
            Some(_) => return Err(FieldError::invalid("timestamp", "must be an RFC 3339 time")),
            None => return Err(FieldError::invalid("timestamp", "is required")),
        };
        let health_report_interval = health_interval(&object)?;
        let errors = match object.get("health_data").and_then(|data| data.get("errors")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(errors)) => {
                errors.iter().map(|error| error.as_str().map_or_else(|| error.to_string(), str::to_owned)).collect()
            }
            Some(_) => return Err(FieldError::invalid("health_data.errors", "must be an array of strings")),
        };
        let mut report = Value::Object(object);
        redact(&mut report);
        Ok(Self { timestamp, health_report_interval, errors, report })
    }
}

/// What is stored per integration. The agent's own JSON is kept as text, so any shape it sends
/// round-trips unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct IntegrationRecord {
    pk: String,
    sk: String,
    kind: String,
    account_name: String,
    username: String,
    registration_id: String,
    registration_instance_id: String,
    health_report_interval: i64,
    registration: String,
    registered_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health_report: Option<String>,
    #[serde(default)]
    health_errors: Vec<String>,
    expires_at: i64,
}

fn bounded_json(value: &Value, field: &str) -> Result<String, FieldError> {
    let text = value.to_string();
    if text.len() > MAX_INTEGRATION_JSON_BYTES {
        return Err(FieldError::too_large(
            field,
            format!("is {} bytes as JSON; at most {MAX_INTEGRATION_JSON_BYTES} are kept", text.len()),
        ));
    }
    Ok(text)
}

impl IntegrationRecord {
    /// Anchore's `Integration` shape, with the status as of `now`.
    fn to_integration(&self, now: DateTime<Utc>) -> Value {
        let mut integration: Map<String, Value> = serde_json::from_str(&self.registration).unwrap_or_default();
        let lifecycle = match self.last_seen {
            None => ("registered", "registered; no health report yet"),
            Some(seen)
                if now - seen
                    > TimeDelta::seconds(self.health_report_interval * i64::from(MISSED_REPORTS_INACTIVE)) =>
            {
                ("inactive", "missed its last three health reports")
            }
            Some(_) => ("active", "sending health reports"),
        };
        integration.insert("uuid".into(), json!(self.sk));
        integration.insert("account_name".into(), json!(self.account_name));
        integration.insert("username".into(), json!(self.username));
        integration.insert("registration_id".into(), json!(self.registration_id));
        integration.insert("registration_instance_id".into(), json!(self.registration_instance_id));
        integration.insert("health_report_interval".into(), json!(self.health_report_interval));
        integration.insert(
            "integration_status".into(),
            json!({"state": lifecycle.0, "reason": lifecycle.1, "updated_at": format_time(self.updated_at)}),
        );
        if let Some(seen) = self.last_seen {
            integration.insert("last_seen".into(), json!(format_time(seen)));
            let reason: String = self.health_errors.join("; ").chars().take(MAX_INTEGRATION_REASON_BYTES).collect();
            let state = if self.health_errors.is_empty() { "healthy" } else { "unhealthy" };
            integration.insert("reported_status".into(), json!({"state": state, "reason": reason}));
        }
        if let Some(report) = self.health_report.as_deref().and_then(|text| serde_json::from_str::<Value>(text).ok()) {
            if let Some(uptime) = report.get("uptime") {
                integration.insert("uptime".into(), uptime.clone());
            }
            let accounts: Vec<&String> = report
                .pointer("/health_data/account_k8s_inventory_reports")
                .and_then(Value::as_object)
                .map(|reports| reports.keys().collect())
                .unwrap_or_default();
            integration.insert("accounts".into(), json!(accounts));
            integration.insert("last_health_report".into(), report);
        }
        Value::Object(integration)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error(transparent)]
    Input(#[from] FieldError),
    #[error("no integration {0} is registered in this account")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an integration route answers for each failure.
impl From<IntegrationError> for crate::http::ApiError {
    fn from(error: IntegrationError) -> Self {
        match error {
            IntegrationError::Input(input) => input.into(),
            IntegrationError::NotFound(_) => crate::http::ApiError::not_found(error.to_string()),
            IntegrationError::Store(store) => store.answer("the integration"),
        }
    }
}

/// Whether a registration created the integration or found it registered already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Created,
    Existing,
}

#[derive(Clone)]
pub struct IntegrationRegistry {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl IntegrationRegistry {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    async fn get(&self, account: &str, uuid: &str) -> Result<Option<IntegrationRecord>, StoreError> {
        let now = self.clock.now();
        let record: Option<IntegrationRecord> = self.store.integration(account, uuid).await?;
        Ok(record.filter(|record| record.expires_at > now.timestamp()))
    }

    /// Registers (or registers again) an agent instance; the same ids always get the same uuid.
    pub async fn register(
        &self,
        account: &str,
        username: &str,
        body: &[u8],
    ) -> Result<(Registered, Value), IntegrationError> {
        let registration = Registration::parse(body)?;
        let uuid = registration.uuid(account);
        let now = self.clock.now();
        let existing = self.get(account, &uuid).await?;
        let record = IntegrationRecord {
            pk: integrations_pk(account),
            sk: uuid,
            kind: ItemKind::Integration.as_str().to_owned(),
            account_name: account.to_owned(),
            username: username.to_owned(),
            registration_id: registration.registration_id,
            registration_instance_id: registration.registration_instance_id,
            health_report_interval: registration.health_report_interval,
            registration: bounded_json(&Value::Object(registration.fields), "body")?,
            registered_at: existing.as_ref().map_or(now, |record| record.registered_at),
            updated_at: now,
            // A restarted agent registers again: it is registered, not active, until it reports.
            last_seen: None,
            health_report: None,
            health_errors: Vec::new(),
            expires_at: (now + INTEGRATION_RETENTION).timestamp(),
        };
        self.store.put_integration(&record).await?;
        let registered = if existing.is_some() { Registered::Existing } else { Registered::Created };
        Ok((registered, record.to_integration(now)))
    }

    /// Stores an integration's latest health report; one conditional write, no read.
    pub async fn report_health(&self, account: &str, uuid: &str, body: &[u8]) -> Result<(), IntegrationError> {
        let report = HealthReport::parse(body)?;
        let now = self.clock.now();
        let text = bounded_json(&report.report, "body")?;
        let errors: Vec<String> = report
            .errors
            .iter()
            .take(MAX_INTEGRATION_ERRORS)
            .map(|error| error.chars().take(MAX_INTEGRATION_ERROR_CHARS).collect())
            .collect();
        let health = HealthWrite {
            seen: now,
            report: text,
            errors: &errors,
            interval_seconds: report.health_report_interval,
            expires_at: (now + INTEGRATION_RETENTION).timestamp(),
        };
        match self.store.record_health(account, uuid, health).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed) => Err(IntegrationError::NotFound(uuid.to_owned())),
            Err(error) => Err(error.into()),
        }
    }

    /// Every live integration of the account, in uuid order.
    pub async fn list(&self, account: &str) -> Result<Vec<Value>, StoreError> {
        let now = self.clock.now();
        let records: Vec<IntegrationRecord> = self.store.integrations(account).await?;
        let mut integrations = Vec::with_capacity(records.len());
        for record in records {
            if record.expires_at > now.timestamp() {
                integrations.push(record.to_integration(now));
            }
        }
        Ok(integrations)
    }

    pub async fn describe(&self, account: &str, uuid: &str) -> Result<Option<Value>, StoreError> {
        let now = self.clock.now();
        Ok(self.get(account, uuid).await?.map(|record| record.to_integration(now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn registration(extra: Value) -> Value {
        let mut body = json!({
            "registration_id": "84993c1f-863f-41f3-9bd8-dfcc821b1c8a",
            "registration_instance_id": "67479449b7-zdzlr",
            "type": "k8s_inventory_agent",
            "name": "k8s-inventory",
            "version": "1.8.1",
            "started_at": "2026-11-20T10:00:00Z",
            "uptime": 0.0,
            "username": "k8s-agent",
            "cluster_name": "prod-eu-1",
            "namespace": "anchore",
            "health_report_interval": 60
        });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    }

    fn parse(body: &Value) -> Result<Registration, FieldError> {
        Registration::parse(body.to_string().as_bytes())
    }

    #[test]
    fn the_uuid_depends_on_account_and_both_ids_only() {
        let first = parse(&registration(json!({}))).unwrap();
        let again = parse(&registration(json!({"uptime": 12.5, "version": "1.8.2"}))).unwrap();
        assert_eq!(first.uuid("admin"), again.uuid("admin"));
        assert_ne!(first.uuid("admin"), first.uuid("team-b"));
        let other = parse(&registration(json!({"registration_instance_id": "67479449b7-abcde"}))).unwrap();
        assert_ne!(first.uuid("admin"), other.uuid("admin"));
        let uuid = first.uuid("admin");
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "8", "version nibble");
    }

    #[test]
    fn registrations_are_checked_by_field() {
        for (body, field) in [
            (json!({"registration_id": ""}), "registration_id"),
            (json!({"registration_instance_id": 5}), "registration_instance_id"),
            (json!({"type": null}), "type"),
            (json!({"health_report_interval": 5}), "health_report_interval"),
            (json!({"registration_id": "x".repeat(MAX_ID_BYTES + 1)}), "registration_id"),
        ] {
            assert_eq!(parse(&registration(body)).unwrap_err().field, field);
        }
        assert_eq!(Registration::parse(b"[1]").unwrap_err().field, "body");
        let large = vec![b' '; MAX_INTEGRATION_BODY_BYTES + 1];
        assert!(Registration::parse(&large).unwrap_err().is_too_large());
    }

    #[test]
    fn secrets_in_a_sent_configuration_are_not_kept() {
        let body = registration(
            json!({"configuration": {"anchore": {"url": "u", "password": "hunter2hunter2"}, "api_token": "t"}}),
        );
        let stored = parse(&body).unwrap();
        let text = Value::Object(stored.fields).to_string();
        assert!(!text.contains("hunter2") && !text.contains("\"t\""), "{text}");
        assert!(text.contains("\"url\":\"u\""));

        let secrets = json!({"passwd": "s1", "pwd": "s2", "api_key": "s3", "apiKey": "s4", "Authorization": "s5",
            "private_key": "s6", "access-key": "s7", "nested": [{"AccessKeyId": "s8"}],
            "url": "https://agent:s9@anchore.example.com:8443/v2?x=1", "proxy": "http://s10@proxy:3128"});
        let stored = parse(&registration(json!({"configuration": secrets}))).unwrap();
        let text = Value::Object(stored.fields).to_string();
        for n in 1..=10 {
            assert!(!text.contains(&format!("\"s{n}")) && !text.contains(&format!(":s{n}@")), "s{n} in {text}");
        }
        assert!(text.contains("https://******@anchore.example.com:8443/v2?x=1"), "{text}");
        assert!(text.contains("http://******@proxy:3128"), "{text}");
        assert_eq!(without_url_credentials("https://anchore.example.com/v2?email=a@b"), None, "not user information");
    }

    #[test]
    fn status_follows_health_reports() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        let mut record = IntegrationRecord {
            pk: integrations_pk("admin"),
            sk: "u".into(),
            kind: ItemKind::Integration.as_str().into(),
            account_name: "admin".into(),
            username: "k8s-agent".into(),
            registration_id: "r".into(),
            registration_instance_id: "i".into(),
            health_report_interval: 60,
            registration: registration(json!({})).to_string(),
            registered_at: now,
            updated_at: now,
            last_seen: None,
            health_report: None,
            health_errors: Vec::new(),
            expires_at: 0,
        };
        let state = |record: &IntegrationRecord, at| record.to_integration(at)["integration_status"]["state"].clone();
        assert_eq!(state(&record, now), "registered");
        record.last_seen = Some(now);
        assert_eq!(state(&record, now + TimeDelta::seconds(180)), "active");
        assert_eq!(state(&record, now + TimeDelta::seconds(181)), "inactive");
        assert_eq!(record.to_integration(now)["reported_status"]["state"], "healthy");
        record.health_errors = vec!["cannot list pods".into()];
        let integration = record.to_integration(now);
        assert_eq!(integration["reported_status"], json!({"state": "unhealthy", "reason": "cannot list pods"}));
        assert_eq!(integration["cluster_name"], "prod-eu-1");
        assert_eq!(integration["username"], "k8s-agent");
    }

    #[test]
    fn health_reports_need_a_time() {
        let report = json!({"uuid": "x", "protocol_version": 1, "timestamp": "2026-11-20T10:00:00Z", "uptime": 5.0,
            "health_report_interval": 60, "health_data": {"type": "k8s_inventory_agent", "version": 1, "errors": ["e"]}});
        let parsed = HealthReport::parse(report.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.errors, vec!["e".to_string()]);
        let untimed = json!({"uuid": "x", "health_data": {}});
        assert_eq!(HealthReport::parse(untimed.to_string().as_bytes()).unwrap_err().field, "timestamp");
    }
}

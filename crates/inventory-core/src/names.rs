//! The names that key the table: an account, a cluster, a context. Each type owns its rule, and
//! every route, report parser and configuration check makes its value through `parse`, so a name
//! that could break a key (`#` separates key parts) never reaches the store.

use crate::field::FieldError;
use crate::limits::{MAX_ACCOUNT_BYTES, MAX_CLUSTER_BYTES, MAX_CONTEXT_BYTES};
use std::fmt;

/// Whether `value` may be part of a key: 1 to `max_bytes` bytes, no `#` (it separates key parts)
/// and no control character (no place in a name people read). Names, ids and vulnerability ids
/// all keep this rule.
pub fn is_key_part(value: &str, max_bytes: usize) -> bool {
    (1..=max_bytes).contains(&value.len()) && !value.chars().any(|c| c == '#' || c.is_control())
}

fn in_key(value: &str) -> bool {
    value.is_empty() || is_key_part(value, MAX_CONTEXT_BYTES)
}

const IN_KEY_RULE: &str = "must not contain '#' or control characters, nor be longer than a context";

/// An Anchore account: letters, digits and `-_.@+=`, at most `MAX_ACCOUNT_BYTES`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Account(String);

impl Account {
    pub const RULE: &'static str = "an account name (letters, digits, -_.@+=)";

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let valid = (1..=MAX_ACCOUNT_BYTES).contains(&value.len())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@+=".contains(c));
        if !valid {
            return Err(FieldError::invalid(
                field,
                format!("must be {}, at most {MAX_ACCOUNT_BYTES} bytes", Self::RULE),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn is_valid(value: &str) -> bool {
        Self::parse("account", value).is_ok()
    }
}

/// A cluster's name or ARN, the first part of its contexts: trimmed, not empty, at most
/// `MAX_CLUSTER_BYTES`, without `#` or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterName(String);

impl ClusterName {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FieldError::invalid(field, "must not be empty"));
        }
        if value.len() > MAX_CLUSTER_BYTES {
            return Err(FieldError::invalid(field, format!("must be at most {MAX_CLUSTER_BYTES} bytes")));
        }
        if !in_key(value) {
            return Err(FieldError::invalid(field, IN_KEY_RULE));
        }
        Ok(Self(value.to_owned()))
    }
}

/// A context: a Kubernetes `cluster/namespace` or an ECS cluster's ARN; trimmed, not empty, at
/// most `MAX_CONTEXT_BYTES`, without `#` or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Context(String);

impl Context {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FieldError::invalid(field, "is required"));
        }
        if !in_key(value) {
            return Err(FieldError::invalid(field, IN_KEY_RULE));
        }
        Ok(Self(value.to_owned()))
    }
}

/// A `context` query parameter: one context, or every context starting with a prefix
/// (`prod-eu-1/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextPattern {
    Exact(Context),
    Prefix(String),
}

impl ContextPattern {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        match value.strip_suffix('*') {
            Some(prefix) if in_key(prefix) => Ok(Self::Prefix(prefix.to_owned())),
            Some(_) => Err(FieldError::invalid(field, IN_KEY_RULE)),
            None => Context::parse(field, value).map(Self::Exact),
        }
    }

    pub fn matches(&self, context: &str) -> bool {
        match self {
            Self::Exact(name) => context == name.as_str(),
            Self::Prefix(prefix) => context.starts_with(prefix.as_str()),
        }
    }
}

macro_rules! name_text {
    ($($name:ident),*) => {$(
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    )*};
}

name_text!(Account, ClusterName, Context);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_could_break_a_key_is_refused_naming_its_field() {
        assert_eq!(Context::parse("context", "prod/web#1").unwrap_err().field, "context");
        assert!(Context::parse("context", "prod/\u{7}").is_err());
        assert_eq!(Context::parse("context", " prod/web ").unwrap().as_str(), "prod/web");
        assert!(Context::parse("context", "  ").is_err());
        assert!(ClusterName::parse("cluster_name", "a#b").is_err());
        assert!(ClusterName::parse("cluster_name", &"c".repeat(MAX_CLUSTER_BYTES + 1)).is_err());
        assert_eq!(ClusterName::parse("cluster_name", "arn:aws:ecs:eu-west-1:1:cluster/a").unwrap().as_str().len(), 33);
        assert!(Account::is_valid("team-a@example.com"));
        assert!(!Account::is_valid("team#a") && !Account::is_valid("") && !Account::is_valid("a b"));
    }

    #[test]
    fn a_context_pattern_is_exact_or_a_prefix_and_both_keep_the_rule() {
        assert_eq!(ContextPattern::parse("context", "prod/*").unwrap(), ContextPattern::Prefix("prod/".into()));
        assert!(matches!(ContextPattern::parse("context", "prod/web"), Ok(ContextPattern::Exact(_))));
        assert!(ContextPattern::parse("context", "pr#od/*").is_err());
        assert!(ContextPattern::parse("context", "prod#/web").is_err());
    }
}

/// A UUID's text form (RFC 9562) of 16 bytes, with `version` and the RFC's variant set.
pub fn uuid(mut bytes: [u8; 16], version: u8) -> String {
    bytes[6] = (bytes[6] & 0x0f) | (version << 4);
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

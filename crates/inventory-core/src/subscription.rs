//! A `runtime_inventory` subscription and which contexts its key watches.

use serde::{Deserialize, Serialize};

pub const RUNTIME_INVENTORY: &str = "runtime_inventory";
/// The subscription types this service implements.
pub const SUBSCRIPTION_TYPES: &[&str] = &[RUNTIME_INVENTORY];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub subscription_id: String,
    pub subscription_key: String,
    pub subscription_type: String,
    pub subscription_value: Option<String>,
    pub account_name: String,
    pub active: bool,
    pub created_at: String,
    pub last_updated: String,
}

impl Subscription {
    /// A `runtime_inventory` key watches the contexts it names whole components of.
    pub fn watches(&self, context: &str) -> bool {
        self.active && self.subscription_type == RUNTIME_INVENTORY && key_covers(&self.subscription_key, context)
    }
}

/// Whether a subscription key names `context` or a group of contexts it belongs to: the key
/// must end where a component of the context ends. `prod-eu-1` covers `prod-eu-1/payments`
/// but not `prod-eu-10/payments`; `arn:aws:ecs:eu-west-2:123456789012` covers every cluster of
/// that account and region; a key ending in `/` or `:` covers what follows it.
pub fn key_covers(key: &str, context: &str) -> bool {
    const SEPARATORS: [char; 2] = ['/', ':'];
    match context.strip_prefix(key) {
        None => false,
        Some("") => true,
        Some(rest) => key.ends_with(SEPARATORS) || rest.starts_with(SEPARATORS),
    }
}

#[cfg(test)]
mod tests {
    use super::key_covers;

    #[test]
    fn keys_cover_whole_components_only() {
        assert!(key_covers("prod-eu-1", "prod-eu-1/payments"));
        assert!(key_covers("prod-eu-1/", "prod-eu-1/payments"));
        assert!(key_covers("prod-eu-1/payments", "prod-eu-1/payments"));
        assert!(!key_covers("prod-eu-1", "prod-eu-10/payments"));
        assert!(!key_covers("prod-eu-1/pay", "prod-eu-1/payments"));
        assert!(!key_covers("prod-eu-1/payments", "prod-eu-1"));

        let cluster = "arn:aws:ecs:eu-west-2:988505687240:cluster/web";
        assert!(key_covers("arn:aws:ecs:eu-west-2:988505687240", cluster));
        assert!(key_covers("arn:aws:ecs:eu-west-2:988505687240:cluster/", cluster));
        assert!(key_covers(cluster, cluster));
        assert!(!key_covers("arn:aws:ecs:eu-west-2:98850568724", cluster));
        assert!(!key_covers("arn:aws:ecs:eu-west-2:988505687240:cluster/we", cluster));
    }
}

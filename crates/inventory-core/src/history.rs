//! Running intervals: where an image ran, from when to when, kept after it left (issue #26).
//! One interval per (context, digest) sighting: opened when the image appears in the context,
//! closed when it leaves; an image that leaves and comes back has two.

use crate::inventory_type::InventoryType;
use crate::keys::{history_closed_sk, history_context_pk, history_context_sk, history_open_sk, history_pk, ItemKind};
use crate::model::WorkloadContainers;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Default days a closed interval is kept (`HistoryRetentionDays`); 0 keeps no history.
pub const DEFAULT_HISTORY_RETENTION_DAYS: u32 = 400;

/// One interval as stored: open (`to` absent) under its context's open key, closed under a key
/// naming its start.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct IntervalRecord {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub account: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_digest: String,
    pub image_tag: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<WorkloadContainers>,
    pub from: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Epoch seconds DynamoDB's TTL deletes a closed interval at; an open one has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// Where an interval is: an image (by digest) in a context of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntervalPlace {
    pub account: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_digest: String,
}

impl IntervalPlace {
    pub fn pk(&self) -> String {
        history_pk(&self.account, &self.image_digest)
    }

    pub fn open_sk(&self) -> String {
        history_open_sk(self.inventory_type, &self.context)
    }

    /// The interval that starts at `from`, still open.
    pub fn open(&self, image_tag: &str, workloads: Vec<WorkloadContainers>, from: DateTime<Utc>) -> IntervalRecord {
        IntervalRecord {
            pk: self.pk(),
            sk: self.open_sk(),
            kind: ItemKind::Interval.as_str().to_owned(),
            account: self.account.clone(),
            inventory_type: self.inventory_type,
            context: self.context.clone(),
            image_digest: self.image_digest.clone(),
            image_tag: image_tag.to_owned(),
            workloads,
            from,
            to: None,
            expires_at: None,
        }
    }
}

impl IntervalRecord {
    /// This open interval closed at `to`, kept `retention_days` after it.
    pub fn closed(&self, to: DateTime<Utc>, retention_days: u32) -> Self {
        let to = to.max(self.from);
        Self {
            sk: history_closed_sk(self.inventory_type, &self.context, self.from),
            to: Some(to),
            expires_at: Some((to + chrono::TimeDelta::days(i64::from(retention_days))).timestamp()),
            ..self.clone()
        }
    }

    /// The same interval in its context's partition, ordered by its end.
    pub fn in_context(&self) -> Self {
        Self {
            pk: history_context_pk(&self.account, self.inventory_type, &self.context),
            sk: history_context_sk(self.to, self.from, &self.image_digest),
            ..self.clone()
        }
    }

    /// Whether it ran at some time in `[from, to]` (either end open).
    pub fn overlaps(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> bool {
        to.is_none_or(|to| self.from <= to) && from.is_none_or(|from| self.to.is_none_or(|end| end >= from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn place() -> IntervalPlace {
        IntervalPlace {
            account: "admin".into(),
            inventory_type: InventoryType::Kubernetes,
            context: "prod/shop".into(),
            image_digest: "sha256:abc".into(),
        }
    }

    #[test]
    fn a_closed_interval_is_keyed_by_its_start_and_expires_after_the_retention() {
        let at = |hour| Utc.with_ymd_and_hms(2026, 11, 20, hour, 0, 0).unwrap();
        let open = place().open("nginx:1.27", Vec::new(), at(10));
        assert_eq!(open.sk, "kubernetes#prod/shop#open");
        let closed = open.closed(at(12), 400);
        assert_eq!(closed.sk, "kubernetes#prod/shop#2026-11-20T10:00:00.000Z");
        assert_eq!(closed.to, Some(at(12)));
        assert_eq!(closed.expires_at, Some((at(12) + chrono::TimeDelta::days(400)).timestamp()));
        assert!(closed.overlaps(Some(at(11)), None) && closed.overlaps(None, Some(at(10))));
        assert!(!closed.overlaps(Some(at(13)), None) && !closed.overlaps(None, Some(at(9))));
        assert!(open.overlaps(Some(at(23)), None), "an open interval still runs");
        assert_eq!(open.closed(at(9), 400).to, Some(at(10)), "never ends before it starts");
        assert_eq!(open.in_context().sk, "~open#2026-11-20T10:00:00.000Z#sha256:abc");
        assert_eq!(closed.in_context().pk, "admin#hctx#kubernetes#prod/shop");
        assert!(closed.in_context().sk < open.in_context().sk, "open intervals sort after every end");
    }
}

//! VEX statements applied to listed entries: each entry is judged in its own context against the
//! running image's vulnerabilities (its pairs' list), so counts, severity and threat filters and
//! the exposure metrics leave out what the team has decided is not exploitable there.

use super::{InventoryItem, InventoryQuery};
use crate::findings::{Severity, SeverityCounts};
use crate::threat::ThreatData;
use crate::vex::{repositories, Lens, Rules, Verdict};
use crate::worklist::{split_by_vex, PairFacts};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// An account's rules with the vulnerability lists of the running images one answer is about.
pub struct VexView {
    rules: Arc<Rules>,
    /// Per running image, its vulnerabilities as last written (read when rules exist, or for KEV
    /// counts): an image without a list is shown as its findings record says.
    lists: HashMap<String, Vec<PairFacts>>,
    repositories: BTreeMap<String, Vec<String>>,
    now: DateTime<Utc>,
}

/// What VEX leaves of one entry's vulnerabilities.
pub struct Judged<'a> {
    pub shown: Vec<&'a PairFacts>,
    pub suppressed: Vec<(&'a PairFacts, Verdict)>,
}

impl VexView {
    pub(super) fn new<'a>(
        rules: Arc<Rules>,
        lists: HashMap<String, Vec<PairFacts>>,
        items: impl IntoIterator<Item = &'a InventoryItem>,
        now: DateTime<Utc>,
    ) -> Self {
        let repositories =
            repositories(items.into_iter().map(|item| (item.image_digest.as_str(), item.image_tag.as_str())));
        Self { rules, lists, repositories, now }
    }

    /// The entry's vulnerabilities split by VEX in its context; `None` when its image has no list.
    pub fn judge(&self, item: &InventoryItem) -> Option<Judged<'_>> {
        let pairs = self.lists.get(&item.image_digest)?;
        let lens = Lens { rules: &self.rules, repositories: &self.repositories, now: self.now };
        let (shown, suppressed) = if self.rules.is_empty() {
            (pairs.iter().collect(), Vec::new())
        } else {
            split_by_vex(pairs, &lens, &item.image_digest, &item.context)
        };
        Some(Judged { shown, suppressed })
    }

    /// The highest severity VEX leaves visible for the entry (`recorded`, the image's highest
    /// by its findings, when nothing of it is suppressed); `None` when all of it is.
    pub fn highest(&self, item: &InventoryItem, recorded: Severity) -> Option<Severity> {
        match self.judge(item) {
            Some(judged) if !judged.suppressed.is_empty() => judged.shown.iter().map(|pair| pair.severity).max(),
            _ => Some(recorded),
        }
    }
}

impl Judged<'_> {
    /// Whether the vulnerabilities still shown satisfy the query's `min_severity`, `kev` and
    /// `min_epss` as the index-based filters judged all of them.
    pub fn matches(&self, query: &InventoryQuery, threat: &ThreatData) -> bool {
        let severe = query.min_severity.is_none_or(|min| self.shown.iter().any(|pair| pair.severity >= min));
        if query.kev.is_none() && query.min_epss.is_none() {
            return severe;
        }
        let listed = |pair: &&PairFacts| is_listed(pair, threat);
        let scored = |pair: &&PairFacts| {
            query.min_epss.is_none_or(|min| {
                threat.facts(&pair.vulnerability_id).epss.is_some_and(|score| score.epss.value() >= min)
            })
        };
        let admitted = self.shown.iter().any(|pair| (query.kev != Some(true) || listed(pair)) && scored(pair));
        let unlisted = query.kev != Some(false) || !self.shown.iter().any(listed);
        severe && admitted && unlisted
    }

    /// The counts of the suppressed vulnerabilities, to take from the findings record's.
    pub fn suppressed_counts(&self) -> SeverityCounts {
        SeverityCounts::of(self.suppressed.iter().map(|(pair, _)| (pair.vulnerability_id.as_str(), pair.severity)))
    }

    /// How many of the vulnerabilities still shown CISA lists.
    pub fn kev(&self, threat: &ThreatData) -> usize {
        self.shown.iter().filter(|pair| is_listed(pair, threat)).count()
    }
}

fn is_listed(pair: &PairFacts, threat: &ThreatData) -> bool {
    threat.facts(&pair.vulnerability_id).kev.is_some()
}

//! Findings of several scanners side by side, merged when read: one entry per vulnerability and
//! package, the highest severity and score, every fix and every source.

use super::{Finding, Package, Severity};
use crate::limits::MAX_FIXED_IN_VERSIONS;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One vulnerability in one package, merged across the scanners that reported it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MergedFinding {
    pub vulnerability_id: String,
    pub severity: Severity,
    pub package: Package,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_in: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    /// The scanners that reported it, in name order.
    pub sources: Vec<String>,
}

/// Adds `other`, a report of the same vulnerability in the same package, to `kept`.
pub(super) fn fold(kept: &mut Finding, other: &Finding) {
    kept.severity = kept.severity.max(other.severity);
    kept.cvss_score = super::higher_score(kept.cvss_score, other.cvss_score);
    for version in &other.fixed_in {
        if !kept.fixed_in.contains(version) && kept.fixed_in.len() < MAX_FIXED_IN_VERSIONS {
            kept.fixed_in.push(version.clone());
        }
    }
    if kept.package.package_type.is_empty() {
        kept.package.package_type.clone_from(&other.package.package_type);
    }
    if kept.data_source.is_empty() {
        kept.data_source.clone_from(&other.data_source);
    }
}

/// Every scanner's findings of one image as one list: highest severity first, then by id and
/// package.
pub fn merge<'a>(by_scanner: impl IntoIterator<Item = (&'a str, &'a [Finding])>) -> Vec<MergedFinding> {
    let mut merged: BTreeMap<(&str, &str, &str), (Finding, Vec<String>)> = BTreeMap::new();
    for (scanner, findings) in by_scanner {
        for finding in findings {
            let key =
                (finding.vulnerability_id.as_str(), finding.package.name.as_str(), finding.package.version.as_str());
            match merged.get_mut(&key) {
                Some((kept, sources)) => {
                    fold(kept, finding);
                    if !sources.iter().any(|source| source == scanner) {
                        sources.push(scanner.to_owned());
                    }
                }
                None => {
                    merged.insert(key, (finding.clone(), vec![scanner.to_owned()]));
                }
            }
        }
    }
    let mut list: Vec<MergedFinding> = merged
        .into_values()
        .map(|(finding, mut sources)| {
            sources.sort();
            MergedFinding {
                vulnerability_id: finding.vulnerability_id,
                severity: finding.severity,
                package: finding.package,
                fixed_in: finding.fixed_in,
                cvss_score: finding.cvss_score,
                sources,
            }
        })
        .collect();
    list.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.vulnerability_id.cmp(&b.vulnerability_id))
            .then_with(|| a.package.cmp(&b.package))
    });
    list
}

/// An image's vulnerabilities as answers summarise them: by severity, and how many CISA lists as
/// exploited (absent until the catalog is loaded, or where unknown).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VulnerabilitySummary {
    #[serde(flatten)]
    pub by_severity: SeverityCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev: Option<usize>,
    /// The vulnerabilities VEX statements suppress where the image runs, left out of the counts
    /// (and of `kev`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: usize,
}

/// For `skip_serializing_if`: counts of zero are left out of answers.
pub fn is_zero(count: &usize) -> bool {
    *count == 0
}

/// Distinct vulnerabilities of an image by their highest severity (a CVE in three packages
/// counts once).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeverityCounts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub negligible: u32,
    pub unknown: u32,
}

impl SeverityCounts {
    pub fn of<'a>(findings: impl IntoIterator<Item = (&'a str, Severity)>) -> Self {
        let mut highest: BTreeMap<&str, Severity> = BTreeMap::new();
        for (id, severity) in findings {
            let entry = highest.entry(id).or_insert(severity);
            *entry = (*entry).max(severity);
        }
        let mut counts = Self::default();
        for severity in highest.into_values() {
            *counts.slot(severity) += 1;
        }
        counts
    }

    /// These counts less `other`'s (never below zero: the two are read at different times).
    pub fn without(mut self, other: &Self) -> Self {
        for severity in Severity::ALL {
            let removed = other.get(severity);
            let slot = self.slot(severity);
            *slot = slot.saturating_sub(removed);
        }
        self
    }

    fn slot(&mut self, severity: Severity) -> &mut u32 {
        match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Negligible => &mut self.negligible,
            Severity::Unknown => &mut self.unknown,
        }
    }

    pub fn get(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Negligible => self.negligible,
            Severity::Unknown => self.unknown,
        }
    }

    /// Vulnerabilities at `min` or above (`unknown` counts only when `min` is `unknown`).
    pub fn at_least(&self, min: Severity) -> u32 {
        Severity::ALL.into_iter().filter(|severity| *severity >= min).map(|severity| self.get(severity)).sum()
    }

    /// The highest severity with a vulnerability, if any.
    pub fn highest(&self) -> Option<Severity> {
        Severity::ALL.into_iter().find(|severity| self.get(*severity) > 0)
    }
}

//! `Runtime Inventory Vulnerable Image Running`: an image with findings at or above the
//! threshold runs in a context. Announced once per (context, digest, vulnerability), when the
//! image starts running there or when such findings arrive for an image that runs: pure, from the
//! image's merged findings and where it runs.

use inventory_store::findings::{add_package, higher_score, AffectedPackage, MergedFinding, Severity};
use inventory_store::model::{InventoryType, WorkloadContainers};
use inventory_store::store::{SentOnceMarker, VulnerabilityEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Environment variable of the lowest severity announced (`ExposureSeverityThreshold`).
pub const EXPOSURE_SEVERITY_THRESHOLD: &str = "EXPOSURE_SEVERITY_THRESHOLD";
pub const DEFAULT_THRESHOLD: Severity = Severity::Critical;

/// Where an image runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningIn {
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_tag: String,
    pub workloads: Vec<WorkloadContainers>,
}

/// Where a vulnerability runs: the fields every per-vulnerability event's `detail` starts with,
/// and the key of its "sent once" marker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExposedIn {
    pub account: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_digest: String,
    pub image_tag: String,
    pub vulnerability_id: String,
}

impl ExposedIn {
    pub fn marker(&self, event: VulnerabilityEvent) -> SentOnceMarker {
        SentOnceMarker::per_vulnerability(
            event,
            &self.account,
            self.inventory_type,
            &self.context,
            &self.image_digest,
            &self.vulnerability_id,
        )
    }
}

/// The `detail` of `Runtime Inventory Vulnerable Image Running`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnerableImageRunning {
    #[serde(flatten)]
    pub at: ExposedIn,
    pub severity: Severity,
    /// The first `MAX_LISTED_PACKAGES` packages that carry it.
    pub packages: Vec<AffectedPackage>,
    /// How many packages carry it, when more than `packages` lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_count: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    pub workloads: Vec<WorkloadContainers>,
}

impl VulnerableImageRunning {
    /// Whether VEX statements suppress it where it runs.
    pub fn is_suppressed(&self, lens: &inventory_store::vex::Lens) -> bool {
        let at = &self.at;
        let complete = self.package_count.is_none();
        let verdict = lens.verdict(&at.vulnerability_id, &at.image_digest, Some(&at.context), &self.packages, complete);
        verdict.is_some_and(|verdict| verdict.suppressed)
    }
}

/// One event per (context, vulnerability at or above `threshold`), with its marker.
pub fn exposures(
    account: &str,
    digest: &str,
    running: &[RunningIn],
    findings: &[MergedFinding],
    threshold: Severity,
) -> Vec<(SentOnceMarker, VulnerableImageRunning)> {
    let mut severe: BTreeMap<&str, (Severity, Option<f64>, Vec<AffectedPackage>, Option<usize>)> = BTreeMap::new();
    for finding in findings.iter().filter(|finding| finding.severity >= threshold) {
        let (severity, score, packages, package_count) =
            severe.entry(&finding.vulnerability_id).or_insert((finding.severity, None, Vec::new(), None));
        *severity = (*severity).max(finding.severity);
        *score = higher_score(*score, finding.cvss_score);
        let package = AffectedPackage { package: finding.package.clone(), fixed_in: finding.fixed_in.clone() };
        add_package(packages, package_count, package);
    }
    let mut events = Vec::new();
    for place in running {
        for (id, (severity, score, packages, package_count)) in &severe {
            let at = ExposedIn {
                account: account.to_owned(),
                inventory_type: place.inventory_type,
                context: place.context.clone(),
                image_digest: digest.to_owned(),
                image_tag: place.image_tag.clone(),
                vulnerability_id: id.to_string(),
            };
            let marker = at.marker(VulnerabilityEvent::Exposure);
            let detail = VulnerableImageRunning {
                at,
                severity: *severity,
                packages: packages.clone(),
                package_count: *package_count,
                cvss_score: *score,
                workloads: place.workloads.clone(),
            };
            events.push((marker, detail));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory_store::findings::Package;

    fn finding(id: &str, severity: Severity, package: &str) -> MergedFinding {
        MergedFinding {
            vulnerability_id: id.into(),
            severity,
            package: Package { name: package.into(), version: "1".into(), package_type: String::new() },
            fixed_in: vec!["2".into()],
            cvss_score: Some(9.1),
            sources: vec!["grype".into()],
        }
    }

    #[test]
    fn each_context_gets_one_event_per_vulnerability_at_or_above_the_threshold() {
        let running = |context: &str| RunningIn {
            inventory_type: InventoryType::Kubernetes,
            context: context.into(),
            image_tag: "docker.io/shop/web:1".into(),
            workloads: Vec::new(),
        };
        let findings = [
            finding("CVE-1", Severity::Critical, "openssl"),
            finding("CVE-1", Severity::High, "libssl"),
            finding("CVE-2", Severity::High, "zlib"),
            finding("CVE-3", Severity::Low, "curl"),
        ];
        let events = exposures("admin", "sha256:a", &[running("prod/a"), running("prod/b")], &findings, Severity::High);
        let keys: Vec<(&str, &str, Severity, usize)> = events
            .iter()
            .map(|(_, detail)| {
                (
                    detail.at.context.as_str(),
                    detail.at.vulnerability_id.as_str(),
                    detail.severity,
                    detail.packages.len(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("prod/a", "CVE-1", Severity::Critical, 2),
                ("prod/a", "CVE-2", Severity::High, 1),
                ("prod/b", "CVE-1", Severity::Critical, 2),
                ("prod/b", "CVE-2", Severity::High, 1),
            ]
        );
        assert_eq!(events[0].0.pk, "admin#exp#kubernetes#prod/a");
        assert_eq!(events[0].0.sk, "sha256:a#CVE-1");
        assert!(exposures("admin", "sha256:a", &[running("prod/a")], &findings, Severity::Critical).len() == 1);
    }
}

//! Findings with their threat data: each finding row of `GET /v2/images/{digest}/vulnerabilities`
//! and each image row of `GET /v2/vulnerabilities/{id}` carries `is_kev`, `kev`, `epss`,
//! `fix_available` and `risk` (the formula of `inventory_core::threat::risk`), its workloads being
//! those running the image now.

use crate::exposure::{ExposedImage, VulnerabilityExposure};
use inventory_store::findings::{AffectedPackage, MergedFinding, SeverityCounts, VulnerabilitySummary};
use inventory_store::threat::{FindingFacts, ThreatData, ThreatFields};
use inventory_store::vex::{Lens, Verdict};
use inventory_store::vulnerabilities::ImageVulnerabilities;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RankedFinding<'a> {
    #[serde(flatten)]
    pub finding: &'a MergedFinding,
    #[serde(flatten)]
    pub threat: ThreatFields,
    /// The VEX annotation that decides about it, wherever the image runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex: Option<Verdict>,
}

/// `GET /v2/images/{image_digest}/vulnerabilities`: the image's findings, each with its threat data.
#[derive(Debug, Clone, Serialize)]
pub struct RankedImage<'a> {
    #[serde(flatten)]
    pub image: &'a ImageVulnerabilities,
    pub vulnerabilities: VulnerabilitySummary,
    pub findings: Vec<RankedFinding<'a>>,
    /// Findings VEX statements about the image (not about one context) suppress: left out of
    /// `findings` and of the counts, unless asked for.
    pub suppressed: usize,
}

/// The image's findings, each with its threat data and VEX verdict; suppressed ones are left
/// out of the list and the counts unless `include_suppressed`.
pub fn rank_image<'a>(
    image: &'a ImageVulnerabilities,
    threat: &ThreatData,
    workloads: usize,
    lens: &Lens,
    include_suppressed: bool,
) -> RankedImage<'a> {
    let mut findings: Vec<RankedFinding> = image
        .findings
        .iter()
        .map(|finding| RankedFinding {
            finding,
            threat: threat.fields(&FindingFacts {
                vulnerability_id: &finding.vulnerability_id,
                severity: finding.severity,
                cvss_score: finding.cvss_score,
                fix_available: !finding.fixed_in.is_empty(),
                workloads,
            }),
            vex: {
                let package = AffectedPackage { package: finding.package.clone(), fixed_in: finding.fixed_in.clone() };
                lens.verdict(&finding.vulnerability_id, &image.image_digest, None, &[package], true)
            },
        })
        .collect();
    let is_suppressed = |ranked: &RankedFinding| ranked.vex.as_ref().is_some_and(|verdict| verdict.suppressed);
    let suppressed: BTreeSet<&str> = findings
        .iter()
        .filter(|ranked| is_suppressed(ranked))
        .map(|ranked| ranked.finding.vulnerability_id.as_str())
        .collect();
    let by_severity = if suppressed.is_empty() {
        image.vulnerabilities
    } else {
        let visible = findings.iter().filter(|ranked| !is_suppressed(ranked));
        SeverityCounts::of(visible.map(|ranked| (ranked.finding.vulnerability_id.as_str(), ranked.finding.severity)))
    };
    let suppressed = suppressed.len();
    if !include_suppressed {
        findings.retain(|ranked| !is_suppressed(ranked));
    }
    let listed: BTreeSet<&str> = findings
        .iter()
        .filter(|ranked| ranked.threat.is_kev == Some(true))
        .map(|ranked| ranked.finding.vulnerability_id.as_str())
        .collect();
    let kev = threat.kev.as_ref().map(|_| listed.len());
    RankedImage {
        image,
        vulnerabilities: VulnerabilitySummary { by_severity, kev, suppressed: 0 },
        findings,
        suppressed,
    }
}

/// One image row of a vulnerability's exposure, with its risk where it runs.
#[derive(Debug, Clone, Serialize)]
pub struct RankedExposedImage<'a> {
    #[serde(flatten)]
    pub image: &'a ExposedImage,
    #[serde(flatten)]
    pub threat: ThreatFields,
}

/// `GET /v2/vulnerabilities/{vulnerability_id}`: the vulnerability's threat data, and each
/// running image's risk (its workloads: those of the contexts listed).
#[derive(Debug, Clone, Serialize)]
pub struct RankedExposure<'a> {
    #[serde(flatten)]
    pub exposure: &'a VulnerabilityExposure,
    #[serde(flatten)]
    pub threat: ThreatFields,
    pub images: Vec<RankedExposedImage<'a>>,
}

pub fn rank_exposure<'a>(exposure: &'a VulnerabilityExposure, threat: &ThreatData) -> RankedExposure<'a> {
    let fields = |severity, cvss_score, fix_available, workloads| {
        threat.fields(&FindingFacts {
            vulnerability_id: &exposure.vulnerability_id,
            severity,
            cvss_score,
            fix_available,
            workloads,
        })
    };
    let images: Vec<RankedExposedImage> = exposure
        .images
        .iter()
        .map(|image| {
            let fix_available = image.packages.iter().any(|package| !package.fixed_in.is_empty());
            let workloads = image.contexts.iter().map(|context| context.workloads.len()).sum();
            RankedExposedImage { image, threat: fields(image.severity, image.cvss_score, fix_available, workloads) }
        })
        .collect();
    // The workloads of this page's images: the worklist's row will give the account's.
    let workloads =
        images.iter().map(|image| image.image.contexts.iter().map(|c| c.workloads.len()).sum::<usize>()).sum();
    let threat = fields(exposure.severity, exposure.cvss_score, !exposure.fixed_in.is_empty(), workloads);
    RankedExposure { exposure, threat, images }
}

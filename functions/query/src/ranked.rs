//! Findings with their threat data: each finding row of `GET /v2/images/{digest}/vulnerabilities`
//! and each image row of `GET /v2/vulnerabilities/{id}` carries `is_kev`, `kev`, `epss`,
//! `fix_available` and `risk` (the formula of `inventory_core::threat::risk`), its workloads being
//! those running the image now.

use crate::exposure::{ExposedImage, VulnerabilityExposure};
use inventory_store::findings::{MergedFinding, VulnerabilitySummary};
use inventory_store::threat::{FindingFacts, ThreatData, ThreatFields};
use inventory_store::vulnerabilities::ImageVulnerabilities;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RankedFinding<'a> {
    #[serde(flatten)]
    pub finding: &'a MergedFinding,
    #[serde(flatten)]
    pub threat: ThreatFields,
}

/// `GET /v2/images/{image_digest}/vulnerabilities`: the image's findings, each with its threat data.
#[derive(Debug, Clone, Serialize)]
pub struct RankedImage<'a> {
    #[serde(flatten)]
    pub image: &'a ImageVulnerabilities,
    pub vulnerabilities: VulnerabilitySummary,
    pub findings: Vec<RankedFinding<'a>>,
}

pub fn rank_image<'a>(image: &'a ImageVulnerabilities, threat: &ThreatData, workloads: usize) -> RankedImage<'a> {
    let findings: Vec<RankedFinding> = image
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
        })
        .collect();
    let listed: BTreeSet<&str> = findings
        .iter()
        .filter(|ranked| ranked.threat.is_kev == Some(true))
        .map(|ranked| ranked.finding.vulnerability_id.as_str())
        .collect();
    let kev = threat.kev.as_ref().map(|_| listed.len());
    RankedImage { image, vulnerabilities: VulnerabilitySummary { by_severity: image.vulnerabilities, kev }, findings }
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

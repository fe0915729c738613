//! Findings from AWS: Amazon Inspector's findings of an ECR image, or ECR basic scanning's where
//! Inspector does not scan the registry. Each answer becomes a findings document.

use crate::ecr::EcrImage;
use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsError;
use aws_sdk_ecr::types::{ImageIdentifier, ImageScanFinding};
use aws_sdk_inspector2::types::{FilterCriteria, Finding, FindingStatus, FindingType, StringComparison, StringFilter};
use inventory_store::findings::{document_of, FindingsError, Format, RawFinding, ScanDocument};

/// The scanner names findings from AWS are stored under.
pub use inventory_store::findings::{ECR_SCANNER as ECR_BASIC, INSPECTOR_SCANNER as INSPECTOR};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{service} {operation} failed: {message}")]
    Sdk { service: &'static str, operation: &'static str, message: String },
    #[error(transparent)]
    Findings(#[from] FindingsError),
}

fn sdk(service: &'static str, operation: &'static str) -> impl FnOnce(String) -> SourceError {
    move |message| SourceError::Sdk { service, operation, message }
}

fn equals(value: &str) -> StringFilter {
    StringFilter::builder()
        .comparison(StringComparison::Equals)
        .value(value)
        .build()
        .expect("comparison and value are set")
}

/// Whether Inspector scans the registry's ECR images.
pub async fn inspector_scans(client: &aws_sdk_inspector2::Client, registry: &str) -> Result<bool, SourceError> {
    let output = client.batch_get_account_status().account_ids(registry).send().await.map_err(|error| {
        sdk("inspector2", "BatchGetAccountStatus")(aws_sdk_inspector2::error::DisplayErrorContext(error).to_string())
    })?;
    let enabled = output.accounts().iter().any(|account| {
        account.account_id() == registry
            && account
                .resource_state()
                .and_then(|state| state.ecr())
                .is_some_and(|ecr| *ecr.status() == aws_sdk_inspector2::types::Status::Enabled)
    });
    Ok(enabled)
}

/// Inspector's active package findings of one image, as a document.
pub async fn inspector_document(
    client: &aws_sdk_inspector2::Client,
    image: &EcrImage,
    digest: &str,
) -> Result<ScanDocument, SourceError> {
    let criteria = FilterCriteria::builder()
        .aws_account_id(equals(&image.registry))
        .ecr_image_repository_name(equals(&image.repository))
        .ecr_image_hash(equals(digest))
        .finding_status(equals(FindingStatus::Active.as_str()))
        .finding_type(equals(FindingType::PackageVulnerability.as_str()))
        .build();
    let mut pages = client.list_findings().filter_criteria(criteria).into_paginator().send();
    let mut findings: Vec<Finding> = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| {
            sdk("inspector2", "ListFindings")(aws_sdk_inspector2::error::DisplayErrorContext(error).to_string())
        })?;
        findings.extend(page.findings().iter().cloned());
    }
    Ok(inspector_findings(&findings)?)
}

/// Inspector findings as a document: one finding per vulnerable package.
pub fn inspector_findings(findings: &[Finding]) -> Result<ScanDocument, FindingsError> {
    let raws = findings.iter().enumerate().flat_map(|(n, finding)| {
        let details = finding.package_vulnerability_details();
        let id = details.map(|details| details.vulnerability_id());
        let score = details
            .and_then(|details| details.cvss().iter().map(|cvss| cvss.base_score()).reduce(f64::max))
            .or(finding.inspector_score());
        let source = details.map(|details| details.source());
        let severity = Some(finding.severity().as_str());
        let packages = details.map(|details| details.vulnerable_packages()).unwrap_or_default();
        let rows: Vec<(String, RawFinding)> = if packages.is_empty() {
            vec![(format!("findings[{n}]"), RawFinding { id, severity, ..RawFinding::default() })]
        } else {
            packages
                .iter()
                .enumerate()
                .map(|(p, package)| {
                    let raw = RawFinding {
                        id,
                        severity,
                        package_name: Some(package.name()),
                        package_version: Some(package.version()),
                        package_type: package.package_manager().map(|manager| manager.as_str()),
                        fixed_in: package.fixed_in_version().into_iter().filter(|v| *v != "NotAvailable").collect(),
                        cvss_score: score,
                        data_source: source,
                    };
                    (format!("findings[{n}].vulnerablePackages[{p}]"), raw)
                })
                .collect()
        };
        rows
    });
    let raws: Vec<(String, RawFinding)> = raws.collect();
    document_of(Format::Inspector, INSPECTOR, raws)
}

/// ECR basic scanning's findings of one image; `None` when the image was never scanned.
pub async fn ecr_document(
    client: &aws_sdk_ecr::Client,
    image: &EcrImage,
    digest: &str,
) -> Result<Option<ScanDocument>, SourceError> {
    let mut pages = client
        .describe_image_scan_findings()
        .registry_id(&image.registry)
        .repository_name(&image.repository)
        .image_id(ImageIdentifier::builder().image_digest(digest).build())
        .into_paginator()
        .send();
    let mut findings: Vec<ImageScanFinding> = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => findings.extend(page.image_scan_findings().map(|f| f.findings().to_vec()).unwrap_or_default()),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(
                        DescribeImageScanFindingsError::ScanNotFoundException(_)
                            | DescribeImageScanFindingsError::ImageNotFoundException(_)
                    )
                ) =>
            {
                return Ok(None)
            }
            Err(error) => {
                return Err(sdk("ecr", "DescribeImageScanFindings")(
                    aws_sdk_ecr::error::DisplayErrorContext(error).to_string(),
                ))
            }
        }
    }
    Ok(Some(ecr_findings(&findings)?))
}

/// ECR basic findings as a document: the package is in the finding's attributes.
pub fn ecr_findings(findings: &[ImageScanFinding]) -> Result<ScanDocument, FindingsError> {
    fn attribute<'a>(finding: &'a ImageScanFinding, key: &str) -> Option<&'a str> {
        finding.attributes().iter().find(|attribute| attribute.key() == key).and_then(|attribute| attribute.value())
    }
    let raws: Vec<(String, RawFinding)> = findings
        .iter()
        .enumerate()
        .map(|(n, finding)| {
            let score = ["CVSS3_SCORE", "CVSS2_SCORE"]
                .iter()
                .find_map(|key| attribute(finding, key).and_then(|score| score.parse::<f64>().ok()));
            let raw = RawFinding {
                id: finding.name(),
                severity: finding.severity().map(|severity| severity.as_str()),
                package_name: attribute(finding, "package_name"),
                package_version: attribute(finding, "package_version"),
                cvss_score: score,
                data_source: Some("ecr-basic"),
                ..RawFinding::default()
            };
            (format!("findings[{n}]"), raw)
        })
        .collect();
    document_of(Format::Ecr, ECR_BASIC, raws)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecr::types::{Attribute, FindingSeverity};
    use aws_sdk_inspector2::types::{
        CvssScore, PackageManager, PackageVulnerabilityDetails, Severity, VulnerablePackage,
    };
    use inventory_store::findings::Severity as Normalised;

    fn inspector_finding(id: &str, severity: Severity, packages: Vec<VulnerablePackage>) -> Finding {
        let details = PackageVulnerabilityDetails::builder()
            .vulnerability_id(id)
            .source("NVD")
            .set_vulnerable_packages(Some(packages))
            .cvss(
                CvssScore::builder().base_score(9.8).scoring_vector("v").version("3.1").source("NVD").build().unwrap(),
            )
            .build()
            .unwrap();
        Finding::builder()
            .aws_account_id("123456789012")
            .description("a long description")
            .finding_arn("arn:f")
            .first_observed_at(aws_sdk_inspector2::primitives::DateTime::from_secs(0))
            .last_observed_at(aws_sdk_inspector2::primitives::DateTime::from_secs(0))
            .remediation(aws_sdk_inspector2::types::Remediation::builder().build())
            .resources(
                aws_sdk_inspector2::types::Resource::builder()
                    .id("r")
                    .r#type(aws_sdk_inspector2::types::ResourceType::AwsEcrContainerImage)
                    .build()
                    .unwrap(),
            )
            .severity(severity)
            .status(FindingStatus::Active)
            .r#type(FindingType::PackageVulnerability)
            .package_vulnerability_details(details)
            .build()
            .unwrap()
    }

    fn package(name: &str, fixed: Option<&str>) -> VulnerablePackage {
        VulnerablePackage::builder()
            .name(name)
            .version("1.0")
            .package_manager(PackageManager::Os)
            .set_fixed_in_version(fixed.map(str::to_owned))
            .build()
            .unwrap()
    }

    #[test]
    fn inspector_findings_become_one_finding_per_vulnerable_package() {
        let findings = [
            inspector_finding(
                "CVE-2024-1",
                Severity::Critical,
                vec![package("openssl", Some("1.1")), package("libssl", Some("NotAvailable"))],
            ),
            inspector_finding("CVE-2024-2", Severity::Informational, vec![package("zlib", None)]),
            inspector_finding("CVE-2024-3", Severity::Untriaged, vec![]),
        ];
        let document = inspector_findings(&findings).unwrap();
        assert_eq!((document.format, document.scanner.as_str()), (Format::Inspector, INSPECTOR));
        let rows: Vec<(&str, &str, Normalised, Vec<String>)> = document
            .findings
            .iter()
            .map(|f| (f.vulnerability_id.as_str(), f.package.name.as_str(), f.severity, f.fixed_in.clone()))
            .collect();
        assert_eq!(
            rows,
            [
                ("CVE-2024-1", "openssl", Normalised::Critical, vec!["1.1".to_owned()]),
                ("CVE-2024-1", "libssl", Normalised::Critical, vec![]),
                ("CVE-2024-2", "zlib", Normalised::Negligible, vec![]),
            ]
        );
        assert_eq!(
            (document.findings[0].cvss_score, document.findings[0].package.package_type.as_str()),
            (Some(9.8), "OS")
        );
        assert_eq!(document.skipped_count, 1, "a finding without a package is listed, not kept");
    }

    #[test]
    fn ecr_basic_findings_read_their_package_from_attributes() {
        let attribute = |key: &str, value: &str| Attribute::builder().key(key).value(value).build().unwrap();
        let finding = ImageScanFinding::builder()
            .name("CVE-2019-1549")
            .severity(FindingSeverity::Medium)
            .attributes(attribute("package_name", "openssl"))
            .attributes(attribute("package_version", "1.1.1c-r0"))
            .attributes(attribute("CVSS2_SCORE", "5"))
            .build();
        let document = ecr_findings(&[finding]).unwrap();
        let found = &document.findings[0];
        assert_eq!(
            (found.package.name.as_str(), found.package.version.as_str(), found.severity),
            ("openssl", "1.1.1c-r0", Normalised::Medium)
        );
        assert_eq!((found.cvss_score, document.scanner.as_str()), (Some(5.0), ECR_BASIC));
    }
}

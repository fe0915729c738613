//! Where vulnerable images run. `GET /v2/vulnerabilities/{vulnerability_id}`: one
//! vulnerability's images and the live contexts running them, read from the vulnerability's
//! partition and the `digests` index (proportional to the images that carry it). `GET
//! /v2/exposure`: per cluster, the running images and workloads with findings at or above a
//! severity (the dashboard view).

use inventory_store::field::FieldError;
use inventory_store::findings::{AffectedPackage, Severity, SeverityCounts, VulnerableImage};
use inventory_store::image::Digest;
use inventory_store::listing::InventoryItem;
use inventory_store::model::{split_kubernetes_context, InventoryType, WorkloadContainers};
use inventory_store::store::{Store, StoreError};
use inventory_store::InventoryReader;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Images on one page of a vulnerability's exposure, and without `limit`.
pub const MAX_EXPOSURE_PAGE: usize = 1000;
pub const DEFAULT_EXPOSURE_PAGE: usize = 100;

/// One live context running an image.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunningIn {
    pub inventory_type: InventoryType,
    pub context: String,
    pub workloads: Vec<WorkloadContainers>,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExposedImage {
    pub image_digest: String,
    pub image_tag: String,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    pub packages: Vec<AffectedPackage>,
    pub contexts: Vec<RunningIn>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VulnerabilityExposure {
    pub vulnerability_id: String,
    /// The highest severity any scanner gave it in any image of the account.
    pub severity: Severity,
    /// The highest CVSS score any scanner gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    /// Every version any scanner says fixes it.
    pub fixed_in: Vec<String>,
    /// The images carrying it that run somewhere now, in digest order; answered each with its
    /// risk by the query function (`ranked`).
    #[serde(skip)]
    pub images: Vec<ExposedImage>,
    /// Pass back as `next` for the following page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A page of a vulnerability's images: `limit` images after the digest `next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposurePage {
    pub limit: usize,
    pub after: Option<String>,
}

impl ExposurePage {
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, FieldError> {
        let invalid = |parameter: &str, message: String| FieldError::invalid(parameter, message);
        let limit = match get("limit").filter(|raw| !raw.is_empty()) {
            None => DEFAULT_EXPOSURE_PAGE,
            Some(raw) => match raw.parse::<usize>() {
                Ok(limit) if (1..=MAX_EXPOSURE_PAGE).contains(&limit) => limit,
                _ => return Err(invalid("limit", format!("must be a whole number from 1 to {MAX_EXPOSURE_PAGE}"))),
            },
        };
        let after = get("next")
            .filter(|raw| !raw.is_empty())
            .map(|raw| Digest::parse(&raw).map(|digest| digest.to_string()))
            .transpose()
            .map_err(|_| invalid("next", "is not a cursor returned by this route".to_owned()))?;
        Ok(Self { limit, after })
    }
}

/// One cluster's exposure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterExposure {
    pub inventory_type: InventoryType,
    pub cluster: String,
    /// Distinct images running in the cluster with findings at or above the severity.
    pub images: usize,
    /// Distinct workloads (context, kind, name) running them.
    pub workloads: usize,
    /// Those images by their highest severity.
    pub by_severity: SeverityCounts,
}

fn cluster_of(item: &InventoryItem) -> &str {
    match item.inventory_type {
        InventoryType::Kubernetes => split_kubernetes_context(&item.context).0,
        InventoryType::Ecs => &item.context,
    }
}

/// Running entries grouped by cluster, with each image's highest severity.
pub fn clusters_exposed(items: &[InventoryItem], highest: &HashMap<String, Severity>) -> Vec<ClusterExposure> {
    type Seen<'a> = (BTreeSet<&'a str>, BTreeSet<(&'a str, String, &'a str)>);
    let mut clusters: BTreeMap<(InventoryType, &str), Seen> = BTreeMap::new();
    for item in items {
        let (images, workloads) = clusters.entry((item.inventory_type, cluster_of(item))).or_default();
        images.insert(&item.image_digest);
        for workload in &item.workloads {
            workloads.insert((&item.context, workload.kind.as_str().to_owned(), &workload.name));
        }
    }
    clusters
        .into_iter()
        .map(|((inventory_type, cluster), (images, workloads))| {
            let by_severity =
                SeverityCounts::of(images.iter().filter_map(|digest| Some((*digest, *highest.get(*digest)?))));
            ClusterExposure {
                inventory_type,
                cluster: cluster.to_owned(),
                images: images.len(),
                workloads: workloads.len(),
                by_severity,
            }
        })
        .collect()
}

pub struct Exposure {
    store: Store,
    reader: InventoryReader,
}

impl Exposure {
    pub fn new(store: Store, reader: InventoryReader) -> Self {
        Self { store, reader }
    }

    /// One page of a vulnerability's running images; `None` when no image of the account has it.
    pub async fn vulnerability(
        &self,
        account: &str,
        id: &str,
        page: &ExposurePage,
    ) -> Result<Option<VulnerabilityExposure>, StoreError> {
        let entries = self.store.vulnerable_images(account, id).await?;
        let Some(severity) = entries.iter().map(|entry| entry.severity).max() else { return Ok(None) };
        let cvss_score = entries.iter().filter_map(|entry| entry.cvss_score).reduce(f64::max);
        let mut fixed_in: Vec<String> = Vec::new();
        for fix in entries.iter().flat_map(|entry| entry.packages.iter().flat_map(|package| &package.fixed_in)) {
            if !fixed_in.contains(fix) {
                fixed_in.push(fix.clone());
            }
        }
        let remaining: Vec<&VulnerableImage> = entries
            .iter()
            .filter(|entry| page.after.as_ref().is_none_or(|after| entry.image_digest.as_str() > after.as_str()))
            .collect();
        let on_page = &remaining[..remaining.len().min(page.limit)];
        let next =
            (remaining.len() > page.limit).then(|| on_page.last().map(|entry| entry.image_digest.clone())).flatten();
        let digests: Vec<String> = on_page.iter().map(|entry| entry.image_digest.clone()).collect();
        let mut running: BTreeMap<String, Vec<InventoryItem>> = BTreeMap::new();
        for item in self.reader.running(account, &digests).await? {
            running.entry(item.image_digest.clone()).or_default().push(item);
        }
        let images = on_page
            .iter()
            .filter_map(|entry| {
                let items = running.remove(&entry.image_digest)?;
                Some(ExposedImage {
                    image_digest: entry.image_digest.clone(),
                    image_tag: items[0].image_tag.clone(),
                    severity: entry.severity,
                    cvss_score: entry.cvss_score,
                    packages: entry.packages.clone(),
                    contexts: items
                        .into_iter()
                        .map(|item| RunningIn {
                            inventory_type: item.inventory_type,
                            context: item.context,
                            workloads: item.workloads,
                            first_seen: item.first_seen,
                            last_seen: item.last_seen,
                        })
                        .collect(),
                })
            })
            .collect();
        Ok(Some(VulnerabilityExposure {
            vulnerability_id: id.to_owned(),
            severity,
            cvss_score,
            fixed_in,
            images,
            next,
        }))
    }

    /// Per cluster, the running images with findings at `min` or above.
    pub async fn clusters(&self, account: &str, min: Severity) -> Result<Vec<ClusterExposure>, StoreError> {
        let (items, highest) = self.reader.running_at_least(account, min).await?;
        Ok(clusters_exposed(&items, &highest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(inventory_type: InventoryType, context: &str, digest: &str, workload: &str) -> InventoryItem {
        InventoryItem::running(inventory_type, context, digest, workload)
    }

    #[test]
    fn exposure_is_counted_per_cluster_by_distinct_images_and_workloads() {
        let kubernetes = InventoryType::Kubernetes;
        let items = [
            item(kubernetes, "arn:aws:eks:eu-west-1:1:cluster/prod/payments", "sha256:a", "api"),
            item(kubernetes, "arn:aws:eks:eu-west-1:1:cluster/prod/orders", "sha256:a", "api"),
            item(kubernetes, "arn:aws:eks:eu-west-1:1:cluster/prod/orders", "sha256:b", "worker"),
            item(InventoryType::Ecs, "arn:aws:ecs:eu-west-1:1:cluster/web", "sha256:b", "web"),
        ];
        let highest =
            HashMap::from([("sha256:a".to_owned(), Severity::Critical), ("sha256:b".to_owned(), Severity::High)]);
        let clusters = clusters_exposed(&items, &highest);
        let summary: Vec<(&str, usize, usize, u32, u32)> = clusters
            .iter()
            .map(|c| (c.cluster.as_str(), c.images, c.workloads, c.by_severity.critical, c.by_severity.high))
            .collect();
        assert_eq!(
            summary,
            [("arn:aws:ecs:eu-west-1:1:cluster/web", 1, 1, 0, 1), ("arn:aws:eks:eu-west-1:1:cluster/prod", 2, 3, 1, 1)]
        );
    }

    #[test]
    fn paths_and_pages_are_checked() {
        use inventory_store::limits::MAX_VULNERABILITY_ID_BYTES;
        use inventory_store::listing::vulnerability_id_param;
        assert!(vulnerability_id_param("CVE-2024-3094").is_ok());
        for bad in ["", "CVE#1", &"C".repeat(MAX_VULNERABILITY_ID_BYTES + 1)] {
            assert_eq!(vulnerability_id_param(bad).unwrap_err().field, "vulnerability_id");
        }
        let params = |pairs: &'static [(&'static str, &'static str)]| {
            ExposurePage::from_params(move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
        };
        assert_eq!(params(&[]).unwrap(), ExposurePage { limit: DEFAULT_EXPOSURE_PAGE, after: None });
        assert_eq!(params(&[("limit", "0")]).unwrap_err().field, "limit");
        assert_eq!(params(&[("next", "sha256:zz")]).unwrap_err().field, "next");
    }
}

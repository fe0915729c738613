//! Where vulnerable images run. `GET /v2/vulnerabilities/{vulnerability_id}`: one
//! vulnerability's images and the live contexts running them, read from the vulnerability's
//! partition and the `digests` index (proportional to the images that carry it). `GET
//! /v2/exposure`: per cluster, the running images and workloads with findings at or above a
//! severity (the dashboard view).

use chrono::{DateTime, Utc};
use inventory_store::field::{whole_number, FieldError};
use inventory_store::findings::{AffectedPackage, Severity, SeverityCounts, VulnerableImage};
use inventory_store::image::Digest;
use inventory_store::listing::InventoryItem;
use inventory_store::model::{split_kubernetes_context, InventoryType, WorkloadContainers};
use inventory_store::store::{Store, StoreError};
use inventory_store::vex::{repositories, Lens, Rules, Verdict};
use inventory_store::InventoryReader;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

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
    /// The VEX annotation that decides about it; a suppressed image is listed only when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex: Option<Verdict>,
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
    /// Running images of this page whose every place VEX statements suppress.
    pub suppressed: usize,
}

/// A page of a vulnerability's images: `limit` images after the digest `next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposurePage {
    pub limit: usize,
    pub after: Option<String>,
    /// `include_suppressed=true`: suppressed images are listed, marked.
    pub include_suppressed: bool,
}

impl ExposurePage {
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, FieldError> {
        let invalid = |parameter: &str, message: String| FieldError::invalid(parameter, message);
        let limit = whole_number(&get, "limit", MAX_EXPOSURE_PAGE)?.unwrap_or(DEFAULT_EXPOSURE_PAGE);
        let after = get("next")
            .filter(|raw| !raw.is_empty())
            .map(|raw| Digest::parse(&raw).map(|digest| digest.to_string()))
            .transpose()
            .map_err(|_| invalid("next", "is not a cursor returned by this route".to_owned()))?;
        let include_suppressed = inventory_store::worklist::boolean(&get, "include_suppressed")?.unwrap_or(false);
        Ok(Self { limit, after, include_suppressed })
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

/// Running entries grouped by cluster, each with the highest severity VEX leaves visible there
/// (an image counts at the highest it has in any of the cluster's contexts).
pub fn clusters_exposed(entries: &[(InventoryItem, Severity)]) -> Vec<ClusterExposure> {
    type Seen<'a> = (BTreeMap<&'a str, Severity>, BTreeSet<(&'a str, String, &'a str)>);
    let mut clusters: BTreeMap<(InventoryType, &str), Seen> = BTreeMap::new();
    for (item, severity) in entries {
        let (images, workloads) = clusters.entry((item.inventory_type, cluster_of(item))).or_default();
        let highest = images.entry(&item.image_digest).or_insert(*severity);
        *highest = (*highest).max(*severity);
        for workload in &item.workloads {
            workloads.insert((&item.context, workload.kind.as_str().to_owned(), &workload.name));
        }
    }
    clusters
        .into_iter()
        .map(|((inventory_type, cluster), (images, workloads))| ClusterExposure {
            inventory_type,
            cluster: cluster.to_owned(),
            images: images.len(),
            workloads: workloads.len(),
            by_severity: SeverityCounts::of(images.iter().map(|(digest, severity)| (*digest, *severity))),
        })
        .collect()
}

/// An image's places split by what VEX statements say of `id` there: the visible ones, the
/// suppressed ones (each with the image tag it runs as), and the verdict to show.
type Places = Vec<(String, RunningIn)>;

fn split_by_vex(
    lens: &Lens,
    id: &str,
    entry: &VulnerableImage,
    items: Vec<InventoryItem>,
) -> (Places, Places, Option<Verdict>) {
    let (mut shown, mut hidden, mut shown_verdict, mut hidden_verdict) = (Vec::new(), Vec::new(), None, None);
    let complete = entry.package_count.is_none();
    for item in items {
        let verdict = lens.verdict(id, &entry.image_digest, Some(&item.context), &entry.packages, complete);
        let place = (
            item.image_tag,
            RunningIn {
                inventory_type: item.inventory_type,
                context: item.context,
                workloads: item.workloads,
                first_seen: item.first_seen,
                last_seen: item.last_seen,
            },
        );
        match verdict {
            Some(verdict) if verdict.suppressed => {
                hidden.push(place);
                hidden_verdict.get_or_insert(verdict);
            }
            verdict => {
                shown.push(place);
                if shown_verdict.is_none() {
                    shown_verdict = verdict;
                }
            }
        }
    }
    let verdict = if shown.is_empty() { hidden_verdict } else { shown_verdict };
    (shown, hidden, verdict)
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
    /// Places VEX statements suppress (`rules` at `now`) leave their image.
    pub async fn vulnerability(
        &self,
        account: &str,
        id: &str,
        page: &ExposurePage,
        rules: &Rules,
        now: DateTime<Utc>,
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
        let repositories =
            repositories(running.values().flatten().map(|item| (item.image_digest.as_str(), item.image_tag.as_str())));
        let lens = Lens { rules, repositories: &repositories, now };
        let mut suppressed = 0;
        let mut images = Vec::new();
        for entry in on_page {
            let Some(items) = running.remove(&entry.image_digest) else { continue };
            let (shown, hidden, verdict) = split_by_vex(&lens, id, entry, items);
            let (contexts, vex) = match (shown.is_empty(), verdict) {
                (false, verdict) => (shown, verdict.filter(|verdict| !verdict.suppressed)),
                (true, verdict) => {
                    suppressed += 1;
                    if !page.include_suppressed {
                        continue;
                    }
                    (hidden, verdict)
                }
            };
            images.push(ExposedImage {
                image_digest: entry.image_digest.clone(),
                image_tag: contexts.first().map(|(tag, _)| tag.clone()).unwrap_or_default(),
                severity: entry.severity,
                cvss_score: entry.cvss_score,
                packages: entry.packages.clone(),
                contexts: contexts.into_iter().map(|(_, context)| context).collect(),
                vex,
            });
        }
        Ok(Some(VulnerabilityExposure {
            vulnerability_id: id.to_owned(),
            severity,
            cvss_score,
            fixed_in,
            images,
            next,
            suppressed,
        }))
    }

    /// Per cluster, the running images with findings at `min` or above that VEX statements leave
    /// visible there.
    pub async fn clusters(&self, account: &str, min: Severity) -> Result<Vec<ClusterExposure>, StoreError> {
        Ok(clusters_exposed(&self.reader.running_at_least(account, min).await?))
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
        let (critical, high) = (Severity::Critical, Severity::High);
        let entries = [
            (item(kubernetes, "arn:aws:eks:eu-west-1:1:cluster/prod/payments", "sha256:a", "api"), critical),
            // Where VEX suppresses its critical finding, the same image shows at its next highest.
            (item(kubernetes, "arn:aws:eks:eu-west-1:1:cluster/prod/orders", "sha256:a", "api"), high),
            (item(kubernetes, "arn:aws:eks:eu-west-1:1:cluster/prod/orders", "sha256:b", "worker"), high),
            (item(InventoryType::Ecs, "arn:aws:ecs:eu-west-1:1:cluster/web", "sha256:b", "web"), high),
        ];
        let clusters = clusters_exposed(&entries);
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
        assert_eq!(
            params(&[]).unwrap(),
            ExposurePage { limit: DEFAULT_EXPOSURE_PAGE, after: None, include_suppressed: false }
        );
        assert_eq!(params(&[("limit", "0")]).unwrap_err().field, "limit");
        assert_eq!(params(&[("next", "sha256:zz")]).unwrap_err().field, "next");
    }
}

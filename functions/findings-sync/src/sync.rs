//! One sync: for each running ECR image (one named by an Image Added event, or every one on the
//! schedule), its findings from Inspector, or from ECR basic scanning where Inspector does not
//! scan its registry, stored as that source's findings of the image.

use crate::accounts::SyncAccounts;
use crate::ecr::{ecr_image, EcrImage};
use crate::sources::{ecr_document, inspector_document, inspector_scans, SourceError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use inventory_store::clock::Deadline;
use inventory_store::findings::Severity;
use inventory_store::image::Digest;
use inventory_store::listing::InventoryItem;
use inventory_store::store::{Store, StoreError};
use inventory_store::vulnerabilities::{Vulnerabilities, VulnerabilityError};
use inventory_store::{Clock, InventoryReader};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// The clients for one region with one set of credentials (a role's, or the function's own).
#[derive(Clone, Debug)]
pub struct Target {
    pub region: String,
    /// The account of the assumed role; `None` for the function's own credentials.
    pub role_account: Option<String>,
    pub inspector: aws_sdk_inspector2::Client,
    pub ecr: aws_sdk_ecr::Client,
}

/// The running ECR images of `entries`, once per (account, digest): several tags of one digest
/// are one scan.
pub fn ecr_images(entries: &[(String, InventoryItem)]) -> Vec<RunningImage> {
    let mut seen = BTreeSet::new();
    let mut images: Vec<RunningImage> = entries
        .iter()
        .filter(|(_, item)| !item.image_digest.is_empty() && ecr_image(&item.image_tag).is_some())
        .map(|(account, item)| RunningImage {
            account: account.clone(),
            digest: item.image_digest.clone(),
            image_tag: item.image_tag.clone(),
        })
        .collect();
    images.sort();
    images.retain(|image| seen.insert((image.account.clone(), image.digest.clone())));
    images
}

/// An image to sync.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunningImage {
    pub account: String,
    pub digest: String,
    pub image_tag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] VulnerabilityError),
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SyncSummary {
    /// Running images with an ECR reference.
    pub images: usize,
    pub from_inspector: usize,
    pub from_ecr: usize,
    /// ECR images never scanned: nothing to store.
    pub not_scanned: usize,
    /// Images in a region or account the function reads nothing of, with why.
    pub skipped: Vec<String>,
    pub errors: Vec<String>,
    /// The run stopped starting images at its deadline.
    pub cut_short: bool,
    /// Images whose findings were removed: they ran nowhere, and were scanned, longer ago than
    /// the inventory is kept.
    #[serde(skip_serializing_if = "inventory_store::vulnerabilities::is_zero")]
    pub expired: usize,
}

enum Synced {
    Inspector,
    Ecr,
    NotScanned,
    Skipped(String),
}

pub struct FindingsSync {
    store: Store,
    reader: InventoryReader,
    vulnerabilities: Vulnerabilities,
    targets: Vec<Target>,
    accounts: SyncAccounts,
    concurrency: usize,
    clock: Arc<dyn Clock>,
    /// Whether Inspector scans each (region, registry), asked once per run.
    inspector_scans: Mutex<HashMap<(String, String), bool>>,
}

impl FindingsSync {
    pub fn new(
        store: Store,
        reader: InventoryReader,
        targets: Vec<Target>,
        accounts: SyncAccounts,
        concurrency: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let vulnerabilities = Vulnerabilities::new(store.clone(), Arc::clone(&clock));
        let inspector_scans = Mutex::default();
        Self { store, reader, vulnerabilities, targets, accounts, concurrency, clock, inspector_scans }
    }

    /// The clients for the image's registry: its region, with the role in its account, else the
    /// function's own credentials.
    fn target_for(&self, image: &EcrImage) -> Option<&Target> {
        let in_region = self.targets.iter().filter(|target| target.region == image.region);
        let mut in_region = in_region.collect::<Vec<_>>();
        in_region.sort_by_key(|target| target.role_account.as_deref() != Some(image.registry.as_str()));
        in_region.into_iter().find(|target| {
            target.role_account.is_none() || target.role_account.as_deref() == Some(image.registry.as_str())
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Every account with inventory.
    pub async fn accounts(&self) -> Result<BTreeSet<String>, StoreError> {
        let coverage = self.store.all_context_coverage().await?;
        Ok(coverage.iter().filter_map(|record| record.account().map(str::to_owned)).collect())
    }

    /// Every live inventory entry of `accounts`.
    pub async fn running_entries(
        &self,
        accounts: &BTreeSet<String>,
    ) -> Result<Vec<(String, InventoryItem)>, StoreError> {
        let mut entries = Vec::new();
        for account in accounts {
            entries.extend(self.reader.running_at(account).await?.into_iter().map(|item| (account.clone(), item)));
        }
        Ok(entries)
    }

    /// Removes the findings of each account's images that have run nowhere within `ttl` (no
    /// record of them is live: departed ones are kept that long) and whose findings are older
    /// than it (an image scanned before it is deployed keeps them). Without a retention, findings
    /// are kept as the inventory is: forever. Answers how many images' findings went.
    pub async fn expire(
        &self,
        accounts: &BTreeSet<String>,
        ttl: Option<chrono::TimeDelta>,
    ) -> Result<usize, StoreError> {
        let Some(ttl) = ttl else { return Ok(0) };
        let cutoff = self.clock.now() - ttl;
        let mut expired = 0;
        for account in accounts {
            let with_findings: Vec<String> =
                self.reader.severity_index(account, Severity::Unknown).await?.into_keys().collect();
            let running: BTreeSet<String> =
                self.reader.running(account, &with_findings).await?.into_iter().map(|item| item.image_digest).collect();
            let idle: Vec<String> = with_findings.into_iter().filter(|digest| !running.contains(digest)).collect();
            let records = self.store.findings_records(account, &idle).await?;
            let old = records.iter().filter(|record| record.updated_at.is_none_or(|at| at < cutoff));
            for record in old {
                match self.vulnerabilities.forget(account, record).await {
                    Ok(()) => expired += 1,
                    // A post holds the image's lease: it is scanned again, so it stays.
                    Err(error) => tracing::warn!(account, image = %record.image_digest, %error, "findings not expired"),
                }
            }
        }
        Ok(expired)
    }

    /// The highest severity of each entry's findings that VEX statements leave visible in its
    /// context (`None`: no findings, or every one suppressed there).
    pub async fn visible_severities(
        &self,
        entries: &[(String, InventoryItem)],
    ) -> Result<Vec<Option<Severity>>, StoreError> {
        let mut severities = vec![None; entries.len()];
        let accounts: BTreeSet<&str> = entries.iter().map(|(account, _)| account.as_str()).collect();
        for account in accounts {
            let recorded = self.reader.severity_index(account, Severity::Unknown).await?;
            let of_account: Vec<(usize, &InventoryItem)> = entries
                .iter()
                .enumerate()
                .filter(|(_, (owner, _))| owner == account)
                .map(|(i, (_, item))| (i, item))
                .collect();
            let items = of_account.iter().map(|(_, item)| *item);
            let visible = self.reader.visible_severities(account, items, &recorded).await?;
            for ((index, _), severity) in of_account.iter().zip(visible) {
                severities[*index] = severity;
            }
        }
        Ok(severities)
    }

    /// Syncs `images`, a few at once, starting none once the run's deadline passed (`ends`: when
    /// the invocation ends).
    pub async fn sync(&self, images: Vec<RunningImage>, ends: Option<DateTime<Utc>>) -> SyncSummary {
        let deadline = &Deadline::of_run(Arc::clone(&self.clock), ends);
        let mut summary = SyncSummary { images: images.len(), ..SyncSummary::default() };
        // A registry may turn Inspector on between runs.
        self.inspector_scans.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
        let outcomes = futures::stream::iter(images)
            .map(|image| async move {
                if deadline.passed() {
                    return (image, None);
                }
                let outcome = self.sync_image(&image).await;
                (image, Some(outcome))
            })
            .buffer_unordered(self.concurrency);
        futures::pin_mut!(outcomes);
        while let Some((image, outcome)) = outcomes.next().await {
            match outcome {
                None => summary.cut_short = true,
                Some(Ok(Synced::Inspector)) => summary.from_inspector += 1,
                Some(Ok(Synced::Ecr)) => summary.from_ecr += 1,
                Some(Ok(Synced::NotScanned)) => summary.not_scanned += 1,
                Some(Ok(Synced::Skipped(reason))) => summary.skipped.push(format!("{}: {reason}", image.image_tag)),
                Some(Err(error)) => {
                    tracing::warn!(image = %image.image_tag, digest = %image.digest, %error, "findings sync of an image failed");
                    summary.errors.push(format!("{}@{}: {error}", image.image_tag, image.digest));
                }
            }
        }
        summary.skipped.sort();
        summary.errors.sort();
        summary
    }

    /// Whether Inspector scans the image's registry: asked once per (region, registry) a run.
    async fn inspector_scans(&self, target: &Target, ecr: &EcrImage) -> Result<bool, SourceError> {
        let key = (ecr.region.clone(), ecr.registry.clone());
        let known = self.inspector_scans.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&key).copied();
        if let Some(scans) = known {
            return Ok(scans);
        }
        let scans = inspector_scans(&target.inspector, &ecr.registry).await?;
        self.inspector_scans.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(key, scans);
        Ok(scans)
    }

    async fn sync_image(&self, image: &RunningImage) -> Result<Synced, SyncError> {
        let Some(ecr) = ecr_image(&image.image_tag) else { return Ok(Synced::Skipped("not an ECR image".into())) };
        let Ok(digest) = Digest::parse(&image.digest) else { return Ok(Synced::Skipped("no valid digest".into())) };
        if !self.accounts.allows(&image.account, &ecr.registry) {
            return Ok(Synced::Skipped(format!(
                "registry {} is not synced for account {} (FINDINGS_SYNC_ACCOUNTS)",
                ecr.registry, image.account
            )));
        }
        let Some(target) = self.target_for(&ecr) else {
            return Ok(Synced::Skipped(format!(
                "region {} or registry {} is not read (COLLECTOR_REGIONS, COLLECTOR_ROLE_ARNS)",
                ecr.region, ecr.registry
            )));
        };
        let (document, synced) = if self.inspector_scans(target, &ecr).await? {
            (inspector_document(&target.inspector, &ecr, digest.as_str()).await?, Synced::Inspector)
        } else {
            match ecr_document(&target.ecr, &ecr, digest.as_str()).await? {
                Some(document) => (document, Synced::Ecr),
                None => return Ok(Synced::NotScanned),
            }
        };
        self.vulnerabilities.store_document(&image.account, &digest, document).await?;
        Ok(synced)
    }
}

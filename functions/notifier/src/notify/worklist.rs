//! The worklist kept from the stream (`inventory_core::worklist`): an interval opened puts its
//! place and, for an image that had no pairs, writes one per vulnerability of its findings; the
//! last place closed removes them; new findings of a running image change only the pairs that
//! differ. Each step is idempotent, so a redelivered record does it again harmlessly.

use super::exposure::ExposedIn;
use super::intervals::HistoryStep;
use super::NotifyError;
use chrono::{DateTime, Utc};
use inventory_store::clock::Clock;
use inventory_store::findings::Severity;
use inventory_store::history::IntervalPlace;
use inventory_store::model::WorkloadContainers;
use inventory_store::store::Store;
use inventory_store::store::{SentOnceMarker, VulnerabilityEvent};
use inventory_store::threat::{EpssFields, FindingFacts, KevFields, ThreatData};
use inventory_store::vulnerabilities::{Vulnerabilities, VulnerabilityError};
use inventory_store::worklist::{plan_pairs, vulnerabilities_of, PairFacts, PairPlan, RunningPlace};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A vulnerability that started running in a place: an image carrying it started there, or it
/// was found in an image running there. What the Known Exploited Vulnerability Running event
/// announces, when CISA lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExposure {
    pub account: String,
    pub place: RunningPlace,
    pub pair: PairFacts,
}

impl NewExposure {
    pub fn at(&self) -> ExposedIn {
        ExposedIn {
            account: self.account.clone(),
            inventory_type: self.place.at.inventory_type,
            context: self.place.at.context.clone(),
            image_digest: self.place.image_digest.clone(),
            image_tag: self.place.image_tag.clone(),
            vulnerability_id: self.pair.vulnerability_id.clone(),
        }
    }
}

pub struct Worklist {
    store: Store,
    vulnerabilities: Vulnerabilities,
    clock: Arc<dyn Clock>,
}

impl Worklist {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { vulnerabilities: Vulnerabilities::new(store.clone(), Arc::clone(&clock)), store, clock }
    }

    /// An interval opened or closed; answers the vulnerabilities that started running.
    /// `with_findings`: the account has findings (else an opened image has no pairs to write:
    /// its first findings' post writes them).
    pub async fn apply(&self, step: &HistoryStep, with_findings: bool) -> Result<Vec<NewExposure>, NotifyError> {
        match step {
            HistoryStep::Open(interval) => {
                // The place first: a close of the image's last other place that reads after this
                // sees it and keeps (or rebuilds) the pairs.
                let place = RunningPlace::of(interval);
                self.store.put_running_place(&place).await?;
                if !with_findings {
                    return Ok(Vec::new());
                }
                let pairs = match self.store.running_vulnerabilities(&interval.account, &interval.image_digest).await? {
                    Some(written) => written,
                    None => self.rebuild(&interval.account, &interval.image_digest, &[], interval.from).await?.list,
                };
                let account = &interval.account;
                Ok(pairs
                    .into_iter()
                    .map(|pair| NewExposure { account: account.clone(), place: place.clone(), pair })
                    .collect())
            }
            HistoryStep::Close { place, .. } => {
                self.closed(place).await?;
                Ok(Vec::new())
            }
        }
    }

    async fn closed(&self, place: &IntervalPlace) -> Result<(), NotifyError> {
        let (account, digest) = (&place.account, &place.image_digest);
        self.store.delete_running_place(account, digest, place.inventory_type, &place.context).await?;
        if !self.store.running_places_of(account, digest).await?.is_empty() {
            return Ok(());
        }
        if let Some(written) = self.store.running_vulnerabilities(account, digest).await? {
            self.store.forget_pairs(account, digest, &written).await?;
        }
        // A place opened meanwhile saw the list that was just removed and wrote nothing.
        if let Some(since) = running_since(&self.store.running_places_of(account, digest).await?) {
            self.rebuild(account, digest, &[], since).await?;
        }
        Ok(())
    }

    /// A post changed an image's findings: if it runs, its pairs follow, new ones known from now.
    /// Answers the vulnerabilities new to it, in each place it runs.
    pub async fn findings_changed(&self, account: &str, digest: &str) -> Result<Vec<NewExposure>, NotifyError> {
        let places = self.store.running_places_of(account, digest).await?;
        let Some(since) = running_since(&places) else { return Ok(Vec::new()) };
        let written = self.store.running_vulnerabilities(account, digest).await?.unwrap_or_default();
        let before: BTreeSet<&str> = written.iter().map(|pair| pair.vulnerability_id.as_str()).collect();
        let plan = self.rebuild(account, digest, &written, since.max(self.clock.now())).await?;
        let new = plan.put.into_iter().filter(|pair| !before.contains(pair.vulnerability_id.as_str()));
        Ok(new
            .flat_map(|pair| {
                places.iter().map(move |place| NewExposure {
                    account: account.to_owned(),
                    place: place.clone(),
                    pair: pair.clone(),
                })
            })
            .collect())
    }

    /// The image's pairs brought to its findings, from `written`, the pairs stored before.
    async fn rebuild(
        &self,
        account: &str,
        digest: &str,
        written: &[PairFacts],
        known_since: DateTime<Utc>,
    ) -> Result<PairPlan, NotifyError> {
        let findings = match self.vulnerabilities.image(account, digest).await {
            Ok(Some(image)) => image.findings,
            Ok(None) | Err(VulnerabilityError::Digest(_)) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        let plan = plan_pairs(written, &vulnerabilities_of(&findings), known_since);
        self.store.write_pairs(account, digest, &plan).await?;
        Ok(plan)
    }
}

fn running_since(places: &[RunningPlace]) -> Option<DateTime<Utc>> {
    places.iter().map(|place| place.at.from).min()
}

/// The `detail` of `Runtime Inventory Known Exploited Vulnerability Running`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KevRunning {
    #[serde(flatten)]
    pub at: ExposedIn,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    pub kev: KevFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss: Option<EpssFields>,
    pub fix_available: bool,
    /// Since when it runs there with the finding known.
    pub running_since: DateTime<Utc>,
    pub workloads: Vec<WorkloadContainers>,
}

/// One event per new exposure of a vulnerability CISA lists, with its marker.
pub fn kev_events(exposures: &[NewExposure], threat: &ThreatData) -> Vec<(SentOnceMarker, KevRunning)> {
    exposures
        .iter()
        .filter_map(|exposure| {
            let (place, pair) = (&exposure.place, &exposure.pair);
            let facts = FindingFacts {
                vulnerability_id: &pair.vulnerability_id,
                severity: pair.severity,
                cvss_score: pair.cvss_score,
                fix_available: pair.fix_available,
                workloads: place.at.workloads.len(),
            };
            let fields = threat.fields(&facts);
            let at = exposure.at();
            let marker = at.marker(VulnerabilityEvent::KevRunning);
            let detail = KevRunning {
                at,
                severity: pair.severity,
                cvss_score: pair.cvss_score,
                kev: fields.kev?,
                epss: fields.epss,
                fix_available: pair.fix_available,
                running_since: pair.since.max(place.at.from),
                workloads: place.at.workloads.clone(),
            };
            Some((marker, detail))
        })
        .collect()
}

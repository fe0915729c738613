//! The worklist check, on its schedule: every account's worklist read as `GET /v2/vulnerabilities`
//! reads it, and once per (context, digest, vulnerability) a `Vulnerability Overdue` event when
//! its due date has passed while it runs, and a `Known Exploited Vulnerability Running` event for
//! a vulnerability CISA listed after it started running (the marker keeps the ones announced
//! when they started). Its metrics: `KevExposedWorkloads` and `OverdueExposures`.

use super::exposure::ExposedIn;
use super::worklist::{kev_events, NewExposure};
use super::{Claimed, Notifier, NotifyError, Pending};
use chrono::{DateTime, Utc};
use inventory_store::bus::{KEV_RUNNING_DETAIL_TYPE, OVERDUE_DETAIL_TYPE, VEX_EXPIRED_DETAIL_TYPE};
use inventory_store::findings::Severity;
use inventory_store::metrics::emf_line;
use inventory_store::model::WorkloadContainers;
use inventory_store::store::{SentOnceMarker, VulnerabilityEvent};
use inventory_store::vex::lapse_due;
use inventory_store::vex::Lens;
use inventory_store::worklist::{by_image, repositories, rows, ExposurePair, PlaceFilter, RunningPlace, WorklistRow};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

pub const KEV_EXPOSED_WORKLOADS_METRIC: &str = "KevExposedWorkloads";
pub const OVERDUE_EXPOSURES_METRIC: &str = "OverdueExposures";

/// The `detail` of `Runtime Inventory Vulnerability Overdue`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VulnerabilityOverdue {
    #[serde(flatten)]
    pub at: ExposedIn,
    pub severity: Severity,
    pub is_kev: bool,
    pub first_running_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub workloads: Vec<WorkloadContainers>,
}

/// What a check did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckSummary {
    pub accounts: usize,
    /// Distinct workloads (context, kind, name) running a vulnerability CISA lists.
    pub kev_exposed_workloads: usize,
    /// (context, digest, vulnerability) running past their due date.
    pub overdue_exposures: usize,
    /// Events put this run (the others were announced before).
    pub events: usize,
    /// VEX annotations that reached their expiry this run.
    pub lapsed: usize,
    pub errors: Vec<String>,
}

/// One Vulnerability Overdue event per overdue exposure, with its marker.
fn overdue_events(exposures: &[NewExposure], rows: &HashMap<&str, &WorklistRow>) -> Vec<Pending> {
    exposures
        .iter()
        .filter_map(|exposure| {
            let row = rows.get(exposure.pair.vulnerability_id.as_str())?;
            let at = exposure.at();
            let marker = at.marker(VulnerabilityEvent::Overdue);
            let detail = VulnerabilityOverdue {
                at,
                severity: row.severity,
                is_kev: row.threat.is_kev == Some(true),
                first_running_at: row.first_running_at,
                due_at: row.due_at?,
                workloads: exposure.place.at.workloads.clone(),
            };
            Some(Pending::new(marker, OVERDUE_DETAIL_TYPE, &detail))
        })
        .collect()
}

/// Each running (place, pair) of the rows `pick` keeps that VEX statements leave visible.
fn placed<'a>(
    rows: &[WorklistRow],
    pick: impl Fn(&WorklistRow) -> bool,
    pairs: &'a [ExposurePair],
    places: &'a HashMap<&str, Vec<&'a RunningPlace>>,
    lens: &Lens,
) -> Vec<(&'a ExposurePair, &'a RunningPlace)> {
    let picked: BTreeSet<&str> = rows.iter().filter(|row| pick(row)).map(|row| row.vulnerability_id.as_str()).collect();
    pairs
        .iter()
        .filter(|pair| picked.contains(pair.facts.vulnerability_id.as_str()))
        .flat_map(|pair| places.get(pair.image_digest.as_str()).into_iter().flatten().map(move |place| (pair, *place)))
        .filter(|(pair, place)| {
            let verdict = pair.facts.verdict(lens, &pair.image_digest, Some(&place.at.context));
            !verdict.is_some_and(|verdict| verdict.suppressed)
        })
        .collect()
}

impl Notifier {
    /// Every account's worklist: its overdue and KEV events, and the metrics, printed.
    pub async fn check(&self, table: &str) -> Result<CheckSummary, NotifyError> {
        let accounts = self.store.worklist_accounts().await?;
        let threat = self.threat.current().await?;
        let mut summary = CheckSummary { accounts: accounts.len(), ..CheckSummary::default() };
        for account in &accounts {
            match self.check_account(account, &threat, &mut summary).await {
                Ok(events) => summary.events += events,
                Err(error) => summary.errors.push(format!("{account}: {error}")),
            }
        }
        if let Err(error) = self.vex_lapses(&mut summary).await {
            summary.errors.push(format!("VEX lapses: {error}"));
        }
        let metrics = [
            (KEV_EXPOSED_WORKLOADS_METRIC, summary.kev_exposed_workloads),
            (OVERDUE_EXPOSURES_METRIC, summary.overdue_exposures),
        ];
        println!("{}", emf_line(table, self.clock.now(), &[], &metrics));
        Ok(summary)
    }

    async fn check_account(
        &self,
        account: &str,
        threat: &inventory_store::threat::ThreatData,
        summary: &mut CheckSummary,
    ) -> Result<usize, NotifyError> {
        let (pairs, places, rules) = futures::try_join!(
            self.store.exposure_pairs(account),
            self.store.running_places(account),
            self.rules.rules(account)
        )?;
        let repositories = repositories(&places);
        let lens = Lens { rules: &rules, repositories: &repositories, now: self.clock.now() };
        let mut rows = rows(&pairs, &by_image(places.clone()), &PlaceFilter::default(), threat, &self.sla, &lens);
        rows.retain(|row| !row.is_suppressed());
        let mut by_digest: HashMap<&str, Vec<&RunningPlace>> = HashMap::new();
        for place in &places {
            by_digest.entry(place.image_digest.as_str()).or_default().push(place);
        }
        let row_of: HashMap<&str, &WorklistRow> = rows.iter().map(|row| (row.vulnerability_id.as_str(), row)).collect();
        let kev = placed(&rows, |row| row.threat.is_kev == Some(true), &pairs, &by_digest, &lens);
        let overdue = placed(&rows, |row| row.overdue, &pairs, &by_digest, &lens);
        let workloads: BTreeSet<(&str, String, &str)> = kev
            .iter()
            .flat_map(|(_, place)| {
                place
                    .at
                    .workloads
                    .iter()
                    .map(|w| (place.at.context.as_str(), w.kind.as_str().to_owned(), w.name.as_str()))
            })
            .collect();
        summary.kev_exposed_workloads += workloads.len();
        summary.overdue_exposures += overdue.len();
        let exposure = |(pair, place): &(&ExposurePair, &RunningPlace)| NewExposure {
            account: account.to_owned(),
            place: (*place).clone(),
            pair: pair.facts.clone(),
        };
        let kev: Vec<NewExposure> = kev.iter().map(exposure).collect();
        let overdue: Vec<NewExposure> = overdue.iter().map(exposure).collect();
        let mut pending: Vec<Pending> = kev_events(&kev, threat)
            .into_iter()
            .map(|(marker, detail)| Pending::new(marker, KEV_RUNNING_DETAIL_TYPE, &detail))
            .collect();
        pending.extend(overdue_events(&overdue, &row_of));
        self.send_once(pending).await
    }

    /// The annotations past their expiry, lapsed (rebuilding their account's rules) and each
    /// announced once. Only accounts whose rules name an expiry that has come are rebuilt.
    async fn vex_lapses(&self, summary: &mut CheckSummary) -> Result<(), NotifyError> {
        let now = self.clock.now();
        for account in self.store.vex_accounts().await? {
            let due = self.store.vex_rules_record(&account).await?.is_some_and(|record| lapse_due(&record, now));
            if !due {
                continue;
            }
            let rebuilt = self.annotations.rebuild(&account).await?;
            summary.lapsed += rebuilt.lapsed.len();
            let pending = rebuilt
                .lapsed
                .iter()
                .map(|annotation| {
                    let marker = SentOnceMarker::vex_lapsed(&account, &annotation.uuid);
                    let mut detail = annotation.to_anchore();
                    detail["account"] = account.clone().into();
                    Pending::new(marker, VEX_EXPIRED_DETAIL_TYPE, &detail)
                })
                .collect();
            summary.events += self.send_once(pending).await?;
        }
        Ok(())
    }

    /// Claims each event's marker, puts those claimed, settles them; answers the events put.
    async fn send_once(&self, pending: Vec<Pending>) -> Result<usize, NotifyError> {
        let claiming = pending.into_iter().map(|pending| async move {
            let claimed = self.claim(&pending.marker).await;
            (pending, claimed)
        });
        let mut claims = Vec::new();
        for (pending, claimed) in futures::future::join_all(claiming).await {
            if let Claimed::Now(token) = claimed? {
                claims.push(super::Claim { pending, token });
            }
        }
        let sent = claims.len();
        let numbered: Vec<(usize, super::Claim)> = claims.into_iter().enumerate().collect();
        match self.put_events(numbered).await {
            None => Ok(sent),
            Some(_) => Err(NotifyError::PutEvents("some events of the worklist check were not put".into())),
        }
    }
}

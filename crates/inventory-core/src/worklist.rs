//! What to fix first: the worklist of `GET /v2/vulnerabilities`. Its stored parts, kept by the
//! notifier as images start and stop running and as their findings change:
//!
//! - a **running image** per image that runs in the account, with each context it runs in (from its
//!   open interval) and the workloads there;
//! - an **exposure pair** per (vulnerability, running image): the vulnerability's severity, score
//!   and fix in that image, and `since`, the moment it ran with the finding known (the later of
//!   the image's start and the finding's first post; kept through re-posts);
//! - per running image, the **list** of its pairs as last written, which its next findings are
//!   compared with (`plan_pairs`).
//!
//! A read gathers an account's pairs and the running images they name, and makes one row per
//! vulnerability (`rows`), ranked by `threat::risk`, filtered and paged here: all of it pure.

use crate::field::FieldError;
use crate::findings::{add_package, higher_score, AffectedPackage, MergedFinding, Severity};
use crate::history::IntervalRecord;
use crate::inventory_type::InventoryType;
use crate::keys::{exposure_pair_sk, index_shard, running_image_pk, running_place_sk, worklist_pk, ItemKind};
use crate::model::{split_kubernetes_context, WorkloadContainers};
use crate::names::ContextPattern;
use crate::threat::{due_at, FindingFacts, SlaPolicy, ThreatData, ThreatFields};
use crate::vex::{Lens, Verdict};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Places and workloads listed per row; the rest are counted.
pub const MAX_LISTED_PLACES: usize = 20;
/// Rows on one page (`limit`), and without one.
pub const MAX_WORKLIST_PAGE: usize = 1000;
pub const DEFAULT_WORKLIST_PAGE: usize = 100;

/// One context an image runs in.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RunningContext {
    pub inventory_type: InventoryType,
    pub context: String,
    #[serde(default)]
    pub workloads: Vec<WorkloadContainers>,
    pub from: DateTime<Utc>,
}

impl RunningContext {
    pub fn cluster(&self) -> &str {
        match self.inventory_type {
            InventoryType::Kubernetes => split_kubernetes_context(&self.context).0,
            InventoryType::Ecs => &self.context,
        }
    }
}

/// An image running in a context of an account, as stored: one per open interval.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RunningPlace {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub image_digest: String,
    pub image_tag: String,
    #[serde(flatten)]
    pub at: RunningContext,
}

impl RunningPlace {
    /// The place of an open interval.
    pub fn of(interval: &IntervalRecord) -> Self {
        Self {
            pk: Self::pk_of(&interval.account, &interval.image_digest),
            sk: running_place_sk(&interval.image_digest, interval.inventory_type, &interval.context),
            kind: ItemKind::RunningImage.as_str().to_owned(),
            image_digest: interval.image_digest.clone(),
            image_tag: interval.image_tag.clone(),
            at: RunningContext {
                inventory_type: interval.inventory_type,
                context: interval.context.clone(),
                workloads: interval.workloads.clone(),
                from: interval.from,
            },
        }
    }

    pub fn pk_of(account: &str, digest: &str) -> String {
        running_image_pk(account, index_shard(digest))
    }

    /// The sort key prefix of every place of `digest`.
    pub fn prefix_of(digest: &str) -> String {
        format!("{digest}#")
    }
}

/// Where each running image runs, by digest.
pub fn by_image(places: Vec<RunningPlace>) -> BTreeMap<String, Vec<RunningContext>> {
    let mut images: BTreeMap<String, Vec<RunningContext>> = BTreeMap::new();
    for place in places {
        images.entry(place.image_digest).or_default().push(place.at);
    }
    images
}

/// The repositories each running image runs from (by its tags), for VEX statements about a
/// repository.
pub fn repositories(places: &[RunningPlace]) -> BTreeMap<String, Vec<String>> {
    crate::vex::repositories(places.iter().map(|place| (place.image_digest.as_str(), place.image_tag.as_str())))
}

/// A vulnerability of a running image as the worklist keeps it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PairFacts {
    pub vulnerability_id: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    pub fix_available: bool,
    pub since: DateTime<Utc>,
    /// The packages carrying it (the first `MAX_LISTED_PACKAGES`), for VEX statements about one
    /// package. Pairs written before they were kept have none: only statements about the whole
    /// image apply to those until the image's findings are posted again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<AffectedPackage>,
    /// How many packages carry it, when more than `packages` lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_count: Option<usize>,
}

impl PairFacts {
    /// What VEX statements say of it in `context` (none: wherever the image runs).
    pub fn verdict(&self, lens: &Lens, digest: &str, context: Option<&str>) -> Option<Verdict> {
        let complete = self.package_count.is_none() && !self.packages.is_empty();
        lens.verdict(&self.vulnerability_id, digest, context, &self.packages, complete)
    }
}

/// A running image's vulnerabilities in `context` split by what VEX statements say of them
/// there: those still shown, and those suppressed (each with the verdict that suppresses it).
pub fn split_by_vex<'a>(
    pairs: &'a [PairFacts],
    lens: &Lens,
    digest: &str,
    context: &str,
) -> (Vec<&'a PairFacts>, Vec<(&'a PairFacts, Verdict)>) {
    let mut shown = Vec::new();
    let mut suppressed = Vec::new();
    for pair in pairs {
        match pair.verdict(lens, digest, Some(context)) {
            Some(verdict) if verdict.suppressed => suppressed.push((pair, verdict)),
            _ => shown.push(pair),
        }
    }
    (shown, suppressed)
}

/// The stored exposure pair.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExposurePair {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub image_digest: String,
    #[serde(flatten)]
    pub facts: PairFacts,
}

impl ExposurePair {
    pub fn new(account: &str, digest: &str, facts: &PairFacts) -> Self {
        Self {
            pk: Self::pk_of(account, &facts.vulnerability_id),
            sk: exposure_pair_sk(&facts.vulnerability_id, digest),
            kind: ItemKind::ExposurePair.as_str().to_owned(),
            image_digest: digest.to_owned(),
            facts: facts.clone(),
        }
    }

    pub fn pk_of(account: &str, vulnerability_id: &str) -> String {
        worklist_pk(account, index_shard(vulnerability_id))
    }
}

/// What an image's findings say of one vulnerability: its highest severity and score across
/// packages, whether any of them has a fix, and the packages.
#[derive(Clone, Debug, PartialEq)]
pub struct Carried {
    pub severity: Severity,
    pub cvss_score: Option<f64>,
    pub fix_available: bool,
    pub packages: Vec<AffectedPackage>,
    pub package_count: Option<usize>,
}

/// Each vulnerability of an image's merged findings once.
pub fn vulnerabilities_of(findings: &[MergedFinding]) -> BTreeMap<&str, Carried> {
    let mut found: BTreeMap<&str, Carried> = BTreeMap::new();
    for finding in findings {
        let entry = found.entry(&finding.vulnerability_id).or_insert_with(|| Carried {
            severity: finding.severity,
            cvss_score: None,
            fix_available: false,
            packages: Vec::new(),
            package_count: None,
        });
        entry.severity = entry.severity.max(finding.severity);
        entry.cvss_score = higher_score(entry.cvss_score, finding.cvss_score);
        entry.fix_available |= !finding.fixed_in.is_empty();
        let package = AffectedPackage { package: finding.package.clone(), fixed_in: finding.fixed_in.clone() };
        add_package(&mut entry.packages, &mut entry.package_count, package);
    }
    found
}

/// What to write for a running image whose vulnerabilities are now `current`, its pairs being
/// `written`: the pairs new or changed, and the vulnerabilities no longer there. A pair keeps its
/// `since` (a re-post does not reset it); a new one gets `known_since`, when the caller saw the
/// finding known while the image ran (the image's start, or the post's time if later).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PairPlan {
    pub put: Vec<PairFacts>,
    pub delete: Vec<String>,
    /// Every pair after the change: the list to store.
    pub list: Vec<PairFacts>,
}

pub fn plan_pairs(written: &[PairFacts], current: &BTreeMap<&str, Carried>, known_since: DateTime<Utc>) -> PairPlan {
    let before: BTreeMap<&str, &PairFacts> =
        written.iter().map(|pair| (pair.vulnerability_id.as_str(), pair)).collect();
    let mut plan = PairPlan::default();
    for (id, carried) in current {
        let since = before.get(id).map_or(known_since, |pair| pair.since);
        let pair = PairFacts {
            vulnerability_id: (*id).to_owned(),
            severity: carried.severity,
            cvss_score: carried.cvss_score,
            fix_available: carried.fix_available,
            since,
            packages: carried.packages.clone(),
            package_count: carried.package_count,
        };
        if before.get(id).is_none_or(|old| **old != pair) {
            plan.put.push(pair.clone());
        }
        plan.list.push(pair);
    }
    plan.delete = before.keys().filter(|id| !current.contains_key(*id)).map(|id| (*id).to_owned()).collect();
    plan
}

/// A workload running a vulnerability, where.
#[derive(Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlacedWorkload {
    pub inventory_type: InventoryType,
    pub context: String,
    #[serde(flatten)]
    pub workload: WorkloadContainers,
}

/// One row of the worklist: a vulnerability that runs now, where, since when, and by when it is due.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct WorklistRow {
    pub vulnerability_id: String,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    #[serde(flatten)]
    pub threat: ThreatFields,
    /// Running images carrying it.
    pub images: usize,
    /// Distinct workloads running it, the first `MAX_LISTED_PLACES` listed.
    pub workloads: Vec<PlacedWorkload>,
    pub workload_count: usize,
    pub contexts: Vec<String>,
    pub context_count: usize,
    pub clusters: Vec<String>,
    pub cluster_count: usize,
    pub first_running_at: DateTime<Utc>,
    pub exposure_days: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// The VEX annotation that decides about it; `suppressed` rows are shown only when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex: Option<Verdict>,
}

impl WorklistRow {
    pub fn is_suppressed(&self) -> bool {
        self.vex.as_ref().is_some_and(|verdict| verdict.suppressed)
    }
}

/// The places a question asks about: a cluster, contexts (`prefix*`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlaceFilter {
    pub cluster: Option<String>,
    pub context: Option<ContextPattern>,
}

impl PlaceFilter {
    fn admits(&self, place: &RunningContext) -> bool {
        self.cluster.as_deref().is_none_or(|cluster| place.cluster() == cluster)
            && self.context.as_ref().is_none_or(|pattern| pattern.matches(&place.context))
    }
}

/// The worklist's rows: one per vulnerability with a running image in the filter's places, from
/// the pairs and places VEX statements leave visible (`lens`, whose time is the answer's). A
/// vulnerability whose every place is suppressed is one row too, marked by its `vex` verdict:
/// `page` counts it and shows it only when asked.
pub fn rows(
    pairs: &[ExposurePair],
    running: &BTreeMap<String, Vec<RunningContext>>,
    places: &PlaceFilter,
    threat: &ThreatData,
    sla: &SlaPolicy,
    lens: &Lens,
) -> Vec<WorklistRow> {
    type Placed<'p> = Vec<(&'p ExposurePair, Vec<&'p RunningContext>)>;
    #[derive(Default)]
    struct Split<'p> {
        shown: Placed<'p>,
        hidden: Placed<'p>,
        shown_verdict: Option<Verdict>,
        hidden_verdict: Option<Verdict>,
    }
    let mut by_vulnerability: BTreeMap<&str, Split> = BTreeMap::new();
    for pair in pairs {
        let Some(image) = running.get(&pair.image_digest) else { continue };
        let split = by_vulnerability.entry(&pair.facts.vulnerability_id).or_default();
        let (mut shown, mut hidden) = (Vec::new(), Vec::new());
        for place in image.iter().filter(|place| places.admits(place)) {
            match pair.facts.verdict(lens, &pair.image_digest, Some(&place.context)) {
                Some(verdict) if verdict.suppressed => {
                    hidden.push(place);
                    split.hidden_verdict.get_or_insert(verdict);
                }
                verdict => {
                    shown.push(place);
                    if split.shown_verdict.is_none() {
                        split.shown_verdict = verdict;
                    }
                }
            }
        }
        if !shown.is_empty() {
            split.shown.push((pair, shown));
        }
        if !hidden.is_empty() {
            split.hidden.push((pair, hidden));
        }
    }
    by_vulnerability
        .into_iter()
        .filter_map(|(id, split)| {
            let (images, vex) = if split.shown.is_empty() {
                (split.hidden, split.hidden_verdict)
            } else {
                (split.shown, split.shown_verdict)
            };
            (!images.is_empty()).then(|| WorklistRow { vex, ..row(id, &images, threat, sla, lens.now) })
        })
        .collect()
}

fn row(
    id: &str,
    images: &[(&ExposurePair, Vec<&RunningContext>)],
    threat: &ThreatData,
    sla: &SlaPolicy,
    now: DateTime<Utc>,
) -> WorklistRow {
    let severity = images.iter().map(|(pair, _)| pair.facts.severity).max().unwrap_or(Severity::Unknown);
    let cvss_score = images.iter().filter_map(|(pair, _)| pair.facts.cvss_score).reduce(f64::max);
    let fix_available = images.iter().any(|(pair, _)| pair.facts.fix_available);
    let first_running_at = images.iter().map(|(pair, _)| pair.facts.since).min().unwrap_or(now);
    let places = images.iter().flat_map(|(_, places)| places.iter().copied());
    // Distinct by place, kind and name: two images of one workload (a sidecar) count once.
    let mut workloads: BTreeMap<(InventoryType, &str, _, &str), PlacedWorkload> = BTreeMap::new();
    for place in places.clone() {
        for workload in &place.workloads {
            let key = (place.inventory_type, place.context.as_str(), workload.kind, workload.name.as_str());
            workloads.entry(key).or_insert_with(|| PlacedWorkload {
                inventory_type: place.inventory_type,
                context: place.context.clone(),
                workload: workload.clone(),
            });
        }
    }
    let contexts: BTreeSet<&str> = places.clone().map(|place| place.context.as_str()).collect();
    let clusters: BTreeSet<&str> = places.map(RunningContext::cluster).collect();
    let fields = threat.fields(&FindingFacts {
        vulnerability_id: id,
        severity,
        cvss_score,
        fix_available,
        workloads: workloads.len(),
    });
    let kev_due = threat.facts(id).kev.map(|entry| entry.due_date);
    let due_at = due_at(kev_due, severity, first_running_at, sla);
    let listed = |names: &BTreeSet<&str>| names.iter().take(MAX_LISTED_PLACES).map(|name| (*name).to_owned()).collect();
    WorklistRow {
        vulnerability_id: id.to_owned(),
        severity,
        cvss_score,
        threat: fields,
        images: images.len(),
        workload_count: workloads.len(),
        workloads: workloads.into_values().take(MAX_LISTED_PLACES).collect(),
        context_count: contexts.len(),
        contexts: listed(&contexts),
        cluster_count: clusters.len(),
        clusters: listed(&clusters),
        exposure_days: (now - first_running_at).num_days().max(0),
        first_running_at,
        overdue: due_at.is_some_and(|due| now > due),
        due_at,
        vex: None,
    }
}

/// The order of the worklist: each sorts its first key descending, then by vulnerability id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Risk,
    Epss,
    ExposureDays,
    /// Soonest due first; rows with no due date last.
    DueAt,
}

impl Sort {
    const NAMES: &'static str = "risk, epss, exposure_days, due_at";

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "risk" => Some(Self::Risk),
            "epss" => Some(Self::Epss),
            "exposure_days" => Some(Self::ExposureDays),
            "due_at" => Some(Self::DueAt),
            _ => None,
        }
    }

    /// The row's key, larger first.
    fn key(self, row: &WorklistRow) -> f64 {
        match self {
            Self::Risk => row.threat.risk,
            Self::Epss => row.threat.epss.as_ref().map_or(-1.0, |score| score.epss),
            Self::ExposureDays => -(row.first_running_at.timestamp_millis() as f64),
            Self::DueAt => row.due_at.map_or(f64::NEG_INFINITY, |due| -(due.timestamp_millis() as f64)),
        }
    }
}

/// `GET /v2/vulnerabilities`' parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct WorklistQuery {
    pub kev: Option<bool>,
    pub min_severity: Option<Severity>,
    pub min_epss: Option<f64>,
    pub fix_available: Option<bool>,
    pub places: PlaceFilter,
    pub sort: Sort,
    pub limit: usize,
    /// The key and id of the previous page's last row.
    pub after: Option<(f64, String)>,
    /// `include_suppressed=true`: rows VEX statements suppress are listed too, marked.
    pub include_suppressed: bool,
}

/// A `true`/`false` parameter (`kev`, `fix_available`).
pub fn boolean(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<bool>, FieldError> {
    match get(name).filter(|raw| !raw.is_empty()).as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(FieldError::invalid(name, "must be true or false")),
    }
}

/// A `min_epss` parameter: an EPSS probability from 0 to 1.
pub fn min_epss(get: &impl Fn(&str) -> Option<String>) -> Result<Option<f64>, FieldError> {
    get("min_epss")
        .filter(|raw| !raw.is_empty())
        .map(|raw| match raw.parse::<f64>() {
            Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
            _ => Err(FieldError::invalid("min_epss", "must be a number from 0 to 1")),
        })
        .transpose()
}

impl WorklistQuery {
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, FieldError> {
        let given = |name: &str| get(name).filter(|raw| !raw.is_empty());
        let min_severity = given("min_severity")
            .map(|raw| {
                Severity::parse(&raw)
                    .ok_or_else(|| FieldError::invalid("min_severity", format!("must be one of {}", Severity::names())))
            })
            .transpose()?;
        let min_epss = min_epss(&get)?;
        let sort = given("sort")
            .map(|raw| {
                Sort::parse(&raw).ok_or_else(|| FieldError::invalid("sort", format!("must be one of {}", Sort::NAMES)))
            })
            .transpose()?
            .unwrap_or(Sort::Risk);
        let limit = crate::field::whole_number(&get, "limit", MAX_WORKLIST_PAGE)?.unwrap_or(DEFAULT_WORKLIST_PAGE);
        let context = given("context").map(|raw| ContextPattern::parse("context", &raw)).transpose()?;
        let cluster = given("cluster");
        if cluster.as_ref().is_some_and(|cluster| cluster.len() > crate::limits::MAX_CLUSTER_BYTES) {
            return Err(FieldError::invalid("cluster", "is longer than any cluster name"));
        }
        let after = given("next").map(|raw| cursor(&raw)).transpose()?;
        Ok(Self {
            kev: boolean(&get, "kev")?,
            min_severity,
            min_epss,
            fix_available: boolean(&get, "fix_available")?,
            places: PlaceFilter { cluster, context },
            sort,
            limit,
            after,
            include_suppressed: boolean(&get, "include_suppressed")?.unwrap_or(false),
        })
    }

    fn admits(&self, row: &WorklistRow) -> bool {
        self.kev.is_none_or(|kev| row.threat.is_kev.unwrap_or(false) == kev)
            && self.min_severity.is_none_or(|min| row.severity >= min)
            && self.min_epss.is_none_or(|min| row.threat.epss.as_ref().is_some_and(|score| score.epss >= min))
            && self.fix_available.is_none_or(|fix| row.threat.fix_available == fix)
    }
}

fn cursor(raw: &str) -> Result<(f64, String), FieldError> {
    use base64::Engine;
    let invalid = || FieldError::invalid("next", "is not a cursor returned by this route");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let (key, id): (f64, String) = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    Ok((key, id))
}

fn encode_cursor(key: f64, id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&(key, id)).unwrap_or_default())
}

/// One page of the worklist.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct WorklistPage {
    pub vulnerabilities: Vec<WorklistRow>,
    /// Rows that pass the filters, on every page.
    pub total: usize,
    /// Rows that pass the filters but VEX statements suppress (in `total` only when listed).
    pub suppressed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The rows that pass the filters, in the query's order, from after its cursor.
pub fn page(mut rows: Vec<WorklistRow>, query: &WorklistQuery) -> WorklistPage {
    rows.retain(|row| query.admits(row));
    let suppressed = rows.iter().filter(|row| row.is_suppressed()).count();
    if !query.include_suppressed {
        rows.retain(|row| !row.is_suppressed());
    }
    let total = rows.len();
    let keyed = |row: &WorklistRow| (query.sort.key(row), row.vulnerability_id.clone());
    rows.sort_by(|a, b| {
        let (ka, kb) = (query.sort.key(a), query.sort.key(b));
        kb.total_cmp(&ka).then_with(|| a.vulnerability_id.cmp(&b.vulnerability_id))
    });
    let start = match &query.after {
        None => 0,
        Some((key, id)) => rows.partition_point(|row| {
            let (k, i) = keyed(row);
            k.total_cmp(key).is_gt() || (k == *key && i <= *id)
        }),
    };
    let mut rest: Vec<WorklistRow> = rows.into_iter().skip(start).collect();
    let next = (rest.len() > query.limit).then(|| {
        let last = &rest[query.limit - 1];
        encode_cursor(query.sort.key(last), &last.vulnerability_id)
    });
    rest.truncate(query.limit);
    WorklistPage { vulnerabilities: rest, total, suppressed, next }
}

impl Default for WorklistQuery {
    fn default() -> Self {
        Self {
            kev: None,
            min_severity: None,
            min_epss: None,
            fix_available: None,
            places: PlaceFilter::default(),
            sort: Sort::Risk,
            limit: DEFAULT_WORKLIST_PAGE,
            after: None,
            include_suppressed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threat::{EpssFeed, KevCatalog};
    use crate::workload::WorkloadKind;
    use std::sync::Arc;

    fn at(hours: i64) -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::TimeDelta::hours(hours)
    }

    fn facts(id: &str, severity: Severity, since: i64) -> PairFacts {
        PairFacts {
            vulnerability_id: id.into(),
            severity,
            cvss_score: None,
            fix_available: false,
            since: at(since),
            packages: Vec::new(),
            package_count: None,
        }
    }

    fn carried(severity: Severity, cvss_score: Option<f64>, fix_available: bool) -> Carried {
        Carried { severity, cvss_score, fix_available, packages: Vec::new(), package_count: None }
    }

    #[test]
    fn a_findings_change_writes_only_what_changed_and_keeps_each_pairs_first_time() {
        let written = vec![facts("CVE-2024-0001", Severity::High, 0), facts("CVE-2024-0002", Severity::Low, 0)];
        let mut current = BTreeMap::new();
        current.insert("CVE-2024-0001", carried(Severity::High, None, false));
        current.insert("CVE-2024-0003", carried(Severity::Critical, Some(9.8), true));
        let plan = plan_pairs(&written, &current, at(5));
        assert_eq!(
            plan.put,
            vec![PairFacts {
                cvss_score: Some(9.8),
                fix_available: true,
                ..facts("CVE-2024-0003", Severity::Critical, 5)
            }]
        );
        assert_eq!(plan.delete, vec!["CVE-2024-0002".to_owned()]);
        assert_eq!(plan.list[0], written[0], "the unchanged pair keeps its time and is not written");
        current.insert("CVE-2024-0001", carried(Severity::Critical, None, false));
        let changed = plan_pairs(&plan.list, &current, at(9));
        assert_eq!(
            changed.put,
            vec![facts("CVE-2024-0001", Severity::Critical, 0)],
            "a changed pair keeps its first time"
        );
        assert!(plan_pairs(&changed.list, &current, at(12)).put.is_empty(), "an identical re-post writes nothing");
    }

    fn running(digest: &str, places: &[(&str, &str, i64)]) -> (String, Vec<RunningContext>) {
        let contexts = places
            .iter()
            .map(|(context, workload, from)| RunningContext {
                inventory_type: InventoryType::Kubernetes,
                context: (*context).into(),
                workloads: vec![WorkloadContainers {
                    kind: WorkloadKind::Deployment,
                    name: (*workload).into(),
                    containers: 1,
                }],
                from: at(*from),
            })
            .collect();
        (digest.to_owned(), contexts)
    }

    fn pair(id: &str, digest: &str, severity: Severity, since: i64) -> ExposurePair {
        ExposurePair::new("admin", digest, &facts(id, severity, since))
    }

    fn threat() -> ThreatData {
        let kev = r#"{"catalogVersion":"1","dateReleased":"x","count":1,"vulnerabilities":[{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10","dueDate":"2021-12-24","requiredAction":"Apply updates.","knownRansomwareCampaignUse":"Known"}]}"#;
        let epss = "#model_version:v1,score_date:2026-12-06T00:00:00+0000\ncve,epss,percentile\nCVE-2021-44228,0.9,0.99\nCVE-2024-0001,0.6,0.9\nCVE-2024-0002,0.01,0.3\n";
        ThreatData {
            kev: Some(Arc::new(KevCatalog::parse(kev.as_bytes()).unwrap())),
            epss: Some(Arc::new(EpssFeed::parse(epss.as_bytes()).unwrap())),
        }
    }

    fn worklist(places: &PlaceFilter) -> Vec<WorklistRow> {
        worklist_with(places, &crate::vex::Rules::default())
    }

    fn worklist_with(places: &PlaceFilter, rules: &crate::vex::Rules) -> Vec<WorklistRow> {
        let images: BTreeMap<String, Vec<RunningContext>> = [
            running("sha256:a", &[("prod/web", "web", 0), ("prod/api", "api", 2)]),
            running("sha256:b", &[("dev/web", "web", 10)]),
        ]
        .into_iter()
        .collect();
        let pairs = [
            pair("CVE-2021-44228", "sha256:a", Severity::Critical, 4),
            pair("CVE-2021-44228", "sha256:b", Severity::High, 10),
            pair("CVE-2024-0001", "sha256:b", Severity::Medium, 12),
            pair("CVE-2024-0002", "sha256:a", Severity::Critical, 1),
            pair("CVE-2024-0009", "sha256:gone", Severity::Critical, 1),
        ];
        let repositories = BTreeMap::from([("sha256:a".to_owned(), vec!["registry.example.com/shop/web".to_owned()])]);
        let lens = Lens { rules, repositories: &repositories, now: at(24 * 20) };
        rows(&pairs, &images, places, &threat(), &SlaPolicy::default(), &lens)
    }

    #[test]
    fn a_row_gathers_its_images_places_and_first_time_and_is_due_by_kev_or_sla() {
        let rows = worklist(&PlaceFilter::default());
        assert_eq!(
            rows.iter().map(|row| row.vulnerability_id.as_str()).collect::<Vec<_>>(),
            ["CVE-2021-44228", "CVE-2024-0001", "CVE-2024-0002"],
            "a pair of an image that no longer runs is no row"
        );
        let log4shell = &rows[0];
        assert_eq!(
            (log4shell.images, log4shell.workload_count, log4shell.context_count, log4shell.cluster_count),
            (2, 3, 3, 2)
        );
        assert_eq!(
            (log4shell.severity, log4shell.first_running_at, log4shell.exposure_days),
            (Severity::Critical, at(4), 19)
        );
        assert_eq!(log4shell.due_at.unwrap().to_rfc3339(), "2021-12-24T23:59:59+00:00");
        assert!(log4shell.overdue);
        let medium = &rows[1];
        assert_eq!(medium.due_at, Some(at(12) + chrono::TimeDelta::days(90)), "the SLA from when it first ran known");
        assert!(!medium.overdue);
        let critical = &rows[2];
        assert_eq!((critical.due_at, critical.overdue), (Some(at(1) + chrono::TimeDelta::days(15)), true));
    }

    #[test]
    fn places_filter_the_rows_and_what_they_count() {
        let prod = PlaceFilter { cluster: Some("prod".into()), context: None };
        let rows = worklist(&prod);
        assert_eq!(
            rows.iter().map(|row| row.vulnerability_id.as_str()).collect::<Vec<_>>(),
            ["CVE-2021-44228", "CVE-2024-0002"]
        );
        assert_eq!((rows[0].images, rows[0].contexts.clone()), (1, vec!["prod/api".to_owned(), "prod/web".to_owned()]));
        let web = PlaceFilter { cluster: None, context: Some(ContextPattern::parse("context", "prod/w*").unwrap()) };
        assert_eq!(worklist(&web)[0].contexts, ["prod/web"]);
    }

    fn query(params: &[(&str, &str)]) -> Result<WorklistQuery, FieldError> {
        WorklistQuery::from_params(|name| {
            params.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn filters_order_and_pages_as_asked() {
        let ids = |page: &WorklistPage| {
            page.vulnerabilities.iter().map(|row| row.vulnerability_id.clone()).collect::<Vec<_>>()
        };
        let all = worklist(&PlaceFilter::default());
        let by_risk = page(all.clone(), &query(&[]).unwrap());
        // A medium one likely exploited (EPSS 0.6) before a critical one unlikely (0.01).
        assert_eq!(ids(&by_risk), ["CVE-2021-44228", "CVE-2024-0001", "CVE-2024-0002"]);
        assert!(by_risk.vulnerabilities.windows(2).all(|pair| pair[0].threat.risk >= pair[1].threat.risk));
        assert_eq!(ids(&page(all.clone(), &query(&[("kev", "true")]).unwrap())), ["CVE-2021-44228"]);
        assert_eq!(
            ids(&page(all.clone(), &query(&[("kev", "false"), ("min_epss", "0.5")]).unwrap())),
            ["CVE-2024-0001"]
        );
        assert_eq!(ids(&page(all.clone(), &query(&[("min_severity", "critical")]).unwrap())).len(), 2);
        assert_eq!(
            ids(&page(all.clone(), &query(&[("sort", "epss")]).unwrap())),
            ["CVE-2021-44228", "CVE-2024-0001", "CVE-2024-0002"]
        );
        assert_eq!(ids(&page(all.clone(), &query(&[("sort", "exposure_days")]).unwrap()))[0], "CVE-2024-0002");
        assert_eq!(ids(&page(all.clone(), &query(&[("sort", "due_at")]).unwrap()))[0], "CVE-2021-44228");
        let first = page(all.clone(), &query(&[("limit", "2")]).unwrap());
        assert_eq!((first.total, ids(&first).len()), (3, 2));
        let next = first.next.clone().unwrap();
        let second = page(all.clone(), &query(&[("limit", "2"), ("next", next.as_str())]).unwrap());
        assert_eq!((ids(&second), second.next), (vec!["CVE-2024-0002".to_owned()], None));
    }

    #[test]
    fn a_bad_parameter_is_refused_naming_it() {
        for (name, value) in [
            ("kev", "yes"),
            ("min_epss", "2"),
            ("min_severity", "urgent"),
            ("sort", "name"),
            ("limit", "0"),
            ("next", "!!"),
            ("fix_available", "1"),
            ("context", "a#b"),
        ] {
            assert_eq!(query(&[(name, value)]).unwrap_err().field, name, "{name}={value}");
        }
    }

    fn rules(statements: &[(&str, crate::vex::VexStatus, crate::vex::Scope)]) -> crate::vex::Rules {
        let annotations: Vec<crate::vex::Annotation> = statements
            .iter()
            .enumerate()
            .map(|(n, (id, status, scope))| {
                let statement = crate::vex::Statement {
                    vulnerability_id: (*id).into(),
                    status: *status,
                    justification: None,
                    status_notes: None,
                    impact_statement: None,
                    action_statement: None,
                    additional_details: None,
                    package: None,
                    scope: scope.clone(),
                    expires_at: None,
                    expires_when_fixed: false,
                    source: None,
                };
                crate::vex::Annotation::new(
                    format!("u{n}"),
                    statement,
                    "alice",
                    at(0),
                    crate::vex::AnnotationState::Active,
                )
            })
            .collect();
        crate::vex::Rules::from_annotations(&annotations, at(0))
    }

    #[test]
    fn vex_statements_take_their_places_out_of_a_row_and_a_row_out_of_the_page() {
        use crate::vex::{Scope, VexStatus};
        let none = PlaceFilter::default();
        // Not affected in the dev contexts: log4shell is left in image a's two prod places.
        let dev = rules(&[("CVE-2021-44228", VexStatus::NotAffected, Scope::Context("dev/*".into()))]);
        let rows = worklist_with(&none, &dev);
        let log4shell = &rows[0];
        assert_eq!((log4shell.images, log4shell.context_count, log4shell.vex.clone()), (1, 2, None));
        // Fixed in image a (by its repository) too: the row is suppressed, counted, and listed on request.
        let both = rules(&[
            ("CVE-2021-44228", VexStatus::NotAffected, Scope::Context("dev/*".into())),
            ("CVE-2021-44228", VexStatus::Fixed, Scope::Repository("shop/web".into())),
            ("CVE-2024-0001", VexStatus::Affected, Scope::Account),
        ]);
        let rows = worklist_with(&none, &both);
        let page = super::page(rows.clone(), &WorklistQuery::default());
        let listed: Vec<&str> = page.vulnerabilities.iter().map(|row| row.vulnerability_id.as_str()).collect();
        assert_eq!((listed.as_slice(), page.total, page.suppressed), (&["CVE-2024-0001", "CVE-2024-0002"][..], 2, 1));
        let affected = page.vulnerabilities[0].vex.as_ref().unwrap();
        assert_eq!((affected.uuid.as_str(), affected.status, affected.suppressed), ("u2", VexStatus::Affected, false));
        let all = super::page(rows, &WorklistQuery { include_suppressed: true, ..WorklistQuery::default() });
        let hidden = all.vulnerabilities.iter().find(|row| row.vulnerability_id == "CVE-2021-44228").unwrap();
        assert!(hidden.is_suppressed() && all.total == 3 && all.suppressed == 1);
    }
}

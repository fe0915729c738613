//! `GET /v2/inventories`: the account's current inventory, one entry per image per context.

use crate::clock::format_time;
use crate::clock::Clock;
use crate::findings::{is_vulnerability_id, Severity, VulnerabilitySummary};
use crate::image::Digest;
use crate::keys::{image_sk, ItemKind};
use crate::limits::{MAX_UNPAGED_ITEMS, MAX_VULNERABILITY_ID_BYTES};
use crate::model::{ContextRecord, ImageContent, ImageRecord, InventoryType, WorkloadContainers};
use crate::names::ContextPattern;
use crate::plan::{effective_last_seen, is_live};
use crate::settings::Settings;
use crate::store::{decode_item, Store, StoreError};
use crate::threat::{ThreatData, ThreatReader};
use crate::workload::WorkloadKind;
pub use suppression::{Judged, VexView};

mod suppression;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::limits::{DEFAULT_LIMIT, MAX_LIMIT};
/// Query page size; expired items are skipped after reading, so pages run a little larger.
const MAX_PAGE_SIZE: usize = 1000;
/// Contexts read at once while listing: enough to hide round trips, few enough that a page
/// that fills early reads little it does not answer.
const CONTEXTS_READ_AHEAD: usize = 8;

/// The context an image record's sort key (`{context}#{image_key}`) belongs to.
fn context_of_sort_key(sort_key: &str) -> &str {
    sort_key.split_once('#').map_or(sort_key, |(context, _)| context)
}

use inventory_core::field::FieldError;

/// A `vulnerability_id` parameter (query or path): a vulnerability id this service keys by.
pub fn vulnerability_id_param(raw: &str) -> Result<(), FieldError> {
    if !is_vulnerability_id(raw) {
        return Err(FieldError::invalid(
            "vulnerability_id",
            format!("must be 1 to {MAX_VULNERABILITY_ID_BYTES} bytes without '#' or control characters"),
        ));
    }
    Ok(())
}

/// A `min_severity` parameter: a normalised severity's name.
pub fn min_severity_param(raw: &str) -> Result<Severity, FieldError> {
    Severity::parse(raw)
        .ok_or_else(|| FieldError::invalid("min_severity", format!("must be one of {}", Severity::names())))
}

/// A name (a context's, a workload's) or every name starting with a prefix: `context=prod/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameFilter {
    Exact(String),
    Prefix(String),
}

impl From<ContextPattern> for NameFilter {
    fn from(pattern: ContextPattern) -> Self {
        match pattern {
            ContextPattern::Exact(context) => Self::Exact(context.into_string()),
            ContextPattern::Prefix(prefix) => Self::Prefix(prefix),
        }
    }
}

impl NameFilter {
    fn matches(&self, context: &str) -> bool {
        match self {
            Self::Exact(name) => context == name,
            Self::Prefix(prefix) => context.starts_with(prefix.as_str()),
        }
    }

    fn sort_key_prefix(&self) -> String {
        match self {
            Self::Exact(context) => image_sk(context, ""),
            Self::Prefix(prefix) => prefix.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "t")]
    inventory_type: InventoryType,
    #[serde(rename = "k")]
    sort_key: String,
}

/// `workload_kind` and `workload`: entries with a listed workload of that kind and name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkloadFilter {
    pub kind: Option<WorkloadKind>,
    /// `name`, or `prefix*`.
    pub name: Option<NameFilter>,
}

impl WorkloadFilter {
    fn is_set(&self) -> bool {
        self.kind.is_some() || self.name.is_some()
    }

    fn admits(&self, content: &ImageContent) -> bool {
        !self.is_set()
            || content.workloads.iter().any(|workload| {
                self.kind.is_none_or(|kind| kind == workload.kind)
                    && self.name.as_ref().is_none_or(|name| name.matches(&workload.name))
            })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InventoryQuery {
    pub inventory_type: Option<InventoryType>,
    pub context: Option<NameFilter>,
    pub image_digest: Option<Digest>,
    pub workload: WorkloadFilter,
    /// Images carrying this vulnerability.
    pub vulnerability_id: Option<String>,
    /// Images with findings at this severity or above.
    pub min_severity: Option<Severity>,
    /// Images running a vulnerability CISA lists as exploited (`true`), or none (`false`).
    pub kev: Option<bool>,
    /// `include_suppressed=true`: with `vulnerability_id=`, entries VEX statements suppress are
    /// listed too, marked with their `vex` verdict.
    pub include_suppressed: bool,
    /// Images running a vulnerability with an EPSS probability at least this.
    pub min_epss: Option<f64>,
    pub limit: usize,
    /// Neither `limit` nor `next` was given: every item is answered (`anchorectl inventory list`
    /// never pages), up to `MAX_UNPAGED_ITEMS`; past that the list comes back with `next` set.
    pub unpaged: bool,
    cursor: Option<Cursor>,
}

impl Default for InventoryQuery {
    fn default() -> Self {
        Self {
            inventory_type: None,
            context: None,
            image_digest: None,
            workload: WorkloadFilter::default(),
            vulnerability_id: None,
            min_severity: None,
            kev: None,
            include_suppressed: false,
            min_epss: None,
            limit: MAX_UNPAGED_ITEMS,
            unpaged: true,
            cursor: None,
        }
    }
}

impl InventoryQuery {
    /// Parses `inventory_type`, `context`, `image_digest`, `limit` and `next`.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, FieldError> {
        let present = |name: &str| get(name).filter(|value| !value.is_empty());
        let inventory_type = present("inventory_type")
            .map(|raw| {
                InventoryType::parse(&raw)
                    .ok_or_else(|| FieldError::invalid("inventory_type", "must be 'ecs' or 'kubernetes'"))
            })
            .transpose()?;
        let context =
            present("context").map(|raw| ContextPattern::parse("context", &raw)).transpose()?.map(NameFilter::from);
        let image_digest = present("image_digest")
            .map(|raw| Digest::parse(&raw).map_err(|error| FieldError::invalid("image_digest", error.to_string())))
            .transpose()?;
        let workload = WorkloadFilter {
            kind: present("workload_kind")
                .map(|raw| {
                    WorkloadKind::parse(&raw).ok_or_else(|| {
                        let kinds: Vec<&str> = WorkloadKind::ALL.iter().map(|kind| kind.as_str()).collect();
                        FieldError::invalid("workload_kind", format!("must be one of {}", kinds.join(", ")))
                    })
                })
                .transpose()?,
            name: present("workload").map(|raw| match raw.strip_suffix('*') {
                Some(prefix) => NameFilter::Prefix(prefix.to_owned()),
                None => NameFilter::Exact(raw),
            }),
        };
        let vulnerability_id =
            present("vulnerability_id").map(|raw| vulnerability_id_param(&raw).map(|()| raw)).transpose()?;
        let min_severity = present("min_severity").map(|raw| min_severity_param(&raw)).transpose()?;
        let unpaged = present("limit").is_none() && present("next").is_none();
        let limit = match crate::field::whole_number(&get, "limit", MAX_LIMIT)? {
            None if unpaged => MAX_UNPAGED_ITEMS,
            None => DEFAULT_LIMIT,
            Some(limit) => limit,
        };
        let mut query = Self {
            inventory_type,
            context,
            image_digest,
            workload,
            vulnerability_id,
            min_severity,
            kev: crate::worklist::boolean(&get, "kev")?,
            include_suppressed: crate::worklist::boolean(&get, "include_suppressed")?.unwrap_or(false),
            min_epss: crate::worklist::min_epss(&get)?,
            limit,
            unpaged,
            cursor: None,
        };
        if let Some(raw) = present("next") {
            let cursor = URL_SAFE_NO_PAD
                .decode(raw.as_bytes())
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Cursor>(&bytes).ok())
                .filter(|cursor| {
                    query.types().contains(&cursor.inventory_type)
                        && cursor.sort_key.len() <= crate::limits::DYNAMODB_SORT_KEY_BYTES
                        && cursor.sort_key.starts_with(&query.sort_key_prefix())
                })
                .ok_or_else(|| FieldError::invalid("next", "is not a cursor returned by this query"))?;
            query.cursor = Some(cursor);
        }
        Ok(query)
    }

    fn types(&self) -> Vec<InventoryType> {
        self.inventory_type.map_or_else(|| InventoryType::ALL.to_vec(), |kind| vec![kind])
    }

    /// The types still to list, from the cursor's on, and the sort key to start after in the first.
    fn remaining_types(&self) -> (Vec<InventoryType>, Option<String>) {
        let types = self.types();
        let first = self
            .cursor
            .as_ref()
            .and_then(|cursor| types.iter().position(|kind| *kind == cursor.inventory_type))
            .unwrap_or(0);
        (types[first..].to_vec(), self.cursor.as_ref().map(|cursor| cursor.sort_key.clone()))
    }

    fn sort_key_prefix(&self) -> String {
        self.context.as_ref().map(NameFilter::sort_key_prefix).unwrap_or_default()
    }
}

/// One image in one context, in Anchore's `InventoryItem` shape plus counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryItem {
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_tag: String,
    pub image_digest: String,
    pub container_count: u32,
    pub first_seen: String,
    pub last_seen: String,
    pub created_at: String,
    pub last_updated: String,
    /// Which workloads run the image in its context (beyond Anchore's shape).
    pub workloads: Vec<WorkloadContainers>,
    /// How many workloads run it, when more than `workloads` lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_count: Option<u32>,
    /// The image's distinct vulnerabilities by severity (and how many CISA lists, once its
    /// catalog is loaded and the image's pairs are written), when a scanner posted findings of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<VulnerabilitySummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings_updated_at: Option<String>,
    /// With `vulnerability_id=`: the VEX annotation that decides about it here; with a severity or
    /// threat filter and `include_suppressed=true`, the one that suppressed what matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vex: Option<crate::vex::Verdict>,
}

impl InventoryItem {
    /// One container of `digest` running in `context` for a Deployment `workload`, every other
    /// field empty: the tests' starting point.
    #[cfg(any(test, feature = "test-fixtures"))]
    pub fn running(inventory_type: InventoryType, context: &str, digest: &str, workload: &str) -> Self {
        Self {
            inventory_type,
            context: context.into(),
            image_tag: String::new(),
            image_digest: digest.into(),
            container_count: 1,
            first_seen: String::new(),
            last_seen: String::new(),
            created_at: String::new(),
            last_updated: String::new(),
            workloads: vec![WorkloadContainers {
                kind: WorkloadKind::Deployment,
                name: workload.into(),
                containers: 1,
            }],
            workload_count: None,
            vulnerabilities: None,
            findings_updated_at: None,
            vex: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryList {
    pub items: Vec<InventoryItem>,
    /// Pass back as `next` for the following page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// With `vulnerability_id=`, `min_severity`, `kev` or `min_epss`: this page's entries left out
    /// because VEX statements suppress there what matched (listed, marked, with
    /// `include_suppressed=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<usize>,
}

#[derive(Clone)]
pub struct InventoryReader {
    store: Store,
    threat: ThreatReader,
    rules: crate::vex::RulesReader,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

impl InventoryReader {
    pub fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self {
            threat: ThreatReader::new(store.clone()),
            rules: crate::vex::RulesReader::new(store.clone()),
            store,
            settings,
            clock,
        }
    }

    /// Contexts in name order (from the `contexts` index), each context's partition read in
    /// sort-key order; a few contexts are read ahead at once.
    pub async fn list(&self, account: &str, query: &InventoryQuery) -> Result<InventoryList, StoreError> {
        let severe = match query.min_severity {
            Some(min) => Some(self.severity_index(account, min).await?),
            None => None,
        };
        // Each read once per listing, by whichever part needs it first.
        let threat = tokio::sync::OnceCell::new();
        let rules = tokio::sync::OnceCell::new();
        let severe = self.threat_filter(account, query, severe, &threat, &rules).await?;
        let mut list = match (&query.vulnerability_id, &query.image_digest) {
            (Some(id), digest) => {
                let (mut entries, rules) = futures::try_join!(
                    self.store.vulnerable_images(account, id),
                    rules.get_or_try_init(|| self.rules.rules(account))
                )?;
                entries.retain(|entry| digest.as_ref().is_none_or(|digest| digest.as_str() == entry.image_digest));
                let digests: Vec<String> = entries.iter().map(|entry| entry.image_digest.clone()).collect();
                let mut list = self.list_by_digests(account, query, &digests, severe.as_ref()).await?;
                self.apply_vex(&mut list, id, &entries, rules, query.include_suppressed);
                list
            }
            (None, Some(digest)) => {
                self.list_by_digests(account, query, &[digest.to_string()], severe.as_ref()).await?
            }
            (None, None) => self.list_all(account, query, severe.as_ref()).await?,
        };
        let filtered = severe.is_some();
        if list.items.is_empty() || !(filtered || self.store.any_findings(account).await?) {
            return Ok(list);
        }
        let threat = threat.get_or_try_init(|| self.threat.current()).await?;
        let rules = rules.get_or_try_init(|| self.rules.rules(account)).await?;
        let view = self.vex_view(account, Arc::clone(rules), &list.items, threat.kev.is_some()).await?;
        if filtered && !rules.is_empty() {
            leave_out_suppressed_matches(&mut list, query, &view, threat);
        }
        self.attach_findings(account, &mut list.items, threat, &view).await?;
        Ok(list)
    }

    /// The account's rules with the vulnerability lists of `items`' images (read when there are
    /// rules to apply, or `with_lists`).
    pub async fn vex_view<'a>(
        &self,
        account: &str,
        rules: Arc<crate::vex::Rules>,
        items: impl IntoIterator<Item = &'a InventoryItem> + Clone,
        with_lists: bool,
    ) -> Result<VexView, StoreError> {
        let lists = if rules.is_empty() && !with_lists {
            HashMap::new()
        } else {
            let digests: BTreeSet<&str> = items.clone().into_iter().map(|item| item.image_digest.as_str()).collect();
            let digests: Vec<String> = digests.into_iter().map(str::to_owned).collect();
            self.store.running_vulnerability_lists(account, &digests).await?
        };
        Ok(VexView::new(rules, lists, items, self.clock.now()))
    }

    /// Leaves out (or marks) the entries where VEX statements suppress `id`, each judged in its
    /// own context.
    fn apply_vex(
        &self,
        list: &mut InventoryList,
        id: &str,
        entries: &[crate::findings::VulnerableImage],
        rules: &crate::vex::Rules,
        include_suppressed: bool,
    ) {
        if !rules.names(id) {
            return;
        }
        let repositories = crate::vex::repositories(
            list.items.iter().map(|item| (item.image_digest.as_str(), item.image_tag.as_str())),
        );
        let lens = crate::vex::Lens { rules, repositories: &repositories, now: self.clock.now() };
        let by_digest: HashMap<&str, &crate::findings::VulnerableImage> =
            entries.iter().map(|entry| (entry.image_digest.as_str(), entry)).collect();
        let mut suppressed = 0;
        list.items.retain_mut(|item| {
            let Some(entry) = by_digest.get(item.image_digest.as_str()) else { return true };
            let complete = entry.package_count.is_none();
            let verdict = lens.verdict(id, &item.image_digest, Some(&item.context), &entry.packages, complete);
            let hidden = verdict.as_ref().is_some_and(|verdict| verdict.suppressed);
            suppressed += usize::from(hidden);
            item.vex = verdict;
            include_suppressed || !hidden
        });
        list.suppressed = Some(suppressed);
    }

    /// Every live entry of the images with these digests, wherever they run (no join).
    pub async fn running(&self, account: &str, digests: &[String]) -> Result<Vec<InventoryItem>, StoreError> {
        Ok(self.list_by_digests(account, &InventoryQuery::default(), digests, None).await?.items)
    }

    /// `kev=` and `min_epss=`: the running images whose vulnerabilities (their exposure pairs)
    /// the threat data admits, with their highest severity, within `severe` when given. One read
    /// of the account's pairs (16 partitions): its cost follows what runs, not the findings. What
    /// VEX suppresses is judged per entry afterwards (`leave_out_suppressed_matches`); here
    /// `kev=false` only leaves out images with a listed vulnerability no statement names.
    async fn threat_filter(
        &self,
        account: &str,
        query: &InventoryQuery,
        severe: Option<HashMap<String, Severity>>,
        threat: &tokio::sync::OnceCell<ThreatData>,
        rules: &tokio::sync::OnceCell<Arc<crate::vex::Rules>>,
    ) -> Result<Option<HashMap<String, Severity>>, StoreError> {
        if query.kev.is_none() && query.min_epss.is_none() {
            return Ok(severe);
        }
        let (pairs, threat, rules) = futures::try_join!(
            self.store.exposure_pairs(account),
            threat.get_or_try_init(|| self.threat.current()),
            rules.get_or_try_init(|| self.rules.rules(account))
        )?;
        let mut listed: HashSet<&str> = HashSet::new();
        let mut admitted: HashMap<String, Severity> = HashMap::new();
        for pair in &pairs {
            let facts = threat.facts(&pair.facts.vulnerability_id);
            if facts.kev.is_some() && !rules.names(&pair.facts.vulnerability_id) {
                listed.insert(&pair.image_digest);
            }
            // `kev=false` keeps images none of whose running vulnerabilities is listed: below.
            let kev_ok = query.kev != Some(true) || facts.kev.is_some();
            let epss_ok = query.min_epss.is_none_or(|min| facts.epss.is_some_and(|score| score.epss.value() >= min));
            if kev_ok && epss_ok {
                let severity = admitted.entry(pair.image_digest.clone()).or_insert(pair.facts.severity);
                *severity = (*severity).max(pair.facts.severity);
            }
        }
        if query.kev == Some(false) {
            admitted.retain(|digest, _| !listed.contains(digest.as_str()));
        }
        Ok(Some(match severe {
            None => admitted,
            Some(severe) => admitted.into_iter().filter(|(digest, _)| severe.contains_key(digest)).collect(),
        }))
    }

    /// Every live entry of the account's inventory, up to `MAX_UNPAGED_ITEMS` (no join).
    pub async fn running_at(&self, account: &str) -> Result<Vec<InventoryItem>, StoreError> {
        Ok(self.list_all(account, &InventoryQuery::default(), None).await?.items)
    }

    /// Every live entry of the images with findings at `min` or above that VEX statements leave
    /// visible in its context, each with its highest visible severity.
    pub async fn running_at_least(
        &self,
        account: &str,
        min: Severity,
    ) -> Result<Vec<(InventoryItem, Severity)>, StoreError> {
        let severe = self.severity_index(account, min).await?;
        let items = self.list_all(account, &InventoryQuery::default(), Some(&severe)).await?.items;
        let severities = self.visible_severities(account, &items, &severe).await?;
        Ok(items
            .into_iter()
            .zip(severities)
            .filter_map(|(item, severity)| {
                severity.filter(|severity| *severity >= min).map(|severity| (item, severity))
            })
            .collect())
    }

    /// Each entry's highest severity (`recorded`: its image's, from the severity index) that VEX
    /// statements leave visible in its context; `None`: no findings, or every one suppressed there.
    pub async fn visible_severities<'a>(
        &self,
        account: &str,
        items: impl IntoIterator<Item = &'a InventoryItem> + Clone,
        recorded: &HashMap<String, Severity>,
    ) -> Result<Vec<Option<Severity>>, StoreError> {
        let rules = self.rules.rules(account).await?;
        let view = self.vex_view(account, rules, items.clone(), false).await?;
        Ok(items.into_iter().map(|item| view.highest(item, *recorded.get(&item.image_digest)?)).collect())
    }

    /// The digests of images whose highest severity is `min` or above, with that severity (the
    /// severity index: one `Query` per severity).
    pub async fn severity_index(&self, account: &str, min: Severity) -> Result<HashMap<String, Severity>, StoreError> {
        let levels: Vec<Severity> = Severity::ALL.into_iter().filter(|severity| *severity >= min).collect();
        let reads = levels.iter().map(|severity| self.store.digests_at_severity(account, *severity));
        let found = futures::future::try_join_all(reads).await?;
        Ok(levels
            .into_iter()
            .zip(found)
            .flat_map(|(severity, digests)| digests.into_iter().map(move |digest| (digest, severity)))
            .collect())
    }

    /// Each item's vulnerability counts: one batched read of the findings records of the page's
    /// digests, less what VEX suppresses in the item's context; how many CISA lists comes from
    /// the images' vulnerability lists (`view`).
    async fn attach_findings(
        &self,
        account: &str,
        items: &mut [InventoryItem],
        threat: &ThreatData,
        view: &VexView,
    ) -> Result<(), StoreError> {
        let digests: BTreeSet<&str> =
            items.iter().map(|item| item.image_digest.as_str()).filter(|digest| !digest.is_empty()).collect();
        let digests: Vec<String> = digests.into_iter().map(str::to_owned).collect();
        let records = self.store.findings_records(account, &digests).await?;
        let found: HashMap<&str, _> = records
            .iter()
            .filter(|record| !record.scanners.is_empty())
            .map(|record| (record.image_digest.as_str(), record))
            .collect();
        for item in items {
            let Some(record) = found.get(item.image_digest.as_str()) else { continue };
            let judged = view.judge(item);
            let suppressed = judged.as_ref().map(Judged::suppressed_counts).unwrap_or_default();
            item.vulnerabilities = Some(VulnerabilitySummary {
                by_severity: record.counts.without(&suppressed),
                kev: threat.kev.as_ref().and(judged.as_ref().map(|judged| judged.kev(threat))),
                suppressed: judged.map_or(0, |judged| judged.suppressed.len()),
            });
            item.findings_updated_at = record.updated_at.map(format_time);
        }
        Ok(())
    }

    async fn list_all(
        &self,
        account: &str,
        query: &InventoryQuery,
        severe: Option<&HashMap<String, Severity>>,
    ) -> Result<InventoryList, StoreError> {
        let wanted = query.limit + 1;
        let mut page_of = PageBuilder::new(query, self.clock.now(), self.settings.ttl_delta(), severe);
        let admission = page_of.admission;
        let (types, mut start_after) = query.remaining_types();
        for inventory_type in types {
            let resume_at = start_after.take();
            let resume_at = &resume_at;
            let mut contexts = self.store.context_names(account, inventory_type).await?;
            let after_context = resume_at.as_deref().map(context_of_sort_key);
            contexts.retain(|context| {
                query.context.as_ref().is_none_or(|filter| filter.matches(context))
                    && after_context.is_none_or(|after| context.as_str() >= after)
            });
            let reads = futures::stream::iter(contexts)
                .map(|context| async move {
                    let resume = resume_at.as_deref().filter(|sk| context_of_sort_key(sk) == context);
                    self.live_images(account, inventory_type, &context, resume, wanted, admission).await
                })
                .buffered(CONTEXTS_READ_AHEAD);
            futures::pin_mut!(reads);
            while let Some(read) = reads.next().await {
                let (last_report, records) = read?;
                for record in records {
                    if let Some(full) = page_of.offer(inventory_type, record, last_report) {
                        return Ok(full);
                    }
                }
            }
        }
        Ok(page_of.last())
    }

    /// Up to `wanted` admitted image records of a context after `start_after`, in order, with the
    /// context's last report time.
    async fn live_images(
        &self,
        account: &str,
        inventory_type: InventoryType,
        context: &str,
        start_after: Option<&str>,
        wanted: usize,
        admission: Admission<'_>,
    ) -> Result<(Option<DateTime<Utc>>, Vec<ImageRecord>), StoreError> {
        let mut last_report = None;
        let mut record_seen = false;
        let mut images = Vec::new();
        let mut next = start_after.map(str::to_owned);
        let page_size = wanted.min(MAX_PAGE_SIZE) as i32;
        loop {
            let page = self.store.query_inventory(account, inventory_type, context, next.as_deref(), page_size).await?;
            for item in page.items {
                match item.get("kind").and_then(|kind| kind.as_s().ok()).and_then(|kind| ItemKind::parse(kind)) {
                    Some(ItemKind::Context) => {
                        let record: ContextRecord = decode_item(item)?;
                        (last_report, record_seen) = (record.last_report_at, true);
                    }
                    Some(ItemKind::Image) => {
                        if !record_seen {
                            let stored = self.store.get_context(account, inventory_type, context, false).await?;
                            (last_report, record_seen) = (stored.and_then(|record| record.last_report_at), true);
                        }
                        let record: ImageRecord = decode_item(item)?;
                        if admission.admits(&record, last_report) {
                            images.push(record);
                        }
                    }
                    _ => {}
                }
            }
            match page.last_evaluated_sk {
                Some(sk) if images.len() < wanted => next = Some(sk),
                _ => return Ok((last_report, images)),
            }
        }
    }

    /// `image_digest=` and `vulnerability_id=`: the `digests` index names the image records that
    /// carry the digests, so the work is proportional to the contexts that run them, not to the
    /// inventory.
    async fn list_by_digests(
        &self,
        account: &str,
        query: &InventoryQuery,
        digests: &[String],
        severe: Option<&HashMap<String, Severity>>,
    ) -> Result<InventoryList, StoreError> {
        let prefix = query.sort_key_prefix();
        let mut page_of = PageBuilder::new(query, self.clock.now(), self.settings.ttl_delta(), severe);
        let (types, mut start_after) = query.remaining_types();
        for inventory_type in types {
            let reads = digests.iter().map(|digest| self.store.digest_keys(account, inventory_type, digest));
            let mut keys: Vec<(String, String)> = futures::future::try_join_all(reads).await?.concat();
            keys.retain(|(_, sk)| sk.starts_with(&prefix) && start_after.as_ref().is_none_or(|after| sk > after));
            let mut records: Vec<ImageRecord> =
                self.store.batch_get(&keys).await?.into_iter().map(decode_item).collect::<Result<_, _>>()?;
            records.sort_by(|a, b| a.sk.cmp(&b.sk));
            let mut context_keys: Vec<(String, String)> =
                records.iter().map(|record| (record.pk.clone(), record.context.clone())).collect();
            context_keys.dedup();
            let mut reports = HashMap::new();
            for item in self.store.batch_get(&context_keys).await? {
                let context: ContextRecord = decode_item(item)?;
                reports.insert(context.context, context.last_report_at);
            }
            for record in records {
                let last_report = reports.get(&record.context).copied().flatten();
                if let Some(full) = page_of.offer(inventory_type, record, last_report) {
                    return Ok(full);
                }
            }
            start_after = None;
        }
        Ok(page_of.last())
    }
}

/// Which image records a read answers: still inventory at the time of the read, run by a
/// workload the query asks for, and carrying findings as severe as it asks.
#[derive(Clone, Copy)]
struct Admission<'q> {
    now: DateTime<Utc>,
    ttl: Option<chrono::TimeDelta>,
    workload: &'q WorkloadFilter,
    severe: Option<&'q HashMap<String, Severity>>,
}

impl Admission<'_> {
    fn admits(&self, record: &ImageRecord, last_report: Option<DateTime<Utc>>) -> bool {
        is_live(effective_last_seen(&record.tracking, last_report), self.now, self.ttl)
            && self.workload.admits(&record.content)
            && self.severe.is_none_or(|digests| digests.contains_key(&record.content.image_digest))
    }
}

/// The items of one page, in order: live items are taken until the limit, then the page ends
/// with a cursor after the last one taken.
struct PageBuilder<'q> {
    items: Vec<InventoryItem>,
    last_returned: Option<String>,
    limit: usize,
    admission: Admission<'q>,
}

impl<'q> PageBuilder<'q> {
    fn new(
        query: &'q InventoryQuery,
        now: DateTime<Utc>,
        ttl: Option<chrono::TimeDelta>,
        severe: Option<&'q HashMap<String, Severity>>,
    ) -> Self {
        let admission = Admission { now, ttl, workload: &query.workload, severe };
        Self { items: Vec::new(), last_returned: None, limit: query.limit, admission }
    }

    /// Takes the record if it is live; the full page once a live record finds no room.
    fn offer(
        &mut self,
        inventory_type: InventoryType,
        record: ImageRecord,
        last_report: Option<DateTime<Utc>>,
    ) -> Option<InventoryList> {
        if !self.admission.admits(&record, last_report) {
            return None;
        }
        let last_seen = effective_last_seen(&record.tracking, last_report);
        if self.items.len() == self.limit {
            let cursor = Cursor {
                inventory_type: last_type(&self.items),
                sort_key: self.last_returned.take().unwrap_or_default(),
            };
            let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default());
            return Some(InventoryList {
                items: std::mem::take(&mut self.items),
                next: Some(encoded),
                suppressed: None,
            });
        }
        self.last_returned = Some(record.sk.clone());
        self.items.push(InventoryItem {
            inventory_type,
            context: record.context,
            image_tag: record.content.image_tag,
            image_digest: record.content.image_digest,
            container_count: record.content.container_count,
            first_seen: format_time(record.tracking.first_seen),
            last_seen: format_time(last_seen),
            created_at: format_time(record.tracking.first_seen),
            last_updated: format_time(record.tracking.updated_at),
            workloads: record.content.workloads,
            workload_count: record.content.workload_count,
            vulnerabilities: None,
            findings_updated_at: None,
            vex: None,
        });
        None
    }

    fn last(self) -> InventoryList {
        InventoryList { items: self.items, next: None, suppressed: None }
    }
}

/// Leaves out (or, with `include_suppressed`, marks) the entries the severity and threat filters
/// admitted only through vulnerabilities VEX statements suppress in their context. `kev=false`
/// admitted images whose listed vulnerabilities statements name: the entries where one of them
/// is still shown leave too (not counted as suppressed).
fn leave_out_suppressed_matches(list: &mut InventoryList, query: &InventoryQuery, view: &VexView, threat: &ThreatData) {
    let mut left_out = 0;
    list.items.retain_mut(|item| {
        let Some(judged) = view.judge(item) else { return true };
        let decided = judged.suppressed.is_empty() && query.kev != Some(false);
        if decided || judged.matches(query, threat) {
            return true;
        }
        if judged.suppressed.is_empty() {
            return false;
        }
        left_out += 1;
        if query.include_suppressed {
            item.vex = judged.suppressed.first().map(|(_, verdict)| verdict.clone());
        }
        query.include_suppressed
    });
    if left_out > 0 || list.suppressed.is_some() {
        list.suppressed = Some(list.suppressed.unwrap_or(0) + left_out);
    }
}

fn last_type(items: &[InventoryItem]) -> InventoryType {
    items.last().map_or(InventoryType::Ecs, |item| item.inventory_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<InventoryQuery, FieldError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        InventoryQuery::from_params(|name| map.get(name).map(|value| value.to_string()))
    }

    #[test]
    fn parameters_are_validated_by_name() {
        assert_eq!(parse(&[("inventory_type", "docker")]).unwrap_err().field, "inventory_type");
        assert_eq!(parse(&[("image_digest", "sha256:12")]).unwrap_err().field, "image_digest");
        assert_eq!(parse(&[("limit", "0")]).unwrap_err().field, "limit");
        assert_eq!(parse(&[("limit", "lots")]).unwrap_err().field, "limit");
        assert_eq!(parse(&[("next", "garbage")]).unwrap_err().field, "next");
        assert_eq!(parse(&[("context", "a#b")]).unwrap_err().field, "context");
        assert_eq!(parse(&[("workload_kind", "ReplicaSet")]).unwrap_err().field, "workload_kind");
        assert_eq!(parse(&[("min_severity", "High")]).unwrap_err().field, "min_severity");
        assert_eq!(parse(&[("vulnerability_id", "CVE#1")]).unwrap_err().field, "vulnerability_id");
        let long_id = "C".repeat(MAX_VULNERABILITY_ID_BYTES + 1);
        assert_eq!(parse(&[("vulnerability_id", &long_id)]).unwrap_err().field, "vulnerability_id");
        assert_eq!(parse(&[("min_severity", "high")]).unwrap().min_severity, Some(Severity::High));
        let filter = parse(&[("workload_kind", "daemonset"), ("workload", "kube-*")]).unwrap().workload;
        assert_eq!(filter.kind, Some(WorkloadKind::DaemonSet));
        assert_eq!(filter.name, Some(NameFilter::Prefix("kube-".into())));
    }

    #[test]
    fn context_filters_are_exact_unless_starred() {
        let exact = parse(&[("context", "prod/default")]).unwrap();
        assert_eq!(exact.sort_key_prefix(), "prod/default#");
        let prefix = parse(&[("context", "prod/*")]).unwrap();
        assert_eq!(prefix.sort_key_prefix(), "prod/");
        assert_eq!(parse(&[]).unwrap(), InventoryQuery::default());
        assert!(parse(&[]).unwrap().unpaged, "without limit and next, every item");
        let paged = parse(&[("limit", "10")]).unwrap();
        assert!(!paged.unpaged && paged.limit == 10);
    }

    #[test]
    fn cursors_only_work_for_the_query_that_made_them() {
        let cursor = Cursor { inventory_type: InventoryType::Ecs, sort_key: "arn:x#sha256:1".into() };
        let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap());
        assert!(parse(&[("next", &encoded)]).is_ok());
        assert!(parse(&[("next", &encoded), ("inventory_type", "kubernetes")]).is_err());
        assert!(parse(&[("next", &encoded), ("context", "arn:y")]).is_err());
    }
}

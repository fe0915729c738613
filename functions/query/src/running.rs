//! `GET /v2/history?image_digest=`: where an image ran, from when to when, kept after it left.

use crate::exposure::ExposurePage;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use inventory_store::clock::format_time;
use inventory_store::field::whole_number;
use inventory_store::findings::Severity;
use inventory_store::history::IntervalRecord;
use inventory_store::http::ApiError;
use inventory_store::image::Digest;
use inventory_store::limits::{DEFAULT_LIMIT, DYNAMODB_SORT_KEY_BYTES, MAX_HISTORY_READ, MAX_LIMIT};
use inventory_store::model::{InventoryType, WorkloadContainers};
use inventory_store::names::ContextPattern;
use inventory_store::store::{Store, StoreError};
use serde::Serialize;

/// The question, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub image_digest: Digest,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: usize,
    /// The sort key the previous page ended with.
    pub next: Option<String>,
}

pub(crate) fn time(field: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| ApiError::bad_request(field, "must be an RFC 3339 time (2026-11-20T10:15:00Z)"))
}

/// `from` and `to`, each optional, in order.
pub fn window(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), ApiError> {
    let present = |name: &str| get(name).filter(|value| !value.is_empty());
    let from = present("from").map(|raw| time("from", &raw)).transpose()?;
    let to = present("to").map(|raw| time("to", &raw)).transpose()?;
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(ApiError::bad_request("from", "must not be after to"));
        }
    }
    Ok((from, to))
}

/// `GET /v2/history?context=C&at=T`: what ran in a context (exact, or `prefix*`) at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtQuery {
    pub inventory_type: Option<InventoryType>,
    /// The exact context, or with `prefix` the start of every context asked about.
    pub context: String,
    pub prefix: bool,
    pub at: DateTime<Utc>,
}

/// Either question `GET /v2/history` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryQuestion {
    Digest(HistoryQuery),
    At(AtQuery),
}

/// Contexts one `prefix*` question may read: narrower prefixes for more.
pub const MAX_HISTORY_CONTEXTS: usize = 1000;

impl HistoryQuestion {
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, ApiError> {
        let present = |name: &str| get(name).filter(|value| !value.is_empty());
        match (present("context"), present("at")) {
            (None, None) => HistoryQuery::from_params(get).map(Self::Digest),
            (Some(raw), Some(at)) => {
                let pattern = ContextPattern::parse("context", &raw)?;
                let inventory_type = present("inventory_type")
                    .map(|raw| {
                        InventoryType::parse(&raw)
                            .ok_or_else(|| ApiError::bad_request("inventory_type", "must be 'ecs' or 'kubernetes'"))
                    })
                    .transpose()?;
                let (context, prefix) = match pattern {
                    ContextPattern::Prefix(prefix) => (prefix, true),
                    ContextPattern::Exact(context) => (context.into_string(), false),
                };
                Ok(Self::At(AtQuery { inventory_type, context, prefix, at: time("at", &at)? }))
            }
            (Some(_), None) => Err(ApiError::bad_request("at", "is required with context")),
            (None, Some(_)) => Err(ApiError::bad_request("context", "is required with at")),
        }
    }
}

impl HistoryQuery {
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, ApiError> {
        let present = |name: &str| get(name).filter(|value| !value.is_empty());
        let raw = present("image_digest").ok_or_else(|| ApiError::bad_request("image_digest", "is required"))?;
        let image_digest =
            Digest::parse(&raw).map_err(|error| ApiError::bad_request("image_digest", error.to_string()))?;
        let (from, to) = window(&get)?;
        let limit = whole_number(&get, "limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let not_a_cursor = || ApiError::bad_request("next", "is not a cursor this route answered");
        let next = present("next")
            .map(|raw| {
                let bytes = URL_SAFE_NO_PAD.decode(raw.as_bytes()).map_err(|_| not_a_cursor())?;
                String::from_utf8(bytes)
                    .ok()
                    .filter(|sk| {
                        !sk.is_empty() && sk.len() <= DYNAMODB_SORT_KEY_BYTES && !sk.contains(char::is_control)
                    })
                    .ok_or_else(not_a_cursor)
            })
            .transpose()?;
        Ok(Self { image_digest, from, to, limit, next })
    }
}

/// One interval as answered: `to` is null while the image still runs there.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_digest: String,
    pub image_tag: String,
    pub workloads: Vec<WorkloadContainers>,
    pub from: String,
    pub to: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub intervals: Vec<Interval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The records that overlap the window, as answered.
fn overlapping(records: Vec<IntervalRecord>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Vec<Interval> {
    records
        .into_iter()
        .filter(|record| record.overlaps(from, to))
        .map(|record| Interval {
            inventory_type: record.inventory_type,
            context: record.context,
            image_digest: record.image_digest,
            image_tag: record.image_tag,
            workloads: record.workloads,
            from: format_time(record.from),
            to: record.to.map(format_time),
        })
        .collect()
}

/// The page of the records read that overlap the question's window.
pub fn page(query: &HistoryQuery, records: Vec<IntervalRecord>, next: Option<String>) -> HistoryPage {
    HistoryPage {
        intervals: overlapping(records, query.from, query.to),
        next: next.map(|sk| URL_SAFE_NO_PAD.encode(sk)),
    }
}

/// `GET /v2/history?context=&at=`: the intervals that were running at `at`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct RanAt {
    pub at: String,
    pub intervals: Vec<Interval>,
}

/// What ran in the question's contexts at its time: per context, the intervals ending at or
/// after it (reads follow those, not the context's whole history), kept if they had started.
pub async fn ran_at(store: &Store, account: &str, query: &AtQuery) -> Result<Result<RanAt, ApiError>, StoreError> {
    let types = query.inventory_type.map_or_else(|| vec![InventoryType::Kubernetes, InventoryType::Ecs], |t| vec![t]);
    let mut contexts = Vec::new();
    for inventory_type in types {
        if query.prefix {
            let names = store.history_contexts_with_prefix(account, inventory_type, &query.context).await?;
            contexts.extend(names.into_iter().map(|name| (inventory_type, name)));
        } else {
            contexts.push((inventory_type, query.context.clone()));
        }
    }
    if contexts.len() > MAX_HISTORY_CONTEXTS {
        return Ok(Err(ApiError::bad_request(
            "context",
            format!(
                "names {} contexts; at most {MAX_HISTORY_CONTEXTS} are read at once: narrow the prefix",
                contexts.len()
            ),
        )));
    }
    let pending: Vec<_> = contexts
        .into_iter()
        .map(|(inventory_type, context)| async move {
            store.context_intervals_ending_after(account, inventory_type, &context, query.at, MAX_HISTORY_READ).await
        })
        .collect();
    let too_many = || {
        let message = format!(
            "more than {MAX_HISTORY_READ} intervals of these contexts end after it: ask about a later time or fewer contexts"
        );
        Ok(Err(ApiError::bad_request("at", message)))
    };
    let mut intervals = Vec::new();
    let mut read = 0;
    let mut reads = futures::stream::iter(pending).buffered(8);
    while let Some(records) = reads.try_next().await? {
        let Some(records) = records else { return too_many() };
        read += records.len();
        if read > MAX_HISTORY_READ {
            return too_many();
        }
        intervals.extend(overlapping(records, Some(query.at), Some(query.at)));
    }
    Ok(Ok(RanAt { at: format_time(query.at), intervals }))
}

/// One image carrying a vulnerability, and where and when it ran.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ImageWindows {
    pub image_digest: String,
    pub severity: Severity,
    pub windows: Vec<Interval>,
}

/// `GET /v2/vulnerabilities/{vulnerability_id}/history`: the exposure windows of a vulnerability.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ExposureWindows {
    pub vulnerability_id: String,
    pub severity: Severity,
    /// The images carrying it that ran in the window, in digest order.
    pub images: Vec<ImageWindows>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Where the images carrying `id` ran in the window: the vulnerability's partition, then each
/// image's intervals on the page (reads follow the images that carry it and their intervals).
/// A page ends early, its `next` at the last image answered, once its images' intervals pass
/// `MAX_HISTORY_READ`; one image past it alone is refused, naming the paged route.
pub async fn exposure_windows(
    store: &Store,
    account: &str,
    id: &str,
    page: &ExposurePage,
    (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
) -> Result<Result<Option<ExposureWindows>, ApiError>, StoreError> {
    let entries = store.vulnerable_images(account, id).await?;
    let Some(severity) = entries.iter().map(|entry| entry.severity).max() else { return Ok(Ok(None)) };
    let remaining: Vec<_> = entries
        .iter()
        .filter(|entry| page.after.as_ref().is_none_or(|after| entry.image_digest.as_str() > after.as_str()))
        .collect();
    let on_page = &remaining[..remaining.len().min(page.limit)];
    let mut next =
        (remaining.len() > page.limit).then(|| on_page.last().map(|entry| entry.image_digest.clone())).flatten();
    // Owned and collected first: a stream mapping borrowed entries fails rustc's `Send` check of
    // the handler's future ("implementation of `FnOnce` is not general enough").
    let pending: Vec<_> = on_page
        .iter()
        .map(|entry| {
            let (digest, severity) = (entry.image_digest.clone(), entry.severity);
            async move {
                let records = store.all_intervals(account, &digest, MAX_HISTORY_READ).await?;
                Ok::<_, StoreError>((digest, severity, records))
            }
        })
        .collect();
    let mut images = Vec::new();
    let (mut read, mut answered): (usize, Option<String>) = (0, None);
    let mut reads = futures::stream::iter(pending).buffered(8);
    while let Some((image_digest, severity, records)) = reads.try_next().await? {
        read = read.saturating_add(records.as_ref().map_or(usize::MAX, Vec::len));
        match records.filter(|_| read <= MAX_HISTORY_READ) {
            Some(records) => {
                let windows = overlapping(records, from, to);
                if !windows.is_empty() {
                    images.push(ImageWindows { image_digest: image_digest.clone(), severity, windows });
                }
                answered = Some(image_digest);
            }
            None if answered.is_none() => {
                let message = format!(
                    "image {image_digest} ran in more than {MAX_HISTORY_READ} intervals: read them with GET /v2/history?image_digest= (paged)"
                );
                return Ok(Err(ApiError::bad_request("limit", message)));
            }
            None => {
                next = answered;
                break;
            }
        }
    }
    Ok(Ok(Some(ExposureWindows { vulnerability_id: id.to_owned(), severity, images, next })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";

    fn question(pairs: &[(&str, &str)]) -> Result<HistoryQuestion, ApiError> {
        HistoryQuestion::from_params(|key| {
            pairs.iter().find(|(name, _)| *name == key).map(|(_, value)| (*value).to_owned())
        })
    }

    fn query(pairs: &[(&str, &str)]) -> Result<HistoryQuery, ApiError> {
        match question(pairs)? {
            HistoryQuestion::Digest(query) => Ok(query),
            other => panic!("a digest question, not {other:?}"),
        }
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let field = |pairs: &[(&str, &str)]| query(pairs).unwrap_err().detail["field"].clone();
        assert_eq!(field(&[]), "image_digest");
        assert_eq!(field(&[("image_digest", "sha256:nothex")]), "image_digest");
        assert_eq!(field(&[("image_digest", DIGEST), ("from", "yesterday")]), "from");
        assert_eq!(
            field(&[("image_digest", DIGEST), ("from", "2026-11-21T00:00:00Z"), ("to", "2026-11-20T00:00:00Z")]),
            "from"
        );
        assert_eq!(field(&[("image_digest", DIGEST), ("limit", "0")]), "limit");
        assert_eq!(question(&[("context", "prod/*")]).unwrap_err().detail["field"], "at");
        assert_eq!(question(&[("at", "2026-11-20T00:00:00Z")]).unwrap_err().detail["field"], "context");
        assert_eq!(question(&[("context", "prod/*"), ("at", "noon")]).unwrap_err().detail["field"], "at");
        let at = question(&[("context", "prod/*"), ("at", "2026-11-20T12:00:00Z")]).unwrap();
        let HistoryQuestion::At(at) = at else { panic!("an at question") };
        assert_eq!((at.context.as_str(), at.prefix, at.inventory_type), ("prod/", true, None));
        assert_eq!(field(&[("image_digest", DIGEST), ("next", "kubernetes#prod/shop#open")]), "next");
        let cursor = URL_SAFE_NO_PAD.encode("kubernetes#prod/shop#open");
        assert_eq!(
            query(&[("image_digest", DIGEST), ("next", &cursor)]).unwrap().next.as_deref(),
            Some("kubernetes#prod/shop#open")
        );
        let fine = query(&[("image_digest", DIGEST), ("from", "2026-11-20T00:00:00Z")]).unwrap();
        assert_eq!((fine.limit, fine.to), (DEFAULT_LIMIT, None));
    }
}

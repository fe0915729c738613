//! Agent reports: the wire shapes of `k8s-inventory` and `ecs-inventory`, validated and
//! turned into one snapshot per context.
//!
//! A problem of the report as a whole (malformed JSON, timestamp, cluster, a limit) rejects it
//! before anything is stored. A problem of one item (a container, pod, node, namespace, task or
//! service) skips that item alone; the report is stored and its answer lists what was skipped,
//! so one odd container never costs a cluster its inventory.

mod ecs;
mod kai;
mod kubernetes;
pub mod kubernetes_api;

pub use ecs::{
    parse_ecs, probably_truncated_warning, validate_ecs, ContainerDescription, EcsContainer, EcsReport, EcsService,
    EcsTask, TaskDescription, ECS_CREDENTIAL_CHECK_CLUSTER, SERVICE_GROUP_PREFIX,
};
pub use kai::parse_kai;
pub use kubernetes::{parse_collected_kubernetes, parse_kubernetes};

use crate::image::{normalize_reference, Digest, ImageKey};
use crate::limits::{MAX_ARRAY_ITEMS, MAX_CLOCK_SKEW, MAX_LISTED_ITEM_NOTES, MAX_METADATA_BYTES, MAX_NAMESPACE_BYTES};
use crate::model::{Detail, InventoryType, Metadata, NamespaceMeta, ReportSource};
use crate::workload::Workload;
use chrono::{DateTime, Utc};
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

pub use crate::field::{FieldError, Rejection};

/// One item of a report that was skipped or stored with a value changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemNote {
    pub field: String,
    pub reason: String,
}

/// The item-level problems of a report: listed up to a bound, always counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ItemNotes {
    /// Items not stored.
    pub skipped: Vec<ItemNote>,
    pub skipped_count: usize,
    /// Items stored with a value changed or dropped.
    pub adjusted: Vec<ItemNote>,
    pub adjusted_count: usize,
}

impl ItemNotes {
    fn push(list: &mut Vec<ItemNote>, count: &mut usize, field: String, reason: String) {
        *count += 1;
        if list.len() < MAX_LISTED_ITEM_NOTES {
            list.push(ItemNote { field, reason });
        }
    }

    pub fn skip(&mut self, field: String, reason: impl Into<String>) {
        Self::push(&mut self.skipped, &mut self.skipped_count, field, reason.into());
    }

    pub fn adjust(&mut self, field: String, reason: impl Into<String>) {
        Self::push(&mut self.adjusted, &mut self.adjusted_count, field, reason.into());
    }

    pub fn is_empty(&self) -> bool {
        self.skipped_count == 0 && self.adjusted_count == 0
    }
}

/// A validated report; a Kubernetes report's contexts borrow from its body until built.
#[derive(Debug)]
pub struct ParsedReport<'a> {
    pub inventory_type: InventoryType,
    pub source: ReportSource,
    pub timestamp: DateTime<Utc>,
    /// Empty for the ECS agent's credential check.
    pub contexts: Vec<ContextReport<'a>>,
    pub notes: ItemNotes,
    /// An `ecs-inventory` report at the agent's page limits (`ECS_AGENT_TASK_PAGE`,
    /// `ECS_AGENT_SERVICE_PAGE`): the cluster probably runs more than it says.
    pub probably_truncated: bool,
}

/// One context of a report: what decides whether it changed, and its content, built only when
/// it did (most reports repeat what is stored, and building is most of a report's CPU).
pub struct ContextReport<'a> {
    pub context: String,
    pub namespace: Option<NamespaceMeta>,
    pub container_count: u32,
    /// Equal hashes mean equal content; unequal ones need not mean a change.
    pub content_hash: String,
    content: Content<'a>,
}

enum Content<'a> {
    Built(ContextSnapshot),
    Kubernetes(kubernetes::NamespaceContent<'a>),
}

impl ContextReport<'_> {
    /// The context's content as it is stored.
    pub fn snapshot(&self) -> ContextSnapshot {
        match &self.content {
            Content::Built(snapshot) => snapshot.clone(),
            Content::Kubernetes(content) => content.build(self.context.clone(), self.namespace.clone()),
        }
    }

    pub fn into_snapshot(self) -> ContextSnapshot {
        match self.content {
            Content::Built(snapshot) => snapshot,
            Content::Kubernetes(content) => content.build(self.context, self.namespace),
        }
    }
}

/// A report with every context built, for tests that look at the stored form.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct BuiltReport {
    pub source: ReportSource,
    pub timestamp: DateTime<Utc>,
    pub contexts: Vec<ContextSnapshot>,
    pub notes: ItemNotes,
}

#[cfg(test)]
impl ParsedReport<'_> {
    pub(crate) fn built(self) -> BuiltReport {
        let contexts = self.contexts.into_iter().map(ContextReport::into_snapshot).collect();
        BuiltReport { source: self.source, timestamp: self.timestamp, contexts, notes: self.notes }
    }
}

impl From<ContextSnapshot> for ContextReport<'_> {
    fn from(snapshot: ContextSnapshot) -> Self {
        Self {
            context: snapshot.context.clone(),
            namespace: snapshot.namespace.clone(),
            container_count: snapshot.container_count(),
            content_hash: snapshot.content_hash(),
            content: Content::Built(snapshot),
        }
    }
}

impl fmt::Debug for ContextReport<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter
            .debug_struct("ContextReport")
            .field("context", &self.context)
            .field("container_count", &self.container_count)
            .field("content_hash", &self.content_hash)
            .field("built", &matches!(self.content, Content::Built(_)))
            .finish_non_exhaustive()
    }
}

/// Everything one report says about one context (a namespace or an ECS cluster).
#[derive(Debug, Clone, PartialEq)]
pub struct ContextSnapshot {
    pub context: String,
    pub namespace: Option<NamespaceMeta>,
    /// Keyed by `ImageKey::encode`.
    pub images: BTreeMap<String, ImageState>,
    /// Containers, pods, nodes, tasks and services, keyed by their detail sort key.
    pub details: BTreeMap<String, Detail>,
    /// Normalised tags of the containers whose digest is known.
    pub digest_tags: BTreeSet<String>,
}

impl ContextSnapshot {
    /// A context with nothing in it: what a whole-cluster source reports for a namespace that
    /// is gone.
    pub fn empty(context: &str) -> Self {
        Self {
            context: context.to_owned(),
            namespace: None,
            images: BTreeMap::new(),
            details: BTreeMap::new(),
            digest_tags: BTreeSet::new(),
        }
    }

    /// How many containers it has.
    pub fn container_count(&self) -> u32 {
        let containers = crate::model::DetailKind::Container.sort_key_prefix();
        self.details.keys().filter(|key| key.starts_with(&containers)).count() as u32
    }

    /// A hash of what the report says about the context's items (not its namespace metadata,
    /// which the context record holds itself): equal hashes mean nothing to write but the
    /// report time. XXH3-128: fast enough to hash every report, and 128 bits make an
    /// accidental match of two contents negligible (a report can only collide with its
    /// context's previous one; an agent that could craft one could send any content anyway).
    pub fn content_hash(&self) -> String {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        std::hash::Hash::hash(&(&self.images, &self.details, &self.digest_tags), &mut hasher);
        format!("{:032x}", hasher.digest128())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageState {
    pub digest: Option<Digest>,
    /// The smallest normalised tag seen for the image, so the choice is stable across reports.
    pub tag: String,
    pub container_count: u32,
    /// Containers running the image per workload (`crate::workload`).
    pub workloads: BTreeMap<Workload, u32>,
}

// ---- decoding ---------------------------------------------------------------------------

/// Go agents encode empty slices and maps as `null`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// An array of a report with its items kept raw, so that each is decoded (and skipped) alone.
/// Items past `MAX_ARRAY_ITEMS` are counted, not kept.
#[derive(Default)]
struct RawItems<'a> {
    items: Vec<&'a RawValue>,
    total: usize,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawItems<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemsVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ItemsVisitor<'a> {
            type Value = RawItems<'a>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an array or null")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(RawItems::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut raw = RawItems::default();
                loop {
                    if raw.items.len() < MAX_ARRAY_ITEMS {
                        match seq.next_element::<&'a RawValue>()? {
                            Some(item) => raw.items.push(item),
                            None => break,
                        }
                    } else if seq.next_element::<IgnoredAny>()?.is_none() {
                        break;
                    }
                    raw.total += 1;
                }
                Ok(raw)
            }
        }
        deserializer.deserialize_any(ItemsVisitor(std::marker::PhantomData))
    }
}

impl<'a> RawItems<'a> {
    fn check_count(&self, array: &str) -> Result<(), FieldError> {
        check_array_count(array, self.total)
    }

    /// Decodes each item; one that does not decode is skipped and noted.
    fn decode<T: Deserialize<'a>>(self, array: &str, notes: &mut ItemNotes) -> Vec<(usize, T)> {
        self.items
            .into_iter()
            .enumerate()
            .filter_map(|(index, raw)| match serde_json::from_slice(raw.get().as_bytes()) {
                Ok(item) => Some((index, item)),
                Err(_) => {
                    let error = decode_error::<T>(raw.get().as_bytes(), &format!("{array}[{index}]"));
                    notes.skip(error.field, error.message);
                    None
                }
            })
            .collect()
    }
}

/// A report array: decoded with the rest of the report in one pass (the common case, when every
/// item decodes), or kept raw so that each item is decoded, and skipped, alone.
enum Array<'a, T> {
    Typed(Vec<T>),
    Raw(RawItems<'a>),
}

impl<'a, T: Deserialize<'a>> Array<'a, T> {
    fn check_count(&self, array: &str) -> Result<(), FieldError> {
        match self {
            Self::Typed(items) => check_array_count(array, items.len()),
            Self::Raw(raw) => raw.check_count(array),
        }
    }

    /// The items that decode, with their positions in the report.
    fn into_items(self, array: &str, notes: &mut ItemNotes) -> Vec<(usize, T)> {
        match self {
            Self::Typed(items) => items.into_iter().enumerate().collect(),
            Self::Raw(raw) => raw.decode(array, notes),
        }
    }
}

/// A report with more items than the limit is refused whole: storing part of a cluster would
/// look like the rest had stopped.
fn check_array_count(array: &str, total: usize) -> Result<(), FieldError> {
    if total > MAX_ARRAY_ITEMS {
        return Err(FieldError::too_large(
            array,
            format!("{total} entries; at most {MAX_ARRAY_ITEMS} are accepted in one report. {SPLIT_HINT}"),
        ));
    }
    Ok(())
}

/// How to make an agent send smaller reports, for the 413 answers.
pub const SPLIT_HINT: &str = "Lower the agent's report size: k8s-inventory's \
    `inventory-report-limits.payload-threshold-bytes` (Helm: `payloadThresholdBytes`) splits a \
    cluster's report into several POSTs by namespace.";

/// Decodes a report body: it must be a JSON object.
fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FieldError> {
    check_body(body)?;
    decode_json(body, "")
}

/// A report body is at most `MAX_REPORT_BYTES` and a JSON object.
fn check_body(body: &[u8]) -> Result<(), FieldError> {
    if body.len() > crate::limits::MAX_REPORT_BYTES {
        return Err(FieldError::too_large(
            "body",
            format!(
                "{} bytes; at most {} bytes are accepted. {SPLIT_HINT}",
                body.len(),
                crate::limits::MAX_REPORT_BYTES
            ),
        ));
    }
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(FieldError::invalid("body", "must be a JSON object"));
    }
    Ok(())
}

/// Decodes JSON, naming the failing field below `prefix` (`containers[3]`, or the body). Path
/// tracking is slow, so it only runs again on what failed without it.
fn decode_json<'a, T: Deserialize<'a>>(json: &'a [u8], prefix: &str) -> Result<T, FieldError> {
    match serde_json::from_slice(json) {
        Ok(value) => Ok(value),
        Err(_) => Err(decode_error::<T>(json, prefix)),
    }
}

/// The error of decoding `json`, with the failing field's path.
fn decode_error<'a, T: Deserialize<'a>>(json: &'a [u8], prefix: &str) -> FieldError {
    let deserializer = &mut serde_json::Deserializer::from_slice(json);
    let Err(error) = serde_path_to_error::deserialize::<_, T>(deserializer) else {
        return FieldError::invalid(if prefix.is_empty() { "body" } else { prefix }, "cannot be decoded");
    };
    let path = error.path().to_string();
    let inner = error.into_inner();
    let message = inner.to_string();
    // serde reports a missing field at its parent; name the field itself.
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()).map(str::to_owned);
    let relative = match (missing, path.as_str()) {
        (Some(name), "." | "?") => name,
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "." | "?") => String::new(),
        (None, path) => path.to_owned(),
    };
    let field = match (prefix, relative.as_str()) {
        ("", "") => "body".to_owned(),
        ("", relative) => relative.to_owned(),
        (prefix, "") => prefix.to_owned(),
        (prefix, relative) => format!("{prefix}.{relative}"),
    };
    let message =
        if inner.is_syntax() || inner.is_eof() { format!("malformed JSON: {inner}") } else { strip_position(&message) };
    FieldError::invalid(field, message)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

// ---- report-level checks ----------------------------------------------------------------

/// The report time; more than `MAX_CLOCK_SKEW` ahead of `now` is refused.
fn parse_timestamp(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, FieldError> {
    let time = DateTime::parse_from_rfc3339(raw.trim())
        .map(|time| crate::clock::truncate_to_millis(time.with_timezone(&Utc)))
        .map_err(|error| {
            FieldError::invalid("timestamp", format!("must be an RFC 3339 date-time ({error}): {raw:?}"))
        })?;
    if time > now + MAX_CLOCK_SKEW {
        let ahead = (time - now).num_minutes();
        return Err(FieldError::invalid(
            "timestamp",
            format!(
                "{raw:?} is {ahead} minutes ahead of the server's clock ({}); the agent's clock is ahead. \
                 Correct the clock of the host running the agent (NTP); reports dated at most {} minutes \
                 ahead are accepted",
                crate::clock::format_time(now),
                MAX_CLOCK_SKEW.num_minutes()
            ),
        ));
    }
    Ok(time)
}

/// A cluster name or ARN: the first part of every context key, so `#` is refused.
fn validate_cluster(field: &str, value: &str, empty_hint: &str) -> Result<String, FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::invalid(field, format!("must not be empty: {empty_hint}")));
    }
    Ok(crate::names::ClusterName::parse(field, value)?.into_string())
}

// ---- item-level checks ------------------------------------------------------------------

/// Why one item is skipped: its field (relative to the item) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Skip {
    field: &'static str,
    reason: String,
}

impl Skip {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self { field, reason: reason.into() }
    }

    fn note(self, prefix: &str, notes: &mut ItemNotes) {
        notes.skip(format!("{prefix}.{}", self.field), self.reason);
    }
}

/// A required text field of an item: trimmed, non-empty, bounded, no control characters.
fn required(field: &'static str, value: &str, max_bytes: usize) -> Result<String, Skip> {
    checked(field, value, max_bytes).map(str::to_owned)
}

/// An optional text field: empty counts as absent.
fn optional(field: &'static str, value: Option<&str>, max_bytes: usize) -> Result<Option<String>, Skip> {
    Ok(checked_optional(field, value, max_bytes)?.map(str::to_owned))
}

/// `required`, borrowed.
fn checked<'v>(field: &'static str, value: &'v str, max_bytes: usize) -> Result<&'v str, Skip> {
    checked_optional(field, Some(value), max_bytes)?.ok_or_else(|| Skip::new(field, "must not be empty"))
}

/// `optional`, borrowed.
fn checked_optional<'v>(
    field: &'static str,
    value: Option<&'v str>,
    max_bytes: usize,
) -> Result<Option<&'v str>, Skip> {
    let Some(value) = value.and_then(present) else {
        return Ok(None);
    };
    if value.len() > max_bytes {
        return Err(Skip::new(field, format!("is {} bytes; at most {max_bytes} are accepted", value.len())));
    }
    if has_control(value) {
        return Err(Skip::new(field, "must not contain control characters"));
    }
    Ok(Some(value))
}

/// A text field as stored: trimmed, and absent when empty.
fn present(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|value| !value.is_empty())
}

/// Whether `value` holds a control character (`char::is_control`: U+0000-001F, U+007F-009F),
/// checked on bytes: U+0080-009F are encoded 0xC2 0x80-0x9F.
fn has_control(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.iter().enumerate().any(|(at, &byte)| {
        byte < 0x20
            || byte == 0x7f
            || (byte == 0xc2 && bytes.get(at + 1).is_some_and(|next| (0x80..=0x9f).contains(next)))
    })
}

/// A namespace name: the second part of a Kubernetes context `cluster/namespace`.
fn namespace_name(field: &'static str, value: &str) -> Result<String, Skip> {
    let name = required(field, value, MAX_NAMESPACE_BYTES)?;
    if name.contains(['/', '#']) {
        return Err(Skip::new(field, "must not contain '/' or '#'"));
    }
    Ok(name)
}

/// Labels/annotations as stored: in key order until the byte budget is spent.
fn cap_metadata<K: AsRef<str>, V: AsRef<str>>(metadata: &BTreeMap<K, V>) -> Metadata {
    capped(metadata).map(|(key, value)| (key.to_owned(), value.to_owned())).collect()
}

/// The entries `cap_metadata` keeps.
fn capped<K: AsRef<str>, V: AsRef<str>>(metadata: &BTreeMap<K, V>) -> impl Iterator<Item = (&str, &str)> {
    let mut used = 0;
    metadata.iter().map(|(key, value)| (key.as_ref(), value.as_ref())).take_while(move |(key, value)| {
        used += key.len() + value.len();
        used <= MAX_METADATA_BYTES
    })
}

/// A JSON string of a report, borrowed from the body unless it holds escapes: decoding a
/// report then allocates each string once, when it is stored, not also when it is read.
#[derive(Debug, Default, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Text<'a>(std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Borrowed(value)))
            }
            fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Owned(value.to_owned())))
            }
            fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Owned(value)))
            }
        }
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

impl<'a> Text<'a> {
    /// The string as a slice of the report body, if it is one.
    fn borrowed(&self) -> Option<&'a str> {
        match self.0 {
            std::borrow::Cow::Borrowed(text) => Some(text),
            std::borrow::Cow::Owned(_) => None,
        }
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Text<'_>> for String {
    fn from(text: Text<'_>) -> String {
        text.0.into_owned()
    }
}

/// A container's image as it is stored.
struct ResolvedImage {
    /// `ImageKey::encode` of the image.
    key: String,
    digest: Option<Digest>,
    tag: String,
}

/// Resolves a container's image. What had to change (a tag taken as `latest`, a digest that
/// is not one) is noted against the item; an image that cannot be named at all skips it.
fn resolve_image(
    image_tag: &str,
    image_digest: Option<&str>,
    prefix: impl Fn() -> String,
    notes: &mut ItemNotes,
) -> Result<ResolvedImage, Skip> {
    let reference = normalize_reference(image_tag).map_err(|error| Skip::new("image_tag", error.to_string()))?;
    if reference.latest_assumed {
        notes.adjust(
            format!("{}.image_tag", prefix()),
            format!("{image_tag:?} has no tag after ':'; stored as 'latest'"),
        );
    }
    let digest = match Digest::parse_optional(image_digest) {
        Ok(digest) => digest,
        Err(error) => {
            let field = format!("{}.image_digest", prefix());
            notes.adjust(field, format!("ignored, the image is kept by its tag: {error}"));
            None
        }
    };
    let digest = digest.or(reference.digest);
    Ok(ResolvedImage { key: ImageKey::new(digest.as_ref(), &reference.tag).encode(), digest, tag: reference.tag })
}

/// Resolves containers' images, each distinct (tag, digest) of a report once: a cluster runs
/// far fewer images than containers. Only resolutions without notes are remembered, so every
/// container still gets its own notes. Images are answered by their position in `images`.
#[derive(Default)]
struct ImageResolver<'a> {
    images: Vec<ResolvedImage>,
    resolved: HashMap<(&'a str, Option<&'a str>), u32>,
}

impl<'a> ImageResolver<'a> {
    fn resolve(
        &mut self,
        image_tag: &Text<'a>,
        image_digest: Option<&Text<'a>>,
        prefix: impl Fn() -> String,
        notes: &mut ItemNotes,
    ) -> Result<u32, Skip> {
        let key = match (image_tag.borrowed(), image_digest.map(Text::borrowed)) {
            (Some(tag), None) => Some((tag, None)),
            (Some(tag), Some(Some(digest))) => Some((tag, Some(digest))),
            _ => None,
        };
        if let Some(&position) = key.as_ref().and_then(|key| self.resolved.get(key)) {
            return Ok(position);
        }
        let noted = notes.skipped_count + notes.adjusted_count;
        let image = resolve_image(image_tag, image_digest.map(|digest| &**digest), prefix, notes)?;
        let position = self.images.len() as u32;
        self.images.push(image);
        if let Some(key) = key.filter(|_| notes.skipped_count + notes.adjusted_count == noted) {
            self.resolved.insert(key, position);
        }
        Ok(position)
    }
}

#[derive(Default)]
struct SnapshotBuilder {
    images: BTreeMap<String, ImageState>,
    /// In report order with their sort keys; sorted once when built (cheaper than a map kept
    /// sorted through thousands of inserts).
    details: Vec<(String, Detail)>,
    digest_tags: BTreeSet<String>,
}

impl SnapshotBuilder {
    /// Counts a container of `image` run by `workload`; answers the image's key.
    fn add_container(&mut self, image: &ResolvedImage, workload: Option<&Workload>) -> String {
        if image.digest.is_some() && !self.digest_tags.contains(&image.tag) {
            self.digest_tags.insert(image.tag.clone());
        }
        let state = match self.images.get_mut(&image.key) {
            Some(state) => {
                state.container_count += 1;
                if image.tag < state.tag {
                    state.tag.clone_from(&image.tag);
                }
                state
            }
            None => {
                let state = ImageState {
                    digest: image.digest.clone(),
                    tag: image.tag.clone(),
                    container_count: 1,
                    workloads: BTreeMap::new(),
                };
                self.images.entry(image.key.clone()).or_insert(state)
            }
        };
        if let Some(workload) = workload {
            match state.workloads.get_mut(workload) {
                Some(containers) => *containers += 1,
                None => {
                    state.workloads.insert(workload.clone(), 1);
                }
            }
        }
        image.key.clone()
    }

    fn add_detail(&mut self, detail: Detail) {
        self.details.push((detail.sort_key(), detail));
    }

    fn build(self, context: String, namespace: Option<NamespaceMeta>) -> ContextSnapshot {
        ContextSnapshot {
            context,
            namespace,
            images: self.images,
            details: first_of_each_key(self.details),
            digest_tags: self.digest_tags,
        }
    }
}

/// The entries by key, the first listed of each key kept.
fn first_of_each_key<V>(mut entries: Vec<(String, V)>) -> BTreeMap<String, V> {
    // Stable: entries of one key keep their report order.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|later, earlier| later.0 == earlier.0);
    entries.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn oversized_metadata_is_capped() {
        let big: Metadata = (0..100).map(|i| (format!("k{i:03}"), "v".repeat(1000))).collect();
        let capped = cap_metadata(&big);
        assert_eq!(capped.len(), 16);
    }

    #[test]
    fn control_characters_are_found_as_char_is_control_finds_them() {
        for text in
            ["plain", "tab\there", "nul\0", "del\u{7f}", "nel\u{85}", "c1 end\u{9f}", "nbsp\u{a0}", "é\u{c2}x", "ü"]
        {
            assert_eq!(has_control(text), text.chars().any(char::is_control), "{text:?}");
        }
    }

    #[test]
    fn notes_are_listed_up_to_the_bound_and_always_counted() {
        let mut notes = ItemNotes::default();
        for index in 0..MAX_LISTED_ITEM_NOTES + 5 {
            notes.skip(format!("containers[{index}].name"), "must not be empty");
        }
        assert_eq!((notes.skipped.len(), notes.skipped_count), (MAX_LISTED_ITEM_NOTES, MAX_LISTED_ITEM_NOTES + 5));
    }

    #[test]
    fn timestamps_ahead_of_the_clock_are_refused() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        assert!(parse_timestamp("2026-11-20T10:15:00Z", now).is_ok(), "15 minutes of skew are tolerated");
        let error = parse_timestamp("2026-11-20T10:15:01Z", now).unwrap_err();
        assert_eq!(error.field, "timestamp");
        assert!(error.message.contains("the agent's clock is ahead"), "{}", error.message);
        assert!(parse_timestamp("2027-11-20T10:00:00Z", now).is_err());
        assert!(parse_timestamp("2020-01-01T00:00:00Z", now).is_ok(), "old reports are the planner's business");
    }

    #[test]
    fn arrays_past_the_limit_are_counted_and_refused() {
        let body = format!("{{\"items\": [{}0]}}", "0,".repeat(MAX_ARRAY_ITEMS));
        #[derive(Deserialize)]
        struct Wire<'a> {
            #[serde(borrow)]
            items: RawItems<'a>,
        }
        let wire: Wire = decode(body.as_bytes()).unwrap();
        assert_eq!((wire.items.items.len(), wire.items.total), (MAX_ARRAY_ITEMS, MAX_ARRAY_ITEMS + 1));
        let error = wire.items.check_count("items").unwrap_err();
        assert_eq!((error.rejection, error.field.as_str()), (Rejection::TooLarge, "items"));
        assert!(error.message.contains("payloadThresholdBytes"), "{}", error.message);
    }

    #[test]
    fn bodies_past_the_limit_are_refused_before_parsing() {
        let body = vec![b' '; crate::limits::MAX_REPORT_BYTES + 1];
        let error = decode::<serde_json::Value>(&body).unwrap_err();
        assert_eq!((error.rejection, error.field.as_str()), (Rejection::TooLarge, "body"));
    }
}

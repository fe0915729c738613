//! What a stream record of the table says happened to an image in a context: pure, so every
//! kind of record (and the ones that announce nothing) is unit-tested without a stream.

use super::NotifyError;
use aws_lambda_events::event::dynamodb::EventRecord;
use inventory_store::clock::format_time;
use inventory_store::findings::ImageFindingsRecord;
use inventory_store::keys::{inventory_pk, ItemKind};
use inventory_store::model::{ImageRecord, InventoryType, RemovalReason, WorkloadContainers, MIGRATED_ATTRIBUTE};
use inventory_store::sbom::{ImageSbomRecord, PackageWatch, WatchSpec};
use serde::{Deserialize, Serialize};

/// The principal of the deletes DynamoDB's TTL makes (`userIdentity` of their `REMOVE`s).
pub const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// The `detail` of `Runtime Inventory Image Added`: an image that appeared in a context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAdded {
    pub account: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_digest: String,
    pub image_tag: String,
    pub first_seen: String,
    pub workloads: Vec<WorkloadContainers>,
}

/// The `detail` of `Runtime Inventory Image Removed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRemoved {
    pub account: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub image_digest: String,
    pub image_tag: String,
    pub reason: RemovalReason,
    pub first_seen: String,
    pub last_seen: String,
    /// When the record was deleted (the stream record's time).
    pub removed_at: String,
}

/// The kinds of items whose stream records announce something; the template's stream filter
/// passes exactly these (a template test checks it).
pub const ANNOUNCED_KINDS: [&str; 4] =
    [ItemKind::Image.as_str(), ItemKind::Findings.as_str(), ItemKind::Sbom.as_str(), ItemKind::PackageWatch.as_str()];

/// What one stream record announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `event_id` is the stream record's `eventID`: the same on every delivery of it.
    Added {
        event_id: String,
        added: ImageAdded,
    },
    Removed {
        event_id: String,
        removed: ImageRemoved,
    },
    /// A post replaced some scanner's findings of an image: where it runs may now be exposed.
    FindingsChanged {
        event_id: String,
        account: String,
        image_digest: String,
    },
    /// A post replaced an image's SBOM with other packages: watches may match where it runs.
    SbomChanged {
        event_id: String,
        account: String,
        image_digest: String,
    },
    /// A package watch was made: it fires for what already runs.
    WatchCreated {
        event_id: String,
        account: String,
        watch: WatchSpec,
    },
}

/// The account of a record's partition key (`{account}#…`).
fn account_in(pk: &str) -> Result<String, NotifyError> {
    pk.split_once('#')
        .map(|(account, _)| account.to_owned())
        .ok_or_else(|| NotifyError::Unreadable(format!("partition key {pk:?} names no account")))
}

fn decoded<T: serde::de::DeserializeOwned>(item: &serde_dynamo::Item) -> Result<Option<T>, NotifyError> {
    if item.is_empty() {
        return Ok(None);
    }
    serde_dynamo::from_item(item.clone()).map(Some).map_err(|e| NotifyError::Unreadable(e.to_string()))
}

/// An SBOM record written by a post's final write (not its lease) naming other packages than
/// it did.
fn sbom_change(record: &EventRecord) -> Result<Option<Change>, NotifyError> {
    let Some(new) = decoded::<ImageSbomRecord>(&record.change.new_image)? else { return Ok(None) };
    let old = decoded::<ImageSbomRecord>(&record.change.old_image)?;
    let generation = |record: &ImageSbomRecord| record.current.as_ref().map(|current| current.generation.clone());
    let changed = old.as_ref().is_none_or(|old| generation(old) != generation(&new));
    if new.lock_owner.is_some() || !changed || new.current.is_none() {
        return Ok(None);
    }
    let account = account_in(&new.pk)?;
    Ok(Some(Change::SbomChanged { event_id: record.event_id.clone(), account, image_digest: new.image_digest }))
}

fn watch_created(record: &EventRecord) -> Result<Option<Change>, NotifyError> {
    let Some(watch) = decoded::<PackageWatch>(&record.change.new_image)? else { return Ok(None) };
    let account = account_in(&watch.pk)?;
    Ok(Some(Change::WatchCreated { event_id: record.event_id.clone(), account, watch: watch.spec }))
}

/// Each scanner's current generation: what a post changes when it stores new findings.
fn generations(record: &ImageFindingsRecord) -> Vec<(&str, &str)> {
    record.scanners.iter().map(|(scanner, part)| (scanner.as_str(), part.generation.as_str())).collect()
}

/// A findings record written by a post's final write (not its lease) with findings that differ
/// from what it held.
fn findings_change(record: &EventRecord) -> Result<Option<Change>, NotifyError> {
    let read = |item: &serde_dynamo::Item| -> Result<Option<ImageFindingsRecord>, NotifyError> {
        if item.is_empty() {
            return Ok(None);
        }
        serde_dynamo::from_item(item.clone()).map(Some).map_err(|e| NotifyError::Unreadable(e.to_string()))
    };
    let Some(new) = read(&record.change.new_image)? else { return Ok(None) };
    let old = read(&record.change.old_image)?;
    let changed = old.as_ref().is_none_or(|old| generations(old) != generations(&new));
    if new.lock_owner.is_some() || !changed || new.scanners.is_empty() {
        return Ok(None);
    }
    let account = new.pk.split_once('#').map(|(account, _)| account.to_owned());
    let account =
        account.ok_or_else(|| NotifyError::Unreadable(format!("partition key {:?} names no account", new.pk)))?;
    Ok(Some(Change::FindingsChanged { event_id: record.event_id.clone(), account, image_digest: new.image_digest }))
}

#[derive(Deserialize)]
struct Kind {
    #[serde(default)]
    kind: Option<String>,
}

pub(super) fn image_of(item: &serde_dynamo::Item) -> Result<Option<ImageRecord>, NotifyError> {
    let kind: Kind = serde_dynamo::from_item(item.clone()).map_err(|e| NotifyError::Unreadable(e.to_string()))?;
    if kind.kind.as_deref() != Some(ItemKind::Image.as_str()) {
        return Ok(None);
    }
    serde_dynamo::from_item(item.clone()).map(Some).map_err(|e| NotifyError::Unreadable(e.to_string()))
}

/// The account of an image record in the current layout; `None` for a record in the layout
/// before per-context partitions, which only `inventory-migrate` deletes.
pub(super) fn account_of(image: &ImageRecord) -> Result<Option<String>, NotifyError> {
    let (account, _) = image
        .pk
        .split_once('#')
        .ok_or_else(|| NotifyError::Unreadable(format!("partition key {:?} names no account", image.pk)))?;
    Ok((image.pk == inventory_pk(account, image.inventory_type, &image.context)).then(|| account.to_owned()))
}

/// The change a stream record announces, if any: an image record with a digest inserted
/// (added) or deleted (removed, with why). Refreshes, departures, returns, lock writes, other
/// kinds of items, images known only by tag and the migration's moves announce nothing.
pub fn change(record: &EventRecord) -> Result<Option<Change>, NotifyError> {
    let kind: Kind = serde_dynamo::from_item(record.change.new_image.clone()).unwrap_or(Kind { kind: None });
    let written = ["INSERT", "MODIFY"].contains(&record.event_name.as_str());
    match kind.kind.as_deref() {
        Some(kind) if written && kind == ItemKind::Findings.as_str() => return findings_change(record),
        Some(kind) if written && kind == ItemKind::Sbom.as_str() => return sbom_change(record),
        Some(kind) if record.event_name == "INSERT" && kind == ItemKind::PackageWatch.as_str() => {
            return watch_created(record)
        }
        _ => {}
    }
    let (item, added) = match record.event_name.as_str() {
        "INSERT" => (&record.change.new_image, true),
        "REMOVE" => (&record.change.old_image, false),
        _ => return Ok(None),
    };
    if added && item.contains_key(MIGRATED_ATTRIBUTE) {
        return Ok(None);
    }
    let Some(image) = image_of(item)? else { return Ok(None) };
    let Some(account) = account_of(&image)? else { return Ok(None) };
    if image.content.image_digest.is_empty() {
        // Known by tag only: it is announced by its digest's record.
        return Ok(None);
    }
    if added {
        return Ok(Some(Change::Added {
            event_id: record.event_id.clone(),
            added: ImageAdded {
                account,
                inventory_type: image.inventory_type,
                context: image.context,
                image_digest: image.content.image_digest,
                image_tag: image.content.image_tag,
                first_seen: format_time(image.tracking.first_seen),
                workloads: image.content.workloads,
            },
        }));
    }
    let reason = removal_reason(record, &image);
    Ok(Some(Change::Removed {
        event_id: record.event_id.clone(),
        removed: ImageRemoved {
            account,
            inventory_type: image.inventory_type,
            context: image.context,
            image_digest: image.content.image_digest,
            image_tag: image.content.image_tag,
            reason,
            first_seen: format_time(image.tracking.first_seen),
            last_seen: format_time(image.tracking.last_seen),
            removed_at: format_time(record.change.approximate_creation_date_time),
        },
    }))
}

/// Why an image record was deleted: by DynamoDB's TTL, by a `DELETE` route (which says so on
/// the record first), or else by a report in overwrite mode.
pub(super) fn removal_reason(record: &EventRecord, image: &ImageRecord) -> RemovalReason {
    let by_ttl = record.user_identity.as_ref().is_some_and(|identity| identity.principal_id == TTL_PRINCIPAL);
    match (by_ttl, image.removal) {
        (true, _) => RemovalReason::Expired,
        (false, Some(reason)) => reason,
        (false, None) => RemovalReason::Overwritten,
    }
}

impl Change {
    /// The stream record's `eventID`.
    pub fn event_id(&self) -> &str {
        match self {
            Self::Added { event_id, .. }
            | Self::Removed { event_id, .. }
            | Self::FindingsChanged { event_id, .. }
            | Self::SbomChanged { event_id, .. }
            | Self::WatchCreated { event_id, .. } => event_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use inventory_store::model::{ImageContent, Tracking};
    use serde_json::json;

    fn image(account: &str, context: &str, digest: &str) -> ImageRecord {
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        let content = ImageContent {
            image_digest: digest.into(),
            image_tag: "docker.io/library/nginx:1.27".into(),
            container_count: 2,
            workloads: Vec::new(),
            workload_count: None,
        };
        let tracking = Tracking { first_seen: at, last_seen: at, present: true, updated_at: at, expires_at: Some(1) };
        ImageRecord::new(account, InventoryType::Kubernetes, context, digest, content, tracking)
    }

    /// A stream record as Lambda delivers it (AWS's documented shape), for `image`.
    fn record(event_name: &str, image: &ImageRecord, user_identity: Option<serde_json::Value>) -> EventRecord {
        let item = serde_json::to_value(serde_dynamo::to_item::<_, serde_dynamo::Item>(image).unwrap()).unwrap();
        let (new_image, old_image) = if event_name == "REMOVE" { (json!(null), item) } else { (item, json!(null)) };
        serde_json::from_value(json!({
            "eventID": "c81e728d9d4c2f636f067f89cc14862c",
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-2",
            "userIdentity": user_identity,
            "dynamodb": {
                "ApproximateCreationDateTime": 1796200000.0,
                "Keys": {"pk": {"S": image.pk}, "sk": {"S": image.sk}},
                "NewImage": new_image,
                "OldImage": old_image,
                "SequenceNumber": "111",
                "SizeBytes": 26,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:eu-west-2:123456789012:table/t/stream/2026-11-20T00:00:00.000"
        }))
        .unwrap()
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn an_inserted_image_is_added() {
        let Some(Change::Added { event_id, added }) =
            change(&record("INSERT", &image("admin", "prod/web", DIGEST), None)).unwrap()
        else {
            panic!("an added image")
        };
        assert_eq!(event_id, "c81e728d9d4c2f636f067f89cc14862c");
        assert_eq!(
            (added.account.as_str(), added.context.as_str(), added.image_digest.as_str()),
            ("admin", "prod/web", DIGEST)
        );
        assert_eq!(added.first_seen, "2026-11-20T10:00:00.000Z");
    }

    #[test]
    fn a_removal_says_why() {
        let ttl = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
        let reason =
            |image: &ImageRecord, identity: Option<serde_json::Value>| match change(&record("REMOVE", image, identity))
                .unwrap()
            {
                Some(Change::Removed { removed, .. }) => removed.reason,
                other => panic!("a removal, got {other:?}"),
            };
        let plain = image("admin", "prod/web", DIGEST);
        assert_eq!(reason(&plain, Some(ttl.clone())), RemovalReason::Expired);
        assert_eq!(reason(&plain, None), RemovalReason::Overwritten);
        let marked = ImageRecord { removal: Some(RemovalReason::Deleted), ..plain.clone() };
        assert_eq!(reason(&marked, None), RemovalReason::Deleted);
        assert_eq!(reason(&marked, Some(ttl)), RemovalReason::Expired, "the TTL service said so last");
        let Some(Change::Removed { removed, .. }) = change(&record("REMOVE", &plain, None)).unwrap() else { panic!() };
        assert_eq!(removed.removed_at, "2026-12-02T08:26:40.000Z");
        assert_eq!(removed.last_seen, "2026-11-20T10:00:00.000Z");
    }

    #[test]
    fn updates_tag_only_images_other_items_and_moves_announce_nothing() {
        let plain = image("admin", "prod/web", DIGEST);
        assert_eq!(change(&record("MODIFY", &plain, None)).unwrap(), None, "refreshes and lock writes");
        assert_eq!(change(&record("INSERT", &image("admin", "prod/web", ""), None)).unwrap(), None, "tag only");
        assert_eq!(change(&record("REMOVE", &image("admin", "prod/web", ""), None)).unwrap(), None, "tag only");
        let old_layout = ImageRecord { pk: "admin#inv#kubernetes".into(), ..plain.clone() };
        assert_eq!(change(&record("REMOVE", &old_layout, None)).unwrap(), None, "the migration's deletes");
        let mut migrated = record("INSERT", &plain, None);
        migrated.change.new_image.insert(MIGRATED_ATTRIBUTE.into(), serde_dynamo::AttributeValue::Bool(true));
        assert_eq!(change(&migrated).unwrap(), None, "the migration's puts");
        let mut detail = record("INSERT", &plain, None);
        detail.change.new_image.insert("kind".into(), serde_dynamo::AttributeValue::S("detail".into()));
        assert_eq!(change(&detail).unwrap(), None);
    }
}

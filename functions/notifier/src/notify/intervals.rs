//! What a stream record of an image record means for its running intervals: pure. An image
//! inserted, or back in a context it had left, opens an interval; an image that leaves (a
//! departure) or whose record is deleted (overwrite, `DELETE`, TTL) closes it. Refreshes and
//! every other item write nothing, so an unchanged report adds no history.

use super::change::{account_of, image_of, removal_reason};
use super::NotifyError;
use aws_lambda_events::event::dynamodb::EventRecord;
use chrono::{DateTime, Utc};
use inventory_store::history::{IntervalPlace, IntervalRecord};
use inventory_store::model::{ImageRecord, RemovalReason, MIGRATED_ATTRIBUTE};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryStep {
    Open(IntervalRecord),
    Close { place: IntervalPlace, to: DateTime<Utc> },
}

impl HistoryStep {
    pub fn account(&self) -> &str {
        match self {
            Self::Open(interval) => &interval.account,
            Self::Close { place, .. } => &place.account,
        }
    }
}

fn place_of(image: &ImageRecord) -> Result<Option<IntervalPlace>, NotifyError> {
    if image.content.image_digest.is_empty() {
        return Ok(None);
    }
    Ok(account_of(image)?.map(|account| IntervalPlace {
        account,
        inventory_type: image.inventory_type,
        context: image.context.clone(),
        image_digest: image.content.image_digest.clone(),
    }))
}

fn open(image: &ImageRecord, from: DateTime<Utc>) -> Result<Option<HistoryStep>, NotifyError> {
    Ok(place_of(image)?
        .map(|place| HistoryStep::Open(place.open(&image.content.image_tag, image.content.workloads.clone(), from))))
}

/// The history step of one stream record, if any.
pub fn history_step(record: &EventRecord) -> Result<Option<HistoryStep>, NotifyError> {
    let change = &record.change;
    match record.event_name.as_str() {
        "INSERT" if !change.new_image.contains_key(MIGRATED_ATTRIBUTE) => match image_of(&change.new_image)? {
            Some(new) if new.tracking.present => open(&new, new.tracking.first_seen),
            _ => Ok(None),
        },
        "MODIFY" => {
            let (Some(old), Some(new)) = (image_of(&change.old_image)?, image_of(&change.new_image)?) else {
                return Ok(None);
            };
            match (old.tracking.present, new.tracking.present) {
                // Back in the context: a new interval from the report that saw it again.
                (false, true) => open(&new, new.tracking.last_seen),
                // Departed: its last sighting is exact.
                (true, false) => {
                    Ok(place_of(&new)?.map(|place| HistoryStep::Close { place, to: new.tracking.last_seen }))
                }
                _ => Ok(None),
            }
        }
        "REMOVE" => {
            let Some(old) = image_of(&change.old_image)? else { return Ok(None) };
            if !old.tracking.present {
                // It departed first: that closed its interval.
                return Ok(None);
            }
            // A present item's `last_seen` lags its true last sighting by up to its refresh
            // interval; a report in overwrite mode or a `DELETE` removes it at the record's time.
            let to = match removal_reason(record, &old) {
                RemovalReason::Expired => old.tracking.last_seen,
                _ => change.approximate_creation_date_time,
            };
            Ok(place_of(&old)?.map(|place| HistoryStep::Close { place, to }))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use inventory_store::model::{ImageContent, InventoryType, Tracking};
    use serde_json::json;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, hour, 0, 0).unwrap()
    }

    fn image(digest: &str, present: bool, first_seen: u32, last_seen: u32) -> ImageRecord {
        let content = ImageContent {
            image_digest: digest.into(),
            image_tag: "docker.io/library/nginx:1.27".into(),
            container_count: 1,
            workloads: Vec::new(),
            workload_count: None,
        };
        let tracking = Tracking {
            first_seen: at(first_seen),
            last_seen: at(last_seen),
            present,
            updated_at: at(last_seen),
            expires_at: None,
        };
        ImageRecord::new("admin", InventoryType::Kubernetes, "prod/shop", digest, content, tracking)
    }

    fn record(event: &str, old: Option<&ImageRecord>, new: Option<&ImageRecord>, at_hour: u32) -> EventRecord {
        let item = |image: Option<&ImageRecord>| {
            image.map_or(json!({}), |image| {
                serde_json::to_value(serde_dynamo::to_item::<_, serde_dynamo::Item>(image).unwrap()).unwrap()
            })
        };
        serde_json::from_value(json!({
            "eventID": "1", "eventName": event, "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": {"ApproximateCreationDateTime": at(at_hour).timestamp(), "Keys": {},
                         "NewImage": item(new), "OldImage": item(old), "SequenceNumber": "1", "SizeBytes": 26,
                         "StreamViewType": "NEW_AND_OLD_IMAGES"}
        }))
        .unwrap()
    }

    fn opened_from(step: Option<HistoryStep>) -> DateTime<Utc> {
        match step {
            Some(HistoryStep::Open(interval)) => interval.from,
            other => panic!("an open, not {other:?}"),
        }
    }

    fn closed_at(step: Option<HistoryStep>) -> DateTime<Utc> {
        match step {
            Some(HistoryStep::Close { to, .. }) => to,
            other => panic!("a close, not {other:?}"),
        }
    }

    #[test]
    fn appearing_leaving_and_returning_open_and_close_intervals() {
        let first = image("sha256:a", true, 10, 10);
        assert_eq!(opened_from(history_step(&record("INSERT", None, Some(&first), 10)).unwrap()), at(10));
        let departed = image("sha256:a", false, 10, 12);
        assert_eq!(closed_at(history_step(&record("MODIFY", Some(&first), Some(&departed), 13)).unwrap()), at(12));
        let back = image("sha256:a", true, 10, 15);
        assert_eq!(opened_from(history_step(&record("MODIFY", Some(&departed), Some(&back), 15)).unwrap()), at(15));
        let refreshed = image("sha256:a", true, 10, 16);
        assert_eq!(history_step(&record("MODIFY", Some(&back), Some(&refreshed), 16)).unwrap(), None, "a refresh");
    }

    #[test]
    fn a_deleted_record_closes_at_its_deletion_unless_it_had_departed() {
        let present = image("sha256:a", true, 10, 11);
        assert_eq!(closed_at(history_step(&record("REMOVE", Some(&present), None, 14)).unwrap()), at(14));
        let departed = image("sha256:a", false, 10, 11);
        assert_eq!(history_step(&record("REMOVE", Some(&departed), None, 14)).unwrap(), None);
        let tag_only = image("", true, 10, 10);
        assert_eq!(history_step(&record("INSERT", None, Some(&tag_only), 10)).unwrap(), None, "no digest");
    }
}

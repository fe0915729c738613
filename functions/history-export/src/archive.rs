//! The archive's rows and objects: every interval that ran on a day, as one gzip JSON Lines
//! object under that day's `dt=` partition, the same bytes each time the day is exported.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use inventory_store::coverage::cluster_of;
use inventory_store::history::IntervalRecord;
use inventory_store::model::{InventoryType, WorkloadContainers};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// Where the interval rows are kept in the bucket; the Glue table's location.
pub const INTERVALS_PREFIX: &str = "intervals/";

/// The most days one export writes: each day's object is built in memory until it is uploaded.
pub const MAX_EXPORT_DAYS: i64 = 31;

/// A day's object: `intervals/dt=YYYY-MM-DD/intervals.json.gz`.
pub fn object_key(day: NaiveDate) -> String {
    format!("{INTERVALS_PREFIX}dt={}/intervals.json.gz", day.format("%Y-%m-%d"))
}

/// One row of the archive: an interval that ran on the partition's day. An interval that spans
/// several days is a row of each. The Glue table's columns are these fields, in this order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ArchivedInterval {
    pub account: String,
    pub inventory_type: InventoryType,
    /// The Kubernetes cluster (the context before its namespace) or the ECS cluster's ARN.
    pub cluster: String,
    pub context: String,
    pub image_digest: String,
    pub image_tag: String,
    /// The image's registry: the tag's first component (tags are stored with their registry).
    pub registry: String,
    pub workloads: Vec<WorkloadContainers>,
    pub started_at: String,
    /// When it stopped; null while it still ran when the day was exported.
    pub ended_at: Option<String>,
    /// Whether it still ran at the day's end: the day's rows with this set are a snapshot of
    /// what ran then.
    pub running_at_day_end: bool,
}

/// The UTC day's bounds: its first instant and the next day's.
fn bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    (start, start + TimeDelta::days(1))
}

impl ArchivedInterval {
    /// The interval's row in `day`'s partition, if it ran that day.
    pub fn on_day(record: &IntervalRecord, day: NaiveDate) -> Option<Self> {
        let (start, next) = bounds(day);
        if record.from >= next || record.to.is_some_and(|to| to < start) {
            return None;
        }
        Some(Self {
            account: record.account.clone(),
            inventory_type: record.inventory_type,
            cluster: cluster_of(record.inventory_type, &record.context).to_owned(),
            context: record.context.clone(),
            image_digest: record.image_digest.clone(),
            image_tag: record.image_tag.clone(),
            registry: record.image_tag.split_once('/').map_or("", |(registry, _)| registry).to_owned(),
            workloads: record.workloads.clone(),
            started_at: inventory_store::clock::format_time(record.from),
            ended_at: record.to.map(inventory_store::clock::format_time),
            running_at_day_end: record.to.is_none_or(|to| to >= next),
        })
    }
}

/// The days an export writes, first to last, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    first: NaiveDate,
    last: NaiveDate,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    #[error("the range ends ({last}) before it starts ({first})")]
    Reversed { first: NaiveDate, last: NaiveDate },
    #[error("an export writes at most {MAX_EXPORT_DAYS} days; {days} were asked: export a month at a time")]
    TooLong { days: i64 },
    #[error("{day} has not ended yet: a day is exported once it is over")]
    NotOver { day: NaiveDate },
    #[error(
        "{day} is older than the history kept (HistoryRetentionDays {retention_days}): its intervals may have \
         expired, and exporting it again would replace its archived object with fewer rows"
    )]
    PastRetention { day: NaiveDate, retention_days: u32 },
}

impl DayRange {
    /// The days from `first` to `last`, all of them over at `now`.
    pub fn new(first: NaiveDate, last: NaiveDate, now: DateTime<Utc>) -> Result<Self, RangeError> {
        if last < first {
            return Err(RangeError::Reversed { first, last });
        }
        let days = (last - first).num_days() + 1;
        if days > MAX_EXPORT_DAYS {
            return Err(RangeError::TooLong { days });
        }
        if bounds(last).1 > now {
            return Err(RangeError::NotOver { day: last });
        }
        Ok(Self { first, last })
    }

    /// The range, if every interval that ran on its days is still in the table at `now`: one
    /// that ended on a day is kept `retention_days` after it, so a day is whole until its start
    /// plus the retention.
    pub fn within_retention(self, now: DateTime<Utc>, retention_days: u32) -> Result<Self, RangeError> {
        if bounds(self.first).0 + TimeDelta::days(i64::from(retention_days)) <= now {
            return Err(RangeError::PastRetention { day: self.first, retention_days });
        }
        Ok(self)
    }

    /// The day before `now`'s: what the daily schedule exports.
    pub fn yesterday(now: DateTime<Utc>) -> Self {
        let day = now.date_naive() - TimeDelta::days(1);
        Self { first: day, last: day }
    }

    /// The first day's first instant: every interval to export ended then or later.
    pub fn start(&self) -> DateTime<Utc> {
        bounds(self.first).0
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        let last = self.last;
        self.first.iter_days().take_while(move |day| *day <= last)
    }
}

/// One day's object while it is built: its rows compressed as they are added.
pub struct DayArchive {
    pub day: NaiveDate,
    pub rows: usize,
    body: GzEncoder<Vec<u8>>,
}

impl DayArchive {
    pub fn new(day: NaiveDate) -> Self {
        // The gzip header's time stays 0, so the same rows give the same bytes.
        Self { day, rows: 0, body: GzEncoder::new(Vec::new(), Compression::default()) }
    }

    /// Adds the interval's row if it ran on this day.
    pub fn add(&mut self, record: &IntervalRecord) -> std::io::Result<()> {
        let Some(row) = ArchivedInterval::on_day(record, self.day) else { return Ok(()) };
        serde_json::to_writer(&mut self.body, &row)?;
        self.body.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    /// The gzip object's bytes.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        self.body.finish()
    }
}

/// Whose rows a data-removal request takes out of the archive: one context's, as
/// `DELETE /v2/history` takes them out of the table.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RemovedContext {
    pub account: String,
    pub inventory_type: InventoryType,
    pub context: String,
}

impl RemovedContext {
    fn matches(&self, row: &ArchivedInterval) -> bool {
        row.account == self.account && row.inventory_type == self.inventory_type && row.context == self.context
    }
}

/// A day's object without `removed`'s rows, the others kept byte for byte in their order; the
/// rows it took out. Reads the archive's own rows: a line that is not one is an error.
pub fn without_context(gzip: &[u8], removed: &RemovedContext) -> std::io::Result<(Vec<u8>, usize)> {
    use std::io::BufRead;
    let mut kept = GzEncoder::new(Vec::new(), Compression::default());
    let mut taken = 0;
    for line in std::io::BufReader::new(flate2::read::GzDecoder::new(gzip)).lines() {
        let line = line?;
        let row: ArchivedInterval = serde_json::from_str(&line)?;
        if removed.matches(&row) {
            taken += 1;
        } else {
            kept.write_all(line.as_bytes())?;
            kept.write_all(b"\n")?;
        }
    }
    Ok((kept.finish()?, taken))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use flate2::read::GzDecoder;
    use inventory_store::history::IntervalPlace;
    use std::io::Read;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    fn date(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn interval(context: &str, from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> IntervalRecord {
        let place = IntervalPlace {
            account: "admin".into(),
            inventory_type: InventoryType::Kubernetes,
            context: context.into(),
            image_digest: "sha256:abc".into(),
        };
        let open = place.open("registry.example.com/shop/web:1.2", Vec::new(), from);
        match to {
            Some(to) => open.closed(to, 400),
            None => open,
        }
    }

    #[test]
    fn an_interval_is_a_row_of_every_day_it_ran_on_and_says_whether_it_ran_at_the_days_end() {
        let record = interval("prod/shop", at(10, 22), Some(at(12, 3)));
        assert_eq!(ArchivedInterval::on_day(&record, date(9)), None);
        let first = ArchivedInterval::on_day(&record, date(10)).unwrap();
        assert!(first.running_at_day_end);
        assert_eq!((first.cluster.as_str(), first.registry.as_str()), ("prod", "registry.example.com"));
        assert_eq!(first.started_at, "2026-11-10T22:00:00.000Z");
        assert_eq!(first.ended_at.as_deref(), Some("2026-11-12T03:00:00.000Z"));
        assert!(ArchivedInterval::on_day(&record, date(11)).unwrap().running_at_day_end);
        assert!(!ArchivedInterval::on_day(&record, date(12)).unwrap().running_at_day_end);
        assert_eq!(ArchivedInterval::on_day(&record, date(13)), None);

        let running = interval("prod/shop", at(10, 22), None);
        let row = ArchivedInterval::on_day(&running, date(20)).unwrap();
        assert!(row.running_at_day_end && row.ended_at.is_none());
        let ended_at_midnight = interval("prod/shop", at(10, 22), Some(at(11, 0)));
        assert!(ArchivedInterval::on_day(&ended_at_midnight, date(11)).is_some(), "it ran at the day's first instant");
    }

    #[test]
    fn a_day_gives_the_same_bytes_each_time_and_one_json_line_per_row() {
        let build = || {
            let mut archive = DayArchive::new(date(11));
            archive.add(&interval("prod/shop", at(10, 1), None)).unwrap();
            archive.add(&interval("prod/cart", at(12, 1), None)).unwrap();
            archive.add(&interval("prod/pay", at(9, 1), Some(at(11, 5)))).unwrap();
            (archive.rows, archive.finish().unwrap())
        };
        let (rows, bytes) = build();
        assert_eq!(rows, 2, "the interval that started on the 12th is not a row of the 11th");
        assert_eq!(build().1, bytes);
        let mut text = String::new();
        GzDecoder::new(bytes.as_slice()).read_to_string(&mut text).unwrap();
        let contexts: Vec<String> =
            text.lines().map(|line| serde_json::from_str::<ArchivedInterval>(line).unwrap().context).collect();
        assert_eq!(contexts, ["prod/shop", "prod/pay"]);
        assert_eq!(object_key(date(11)), "intervals/dt=2026-11-11/intervals.json.gz");
        let empty = DayArchive::new(date(1)).finish().unwrap();
        let mut text = String::from("?");
        GzDecoder::new(empty.as_slice()).read_to_string(&mut text).unwrap();
        assert_eq!(text, "?", "a day without rows is a valid, empty gzip object");
    }

    #[test]
    fn a_range_holds_only_days_that_are_over_and_at_most_a_month() {
        let now = at(12, 0);
        let range = DayRange::new(date(1), date(11), now).unwrap();
        assert_eq!(range.days().count(), 11);
        assert_eq!(range.start(), at(1, 0));
        assert_eq!(DayRange::new(date(11), date(12), now), Err(RangeError::NotOver { day: date(12) }));
        assert_eq!(DayRange::new(date(5), date(4), now), Err(RangeError::Reversed { first: date(5), last: date(4) }));
        let long = DayRange::new(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(), date(11), now);
        assert_eq!(long, Err(RangeError::TooLong { days: 42 }));
        assert_eq!(DayRange::yesterday(at(12, 0)).days().collect::<Vec<_>>(), [date(11)]);
    }
}

//! FIRST's EPSS scores as published daily (`epss_scores-YYYY-MM-DD.csv.gz`): a first line
//! `#model_version:vYYYY.MM.DD,score_date:YYYY-MM-DDTHH:MM:SS+0000`, a header
//! `cve,epss,percentile`, then one row per CVE. Read while decompressing, within bounds on the
//! compressed and the decompressed size and on the rows, so a hostile file is refused at its bound.

use super::CveId;
use crate::field::FieldError;
use crate::limits::{MAX_EPSS_CSV_BYTES, MAX_EPSS_FEED_BYTES, MAX_EPSS_ROWS};
use chrono::{DateTime, NaiveDate};
use flate2::read::MultiGzDecoder;
use std::io::{self, BufRead, BufReader, Read};

/// A probability or a percentile in billionths, 0 to 1,000,000,000: the feed's five decimals
/// (nine in some of its files) kept exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fraction(u32);

impl Fraction {
    const SCALE: u32 = 1_000_000_000;

    fn parse(raw: &[u8]) -> Option<Self> {
        Self::parse_decimal(raw).or_else(|| {
            let value: f64 = std::str::from_utf8(raw).ok()?.trim().parse().ok()?;
            (0.0..=1.0).contains(&value).then(|| Self((value * f64::from(Self::SCALE)).round() as u32))
        })
    }

    /// The feed's own form, `d.ddddd` with up to nine decimals, in integers (most of the parse's
    /// time otherwise); anything else goes through `f64`.
    fn parse_decimal(raw: &[u8]) -> Option<Self> {
        let (&whole, rest) = raw.split_first()?;
        let decimals = match rest.split_first() {
            None => &[][..],
            Some((b'.', decimals)) if decimals.len() <= 9 => decimals,
            Some(_) => return None,
        };
        if !whole.is_ascii_digit() {
            return None;
        }
        let fraction = decimals
            .iter()
            .try_fold(0u32, |total, byte| byte.is_ascii_digit().then(|| total * 10 + u32::from(byte - b'0')))?;
        let value = u32::from(whole - b'0') * Self::SCALE + fraction * 10u32.pow(9 - decimals.len() as u32);
        (value <= Self::SCALE).then_some(Self(value))
    }

    pub fn value(self) -> f64 {
        f64::from(self.0) / f64::from(Self::SCALE)
    }
}

impl std::fmt::Display for Fraction {
    /// As few decimals as the value needs (`0.00043`, `1.0`).
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let decimals = format!("{:09}", self.0 % Self::SCALE);
        let decimals = decimals.trim_end_matches('0');
        write!(formatter, "{}.{}", self.0 / Self::SCALE, if decimals.is_empty() { "0" } else { decimals })
    }
}

/// One CVE's score on the feed's date.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpssScore {
    pub epss: Fraction,
    pub percentile: Fraction,
    pub date: NaiveDate,
}

/// One day's scores, sorted by CVE for lookups without strings.
#[derive(Clone, Debug, PartialEq)]
pub struct EpssFeed {
    pub model_version: String,
    pub score_date: NaiveDate,
    /// The first line's `score_date` as published (`2025-03-14T00:00:00+0000`).
    score_time: String,
    scores: Vec<(CveId, Fraction, Fraction)>,
}

impl EpssFeed {
    /// The feed's bytes, gzip-compressed as FIRST publishes them or already decompressed (a
    /// mirror may serve either). Refused whole, naming the line, when it is not the documented
    /// shape: a truncated or corrupt gzip stream, no rows, a bad CVE id, a score outside 0–1.
    pub fn parse(body: &[u8]) -> Result<Self, FieldError> {
        if body.len() > MAX_EPSS_FEED_BYTES {
            return Err(FieldError::too_large("body", format!("over {MAX_EPSS_FEED_BYTES} bytes")));
        }
        let decompressed: Box<dyn Read + '_> =
            if body.starts_with(&[0x1f, 0x8b]) { Box::new(MultiGzDecoder::new(body)) } else { Box::new(body) };
        let mut reader =
            BufReader::with_capacity(256 * 1024, Bounded { inner: decompressed, left: MAX_EPSS_CSV_BYTES });
        let (model_version, score_time, score_date) = first_line(&mut reader)?;
        let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
        let header = csv.byte_headers().map_err(|error| read_error(&error, 2))?;
        if header != vec!["cve", "epss", "percentile"] {
            return Err(FieldError::invalid("line 2", "the header is not `cve,epss,percentile`"));
        }
        let mut scores = Vec::with_capacity(320_000);
        let mut row = csv::ByteRecord::new();
        loop {
            let line = csv.position().line() + 1;
            match csv.read_byte_record(&mut row) {
                Ok(false) => break,
                Ok(true) if scores.len() == MAX_EPSS_ROWS => {
                    return Err(FieldError::too_large("body", format!("over {MAX_EPSS_ROWS} rows")));
                }
                Ok(true) => scores
                    .push(score_row(&row).map_err(|message| FieldError::invalid(format!("line {line}"), message))?),
                Err(error) => return Err(read_error(&error, line)),
            }
        }
        if scores.is_empty() {
            return Err(FieldError::invalid("body", "the feed has no scores"));
        }
        scores.sort_unstable_by_key(|(cve, ..)| *cve);
        scores.dedup_by_key(|(cve, ..)| *cve);
        Ok(Self { model_version, score_date, score_time, scores })
    }

    pub fn score(&self, cve: CveId) -> Option<EpssScore> {
        let index = self.scores.binary_search_by_key(&cve, |(id, ..)| *id).ok()?;
        let (_, epss, percentile) = self.scores[index];
        Some(EpssScore { epss, percentile, date: self.score_date })
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The feed in its published shape, uncompressed, which `parse` reads back to the same
    /// scores: the stored form.
    pub fn to_csv(&self) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::with_capacity(self.scores.len() * 32 + 128);
        let _ = writeln!(out, "#model_version:{},score_date:{}", self.model_version, self.score_time);
        out.extend_from_slice(b"cve,epss,percentile\n");
        for (cve, epss, percentile) in &self.scores {
            let _ = writeln!(out, "{cve},{epss},{percentile}");
        }
        out
    }
}

/// A made-up feed in FIRST's exact shape, uncompressed, for the benchmarks: `rows` CVEs dated
/// `day` (`YYYY-MM-DD`), scores drawn like the real file's (most near zero) from `seed`.
pub fn synthetic(rows: usize, day: &str, seed: u64) -> String {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut text = format!("#model_version:v2025.03.14,score_date:{day}T12:55:00+0000\ncve,epss,percentile\n");
    for row in 0..rows {
        let (year, number) = (1999 + row / 20_000, 1000 + row % 20_000);
        let epss = next().powi(6);
        text.push_str(&format!("CVE-{year}-{number},{epss:.5},{:.5}\n", next()));
    }
    text
}

/// `#model_version:v2025.03.14,score_date:2025-03-14T00:00:00+0000`: the version and the date.
fn first_line(reader: &mut impl BufRead) -> Result<(String, String, NaiveDate), FieldError> {
    let invalid = |message: String| FieldError::invalid("line 1", message);
    let mut line = Vec::new();
    reader.take(1024).read_until(b'\n', &mut line).map_err(|error| invalid(format!("unreadable: {error}")))?;
    let line = std::str::from_utf8(&line).map_err(|_| invalid("not UTF-8".into()))?.trim_end();
    let shape = || invalid(format!("{line:?} is not `#model_version:…,score_date:…`"));
    let fields = line.strip_prefix('#').ok_or_else(shape)?;
    let (version, date) = fields.split_once(',').ok_or_else(shape)?;
    let version = version.strip_prefix("model_version:").ok_or_else(shape)?;
    let date = date.strip_prefix("score_date:").ok_or_else(shape)?;
    let parsed = DateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S%z")
        .map_err(|_| invalid(format!("score_date {date:?} is not YYYY-MM-DDTHH:MM:SS+0000")))?;
    if version.is_empty() || version.len() > 64 {
        return Err(shape());
    }
    Ok((version.to_owned(), date.to_owned(), parsed.date_naive()))
}

fn score_row(row: &csv::ByteRecord) -> Result<(CveId, Fraction, Fraction), String> {
    let [cve, epss, percentile] = [0, 1, 2].map(|index| row.get(index).unwrap_or_default());
    if row.len() != 3 {
        return Err(format!("{} fields, not 3 (cve,epss,percentile)", row.len()));
    }
    let text = |raw: &[u8]| String::from_utf8_lossy(raw).chars().take(64).collect::<String>();
    let cve = CveId::parse_bytes(cve).ok_or_else(|| format!("{:?} is not a CVE id", text(cve)))?;
    let fraction = |name: &str, raw: &[u8]| {
        Fraction::parse(raw).ok_or_else(|| format!("{cve}: {name} {:?} is not a number from 0 to 1", text(raw)))
    };
    Ok((cve, fraction("epss", epss)?, fraction("percentile", percentile)?))
}

/// A read error: a decompressed size past the bound, a broken gzip stream, or a malformed row.
fn read_error(error: &csv::Error, line: u64) -> FieldError {
    match error.kind() {
        csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::FileTooLarge => {
            FieldError::too_large("body", format!("over {MAX_EPSS_CSV_BYTES} bytes decompressed"))
        }
        csv::ErrorKind::Io(io) => FieldError::invalid("body", format!("truncated or corrupt at line {line}: {io}")),
        _ => FieldError::invalid(format!("line {line}"), error.to_string()),
    }
}

/// A reader that fails past `left` bytes, so decompression stops at the bound.
struct Bounded<R> {
    inner: R,
    left: usize,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a stream that ends at the bound from one that goes on.
            return match self.inner.read(&mut [0u8])? {
                0 => Ok(0),
                _ => Err(io::Error::new(io::ErrorKind::FileTooLarge, "past the decompressed bound")),
            };
        }
        let wanted = buffer.len().min(self.left);
        let read = self.inner.read(&mut buffer[..wanted])?;
        self.left -= read;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    const HEAD: &str = "#model_version:v2025.03.14,score_date:2025-03-14T12:55:00+0000\ncve,epss,percentile\n";

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    fn cve(id: &str) -> CveId {
        CveId::parse(id).unwrap()
    }

    #[test]
    fn the_published_shape_reads_compressed_or_not_and_its_stored_form_reads_back() {
        let text = format!("{HEAD}CVE-2021-44228,0.94358,0.99990\nCVE-1999-0001,0.01000,0.80000\n");
        let feed = EpssFeed::parse(&gzip(&text)).unwrap();
        assert_eq!(feed, EpssFeed::parse(text.as_bytes()).unwrap());
        assert_eq!((feed.model_version.as_str(), feed.score_date.to_string()), ("v2025.03.14", "2025-03-14".into()));
        let score = feed.score(cve("CVE-2021-44228")).unwrap();
        assert_eq!((score.epss.value(), score.percentile.value()), (0.94358, 0.9999));
        assert_eq!(feed.score(cve("CVE-2020-0001")), None);
        assert_eq!(EpssFeed::parse(&feed.to_csv()).unwrap(), feed);
        assert!(String::from_utf8(feed.to_csv()).unwrap().contains("CVE-1999-0001,0.01,0.8\n"));
        let precise = format!(
            "{HEAD}CVE-2022-27225,0.001870000,1.000000000\nCVE-2022-27226,0.000000001,0\nCVE-2022-27227,1e-5,.5\n"
        );
        let precise = EpssFeed::parse(precise.as_bytes()).unwrap();
        assert!(String::from_utf8(precise.to_csv())
            .unwrap()
            .ends_with("CVE-2022-27225,0.00187,1.0\nCVE-2022-27226,0.000000001,0.0\nCVE-2022-27227,0.00001,0.5\n"));
        assert_eq!(EpssFeed::parse(&precise.to_csv()).unwrap(), precise);
    }

    #[test]
    fn a_feed_not_as_documented_is_refused_naming_the_line() {
        let refused = |text: &str| EpssFeed::parse(&gzip(text)).unwrap_err();
        let error = refused(&format!("{HEAD}CVE-2021-44228,0.9,0.9\nCVE-2021-1,0.5,0.5\n"));
        assert_eq!(error.field, "line 4", "{error}");
        let error = refused(&format!("{HEAD}CVE-2021-44228,1.5,0.9\n"));
        assert_eq!(error.field, "line 3", "{error}");
        assert!(error.message.contains("epss \"1.5\""), "{error}");
        assert_eq!(refused(&format!("{HEAD}CVE-2021-44228,-0.1,0.9\n")).field, "line 3");
        assert_eq!(refused(&format!("{HEAD}CVE-2021-44228,NaN,0.9\n")).field, "line 3");
        assert_eq!(refused(&format!("{HEAD}CVE-2021-44228,1.000000001,0.9\n")).field, "line 3");
        assert_eq!(refused(&format!("{HEAD}CVE-2021-44228,2,0.9\n")).field, "line 3");
        assert_eq!(refused(&format!("{HEAD}CVE-2021-44228,0.5,\n")).field, "line 3");
        assert_eq!(refused(&format!("{HEAD}CVE-2021-44228,0.5\n")).field, "line 3");
        assert_eq!(refused(HEAD).message, "the feed has no scores");
        assert_eq!(refused("").field, "line 1");
        assert_eq!(refused("cve,epss,percentile\nCVE-2021-44228,0.5,0.5\n").field, "line 1");
        assert_eq!(refused("#model_version:v1,score_date:2025-03-14T00:00:00+0000\ncve,score\n").field, "line 2");
        let whole = gzip(&format!("{HEAD}{}", "CVE-2021-44228,0.94358,0.99990\n".repeat(1000)));
        let error = EpssFeed::parse(&whole[..whole.len() - 10]).unwrap_err();
        assert_eq!(error.field, "body", "{error}");
        assert!(error.message.starts_with("truncated or corrupt"), "{error}");
    }

    #[test]
    fn decompression_stops_at_the_bound() {
        // A gzip bomb: some 60 KB that would decompress past the bound (blank lines, which the
        // CSV reader skips, so only the byte bound can stop it).
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(HEAD.as_bytes()).unwrap();
        let blank = vec![b'\n'; 1 << 20];
        for _ in 0..=MAX_EPSS_CSV_BYTES / blank.len() {
            encoder.write_all(&blank).unwrap();
        }
        let error = EpssFeed::parse(&encoder.finish().unwrap()).unwrap_err();
        assert!(error.is_too_large(), "{error}");
    }
}

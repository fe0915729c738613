//! Threat data: CISA's Known Exploited Vulnerabilities catalog (`kev`), FIRST's EPSS scores
//! (`epss`), and what they make of a finding: its risk and its remediation due date (`risk`).
//! Parsing is strict and bounded (a feed that is not the documented shape names the row that is
//! not, so the run fails and the stored data stays as it was); the feeds' transport and storage
//! live in the store and the findings sync.

pub mod epss;
pub mod kev;
pub mod risk;

pub use epss::{EpssFeed, EpssScore};
pub use kev::{KevCatalog, KevEntry};
pub use risk::{due_at, risk, RiskInput, SlaPolicy};

use crate::field::FieldError;
use crate::findings::Severity;
use chrono::NaiveDate;
use flate2::read::MultiGzDecoder;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::sync::Arc;

/// A feed's bytes decompressed when they are gzip (by their magic bytes), within `max` bytes
/// either way: decompression stops at the bound.
pub fn decompressed(body: &[u8], max: usize) -> Result<Cow<'_, [u8]>, FieldError> {
    let too_large = || FieldError::too_large("body", format!("over {max} bytes"));
    if !body.starts_with(&[0x1f, 0x8b]) {
        return if body.len() > max { Err(too_large()) } else { Ok(Cow::Borrowed(body)) };
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(body)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| FieldError::invalid("body", format!("truncated or corrupt gzip: {error}")))?;
    if out.len() > max {
        return Err(too_large());
    }
    Ok(Cow::Owned(out))
}

/// The two feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    Kev,
    Epss,
}

/// A feed checked and put in its stored form: what a load writes, and how it knows the data
/// did not change.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedFeed {
    /// The stored form (the feed as published, normalised), gzip-compressed.
    pub compressed: Vec<u8>,
    /// XXH3-128 of the stored form, uncompressed.
    pub digest: String,
    /// The catalog's version, or the EPSS model version.
    pub version: String,
    /// The catalog's release time, or the EPSS score date.
    pub dated: String,
    pub entries: usize,
}

impl Feed {
    pub const ALL: [Feed; 2] = [Feed::Kev, Feed::Epss];

    /// Its name in keys, configuration and answers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kev => "kev",
            Self::Epss => "epss",
        }
    }

    /// A fetched feed, parsed (refused whole when it is not the documented shape) and put in
    /// its stored form.
    pub fn prepare(self, body: &[u8]) -> Result<PreparedFeed, FieldError> {
        let (stored, version, dated, entries) = match self {
            Self::Kev => {
                let catalog = KevCatalog::parse(body)?;
                (catalog.to_json(), catalog.catalog_version.clone(), catalog.date_released.clone(), catalog.len())
            }
            Self::Epss => {
                let feed = EpssFeed::parse(body)?;
                (feed.to_csv(), feed.model_version.clone(), feed.score_date.to_string(), feed.len())
            }
        };
        let digest = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&stored));
        Ok(PreparedFeed { compressed: crate::gzip::compress(&stored), digest, version, dated, entries })
    }
}

/// A CVE id (`CVE-2021-44228`): the only ids the feeds know. Ordered by year, then number, so a
/// sorted table of scores is searched without strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CveId {
    year: u16,
    number: u64,
}

impl CveId {
    /// `CVE-YYYY-NNNN` with 4 to 19 digits after the year, as the KEV catalog's schema says; any
    /// other id (`GHSA-…`, `ALAS-…`, lower case) has no threat data.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::parse_bytes(raw.as_bytes())
    }

    /// As `parse`, on bytes: the EPSS file's 300,000 ids are read without a UTF-8 check.
    pub fn parse_bytes(raw: &[u8]) -> Option<Self> {
        let rest = raw.strip_prefix(b"CVE-")?;
        let (year, number) = (rest.get(..4)?, rest.get(5..)?);
        if rest[4] != b'-' || !(4..=19).contains(&number.len()) {
            return None;
        }
        let value = |digits: &[u8]| {
            digits
                .iter()
                .try_fold(0u64, |total, byte| byte.is_ascii_digit().then(|| total * 10 + u64::from(byte - b'0')))
        };
        Some(Self { year: value(year)? as u16, number: value(number)? })
    }
}

impl fmt::Display for CveId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "CVE-{:04}-{:04}", self.year, self.number)
    }
}

/// What the threat data says of one vulnerability: its KEV entry when listed, its EPSS score when
/// scored. Data not loaded is absent, never invented.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreatFacts<'a> {
    pub kev: Option<&'a KevEntry>,
    pub epss: Option<EpssScore>,
}

/// Both feeds as loaded (either may be missing: not loaded yet).
#[derive(Clone, Debug, Default)]
pub struct ThreatData {
    pub kev: Option<Arc<KevCatalog>>,
    pub epss: Option<Arc<EpssFeed>>,
}

/// A KEV entry as answers show it (Anchore's field names).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KevFields {
    pub date_added: NaiveDate,
    pub due_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_ransomware_campaign_use: Option<String>,
    pub required_action: String,
}

/// An EPSS score as answers show it: Anchore's `epss` and `percentile`, and the score's date.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpssFields {
    pub epss: f64,
    pub percentile: f64,
    pub date: NaiveDate,
}

/// What every finding row carries: its vulnerability's threat data, whether a fix exists, and
/// its risk. `is_kev` is absent until the catalog is loaded, `epss` until the scores are.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThreatFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_kev: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kev: Option<KevFields>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss: Option<EpssFields>,
    pub fix_available: bool,
    pub risk: f64,
}

/// What a finding row's threat fields are computed from, besides the threat data.
#[derive(Clone, Copy, Debug)]
pub struct FindingFacts<'a> {
    pub vulnerability_id: &'a str,
    pub severity: Severity,
    pub cvss_score: Option<f64>,
    pub fix_available: bool,
    /// Workloads running it where the row looks (an image's, a vulnerability's).
    pub workloads: usize,
}

impl ThreatData {
    pub fn fields(&self, finding: &FindingFacts<'_>) -> ThreatFields {
        let facts = self.facts(finding.vulnerability_id);
        let risk = risk::risk(&RiskInput {
            severity: finding.severity,
            cvss_score: finding.cvss_score,
            threat: facts,
            fix_available: finding.fix_available,
            workloads: finding.workloads,
        });
        ThreatFields {
            is_kev: self.kev.as_ref().map(|_| facts.kev.is_some()),
            kev: facts.kev.map(|entry| KevFields {
                date_added: entry.date_added,
                due_date: entry.due_date,
                known_ransomware_campaign_use: entry.known_ransomware_campaign_use.clone(),
                required_action: entry.required_action.clone(),
            }),
            epss: facts.epss.map(|score| EpssFields {
                epss: score.epss.value(),
                percentile: score.percentile.value(),
                date: score.date,
            }),
            fix_available: finding.fix_available,
            risk,
        }
    }

    pub fn facts(&self, vulnerability_id: &str) -> ThreatFacts<'_> {
        let Some(cve) = CveId::parse(vulnerability_id) else {
            return ThreatFacts::default();
        };
        ThreatFacts {
            kev: self.kev.as_ref().and_then(|catalog| catalog.entry(cve)),
            epss: self.epss.as_ref().and_then(|feed| feed.score(cve)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_ids_parse_as_the_catalog_schema_says() {
        let id = CveId::parse("CVE-2021-44228").unwrap();
        assert_eq!(id.to_string(), "CVE-2021-44228");
        assert_eq!(CveId::parse("CVE-2024-0001").unwrap().to_string(), "CVE-2024-0001");
        assert!(CveId::parse("CVE-2024-1234567890123456789").is_some());
        for bad in [
            "cve-2021-44228",
            "CVE-21-44228",
            "CVE-2021-442",
            "CVE-2021-44228a",
            "GHSA-xxxx-yyyy-zzzz",
            "CVE-2021-",
            "",
        ] {
            assert_eq!(CveId::parse(bad), None, "{bad}");
        }
        assert!(CveId::parse("CVE-2020-9999") < CveId::parse("CVE-2020-10000"));
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../../tests/fixtures/threat/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn a_prepared_feed_reads_back_and_the_same_content_has_the_same_digest() {
        let published = fixture("known_exploited_vulnerabilities.json");
        let prepared = Feed::Kev.prepare(&published).unwrap();
        assert_eq!((prepared.entries, prepared.version.as_str()), (1404, "2025.08.25"));
        assert_eq!(KevCatalog::parse(&prepared.compressed).unwrap(), KevCatalog::parse(&published).unwrap());
        assert_eq!(Feed::Kev.prepare(&prepared.compressed).unwrap().digest, prepared.digest);
        let epss = Feed::Epss.prepare(&fixture("epss_scores-sample.csv.gz")).unwrap();
        assert_eq!((epss.entries, epss.dated.as_str()), (4404, "2026-12-06"));
        assert_eq!(Feed::Epss.prepare(&epss.compressed).unwrap(), epss);
        assert_ne!(epss.digest, prepared.digest);
    }

    #[test]
    fn the_real_catalog_and_an_epss_file_in_the_real_shape_join_a_finding() {
        let kev = KevCatalog::parse(&fixture("known_exploited_vulnerabilities.json")).unwrap();
        assert_eq!((kev.len(), kev.catalog_version.as_str()), (1404, "2025.08.25"));
        let epss = EpssFeed::parse(&fixture("epss_scores-sample.csv.gz")).unwrap();
        assert_eq!(epss.len(), 4404);
        let data = ThreatData { kev: Some(Arc::new(kev)), epss: Some(Arc::new(epss)) };
        let log4shell = data.facts("CVE-2021-44228");
        let entry = log4shell.kev.unwrap();
        assert_eq!((entry.due_date.to_string(), entry.ransomware()), ("2021-12-24".to_owned(), true));
        assert_eq!(log4shell.epss.unwrap().epss.value(), 0.94358);
        let unlisted = data.facts("CVE-2024-24790");
        assert!(unlisted.kev.is_none() && unlisted.epss.is_some());
        let unknown = data.facts("GHSA-jfh8-c2jp-5v3q");
        assert!(unknown.kev.is_none() && unknown.epss.is_none());
        let finding = FindingFacts {
            vulnerability_id: "CVE-2021-44228",
            severity: Severity::Critical,
            cvss_score: Some(10.0),
            fix_available: true,
            workloads: 0,
        };
        let fields = serde_json::to_value(data.fields(&finding)).unwrap();
        assert_eq!(fields["is_kev"], true);
        assert_eq!(fields["kev"]["due_date"], "2021-12-24");
        assert_eq!(fields["kev"]["known_ransomware_campaign_use"], "Known");
        assert_eq!(fields["epss"], serde_json::json!({"epss": 0.94358, "percentile": 0.9999, "date": "2026-12-06"}));
        assert_eq!(fields["risk"], 144.0);
        let nothing_loaded = serde_json::to_value(ThreatData::default().fields(&finding)).unwrap();
        assert_eq!(nothing_loaded, serde_json::json!({"fix_available": true, "risk": 12.0}), "absent, never invented");
    }
}

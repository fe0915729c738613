//! What to fix first: one risk score per vulnerability, and when its fix is due.
//!
//! ```text
//! risk = impact × exploitation × fix × breadth, rounded to two decimals
//!   impact       = the CVSS score (0–10), else the severity's: critical 9.5, high 7.5,
//!                  medium 5, low 2.5, negligible 0.5, unknown 5
//!   exploitation = 10 when CISA lists it as exploited (12 when ransomware campaigns use it),
//!                  else 1 + 9 × its EPSS probability (1 when it has no score)
//!   fix          = 1.2 when a fixed version exists (the fix can be made now), else 1
//!   breadth      = 1 + log10(1 + workloads running it) / 2
//! ```
//!
//! A listed vulnerability outranks an unlisted one of the same impact whatever its EPSS score, a
//! likely exploit outranks a severe but unlikely one, and breadth only orders what is otherwise
//! close (ten workloads weigh 1.5, a thousand 2.5).

use super::ThreatFacts;
use crate::findings::Severity;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};

/// What the risk of one vulnerability, where it runs, is computed from.
#[derive(Clone, Copy, Debug)]
pub struct RiskInput<'a> {
    pub severity: Severity,
    pub cvss_score: Option<f64>,
    pub threat: ThreatFacts<'a>,
    pub fix_available: bool,
    pub workloads: usize,
}

pub fn impact(severity: Severity, cvss_score: Option<f64>) -> f64 {
    match cvss_score {
        Some(score) if (0.0..=10.0).contains(&score) => score,
        _ => match severity {
            Severity::Critical => 9.5,
            Severity::High => 7.5,
            Severity::Medium | Severity::Unknown => 5.0,
            Severity::Low => 2.5,
            Severity::Negligible => 0.5,
        },
    }
}

pub fn risk(input: &RiskInput<'_>) -> f64 {
    let exploitation = match (input.threat.kev, input.threat.epss) {
        (Some(entry), _) if entry.ransomware() => 12.0,
        (Some(_), _) => 10.0,
        (None, Some(score)) => 1.0 + 9.0 * score.epss.value(),
        (None, None) => 1.0,
    };
    let fix = if input.fix_available { 1.2 } else { 1.0 };
    let breadth = 1.0 + (1.0 + input.workloads as f64).log10() / 2.0;
    let score = impact(input.severity, input.cvss_score) * exploitation * fix * breadth;
    (score * 100.0).round() / 100.0
}

/// Days to fix a finding of each severity once it runs (`SlaDays`); none for a severity without one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlaPolicy {
    days: [Option<u32>; Severity::ALL.len()],
}

impl Default for SlaPolicy {
    /// `critical=15,high=30,medium=90,low=180`.
    fn default() -> Self {
        Self::parse(Self::DEFAULT).unwrap_or(Self { days: [None; Severity::ALL.len()] })
    }
}

impl SlaPolicy {
    pub const DEFAULT: &'static str = "critical=15,high=30,medium=90,low=180";

    /// `severity=days` pairs separated by commas; `0` days, or a severity left out, is no SLA.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut days = [None; Severity::ALL.len()];
        for pair in raw.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let shape = || format!("{pair:?} is not severity=days (severities: {})", Severity::names());
            let (name, count) = pair.split_once('=').ok_or_else(shape)?;
            let severity = Severity::parse(name.trim()).ok_or_else(shape)?;
            let count: u32 = count.trim().parse().map_err(|_| shape())?;
            if count > 3650 {
                return Err(format!("{pair:?}: at most 3650 days"));
            }
            days[Self::slot(severity)] = (count > 0).then_some(count);
        }
        Ok(Self { days })
    }

    fn slot(severity: Severity) -> usize {
        Severity::ALL.iter().position(|each| *each == severity).unwrap_or(0)
    }

    pub fn days(&self, severity: Severity) -> Option<u32> {
        self.days[Self::slot(severity)]
    }
}

/// When a running vulnerability's fix is due: for a listed one, the end (UTC) of the catalog's
/// `dueDate`; otherwise its severity's SLA from when it first ran with the finding known.
pub fn due_at(
    kev_due_date: Option<NaiveDate>,
    severity: Severity,
    first_running_at: DateTime<Utc>,
    sla: &SlaPolicy,
) -> Option<DateTime<Utc>> {
    if let Some(date) = kev_due_date {
        let end_of_day = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default();
        return Some(date.and_time(end_of_day).and_utc());
    }
    sla.days(severity).map(|days| first_running_at + TimeDelta::days(i64::from(days)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threat::epss::{EpssFeed, EpssScore};
    use crate::threat::kev::KevCatalog;
    use crate::threat::CveId;

    fn kev(ransomware: &str) -> KevCatalog {
        let entry = format!(
            r#"{{"cveID":"CVE-2021-44228","vendorProject":"Apache","product":"Log4j2","vulnerabilityName":"x","dateAdded":"2021-12-10","shortDescription":"x","requiredAction":"Apply updates.","dueDate":"2021-12-24","knownRansomwareCampaignUse":"{ransomware}","notes":"","cwes":[]}}"#
        );
        let catalog = format!(
            r#"{{"catalogVersion":"1","dateReleased":"2025-08-25T17:04:19Z","count":1,"vulnerabilities":[{entry}]}}"#
        );
        KevCatalog::parse(catalog.as_bytes()).unwrap()
    }

    fn epss(probability: &str) -> EpssScore {
        let text = format!("#model_version:v1,score_date:2025-03-14T00:00:00+0000\ncve,epss,percentile\nCVE-2021-44228,{probability},0.5\n");
        EpssFeed::parse(text.as_bytes()).unwrap().score(CveId::parse("CVE-2021-44228").unwrap()).unwrap()
    }

    fn input(severity: Severity, threat: ThreatFacts<'_>) -> RiskInput<'_> {
        RiskInput { severity, cvss_score: None, threat, fix_available: false, workloads: 0 }
    }

    #[test]
    fn the_formula_as_documented() {
        let none = ThreatFacts::default();
        assert_eq!(risk(&input(Severity::Critical, none)), 9.5);
        assert_eq!(risk(&RiskInput { cvss_score: Some(10.0), ..input(Severity::Critical, none) }), 10.0);
        let (known, unknown) = (kev("Known"), kev("Unknown"));
        let id = CveId::parse("CVE-2021-44228").unwrap();
        let listed = ThreatFacts { kev: unknown.entry(id), epss: None };
        let ransomware = ThreatFacts { kev: known.entry(id), epss: None };
        assert_eq!(risk(&input(Severity::High, listed)), 75.0);
        assert_eq!(risk(&input(Severity::High, ransomware)), 90.0);
        let likely = ThreatFacts { kev: None, epss: Some(epss("0.5")) };
        assert_eq!(risk(&input(Severity::Medium, likely)), 27.5);
        assert_eq!(risk(&RiskInput { fix_available: true, ..input(Severity::Medium, likely) }), 33.0);
        // 1 + log10(10) / 2 = 1.5
        assert_eq!(risk(&RiskInput { workloads: 9, ..input(Severity::Critical, none) }), 14.25);
    }

    #[test]
    fn the_order_puts_exploitation_before_severity() {
        let (unknown, id) = (kev("Unknown"), CveId::parse("CVE-2021-44228").unwrap());
        let listed_medium = risk(&input(Severity::Medium, ThreatFacts { kev: unknown.entry(id), epss: None }));
        let likely_medium = risk(&input(Severity::Medium, ThreatFacts { kev: None, epss: Some(epss("0.9")) }));
        let unlikely_critical = risk(&RiskInput {
            cvss_score: Some(9.8),
            fix_available: true,
            workloads: 1000,
            ..input(Severity::Critical, ThreatFacts { kev: None, epss: Some(epss("0.00043")) })
        });
        assert!(
            listed_medium > likely_medium && likely_medium > unlikely_critical,
            "{listed_medium} {likely_medium} {unlikely_critical}"
        );
    }

    #[test]
    fn sla_days_parse_and_set_the_due_date() {
        let sla = SlaPolicy::default();
        assert_eq!(
            (sla.days(Severity::Critical), sla.days(Severity::Low), sla.days(Severity::Unknown)),
            (Some(15), Some(180), None)
        );
        let custom = SlaPolicy::parse("critical=7, high=0").unwrap();
        assert_eq!(
            (custom.days(Severity::Critical), custom.days(Severity::High), custom.days(Severity::Medium)),
            (Some(7), None, None)
        );
        for bad in ["critical", "urgent=3", "high=-1", "high=x", "low=4000"] {
            assert!(SlaPolicy::parse(bad).is_err(), "{bad}");
        }
        let start = "2026-12-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(due_at(None, Severity::Critical, start, &sla).unwrap().to_rfc3339(), "2026-12-16T10:00:00+00:00");
        assert_eq!(due_at(None, Severity::Negligible, start, &sla), None);
        let kev_due = NaiveDate::from_ymd_opt(2021, 12, 24);
        assert_eq!(due_at(kev_due, Severity::Low, start, &sla).unwrap().to_rfc3339(), "2021-12-24T23:59:59+00:00");
    }
}

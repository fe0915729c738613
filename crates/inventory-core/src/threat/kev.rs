//! CISA's Known Exploited Vulnerabilities catalog, as CISA publishes it
//! (`known_exploited_vulnerabilities.json`): every field of every entry is kept, including fields
//! a newer catalog adds, so the stored catalog is the published one.

use super::CveId;
use crate::field::FieldError;
use crate::limits::{MAX_KEV_ENTRIES, MAX_KEV_FEED_BYTES};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One catalog entry. The fields this service reads are typed; the others stay as published.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KevEntry {
    #[serde(rename = "cveID")]
    pub cve_id: String,
    pub date_added: NaiveDate,
    pub due_date: NaiveDate,
    /// `Known` or `Unknown`; the schema does not require it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_ransomware_campaign_use: Option<String>,
    pub required_action: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl KevEntry {
    pub fn ransomware(&self) -> bool {
        self.known_ransomware_campaign_use.as_deref().is_some_and(|word| word.eq_ignore_ascii_case("known"))
    }
}

/// The catalog's header as published, and its entries by CVE id.
#[derive(Clone, Debug, PartialEq)]
pub struct KevCatalog {
    pub catalog_version: String,
    pub date_released: String,
    entries: HashMap<CveId, KevEntry>,
    /// The header's other fields (`title`, ...), kept as published.
    header: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCatalog<'a> {
    catalog_version: String,
    date_released: String,
    count: usize,
    #[serde(borrow)]
    vulnerabilities: Vec<&'a RawValue>,
    #[serde(flatten)]
    header: Map<String, Value>,
}

impl KevCatalog {
    /// The catalog's JSON. Refused whole when it is not the documented shape: the field error names
    /// the entry (`vulnerabilities[17].dueDate`), so the run that loaded it fails and says where.
    /// Gzip-compressed (a mirror's, or the stored form) or not.
    pub fn parse(body: &[u8]) -> Result<Self, FieldError> {
        let body = super::decompressed(body, MAX_KEV_FEED_BYTES)?;
        let raw: RawCatalog = serde_json::from_slice(&body)
            .map_err(|error| FieldError::invalid("body", format!("not the KEV catalog's shape: {error}")))?;
        if raw.vulnerabilities.len() > MAX_KEV_ENTRIES {
            return Err(FieldError::too_large("vulnerabilities", format!("over {MAX_KEV_ENTRIES} entries")));
        }
        if raw.vulnerabilities.is_empty() {
            return Err(FieldError::invalid("vulnerabilities", "the catalog lists no vulnerability"));
        }
        if raw.count != raw.vulnerabilities.len() {
            let message = format!("the catalog says {} entries and lists {}", raw.count, raw.vulnerabilities.len());
            return Err(FieldError::invalid("count", message));
        }
        let mut entries = HashMap::with_capacity(raw.vulnerabilities.len());
        for (index, entry) in raw.vulnerabilities.iter().enumerate() {
            let entry = parse_entry(entry)
                .map_err(|(field, message)| FieldError::invalid(format!("vulnerabilities[{index}]{field}"), message))?;
            let id = CveId::parse(&entry.cve_id).ok_or_else(|| {
                FieldError::invalid(
                    format!("vulnerabilities[{index}].cveID"),
                    format!("{:?} is not a CVE id", entry.cve_id),
                )
            })?;
            entries.insert(id, entry);
        }
        Ok(Self { catalog_version: raw.catalog_version, date_released: raw.date_released, entries, header: raw.header })
    }

    pub fn entry(&self, cve: CveId) -> Option<&KevEntry> {
        self.entries.get(&cve)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The catalog in its published shape (entries newest first, as CISA lists them), which
    /// `parse` reads back to the same catalog: the stored form.
    pub fn to_json(&self) -> Vec<u8> {
        let mut entries: Vec<&KevEntry> = self.entries.values().collect();
        entries.sort_by(|a, b| b.date_added.cmp(&a.date_added).then_with(|| a.cve_id.cmp(&b.cve_id)));
        let mut catalog = self.header.clone();
        catalog.insert("catalogVersion".into(), Value::from(self.catalog_version.as_str()));
        catalog.insert("dateReleased".into(), Value::from(self.date_released.as_str()));
        catalog.insert("count".into(), Value::from(entries.len()));
        catalog.insert("vulnerabilities".into(), serde_json::to_value(entries).unwrap_or_default());
        serde_json::to_vec(&catalog).unwrap_or_default()
    }
}

/// The fields `KevEntry` reads into its own; the others stay in `other`, in their order.
const TYPED_FIELDS: [&str; 5] = ["cveID", "dateAdded", "dueDate", "knownRansomwareCampaignUse", "requiredAction"];

/// One entry, or the field (`.dueDate`, empty for the entry itself) that is not as documented.
fn parse_entry(raw: &RawValue) -> Result<KevEntry, (String, String)> {
    let all: Map<String, Value> =
        serde_json::from_str(raw.get()).map_err(|error| (String::new(), format!("not an object: {error}")))?;
    // Split in one pass, so the other fields keep their order whatever map serde_json builds
    // (with `preserve_order`, `Map::remove` moves the last entry into the hole).
    let (mut typed, fields): (Map<String, Value>, Map<String, Value>) =
        all.into_iter().partition(|(key, _)| TYPED_FIELDS.contains(&key.as_str()));
    let mut optional = |name: &str| match typed.remove(name) {
        Some(Value::String(value)) => Ok(Some(value)),
        None => Ok(None),
        Some(other) => Err((format!(".{name}"), format!("not a string: {other}"))),
    };
    let known_ransomware_campaign_use = optional("knownRansomwareCampaignUse")?;
    let mut required = |name: &str| optional(name)?.ok_or_else(|| (String::new(), format!("missing field `{name}`")));
    let cve_id = required("cveID")?;
    let date_added = required("dateAdded")?;
    let due_date = required("dueDate")?;
    let required_action = required("requiredAction")?;
    let date = |name: &str, value: &str| {
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map_err(|_| (format!(".{name}"), format!("{value:?} is not a date (YYYY-MM-DD)")))
    };
    Ok(KevEntry {
        date_added: date("dateAdded", &date_added)?,
        due_date: date("dueDate", &due_date)?,
        cve_id,
        known_ransomware_campaign_use,
        required_action,
        other: fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(entries: &str, count: usize) -> String {
        format!(
            r#"{{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"2025.08.25","dateReleased":"2025-08-25T17:04:19.9796Z","count":{count},"vulnerabilities":[{entries}]}}"#
        )
    }

    const LOG4SHELL: &str = r#"{"cveID":"CVE-2021-44228","vendorProject":"Apache","product":"Log4j2","vulnerabilityName":"Apache Log4j2 Remote Code Execution Vulnerability","dateAdded":"2021-12-10","shortDescription":"JNDI","requiredAction":"Apply updates.","dueDate":"2021-12-24","knownRansomwareCampaignUse":"Known","notes":"https://nvd.nist.gov/vuln/detail/CVE-2021-44228","cwes":["CWE-20"],"futureField":{"x":1}}"#;

    #[test]
    fn every_field_is_kept_and_the_stored_form_reads_back_the_same() {
        let parsed = KevCatalog::parse(catalog(LOG4SHELL, 1).as_bytes()).unwrap();
        let entry = parsed.entry(CveId::parse("CVE-2021-44228").unwrap()).unwrap();
        assert_eq!(entry.due_date, NaiveDate::from_ymd_opt(2021, 12, 24).unwrap());
        assert!(entry.ransomware());
        assert_eq!(entry.other["cwes"], serde_json::json!(["CWE-20"]));
        assert_eq!(entry.other["futureField"], serde_json::json!({"x": 1}));
        let stored: Value = serde_json::from_slice(&parsed.to_json()).unwrap();
        assert_eq!(stored["title"], "CISA Catalog of Known Exploited Vulnerabilities");
        assert_eq!(stored["vulnerabilities"][0], serde_json::from_str::<Value>(LOG4SHELL).unwrap());
        assert_eq!(KevCatalog::parse(&parsed.to_json()).unwrap(), parsed);
    }

    #[test]
    fn a_catalog_not_as_documented_is_refused_naming_the_entry() {
        let bad_date = LOG4SHELL.replace("2021-12-24", "24/12/2021");
        let error = KevCatalog::parse(catalog(&format!("{LOG4SHELL},{bad_date}"), 2).as_bytes()).unwrap_err();
        assert_eq!(error.field, "vulnerabilities[1].dueDate", "{error}");
        let bad_id = LOG4SHELL.replace("CVE-2021-44228", "CVE-21-1");
        assert_eq!(KevCatalog::parse(catalog(&bad_id, 1).as_bytes()).unwrap_err().field, "vulnerabilities[0].cveID");
        let missing = LOG4SHELL.replace(r#""dueDate":"2021-12-24","#, "");
        let error = KevCatalog::parse(catalog(&missing, 1).as_bytes()).unwrap_err();
        assert_eq!(error.field, "vulnerabilities[0]", "{error}");
        assert!(error.message.contains("dueDate"), "{error}");
        let no_ransomware_word = LOG4SHELL.replace(r#""knownRansomwareCampaignUse":"Known","#, "");
        let parsed = KevCatalog::parse(catalog(&no_ransomware_word, 1).as_bytes()).unwrap();
        assert!(!parsed.entry(CveId::parse("CVE-2021-44228").unwrap()).unwrap().ransomware());
        assert_eq!(KevCatalog::parse(catalog(LOG4SHELL, 2).as_bytes()).unwrap_err().field, "count");
        assert_eq!(KevCatalog::parse(catalog("", 0).as_bytes()).unwrap_err().field, "vulnerabilities");
        let whole = catalog(LOG4SHELL, 1);
        assert_eq!(KevCatalog::parse(&whole.as_bytes()[..whole.len() / 2]).unwrap_err().field, "body");
        assert_eq!(KevCatalog::parse(b"{}").unwrap_err().field, "body");
    }
}

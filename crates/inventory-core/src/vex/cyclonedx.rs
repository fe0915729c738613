//! CycloneDX VEX (specVersion 1.4 to 1.7): each vulnerability's `analysis` is a statement about
//! the components its `affects` names, by `bom-ref` (plain or as a BOM-Link) or purl. A library
//! component of a BOM whose `metadata.component` is an image is that package in that image.
//! The export is CycloneDX 1.6.

use super::purl::{self, Product};
use super::{
    invalid, text, vulnerability_id, Annotation, At, Justification, ParsedVex, Scope, Skipped, Statement, VexError,
    VexStatus,
};
use crate::bounded::{EntryList, ItemList};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;

const SPEC_VERSIONS: [&str; 4] = ["1.4", "1.5", "1.6", "1.7"];

#[derive(Deserialize)]
struct Bom<'a> {
    #[serde(rename = "specVersion", borrow)]
    spec_version: Option<Cow<'a, str>>,
    #[serde(rename = "serialNumber")]
    serial_number: Option<String>,
    #[serde(borrow)]
    metadata: Option<Metadata<'a>>,
    #[serde(default, borrow)]
    components: EntryList<Component<'a>>,
    #[serde(default, borrow)]
    vulnerabilities: ItemList<Vulnerability<'a>>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    component: Option<Component<'a>>,
}

#[derive(Deserialize)]
struct Component<'a> {
    #[serde(rename = "bom-ref", borrow)]
    bom_ref: Option<Cow<'a, str>>,
    #[serde(borrow)]
    purl: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Vulnerability<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    analysis: Option<Analysis<'a>>,
    #[serde(default, borrow)]
    affects: EntryList<Affects<'a>>,
}

#[derive(Deserialize)]
struct Analysis<'a> {
    #[serde(borrow)]
    state: Option<Cow<'a, str>>,
    #[serde(borrow)]
    justification: Option<Cow<'a, str>>,
    detail: Option<String>,
    #[serde(default, borrow)]
    response: EntryList<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Affects<'a> {
    #[serde(rename = "ref", borrow)]
    reference: Option<Cow<'a, str>>,
}

pub(super) fn parse(body: &[u8]) -> Result<ParsedVex, VexError> {
    let bom: Bom = super::read(body, "vulnerabilities")?;
    match bom.spec_version.as_deref() {
        Some(version) if SPEC_VERSIONS.contains(&version) => {}
        other => {
            return Err(invalid("specVersion", format!("{other:?}: VEX is read from CycloneDX 1.4 to 1.7")));
        }
    }
    let root = bom.metadata.as_ref().and_then(|metadata| metadata.component.as_ref());
    // The image the BOM is about, if it is one: its packages are statements about that image.
    let image_scope = root.and_then(|root| root.purl.as_deref()).and_then(|purl| match purl::product(purl) {
        Ok(Product::Image { digest, .. }) => Some(Scope::Image(digest)),
        Ok(Product::Repository(repository)) => Some(Scope::Repository(repository)),
        _ => None,
    });
    let by_ref: HashMap<&str, &str> = root
        .into_iter()
        .chain(bom.components.iter())
        .filter_map(|component| Some((component.bom_ref.as_deref()?, component.purl.as_deref()?)))
        .collect();
    let purl_of = |reference: &str| -> Option<String> {
        if reference.starts_with("pkg:") {
            return Some(reference.to_owned());
        }
        let bom_ref =
            reference.rsplit_once('#').filter(|_| reference.starts_with("urn:cdx:")).map_or(reference, |(_, r)| r);
        by_ref.get(bom_ref).map(|purl| (*purl).to_owned())
    };
    let mut parsed = ParsedVex { format: "cyclonedx", ..ParsedVex::default() };
    for (index, vulnerability) in bom.vulnerabilities.iter().enumerate() {
        let at = At { list: "vulnerabilities", index };
        let Some(base) = statement(at, vulnerability, bom.serial_number.clone())? else {
            parsed.skipped.push(Skipped { at: at.to_string(), reason: "no analysis: not a VEX statement".into() });
            continue;
        };
        if vulnerability.affects.is_empty() {
            parsed.skipped.push(Skipped { at: at.to_string(), reason: "affects nothing".into() });
        }
        for (number, affects) in vulnerability.affects.iter().enumerate() {
            let at = format!("{at}.affects[{number}]");
            let Some(purl) = affects.reference.as_deref().and_then(purl_of) else {
                parsed.skipped.push(Skipped { at, reason: "names no component with a purl".into() });
                continue;
            };
            let (scope, package) = match purl::product(&purl) {
                Ok(Product::Image { digest, .. }) => (Scope::Image(digest), None),
                Ok(Product::Repository(repository)) => (Scope::Repository(repository), None),
                Ok(Product::Package(package)) => (image_scope.clone().unwrap_or(Scope::Account), Some(package)),
                Err(reason) => {
                    parsed.skipped.push(Skipped { at, reason });
                    continue;
                }
            };
            parsed.statements.push(Statement { scope, package, ..base.clone() });
        }
    }
    Ok(parsed)
}

/// The statement a vulnerability's analysis makes; `None` without an analysis.
fn statement(at: At, vulnerability: &Vulnerability, source: Option<String>) -> Result<Option<Statement>, VexError> {
    let Some(analysis) = &vulnerability.analysis else { return Ok(None) };
    let id = vulnerability.id.as_deref().ok_or_else(|| invalid(format!("{at}.id"), "required"))?;
    let raw_state = analysis.state.as_deref().ok_or_else(|| invalid(format!("{at}.analysis.state"), "required"))?;
    let status = match raw_state {
        "not_affected" | "false_positive" => VexStatus::NotAffected,
        "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
        "exploitable" => VexStatus::Affected,
        "in_triage" => VexStatus::UnderInvestigation,
        other => {
            return Err(invalid(
                format!("{at}.analysis.state"),
                format!("{other:?} is not one of resolved, resolved_with_pedigree, exploitable, in_triage, false_positive, not_affected"),
            ));
        }
    };
    let justification = analysis
        .justification
        .as_deref()
        .map(|raw| justification(format_args!("{at}.analysis.justification"), raw))
        .transpose()?;
    let detail = text(format_args!("{at}.analysis.detail"), analysis.detail.clone())?;
    let responses: Vec<&str> = analysis.response.iter().map(|response| response.as_ref()).collect();
    let action = text(format_args!("{at}.analysis.response"), (!responses.is_empty()).then(|| responses.join(", ")))?;
    let (impact_statement, status_notes) =
        if status == VexStatus::NotAffected { (detail, None) } else { (None, detail) };
    Ok(Some(Statement {
        vulnerability_id: vulnerability_id(format_args!("{at}.id"), id)?,
        status,
        justification,
        status_notes,
        impact_statement,
        action_statement: action,
        additional_details: None,
        package: None,
        scope: Scope::Account,
        expires_at: None,
        expires_when_fixed: false,
        source,
    }))
}

fn justification(field: impl std::fmt::Display, raw: &str) -> Result<Justification, VexError> {
    Ok(match raw {
        "code_not_present" => Justification::VulnerableCodeNotPresent,
        "code_not_reachable" => Justification::VulnerableCodeNotInExecutePath,
        "requires_configuration" | "requires_dependency" | "requires_environment" => {
            Justification::VulnerableCodeCannotBeControlledByAdversary
        }
        "protected_by_compiler"
        | "protected_at_runtime"
        | "protected_at_perimeter"
        | "protected_by_mitigating_control" => Justification::InlineMitigationsAlreadyExist,
        other => {
            return Err(invalid(
                field.to_string(),
                format!("{other:?} is not a CycloneDX impact analysis justification"),
            ));
        }
    })
}

/// CycloneDX's word for a statement's status and justification.
fn analysis(annotation: &Annotation) -> serde_json::Value {
    let statement = &annotation.statement;
    let state = match statement.status {
        VexStatus::NotAffected => "not_affected",
        VexStatus::Fixed => "resolved",
        VexStatus::Affected => "exploitable",
        VexStatus::UnderInvestigation => "in_triage",
    };
    let mut analysis = serde_json::json!({ "state": state });
    let justification = statement.justification.and_then(|justification| match justification {
        Justification::ComponentNotPresent | Justification::VulnerableCodeNotPresent => Some("code_not_present"),
        Justification::VulnerableCodeNotInExecutePath => Some("code_not_reachable"),
        Justification::VulnerableCodeCannotBeControlledByAdversary => Some("requires_environment"),
        Justification::InlineMitigationsAlreadyExist => Some("protected_by_mitigating_control"),
        Justification::FixNotPlanned => None,
    });
    if let Some(justification) = justification {
        analysis["justification"] = serde_json::json!(justification);
    }
    if statement.justification == Some(Justification::FixNotPlanned) {
        analysis["response"] = serde_json::json!(["will_not_fix"]);
    }
    let detail = statement.impact_statement.as_ref().or(statement.status_notes.as_ref());
    if let Some(detail) = detail {
        analysis["detail"] = serde_json::json!(detail);
    }
    analysis
}

/// An image's annotations as a CycloneDX 1.6 VEX document: the image is the BOM's component,
/// each annotated package a library component, each annotation a vulnerability affecting one.
pub fn export(
    serial: &str,
    image: (&str, Option<&str>),
    annotations: &[Annotation],
    now: DateTime<Utc>,
) -> serde_json::Value {
    let (digest, repository) = image;
    let mut components: Vec<serde_json::Value> = Vec::new();
    let mut vulnerabilities = Vec::new();
    for annotation in annotations {
        let statement = &annotation.statement;
        let reference = match &statement.package {
            None => "image".to_owned(),
            Some(package) => {
                let purl = purl::package(package);
                let found = components.iter().position(|component| component["purl"] == purl.as_str());
                let number = found.unwrap_or_else(|| {
                    let mut component = serde_json::json!({
                        "type": "library",
                        "bom-ref": format!("package-{}", components.len() + 1),
                        "name": package.name,
                        "purl": purl,
                    });
                    if let Some(version) = &package.version {
                        component["version"] = serde_json::json!(version);
                    }
                    components.push(component);
                    components.len() - 1
                });
                format!("package-{}", number + 1)
            }
        };
        vulnerabilities.push(serde_json::json!({
            "bom-ref": annotation.uuid,
            "id": statement.vulnerability_id,
            "analysis": analysis(annotation),
            "affects": [{ "ref": reference }],
        }));
    }
    serde_json::json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "timestamp": now,
            "component": {
                "type": "container",
                "bom-ref": "image",
                "name": repository.unwrap_or(digest),
                "version": digest,
                "purl": purl::image(digest, repository),
            },
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    })
}

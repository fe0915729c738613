//! VEX annotations: what a team says about a vulnerability in what it runs (not affected, fixed,
//! affected, under investigation), on which images (one digest, a repository, contexts matching a
//! pattern, the whole account), optionally for one package, lapsing at a time or once a fix
//! appears. Anchore's annotation body, OpenVEX and CycloneDX VEX documents all become the same
//! `Statement`s; the active ones become `Rules`, the one thing every read consults.

mod cyclonedx;
mod openvex;
mod purl;
mod rules;

pub use cyclonedx::export as cyclonedx_export;
pub use openvex::export as openvex_export;
pub use rules::{repositories, Lens, Rule, Rules, Subject, Verdict};

use crate::field::FieldError;
use crate::findings::{is_vulnerability_id, Package};
use crate::image::Digest;
use crate::limits::{
    MAX_CONTEXT_BYTES, MAX_FINDING_FIELD_BYTES, MAX_IMAGE_TAG_BYTES, MAX_VEX_BODY_BYTES, MAX_VEX_TEXT_BYTES,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a statement says of the vulnerability: VEX's four statuses.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    const ALL: [Self; 4] = [Self::NotAffected, Self::Affected, Self::Fixed, Self::UnderInvestigation];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAffected => "not_affected",
            Self::Affected => "affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// Whether a finding it covers leaves the answers: `affected` and `under_investigation` keep
    /// it visible, with the annotation beside it.
    pub fn suppresses(self) -> bool {
        matches!(self, Self::NotAffected | Self::Fixed)
    }

    fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

/// Why a product is not affected: OpenVEX's five, and Anchore's `fix_not_planned`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Justification {
    ComponentNotPresent,
    VulnerableCodeNotPresent,
    VulnerableCodeNotInExecutePath,
    VulnerableCodeCannotBeControlledByAdversary,
    InlineMitigationsAlreadyExist,
    FixNotPlanned,
}

impl Justification {
    const ALL: [Self; 6] = [
        Self::ComponentNotPresent,
        Self::VulnerableCodeNotPresent,
        Self::VulnerableCodeNotInExecutePath,
        Self::VulnerableCodeCannotBeControlledByAdversary,
        Self::InlineMitigationsAlreadyExist,
        Self::FixNotPlanned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ComponentNotPresent => "component_not_present",
            Self::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Self::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Self::VulnerableCodeCannotBeControlledByAdversary => "vulnerable_code_cannot_be_controlled_by_adversary",
            Self::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
            Self::FixNotPlanned => "fix_not_planned",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|justification| justification.as_str() == raw)
    }

    /// OpenVEX has no `fix_not_planned`: an export says it in the impact statement instead.
    pub fn in_openvex(self) -> bool {
        self != Self::FixNotPlanned
    }

    fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

/// Anchore's `package_identifier`: the package a statement is about. No version (from a purl
/// without one) covers every version; no type covers every type.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackageIdentifier {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub package_type: Option<String>,
}

impl PackageIdentifier {
    /// Whether a scanner's package is this one. Scanners name a type differently (grype's
    /// `python`, trivy's `python-pkg`, purl's `pypi`), so types compare by their purl family.
    pub fn covers(&self, package: &Package) -> bool {
        let name = self.name == package.name;
        let version = self.version.as_ref().is_none_or(|version| *version == package.version);
        let package_type = match &self.package_type {
            Some(wanted) if !package.package_type.is_empty() => purl::same_type(wanted, &package.package_type),
            _ => true,
        };
        name && version && package_type
    }

    fn check(&self, field: &str) -> Result<(), FieldError> {
        let texts =
            [("name", Some(&self.name)), ("version", self.version.as_ref()), ("type", self.package_type.as_ref())];
        for (name, value) in texts {
            if let Some(value) = value.filter(|value| value.len() > MAX_FINDING_FIELD_BYTES) {
                return Err(FieldError::too_large(
                    format!("{field}.{name}"),
                    format!("{} bytes; at most {MAX_FINDING_FIELD_BYTES}", value.len()),
                ));
            }
        }
        if self.name.trim().is_empty() {
            return Err(FieldError::invalid(format!("{field}.name"), "must not be empty"));
        }
        Ok(())
    }
}

/// Which images a statement covers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(try_from = "ScopeBody", into = "ScopeBody")]
pub enum Scope {
    /// One image, by digest.
    Image(String),
    /// Every image of a repository (`registry/path`, no tag), now and future.
    Repository(String),
    /// Images running in contexts matching a pattern (`dev-*/*`: `*` is any run of characters
    /// within one `/`-separated part).
    Context(String),
    /// Every image of the account.
    Account,
}

/// A scope as JSON: exactly one of its fields.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub account: bool,
}

impl TryFrom<ScopeBody> for Scope {
    type Error = String;

    fn try_from(body: ScopeBody) -> Result<Self, String> {
        let scope = match (body.image_digest, body.repository, body.context, body.account) {
            (Some(digest), None, None, false) => Self::Image(
                Digest::parse(&digest).map_err(|error| format!("image_digest: {error}"))?.as_str().to_owned(),
            ),
            (None, Some(repository), None, false) => Self::Repository(repository),
            (None, None, Some(pattern), false) => Self::Context(pattern),
            (None, None, None, true) => Self::Account,
            _ => return Err("exactly one of image_digest, repository, context or account (true)".to_owned()),
        };
        scope.check()?;
        Ok(scope)
    }
}

impl From<Scope> for ScopeBody {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Image(digest) => Self { image_digest: Some(digest), ..Self::default() },
            Scope::Repository(repository) => Self { repository: Some(repository), ..Self::default() },
            Scope::Context(pattern) => Self { context: Some(pattern), ..Self::default() },
            Scope::Account => Self { account: true, ..Self::default() },
        }
    }
}

impl Scope {
    fn check(&self) -> Result<(), String> {
        let (name, value, max) = match self {
            Self::Repository(repository) => ("repository", repository, MAX_IMAGE_TAG_BYTES),
            Self::Context(pattern) => ("context", pattern, MAX_CONTEXT_BYTES),
            Self::Image(_) | Self::Account => return Ok(()),
        };
        if !crate::names::is_key_part(value, max) {
            return Err(format!("{name}: 1 to {max} bytes without '#' or control characters"));
        }
        Ok(())
    }

    /// How narrow it is: of two statements that cover a finding, the narrower decides.
    fn narrowness(&self) -> u8 {
        match self {
            Self::Image(_) => 3,
            Self::Context(_) => 2,
            Self::Repository(_) => 1,
            Self::Account => 0,
        }
    }

    /// The image digest, for a statement about one image.
    pub fn image_digest(&self) -> Option<&str> {
        match self {
            Self::Image(digest) => Some(digest),
            _ => None,
        }
    }
}

/// Whether a context matches a pattern: the same number of `/`-separated parts, each equal or
/// matched by its `*`s (any run of characters).
pub fn context_matches(pattern: &str, context: &str) -> bool {
    let (mut patterns, mut parts) = (pattern.split('/'), context.split('/'));
    loop {
        match (patterns.next(), parts.next()) {
            (None, None) => return true,
            (Some(pattern), Some(part)) if glob(pattern, part) => {}
            _ => return false,
        }
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else { return rest.is_empty() };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Where an annotation stands: applied, waiting for a second person, or over.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationState {
    #[default]
    Active,
    Pending,
    Lapsed,
}

/// What a statement says, before it is stored: from Anchore's body, an OpenVEX statement or a
/// CycloneDX vulnerability, already checked.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Statement {
    pub vulnerability_id: String,
    pub status: VexStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<Justification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_statement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageIdentifier>,
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expires_when_fixed: bool,
    /// The document it came from (its `@id` or serial number), for a statement from a document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Statement {
    /// Whether the four-eyes rule holds it back: what silences findings needs a second person.
    pub fn needs_approval(&self) -> bool {
        self.status.suppresses()
    }
}

/// A stored annotation: a statement, who made it, and where it stands.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Annotation {
    pub uuid: String,
    #[serde(flatten)]
    pub statement: Statement,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 when created, one more for each update.
    pub version: u64,
    #[serde(default)]
    pub state: AnnotationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lapsed_at: Option<DateTime<Utc>>,
    /// Why it lapsed: `expired` or `fixed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lapse_reason: Option<String>,
}

impl Annotation {
    pub fn new(uuid: String, statement: Statement, author: &str, now: DateTime<Utc>, state: AnnotationState) -> Self {
        Self {
            uuid,
            statement,
            author: author.to_owned(),
            created_at: now,
            updated_at: now,
            version: 1,
            state,
            approved_by: None,
            approved_at: None,
            lapsed_at: None,
            lapse_reason: None,
        }
    }

    /// Anchore's `PackageVulnerabilityAnnotation`, with this service's fields beside its two.
    pub fn to_anchore(&self) -> serde_json::Value {
        let statement = &self.statement;
        let mut answer = serde_json::json!({
            "annotation": {
                "uuid": self.uuid,
                "vulnerability_id": statement.vulnerability_id,
                "author": self.author,
                "created_at": self.created_at,
                "updated_at": self.updated_at,
                "version": self.version,
                "status": statement.status,
                "status_notes": statement.status_notes,
                "justification": statement.justification,
                "impact_statement": statement.impact_statement,
                "action_statement": statement.action_statement,
                "additional_details": statement.additional_details,
            },
            "package_identifier": statement.package,
            "scope": statement.scope,
            "expires_at": statement.expires_at,
            "expires_when_fixed": statement.expires_when_fixed,
            "state": self.state,
        });
        let extra = [
            ("approved_by", serde_json::json!(self.approved_by)),
            ("approved_at", serde_json::json!(self.approved_at)),
            ("lapsed_at", serde_json::json!(self.lapsed_at)),
            ("lapse_reason", serde_json::json!(self.lapse_reason)),
            ("source", serde_json::json!(statement.source)),
        ];
        for (name, value) in extra.into_iter().filter(|(_, value)| !value.is_null()) {
            answer[name] = value;
        }
        answer
    }

    /// Whether it applies at `now` (expiry by time; a fix is the reader's to check, per finding).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.state == AnnotationState::Active && self.statement.expires_at.is_none_or(|at| at > now)
    }
}

/// What happened to an annotation, as its audit trail records it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Created,
    Updated,
    Approved,
    Deleted,
    Lapsed,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Approved => "approved",
            Self::Deleted => "deleted",
            Self::Lapsed => "lapsed",
        }
    }
}

/// One entry of an annotation's audit trail: who did what when, and each field it changed
/// (`{"status": {"from": "affected", "to": "not_affected"}}`; a creation lists every field).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub uuid: String,
    pub at: DateTime<Utc>,
    pub action: AuditAction,
    pub by: String,
    /// The annotation's version after it.
    pub version: u64,
    pub changes: serde_json::Map<String, serde_json::Value>,
}

impl AuditEntry {
    /// The entry of `action` by `by`, taking `before` (none for a creation) to `after`.
    pub fn of(
        action: AuditAction,
        by: &str,
        at: DateTime<Utc>,
        before: Option<&Annotation>,
        after: &Annotation,
    ) -> Self {
        let fields = |annotation: Option<&Annotation>| match annotation.map(serde_json::to_value) {
            Some(Ok(serde_json::Value::Object(fields))) => fields,
            _ => serde_json::Map::new(),
        };
        let (before, after_fields) = (fields(before), fields(Some(after)));
        let mut changes = serde_json::Map::new();
        let names: std::collections::BTreeSet<&String> = before.keys().chain(after_fields.keys()).collect();
        for name in names.into_iter().filter(|name| !matches!(name.as_str(), "updated_at" | "version")) {
            let (from, to) = (before.get(name), after_fields.get(name));
            if from != to {
                changes.insert(name.clone(), serde_json::json!({ "from": from, "to": to }));
            }
        }
        Self { uuid: after.uuid.clone(), at, action, by: by.to_owned(), version: after.version, changes }
    }
}

/// Why a VEX request or document is refused.
#[derive(Debug, thiserror::Error)]
pub enum VexError {
    #[error("body is {0} bytes; at most {MAX_VEX_BODY_BYTES} are accepted")]
    TooLarge(usize),
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error(
        "body is not a VEX document this service reads; accepted: Anchore's annotation body, OpenVEX (0.2.0 or 0.0.x) or CycloneDX VEX (1.4 to 1.7)"
    )]
    UnknownFormat,
    #[error(transparent)]
    Invalid(#[from] FieldError),
}

impl VexError {
    /// The request field the error is about.
    pub fn field(&self) -> &str {
        match self {
            Self::Invalid(invalid) => &invalid.field,
            _ => "body",
        }
    }

    pub fn is_too_large(&self) -> bool {
        match self {
            Self::TooLarge(_) => true,
            Self::Invalid(invalid) => invalid.is_too_large(),
            _ => false,
        }
    }

    pub fn into_field_error(self) -> FieldError {
        let field = self.field().to_owned();
        match self {
            Self::Invalid(invalid) => invalid,
            other if other.is_too_large() => FieldError::too_large(field, other.to_string()),
            other => FieldError::invalid(field, other.to_string()),
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> VexError {
    FieldError::invalid(field, message).into()
}

/// Where a statement is in its document (`statements[3]`): written out only for an error or a
/// skipped part, so a valid document builds no field names.
#[derive(Clone, Copy, Debug)]
struct At {
    list: &'static str,
    index: usize,
}

impl std::fmt::Display for At {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}[{}]", self.list, self.index)
    }
}

/// A text field of a statement: at most `MAX_VEX_TEXT_BYTES`.
fn text(field: impl std::fmt::Display, value: Option<String>) -> Result<Option<String>, VexError> {
    match value {
        Some(value) if value.len() > MAX_VEX_TEXT_BYTES => Err(FieldError::too_large(
            field.to_string(),
            format!("{} bytes; at most {MAX_VEX_TEXT_BYTES}", value.len()),
        )
        .into()),
        Some(value) if value.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn vulnerability_id(field: impl std::fmt::Display, id: &str) -> Result<String, VexError> {
    if is_vulnerability_id(id) {
        Ok(id.to_owned())
    } else {
        Err(invalid(field.to_string(), "a vulnerability id: 1 to 128 bytes without '#' or control characters"))
    }
}

fn status(field: impl std::fmt::Display, raw: &str) -> Result<VexStatus, VexError> {
    VexStatus::parse(raw)
        .ok_or_else(|| invalid(field.to_string(), format!("{raw:?} is not one of {}", VexStatus::names())))
}

fn justification(field: impl std::fmt::Display, raw: Option<&str>) -> Result<Option<Justification>, VexError> {
    raw.map(|raw| {
        Justification::parse(raw)
            .ok_or_else(|| invalid(field.to_string(), format!("{raw:?} is not one of {}", Justification::names())))
    })
    .transpose()
}

/// The body of Anchore's annotation routes (`PackageVulnerabilityAnnotation`) and of `POST
/// /v2/vex` when it is not a document: Anchore's two fields, and this service's scope and expiry.
/// Read-only fields a client sends back (`uuid`, `version`, `author`, times) are ignored.
#[derive(Deserialize)]
struct AnchoreBody {
    annotation: Option<AnchoreFields>,
    #[serde(default)]
    package_identifier: Option<PackageIdentifier>,
    #[serde(default)]
    scope: Option<serde_json::Value>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    expires_when_fixed: Option<bool>,
}

#[derive(Deserialize)]
struct AnchoreFields {
    vulnerability_id: Option<String>,
    status: Option<String>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    status_notes: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
    #[serde(default)]
    action_statement: Option<String>,
    #[serde(default)]
    additional_details: Option<String>,
}

/// Reads Anchore's annotation body. `image` is the digest of the route's path: the scope then,
/// and a `scope` in the body is refused; without it (`POST /v2/vex`) `scope` is required, so
/// nothing is silenced account-wide by leaving it out.
pub fn parse_anchore(body: &[u8], image: Option<&Digest>, now: DateTime<Utc>) -> Result<Statement, VexError> {
    check_size(body)?;
    let body: AnchoreBody = serde_json::from_slice(body).map_err(|error| invalid("body", error.to_string()))?;
    anchore_statement(body, image, now)
}

fn anchore_statement(body: AnchoreBody, image: Option<&Digest>, now: DateTime<Utc>) -> Result<Statement, VexError> {
    let fields = body.annotation.ok_or_else(|| invalid("annotation", "required"))?;
    let id = fields.vulnerability_id.ok_or_else(|| invalid("annotation.vulnerability_id", "required"))?;
    let raw_status = fields.status.ok_or_else(|| invalid("annotation.status", "required"))?;
    let scope = match (image, body.scope) {
        (Some(digest), None) => Scope::Image(digest.as_str().to_owned()),
        (Some(_), Some(_)) => return Err(invalid("scope", "the path names the image; leave scope out")),
        (None, None) => {
            return Err(invalid("scope", "required: one of image_digest, repository, context or account (true)"));
        }
        (None, Some(scope)) => serde_json::from_value(scope).map_err(|error| invalid("scope", error.to_string()))?,
    };
    if let Some(package) = &body.package_identifier {
        package.check("package_identifier")?;
    }
    let statement = Statement {
        vulnerability_id: vulnerability_id("annotation.vulnerability_id", &id)?,
        status: status("annotation.status", &raw_status)?,
        justification: justification("annotation.justification", fields.justification.as_deref())?,
        status_notes: text("annotation.status_notes", fields.status_notes)?,
        impact_statement: text("annotation.impact_statement", fields.impact_statement)?,
        action_statement: text("annotation.action_statement", fields.action_statement)?,
        additional_details: text("annotation.additional_details", fields.additional_details)?,
        package: body.package_identifier,
        scope,
        expires_at: expiry("expires_at", body.expires_at.as_deref(), now)?,
        expires_when_fixed: body.expires_when_fixed.unwrap_or(false),
        source: None,
    };
    Ok(statement)
}

/// An expiry: RFC 3339, after `now`.
fn expiry(field: &str, raw: Option<&str>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, VexError> {
    let Some(raw) = raw else { return Ok(None) };
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|error| invalid(field, format!("{raw:?} is not an RFC 3339 time: {error}")))?
        .with_timezone(&Utc);
    if at <= now {
        return Err(invalid(field, format!("{raw} is not in the future")));
    }
    Ok(Some(at))
}

fn check_size(body: &[u8]) -> Result<(), VexError> {
    if body.len() > MAX_VEX_BODY_BYTES {
        return Err(VexError::TooLarge(body.len()));
    }
    Ok(())
}

/// What a `POST /v2/vex` body held: its statements, and the parts of it that could not be applied
/// (a product that names no image or package), each with where it is and why.
#[derive(Debug, Default)]
pub struct ParsedVex {
    pub format: &'static str,
    pub statements: Vec<Statement>,
    pub skipped: Vec<Skipped>,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub at: String,
    pub reason: String,
}

/// Reads a `POST /v2/vex` body: an OpenVEX document (`@context` naming openvex), a CycloneDX
/// document (`bomFormat`), or Anchore's annotation body with a `scope`. `expires_at` and
/// `expires_when_fixed` given as query parameters apply to every statement of a document.
pub fn parse_document(body: &[u8], expiry_of_all: Expiry, now: DateTime<Utc>) -> Result<ParsedVex, VexError> {
    check_size(body)?;
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(rename = "@context", borrow)]
        context: Option<std::borrow::Cow<'a, str>>,
        #[serde(rename = "bomFormat", borrow)]
        bom_format: Option<std::borrow::Cow<'a, str>>,
        annotation: Option<serde::de::IgnoredAny>,
    }
    let shape: Shape = serde_json::from_slice(body).map_err(|error| VexError::NotJson(error.to_string()))?;
    let mut parsed = if shape.context.as_deref().is_some_and(|context| context.contains("openvex")) {
        openvex::parse(body)?
    } else if shape.bom_format.as_deref() == Some("CycloneDX") {
        cyclonedx::parse(body)?
    } else if shape.annotation.is_some() {
        let body: AnchoreBody = serde_json::from_slice(body).map_err(|error| invalid("body", error.to_string()))?;
        let statement = anchore_statement(body, None, now)?;
        return Ok(ParsedVex { format: "anchore", statements: vec![statement], skipped: Vec::new() });
    } else {
        return Err(VexError::UnknownFormat);
    };
    let expires_at = expiry("expires_at", expiry_of_all.expires_at.as_deref(), now)?;
    for statement in &mut parsed.statements {
        statement.expires_at = expires_at;
        statement.expires_when_fixed = expiry_of_all.expires_when_fixed;
    }
    Ok(parsed)
}

/// An expiry for every statement of a document (documents have no field for it).
#[derive(Debug, Default, Clone)]
pub struct Expiry {
    pub expires_at: Option<String>,
    pub expires_when_fixed: bool,
}

/// The limits every VEX document is read within.
fn limits() -> crate::bounded::Limits {
    crate::bounded::Limits {
        items: crate::limits::MAX_VEX_STATEMENTS,
        entries: crate::limits::MAX_VEX_DOCUMENT_ENTRIES,
    }
}

/// Reads a VEX document within its bounds; any other error is `field`'s.
fn read<'a, T: Deserialize<'a>>(body: &'a [u8], field: &str) -> Result<T, VexError> {
    crate::bounded::read(body, limits()).map_err(|error| match error {
        crate::bounded::ReadError::TooManyItems => FieldError::too_large(
            field,
            format!("more than {} statements; post them in parts", crate::limits::MAX_VEX_STATEMENTS),
        )
        .into(),
        crate::bounded::ReadError::TooManyEntries => FieldError::too_large(
            "body",
            format!("more than {} list entries in all", crate::limits::MAX_VEX_DOCUMENT_ENTRIES),
        )
        .into(),
        crate::bounded::ReadError::Json(error) => invalid(field, error.to_string()),
    })
}

/// A statement's checked fields, shared by the document formats.
struct StatementText {
    at: At,
    status: VexStatus,
    justification: Option<Justification>,
    impact_statement: Option<String>,
    action_statement: Option<String>,
}

impl StatementText {
    /// OpenVEX's own rules: `not_affected` needs a justification or an impact statement,
    /// `affected` an action statement.
    fn check_openvex_rules(&self) -> Result<(), VexError> {
        if self.status == VexStatus::NotAffected && self.justification.is_none() && self.impact_statement.is_none() {
            return Err(invalid(
                format!("{}.justification", self.at),
                "not_affected needs a justification or an impact_statement (OpenVEX)",
            ));
        }
        if self.status == VexStatus::Affected && self.action_statement.is_none() {
            return Err(invalid(
                format!("{}.action_statement", self.at),
                "affected needs an action_statement (OpenVEX)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! The active annotations of an account in the form every read consults: by vulnerability, only
//! what matching needs. A finding is suppressed when, for each package of the image carrying the
//! vulnerability, the narrowest live statement covering it says `not_affected` or `fixed`.

use super::{context_matches, Annotation, PackageIdentifier, Scope, VexStatus};
use crate::findings::AffectedPackage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What matching needs of an annotation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Rule {
    pub uuid: String,
    pub status: VexStatus,
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageIdentifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expires_when_fixed: bool,
    pub updated_at: DateTime<Utc>,
}

impl Rule {
    /// Whether it covers `package` (or, for `None`, the vulnerability whatever the package) of
    /// `subject` at `now`.
    fn covers(&self, subject: &Subject, package: Option<&AffectedPackage>, now: DateTime<Utc>) -> bool {
        let live = self.expires_at.is_none_or(|at| at > now);
        let unfixed = !self.expires_when_fixed || package.is_none_or(|package| package.fixed_in.is_empty());
        let package_matches = match (&self.package, package) {
            (None, _) => true,
            (Some(wanted), Some(package)) => wanted.covers(&package.package),
            (Some(_), None) => false,
        };
        live && unfixed && package_matches && subject.is_in(&self.scope)
    }

    /// Of two rules covering a finding, the greater decides: the narrower scope, then a named
    /// package, then the later update.
    fn precedence(&self) -> (u8, bool, DateTime<Utc>) {
        (self.scope.narrowness(), self.package.is_some(), self.updated_at)
    }
}

/// The finding's image as matching sees it. `context` is the context it runs in, when the answer
/// is about one place; statements scoped to contexts cover nothing without one.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub image_digest: &'a str,
    pub repositories: &'a [String],
    pub context: Option<&'a str>,
}

impl Subject<'_> {
    fn is_in(&self, scope: &Scope) -> bool {
        match scope {
            Scope::Image(digest) => digest == self.image_digest,
            Scope::Repository(repository) => self.repositories.iter().any(|name| {
                name == repository
                    || name.strip_suffix(repository.as_str()).is_some_and(|registry| registry.ends_with('/'))
            }),
            Scope::Context(pattern) => self.context.is_some_and(|context| context_matches(pattern, context)),
            Scope::Account => true,
        }
    }
}

/// What the annotations say of one finding: the deciding annotation, and whether the finding
/// leaves the answers. Answers carry it as `vex`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub uuid: String,
    pub status: VexStatus,
    pub suppressed: bool,
}

/// The repositories images run from, by digest, from (digest, image tag) pairs: what statements
/// scoped to a repository match.
pub fn repositories<'a>(images: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (digest, tag) in images {
        let repository = crate::image::repository_of(tag);
        let known = found.entry(digest.to_owned()).or_default();
        if !repository.is_empty() && !known.iter().any(|name| name == repository) {
            known.push(repository.to_owned());
        }
    }
    found
}

/// An account's rules as one read applies them: with the repositories of the images it answers
/// about, at one time.
#[derive(Clone, Copy, Debug)]
pub struct Lens<'a> {
    pub rules: &'a Rules,
    pub repositories: &'a BTreeMap<String, Vec<String>>,
    pub now: DateTime<Utc>,
}

impl Lens<'_> {
    /// What the rules say of `vulnerability_id` in image `digest` (in `context`, when the answer
    /// is about one place), carried by `packages`.
    pub fn verdict(
        &self,
        vulnerability_id: &str,
        digest: &str,
        context: Option<&str>,
        packages: &[AffectedPackage],
        complete: bool,
    ) -> Option<Verdict> {
        if !self.rules.names(vulnerability_id) {
            return None;
        }
        let repositories = self.repositories.get(digest).map_or(&[][..], Vec::as_slice);
        let subject = Subject { image_digest: digest, repositories, context };
        self.rules.verdict(vulnerability_id, &subject, packages, complete, self.now)
    }
}

/// An account's active annotations, by vulnerability.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Rules {
    by_vulnerability: BTreeMap<String, Vec<Rule>>,
}

impl Rules {
    /// The rules of the annotations that apply (active, not expired at `now`).
    pub fn from_annotations<'a>(annotations: impl IntoIterator<Item = &'a Annotation>, now: DateTime<Utc>) -> Self {
        let mut by_vulnerability: BTreeMap<String, Vec<Rule>> = BTreeMap::new();
        for annotation in annotations.into_iter().filter(|annotation| annotation.is_live(now)) {
            let statement = &annotation.statement;
            by_vulnerability.entry(statement.vulnerability_id.clone()).or_default().push(Rule {
                uuid: annotation.uuid.clone(),
                status: statement.status,
                scope: statement.scope.clone(),
                package: statement.package.clone(),
                expires_at: statement.expires_at,
                expires_when_fixed: statement.expires_when_fixed,
                updated_at: annotation.updated_at,
            });
        }
        Self { by_vulnerability }
    }

    pub fn is_empty(&self) -> bool {
        self.by_vulnerability.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_vulnerability.values().map(Vec::len).sum()
    }

    /// Whether any rule names the vulnerability: most findings have none, and skip the rest.
    pub fn names(&self, vulnerability_id: &str) -> bool {
        self.by_vulnerability.contains_key(vulnerability_id)
    }

    /// What the rules say of `vulnerability_id` in `subject`, carried by `packages`. `complete`
    /// says `packages` lists every package carrying it (an index entry lists the first few): a
    /// finding is suppressed only when each of its packages is, so a statement about one package
    /// suppresses an incomplete list only if it names no package.
    pub fn verdict(
        &self,
        vulnerability_id: &str,
        subject: &Subject,
        packages: &[AffectedPackage],
        complete: bool,
        now: DateTime<Utc>,
    ) -> Option<Verdict> {
        let rules = self.by_vulnerability.get(vulnerability_id)?;
        let deciding = |package: Option<&AffectedPackage>| {
            rules.iter().filter(|rule| rule.covers(subject, package, now)).max_by_key(|rule| rule.precedence())
        };
        let per_package: Vec<Option<&Rule>> = if packages.is_empty() {
            vec![deciding(None)]
        } else {
            let mut decided: Vec<Option<&Rule>> = packages.iter().map(|package| deciding(Some(package))).collect();
            if !complete {
                // The packages not listed: only a statement without a package covers them.
                decided.push(
                    rules
                        .iter()
                        .filter(|rule| rule.package.is_none() && rule.covers(subject, None, now))
                        .max_by_key(|rule| rule.precedence()),
                );
            }
            decided
        };
        let suppressed = per_package.iter().all(|rule| rule.is_some_and(|rule| rule.status.suppresses()));
        let shown = per_package
            .iter()
            .flatten()
            .max_by_key(|rule| (rule.status.suppresses() == suppressed, rule.precedence()))?;
        Some(Verdict { uuid: shown.uuid.clone(), status: shown.status, suppressed })
    }
}

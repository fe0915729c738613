//! Version ranges in the purl specification's `vers` syntax: `vers:deb/>=5.6.0|<=5.6.1`. A
//! version is in the range when it equals an `=` constraint, or lies between a lower bound and
//! the upper bound after it (in version order), or below the first upper bound, or above the
//! last lower bound; `!=` takes one version out; `*` is every version.

use super::version::Ecosystem;
use crate::limits::{MAX_VERS_BYTES, MAX_VERS_CONSTRAINTS};
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparator {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparator {
    fn admits(self, order: Ordering) -> bool {
        match self {
            Self::Equal => order == Ordering::Equal,
            Self::NotEqual => order != Ordering::Equal,
            Self::Less => order == Ordering::Less,
            Self::LessOrEqual => order != Ordering::Greater,
            Self::Greater => order == Ordering::Greater,
            Self::GreaterOrEqual => order != Ordering::Less,
        }
    }

    fn is_lower_bound(self) -> bool {
        matches!(self, Self::Greater | Self::GreaterOrEqual)
    }
}

/// A parsed `vers` range of one ecosystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    /// The range's versioning scheme: a purl type.
    pub scheme: String,
    ecosystem: Ecosystem,
    any: bool,
    constraints: Vec<(Comparator, String)>,
}

impl VersionRange {
    /// Reads `vers:{scheme}/{constraint}|…`; `Err` says what is wrong, for a 400 naming `range`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > MAX_VERS_BYTES {
            return Err(format!("is longer than {MAX_VERS_BYTES} bytes"));
        }
        let rest = raw.trim().strip_prefix("vers:").ok_or("must start with \"vers:\" (vers:deb/>=5.6.0|<=5.6.1)")?;
        let (scheme, constraints) = rest.split_once('/').ok_or("must name its scheme: vers:{type}/{constraints}")?;
        let scheme = scheme.to_ascii_lowercase();
        let ecosystem = Ecosystem::of(&scheme).ok_or_else(|| {
            format!("versions of {scheme:?} have no order here; ranges are read for deb, rpm, apk, npm, cargo, golang, pypi, maven and gem")
        })?;
        let constraints = constraints.trim();
        if constraints == "*" {
            return Ok(Self { scheme, ecosystem, any: true, constraints: Vec::new() });
        }
        let mut parsed = Vec::new();
        for constraint in constraints.split('|') {
            if parsed.len() == MAX_VERS_CONSTRAINTS {
                return Err(format!("has more than {MAX_VERS_CONSTRAINTS} constraints"));
            }
            let constraint = constraint.trim();
            let (comparator, version) = [
                (">=", Comparator::GreaterOrEqual),
                ("<=", Comparator::LessOrEqual),
                ("!=", Comparator::NotEqual),
                (">", Comparator::Greater),
                ("<", Comparator::Less),
                ("=", Comparator::Equal),
            ]
            .into_iter()
            .find_map(|(text, comparator)| constraint.strip_prefix(text).map(|version| (comparator, version)))
            .unwrap_or((Comparator::Equal, constraint));
            let version =
                decode(version.trim()).ok_or_else(|| format!("{constraint:?} is not percent-encoded right"))?;
            if version.is_empty() || version == "*" {
                return Err(format!("constraint {constraint:?} names no version"));
            }
            parsed.push((comparator, version));
        }
        parsed.sort_by(|(_, a), (_, b)| ecosystem.compare(a, b));
        Ok(Self { scheme, ecosystem, any: false, constraints: parsed })
    }

    /// Whether `version` is in the range.
    pub fn contains(&self, version: &str) -> bool {
        if self.any {
            return true;
        }
        let order = |bound: &str| self.ecosystem.compare(version, bound);
        let mut bounds = Vec::new();
        for (comparator, bound) in &self.constraints {
            match comparator {
                Comparator::Equal if order(bound) == Ordering::Equal => return true,
                Comparator::NotEqual if order(bound) == Ordering::Equal => return false,
                Comparator::Equal | Comparator::NotEqual => {}
                ranged => bounds.push((*ranged, bound)),
            }
        }
        for (n, (comparator, bound)) in bounds.iter().enumerate() {
            if !comparator.admits(order(bound)) {
                continue;
            }
            if comparator.is_lower_bound() {
                match bounds.get(n + 1) {
                    None => return true,
                    Some((next, next_bound)) if !next.is_lower_bound() => {
                        if next.admits(order(next_bound)) {
                            return true;
                        }
                    }
                    Some(_) => {}
                }
            } else if n == 0 {
                return true;
            }
        }
        false
    }

    pub fn ecosystem(&self) -> Ecosystem {
        self.ecosystem
    }
}

/// `%xx` escapes decoded; `None` for a broken one.
fn decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut n = 0;
    while n < bytes.len() {
        if bytes[n] == b'%' {
            let hex = std::str::from_utf8(bytes.get(n + 1..n + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            n += 3;
        } else {
            out.push(bytes[n]);
            n += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::VersionRange;

    fn range(raw: &str) -> VersionRange {
        VersionRange::parse(raw).unwrap_or_else(|error| panic!("{raw}: {error}"))
    }

    #[test]
    fn a_range_admits_what_lies_between_its_bounds_and_its_listed_versions() {
        let xz = range("vers:deb/>=5.6.0|<=5.6.1");
        // A bound without a Debian revision names the upstream version, whatever its revision.
        for version in ["5.6.0-0.1", "5.6.1-1", "5.6.0-1", "5.6.1-2"] {
            assert!(xz.contains(version), "{version}");
        }
        for version in ["5.4.1-1", "5.6.2-1", "5.6.0~rc1-1", "1:5.6.0-1"] {
            assert!(!xz.contains(version), "{version}");
        }
        let npm = range("vers:npm/>=1.0.0|<2.0.0|!=1.2.3|3.0.0");
        assert!(npm.contains("1.5.0") && npm.contains("3.0.0"));
        assert!(!npm.contains("1.2.3") && !npm.contains("2.0.0") && !npm.contains("0.9.0"));
        let below = range("vers:pypi/<2.0|>=3.0");
        assert!(below.contains("1.9") && below.contains("3.1") && !below.contains("2.5"));
        assert!(range("vers:golang/*").contains("v0.0.0-2020"));
        assert!(range("vers:maven/>=2.0.0-beta9|<2.15.0").contains("2.14.1"));
    }

    #[test]
    fn a_malformed_range_says_what_is_wrong() {
        for (raw, says) in [
            ("deb/>=1", "must start with"),
            ("vers:deb", "must name its scheme"),
            ("vers:generic/>=1", "have no order"),
            ("vers:deb/>=", "names no version"),
            ("vers:deb/>=1|", "names no version"),
            ("vers:deb/%zz", "percent-encoded"),
        ] {
            let error = VersionRange::parse(raw).unwrap_err();
            assert!(error.contains(says), "{raw}: {error}");
        }
        let long = format!("vers:deb/{}", vec!["1"; 100].join("|"));
        assert!(VersionRange::parse(&long).unwrap_err().contains("constraints"));
    }
}

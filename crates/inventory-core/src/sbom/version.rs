//! Version order per ecosystem, as each package manager sorts its own versions: dpkg's (epoch,
//! `~` before everything, revision), rpm's `rpmvercmp`, apk's suffixes, SemVer (npm, cargo, Go
//! modules with their `v`), PEP 440 (pypi), Maven's qualifiers and RubyGems' prereleases.
//! `vers` ranges compare with these; an ecosystem without one has no range search.

use std::cmp::Ordering;

/// An ecosystem whose versions have an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecosystem {
    Deb,
    Rpm,
    Apk,
    Semver,
    Pep440,
    Maven,
    Gem,
}

impl Ecosystem {
    /// The order of a purl (or vers) type's versions.
    pub fn of(purl_type: &str) -> Option<Self> {
        Some(match purl_type {
            "deb" => Self::Deb,
            "rpm" => Self::Rpm,
            "apk" => Self::Apk,
            "npm" | "cargo" | "golang" => Self::Semver,
            "pypi" => Self::Pep440,
            "maven" => Self::Maven,
            "gem" => Self::Gem,
            _ => return None,
        })
    }

    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Self::Deb => deb(a, b),
            Self::Rpm => rpm(a, b),
            Self::Apk => apk(a, b),
            Self::Semver => semver(a, b),
            Self::Pep440 => Pep440::parse(a).cmp(&Pep440::parse(b)),
            Self::Maven => maven(a, b),
            Self::Gem => gem(a, b),
        }
    }
}

/// The leading run of ASCII digits of `text` and the rest.
fn leading_digits(text: &str) -> (&str, &str) {
    let end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    text.split_at(end)
}

/// Two runs of digits as numbers, however long.
fn numeric(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `[epoch:]upstream[-revision]`, compared as dpkg does; a version without a revision (a range's
/// bound, `5.6.1`) names the upstream version and equals any revision of it.
fn deb(a: &str, b: &str) -> Ordering {
    fn split(version: &str) -> (&str, &str, &str) {
        let (epoch, rest) = match version.split_once(':') {
            Some((epoch, rest)) if epoch.bytes().all(|b| b.is_ascii_digit()) => (epoch, rest),
            _ => ("0", version),
        };
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, "0"));
        (epoch, upstream, revision)
    }
    let revisions = a.contains('-') && b.contains('-');
    let (a, b) = (split(a), split(b));
    let upstream = numeric(a.0, b.0).then_with(|| dpkg_part(a.1, b.1));
    if revisions {
        upstream.then_with(|| dpkg_part(a.2, b.2))
    } else {
        upstream
    }
}

/// dpkg's `verrevcmp`: non-digit runs by a character order where `~` sorts before the end and
/// letters before other characters, then digit runs as numbers.
fn dpkg_part(mut a: &str, mut b: &str) -> Ordering {
    fn rank(c: Option<u8>) -> i32 {
        match c {
            Some(b'~') => -1,
            None => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(c),
            Some(c) => i32::from(c) + 256,
        }
    }
    while !a.is_empty() || !b.is_empty() {
        let (a_text, b_text) = (a.find(|c: char| c.is_ascii_digit()), b.find(|c: char| c.is_ascii_digit()));
        let (a_run, a_rest) = a.split_at(a_text.unwrap_or(a.len()));
        let (b_run, b_rest) = b.split_at(b_text.unwrap_or(b.len()));
        let (a_bytes, b_bytes) = (a_run.as_bytes(), b_run.as_bytes());
        for n in 0..a_bytes.len().max(b_bytes.len()) {
            let order = rank(a_bytes.get(n).copied()).cmp(&rank(b_bytes.get(n).copied()));
            if order != Ordering::Equal {
                return order;
            }
        }
        let ((a_digits, a_next), (b_digits, b_next)) = (leading_digits(a_rest), leading_digits(b_rest));
        let order = numeric(a_digits, b_digits);
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (a_next, b_next);
    }
    Ordering::Equal
}

/// `[epoch:]version[-release]`, each compared by `rpmvercmp`.
fn rpm(a: &str, b: &str) -> Ordering {
    fn split(version: &str) -> (&str, &str, &str) {
        let (epoch, rest) = match version.split_once(':') {
            Some((epoch, rest)) if epoch.bytes().all(|b| b.is_ascii_digit()) => (epoch, rest),
            _ => ("0", version),
        };
        let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
        (epoch, version, release)
    }
    let (a, b) = (split(a), split(b));
    numeric(a.0, b.0).then_with(|| rpmvercmp(a.1, b.1)).then_with(|| match (a.2.is_empty(), b.2.is_empty()) {
        // A version without a release matches any release of it.
        (true, _) | (_, true) => Ordering::Equal,
        _ => rpmvercmp(a.2, b.2),
    })
}

/// rpm's segment comparison: `~` sorts before anything, `^` after the end but before more
/// segments, digit segments above letter segments.
fn rpmvercmp(mut a: &str, mut b: &str) -> Ordering {
    let separator = |c: char| !c.is_ascii_alphanumeric() && c != '~' && c != '^';
    loop {
        a = a.trim_start_matches(separator);
        b = b.trim_start_matches(separator);
        match (a.strip_prefix('~'), b.strip_prefix('~')) {
            (Some(a_rest), Some(b_rest)) => {
                (a, b) = (a_rest, b_rest);
                continue;
            }
            (Some(_), None) => return Ordering::Less,
            (None, Some(_)) => return Ordering::Greater,
            (None, None) => {}
        }
        match (a.strip_prefix('^'), b.strip_prefix('^')) {
            (Some(a_rest), Some(b_rest)) => {
                (a, b) = (a_rest, b_rest);
                continue;
            }
            (Some(_), None) => return if b.is_empty() { Ordering::Greater } else { Ordering::Less },
            (None, Some(_)) => return if a.is_empty() { Ordering::Less } else { Ordering::Greater },
            (None, None) => {}
        }
        if a.is_empty() || b.is_empty() {
            // Whichever has segments left is newer.
            return (!a.is_empty()).cmp(&!b.is_empty());
        }
        let digits = a.starts_with(|c: char| c.is_ascii_digit());
        let end = |text: &str| {
            text.find(|c: char| if digits { !c.is_ascii_digit() } else { !c.is_ascii_alphabetic() })
                .unwrap_or(text.len())
        };
        let (a_segment, a_rest) = a.split_at(end(a));
        let (b_segment, b_rest) = b.split_at(end(b));
        if b_segment.is_empty() {
            // Segments of different kinds: a number is newer than letters.
            return if digits { Ordering::Greater } else { Ordering::Less };
        }
        let order = if digits { numeric(a_segment, b_segment) } else { a_segment.cmp(b_segment) };
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (a_rest, b_rest);
    }
}

/// Alpine's `1.2.3[letter][_suffix[N]]…[-rN]`: numbers, a letter, then suffixes where
/// `_alpha`, `_beta`, `_pre`, `_rc` come before the release and `_cvs`…`_p` after it.
fn apk(a: &str, b: &str) -> Ordering {
    fn split(version: &str) -> (&str, &str) {
        match version.rsplit_once("-r") {
            Some((version, revision)) if revision.bytes().all(|b| b.is_ascii_digit()) => (version, revision),
            _ => (version, "0"),
        }
    }
    fn suffix_rank(suffix: &str) -> i32 {
        match suffix {
            "alpha" => -4,
            "beta" => -3,
            "pre" => -2,
            "rc" => -1,
            "cvs" => 1,
            "svn" => 2,
            "git" => 3,
            "hg" => 4,
            "p" => 5,
            _ => 0,
        }
    }
    /// The release numbers and letter, then each suffix as (rank, number).
    fn parts(version: &str) -> (Vec<&str>, Vec<(i32, &str)>) {
        let mut pieces = version.split('_');
        let release = pieces.next().unwrap_or_default().split('.').collect();
        let suffixes = pieces
            .map(|piece| {
                let end = piece.find(|c: char| c.is_ascii_digit()).unwrap_or(piece.len());
                (suffix_rank(&piece[..end]), &piece[end..])
            })
            .collect();
        (release, suffixes)
    }
    let ((a_version, a_revision), (b_version, b_revision)) = (split(a), split(b));
    let ((a_release, a_suffixes), (b_release, b_suffixes)) = (parts(a_version), parts(b_version));
    for n in 0..a_release.len().max(b_release.len()) {
        let order = match (a_release.get(n), b_release.get(n)) {
            (Some(a), Some(b)) => {
                let ((a_digits, a_letter), (b_digits, b_letter)) = (leading_digits(a), leading_digits(b));
                numeric(a_digits, b_digits).then_with(|| a_letter.cmp(b_letter))
            }
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    for n in 0..a_suffixes.len().max(b_suffixes.len()) {
        let (a_rank, a_number) = a_suffixes.get(n).copied().unwrap_or((0, ""));
        let (b_rank, b_number) = b_suffixes.get(n).copied().unwrap_or((0, ""));
        let order = a_rank.cmp(&b_rank).then_with(|| numeric(a_number, b_number));
        if order != Ordering::Equal {
            return order;
        }
    }
    numeric(a_revision, b_revision)
}

/// SemVer 2.0 precedence; a leading `v` (Go modules) and build metadata are ignored, missing
/// minor and patch numbers are 0.
fn semver(a: &str, b: &str) -> Ordering {
    fn split(version: &str) -> (Vec<&str>, Option<&str>) {
        let version = version.trim().trim_start_matches(['v', 'V']);
        let version = version.split_once('+').map_or(version, |(version, _)| version);
        let (core, pre) = match version.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (version, None),
        };
        (core.split('.').collect(), pre)
    }
    let ((a_core, a_pre), (b_core, b_pre)) = (split(a), split(b));
    for n in 0..a_core.len().max(b_core.len()).max(3) {
        let order = numeric(a_core.get(n).copied().unwrap_or("0"), b_core.get(n).copied().unwrap_or("0"));
        if order != Ordering::Equal {
            return order;
        }
    }
    match (a_pre, b_pre) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(a), Some(b)) => {
            let (a, b): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
            for n in 0..a.len().max(b.len()) {
                let order = match (a.get(n), b.get(n)) {
                    (Some(a), Some(b)) => identifier(a, b),
                    (Some(_), None) => Ordering::Greater,
                    (None, Some(_)) => Ordering::Less,
                    (None, None) => Ordering::Equal,
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
            Ordering::Equal
        }
    }
}

/// A prerelease identifier: numbers below words, numbers by value, words by their bytes.
fn identifier(a: &str, b: &str) -> Ordering {
    let is_number = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match (is_number(a), is_number(b)) {
        (true, true) => numeric(a, b),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

/// A PEP 440 version as the order sees it; what does not parse sorts by its text after every
/// version that does.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pep440 {
    Version {
        epoch: u64,
        /// Without trailing zeros: 1.0 is 1.
        release: Vec<u64>,
        /// A release with only `.devN` sorts before its prereleases: (-1, 0).
        pre: (i8, u64),
        post: Option<u64>,
        /// `None` (no dev part) sorts after any `.devN` of the same version.
        dev: DevPart,
        local: Vec<String>,
    },
    Other(String),
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum DevPart {
    Dev(u64),
    None,
}

impl Pep440 {
    fn parse(raw: &str) -> Self {
        Self::try_parse(raw).unwrap_or_else(|| Self::Other(raw.to_owned()))
    }

    fn try_parse(raw: &str) -> Option<Self> {
        let text = raw.trim().to_ascii_lowercase();
        let text = text.strip_prefix('v').unwrap_or(&text);
        let (text, local) = match text.split_once('+') {
            Some((text, local)) => (text, local.split(['.', '-', '_']).map(str::to_owned).collect()),
            None => (text, Vec::new()),
        };
        let (epoch, mut rest) = match text.split_once('!') {
            Some((epoch, rest)) => (epoch.parse().ok()?, rest),
            None => (0, text),
        };
        let mut release = Vec::new();
        loop {
            let (digits, after) = leading_digits(rest);
            release.push(digits.parse::<u64>().ok()?);
            match after.strip_prefix('.') {
                Some(next) if next.starts_with(|c: char| c.is_ascii_digit()) => rest = next,
                _ => {
                    rest = after;
                    break;
                }
            }
        }
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let take_number = |text: &str| -> (u64, String) {
            let text = text.trim_start_matches(['.', '-', '_']);
            let (digits, after) = leading_digits(text);
            (digits.parse().unwrap_or(0), after.to_owned())
        };
        let mut rest = rest.trim_start_matches(['.', '-', '_']).to_owned();
        let mut pre = None;
        for (word, rank) in
            [("alpha", 0), ("beta", 1), ("preview", 2), ("pre", 2), ("rc", 2), ("a", 0), ("b", 1), ("c", 2)]
        {
            if let Some(after) = rest.strip_prefix(word) {
                let (number, after) = take_number(after);
                pre = Some((rank, number));
                rest = after.trim_start_matches(['.', '-', '_']).to_owned();
                break;
            }
        }
        let mut post = None;
        for word in ["post", "rev", "r"] {
            if let Some(after) = rest.strip_prefix(word) {
                let (number, after) = take_number(after);
                post = Some(number);
                rest = after.trim_start_matches(['.', '-', '_']).to_owned();
                break;
            }
        }
        if post.is_none() && rest.starts_with(|c: char| c.is_ascii_digit()) && text.contains('-') {
            let (number, after) = take_number(&rest);
            post = Some(number);
            rest = after;
        }
        let dev = match rest.strip_prefix("dev") {
            Some(after) => {
                let (number, after) = take_number(after);
                rest = after;
                DevPart::Dev(number)
            }
            None => DevPart::None,
        };
        if !rest.is_empty() {
            return None;
        }
        let pre = match (pre, post, &dev) {
            (Some(pre), _, _) => pre,
            (None, None, DevPart::Dev(_)) => (-1, 0),
            _ => (3, 0),
        };
        Some(Self::Version { epoch, release, pre, post, dev, local })
    }
}

/// Maven's order, close to `ComparableVersion`: numbers and words split at `.`, `-` and where
/// digits meet letters; trailing zeros and empty parts do not count; the known qualifiers sort
/// `alpha < beta < milestone < rc < snapshot < release < sp`, other words after them.
fn maven(a: &str, b: &str) -> Ordering {
    #[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
    enum Item {
        Qualifier(i32, String),
        Number(u128),
    }
    fn items(version: &str) -> Vec<Item> {
        let lower = version.to_ascii_lowercase();
        let mut items = Vec::new();
        let mut token = String::new();
        let push = |token: &mut String, items: &mut Vec<Item>| {
            if token.is_empty() {
                return;
            }
            let item = match token.parse::<u128>() {
                Ok(number) => Item::Number(number),
                Err(_) => {
                    let rank = match token.as_str() {
                        "alpha" | "a" => 0,
                        "beta" | "b" => 1,
                        "milestone" | "m" => 2,
                        "rc" | "cr" => 3,
                        "snapshot" => 4,
                        "ga" | "final" | "release" => 5,
                        "sp" => 6,
                        _ => 7,
                    };
                    Item::Qualifier(rank, if rank == 7 { token.clone() } else { String::new() })
                }
            };
            items.push(item);
            token.clear();
        };
        // Each `-` group loses its trailing zeros and releases: `1.0-alpha-1` is `1-alpha-1`.
        for group in lower.split('-') {
            let start = items.len();
            let mut digits = None;
            for c in group.chars() {
                if c == '.' || c == '_' {
                    push(&mut token, &mut items);
                    digits = None;
                    continue;
                }
                let is_digit = c.is_ascii_digit();
                if digits.is_some_and(|was| was != is_digit) {
                    push(&mut token, &mut items);
                }
                digits = Some(is_digit);
                token.push(c);
            }
            push(&mut token, &mut items);
            while items.len() > start && matches!(items.last(), Some(Item::Number(0)) | Some(Item::Qualifier(5, _))) {
                items.pop();
            }
        }
        items
    }
    let (a, b) = (items(a), items(b));
    for n in 0..a.len().max(b.len()) {
        let order = match (a.get(n), b.get(n)) {
            (Some(a), Some(b)) => a.cmp(b),
            // What is past the end is a release: a number after it is newer, a qualifier
            // before `release` is older.
            (Some(Item::Number(_)), None) => Ordering::Greater,
            (None, Some(Item::Number(_))) => Ordering::Less,
            (Some(Item::Qualifier(rank, _)), None) => rank.cmp(&5),
            (None, Some(Item::Qualifier(rank, _))) => 5.cmp(rank),
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// RubyGems' `Gem::Version`: segments split at `.` and where digits meet letters; a version with
/// a letter is a prerelease, before the release; numbers sort above words.
fn gem(a: &str, b: &str) -> Ordering {
    fn segments(version: &str) -> Vec<&str> {
        let mut segments = Vec::new();
        for part in version.trim().split(['.', '-']) {
            let mut rest = part;
            while !rest.is_empty() {
                let digits = rest.starts_with(|c: char| c.is_ascii_digit());
                let end = rest
                    .find(|c: char| if digits { !c.is_ascii_digit() } else { c.is_ascii_digit() })
                    .unwrap_or(rest.len());
                segments.push(&rest[..end]);
                rest = &rest[end..];
            }
        }
        let zero = |segment: &&str| segment.trim_start_matches('0').is_empty();
        // Zeros before a prerelease's letters do not count either: `1.0.a` is `1.a`.
        if let Some(letters) = segments.iter().position(|segment| !segment.starts_with(|c: char| c.is_ascii_digit())) {
            let mut start = letters;
            while start > 1 && zero(&segments[start - 1]) {
                start -= 1;
            }
            segments.drain(start..letters);
        }
        while segments.len() > 1 && segments.last().is_some_and(|segment| zero(&segment)) {
            segments.pop();
        }
        segments
    }
    let (a, b) = (segments(a), segments(b));
    for n in 0..a.len().max(b.len()) {
        let order = match (a.get(n), b.get(n)) {
            (Some(a), Some(b)) => {
                match (a.starts_with(|c: char| c.is_ascii_digit()), b.starts_with(|c: char| c.is_ascii_digit())) {
                    (true, true) => numeric(a, b),
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    (false, false) => a.cmp(b),
                }
            }
            (Some(a), None) => {
                if a.starts_with(|c: char| c.is_ascii_digit()) {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (None, Some(b)) => {
                if b.starts_with(|c: char| c.is_ascii_digit()) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::Ecosystem::{self, *};
    use std::cmp::Ordering::{Equal, Greater, Less};

    /// Each list is in ascending order; every pair is checked both ways.
    fn ascending(ecosystem: Ecosystem, versions: &[&str]) {
        for (n, a) in versions.iter().enumerate() {
            for (m, b) in versions.iter().enumerate() {
                assert_eq!(ecosystem.compare(a, b), n.cmp(&m), "{ecosystem:?}: {a} against {b}");
            }
        }
    }

    #[test]
    fn each_ecosystem_orders_versions_as_its_package_manager_does() {
        ascending(
            Deb,
            &["5.4.1-1", "5.6.0~rc1-1", "5.6.0-0.1", "5.6.0-1", "5.6.1-1", "5.6.1-1+b1", "5.6.10-1", "1:0.1-1"],
        );
        ascending(Rpm, &["1.0~rc1-1", "1.0-1.el9", "1.0-2.el9", "1.0^git1-1", "1.0a-1", "1.0.1-1", "1:0.9-1"]);
        ascending(
            Apk,
            &["1.2.3_alpha1-r0", "1.2.3_rc2-r0", "1.2.3-r0", "1.2.3-r1", "1.2.3_p1-r0", "1.2.3a-r0", "1.2.4-r0"],
        );
        ascending(
            Semver,
            &[
                "v1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.2.0",
                "v1.10.0",
            ],
        );
        ascending(Pep440, &["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.1", "1!0.5"]);
        ascending(Maven, &["1.0-alpha-1", "1.0-beta", "1.0-rc1", "1.0-SNAPSHOT", "1.0", "1.0-sp1", "1.0.1", "1.10"]);
        ascending(Gem, &["1.0.a", "1.0.b1", "1.0", "1.0.1", "1.10"]);
    }

    #[test]
    fn spellings_of_one_version_are_equal() {
        assert_eq!(Deb.compare("0:1.0-1", "1.0-1"), Equal);
        assert_eq!(Pep440.compare("1.0", "1.0.0"), Equal);
        assert_eq!(Pep440.compare("1.0-1", "1.0.post1"), Equal);
        assert_eq!(Semver.compare("v1.2", "1.2.0+build.5"), Equal);
        assert_eq!(Maven.compare("1.0.0", "1-final"), Equal);
        assert_eq!(Rpm.compare("1.0", "1.0-3.el9"), Equal);
        assert_eq!(Gem.compare("1.0.0", "1"), Equal);
        assert_eq!(Deb.compare("2.36-9+deb12u14", "2.36-9+deb12u4"), Greater);
        assert_eq!(Apk.compare("3.1.4-r5", "3.1.4-r10"), Less);
    }

    #[test]
    fn ecosystems_come_from_purl_types() {
        assert_eq!(Ecosystem::of("golang"), Some(Semver));
        assert_eq!(Ecosystem::of("pypi"), Some(Pep440));
        assert_eq!(Ecosystem::of("generic"), None);
    }
}

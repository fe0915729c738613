//! An SBOM as stored: the image's record, its package index entries, and the change of index
//! a new SBOM makes.

use super::{SbomFormat, SbomPackage};
use crate::keys::{package_entry_sk, package_pk, sbom_pk, ItemKind, SBOM_RECORD_SK};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// An image's SBOM record: it names the current generation of the image's chunks and guards
/// them and the image's index entries with the lease of a post.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ImageSbomRecord {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub image_digest: String,
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_until: Option<i64>,
    /// `None` until the first post is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<StoredSbom>,
}

/// What the current SBOM of an image is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StoredSbom {
    pub format: SbomFormat,
    pub generation: String,
    pub packages: u32,
    pub package_chunks: u32,
    /// The generation holding the document as posted (it stays when a re-post changes no
    /// package but the document's bytes), and its chunks.
    pub document_generation: String,
    pub document_chunks: u32,
    pub document_bytes: u64,
    /// Of the normalised packages: an unchanged re-post writes no index entry.
    pub content_hash: String,
    pub document_hash: String,
    pub posted_at: DateTime<Utc>,
    pub posted_by: String,
    #[serde(default)]
    pub skipped_count: usize,
}

impl ImageSbomRecord {
    pub fn new(account: &str, digest: &str) -> Self {
        Self {
            pk: sbom_pk(account, digest),
            sk: SBOM_RECORD_SK.to_owned(),
            kind: ItemKind::Sbom.as_str().to_owned(),
            image_digest: digest.to_owned(),
            version: 0,
            lock_owner: None,
            lock_until: None,
            current: None,
        }
    }

    pub fn lease_is_live(&self, now: DateTime<Utc>) -> bool {
        self.lock_until.is_some_and(|until| until >= now.timestamp())
    }
}

/// One entry of the package index: an image carrying a package, filed under a name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PackageEntry {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub image_digest: String,
    #[serde(flatten)]
    pub package: SbomPackage,
}

/// An entry's key: (partition, sort key).
pub type EntryKey = (String, String);

/// The index entries of an image's packages: each under its name and its source's.
pub fn package_entries(account: &str, digest: &str, packages: &[SbomPackage]) -> BTreeMap<EntryKey, PackageEntry> {
    let mut entries = BTreeMap::new();
    for package in packages {
        for name in package.index_names() {
            let pk = package_pk(account, &package.package_type, name);
            let sk = package_entry_sk(digest, &package.purl);
            let entry = PackageEntry {
                pk: pk.clone(),
                sk: sk.clone(),
                kind: ItemKind::PackageEntry.as_str().to_owned(),
                image_digest: digest.to_owned(),
                package: package.clone(),
            };
            entries.insert((pk, sk), entry);
        }
    }
    entries
}

/// What a new SBOM changes in the index.
#[derive(Debug, Default, PartialEq)]
pub struct PackageIndexChange {
    pub puts: Vec<PackageEntry>,
    pub deletes: Vec<EntryKey>,
}

/// The change from the entries of `before` (the current packages) and `uncertain` (packages of
/// chunks a failed post left: their entries may exist) to those of `after`. Without uncertainty,
/// only what differs is written; with it, every entry of `after` is written again (the failed
/// post may have deleted some).
pub fn plan_package_index(
    before: &BTreeMap<EntryKey, PackageEntry>,
    uncertain: &BTreeSet<EntryKey>,
    after: BTreeMap<EntryKey, PackageEntry>,
) -> PackageIndexChange {
    let recovering = !uncertain.is_empty();
    let deletes = before
        .keys()
        .chain(uncertain)
        .filter(|key| !after.contains_key(*key))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let puts = after
        .into_iter()
        .filter(|(key, entry)| recovering || before.get(key) != Some(entry))
        .map(|(_, entry)| entry)
        .collect();
    PackageIndexChange { puts, deletes }
}

/// A package watch as answered: what it looks for, who made it and when.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WatchSpec {
    pub watch_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub package_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl WatchSpec {
    /// The search the watch runs: its fields as the package search's parameters.
    pub fn query(&self) -> Result<super::PackageQuery, crate::field::FieldError> {
        super::PackageQuery::from_params(|parameter| match parameter {
            "purl" => self.purl.clone(),
            "name" => self.name.clone(),
            "type" => self.package_type.clone(),
            "version" => self.version.clone(),
            "range" => self.range.clone(),
            _ => None,
        })
    }
}

/// A package watch as stored.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PackageWatch {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(flatten)]
    pub spec: WatchSpec,
}

impl PackageWatch {
    pub fn new(account: &str, spec: WatchSpec) -> Self {
        Self {
            pk: crate::keys::package_watches_pk(account),
            sk: spec.watch_id.clone(),
            kind: ItemKind::PackageWatch.as_str().to_owned(),
            spec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::from_purl;

    fn packages(purls: &[&str]) -> Vec<SbomPackage> {
        purls.iter().map(|purl| from_purl(purl).unwrap()).collect()
    }

    #[test]
    fn a_new_sbom_writes_only_what_changed_and_after_a_failure_everything() {
        let before =
            package_entries("a", "sha256:1", &packages(&["pkg:deb/debian/xz-utils@5.6.0-1", "pkg:npm/left-pad@1.0.0"]));
        let mut liblzma = from_purl("pkg:deb/debian/liblzma5@5.6.1-1").unwrap();
        liblzma.source = Some("xz-utils".into());
        let mut next = packages(&["pkg:npm/left-pad@1.0.0"]);
        next.push(liblzma);
        let after = package_entries("a", "sha256:1", &next);
        assert_eq!(after.len(), 3, "liblzma5 is filed under its name and its source's");
        let change = plan_package_index(&before, &BTreeSet::new(), after.clone());
        let put: Vec<&str> = change.puts.iter().map(|entry| entry.pk.as_str()).collect();
        assert_eq!(put, ["a#pkg#deb/liblzma5", "a#pkg#deb/xz-utils"]);
        assert_eq!(
            change.deletes,
            [("a#pkg#deb/xz-utils".to_owned(), "sha256:1#pkg:deb/debian/xz-utils@5.6.0-1".to_owned())]
        );
        assert_eq!(plan_package_index(&after, &BTreeSet::new(), after.clone()), PackageIndexChange::default());
        let stray = ("a#pkg#npm/evil".to_owned(), "sha256:1#pkg:npm/evil@6.6.6".to_owned());
        let recovering = plan_package_index(&after, &BTreeSet::from([stray.clone()]), after.clone());
        assert_eq!((recovering.puts.len(), recovering.deletes), (3, vec![stray]));
    }
}

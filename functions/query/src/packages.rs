//! Where a package runs. `GET /v2/packages`: one row per matching package version, each with
//! the images carrying it and where they run now (the running places, one query per image), ran
//! at a time (`at=`, the images' running intervals), or not at all (`running=any`). The index
//! read is the one partition of the package name asked for: its cost follows the images that
//! carry the name, never the fleet's SBOMs. `GET /v2/query/images/by-package`: Anchore's query
//! on the same index.

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use inventory_store::clock::format_time;
use inventory_store::field::whole_number;
use inventory_store::http::ApiError;
use inventory_store::limits::MAX_HISTORY_READ;
use inventory_store::model::{InventoryType, WorkloadContainers};
use inventory_store::packages::Packages;
use inventory_store::sbom::{purl_type_of, PackageEntry, PackageQuery, SbomPackage};
use inventory_store::store::{Store, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Rows on one page of a package search, and without `limit`.
pub const MAX_PACKAGE_PAGE: usize = 500;
pub const DEFAULT_PACKAGE_PAGE: usize = 100;
/// Packages on one page of an image's SBOM, and without `limit`.
pub const MAX_SBOM_PAGE: usize = 5000;
pub const DEFAULT_SBOM_PAGE: usize = 1000;
/// Images whose places are read at once.
const CONCURRENT_READS: usize = 16;

/// Which images a search answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Running {
    /// Running somewhere now (the default).
    Now,
    /// Every image with an SBOM carrying it, running or not.
    Any,
    /// Running at that time, from the running intervals.
    At(DateTime<Utc>),
}

#[derive(Debug, Clone)]
pub struct PackageSearch {
    pub query: PackageQuery,
    pub running: Running,
    pub limit: usize,
    /// The purl the previous page ended with.
    pub after: Option<String>,
}

impl PackageSearch {
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Result<Self, ApiError> {
        let given = |name: &str| get(name).filter(|value| !value.is_empty());
        let query = PackageQuery::from_params(&get)?;
        let running = match (given("running").as_deref(), given("at")) {
            (Some("any"), None) => Running::Any,
            (None | Some("now"), None) => Running::Now,
            (None, Some(at)) => Running::At(crate::running::time("at", &at)?),
            (Some(_), Some(_)) => return Err(ApiError::bad_request("running", "cannot be given with at")),
            (Some(_), None) => return Err(ApiError::bad_request("running", "must be now or any")),
        };
        let limit = whole_number(&get, "limit", MAX_PACKAGE_PAGE)?.unwrap_or(DEFAULT_PACKAGE_PAGE);
        Ok(Self { query, running, limit, after: given("next") })
    }
}

/// One place an image ran: now (no `last_seen`) or in an interval.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlaceRan {
    pub inventory_type: InventoryType,
    pub context: String,
    pub workloads: Vec<WorkloadContainers>,
    pub first_seen: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackageImage {
    pub image_digest: String,
    pub image_tags: Vec<String>,
    pub contexts: Vec<PlaceRan>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackageRow {
    pub purl: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(rename = "type")]
    pub package_type: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub qualifiers: BTreeMap<String, String>,
    /// The source package it was built from, when its name differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub images: Vec<PackageImage>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackagePage {
    pub packages: Vec<PackageRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Where one image ran, each place with the tag it ran as.
type Places = Vec<(String, PlaceRan)>;

/// The matching entries by package version (purl order), each with its images.
pub fn versions(entries: Vec<PackageEntry>) -> Vec<(SbomPackage, BTreeSet<String>)> {
    let mut by_purl: BTreeMap<String, (SbomPackage, BTreeSet<String>)> = BTreeMap::new();
    for entry in entries {
        let (_, digests) =
            by_purl.entry(entry.package.purl.clone()).or_insert_with(|| (entry.package.clone(), BTreeSet::new()));
        digests.insert(entry.image_digest);
    }
    by_purl.into_values().collect()
}

/// A version's row from its images' places; `None` when none of them ran (and only running
/// images are asked for).
pub fn row(
    package: &SbomPackage,
    digests: &BTreeSet<String>,
    places: &HashMap<String, Places>,
    running: Running,
) -> Option<PackageRow> {
    let images: Vec<PackageImage> = digests
        .iter()
        .filter_map(|digest| {
            let ran = places.get(digest).map(Vec::as_slice).unwrap_or_default();
            if ran.is_empty() && running != Running::Any {
                return None;
            }
            let tags: BTreeSet<String> = ran.iter().map(|(tag, _)| tag.clone()).collect();
            Some(PackageImage {
                image_digest: digest.clone(),
                image_tags: tags.into_iter().collect(),
                contexts: ran.iter().map(|(_, place)| place.clone()).collect(),
            })
        })
        .collect();
    (!images.is_empty()).then(|| PackageRow {
        purl: package.purl.clone(),
        name: package.name.clone(),
        version: package.version.clone(),
        package_type: package.package_type.clone(),
        qualifiers: package.qualifiers.clone(),
        source: package.source.clone(),
        images,
    })
}

fn read(error: StoreError) -> ApiError {
    error.answer("the package search")
}

/// Where an image runs now, or ran at `at` (an interval that started by then and had not ended).
async fn places_of(store: &Store, account: &str, digest: &str, running: Running) -> Result<Places, ApiError> {
    match running {
        Running::Any | Running::Now => Ok(store
            .running_places_of(account, digest)
            .await
            .map_err(read)?
            .into_iter()
            .map(|place| {
                let ran = PlaceRan {
                    inventory_type: place.at.inventory_type,
                    context: place.at.context,
                    workloads: place.at.workloads,
                    first_seen: format_time(place.at.from),
                    last_seen: None,
                };
                (place.image_tag, ran)
            })
            .collect()),
        Running::At(at) => {
            let Some(intervals) = store.all_intervals(account, digest, MAX_HISTORY_READ).await.map_err(read)? else {
                let message = format!(
                    "image {digest} has more than {MAX_HISTORY_READ} running intervals; ask about fewer images"
                );
                return Err(ApiError::bad_request("at", message));
            };
            Ok(intervals
                .into_iter()
                .filter(|interval| interval.from <= at && interval.to.is_none_or(|to| to > at))
                .map(|interval| {
                    let ran = PlaceRan {
                        inventory_type: interval.inventory_type,
                        context: interval.context,
                        workloads: interval.workloads,
                        first_seen: format_time(interval.from),
                        last_seen: interval.to.map(format_time),
                    };
                    (interval.image_tag, ran)
                })
                .collect())
        }
    }
}

/// One page of a search: versions in purl order after the cursor, each read as needed until the
/// page has `limit` rows.
pub async fn search(
    packages: &Packages,
    store: &Store,
    account: &str,
    search: &PackageSearch,
) -> Result<PackagePage, ApiError> {
    let entries = packages.carrying(account, &search.query).await?;
    let remaining: Vec<(SbomPackage, BTreeSet<String>)> = versions(entries)
        .into_iter()
        .filter(|(package, _)| search.after.as_ref().is_none_or(|after| package.purl > *after))
        .collect();
    let mut places: HashMap<String, Places> = HashMap::new();
    let mut rows = Vec::new();
    for (n, (package, digests)) in remaining.iter().enumerate() {
        if rows.len() == search.limit {
            let next = rows.last().map(|row: &PackageRow| row.purl.clone());
            return Ok(PackagePage { packages: rows, next: next.filter(|_| n < remaining.len()) });
        }
        let unread: Vec<String> = digests.iter().filter(|digest| !places.contains_key(*digest)).cloned().collect();
        let running = search.running;
        let reads = unread.into_iter().map(|digest| async move {
            let ran = places_of(store, account, &digest, running).await?;
            Ok::<_, ApiError>((digest, ran))
        });
        let read: Vec<(String, Places)> =
            futures::stream::iter(reads).buffer_unordered(CONCURRENT_READS).try_collect().await?;
        places.extend(read);
        rows.extend(row(package, digests, &places, search.running));
    }
    Ok(PackagePage { packages: rows, next: None })
}

/// The purl types a name without a type is looked for under.
const SEARCHED_TYPES: [&str; 12] =
    ["deb", "rpm", "apk", "pypi", "maven", "golang", "npm", "gem", "cargo", "nuget", "composer", "generic"];

/// Anchore's `GET /v2/query/images/by-package?name=&package_type=&version=&page=&limit=`: every
/// image with an SBOM carrying the package, Anchore's shape, paged by page number.
pub async fn images_by_package(
    packages: &Packages,
    account: &str,
    get: impl Fn(&str) -> Option<String>,
) -> Result<serde_json::Value, ApiError> {
    let given = |name: &str| get(name).filter(|value| !value.is_empty());
    let name = given("name").ok_or_else(|| ApiError::bad_request("name", "is required"))?;
    let types: Vec<String> = match given("package_type") {
        Some(raw) => vec![purl_type_of(&raw).map_or_else(|| raw.to_ascii_lowercase(), str::to_owned)],
        None => SEARCHED_TYPES.map(str::to_owned).to_vec(),
    };
    let page = whole_number(&get, "page", usize::MAX)?.unwrap_or(1);
    let limit = whole_number(&get, "limit", MAX_PACKAGE_PAGE)?.unwrap_or(DEFAULT_PACKAGE_PAGE);
    let mut by_image: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for package_type in types {
        let parameters = |parameter: &str| match parameter {
            "name" => Some(name.clone()),
            "type" => Some(package_type.clone()),
            "version" => given("version"),
            _ => None,
        };
        let query = PackageQuery::from_params(parameters).map_err(ApiError::from)?;
        for entry in packages.carrying(account, &query).await? {
            let package = serde_json::json!({
                "name": entry.package.name,
                "version": entry.package.version,
                "type": entry.package.package_type,
                "purl": entry.package.purl,
                "will_not_fix": false,
            });
            by_image.entry(entry.image_digest).or_default().push(package);
        }
    }
    let total = by_image.len();
    let images: Vec<serde_json::Value> = by_image
        .into_iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|(digest, packages)| {
            serde_json::json!({ "image": { "digest": digest, "image_digest": digest }, "packages": packages })
        })
        .collect();
    let more = page.saturating_mul(limit) < total;
    Ok(serde_json::json!({
        "page": page.to_string(),
        "next_page": more.then(|| (page + 1).to_string()),
        "returned_count": images.len(),
        "images": images,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory_store::sbom::from_purl;

    fn place(context: &str) -> (String, PlaceRan) {
        let ran = PlaceRan {
            inventory_type: InventoryType::Kubernetes,
            context: context.into(),
            workloads: Vec::new(),
            first_seen: "2024-03-29T00:00:00.000Z".into(),
            last_seen: None,
        };
        ("registry/app:1".to_owned(), ran)
    }

    #[test]
    fn a_version_lists_its_running_images_and_with_running_any_the_others_too() {
        let package = from_purl("pkg:deb/debian/xz-utils@5.6.1-1").unwrap();
        let digests: BTreeSet<String> = ["sha256:a", "sha256:b"].map(str::to_owned).into();
        let places = HashMap::from([("sha256:a".to_owned(), vec![place("prod/web"), place("prod/batch")])]);
        let now = row(&package, &digests, &places, Running::Now).unwrap();
        assert_eq!(now.images.len(), 1);
        assert_eq!((now.images[0].image_tags.len(), now.images[0].contexts.len()), (1, 2));
        assert_eq!(row(&package, &digests, &places, Running::Any).unwrap().images.len(), 2);
        assert_eq!(row(&package, &digests, &HashMap::new(), Running::Now), None);
    }

    #[test]
    fn the_search_reads_its_parameters() {
        let params = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
        };
        let search =
            PackageSearch::from_params(params(&[("purl", "pkg:deb/debian/xz-utils"), ("at", "2024-03-29T00:00:00Z")]))
                .unwrap();
        assert!(matches!(search.running, Running::At(_)));
        for (pairs, field) in [
            (&[("purl", "pkg:deb/debian/xz-utils"), ("running", "sometimes")][..], "running"),
            (&[("purl", "pkg:deb/debian/xz-utils"), ("at", "yesterday")][..], "at"),
            (&[("purl", "pkg:deb/debian/xz-utils"), ("limit", "0")][..], "limit"),
            (&[("purl", "pkg:deb/debian/xz-utils"), ("range", "vers:deb/>=")][..], "range"),
        ] {
            let pairs: &'static [(&'static str, &'static str)] = pairs;
            assert_eq!(PackageSearch::from_params(params(pairs)).unwrap_err().detail["field"], field);
        }
    }
}

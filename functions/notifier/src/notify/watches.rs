//! Package watches: `Runtime Inventory Watched Package Running` once per (watch, context,
//! digest) when an image carrying what a watch looks for runs there: when it starts running,
//! when its SBOM arrives while it runs, and, for what already runs, when the watch is made.
//! Pure: the places and the matching packages come in, the events with their markers go out.

use inventory_store::limits::MAX_LISTED_PACKAGES;
use inventory_store::model::{InventoryType, WorkloadContainers};
use inventory_store::sbom::WatchSpec;
use inventory_store::store::SentOnceMarker as Marker;
use serde::Serialize;

/// The `detail` of `Runtime Inventory Watched Package Running`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchedPackageRunning {
    pub account: String,
    pub watch: WatchSpec,
    pub image_digest: String,
    pub image_tag: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub workloads: Vec<WorkloadContainers>,
    /// When the image started running there.
    pub first_seen: String,
    /// The image's packages the watch matched (their purls), at most `MAX_LISTED_PACKAGES`.
    pub packages: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_count: Option<usize>,
}

/// Where an image runs, as a watch event names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub image_tag: String,
    pub inventory_type: InventoryType,
    pub context: String,
    pub workloads: Vec<WorkloadContainers>,
    pub first_seen: String,
}

/// One event per place of an image whose `matched` packages (purls) a watch looks for.
pub fn watch_events(
    account: &str,
    watch: &WatchSpec,
    digest: &str,
    matched: &[String],
    places: &[Place],
) -> Vec<(Marker, WatchedPackageRunning)> {
    if matched.is_empty() {
        return Vec::new();
    }
    let listed: Vec<String> = matched.iter().take(MAX_LISTED_PACKAGES).cloned().collect();
    let package_count = (matched.len() > listed.len()).then_some(matched.len());
    places
        .iter()
        .map(|place| {
            let marker = Marker::watched(account, &watch.watch_id, digest, place.inventory_type, &place.context);
            let detail = WatchedPackageRunning {
                account: account.to_owned(),
                watch: watch.clone(),
                image_digest: digest.to_owned(),
                image_tag: place.image_tag.clone(),
                inventory_type: place.inventory_type,
                context: place.context.clone(),
                workloads: place.workloads.clone(),
                first_seen: place.first_seen.clone(),
                packages: listed.clone(),
                package_count,
            };
            (marker, detail)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn watch() -> WatchSpec {
        WatchSpec {
            watch_id: "w1".into(),
            purl: Some("pkg:deb/debian/xz-utils".into()),
            name: None,
            package_type: None,
            version: None,
            range: Some("vers:deb/>=5.6.0|<=5.6.1".into()),
            created_at: Utc.with_ymd_and_hms(2024, 3, 29, 0, 0, 0).unwrap(),
            created_by: "alice".into(),
        }
    }

    fn place(context: &str) -> Place {
        Place {
            image_tag: "registry/app:1".into(),
            inventory_type: InventoryType::Kubernetes,
            context: context.into(),
            workloads: Vec::new(),
            first_seen: "2024-03-29T10:00:00.000Z".into(),
        }
    }

    #[test]
    fn a_watch_fires_once_per_place_of_an_image_it_matches_and_never_without_a_match() {
        let matched = vec!["pkg:deb/debian/liblzma5@5.6.1-1?arch=amd64".to_owned()];
        let events = watch_events("a", &watch(), "sha256:d", &matched, &[place("prod/web"), place("prod/batch")]);
        let markers: Vec<(&str, &str)> = events.iter().map(|(m, _)| (m.pk.as_str(), m.sk.as_str())).collect();
        assert_eq!(
            markers,
            [("a#pkgwf#w1", "sha256:d#kubernetes#prod/web"), ("a#pkgwf#w1", "sha256:d#kubernetes#prod/batch")]
        );
        assert_eq!(events[0].1.packages, matched);
        assert!(watch_events("a", &watch(), "sha256:d", &[], &[place("prod/web")]).is_empty());
        let many: Vec<String> = (0..MAX_LISTED_PACKAGES + 5).map(|n| format!("pkg:deb/debian/p{n}@1")).collect();
        let listed = &watch_events("a", &watch(), "sha256:d", &many, &[place("prod/web")])[0].1;
        assert_eq!((listed.packages.len(), listed.package_count), (MAX_LISTED_PACKAGES, Some(many.len())));
    }
}

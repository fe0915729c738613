//! Every key format of the table, in the order of the storage table in `docs/storage.md` (a test
//! checks the two agree). Accounts and contexts never contain `#`, so prefixes cannot collide.
//!
//! Every partition holds one context (or one account's small set of items), so a fleet's writes
//! spread over as many keys as it has contexts. The two indexes that gather contexts (`contexts`,
//! `digests`) spread theirs over `INDEX_SHARDS` keys each, chosen by the context.

use crate::inventory_type::InventoryType;

/// Every item's `kind` attribute: what the item is, whatever its keys say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Context,
    Image,
    Detail,
    Subscription,
    SubscriptionKey,
    /// A "sent once" marker of an event.
    Fired,
    Interval,
    HistoryContext,
    Findings,
    FindingsChunk,
    FindingsFlag,
    Severity,
    VulnerableImage,
    ClusterConfig,
    EksCollection,
    Integration,
    ThreatFeed,
    ThreatChunk,
    RunningImage,
    RunningVulnerabilities,
    ExposurePair,
    WorklistAccount,
    VexAnnotation,
    VexImageAnnotation,
    VexAudit,
    VexRules,
    VexRulesChunk,
    VexAccount,
    Sbom,
    SbomChunk,
    PackageEntry,
    PackageWatch,
}

impl ItemKind {
    pub const ALL: [ItemKind; 32] = [
        Self::Context,
        Self::Image,
        Self::Detail,
        Self::Subscription,
        Self::SubscriptionKey,
        Self::Fired,
        Self::Interval,
        Self::HistoryContext,
        Self::Findings,
        Self::FindingsChunk,
        Self::FindingsFlag,
        Self::Severity,
        Self::VulnerableImage,
        Self::ClusterConfig,
        Self::EksCollection,
        Self::Integration,
        Self::ThreatFeed,
        Self::ThreatChunk,
        Self::RunningImage,
        Self::RunningVulnerabilities,
        Self::ExposurePair,
        Self::WorklistAccount,
        Self::VexAnnotation,
        Self::VexImageAnnotation,
        Self::VexAudit,
        Self::VexRules,
        Self::VexRulesChunk,
        Self::VexAccount,
        Self::Sbom,
        Self::SbomChunk,
        Self::PackageEntry,
        Self::PackageWatch,
    ];

    /// The stored value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Context => "context",
            Self::Image => "image",
            Self::Detail => "detail",
            Self::Subscription => "subscription",
            Self::SubscriptionKey => "subscription_key",
            Self::Fired => "fired",
            Self::Interval => "interval",
            Self::HistoryContext => "history_context",
            Self::Findings => "findings",
            Self::FindingsChunk => "findings_chunk",
            Self::FindingsFlag => "findings_flag",
            Self::Severity => "severity",
            Self::VulnerableImage => "vulnerable_image",
            Self::ClusterConfig => "cluster_config",
            Self::EksCollection => "eks_collection",
            Self::Integration => "integration",
            Self::ThreatFeed => "threat_feed",
            Self::ThreatChunk => "threat_chunk",
            Self::RunningImage => "running_image",
            Self::RunningVulnerabilities => "running_vulnerabilities",
            Self::ExposurePair => "exposure_pair",
            Self::WorklistAccount => "worklist_account",
            Self::VexAnnotation => "vex_annotation",
            Self::VexImageAnnotation => "vex_image_annotation",
            Self::VexAudit => "vex_audit",
            Self::VexRules => "vex_rules",
            Self::VexRulesChunk => "vex_rules_chunk",
            Self::VexAccount => "vex_account",
            Self::Sbom => "sbom",
            Self::SbomChunk => "sbom_chunk",
            Self::PackageEntry => "package_entry",
            Self::PackageWatch => "package_watch",
        }
    }

    /// The kind a stored value names.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

/// A context's partition: its record (`sk` = `context_sk`) and its image records (`image_sk`).
pub fn inventory_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#inv#{inventory_type}#{context}")
}

/// A context record's sort key: the context itself.
pub fn context_sk(context: &str) -> String {
    context.to_owned()
}

/// An image record's sort key; `image_key` is the digest or `tag:<normalised tag>` (empty: the
/// prefix of every image sort key of the context).
pub fn image_sk(context: &str, image_key: &str) -> String {
    format!("{context}#{image_key}")
}

/// A context's detail partition: containers, pods, nodes, ECS tasks and services.
pub fn detail_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#det#{inventory_type}#{context}")
}

/// A detail's sort key: its kind's letter (`c`, `p`, `n`, `t`, `s`), then its id or ARN.
pub fn detail_sk(letter: &str, id: &str) -> String {
    format!("{letter}#{id}")
}

/// The partition of an account's subscriptions (`sk`: the subscription id).
pub fn subscriptions_pk(account: &str) -> String {
    format!("{account}#sub")
}

/// The partition of an account's subscription uniqueness guards: one item per (type, key),
/// written in the same transaction as its subscription.
pub fn subscription_guard_pk(account: &str) -> String {
    format!("{account}#subkey")
}

/// A guard's sort key; `limits::MAX_SUBSCRIPTION_KEY_BYTES` keeps it within DynamoDB's bound.
pub fn subscription_guard_sk(subscription_type: &str, key: &str) -> String {
    format!("{subscription_type}#{key}")
}

/// The partition of a subscription's "sent once" markers, one per digest it scheduled (`sk`).
pub fn scheduled_marker_pk(account: &str, subscription_id: &str) -> String {
    format!("{account}#fired#{subscription_id}")
}

/// The partition of a context's "sent once" markers of Image Added/Removed events, one per
/// stream record (`sk`: the record's event id).
pub fn lifecycle_marker_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#evt#{inventory_type}#{context}")
}

/// The partition of a context's "sent once" markers of Vulnerable Image Running events, one per
/// (digest, vulnerability) (`sk`: `exposure_marker_sk`).
pub fn exposure_marker_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#exp#{inventory_type}#{context}")
}

/// The partition of a context's "sent once" markers of Vulnerability Overdue events, one per
/// (digest, vulnerability) (`sk`: `exposure_marker_sk`).
pub fn due_marker_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#due#{inventory_type}#{context}")
}

/// The partition of a context's "sent once" markers of Known Exploited Vulnerability Running
/// events, one per (digest, vulnerability) (`sk`: `exposure_marker_sk`).
pub fn kev_marker_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#kevr#{inventory_type}#{context}")
}

pub fn exposure_marker_sk(digest: &str, vulnerability_id: &str) -> String {
    format!("{digest}#{vulnerability_id}")
}

/// The partition of an account's registered agents (`sk`: the integration's uuid).
pub fn integrations_pk(account: &str) -> String {
    format!("{account}#integ")
}

/// The one partition of every account's cluster configurations: the collector reads them all
/// with one `Query`, an account's with `begins_with(sk, "{account}#")`. Configurations are few
/// and written by admins and once per collection.
pub const CLUSTER_CONFIGS_PK: &str = "cluster-configs";

/// A cluster configuration's sort key. Neither part contains `#`.
pub fn cluster_config_sk(account: &str, cluster_name: &str) -> String {
    format!("{account}#{cluster_name}")
}

/// The one partition of the agentless EKS clusters' collection state: the last collection and
/// the contexts it stored, as a configuration holds them.
pub const EKS_COLLECTIONS_PK: &str = "eks-collections";

/// An EKS cluster's collection state sort key; the ARN contains no `#`.
pub fn eks_collection_sk(account: &str, cluster_arn: &str) -> String {
    format!("{account}#{cluster_arn}")
}

/// An image's findings (`{account}#find#{digest}`): its findings record (`sk` =
/// `FINDINGS_RECORD_SK`), which guards the rest with a lease, and each scanner's findings in
/// chunks (`findings_chunk_sk`).
pub fn findings_pk(account: &str, digest: &str) -> String {
    format!("{account}#find#{digest}")
}

/// The sort key of an image's findings record.
pub const FINDINGS_RECORD_SK: &str = "findings";

/// Chunks of one scanner's findings start with this.
pub const FINDINGS_CHUNK_PREFIX: &str = "scan#";

/// One chunk of a scanner's findings: each post writes a new `generation`, so a post that fails
/// half way leaves the chunks it wrote unreferenced rather than mixed with the current ones.
pub fn findings_chunk_sk(scanner: &str, generation: &str, chunk: u32) -> String {
    format!("{FINDINGS_CHUNK_PREFIX}{scanner}#{generation}#{chunk:03}")
}

/// The images carrying a vulnerability (`sk`: the image digest): the index behind every
/// question asked by vulnerability id.
pub fn vulnerability_pk(account: &str, vulnerability_id: &str) -> String {
    format!("{account}#vuln#{vulnerability_id}")
}

/// The images whose highest severity is `severity` (`sk`: the image digest), for `min_severity`.
pub fn severity_pk(account: &str, severity: &str) -> String {
    format!("{account}#sev#{severity}")
}

/// The one item saying an account has posted findings (`sk` = `FINDINGS_FLAG_SK`): listings of
/// an account without any skip reading findings.
pub fn findings_flag_pk(account: &str) -> String {
    format!("{account}#findings")
}

pub const FINDINGS_FLAG_SK: &str = "any";

/// An image's running intervals (`sk`: `history_open_sk` while it runs in a context,
/// `history_closed_sk` once it left): every question asked by digest reads this partition alone.
pub fn history_pk(account: &str, digest: &str) -> String {
    format!("{account}#hist#{digest}")
}

/// The interval still running in a context: one per (context, digest) at a time.
pub fn history_open_sk(inventory_type: InventoryType, context: &str) -> String {
    format!("{inventory_type}#{context}#open")
}

/// A closed interval, by its context and start.
pub fn history_closed_sk(inventory_type: InventoryType, context: &str, from: chrono::DateTime<chrono::Utc>) -> String {
    format!("{inventory_type}#{context}#{}", crate::clock::format_time(from))
}

/// A context's running intervals, ordered by their end (`history_context_sk`): what ran there at
/// a time T is read from the intervals ending at or after T, never the older ones.
pub fn history_context_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#hctx#{inventory_type}#{context}")
}

/// Sorts after every end time: intervals still running.
pub const HISTORY_OPEN_END: &str = "~open";

/// A context interval's sort key: its end (`HISTORY_OPEN_END` while open), start and digest.
pub fn history_context_sk(
    to: Option<chrono::DateTime<chrono::Utc>>,
    from: chrono::DateTime<chrono::Utc>,
    digest: &str,
) -> String {
    let end = to.map_or_else(|| HISTORY_OPEN_END.to_owned(), crate::clock::format_time);
    format!("{end}#{}#{digest}", crate::clock::format_time(from))
}

/// One shard of the contexts of every account that ever had an interval (`sk`:
/// `history_contexts_sk`), spread over `INDEX_SHARDS` keys by the context: `prefix*` history
/// questions find an account's contexts deleted since, and the daily export finds them all.
pub fn history_contexts_pk(shard: u8) -> String {
    format!("hctxs#{shard:02}")
}

/// A context's entry in the list of contexts with history: an account's entries share a prefix.
pub fn history_contexts_sk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{account}#{inventory_type}#{context}")
}

/// Where an account's images run now, spread over `INDEX_SHARDS` partitions by digest (`sk`:
/// `running_place_sk`): one item per open interval, with its workloads. Kept by the notifier from
/// the intervals it opens and closes; the worklist reads them for its rows' places.
pub fn running_image_pk(account: &str, shard: u8) -> String {
    format!("{account}#run#{shard:02}")
}

/// A running image's place; an image's places share the prefix `running_place_sk(digest, ..)`
/// up to the digest and `#`.
pub fn running_place_sk(digest: &str, inventory_type: InventoryType, context: &str) -> String {
    format!("{digest}#{inventory_type}#{context}")
}

/// A running image's vulnerabilities as its exposure pairs were last written (`sk` =
/// `RUNNING_VULNERABILITIES_SK`): what a change of its findings is compared with.
pub fn running_vulnerabilities_pk(account: &str, digest: &str) -> String {
    format!("{account}#runv#{digest}")
}

pub const RUNNING_VULNERABILITIES_SK: &str = "list";

/// The worklist: one item per (vulnerability, running image) of an account, spread over
/// `INDEX_SHARDS` partitions by vulnerability (`sk`: `exposure_pair_sk`), so a vulnerability's
/// images sit together and `GET /v2/vulnerabilities` reads the account's running pairs and nothing
/// else.
pub fn worklist_pk(account: &str, shard: u8) -> String {
    format!("{account}#work#{shard:02}")
}

pub fn exposure_pair_sk(vulnerability_id: &str, digest: &str) -> String {
    format!("{vulnerability_id}#{digest}")
}

/// The one partition of the accounts with exposure pairs (`sk`: the account): whose worklists
/// the scheduled check reads.
pub const WORKLIST_ACCOUNTS_PK: &str = "worklist-accounts";

/// The one partition of the threat data feeds' records (`sk`: the feed, `kev` or `epss`): which
/// generation of each is current. Shared by every account: the feeds are public data.
pub const THREAT_FEEDS_PK: &str = "threat";

/// One generation of a feed (`sk`: `threat_chunk_sk`): its stored form, gzip-compressed, split
/// over items. A load writes a new generation and switches the record to it last, so a load that
/// fails half way leaves the current data whole.
pub fn threat_chunks_pk(feed: &str, generation: &str) -> String {
    format!("{THREAT_FEEDS_PK}#{feed}#{generation}")
}

pub fn threat_chunk_sk(chunk: u32) -> String {
    format!("{chunk:03}")
}

/// An account's VEX annotations, whole (`sk`: the annotation's uuid): what `GET /v2/vex` lists
/// and what the account's rules are built from.
pub fn vex_pk(account: &str) -> String {
    format!("{account}#vex")
}

/// The annotations scoped to one image (`sk`: uuid), copies of theirs in `vex_pk`: what Anchore's
/// `GET /v2/images/{digest}/vuln-annotations` and the image's exports read.
pub fn vex_image_pk(account: &str, digest: &str) -> String {
    format!("{account}#vexi#{digest}")
}

/// An annotation's audit trail (`sk`: `vex_audit_sk`, in the order of the annotation's versions),
/// kept after the annotation is deleted.
pub fn vex_audit_pk(account: &str, uuid: &str) -> String {
    format!("{account}#vexa#{uuid}")
}

pub fn vex_audit_sk(version: u64, action: &str) -> String {
    format!("{version:010}#{action}")
}

/// The record naming the current generation of an account's rules (the active annotations in
/// the form every read consults), leased while they are rebuilt.
pub fn vex_rules_pk(account: &str) -> String {
    format!("{account}#vexr")
}

pub const VEX_RULES_SK: &str = "rules";

/// One generation of an account's rules (`sk`: `threat_chunk_sk`), gzip-compressed JSON split over
/// items, switched to by the record last.
pub fn vex_rules_chunks_pk(account: &str, generation: &str) -> String {
    format!("{account}#vexr#{generation}")
}

/// The "sent once" markers of an account's annotation events (`sk`: the annotation's uuid): its
/// lapse is announced once.
pub fn vex_event_marker_pk(account: &str) -> String {
    format!("{account}#vexe")
}

/// The one partition of the accounts with annotations (`sk`: the account): whose rules the
/// scheduled check looks at for lapses.
pub const VEX_ACCOUNTS_PK: &str = "vex-accounts";

/// An image's SBOM (`{account}#sbom#{digest}`): its record (`sk` = `SBOM_RECORD_SK`), which
/// guards the rest with a lease, its packages (`sbom_chunk_sk(SBOM_PACKAGES, ..)`) and the
/// document as posted (`sbom_chunk_sk(SBOM_DOCUMENT, ..)`), gzip-compressed in chunks.
pub fn sbom_pk(account: &str, digest: &str) -> String {
    format!("{account}#sbom#{digest}")
}

pub const SBOM_RECORD_SK: &str = "sbom";
/// The parts of an SBOM kept in chunks: its normalised packages, and the document as posted.
pub const SBOM_PACKAGES: &str = "pkgs";
pub const SBOM_DOCUMENT: &str = "doc";

/// One chunk of a part of an SBOM: each post writes a new `generation`, so a post that fails half
/// way leaves chunks the record does not name, found and deleted by the next.
pub fn sbom_chunk_sk(part: &str, generation: &str, chunk: u32) -> String {
    format!("{}{chunk:03}", sbom_chunk_prefix(part, Some(generation)))
}

/// What the sort keys of a part's chunks start with: every generation's, or one's.
pub fn sbom_chunk_prefix(part: &str, generation: Option<&str>) -> String {
    match generation {
        Some(generation) => format!("{part}#{generation}#"),
        None => format!("{part}#"),
    }
}

/// The images carrying a package name (`sk`: `package_entry_sk`): one entry per (image, purl),
/// filed under the package's name and, for a binary, its source package's name. Every package
/// search reads the one partition of the name it asks for.
pub fn package_pk(account: &str, package_type: &str, name: &str) -> String {
    format!("{account}#pkg#{package_type}/{name}")
}

pub fn package_entry_sk(digest: &str, purl: &str) -> String {
    format!("{digest}#{purl}")
}

/// An account's package watches (`sk`: the watch's id).
pub fn package_watches_pk(account: &str) -> String {
    format!("{account}#pkgw")
}

/// The "sent once" markers of a watch's Watched Package Running events, one per (context,
/// digest) (`sk`: `running_place_sk`).
pub fn watch_marker_pk(account: &str, watch_id: &str) -> String {
    format!("{account}#pkgwf#{watch_id}")
}

/// The one partition of stale-cluster markers, written only when a cluster turns stale or
/// recovers.
pub const STALE_MARKERS_PK: &str = "stale-clusters";

/// A stale cluster's marker sort key.
pub fn stale_marker_sk(account: &str, inventory_type: InventoryType, cluster: &str) -> String {
    format!("{account}#{inventory_type}#{cluster}")
}

/// The index that holds context records only (its key, `context_pk`, is on no other item).
pub const CONTEXTS_INDEX: &str = "contexts";

/// How many partition keys each index spreads an account's contexts over: a fleet's first
/// reports (one index write per context) or a fleet-wide rollout of one image (one per context)
/// put at most about 1/16 of the index writes on a key, and a read queries 16 keys at once.
pub const INDEX_SHARDS: u8 = 16;

/// The index shard of a context: stable across processes and releases (a hash of the name).
pub fn index_shard(context: &str) -> u8 {
    use sha2::{Digest, Sha256};
    Sha256::digest(context.as_bytes())[0] % INDEX_SHARDS
}

/// A context record's partition in the `contexts` index.
pub fn contexts_pk(account: &str, inventory_type: InventoryType, context: &str) -> String {
    contexts_shard_pk(account, inventory_type, index_shard(context))
}

/// One shard of an account's contexts in the `contexts` index.
pub fn contexts_shard_pk(account: &str, inventory_type: InventoryType, shard: u8) -> String {
    format!("{account}#{inventory_type}#{shard:02}")
}

/// The index that names the image records carrying a digest (keys only).
pub const DIGESTS_INDEX: &str = "digests";

/// An image record's partition in the `digests` index.
pub fn digest_pk(account: &str, inventory_type: InventoryType, digest: &str, context: &str) -> String {
    digest_shard_pk(account, inventory_type, digest, index_shard(context))
}

/// One shard of the image records carrying a digest in the `digests` index.
pub fn digest_shard_pk(account: &str, inventory_type: InventoryType, digest: &str, shard: u8) -> String {
    format!("{account}#{inventory_type}#{digest}#{shard:02}")
}

/// Every table key format with placeholder arguments, as `(pk, sk)`, in this file's order: what
/// `docs/storage.md`'s table must list (`{type}` stands for the inventory type).
pub fn documented_layout() -> Vec<(String, String)> {
    let t = InventoryType::Kubernetes;
    let typed = |key: String| key.replace(t.as_str(), "{type}");
    vec![
        (typed(inventory_pk("{account}", t, "{context}")), context_sk("{context}")),
        (typed(inventory_pk("{account}", t, "{context}")), image_sk("{context}", "{image_key}")),
        (typed(detail_pk("{account}", t, "{context}")), detail_sk("{letter}", "{id}")),
        (subscriptions_pk("{account}"), "{subscription_id}".to_owned()),
        (subscription_guard_pk("{account}"), subscription_guard_sk("{type}", "{key}")),
        (scheduled_marker_pk("{account}", "{subscription_id}"), "{image_digest}".to_owned()),
        (typed(lifecycle_marker_pk("{account}", t, "{context}")), "{event_id}".to_owned()),
        (typed(exposure_marker_pk("{account}", t, "{context}")), exposure_marker_sk("{digest}", "{vulnerability_id}")),
        (typed(kev_marker_pk("{account}", t, "{context}")), exposure_marker_sk("{digest}", "{vulnerability_id}")),
        (typed(due_marker_pk("{account}", t, "{context}")), exposure_marker_sk("{digest}", "{vulnerability_id}")),
        (integrations_pk("{account}"), "{uuid}".to_owned()),
        (CLUSTER_CONFIGS_PK.to_owned(), cluster_config_sk("{account}", "{cluster_name}")),
        (EKS_COLLECTIONS_PK.to_owned(), eks_collection_sk("{account}", "{cluster_arn}")),
        (findings_pk("{account}", "{digest}"), FINDINGS_RECORD_SK.to_owned()),
        (findings_pk("{account}", "{digest}"), findings_chunk_sk("{scanner}", "{generation}", 0).replace("000", "{n}")),
        (vulnerability_pk("{account}", "{vulnerability_id}"), "{digest}".to_owned()),
        (severity_pk("{account}", "{severity}"), "{digest}".to_owned()),
        (findings_flag_pk("{account}"), FINDINGS_FLAG_SK.to_owned()),
        (history_pk("{account}", "{digest}"), typed(history_open_sk(t, "{context}"))),
        (
            history_pk("{account}", "{digest}"),
            typed(history_closed_sk(t, "{context}", chrono::DateTime::UNIX_EPOCH))
                .replace("1970-01-01T00:00:00.000Z", "{from}"),
        ),
        (
            typed(history_context_pk("{account}", t, "{context}")),
            history_context_sk(None, chrono::DateTime::UNIX_EPOCH, "{digest}")
                .replace(HISTORY_OPEN_END, "{to}")
                .replace("1970-01-01T00:00:00.000Z", "{from}"),
        ),
        (history_contexts_pk(0).replace("#00", "#{shard}"), typed(history_contexts_sk("{account}", t, "{context}"))),
        (
            running_image_pk("{account}", 0).replace("#00", "#{shard}"),
            typed(running_place_sk("{digest}", t, "{context}")),
        ),
        (running_vulnerabilities_pk("{account}", "{digest}"), RUNNING_VULNERABILITIES_SK.to_owned()),
        (worklist_pk("{account}", 0).replace("#00", "#{shard}"), exposure_pair_sk("{vulnerability_id}", "{digest}")),
        (WORKLIST_ACCOUNTS_PK.to_owned(), "{account}".to_owned()),
        (THREAT_FEEDS_PK.to_owned(), "{feed}".to_owned()),
        (threat_chunks_pk("{feed}", "{generation}"), threat_chunk_sk(0).replace("000", "{n}")),
        (vex_pk("{account}"), "{uuid}".to_owned()),
        (vex_image_pk("{account}", "{digest}"), "{uuid}".to_owned()),
        (vex_audit_pk("{account}", "{uuid}"), vex_audit_sk(0, "{action}").replace("0000000000", "{version}")),
        (vex_rules_pk("{account}"), VEX_RULES_SK.to_owned()),
        (vex_rules_chunks_pk("{account}", "{generation}"), threat_chunk_sk(0).replace("000", "{n}")),
        (vex_event_marker_pk("{account}"), "{uuid}".to_owned()),
        (VEX_ACCOUNTS_PK.to_owned(), "{account}".to_owned()),
        (sbom_pk("{account}", "{digest}"), SBOM_RECORD_SK.to_owned()),
        (sbom_pk("{account}", "{digest}"), sbom_chunk_sk("{part}", "{generation}", 0).replace("000", "{n}")),
        (package_pk("{account}", "{type}", "{name}"), package_entry_sk("{digest}", "{purl}")),
        (package_watches_pk("{account}"), "{watch_id}".to_owned()),
        (watch_marker_pk("{account}", "{watch_id}"), typed(running_place_sk("{digest}", t, "{context}"))),
        (STALE_MARKERS_PK.to_owned(), typed(stale_marker_sk("{account}", t, "{cluster}"))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_shards_are_stable_and_spread() {
        // Stored keys depend on it: a change of the hash would orphan every index entry.
        assert_eq!(index_shard("prod/default"), index_shard("prod/default"));
        assert_eq!(contexts_pk("a", InventoryType::Kubernetes, "prod/default"), "a#kubernetes#02");
        let mut per_shard = [0u32; INDEX_SHARDS as usize];
        for n in 0..1600 {
            per_shard[index_shard(&format!("cluster-{n}/ns")) as usize] += 1;
        }
        assert!(per_shard.iter().all(|count| (60..140).contains(count)), "{per_shard:?}");
    }
}

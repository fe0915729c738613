//! Every bound on what a request may hold, in one place (docs/api.md lists them, "Limits").
//!
//! Key parts are bounded so that every sort key stays well inside DynamoDB's 1,024 bytes and
//! every partition key inside 2,048; arrays are bounded so the work of one request is too. All
//! of it is checked while parsing, before the first write.

use chrono::TimeDelta;

/// A report body larger than this answers 413. Lambda refuses request events over 6 MB anyway;
/// this applies the same bound wherever a report is parsed (local stack, collector).
pub const MAX_REPORT_BYTES: usize = 6 * 1000 * 1000;
/// Entries in any one array of a report (containers, pods, nodes, namespaces, tasks, services).
pub const MAX_ARRAY_ITEMS: usize = 50_000;

/// A Kubernetes cluster name or an ECS cluster ARN (ECS names are at most 255 characters).
pub const MAX_CLUSTER_BYTES: usize = 320;
/// A Kubernetes namespace name is a DNS label: at most 63 characters.
pub const MAX_NAMESPACE_BYTES: usize = 63;
/// The longest context, `cluster/namespace` or a cluster ARN.
pub const MAX_CONTEXT_BYTES: usize = MAX_CLUSTER_BYTES + 1 + MAX_NAMESPACE_BYTES;
/// A normalised image reference (`registry/repository:tag`).
pub const MAX_IMAGE_TAG_BYTES: usize = 512;
/// Container ids, pod, node and namespace uids.
pub const MAX_ID_BYTES: usize = 256;
/// Pod, container and node names (Kubernetes allows 253).
pub const MAX_OBJECT_NAME_BYTES: usize = 253;
/// Task, container, service and task definition ARNs.
pub const MAX_ARN_BYTES: usize = 512;
/// Labels and annotations kept per object (Kubernetes allows 256 KiB); the rest is dropped.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A report dated further ahead of the server's clock answers 400: its agent's clock is wrong,
/// and accepting it would make every later report of the context look stale.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(15);

/// Items one `GET /v2/inventories` without `limit` and `next` reads at most; a larger inventory
/// answers an error that says to page. It bounds the function's time and memory; the response
/// cap below binds first (about 50,000 typical items gzip-compressed, BENCHMARKS.md).
pub const MAX_UNPAGED_ITEMS: usize = 100_000;
/// A Lambda response behind API Gateway is at most 6 MB (6,291,456 bytes) as the function
/// returns it (a gzip body base64-encoded, a text body JSON-escaped); the rest is headroom for
/// the envelope and headers.
pub const MAX_RESPONSE_PAYLOAD_BYTES: usize = 6 * 1024 * 1024 - 32 * 1024;
/// Bodies smaller than this are not worth compressing.
pub const MIN_COMPRESSED_BODY_BYTES: usize = 1024;

/// Running intervals one history question reads (`GET /v2/history?context=&at=`, one page of
/// `GET /v2/vulnerabilities/{id}/history`): past it, the question is narrowed or the page ends.
pub const MAX_HISTORY_READ: usize = 20_000;

/// Items on one page of a detail listing (`page_size`), and without one.
pub const MAX_DETAIL_PAGE_SIZE: usize = 5000;
pub const DEFAULT_DETAIL_PAGE_SIZE: usize = 1000;

/// Items on one page of `GET /v2/inventories` (`limit`), and when `next` is given without it.
pub const MAX_LIMIT: usize = 5000;
pub const DEFAULT_LIMIT: usize = 1000;

/// An account name: the first part of every partition key.
pub const MAX_ACCOUNT_BYTES: usize = 128;

/// A registration or health report body; the agent's are a few KiB.
pub const MAX_INTEGRATION_BODY_BYTES: usize = 256 * 1024;
/// An integration's registration or latest health report as stored (inside the 400 KB item).
pub const MAX_INTEGRATION_JSON_BYTES: usize = 128 * 1024;
/// The reported errors shown as an integration's `reported_status.reason`, in characters.
pub const MAX_INTEGRATION_REASON_BYTES: usize = 2048;
/// A health report's errors kept, and characters kept of each.
pub const MAX_INTEGRATION_ERRORS: usize = 20;
pub const MAX_INTEGRATION_ERROR_CHARS: usize = 1024;
/// An integration's `type` (Anchore knows one: `k8s_inventory_agent`).
pub const MAX_INTEGRATION_TYPE_BYTES: usize = 64;

/// The `ecs-inventory` agent reads only the first page of `ListTasks` and `ListServices`: a
/// report with exactly this many tasks or services probably leaves some out.
pub const ECS_AGENT_TASK_PAGE: usize = 100;
pub const ECS_AGENT_SERVICE_PAGE: usize = 10;

/// Workloads stored and listed per image entry; the rest are counted (`workload_count`).
pub const MAX_WORKLOADS_PER_IMAGE: usize = 20;

/// Skipped or adjusted items listed in a report's answer; the rest are only counted.
pub const MAX_LISTED_ITEM_NOTES: usize = 100;

/// A subscription key names a context or a group of contexts, so it is no longer than one. Its
/// uniqueness guard's sort key is `{type}#{key}`.
pub const MAX_SUBSCRIPTION_KEY_BYTES: usize = MAX_CONTEXT_BYTES;
/// A subscription id in a path; the ids this service makes are 32 hex digits.
pub const MAX_SUBSCRIPTION_ID_BYTES: usize = 64;
/// A subscription's `subscription_value`, stored and returned as given.
pub const MAX_SUBSCRIPTION_VALUE_BYTES: usize = 16 * 1024;

/// `INVENTORY_TTL_DAYS` (`InventoryTtlDays`): a hundred years. Larger values overflow the time
/// arithmetic of expiry; 0 keeps inventory forever.
pub const MAX_TTL_DAYS: u32 = 36_500;

/// DynamoDB's bound on sort keys.
pub const DYNAMODB_SORT_KEY_BYTES: usize = 1024;
// An image record's sort key is `{context}#tag:{tag}` at its longest.
const _: () = assert!(MAX_CONTEXT_BYTES + 1 + 4 + MAX_IMAGE_TAG_BYTES <= DYNAMODB_SORT_KEY_BYTES);
// A detail's sort key is `c#{id}`, where a container without a runtime id is `{pod_uid}/{name}`.
const _: () = assert!(2 + MAX_ID_BYTES + 1 + MAX_OBJECT_NAME_BYTES <= DYNAMODB_SORT_KEY_BYTES);
const _: () = assert!(2 + MAX_ARN_BYTES + 16 <= DYNAMODB_SORT_KEY_BYTES);
// A subscription guard's sort key is `{subscription_type}#{key}` (`runtime_inventory`).
const _: () = assert!(32 + 1 + MAX_SUBSCRIPTION_KEY_BYTES <= DYNAMODB_SORT_KEY_BYTES);

/// A scanner document (`POST /v2/images/{digest}/vulnerabilities`) as read, after gzip; larger
/// answers 413. Lambda takes request events of at most 6 MB, and trivy prints about 3 KB a
/// finding (descriptions, references), so large documents come `Content-Encoding: gzip` (a
/// 5,000-finding trivy document is 16 MB; trivy's own sample compresses 5.6-fold; BENCHMARKS.md).
pub const MAX_FINDINGS_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Findings kept from one document; a document with more answers 400, read no further.
pub const MAX_FINDINGS_PER_DOCUMENT: usize = 20_000;
/// Elements of a findings document's other lists read (targets, components, vulnerabilities of
/// a CycloneDX document, scores, fixed-in versions, digests), all together: a document with more
/// answers 400, read no further. Twenty findings' worth of entries each for the largest document.
pub const MAX_DOCUMENT_ENTRIES: usize = 20 * MAX_FINDINGS_PER_DOCUMENT;
/// Distinct image digests a findings document may name (an image's repo digests, one per
/// repository it was pushed to); a document naming more answers 400.
pub const MAX_DOCUMENT_DIGESTS: usize = 64;
/// A vulnerability id (`CVE-2024-3094`, `GHSA-…`, `ALAS2-…`); a longer one skips its finding.
pub const MAX_VULNERABILITY_ID_BYTES: usize = 128;
/// A package's name, version, type, a fixed-in version or a data source, kept to this many bytes.
pub const MAX_FINDING_FIELD_BYTES: usize = 256;
/// Fixed-in versions kept per finding.
pub const MAX_FIXED_IN_VERSIONS: usize = 8;
/// Packages listed per vulnerability of an image (its index entry, a Vulnerable Image Running
/// event); the rest are counted (`package_count`).
pub const MAX_LISTED_PACKAGES: usize = 50;
/// Scanners whose findings an image keeps; a document of one more answers 400.
pub const MAX_SCANNERS_PER_IMAGE: usize = 16;
/// A scanner's name (`grype`, `trivy`, a CycloneDX tool), which keys its findings of an image.
pub const MAX_SCANNER_NAME_BYTES: usize = 64;
/// A chunk of stored findings, before compression: inside DynamoDB's 400 KB item whatever its
/// content (gzip never grows data by more than a few bytes per 32 KiB block).
pub const FINDINGS_CHUNK_BYTES: usize = 300 * 1024;

/// A cluster configuration's body (`POST /v1/enterprise/inventories/clusters`).
pub const MAX_CLUSTER_CONFIG_BODY_BYTES: usize = 256 * 1024;
/// A configured cluster's name: a path segment and a context's first part.
pub const MAX_CLUSTER_CONFIG_NAME_BYTES: usize = 253;
/// The API server's URL.
pub const MAX_CLUSTER_SERVER_BYTES: usize = 2048;
/// A base64 PEM certificate (chain) or client key, as posted.
pub const MAX_PEM_BASE64_BYTES: usize = 64 * 1024;
/// A bearer token (a service-account token is about 1 KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Namespaces a configuration lists.
pub const MAX_CONFIGURED_NAMESPACES: usize = 1000;
/// A collection error kept on a configuration.
pub const MAX_COLLECTION_ERROR_CHARS: usize = 1024;
/// Items the embedded mode asks the Kubernetes API for per page (`limit`).
pub const KUBERNETES_PAGE_SIZE: u32 = 500;
/// One answer of a Kubernetes API server, read no further: a page of 500 pods is a few MB.
pub const MAX_KUBERNETES_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Pods, nodes or namespaces the embedded mode reads of one cluster: an agent's report bound.
pub const MAX_COLLECTED_OBJECTS: usize = MAX_ARRAY_ITEMS;

/// Threat data feeds (docs/vulnerabilities.md, "Threat data"). The KEV catalog is about 1.3 MB
/// (1,404 entries in 2025); FIRST's EPSS file about 2 MB compressed, 10 MB decompressed, 300,000
/// rows. Each bound leaves room for years of growth and stops a hostile or wrong file early.
pub const MAX_KEV_FEED_BYTES: usize = 32 * 1024 * 1024;
pub const MAX_KEV_ENTRIES: usize = 100_000;
/// The EPSS file as fetched (compressed), decompressed, and its rows.
pub const MAX_EPSS_FEED_BYTES: usize = 32 * 1024 * 1024;
pub const MAX_EPSS_CSV_BYTES: usize = 64 * 1024 * 1024;
pub const MAX_EPSS_ROWS: usize = 1_000_000;

// VEX annotations.
/// A `POST /v2/vex` or annotation body: what a Lambda function receives at most.
pub const MAX_VEX_BODY_BYTES: usize = 6 * 1000 * 1000;
/// Statements (OpenVEX) or vulnerabilities (CycloneDX) one document may hold.
pub const MAX_VEX_STATEMENTS: usize = 10_000;
/// Every other list entry of one document, in all: products, subcomponents, components, affects.
pub const MAX_VEX_DOCUMENT_ENTRIES: usize = 20 * MAX_VEX_STATEMENTS;
/// A statement's text (status notes, impact and action statements, details).
pub const MAX_VEX_TEXT_BYTES: usize = 4096;
/// Annotations one account may hold: every read consults its active ones.
pub const MAX_ANNOTATIONS_PER_ACCOUNT: usize = 50_000;

// SBOMs and package search.
/// An SBOM (`POST /v2/images/{digest}/sbom`) as read, after gzip; larger answers 413. A whole
/// Debian system in CycloneDX is 2 MB (1,147 packages), and syft's JSON of a large Java image
/// about 30 MB.
pub const MAX_SBOM_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Packages kept for one image; an SBOM listing more answers 400, read no further.
pub const MAX_SBOM_PACKAGES: usize = 20_000;
/// Every other list entry of one SBOM, in all: dependencies, relationships, properties, refs.
pub const MAX_SBOM_DOCUMENT_ENTRIES: usize = 20 * MAX_SBOM_PACKAGES;
/// A package's purl as kept (a sort key part of its index entry); a longer one skips it.
pub const MAX_PURL_BYTES: usize = 512;
/// A package's name (a partition key part).
pub const MAX_PACKAGE_NAME_BYTES: usize = 214;
/// Qualifiers a package's purl may carry (`arch`, `distro`, `upstream`…).
pub const MAX_PURL_QUALIFIERS: usize = 8;
/// A `range=` in `vers` syntax, and its constraints.
pub const MAX_VERS_BYTES: usize = 1024;
pub const MAX_VERS_CONSTRAINTS: usize = 32;
/// Index entries one package search reads (the images carrying a name, times its versions):
/// past it the search answers 400 asking for a narrower one.
pub const MAX_PACKAGE_INDEX_READ: usize = 50_000;
/// Package watches one account may hold: each new running image is checked against them all.
pub const MAX_PACKAGE_WATCHES: usize = 100;
// A package index entry's sort key is `{digest}#{purl}`.
const _: () = assert!(80 + 1 + MAX_PURL_BYTES <= DYNAMODB_SORT_KEY_BYTES);

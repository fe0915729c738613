//! Image identity: digest validation and registry-style tag normalisation.

use crate::limits::MAX_IMAGE_TAG_BYTES;
use std::fmt;

/// Placeholder the ECS agent sends when it could not resolve a value.
pub const UNKNOWN_PLACEHOLDER: &str = "UNKNOWN";

const DEFAULT_REGISTRY: &str = "docker.io";
const OFFICIAL_NAMESPACE: &str = "library";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error(
        "image digest must be 'sha256:', 'sha384:' or 'sha512:' followed by 64, 96 or 128 lowercase hex characters"
    )]
    MalformedDigest,
    #[error("image tag must not be empty")]
    EmptyTag,
    #[error("image tag must not contain whitespace or control characters")]
    InvalidTagCharacters,
    #[error("image reference has an empty repository name")]
    EmptyRepository,
    #[error("image reference carries a malformed digest")]
    MalformedReferenceDigest,
    #[error("normalised image reference is longer than {MAX_IMAGE_TAG_BYTES} bytes")]
    TooLong,
}

/// Digest algorithms registered for OCI images, with the length of their hex encoding.
const DIGEST_ALGORITHMS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

/// A validated `<algorithm>:<hex>` digest of a registered algorithm.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    pub fn parse(raw: &str) -> Result<Self, ImageError> {
        let (algorithm, hex) = raw.split_once(':').ok_or(ImageError::MalformedDigest)?;
        let hex_len = DIGEST_ALGORITHMS.iter().find(|(name, _)| *name == algorithm).map(|(_, len)| *len);
        let valid = hex_len == Some(hex.len()) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ImageError::MalformedDigest)
        }
    }

    /// Agents send "" (not resolved yet) or `UNKNOWN` when a container has no digest.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, ImageError> {
        match raw.map(str::trim) {
            None | Some("") | Some(UNKNOWN_PLACEHOLDER) => Ok(None),
            Some(value) => Self::parse(value).map(Some),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An image reference normalised the way registries resolve it
/// (`nginx` -> `docker.io/library/nginx:latest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Normalised `registry/repository[:tag]` or `registry/repository@digest`.
    pub tag: String,
    /// Digest embedded in the reference (`name@sha256:...`), if any.
    pub digest: Option<Digest>,
    /// The reference ended in `:` with no tag (the agent's missing-tag policy on an untagged
    /// local image); it was taken as `latest`.
    pub latest_assumed: bool,
}

/// Normalises an image reference. `UNKNOWN` is kept verbatim: it names no repository.
pub fn normalize_reference(raw: &str) -> Result<ImageRef, ImageError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ImageError::EmptyTag);
    }
    // Normalising only lengthens a reference, so a raw one past the bound is too long already.
    if raw.len() > MAX_IMAGE_TAG_BYTES {
        return Err(ImageError::TooLong);
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ImageError::InvalidTagCharacters);
    }
    if raw == UNKNOWN_PLACEHOLDER {
        return Ok(ImageRef { tag: raw.to_owned(), digest: None, latest_assumed: false });
    }

    let (name_and_tag, digest) = match raw.split_once('@') {
        Some((name, digest)) => (name, Some(Digest::parse(digest).map_err(|_| ImageError::MalformedReferenceDigest)?)),
        None => (raw, None),
    };

    // A ':' after the last '/' separates the tag; one before it belongs to a registry port.
    let last_slash = name_and_tag.rfind('/');
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            (&name_and_tag[..colon], Some(&name_and_tag[colon + 1..]))
        }
        _ => (name_and_tag, None),
    };
    if name.split('/').any(str::is_empty) {
        return Err(ImageError::EmptyRepository);
    }
    let latest_assumed = tag == Some("");
    let tag = tag.filter(|tag| !tag.is_empty());

    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if looks_like_registry(first) => (canonical_registry(first), rest.to_owned()),
        _ => (DEFAULT_REGISTRY, name.to_owned()),
    };
    let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
        format!("{OFFICIAL_NAMESPACE}/{repository}")
    } else {
        repository
    };

    let tag = match (tag, &digest) {
        (Some(tag), _) => format!("{registry}/{repository}:{tag}"),
        (None, Some(digest)) => format!("{registry}/{repository}@{digest}"),
        (None, None) => format!("{registry}/{repository}:latest"),
    };
    if tag.len() > MAX_IMAGE_TAG_BYTES {
        return Err(ImageError::TooLong);
    }
    Ok(ImageRef { tag, digest, latest_assumed })
}

fn looks_like_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn canonical_registry(registry: &str) -> &str {
    match registry {
        "index.docker.io" | "registry-1.docker.io" => DEFAULT_REGISTRY,
        other => other,
    }
}

/// Prefix of the encoded key of an image known only by its tag.
pub const TAG_KEY_PREFIX: &str = "tag:";

/// A reference a scanner pulls exactly: the normalised tag's repository pinned to the digest
/// (`registry/repository@sha256:…`).
pub fn pinned_reference(normalized_tag: &str, digest: &str) -> String {
    format!("{}@{digest}", repository_of(normalized_tag))
}

/// A reference without its tag or digest: `registry[:port]/repository`.
pub fn repository_of(reference: &str) -> &str {
    let name = reference.split_once('@').map_or(reference, |(name, _)| name);
    // A tag follows the last `:` after the last `/` (a registry's port comes before a `/`).
    match name.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => name,
    }
}

/// The identity of an image within a context: its digest, or its tag while no digest is known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageKey {
    Digest(Digest),
    Tag(String),
}

impl ImageKey {
    pub fn new(digest: Option<&Digest>, normalized_tag: &str) -> Self {
        match digest {
            Some(digest) => Self::Digest(digest.clone()),
            None => Self::Tag(normalized_tag.to_owned()),
        }
    }

    /// Stable string form used in sort keys: `sha256:...` or `tag:<reference>`.
    pub fn encode(&self) -> String {
        match self {
            Self::Digest(digest) => digest.to_string(),
            Self::Tag(tag) => format!("{TAG_KEY_PREFIX}{tag}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:34410e4ca45948d82e3809cf74acbc5c77e319db2d565f5a589ad0f5670323c3";

    fn tag(raw: &str) -> String {
        normalize_reference(raw).unwrap().tag
    }

    #[test]
    fn a_pinned_reference_keeps_registry_and_port_and_drops_the_tag() {
        let pinned = |tag: &str| pinned_reference(tag, DIGEST);
        assert_eq!(pinned("docker.io/library/nginx:1.25"), format!("docker.io/library/nginx@{DIGEST}"));
        assert_eq!(pinned("registry.local:5000/team/app:v1"), format!("registry.local:5000/team/app@{DIGEST}"));
        assert_eq!(pinned("registry.local:5000/team/app"), format!("registry.local:5000/team/app@{DIGEST}"));
        assert_eq!(pinned(&format!("docker.io/library/nginx@{DIGEST}")), format!("docker.io/library/nginx@{DIGEST}"));
    }

    #[test]
    fn official_images_get_registry_namespace_and_latest() {
        assert_eq!(tag("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(tag("nginx:1.27.2"), "docker.io/library/nginx:1.27.2");
        assert_eq!(tag("docker.io/nginx:1"), "docker.io/library/nginx:1");
        assert_eq!(tag("index.docker.io/library/nginx"), "docker.io/library/nginx:latest");
    }

    #[test]
    fn user_images_and_private_registries_keep_their_path() {
        assert_eq!(tag("envoyproxy/envoy:v1.31.0"), "docker.io/envoyproxy/envoy:v1.31.0");
        assert_eq!(
            tag("123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:v4.2.0"),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:v4.2.0"
        );
        assert_eq!(tag("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(tag("localhost/app:1"), "localhost/app:1");
        assert_eq!(tag("registry:5000/team/app:2"), "registry:5000/team/app:2");
    }

    #[test]
    fn digest_references_yield_their_digest() {
        let parsed = normalize_reference(&format!("nginx@{DIGEST}")).unwrap();
        assert_eq!(parsed.tag, format!("docker.io/library/nginx@{DIGEST}"));
        assert_eq!(parsed.digest.unwrap().as_str(), DIGEST);
        let tagged = normalize_reference(&format!("nginx:1.27@{DIGEST}")).unwrap();
        assert_eq!(tagged.tag, "docker.io/library/nginx:1.27");
    }

    #[test]
    fn malformed_references_are_rejected() {
        assert_eq!(normalize_reference(""), Err(ImageError::EmptyTag));
        assert_eq!(normalize_reference("  "), Err(ImageError::EmptyTag));
        assert_eq!(normalize_reference("ngi nx"), Err(ImageError::InvalidTagCharacters));
        assert_eq!(normalize_reference("/nginx"), Err(ImageError::EmptyRepository));
        assert_eq!(normalize_reference(&"a".repeat(600)), Err(ImageError::TooLong));
        assert_eq!(normalize_reference(":1"), Err(ImageError::EmptyRepository));
        assert_eq!(normalize_reference("nginx@sha256:xyz"), Err(ImageError::MalformedReferenceDigest));
    }

    #[test]
    fn a_reference_ending_in_a_colon_is_taken_as_latest() {
        let parsed = normalize_reference("registry.local/team/app:").unwrap();
        assert_eq!((parsed.tag.as_str(), parsed.latest_assumed), ("registry.local/team/app:latest", true));
        assert!(!normalize_reference("app:1").unwrap().latest_assumed);
        assert_eq!(normalize_reference(":"), Err(ImageError::EmptyRepository));
    }

    #[test]
    fn unknown_placeholder_is_kept() {
        assert_eq!(tag("UNKNOWN"), "UNKNOWN");
    }

    #[test]
    fn digests_are_validated() {
        assert!(Digest::parse(DIGEST).is_ok());
        assert!(Digest::parse(&DIGEST.to_uppercase()).is_err());
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&DIGEST.replace("sha256", "md5")).is_err());
        assert!(Digest::parse(&format!("sha512:{}", "ab".repeat(64))).is_ok());
        assert!(Digest::parse(&format!("sha384:{}", "0".repeat(96))).is_ok());
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(64))).is_err(), "hex length follows the algorithm");
        assert!(Digest::parse(&format!("sha224:{}", "0".repeat(56))).is_err());
        assert_eq!(Digest::parse_optional(Some("")), Ok(None));
        assert_eq!(Digest::parse_optional(Some("UNKNOWN")), Ok(None));
        assert_eq!(Digest::parse_optional(None), Ok(None));
        assert!(Digest::parse_optional(Some("sha256:00")).is_err());
    }

    #[test]
    fn image_keys_prefer_digest() {
        let digest = Digest::parse(DIGEST).unwrap();
        assert_eq!(ImageKey::new(Some(&digest), "x").encode(), DIGEST);
        assert_eq!(
            ImageKey::new(None, "docker.io/library/nginx:latest").encode(),
            "tag:docker.io/library/nginx:latest"
        );
    }
}

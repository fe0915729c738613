//! Threat data loads: CISA's KEV catalog and FIRST's EPSS scores, fetched from `KEV_FEED_URL`
//! and `EPSS_FEED_URL` (`https://` or `s3://`; loopback `http://` and `file://` in the local stack
//! and the tests only), checked whole, and stored as a new generation only when their content
//! changed. A feed that cannot be fetched or is not the documented shape keeps the stored data
//! and fails the run (the errors alarm).

use chrono::SecondsFormat;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use inventory_runtime::config::value;
use inventory_runtime::ConfigError;
use inventory_store::field::FieldError;
use inventory_store::limits::{MAX_EPSS_FEED_BYTES, MAX_KEV_FEED_BYTES};
use inventory_store::store::StoreError;
use inventory_store::store::ThreatFeedRecord;
use inventory_store::threat::Feed;
use inventory_store::{Clock, Store};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const KEV_FEED_URL: &str = "KEV_FEED_URL";
pub const EPSS_FEED_URL: &str = "EPSS_FEED_URL";
pub const DEFAULT_KEV_FEED_URL: &str =
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";
pub const DEFAULT_EPSS_FEED_URL: &str = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz";
/// The detail type of the schedule's event (the template's rule sends it as a constant input).
pub const THREAT_DATA_DETAIL_TYPE: &str = "Threat Data Refresh";
/// One fetch, from its request to its last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Where a feed is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedSource {
    Https(String),
    S3 {
        bucket: String,
        key: String,
    },
    /// `http://127.0.0.1…` or `http://localhost…`: the local stack's and the tests' feed server.
    LoopbackHttp(String),
    File(PathBuf),
}

/// Whether loopback `http://` and `file://` sources are accepted: never by a deployed function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sources {
    Deployed,
    Local,
}

impl FeedSource {
    pub fn parse(raw: &str, sources: Sources) -> Result<Self, &'static str> {
        let local = sources == Sources::Local;
        if raw.starts_with("https://") && raw.len() > "https://".len() {
            return Ok(Self::Https(raw.to_owned()));
        }
        if let Some((bucket, key)) = raw.strip_prefix("s3://").and_then(|rest| rest.split_once('/')) {
            if !bucket.is_empty() && !key.is_empty() {
                return Ok(Self::S3 { bucket: bucket.to_owned(), key: key.to_owned() });
            }
        }
        let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/"];
        if local && loopback.iter().any(|prefix| raw.starts_with(prefix)) {
            return Ok(Self::LoopbackHttp(raw.to_owned()));
        }
        if let Some(path) = raw.strip_prefix("file://").filter(|path| local && path.starts_with('/')) {
            return Ok(Self::File(PathBuf::from(path)));
        }
        Err(if local {
            "an https://, s3://bucket/key, http://127.0.0.1… or file:///… URL"
        } else {
            "an https:// or s3://bucket/key URL"
        })
    }
}

/// The feeds' sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreatConfig {
    pub kev: FeedSource,
    pub epss: FeedSource,
}

impl ThreatConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, sources: Sources) -> Result<Self, ConfigError> {
        let source = |name: &'static str, default: &str| {
            let raw = value(&lookup, name).unwrap_or_else(|| default.to_owned());
            FeedSource::parse(&raw, sources).map_err(|expected| ConfigError { name, expected, value: raw })
        };
        Ok(Self {
            kev: source(KEV_FEED_URL, DEFAULT_KEV_FEED_URL)?,
            epss: source(EPSS_FEED_URL, DEFAULT_EPSS_FEED_URL)?,
        })
    }

    fn source(&self, feed: Feed) -> &FeedSource {
        match feed {
            Feed::Kev => &self.kev,
            Feed::Epss => &self.epss,
        }
    }
}

/// Why a feed was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThreatLoadError {
    #[error("fetching {url} failed")]
    Http {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("reading s3://{bucket}/{key} failed")]
    S3 {
        bucket: String,
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("reading {path} failed")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the feed is over {max} bytes")]
    TooLarge { max: usize },
    #[error("fetching the feed took over {FETCH_TIMEOUT:?}")]
    Timeout,
    #[error("the feed is not the documented shape: {0}")]
    Refused(#[source] FieldError),
    #[error("storing the feed failed")]
    Store(#[source] StoreError),
}

/// What one feed's load did.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct FeedOutcome {
    /// `loaded`, `unchanged` or `failed`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dated: String,
    pub entries: usize,
    pub items_written: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A threat data run's summary: one outcome per feed.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct ThreatSummary {
    pub kev: FeedOutcome,
    pub epss: FeedOutcome,
}

impl ThreatSummary {
    /// The run's failure, for the errors alarm: every feed that failed, with its cause.
    pub fn failure(&self) -> Option<String> {
        let failed: Vec<String> = [("kev", &self.kev), ("epss", &self.epss)]
            .into_iter()
            .filter_map(|(name, outcome)| Some(format!("{name}: {}", outcome.error.as_deref()?)))
            .collect();
        (!failed.is_empty()).then(|| format!("threat data not loaded, stored data kept; {}", failed.join("; ")))
    }
}

pub struct ThreatLoader {
    store: Store,
    s3: aws_sdk_s3::Client,
    config: ThreatConfig,
    clock: Arc<dyn Clock>,
}

impl ThreatLoader {
    pub fn build(sdk: &inventory_runtime::Sdk, store: Store, config: ThreatConfig, clock: Arc<dyn Clock>) -> Self {
        Self { store, s3: inventory_runtime::sdk::s3_client(sdk), config, clock }
    }

    /// Loads both feeds, each on its own: one failing keeps its stored data and not the other's.
    pub async fn load(&self) -> ThreatSummary {
        let records = self.store.threat_feeds().await;
        let previous = |feed: Feed| match &records {
            Ok(records) => Ok(records.iter().find(|record| record.feed() == feed.name()).cloned()),
            Err(error) => Err(error.to_string()),
        };
        let (kev, epss) = futures::join!(
            self.load_feed(Feed::Kev, previous(Feed::Kev)),
            self.load_feed(Feed::Epss, previous(Feed::Epss))
        );
        ThreatSummary { kev, epss }
    }

    async fn load_feed(&self, feed: Feed, previous: Result<Option<ThreatFeedRecord>, String>) -> FeedOutcome {
        let failed = |error: String| FeedOutcome { outcome: "failed", error: Some(error), ..FeedOutcome::default() };
        let previous = match previous {
            Ok(previous) => previous,
            Err(error) => return failed(format!("reading the stored feeds failed: {error}")),
        };
        match self.fetch_and_store(feed, previous.as_ref()).await {
            Ok(outcome) => outcome,
            Err(error) => {
                let chain = error_chain(&error);
                tracing::error!(feed = feed.name(), error = %chain, "threat data feed not loaded");
                failed(chain)
            }
        }
    }

    async fn fetch_and_store(
        &self,
        feed: Feed,
        previous: Option<&ThreatFeedRecord>,
    ) -> Result<FeedOutcome, ThreatLoadError> {
        let max = match feed {
            Feed::Kev => MAX_KEV_FEED_BYTES,
            Feed::Epss => MAX_EPSS_FEED_BYTES,
        };
        let body = tokio::time::timeout(FETCH_TIMEOUT, self.fetch(self.config.source(feed), max))
            .await
            .map_err(|_| ThreatLoadError::Timeout)??;
        let prepared = feed.prepare(&body).map_err(ThreatLoadError::Refused)?;
        let outcome = |outcome, items_written| FeedOutcome {
            outcome,
            version: prepared.version.clone(),
            dated: prepared.dated.clone(),
            entries: prepared.entries,
            items_written,
            error: None,
        };
        if previous.is_some_and(|previous| previous.digest == prepared.digest) {
            return Ok(outcome("unchanged", 0));
        }
        let now = self.clock.now();
        let generation = format!("{}-{:08x}", now.format("%Y%m%dT%H%M%S"), fastrand::u32(..));
        let record = ThreatFeedRecord {
            version: prepared.version.clone(),
            dated: prepared.dated.clone(),
            entries: prepared.entries as u64,
            chunks: inventory_store::store::chunk_count(prepared.compressed.len()),
            loaded_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            ..ThreatFeedRecord::new(feed.name(), generation, prepared.digest.clone())
        };
        let written = self.store.replace_threat_feed(&record, &prepared.compressed, previous).await;
        Ok(outcome("loaded", written.map_err(ThreatLoadError::Store)?))
    }

    /// The feed's bytes, at most `max`: reading stops at the bound.
    async fn fetch(&self, source: &FeedSource, max: usize) -> Result<Vec<u8>, ThreatLoadError> {
        match source {
            FeedSource::Https(url) | FeedSource::LoopbackHttp(url) => fetch_http(url, max).await,
            FeedSource::S3 { bucket, key } => {
                let s3_error = |source: Box<dyn std::error::Error + Send + Sync>| ThreatLoadError::S3 {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    source,
                };
                let object = self
                    .s3
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|error| s3_error(error.into()))?;
                if object.content_length().is_some_and(|length| length as u64 > max as u64) {
                    return Err(ThreatLoadError::TooLarge { max });
                }
                let mut body = object.body;
                let mut bytes = Vec::new();
                while let Some(chunk) = body.try_next().await.map_err(|error| s3_error(error.into()))? {
                    append_bounded(&mut bytes, &chunk, max)?;
                }
                Ok(bytes)
            }
            FeedSource::File(path) => {
                use tokio::io::AsyncReadExt;
                let file_error = |source| ThreatLoadError::File { path: path.display().to_string(), source };
                let file = tokio::fs::File::open(path).await.map_err(file_error)?;
                let mut bytes = Vec::new();
                file.take(max as u64 + 1).read_to_end(&mut bytes).await.map_err(file_error)?;
                if bytes.len() > max {
                    return Err(ThreatLoadError::TooLarge { max });
                }
                Ok(bytes)
            }
        }
    }
}

fn append_bounded(bytes: &mut Vec<u8>, chunk: &[u8], max: usize) -> Result<(), ThreatLoadError> {
    if bytes.len() + chunk.len() > max {
        return Err(ThreatLoadError::TooLarge { max });
    }
    bytes.extend_from_slice(chunk);
    Ok(())
}

/// A GET over HTTPS (the system's roots; rustls on ring, as every function's SDK client) or
/// loopback HTTP, its body read to `max` bytes at most.
async fn fetch_http(url: &str, max: usize) -> Result<Vec<u8>, ThreatLoadError> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let http_error =
        |source: Box<dyn std::error::Error + Send + Sync>| ThreatLoadError::Http { url: url.to_owned(), source };
    let uri: hyper::Uri = url.parse().map_err(|error: hyper::http::uri::InvalidUri| http_error(error.into()))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|error| http_error(error.into()))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let response = client.get(uri).await.map_err(|error| http_error(error.into()))?;
    if !response.status().is_success() {
        return Err(ThreatLoadError::Status { url: url.to_owned(), status: response.status().as_u16() });
    }
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(|error| http_error(error.into()))?.into_data() {
            append_bounded(&mut bytes, &data, max)?;
        }
    }
    Ok(bytes)
}

/// An error and its causes, one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_sources_are_refused_outside_the_local_stack() {
        let deployed = |raw: &str| FeedSource::parse(raw, Sources::Deployed);
        assert_eq!(deployed(DEFAULT_KEV_FEED_URL), Ok(FeedSource::Https(DEFAULT_KEV_FEED_URL.into())));
        assert_eq!(
            deployed("s3://mirror/feeds/epss.csv.gz"),
            Ok(FeedSource::S3 { bucket: "mirror".into(), key: "feeds/epss.csv.gz".into() })
        );
        for refused in [
            "http://127.0.0.1:8000/kev.json",
            "file:///tmp/kev.json",
            "http://example.com/kev.json",
            "s3://bucket",
            "ftp://x/y",
            "https://",
        ] {
            assert!(deployed(refused).is_err(), "{refused}");
        }
        let local = |raw: &str| FeedSource::parse(raw, Sources::Local);
        assert_eq!(
            local("http://127.0.0.1:8000/kev.json"),
            Ok(FeedSource::LoopbackHttp("http://127.0.0.1:8000/kev.json".into()))
        );
        assert_eq!(local("file:///tmp/kev.json"), Ok(FeedSource::File("/tmp/kev.json".into())));
        assert!(local("http://127.0.0.2.example.com/kev.json").is_err());
        assert!(local("http://127.0.0.1.example.com/kev.json").is_err());
    }

    #[test]
    fn the_variables_default_to_the_published_feeds_and_name_themselves_when_wrong() {
        let config = ThreatConfig::from_lookup(|_| None, Sources::Deployed).unwrap();
        assert_eq!(config.kev, FeedSource::Https(DEFAULT_KEV_FEED_URL.into()));
        assert_eq!(config.epss, FeedSource::Https(DEFAULT_EPSS_FEED_URL.into()));
        let error =
            ThreatConfig::from_lookup(|name| (name == EPSS_FEED_URL).then(|| "file:///x".into()), Sources::Deployed)
                .unwrap_err();
        assert_eq!(error.name, EPSS_FEED_URL);
    }

    #[test]
    fn the_run_fails_naming_each_feed_that_did_not_load() {
        let mut summary = ThreatSummary::default();
        assert_eq!(summary.failure(), None);
        summary.epss = FeedOutcome { outcome: "failed", error: Some("line 3: bad".into()), ..FeedOutcome::default() };
        assert_eq!(summary.failure().unwrap(), "threat data not loaded, stored data kept; epss: line 3: bad");
    }
}

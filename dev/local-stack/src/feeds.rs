//! The threat data feeds on loopback, as CISA and FIRST serve them: the repository's copies
//! (`tests/fixtures/threat/`) over HTTP, for `make local` and the tests. A test replaces a file's
//! bytes (a new EPSS day, a truncated file) or its status to see what a load makes of it.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub const KEV_FILE: &str = "known_exploited_vulnerabilities.json";
pub const EPSS_FILE: &str = "epss_scores-current.csv.gz";
/// The repository's EPSS file in FIRST's shape (its scores are made up: `SOURCES.md` there).
const EPSS_FIXTURE: &str = "epss_scores-sample.csv.gz";

/// The repository's copy of a feed.
pub fn fixture(name: &str) -> std::io::Result<Vec<u8>> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/threat").join(name))
}

type Files = Arc<Mutex<HashMap<String, (StatusCode, Bytes)>>>;

pub struct FeedServer {
    address: SocketAddr,
    files: Files,
    requests: Arc<Mutex<u32>>,
}

impl FeedServer {
    /// Serves the KEV catalog and the EPSS file at `/{KEV_FILE}` and `/{EPSS_FILE}` on a free
    /// loopback port until the runtime stops.
    pub async fn start() -> std::io::Result<Self> {
        let files: Files = Arc::new(Mutex::new(HashMap::from([
            (KEV_FILE.to_owned(), (StatusCode::OK, Bytes::from(fixture(KEV_FILE)?))),
            (EPSS_FILE.to_owned(), (StatusCode::OK, Bytes::from(fixture(EPSS_FIXTURE)?))),
        ])));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let requests = Arc::new(Mutex::new(0));
        let (served, counted) = (Arc::clone(&files), Arc::clone(&requests));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (files, requests) = (Arc::clone(&served), Arc::clone(&counted));
                let service = service_fn(move |request: hyper::Request<Incoming>| {
                    *requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
                    let name = request.uri().path().trim_start_matches('/').to_owned();
                    let found = files.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&name).cloned();
                    let (status, body) = found.unwrap_or((StatusCode::NOT_FOUND, Bytes::new()));
                    let mut response = hyper::Response::new(Full::new(body));
                    *response.status_mut() = status;
                    async move { Ok::<_, Infallible>(response) }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Ok(Self { address, files, requests })
    }

    /// The URL of a served file.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.address)
    }

    /// Serves `body` with `status` at `/{name}` from now on.
    pub fn serve(&self, name: &str, status: StatusCode, body: impl Into<Bytes>) {
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_owned(), (status, body.into()));
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u32 {
        *self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

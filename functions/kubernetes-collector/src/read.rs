//! Reading one cluster through its API: namespaces (all, or each configured one), the nodes,
//! and the pods, every list paged with `limit` and `continue`. Any error fails the whole read:
//! a cluster read in part is never stored.

use inventory_store::limits::{KUBERNETES_PAGE_SIZE, MAX_COLLECTED_OBJECTS, MAX_KUBERNETES_RESPONSE_BYTES};
use inventory_store::logging::error_chain;
use inventory_store::report::kubernetes_api::{List, Namespace, Node, Pod};
use kube::core::params::{GetParams, ListParams};
use kube::core::Request;
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which namespaces a configuration reads.
#[derive(Debug, Clone, Copy)]
pub enum Namespaces<'a> {
    All,
    Listed(&'a [String]),
}

impl<'a> Namespaces<'a> {
    /// `["all"]` or the configured names.
    pub fn of(configured: &'a [String]) -> Self {
        if configured.iter().any(|name| name == inventory_store::cluster_config::ALL_NAMESPACES) {
            Self::All
        } else {
            Self::Listed(configured)
        }
    }
}

/// Everything one read found.
#[derive(Debug, Default)]
pub struct ClusterRead {
    pub namespaces: Vec<Namespace>,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    /// What was left out and why (nodes a namespaced role may not list).
    pub notes: Vec<String>,
}

/// Why a cluster is stored without its nodes.
pub const NODES_FORBIDDEN: &str =
    "nodes are not readable (403): stored without node details; grant get and list on nodes to read them";

/// Why a read failed, in words of this service: what a server answered is not repeated (its
/// status code is), so a configuration cannot turn the collector into a reader of other hosts.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the API server answered {code} {} to GET {path}", reason(*code))]
    Api { path: String, code: u16 },
    #[error("GET {path} failed: {message}")]
    Transport { path: String, message: String },
    #[error("GET {path}: the answer is not the Kubernetes API's JSON (line {line}, column {column})")]
    NotKubernetes { path: String, line: usize, column: usize },
    #[error("GET {path}: the answer is longer than {MAX_KUBERNETES_RESPONSE_BYTES} bytes")]
    AnswerTooLarge { path: String },
    #[error("{path} lists more than {MAX_COLLECTED_OBJECTS} objects; the cluster is too large to store")]
    TooLarge { path: String },
    #[error("{path}: {message}")]
    Request { path: String, message: String },
}

/// The fixed reason of a status code.
fn reason(code: u16) -> &'static str {
    http::StatusCode::from_u16(code).ok().and_then(|status| status.canonical_reason()).unwrap_or("")
}

fn read_error(path: &str, error: kube::Error) -> ReadError {
    let path = path.to_owned();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return ReadError::AnswerTooLarge { path };
        }
        source = cause.source();
    }
    match error {
        kube::Error::Api(status) => ReadError::Api { path, code: status.code },
        kube::Error::SerdeError(error) => ReadError::NotKubernetes { path, line: error.line(), column: error.column() },
        other => ReadError::Transport { path, message: error_chain(&other) },
    }
}

/// A client and a count of the requests it made.
pub struct Reader<'a> {
    client: &'a kube::Client,
    requests: &'a AtomicU64,
}

impl<'a> Reader<'a> {
    pub fn new(client: &'a kube::Client, requests: &'a AtomicU64) -> Self {
        Self { client, requests }
    }

    async fn send<T: DeserializeOwned>(&self, path: &str, request: http::Request<Vec<u8>>) -> Result<T, ReadError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.client.request::<T>(request).await.map_err(|error| read_error(path, error))
    }

    /// Every item of a list, page by page.
    async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ReadError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(KUBERNETES_PAGE_SIZE);
            if let Some(token) = &token {
                params = params.continue_token(token);
            }
            let request = Request::new(path)
                .list(&params)
                .map_err(|error| ReadError::Request { path: path.to_owned(), message: error.to_string() })?;
            let page: List<T> = self.send(path, request).await?;
            items.extend(page.items);
            if items.len() > MAX_COLLECTED_OBJECTS {
                return Err(ReadError::TooLarge { path: path.to_owned() });
            }
            match page.metadata.continue_token.filter(|token| !token.is_empty()) {
                Some(next) => token = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// One namespace; `None` if the cluster has no such namespace (a configured one may be
    /// created later).
    async fn namespace(&self, name: &str) -> Result<Option<Namespace>, ReadError> {
        let path = format!("/api/v1/namespaces/{name}");
        let request = Request::new("/api/v1/namespaces")
            .get(name, &GetParams::default())
            .map_err(|error| ReadError::Request { path: path.clone(), message: error.to_string() })?;
        match self.send(&path, request).await {
            Ok(namespace) => Ok(Some(namespace)),
            Err(ReadError::Api { code: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Reads the cluster: the namespaces, the nodes, then the pods of the namespaces.
    pub async fn read(&self, namespaces: Namespaces<'_>) -> Result<ClusterRead, ReadError> {
        let (namespaces, pods) = match namespaces {
            Namespaces::All => (self.list("/api/v1/namespaces").await?, self.list("/api/v1/pods").await?),
            Namespaces::Listed(names) => {
                let mut found = Vec::new();
                let mut pods = Vec::new();
                for name in names {
                    if let Some(namespace) = self.namespace(name).await? {
                        found.push(namespace);
                        pods.extend(self.list::<Pod>(&format!("/api/v1/namespaces/{name}/pods")).await?);
                        if pods.len() > MAX_COLLECTED_OBJECTS {
                            return Err(ReadError::TooLarge { path: "/api/v1/namespaces/*/pods".to_owned() });
                        }
                    }
                }
                (found, pods)
            }
        };
        // Nodes only describe where pods run: a role without them (EKS's AmazonEKSViewPolicy,
        // Kubernetes' `view`) still reads the inventory, and the configuration says what is missing.
        let mut notes = Vec::new();
        let nodes = match self.list("/api/v1/nodes").await {
            Ok(nodes) => nodes,
            Err(ReadError::Api { code: 403, .. }) => {
                notes.push(NODES_FORBIDDEN.to_owned());
                Vec::new()
            }
            Err(error) => return Err(error),
        };
        Ok(ClusterRead { namespaces, nodes, pods, notes })
    }
}

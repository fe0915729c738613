//! A Kubernetes API server on loopback for the embedded mode's tests and the local stack: real
//! HTTPS with a CA and certificates made at start (`rcgen`), a bearer token or a client
//! certificate checked, and `NamespaceList`, `NodeList` and `PodList` answered in the API's
//! shapes with `limit`/`continue` paging. Failures (a status, or no answer at all) are set at will.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// What the server answers instead of the objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A `Status` with this code, to every request.
    Status(u16),
    /// No answer: the request hangs until the client gives up.
    Hang,
    /// A `Status` with this code to the `n`th pods page (from 1), the others as usual.
    PodsPage(usize, u16),
    /// 403 to the nodes list (a namespaced role), the others as usual.
    NodesForbidden,
    /// This code with a body that is not a `Status` (what any other web server answers), to
    /// every request.
    Page(u16, &'static str),
    /// 200 with a body of this many bytes (JSON white space around an empty list).
    Oversized(usize),
}

/// The cluster's content and how the server behaves; change it between reads.
#[derive(Debug, Default)]
pub struct ClusterState {
    pub namespaces: Vec<Value>,
    pub nodes: Vec<Value>,
    pub pods: Vec<Value>,
    pub failure: Option<Failure>,
    /// Tokens accepted besides client certificates; `None` accepts none.
    pub accepted_tokens: Vec<String>,
    /// Checks a token `accepted_tokens` does not list (an EKS IAM token).
    pub token_check: Option<fn(&str) -> bool>,
    /// At most this many items a page, whatever `limit` asks (the API may answer fewer).
    pub page_cap: Option<usize>,
}

/// The server: its URL, its CA and client credentials (base64 PEM, as a kubeconfig holds them),
/// and the requests it received (`GET` path and query).
pub struct KubeApiServer {
    pub url: String,
    pub certificate_authority: String,
    pub client_certificate: String,
    pub client_key: String,
    pub state: Arc<Mutex<ClusterState>>,
    pub requests: Arc<Mutex<Vec<String>>>,
}

fn base64_pem(pem: &str) -> String {
    STANDARD.encode(pem)
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

/// A CA that signed nothing of the server's: base64 PEM, for the wrong-CA case.
pub fn unrelated_certificate_authority() -> String {
    let key = KeyPair::generate().expect("a key");
    base64_pem(&ca_params("unrelated CA").self_signed(&key).expect("a certificate").pem())
}

impl KubeApiServer {
    /// Starts the server on a loopback port; it accepts `token` and client certificates its CA
    /// signed.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        let ca = CertifiedIssuer::self_signed(ca_params("kube test CA"), KeyPair::generate().expect("a key"))
            .expect("a CA certificate");
        let server_key = KeyPair::generate().expect("a key");
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("valid names");
        server_params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        let server_cert = server_params.signed_by(&server_key, &ca).expect("a server certificate");
        let client_key = KeyPair::generate().expect("a key");
        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        client_params.distinguished_name.push(DnType::CommonName, "inventory-reader");
        let client_cert = client_params.signed_by(&client_key, &ca).expect("a client certificate");

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).expect("the CA is a valid root");
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()
            .expect("a client verifier");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let chain: Vec<CertificateDer<'static>> = vec![server_cert.der().clone()];
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .expect("the server's certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("https://127.0.0.1:{}", listener.local_addr()?.port());
        let state =
            Arc::new(Mutex::new(ClusterState { accepted_tokens: vec![token.to_owned()], ..Default::default() }));
        let requests = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(accept(listener, acceptor, Arc::clone(&state), Arc::clone(&requests)));
        Ok(Self {
            url,
            certificate_authority: base64_pem(&ca.pem()),
            client_certificate: base64_pem(&client_cert.pem()),
            client_key: base64_pem(&client_key.serialize_pem()),
            state,
            requests,
        })
    }

    /// Replaces the cluster's content.
    pub fn set_content(&self, namespaces: Vec<Value>, nodes: Vec<Value>, pods: Vec<Value>) {
        let mut state = self.state.lock().expect("state");
        (state.namespaces, state.nodes, state.pods) = (namespaces, nodes, pods);
    }

    pub fn fail(&self, failure: Option<Failure>) {
        self.state.lock().expect("state").failure = failure;
    }

    /// The requests received so far, and forgets them.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().expect("requests"))
    }
}

async fn accept(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<ClusterState>>,
    requests: Arc<Mutex<Vec<String>>>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        let (acceptor, state, requests) = (acceptor.clone(), Arc::clone(&state), Arc::clone(&requests));
        tokio::spawn(async move {
            // A client that does not trust the CA ends the handshake: nothing to serve.
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let has_client_certificate = tls.get_ref().1.peer_certificates().is_some_and(|certs| !certs.is_empty());
            let service = service_fn(move |request: hyper::Request<Incoming>| {
                let (state, requests) = (Arc::clone(&state), Arc::clone(&requests));
                async move { Ok::<_, Infallible>(answer(&request, has_client_certificate, &state, &requests).await) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
        });
    }
}

fn response(code: u16, body: &Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

/// A `Status` object, as the API server answers errors.
fn status(code: u16) -> hyper::Response<Full<Bytes>> {
    let reason = match code {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        _ => "InternalError",
    };
    response(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("{reason} (test server)"), "reason": reason, "code": code}),
    )
}

async fn answer(
    request: &hyper::Request<Incoming>,
    has_client_certificate: bool,
    state: &Mutex<ClusterState>,
    requests: &Mutex<Vec<String>>,
) -> hyper::Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let query: HashMap<String, String> =
        form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes()).into_owned().collect();
    let pods_pages_before = requests.lock().expect("requests").iter().filter(|line| line.contains("/pods")).count();
    requests.lock().expect("requests").push(request.uri().to_string());
    let token = bearer_token(request);
    let (failure, page, page_cap) = {
        let state = state.lock().expect("state");
        let authenticated = has_client_certificate
            || token.as_deref().is_some_and(|token| {
                state.accepted_tokens.iter().any(|accepted| accepted == token)
                    || state.token_check.is_some_and(|check| check(token))
            });
        if !authenticated {
            return status(401);
        }
        let list = |kind: &str, items: Vec<&Value>| Listed {
            kind: kind.to_owned(),
            items: items.into_iter().cloned().collect(),
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let page = match segments.as_slice() {
            ["api", "v1", "namespaces"] => Some(list("NamespaceList", state.namespaces.iter().collect())),
            ["api", "v1", "nodes"] => Some(list("NodeList", state.nodes.iter().collect())),
            ["api", "v1", "pods"] => Some(list("PodList", state.pods.iter().collect())),
            ["api", "v1", "namespaces", ns, "pods"] => {
                Some(list("PodList", state.pods.iter().filter(|pod| pod["metadata"]["namespace"] == *ns).collect()))
            }
            ["api", "v1", "namespaces", ns] if !matches!(state.failure, Some(Failure::Status(_) | Failure::Hang)) => {
                return match state.namespaces.iter().find(|namespace| namespace["metadata"]["name"] == *ns) {
                    Some(namespace) => response(200, namespace),
                    None => status(404),
                };
            }
            ["api", "v1", "namespaces", _] => None,
            _ => return status(404),
        };
        (state.failure, page, state.page_cap)
    };
    if let Some(Failure::Hang) = failure {
        std::future::pending::<()>().await;
    }
    if let Some(failed) = failure.and_then(|failure| injected(failure, &path, pods_pages_before)) {
        return failed;
    }
    let Some(listed) = page else { return status(500) };
    listed.page(&query, page_cap)
}

/// The bearer token of a request, if it has one.
fn bearer_token(request: &hyper::Request<Incoming>) -> Option<String> {
    let value = request.headers().get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

/// The answer of an injected failure to this request, if it fails it.
fn injected(failure: Failure, path: &str, pods_pages_before: usize) -> Option<hyper::Response<Full<Bytes>>> {
    match failure {
        Failure::Status(code) => Some(status(code)),
        Failure::PodsPage(n, code) if path.ends_with("/pods") && pods_pages_before + 1 == n => Some(status(code)),
        Failure::NodesForbidden if path == "/api/v1/nodes" => Some(status(403)),
        Failure::Page(code, text) => Some(
            hyper::Response::builder()
                .status(code)
                .header("content-type", "text/html")
                .body(Full::new(Bytes::from(text)))
                .expect("a valid response"),
        ),
        Failure::Oversized(bytes) => {
            let mut body = vec![b' '; bytes.saturating_sub(12)];
            body.extend_from_slice(b"{\"items\":[]}");
            Some(hyper::Response::builder().status(200).body(Full::new(Bytes::from(body))).expect("a valid response"))
        }
        _ => None,
    }
}

impl Listed {
    /// The page a `limit` and `continue` ask for, at most `page_cap` items.
    fn page(&self, query: &HashMap<String, String>, page_cap: Option<usize>) -> hyper::Response<Full<Bytes>> {
        let listed = self;
        let limit = query.get("limit").and_then(|limit| limit.parse::<usize>().ok()).unwrap_or(usize::MAX).max(1);
        let limit = limit.min(page_cap.unwrap_or(usize::MAX));
        let offset = query.get("continue").and_then(|token| token.parse::<usize>().ok()).unwrap_or(0);
        let end = offset.saturating_add(limit).min(listed.items.len());
        let mut metadata = json!({"resourceVersion": "1000"});
        if end < listed.items.len() {
            metadata["continue"] = end.to_string().into();
            metadata["remainingItemCount"] = (listed.items.len() - end).into();
        }
        response(
            200,
            &json!({"kind": listed.kind, "apiVersion": "v1", "metadata": metadata,
                "items": listed.items.get(offset..end).unwrap_or_default()}),
        )
    }
}

struct Listed {
    kind: String,
    items: Vec<Value>,
}

/// A `Namespace` as the API answers it.
pub fn namespace(name: &str) -> Value {
    json!({"metadata": {"name": name, "uid": format!("ns-{name}"), "resourceVersion": "1",
                        "labels": {"kubernetes.io/metadata.name": name}},
           "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

/// A `Node` as the API answers it.
pub fn node(name: &str) -> Value {
    json!({"metadata": {"name": name, "uid": format!("node-{name}"), "labels": {"kubernetes.io/arch": "arm64"}},
           "status": {"nodeInfo": {"architecture": "arm64", "kernelVersion": "6.1.112", "kubeletVersion": "v1.31.2",
                                   "operatingSystem": "linux", "containerRuntimeVersion": "containerd://1.7.22",
                                   "osImage": "Amazon Linux 2023"}}})
}

/// A running `Pod` of a ReplicaSet, one container, its image pulled by `digest`.
pub fn pod(namespace: &str, name: &str, node: &str, image: &str, digest: &str) -> Value {
    let repository = image.rsplit_once(':').map_or(image, |(repository, _)| repository);
    json!({
        "metadata": {"name": name, "namespace": namespace, "uid": format!("pod-{namespace}-{name}"),
                     "labels": {"app": name.split('-').next().unwrap_or(name)},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{name}-rs"),
                                          "uid": "rs-1", "controller": true}]},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": image}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "main", "ready": true, "restartCount": 0, "image": image,
            "imageID": format!("{repository}@{digest}"),
            "containerID": format!("containerd://{namespace}-{name}")}]}
    })
}

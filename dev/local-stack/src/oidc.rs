//! A small OIDC provider on loopback, for `make local` and the tests: discovery, a JWKS, an
//! authorization endpoint that signs in its demo user at once, and a token endpoint that checks
//! the PKCE verifier (S256) before it answers ES256-signed tokens. Its signing key rotates on
//! demand (the previous key stays published, as providers do while tokens signed with it live).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

/// The demo user the authorization endpoint signs in, and the group the local mapping gives
/// `read-only` on the default account.
pub const DEMO_USER: &str = "demo@example.com";
pub const DEMO_GROUP: &str = "inventory-readers";
/// The audience (and the console's client id) of the local stack.
pub const LOCAL_CLIENT_ID: &str = "runtime-inventory-console";
/// How long its tokens last.
const TOKEN_SECONDS: i64 = 3600;

struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
}

fn new_key(serial: u32) -> SigningKey {
    let random = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).expect("a P-256 key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random).expect("its pair");
    SigningKey { kid: format!("local-{serial}"), pair }
}

/// A code the authorization endpoint gave, waiting for its token request.
struct Pending {
    client_id: String,
    redirect_uri: String,
    challenge: String,
}

struct State {
    /// The signing key last, the previous ones before it.
    keys: Vec<SigningKey>,
    codes: HashMap<String, Pending>,
    groups: Vec<String>,
    now: Box<dyn Fn() -> DateTime<Utc> + Send>,
    /// Requests answered, by path.
    requests: HashMap<String, u32>,
}

#[derive(Clone)]
pub struct OidcServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl OidcServer {
    /// Serves on a free loopback port until the runtime stops; tokens are dated by `now`.
    pub async fn start(now: impl Fn() -> DateTime<Utc> + Send + 'static) -> std::io::Result<Self> {
        Self::start_on(0, now).await
    }

    pub async fn start_on(port: u16, now: impl Fn() -> DateTime<Utc> + Send + 'static) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let state = State {
            keys: vec![new_key(1)],
            codes: HashMap::new(),
            groups: vec![DEMO_GROUP.into()],
            now: Box::new(now),
            requests: HashMap::new(),
        };
        let server = Self { address: listener.local_addr()?, state: Arc::new(Mutex::new(state)) };
        let serving = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = serving.clone();
                let service = service_fn(move |request| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.answer(request).await) }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Ok(server)
    }

    pub fn issuer(&self) -> String {
        format!("http://{}", self.address)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Signs with a new key from now on; the previous one stays in the JWKS.
    pub fn rotate(&self) {
        let mut state = self.state();
        let serial = state.keys.len() as u32 + 1;
        state.keys.push(new_key(serial));
    }

    /// The groups the demo user has from now on.
    pub fn set_groups(&self, groups: &[&str]) {
        self.state().groups = groups.iter().map(|group| group.to_string()).collect();
    }

    /// Requests answered at `path` so far.
    pub fn requests(&self, path: &str) -> u32 {
        self.state().requests.get(path).copied().unwrap_or_default()
    }

    /// A token with these claims over the usual ones, signed with the current key.
    pub fn token(&self, overrides: Value) -> String {
        self.token_with(json!({}), overrides)
    }

    /// `token` with these header fields over the usual ones (`kid`, `alg`): signed with the
    /// current key whatever they say.
    pub fn token_with(&self, header: Value, overrides: Value) -> String {
        let state = self.state();
        let mut claims = self.claims(&state);
        if let Value::Object(overrides) = overrides {
            claims.extend(overrides);
        }
        let key = state.keys.last().expect("a key");
        let mut fields = json!({"alg": "ES256", "typ": "JWT", "kid": key.kid});
        if let (Some(fields), Value::Object(header)) = (fields.as_object_mut(), header) {
            fields.extend(header);
        }
        sign(key, &fields, &Value::Object(claims))
    }

    fn claims(&self, state: &State) -> Map<String, Value> {
        let now = (state.now)().timestamp();
        let claims = json!({
            "iss": self.issuer(), "aud": LOCAL_CLIENT_ID, "sub": "demo-user-0001", "email": DEMO_USER,
            "groups": state.groups, "iat": now, "nbf": now, "exp": now + TOKEN_SECONDS,
        });
        claims.as_object().cloned().unwrap_or_default()
    }

    async fn answer(&self, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        *self.state().requests.entry(parts.uri.path().to_owned()).or_default() += 1;
        let query: HashMap<String, String> =
            form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
        match (parts.method.as_str(), parts.uri.path()) {
            ("GET", "/.well-known/openid-configuration") => {
                let issuer = self.issuer();
                json_answer(
                    StatusCode::OK,
                    &json!({
                        "issuer": issuer,
                        "authorization_endpoint": format!("{issuer}/authorize"),
                        "token_endpoint": format!("{issuer}/token"),
                        "jwks_uri": format!("{issuer}/jwks"),
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["ES256"],
                        "code_challenge_methods_supported": ["S256"],
                    }),
                )
            }
            ("GET", "/jwks") => json_answer(StatusCode::OK, &self.jwks()),
            ("GET", "/authorize") => self.authorize(&query),
            ("POST", "/token") => {
                let body = body.collect().await.map(|body| body.to_bytes()).unwrap_or_default();
                let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
                self.exchange(&form)
            }
            _ => json_answer(StatusCode::NOT_FOUND, &json!({"error": "not_found"})),
        }
    }

    fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .state()
            .keys
            .iter()
            .map(|key| {
                let point = key.pair.public_key().as_ref();
                json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": key.kid,
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    /// Signs the demo user in at once and sends the browser back with a code.
    fn authorize(&self, query: &HashMap<String, String>) -> hyper::Response<Full<Bytes>> {
        let field = |name: &str| query.get(name).cloned().unwrap_or_default();
        if field("response_type") != "code"
            || field("code_challenge_method") != "S256"
            || field("code_challenge").is_empty()
        {
            return json_answer(
                StatusCode::BAD_REQUEST,
                &json!({"error": "invalid_request", "error_description": "authorization code with PKCE (S256) only"}),
            );
        }
        let code = URL_SAFE_NO_PAD.encode(rand_bytes());
        let pending = Pending {
            client_id: field("client_id"),
            redirect_uri: field("redirect_uri"),
            challenge: field("code_challenge"),
        };
        let redirect = format!(
            "{}?{}",
            pending.redirect_uri,
            form_urlencoded::Serializer::new(String::new())
                .append_pair("code", &code)
                .append_pair("state", &field("state"))
                .finish()
        );
        self.state().codes.insert(code, pending);
        let mut response = hyper::Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::FOUND;
        response.headers_mut().insert("location", redirect.parse().expect("a URL"));
        response
    }

    /// The tokens for a code, once its verifier hashes to the challenge it came with.
    fn exchange(&self, form: &HashMap<String, String>) -> hyper::Response<Full<Bytes>> {
        let field = |name: &str| form.get(name).cloned().unwrap_or_default();
        let pending = self.state().codes.remove(&field("code"));
        let verifier_matches =
            |pending: &Pending| URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier"))) == pending.challenge;
        match pending {
            Some(pending)
                if field("grant_type") == "authorization_code"
                    && pending.client_id == field("client_id")
                    && pending.redirect_uri == field("redirect_uri")
                    && verifier_matches(&pending) =>
            {
                let token = self.token(json!({}));
                json_answer(
                    StatusCode::OK,
                    &json!({"access_token": token, "id_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS}),
                )
            }
            _ => json_answer(StatusCode::BAD_REQUEST, &json!({"error": "invalid_grant"})),
        }
    }
}

fn rand_bytes() -> [u8; 24] {
    let mut bytes = [0u8; 24];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut bytes).expect("randomness");
    bytes
}

fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let signed =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = key.pair.sign(&SystemRandom::new(), signed.as_bytes()).expect("a signature");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// A JSON answer any page may read (the console's origin is not the provider's).
fn json_answer(status: StatusCode, body: &Value) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", "application/json".parse().expect("a header"));
    response.headers_mut().insert("access-control-allow-origin", "*".parse().expect("a header"));
    response
}

//! HTTP plumbing shared by the API functions: the caller check and Anchore-style JSON errors.

use crate::auth::{Caller, Permission, Verdict};
use crate::routes::{self, Matched};
use inventory_core::limits::{MAX_RESPONSE_PAYLOAD_BYTES, MIN_COMPRESSED_BODY_BYTES};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::json;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

/// An API function: answers the routes of the route table that name it.
pub trait ApiFunction: Send + Sync + 'static {
    /// The binary this function is built as, as the route table names it.
    const FUNCTION: &'static str;

    /// Answers a request for the authenticated, permitted caller.
    fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;

    /// Answers a route served without credentials (the console's sign-in page and assets): none
    /// but the query function's.
    fn public(&self, request: &Request, _matched: &Matched<'_>) -> impl Future<Output = Response<Body>> + Send {
        let answer = not_found(request).into_response();
        async move { answer }
    }

    /// The answer to a request refused before its route ran: `refused` as Anchore's error, unless
    /// the function answers otherwise (the console sends a browser to its sign-in page).
    fn refused(&self, _request: &Request, _matched: &Matched<'_>, refused: ApiError) -> Response<Body> {
        refused.into_response()
    }

    /// Every request gets an answer: its route is looked up in the route table and the caller
    /// checked against the route's permission before it runs; errors become Anchore-style JSON.
    fn handle(&self, request: Request) -> impl Future<Output = Response<Body>> + Send
    where
        Self: Sized,
    {
        async move {
            let matched = routes::find(request.method().as_str(), request.uri().path())
                .filter(|matched| matched.route.function == Self::FUNCTION);
            let Some(matched) = matched else { return not_found(&request).into_response() };
            let Some(permission) = matched.route.permission else { return self.public(&request, &matched).await };
            let caller = match authorize(&request, permission).and_then(|caller| {
                refuse_cross_site(&request)?;
                Ok(caller)
            }) {
                Ok(caller) => caller,
                Err(refused) => return self.refused(&request, &matched, refused),
            };
            // Every log line of the request names its account and route (a store failure's, say).
            let span =
                lambda_http::tracing::info_span!("request", account = %caller.account, route = %matched.route.key());
            let answer = lambda_http::tracing::Instrument::instrument(self.route(&request, &caller, &matched), span);
            answer.await.unwrap_or_else(ApiError::into_response)
        }
    }
}

/// A request's query string parameters by name (the first of a repeated one), for the
/// parameter parsers (`from_params`).
pub fn query_params(request: &Request) -> impl Fn(&str) -> Option<String> + '_ {
    use lambda_http::RequestExt;
    let params = request.query_string_parameters_ref();
    move |name| params.and_then(|params| params.first(name)).map(str::to_owned)
}

/// The answer to a request no route matches.
pub fn not_found(request: &Request) -> ApiError {
    ApiError::not_found(format!("no route for {} {}", request.method(), request.uri().path()))
}

/// The caller of a request, if the authorizer's verdict and the caller's role allow it.
pub fn authorize(request: &Request, permission: Permission) -> Result<Caller, ApiError> {
    let caller = match Verdict::of_request(request) {
        Verdict::Allowed(caller) => caller,
        Verdict::Unauthenticated(reason) => return Err(ApiError::unauthorized(reason)),
        Verdict::Forbidden(reason) => return Err(ApiError::forbidden(reason)),
        Verdict::Unavailable(reason) => {
            return Err(ApiError::unavailable(&format!("credentials could not be checked ({reason})")))
        }
    };
    if !caller.role.allows(permission) {
        return Err(ApiError::forbidden(format!(
            "user {:?} has role {}, which may not {} {}",
            caller.user,
            caller.role.as_str(),
            request.method(),
            request.uri().path()
        )));
    }
    Ok(caller)
}

/// Refuses a state change a browser sends on behalf of another web site. The console signs in
/// with the browser's basic-auth prompt, so the browser attaches those credentials to any
/// request to this origin, a form posted by a hostile page included. A browser says where a
/// request comes from (`Sec-Fetch-Site`, `Origin`); a form can only send a non-JSON body, and a
/// JSON `Content-Type` from a script forces a CORS preflight, which this API never grants.
/// The agents send neither header and `Content-Type: application/json`. A bearer token is never
/// attached by the browser itself (a page must hold it and add it), so those rules are for basic
/// auth only.
pub fn refuse_cross_site(request: &Request) -> Result<(), ApiError> {
    let method = request.method();
    let header = |name| request.headers().get(name).map(|value| value.to_str().unwrap_or_default());
    let bearer = header(header::AUTHORIZATION.as_str()).and_then(crate::auth::bearer_token).is_some();
    if method.is_safe() || bearer {
        return Ok(());
    }
    // A browser that sends `Sec-Fetch-Site` says where the request comes from, also behind a
    // proxy that rewrites `Host`; an older one is judged by `Origin`.
    if let Some(site) = header(SEC_FETCH_SITE) {
        if !matches!(site.to_ascii_lowercase().as_str(), "same-origin" | "none") {
            return Err(ApiError::forbidden(format!(
                "{method} from another web site (Sec-Fetch-Site: {site}) is refused; use the console or an API client"
            )));
        }
    } else if let Some(origin) = header(header::ORIGIN.as_str()) {
        let own = header(header::HOST.as_str()).or_else(|| request.uri().authority().map(|a| a.as_str()));
        let host = origin.split_once("://").map(|(_, host)| host);
        if own.is_none() || !host.zip(own).is_some_and(|(host, own)| host.eq_ignore_ascii_case(own)) {
            return Err(ApiError::forbidden(format!(
                "{method} from origin {origin:?}, not this API's own, is refused"
            )));
        }
    }
    if !body_bytes(request.body()).is_empty() && !header(header::CONTENT_TYPE.as_str()).is_some_and(is_json_media_type)
    {
        let sent = header(header::CONTENT_TYPE.as_str()).unwrap_or("none");
        return Err(ApiError {
            detail: json!({ "field": "Content-Type" }),
            ..ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Content-Type: the body must be sent as application/json (sent: {sent})"),
            )
        });
    }
    Ok(())
}

/// The browser's word on where a request comes from.
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// `application/json`, or `application/<something>+json`, with any parameters.
fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Runs an API function on the Lambda runtime.
pub async fn run<F: ApiFunction>(function: F) -> Result<(), lambda_http::Error> {
    let function = Arc::new(function);
    lambda_http::run(lambda_http::service_fn(move |request| {
        let function = Arc::clone(&function);
        async move { Ok::<_, Infallible>(function.handle(request).await) }
    }))
    .await
}

/// Picks which of the user's accounts a request acts on (the authorizer reads it).
pub const ACCOUNT_HEADER: &str = "x-anchore-account";
/// The challenge sent with every 401.
pub const BASIC_CHALLENGE: &str = r#"Basic realm="runtime-inventory", charset="UTF-8""#;

/// An error in Anchore's `ApiErrorResponse` shape: `{code, error_type, message, detail, httpcode}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
    pub detail: serde_json::Value,
}

impl ApiError {
    pub fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self { status, error_type, message: message.into(), detail: json!({}) }
    }

    pub fn bad_request(field: &str, message: impl std::fmt::Display) -> Self {
        Self {
            detail: json!({ "field": field }),
            ..Self::new(StatusCode::BAD_REQUEST, "bad_request", format!("{field}: {message}"))
        }
    }

    /// 413 naming the field that is too large.
    pub fn payload_too_large(field: &str, message: impl Into<String>) -> Self {
        Self {
            detail: json!({ "field": field }),
            ..Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// What every route answers when a service it needs failed (the store throttled, timed out or
    /// unreachable; KMS): 503, which clients retry, as Anchore's agents and CLI do; the cause is
    /// logged, never answered.
    pub fn unavailable(what: &str) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", format!("{what}; retry"))
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error; see the function logs")
    }

    pub fn into_response(self) -> Response<Body> {
        let code = self.status.as_u16();
        let mut response = json_response(
            self.status,
            &json!({
                "code": code,
                "error_type": self.error_type,
                "message": self.message,
                "detail": self.detail,
                "httpcode": code,
            }),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static(BASIC_CHALLENGE));
        }
        response
    }
}

/// A field that cannot be used answers 400 naming it, or 413 when it is too large.
impl From<inventory_core::field::FieldError> for ApiError {
    fn from(error: inventory_core::field::FieldError) -> Self {
        if error.is_too_large() {
            Self::payload_too_large(&error.field, error.to_string())
        } else {
            Self::bad_request(&error.field, &error.message)
        }
    }
}

/// Whether the request's `Accept-Encoding` allows gzip (Go's HTTP client always sends it).
pub fn accepts_gzip(request: &Request) -> bool {
    request.headers().get_all(header::ACCEPT_ENCODING).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|param| param.replace(' ', "").trim_start_matches("q=").parse::<f32>() == Ok(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
    })
}

/// How large a body is once the function returns it to API Gateway: base64 for bytes, a
/// JSON-escaped string for text.
pub fn payload_bytes(body: &Body) -> usize {
    match body {
        Body::Binary(bytes) => bytes.len().div_ceil(3) * 4,
        Body::Text(text) => serde_json::to_string(text).map_or(usize::MAX, |escaped| escaped.len()),
        _ => 0,
    }
}

/// A JSON answer, gzip-compressed when the client accepts it, or an error naming `limit` when
/// even that is past what a Lambda function may return.
pub fn negotiated_json(
    request: &Request,
    status: StatusCode,
    body: &impl Serialize,
) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(|_| ApiError::internal())?;
    let (body, encoding) = if accepts_gzip(request) && text.len() >= MIN_COMPRESSED_BODY_BYTES {
        (Body::Binary(gzip(text.as_bytes())), Some("gzip"))
    } else {
        (Body::Text(text), None)
    };
    let size = payload_bytes(&body);
    if size > MAX_RESPONSE_PAYLOAD_BYTES {
        let advice = if encoding.is_some() { "" } else { " (or send Accept-Encoding: gzip)" };
        return Err(ApiError {
            detail: json!({ "field": "limit", "response_bytes": size, "max_response_bytes": MAX_RESPONSE_PAYLOAD_BYTES }),
            ..ApiError::new(
                StatusCode::BAD_REQUEST,
                "response_too_large",
                format!(
                    "the answer is {size} bytes, more than one response can carry ({MAX_RESPONSE_PAYLOAD_BYTES}); \
                     page with `limit` and `next`{advice}"
                ),
            )
        });
    }
    let mut response = Response::builder().status(status).header(header::CONTENT_TYPE, "application/json");
    if let Some(encoding) = encoding {
        response = response.header(header::CONTENT_ENCODING, encoding).header(header::VARY, "Accept-Encoding");
    }
    Ok(response.body(body).expect("static response parts are valid"))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 8), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .expect("static response parts are valid")
}

/// The request body as sent, or decompressed when it came `Content-Encoding: gzip` (Lambda takes
/// request events of at most 6 MB, so a large document comes compressed), at most `limit` bytes
/// either way: 413 past it, 400 for a body that is not gzip, 415 for another encoding.
pub fn decoded_body(request: &Request, limit: usize) -> Result<std::borrow::Cow<'_, [u8]>, ApiError> {
    use std::io::Read;
    let raw = body_bytes(request.body());
    let encoding = request.headers().get(header::CONTENT_ENCODING).and_then(|value| value.to_str().ok());
    let too_large = |size: &str| {
        ApiError::payload_too_large("body", format!("is {size} bytes; at most {limit} are accepted (after gzip)"))
    };
    match encoding.map(|value| value.trim().to_ascii_lowercase()) {
        None => {
            if raw.len() > limit {
                return Err(too_large(&raw.len().to_string()));
            }
            Ok(std::borrow::Cow::Borrowed(raw))
        }
        Some(encoding) if encoding == "gzip" => {
            let mut decoded = Vec::new();
            let mut decoder = flate2::read::GzDecoder::new(raw).take(limit as u64 + 1);
            decoder.read_to_end(&mut decoded).map_err(|error| {
                ApiError::bad_request("body", format!("is marked Content-Encoding: gzip but is not gzip: {error}"))
            })?;
            if decoded.len() > limit {
                return Err(too_large("more than that"));
            }
            Ok(std::borrow::Cow::Owned(decoded))
        }
        Some(other) => Err(ApiError {
            detail: json!({ "field": "Content-Encoding" }),
            ..ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Content-Encoding {other:?} is not accepted; send the body as is or gzip-compressed"),
            )
        }),
    }
}

/// Request body bytes, whatever encoding API Gateway used.
pub fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::auth::Role;

    fn request_from(verdict: Option<Verdict>) -> Request {
        let request =
            lambda_http::http::Request::builder().method("DELETE").uri("/v2/inventories").body(Body::Empty).unwrap();
        match verdict {
            Some(verdict) => verdict.attach(request),
            None => request,
        }
    }

    fn caller(role: Role) -> Caller {
        Caller { user: "u".into(), account: "team-a".into(), role }
    }

    #[test]
    fn callers_are_checked_against_the_route() {
        let admin = request_from(Some(Verdict::Allowed(caller(Role::Admin))));
        assert_eq!(authorize(&admin, Permission::Manage).unwrap(), caller(Role::Admin));

        let agent = request_from(Some(Verdict::Allowed(caller(Role::InventoryAgent))));
        let refused = authorize(&agent, Permission::Manage).unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            refused.message.contains("role inventory-agent, which may not DELETE /v2/inventories"),
            "{}",
            refused.message
        );

        let response = authorize(&request_from(None), Permission::Read).unwrap_err().into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], BASIC_CHALLENGE);

        let wrong_account = request_from(Some(Verdict::Forbidden("not a member".into())));
        let response = authorize(&wrong_account, Permission::Read).unwrap_err().into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());

        let unavailable = request_from(Some(Verdict::Unavailable("SSM throttled".into())));
        assert_eq!(authorize(&unavailable, Permission::Read).unwrap_err().status, StatusCode::SERVICE_UNAVAILABLE);
    }

    fn get_with(accept_encoding: Option<&str>) -> Request {
        let mut request = lambda_http::http::Request::builder().method("GET").uri("/v2/inventories");
        if let Some(value) = accept_encoding {
            request = request.header(header::ACCEPT_ENCODING, value);
        }
        request.body(Body::Empty).unwrap()
    }

    #[test]
    fn gzip_is_used_when_accepted_and_worth_it() {
        assert!(accepts_gzip(&get_with(Some("gzip"))));
        assert!(accepts_gzip(&get_with(Some("br;q=1.0, gzip;q=0.5"))));
        assert!(!accepts_gzip(&get_with(Some("gzip;q=0"))));
        assert!(!accepts_gzip(&get_with(Some("identity"))));
        assert!(!accepts_gzip(&get_with(None)));

        let items: Vec<serde_json::Value> = (0..500).map(|n| json!({"image_tag": format!("nginx:{n}")})).collect();
        let body = json!({ "items": items });
        let compressed = negotiated_json(&get_with(Some("gzip")), StatusCode::OK, &body).unwrap();
        assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "gzip");
        let mut text = String::new();
        let bytes = body_bytes(compressed.body());
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes), &mut text).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), body);

        let plain = negotiated_json(&get_with(None), StatusCode::OK, &body).unwrap();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let small = negotiated_json(&get_with(Some("gzip")), StatusCode::OK, &json!({"items": []})).unwrap();
        assert!(small.headers().get(header::CONTENT_ENCODING).is_none(), "tiny bodies stay plain");
    }

    #[test]
    fn answers_past_the_lambda_limit_say_to_page() {
        // Random text does not compress: past the limit with or without gzip.
        let noise: String = (0..MAX_RESPONSE_PAYLOAD_BYTES).map(|_| fastrand::alphanumeric()).collect();
        for accept in [None, Some("gzip")] {
            let error = negotiated_json(&get_with(accept), StatusCode::OK, &json!({ "items": [noise] })).unwrap_err();
            assert_eq!((error.status, error.error_type), (StatusCode::BAD_REQUEST, "response_too_large"));
            assert!(error.message.contains("page with `limit` and `next`"), "{}", error.message);
        }
        // Quotes are escaped in the Lambda response, so a text body counts larger than it is.
        let quotes = "\"".repeat(MAX_RESPONSE_PAYLOAD_BYTES * 2 / 5); // 0.8x the cap as JSON, 1.6x escaped
        assert!(negotiated_json(&get_with(None), StatusCode::OK, &json!([quotes])).is_err());
    }

    #[test]
    fn a_compressed_body_is_bounded_by_its_decompressed_size() {
        let zeros = gzip(&vec![b'0'; 10_001]);
        assert!(zeros.len() < 100, "a bomb: {} bytes", zeros.len());
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/v2/images/x/vulnerabilities")
            .header("content-encoding", "gzip")
            .body(Body::Binary(zeros))
            .unwrap();
        assert_eq!(decoded_body(&request, 10_000).unwrap_err().status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(decoded_body(&request, 10_001).unwrap().len(), 10_001);
        let plain = post(&[], "{}");
        assert_eq!(decoded_body(&plain, 1).unwrap_err().status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    fn post(headers: &[(&str, &str)], body: &str) -> Request {
        let mut request = lambda_http::http::Request::builder().method("POST").uri("/v2/kubernetes-inventory");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::Text(body.into())).unwrap()
    }

    #[test]
    fn state_changes_from_other_web_sites_are_refused() {
        let json = ("content-type", "application/json");
        let host = ("host", "abc123.execute-api.eu-west-2.amazonaws.com");
        // The agents: no browser headers, a JSON body.
        assert_eq!(refuse_cross_site(&post(&[host, json], "{}")), Ok(()));
        assert_eq!(
            refuse_cross_site(&post(&[host, ("content-type", "application/json; charset=utf-8")], "{}")),
            Ok(())
        );
        // The console: same origin.
        let own = [host, json, ("origin", "https://abc123.execute-api.eu-west-2.amazonaws.com")];
        assert_eq!(refuse_cross_site(&post(&own, "{}")), Ok(()));
        assert_eq!(refuse_cross_site(&post(&[host, json, ("sec-fetch-site", "same-origin")], "{}")), Ok(()));
        // Behind a proxy that sends the API's own host, the browser's word decides.
        let proxied = [("host", "abc123.execute-api.eu-west-2.amazonaws.com"), json];
        let console =
            [proxied[0], proxied[1], ("origin", "https://inventory.example.com"), ("sec-fetch-site", "same-origin")];
        assert_eq!(refuse_cross_site(&post(&console, "{}")), Ok(()));

        // A bearer token is the page's own doing, never the browser's.
        let bearer = [host, ("authorization", "Bearer eyJ.x.y"), ("sec-fetch-site", "cross-site")];
        assert_eq!(refuse_cross_site(&post(&bearer, "{}")), Ok(()));
        for hostile in [
            vec![host, json, ("authorization", "Basic YTpi"), ("sec-fetch-site", "cross-site")],
            vec![host, json, ("sec-fetch-site", "cross-site")],
            vec![host, json, ("sec-fetch-site", "same-site")],
            vec![host, json, ("origin", "https://attacker.example")],
            vec![host, json, ("origin", "null")],
            vec![json, ("origin", "https://abc123.execute-api.eu-west-2.amazonaws.com")],
        ] {
            let refused = refuse_cross_site(&post(&hostile, "{}")).unwrap_err();
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{hostile:?}");
        }
        for kind in [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data")] {
            let headers: Vec<_> = [Some(host), kind.map(|kind| ("content-type", kind))].into_iter().flatten().collect();
            let refused = refuse_cross_site(&post(&headers, r#"{"a":"=b"}"#)).unwrap_err();
            assert_eq!(
                (refused.status, refused.detail["field"].as_str()),
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("Content-Type"))
            );
        }
        // Reads and bodiless requests need no content type.
        assert_eq!(refuse_cross_site(&post(&[host], "")), Ok(()));
        let get = lambda_http::http::Request::builder().uri("/v2/inventories").header("sec-fetch-site", "cross-site");
        assert_eq!(refuse_cross_site(&get.body(Body::Empty).unwrap()), Ok(()));
    }

    #[test]
    fn errors_use_anchores_shape() {
        let response = ApiError::bad_request("timestamp", "must be RFC 3339").into_response();
        assert_eq!(response.status(), 400);
        let body: serde_json::Value = serde_json::from_slice(body_bytes(response.body())).unwrap();
        assert_eq!(body["httpcode"], 400);
        assert_eq!(body["code"], 400);
        assert_eq!(body["detail"]["field"], "timestamp");
        assert_eq!(body["error_type"], "bad_request");
    }
}

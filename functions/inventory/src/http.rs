//! HTTP plumbing shared by the API functions: Anchore-style JSON errors and the account.

use lambda_http::http::{header, HeaderMap, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::json;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

/// An API function: routes a request to a response or an API error.
pub trait ApiFunction: Send + Sync + 'static {
    fn route(&self, request: &Request) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;

    /// Every request gets an answer; errors become Anchore-style JSON errors.
    fn handle(&self, request: Request) -> impl Future<Output = Response<Body>> + Send
    where
        Self: Sized,
    {
        async move { self.route(&request).await.unwrap_or_else(ApiError::into_response) }
    }
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

pub const ACCOUNT_HEADER: &str = "x-anchore-account";
pub const DEFAULT_ACCOUNT: &str = "admin";
const MAX_ACCOUNT_LEN: usize = 128;

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

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error; see the function logs")
    }

    pub fn into_response(self) -> Response<Body> {
        let code = self.status.as_u16();
        json_response(
            self.status,
            &json!({
                "code": code,
                "error_type": self.error_type,
                "message": self.message,
                "detail": self.detail,
                "httpcode": code,
            }),
        )
    }
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .expect("static response parts are valid")
}

/// The account a request acts on: `x-anchore-account`, or `admin` when absent.
pub fn account(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(ACCOUNT_HEADER) else {
        return Ok(DEFAULT_ACCOUNT.to_owned());
    };
    let account = value.to_str().map_err(|_| ApiError::bad_request(ACCOUNT_HEADER, "must be visible ASCII"))?.trim();
    if account.is_empty() {
        return Ok(DEFAULT_ACCOUNT.to_owned());
    }
    if !is_valid_account(account) {
        return Err(ApiError::bad_request(
            ACCOUNT_HEADER,
            format!("must be 1 to {MAX_ACCOUNT_LEN} letters, digits or -_.@+="),
        ));
    }
    Ok(account.to_owned())
}

/// Account names end up in DynamoDB keys; `#` separates key parts.
pub fn is_valid_account(account: &str) -> bool {
    (1..=MAX_ACCOUNT_LEN).contains(&account.len())
        && account.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@+=".contains(c))
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
    use lambda_http::http::HeaderValue;

    #[test]
    fn account_defaults_to_admin_and_is_validated() {
        let mut headers = HeaderMap::new();
        assert_eq!(account(&headers).unwrap(), "admin");
        headers.insert(ACCOUNT_HEADER, HeaderValue::from_static("team-a"));
        assert_eq!(account(&headers).unwrap(), "team-a");
        headers.insert(ACCOUNT_HEADER, HeaderValue::from_static("a#b"));
        assert_eq!(account(&headers).unwrap_err().status, StatusCode::BAD_REQUEST);
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

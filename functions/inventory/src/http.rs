//! HTTP plumbing shared by the API functions: the caller check and Anchore-style JSON errors.

use crate::auth::{Caller, Permission, Verdict};
use crate::routes::{self, Matched};
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

    /// Every request gets an answer: its route is looked up in the route table and the caller
    /// checked against the route's permission before it runs; errors become Anchore-style JSON.
    fn handle(&self, request: Request) -> impl Future<Output = Response<Body>> + Send
    where
        Self: Sized,
    {
        async move {
            let matched = routes::find(request.method().as_str(), request.uri().path())
                .filter(|matched| matched.route.function == Self::FUNCTION);
            // This function's routes all need credentials; the public one is another function's.
            let Some((matched, permission)) = matched.and_then(|m| m.route.permission.map(|p| (m, p))) else {
                return not_found(&request).into_response();
            };
            let caller = match authorize(&request, permission) {
                Ok(caller) => caller,
                Err(refused) => return refused.into_response(),
            };
            self.route(&request, &caller, &matched).await.unwrap_or_else(ApiError::into_response)
        }
    }
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
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                format!("credentials could not be checked ({reason}); retry later"),
            ))
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
/// The account the collector stores under unless configured otherwise.
pub const DEFAULT_ACCOUNT: &str = "admin";
/// The challenge sent with every 401.
pub const BASIC_CHALLENGE: &str = r#"Basic realm="runtime-inventory", charset="UTF-8""#;
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

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
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

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .expect("static response parts are valid")
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

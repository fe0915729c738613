//! Version function: `GET /version`, which Anchore's agents call before every other request and
//! poll for their whole life; `k8s-inventory` exits when it answers anything but 2xx JSON or
//! 502/503/504. It reads no setting and touches no store, so nothing it depends on can fail it,
//! and it has a route throttle of its own in the template. It also answers API Gateway's
//! `$default` route: a request no route matches gets Anchore's 404, not API Gateway's.

use inventory_api::routes::{self, Endpoint};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;
use std::convert::Infallible;

/// Anchore's agents read `service.version`; from 5.11 on `k8s-inventory` registers as an
/// integration and sends health reports (a failed registration makes it exit), which the
/// `ingest` function serves.
pub const ANCHORE_SERVICE_VERSION: &str = "5.11.0";

/// The answer: the version for `GET /version`, Anchore's 404 for anything else.
pub fn respond(request: &Request) -> Response<Body> {
    let route = routes::find(request.method().as_str(), request.uri().path()).map(|matched| matched.route.endpoint);
    if route != Some(Endpoint::Version) {
        return inventory_api::http::not_found(request).into_response();
    }
    inventory_api::http::json_response(
        StatusCode::OK,
        &json!({
            "api": {"version": "2"},
            "service": {
                "version": ANCHORE_SERVICE_VERSION,
                "implementation": "runtime-inventory",
                "implementation_version": env!("CARGO_PKG_VERSION"),
            },
            "db": {"schema_version": "1"},
        }),
    )
}

/// Serves `GET /version` and the `$default` route on the Lambda runtime.
pub async fn run() -> Result<(), Error> {
    lambda_http::run(lambda_http::service_fn(|request: Request| async move { Ok::<_, Infallible>(respond(&request)) }))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> Request {
        lambda_http::http::Request::builder().method(method).uri(path).body(Body::Empty).unwrap()
    }

    fn body(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(inventory_api::http::body_bytes(response.body())).unwrap()
    }

    #[test]
    fn agents_register_only_where_registration_is_served() {
        let response = respond(&request("GET", "/version"));
        assert_eq!(response.status(), StatusCode::OK);
        let body = body(&response);
        assert_eq!(body["api"]["version"], "2");
        let version: Vec<u32> =
            body["service"]["version"].as_str().unwrap().split('.').map(|part| part.parse().unwrap()).collect();
        let registers = version >= vec![5, 11];
        let served =
            |method: &str, path: &str| routes::find(method, path).is_some_and(|m| m.route.function == "ingest");
        let registration_served = served("POST", "/v2/system/integrations/registration")
            && served("POST", "/v2/system/integrations/0b9c4e0e-6c1f-4d8a-9f3e-2f8d0c7a1b2c/health-report");
        assert_eq!(registers, registration_served, "5.11 and later make k8s-inventory register, and exit if it cannot");
        assert!(registers, "registration is served, so agents are told to use it");
    }

    #[test]
    fn requests_no_route_matches_get_anchores_404() {
        for (method, path) in [("GET", "/v2/nothing"), ("POST", "/version"), ("GET", "/")] {
            let response = respond(&request(method, path));
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            let body = body(&response);
            assert_eq!((body["httpcode"].as_u64(), body["error_type"].as_str()), (Some(404), Some("not_found")));
        }
    }
}

//! Version function: `GET /version`, which Anchore's agents call before every other request and
//! poll for their whole life; `k8s-inventory` exits when it answers anything but 2xx JSON or
//! 502/503/504. It reads no setting and touches no store, so nothing it depends on can fail it,
//! and it has a route throttle of its own in the template.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;
use std::convert::Infallible;

pub const VERSION_PATH: &str = "/version";

/// Anchore's agents read `service.version`; from 5.11 on they register as integrations, which
/// this service does not implement, and a failed registration makes them exit.
pub const ANCHORE_SERVICE_VERSION: &str = "5.10.0";

/// Every route this function serves, as `METHOD path`.
pub fn routes() -> Vec<String> {
    vec![format!("GET {VERSION_PATH}")]
}

/// Routes API Gateway serves without the authorizer: the agents call them before authenticating.
pub fn public_routes() -> Vec<String> {
    routes()
}

/// The answer, whatever the request: this function has one route.
pub fn respond(_request: &Request) -> Response<Body> {
    inventory::http::json_response(
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

/// Serves `GET /version` on the Lambda runtime.
pub async fn run() -> Result<(), Error> {
    lambda_http::run(lambda_http::service_fn(|request: Request| async move { Ok::<_, Infallible>(respond(&request)) }))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_keeps_agents_from_registering() {
        let request = lambda_http::http::Request::builder().uri(VERSION_PATH).body(Body::Empty).unwrap();
        let response = respond(&request);
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = serde_json::from_slice(inventory::http::body_bytes(response.body())).unwrap();
        assert_eq!(body["api"]["version"], "2");
        let version: Vec<u32> =
            body["service"]["version"].as_str().unwrap().split('.').map(|part| part.parse().unwrap()).collect();
        assert!(version < vec![5, 11], "5.11 and later make the agents register, which is not implemented");
    }
}

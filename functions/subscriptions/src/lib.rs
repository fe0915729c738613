//! Subscriptions function: Anchore's subscription API for `runtime_inventory` subscriptions,
//! on `/v1/subscriptions` and `/v2/subscriptions`.

use inventory::auth::{Caller, Permission};
use inventory::http::{body_bytes, json_response, ApiError, ApiFunction};
use inventory::subscriptions::{NewSubscription, SubscriptionError, SubscriptionUpdate, Subscriptions};
use inventory::{Clock, Settings, SystemClock};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use std::sync::Arc;

pub const PREFIXES: [&str; 2] = ["/v1/subscriptions", "/v2/subscriptions"];

/// Every route this function serves, as `METHOD path` (`{subscription_id}` as API Gateway writes it).
pub fn routes() -> Vec<String> {
    PREFIXES
        .iter()
        .flat_map(|prefix| {
            [
                format!("GET {prefix}"),
                format!("POST {prefix}"),
                format!("GET {prefix}/{{subscription_id}}"),
                format!("PUT {prefix}/{{subscription_id}}"),
                format!("DELETE {prefix}/{{subscription_id}}"),
            ]
        })
        .collect()
}

/// The route a request path matches, with the subscription id if any.
pub fn match_path(path: &str) -> Option<Option<&str>> {
    let path = path.trim_end_matches('/');
    PREFIXES.iter().find_map(|prefix| match path.strip_prefix(prefix)? {
        "" => Some(None),
        rest => rest.strip_prefix('/').filter(|id| !id.is_empty() && !id.contains('/')).map(Some),
    })
}

pub struct SubscriptionsApp {
    subscriptions: Subscriptions,
}

impl SubscriptionsApp {
    pub fn new(client: aws_sdk_dynamodb::Client, settings: &Settings, clock: Arc<dyn Clock>) -> Self {
        Self { subscriptions: Subscriptions::new(client, settings.table_name.clone(), clock) }
    }

    /// Builds the app from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let (store, settings) = inventory::store_from_env().await?;
        Ok(Self::new(store.client().clone(), &settings, Arc::new(SystemClock)))
    }
}

impl ApiFunction for SubscriptionsApp {
    fn required_permission(&self, request: &Request) -> Permission {
        if request.method() == Method::GET {
            Permission::Read
        } else {
            Permission::Manage
        }
    }

    async fn route(&self, request: &Request, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let path = request.uri().path();
        let Some(id) = match_path(path) else {
            return Err(ApiError::not_found(format!("no route for {} {path}", request.method())));
        };
        let account = caller.account.as_str();
        let method = request.method().clone();
        let result = match (id, method) {
            (None, Method::GET) => {
                let params = request.query_string_parameters();
                self.subscriptions
                    .list(account, params.first("subscription_type"), params.first("subscription_key"))
                    .await
            }
            (None, Method::POST) => {
                let new: NewSubscription = parse_body(request)?;
                self.subscriptions.create(account, new).await.map(|created| vec![created])
            }
            (Some(id), Method::GET) => self.subscriptions.get(account, id).await.map(|found| vec![found]),
            (Some(id), Method::PUT) => {
                let update: SubscriptionUpdate = parse_body(request)?;
                self.subscriptions.update(account, id, update).await.map(|updated| vec![updated])
            }
            (Some(id), Method::DELETE) => {
                return match self.subscriptions.delete(account, id).await {
                    Ok(()) => Ok(Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(Body::Empty)
                        .expect("static response parts are valid")),
                    Err(error) => Err(api_error(error)),
                };
            }
            (_, method) => {
                return Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("{method} is not supported on {path}"),
                ))
            }
        };
        result.map(|subscriptions| json_response(StatusCode::OK, &subscriptions)).map_err(api_error)
    }
}

fn parse_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    serde_json::from_slice(body_bytes(request.body())).map_err(|error| ApiError::bad_request("body", error))
}

fn api_error(error: SubscriptionError) -> ApiError {
    match error {
        SubscriptionError::Invalid { field, message } => ApiError::bad_request(field, message),
        SubscriptionError::Duplicate { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string()),
        SubscriptionError::NotFound(_) => ApiError::not_found(error.to_string()),
        SubscriptionError::Store { .. } => {
            tracing::error!(%error, "subscription storage failed");
            ApiError::internal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_both_api_versions() {
        assert_eq!(match_path("/v1/subscriptions"), Some(None));
        assert_eq!(match_path("/v2/subscriptions/"), Some(None));
        assert_eq!(match_path("/v2/subscriptions/abc"), Some(Some("abc")));
        assert_eq!(match_path("/v2/subscriptions/abc/x"), None);
        assert_eq!(match_path("/v2/subscriptionsx"), None);
        assert_eq!(match_path("/v2/inventories"), None);
    }
}

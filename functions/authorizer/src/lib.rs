//! Authorizer function: HTTP basic auth for the HTTP API, against users kept in SSM, and API
//! keys (basic auth as `_api_key`) acting as their users.
//! It answers every request "authorized" with its verdict in the context (see
//! `inventory_api::auth`): the functions turn a refusal into a 401 with `WWW-Authenticate` or a 403.

pub mod cache;
pub mod config;
pub mod credentials;
pub mod decide;
pub mod oidc;
pub mod provider;

use aws_lambda_events::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
pub use config::Config;
use decide::Authorizer;
use inventory_api::auth::Verdict;
use inventory_core::clock::Clock;
use inventory_identity::api_keys::SsmApiKeys;
use inventory_identity::users::SsmUsers;
use inventory_runtime::{EventFunction, Sdk};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;

pub struct AuthorizerApp {
    authorizer: Authorizer,
}

impl AuthorizerApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let ssm = inventory_runtime::client!(sdk, aws_sdk_ssm);
        let users = SsmUsers::new(ssm.clone(), config.paths.users);
        let keys = SsmApiKeys::new(ssm.clone(), config.paths.api_keys);
        let oidc = config.oidc.map(|settings| provider::OidcProvider::new(settings, ssm, config.cache_ttl));
        Self { authorizer: Authorizer::with_oidc(users, keys, oidc, config.cache_ttl, clock) }
    }

    /// The verdict on a request's credentials, as `handle` answers it (the local stack's API).
    pub async fn decide_headers(&self, headers: &http::HeaderMap) -> Verdict {
        self.authorizer.decide_headers(headers).await
    }
}

impl EventFunction for AuthorizerApp {
    type Event = ApiGatewayV2CustomAuthorizerV2Request;
    type Response = ApiGatewayV2CustomAuthorizerSimpleResponse<Value>;

    async fn handle(&self, event: LambdaEvent<Self::Event>) -> Result<Self::Response, Error> {
        let request = event.payload;
        let verdict = self.authorizer.decide_headers(&request.headers).await;
        let route = request.route_key.as_deref().unwrap_or_default();
        match &verdict {
            Verdict::Allowed(caller) => {
                tracing::info!(
                    route,
                    user = caller.user,
                    account = caller.account,
                    role = caller.role.as_str(),
                    "authenticated"
                )
            }
            Verdict::Unauthenticated(reason) | Verdict::Forbidden(reason) | Verdict::Unavailable(reason) => {
                tracing::warn!(route, reason, "request refused")
            }
        }
        Ok(simple_response(&verdict))
    }
}

/// Always "authorized": the verdict travels in the context and the function enforces it.
fn simple_response(verdict: &Verdict) -> ApiGatewayV2CustomAuthorizerSimpleResponse<Value> {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    response.is_authorized = true;
    response.context = Value::Object(verdict.to_context());
    response
}

//! Authorizer function: HTTP basic auth for the HTTP API, against users kept in SSM.
//! It answers every request "authorized" with its verdict in the context (see
//! `inventory::auth`): the functions turn a refusal into a 401 with `WWW-Authenticate` or a 403.

pub mod cache;
pub mod config;
pub mod credentials;
pub mod decide;
pub mod password;
pub mod users;

use aws_lambda_events::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
use config::AuthConfig;
use decide::Authorizer;
use inventory::auth::Verdict;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use users::SsmUsers;

pub struct AuthorizerApp {
    authorizer: Authorizer,
}

impl AuthorizerApp {
    pub fn new(authorizer: Authorizer) -> Self {
        Self { authorizer }
    }

    /// Builds the SSM client and the settings from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let config = AuthConfig::from_env()?;
        let client = aws_sdk_ssm::Client::new(&inventory::sdk_config().await);
        Ok(Self::new(Authorizer::new(SsmUsers::new(client, config.users_path), config.cache_ttl)))
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
    ) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse<Value>, Error> {
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

//! Subscriptions function: Anchore's subscription API for `runtime_inventory` subscriptions,
//! on `/v1/subscriptions` and `/v2/subscriptions`, and the package watches
//! (`/v2/package-watches`), whose events the notifier puts.

use inventory_runtime::Sdk;
use inventory_store::auth::Caller;
use inventory_store::http::{body_bytes, json_response, not_found, ApiError, ApiFunction};
use inventory_store::image::Digest;
use inventory_store::packages::{NewWatch, Packages};
use inventory_store::routes::{Endpoint, Matched};
use inventory_store::subscriptions::{NewSubscription, SubscriptionUpdate, Subscriptions};
use inventory_store::{Clock, Settings, Store};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Every variable the function reads: the store's settings.
pub type Config = Settings;

pub struct SubscriptionsApp {
    subscriptions: Subscriptions,
    packages: Packages,
}

impl SubscriptionsApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.table_name);
        Self {
            subscriptions: Subscriptions::new(store.clone(), Arc::clone(&clock)),
            packages: Packages::new(store, clock),
        }
    }
}

impl ApiFunction for SubscriptionsApp {
    const FUNCTION: &'static str = "subscriptions";

    async fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        let id = || matched.param("subscription_id").ok_or_else(|| not_found(request));
        let result = match matched.route.endpoint {
            Endpoint::ListSubscriptions => {
                let params = request.query_string_parameters();
                self.subscriptions
                    .list(account, params.first("subscription_type"), params.first("subscription_key"))
                    .await
            }
            Endpoint::CreateSubscription => {
                let new: NewSubscription = parse_body(request)?;
                self.subscriptions.create(account, new).await.map(|created| vec![created])
            }
            Endpoint::GetSubscription => self.subscriptions.get(account, id()?).await.map(|found| vec![found]),
            Endpoint::UpdateSubscription => {
                let update: SubscriptionUpdate = parse_body(request)?;
                self.subscriptions.update(account, id()?, update).await.map(|updated| vec![updated])
            }
            Endpoint::DeleteSubscription => {
                return match self.subscriptions.delete(account, id()?).await {
                    Ok(()) => Ok(Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(Body::Empty)
                        .expect("static response parts are valid")),
                    Err(error) => Err(error.into()),
                };
            }
            Endpoint::ImageScheduled => {
                let digest = matched.param("image_digest").unwrap_or_default();
                let digest = Digest::parse(digest).map_err(|error| ApiError::bad_request("image_digest", error))?;
                return match self.subscriptions.scheduled(account, digest.as_str()).await {
                    Ok(scheduled) => Ok(json_response(StatusCode::OK, &serde_json::json!({ "scheduled": scheduled }))),
                    Err(error) => Err(error.into()),
                };
            }
            Endpoint::ListPackageWatches => {
                let watches = self.packages.watches(account).await?;
                return Ok(json_response(StatusCode::OK, &serde_json::json!({ "items": watches })));
            }
            Endpoint::CreatePackageWatch => {
                let new: NewWatch = parse_body(request)?;
                let created = self.packages.create_watch(account, &caller.user, new).await?;
                return Ok(json_response(StatusCode::CREATED, &created));
            }
            Endpoint::GetPackageWatch => {
                let watch_id = matched.param("watch_id").unwrap_or_default();
                return match self.packages.watch(account, watch_id).await? {
                    Some(watch) => Ok(json_response(StatusCode::OK, &watch)),
                    None => Err(ApiError::not_found(format!("no package watch {watch_id} in this account"))),
                };
            }
            Endpoint::DeletePackageWatch => {
                let watch_id = matched.param("watch_id").unwrap_or_default();
                return match self.packages.delete_watch(account, watch_id).await? {
                    true => Ok(Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(Body::Empty)
                        .expect("static response parts are valid")),
                    false => Err(ApiError::not_found(format!("no package watch {watch_id} in this account"))),
                };
            }
            _ => return Err(not_found(request)),
        };
        result.map(|subscriptions| json_response(StatusCode::OK, &subscriptions)).map_err(ApiError::from)
    }
}

fn parse_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    serde_json::from_slice(body_bytes(request.body())).map_err(|error| ApiError::bad_request("body", error))
}

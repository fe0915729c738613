//! Delete function: `DELETE /v2/inventories?inventory_type=&context=[&image_digest=]`,
//! `DELETE /v2/kubernetes-namespaces?cluster_name=` and `DELETE /v2/history?inventory_type=&context=`.

pub mod deleter;

use deleter::{cluster_param, DeleteOutcome, DeleteTarget, InventoryDeleter};
use inventory_runtime::Sdk;
use inventory_store::auth::Caller;
use inventory_store::http::{not_found, query_params, ApiError, ApiFunction};
use inventory_store::routes::{Endpoint, Matched};
use inventory_store::{Clock, Settings, Store};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

/// How many stored items a successful delete removed (the body of a 204 is empty).
pub const DELETED_ITEMS_HEADER: &str = "x-deleted-items";

/// Every variable the function reads: the store's settings.
pub type Config = Settings;

pub struct DeleteApp {
    deleter: InventoryDeleter,
}

impl DeleteApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.table_name);
        Self { deleter: InventoryDeleter::new(store, config, clock) }
    }
}

impl ApiFunction for DeleteApp {
    const FUNCTION: &'static str = "delete";

    async fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        let param = query_params(request);
        let (outcome, what) = match matched.route.endpoint {
            Endpoint::DeleteInventories => {
                let target = DeleteTarget::from_params(param)?;
                let what = match &target.image_digest {
                    Some(digest) => format!("image {digest} in {} context {:?}", target.inventory_type, target.context),
                    None => format!("{} context {:?}", target.inventory_type, target.context),
                };
                (self.deleter.delete(account, &target).await, what)
            }
            Endpoint::DeleteHistory => {
                let target = DeleteTarget::from_params(param)?;
                if target.image_digest.is_some() {
                    return Err(ApiError::bad_request("image_digest", "history is deleted a whole context at a time"));
                }
                let what = format!("history of {} context {:?}", target.inventory_type, target.context);
                let deleted = self.deleter.delete_history(account, &target).await;
                (deleted, what)
            }
            Endpoint::DeleteKubernetesNamespaces => {
                let cluster = cluster_param(param)?;
                (self.deleter.delete_cluster(account, &cluster).await, format!("namespace of cluster {cluster:?}"))
            }
            _ => return Err(not_found(request)),
        };
        match outcome {
            Ok(DeleteOutcome::Deleted { items }) => {
                tracing::info!(account, what, items, "inventory deleted");
                Ok(Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .header(DELETED_ITEMS_HEADER, items)
                    .body(Body::Empty)
                    .expect("static response parts are valid"))
            }
            Ok(DeleteOutcome::Busy) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("a report for the {what} is being stored; retry later"),
            )),
            Ok(DeleteOutcome::NotFound) => Err(ApiError::not_found(format!("no {what}"))),
            Err(error) => Err(error.answer(&format!("the {what}"))),
        }
    }
}

//! Delete function: `DELETE /v2/inventories?inventory_type=&context=[&image_digest=]`.

use inventory::auth::Caller;
use inventory::delete::{DeleteOutcome, DeleteTarget, InventoryDeleter};
use inventory::http::{not_found, ApiError, ApiFunction};
use inventory::routes::{Endpoint, Matched};
use inventory::{Clock, Settings, Store, SystemClock};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, RequestExt, Response};
use std::sync::Arc;

/// How many stored items a successful delete removed (the body of a 204 is empty).
pub const DELETED_ITEMS_HEADER: &str = "x-deleted-items";

pub struct DeleteApp {
    deleter: InventoryDeleter,
}

impl DeleteApp {
    pub fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self { deleter: InventoryDeleter::new(store, settings, clock) }
    }

    /// Builds the app from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let (store, settings) = inventory::store_from_env().await?;
        Ok(Self::new(store, settings, Arc::new(SystemClock)))
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
        if matched.route.endpoint != Endpoint::DeleteInventories {
            return Err(not_found(request));
        }
        let account = caller.account.as_str();
        let params = request.query_string_parameters();
        let target = DeleteTarget::from_params(|name| params.first(name).map(str::to_owned))
            .map_err(|error| ApiError::bad_request(error.parameter, &error.message))?;
        match self.deleter.delete(account, &target).await {
            Ok(DeleteOutcome::Deleted { items }) => {
                tracing::info!(account, context = target.context, items, "inventory deleted");
                Ok(Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .header(DELETED_ITEMS_HEADER, items)
                    .body(Body::Empty)
                    .expect("static response parts are valid"))
            }
            Ok(DeleteOutcome::Busy) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("a report for context {:?} is being stored; retry later", target.context),
            )),
            Ok(DeleteOutcome::NotFound) => Err(ApiError::not_found(match &target.image_digest {
                Some(digest) => format!("no image {digest} in {} context {:?}", target.inventory_type, target.context),
                None => format!("no {} context {:?}", target.inventory_type, target.context),
            })),
            Err(error) => {
                tracing::error!(%error, account, "deleting inventory failed");
                Err(ApiError::internal())
            }
        }
    }
}

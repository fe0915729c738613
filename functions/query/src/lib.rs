//! Query function: `GET /v2/inventories`, and the API roots `GET /v1` and `GET /v2`.

use inventory::auth::Caller;
use inventory::http::{json_response, not_found, ApiError, ApiFunction};
use inventory::routes::{Endpoint, Matched};
use inventory::{Clock, InventoryQuery, InventoryReader, Settings, Store, SystemClock};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, RequestExt, Response};
use std::sync::Arc;

pub struct QueryApp {
    reader: InventoryReader,
}

impl QueryApp {
    pub fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self { reader: InventoryReader::new(store, settings, clock) }
    }

    /// Builds the app from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let (store, settings) = inventory::store_from_env().await?;
        Ok(Self::new(store, settings, Arc::new(SystemClock)))
    }
}

impl ApiFunction for QueryApp {
    const FUNCTION: &'static str = "query";

    async fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> Result<Response<Body>, ApiError> {
        match matched.route.endpoint {
            Endpoint::ListInventories => self.list(request, caller).await,
            // Anchore's CLI GETs its base URL before every command and stops on anything but 200.
            Endpoint::ApiRoot => Ok(json_response(
                StatusCode::OK,
                &serde_json::json!({"service": "runtime-inventory", "api": matched.route.path.trim_start_matches('/')}),
            )),
            _ => Err(not_found(request)),
        }
    }
}

impl QueryApp {
    async fn list(&self, request: &Request, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        let params = request.query_string_parameters();
        let query = InventoryQuery::from_params(|name| params.first(name).map(str::to_owned))
            .map_err(|error| ApiError::bad_request(error.parameter, &error.message))?;
        match self.reader.list(account, &query).await {
            Ok(list) => Ok(json_response(StatusCode::OK, &list)),
            Err(error) => {
                tracing::error!(%error, account, "listing inventory failed");
                Err(ApiError::internal())
            }
        }
    }
}

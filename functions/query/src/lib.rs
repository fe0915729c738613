//! Query function: `GET /v2/inventories`.

use inventory::auth::{Caller, Permission};
use inventory::http::{json_response, ApiError, ApiFunction};
use inventory::{Clock, InventoryQuery, InventoryReader, Settings, Store, SystemClock};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, RequestExt, Response};
use std::sync::Arc;

pub const INVENTORIES_PATH: &str = "/v2/inventories";

/// Every route this function serves, as `METHOD path`.
pub fn routes() -> Vec<String> {
    vec![format!("GET {INVENTORIES_PATH}")]
}

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
    fn required_permission(&self, _request: &Request) -> Permission {
        Permission::Read
    }

    async fn route(&self, request: &Request, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let path = request.uri().path().trim_end_matches('/');
        if path != INVENTORIES_PATH {
            return Err(ApiError::not_found(format!("no route for {} {path}", request.method())));
        }
        if request.method() != Method::GET {
            return Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "use GET"));
        }
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

//! Query function: `GET /v2/inventories`, `GET /v2/clusters`, the detail routes, the
//! integrations listing, and the API roots `GET /v1` and `GET /v2`.

mod console;
pub mod details;
pub mod exposure;
pub mod history;

use details::{check_id, DetailReader, Listing, Page};
use exposure::{Exposure, ExposurePage};
use inventory::auth::Caller;
use inventory::coverage::{attach_agents, list_clusters};
use inventory::http::{json_response, negotiated_json, not_found, ApiError, ApiFunction};
use inventory::integrations::IntegrationRegistry;
use inventory::query::{min_severity_param, vulnerability_id_param};
use inventory::routes::{Endpoint, Matched};
use inventory::vulnerabilities::{Vulnerabilities, VulnerabilityError};
use inventory::{Clock, InventoryQuery, InventoryReader, Settings, Store, SystemClock};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, RequestExt, Response};
use std::sync::Arc;

pub struct QueryApp {
    reader: InventoryReader,
    details: DetailReader,
    integrations: IntegrationRegistry,
    vulnerabilities: Vulnerabilities,
    exposure: Exposure,
    store: Store,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

impl QueryApp {
    pub fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self {
            details: DetailReader::new(store.clone(), settings.clone(), Arc::clone(&clock)),
            integrations: IntegrationRegistry::new(store.clone(), Arc::clone(&clock)),
            vulnerabilities: Vulnerabilities::new(store.clone(), Arc::clone(&clock)),
            exposure: Exposure::new(
                store.clone(),
                InventoryReader::new(store.clone(), settings.clone(), Arc::clone(&clock)),
            ),
            reader: InventoryReader::new(store.clone(), settings.clone(), Arc::clone(&clock)),
            store,
            settings,
            clock,
        }
    }

    /// Builds the app from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let (store, settings) = inventory::store_from_env().await?;
        Ok(Self::new(store, settings, Arc::new(SystemClock)))
    }
}

/// The listing a detail route serves, and the path parameter of its single-item form.
fn detail_route(endpoint: Endpoint) -> Option<(Listing, Option<&'static str>)> {
    Some(match endpoint {
        Endpoint::ListKubernetesContainers => (Listing::KubernetesContainers, None),
        Endpoint::ListKubernetesNamespaces => (Listing::KubernetesNamespaces, None),
        Endpoint::GetKubernetesNamespace => (Listing::KubernetesNamespaces, Some("namespace_id")),
        Endpoint::ListKubernetesNodes => (Listing::KubernetesNodes, None),
        Endpoint::GetKubernetesNode => (Listing::KubernetesNodes, Some("node_id")),
        Endpoint::ListKubernetesPods => (Listing::KubernetesPods, None),
        Endpoint::GetKubernetesPod => (Listing::KubernetesPods, Some("pod_id")),
        Endpoint::ListEcsContainers => (Listing::EcsContainers, None),
        Endpoint::ListEcsServices => (Listing::EcsServices, None),
        Endpoint::ListEcsTasks => (Listing::EcsTasks, None),
        _ => return None,
    })
}

fn failed(error: impl std::fmt::Display, account: &str, what: &str) -> ApiError {
    tracing::error!(%error, account, what, "reading failed");
    ApiError::store_unavailable(&format!("the {what} could not be read"))
}

impl ApiFunction for QueryApp {
    const FUNCTION: &'static str = "query";

    async fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        let endpoint = matched.route.endpoint;
        if let Some((listing, id_parameter)) = detail_route(endpoint) {
            return match id_parameter {
                None => self.list_details(request, account, listing).await,
                Some(parameter) => {
                    let id = matched.param(parameter).unwrap_or_default();
                    check_id(parameter, id)?;
                    match self.details.get(account, listing, id).await {
                        Ok(Some(found)) => Ok(json_response(StatusCode::OK, &found)),
                        Ok(None) => Err(ApiError::not_found(format!("no {parameter} {id:?} in this account"))),
                        Err(error) => Err(failed(error, account, "detail")),
                    }
                }
            };
        }
        match endpoint {
            Endpoint::ListInventories => self.list(request, account, false).await,
            Endpoint::ListInventoriesV1 => self.list(request, account, true).await,
            Endpoint::Console => Ok(console::page(caller)),
            Endpoint::ConsoleAsset => console::asset(matched.param("asset").unwrap_or_default()),
            Endpoint::ListClusters => {
                let (now, ttl, stale_after) =
                    (self.clock.now(), self.settings.ttl_delta(), self.settings.stale_after());
                let (mut clusters, agents) = futures::try_join!(
                    list_clusters(&self.store, account, now, ttl, stale_after),
                    self.integrations.list(account)
                )
                .map_err(|error| failed(error, account, "clusters"))?;
                attach_agents(&mut clusters, &agents);
                negotiated_json(request, StatusCode::OK, &serde_json::json!({ "clusters": clusters }))
            }
            Endpoint::ImageVulnerabilities => {
                let digest = matched.param("image_digest").unwrap_or_default();
                match self.vulnerabilities.image(account, digest).await {
                    Ok(Some(found)) => negotiated_json(request, StatusCode::OK, &found),
                    Ok(None) => Err(ApiError::not_found(format!("no findings of image {digest} in this account"))),
                    Err(VulnerabilityError::Digest(message)) => Err(ApiError::bad_request("image_digest", message)),
                    Err(error) => Err(failed(error, account, "image vulnerabilities")),
                }
            }
            Endpoint::VulnerabilityExposure => {
                let id = matched.param("vulnerability_id").unwrap_or_default();
                vulnerability_id_param(id)?;
                let params = request.query_string_parameters();
                let page = ExposurePage::from_params(|name| params.first(name).map(str::to_owned))?;
                match self.exposure.vulnerability(account, id, &page).await {
                    Ok(Some(found)) => negotiated_json(request, StatusCode::OK, &found),
                    Ok(None) => Err(ApiError::not_found(format!("no image of this account carries {id}"))),
                    Err(error) => Err(failed(error, account, "vulnerability exposure")),
                }
            }
            Endpoint::ImageHistory => {
                let params = request.query_string_parameters();
                match history::HistoryQuestion::from_params(|name| params.first(name).map(str::to_owned))? {
                    history::HistoryQuestion::Digest(query) => {
                        let (records, next) = self
                            .store
                            .intervals(account, query.image_digest.as_str(), query.next.as_deref(), query.limit)
                            .await
                            .map_err(|error| failed(error, account, "history"))?;
                        negotiated_json(request, StatusCode::OK, &history::page(&query, records, next))
                    }
                    history::HistoryQuestion::At(query) => {
                        let ran = history::ran_at(&self.store, account, &query)
                            .await
                            .map_err(|error| failed(error, account, "history at"))??;
                        negotiated_json(request, StatusCode::OK, &ran)
                    }
                }
            }
            Endpoint::VulnerabilityHistory => {
                let id = matched.param("vulnerability_id").unwrap_or_default();
                vulnerability_id_param(id)?;
                let params = request.query_string_parameters();
                let get = |name: &str| params.first(name).map(str::to_owned);
                let page = ExposurePage::from_params(get)?;
                let window = history::window(&get)?;
                match history::exposure_windows(&self.store, account, id, &page, window).await {
                    Ok(Ok(Some(found))) => negotiated_json(request, StatusCode::OK, &found),
                    Ok(Ok(None)) => Err(ApiError::not_found(format!("no image of this account carries {id}"))),
                    Ok(Err(refused)) => Err(refused),
                    Err(error) => Err(failed(error, account, "vulnerability history")),
                }
            }
            Endpoint::ClusterExposure => {
                let params = request.query_string_parameters();
                let min = min_severity_param(params.first("min_severity").unwrap_or("high"))?;
                let clusters =
                    self.exposure.clusters(account, min).await.map_err(|error| failed(error, account, "exposure"))?;
                let answer = serde_json::json!({ "min_severity": min, "clusters": clusters });
                negotiated_json(request, StatusCode::OK, &answer)
            }
            Endpoint::ListIntegrations => match self.integrations.list(account).await {
                Ok(integrations) => negotiated_json(request, StatusCode::OK, &integrations),
                Err(error) => Err(failed(error, account, "integrations")),
            },
            Endpoint::GetIntegration => {
                let uuid = matched.param("integration_uuid").unwrap_or_default();
                check_id("integration_uuid", uuid)?;
                match self.integrations.describe(account, uuid).await {
                    Ok(Some(integration)) => Ok(json_response(StatusCode::OK, &integration)),
                    Ok(None) => Err(ApiError::not_found(format!("no integration {uuid} in this account"))),
                    Err(error) => Err(failed(error, account, "integration")),
                }
            }
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
    /// `GET /v2/inventories`, or with `bare` the v1 route's bare array of the same items.
    async fn list(&self, request: &Request, account: &str, bare: bool) -> Result<Response<Body>, ApiError> {
        let params = request.query_string_parameters();
        let query = InventoryQuery::from_params(|name| params.first(name).map(str::to_owned))?;
        let list = self.reader.list(account, &query).await.map_err(|error| failed(error, account, "inventory"))?;
        if query.unpaged && list.next.is_some() {
            return Err(ApiError {
                detail: serde_json::json!({ "field": "limit", "max_unpaged_items": query.limit }),
                ..ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "response_too_large",
                    format!(
                        "the inventory has more than {} items, more than one answer carries; page with `limit` and `next`",
                        query.limit
                    ),
                )
            });
        }
        if bare {
            return negotiated_json(request, StatusCode::OK, &list.items);
        }
        negotiated_json(request, StatusCode::OK, &list)
    }

    async fn list_details(
        &self,
        request: &Request,
        account: &str,
        listing: Listing,
    ) -> Result<Response<Body>, ApiError> {
        let params = request.query_string_parameters();
        let page = Page::from_params(|name| params.first(name).map(str::to_owned))?;
        let body =
            self.details.list(account, listing, page).await.map_err(|error| failed(error, account, "details"))?;
        negotiated_json(request, StatusCode::OK, &body)
    }
}

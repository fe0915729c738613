//! Query function: `GET /v2/inventories`, `GET /v2/clusters`, the detail routes, the
//! integrations listing, and the API roots `GET /v1` and `GET /v2`.

pub mod console;
pub mod details;
pub mod exposure;
pub mod packages;
pub mod ranked;
pub mod running;

use details::{check_id, DetailReader, Listing, Page};
use exposure::{Exposure, ExposurePage};
use inventory_runtime::ConfigError;
use inventory_runtime::Sdk;
use inventory_store::auth::Caller;
use inventory_store::coverage::{attach_agents, list_clusters};
use inventory_store::http::{json_response, negotiated_json, not_found, query_params, ApiError, ApiFunction};
use inventory_store::integrations::IntegrationRegistry;
use inventory_store::listing::{min_severity_param, vulnerability_id_param};
use inventory_store::packages::Packages;
use inventory_store::routes::{Endpoint, Matched};
use inventory_store::store::StoreError;
use inventory_store::threat::{SlaPolicy, ThreatReader};
use inventory_store::vex::{Lens, RulesReader};
use inventory_store::vulnerabilities::Vulnerabilities;
use inventory_store::worklist::{boolean, by_image, page, repositories, rows, WorklistQuery};
use inventory_store::{Clock, InventoryQuery, InventoryReader, Settings, Store};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub sla: SlaPolicy,
    pub console: console::ConsoleSettings,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::from_lookup(&lookup)?,
            sla: inventory_store::settings::sla_policy(&lookup)?,
            console: console::ConsoleSettings::from_lookup(&lookup)?,
        })
    }
}

pub struct QueryApp {
    reader: InventoryReader,
    details: DetailReader,
    integrations: IntegrationRegistry,
    vulnerabilities: Vulnerabilities,
    exposure: Exposure,
    packages: Packages,
    threat: ThreatReader,
    rules: RulesReader,
    sla: SlaPolicy,
    store: Store,
    settings: Settings,
    console: console::ConsoleSettings,
    /// Reads the console's client id when the template gives it as `ssm:<name>`.
    ssm: aws_sdk_ssm::Client,
    clock: Arc<dyn Clock>,
}

impl QueryApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        let ssm = inventory_runtime::client!(sdk, aws_sdk_ssm);
        Self::new(store, config.settings, config.sla, config.console, ssm, clock)
    }

    fn new(
        store: Store,
        settings: Settings,
        sla: SlaPolicy,
        console: console::ConsoleSettings,
        ssm: aws_sdk_ssm::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            details: DetailReader::new(store.clone(), settings.clone(), Arc::clone(&clock)),
            integrations: IntegrationRegistry::new(store.clone(), Arc::clone(&clock)),
            vulnerabilities: Vulnerabilities::new(store.clone(), Arc::clone(&clock)),
            exposure: Exposure::new(
                store.clone(),
                InventoryReader::new(store.clone(), settings.clone(), Arc::clone(&clock)),
            ),
            reader: InventoryReader::new(store.clone(), settings.clone(), Arc::clone(&clock)),
            packages: Packages::new(store.clone(), Arc::clone(&clock)),
            threat: ThreatReader::new(store.clone()),
            rules: RulesReader::new(store.clone()),
            sla,
            store,
            settings,
            console,
            ssm,
            clock,
        }
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

impl ApiFunction for QueryApp {
    const FUNCTION: &'static str = "query";

    async fn public(&self, request: &Request, matched: &Matched<'_>) -> Response<Body> {
        match matched.route.endpoint {
            Endpoint::ConsoleSignIn => console::sso_page(&self.console, &self.ssm).await,
            Endpoint::ConsoleAsset => {
                console::asset(matched.param("asset").unwrap_or_default()).unwrap_or_else(ApiError::into_response)
            }
            _ => not_found(request).into_response(),
        }
    }

    /// A browser without credentials asking for the console goes to the SSO sign-in when the
    /// console signs in with SSO only; else it gets the basic-auth challenge.
    fn refused(&self, _request: &Request, matched: &Matched<'_>, refused: ApiError) -> Response<Body> {
        let unauthenticated = refused.status == StatusCode::UNAUTHORIZED;
        if matched.route.endpoint == Endpoint::Console && unauthenticated && !self.console.basic_auth {
            return console::to_sign_in();
        }
        refused.into_response()
    }

    /// One line a route: each answers in its own method.
    async fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        let path = |name: &str| matched.param(name).unwrap_or_default();
        let endpoint = matched.route.endpoint;
        if let Some((listing, id_parameter)) = detail_route(endpoint) {
            return match id_parameter {
                None => self.list_details(request, account, listing).await,
                Some(parameter) => self.detail(account, listing, parameter, path(parameter)).await,
            };
        }
        match endpoint {
            Endpoint::ListInventories => self.list(request, account, false).await,
            Endpoint::ListInventoriesV1 => self.list(request, account, true).await,
            Endpoint::Console if !self.console.basic_auth => Ok(console::to_sign_in()),
            Endpoint::Console => Ok(console::page(caller)),
            Endpoint::ListClusters => self.clusters(request, account).await,
            Endpoint::ImageVulnerabilities => self.image_vulnerabilities(request, account, path("image_digest")).await,
            Endpoint::Worklist => self.worklist(request, account).await,
            Endpoint::VulnerabilityExposure => self.exposure(request, account, path("vulnerability_id")).await,
            Endpoint::ImageHistory => self.image_history(request, account).await,
            Endpoint::VulnerabilityHistory => {
                self.vulnerability_history(request, account, path("vulnerability_id")).await
            }
            Endpoint::ClusterExposure => self.cluster_exposure(request, account).await,
            Endpoint::ImageSbom => self.image_sbom(request, account, path("image_digest")).await,
            Endpoint::ImageSbomDocument => self.image_sbom_document(request, account, path("image_digest")).await,
            // Boxed: the route's future holds the state of its largest arm, and a debug build's
            // stack holds that whole.
            Endpoint::PackageSearch => {
                let search = packages::PackageSearch::from_params(query_params(request))?;
                let page = Box::pin(packages::search(&self.packages, &self.store, account, &search)).await?;
                negotiated_json(request, StatusCode::OK, &page)
            }
            Endpoint::ImagesByPackage => {
                let found =
                    Box::pin(packages::images_by_package(&self.packages, account, query_params(request))).await?;
                negotiated_json(request, StatusCode::OK, &found)
            }
            Endpoint::ListIntegrations => self.integrations(request, account).await,
            Endpoint::GetIntegration => self.integration(account, path("integration_uuid")).await,
            Endpoint::ApiRoot => Ok(api_root(matched, caller)),
            _ => Err(not_found(request)),
        }
    }
}

/// What Anchore's CLI GETs at its base URL before every command: it stops on anything but 200.
/// It also says who the caller is (the console signed in with SSO learns it here).
fn api_root(matched: &Matched<'_>, caller: &Caller) -> Response<Body> {
    let api = matched.route.path.trim_start_matches('/');
    let answer = serde_json::json!({"service": "runtime-inventory", "api": api, "user": caller.user,
        "account": caller.account, "role": caller.role.as_str()});
    json_response(StatusCode::OK, &answer)
}

impl QueryApp {
    async fn detail(
        &self,
        account: &str,
        listing: Listing,
        parameter: &'static str,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        check_id(parameter, id)?;
        match self.details.get(account, listing, id).await.map_err(|error| error.answer("the detail"))? {
            Some(found) => Ok(json_response(StatusCode::OK, &found)),
            None => Err(ApiError::not_found(format!("no {parameter} {id:?} in this account"))),
        }
    }

    async fn clusters(&self, request: &Request, account: &str) -> Result<Response<Body>, ApiError> {
        let (now, ttl, stale_after) = (self.clock.now(), self.settings.ttl_delta(), self.settings.stale_after());
        let (mut clusters, agents) = futures::try_join!(
            list_clusters(&self.store, account, now, ttl, stale_after),
            self.integrations.list(account)
        )
        .map_err(|error| error.answer("the clusters"))?;
        attach_agents(&mut clusters, &agents);
        negotiated_json(request, StatusCode::OK, &serde_json::json!({ "clusters": clusters }))
    }

    async fn image_vulnerabilities(
        &self,
        request: &Request,
        account: &str,
        digest: &str,
    ) -> Result<Response<Body>, ApiError> {
        let Some(image) = self.vulnerabilities.image(account, digest).await? else {
            return Err(ApiError::not_found(format!("no findings of image {digest} in this account")));
        };
        let include_suppressed = boolean(&query_params(request), "include_suppressed")?.unwrap_or(false);
        let (threat, running, rules) = futures::try_join!(
            self.threat.current(),
            self.reader.running(account, std::slice::from_ref(&image.image_digest)),
            self.rules.rules(account)
        )
        .map_err(|error| error.answer("the image's findings"))?;
        let workloads = running.iter().map(|item| item.workloads.len()).sum();
        let digest = image.image_digest.as_str();
        let repositories =
            inventory_store::vex::repositories(running.iter().map(|item| (digest, item.image_tag.as_str())));
        let lens = Lens { rules: &rules, repositories: &repositories, now: self.clock.now() };
        let ranked = ranked::rank_image(&image, &threat, workloads, &lens, include_suppressed);
        negotiated_json(request, StatusCode::OK, &ranked)
    }

    async fn exposure(&self, request: &Request, account: &str, id: &str) -> Result<Response<Body>, ApiError> {
        vulnerability_id_param(id)?;
        let page = ExposurePage::from_params(query_params(request))?;
        let (rules, threat) = futures::try_join!(self.rules.rules(account), self.threat.current())
            .map_err(|error| error.answer("the exposure"))?;
        let found = self
            .exposure
            .vulnerability(account, id, &page, &rules, self.clock.now())
            .await
            .map_err(|error| error.answer("the exposure"))?;
        match found {
            Some(found) => negotiated_json(request, StatusCode::OK, &ranked::rank_exposure(&found, &threat)),
            None => Err(ApiError::not_found(format!("no image of this account carries {id}"))),
        }
    }

    /// The worklist: every vulnerability running in the account now, ranked. Its reads are the
    /// account's exposure pairs and running places (16 shards each) and the threat data's records.
    async fn worklist(&self, request: &Request, account: &str) -> Result<Response<Body>, ApiError> {
        let query = WorklistQuery::from_params(query_params(request))?;
        let (pairs, places, threat, rules) = futures::try_join!(
            self.store.exposure_pairs(account),
            self.store.running_places(account),
            self.threat.current(),
            self.rules.rules(account)
        )
        .map_err(|error| error.answer("the worklist"))?;
        let repositories = repositories(&places);
        let lens = Lens { rules: &rules, repositories: &repositories, now: self.clock.now() };
        let rows = rows(&pairs, &by_image(places), &query.places, &threat, &self.sla, &lens);
        negotiated_json(request, StatusCode::OK, &page(rows, &query))
    }

    async fn image_history(&self, request: &Request, account: &str) -> Result<Response<Body>, ApiError> {
        let read = |error: StoreError| error.answer("the history");
        match running::HistoryQuestion::from_params(query_params(request))? {
            running::HistoryQuestion::Digest(query) => {
                let digest = query.image_digest.as_str();
                let (records, next) =
                    self.store.intervals(account, digest, query.next.as_deref(), query.limit).await.map_err(read)?;
                negotiated_json(request, StatusCode::OK, &running::page(&query, records, next))
            }
            running::HistoryQuestion::At(query) => {
                let ran = running::ran_at(&self.store, account, &query).await.map_err(read)??;
                negotiated_json(request, StatusCode::OK, &ran)
            }
        }
    }

    async fn vulnerability_history(
        &self,
        request: &Request,
        account: &str,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        vulnerability_id_param(id)?;
        let get = query_params(request);
        let (page, window) = (ExposurePage::from_params(&get)?, running::window(&get)?);
        let windows = running::exposure_windows(&self.store, account, id, &page, window)
            .await
            .map_err(|error| error.answer("the vulnerability's history"))??;
        match windows {
            Some(found) => negotiated_json(request, StatusCode::OK, &found),
            None => Err(ApiError::not_found(format!("no image of this account carries {id}"))),
        }
    }

    async fn cluster_exposure(&self, request: &Request, account: &str) -> Result<Response<Body>, ApiError> {
        let min = min_severity_param(query_params(request)("min_severity").as_deref().unwrap_or("high"))?;
        let clusters = self.exposure.clusters(account, min).await.map_err(|error| error.answer("the exposure"))?;
        negotiated_json(request, StatusCode::OK, &serde_json::json!({ "min_severity": min, "clusters": clusters }))
    }

    /// One page of an image's packages (`limit`, `next`).
    async fn image_sbom(&self, request: &Request, account: &str, digest: &str) -> Result<Response<Body>, ApiError> {
        let get = query_params(request);
        let limit = inventory_store::field::whole_number(&get, "limit", packages::MAX_SBOM_PAGE)?
            .unwrap_or(packages::DEFAULT_SBOM_PAGE);
        let next = get("next").filter(|raw| !raw.is_empty());
        match self.packages.image(account, digest, limit, next.as_deref()).await? {
            Some(sbom) => negotiated_json(request, StatusCode::OK, &sbom),
            None => Err(ApiError::not_found(format!("no SBOM of image {digest} in this account"))),
        }
    }

    /// The SBOM as it was posted.
    async fn image_sbom_document(
        &self,
        request: &Request,
        account: &str,
        digest: &str,
    ) -> Result<Response<Body>, ApiError> {
        match self.packages.document(account, digest).await? {
            Some(document) => {
                let document: Box<serde_json::value::RawValue> = serde_json::from_slice(&document).map_err(|_| {
                    inventory_store::store::StoreError::Corrupt {
                        key: digest.to_owned(),
                        message: "the stored SBOM is not JSON".into(),
                    }
                    .answer("the SBOM")
                })?;
                negotiated_json(request, StatusCode::OK, &document)
            }
            None => Err(ApiError::not_found(format!("no SBOM of image {digest} in this account"))),
        }
    }

    async fn integrations(&self, request: &Request, account: &str) -> Result<Response<Body>, ApiError> {
        let integrations = self.integrations.list(account).await.map_err(|error| error.answer("the integrations"))?;
        negotiated_json(request, StatusCode::OK, &integrations)
    }

    async fn integration(&self, account: &str, uuid: &str) -> Result<Response<Body>, ApiError> {
        check_id("integration_uuid", uuid)?;
        match self.integrations.describe(account, uuid).await.map_err(|error| error.answer("the integration"))? {
            Some(integration) => Ok(json_response(StatusCode::OK, &integration)),
            None => Err(ApiError::not_found(format!("no integration {uuid} in this account"))),
        }
    }
}

impl QueryApp {
    /// `GET /v2/inventories`, or with `bare` the v1 route's bare array of the same items.
    async fn list(&self, request: &Request, account: &str, bare: bool) -> Result<Response<Body>, ApiError> {
        let query = InventoryQuery::from_params(query_params(request))?;
        let list = self.reader.list(account, &query).await.map_err(|error| error.answer("the inventory"))?;
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
        let page = Page::from_params(query_params(request))?;
        let body = self.details.list(account, listing, page).await.map_err(|error| error.answer("the details"))?;
        negotiated_json(request, StatusCode::OK, &body)
    }
}

//! Ingest function: the agents' report routes, and what scanners post about images (findings,
//! SBOMs).

use chrono::{DateTime, Utc};
use inventory_runtime::Sdk;
use inventory_store::auth::Caller;
use inventory_store::http::{body_bytes, decoded_body, json_response, not_found, ApiError, ApiFunction};
use inventory_store::ingest::ContextStatus;
use inventory_store::integrations::{IntegrationRegistry, Registered};
use inventory_store::limits::{MAX_FINDINGS_BODY_BYTES, MAX_SBOM_BODY_BYTES};
use inventory_store::packages::Packages;
use inventory_store::report::{parse_ecs, parse_kai, parse_kubernetes, FieldError, ParsedReport};
use inventory_store::routes::{Endpoint, Matched};
use inventory_store::vulnerabilities::Vulnerabilities;
use inventory_store::{Clock, Ingestor, Settings, Store};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

/// Every variable the function reads: the store's settings.
pub type Config = Settings;

pub struct IngestApp {
    ingestor: Ingestor,
    integrations: IntegrationRegistry,
    vulnerabilities: Vulnerabilities,
    packages: Packages,
    clock: Arc<dyn Clock>,
}

impl IngestApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.table_name);
        Self::new(store, config, clock)
    }

    fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self {
            integrations: IntegrationRegistry::new(store.clone(), Arc::clone(&clock)),
            vulnerabilities: Vulnerabilities::new(store.clone(), Arc::clone(&clock)),
            packages: Packages::new(store.clone(), Arc::clone(&clock)),
            ingestor: Ingestor::new(store, settings, Arc::clone(&clock)),
            clock,
        }
    }
}

impl ApiFunction for IngestApp {
    const FUNCTION: &'static str = "ingest";

    async fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> Result<Response<Body>, ApiError> {
        let parser: fn(&[u8], DateTime<Utc>) -> Result<ParsedReport, FieldError> = match matched.route.endpoint {
            Endpoint::KubernetesReport => parse_kubernetes,
            Endpoint::EcsReport => parse_ecs,
            Endpoint::KaiReport => parse_kai,
            Endpoint::RegisterIntegration => return self.register(request, caller).await,
            Endpoint::IntegrationHealthReport => {
                let uuid = matched.param("integration_uuid").unwrap_or_default();
                return self.report_health(request, caller, uuid).await;
            }
            Endpoint::PostImageVulnerabilities => {
                let digest = matched.param("image_digest").unwrap_or_default();
                return self.post_findings(request, caller, digest).await;
            }
            Endpoint::PostImageSbom => {
                let digest = matched.param("image_digest").unwrap_or_default();
                return self.post_sbom(request, caller, digest).await;
            }
            _ => return Err(not_found(request)),
        };
        // kai counts only exactly 200 as success; the v2 agents expect 201.
        let stored = if matched.route.endpoint == Endpoint::KaiReport { StatusCode::OK } else { StatusCode::CREATED };
        let account = caller.account.as_str();
        let report = parser(body_bytes(request.body()), self.clock.now())?;
        if let Some(reason) = self.ingestor.past_retention(report.timestamp) {
            return Err(ApiError::bad_request("timestamp", reason));
        }
        if !report.notes.is_empty() {
            tracing::warn!(
                account,
                skipped = report.notes.skipped_count,
                adjusted = report.notes.adjusted_count,
                first_skipped = ?report.notes.skipped.first(),
                "report items skipped or adjusted"
            );
        }
        let summary = self.ingestor.ingest(account, report).await;
        tracing::info!(
            account,
            inventory_type = %summary.inventory_type,
            contexts = summary.contexts.len(),
            images_added = summary.images_added,
            images_removed = summary.images_removed,
            write_requests = summary.write_requests,
            "report processed"
        );
        // Contexts that failed or were busy are untouched or unlocked: the agent's next
        // report (or a retry) repairs them, so the answer says to retry.
        let (status, error_type, message) = if summary.any(ContextStatus::Failed) {
            (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "some contexts could not be stored; retry")
        } else if summary.any(ContextStatus::Busy) {
            (StatusCode::CONFLICT, "conflict", "another report for some contexts is being stored; retry later")
        } else {
            return Ok(json_response(stored, &summary));
        };
        let detail = serde_json::to_value(&summary).unwrap_or_default();
        Err(ApiError { detail, ..ApiError::new(status, error_type, message) })
    }
}

impl IngestApp {
    /// An agent registers: 201 with its `Integration` when new, 200 when registered already.
    async fn register(&self, request: &Request, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        match self.integrations.register(account, &caller.user, body_bytes(request.body())).await {
            Ok((registered, integration)) => {
                tracing::info!(account, uuid = %integration["uuid"], ?registered, "integration registered");
                let status = if registered == Registered::Created { StatusCode::CREATED } else { StatusCode::OK };
                Ok(json_response(status, &integration))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// An agent's periodic health report: 201 with no body, as Anchore answers.
    async fn report_health(&self, request: &Request, caller: &Caller, uuid: &str) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        match self.integrations.report_health(account, uuid, body_bytes(request.body())).await {
            Ok(()) => Ok(Response::builder()
                .status(StatusCode::CREATED)
                .body(Body::Empty)
                .expect("static response parts are valid")),
            Err(error) => Err(error.into()),
        }
    }
}

impl IngestApp {
    /// A scanner's findings of an image: 201 with what was stored.
    async fn post_findings(
        &self,
        request: &Request,
        caller: &Caller,
        digest: &str,
    ) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        let body = decoded_body(request, MAX_FINDINGS_BODY_BYTES)?;
        match self.vulnerabilities.post(account, digest, &body).await {
            Ok(posted) => {
                tracing::info!(account, image = %posted.image_digest, scanner = %posted.scanner, findings = posted.findings, "findings stored");
                Ok(json_response(StatusCode::CREATED, &posted))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// An image's SBOM: 201 with what was stored.
    async fn post_sbom(&self, request: &Request, caller: &Caller, digest: &str) -> Result<Response<Body>, ApiError> {
        let account = caller.account.as_str();
        let body = decoded_body(request, MAX_SBOM_BODY_BYTES)?;
        let posted = self.packages.post(account, digest, &body, &caller.user).await?;
        tracing::info!(account, image = %posted.image_digest, packages = posted.packages, index_writes = posted.index_writes, "SBOM stored");
        Ok(json_response(StatusCode::CREATED, &posted))
    }
}

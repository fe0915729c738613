//! Ingest function: the agents' report routes.

use chrono::{DateTime, Utc};
use inventory::auth::Caller;
use inventory::findings::FindingsError;
use inventory::http::{body_bytes, decoded_body, json_response, not_found, ApiError, ApiFunction};
use inventory::ingest::ContextStatus;
use inventory::integrations::{IntegrationError, IntegrationRegistry, Registered};
use inventory::limits::MAX_FINDINGS_BODY_BYTES;
use inventory::report::{parse_ecs, parse_kai, parse_kubernetes, ParsedReport, Rejection, ReportError};
use inventory::routes::{Endpoint, Matched};
use inventory::store::StoreError;
use inventory::vulnerabilities::{Vulnerabilities, VulnerabilityError};
use inventory::{Clock, Ingestor, Settings, Store, SystemClock};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use std::sync::Arc;

pub struct IngestApp {
    ingestor: Ingestor,
    integrations: IntegrationRegistry,
    vulnerabilities: Vulnerabilities,
    clock: Arc<dyn Clock>,
}

impl IngestApp {
    pub fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self {
            integrations: IntegrationRegistry::new(store.clone(), Arc::clone(&clock)),
            vulnerabilities: Vulnerabilities::new(store.clone(), Arc::clone(&clock)),
            ingestor: Ingestor::new(store, settings, Arc::clone(&clock)),
            clock,
        }
    }

    /// Builds the app from the environment the template sets.
    pub async fn from_env() -> Result<Self, Error> {
        let (store, settings) = inventory::store_from_env().await?;
        Ok(Self::new(store, settings, Arc::new(SystemClock)))
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
        let parser: fn(&[u8], DateTime<Utc>) -> Result<ParsedReport, ReportError> = match matched.route.endpoint {
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
            _ => return Err(not_found(request)),
        };
        // kai counts only exactly 200 as success; the v2 agents expect 201.
        let stored = if matched.route.endpoint == Endpoint::KaiReport { StatusCode::OK } else { StatusCode::CREATED };
        let account = caller.account.as_str();
        let report = parser(body_bytes(request.body()), self.clock.now()).map_err(rejected)?;
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
            Err(error) => Err(integration_error(error, account)),
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
            Err(error) => Err(integration_error(error, account)),
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
            Err(error) => Err(vulnerability_error(error, account)),
        }
    }
}

fn vulnerability_error(error: VulnerabilityError, account: &str) -> ApiError {
    match error {
        VulnerabilityError::Input(FindingsError::TooLarge(_)) => ApiError::payload_too_large("body", error.to_string()),
        VulnerabilityError::Input(input) => ApiError::bad_request(input.field(), input.reason()),
        VulnerabilityError::Digest(message) => ApiError::bad_request("image_digest", message),
        VulnerabilityError::Busy => ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string()),
        VulnerabilityError::TooManyScanners(_) => ApiError::bad_request("scanner", error.to_string()),
        // DynamoDB refused the request itself (an item past 400 KB): the same post fails again.
        VulnerabilityError::Store(StoreError::Refused { .. }) => {
            tracing::warn!(account, %error, "findings refused by the store");
            ApiError::bad_request("body", "the findings cannot be stored: DynamoDB refused them as too large")
        }
        VulnerabilityError::Store(_) | VulnerabilityError::Lease(_) => {
            tracing::error!(account, %error, "storing findings failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "the findings could not be stored; retry",
            )
        }
    }
}

fn integration_error(error: IntegrationError, account: &str) -> ApiError {
    match error {
        IntegrationError::Input(input) if input.too_large => {
            ApiError::payload_too_large(&input.field, input.to_string())
        }
        IntegrationError::Input(input) => ApiError::bad_request(&input.field, &input.message),
        IntegrationError::NotFound(_) => ApiError::not_found(error.to_string()),
        IntegrationError::Store(store) => {
            tracing::error!(account, error = %store, "storing an integration failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "the integration could not be stored; retry",
            )
        }
    }
}

fn rejected(error: ReportError) -> ApiError {
    match error.rejection {
        Rejection::Invalid => ApiError::bad_request(&error.field, &error.message),
        Rejection::TooLarge => ApiError::payload_too_large(&error.field, error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_the_store_refuses_answers_4xx_and_a_failing_store_503() {
        let refused = StoreError::Refused { operation: "BatchWriteItem", message: "Item size has exceeded".into() };
        let answer = vulnerability_error(VulnerabilityError::Store(refused), "admin");
        assert_eq!((answer.status, answer.detail["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")));
        let failed = StoreError::Sdk { operation: "BatchWriteItem", message: "throttled".into() };
        assert_eq!(
            vulnerability_error(VulnerabilityError::Store(failed), "admin").status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}

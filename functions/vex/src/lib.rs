//! VEX function: Anchore's vulnerability annotation routes on one image
//! (`/v2/images/{image_digest}/vuln-annotations`, its OpenVEX and CycloneDX exports), VEX
//! documents about any scope (`/v2/vex`), approval and the audit trail.

use inventory_runtime::{ConfigError, Sdk};
use inventory_store::auth::Caller;
use inventory_store::http::{body_bytes, json_response, not_found, query_params, ApiError, ApiFunction};
use inventory_store::image::Digest;
use inventory_store::limits::{DEFAULT_LIMIT, MAX_LIMIT, MAX_LISTED_ITEM_NOTES};
use inventory_store::routes::{Endpoint, Matched};
use inventory_store::vex::{self, Annotation, AnnotationState, Annotations, Expiry, PackageIdentifier, VexError};
use inventory_store::{Clock, Settings, Store};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use std::sync::Arc;

/// Every variable the function reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub requires_approval: bool,
}

impl Config {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::from_lookup(&lookup)?,
            requires_approval: inventory_store::settings::vex_requires_approval(&lookup)?,
        })
    }
}

pub struct VexApp {
    annotations: Annotations,
    clock: Arc<dyn Clock>,
}

impl VexApp {
    /// The function as `main`, the local stack and the test harness run it.
    pub fn build(sdk: &Sdk, config: Config, clock: Arc<dyn Clock>) -> Self {
        let store = Store::build(sdk, &config.settings.table_name);
        Self { annotations: Annotations::new(store, Arc::clone(&clock), config.requires_approval), clock }
    }
}

impl ApiFunction for VexApp {
    const FUNCTION: &'static str = "vex";

    /// One line a route.
    async fn route(
        &self,
        request: &Request,
        caller: &Caller,
        matched: &Matched<'_>,
    ) -> Result<Response<Body>, ApiError> {
        let uuid = matched.param("vuln_annotation_uuid").unwrap_or_default();
        let image = || image_digest(matched);
        match matched.route.endpoint {
            Endpoint::ListImageAnnotations => self.list_image(request, caller, &image()?).await,
            Endpoint::CreateImageAnnotation => self.create_image(request, caller, &image()?).await,
            Endpoint::GetImageAnnotation => self.get(caller, uuid, Some(&image()?)).await,
            Endpoint::UpdateImageAnnotation => self.update_image(request, caller, uuid, &image()?).await,
            Endpoint::DeleteImageAnnotation => self.delete(caller, uuid, Some(&image()?)).await,
            Endpoint::ImageOpenVex => self.export(caller, &image()?, Export::OpenVex).await,
            Endpoint::ImageCycloneDxVex => self.export(caller, &image()?, Export::CycloneDx).await,
            Endpoint::PostVex => self.post_document(request, caller).await,
            Endpoint::ListVex => self.list(request, caller).await,
            Endpoint::GetVex => self.get(caller, uuid, None).await,
            Endpoint::DeleteVex => self.delete(caller, uuid, None).await,
            Endpoint::ApproveVex => {
                let approved = self.annotations.approve(caller, uuid).await?;
                Ok(json_response(StatusCode::OK, &approved.to_anchore()))
            }
            Endpoint::VexAudit => {
                let entries = self.annotations.audit(&caller.account, uuid).await?;
                Ok(json_response(StatusCode::OK, &serde_json::json!({ "items": entries })))
            }
            _ => Err(not_found(request)),
        }
    }
}

fn image_digest(matched: &Matched<'_>) -> Result<Digest, ApiError> {
    Digest::parse(matched.param("image_digest").unwrap_or_default())
        .map_err(|error| ApiError::bad_request("image_digest", error))
}

/// A page of annotations in uuid order (`limit`, and `next`: the last uuid of the page before), so
/// an account's 50,000 stay within a Lambda response; `next` is answered while more follow.
fn items(request: &Request, mut annotations: Vec<Annotation>) -> Result<Response<Body>, ApiError> {
    let param = query_params(request);
    let limit = inventory_store::field::whole_number(&param, "limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    annotations.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    if let Some(after) = param("next").filter(|raw| !raw.is_empty()) {
        annotations.retain(|annotation| annotation.uuid > after);
    }
    let next = (annotations.len() > limit).then(|| annotations[limit - 1].uuid.clone());
    annotations.truncate(limit);
    let items: Vec<serde_json::Value> = annotations.iter().map(Annotation::to_anchore).collect();
    let mut answer = serde_json::json!({ "items": items });
    if let Some(next) = next {
        answer["next"] = next.into();
    }
    Ok(json_response(StatusCode::OK, &answer))
}

fn vex_error(error: VexError) -> ApiError {
    error.into_field_error().into()
}

enum Export {
    OpenVex,
    CycloneDx,
}

impl VexApp {
    /// Anchore's GET filters: `vulnerability_id`, `package_name`, `package_version`, `package_type`.
    async fn list_image(
        &self,
        request: &Request,
        caller: &Caller,
        digest: &Digest,
    ) -> Result<Response<Body>, ApiError> {
        let param = query_params(request);
        let mut found = self.annotations.list_image(&caller.account, digest.as_str()).await?;
        let package = |annotation: &Annotation| annotation.statement.package.clone();
        let field = |package: Option<PackageIdentifier>, pick: fn(&PackageIdentifier) -> Option<String>| {
            package.as_ref().and_then(pick)
        };
        found.retain(|annotation| {
            let wanted = [
                ("vulnerability_id", Some(annotation.statement.vulnerability_id.clone())),
                ("package_name", field(package(annotation), |package| Some(package.name.clone()))),
                ("package_version", field(package(annotation), |package| package.version.clone())),
                ("package_type", field(package(annotation), |package| package.package_type.clone())),
            ];
            wanted
                .into_iter()
                .all(|(name, value)| param(name).is_none_or(|wanted| value.as_deref() == Some(wanted.as_str())))
        });
        items(request, found)
    }

    async fn create_image(
        &self,
        request: &Request,
        caller: &Caller,
        digest: &Digest,
    ) -> Result<Response<Body>, ApiError> {
        let statement =
            vex::parse_anchore(body_bytes(request.body()), Some(digest), self.clock.now()).map_err(vex_error)?;
        let created = self.annotations.create(caller, vec![statement]).await?;
        let created = created.first().map(Annotation::to_anchore).unwrap_or_default();
        Ok(json_response(StatusCode::CREATED, &created))
    }

    async fn update_image(
        &self,
        request: &Request,
        caller: &Caller,
        uuid: &str,
        digest: &Digest,
    ) -> Result<Response<Body>, ApiError> {
        let statement =
            vex::parse_anchore(body_bytes(request.body()), Some(digest), self.clock.now()).map_err(vex_error)?;
        let updated = self.annotations.update(caller, uuid, statement, Some(digest.as_str())).await?;
        Ok(json_response(StatusCode::OK, &updated.to_anchore()))
    }

    async fn get(&self, caller: &Caller, uuid: &str, image: Option<&Digest>) -> Result<Response<Body>, ApiError> {
        let found = self.annotations.get_of(&caller.account, uuid, image.map(Digest::as_str)).await?;
        Ok(json_response(StatusCode::OK, &found.to_anchore()))
    }

    async fn delete(&self, caller: &Caller, uuid: &str, image: Option<&Digest>) -> Result<Response<Body>, ApiError> {
        self.annotations.delete(caller, uuid, image.map(Digest::as_str)).await?;
        Ok(Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Body::Empty)
            .expect("static response parts are valid"))
    }

    /// `state` (`active`, `pending` or `lapsed`) keeps the annotations in that state: an
    /// approver's queue is `state=pending`.
    async fn list(&self, request: &Request, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let state = query_params(request)("state")
            .filter(|raw| !raw.is_empty())
            .map(|raw| {
                serde_json::from_value::<AnnotationState>(serde_json::Value::String(raw.clone()))
                    .map_err(|_| ApiError::bad_request("state", format!("{raw:?}: active, pending or lapsed")))
            })
            .transpose()?;
        let mut annotations = self.annotations.list(&caller.account).await?;
        annotations.retain(|annotation| state.is_none_or(|state| annotation.state == state));
        items(request, annotations)
    }

    /// `POST /v2/vex`: an OpenVEX or CycloneDX document, or one annotation with a scope. The
    /// answer lists what was stored and each part of the document that was not, with why.
    async fn post_document(&self, request: &Request, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let param = query_params(request);
        let expires_when_fixed = match param("expires_when_fixed").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ApiError::bad_request("expires_when_fixed", format!("{other:?}: true or false")))
            }
        };
        let expiry = Expiry { expires_at: param("expires_at"), expires_when_fixed };
        let parsed = vex::parse_document(body_bytes(request.body()), expiry, self.clock.now()).map_err(vex_error)?;
        let created = self.annotations.create(caller, parsed.statements).await?;
        // A document of 10,000 statements would answer past a Lambda response: the first
        // `DEFAULT_LIMIT` annotations and `MAX_LISTED_ITEM_NOTES` skipped parts, and the counts.
        let items: Vec<serde_json::Value> = created.iter().take(DEFAULT_LIMIT).map(Annotation::to_anchore).collect();
        let answer = serde_json::json!({
            "format": parsed.format,
            "created": created.len(),
            "items": items,
            "skipped_count": parsed.skipped.len(),
            "skipped": &parsed.skipped[..parsed.skipped.len().min(MAX_LISTED_ITEM_NOTES)],
        });
        Ok(json_response(StatusCode::CREATED, &answer))
    }

    /// The image's live annotations as one document.
    async fn export(&self, caller: &Caller, digest: &Digest, export: Export) -> Result<Response<Body>, ApiError> {
        let now = self.clock.now();
        let mut annotations = self.annotations.list_image(&caller.account, digest.as_str()).await?;
        annotations.retain(|annotation| annotation.is_live(now));
        if annotations.is_empty() {
            return Err(ApiError::not_found(format!("no active annotation of image {}", digest.as_str())));
        }
        annotations.sort_by(|a, b| (a.created_at, &a.uuid).cmp(&(b.created_at, &b.uuid)));
        let id = format!("urn:uuid:{}", document_uuid(&caller.account, digest.as_str(), &annotations));
        let image = (digest.as_str(), None);
        let document = match export {
            Export::OpenVex => {
                let author = format!("Runtime Inventory, account {}", caller.account);
                vex::openvex_export(&id, &author, image, &annotations, now)
            }
            Export::CycloneDx => vex::cyclonedx_export(&id, image, &annotations, now),
        };
        Ok(json_response(StatusCode::OK, &document))
    }
}

/// The same document id for the same annotations at the same versions.
fn document_uuid(account: &str, digest: &str, annotations: &[Annotation]) -> String {
    let mut parts = vec![account.to_owned(), digest.to_owned()];
    parts.extend(annotations.iter().map(|annotation| format!("{}@{}", annotation.uuid, annotation.version)));
    let hash = xxhash_rust::xxh3::xxh3_128(parts.join("\n").as_bytes());
    inventory_store::names::uuid(hash.to_be_bytes(), 8)
}

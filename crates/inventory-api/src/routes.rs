//! The one route table: every API route, the function (binary) that serves it, and what the
//! caller's role must allow. The functions dispatch on it, the local stack serves it, the tests
//! route by it, and the template test compares it with `infra/template.yaml` both ways.

use crate::auth::Permission;

/// What a route does; each function answers its own endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Version,
    ApiRoot,
    KubernetesReport,
    EcsReport,
    KaiReport,
    ListInventories,
    ListInventoriesV1,
    DeleteInventories,
    ListSubscriptions,
    CreateSubscription,
    GetSubscription,
    UpdateSubscription,
    DeleteSubscription,
    RegisterIntegration,
    IntegrationHealthReport,
    ListIntegrations,
    GetIntegration,
    ListClusters,
    ListKubernetesContainers,
    ListKubernetesNamespaces,
    GetKubernetesNamespace,
    DeleteKubernetesNamespaces,
    ListKubernetesNodes,
    GetKubernetesNode,
    ListKubernetesPods,
    GetKubernetesPod,
    ListEcsContainers,
    ListEcsServices,
    ListEcsTasks,
    Console,
    ConsoleSignIn,
    ConsoleAsset,
    ImageScheduled,
    PostImageVulnerabilities,
    ImageVulnerabilities,
    VulnerabilityExposure,
    Worklist,
    ClusterExposure,
    ImageHistory,
    VulnerabilityHistory,
    DeleteHistory,
    CreateClusterConfig,
    ListClusterConfigs,
    GetClusterConfig,
    DeleteClusterConfig,
    ListImageAnnotations,
    CreateImageAnnotation,
    GetImageAnnotation,
    UpdateImageAnnotation,
    DeleteImageAnnotation,
    ImageOpenVex,
    ImageCycloneDxVex,
    PostVex,
    ListVex,
    GetVex,
    DeleteVex,
    ApproveVex,
    VexAudit,
    PostImageSbom,
    ImageSbom,
    ImageSbomDocument,
    PackageSearch,
    ImagesByPackage,
    ListPackageWatches,
    CreatePackageWatch,
    GetPackageWatch,
    DeletePackageWatch,
    ListApiKeys,
    CreateApiKey,
    GetApiKey,
    UpdateApiKey,
    DeleteApiKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// As API Gateway writes it: `{name}` is a path parameter.
    pub path: &'static str,
    /// The binary of the function that serves it.
    pub function: &'static str,
    pub endpoint: Endpoint,
    /// What the caller's role must allow; `None` for a route served without credentials.
    pub permission: Option<Permission>,
}

impl Route {
    /// `METHOD path`, API Gateway's route key.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const fn route(
    method: &'static str,
    path: &'static str,
    function: &'static str,
    endpoint: Endpoint,
    permission: Option<Permission>,
) -> Route {
    Route { method, path, function, endpoint, permission }
}

use Endpoint::*;
use Permission::{Annotate, Approve, Authenticated, Manage, OwnKeys, PostFindings, PostReports, Read};

pub const ROUTES: &[Route] = &[
    route("GET", "/version", "version", Version, None),
    route("GET", "/v1", "query", ApiRoot, Some(Authenticated)),
    route("GET", "/v2", "query", ApiRoot, Some(Authenticated)),
    route("POST", "/v2/kubernetes-inventory", "ingest", KubernetesReport, Some(PostReports)),
    route("POST", "/v1/enterprise/kubernetes-inventory", "ingest", KubernetesReport, Some(PostReports)),
    route("POST", "/v2/ecs-inventory", "ingest", EcsReport, Some(PostReports)),
    route("POST", "/v1/enterprise/ecs-inventory", "ingest", EcsReport, Some(PostReports)),
    route("POST", "/v1/enterprise/inventories", "ingest", KaiReport, Some(PostReports)),
    route("GET", "/v2/inventories", "query", ListInventories, Some(Read)),
    // kai's documentation lists the inventory here: a bare array of items.
    route("GET", "/v1/enterprise/inventories", "query", ListInventoriesV1, Some(Read)),
    route("DELETE", "/v2/inventories", "delete", DeleteInventories, Some(Manage)),
    route("GET", "/v1/subscriptions", "subscriptions", ListSubscriptions, Some(Read)),
    route("POST", "/v1/subscriptions", "subscriptions", CreateSubscription, Some(Manage)),
    route("GET", "/v1/subscriptions/{subscription_id}", "subscriptions", GetSubscription, Some(Read)),
    route("PUT", "/v1/subscriptions/{subscription_id}", "subscriptions", UpdateSubscription, Some(Manage)),
    route("DELETE", "/v1/subscriptions/{subscription_id}", "subscriptions", DeleteSubscription, Some(Manage)),
    route("GET", "/v2/subscriptions", "subscriptions", ListSubscriptions, Some(Read)),
    route("POST", "/v2/subscriptions", "subscriptions", CreateSubscription, Some(Manage)),
    route("GET", "/v2/subscriptions/{subscription_id}", "subscriptions", GetSubscription, Some(Read)),
    route("PUT", "/v2/subscriptions/{subscription_id}", "subscriptions", UpdateSubscription, Some(Manage)),
    route("DELETE", "/v2/subscriptions/{subscription_id}", "subscriptions", DeleteSubscription, Some(Manage)),
    route("POST", "/v2/system/integrations/registration", "ingest", RegisterIntegration, Some(PostReports)),
    route(
        "POST",
        "/v2/system/integrations/{integration_uuid}/health-report",
        "ingest",
        IntegrationHealthReport,
        Some(PostReports),
    ),
    route("GET", "/v2/system/integrations", "query", ListIntegrations, Some(Read)),
    route("GET", "/v2/clusters", "query", ListClusters, Some(Read)),
    route("GET", "/v2/system/integrations/{integration_uuid}", "query", GetIntegration, Some(Read)),
    route("GET", "/v2/kubernetes-containers", "query", ListKubernetesContainers, Some(Read)),
    route("GET", "/v2/kubernetes-namespaces", "query", ListKubernetesNamespaces, Some(Read)),
    route("GET", "/v2/kubernetes-namespaces/{namespace_id}", "query", GetKubernetesNamespace, Some(Read)),
    route("DELETE", "/v2/kubernetes-namespaces", "delete", DeleteKubernetesNamespaces, Some(Manage)),
    route("GET", "/v2/kubernetes-nodes", "query", ListKubernetesNodes, Some(Read)),
    route("GET", "/v2/kubernetes-nodes/{node_id}", "query", GetKubernetesNode, Some(Read)),
    route("GET", "/v2/kubernetes-pods", "query", ListKubernetesPods, Some(Read)),
    route("GET", "/v2/kubernetes-pods/{pod_id}", "query", GetKubernetesPod, Some(Read)),
    route("GET", "/v2/ecs-containers", "query", ListEcsContainers, Some(Read)),
    route("GET", "/v2/ecs-services", "query", ListEcsServices, Some(Read)),
    route("GET", "/v2/ecs-tasks", "query", ListEcsTasks, Some(Read)),
    // The web console: its page behind the same basic auth as the JSON it reads; its single
    // sign-on page (and the provider's redirect back to it) and its static assets, which hold
    // nothing of anyone's, without credentials: a browser signing in with SSO has none yet.
    route("GET", "/ui", "query", Console, Some(Read)),
    route("GET", "/ui/sso", "query", ConsoleSignIn, None),
    route("GET", "/ui/callback", "query", ConsoleSignIn, None),
    route("GET", "/ui/{asset}", "query", ConsoleAsset, None),
    route("GET", "/v2/images/{image_digest}/scheduled", "subscriptions", ImageScheduled, Some(Read)),
    route("POST", "/v2/images/{image_digest}/vulnerabilities", "ingest", PostImageVulnerabilities, Some(PostFindings)),
    route("POST", "/v2/images/{image_digest}/sbom", "ingest", PostImageSbom, Some(PostFindings)),
    route("GET", "/v2/images/{image_digest}/sbom", "query", ImageSbom, Some(Read)),
    route("GET", "/v2/images/{image_digest}/sbom/document", "query", ImageSbomDocument, Some(Read)),
    route("GET", "/v2/packages", "query", PackageSearch, Some(Read)),
    route("GET", "/v2/query/images/by-package", "query", ImagesByPackage, Some(Read)),
    route("GET", "/v2/package-watches", "subscriptions", ListPackageWatches, Some(Read)),
    route("POST", "/v2/package-watches", "subscriptions", CreatePackageWatch, Some(Manage)),
    route("GET", "/v2/package-watches/{watch_id}", "subscriptions", GetPackageWatch, Some(Read)),
    route("DELETE", "/v2/package-watches/{watch_id}", "subscriptions", DeletePackageWatch, Some(Manage)),
    route("GET", "/v2/images/{image_digest}/vulnerabilities", "query", ImageVulnerabilities, Some(Read)),
    route("GET", "/v2/vulnerabilities", "query", Worklist, Some(Read)),
    route("GET", "/v2/vulnerabilities/{vulnerability_id}", "query", VulnerabilityExposure, Some(Read)),
    route("GET", "/v2/exposure", "query", ClusterExposure, Some(Read)),
    route("GET", "/v2/history", "query", ImageHistory, Some(Read)),
    route("GET", "/v2/vulnerabilities/{vulnerability_id}/history", "query", VulnerabilityHistory, Some(Read)),
    route("DELETE", "/v2/history", "delete", DeleteHistory, Some(Manage)),
    // The embedded mode's cluster configurations: admins only, like every configuration.
    route("POST", "/v1/enterprise/inventories/clusters", "clusters", CreateClusterConfig, Some(Manage)),
    route("GET", "/v1/enterprise/inventories/clusters", "clusters", ListClusterConfigs, Some(Manage)),
    route("GET", "/v1/enterprise/inventories/clusters/{cluster_name}", "clusters", GetClusterConfig, Some(Manage)),
    route(
        "DELETE",
        "/v1/enterprise/inventories/clusters/{cluster_name}",
        "clusters",
        DeleteClusterConfig,
        Some(Manage),
    ),
    // VEX annotations: Anchore's per-image routes and exports, and documents beyond one image.
    route("GET", "/v2/images/{image_digest}/vuln-annotations", "vex", ListImageAnnotations, Some(Read)),
    route("POST", "/v2/images/{image_digest}/vuln-annotations", "vex", CreateImageAnnotation, Some(Annotate)),
    route(
        "GET",
        "/v2/images/{image_digest}/vuln-annotations/{vuln_annotation_uuid}",
        "vex",
        GetImageAnnotation,
        Some(Read),
    ),
    route(
        "PUT",
        "/v2/images/{image_digest}/vuln-annotations/{vuln_annotation_uuid}",
        "vex",
        UpdateImageAnnotation,
        Some(Annotate),
    ),
    route(
        "DELETE",
        "/v2/images/{image_digest}/vuln-annotations/{vuln_annotation_uuid}",
        "vex",
        DeleteImageAnnotation,
        Some(Annotate),
    ),
    route("GET", "/v2/images/{image_digest}/vex/openvex", "vex", ImageOpenVex, Some(Read)),
    route("GET", "/v2/images/{image_digest}/vex/cyclonedx-json", "vex", ImageCycloneDxVex, Some(Read)),
    route("POST", "/v2/vex", "vex", PostVex, Some(Annotate)),
    route("GET", "/v2/vex", "vex", ListVex, Some(Read)),
    route("GET", "/v2/vex/{vuln_annotation_uuid}", "vex", GetVex, Some(Read)),
    route("DELETE", "/v2/vex/{vuln_annotation_uuid}", "vex", DeleteVex, Some(Annotate)),
    route("POST", "/v2/vex/{vuln_annotation_uuid}/approve", "vex", ApproveVex, Some(Approve)),
    route("GET", "/v2/vex/{vuln_annotation_uuid}/audit", "vex", VexAudit, Some(Read)),
    // API keys, Anchore's: one's own, and an admin's for the users of its account.
    route("GET", "/v2/user/api-keys", "api-keys", ListApiKeys, Some(OwnKeys)),
    route("POST", "/v2/user/api-keys", "api-keys", CreateApiKey, Some(OwnKeys)),
    route("GET", "/v2/user/api-keys/{key_name}", "api-keys", GetApiKey, Some(OwnKeys)),
    route("PATCH", "/v2/user/api-keys/{key_name}", "api-keys", UpdateApiKey, Some(OwnKeys)),
    route("DELETE", "/v2/user/api-keys/{key_name}", "api-keys", DeleteApiKey, Some(OwnKeys)),
    route("GET", "/v2/accounts/{account_name}/users/{username}/api-keys", "api-keys", ListApiKeys, Some(Manage)),
    route("POST", "/v2/accounts/{account_name}/users/{username}/api-keys", "api-keys", CreateApiKey, Some(Manage)),
    route(
        "GET",
        "/v2/accounts/{account_name}/users/{username}/api-keys/{key_name}",
        "api-keys",
        GetApiKey,
        Some(Manage),
    ),
    route(
        "PATCH",
        "/v2/accounts/{account_name}/users/{username}/api-keys/{key_name}",
        "api-keys",
        UpdateApiKey,
        Some(Manage),
    ),
    route(
        "DELETE",
        "/v2/accounts/{account_name}/users/{username}/api-keys/{key_name}",
        "api-keys",
        DeleteApiKey,
        Some(Manage),
    ),
];

/// The function that answers requests no route matches (API Gateway's `$default` route), with
/// Anchore's error shape rather than API Gateway's `{"message":"Not Found"}`.
pub const FALLBACK_FUNCTION: &str = "version";

/// A route a request matched, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: &'static Route,
    pub params: Vec<(&'static str, &'a str)>,
}

impl Matched<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(key, _)| *key == name).map(|(_, value)| *value)
    }
}

/// The route `method path` matches; a trailing `/` is ignored.
pub fn find<'a>(method: &str, path: &'a str) -> Option<Matched<'a>> {
    let path = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    ROUTES.iter().filter(|route| route.method.eq_ignore_ascii_case(method)).find_map(|route| {
        let mut params = Vec::new();
        let mut actual = path.split('/');
        for expected in route.path.split('/') {
            let segment = actual.next()?;
            match expected.strip_prefix('{').and_then(|name| name.strip_suffix('}')) {
                Some(name) if !segment.is_empty() => params.push((name, segment)),
                Some(_) => return None,
                None if expected == segment => {}
                None => return None,
            }
        }
        actual.next().is_none().then_some(Matched { route, params })
    })
}

/// The routes a function serves.
pub fn of_function(function: &str) -> impl Iterator<Item = &'static Route> + '_ {
    ROUTES.iter().filter(move |route| route.function == function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn requests_find_their_route_and_parameters() {
        let matched = find("PUT", "/v2/subscriptions/abc/").unwrap();
        assert_eq!((matched.route.endpoint, matched.param("subscription_id")), (UpdateSubscription, Some("abc")));
        assert_eq!(find("get", "/v2/inventories").unwrap().route.function, "query");
        assert_eq!(find("DELETE", "/v2/inventories").unwrap().route.function, "delete");
        assert_eq!(find("GET", "/v1").unwrap().route.endpoint, ApiRoot);
        assert!(find("GET", "/v2/subscriptions/abc/extra").is_none());
        assert!(find("GET", "/v2/subscriptions//").is_some(), "a trailing slash is ignored");
        assert!(find("PATCH", "/v2/inventories").is_none());
        assert!(find("GET", "/v3/inventories").is_none());
        assert!(find("GET", "/").is_none());
        let health = find("POST", "/v2/system/integrations/84993c1f/health-report").unwrap();
        assert_eq!(
            (health.route.endpoint, health.param("integration_uuid")),
            (IntegrationHealthReport, Some("84993c1f"))
        );
        assert_eq!(find("POST", "/v2/system/integrations/registration").unwrap().route.endpoint, RegisterIntegration);
        assert_eq!(find("GET", "/v2/system/integrations/registration").unwrap().route.endpoint, GetIntegration);
    }

    #[test]
    fn route_keys_are_unique() {
        let keys: HashSet<String> = ROUTES.iter().map(Route::key).collect();
        assert_eq!(keys.len(), ROUTES.len());
    }
}

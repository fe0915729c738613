//! Authentication end to end: the authorizer function reads users from moto's SSM, its
//! verdict travels in the authorizer context as API Gateway carries it, and each function
//! enforces it.

use authorizer::AuthorizerApp;
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use base64::Engine;
use integration_tests::{api_event, day, k8s_report, listed, moto_config, sample_report, Harness, Response};
use inventory_identity::password::hash_password;
use inventory_identity::users::{SsmUsers, UserRecord};
use inventory_runtime::EventFunction;
use inventory_store::auth::Role;
use inventory_store::routes::Route;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

pub(crate) const PASSWORD: &str = "s3cret-for-tests";

/// The API as API Gateway runs it: the authorizer, then the function the route table names.
pub(crate) struct Api {
    pub(crate) harness: Harness,
    authorizer: AuthorizerApp,
}

pub(crate) fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

impl Api {
    /// A table and a user path of the test's own, with one user per role.
    pub(crate) async fn new() -> Self {
        Self::with(&[]).await
    }

    /// `new`, the authorizer given these settings (environment variables) beside the test's.
    pub(crate) async fn with(settings: &[(&'static str, &str)]) -> Self {
        let harness = Harness::new(120, false).await;
        let users = SsmUsers::new(
            aws_sdk_ssm::Client::new(&moto_config().await),
            integration_tests::users_path(&harness.table),
        );
        let hash = hash_password(PASSWORD).unwrap();
        for (user, role, accounts) in [
            ("agent", Role::InventoryAgent, vec!["admin"]),
            ("reader", Role::ReadOnly, vec!["admin"]),
            ("scan-worker", Role::Scanner, vec!["admin"]),
            ("approver", Role::VexApprover, vec!["admin"]),
            ("boss", Role::Admin, vec!["admin", "team-b"]),
        ] {
            let accounts = accounts.into_iter().map(str::to_owned).collect();
            let record = UserRecord { password_hash: hash.clone(), accounts, role };
            users.put(user, &record, None).await.expect("user written to SSM");
        }
        // The authorizer as deployed, reading them with a client held to its policy.
        let environment =
            settings.iter().fold(harness.environment(), |environment, (name, value)| environment.set(name, *value));
        // The local stack's rule for issuers: the tests' provider is on http://127.0.0.1.
        let issuers = authorizer::config::Issuers::LoopbackHttpToo;
        let config =
            authorizer::Config::from_lookup_with(|name| environment.lookup(name), issuers).expect("its config");
        let authorizer = AuthorizerApp::build(&harness.sdk_for("authorizer"), config, harness.clock.clone());
        Self { harness, authorizer }
    }

    /// Sends `event` through API Gateway as the template configures it: the authorizer first
    /// (except on the unauthenticated route), its context attached, then the function.
    pub(crate) async fn send(&self, mut event: Value, authorization: Option<&str>) -> Response {
        let headers = event["headers"].as_object_mut().unwrap();
        match authorization {
            Some(value) => headers.insert("authorization".into(), value.into()),
            None => headers.remove("authorization"),
        };
        let method = event["requestContext"]["http"]["method"].as_str().unwrap();
        let route = inventory_store::routes::find(method, event["rawPath"].as_str().unwrap());
        if route.and_then(|matched| matched.route.permission).is_some() {
            let request: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(json!({
                "version": "2.0",
                "type": "REQUEST",
                "routeArn": format!("arn:aws:execute-api:eu-west-2:123456789012:abc123/$default/{}", event["routeKey"].as_str().unwrap().replace(' ', "")),
                "routeKey": event["routeKey"],
                "rawPath": event["rawPath"],
                "headers": event["headers"],
                "requestContext": event["requestContext"],
            }))
            .unwrap();
            let answer = self
                .authorizer
                .handle(lambda_runtime::LambdaEvent::new(request, lambda_runtime::Context::default()))
                .await
                .unwrap();
            // The authorizer never denies by itself: the function answers with a proper challenge.
            assert!(answer.is_authorized);
            event["requestContext"]["authorizer"] = json!({ "lambda": answer.context });
        }
        self.harness.send(event).await
    }

    async fn post_report(&self, user: &str, password: &str, account: Option<&str>, report: &Value) -> Response {
        let event = api_event("post-kubernetes-inventory.json", None, Some(&report.to_string()), account, &[]);
        self.send(event, Some(&basic(user, password))).await
    }
}

pub(crate) fn assert_challenge(response: &Response) {
    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{}", response.body);
    let challenge = response.headers.get("www-authenticate").expect("a WWW-Authenticate header").to_str().unwrap();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
    assert_eq!(response.body["httpcode"], 401);
    assert_eq!(response.body["error_type"], "unauthorized");
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_a_basic_challenge_and_store_nothing() {
    let api = Api::new().await;
    let report = k8s_report("prod", day(0), &[("default", "nginx:1", 1)]);
    let body = Some(report.to_string());
    let event = || api_event("post-kubernetes-inventory.json", None, body.as_deref(), Some("admin"), &[]);

    let missing = api.send(event(), None).await;
    assert_challenge(&missing);
    assert!(missing.body["message"].as_str().unwrap().contains("no credentials"), "{}", missing.body);
    let wrong_password = api.post_report("agent", "not-the-password", Some("admin"), &report).await;
    assert_challenge(&wrong_password);
    let unknown_user = api.post_report("mallory", PASSWORD, Some("admin"), &report).await;
    assert_challenge(&unknown_user);
    // Whether the user exists is not revealed.
    assert_eq!(wrong_password.body, unknown_user.body);
    assert_challenge(&api.send(event(), Some("Bearer abc.def")).await);
    assert_challenge(&api.send(event(), Some("Basic not-base64!")).await);

    assert!(api.harness.stored_items().await.is_empty(), "a refused report stores nothing");
}

#[tokio::test]
async fn an_account_the_user_does_not_belong_to_is_forbidden() {
    let api = Api::new().await;
    let report = k8s_report("prod", day(0), &[("default", "nginx:1", 1)]);
    let forbidden = api.post_report("agent", PASSWORD, Some("team-b"), &report).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN, "{}", forbidden.body);
    assert!(forbidden.body["message"].as_str().unwrap().contains("team-b"), "{}", forbidden.body);
    assert!(forbidden.headers.get("www-authenticate").is_none());
    let malformed = api.post_report("agent", PASSWORD, Some("a#b"), &report).await;
    assert_eq!(malformed.status, StatusCode::FORBIDDEN, "{}", malformed.body);
    assert!(api.harness.stored_items().await.is_empty());

    // A member of several accounts picks one with the header; without it, its first account.
    assert_eq!(api.post_report("boss", PASSWORD, Some("team-b"), &report).await.status, StatusCode::CREATED);
    let boss = basic("boss", PASSWORD);
    let read = |account: Option<&'static str>| {
        let event = api_event("get-inventories.json", None, None, account, &[]);
        api.send(event, Some(&boss))
    };
    assert_eq!(
        listed(read(Some("team-b")).await.body["items"].as_array().unwrap()),
        [("prod/default".to_owned(), integration_tests::digest(1))]
    );
    assert_eq!(read(None).await.body["items"], json!([]), "the first account, admin, has nothing");
}

/// An event for `route` as API Gateway would pass it: the sample of that route from `events/`
/// when there is one (for its body), any sample otherwise, with method and path set.
fn event_for(route: &Route) -> serde_json::Value {
    let samples = std::fs::read_dir(local_stack::moto::workspace_root().join("events")).unwrap();
    let sample = samples
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .find(|name| integration_tests::load_event(name)["routeKey"] == route.key().as_str());
    let template = integration_tests::load_event(sample.as_deref().unwrap_or("get-inventories.json"));
    let body = sample.and_then(|_| template["body"].as_str().map(str::to_owned));
    let path = ["subscription_id", "integration_uuid", "namespace_id", "node_id", "pod_id", "username", "key_name"]
        .iter()
        .fold(route.path.to_owned(), |path, name| path.replace(&format!("{{{name}}}"), "no-such-id"))
        .replace("{account_name}", "admin");
    let mut event = api_event("get-inventories.json", Some(&path), body.as_deref(), Some("admin"), &[]);
    if body.is_some() {
        event["headers"]["content-type"] = "application/json".into();
    }
    event["routeKey"] = route.key().into();
    event["requestContext"]["routeKey"] = route.key().into();
    event["requestContext"]["http"]["method"] = route.method.into();
    event
}

#[tokio::test]
async fn each_role_reaches_exactly_its_routes() {
    let api = Api::new().await;
    let authenticated = inventory_store::routes::ROUTES.iter().filter(|route| route.permission.is_some());
    let routes: Vec<&Route> = authenticated.collect();
    assert!(routes.len() >= 18, "every route of the table is tried");
    let users = [
        ("agent", Role::InventoryAgent),
        ("reader", Role::ReadOnly),
        ("scan-worker", Role::Scanner),
        ("approver", Role::VexApprover),
        ("boss", Role::Admin),
    ];
    for (user, role) in users {
        for route in &routes {
            let response = api.send(event_for(route), Some(&basic(user, PASSWORD))).await;
            let root = ["/v1", "/v2"].contains(&route.path);
            let expected = match role {
                Role::InventoryAgent => {
                    let report = route.path.ends_with("-inventory") || route.path == "/v1/enterprise/inventories";
                    let integration = route.path.starts_with("/v2/system/integrations/");
                    root || (route.method == "POST" && (report || integration))
                }
                // Cluster configurations and other users' keys are admins' only, reads included
                // (they name servers and CAs); a person manages their own keys.
                Role::ReadOnly => {
                    let admins = route.path.starts_with("/v1/enterprise/inventories/clusters")
                        || route.path.starts_with("/v2/accounts/");
                    (route.method == "GET" && !admins) || route.path.starts_with("/v2/user/api-keys")
                }
                // Findings and SBOMs of images.
                Role::Scanner => {
                    let posted = route.path.ends_with("/vulnerabilities") || route.path.ends_with("/sbom");
                    root || (route.method == "POST" && posted)
                }
                // Reads, and VEX annotations: writing them and approving others'.
                Role::VexApprover => {
                    let admins = route.path.starts_with("/v1/enterprise/inventories/clusters")
                        || route.path.starts_with("/v2/accounts/");
                    let reads = route.method == "GET" && !admins;
                    reads
                        || route.path.contains("/vuln-annotations")
                        || route.path.starts_with("/v2/vex")
                        || route.path.starts_with("/v2/user/api-keys")
                }
                Role::Admin => true,
            };
            let key = route.key();
            if expected {
                // A 404 is right only for the subscription that does not exist, never a routing miss.
                let refused = [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&response.status);
                let unrouted = response.status == StatusCode::NOT_FOUND && !route.path.contains('{');
                assert!(!refused && !unrouted, "{user} on {key}: {} {}", response.status, response.body);
            } else {
                assert_eq!(response.status, StatusCode::FORBIDDEN, "{user} on {key}: {}", response.body);
                assert!(response.body["message"].as_str().unwrap().contains(role.as_str()), "{}", response.body);
            }
        }
    }
}

#[tokio::test]
async fn the_api_roots_answer_any_user_and_unknown_routes_answer_anchores_404() {
    let api = Api::new().await;
    for route in inventory_store::routes::ROUTES.iter().filter(|route| ["/v1", "/v2"].contains(&route.path)) {
        let response = api.send(event_for(route), Some(&basic("agent", PASSWORD))).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        let anonymous = api.send(event_for(route), None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    }
    let mut unknown = api_event("get-inventories.json", Some("/v2/no-such-route"), None, Some("admin"), &[]);
    unknown["routeKey"] = "$default".into();
    let response = api.send(unknown, None).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(
        (response.body["httpcode"].as_u64(), response.body["error_type"].as_str()),
        (Some(404), Some("not_found"))
    );
}

#[tokio::test]
async fn a_k8s_inventory_request_is_accepted_as_the_agent_sends_it() {
    let api = Api::new().await;
    // The agent checks the version without credentials first.
    let version = api.send(api_event("get-version.json", None, None, None, &[]), None).await;
    assert_eq!(version.status, StatusCode::OK);
    assert_eq!(version.body["service"]["version"], "5.11.0");

    // Then posts with basic auth and its configured account, as k8s-inventory does.
    let report = sample_report("post-kubernetes-inventory.json");
    let posted = api.post_report("agent", PASSWORD, Some("admin"), &report).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    let event = api_event("get-inventories.json", None, None, Some("admin"), &[]);
    let listed = api.send(event, Some(&basic("reader", PASSWORD))).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.body["items"].as_array().unwrap().is_empty(), "{}", listed.body);
    // The agent itself may not read it back.
    let event = api_event("get-inventories.json", None, None, Some("admin"), &[]);
    assert_eq!(api.send(event, Some(&basic("agent", PASSWORD))).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_request_without_an_authorizer_context_is_refused() {
    // A route deployed without the authorizer fails closed.
    let api = Api::new().await;
    let event = api_event("get-inventories.json", None, None, Some("admin"), &[]);
    assert_challenge(&api.harness.send(event).await);
}

/// A form on another web site posting through the browser's basic-auth login: every variant is
/// refused before anything is parsed, and the agents' own requests still pass.
#[tokio::test]
async fn state_changes_sent_by_another_web_site_are_refused_and_store_nothing() {
    let api = Api::new().await;
    let boss = basic("boss", PASSWORD);
    let report = k8s_report("prod", day(0), &[("default", "nginx:1", 1)]).to_string();
    let subscription = r#"{"subscription_key":"nginx","subscription_type":"runtime_inventory"}"#;
    for (sample, body) in
        [("post-kubernetes-inventory.json", report.as_str()), ("post-subscriptions.json", subscription)]
    {
        for (header, value, status) in [
            ("sec-fetch-site", "cross-site", StatusCode::FORBIDDEN),
            ("origin", "https://attacker.example", StatusCode::FORBIDDEN),
            ("content-type", "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ] {
            let mut event = api_event(sample, None, Some(body), Some("admin"), &[]);
            event["headers"][header] = value.into();
            let refused = api.send(event, Some(&boss)).await;
            assert_eq!(refused.status, status, "{sample} with {header}: {value}: {}", refused.body);
            assert_eq!(refused.body["httpcode"], status.as_u16(), "Anchore's error shape");
        }
    }
    assert!(api.harness.stored_items().await.is_empty(), "nothing stored for a refused request");
    let subscriptions =
        api.send(api_event("get-subscriptions.json", None, None, Some("admin"), &[]), Some(&boss)).await;
    assert_eq!(subscriptions.body, json!([]));

    // Every agent's request exactly as its sample records it (headers included) is still served,
    // and so is the console's same-origin request.
    let agent = basic("agent", PASSWORD);
    for sample in [
        "post-kubernetes-inventory.json",
        "post-kubernetes-inventory-v1.json",
        "post-ecs-inventory.json",
        "post-ecs-inventory-v1.json",
        "post-kai-inventory.json",
        "post-integration-registration.json",
    ] {
        let mut event = integration_tests::load_event(sample);
        event["requestContext"].as_object_mut().unwrap().remove("authorizer");
        let served = api.send(event, Some(&agent)).await;
        assert!(served.status.is_success(), "{sample}: {} {}", served.status, served.body);
    }
    let mut console = api_event("post-subscriptions.json", None, Some(subscription), Some("admin"), &[]);
    console["headers"]["origin"] = "https://abc123.execute-api.eu-west-2.amazonaws.com".into();
    console["headers"]["sec-fetch-site"] = "same-origin".into();
    assert_eq!(api.send(console, Some(&boss)).await.status, StatusCode::OK);
}

/// One HTTP/1.1 request to the local stack at `base`; its status code.
async fn http_status(base: &str, path: &str, user: &str, password: &str) -> u16 {
    integration_tests::http_get(&format!("{base}{path}"), Some(&basic(user, password))).await.0
}

/// Random user names at `FLOOD_RATE` a second for `FLOOD_SECONDS` (100 and 2 unless set; the
/// measurement in BENCHMARKS.md runs 60 seconds) against the local stack's HTTP API, a known
/// agent's request between each second's names: the agent is always answered, and SSM is asked
/// at the authorizer's bounded rate only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessed_user_names_do_not_reach_ssm_past_their_rate_nor_slow_a_known_user() {
    use authorizer::cache::{LOOKUPS_PER_SECOND, LOOKUP_BURST};
    let setting = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (rate, seconds) = (setting("FLOOD_RATE", 100), setting("FLOOD_SECONDS", 2));
    let harness = Harness::new(120, false).await;
    let (base, ssm) = harness.serve_counted(&[("agent", PASSWORD, Role::InventoryAgent)]).await;
    assert_eq!(http_status(&base, "/v2", "agent", PASSWORD).await, 200);
    let started = tokio::time::Instant::now();
    let (mut statuses, mut known_latencies) = (std::collections::BTreeMap::<u16, u64>::new(), Vec::new());
    for second in 0..seconds {
        let names = (0..rate).map(|n| {
            let base = base.clone();
            async move { http_status(&base, "/v2/inventories", &format!("guess-{second}-{n}"), "x").await }
        });
        for status in futures::future::join_all(names).await {
            *statuses.entry(status).or_default() += 1;
        }
        let asked = tokio::time::Instant::now();
        assert_eq!(http_status(&base, "/v2", "agent", PASSWORD).await, 200, "the agent is answered in second {second}");
        known_latencies.push(asked.elapsed());
        tokio::time::sleep_until(started + std::time::Duration::from_secs(second + 1)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let lookups = ssm.get("GetParameter");
    let bound = 1 + (LOOKUP_BURST + LOOKUPS_PER_SECOND * elapsed).ceil() as u64;
    known_latencies.sort();
    println!(
        "{} names in {elapsed:.1} s: answers {statuses:?}; SSM GetParameter {lookups} ({:.1}/s, bound {bound}); \
         the known agent's median latency {:?}, slowest {:?}",
        rate * seconds,
        lookups as f64 / elapsed,
        known_latencies[known_latencies.len() / 2],
        known_latencies[known_latencies.len() - 1],
    );
    assert!(lookups <= bound, "{lookups} SSM reads, more than the rate allows ({bound})");
    assert_eq!(statuses.keys().copied().collect::<Vec<_>>(), [401, 503], "refused, or told to retry past the rate");
}

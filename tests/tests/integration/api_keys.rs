//! API keys end to end: made through Anchore's routes (the api-keys function, SSM in moto), used
//! as basic auth `_api_key:<value>` through the authorizer as deployed, revoked, expired.

use crate::auth::{assert_challenge, basic, Api, PASSWORD};
use chrono::TimeDelta;
use integration_tests::{api_event, day, k8s_report, LogCapture, Response};
use inventory_core::api_keys::{format_key_time, value_hash, API_KEY_USER};
use inventory_store::Clock;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

/// `method path` with `body`, acting on `account`, before the authorizer ran.
fn request(method: &str, path: &str, body: Option<&Value>, account: Option<&str>) -> Value {
    integration_tests::request_event(method, path, body.map(Value::to_string).as_deref(), account, &[])
}

impl Api {
    /// `method path` sent by `user` with the test password.
    async fn as_user(&self, user: &str, method: &str, path: &str, body: Option<&Value>) -> Response {
        self.send(request(method, path, body, None), Some(&basic(user, PASSWORD))).await
    }

    /// A key `name` made through `path` by `user`, expiring in `days`: its value.
    async fn make_key(&self, user: &str, path: &str, name: &str, days: i64) -> String {
        let expires_at = format_key_time(self.harness.clock.now() + TimeDelta::days(days));
        let made = self.as_user(user, "POST", path, Some(&json!({"name": name, "expires_at": expires_at}))).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        assert_eq!((made.body["name"].as_str(), made.body["status"].as_str()), (Some(name), Some("active")));
        made.body["value"].as_str().expect("the value, once").to_owned()
    }
}

fn key(value: &str) -> String {
    basic(API_KEY_USER, value)
}

/// Each request of the k8s-inventory agent, as its samples record them, sent with `credentials`.
async fn k8s_inventory_sequence(api: &Api, credentials: &str) -> Vec<(String, StatusCode)> {
    let mut answers = Vec::new();
    for sample in ["get-version.json", "post-integration-registration.json", "post-kubernetes-inventory.json"] {
        let mut event = integration_tests::load_event(sample);
        event["requestContext"].as_object_mut().unwrap().remove("authorizer");
        let answer = api.send(event, Some(credentials)).await;
        answers.push((sample.to_owned(), answer.status));
    }
    answers
}

#[tokio::test]
async fn a_key_made_through_the_route_drives_the_agent_and_the_inventory_listing_until_revoked() {
    let logs = LogCapture::start();
    // Keys cached one second here (60 s at most when deployed: the unit tests hold that bound).
    let api = Api::with(&[(authorizer::config::CACHE_SECONDS, "1")]).await;
    // An admin makes the agent's key (an agent may not make its own), a person makes their own.
    let agent_path = "/v2/accounts/admin/users/agent/api-keys";
    let agent_key = api.make_key("boss", agent_path, "k8s-prod", 90).await;
    let reader_key = api.make_key("reader", "/v2/user/api-keys", "laptop", 30).await;
    assert!(agent_key.starts_with("ri_") && agent_key != reader_key);

    for (sample, status) in k8s_inventory_sequence(&api, &key(&agent_key)).await {
        assert!(status.is_success(), "{sample} with the agent's key: {status}");
    }
    let listed = api.send(request("GET", "/v2/inventories", None, Some("admin")), Some(&key(&reader_key))).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert!(!listed.body["items"].as_array().unwrap().is_empty(), "the agent's report, read with a key");
    // A key acts as its user: the agent's may not read.
    let refused = api.send(request("GET", "/v2/inventories", None, None), Some(&key(&agent_key))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Listed in Anchore's shape, never with the value.
    let keys = api.as_user("boss", "GET", agent_path, None).await;
    assert_eq!(keys.status, StatusCode::OK);
    let items = keys.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", keys.body);
    let mut names: Vec<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["created_at", "expires_at", "name", "status", "updated_at", "version"]);
    assert!(!keys.body.to_string().contains(&agent_key));

    // Revoked: refused once the cache period is over, and for good.
    let revoked =
        api.as_user("boss", "PATCH", &format!("{agent_path}/k8s-prod"), Some(&json!({"status": "revoked"}))).await;
    assert_eq!((revoked.status, revoked.body["status"].as_str()), (StatusCode::OK, Some("revoked")));
    assert_eq!(revoked.body["version"], 2);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let report = k8s_report("prod", day(0), &[("default", "nginx:1", 1)]);
    let event = api_event("post-kubernetes-inventory.json", None, Some(&report.to_string()), Some("admin"), &[]);
    assert_challenge(&api.send(event, Some(&key(&agent_key))).await);
    let again =
        api.as_user("boss", "PATCH", &format!("{agent_path}/k8s-prod"), Some(&json!({"status": "active"}))).await;
    assert_eq!((again.status, again.body["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("status")));

    // Deleted: gone from the listing, and the reader's key stops working.
    let deleted = api.as_user("reader", "DELETE", "/v2/user/api-keys/laptop", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(api.as_user("reader", "GET", "/v2/user/api-keys", None).await.body, json!({"items": []}));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_challenge(&api.send(request("GET", "/v2/inventories", None, None), Some(&key(&reader_key))).await);

    let logged = logs.text();
    assert!(logged.contains("API key created"), "the capture sees the function's logs");
    // Not even at the SDK's trace level (which names the parameters, hence the hashes: the
    // hash of a 256-bit value is no credential, as CloudTrail's records of SSM reads show it).
    for secret in [&agent_key, &reader_key] {
        let line = logged.lines().find(|line| line.contains(secret.as_str()));
        assert!(line.is_none(), "a key's value was logged: {line:?}");
    }
    assert!(logged.contains(&value_hash(&agent_key)), "the capture sees the SDK's trace");
}

#[tokio::test]
async fn bad_keys_are_refused_with_a_challenge_never_a_5xx() {
    let api = Api::new().await;
    let value = api.make_key("boss", "/v2/user/api-keys", "short-lived", 1).await;
    let inventories = || request("GET", "/v2/inventories", None, None);
    assert_eq!(api.send(inventories(), Some(&key(&value))).await.status, StatusCode::OK);
    for bad in [String::new(), "k".repeat(10 * 1024), "ri_guessed".to_owned(), format!("{value}x")] {
        let answer = api.send(inventories(), Some(&key(&bad))).await;
        assert_challenge(&answer);
        assert!(!answer.body.to_string().contains(&value));
    }
    // Expired: the authorizer's clock is the test's.
    api.harness.clock.advance(TimeDelta::days(1) + TimeDelta::seconds(1));
    let expired = api.send(inventories(), Some(&key(&value))).await;
    assert_challenge(&expired);
    let listed = api.as_user("boss", "GET", "/v2/user/api-keys/short-lived", None).await;
    assert_eq!(listed.body["status"], "expired");
}

#[tokio::test]
async fn keys_are_managed_within_their_bounds_and_roles() {
    let api = Api::new().await;
    let own = "/v2/user/api-keys";
    let expires = |days: i64| format_key_time(api.harness.clock.now() + TimeDelta::days(days));
    // An agent and a scanner may not manage their own keys; an admin of another account may not
    // manage this one's users', nor keys of a user this account does not have.
    for user in ["agent", "scan-worker"] {
        assert_eq!(api.as_user(user, "GET", own, None).await.status, StatusCode::FORBIDDEN);
    }
    let body = json!({"name": "ci", "expires_at": expires(10)});
    let boss_b = api
        .send(
            request("POST", "/v2/accounts/admin/users/agent/api-keys", Some(&body), Some("team-b")),
            Some(&basic("boss", PASSWORD)),
        )
        .await;
    assert_eq!(boss_b.status, StatusCode::FORBIDDEN, "{}", boss_b.body);
    let nobody = api.as_user("boss", "POST", "/v2/accounts/admin/users/nobody/api-keys", Some(&body)).await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.as_user("reader", "GET", "/v2/accounts/admin/users/agent/api-keys", None).await.status,
        StatusCode::FORBIDDEN
    );

    // Bodies are checked field by field; names are unique per user.
    for (body, field) in [
        (json!({"expires_at": expires(10)}), "name"),
        (json!({"name": "x/y", "expires_at": expires(10)}), "name"),
        (json!({"name": "ci"}), "expires_at"),
        (json!({"name": "ci", "expires_at": expires(366)}), "expires_at"),
        (json!({"name": "ci", "expires_at": expires(-1)}), "expires_at"),
    ] {
        let refused = api.as_user("approver", "POST", own, Some(&body)).await;
        assert_eq!((refused.status, refused.body["detail"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)));
    }
    let not_json = api.send(request("POST", own, None, None), Some(&basic("approver", PASSWORD))).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    api.make_key("approver", own, "key-0", 10).await;
    let taken = api.as_user("approver", "POST", own, Some(&json!({"name": "key-0", "expires_at": expires(5)}))).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);

    // At most 20 active keys a user: a revoked one makes room.
    for n in 1..20 {
        api.make_key("approver", own, &format!("key-{n}"), 10).await;
    }
    let over = api.as_user("approver", "POST", own, Some(&json!({"name": "key-20", "expires_at": expires(5)}))).await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{}", over.body);
    assert!(over.body["message"].as_str().unwrap().contains("ApiKeysPerUser"));
    let revoke = api.as_user("approver", "PATCH", &format!("{own}/key-3"), Some(&json!({"status": "revoked"}))).await;
    assert_eq!(revoke.status, StatusCode::OK);
    api.make_key("approver", own, "key-20", 10).await;
    let listed = api.as_user("approver", "GET", own, None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 21);
    assert_eq!(api.as_user("approver", "GET", &format!("{own}/no-such-key"), None).await.status, StatusCode::NOT_FOUND);
}

//! Single sign-on end to end: bearer tokens of the local OIDC provider (discovery, JWKS over HTTP
//! on loopback, rotating ES256 keys) through the authorizer as deployed, their groups mapped to
//! a role and accounts by `OidcRoleMapping` read from moto's SSM; every bad token refused.

use crate::auth::{basic, Api, PASSWORD};
use authorizer::config::{OIDC_AUDIENCE, OIDC_ISSUER, OIDC_ROLE_MAPPING_PARAMETER};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use integration_tests::{api_event, day, k8s_report, moto_config, LogCapture, Response};
use inventory_store::Clock;
use lambda_http::http::StatusCode;
use local_stack::oidc::{OidcServer, LOCAL_CLIENT_ID};
use serde_json::{json, Value};

const MAPPING: &str = r#"{"claim": "groups", "rules": [
    {"group": "inventory-readers", "role": "read-only", "accounts": ["admin"]},
    {"group": "sec-admins", "role": "admin", "accounts": ["admin", "team-b"]}
]}"#;

/// The SSM parameter holding the tests' role mapping (stored in moto).
pub(crate) async fn stored_mapping() -> String {
    let parameter = format!("/oidc-{}/role-mapping", std::process::id());
    let ssm = aws_sdk_ssm::Client::new(&moto_config().await);
    let put = ssm.put_parameter().name(&parameter).value(MAPPING).overwrite(true);
    put.r#type(aws_sdk_ssm::types::ParameterType::String).send().await.expect("the mapping stored");
    parameter
}

/// The API trusting `provider`, its mapping in SSM.
async fn api_with(provider: &OidcServer) -> Api {
    let (parameter, issuer) = (stored_mapping().await, provider.issuer());
    Api::with(&[(OIDC_ISSUER, &issuer), (OIDC_AUDIENCE, LOCAL_CLIENT_ID), (OIDC_ROLE_MAPPING_PARAMETER, &parameter)])
        .await
}

async fn provider(api_clock: std::sync::Arc<inventory_store::ManualClock>) -> OidcServer {
    OidcServer::start(move || api_clock.now()).await.expect("the provider listens")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn inventories(api: &Api, account: Option<&str>, authorization: &str) -> Response {
    api.send(api_event("get-inventories.json", None, None, account, &[]), Some(authorization)).await
}

#[tokio::test]
async fn a_token_acts_with_the_role_its_groups_map_to_and_every_bad_token_is_refused() {
    let logs = LogCapture::start();
    // The provider dates its tokens by the clock the authorizer checks them with.
    let clock = std::sync::Arc::new(inventory_store::ManualClock::new(day(0)));
    let provider = provider(clock.clone()).await;
    let api = api_with(&provider).await;
    api.harness.clock.set(day(0));
    let report = k8s_report("prod", day(0), &[("default", "nginx:1", 1)]);
    let event = api_event("post-kubernetes-inventory.json", None, Some(&report.to_string()), Some("admin"), &[]);
    assert_eq!(api.send(event, Some(&basic("agent", PASSWORD))).await.status, StatusCode::CREATED);

    // A reader's token reads its account, and nothing else.
    let token = provider.token(json!({}));
    let listed = inventories(&api, None, &bearer(&token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert!(!listed.body["items"].as_array().unwrap().is_empty());
    assert_eq!(inventories(&api, Some("team-b"), &bearer(&token)).await.status, StatusCode::FORBIDDEN);
    let event = api_event("post-kubernetes-inventory.json", None, Some(&report.to_string()), Some("admin"), &[]);
    assert_eq!(api.send(event, Some(&bearer(&token))).await.status, StatusCode::FORBIDDEN);
    // The first matching rule wins; a string claim counts as one group; no rule is 403.
    let admin = provider.token(json!({"groups": "sec-admins"}));
    assert_eq!(inventories(&api, Some("team-b"), &bearer(&admin)).await.status, StatusCode::OK);
    let both = provider.token(json!({"groups": ["inventory-readers", "sec-admins"]}));
    assert_eq!(inventories(&api, Some("team-b"), &bearer(&both)).await.status, StatusCode::FORBIDDEN);
    let nobody = inventories(&api, None, &bearer(&provider.token(json!({"groups": ["interns"]})))).await;
    assert_eq!(nobody.status, StatusCode::FORBIDDEN, "{}", nobody.body);
    assert_eq!((provider.requests("/.well-known/openid-configuration"), provider.requests("/jwks")), (1, 1));
    // API keys act as users of the user store, which a person signed in this way is not.
    let keys = api
        .send(api_event("get-inventories.json", Some("/v2/user/api-keys"), None, None, &[]), Some(&bearer(&token)))
        .await;
    assert_eq!(keys.status, StatusCode::FORBIDDEN, "{}", keys.body);

    // Every bad token: 401, never 5xx, nothing of it answered.
    let now = day(0).timestamp();
    let [header, payload, signature]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["groups"] = json!(["sec-admins"]);
    let tampered = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let hs256 = {
        use hmac::Mac;
        let (_, jwks) = integration_tests::http_get(&format!("{}/jwks", provider.issuer()), None).await;
        let signed = format!(
            "{}.{payload}",
            URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT", "kid": "local-1"}).to_string())
        );
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(jwks.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    };
    let bad = [
        ("expired", provider.token(json!({"exp": now - 120, "nbf": now - 3600, "iat": now - 3600}))),
        ("not yet valid", provider.token(json!({"nbf": now + 300}))),
        ("wrong issuer", provider.token(json!({"iss": "https://idp.attacker.example"}))),
        ("wrong audience", provider.token(json!({"aud": "another-app"}))),
        ("unknown kid", provider.token_with(json!({"kid": "no-such-key"}), json!({}))),
        ("alg none", none),
        ("HS256 over the public key", hs256),
        ("tampered payload", tampered),
        ("over 8 KB", provider.token(json!({"padding": "x".repeat(9 * 1024)}))),
        ("garbage", "!!! not a token !!!".to_owned()),
        ("empty", String::new()),
    ];
    let fetched = provider.requests("/jwks");
    for (what, token) in &bad {
        let refused = inventories(&api, None, &bearer(token)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{what}: {}", refused.body);
        assert!(token.is_empty() || !refused.body.to_string().contains(token.as_str()), "{what}: the token answered");
    }
    // The unknown kid fetched no keys again within the minute.
    assert_eq!(provider.requests("/jwks"), fetched);

    // Keys rotate: once the minute is over, a token signed with the new key fetches them again.
    // (The minute is the unit tests'; here the provider publishes the new key before the first
    // fetch of a second authorizer, as a cold start would meet it.)
    provider.rotate();
    let rotated = provider.token(json!({}));
    let cold = api_with(&provider).await;
    cold.harness.clock.set(day(0));
    assert_eq!(inventories(&cold, None, &bearer(&token)).await.status, StatusCode::OK, "the old key still verifies");
    assert_eq!(inventories(&cold, None, &bearer(&rotated)).await.status, StatusCode::OK);

    let logged = logs.text();
    assert!(logged.contains("OIDC provider's keys were fetched"), "the capture sees the authorizer's logs");
    for (what, token) in bad.iter().filter(|(_, token)| token.len() > 20).chain([&("good", token.clone())]) {
        assert!(!logged.contains(token.as_str()), "{what}: a token was logged");
    }
}

//! `GET /ui`: the web console, embedded in this function. The page names the signed-in user and
//! role (the console shows admin controls only to admins; the API enforces it regardless) and
//! loads nothing from anywhere but this API. `GET /ui/sso` (and `/ui/callback`, where the
//! provider sends the browser back) is the same console signing in with single sign-on:
//! authorization code with PKCE in the page, the token kept in `sessionStorage` and sent as a
//! bearer token; the page learns who signed in from `GET /v2`.

use inventory_runtime::parameter::ParameterValue;
use inventory_store::auth::Caller;
use inventory_store::http::ApiError;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};

const INDEX: &str = include_str!("../console/index.html");
/// Asset name, content type and content.
const ASSETS: [(&str, &str, &str); 2] = [
    ("app.js", "text/javascript; charset=utf-8", include_str!("../console/app.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("../console/app.css")),
];
/// Only this API's own scripts, styles and calls: nothing inline, nothing from elsewhere.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's sign-in settings (`OIDC_ISSUER`, `OIDC_CONSOLE_CLIENT_ID`, `CONSOLE_BASIC_AUTH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The provider's issuer and the console's public client id (`ssm:<name>`: read from that
    /// parameter, the stack's Cognito client), when single sign-on is set up.
    pub sso: Option<(String, ParameterValue)>,
    /// Whether the console may sign in with the browser's basic-auth prompt.
    pub basic_auth: bool,
}

pub const CONSOLE_CLIENT_ID: &str = "OIDC_CONSOLE_CLIENT_ID";
pub const CONSOLE_BASIC_AUTH: &str = "CONSOLE_BASIC_AUTH";

impl ConsoleSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, inventory_runtime::ConfigError> {
        use inventory_runtime::config::value;
        let issuer = value(&lookup, inventory_store::auth::OIDC_ISSUER);
        let client = value(&lookup, CONSOLE_CLIENT_ID);
        let basic_auth = match value(&lookup, CONSOLE_BASIC_AUTH) {
            None => true,
            Some(_) => inventory_runtime::config::flag(&lookup, CONSOLE_BASIC_AUTH)?,
        };
        Ok(Self { sso: issuer.zip(client.map(ParameterValue::new)), basic_auth })
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn response(content_type: &str, body: String, cache: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, cache)
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .body(Body::Text(body))
        .expect("static response parts are valid")
}

/// The console's page for `caller`, signed in with basic auth.
pub fn page(caller: &Caller) -> Response<Body> {
    let html = INDEX
        .replace("{{ROLE}}", caller.role.as_str())
        .replace("{{USER}}", &escape(&caller.user))
        .replace("{{SSO_ISSUER}}", "")
        .replace("{{SSO_CLIENT}}", "")
        .replace("{{BASIC}}", "true");
    // Per user: never cached where another user could get it.
    response("text/html; charset=utf-8", html, "private, no-store")
}

/// The console signing in with single sign-on (`/ui/sso`, `/ui/callback`): nobody's page until
/// the token comes, so the same for everyone; it may call the provider (discovery, token).
pub async fn sso_page(settings: &ConsoleSettings, ssm: &aws_sdk_ssm::Client) -> Response<Body> {
    let Some((issuer, client)) = &settings.sso else {
        let basic = if settings.basic_auth { "; sign in at /ui with a user name and password" } else { "" };
        return ApiError::not_found(format!("single sign-on is not configured{basic}")).into_response();
    };
    let client = match client.get(ssm).await {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "the console's client id could not be read");
            return ApiError::unavailable("the sign-in settings could not be read").into_response();
        }
    };
    let html = INDEX
        .replace("{{ROLE}}", "")
        .replace("{{USER}}", "")
        .replace("{{SSO_ISSUER}}", &escape(issuer))
        .replace("{{SSO_CLIENT}}", &escape(client))
        .replace("{{BASIC}}", if settings.basic_auth { "true" } else { "false" });
    let mut response = response("text/html; charset=utf-8", html, "no-store");
    // The provider's discovery and token endpoints (the latter may be on another https origin:
    // Cognito's and Google's are).
    let issuer_origin = issuer.split('/').take(3).collect::<Vec<_>>().join("/");
    let policy =
        CONTENT_SECURITY_POLICY.replace("connect-src 'self'", &format!("connect-src 'self' {issuer_origin} https:"));
    response.headers_mut().insert("content-security-policy", policy.parse().expect("a header value"));
    response
}

/// Where a browser asking for the basic-auth console goes when the console signs in with SSO only.
pub fn to_sign_in() -> Response<Body> {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, "/ui/sso")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .expect("static response parts are valid")
}

/// One of the console's assets.
pub fn asset(name: &str) -> Result<Response<Body>, ApiError> {
    let (_, content_type, content) = ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .ok_or_else(|| ApiError::not_found(format!("the console has no asset {name:?}")))?;
    Ok(response(content_type, (*content).to_owned(), "private, max-age=300"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory_store::auth::Role;

    #[test]
    fn the_page_names_the_user_and_role_escaped() {
        let caller = Caller { user: "<eve>\"".into(), account: "a".into(), role: Role::ReadOnly };
        let page = page(&caller);
        let Body::Text(html) = page.body() else { panic!("text") };
        assert!(html.contains(r#"content="read-only""#));
        assert!(html.contains("&lt;eve&gt;&quot;") && !html.contains("<eve>"));
        assert_eq!(page.headers()[header::CACHE_CONTROL], "private, no-store");
        assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    }

    #[tokio::test]
    async fn the_sign_in_page_carries_the_provider_and_may_call_it_only() {
        let settings = ConsoleSettings {
            sso: Some(("https://idp.example.com/realms/ri".into(), ParameterValue::new("console"))),
            basic_auth: false,
        };
        let config = aws_sdk_ssm::Config::builder().behavior_version_latest().build();
        let ssm = aws_sdk_ssm::Client::from_conf(config);
        let page = sso_page(&settings, &ssm).await;
        let Body::Text(html) = page.body() else { panic!("text") };
        assert!(
            html.contains(r#"content="https://idp.example.com/realms/ri""#) && html.contains(r#"content="console""#)
        );
        assert!(html.contains(r#"name="ri-basic" content="false""#));
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("connect-src 'self' https://idp.example.com https:;"), "{policy}");
        assert!(policy.contains("script-src 'self';"));
        assert_eq!(
            sso_page(&ConsoleSettings { sso: None, basic_auth: true }, &ssm).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn every_asset_the_page_loads_is_served_and_nothing_else() {
        for name in ["app.js", "app.css"] {
            assert!(INDEX.contains(&format!("/ui/{name}")), "{name}");
            assert!(asset(name).is_ok(), "{name}");
        }
        assert!(asset("../Cargo.toml").is_err());
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"), "nothing from elsewhere");
    }
}

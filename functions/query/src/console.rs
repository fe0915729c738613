//! `GET /ui`: the web console, embedded in this function. The page names the signed-in user and
//! role (the console shows admin controls only to admins; the API enforces it regardless) and
//! loads nothing from anywhere but this API.

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

/// The console's page for `caller`.
pub fn page(caller: &Caller) -> Response<Body> {
    let html = INDEX.replace("{{ROLE}}", caller.role.as_str()).replace("{{USER}}", &escape(&caller.user));
    // Per user: never cached where another user could get it.
    response("text/html; charset=utf-8", html, "private, no-store")
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

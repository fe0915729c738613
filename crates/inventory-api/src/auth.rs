//! Who a request acts for. The Lambda authorizer authenticates the caller and puts its verdict
//! in the authorizer context; every API function reads it back and enforces the role.
//!
//! The authorizer always lets the request through with its verdict: an HTTP API cannot add a
//! `WWW-Authenticate` header to an authorizer's denial, so the functions answer 401/403 themselves.

use lambda_http::aws_lambda_events::apigw::{ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Keys of the authorizer context.
pub const CONTEXT_USER: &str = "user";
pub const CONTEXT_ACCOUNT: &str = "account";
pub const CONTEXT_ROLE: &str = "role";
/// Present only when the request is refused: `unauthenticated`, `forbidden` or `unavailable`.
pub const CONTEXT_DENIED: &str = "denied";
pub const CONTEXT_REASON: &str = "reason";

/// A user's role, as Anchore names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// May post inventory reports.
    InventoryAgent,
    /// May read (every GET).
    ReadOnly,
    /// May do everything, including DELETE and managing subscriptions.
    Admin,
    /// May post scanners' findings and nothing else (a scan worker's credentials).
    Scanner,
    /// May read, annotate findings (VEX) and approve others' annotations.
    VexApprover,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Any authenticated user, whatever the role.
    Authenticated,
    PostReports,
    PostFindings,
    Read,
    Manage,
    /// Create, change and delete VEX annotations.
    Annotate,
    /// Approve another user's pending VEX annotation.
    Approve,
    /// Manage one's own API keys: people's roles, not the agents' and scanners' (an admin
    /// makes theirs).
    OwnKeys,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::InventoryAgent, Role::ReadOnly, Role::Admin, Role::Scanner, Role::VexApprover];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::InventoryAgent => "inventory-agent",
            Role::ReadOnly => "read-only",
            Role::Admin => "admin",
            Role::Scanner => "scanner",
            Role::VexApprover => "vex-approver",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == value)
    }

    pub fn allows(self, permission: Permission) -> bool {
        matches!(
            (self, permission),
            (Role::Admin, _)
                | (_, Permission::Authenticated)
                | (Role::InventoryAgent, Permission::PostReports)
                | (Role::ReadOnly, Permission::Read | Permission::OwnKeys)
                | (Role::Scanner, Permission::PostFindings)
                | (
                    Role::VexApprover,
                    Permission::Read | Permission::Annotate | Permission::Approve | Permission::OwnKeys
                )
        )
    }
}

/// The single sign-on provider's issuer, the variable both the authorizer (which verifies its
/// tokens) and the console (which signs in through it) read; empty: no single sign-on.
pub const OIDC_ISSUER: &str = "OIDC_ISSUER";

/// The token of `Authorization: Bearer <token>` (the scheme in any case), if that is the scheme:
/// what the authorizer verifies, and what exempts a request from the cross-site rules.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// An authenticated caller and the account it acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub account: String,
    pub role: Role,
}

/// The authorizer's decision about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed(Caller),
    /// Missing, malformed or wrong credentials: 401.
    Unauthenticated(String),
    /// Valid credentials for a user that may not act on the requested account: 403.
    Forbidden(String),
    /// The user store could not be read: 503, the client retries.
    Unavailable(String),
}

impl Verdict {
    /// The authorizer context that carries this verdict to the function.
    pub fn to_context(&self) -> Map<String, Value> {
        let mut context = Map::new();
        let (denied, reason) = match self {
            Verdict::Allowed(caller) => {
                context.insert(CONTEXT_USER.into(), caller.user.clone().into());
                context.insert(CONTEXT_ACCOUNT.into(), caller.account.clone().into());
                context.insert(CONTEXT_ROLE.into(), caller.role.as_str().into());
                return context;
            }
            Verdict::Unauthenticated(reason) => ("unauthenticated", reason),
            Verdict::Forbidden(reason) => ("forbidden", reason),
            Verdict::Unavailable(reason) => ("unavailable", reason),
        };
        context.insert(CONTEXT_DENIED.into(), denied.into());
        context.insert(CONTEXT_REASON.into(), reason.clone().into());
        context
    }

    /// Reads a verdict back from an authorizer context. Anything incomplete is refused, so a
    /// route deployed without the authorizer fails closed.
    pub fn from_context(context: Option<&HashMap<String, Value>>) -> Verdict {
        let Some(context) = context.filter(|context| !context.is_empty()) else {
            return Verdict::Unauthenticated("no credentials were checked for this request".into());
        };
        let text = |key: &str| context.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let reason = text(CONTEXT_REASON);
        match context.get(CONTEXT_DENIED).and_then(Value::as_str) {
            Some("forbidden") => return Verdict::Forbidden(reason),
            Some("unavailable") => return Verdict::Unavailable(reason),
            Some(_) => return Verdict::Unauthenticated(reason),
            None => {}
        }
        let (user, account) = (text(CONTEXT_USER), text(CONTEXT_ACCOUNT));
        match Role::parse(&text(CONTEXT_ROLE)) {
            Some(role) if !user.is_empty() && inventory_core::names::Account::is_valid(&account) => {
                Verdict::Allowed(Caller { user, account, role })
            }
            _ => Verdict::Unauthenticated("the authorizer context is incomplete".into()),
        }
    }

    /// The verdict API Gateway attached to a request.
    pub fn of_request(request: &Request) -> Verdict {
        let context = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => {
                context.authorizer.as_ref().map(|authorizer| &authorizer.fields)
            }
            _ => None,
        };
        Verdict::from_context(context)
    }

    /// Attaches this verdict as API Gateway would after running the authorizer (local stack).
    pub fn attach(&self, request: Request) -> Request {
        let mut context = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context.clone(),
            _ => ApiGatewayV2httpRequestContext::default(),
        };
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.fields = self.to_context().into_iter().collect();
        context.authorizer = Some(authorizer);
        request.with_request_context(RequestContext::ApiGatewayV2(context))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller { user: "ci-agent".into(), account: "team-a".into(), role }
    }

    #[test]
    fn roles_grant_what_anchore_grants() {
        use Permission::*;
        let granted = |role: Role| {
            [PostReports, Read, Manage, OwnKeys].into_iter().filter(|p| role.allows(*p)).collect::<Vec<_>>()
        };
        assert_eq!(granted(Role::InventoryAgent), [PostReports]);
        assert_eq!(granted(Role::ReadOnly), [Read, OwnKeys]);
        assert_eq!(granted(Role::Admin), [PostReports, Read, Manage, OwnKeys]);
        assert_eq!(granted(Role::Scanner), []);
        assert_eq!(granted(Role::VexApprover), [Read, OwnKeys]);
        assert_eq!(Role::parse("read-only"), Some(Role::ReadOnly));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn verdicts_survive_the_authorizer_context() {
        for verdict in [
            Verdict::Allowed(caller(Role::InventoryAgent)),
            Verdict::Unauthenticated("wrong password".into()),
            Verdict::Forbidden("not a member of team-b".into()),
            Verdict::Unavailable("SSM throttled".into()),
        ] {
            let context: HashMap<String, Value> = verdict.to_context().into_iter().collect();
            assert_eq!(Verdict::from_context(Some(&context)), verdict);
        }
    }

    #[test]
    fn a_missing_or_forged_context_is_refused() {
        assert!(matches!(Verdict::from_context(None), Verdict::Unauthenticated(_)));
        assert!(matches!(Verdict::from_context(Some(&HashMap::new())), Verdict::Unauthenticated(_)));
        let mut context: HashMap<String, Value> =
            Verdict::Allowed(caller(Role::Admin)).to_context().into_iter().collect();
        context.insert(CONTEXT_ROLE.into(), "superuser".into());
        assert!(matches!(Verdict::from_context(Some(&context)), Verdict::Unauthenticated(_)));
        context.insert(CONTEXT_ROLE.into(), "admin".into());
        context.insert(CONTEXT_ACCOUNT.into(), "a#b".into());
        assert!(matches!(Verdict::from_context(Some(&context)), Verdict::Unauthenticated(_)));
    }
}

/// The account the collector stores under unless configured otherwise.
pub const DEFAULT_ACCOUNT: &str = "admin";

//! The authorizer's decision: who is calling and which account the request acts on.
//! Users read from SSM and passwords already verified are cached for a bounded time (`cache`),
//! so a busy agent costs one SSM read and one Argon2 check per cache period, not one per request,
//! and callers guessing names cannot take that away from it.

use crate::cache::{Cached, LookupBudget, RecordCache, MAX_KEY_CACHE, STALE_GRACE};
use crate::credentials::BasicCredentials;
use crate::oidc::{self, RoleMapping, TokenError, MAX_TOKEN_BYTES};
use crate::provider::{OidcProvider, ProviderError};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::header::AUTHORIZATION;
use http::HeaderMap;
use inventory_api::auth::{bearer_token, Caller, Role, Verdict};
use inventory_api::http::ACCOUNT_HEADER;
use inventory_core::api_keys::{value_hash, KeyStatus, StoredApiKey, API_KEY_USER, MAX_API_KEY_VALUE_BYTES};
use inventory_core::clock::Clock;
use inventory_identity::api_keys::SsmApiKeys;
use inventory_identity::password::{verify_against_nothing, verify_password};
use inventory_identity::users::{is_valid_user_name, SsmUsers, UserRecord};
use inventory_identity::IdentityError;
use password_hash::rand_core::{OsRng, RngCore};
use serde_json::{Map, Value};
use sha2::Sha256;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use subtle::ConstantTimeEq;

const WRONG_CREDENTIALS: &str = "wrong user name or password";
const WRONG_KEY: &str = "the API key is unknown, expired or revoked";
const STORE_UNREADABLE: &str = "the user store could not be read";

/// What the authorizer remembers between requests (`cache`).
struct Remembered {
    users: RecordCache<UserRecord>,
    keys: RecordCache<StoredApiKey>,
    lookups: LookupBudget,
}

/// A record found by name, and the password digest last verified against it (users only).
type Found<R> = (Option<Arc<R>>, Option<[u8; 32]>);

pub struct Authorizer {
    users: SsmUsers,
    keys: SsmApiKeys,
    /// Single sign-on's provider, when one is configured.
    oidc: Option<OidcProvider>,
    remembered: Mutex<Remembered>,
    clock: Arc<dyn Clock>,
    /// Per-process key for the verified-password digests; never leaves memory.
    digest_key: [u8; 32],
}

impl Authorizer {
    /// `ttl` of zero disables caching: every request reads SSM and verifies the hash. Keys are
    /// cached for `ttl` but never past `MAX_KEY_CACHE`.
    pub fn new(users: SsmUsers, keys: SsmApiKeys, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self::with_oidc(users, keys, None, ttl, clock)
    }

    /// `new`, also accepting bearer tokens from `oidc`'s provider.
    pub fn with_oidc(
        users: SsmUsers,
        keys: SsmApiKeys,
        oidc: Option<OidcProvider>,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut digest_key = [0u8; 32];
        OsRng.fill_bytes(&mut digest_key);
        let remembered = Remembered {
            users: RecordCache::new(ttl, STALE_GRACE),
            keys: RecordCache::new(ttl.min(MAX_KEY_CACHE), Duration::ZERO),
            lookups: LookupBudget::new(ttl),
        };
        Self { users, keys, oidc, remembered: Mutex::new(remembered), clock, digest_key }
    }

    fn digest(&self, user: &str, password: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.digest_key).expect("HMAC takes any key length");
        mac.update(user.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn remembered(&self) -> MutexGuard<'_, Remembered> {
        self.remembered.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decides a request from its headers, as API Gateway hands them to the authorizer.
    pub async fn decide_headers(&self, headers: &HeaderMap) -> Verdict {
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        self.decide(header(AUTHORIZATION.as_str()), header(ACCOUNT_HEADER)).await
    }

    /// Decides a request from its `Authorization` and `x-anchore-account` headers.
    pub async fn decide(&self, authorization: Option<&str>, requested_account: Option<&str>) -> Verdict {
        if let Some(token) = authorization.and_then(bearer_token) {
            return match self.token_caller(token).await {
                Ok((user, mapping, rule)) => {
                    let rule = &mapping.rules[rule];
                    act_on(user, rule.role, &rule.accounts, requested_account)
                }
                Err(verdict) => verdict,
            };
        }
        let credentials = match BasicCredentials::parse(authorization) {
            Ok(credentials) => credentials,
            Err(error) => return Verdict::Unauthenticated(error.to_string()),
        };
        let found = if credentials.user == API_KEY_USER {
            self.key_user(&credentials.password).await
        } else {
            self.password_user(credentials).await
        };
        match found {
            Ok((user, record)) => act_on(user, record.role, &record.accounts, requested_account),
            Err(verdict) => verdict,
        }
    }

    /// The caller a bearer token names and the mapping rule its groups match: its claims from
    /// the tokens verified before, or verified now against the provider's keys.
    async fn token_caller(&self, token: &str) -> Result<(String, Arc<RoleMapping>, usize), Verdict> {
        let Some(provider) = &self.oidc else {
            return Err(Verdict::Unauthenticated("single sign-on is not configured: send HTTP basic auth".into()));
        };
        if token.len() > MAX_TOKEN_BYTES {
            return Err(refused(TokenError::TooLarge));
        }
        let now = self.clock.now();
        let digest = self.digest("\0bearer", token);
        let claims = match provider.remembered(&digest, now) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(verify_with(provider, token, now).await?);
                provider.remember(digest, Arc::clone(&claims), now);
                claims
            }
        };
        let mapping = provider.mapping().await.map_err(|error| {
            tracing::error!(%error, "the OIDC role mapping could not be read");
            Verdict::Unavailable("the role mapping could not be read".into())
        })?;
        let Some(user) = oidc::username(&claims, &provider.settings.username_claim) else {
            return Err(Verdict::Unauthenticated("the token names no caller (no sub)".into()));
        };
        match mapping.rule_for(&claims) {
            Some(rule) => Ok((user.to_owned(), Arc::clone(&mapping), rule)),
            None => Err(Verdict::Forbidden(format!(
                "no rule of OidcRoleMapping matches the groups of {user:?} (claim {:?})",
                mapping.claim
            ))),
        }
    }

    /// The user whose password this is.
    async fn password_user(&self, credentials: BasicCredentials) -> Result<(String, Arc<UserRecord>), Verdict> {
        // A name no user can have costs neither SSM nor Argon2.
        if !is_valid_user_name(&credentials.user) {
            return Err(Verdict::Unauthenticated(WRONG_CREDENTIALS.into()));
        }
        let (record, verified) = self.user(&credentials.user).await?;
        let Some(record) = record else {
            let password = credentials.password;
            let _ = tokio::task::spawn_blocking(move || verify_against_nothing(&password)).await;
            return Err(Verdict::Unauthenticated(WRONG_CREDENTIALS.into()));
        };
        let digest = self.digest(&credentials.user, &credentials.password);
        let known = verified.is_some_and(|verified| bool::from(verified.ct_eq(&digest)));
        if !known {
            let (password, hash) = (credentials.password, record.password_hash.clone());
            let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
            if !matches {
                return Err(Verdict::Unauthenticated(WRONG_CREDENTIALS.into()));
            }
            self.remembered().users.mark_verified(&credentials.user, &record, digest);
        }
        Ok((credentials.user, record))
    }

    /// The user an API key acts as: the key is found by its value's hash (so no value is ever
    /// compared or kept) and must be active, and its user must still exist.
    async fn key_user(&self, value: &str) -> Result<(String, Arc<UserRecord>), Verdict> {
        if value.is_empty() || value.len() > MAX_API_KEY_VALUE_BYTES {
            return Err(Verdict::Unauthenticated(WRONG_KEY.into()));
        }
        let hash = value_hash(value);
        let (key, _) =
            self.lookup("an API key", &hash, |remembered| &mut remembered.keys, || self.keys.get(&hash)).await?;
        let Some(key) = key else { return Err(Verdict::Unauthenticated(WRONG_KEY.into())) };
        let status = key.status(self.clock.now());
        if status != KeyStatus::Active {
            tracing::info!(user = key.user, key = key.name, ?status, "an API key no longer active was used");
            return Err(Verdict::Unauthenticated(WRONG_KEY.into()));
        }
        match self.user(&key.user).await? {
            (Some(record), _) => Ok((key.user.clone(), record)),
            (None, _) => {
                tracing::info!(user = key.user, key = key.name, "an API key of a user that no longer exists was used");
                Err(Verdict::Unauthenticated(WRONG_KEY.into()))
            }
        }
    }

    async fn user(&self, user: &str) -> Result<Found<UserRecord>, Verdict> {
        self.lookup(user, user, |remembered| &mut remembered.users, || self.users.get(user)).await
    }

    /// A record by name from its cache or, within the lookup budget, SSM; a verdict when
    /// neither can say. `label` names it in logs (a key's hash is never logged).
    async fn lookup<R, F>(
        &self,
        label: &str,
        name: &str,
        cache: impl Fn(&mut Remembered) -> &mut RecordCache<R>,
        read: impl FnOnce() -> F,
    ) -> Result<Found<R>, Verdict>
    where
        F: Future<Output = Result<Option<R>, IdentityError>>,
    {
        let stale = match cache(&mut self.remembered()).get(name) {
            Cached::Known(entry) => return Ok((Some(entry.record), entry.verified)),
            Cached::Unknown => return Ok((None, None)),
            Cached::Miss { stale } => stale,
        };
        let unavailable = |reason: &str| match &stale {
            Some(entry) => Ok((Some(Arc::clone(&entry.record)), entry.verified)),
            None => Err(Verdict::Unavailable(reason.into())),
        };
        if !self.remembered().lookups.take() {
            tracing::warn!(label, "lookups past their rate; an unknown name or key is answered unavailable");
            return unavailable("too many unknown user names or keys at once; retry later");
        }
        match read().await {
            Ok(record) => {
                let record = record.map(Arc::new);
                cache(&mut self.remembered()).remember(name, record.clone());
                Ok((record, None))
            }
            Err(error) => {
                tracing::error!(%error, label, "reading a user or key failed");
                unavailable(STORE_UNREADABLE)
            }
        }
    }
}

fn refused(error: TokenError) -> Verdict {
    Verdict::Unauthenticated(format!("the bearer token is refused: {error}"))
}

/// A token's claims, verified against the provider's keys; an unknown `kid` fetches them again
/// (at most once a minute).
async fn verify_with(provider: &OidcProvider, token: &str, now: DateTime<Utc>) -> Result<Map<String, Value>, Verdict> {
    let unavailable = |error: ProviderError| {
        tracing::error!(%error, "the OIDC provider's keys or the audience could not be read");
        Verdict::Unavailable("the identity provider's keys could not be fetched".into())
    };
    let expect = provider.expectations().await.map_err(unavailable)?;
    let jwks = provider.jwks(false).await.map_err(unavailable)?.unwrap_or_default();
    match oidc::verify(token, &jwks, &expect, now) {
        Err(TokenError::UnknownKey) => match provider.jwks(true).await.map_err(unavailable)? {
            Some(jwks) => oidc::verify(token, &jwks, &expect, now).map_err(refused),
            None => Err(refused(TokenError::UnknownKey)),
        },
        verified => verified.map_err(refused),
    }
}

/// The caller acting on the account it asked for (`x-anchore-account`), if it is one of
/// `accounts`, else on the first of them.
fn act_on(user: String, role: Role, accounts: &[String], requested: Option<&str>) -> Verdict {
    let account = match requested.map(str::trim).filter(|account| !account.is_empty()) {
        None => match accounts.first() {
            Some(account) => account.clone(),
            None => return Verdict::Forbidden(format!("user {user:?} has no account")),
        },
        Some(account) if accounts.iter().any(|member| member == account) => account.to_owned(),
        Some(account) => return Verdict::Forbidden(format!("user {user:?} may not act on account {account:?}")),
    };
    Verdict::Allowed(Caller { user, account, role })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ssm::operation::get_parameter::{GetParameterError, GetParameterOutput};
    use aws_sdk_ssm::types::error::ParameterNotFound;
    use aws_sdk_ssm::types::Parameter;
    use aws_sdk_ssm::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use base64::Engine;
    use inventory_api::auth::Role;
    use inventory_core::clock::ManualClock;
    use inventory_identity::password::hash_password;
    use std::sync::OnceLock;

    const PASSWORD: &str = "correct horse battery";

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    }

    fn stored_record() -> String {
        static HASH: OnceLock<String> = OnceLock::new();
        let hash = HASH.get_or_init(|| hash_password(PASSWORD).unwrap());
        serde_json::json!({"password_hash": hash, "accounts": ["team-a", "team-b"], "role": "read-only"}).to_string()
    }

    /// SSM knowing only `/users/reader`.
    fn users_rule() -> Rule {
        mock!(Client::get_parameter).then_compute_output(|input| {
            assert_eq!(input.with_decryption(), Some(true), "SecureStrings are read decrypted");
            let value = (input.name() == Some("/users/reader")).then(stored_record);
            GetParameterOutput::builder()
                .set_parameter(value.map(|value| Parameter::builder().value(value).build()))
                .build()
        })
    }

    fn not_found_rule() -> Rule {
        mock!(Client::get_parameter)
            .match_requests(|input| input.name() != Some("/users/reader"))
            .then_error(|| GetParameterError::ParameterNotFound(ParameterNotFound::builder().build()))
    }

    fn authorizer(rules: &[&Rule], ttl: Duration) -> Authorizer {
        let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, rules);
        on(client, ttl)
    }

    fn on(client: Client, ttl: Duration) -> Authorizer {
        let clock = Arc::new(ManualClock::new(now()));
        Authorizer::new(SsmUsers::new(client.clone(), "/users/"), SsmApiKeys::new(client, "/keys"), ttl, clock)
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z").unwrap().into()
    }

    const KEY_VALUE: &str = "ri_0123456789abcdef0123456789abcdef0123456789a";

    /// The key `KEY_VALUE` of `reader` as SSM holds it now (`None`: deleted).
    type StoredKey = Arc<std::sync::Mutex<Option<StoredApiKey>>>;

    fn stored_key(expires_at: &str) -> StoredKey {
        let key = serde_json::from_value(serde_json::json!({
            "name": "pipeline", "user": "reader", "expires_at": expires_at, "created_at": "2026-12-01T00:00:00Z",
            "updated_at": "2026-12-01T00:00:00Z", "version": 1
        }))
        .unwrap();
        Arc::new(std::sync::Mutex::new(Some(key)))
    }

    fn key_rule(key: &StoredKey) -> Rule {
        let key = Arc::clone(key);
        let name = format!("/keys/by-hash/{}", value_hash(KEY_VALUE));
        mock!(Client::get_parameter)
            .match_requests(move |input| input.name() == Some(name.as_str()))
            .then_compute_output(move |_| {
                let value = key.lock().unwrap().as_ref().map(|key| serde_json::to_string(key).unwrap());
                GetParameterOutput::builder()
                    .set_parameter(value.map(|value| Parameter::builder().value(value).build()))
                    .build()
            })
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_acts_as_its_user_and_a_revoked_one_is_refused_within_a_minute() {
        let key = stored_key("2027-01-01T00:00:00Z");
        let (keys, not_found, users) = (key_rule(&key), not_found_rule(), users_rule());
        // Users cached for 15 minutes: keys still for one at most.
        let authorizer = authorizer(&[&keys, &not_found, &users], Duration::from_secs(900));
        let header = basic(API_KEY_USER, KEY_VALUE);
        let reader = Caller { user: "reader".into(), account: "team-b".into(), role: Role::ReadOnly };
        assert_eq!(authorizer.decide(Some(&header), Some("team-b")).await, Verdict::Allowed(reader));
        assert!(matches!(authorizer.decide(Some(&header), Some("team-c")).await, Verdict::Forbidden(_)));
        assert_eq!((keys.num_calls(), users.num_calls()), (1, 1), "the key and its user read once");
        key.lock().unwrap().as_mut().unwrap().revoked = true;
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)), "cached");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(authorizer.decide(Some(&header), None).await, Verdict::Unauthenticated(WRONG_KEY.into()));
        assert_eq!(keys.num_calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_is_not_served_stale_when_ssm_cannot_be_read() {
        let key = stored_key("2027-01-01T00:00:00Z");
        let (keys, users) = (key_rule(&key), users_rule());
        let throttled =
            mock!(Client::get_parameter).sequence().http_response(|| throttling_response()).repeatedly().build();
        let client = mock_client!(aws_sdk_ssm, RuleMode::Sequential, [&keys, &users, &throttled]);
        let authorizer = on(client, Duration::from_secs(60));
        let header = basic(API_KEY_USER, KEY_VALUE);
        assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Unavailable(_)));
        let password = basic("reader", PASSWORD);
        assert!(
            matches!(authorizer.decide(Some(&password), None).await, Verdict::Allowed(_)),
            "a user is, for a while"
        );
    }

    #[tokio::test]
    async fn expired_empty_oversized_and_unknown_keys_are_refused_alike() {
        let key = stored_key("2026-12-07T11:59:59Z");
        let (keys, not_found, users) = (key_rule(&key), not_found_rule(), users_rule());
        let authorizer = authorizer(&[&keys, &not_found, &users], Duration::from_secs(60));
        let refused = Verdict::Unauthenticated(WRONG_KEY.into());
        assert_eq!(authorizer.decide(Some(&basic(API_KEY_USER, KEY_VALUE)), None).await, refused, "expired");
        assert_eq!(keys.num_calls(), 1);
        assert_eq!(authorizer.decide(Some(&basic(API_KEY_USER, "ri_guess")), None).await, refused, "unknown");
        assert_eq!(not_found.num_calls(), 1, "an unknown key is one read, like an unknown user");
        for value in [String::new(), "k".repeat(10 * 1024)] {
            assert_eq!(authorizer.decide(Some(&basic(API_KEY_USER, &value)), None).await, refused);
        }
        assert_eq!(keys.num_calls() + not_found.num_calls() + users.num_calls(), 2, "no read for those");
        // A key whose user is gone.
        *key.lock().unwrap() = stored_key("2027-01-01T00:00:00Z").lock().unwrap().clone().map(|mut key| {
            key.user = "gone".into();
            key
        });
        let fresh = self::authorizer(&[&keys, &not_found, &users], Duration::from_secs(60));
        assert_eq!(fresh.decide(Some(&basic(API_KEY_USER, KEY_VALUE)), None).await, refused);
    }

    #[tokio::test]
    async fn a_user_acts_on_its_first_account_or_the_one_it_names() {
        let (not_found, users) = (not_found_rule(), users_rule());
        let authorizer = authorizer(&[&not_found, &users], Duration::from_secs(60));
        let header = basic("reader", PASSWORD);
        let caller = |account: &str| Caller { user: "reader".into(), account: account.into(), role: Role::ReadOnly };
        assert_eq!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(caller("team-a")));
        assert_eq!(authorizer.decide(Some(&header), Some(" team-b ")).await, Verdict::Allowed(caller("team-b")));
        assert!(
            matches!(authorizer.decide(Some(&header), Some("team-c")).await, Verdict::Forbidden(reason) if reason.contains("team-c"))
        );
    }

    #[tokio::test]
    async fn wrong_credentials_are_unauthenticated_alike() {
        let (not_found, users) = (not_found_rule(), users_rule());
        let authorizer = authorizer(&[&not_found, &users], Duration::from_secs(60));
        let wrong_password = authorizer.decide(Some(&basic("reader", "guess")), None).await;
        let unknown_user = authorizer.decide(Some(&basic("nobody", PASSWORD)), None).await;
        let bad_name = authorizer.decide(Some(&basic("../reader", PASSWORD)), None).await;
        // The same answer whether the user exists or not.
        assert_eq!(wrong_password, Verdict::Unauthenticated(WRONG_CREDENTIALS.into()));
        assert_eq!(unknown_user, wrong_password);
        assert_eq!(bad_name, wrong_password);
        assert!(
            matches!(authorizer.decide(None, None).await, Verdict::Unauthenticated(reason) if reason.contains("no credentials"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn users_are_cached_for_the_configured_time() {
        let (not_found, users) = (not_found_rule(), users_rule());
        let authorizer = authorizer(&[&not_found, &users], Duration::from_secs(60));
        let header = basic("reader", PASSWORD);
        for _ in 0..3 {
            assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)));
            assert!(matches!(authorizer.decide(Some(&basic("nobody", "x")), None).await, Verdict::Unauthenticated(_)));
        }
        assert_eq!((users.num_calls(), not_found.num_calls()), (1, 1), "one SSM read per user per period");
        // A verified password is remembered, a wrong one never is.
        assert!(matches!(authorizer.decide(Some(&basic("reader", "guess")), None).await, Verdict::Unauthenticated(_)));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)));
        assert_eq!(users.num_calls(), 2, "read again once the period is over");
    }

    #[tokio::test]
    async fn a_zero_period_reads_every_time() {
        let (not_found, users) = (not_found_rule(), users_rule());
        let authorizer = authorizer(&[&not_found, &users], Duration::ZERO);
        for _ in 0..2 {
            assert!(matches!(authorizer.decide(Some(&basic("reader", PASSWORD)), None).await, Verdict::Allowed(_)));
        }
        assert_eq!(users.num_calls(), 2);
    }

    fn throttling_response() -> aws_smithy_runtime_api::http::Response {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
        )
    }

    #[tokio::test]
    async fn an_unreadable_user_store_is_unavailable_not_unauthenticated() {
        let throttled = mock!(Client::get_parameter).then_http_response(throttling_response);
        let authorizer = authorizer(&[&throttled], Duration::from_secs(60));
        let verdict = authorizer.decide(Some(&basic("reader", PASSWORD)), None).await;
        assert!(matches!(verdict, Verdict::Unavailable(_)), "{verdict:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn guessed_names_neither_evict_known_users_nor_exceed_the_lookup_rate() {
        use crate::cache::{LOOKUPS_PER_SECOND, LOOKUP_BURST};
        let (not_found, users) = (not_found_rule(), users_rule());
        let authorizer = authorizer(&[&not_found, &users], Duration::from_secs(60));
        let header = basic("reader", PASSWORD);
        assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)));
        // Guessed names at 100 a second for 20 seconds.
        let guesses = 2000;
        let (mut refused, mut unavailable) = (0, 0);
        for n in 0..guesses {
            match authorizer.decide(Some(&basic(&format!("guess-{n}"), "x")), None).await {
                Verdict::Unauthenticated(_) => refused += 1,
                Verdict::Unavailable(_) => unavailable += 1,
                other => panic!("{other:?}"),
            }
            if n % 100 == 99 {
                tokio::time::advance(Duration::from_secs(1)).await;
                assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)));
            }
        }
        // SSM was asked at the bounded rate only, the known user once in all: a burst (less the
        // known user's read) and 19 seconds' refill before the last of the guesses.
        let lookups = (LOOKUP_BURST - 1.0 + LOOKUPS_PER_SECOND * 19.0) as usize;
        assert_eq!((not_found.num_calls(), users.num_calls()), (lookups, 1));
        assert_eq!((refused, unavailable), (lookups, guesses - lookups));
        // A cached unknown name costs no lookup either.
        assert!(matches!(authorizer.decide(Some(&basic("guess-0", "x")), None).await, Verdict::Unauthenticated(_)));
        assert_eq!(not_found.num_calls(), lookups);
        // A name that cannot exist costs nothing at all.
        assert!(matches!(authorizer.decide(Some(&basic("a/b", "x")), None).await, Verdict::Unauthenticated(_)));
        assert_eq!(not_found.num_calls() + users.num_calls(), lookups + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_known_user_outlives_an_unreadable_user_store_for_a_grace_period() {
        use crate::cache::STALE_GRACE;
        let users = users_rule();
        let throttled =
            mock!(Client::get_parameter).sequence().http_response(|| throttling_response()).repeatedly().build();
        let client = mock_client!(aws_sdk_ssm, RuleMode::Sequential, [&users, &throttled]);
        let authorizer = on(client, Duration::from_secs(60));
        let header = basic("reader", PASSWORD);
        assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(
            matches!(authorizer.decide(Some(&header), None).await, Verdict::Allowed(_)),
            "served while SSM throttles"
        );
        assert!(matches!(authorizer.decide(Some(&basic("reader", "guess")), None).await, Verdict::Unauthenticated(_)));
        tokio::time::advance(STALE_GRACE).await;
        assert!(matches!(authorizer.decide(Some(&header), None).await, Verdict::Unavailable(_)), "not past the grace");
        assert_eq!(users.num_calls(), 1);
        assert!(throttled.num_calls() >= 3, "each of the three later requests asked SSM");
    }
}

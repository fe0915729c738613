//! The authorizer's decision: who is calling and which account the request acts on.
//! Users read from SSM and passwords already verified are cached for a bounded time (`cache`),
//! so a busy agent costs one SSM read and one Argon2 check per cache period, not one per request,
//! and callers guessing names cannot take that away from it.

use crate::cache::{Cached, UserCache};
use crate::credentials::BasicCredentials;
use crate::password::{verify_against_nothing, verify_password};
use crate::users::{is_valid_user_name, SsmUsers, UserRecord};
use hmac::{Hmac, Mac};
use http::header::AUTHORIZATION;
use http::HeaderMap;
use inventory_api::auth::{Caller, Verdict};
use inventory_api::http::ACCOUNT_HEADER;
use password_hash::rand_core::{OsRng, RngCore};
use sha2::Sha256;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use subtle::ConstantTimeEq;

const WRONG_CREDENTIALS: &str = "wrong user name or password";
const STORE_UNREADABLE: &str = "the user store could not be read";

pub struct Authorizer {
    users: SsmUsers,
    cache: Mutex<UserCache>,
    /// Per-process key for the verified-password digests; never leaves memory.
    digest_key: [u8; 32],
}

impl Authorizer {
    /// `ttl` of zero disables caching: every request reads SSM and verifies the hash.
    pub fn new(users: SsmUsers, ttl: Duration) -> Self {
        let mut digest_key = [0u8; 32];
        OsRng.fill_bytes(&mut digest_key);
        Self { users, cache: Mutex::new(UserCache::new(ttl)), digest_key }
    }

    fn digest(&self, user: &str, password: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.digest_key).expect("HMAC takes any key length");
        mac.update(user.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cache(&self) -> MutexGuard<'_, UserCache> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decides a request from its headers, as API Gateway hands them to the authorizer.
    pub async fn decide_headers(&self, headers: &HeaderMap) -> Verdict {
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        self.decide(header(AUTHORIZATION.as_str()), header(ACCOUNT_HEADER)).await
    }

    /// Decides a request from its `Authorization` and `x-anchore-account` headers.
    pub async fn decide(&self, authorization: Option<&str>, requested_account: Option<&str>) -> Verdict {
        let credentials = match BasicCredentials::parse(authorization) {
            Ok(credentials) => credentials,
            Err(error) => return Verdict::Unauthenticated(error.to_string()),
        };
        // A name no user can have costs neither SSM nor Argon2.
        if !is_valid_user_name(&credentials.user) {
            return Verdict::Unauthenticated(WRONG_CREDENTIALS.into());
        }
        let (record, verified) = match self.user(&credentials.user).await {
            Ok(found) => found,
            Err(verdict) => return verdict,
        };
        let Some(record) = record else {
            let password = credentials.password;
            let _ = tokio::task::spawn_blocking(move || verify_against_nothing(&password)).await;
            return Verdict::Unauthenticated(WRONG_CREDENTIALS.into());
        };
        let digest = self.digest(&credentials.user, &credentials.password);
        let known = verified.is_some_and(|verified| bool::from(verified.ct_eq(&digest)));
        if !known {
            let (password, hash) = (credentials.password, record.password_hash.clone());
            let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
            if !matches {
                return Verdict::Unauthenticated(WRONG_CREDENTIALS.into());
            }
            self.cache().mark_verified(&credentials.user, &record, digest);
        }
        let account = match requested_account.map(str::trim).filter(|account| !account.is_empty()) {
            None => record.accounts[0].clone(),
            Some(account) if record.accounts.iter().any(|member| member == account) => account.to_owned(),
            Some(account) => {
                return Verdict::Forbidden(format!("user {:?} may not act on account {account:?}", credentials.user))
            }
        };
        Verdict::Allowed(Caller { user: credentials.user, account, role: record.role })
    }

    /// The user's record (`None`: no such user) and the password digest last verified against
    /// it, from the cache or SSM; a verdict when neither can say.
    async fn user(&self, user: &str) -> Result<(Option<Arc<UserRecord>>, Option<[u8; 32]>), Verdict> {
        let stale = match self.cache().get(user) {
            Cached::Known(entry) => return Ok((Some(entry.record), entry.verified)),
            Cached::Unknown => return Ok((None, None)),
            Cached::Miss { stale } => stale,
        };
        let unavailable = |reason: &str| match &stale {
            Some(entry) => Ok((Some(Arc::clone(&entry.record)), entry.verified)),
            None => Err(Verdict::Unavailable(reason.into())),
        };
        if !self.cache().take_lookup() {
            tracing::warn!(user, "user lookups past their rate; an unknown name is answered unavailable");
            return unavailable("too many unknown user names at once; retry later");
        }
        match self.users.get(user).await {
            Ok(record) => {
                let record = record.map(Arc::new);
                self.cache().remember(user, record.clone());
                Ok((record, None))
            }
            Err(error) => {
                tracing::error!(%error, user, "reading the user failed");
                unavailable(STORE_UNREADABLE)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::hash_password;
    use aws_sdk_ssm::operation::get_parameter::{GetParameterError, GetParameterOutput};
    use aws_sdk_ssm::types::error::ParameterNotFound;
    use aws_sdk_ssm::types::Parameter;
    use aws_sdk_ssm::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use base64::Engine;
    use inventory_api::auth::Role;
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
        Authorizer::new(SsmUsers::new(client, "/users/"), ttl)
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
        let authorizer = Authorizer::new(SsmUsers::new(client, "/users/"), Duration::from_secs(60));
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

//! CPU cost of deciding one request, side by side in one process: a user's first request (one
//! Argon2id check), and then, each per decision with its median and p99, a password already
//! verified (an HMAC and a constant-time compare: the baseline), an API key within its cache
//! period (a SHA-256 of the value and a lookup), a bearer token seen before (a keyed hash of the
//! token and a lookup) and a bearer token seen for the first time with the provider's keys cached
//! (an ES256 signature check). SSM is scripted and the keys preloaded, so only the authorizer's
//! own work is timed. Run with `make bench`; numbers are in BENCHMARKS.md.

use authorizer::decide::Authorizer;
use authorizer::oidc::Jwks;
use authorizer::provider::{OidcProvider, OidcSettings};
use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
use aws_sdk_ssm::types::Parameter;
use aws_sdk_ssm::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use inventory_api::auth::Verdict;
use inventory_core::api_keys::value_hash;
use inventory_identity::api_keys::SsmApiKeys;
use inventory_identity::password::hash_password;
use inventory_identity::users::SsmUsers;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "ri_0123456789abcdef0123456789abcdef0123456789a";
const ISSUER: &str = "https://idp.example.com";

/// `cargo bench` passes `--bench`; under `cargo test` a few decisions check the bench still works.
fn decisions() -> usize {
    if std::env::args().any(|arg| arg == "--bench") {
        20_000
    } else {
        10
    }
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * fraction) as usize]
}

fn token(pair: &EcdsaKeyPair, n: usize) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": ISSUER, "aud": "console", "sub": format!("user-{n}"), "email": "a@example.com",
        "groups": ["readers"], "iat": now, "exp": now + 3600});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": "k1"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = pair.sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

#[tokio::main]
async fn main() {
    let record =
        json!({"password_hash": hash_password("bench password").unwrap(), "accounts": ["admin"], "role": "read-only"})
            .to_string();
    let key = json!({"name": "ci", "user": "agent", "expires_at": "2099-01-01T00:00:00Z",
        "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z", "version": 1})
    .to_string();
    let mapping = r#"{"claim": "groups", "rules": [{"group": "readers", "role": "read-only", "accounts": ["admin"]}]}"#;
    let key_name = format!("/k/by-hash/{}", value_hash(KEY));
    let rule = mock!(Client::get_parameter).then_compute_output(move |input| {
        let value = match input.name() {
            Some(name) if name == key_name => key.clone(),
            Some("/oidc-role-mapping") => mapping.to_owned(),
            _ => record.clone(),
        };
        GetParameterOutput::builder().parameter(Parameter::builder().value(value).build()).build()
    });
    let rules = [rule];
    let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &rules);

    let random = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random).unwrap();
    let point = pair.public_key().as_ref();
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}]});
    let settings = OidcSettings {
        issuer: ISSUER.into(),
        audience: inventory_runtime::parameter::ParameterValue::new("console"),
        mapping_parameter: "/oidc-role-mapping".into(),
        username_claim: "email".into(),
    };
    let provider = OidcProvider::new(settings, client.clone(), Duration::from_secs(60));
    provider.preload(Jwks::parse(jwks.to_string().as_bytes()).unwrap()).await;
    let authorizer = Authorizer::with_oidc(
        SsmUsers::new(client.clone(), "/u"),
        SsmApiKeys::new(client, "/k"),
        Some(provider),
        Duration::from_secs(60),
        Arc::new(inventory_core::clock::SystemClock),
    );

    let basic = format!("Basic {}", STANDARD.encode("agent:bench password"));
    let api_key = format!("Basic {}", STANDARD.encode(format!("_api_key:{KEY}")));
    let seen = format!("Bearer {}", token(&pair, 0));
    let fresh: Vec<String> = (1..=decisions()).map(|n| format!("Bearer {}", token(&pair, n))).collect();
    let started = Instant::now();
    assert!(matches!(authorizer.decide(Some(&basic), None).await, Verdict::Allowed(_)));
    let first = started.elapsed();
    for header in [&api_key, &seen] {
        assert!(matches!(authorizer.decide(Some(header), None).await, Verdict::Allowed(_)), "{header}");
    }

    // Interleaved, so that each kind meets the same machine state.
    let mut samples: [Vec<Duration>; 4] = Default::default();
    for n in 0..decisions() {
        for (kind, header) in [&basic, &api_key, &seen, &fresh[n]].into_iter().enumerate() {
            let started = Instant::now();
            let verdict = authorizer.decide(Some(header), None).await;
            samples[kind].push(started.elapsed());
            assert!(matches!(verdict, Verdict::Allowed(_)));
        }
    }
    println!("first request of a user (Argon2id check): {first:?}");
    let baseline = percentile(&mut samples[0], 0.5);
    let names = [
        "password verified before (baseline)",
        "API key within its cache period",
        "bearer token seen before",
        "bearer token, first sight, keys cached",
    ];
    for (name, samples) in names.iter().zip(samples.iter_mut()) {
        let (median, p99) = (percentile(samples, 0.5), percentile(samples, 0.99));
        let ratio = median.as_secs_f64() / baseline.as_secs_f64();
        println!("{name:<42} median {median:>10.2?}  p99 {p99:>10.2?}  {ratio:.2}x the baseline's median");
    }
}

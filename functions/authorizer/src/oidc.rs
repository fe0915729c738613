//! OIDC bearer tokens (issue 37, first step: the checks, not yet wired into the decision): a JWT
//! from one provider, verified against its JWKS, and the role and accounts its group claim maps
//! to. Pure: the keys, the expectations and the time come in.
//!
//! Only asymmetric signatures are accepted (RS256, PS256, ES256): `none` and HS* are refused
//! before any key is looked at, and a key is used only with the algorithm of its type, so a token
//! "signed" with HS256 over the provider's public key proves nothing here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use inventory_api::auth::Role;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A token longer than this is refused unread.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Keys kept of a provider's JWKS (providers publish two or three while they rotate).
pub const MAX_JWKS_KEYS: usize = 32;
/// How far `exp` and `nbf` may be off the authorizer's clock.
pub const LEEWAY: TimeDelta = TimeDelta::seconds(60);

/// Why a token is refused (never what it held).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("the token is not a signed JWT")]
    Malformed,
    #[error("tokens signed with {0} are not accepted; RS256, PS256 and ES256 are")]
    Algorithm(String),
    /// The caller may refetch the JWKS (at most once a minute) and try again.
    #[error("no key of the provider has this token's kid")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    Issuer,
    #[error("the token is for another audience")]
    Audience,
}

/// A verification key of the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
enum VerifyKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// P-256, uncompressed point (`04 || x || y`).
    P256(Vec<u8>),
}

/// A provider's keys by `kid`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: HashMap<String, VerifyKey>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    #[serde(rename = "use")]
    key_use: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl Jwks {
    /// A `jwks_uri` document's signing keys (RSA, EC P-256) with a `kid`; others are left out.
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        let set: JwkSet =
            serde_json::from_slice(json).map_err(|error| format!("the JWKS is not a key set: {error}"))?;
        let mut keys = HashMap::new();
        for jwk in set.keys.into_iter().filter(|jwk| jwk.key_use.as_deref().is_none_or(|key_use| key_use == "sig")) {
            let Some(kid) = jwk.kid else { continue };
            let decode = |part: &Option<String>| part.as_deref().and_then(|part| URL_SAFE_NO_PAD.decode(part).ok());
            let key = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
                ("RSA", _) => match (decode(&jwk.n), decode(&jwk.e)) {
                    (Some(n), Some(e)) => VerifyKey::Rsa { n, e },
                    _ => continue,
                },
                ("EC", Some("P-256")) => match (decode(&jwk.x), decode(&jwk.y)) {
                    (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                        VerifyKey::P256([&[4u8][..], &x, &y].concat())
                    }
                    _ => continue,
                },
                _ => continue,
            };
            if keys.len() == MAX_JWKS_KEYS {
                break;
            }
            keys.insert(kid, key);
        }
        Ok(Self { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What a token must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    pub issuer: String,
    pub audience: String,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

fn part(text: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| TokenError::Malformed)
}

/// A token's claims, once its signature, issuer, audience and times hold at `now`.
pub fn verify(
    token: &str,
    jwks: &Jwks,
    expect: &Expectations,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Header = serde_json::from_slice(&part(header)?).map_err(|_| TokenError::Malformed)?;
    if !matches!(header.alg.as_str(), "RS256" | "PS256" | "ES256") {
        return Err(TokenError::Algorithm(header.alg.chars().take(16).collect()));
    }
    let key = header.kid.as_ref().and_then(|kid| jwks.keys.get(kid)).ok_or(TokenError::UnknownKey)?;
    let signed = token[..header_and_payload_len(token)].as_bytes();
    let signature = part(signature)?;
    // A key verifies only with an algorithm of its own type.
    let verified = match (key, header.alg.as_str()) {
        (VerifyKey::Rsa { n, e }, "RS256") => {
            RsaPublicKeyComponents { n, e }.verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, &signature).is_ok()
        }
        (VerifyKey::Rsa { n, e }, "PS256") => {
            RsaPublicKeyComponents { n, e }.verify(&signature::RSA_PSS_2048_8192_SHA256, signed, &signature).is_ok()
        }
        (VerifyKey::P256(point), "ES256") => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(signed, &signature).is_ok()
        }
        _ => false,
    };
    if !verified {
        return Err(TokenError::Signature);
    }
    let claims: Map<String, Value> = serde_json::from_slice(&part(payload)?).map_err(|_| TokenError::Malformed)?;
    check_claims(&claims, expect, now)?;
    Ok(claims)
}

/// The length of `header.payload`, the signed part.
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn check_claims(claims: &Map<String, Value>, expect: &Expectations, now: DateTime<Utc>) -> Result<(), TokenError> {
    if claims.get("iss").and_then(Value::as_str) != Some(expect.issuer.as_str()) {
        return Err(TokenError::Issuer);
    }
    let audience = match claims.get("aud") {
        Some(Value::String(audience)) => audience == &expect.audience,
        Some(Value::Array(audiences)) => audiences.iter().any(|audience| audience.as_str() == Some(&expect.audience)),
        _ => false,
    };
    if !audience {
        return Err(TokenError::Audience);
    }
    let time =
        |name: &str| claims.get(name).and_then(Value::as_i64).and_then(|seconds| DateTime::from_timestamp(seconds, 0));
    match time("exp") {
        Some(exp) if now < exp + LEEWAY => {}
        _ => return Err(TokenError::Expired),
    }
    if time("nbf").is_some_and(|nbf| now < nbf - LEEWAY) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// `OidcRoleMapping`: which role and accounts a token's groups give.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    /// The claim holding the groups: a list of strings or one string.
    pub claim: String,
    pub rules: Vec<MappingRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingRule {
    pub group: String,
    pub role: Role,
    pub accounts: Vec<String>,
}

impl RoleMapping {
    pub fn parse(json: &str) -> Result<Self, String> {
        let mapping: Self = serde_json::from_str(json).map_err(|error| {
            format!(
                "OidcRoleMapping must be {{\"claim\": …, \"rules\": [{{\"group\", \"role\", \"accounts\"}}]}}: {error}"
            )
        })?;
        if let Some(rule) = mapping.rules.iter().find(|rule| rule.accounts.is_empty()) {
            return Err(format!("OidcRoleMapping: the rule of group {:?} names no account", rule.group));
        }
        Ok(mapping)
    }

    /// The first rule whose group the token has; `None` (403) when none matches.
    pub fn map(&self, claims: &Map<String, Value>) -> Option<&MappingRule> {
        self.rule_for(claims).map(|index| &self.rules[index])
    }

    /// `map`, as the rule's index.
    pub fn rule_for(&self, claims: &Map<String, Value>) -> Option<usize> {
        let has = |group: &str| match claims.get(&self.claim) {
            Some(Value::String(claimed)) => claimed == group,
            Some(Value::Array(claimed)) => claimed.iter().any(|claimed| claimed.as_str() == Some(group)),
            _ => false,
        };
        self.rules.iter().position(|rule| has(&rule.group))
    }
}

/// The name a token's caller goes by (`author`, logs): `claim` (`OidcUsernameClaim`, `email` by
/// default), else `sub`.
pub fn username<'c>(claims: &'c Map<String, Value>, claim: &str) -> Option<&'c str> {
    claims.get(claim).and_then(Value::as_str).or_else(|| claims.get("sub").and_then(Value::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair};
    use serde_json::json;

    const ISSUER: &str = "https://idp.example.com";
    const AUDIENCE: &str = "runtime-inventory";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn expect() -> Expectations {
        Expectations { issuer: ISSUER.into(), audience: AUDIENCE.into() }
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A provider with an RSA key (`rsa`, the test-only key of `src/fixtures`) and a P-256 key
    /// made now (`ec`).
    struct Provider {
        rsa: RsaKeyPair,
        ec: EcdsaKeyPair,
        jwks: Jwks,
    }

    impl Provider {
        fn new() -> Self {
            let rsa = RsaKeyPair::from_pkcs8(include_bytes!("fixtures/rsa-2048-test-only.pk8")).unwrap();
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let ec =
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
            let components: RsaPublicKeyComponents<Vec<u8>> = rsa.public().into();
            let point = ec.public_key().as_ref();
            let set = json!({"keys": [
                {"kid": "rsa-1", "kty": "RSA", "use": "sig", "n": b64(&components.n), "e": b64(&components.e)},
                {"kid": "ec-1", "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])},
                {"kid": "oct-1", "kty": "oct", "k": "c2VjcmV0"},
            ]});
            let jwks = Jwks::parse(set.to_string().as_bytes()).unwrap();
            Self { rsa, ec, jwks }
        }

        fn token(&self, alg: &str, kid: &str, claims: &Value) -> String {
            let header = b64(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string().as_bytes());
            let signed = format!("{header}.{}", b64(claims.to_string().as_bytes()));
            let rng = SystemRandom::new();
            let signature = match alg {
                "ES256" => self.ec.sign(&rng, signed.as_bytes()).unwrap().as_ref().to_vec(),
                _ => {
                    let padding: &dyn signature::RsaEncoding =
                        if alg == "PS256" { &signature::RSA_PSS_SHA256 } else { &signature::RSA_PKCS1_SHA256 };
                    let mut signature = vec![0; self.rsa.public().modulus_len()];
                    self.rsa.sign(padding, &rng, signed.as_bytes(), &mut signature).unwrap();
                    signature
                }
            };
            format!("{signed}.{}", b64(&signature))
        }
    }

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "email": "ana@example.com",
               "groups": ["sec-readers"], "exp": now().timestamp() + 300, "nbf": now().timestamp() - 10})
    }

    #[test]
    fn rs256_ps256_and_es256_tokens_of_the_provider_verify() {
        let provider = Provider::new();
        assert_eq!(provider.jwks.len(), 2, "the symmetric key is left out");
        for (alg, kid) in [("RS256", "rsa-1"), ("PS256", "rsa-1"), ("ES256", "ec-1")] {
            let verified = verify(&provider.token(alg, kid, &claims()), &provider.jwks, &expect(), now());
            assert_eq!(verified.map(|claims| claims["sub"].clone()), Ok(json!("u-1")), "{alg}");
        }
        let mut listed = claims();
        listed["aud"] = json!(["other", AUDIENCE]);
        assert!(verify(&provider.token("ES256", "ec-1", &listed), &provider.jwks, &expect(), now()).is_ok());
    }

    #[test]
    fn each_bad_token_is_refused_for_its_reason() {
        let provider = Provider::new();
        let with = |change: &dyn Fn(&mut Value)| {
            let mut claims = claims();
            change(&mut claims);
            provider.token("RS256", "rsa-1", &claims)
        };
        let refused = |token: &str| verify(token, &provider.jwks, &expect(), now()).unwrap_err();
        assert_eq!(refused(&with(&|c| c["exp"] = json!(now().timestamp() - 61))), TokenError::Expired);
        assert!(
            verify(&with(&|c| c["exp"] = json!(now().timestamp() - 59)), &provider.jwks, &expect(), now()).is_ok(),
            "60 s leeway"
        );
        assert_eq!(refused(&with(&|c| c["nbf"] = json!(now().timestamp() + 61))), TokenError::NotYetValid);
        assert_eq!(refused(&with(&|c| c["iss"] = json!("https://evil.example.com"))), TokenError::Issuer);
        assert_eq!(refused(&with(&|c| c["aud"] = json!("another-app"))), TokenError::Audience);
        assert_eq!(
            refused(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
            TokenError::Expired
        );
        assert_eq!(refused(&provider.token("RS256", "rsa-9", &claims())), TokenError::UnknownKey);
        assert_eq!(
            refused(&provider.token("ES256", "rsa-1", &claims())),
            TokenError::Signature,
            "a key only signs with its type"
        );

        // alg none, and HS256 "signed" with the provider's public key as the secret.
        let payload = b64(claims().to_string().as_bytes());
        let none = format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"rsa-1"}"#));
        assert_eq!(refused(&none), TokenError::Algorithm("none".into()));
        let hs256 = format!("{}.{payload}.{}", b64(br#"{"alg":"HS256","kid":"rsa-1"}"#), b64(b"mac"));
        assert_eq!(refused(&hs256), TokenError::Algorithm("HS256".into()));

        // A tampered payload keeps its signature and fails it.
        let token = provider.token("RS256", "rsa-1", &claims());
        let mut forged = claims();
        forged["groups"] = json!(["admins"]);
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], b64(forged.to_string().as_bytes()), parts[2]);
        assert_eq!(refused(&tampered), TokenError::Signature);

        assert_eq!(refused(&"a".repeat(MAX_TOKEN_BYTES + 1)), TokenError::TooLarge);
        for garbage in ["", "garbage", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.e30"] {
            let error = refused(garbage);
            assert!(
                matches!(error, TokenError::Malformed | TokenError::Algorithm(_) | TokenError::UnknownKey),
                "{garbage}: {error:?}"
            );
        }
    }

    #[test]
    fn groups_map_to_the_first_matching_rule_and_nothing_else() {
        let mapping = RoleMapping::parse(
            r#"{"claim": "groups", "rules": [
                {"group": "sec-admins", "role": "admin", "accounts": ["prod", "dev"]},
                {"group": "sec-readers", "role": "read-only", "accounts": ["prod"]}]}"#,
        )
        .unwrap();
        let claims = |groups: Value| json!({"groups": groups, "sub": "u-1"}).as_object().unwrap().clone();
        let rule = mapping.map(&claims(json!(["eng", "sec-readers"]))).unwrap();
        assert_eq!((rule.role, rule.accounts.clone()), (Role::ReadOnly, vec!["prod".to_owned()]));
        assert_eq!(
            mapping.map(&claims(json!(["sec-readers", "sec-admins"]))).unwrap().role,
            Role::Admin,
            "the first rule wins"
        );
        assert_eq!(mapping.map(&claims(json!("sec-admins"))).unwrap().role, Role::Admin, "a string claim");
        assert_eq!(mapping.map(&claims(json!(["eng"]))), None);
        assert_eq!(mapping.map(&claims(json!(42))), None);
        assert!(RoleMapping::parse(
            r#"{"claim": "groups", "rules": [{"group": "g", "role": "root", "accounts": ["a"]}]}"#
        )
        .is_err());
        assert!(RoleMapping::parse(
            r#"{"claim": "groups", "rules": [{"group": "g", "role": "admin", "accounts": []}]}"#
        )
        .is_err());
        assert!(RoleMapping::parse(r#"{"claim": "groups", "rules": [], "extra": 1}"#).is_err());
        let named = json!({"sub": "u-1", "email": "ana@example.com"}).as_object().unwrap().clone();
        assert_eq!(username(&named, "email"), Some("ana@example.com"));
        assert_eq!(username(&named, "preferred_username"), Some("u-1"));
    }
}

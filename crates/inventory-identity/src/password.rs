//! Password hashes: Argon2id in PHC string form, the only form a user record stores.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use password_hash::rand_core::OsRng;
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a password with Argon2id at OWASP's recommended cost (19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| HashError(error.to_string()))
}

/// Argon2id's memory cost, in KiB, past which a stored hash is refused: verifying one takes that
/// much of the authorizer's 512 MB.
pub const MAX_MEMORY_KIB: u32 = 64 * 1024;
/// Passes past which a stored hash is refused: each is CPU time on every uncached request.
pub const MAX_PASSES: u32 = 8;

/// Lanes past which a stored hash is refused.
pub const MAX_LANES: u32 = 4;

/// Whether `stored` is a hash this service can verify (so a bad record is refused when written):
/// Argon2id, at least as costly as `hash_password`'s and at most `MAX_MEMORY_KIB` and
/// `MAX_PASSES`, so that neither a weak hash nor one that exhausts the authorizer is accepted.
pub fn is_supported_hash(stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else { return false };
    let Ok(params) = argon2::Params::try_from(&hash) else { return false };
    let floor = argon2::Params::default();
    hash.algorithm == argon2::Algorithm::Argon2id.ident()
        && (floor.m_cost()..=MAX_MEMORY_KIB).contains(&params.m_cost())
        && (floor.t_cost()..=MAX_PASSES).contains(&params.t_cost())
        && (floor.p_cost()..=MAX_LANES).contains(&params.p_cost())
}

/// Checks a password against a stored hash; the comparison inside is constant-time.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) if is_supported_hash(stored) => Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
        _ => false,
    }
}

/// Spends the same work as a real check, so an unknown user answers no faster than a known one.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("no user has this password").unwrap_or_default());
    let _ = verify_password(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let first = hash_password("s3cret pass").unwrap();
        let second = hash_password("s3cret pass").unwrap();
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert_ne!(first, second, "a fresh salt each time");
        assert!(verify_password("s3cret pass", &first));
        assert!(!verify_password("s3cret pas", &first));
        assert!(!verify_password("s3cret pass", "plain-text"));
        assert!(is_supported_hash(&first));
        // A fast hash is not accepted even if it is well-formed PHC.
        assert!(!is_supported_hash("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA"));
    }

    #[test]
    fn only_argon2id_within_its_cost_bounds_is_supported() {
        let with = |algorithm: &str, params: &str| {
            let hash = hash_password("pw").unwrap();
            let tail = hash.rsplitn(3, '$').take(2).collect::<Vec<_>>();
            format!("${algorithm}$v=19${params}${}${}", tail[1], tail[0])
        };
        assert!(is_supported_hash(&with("argon2id", "m=19456,t=2,p=1")));
        assert!(is_supported_hash(&with("argon2id", &format!("m={MAX_MEMORY_KIB},t={MAX_PASSES},p={MAX_LANES}"))));
        for (algorithm, params) in [
            ("argon2d", "m=19456,t=2,p=1"),
            ("argon2i", "m=19456,t=2,p=1"),
            ("argon2id", "m=8,t=1,p=1"),
            ("argon2id", "m=19455,t=2,p=1"),
            ("argon2id", "m=19456,t=1,p=1"),
            ("argon2id", &format!("m={},t=2,p=1", MAX_MEMORY_KIB + 1)),
            ("argon2id", &format!("m=19456,t={},p=1", MAX_PASSES + 1)),
            ("argon2id", "m=19456,t=2,p=5"),
        ] {
            let hash = with(algorithm, params);
            assert!(!is_supported_hash(&hash), "{hash}");
            assert!(!verify_password("pw", &hash), "{hash} is never verified");
        }
    }
}

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

/// Whether `stored` is a hash this service can verify (so a bad record is refused when written).
pub fn is_supported_hash(stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| hash.algorithm.as_str().starts_with("argon2"))
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
}

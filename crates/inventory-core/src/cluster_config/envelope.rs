//! A credential sealed under a data key (envelope encryption). KMS encrypts at most 4,096 bytes,
//! and a client key of RSA-4096 is longer as PEM: so KMS makes a data key for each credential
//! (`GenerateDataKey`, under the account's and cluster's encryption context) and only the data
//! key is stored KMS-encrypted; the credential is sealed with it here, AES-256-GCM, its
//! additional data the same account and cluster, so a sealed credential copied to another
//! configuration does not open there either.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// The data key's length: AES-256 (`KeySpec` `AES_256`).
pub const DATA_KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the data key is not {DATA_KEY_BYTES} bytes")]
    DataKey,
    #[error("no random nonce could be drawn")]
    Random,
    #[error("the sealed credential does not open with its data key, account and cluster")]
    Open,
}

fn key(data_key: &[u8]) -> Result<LessSafeKey, EnvelopeError> {
    UnboundKey::new(&AES_256_GCM, data_key).map(LessSafeKey::new).map_err(|_| EnvelopeError::DataKey)
}

/// What binds a sealed credential to its configuration.
fn additional_data(account: &str, cluster_name: &str) -> Vec<u8> {
    [account.as_bytes(), b"\0", cluster_name.as_bytes()].concat()
}

/// `credential` sealed under `data_key`: a random nonce, then the ciphertext and its tag.
pub fn seal(data_key: &[u8], account: &str, cluster_name: &str, credential: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| EnvelopeError::Random)?;
    let mut sealed = credential.to_vec();
    let aad = Aad::from(additional_data(account, cluster_name));
    key(data_key)?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad, &mut sealed)
        .map_err(|_| EnvelopeError::Open)?;
    Ok([nonce.as_slice(), &sealed].concat())
}

/// The credential `seal` sealed, if it opens with the same data key, account and cluster.
pub fn open(data_key: &[u8], account: &str, cluster_name: &str, sealed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    if sealed.len() < NONCE_LEN {
        return Err(EnvelopeError::Open);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| EnvelopeError::Open)?;
    let mut opened = ciphertext.to_vec();
    let aad = Aad::from(additional_data(account, cluster_name));
    let plaintext = key(data_key)?.open_in_place(nonce, aad, &mut opened).map_err(|_| EnvelopeError::Open)?;
    Ok(plaintext.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_longer_than_kms_encrypts_opens_only_where_it_was_sealed() {
        let data_key = [7u8; DATA_KEY_BYTES];
        // An RSA-4096 client key as PEM is about 3.3 KB, 4.4 KB base64: past KMS's 4,096 bytes.
        let credential = "k".repeat(6_000);
        let sealed = seal(&data_key, "admin", "prod", credential.as_bytes()).unwrap();
        assert_ne!(sealed[12..12 + 16], credential.as_bytes()[..16], "sealed, not copied");
        assert_eq!(open(&data_key, "admin", "prod", &sealed).unwrap(), credential.as_bytes());
        assert_eq!(open(&data_key, "tenant-b", "prod", &sealed), Err(EnvelopeError::Open));
        assert_eq!(open(&data_key, "admin", "staging", &sealed), Err(EnvelopeError::Open));
        assert_eq!(open(&[8u8; DATA_KEY_BYTES], "admin", "prod", &sealed), Err(EnvelopeError::Open));
        assert_eq!(open(&data_key, "admin", "prod", &sealed[..8]), Err(EnvelopeError::Open));
        assert_eq!(seal(&[1u8; 16], "admin", "prod", b"x"), Err(EnvelopeError::DataKey));
        let again = seal(&data_key, "admin", "prod", credential.as_bytes()).unwrap();
        assert_ne!(again, sealed, "a fresh nonce each time");
    }
}

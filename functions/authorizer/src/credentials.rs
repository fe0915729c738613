//! HTTP basic credentials from the `Authorization` header.

use base64::Engine;

/// A user name and password as sent; the password is never logged or kept.
pub struct BasicCredentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials").field("user", &self.user).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("no credentials: send HTTP basic auth")]
    Missing,
    #[error("the Authorization header is not HTTP basic auth")]
    NotBasic,
    #[error("the basic credentials are not base64 of user:password")]
    Malformed,
}

impl BasicCredentials {
    /// Parses `Basic base64(user:password)`; the scheme is case-insensitive (RFC 7617).
    pub fn parse(header: Option<&str>) -> Result<Self, CredentialsError> {
        let header = header.map(str::trim).filter(|value| !value.is_empty()).ok_or(CredentialsError::Missing)?;
        let (scheme, encoded) = header.split_once(' ').ok_or(CredentialsError::NotBasic)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(CredentialsError::NotBasic);
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| CredentialsError::Malformed)?;
        let text = String::from_utf8(decoded).map_err(|_| CredentialsError::Malformed)?;
        let (user, password) = text.split_once(':').ok_or(CredentialsError::Malformed)?;
        if user.is_empty() {
            return Err(CredentialsError::Malformed);
        }
        Ok(Self { user: user.to_owned(), password: password.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }

    #[test]
    fn parses_basic_auth() {
        let parsed = BasicCredentials::parse(Some(&basic("agent:pa:ss"))).unwrap();
        assert_eq!((parsed.user.as_str(), parsed.password.as_str()), ("agent", "pa:ss"));
        let lower = basic("agent:x").replace("Basic", "basic");
        assert_eq!(BasicCredentials::parse(Some(&lower)).unwrap().user, "agent");
    }

    #[test]
    fn rejects_what_is_not_basic_auth() {
        assert_eq!(BasicCredentials::parse(None).unwrap_err(), CredentialsError::Missing);
        assert_eq!(BasicCredentials::parse(Some("  ")).unwrap_err(), CredentialsError::Missing);
        assert_eq!(BasicCredentials::parse(Some("Bearer abc")).unwrap_err(), CredentialsError::NotBasic);
        assert_eq!(BasicCredentials::parse(Some("Basic !!!")).unwrap_err(), CredentialsError::Malformed);
        assert_eq!(BasicCredentials::parse(Some(&basic("no-colon"))).unwrap_err(), CredentialsError::Malformed);
        assert_eq!(BasicCredentials::parse(Some(&basic(":pw"))).unwrap_err(), CredentialsError::Malformed);
    }

    #[test]
    fn debug_output_hides_the_password() {
        let parsed = BasicCredentials::parse(Some(&basic("agent:hunter2"))).unwrap();
        assert!(!format!("{parsed:?}").contains("hunter2"));
    }
}

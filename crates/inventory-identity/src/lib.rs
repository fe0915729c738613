//! Who may call the API, kept in SSM Parameter Store: users (`users`, their passwords as
//! Argon2id hashes in `password`) and API keys (`api_keys`, stored by their value's hash). The
//! authorizer reads both; the api-keys function writes keys; `inventory-user` writes users.

pub mod api_keys;
pub mod password;
pub mod users;

use aws_sdk_ssm::error::DisplayErrorContext;
use inventory_runtime::ConfigError;

/// SSM path under which each user is a parameter (`<path>/<user>`).
pub const USERS_PATH: &str = "AUTH_USERS_PATH";
/// SSM path under which API keys are kept (`api_keys`).
pub const API_KEYS_PATH: &str = "AUTH_API_KEYS_PATH";

/// What goes wrong reading or writing users and keys in SSM.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("reading {what} from SSM failed: {message}")]
    Read {
        what: String,
        message: String,
        #[source]
        source: BoxError,
    },
    #[error("{what} has an invalid record: {message}")]
    InvalidRecord { what: String, message: String },
    #[error("writing {what} to SSM failed: {message}")]
    Write {
        what: String,
        message: String,
        #[source]
        source: BoxError,
    },
    #[error("{what} cannot be written: {message}")]
    Refused { what: String, message: String },
    /// A key name its user already has.
    #[error("{what} already exists")]
    Exists { what: String },
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl IdentityError {
    fn read<E: std::error::Error + Send + Sync + 'static>(what: impl Into<String>, error: E) -> Self {
        Self::Read { what: what.into(), message: DisplayErrorContext(&error).to_string(), source: Box::new(error) }
    }

    fn write<E: std::error::Error + Send + Sync + 'static>(what: impl Into<String>, error: E) -> Self {
        Self::Write { what: what.into(), message: DisplayErrorContext(&error).to_string(), source: Box::new(error) }
    }
}

/// A SecureString parameter's value, decrypted; `None` when there is no such parameter. `what`
/// names it in the error.
async fn secure_value(
    client: &aws_sdk_ssm::Client,
    name: String,
    what: impl FnOnce() -> String,
) -> Result<Option<String>, IdentityError> {
    use aws_sdk_ssm::error::SdkError;
    use aws_sdk_ssm::operation::get_parameter::GetParameterError;
    match client.get_parameter().name(name).with_decryption(true).send().await {
        Ok(output) => Ok(output.parameter.and_then(|parameter| parameter.value)),
        Err(SdkError::ServiceError(error)) if matches!(error.err(), GetParameterError::ParameterNotFound(_)) => {
            Ok(None)
        }
        Err(error) => Err(IdentityError::read(what(), error)),
    }
}

/// Where users and keys are kept, as both functions that read them are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPaths {
    pub users: String,
    pub api_keys: String,
}

impl IdentityPaths {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            users: parameter_path(&lookup, USERS_PATH, "an SSM path such as /runtime-inventory/users")?,
            api_keys: parameter_path(&lookup, API_KEYS_PATH, "an SSM path such as /runtime-inventory/api-keys")?,
        })
    }
}

/// An SSM path from the variable `name`, without its trailing `/`.
fn parameter_path(
    lookup: impl Fn(&str) -> Option<String>,
    name: &'static str,
    expected: &'static str,
) -> Result<String, ConfigError> {
    let path = lookup(name).unwrap_or_default().trim().to_owned();
    if !is_valid_parameter_path(&path) {
        return Err(ConfigError { name, expected, value: path });
    }
    Ok(path.trim_end_matches('/').to_owned())
}

/// An SSM parameter path: `/` then segments of letters, digits and `_.-`.
pub fn is_valid_parameter_path(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.len() > 1
        && path.len() <= 900
        && path.starts_with('/')
        && path[1..].split('/').all(|segment| {
            !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        })
}

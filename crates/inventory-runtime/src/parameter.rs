//! A setting given either as itself or as `ssm:<parameter name>`, read from SSM the first time it
//! is needed. The template uses the second form where the value is made by the same stack and
//! naming it would close a dependency cycle: the Cognito app client's id, which its callback URL
//! makes depend on the API, which depends on the functions that need the id.

use aws_sdk_ssm::error::DisplayErrorContext;
use tokio::sync::OnceCell;

/// What marks a setting as the name of an SSM parameter.
pub const SSM_PREFIX: &str = "ssm:";

#[derive(Debug)]
pub struct ParameterValue {
    setting: String,
    resolved: OnceCell<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("reading the SSM parameter {name} failed: {message}")]
pub struct ParameterError {
    pub name: String,
    pub message: String,
}

impl PartialEq for ParameterValue {
    fn eq(&self, other: &Self) -> bool {
        self.setting == other.setting
    }
}

impl Eq for ParameterValue {}

impl Clone for ParameterValue {
    fn clone(&self) -> Self {
        Self::new(self.setting.clone())
    }
}

impl ParameterValue {
    pub fn new(setting: impl Into<String>) -> Self {
        Self { setting: setting.into(), resolved: OnceCell::new() }
    }

    /// The SSM parameter the setting names, if it names one.
    pub fn parameter(&self) -> Option<&str> {
        self.setting.strip_prefix(SSM_PREFIX)
    }

    /// The value: the setting itself, or its parameter's value, read once.
    pub async fn get(&self, ssm: &aws_sdk_ssm::Client) -> Result<&str, ParameterError> {
        let Some(name) = self.parameter() else { return Ok(&self.setting) };
        Ok(self.resolved.get_or_try_init(|| read(ssm, name)).await?)
    }
}

/// A (String) parameter's value, trimmed; an error when it cannot be read or is empty.
pub async fn read(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<String, ParameterError> {
    let failed = |message: String| ParameterError { name: name.to_owned(), message };
    let output =
        ssm.get_parameter().name(name).send().await.map_err(|error| failed(DisplayErrorContext(error).to_string()))?;
    let value = output.parameter.and_then(|parameter| parameter.value).unwrap_or_default();
    match value.trim() {
        "" => Err(failed("it is empty".into())),
        value => Ok(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_names_a_parameter_only_with_the_prefix() {
        assert_eq!(ParameterValue::new("ssm:/ri/client-id").parameter(), Some("/ri/client-id"));
        assert_eq!(ParameterValue::new("5p8kq2client").parameter(), None);
    }
}

//! The one error for a request's field that cannot be used: a report's, a findings document's, a
//! cluster configuration's, an agent registration's, a subscription's or a query parameter. It
//! names the field by its path (`containers[3].image_tag`) or parameter name, says why without
//! repeating it, and says whether the field was too large (413) or invalid (400); the API's edge
//! answers it in Anchore's error shape (`From<FieldError> for ApiError`).

/// Why a field is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Malformed or out of range: 400.
    Invalid,
    /// Past a size bound: 413.
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
    pub rejection: Rejection,
}

impl FieldError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), rejection: Rejection::Invalid }
    }

    pub fn too_large(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { rejection: Rejection::TooLarge, ..Self::invalid(field, message) }
    }

    pub fn is_too_large(&self) -> bool {
        self.rejection == Rejection::TooLarge
    }
}

/// A query parameter that must be a whole number from 1 to `max` (`limit`, `page`): `None`
/// when absent or empty, else the number, or the error naming it.
pub fn whole_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    max: usize,
) -> Result<Option<usize>, FieldError> {
    match get(name).filter(|raw| !raw.is_empty()) {
        None => Ok(None),
        Some(raw) => match raw.parse::<usize>() {
            Ok(value) if (1..=max).contains(&value) => Ok(Some(value)),
            _ => Err(FieldError::invalid(name, format!("must be a whole number from 1 to {max}"))),
        },
    }
}

//! A function's configuration comes from a lookup by variable name: the environment when
//! deployed (`from_env`), a map in tests, the environment with local defaults in the local stack.
//! Each function's `Config::from_lookup` declares the variables it reads; the template test
//! checks the template sets each of them.

/// A source of configuration values by variable name.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as a lookup.
pub fn from_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// A variable with a value the function cannot use, or a required one unset: the function does
/// not start, and its log names the variable and what it must be.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name} must be {expected}, got {value:?}")]
pub struct ConfigError {
    pub name: &'static str,
    pub expected: &'static str,
    pub value: String,
}

impl ConfigError {
    /// A required variable that is unset or empty.
    pub fn missing(name: &'static str) -> Self {
        Self { name, expected: "set", value: String::new() }
    }
}

/// The variable's value, trimmed; `None` when it is unset or empty.
pub fn value(lookup: impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// The whole number in variable `name`, checked to lie in `range`; `None` when it is unset or
/// empty (the caller's default applies).
pub fn number_in(
    lookup: impl Fn(&str) -> Option<String>,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
    expected: &'static str,
) -> Result<Option<u64>, ConfigError> {
    match lookup(name).filter(|value| !value.trim().is_empty()) {
        None => Ok(None),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(number) if range.contains(&number) => Ok(Some(number)),
            _ => Err(ConfigError { name, expected, value }),
        },
    }
}

/// The `true`/`false` in variable `name` (any case); unset or empty is `false`.
pub fn flag(lookup: impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match lookup(name).map(|value| value.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(value) if value.is_empty() || value == "false" => Ok(false),
        Some(value) if value == "true" => Ok(true),
        Some(value) => Err(ConfigError { name, expected: "true or false", value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_outside_its_range_names_its_variable_and_an_empty_one_takes_the_default() {
        let lookup = |value: &'static str| move |_: &str| Some(value.to_owned());
        assert_eq!(number_in(lookup(" 7 "), "N", 1..=10, "1 to 10"), Ok(Some(7)));
        assert_eq!(number_in(lookup(""), "N", 1..=10, "1 to 10"), Ok(None));
        for bad in ["0", "11", "-1", "seven"] {
            assert_eq!(number_in(lookup(bad), "N", 1..=10, "1 to 10").unwrap_err().name, "N", "{bad}");
        }
    }

    #[test]
    fn a_missing_variable_says_it_must_be_set() {
        assert_eq!(ConfigError::missing("INVENTORY_TABLE").to_string(), "INVENTORY_TABLE must be set, got \"\"");
        assert_eq!(value(|_| Some("  ".into()), "X"), None);
        assert_eq!(value(|_| Some(" a ".into()), "X").as_deref(), Some("a"));
    }
}

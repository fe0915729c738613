//! Logging for every function: Lambda's log level and format controls, except that the Lambda
//! runtime's own TRACE output is never enabled. At TRACE, `lambda_runtime` logs each raw event,
//! and an API event carries the caller's `Authorization` header: credentials must not reach logs.

use lambda_http::tracing::subscriber::filter::{Directive, EnvFilter, LevelFilter};
use std::str::FromStr;

/// The runtime crates whose TRACE output includes raw events and responses.
const RUNTIME_TARGETS: [&str; 3] = ["lambda_runtime", "lambda_runtime_api_client", "lambda_http"];

/// The filter for a level setting (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`), with the runtime
/// crates held at DEBUG whatever the setting asks for them.
pub fn filter(setting: Option<&str>) -> EnvFilter {
    let setting = setting.unwrap_or("INFO");
    // A plain level (as Lambda's controls set it) or full directives (as RUST_LOG may).
    let mut filter = match LevelFilter::from_str(setting) {
        Ok(level) => EnvFilter::builder().with_default_directive(level.into()).parse_lossy(""),
        Err(_) => EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(setting),
    };
    for target in RUNTIME_TARGETS {
        if let Ok(cap) = Directive::from_str(&format!("{target}=debug")) {
            filter = filter.add_directive(cap);
        }
    }
    filter
}

/// Installs the subscriber: JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON`, text otherwise.
pub fn init() {
    let setting = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let builder = lambda_http::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter(setting.as_deref()));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::tracing::subscriber::layer::SubscriberExt;
    use lambda_http::tracing::subscriber::Registry;
    use lambda_http::tracing::{dispatcher, enabled, Dispatch, Level};

    #[test]
    fn the_runtime_never_logs_at_trace_whatever_the_setting() {
        for setting in [Some("TRACE"), Some("trace"), Some("trace,lambda_runtime=trace"), None] {
            let dispatch = Dispatch::new(Registry::default().with(filter(setting)));
            dispatcher::with_default(&dispatch, || {
                assert!(!enabled!(target: "lambda_runtime::layers::api_response", Level::TRACE), "{setting:?}");
                assert!(!enabled!(target: "lambda_http::request", Level::TRACE), "{setting:?}");
            });
        }
        let dispatch = Dispatch::new(Registry::default().with(filter(Some("TRACE"))));
        dispatcher::with_default(&dispatch, || {
            assert!(enabled!(target: "lambda_runtime::layers::api_response", Level::DEBUG));
            assert!(enabled!(target: "inventory::ingest", Level::TRACE), "the functions' own code may trace");
        });
    }
}

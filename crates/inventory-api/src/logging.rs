//! Logging for every function: Lambda's log level and format controls, except that the Lambda
//! runtime's own TRACE output is never enabled. At TRACE, `lambda_runtime` logs each raw event,
//! and an API event carries the caller's `Authorization` header: credentials must not reach logs.

use lambda_http::tracing::subscriber::filter::{LevelFilter, Targets};
use lambda_http::tracing::subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, Registry};
use std::str::FromStr;

/// The runtime crates whose TRACE output includes raw events and responses.
const RUNTIME_TARGETS: [&str; 3] = ["lambda_runtime", "lambda_runtime_api_client", "lambda_http"];

/// The filter for a level setting (`AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`), with the runtime
/// crates held at DEBUG whatever the setting asks for them. `Targets` rather than `EnvFilter`:
/// the same `target=level` directives without a regex engine in every binary.
pub fn filter(setting: Option<&str>) -> Targets {
    let setting = setting.unwrap_or("INFO");
    // A plain level (as Lambda's controls set it) or directives (as RUST_LOG may); directives
    // that do not parse leave INFO.
    let filter = match LevelFilter::from_str(setting) {
        Ok(level) => Targets::new().with_default(level),
        Err(_) => Targets::from_str(setting).unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO)),
    };
    RUNTIME_TARGETS.into_iter().fold(filter, |filter, target| filter.with_target(target, LevelFilter::DEBUG))
}

/// Installs the subscriber: JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON`, text otherwise.
pub fn init() {
    let setting = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let subscriber = Registry::default().with(filter(setting.as_deref()));
    let layer = fmt::layer().with_target(false).without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    if json {
        subscriber.with(layer.json()).init();
    } else {
        subscriber.with(layer).init();
    }
}

/// An error and its sources on one line, for a log or a run's answer: an SDK or TLS failure's
/// reason is several sources down. A source whose text its parent already quotes is left out.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(next) = source {
        let text = next.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = next.source();
    }
    message
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
            assert!(enabled!(target: "inventory_store::ingest", Level::TRACE), "the functions' own code may trace");
        });
    }

    #[test]
    fn levels_and_directives_are_both_understood() {
        let dispatch = Dispatch::new(Registry::default().with(filter(Some("warn,inventory=debug"))));
        dispatcher::with_default(&dispatch, || {
            assert!(enabled!(target: "inventory_store::store", Level::DEBUG));
            assert!(!enabled!(target: "aws_smithy_runtime", Level::INFO));
        });
        let dispatch = Dispatch::new(Registry::default().with(filter(Some("not a directive=="))));
        dispatcher::with_default(&dispatch, || {
            assert!(enabled!(target: "inventory_store::store", Level::INFO), "unreadable settings leave INFO");
            assert!(!enabled!(target: "inventory_store::store", Level::DEBUG));
        });
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|layer| layer as _)
        }
    }

    #[test]
    fn an_error_chain_names_every_source_once() {
        let root = Layer("certificate expired", None);
        let quoting = Layer("handshake failed: certificate expired", Some(Box::new(root)));
        let top = Layer("reading /api/v1/pods", Some(Box::new(quoting)));
        assert_eq!(error_chain(&top), "reading /api/v1/pods: handshake failed: certificate expired");
        assert_eq!(error_chain(&Layer("alone", None)), "alone");
    }
}

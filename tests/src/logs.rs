//! Every log line the functions write during a test, at the most verbose level: for the tests
//! that check no secret (a credential, a key's value, a token) is ever logged.

use lambda_http::tracing::dispatcher::DefaultGuard;
use lambda_http::tracing::Dispatch;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures this thread's log lines until dropped (a `#[tokio::test]` runs on one thread).
pub struct LogCapture {
    captured: Captured,
    _default: DefaultGuard,
    _second: Dispatch,
}

impl LogCapture {
    pub fn start() -> Self {
        use lambda_http::tracing::subscriber::{fmt, layer::SubscriberExt, Registry};
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = Registry::default()
            .with(inventory_store::logging::filter(Some("trace")))
            .with(fmt::layer().with_ansi(false).with_writer(move || writer.clone()));
        let default = lambda_http::tracing::dispatcher::set_default(&Dispatch::new(subscriber));
        // With a single dispatcher registered, tracing decides a callsite's interest from the
        // default of whichever thread reaches it first (another test's, with none): a second one
        // makes it ask every registered dispatcher, this test's included.
        let second = Dispatch::new(Registry::default());
        lambda_http::tracing::callsite::rebuild_interest_cache();
        Self { captured, _default: default, _second: second }
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.captured.0.lock().unwrap()).into_owned()
    }
}

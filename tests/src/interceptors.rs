//! Interceptors the harness adds to the functions' SDK clients: a count of the requests actually
//! sent, a failure injected into the nth request of an operation, a request held until released.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// DynamoDB operations that write.
pub const WRITE_OPERATIONS: &[&str] = &["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

/// Counts every HTTP request the SDK sends, retries included, by operation name.
#[derive(Debug, Default, Clone)]
pub struct RequestCounter(Arc<Mutex<HashMap<String, u64>>>);

impl RequestCounter {
    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }

    pub fn get(&self, operation: &str) -> u64 {
        self.0.lock().unwrap().get(operation).copied().unwrap_or(0)
    }

    pub fn writes(&self) -> u64 {
        WRITE_OPERATIONS.iter().map(|operation| self.get(operation)).sum()
    }
}

/// The name of the operation an interceptor sees (`GetItem`, `PutEvents`, ...).
fn operation(config: &ConfigBag) -> Option<&str> {
    config.load::<Metadata>().map(Metadata::name)
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(operation) = operation(config) {
            *self.0.lock().unwrap().entry(operation.to_owned()).or_default() += 1;
        }
        Ok(())
    }
}

/// Fails the `nth` request (1-based) of `operation` before it is sent, as a network or service
/// fault in the middle of a batch would.
#[derive(Debug, Clone)]
pub struct FailNth {
    operation: &'static str,
    nth: u64,
    seen: Arc<Mutex<u64>>,
}

impl FailNth {
    pub fn new(operation: &'static str, nth: u64) -> Self {
        Self { operation, nth, seen: Arc::default() }
    }
}

impl Intercept for FailNth {
    fn name(&self) -> &'static str {
        "FailNth"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if operation(config) == Some(self.operation) {
            let mut seen = self.seen.lock().unwrap();
            *seen += 1;
            if *seen == self.nth {
                return Err(format!("injected failure of {} #{}", self.operation, self.nth).into());
            }
        }
        Ok(())
    }
}

/// Holds the first request of `operation` until the test lets it go: a writer paused in the
/// middle of its writes. Blocks its thread, so it needs a multi-thread runtime.
#[derive(Debug, Clone, Default)]
pub struct PauseFirst {
    operation: &'static str,
    state: Arc<(Mutex<PauseState>, std::sync::Condvar)>,
}

#[derive(Debug, Default)]
struct PauseState {
    reached: bool,
    released: bool,
}

impl PauseFirst {
    pub fn new(operation: &'static str) -> Self {
        Self { operation, state: Arc::default() }
    }

    /// Waits (off the async threads) until the paused request has been reached.
    pub async fn reached(&self) {
        let state = Arc::clone(&self.state);
        tokio::task::spawn_blocking(move || {
            let (lock, signal) = &*state;
            let _reached = signal.wait_while(lock.lock().unwrap(), |state| !state.reached).unwrap();
        })
        .await
        .unwrap();
    }

    pub fn release(&self) {
        let (lock, signal) = &*self.state;
        lock.lock().unwrap().released = true;
        signal.notify_all();
    }
}

impl Intercept for PauseFirst {
    fn name(&self) -> &'static str {
        "PauseFirst"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if operation(config) != Some(self.operation) {
            return Ok(());
        }
        let (lock, signal) = &*self.state;
        let mut state = lock.lock().unwrap();
        if state.reached {
            return Ok(());
        }
        state.reached = true;
        signal.notify_all();
        let _released = signal.wait_while(state, |state| !state.released).unwrap();
        Ok(())
    }
}

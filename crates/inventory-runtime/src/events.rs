//! An event-driven function (a schedule, a stream, the authorizer): one handler shared by every
//! invocation of the execution environment.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;
use std::sync::Arc;

/// A function invoked with events of one type.
pub trait EventFunction: Send + Sync + 'static {
    type Event: DeserializeOwned + Send;
    type Response: Serialize;

    fn handle(&self, event: LambdaEvent<Self::Event>) -> impl Future<Output = Result<Self::Response, Error>> + Send;
}

/// Serves `function` to the Lambda runtime until the environment ends.
pub async fn run<F: EventFunction>(function: F) -> Result<(), Error> {
    let function = Arc::new(function);
    lambda_runtime::run(service_fn(move |event| {
        let function = Arc::clone(&function);
        // Boxed: a function's future nested in the runtime's is too deep a type for the compiler.
        async move { Box::pin(function.handle(event)).await }
    }))
    .await
}

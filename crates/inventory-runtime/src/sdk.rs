//! One SDK configuration per execution environment, and the clients built from it.
//!
//! Every client gets the same HTTPS client (rustls on ring) and timeouts. A function's `build`
//! takes an [`Sdk`]: deployed, it is the environment's configuration; in the test harness it
//! carries interceptors (the template's IAM policy guard, request counters, injected failures)
//! that every client built from it runs.

use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use std::time::Duration;

/// Connecting to an AWS endpoint (the SDK's default).
pub const SDK_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// One attempt of an SDK call: DynamoDB, SSM and EventBridge answer in milliseconds.
pub const SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// A whole SDK call, retries included: shorter than the authorizer's 10 s timeout and than a
/// lease's write margin, so no call can hang a function or outlive its lease.
pub const SDK_OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

/// Connect, attempt and operation timeouts for every SDK client of the functions.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(SDK_CONNECT_TIMEOUT)
        .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
        .operation_timeout(SDK_OPERATION_TIMEOUT)
        .build()
}

/// The HTTPS client of every SDK client: rustls on ring rather than the SDKs' default AWS-LC,
/// which made each binary about 2 MB larger for the same TLS (BENCHMARKS.md). Plain `http://`
/// endpoints (moto) work through it too.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// What every SDK configuration starts from: the HTTPS client and the timeouts.
pub fn config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client()).timeout_config(timeouts())
}

/// An SDK configuration and the interceptors every client built from it runs.
#[derive(Clone, Debug)]
pub struct Sdk {
    config: SdkConfig,
    interceptors: Vec<SharedInterceptor>,
}

impl Sdk {
    /// The execution environment's configuration (`AWS_ENDPOINT_URL` is honoured): loaded once
    /// by `main`, before the function is built.
    pub async fn load() -> Self {
        Self::new(config_loader().load().await)
    }

    pub fn new(config: SdkConfig) -> Self {
        Self { config, interceptors: Vec::new() }
    }

    /// The same configuration, its clients also running `interceptor` (tests).
    pub fn with_interceptor(&self, interceptor: impl Intercept + 'static) -> Self {
        let mut sdk = self.clone();
        sdk.interceptors.push(SharedInterceptor::new(interceptor));
        sdk
    }

    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    pub fn interceptors(&self) -> impl Iterator<Item = SharedInterceptor> + '_ {
        self.interceptors.iter().cloned()
    }

    /// The function's own region, if the environment has one.
    pub fn region(&self) -> Option<&str> {
        self.config.region().map(|region| region.as_ref())
    }
}

/// A service's client from an [`Sdk`], its interceptors included; `customize` adjusts the
/// service's configuration first (a region, path-style addressing):
/// `client!(sdk, aws_sdk_kms)`, `client!(sdk, aws_sdk_s3, |builder| builder.force_path_style(true))`.
#[macro_export]
macro_rules! client {
    ($sdk:expr, $service:ident) => {
        $crate::client!($sdk, $service, |builder| builder)
    };
    ($sdk:expr, $service:ident, $customize:expr) => {{
        let sdk: &$crate::Sdk = &$sdk;
        let mut builder = $service::config::Builder::from(sdk.config());
        for interceptor in sdk.interceptors() {
            builder.push_interceptor(interceptor);
        }
        $service::Client::from_conf($crate::sdk::customized(builder, $customize).build())
    }};
}

/// `customize(builder)`, with the builder's type known to the closure (the `client!` macro).
pub fn customized<B>(builder: B, customize: impl FnOnce(B) -> B) -> B {
    customize(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_client_gets_connect_attempt_and_operation_timeouts() {
        let sdk = Sdk::load().await;
        let timeouts = sdk.config().timeout_config().expect("timeouts are set");
        assert_eq!(timeouts.connect_timeout(), Some(SDK_CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(SDK_ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(SDK_OPERATION_TIMEOUT));
    }

    #[tokio::test]
    async fn every_client_gets_an_https_client_without_aws_lc() {
        // Without the SDKs' default client, a config with no client set fails its first request.
        assert!(Sdk::load().await.config().http_client().is_some());
        let lockfile = include_str!("../../../Cargo.lock");
        assert!(!lockfile.contains("name = \"aws-lc-sys\""), "a dependency's features brought AWS-LC back");
    }
}

/// An S3 client; path-style addressing when an endpoint is set (moto serves buckets by path).
#[cfg(feature = "s3")]
pub fn s3_client(sdk: &Sdk) -> aws_sdk_s3::Client {
    let path_style = sdk.config().endpoint_url().is_some();
    crate::client!(sdk, aws_sdk_s3, |builder| builder.force_path_style(path_style))
}

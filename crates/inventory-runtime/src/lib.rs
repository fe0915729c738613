//! What a deployed function's `main` needs, without the store: its configuration
//! (`config`: typed values looked up by name, one error type naming the variable), its AWS SDK
//! configuration and clients (`sdk`: loaded once, rustls on ring, timeouts; the test harness
//! adds its interceptors to every client), an event-driven function's loop (`events`), and a scheduled run's deadline (`run`).
//!
//! The authorizer links this and `inventory-api` only; the functions that store link
//! `inventory-store` too.

pub mod config;
pub mod events;
#[cfg(feature = "ssm")]
pub mod parameter;
pub mod run;
pub mod sdk;

pub use config::{ConfigError, Lookup};
pub use events::EventFunction;
pub use sdk::Sdk;

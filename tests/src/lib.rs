//! Test harness: one moto server per test binary (`moto`), a fresh table per test created from
//! the template with the functions built on it as their `main`s build them (`harness`), the
//! notifier between the table's stream and a queue (`notifications`), API Gateway v2 events from
//! `events/` (`events`), interceptors that count, fail or hold SDK requests (`interceptors`), the
//! template's policies as a guard on every client (`template`), report fixtures (`fixtures`) and
//! DynamoDB's billing arithmetic (`cost`).

pub mod browser;
pub mod cost;
pub mod events;
pub mod fixtures;
pub mod harness;
pub mod interceptors;
pub mod logs;
pub mod moto;
pub mod notifications;
pub mod template;
pub mod write_keys;

pub use cost::{item_size, read_units};
pub use events::{admin_event, api_event, caller_event, load_event, request_event, sample_report};
pub use fixtures::{day, digest, k8s_report, listed};
pub use harness::{http_get, loopback_lookup, users_path, Harness, Response};
pub use interceptors::{FailNth, PauseFirst, RequestCounter, WRITE_OPERATIONS};
pub use logs::LogCapture;
pub use moto::{moto_config, moto_ec2_instance, moto_static_result};
pub use notifications::Notifications;

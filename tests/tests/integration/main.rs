//! Every integration test, in one binary: one moto server, one link. Each file was a test binary
//! of its own before, each linking every AWS SDK (BENCHMARKS.md, "One integration-test binary").
//! A test is named by its file: `cargo test -p integration-tests --test integration auth::`.

mod anchore_api;
mod api_keys;
mod auth;
mod cluster_configs;
mod clusters;
mod collector;
mod console;
mod delete_api;
mod docs;
mod ecs_events;
mod findings_sync;
mod history;
mod history_export;
mod hot_keys;
mod inventory_api;
mod kubernetes_collector;
mod large_report;
mod lease;
mod lifecycle_events;
mod notifier;
mod oidc;
mod packages;
mod scale;
mod staleness;
mod subscriptions_api;
mod template;
mod threat_data;
mod vex;
mod vulnerabilities;
mod worklist;
mod workloads;

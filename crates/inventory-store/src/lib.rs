//! Runtime inventory storage and services, shared by the functions, on the AWS-free domain of
//! `inventory_core` (re-exported below, so `inventory_store::model` and the rest keep their paths).
//!
//! The rule: what two or more functions run lives here; what one function alone runs lives in
//! that function's crate (the notifier's `notify`, the coverage check's `staleness`, the delete
//! function's `deleter`, the query function's `details`).
//!
//! Where the code is (route or trigger → function crate → service → store module):
//!
//! | route or trigger | function | service | store |
//! |---|---|---|---|
//! | report routes | `ingest` | `report` (parse), `ingest::Ingestor`, `plan` | `store::{contexts, items, batch}`, `lease` |
//! | agent registration, health | `ingest`, `query` | `integrations` | `store::integrations` |
//! | listings, clusters, details, `/ui` | `query` | `listing`, `coverage`, `query::details` | `store::{contexts, items}` |
//! | deletes | `delete` | `delete::deleter` | `store::{items, batch}`, `lease` |
//! | subscriptions | `subscriptions` | `subscriptions` | `store::{subscriptions, markers}` |
//! | image vulnerabilities | `ingest`, `query` | `findings` (parse, merge), `vulnerabilities` | `store::findings`, `lease` |
//! | table stream | `notifier` | `notifier::notify` | `store::markers`, `bus` |
//! | coverage schedule | `coverage-check` | `coverage_check::staleness` | `store::{contexts, markers}`, `bus` |
//! | collector, ECS task events | `collector`, `ecs-events` | `ecs_events`, through `Ingestor` | as reports |
//!
//! One definition each: routes in `routes`, key formats in `keys`, bounds in `limits`, event
//! detail types in `bus`, DynamoDB calls in `store`.

pub mod bus;
pub mod coverage;
pub mod ecs_events;
pub mod ingest;
pub mod integrations;
pub mod lease;
pub mod listing;
pub mod metrics;
pub mod packages;
pub mod settings;
pub mod store;
pub mod subscriptions;
pub mod threat;
pub mod vex;
pub mod vulnerabilities;

pub use inventory_api::{auth, http, logging, routes};
pub use inventory_core::{
    clock, cluster_config, field, findings, gzip, history, image, inventory_type, keys, limits, model, names, plan,
    report, sbom, subscription, worklist, workload,
};

pub use clock::{Clock, ManualClock, SystemClock};
pub use ingest::{IngestError, IngestSummary, Ingestor};
pub use listing::{InventoryQuery, InventoryReader};
pub use settings::Settings;
pub use store::Store;

#[cfg(test)]
mod tests {
    #[test]
    fn no_sdk_call_outlives_a_lease() {
        let margin = crate::lease::LEASE_WRITE_MARGIN.to_std().unwrap();
        assert!(
            inventory_runtime::sdk::SDK_OPERATION_TIMEOUT < margin,
            "a write in flight ends before its lease could be taken over"
        );
    }
}

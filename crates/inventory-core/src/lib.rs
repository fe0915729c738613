//! The runtime inventory's domain, with no AWS dependency: every bound (`limits`), the stored
//! model and every key format (`keys`), image references, workloads, report parsing and validation, the change
//! planner and the clock. Cargo keeps it pure: it cannot call DynamoDB or EventBridge, so its
//! tests build and run without compiling an SDK. `inventory` re-exports every module.

pub mod api_keys;
pub(crate) mod bounded;
pub mod chunks;
pub mod clock;
pub mod cluster_config;
pub mod field;
pub mod findings;
pub mod gzip;
pub mod history;
pub mod image;
pub mod inventory_type;
pub mod keys;
pub mod limits;
pub mod model;
pub mod names;
pub mod plan;
pub mod report;
pub mod sbom;
pub mod subscription;
pub mod threat;
pub mod vex;
pub mod worklist;
pub mod workload;

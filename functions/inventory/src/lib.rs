//! Runtime inventory domain and storage, shared by every function.

pub mod clock;
pub mod http;
pub mod image;
pub mod ingest;
pub mod model;
pub mod plan;
pub mod query;
pub mod report;
pub mod settings;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ingest::{IngestError, IngestSummary, Ingestor};
pub use query::{InventoryQuery, InventoryReader};
pub use settings::Settings;
pub use store::Store;

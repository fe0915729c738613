//! CloudWatch metrics the functions print in Embedded Metric Format: one namespace, every metric
//! dimensioned by the table so two stacks in an account stay apart.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub const METRIC_NAMESPACE: &str = "RuntimeInventory";
/// Every metric's first dimension: the table.
pub const TABLE_DIMENSION: &str = "Table";

/// One EMF line: `metrics` (name, value) with the table and `dimensions` (name, value).
pub fn emf_line(table: &str, now: DateTime<Utc>, dimensions: &[(&str, &str)], metrics: &[(&str, usize)]) -> String {
    let names: Vec<&str> = std::iter::once(TABLE_DIMENSION).chain(dimensions.iter().map(|(name, _)| *name)).collect();
    let definitions: Vec<Value> =
        metrics.iter().map(|(name, _)| serde_json::json!({"Name": name, "Unit": "Count"})).collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{"Namespace": METRIC_NAMESPACE, "Dimensions": [names], "Metrics": definitions}],
        }),
    );
    line.insert(TABLE_DIMENSION.into(), table.into());
    for (name, value) in dimensions {
        line.insert((*name).into(), (*value).into());
    }
    for (name, value) in metrics {
        line.insert((*name).into(), (*value).into());
    }
    Value::Object(line).to_string()
}

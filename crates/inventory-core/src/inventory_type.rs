//! The two kinds of inventory, named in every key and route.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum InventoryType {
    Ecs,
    Kubernetes,
}

impl InventoryType {
    pub const ALL: [InventoryType; 2] = [InventoryType::Ecs, InventoryType::Kubernetes];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ecs => "ecs",
            Self::Kubernetes => "kubernetes",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

impl fmt::Display for InventoryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

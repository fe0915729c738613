//! What DynamoDB bills: an item's size and the read units of reading it.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// An item's size as DynamoDB bills it: attribute names plus values (a number about one byte
/// per two digits, lists and maps 3 bytes plus their elements).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    fn value_size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + 1 + value_size(v)).sum::<usize>(),
            AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
            AttributeValue::B(blob) => blob.as_ref().len(),
            _ => 1,
        }
    }
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// Read units of reading `bytes` strongly consistently (4 KB a unit).
pub fn read_units(bytes: usize) -> usize {
    bytes.div_ceil(4096).max(1)
}

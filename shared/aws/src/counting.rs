//! An SDK interceptor that counts the requests clients send, per service and operation,
//! and the DynamoDB write units each write bills: how the bench measures what the
//! functions cost in AWS requests, and how tests prove that a redelivery writes nothing.
//! Install it on every client with [`crate::intercept_all`], or on one client's config.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Requests per (service, operation) and DynamoDB write units per table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub requests: BTreeMap<(String, String), u64>,
    pub write_units: BTreeMap<String, f64>,
    pub read_requests: u64,
}

impl Counts {
    /// What was counted after `before`.
    pub fn minus(&self, before: &Counts) -> Counts {
        let mut out = self.clone();
        for (key, n) in &before.requests {
            *out.requests.entry(key.clone()).or_default() -= n;
        }
        for (table, units) in &before.write_units {
            *out.write_units.entry(table.clone()).or_default() -= units;
        }
        out.read_requests -= before.read_requests;
        out
    }

    /// Requests of one operation (`("DynamoDB", "PutItem")`).
    pub fn operation(&self, service: &str, operation: &str) -> u64 {
        self.requests
            .get(&(service.to_string(), operation.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Requests to one service (`DynamoDB`, `SQS`, `S3`, `Secrets Manager`).
    pub fn service(&self, service: &str) -> u64 {
        self.requests
            .iter()
            .filter(|((s, _), _)| s == service)
            .map(|(_, n)| n)
            .sum()
    }

    /// Write units billed by the tables `tables` accepts.
    pub fn units(&self, tables: impl Fn(&str) -> bool) -> f64 {
        self.write_units
            .iter()
            .filter(|(t, _)| tables(t))
            .map(|(_, u)| u)
            .sum()
    }
}

/// The interceptor: `read_before_transmit` runs once per attempt, after signing.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<Counts>>);

impl RequestCounter {
    pub fn snapshot(&self) -> Counts {
        self.0.lock().unwrap().clone()
    }
}

const DYNAMODB_WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

/// DynamoDB's size of an attribute value as its request JSON carries it (names count too).
fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S" | "B", Value::String(text)) => text.len(),
        // Numbers: about one byte per two digits plus one.
        ("N", Value::String(text)) => text.len().div_ceil(2) + 1,
        ("M", Value::Object(map)) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + value_size(v))
                .sum::<usize>()
        }
        ("L", Value::Array(items)) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        ("SS" | "NS" | "BS", Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map_or(0, str::len)).sum()
        }
        _ => 1,
    }
}

fn item_units(item: &Value) -> f64 {
    let size: usize = item
        .as_object()
        .map(|map| map.iter().map(|(k, v)| k.len() + value_size(v)).sum())
        .unwrap_or(0);
    size.div_ceil(1024).max(1) as f64
}

/// Write units a DynamoDB write request bills (a failed conditional write bills too):
/// one per started KB of each item written; an update counts as one.
fn write_units(operation: &str, body: &Value) -> Vec<(String, f64)> {
    let table = body["TableName"].as_str().unwrap_or("?").to_string();
    match operation {
        "PutItem" => vec![(table, item_units(&body["Item"]))],
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(table, requests)| {
                requests.as_array().into_iter().flatten().map(|r| {
                    let units = r
                        .get("PutRequest")
                        .map_or(1.0, |put| item_units(&put["Item"]));
                    (table.clone(), units)
                })
            })
            .collect(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_object()?.values().next())
            .map(|op| {
                let units = op.get("Item").map_or(1.0, item_units);
                // Transactions bill twice.
                (
                    op["TableName"].as_str().unwrap_or("?").to_string(),
                    2.0 * units,
                )
            })
            .collect(),
        _ => vec![(table, 1.0)],
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let (service, operation) = (metadata.service(), metadata.name());
        let mut counts = self.0.lock().unwrap();
        *counts
            .requests
            .entry((service.to_string(), operation.to_string()))
            .or_default() += 1;
        if service == "DynamoDB" {
            if DYNAMODB_WRITES.contains(&operation) {
                let body: Value = context
                    .request()
                    .body()
                    .bytes()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                for (table, units) in write_units(operation, &body) {
                    *counts.write_units.entry(table).or_default() += units;
                }
            } else {
                counts.read_requests += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn write_units_follow_item_sizes_per_started_kilobyte() {
        let small = json!({"TableName": "t", "Item": {"sku": {"S": "A"}, "revision": {"N": "7"}}});
        assert_eq!(write_units("PutItem", &small), vec![("t".to_string(), 1.0)]);
        let large = json!({"TableName": "t", "Item": {"text": {"S": "x".repeat(1500)}}});
        assert_eq!(write_units("PutItem", &large), vec![("t".to_string(), 2.0)]);
        let batch = json!({"RequestItems": {"p": [
            {"PutRequest": {"Item": {"text": {"S": "x".repeat(3000)}}}},
            {"DeleteRequest": {"Key": {"sku": {"S": "A"}}}}
        ]}});
        assert_eq!(
            write_units("BatchWriteItem", &batch),
            vec![("p".to_string(), 3.0), ("p".to_string(), 1.0)]
        );
        let update = json!({"TableName": "r", "Key": {"webhook_id": {"S": "w"}}});
        assert_eq!(
            write_units("UpdateItem", &update),
            vec![("r".to_string(), 1.0)]
        );
    }
}

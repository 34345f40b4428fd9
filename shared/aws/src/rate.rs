//! The read API's per-client throttle on DynamoDB: one counter item per client and second,
//! incremented under a condition, so the limit holds across every instance of the function.

use crate::classify::written;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use bridge_domain::PortError;
use bridge_domain::ports::RateLimiter;
use chrono::{DateTime, Utc};

/// Counters: partition key `window` (`{client}#{unix second}`), TTL attribute `expires_at`
/// (a minute after their second: DynamoDB deletes them within days, the key never repeats).
#[derive(Clone)]
pub struct DynamoRateLimiter {
    client: Client,
    table: String,
}

impl DynamoRateLimiter {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl RateLimiter for DynamoRateLimiter {
    async fn admit(&self, client: &str, limit: u32, now: DateTime<Utc>) -> Result<bool, PortError> {
        let second = now.timestamp();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("window", AttributeValue::S(format!("{client}#{second}")))
            .update_expression("ADD #n :one SET #exp = :exp")
            .condition_expression("attribute_not_exists(#n) OR #n < :limit")
            .expression_attribute_names("#n", "requests")
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .expression_attribute_values(":exp", AttributeValue::N((second + 60).to_string()))
            .send()
            .await;
        written("rate.admit", result)
    }
}

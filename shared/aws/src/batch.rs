//! DynamoDB batch requests with their unprocessed rest retried: a throttled part of a
//! batch is sent again with backoff, and one that stays unprocessed fails retryably.

use crate::classify;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use bridge_domain::PortError;
use bridge_domain::ports::READS_IN_FLIGHT;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::time::Duration;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Keys one BatchGetItem request may carry.
pub(crate) const BATCH_GET_KEYS: usize = 100;

/// Attempts at an unprocessed rest: 50 ms doubling, about 13 s in all.
pub(crate) const BATCH_ATTEMPTS: u32 = 8;

pub(crate) async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(50u64 << attempt.min(8))).await;
}

/// Every item of `keys` that exists, however many: requests of [`BATCH_GET_KEYS`] keys,
/// [`READS_IN_FLIGHT`] of them at a time. The keys must be distinct (DynamoDB refuses a
/// request naming one twice).
pub(crate) async fn get_many(
    client: &Client,
    table: &str,
    keys: &[Item],
    projection: Option<&str>,
    operation: &'static str,
) -> Result<Vec<Item>, PortError> {
    let reads: Vec<_> = keys
        .chunks(BATCH_GET_KEYS)
        .map(|chunk| batch_get(client, table, chunk.to_vec(), projection, operation))
        .collect();
    let items: Vec<Vec<Item>> = futures::stream::iter(reads)
        .buffer_unordered(READS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(items.into_iter().flatten().collect())
}

/// Every item of `keys` (at most [`BATCH_GET_KEYS`]) that exists, read consistently,
/// with only `projection` if given. Missing keys are simply absent from the answer.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    projection: Option<&str>,
    operation: &'static str,
) -> Result<Vec<Item>, PortError> {
    debug_assert!(keys.len() <= BATCH_GET_KEYS);
    let mut items = Vec::with_capacity(keys.len());
    let mut request = Some(
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .set_projection_expression(projection.map(str::to_string))
            .consistent_read(true)
            .build()
            .map_err(|e| PortError::permanent(operation, e.to_string()))?,
    );
    let mut attempt = 0;
    while let Some(keys) = request.take() {
        let output = client
            .batch_get_item()
            .request_items(table, keys)
            .send()
            .await
            .map_err(|e| classify(operation, e))?;
        items.extend(
            output
                .responses
                .unwrap_or_default()
                .remove(table)
                .unwrap_or_default(),
        );
        request = output
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .filter(|k| !k.keys.is_empty());
        if request.is_some() {
            attempt += 1;
            if attempt >= BATCH_ATTEMPTS {
                return Err(PortError::retryable(
                    operation,
                    "reads stayed unprocessed (throttled)",
                ));
            }
            backoff(attempt).await;
        }
    }
    Ok(items)
}

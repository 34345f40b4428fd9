//! Replays an event the intake accepted: its receipt keeps what was queued, for as long as
//! webhook ids are remembered (`ReceiptRetentionDays`).

use anyhow::Context;
use bridge_aws::DynamoReceiptStore;
use bridge_contract::envelope::attributes;
use bridge_domain::{Route, Source};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub struct Replayed {
    pub webhook_id: String,
    pub source: String,
    pub event_type: String,
    pub record: String,
    pub queue: String,
    pub message_id: String,
}

/// The route of a stored receipt.
fn route(receipt: &BTreeMap<String, String>) -> anyhow::Result<Route> {
    let name = receipt
        .get("route")
        .context("the receipt predates replay support (no route)")?;
    Route::ALL
        .into_iter()
        .find(|r| r.as_str() == name)
        .with_context(|| format!("unknown route {name}"))
}

/// Sends the queued envelope of `webhook_id` again, to the queue `queue_for` names for its
/// route. Applying it twice is harmless: consumers keep the newest revision.
pub async fn replay(
    receipts: &DynamoReceiptStore,
    sqs: &aws_sdk_sqs::Client,
    webhook_id: &str,
    source: Option<Source>,
    queue_for: impl Fn(Route) -> Option<String>,
) -> anyhow::Result<Replayed> {
    let named = source.is_some();
    let sources = match source {
        Some(source) => vec![source],
        // The contract's sources; a webhook of another source needs its name.
        None => vec![Source::erp(), Source::shop()],
    };
    let mut found = None;
    for source in sources {
        if let Some(receipt) = receipts.receipt(&format!("{source}#{webhook_id}")).await? {
            found = Some((source, receipt));
            break;
        }
    }
    let (source, receipt) = found.with_context(|| {
        let hint = if named {
            ""
        } else {
            " (looked under erp and shop; name any other source with --source)"
        };
        format!(
            "no receipt for webhook {webhook_id}: never accepted, or older than the retention{hint}"
        )
    })?;
    if receipt.get("status").map(String::as_str) != Some("queued") {
        anyhow::bail!(
            "webhook {webhook_id} was never queued (status {:?})",
            receipt.get("status")
        );
    }
    let envelope = receipt
        .get("envelope")
        .context("the receipt holds no envelope to replay")?;
    let route = route(&receipt)?;
    let queue =
        queue_for(route).with_context(|| format!("no queue known for route {}", route.as_str()))?;
    let string = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
    };
    let get = |k: &str| receipt.get(k).cloned().unwrap_or_default();
    let output = sqs
        .send_message()
        .queue_url(&queue)
        .message_body(envelope)
        .message_attributes(attributes::EVENT_TYPE, string(&get("event_type"))?)
        .message_attributes(attributes::WEBHOOK_ID, string(webhook_id)?)
        .message_attributes(attributes::CORRELATION_ID, string(&get("correlation_id"))?)
        .message_attributes(attributes::SOURCE, string(source.as_str())?)
        .message_attributes("replayed_at", string(&chrono::Utc::now().to_rfc3339())?)
        .send()
        .await?;
    Ok(Replayed {
        webhook_id: webhook_id.to_string(),
        source: source.to_string(),
        event_type: get("event_type"),
        record: get("record"),
        queue,
        message_id: output.message_id.unwrap_or_default(),
    })
}

//! The webhook events the sections send: the contract's ERP types in a realistic mix,
//! signed as a Standard Webhooks sender signs them.

use bridge_contract::SigningSecret;
use serde_json::{Value, json};

pub const SECRET_BYTES: [u8; 32] = [9; 32];

pub fn secret() -> SigningSecret {
    SigningSecret::from_bytes(SECRET_BYTES)
}

/// Event `n` of a mix: 45 % stock, 45 % prices, 10 % customers; `record` picks which
/// record it changes, `revision` its revision.
pub fn body(n: u64, record: u64, revision: u64) -> Value {
    match n % 20 {
        0..=8 => json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"sku": format!("SKU-{record:06}"), "warehouse": "W1",
                     "available": format!("{}.5", (record * 7 + revision) % 1000),
                     "revision": revision, "as_of": "2026-11-26T09:59:00Z"}}),
        9..=17 => json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"price_list": "PL-STANDARD", "sku": format!("SKU-{record:06}"),
                     "currency": "EUR", "revision": revision, "price_unit": "C62", "price_per": 1,
                     "tiers": [{"min_qty": 1, "unit_price": format!("{}.90", 10 + revision % 50)},
                               {"min_qty": 100, "unit_price": format!("{}.40", 9 + revision % 50)}]}}),
        _ => json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"customer_id": format!("C-{record:05}"), "name": format!("Kunde {record} GmbH"),
                     "revision": revision, "blocked": false,
                     "credit_limit": {"amount": "50000.00", "currency": "EUR"},
                     "price_lists": ["PL-STANDARD"], "payment_terms": "30 days net"}}),
    }
}

/// `webhook-signature` for `body` under the bench's secret.
pub fn signature(webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
    bridge_contract::sign(&secret(), webhook_id, timestamp, body)
}

/// One SQS record as Lambda's event source hands it over. `attributes`: message
/// attributes as (name, value) pairs of string attributes.
pub fn sqs_record<'a>(
    id: &str,
    receipt_handle: &str,
    body: &str,
    attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    queue_arn: &str,
) -> Value {
    let attributes: serde_json::Map<String, Value> = attributes
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                json!({"stringValue": v, "dataType": "String"}),
            )
        })
        .collect();
    json!({"messageId": id, "receiptHandle": receipt_handle, "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": attributes,
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1"})
}

/// An intake queue envelope carrying `body` inline, as if webhook `id` had been accepted.
pub fn envelope(id: &str, source: &str, body: Value) -> String {
    json!({"version": 1, "webhook_id": id, "source": source,
        "event_type": body["type"], "correlation_id": format!("c-{id}"),
        "received_at": "2026-11-26T10:00:00Z", "payload": {"kind": "inline", "body": body}})
    .to_string()
}

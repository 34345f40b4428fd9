//! Helpers shared by the integration tests.

use bridge_contract::SigningSecret;
use bridge_lambda::Config;
use bridge_testkit::TestStack;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use webhook_intake::{Intake, IntakeRequest};

pub fn new_secret() -> String {
    SigningSecret::from_bytes(rand_bytes()).to_whsec()
}

fn rand_bytes() -> [u8; 32] {
    let id = uuid::Uuid::new_v4();
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(id.as_bytes());
    out[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    out
}

/// A stack with one secret per source (`erp` gets two when `rotating`).
pub async fn stack(rotating: bool) -> TestStack {
    let mut erp = vec![new_secret()];
    if rotating {
        erp.push(new_secret());
    }
    TestStack::with_secrets(BTreeMap::from([
        ("erp".to_string(), erp),
        ("shop".to_string(), vec![new_secret()]),
    ]))
    .await
}

pub async fn intake(stack: &TestStack) -> Intake {
    intake_with(stack, HashMap::new()).await
}

/// The intake wired exactly as deployed, with some environment overridden.
pub async fn intake_with(stack: &TestStack, overrides: HashMap<&str, String>) -> Intake {
    let mut env = stack.environment("webhook-intake");
    for (k, v) in overrides {
        env.insert(k.to_string(), v);
    }
    webhook_intake::wiring::build(&Config::from_map(env), &stack.sdk)
        .await
        .expect("the intake wires")
}

pub fn sync(stack: &TestStack) -> price_stock_sync::PriceStockSync {
    price_stock_sync::wiring::build(
        &Config::from_map(stack.environment("price-stock-sync")),
        &stack.sdk,
    )
    .expect("the sync wires")
}

pub fn stock_event(sku: &str, revision: u64, available: &str) -> Value {
    json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z",
           "data": {"sku": sku, "warehouse": "W1", "available": available, "revision": revision}})
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A request signed with the reference Python signer.
pub fn signed_request(
    source: &str,
    secret: &str,
    webhook_id: &str,
    timestamp: i64,
    body: &str,
) -> IntakeRequest {
    let signature = bridge_testkit::python_sign(secret, webhook_id, timestamp, body);
    request(source, webhook_id, timestamp, &signature, body)
}

pub fn request(
    source: &str,
    webhook_id: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> IntakeRequest {
    IntakeRequest {
        method: "POST".into(),
        source: source.into(),
        headers: HashMap::from([
            ("content-type".to_string(), "application/json".to_string()),
            ("webhook-id".to_string(), webhook_id.to_string()),
            ("webhook-timestamp".to_string(), timestamp.to_string()),
            ("webhook-signature".to_string(), signature.to_string()),
        ]),
        body: body.as_bytes().to_vec(),
    }
}

/// Signs with our own signer (for bulk requests where the Python round trip adds nothing).
pub fn rust_signed(source: &str, secret: &str, webhook_id: &str, body: &str) -> IntakeRequest {
    let secret = SigningSecret::parse(secret).unwrap();
    let ts = now();
    let signature = bridge_contract::sign(&secret, webhook_id, ts, body.as_bytes());
    request(source, webhook_id, ts, &signature, body)
}

/// Builds the SQS event Lambda would deliver for messages received from a queue.
pub fn sqs_event(
    queue_arn: &str,
    messages: &[aws_sdk_sqs::types::Message],
) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    for message in messages {
        event.records.push(sqs_record(
            queue_arn,
            message.message_id().unwrap_or_default(),
            message.body().unwrap_or_default(),
            1,
        ));
    }
    event
}

pub fn sqs_record(
    queue_arn: &str,
    id: &str,
    body: &str,
    receive_count: u32,
) -> aws_lambda_events::event::sqs::SqsMessage {
    let mut record = aws_lambda_events::event::sqs::SqsMessage::default();
    record.message_id = Some(id.to_string());
    record.body = Some(body.to_string());
    record.event_source_arn = Some(queue_arn.to_string());
    record
        .attributes
        .insert("ApproximateReceiveCount".into(), receive_count.to_string());
    record
}

/// Posts `body` to the local stack's webhook URL of `source`, signed with its first secret
/// by the reference Python signer; the answer's status.
pub async fn post_to_local_stack(
    stack: &bridgectl::dev::LocalStack,
    source: bridge_domain::Source,
    id: &str,
    body: &Value,
) -> u16 {
    let secret = &stack.info.signing_secrets[source.as_str()][0];
    let ts = chrono::Utc::now().timestamp();
    let body = body.to_string();
    let signature = bridge_testkit::python_sign(secret, id, ts, &body);
    reqwest::Client::new()
        .post(stack.webhook_url(&source))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

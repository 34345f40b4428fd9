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

/// The shop of a local stack, read as the storefront would (`GET` a path of the project).
pub async fn shop_get(stack: &bridgectl::dev::LocalStack, path: &str) -> Value {
    bridgectl::shop::get(&stack.shop_settings, path)
        .await
        .expect("the shop answers")
}

/// Polls `path` until `done` holds for its answer (or panics after `timeout`). A resource
/// the shop does not have yet (404) is polled again like any answer that is not done.
pub async fn shop_until(
    stack: &bridgectl::dev::LocalStack,
    path: &str,
    timeout: std::time::Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    match bridgectl::shop::until(&stack.shop_settings, path, timeout, done).await {
        (true, Ok(answer)) => answer,
        (_, last) => panic!("the shop did not get there in {timeout:?}: {last:?}"),
    }
}

/// The first message that arrives on `queue_url` (received, not deleted), or a panic naming
/// `what` after `timeout`.
pub async fn first_message(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    timeout: std::time::Duration,
    what: &str,
) -> aws_sdk_sqs::types::Message {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if let Some(message) = received.into_iter().next() {
            return message;
        }
        assert!(std::time::Instant::now() < deadline, "{what}");
    }
}

/// A TCP proxy in front of a server that can be switched off: while down, every
/// connection (new or open) is cut, as an unreachable shop is. Records what clients sent.
pub struct FaultProxy {
    pub url: String,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Every byte clients sent through it, in arrival order.
    pub sent: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl FaultProxy {
    pub async fn start(target: &str) -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let target = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (accept_up, accept_sent) = (up.clone(), sent.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let (target, up, sent) = (target.clone(), accept_up.clone(), accept_sent.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let mut client_buf = vec![0u8; 16384];
                    let mut server_buf = vec![0u8; 16384];
                    loop {
                        if !up.load(Ordering::SeqCst) {
                            return;
                        }
                        tokio::select! {
                            n = client.read(&mut client_buf) => {
                                let Ok(n) = n else { return };
                                if n == 0 || !up.load(Ordering::SeqCst) { return }
                                sent.lock().unwrap().extend_from_slice(&client_buf[..n]);
                                if server.write_all(&client_buf[..n]).await.is_err() { return }
                            }
                            n = server.read(&mut server_buf) => {
                                let Ok(n) = n else { return };
                                if n == 0 || client.write_all(&server_buf[..n]).await.is_err() { return }
                            }
                            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
                        }
                    }
                });
            }
        });
        Self { url, up, sent }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
    }

    /// The quantities of the `changeQuantity` actions sent so far, in order.
    pub fn quantities_sent(&self) -> Vec<i64> {
        let sent = String::from_utf8_lossy(&self.sent.lock().unwrap()).to_string();
        sent.match_indices(r#"{"action":"changeQuantity","quantity":"#)
            .filter_map(|(at, needle)| {
                let rest = &sent[at + needle.len()..];
                rest[..rest.find('}')?].parse().ok()
            })
            .collect()
    }
}

/// A local stack of its own on the shared moto and emulator.
pub async fn local_stack(name: &str) -> bridgectl::dev::LocalStack {
    local_stack_with(name, &[]).await
}

/// A local stack of its own with some of its functions' variables set.
pub async fn local_stack_with(
    name: &str,
    overrides: &[(&str, &str)],
) -> bridgectl::dev::LocalStack {
    let dir = std::env::temp_dir().join(bridge_testkit::unique("stack"));
    let mut options = bridgectl::dev::DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique(name);
    options.stack_file = dir.join("stack.json");
    options.shop_emulator = Some(bridge_testkit::shop_emulator().to_string());
    for (name, value) in overrides {
        options
            .overrides
            .insert(name.to_string(), value.to_string());
    }
    bridgectl::dev::LocalStack::start(options)
        .await
        .expect("the local stack starts")
}

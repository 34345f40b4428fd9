//! Per-event CPU of the webhook intake (verify + validate + route + enqueue) and of the
//! sync (apply a batch of 10), in-process with in-memory ports, against the floor each
//! cannot go below: the HMAC and the JSON parse alone, the batch's deserialisation alone.

use crate::cpu::{best_of, best_of_prepared};
use crate::events;
use crate::fakes::{Freshness, Objects, Queue, Receipts, Stores};
use crate::report::Report;
use aws_lambda_events::event::sqs::SqsEvent;
use bridge_domain::Route;
use bridge_domain::ports::OutboundMessage;
use bridge_lambda::Config;
use hmac::{Hmac, Mac};
use price_stock_sync::{PriceStockSync, SyncPorts, SyncSettings};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use webhook_intake::config::{PAYLOAD_BUCKET, RECEIPT_TABLE, SigningSecrets, queue_variable};
use webhook_intake::{Intake, IntakePorts, IntakeRequest, IntakeSettings};

const EVENTS: u64 = 20_000;
const RUNS: usize = 5;

fn queue_url(route: Route) -> String {
    format!("https://sqs.local/queue/{}", route.as_str())
}

fn queue_arn(route: Route) -> String {
    format!("arn:aws:sqs:us-east-1:000000000000:{}", route.as_str())
}

fn intake(queue: Arc<Queue>) -> Intake {
    let secrets = SigningSecrets::from_json(
        &json!({"erp": [events::secret().to_whsec()], "shop": []}).to_string(),
        &bridge_domain::Sources::contract(),
    )
    .expect("valid secrets");
    let mut env: HashMap<String, String> = Route::ALL
        .into_iter()
        .map(|route| (queue_variable(route).to_string(), queue_url(route)))
        .collect();
    env.insert(RECEIPT_TABLE.into(), "receipts".into());
    env.insert(PAYLOAD_BUCKET.into(), "payloads".into());
    let settings =
        IntakeSettings::from_config(&Config::from_map(env), secrets).expect("valid settings");
    Intake::new(
        settings,
        IntakePorts {
            queue,
            receipts: Arc::new(Receipts::default()),
            objects: Arc::new(Objects::default()),
        },
    )
}

/// Signed deliveries of `EVENTS` distinct events.
fn requests() -> Vec<IntakeRequest> {
    let timestamp = chrono::Utc::now().timestamp();
    (0..EVENTS)
        .map(|n| {
            let id = format!("msg_{n:08}");
            let body = events::body(n, n, 1).to_string().into_bytes();
            let headers = HashMap::from([
                ("content-type".to_string(), "application/json".to_string()),
                ("webhook-id".to_string(), id.clone()),
                ("webhook-timestamp".to_string(), timestamp.to_string()),
                (
                    "webhook-signature".to_string(),
                    events::signature(&id, timestamp, &body),
                ),
            ]);
            IntakeRequest {
                method: "POST".into(),
                source: "erp".into(),
                headers,
                body,
            }
        })
        .collect()
}

/// What the intake cannot avoid per event: the HMAC of `{id}.{timestamp}.{body}` and
/// parsing the body as JSON.
fn floor(requests: &[IntakeRequest]) {
    for request in requests {
        let mut mac = Hmac::<Sha256>::new_from_slice(&events::SECRET_BYTES).expect("any key");
        mac.update(request.headers["webhook-id"].as_bytes());
        mac.update(b".");
        mac.update(request.headers["webhook-timestamp"].as_bytes());
        mac.update(b".");
        mac.update(&request.body);
        black_box(mac.finalize());
        black_box(serde_json::from_slice::<Value>(&request.body).expect("JSON"));
    }
}

pub fn run(
    runtime: &tokio::runtime::Runtime,
    report: &mut Report,
) -> Vec<(String, OutboundMessage)> {
    let requests = requests();
    let now = chrono::Utc::now();
    let (queued, spent) = best_of_prepared(
        RUNS,
        || {
            let queue = Arc::new(Queue::default());
            (intake(queue.clone()), queue, requests.clone())
        },
        |(intake, queue, batch)| {
            runtime.block_on(async {
                for request in batch {
                    let response = intake.handle(request, now).await;
                    assert_eq!(response.status, 202, "{:?}", response.body);
                }
            });
            std::mem::take(&mut *queue.0.lock().unwrap())
        },
    );
    let (_, floor_spent) = best_of(RUNS, || floor(&requests));
    let per_event = spent.as_secs_f64() * 1e6 / EVENTS as f64;
    let floor_per_event = floor_spent.as_secs_f64() * 1e6 / EVENTS as f64;
    report.add(
        "webhook intake",
        "CPU per event: verify + validate + route + enqueue (in-memory ports)",
        per_event,
        "HMAC-SHA256 + JSON parse alone",
        floor_per_event,
        "µs",
        None,
    );
    queued
}

fn sync() -> PriceStockSync {
    let stores = Arc::new(Stores::default());
    let mut env = HashMap::new();
    for (name, value) in [
        ("STOCK_TABLE", "stock"),
        ("PRICE_TABLE", "prices"),
        ("CUSTOMER_TABLE", "customers"),
        ("CONTACT_TABLE", "contacts"),
        ("PAYLOAD_BUCKET", "payloads"),
        ("FRESHNESS_TABLE", "freshness"),
    ] {
        env.insert(name.to_string(), value.to_string());
    }
    for (arn, dlq, route) in [
        (
            "STOCK_PRICE_QUEUE_ARN",
            "STOCK_PRICE_DLQ_URL",
            Route::StockPrice,
        ),
        ("CUSTOMER_QUEUE_ARN", "CUSTOMER_DLQ_URL", Route::Customers),
    ] {
        env.insert(arn.to_string(), queue_arn(route));
        env.insert(dlq.to_string(), format!("{}-dlq", queue_url(route)));
    }
    let settings = SyncSettings::from_config(&Config::from_map(env)).expect("valid settings");
    PriceStockSync::new(
        settings,
        SyncPorts {
            stock: stores.clone(),
            prices: stores.clone(),
            customers: stores.clone(),
            contacts: stores,
            objects: Arc::new(Objects::default()),
            queue: Arc::new(Queue::default()),
            freshness: Arc::new(Freshness),
        },
    )
}

/// The intake's queued messages as the SQS event source delivers them: batches of 10 from
/// one queue, serialised as Lambda hands them to the runtime.
fn batches(queued: &[(String, OutboundMessage)]) -> Vec<Vec<u8>> {
    let mut per_route: Vec<(Route, Vec<&OutboundMessage>)> = vec![];
    for route in [Route::StockPrice, Route::Customers] {
        let url = queue_url(route);
        per_route.push((
            route,
            queued
                .iter()
                .filter(|(queue, _)| *queue == url)
                .map(|(_, message)| message)
                .collect(),
        ));
    }
    let mut out = Vec::new();
    for (route, messages) in per_route {
        for (b, chunk) in messages.chunks(10).enumerate() {
            let records: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, message)| {
                    let attributes = message
                        .attributes
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()));
                    events::sqs_record(
                        &format!("{b}-{i}"),
                        &format!("r-{b}-{i}"),
                        &message.body,
                        attributes,
                        &queue_arn(route),
                    )
                })
                .collect();
            out.push(json!({"Records": records}).to_string().into_bytes());
        }
    }
    out
}

pub fn run_sync(
    runtime: &tokio::runtime::Runtime,
    report: &mut Report,
    queued: &[(String, OutboundMessage)],
) {
    let batches = batches(queued);
    let messages = queued.len() as f64;
    let (_, spent) = best_of_prepared(RUNS, sync, |sync| {
        runtime.block_on(async {
            for batch in &batches {
                let event: SqsEvent = serde_json::from_slice(batch).expect("an SQS event");
                let response = sync.handle_batch(event).await.expect("the batch applies");
                assert!(response.batch_item_failures.is_empty());
            }
        });
    });
    let (_, floor_spent) = best_of(RUNS, || {
        for batch in &batches {
            let event: SqsEvent = serde_json::from_slice(batch).expect("an SQS event");
            for record in event.records {
                let body = record.body.unwrap_or_default();
                black_box(serde_json::from_str::<Value>(&body).expect("JSON"));
            }
        }
    });
    report.add(
        "sync",
        "CPU per message, batches of 10: decode + validate + revision rule + apply (in-memory stores)",
        spent.as_secs_f64() * 1e6 / messages,
        "SQS event + message bodies deserialised alone",
        floor_spent.as_secs_f64() * 1e6 / messages,
        "µs",
        None,
    );
}

//! AWS request cost of a realistic mix: webhook events through the intake and the sync,
//! against the moto server, every request the functions issue counted by an SDK
//! interceptor (each attempt, retries included) with the DynamoDB write units it bills.
//!
//! The scenario (`events` in all, default 10,000): 50 % new changes, 30 % unchanged
//! (the state the tables already hold, re-sent under new webhook ids, e.g. an ERP
//! re-pushing its stock), 20 % duplicates (redeliveries of a new change's webhook id).
//! The unchanged records' state is applied first and not counted. The SQS event source's
//! own polling and deletes are AWS's, not the functions', and are not counted.

use crate::events;
use crate::report::{Report, Target};
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use bridge_aws::counting::RequestCounter;
use bridge_testkit::TestStack;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use webhook_intake::{Intake, IntakeRequest};

/// Concurrent consumers per queue (and concurrent deliveries to the intake, twice that).
const CONSUMERS: usize = 4;

struct Pipeline {
    stack: TestStack,
    intake: Intake,
    sync: price_stock_sync::PriceStockSync,
    sqs: aws_sdk_sqs::Client,
}

fn request(id: &str, body: &str) -> IntakeRequest {
    let timestamp = chrono::Utc::now().timestamp();
    IntakeRequest {
        method: "POST".into(),
        source: "erp".into(),
        headers: HashMap::from([
            ("content-type".to_string(), "application/json".to_string()),
            ("webhook-id".to_string(), id.to_string()),
            ("webhook-timestamp".to_string(), timestamp.to_string()),
            (
                "webhook-signature".to_string(),
                events::signature(id, timestamp, body.as_bytes()),
            ),
        ]),
        body: body.as_bytes().to_vec(),
    }
}

impl Pipeline {
    /// Sends `deliveries` (webhook id, body) through the intake while the sync consumes
    /// what is queued, as the event source polls a busy queue: the queues stay short, as
    /// they do in AWS (moto's receive looks at every message in the queue for each one it
    /// hands out, so a queue filled first and drained after costs it quadratic time).
    async fn run(&self, deliveries: &[(String, String)]) -> (u64, u64) {
        use futures::StreamExt;
        let started = std::time::Instant::now();
        let accepted = Arc::new(Mutex::new((0u64, 0u64)));
        let intake_done = AtomicBool::new(false);
        let intake = async {
            futures::stream::iter(deliveries)
                .for_each_concurrent(2 * CONSUMERS, |(id, body)| {
                    let accepted = accepted.clone();
                    async move {
                        let response = self
                            .intake
                            .handle(request(id, body), chrono::Utc::now())
                            .await;
                        let mut accepted = accepted.lock().unwrap();
                        match response.status {
                            202 => accepted.0 += 1,
                            200 => accepted.1 += 1,
                            other => panic!("the intake answered {other}: {:?}", response.body),
                        }
                    }
                })
                .await;
            intake_done.store(true, Ordering::Release);
        };
        // Consumers side by side, as the event source scales a busy queue.
        let consumers = ["StockPriceQueue", "CustomerQueue"]
            .into_iter()
            .flat_map(|queue| std::iter::repeat_n(queue, CONSUMERS))
            .map(|queue| self.drain(queue, &intake_done));
        futures::future::join(intake, futures::future::join_all(consumers)).await;
        eprintln!(
            "  {} deliveries through intake and sync: {:.1} s",
            deliveries.len(),
            started.elapsed().as_secs_f64()
        );
        *accepted.lock().unwrap()
    }

    /// Applies `deliveries` through the sync directly, in batches of 10 per queue.
    async fn seed(&self, deliveries: &[(String, String)]) {
        use futures::StreamExt;
        for (queue, customers) in [("StockPriceQueue", false), ("CustomerQueue", true)] {
            let mine: Vec<_> = deliveries
                .iter()
                .filter(|(_, body)| body.contains("customer.changed") == customers)
                .collect();
            futures::stream::iter(mine.chunks(10))
                .for_each_concurrent(CONSUMERS, |chunk| async move {
                    let records: Vec<Value> = chunk
                        .iter()
                        .map(|(id, body)| {
                            let body: Value = serde_json::from_str(body).expect("JSON");
                            let envelope = events::envelope(id, "erp", body);
                            events::sqs_record(id, id, &envelope, [], self.stack.queue_arn(queue))
                        })
                        .collect();
                    let event =
                        serde_json::from_value(json!({"Records": records})).expect("an SQS event");
                    let response = self
                        .sync
                        .handle_batch(event)
                        .await
                        .expect("the seed applies");
                    assert!(response.batch_item_failures.is_empty());
                })
                .await;
        }
    }

    /// Consumes `queue` in batches of up to 10 until it is empty after `intake_done`.
    async fn drain(&self, queue: &str, intake_done: &AtomicBool) {
        let url = self.stack.queue_url(queue).to_string();
        loop {
            // Read before the receive: an empty receive after the intake ended means empty.
            let last_round = intake_done.load(Ordering::Acquire);
            let messages = self
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .message_attribute_names("All")
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive")
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                if last_round {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
            let records: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let attributes = m
                        .message_attributes()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.as_str(), v.string_value().unwrap_or_default()));
                    events::sqs_record(
                        m.message_id().unwrap_or_default(),
                        m.receipt_handle().unwrap_or_default(),
                        m.body().unwrap_or_default(),
                        attributes,
                        self.stack.queue_arn(queue),
                    )
                })
                .collect();
            let event = serde_json::from_value(json!({"Records": records})).expect("an SQS event");
            let response = self
                .sync
                .handle_batch(event)
                .await
                .expect("the batch applies");
            assert!(
                response.batch_item_failures.is_empty(),
                "sync failures: {:?}",
                response.batch_item_failures
            );
            let entries = messages.iter().enumerate().map(|(i, m)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .expect("id and handle")
            });
            self.sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .expect("delete");
        }
    }
}

pub async fn run(report: &mut Report, total: u64) {
    let counter = RequestCounter::default();
    bridge_aws::intercept_all(vec![SharedInterceptor::new(counter.clone())]);
    let stack = TestStack::with_secrets(BTreeMap::from([
        ("erp".to_string(), vec![events::secret().to_whsec()]),
        ("shop".to_string(), vec![]),
    ]))
    .await;
    let config = |f: &str| bridge_lambda::Config::from_map(stack.environment(f));
    let intake = webhook_intake::wiring::build(&config("webhook-intake"), &stack.sdk)
        .await
        .expect("intake wires");
    let sync = price_stock_sync::wiring::build(&config("price-stock-sync"), &stack.sdk)
        .expect("sync wires");
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let pipeline = Pipeline {
        stack,
        intake,
        sync,
        sqs,
    };
    let (new, unchanged) = (total / 2, total * 3 / 10);
    let duplicates = total - new - unchanged;
    let run_id = bridge_testkit::unique("r");
    let delivery = |n: u64, record: u64, revision: u64, tag: &str| {
        (
            format!("{run_id}-{tag}-{n}"),
            events::body(n, record, revision).to_string(),
        )
    };
    // The state the unchanged events repeat, applied straight through the sync (as an
    // earlier delivery would have) before counting.
    let seeded: Vec<_> = (0..unchanged).map(|n| delivery(n, n, 5, "seed")).collect();
    pipeline.seed(&seeded).await;
    let start = counter.snapshot();

    let fresh: Vec<_> = (0..new)
        .map(|n| delivery(n, 1_000_000 + n, 1, "new"))
        .collect();
    let (accepted, _) = pipeline.run(&fresh).await;
    assert_eq!(accepted, new);
    let after_new = counter.snapshot();

    let repeated: Vec<_> = (0..unchanged)
        .map(|n| {
            let (_, body) = delivery(n, n, 5, "seed");
            (format!("{run_id}-again-{n}"), body)
        })
        .collect();
    let (accepted, _) = pipeline.run(&repeated).await;
    assert_eq!(accepted, unchanged);
    let after_unchanged = counter.snapshot();

    let redelivered: Vec<_> = fresh.iter().take(duplicates as usize).cloned().collect();
    let (accepted, answered_duplicate) = pipeline.run(&redelivered).await;
    assert_eq!((accepted, answered_duplicate), (0, duplicates));
    let end = counter.snapshot();

    let phase_new = after_new.minus(&start);
    let phase_unchanged = after_unchanged.minus(&after_new);
    let phase_duplicates = end.minus(&after_unchanged);
    let all = end.minus(&start);
    let receipts = pipeline.stack.table("WebhookReceiptTable").to_string();
    let records: Vec<String> = ["StockTable", "PriceTable", "CustomerTable"]
        .iter()
        .map(|t| pipeline.stack.table(t).to_string())
        .collect();
    let record_table = |t: &str| records.iter().any(|r| r == t);
    let per_thousand = |n: f64, events: u64| n * 1000.0 / events as f64;
    let section = "AWS request cost";
    let mix = format!("{total} events (50 % new, 30 % unchanged, 20 % duplicates)");
    for (service, name) in [("SQS", "SQS"), ("DynamoDB", "DynamoDB"), ("S3", "S3")] {
        report.add(
            section,
            format!("{name} requests per 1,000 events, {mix}"),
            per_thousand(all.service(service) as f64, total),
            "per 1,000 new events",
            per_thousand(phase_new.service(service) as f64, new),
            "",
            None,
        );
    }
    report.add(
        section,
        format!("DynamoDB write units per 1,000 events, {mix}"),
        per_thousand(all.units(|_| true), total),
        "per 1,000 new events",
        per_thousand(phase_new.units(|_| true), new),
        "",
        None,
    );
    report.add(
        section,
        "DynamoDB write units per duplicate (redelivered webhook id)",
        phase_duplicates.units(|_| true) / duplicates as f64,
        "per new event",
        phase_new.units(|_| true) / new as f64,
        "",
        Some(Target::AtMost(0.0)),
    );
    report.add(
        section,
        "DynamoDB write units per unchanged record, stock/price/customer tables",
        phase_unchanged.units(record_table) / unchanged as f64,
        "per new event",
        phase_new.units(record_table) / new as f64,
        "",
        Some(Target::AtMost(0.0)),
    );
    report.add(
        section,
        "DynamoDB write units per unchanged record, webhook receipts (new ids are remembered)",
        phase_unchanged.units(|t| t == receipts) / unchanged as f64,
        "per new event",
        phase_new.units(|t| t == receipts) / new as f64,
        "",
        None,
    );
    println!("\nrequests by operation over the {total} events:");
    for ((service, operation), n) in &all.requests {
        println!("  {service}.{operation}: {n}");
    }
    for (table, units) in &all.write_units {
        println!("  write units, {table}: {units}");
    }
}

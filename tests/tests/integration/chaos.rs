//! The chaos run: the whole local stack (moto, every function wired to its queues, the ERP
//! simulator) under thousands of webhooks of every type, delivered twice or three times,
//! reordered, with the ERP failing, timing out and losing responses for stretches and
//! invocations killed mid-batch. At the end it checks invariants computed from what was
//! sent and answered, not counts it was told:
//!
//! 1. every accepted record update is applied exactly once in effect: for every record the
//!    stored revision (and content) is the highest revision accepted for it;
//! 2. every placed order is in the ERP exactly once under its own idempotency key, in the
//!    content of its highest revision (older versions arrive late too), or in a named held
//!    state, or in a dead-letter queue with its reason; none is dead-lettered for an ERP
//!    outage shorter than the outage window (a maintenance window is among the faults);
//! 3. every order's ERP status is the one of its highest status revision;
//! 4. every dead-lettered message carries its reason, no queue holds anything else, and
//!    nothing the intake refused reached a table;
//! 5. every payment (sent by the shop and the payment provider alike), lead and return is in
//!    the ERP (the CRM) exactly once, accepted, and each customer's open items count its
//!    payments exactly once.
//!
//! `CHAOS_SEED` replays a run; `CHAOS_SCALE` (default 1) multiplies the record counts.

use bridge_domain::Source;
use bridge_domain::ports::{CustomerStore, OrderStore, PriceStore, StockStore};
use bridgectl::dev::{Chaos, DevOptions, LocalStack};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One webhook to deliver: its id, source, body, and the record it updates.
#[derive(Clone)]
struct Delivery {
    id: String,
    source: Source,
    event: Value,
}

/// What the run sent and what was answered.
#[derive(Default)]
struct Ledger {
    /// Highest accepted revision and its content per record key.
    accepted: BTreeMap<String, (u64, Value)>,
    refused: BTreeSet<String>,
    answers: BTreeMap<u16, u64>,
    deliveries: u64,
    duplicates_sent: u64,
}

fn record_key(event: &Value) -> Option<(String, u64, Value)> {
    let data = &event["data"];
    let revision = data["revision"].as_u64()?;
    let (key, content) = match event["type"].as_str()? {
        "stock.changed" => (
            format!(
                "stock/{}/{}",
                data["sku"].as_str()?,
                data["warehouse"].as_str()?
            ),
            data["available"].clone(),
        ),
        "price.changed" => (
            format!(
                "price/{}/{}",
                data["price_list"].as_str()?,
                data["sku"].as_str()?
            ),
            data["tiers"][0]["unit_price"].clone(),
        ),
        "customer.changed" => (
            format!("customer/{}", data["customer_id"].as_str()?),
            data["name"].clone(),
        ),
        "order.status_changed" => (
            format!("status/{}", data["order_id"].as_str()?),
            data["status"].clone(),
        ),
        _ => return None,
    };
    Some((key, revision, content))
}

fn event(kind: &str, data: Value) -> Value {
    json!({"type": kind, "timestamp": "2026-11-26T10:00:00Z", "data": data})
}

/// Delivers every webhook with `concurrency` senders, retrying 503 as a sender must.
async fn deliver(stack: &LocalStack, deliveries: Vec<Delivery>, ledger: &mut Ledger) {
    let http = reqwest::Client::new();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(12));
    let mut tasks = tokio::task::JoinSet::new();
    for delivery in deliveries {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let http = http.clone();
        let url = stack.webhook_url(&delivery.source);
        let secret = bridge_contract::SigningSecret::parse(
            &stack.info.signing_secrets[delivery.source.as_str()][0],
        )
        .unwrap();
        tasks.spawn(async move {
            let _permit = permit;
            let body = delivery.event.to_string();
            for _ in 0..50 {
                let timestamp = chrono::Utc::now().timestamp();
                let signature =
                    bridge_contract::sign(&secret, &delivery.id, timestamp, body.as_bytes());
                let response = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &delivery.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body.clone())
                    .send()
                    .await;
                match response.map(|r| r.status().as_u16()) {
                    Ok(503) | Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    Ok(status) => return (delivery, status),
                }
            }
            panic!("the intake kept answering 503 for {}", delivery.id);
        });
    }
    while let Some(result) = tasks.join_next().await {
        let (delivery, status) = result.unwrap();
        ledger.deliveries += 1;
        *ledger.answers.entry(status).or_default() += 1;
        let Some((key, revision, content)) = record_key(&delivery.event) else {
            continue;
        };
        match status {
            200 | 202 => {
                let entry = ledger.accepted.entry(key).or_insert((0, Value::Null));
                if revision > entry.0 {
                    *entry = (revision, content);
                }
            }
            400 => {
                ledger.refused.insert(key);
            }
            other => panic!("unexpected answer {other} to {}", delivery.id),
        }
    }
}

/// Each delivery once, a share twice or three times (same id, later), a share again
/// under a new id (a sender that re-sends with fresh ids), all in a shuffled order.
fn with_redeliveries(
    rng: &mut StdRng,
    unique: Vec<Delivery>,
    ledger: &mut Ledger,
) -> Vec<Delivery> {
    let mut out = Vec::with_capacity(unique.len() * 5 / 4);
    for delivery in unique {
        let roll: f64 = rng.random();
        let copies = if roll < 0.15 {
            2
        } else if roll < 0.20 {
            3
        } else {
            1
        };
        if rng.random::<f64>() < 0.05 {
            let mut fresh = delivery.clone();
            fresh.id = format!("{}-again", delivery.id);
            out.push(fresh);
            ledger.duplicates_sent += 1;
        }
        ledger.duplicates_sent += copies - 1;
        for _ in 0..copies {
            out.push(delivery.clone());
        }
    }
    out.shuffle(rng);
    out
}

async fn erp_faults(stack: &LocalStack, faults: Value) {
    reqwest::Client::new()
        .post(format!("{}/_admin/faults", stack.info.erp_base_url))
        .json(&faults)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
}

const SOURCE_QUEUES: [&str; 7] = [
    "StockPriceQueue",
    "CustomerQueue",
    "OrderPlacedQueue",
    "OrderStatusQueue",
    "ReturnQueue",
    "PaymentQueue",
    "LeadQueue",
];

#[tokio::test]
async fn chaos_loses_nothing_applies_nothing_twice_and_lets_nothing_stale_win() {
    let started = Instant::now();
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let scale: usize = std::env::var("CHAOS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    println!("chaos seed {seed} (CHAOS_SEED={seed} replays it), scale {scale}");
    let mut rng = StdRng::seed_from_u64(seed);
    let run = format!("{:06x}", seed % 0xffffff);

    let chaos = Chaos::new(0.15, Duration::from_millis(250));
    let mut options = DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("chaos");
    options.stack_file = std::env::temp_dir()
        .join(bridge_testkit::unique("chaos"))
        .join("stack.json");
    options.schedule(delta_pull::FUNCTION_NAME, None);
    options.chaos = Some(chaos.clone());
    // Timeouts and backoffs of seconds, not minutes: the run is bounded. A killed
    // invocation's batch comes back when the queue's visibility timeout ends, as on Lambda.
    options.queue_visibility_seconds = Some(6);
    options.schedule(order_writeback::FUNCTION_NAME, Some(Duration::from_secs(2)));
    for (name, value) in [
        ("ERP_TIMEOUT_SECONDS", "1"),
        ("RETRY_BASE_SECONDS", "1"),
        ("RETRY_MAX_SECONDS", "2"),
        ("ERP_CIRCUIT_COOL_DOWN_SECONDS", "1"),
        ("RESUME_AFTER_SECONDS", "3"),
    ] {
        options.overrides.insert(name.into(), value.into());
    }
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");
    let mut ledger = Ledger::default();

    // The ground the orders stand on: customers who may order, the prices they order at.
    let customers: Vec<String> = (0..20).map(|n| format!("OC-{run}-{n}")).collect();
    let order_skus: Vec<String> = (0..10).map(|n| format!("OS-{run}-{n}")).collect();
    let rejected_customer = customers[0].clone();
    let mut ground = Vec::new();
    for customer in &customers {
        ground.push(Delivery {
            id: format!("g-{customer}"),
            source: Source::erp(),
            event: event(
                "customer.changed",
                json!({"customer_id": customer, "name": "Kunde", "revision": 1, "price_lists": ["BASE"],
                       "credit_limit": {"amount": "1000000", "currency": "EUR"},
                       "approval_rules": [{"above": {"amount": "5000", "currency": "EUR"}, "role": "manager"}]}),
            ),
        });
    }
    for sku in &order_skus {
        ground.push(Delivery {
            id: format!("g-{sku}"),
            source: Source::erp(),
            event: event(
                "price.changed",
                json!({"price_list": "BASE", "sku": sku, "currency": "EUR", "revision": 1,
                       "tiers": [{"min_qty": 1, "unit_price": "10.00"}]}),
            ),
        });
    }
    deliver(&stack, ground, &mut ledger).await;
    stack
        .drain(&SOURCE_QUEUES, Duration::from_secs(120))
        .await
        .unwrap();
    erp_faults(&stack, json!({"reject_customers": [rejected_customer]})).await;

    // The storm: record updates in shuffled revisions, invalid ones, and orders.
    let mut unique = Vec::new();
    let mut next_id = 0u64;
    let mut id = || {
        next_id += 1;
        format!("w-{run}-{next_id}")
    };
    for n in 0..250 * scale {
        for revision in 1..=rng.random_range(2..=6u64) {
            unique.push(Delivery {
                id: id(),
                source: Source::erp(),
                event: event(
                    "stock.changed",
                    json!({"sku": format!("CS-{run}-{n}"), "warehouse": format!("W{}", n % 3),
                           "available": format!("{}.{}", revision * 10, n % 10), "revision": revision}),
                ),
            });
        }
    }
    for n in 0..120 * scale {
        for revision in 1..=rng.random_range(2..=6u64) {
            unique.push(Delivery {
                id: id(),
                source: Source::erp(),
                event: event(
                    "price.changed",
                    json!({"price_list": format!("L{}", n % 4), "sku": format!("CP-{run}-{n}"), "currency": "EUR",
                           "revision": revision, "tiers": [{"min_qty": 1, "unit_price": format!("{revision}.{:02}", n % 100)}]}),
                ),
            });
        }
    }
    for n in 0..40 * scale {
        for revision in 1..=rng.random_range(2..=5u64) {
            unique.push(Delivery {
                id: id(),
                source: Source::erp(),
                event: event(
                    "customer.changed",
                    json!({"customer_id": format!("CC-{run}-{n}"), "name": format!("Kunde {n} r{revision}"), "revision": revision}),
                ),
            });
        }
    }
    // Invalid ones: refused at the door, never stored.
    for n in 0..30 {
        unique.push(Delivery {
            id: id(),
            source: Source::erp(),
            event: event(
                "stock.changed",
                json!({"sku": format!("BAD-{run}-{n}"), "warehouse": "W1", "available": "-1", "revision": 1}),
            ),
        });
    }
    let mut orders = BTreeMap::new();
    // Every sixth order is the shop's second version; its first version arrives late.
    let mut late_versions = Vec::new();
    for n in 0..120 * scale {
        let order_id = format!("SO-{run}-{n}");
        let customer = customers[n % customers.len()].clone();
        let quantity = if n % 10 == 7 { 600 } else { 1 + n % 20 };
        orders.insert(order_id.clone(), (customer.clone(), quantity));
        let placed = |revision: usize, quantity: usize| {
            event(
                "order.placed",
                json!({"order_id": order_id, "revision": revision, "customer_id": customer, "currency": "EUR",
                       "placed_at": "2026-11-26T10:00:00Z",
                       "lines": [{"line": 1, "sku": order_skus[n % order_skus.len()], "quantity": quantity, "unit_price": "10.00"}]}),
            )
        };
        let versioned = n % 6 == 1;
        unique.push(Delivery {
            id: id(),
            source: Source::shop(),
            event: placed(if versioned { 2 } else { 1 }, quantity),
        });
        if versioned {
            late_versions.push(Delivery {
                id: id(),
                source: Source::shop(),
                event: placed(1, quantity + 2),
            });
        }
    }
    // Payments (each sent by the shop and by the payment provider too) and registrations.
    let mut payments: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for n in 0..40 * scale {
        let payment_id = format!("PAY-{run}-{n}");
        // Not the customer whose bookings the ERP refuses.
        let customer = customers[1 + n % (customers.len() - 1)].clone();
        let cents = 100 + n as u64;
        payments.insert(payment_id.clone(), (customer.clone(), cents));
        let data = json!({"payment_id": payment_id, "customer_id": customer,
            "amount": {"amount": format!("{}.{:02}", cents / 100, cents % 100), "currency": "EUR"},
            "received_at": "2026-12-08T10:00:00Z"});
        for source in [Source::shop(), Source::parse("psp").unwrap()] {
            unique.push(Delivery {
                id: id(),
                source,
                event: event("payment.received", data.clone()),
            });
        }
    }
    let mut registrations = BTreeSet::new();
    for n in 0..30 * scale {
        let registration_id = format!("REG-{run}-{n}");
        registrations.insert(registration_id.clone());
        unique.push(Delivery {
            id: id(),
            source: Source::shop(),
            event: event(
                "account.registered",
                json!({"registration_id": registration_id, "company": format!("Firma {n}")}),
            ),
        });
    }
    let storm = with_redeliveries(&mut rng, unique, &mut ledger);
    let storm_size = storm.len();

    // The ERP fails, times out and loses answers in stretches while the storm goes on.
    let faults_task = {
        let erp = stack.info.erp_base_url.clone();
        let rejected = rejected_customer.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            // The maintenance window outlasts every SQS retry (five deliveries within
            // about 7 s here) twice over, and is far shorter than the outage window.
            let stretches = [
                (json!({"server_error_rate": 0.5}), 6),
                (json!({"down": true}), 15),
                (json!({"timeout_rate": 0.2}), 6),
                (json!({"lost_after_commit_rate": 0.3, "latency_ms": 50}), 6),
                (json!({"throttle_rate": 0.3}), 6),
                (json!({}), 6),
            ];
            for (mut faults, seconds) in stretches {
                faults["reject_customers"] = json!([rejected]);
                let _ = http
                    .post(format!("{erp}/_admin/faults"))
                    .json(&faults)
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_secs(seconds)).await;
            }
        })
    };
    deliver(&stack, storm, &mut ledger).await;
    faults_task.await.unwrap();
    stack
        .drain(&SOURCE_QUEUES, Duration::from_secs(300))
        .await
        .expect("every queue drains");
    // The first versions, late (a slow retry, a replay): none may replace its successor.
    let late_versions = with_redeliveries(&mut rng, late_versions, &mut ledger);
    deliver(&stack, late_versions, &mut ledger).await;
    stack
        .drain(&SOURCE_QUEUES, Duration::from_secs(120))
        .await
        .expect("every queue drains");
    // Orders whose deliveries ended while the ERP was down wait, submitted, for the schedule.
    let order_table = stack.info.table("OrderTable").unwrap().to_string();
    let waiting_orders =
        bridge_aws::DynamoOrderStore::new(aws_sdk_dynamodb::Client::new(&stack.sdk), order_table);
    let waited = Instant::now();
    loop {
        let submitted = waiting_orders
            .in_state(bridge_domain::orders::StateName::Submitted)
            .await
            .unwrap();
        if submitted.is_empty() {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(180),
            "{} orders still submitted 180 s after the ERP recovered: {:?}",
            submitted.len(),
            submitted
                .iter()
                .map(|o| o.order.order_id.to_string())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The ERP's statuses for the orders it has, in shuffled revisions with duplicates.
    let in_erp = erp_orders(&stack).await;
    let mut statuses = Vec::new();
    for (order_id, erp) in &in_erp {
        for (revision, status) in [(1, "confirmed"), (2, "shipped"), (3, "delivered")] {
            statuses.push(Delivery {
                id: format!("st-{order_id}-{revision}"),
                source: Source::erp(),
                event: event(
                    "order.status_changed",
                    json!({"order_id": order_id, "status": status, "revision": revision,
                           "erp_order_number": erp["erp_order_number"]}),
                ),
            });
        }
    }
    let statuses = with_redeliveries(&mut rng, statuses, &mut ledger);
    deliver(&stack, statuses, &mut ledger).await;
    stack
        .drain(&SOURCE_QUEUES, Duration::from_secs(120))
        .await
        .expect("every queue drains");

    // Returns of delivered orders while the ERP fails and loses answers again.
    let mut returns = BTreeMap::new();
    for order_id in in_erp.keys().take(30 * scale) {
        returns.insert(format!("RET-{order_id}"), order_id.clone());
    }
    let mut return_deliveries = Vec::new();
    for (return_id, order_id) in &returns {
        let stored = waiting_orders
            .get(&bridge_domain::OrderId::parse(order_id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let line = &stored.order.lines.as_slice()[0];
        return_deliveries.push(Delivery {
            id: format!("ret-{return_id}"),
            source: Source::shop(),
            event: event(
                "return.requested",
                json!({"return_id": return_id, "order_id": order_id, "revision": 1,
                       "lines": [{"line": line.line, "sku": line.sku, "quantity": 1}]}),
            ),
        });
    }
    erp_faults(
        &stack,
        json!({"server_error_rate": 0.2, "lost_after_commit_rate": 0.3, "reject_customers": [rejected_customer]}),
    )
    .await;
    let return_deliveries = with_redeliveries(&mut rng, return_deliveries, &mut ledger);
    deliver(&stack, return_deliveries, &mut ledger).await;
    erp_faults(&stack, json!({"reject_customers": [rejected_customer]})).await;
    stack
        .drain(&SOURCE_QUEUES, Duration::from_secs(120))
        .await
        .expect("every queue drains");
    // What ran out of deliveries while the ERP was down waits for the schedule.
    let posting_table = stack.info.table("PostingTable").unwrap().to_string();
    let pending_payments: bridge_aws::DynamoPostingStore<bridge_domain::feedback::PaymentReceived> =
        bridge_aws::DynamoPostingStore::new(
            aws_sdk_dynamodb::Client::new(&stack.sdk),
            posting_table.clone(),
        );
    let pending_leads: bridge_aws::DynamoPostingStore<bridge_domain::feedback::AccountRegistered> =
        bridge_aws::DynamoPostingStore::new(
            aws_sdk_dynamodb::Client::new(&stack.sdk),
            posting_table.clone(),
        );
    let pending_returns: bridge_aws::DynamoPostingStore<bridge_domain::feedback::ReturnRequested> =
        bridge_aws::DynamoPostingStore::new(
            aws_sdk_dynamodb::Client::new(&stack.sdk),
            posting_table,
        );
    let waited = Instant::now();
    loop {
        use bridge_domain::ports::PostingStore;
        let waiting = pending_payments.pending().await.unwrap().len()
            + pending_leads.pending().await.unwrap().len()
            + pending_returns.pending().await.unwrap().len();
        if waiting == 0 {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "{waiting} returns, payments or leads still waiting 120 s after the ERP recovered"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // ---- invariants
    let sdk = &stack.sdk;
    let table = |id: &str| stack.info.table(id).unwrap().to_string();
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let stock = bridge_aws::DynamoStockStore::new(dynamo.clone(), table("StockTable"));
    let prices = bridge_aws::DynamoPriceStore::new(
        dynamo.clone(),
        table("PriceTable"),
        table("PriceIndexTable"),
    );
    let customers_store =
        bridge_aws::DynamoCustomerStore::new(dynamo.clone(), table("CustomerTable"));
    let order_store = bridge_aws::DynamoOrderStore::new(dynamo, table("OrderTable"));

    let mut stored: HashMap<String, (u64, Value)> = HashMap::new();
    let mut cursor = None;
    loop {
        let (page, next) = stock.scan_stock(cursor).await.unwrap();
        for s in page {
            stored.insert(
                format!("stock/{}/{}", s.sku, s.warehouse),
                (s.revision.value(), json!(s.available.value().to_string())),
            );
        }
        if next.is_none() {
            break;
        }
        cursor = next;
    }
    let mut cursor = None;
    loop {
        let (page, next) = prices.scan_prices(cursor).await.unwrap();
        for p in page {
            stored.insert(
                format!("price/{}/{}", p.price_list, p.sku),
                (
                    p.revision.value(),
                    json!(p.tiers.as_slice()[0].unit_price.value().to_string()),
                ),
            );
        }
        if next.is_none() {
            break;
        }
        cursor = next;
    }
    let mut violations = Vec::new();
    let decimal = |v: &Value| -> Option<rust_decimal::Decimal> { v.as_str()?.parse().ok() };
    for (key, (revision, content)) in &ledger.accepted {
        if key.starts_with("status/") {
            continue;
        }
        let found = if let Some(id) = key.strip_prefix("customer/") {
            customers_store
                .customer(&bridge_domain::CustomerId::parse(id).unwrap())
                .await
                .unwrap()
                .map(|c| (c.revision.value(), json!(c.name)))
        } else {
            stored.get(key).cloned()
        };
        match found {
            Some((r, c))
                if r == *revision && (c == *content || decimal(&c) == decimal(content)) => {}
            other => violations.push(format!(
                "{key}: accepted up to revision {revision} ({content}), stored {other:?}"
            )),
        }
    }
    for key in &ledger.refused {
        if stored.contains_key(key) {
            violations.push(format!("{key}: refused at the door, yet stored"));
        }
    }

    // Orders: each in the ERP once under its own key, or held by name, or dead-lettered
    // with its reason; statuses at their highest revision.
    let dead_letters = dead_letters(&stack).await;
    let mut fates: BTreeMap<&str, u64> = BTreeMap::new();
    for (order_id, (customer, quantity)) in &orders {
        let stored = order_store
            .get(&bridge_domain::OrderId::parse(order_id).unwrap())
            .await
            .unwrap();
        let erp = in_erp.get(order_id);
        let dead = dead_letters
            .iter()
            .find(|(_, body, _)| body.contains(&format!("\"{order_id}\"")));
        let state = match stored.as_ref().map(|o| &o.state) {
            Some(bridge_domain::orders::OrderState::Erp { .. }) => "erp",
            Some(other) => other.name(),
            None => "missing",
        };
        // The ERP holds the content of the order's highest revision, never a late older one.
        if let (Some(erp), Some(stored)) = (erp, stored.as_ref()) {
            let sent = &erp["body"]["lines"][0]["quantity"];
            if sent != &json!(quantity.to_string()) {
                violations.push(format!(
                    "{order_id}: the ERP has quantity {sent}, the newest version {quantity}"
                ));
            }
            if stored.order.lines.as_slice()[0].quantity.value()
                != rust_decimal::Decimal::from(*quantity as u64)
            {
                violations.push(format!(
                    "{order_id}: an older version replaced the stored one"
                ));
            }
        }
        let fate = match (state, erp, dead) {
            ("erp", Some(erp), None) => {
                let status = stored.as_ref().map(|o| &o.state);
                let expected = ledger.accepted.get(&format!("status/{order_id}"));
                match (status, expected) {
                    (
                        Some(bridge_domain::orders::OrderState::Erp {
                            status, revision, ..
                        }),
                        Some((want, _)),
                    ) if revision.value() == *want && status.as_str() == "delivered" => {}
                    other => violations.push(format!("{order_id}: status {other:?}")),
                }
                if erp["idempotency_key"] != order_id.as_str() {
                    violations.push(format!("{order_id}: in the ERP under another key {erp}"));
                }
                "in the ERP once, delivered"
            }
            ("held", None, None) if *quantity == 600 => "held: approval missing",
            ("rejected", None, Some((_, _, attributes)))
                if customer == &rejected_customer && attributes.contains_key("failure_code") =>
            {
                "rejected by the ERP, dead-lettered with its reason"
            }
            // Dead-lettered because the ERP could not be reached: the outage was shorter than
            // the window, so this must not happen.
            (_, _, Some((_, _, attributes)))
                if attributes
                    .get("failure_code")
                    .is_some_and(|c| c.starts_with("erp_")) =>
            {
                violations.push(format!(
                    "{order_id}: dead-lettered for an ERP outage shorter than the window ({attributes:?})"
                ));
                "dead-lettered for a short ERP outage"
            }
            (_, _, Some((_, _, attributes)))
                if attributes.contains_key("failure_code")
                    && erp.is_none_or(|e| e["idempotency_key"] == order_id.as_str()) =>
            {
                "dead-lettered with its reason (retries exhausted)"
            }
            other => {
                violations.push(format!(
                    "{order_id} ({customer}, qty {quantity}): state {} / ERP {:?} / DLQ {:?}",
                    other.0,
                    other.1,
                    other.2.map(|d| &d.2)
                ));
                "unexplained"
            }
        };
        *fates.entry(fate).or_default() += 1;
    }
    for order_id in in_erp.keys() {
        if !orders.contains_key(order_id) {
            violations.push(format!("{order_id}: in the ERP but never placed"));
        }
    }
    // Payments, leads and returns: each once in the ERP (the CRM), accepted; each
    // customer's open items count its payments once (the ground records carry none).
    let listed = erp_listing(&stack).await;
    let booked = |book: &str| -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for entry in listed[book].as_array().unwrap() {
            *counts
                .entry(entry["external_reference"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        counts
    };
    {
        for (book, expected, accepted) in [
            (
                "payments",
                payments.keys().cloned().collect::<BTreeSet<_>>(),
                accepted_count(&pending_payments, payments.keys()).await,
            ),
            (
                "leads",
                registrations.clone(),
                accepted_count(&pending_leads, registrations.iter()).await,
            ),
            (
                "returns",
                returns.keys().cloned().collect::<BTreeSet<_>>(),
                accepted_count(&pending_returns, returns.keys()).await,
            ),
        ] {
            let counts = booked(book);
            for id in &expected {
                if counts.get(id) != Some(&1) {
                    violations.push(format!(
                        "{book} {id}: {:?} times in the ERP",
                        counts.get(id)
                    ));
                }
            }
            for id in counts.keys() {
                if id.contains(&run) && !expected.contains(id) {
                    violations.push(format!("{book} {id}: in the ERP but never sent"));
                }
            }
            if accepted != expected.len() {
                violations.push(format!(
                    "{book}: {accepted} of {} stored as accepted",
                    expected.len()
                ));
            }
        }
    }
    let mut paid: BTreeMap<&String, u64> = BTreeMap::new();
    for (customer, cents) in payments.values() {
        *paid.entry(customer).or_default() += cents;
    }
    for (customer, cents) in paid {
        let record = customers_store
            .customer(&bridge_domain::CustomerId::parse(customer).unwrap())
            .await
            .unwrap()
            .unwrap();
        let expected = -rust_decimal::Decimal::new(cents as i64, 2);
        if record.open_items.map(|m| m.amount) != Some(expected) {
            violations.push(format!(
                "{customer}: open items {:?}, its payments {expected}",
                record.open_items
            ));
        }
    }
    for (queue, body, attributes) in &dead_letters {
        if !attributes.contains_key("failure_code") {
            violations.push(format!("{queue}: a message without its reason: {body}"));
        }
        let is_order = body.contains("order.placed");
        if !is_order {
            violations.push(format!("{queue}: an unexpected dead letter {attributes:?}"));
        }
    }

    let figures = json!({
        "seed": seed,
        "webhooks_delivered": ledger.deliveries,
        "storm_deliveries": storm_size,
        "redeliveries_sent": ledger.duplicates_sent,
        "answers": ledger.answers,
        "records_checked": ledger.accepted.len(),
        "orders": orders.len(),
        "payments": payments.len(),
        "leads": registrations.len(),
        "returns": returns.len(),
        "order_fates": fates,
        "invocations_killed": chaos.kills(),
        "dead_letters": dead_letters.len(),
        "violations": violations.len(),
        "seconds": started.elapsed().as_secs(),
    });
    println!("chaos figures: {figures}");
    stack.stop().await;
    assert!(
        violations.is_empty(),
        "{} invariant violations (seed {seed}):\n{}",
        violations.len(),
        violations.join("\n")
    );
    assert!(chaos.kills() > 0, "the run killed no invocation");
    assert!(
        *ledger.answers.get(&200).unwrap_or(&0) > 0,
        "no redelivery was recognised"
    );
}

/// How many of `ids` are stored as accepted by the partner.
async fn accepted_count<'a, T: bridge_domain::feedback::Posted + 'static>(
    store: &bridge_aws::DynamoPostingStore<T>,
    ids: impl Iterator<Item = &'a String>,
) -> usize {
    use bridge_domain::ports::PostingStore;
    let mut accepted = 0;
    for id in ids {
        if let Some(posting) = store.get(id).await.unwrap()
            && posting.number().is_some()
        {
            accepted += 1;
        }
    }
    accepted
}

/// The ERP's orders by external reference.
async fn erp_orders(stack: &LocalStack) -> BTreeMap<String, Value> {
    erp_listing(stack).await["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["external_reference"].as_str().unwrap().to_string(),
                o.clone(),
            )
        })
        .collect()
}

/// What the ERP simulator holds: its books (orders, returns, payments, leads) and counts.
async fn erp_listing(stack: &LocalStack) -> Value {
    reqwest::get(format!("{}/_admin/orders", stack.info.erp_base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every message of every dead-letter queue: (queue, body, attributes).
async fn dead_letters(stack: &LocalStack) -> Vec<(String, String, BTreeMap<String, String>)> {
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let mut out = Vec::new();
    for (logical, queue) in &stack.info.stack.queues {
        if !logical.ends_with("DeadLetterQueue") {
            continue;
        }
        loop {
            let received = sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .send()
                .await
                .unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let attributes = m
                    .message_attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.string_value.unwrap_or_default()))
                    .collect();
                out.push((logical.clone(), m.body.unwrap_or_default(), attributes));
                sqs.delete_message()
                    .queue_url(&queue.url)
                    .receipt_handle(m.receipt_handle.unwrap_or_default())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    out
}

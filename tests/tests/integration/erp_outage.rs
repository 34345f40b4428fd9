//! The local stack while the ERP is down: the queue poller leaves a failed batch's backoff
//! alone (as Lambda does), and orders placed during an outage longer than every SQS retry
//! wait, submitted, and reach the ERP once each when it is back, none dead-lettered.

use bridge_domain::Source;
use bridge_domain::ports::OrderStore;
use bridgectl::dev::{DevOptions, LocalStack};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn start(overrides: &[(&str, &str)], schedule_every: Duration) -> LocalStack {
    let mut options = DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("outage");
    options.stack_file = std::env::temp_dir()
        .join(bridge_testkit::unique("outage"))
        .join("stack.json");
    options.schedule(delta_pull::FUNCTION_NAME, None);
    options.schedule(order_writeback::FUNCTION_NAME, Some(schedule_every));
    for (name, value) in overrides {
        options
            .overrides
            .insert(name.to_string(), value.to_string());
    }
    LocalStack::start(options)
        .await
        .expect("the local stack starts")
}

async fn post(stack: &LocalStack, source: Source, id: &str, kind: &str, data: Value) {
    let body = json!({"type": kind, "timestamp": "2026-11-26T10:00:00Z", "data": data});
    let status = super::support::post_to_local_stack(stack, source, id, &body).await;
    assert_eq!(status, 202, "{id}");
}

async fn erp_admin(stack: &LocalStack, path: &str, body: Option<Value>) -> Value {
    let http = reqwest::Client::new();
    let url = format!("{}/_admin/{path}", stack.info.erp_base_url);
    let response = match body {
        Some(body) => http.post(url).json(&body).send().await.unwrap(),
        None => http.get(url).send().await.unwrap(),
    };
    response.json().await.unwrap_or(Value::Null)
}

async fn ground(stack: &LocalStack, credit_limit: &str) {
    post(
        stack,
        Source::erp(),
        "g-c",
        "customer.changed",
        json!({"customer_id": "C-1", "name": "Kunde", "revision": 1, "price_lists": ["BASE"],
               "credit_limit": {"amount": credit_limit, "currency": "EUR"}}),
    )
    .await;
    post(
        stack,
        Source::erp(),
        "g-p",
        "price.changed",
        json!({"price_list": "BASE", "sku": "A", "currency": "EUR", "revision": 1,
               "tiers": [{"min_qty": 1, "unit_price": "10.00"}]}),
    )
    .await;
    stack
        .drain(
            &["StockPriceQueue", "CustomerQueue"],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
}

fn order(id: &str, quantity: u32) -> Value {
    json!({"order_id": id, "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z",
           "lines": [{"line": 1, "sku": "A", "quantity": quantity, "unit_price": "10.00"}]})
}

fn orders(stack: &LocalStack) -> bridge_aws::DynamoOrderStore {
    bridge_aws::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.info.table("OrderTable").unwrap(),
    )
}

/// What `bridgectl order ID` prints.
async fn order_text(stack: &LocalStack, id: &str) -> String {
    match bridgectl::orders::order(&orders(stack), id).await {
        Ok(stored) => bridgectl::orders::text(&stored),
        Err(err) => err.to_string(),
    }
}

async fn dead_letters(stack: &LocalStack) -> u64 {
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    bridgectl::dev::queue_depth(&sqs, &stack.queue("OrderPlacedDeadLetterQueue").url)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_batch_that_failed_whole_comes_back_after_its_backoff_not_the_pollers() {
    // Backoff of the first retry: 15 to 30 s. Lambda leaves it so; the poller must too.
    let stack = start(
        &[("RETRY_BASE_SECONDS", "30"), ("RETRY_MAX_SECONDS", "60")],
        Duration::from_secs(3600),
    )
    .await;
    ground(&stack, "100000").await;
    erp_admin(&stack, "faults", Some(json!({"down": true}))).await;
    let before = erp_admin(&stack, "orders", None).await["requests"]
        .as_u64()
        .unwrap();
    post(
        &stack,
        Source::shop(),
        "o-1",
        "order.placed",
        order("SO-B1", 1),
    )
    .await;
    let started = Instant::now();
    while erp_admin(&stack, "orders", None).await["requests"]
        .as_u64()
        .unwrap()
        == before
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the order never reached the ERP"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let requests = erp_admin(&stack, "orders", None).await["requests"]
        .as_u64()
        .unwrap();
    assert_eq!(
        requests - before,
        1,
        "one attempt in the first 10 s, not one every 2 s"
    );
    // Still on its queue, waiting out its backoff; nothing dead-lettered.
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let depth = bridgectl::dev::queue_depth(&sqs, &stack.queue("OrderPlacedQueue").url)
        .await
        .unwrap();
    assert_eq!(depth, 1);
    assert_eq!(dead_letters(&stack).await, 0);
    stack.stop().await;
}

#[tokio::test]
async fn orders_placed_while_the_erp_is_down_wait_and_reach_it_once_when_it_is_back() {
    // OUTAGE_SECONDS=420 runs the seven minutes; the default outlasts every SQS
    // retry of these settings (five deliveries within about 8 s) several times over.
    let outage = Duration::from_secs(
        std::env::var("OUTAGE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(40),
    );
    let stack = start(
        &[
            ("RETRY_BASE_SECONDS", "1"),
            ("RETRY_MAX_SECONDS", "2"),
            ("RESUME_AFTER_SECONDS", "2"),
            ("ERP_CIRCUIT_COOL_DOWN_SECONDS", "2"),
            ("ERP_TIMEOUT_SECONDS", "1"),
        ],
        Duration::from_secs(2),
    )
    .await;
    ground(&stack, "1000").await;
    // Held before the outage: 150 × 10 = 1500 over the limit of 1000.
    post(
        &stack,
        Source::shop(),
        "o-held",
        "order.placed",
        order("SO-H", 150),
    )
    .await;
    let started = Instant::now();
    while !order_text(&stack, "SO-H").await.contains("credit_hold") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            order_text(&stack, "SO-H").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    erp_admin(&stack, "faults", Some(json!({"down": true}))).await;
    let outage_started = Instant::now();
    let ids: Vec<String> = (0..5).map(|n| format!("SO-D{n}")).collect();
    for id in &ids {
        post(
            &stack,
            Source::shop(),
            &format!("o-{id}"),
            "order.placed",
            order(id, 1),
        )
        .await;
    }
    // The ERP raises the limit during the outage: the held order is released into the wait.
    post(
        &stack,
        Source::erp(),
        "g-c2",
        "customer.changed",
        json!({"customer_id": "C-1", "name": "Kunde", "revision": 2, "price_lists": ["BASE"],
               "credit_limit": {"amount": "100000", "currency": "EUR"}}),
    )
    .await;
    let all: Vec<String> = ids.iter().cloned().chain(["SO-H".to_string()]).collect();
    for id in &all {
        loop {
            let text = order_text(&stack, id).await;
            if text.contains("waiting       for the ERP since") {
                break;
            }
            assert!(
                outage_started.elapsed() < outage,
                "{id} never showed its wait:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    // Past every SQS retry: the deliveries ended, the orders wait, none is dead-lettered.
    tokio::time::sleep(outage.saturating_sub(outage_started.elapsed())).await;
    assert_eq!(dead_letters(&stack).await, 0);
    assert_eq!(erp_admin(&stack, "orders", None).await["orders"], json!([]));
    for id in &all {
        let text = order_text(&stack, id).await;
        assert!(
            text.contains("SUBMITTED") && text.contains("waiting"),
            "{text}"
        );
    }

    erp_admin(&stack, "faults", Some(json!({}))).await;
    let back = Instant::now();
    loop {
        let erp = erp_admin(&stack, "orders", None).await;
        if erp["orders"].as_array().unwrap().len() >= all.len() {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "not every order reached the ERP: {erp}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Give a second send (there must be none) the time to happen.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let erp = erp_admin(&stack, "orders", None).await;
    let mut references: Vec<String> = erp["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["idempotency_key"], o["external_reference"]);
            o["external_reference"].as_str().unwrap().to_string()
        })
        .collect();
    references.sort();
    let mut expected = all.clone();
    expected.sort();
    assert_eq!(references, expected, "each order in the ERP exactly once");
    let store = orders(&stack);
    for id in &all {
        let stored = store
            .get(&bridge_domain::OrderId::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.state.name(), "accepted", "{id}");
        assert!(stored.erp_wait.is_none(), "{id}");
    }
    assert_eq!(dead_letters(&stack).await, 0);
    stack.stop().await;
}

//! The order writeback against the moto server and the ERP simulator.

use bridge_contract::{ParsedEvent, parse_event};
use bridge_domain::ports::{CustomerStore, OrderStore, PriceStore};
use bridge_domain::{DomainEvent, OrderId, Source};
use bridge_lambda::Config;
use bridge_testkit::TestStack;
use erp_simulator::Simulator;
use order_writeback::OrderWriteback;
use serde_json::{Value, json};

const TOKEN: &str = "erp-test-token";

struct Setup {
    stack: TestStack,
    sim: Simulator,
    writeback: OrderWriteback,
    http: reqwest::Client,
}

async fn setup() -> Setup {
    setup_with(&[]).await
}

async fn setup_with(overrides: &[(&str, &str)]) -> Setup {
    let stack = super::support::stack(false).await;
    let sim = Simulator::start(0, TOKEN).await.unwrap();
    let secret = bridge_testkit::unique("erp-token");
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .create_secret()
        .name(&secret)
        .secret_string(TOKEN)
        .send()
        .await
        .unwrap();
    let mut env = stack.environment("order-writeback");
    env.insert("ERP_BASE_URL".into(), sim.base_url.clone());
    env.insert("ERP_TOKEN_SECRET_ID".into(), secret);
    env.insert("ERP_TIMEOUT_SECONDS".into(), "1".into());
    // Tests drive failures on purpose: keep the circuit out of the way unless a test wants it.
    env.insert("ERP_CIRCUIT_THRESHOLD".into(), "1000".into());
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    let writeback = order_writeback::wiring::build(&Config::from_map(env), &stack.sdk)
        .await
        .unwrap();
    let setup = Setup {
        stack,
        sim,
        writeback,
        http: reqwest::Client::new(),
    };
    setup.customer(json!({"credit_limit": {"amount": "1000", "currency": "EUR"}, "open_items": {"amount": "100", "currency": "EUR"}})).await;
    setup.price("A", "10.00").await;
    setup
}

fn event(source: Source, body: Value) -> DomainEvent {
    let ParsedEvent { event, .. } = parse_event(source, body.to_string().as_bytes()).unwrap();
    event
}

impl Setup {
    async fn customer(&self, extra: Value) {
        let mut data = json!({"customer_id": "C-1", "name": "Kunde", "revision": 1, "price_lists": ["BASE"],
            "cost_centers": ["CC-1"], "approval_rules": [{"above": {"amount": "500", "currency": "EUR"}, "role": "manager"}]});
        for (k, v) in extra.as_object().unwrap() {
            data[k] = v.clone();
        }
        let DomainEvent::CustomerChanged(c) = event(
            Source::Erp,
            json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z", "data": data}),
        ) else {
            unreachable!()
        };
        let store = bridge_aws::DynamoCustomerStore::new(
            aws_sdk_dynamodb::Client::new(&self.stack.sdk),
            self.stack.table("CustomerTable"),
        );
        store.apply_customer(&c).await.unwrap();
    }

    async fn price(&self, sku: &str, price: &str) {
        let DomainEvent::PriceChanged(p) = event(
            Source::Erp,
            json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"price_list": "BASE", "sku": sku, "currency": "EUR", "revision": 1, "tiers": [{"min_qty": 1, "unit_price": price}]}}),
        ) else {
            unreachable!()
        };
        let store = bridge_aws::DynamoPriceStore::new(
            aws_sdk_dynamodb::Client::new(&self.stack.sdk),
            self.stack.table("PriceTable"),
        );
        store.apply_price(&p).await.unwrap();
    }

    fn order(&self, id: &str, qty: &str, price: &str) -> bridge_domain::OrderPlaced {
        let DomainEvent::OrderPlaced(o) = event(
            Source::Shop,
            json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"order_id": id, "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "cost_center": "CC-1",
                     "lines": [{"line": 1, "sku": "A", "quantity": qty, "unit_price": price}]}}),
        ) else {
            unreachable!()
        };
        o
    }

    async fn faults(&self, faults: Value) {
        self.http
            .post(format!("{}/_admin/faults", self.sim.base_url))
            .json(&faults)
            .send()
            .await
            .unwrap();
    }

    async fn erp_orders(&self) -> Vec<Value> {
        let body: Value = self
            .http
            .get(format!("{}/_admin/orders", self.sim.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["orders"].as_array().unwrap().clone()
    }

    async fn state(&self, id: &str) -> String {
        let store = bridge_aws::DynamoOrderStore::new(
            aws_sdk_dynamodb::Client::new(&self.stack.sdk),
            self.stack.table("OrderTable"),
        );
        store
            .get(&OrderId::parse(id).unwrap())
            .await
            .unwrap()
            .map(|o| o.state.name().to_string())
            .unwrap_or_default()
    }

    /// Delivers the order until the writeback stops asking for a retry, as SQS would.
    async fn deliver(
        &self,
        order: &bridge_domain::OrderPlaced,
        attempts: usize,
    ) -> Result<&'static str, String> {
        let mut last = Err(String::new());
        for _ in 0..attempts {
            match self.writeback.place(order.clone()).await {
                Ok(outcome) => return Ok(outcome),
                Err(err) if err.class == bridge_domain::ErrorClass::Retryable => {
                    last = Err(err.code)
                }
                Err(err) => return Err(err.code),
            }
        }
        last
    }
}

#[tokio::test]
async fn the_same_order_three_times_is_one_erp_order() {
    let s = setup().await;
    let order = s.order("SO-1", "3", "10.00");
    assert_eq!(s.deliver(&order, 1).await, Ok("Submitted"));
    assert_eq!(s.deliver(&order, 1).await, Ok("Duplicate"));
    assert_eq!(s.deliver(&order, 1).await, Ok("Duplicate"));
    assert_eq!(s.erp_orders().await.len(), 1);
    assert_eq!(s.state("SO-1").await, "accepted");
}

#[tokio::test]
async fn a_response_lost_after_commit_and_a_timeout_still_give_one_erp_order() {
    let s = setup().await;
    s.faults(json!({"script": ["lost_after_commit"]})).await;
    let order = s.order("SO-2", "1", "10.00");
    assert_eq!(s.deliver(&order, 1).await, Err("erp_ambiguous".into()));
    assert_eq!(s.state("SO-2").await, "submitted");
    // The retry asks the ERP first and finds it.
    assert_eq!(s.deliver(&order, 1).await, Ok("Submitted"));
    assert_eq!(s.erp_orders().await.len(), 1);

    s.faults(json!({"script": ["timeout"]})).await;
    let slow = s.order("SO-3", "1", "10.00");
    assert_eq!(s.deliver(&slow, 1).await, Err("erp_ambiguous".into()));
    assert_eq!(s.deliver(&slow, 3).await, Ok("Submitted"));
    assert_eq!(s.erp_orders().await.len(), 2);
}

#[tokio::test]
async fn a_crash_after_the_erp_accepted_is_found_not_resent() {
    let s = setup().await;
    let order = s.order("SO-4", "1", "10.00");
    // The ERP accepted (sent by a run that crashed before saving), the order is `submitted`.
    let store = bridge_aws::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&s.stack.sdk),
        s.stack.table("OrderTable"),
    );
    let mut stored = bridge_domain::ports::StoredOrder::new(order.clone(), chrono::Utc::now());
    store.insert(&stored).await.unwrap();
    stored.transition(
        bridge_domain::orders::OrderState::Submitted,
        chrono::Utc::now(),
    );
    stored.version += 1;
    assert!(store.save(&stored).await.unwrap());
    s.http
        .post(format!("{}/sales-orders", s.sim.base_url))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "SO-4")
        .json(&order_writeback::erp::sales_order(&order))
        .send()
        .await
        .unwrap();
    assert_eq!(s.deliver(&order, 1).await, Ok("Submitted"));
    assert_eq!(s.erp_orders().await.len(), 1);
    assert_eq!(s.state("SO-4").await, "accepted");
}

#[tokio::test]
async fn fifty_orders_while_the_erp_fails_half_its_requests_arrive_once_each() {
    let s = setup().await;
    s.faults(json!({"server_error_rate": 0.25, "lost_after_commit_rate": 0.25}))
        .await;
    for n in 0..50 {
        let order = s.order(&format!("SO-5{n:02}"), "1", "10.00");
        assert_eq!(s.deliver(&order, 60).await, Ok("Submitted"), "order {n}");
    }
    let orders = s.erp_orders().await;
    assert_eq!(orders.len(), 50);
    let mut references: Vec<_> = orders
        .iter()
        .map(|o| o["external_reference"].as_str().unwrap().to_string())
        .collect();
    references.dedup();
    assert_eq!(references.len(), 50);
}

#[tokio::test]
async fn an_order_the_erp_refuses_ends_rejected_with_its_errors() {
    let s = setup().await;
    s.faults(json!({"reject_customers": ["C-1"]})).await;
    let order = s.order("SO-6", "1", "10.00");
    assert_eq!(s.deliver(&order, 1).await, Err("erp_rejected".into()));
    assert_eq!(s.state("SO-6").await, "rejected");
    assert!(s.erp_orders().await.is_empty());
    // A redelivery (the first invocation died before dead-lettering, as the chaos run
    // found) fails again with the reason instead of being deleted as a duplicate.
    assert_eq!(s.deliver(&order, 1).await, Err("erp_rejected".into()));
    assert!(s.erp_orders().await.is_empty());
}

#[tokio::test]
async fn a_credit_hold_is_released_when_the_limit_is_raised() {
    let s = setup().await;
    // 100 open + 4 × 250 = 1100 > 1000; and above 500 without the manager's approval.
    s.price("B", "250.00").await;
    let DomainEvent::OrderPlaced(big) = event(
        Source::Shop,
        json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"order_id": "SO-7", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "cost_center": "CC-1",
                 "approvals": [{"role": "manager", "user_id": "u-1"}],
                 "lines": [{"line": 1, "sku": "B", "quantity": 4, "unit_price": "250.00"}]}}),
    ) else {
        unreachable!()
    };
    let order = big;
    assert_eq!(s.deliver(&order, 1).await, Ok("Held"));
    assert_eq!(s.state("SO-7").await, "held");
    assert!(s.erp_orders().await.is_empty());
    // Still held on the next release run.
    let release = s.writeback.release_held().await.unwrap();
    assert_eq!((release.still_held, release.submitted), (1, 0));
    // The ERP raises the limit.
    s.customer(json!({"revision": 2, "credit_limit": {"amount": "5000", "currency": "EUR"}, "open_items": {"amount": "100", "currency": "EUR"}})).await;
    let release = s.writeback.release_held().await.unwrap();
    assert_eq!((release.still_held, release.submitted), (0, 1));
    assert_eq!(s.state("SO-7").await, "accepted");
    assert_eq!(s.erp_orders().await.len(), 1);
}

#[tokio::test]
async fn missing_approvals_and_wrong_prices_hold_the_order() {
    let s = setup().await;
    s.price("B", "250.00").await;
    s.customer(json!({"revision": 3, "credit_limit": {"amount": "100000", "currency": "EUR"}}))
        .await;
    let DomainEvent::OrderPlaced(unapproved) = event(
        Source::Shop,
        json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"order_id": "SO-8", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "cost_center": "CC-1",
                 "lines": [{"line": 1, "sku": "B", "quantity": 4, "unit_price": "250.00"}]}}),
    ) else {
        unreachable!()
    };
    assert_eq!(s.deliver(&unapproved, 1).await, Ok("Held"));
    let wrong_price = s.order("SO-9", "1", "9.00");
    assert_eq!(s.deliver(&wrong_price, 1).await, Ok("Held"));
    let store = bridge_aws::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&s.stack.sdk),
        s.stack.table("OrderTable"),
    );
    let reasons = |id: &str| {
        let store = store.clone();
        let id = id.to_string();
        async move {
            match store
                .get(&OrderId::parse(&id).unwrap())
                .await
                .unwrap()
                .unwrap()
                .state
            {
                bridge_domain::orders::OrderState::Held { reasons } => {
                    reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
                }
                other => panic!("{other:?}"),
            }
        }
    };
    assert_eq!(reasons("SO-8").await, vec!["approval_missing"]);
    assert_eq!(reasons("SO-9").await, vec!["price_mismatch"]);
    assert!(s.erp_orders().await.is_empty());
}

#[tokio::test]
async fn status_updates_out_of_order_keep_the_newest() {
    let s = setup().await;
    let order = s.order("SO-10", "1", "10.00");
    assert_eq!(s.deliver(&order, 1).await, Ok("Submitted"));
    let status = |revision: u64, status: &str| {
        let DomainEvent::OrderStatusChanged(e) = event(
            Source::Erp,
            json!({"type": "order.status_changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"order_id": "SO-10", "status": status, "revision": revision}}),
        ) else {
            unreachable!()
        };
        e
    };
    assert_eq!(
        s.writeback.status(status(3, "shipped")).await,
        Ok("Applied")
    );
    assert_eq!(
        s.writeback.status(status(2, "confirmed")).await,
        Ok("Stale")
    );
    assert_eq!(s.state("SO-10").await, "shipped");
    let unknown = {
        let DomainEvent::OrderStatusChanged(e) = event(
            Source::Erp,
            json!({"type": "order.status_changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"order_id": "SO-404", "status": "confirmed", "revision": 1}}),
        ) else {
            unreachable!()
        };
        e
    };
    assert_eq!(
        s.writeback.status(unknown).await.unwrap_err().code,
        "unknown_order"
    );
}

#[tokio::test]
async fn reconciliation_finds_submitted_orders_and_reports_unknown_and_unconfirmed_ones() {
    let s = setup_with(&[("UNCONFIRMED_AFTER_MINUTES", "0")]).await;
    // Accepted, never confirmed by a status event.
    assert_eq!(
        s.deliver(&s.order("SO-20", "1", "10.00"), 1).await,
        Ok("Submitted")
    );
    // Submitted, the ERP has it (the response was lost and nobody retried yet).
    s.faults(json!({"script": ["lost_after_commit"]})).await;
    assert_eq!(
        s.deliver(&s.order("SO-21", "1", "10.00"), 1).await,
        Err("erp_ambiguous".into())
    );
    // Submitted, the ERP never got it (the request timed out before reaching it... as far as we know).
    s.faults(json!({"script": ["server_error"]})).await;
    assert_eq!(
        s.deliver(&s.order("SO-22", "1", "10.00"), 1).await,
        Err("erp_ambiguous".into())
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let result = s.writeback.reconcile(chrono::Utc::now()).await.unwrap();
    assert_eq!(result.found, 1);
    assert_eq!(result.unknown, vec!["SO-22".to_string()]);
    assert_eq!(result.unconfirmed, vec!["SO-20".to_string()]);
    assert_eq!(s.state("SO-21").await, "accepted");
}

#[tokio::test]
async fn a_rejected_order_reaches_the_dead_letter_queue_with_the_erp_s_errors() {
    let s = setup().await;
    s.faults(json!({"reject_customers": ["C-1"]})).await;
    let envelope = json!({
        "version": 1, "webhook_id": "w-rej", "source": "shop", "event_type": "order.placed",
        "correlation_id": "c-rej", "received_at": "2026-11-26T10:00:00Z",
        "payload": {"kind": "inline", "body": {"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"order_id": "SO-30", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z",
                     "cost_center": "CC-1", "lines": [{"line": 1, "sku": "A", "quantity": 1, "unit_price": "10.00"}]}}}});
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records.push(super::support::sqs_record(
        s.stack.queue_arn("OrderPlacedQueue"),
        "m-1",
        &envelope.to_string(),
        1,
    ));
    let (response, metrics) = s.writeback.process(event).await;
    assert!(response.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("Rejected"), 1);
    let dead = s.stack.drain_queue("OrderPlacedDeadLetterQueue").await;
    assert_eq!(dead.len(), 1);
    let attributes = dead[0].message_attributes().unwrap();
    assert_eq!(
        attributes["failure_code"].string_value(),
        Some("erp_rejected")
    );
    assert!(
        attributes["failure_reason"]
            .string_value()
            .unwrap()
            .contains("C-1 may not order")
    );
    assert_eq!(s.state("SO-30").await, "rejected");
}

#[tokio::test]
async fn an_approval_sent_with_the_order_again_releases_it() {
    let s = setup().await;
    s.price("B", "250.00").await;
    s.customer(json!({"revision": 4, "credit_limit": {"amount": "100000", "currency": "EUR"}}))
        .await;
    let placed = |approved: bool| {
        let mut data = json!({"order_id": "SO-40", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z",
            "cost_center": "CC-1", "lines": [{"line": 1, "sku": "B", "quantity": 4, "unit_price": "250.00"}]});
        if approved {
            data["approvals"] = json!([{"role": "manager", "user_id": "u-9"}]);
        }
        let DomainEvent::OrderPlaced(o) = event(
            Source::Shop,
            json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": data}),
        ) else {
            unreachable!()
        };
        o
    };
    assert_eq!(s.deliver(&placed(false), 1).await, Ok("Held"));
    assert_eq!(s.deliver(&placed(true), 1).await, Ok("Submitted"));
    assert_eq!(s.erp_orders().await.len(), 1);
    // Once submitted, a changed order no longer changes what went to the ERP.
    assert_eq!(s.deliver(&placed(false), 1).await, Ok("Duplicate"));
}

#[tokio::test]
async fn the_webhook_s_correlation_id_reaches_the_erp() {
    let s = setup().await;
    let envelope = json!({
        "version": 1, "webhook_id": "w-corr", "source": "shop", "event_type": "order.placed",
        "correlation_id": "corr-77", "received_at": "2026-11-26T10:00:00Z",
        "payload": {"kind": "inline", "body": {"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"order_id": "SO-50", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z",
                     "cost_center": "CC-1", "lines": [{"line": 1, "sku": "A", "quantity": 1, "unit_price": "10.00"}]}}}});
    let mut record = super::support::sqs_record(
        s.stack.queue_arn("OrderPlacedQueue"),
        "m-1",
        &envelope.to_string(),
        1,
    );
    let mut attribute = aws_lambda_events::event::sqs::SqsMessageAttribute::default();
    attribute.string_value = Some("corr-77".into());
    attribute.data_type = Some("String".into());
    record
        .message_attributes
        .insert("correlation_id".into(), attribute);
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records.push(record);
    let (response, _) = s.writeback.process(event).await;
    assert!(response.unwrap().batch_item_failures.is_empty());
    let orders = s.erp_orders().await;
    assert_eq!(orders[0]["correlation_id"], "corr-77");
}

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

pub(super) struct Setup {
    pub(super) stack: TestStack,
    pub(super) sim: Simulator,
    pub(super) writeback: OrderWriteback,
    pub(super) http: reqwest::Client,
}

pub(super) async fn setup() -> Setup {
    setup_with(&[]).await
}

pub(super) async fn setup_with(overrides: &[(&str, &str)]) -> Setup {
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
    env.insert("ERP_TOKEN_SECRET_ID".into(), secret.clone());
    // The simulator's /crm stands in for the CRM, under the same token.
    env.insert("CRM_BASE_URL".into(), format!("{}/crm", sim.base_url));
    env.insert("CRM_TOKEN_SECRET_ID".into(), secret);
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
    // The CRM's manager of C-1: the approvals of these tests are hers.
    setup.contact("u-1", &["manager"], 1, true).await;
    setup
}

pub(super) fn event(source: Source, body: Value) -> DomainEvent {
    let sender = bridge_domain::Sources::contract()
        .sender(source.as_str())
        .unwrap();
    let ParsedEvent { event, .. } = parse_event(&sender, body.to_string().as_bytes()).unwrap();
    event
}

impl Setup {
    /// A contact of C-1 as the CRM sends it, applied as the sync applies it.
    pub(super) async fn contact(&self, id: &str, roles: &[&str], revision: u64, active: bool) {
        let DomainEvent::ContactChanged(c) = event(
            Source::parse("crm").unwrap(),
            json!({"type": "contact.changed", "timestamp": "2026-12-08T10:00:00Z",
                "data": {"contact_id": id, "customer_id": "C-1", "revision": revision, "roles": roles, "active": active}}),
        ) else {
            unreachable!()
        };
        use bridge_domain::ports::ContactStore;
        bridge_aws::DynamoContactStore::new(
            aws_sdk_dynamodb::Client::new(&self.stack.sdk),
            self.stack.table("ContactTable"),
        )
        .apply_contact(&c)
        .await
        .unwrap();
    }

    pub(super) async fn customer(&self, extra: Value) {
        let mut data = json!({"customer_id": "C-1", "name": "Kunde", "revision": 1, "price_lists": ["BASE"],
            "cost_centers": ["CC-1"], "approval_rules": [{"above": {"amount": "500", "currency": "EUR"}, "role": "manager"}]});
        for (k, v) in extra.as_object().unwrap() {
            data[k] = v.clone();
        }
        let DomainEvent::CustomerChanged(c) = event(
            Source::erp(),
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

    pub(super) async fn price(&self, sku: &str, price: &str) {
        let DomainEvent::PriceChanged(p) = event(
            Source::erp(),
            json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"price_list": "BASE", "sku": sku, "currency": "EUR", "revision": 1, "tiers": [{"min_qty": 1, "unit_price": price}]}}),
        ) else {
            unreachable!()
        };
        let store = bridge_aws::DynamoPriceStore::new(
            aws_sdk_dynamodb::Client::new(&self.stack.sdk),
            self.stack.table("PriceTable"),
            self.stack.table("PriceIndexTable"),
        );
        store.apply_price(&p).await.unwrap();
    }

    pub(super) fn order(&self, id: &str, qty: &str, price: &str) -> bridge_domain::OrderPlaced {
        let DomainEvent::OrderPlaced(o) = event(
            Source::shop(),
            json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"order_id": id, "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "cost_center": "CC-1",
                     "lines": [{"line": 1, "sku": "A", "quantity": qty, "unit_price": price}]}}),
        ) else {
            unreachable!()
        };
        o
    }

    pub(super) async fn faults(&self, faults: Value) {
        self.http
            .post(format!("{}/_admin/faults", self.sim.base_url))
            .json(&faults)
            .send()
            .await
            .unwrap();
    }

    /// What the simulator holds (`GET /_admin/orders`): its books and request counts.
    pub(super) async fn erp_listing(&self) -> Value {
        self.http
            .get(format!("{}/_admin/orders", self.sim.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn erp_orders(&self) -> Vec<Value> {
        self.erp_listing().await["orders"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub(super) async fn stored(&self, id: &str) -> bridge_domain::ports::StoredOrder {
        let store = bridge_aws::DynamoOrderStore::new(
            aws_sdk_dynamodb::Client::new(&self.stack.sdk),
            self.stack.table("OrderTable"),
        );
        store
            .get(&OrderId::parse(id).unwrap())
            .await
            .unwrap()
            .expect("the order is stored")
    }

    /// The one message a dead-letter queue holds: its failure code and reason.
    pub(super) async fn only_dead_letter(&self, queue: &str) -> (String, String) {
        let dead = self.stack.drain_queue(queue).await;
        assert_eq!(dead.len(), 1, "{queue}: {dead:?}");
        let attributes = dead[0].message_attributes().unwrap();
        let text = |name: &str| {
            attributes
                .get(name)
                .and_then(|a| a.string_value())
                .unwrap_or_default()
                .to_string()
        };
        (text("failure_code"), text("failure_reason"))
    }

    /// Requests the ERP has had (answered or refused).
    async fn erp_requests(&self) -> u64 {
        self.erp_listing().await["requests"].as_u64().unwrap()
    }

    pub(super) async fn state(&self, id: &str) -> String {
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
    pub(super) async fn deliver(
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
        Source::shop(),
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
    let release = s
        .writeback
        .release_held(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((release.still_held, release.submitted), (1, 0));
    // The ERP raises the limit.
    s.customer(json!({"revision": 2, "credit_limit": {"amount": "5000", "currency": "EUR"}, "open_items": {"amount": "100", "currency": "EUR"}})).await;
    let release = s
        .writeback
        .release_held(std::time::Duration::from_secs(60))
        .await
        .unwrap();
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
        Source::shop(),
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
            Source::erp(),
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
            Source::erp(),
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
async fn the_schedule_resumes_submitted_orders_and_reports_unknown_and_unconfirmed_ones() {
    let s = setup_with(&[
        ("UNCONFIRMED_AFTER_MINUTES", "0"),
        ("RESUME_AFTER_SECONDS", "0"),
    ])
    .await;
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
    // Submitted, the ERP never got it: its deliveries ended, only the schedule can finish it.
    s.faults(json!({"script": ["server_error"]})).await;
    assert_eq!(
        s.deliver(&s.order("SO-22", "1", "10.00"), 1).await,
        Err("erp_ambiguous".into())
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let run = s.writeback.scheduled(chrono::Utc::now()).await.unwrap();
    assert_eq!(run.resume.sent, 2, "{run:?}");
    assert_eq!(run.reconciliation.unknown, Vec::<String>::new());
    assert_eq!(run.reconciliation.unconfirmed, vec!["SO-20".to_string()]);
    assert_eq!(s.state("SO-21").await, "accepted");
    assert_eq!(s.state("SO-22").await, "accepted");
    assert_eq!(s.erp_orders().await.len(), 3, "each once");
}

#[tokio::test]
async fn accepted_orders_past_the_polling_age_are_counted_without_asking_the_erp() {
    let s = setup_with(&[
        ("UNCONFIRMED_AFTER_MINUTES", "0"),
        ("STOP_POLLING_AFTER_DAYS", "1"),
    ])
    .await;
    assert_eq!(
        s.deliver(&s.order("SO-23", "1", "10.00"), 1).await,
        Ok("Submitted")
    );
    let requests = s.erp_requests().await;
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    let result = s
        .writeback
        .reconcile(later, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(result.unconfirmed, vec!["SO-23".to_string()]);
    assert_eq!(
        s.erp_requests().await,
        requests,
        "no call for an order that old"
    );
}

#[tokio::test]
async fn a_late_older_version_never_replaces_the_newer_one_and_a_same_revision_change_is_a_conflict()
 {
    let s = setup().await;
    let version = |revision: u64, quantity: u32, approved: bool| {
        let mut data = json!({"order_id": "SO-60", "revision": revision, "customer_id": "C-1", "currency": "EUR",
            "placed_at": "2026-11-26T10:00:00Z", "cost_center": "CC-1",
            "lines": [{"line": 1, "sku": "A", "quantity": quantity, "unit_price": "10.00"}]});
        if approved {
            data["approvals"] = json!([{"role": "manager", "user_id": "u-1"}]);
        }
        let DomainEvent::OrderPlaced(o) = event(
            Source::shop(),
            json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": data}),
        ) else {
            unreachable!()
        };
        o
    };
    // Revision 2 (60 pieces: 600 needs the manager) arrives first and is held.
    assert_eq!(s.deliver(&version(2, 60, false), 1).await, Ok("Held"));
    // Revision 1 (1 piece, within every rule) comes back late: it must not be sent.
    assert_eq!(s.deliver(&version(1, 1, false), 1).await, Ok("Stale"));
    assert_eq!(s.state("SO-60").await, "held");
    assert!(s.erp_orders().await.is_empty());
    // Revision 2 again with other content: the shop broke its versioning; nothing replaced.
    assert_eq!(
        s.deliver(&version(2, 70, false), 1).await,
        Err("order_version_conflict".into())
    );
    // Revision 3 adds the approval: that version goes to the ERP.
    s.customer(json!({"revision": 2, "credit_limit": {"amount": "100000", "currency": "EUR"}}))
        .await;
    assert_eq!(s.deliver(&version(3, 60, true), 1).await, Ok("Submitted"));
    let orders = s.erp_orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["body"]["lines"][0]["quantity"], "60");
    // A change after submission is recorded, not sent.
    assert_eq!(
        s.deliver(&version(4, 5, true), 1).await,
        Ok("ChangedAfterSubmission")
    );
    assert_eq!(s.erp_orders().await.len(), 1);
    let stored = s.stored("SO-60").await;
    assert_eq!(stored.order.revision.value(), 3);
    assert_eq!(stored.changed_after_submission.map(|r| r.value()), Some(4));
}

#[tokio::test]
async fn a_held_order_released_while_the_erp_is_down_reaches_it_when_the_erp_is_back() {
    let s = setup_with(&[("RESUME_AFTER_SECONDS", "0")]).await;
    // 100 open + 95 × 10 = 1050 > 1000 (and the approval is there).
    let DomainEvent::OrderPlaced(order) = event(
        Source::shop(),
        json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"order_id": "SO-61", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "cost_center": "CC-1",
                 "approvals": [{"role": "manager", "user_id": "u-1"}],
                 "lines": [{"line": 1, "sku": "A", "quantity": 95, "unit_price": "10.00"}]}}),
    ) else {
        unreachable!()
    };
    assert_eq!(s.deliver(&order, 1).await, Ok("Held"));
    s.faults(json!({"down": true})).await;
    s.customer(json!({"revision": 2, "credit_limit": {"amount": "5000", "currency": "EUR"}}))
        .await;
    let release = s
        .writeback
        .release_held(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        (release.submitted, release.waiting_for_erp),
        (0, 1),
        "{release:?}"
    );
    let stored = s.stored("SO-61").await;
    assert_eq!(stored.state.name(), "submitted");
    let wait = stored.erp_wait.expect("the wait is recorded");
    assert!(wait.last_error.contains("503"), "{wait:?}");
    // Still down: the schedule tries, the order keeps waiting, nothing is lost.
    let run = s.writeback.scheduled(chrono::Utc::now()).await.unwrap();
    assert_eq!(run.resume.waiting_for_erp, 1, "{run:?}");
    assert_eq!(s.state("SO-61").await, "submitted");
    // Back: the next run sends it, once.
    s.faults(json!({})).await;
    let run = s.writeback.scheduled(chrono::Utc::now()).await.unwrap();
    assert_eq!(run.resume.sent, 1, "{run:?}");
    assert_eq!(s.state("SO-61").await, "accepted");
    assert!(s.stored("SO-61").await.erp_wait.is_none());
    assert_eq!(s.erp_orders().await.len(), 1);
}

#[tokio::test]
async fn an_erp_outage_ends_no_delivery_in_the_dead_letter_queue_and_an_open_circuit_burns_none() {
    let s = setup_with(&[
        ("ERP_CIRCUIT_THRESHOLD", "1"),
        ("ERP_CIRCUIT_COOL_DOWN_SECONDS", "600"),
    ])
    .await;
    s.faults(json!({"down": true})).await;
    let envelope = |id: &str| {
        json!({
            "version": 1, "webhook_id": format!("w-{id}"), "source": "shop", "event_type": "order.placed",
            "correlation_id": "c", "received_at": "2026-11-26T10:00:00Z",
            "payload": {"kind": "inline", "body": {"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
                "data": {"order_id": id, "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z",
                         "cost_center": "CC-1", "lines": [{"line": 1, "sku": "A", "quantity": 1, "unit_price": "10.00"}]}}}})
        .to_string()
    };
    let batch = |id: &str, receive_count: u32| {
        let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
        event.records.push(super::support::sqs_record(
            s.stack.queue_arn("OrderPlacedQueue"),
            &format!("m-{id}"),
            &envelope(id),
            receive_count,
        ));
        event
    };
    // The first delivery fails and is retried by SQS: the ERP may be back in seconds.
    let (response, metrics) = s.writeback.process(batch("SO-70", 1)).await;
    assert!(response.is_err(), "the whole batch failed retryably");
    assert_eq!(metrics.count("Retried"), 1);
    // The circuit is open now: the next order waits at once, without calling the ERP.
    let requests = s.erp_requests().await;
    let (response, metrics) = s.writeback.process(batch("SO-71", 1)).await;
    assert!(response.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("WaitingForErp"), 1);
    assert_eq!(
        s.erp_requests().await,
        requests,
        "an open circuit calls nobody"
    );
    // The last delivery SQS allows (MAX_RECEIVE_COUNT) ends waiting, not dead-lettered.
    let (response, metrics) = s.writeback.process(batch("SO-70", 5)).await;
    assert!(response.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("WaitingForErp"), 1);
    assert!(
        s.stack
            .drain_queue("OrderPlacedDeadLetterQueue")
            .await
            .is_empty()
    );
    for id in ["SO-70", "SO-71"] {
        let stored = s.stored(id).await;
        assert_eq!(stored.state.name(), "submitted");
        assert!(stored.erp_wait.is_some(), "{id} shows that it waits");
    }
}

#[tokio::test]
async fn an_order_waiting_longer_than_the_outage_window_goes_to_the_dead_letter_queue_and_can_be_redriven()
 {
    let s = setup_with(&[
        ("ERP_OUTAGE_WINDOW_MINUTES", "0"),
        ("RESUME_AFTER_SECONDS", "0"),
    ])
    .await;
    s.faults(json!({"down": true})).await;
    let order = s.order("SO-72", "1", "10.00");
    assert_eq!(s.deliver(&order, 1).await, Err("erp_ambiguous".into()));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let run = s.writeback.scheduled(chrono::Utc::now()).await.unwrap();
    assert_eq!(run.resume.dead_lettered, 1, "{run:?}");
    let dead = s.stack.drain_queue("OrderPlacedDeadLetterQueue").await;
    assert_eq!(dead.len(), 1);
    let attributes = dead[0].message_attributes().unwrap();
    assert_eq!(
        attributes["failure_code"].string_value(),
        Some("erp_outage_exceeded")
    );
    assert_eq!(
        attributes["failed_by"].string_value(),
        Some("order-writeback")
    );
    // The next run leaves it alone: one dead letter per outage, not one per run.
    let run = s.writeback.scheduled(chrono::Utc::now()).await.unwrap();
    assert_eq!(run.resume.dead_lettered, 0, "{run:?}");
    // Redriven once the ERP is back, the dead letter's body is the order again.
    s.faults(json!({})).await;
    let envelope = bridge_contract::Envelope::from_json(dead[0].body().unwrap()).unwrap();
    let bridge_contract::Payload::Inline { body } = envelope.payload else {
        panic!("inline")
    };
    let DomainEvent::OrderPlaced(redriven) = event(Source::shop(), body) else {
        panic!("an order")
    };
    assert_eq!(redriven, order);
    assert_eq!(s.deliver(&redriven, 1).await, Ok("Submitted"));
    assert_eq!(s.erp_orders().await.len(), 1);
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
    let (code, reason) = s.only_dead_letter("OrderPlacedDeadLetterQueue").await;
    assert_eq!(code, "erp_rejected");
    assert!(reason.contains("C-1 may not order"), "{reason}");
    assert_eq!(s.state("SO-30").await, "rejected");
}

#[tokio::test]
async fn an_approval_sent_with_the_order_again_releases_it() {
    let s = setup().await;
    s.price("B", "250.00").await;
    s.customer(json!({"revision": 4, "credit_limit": {"amount": "100000", "currency": "EUR"}}))
        .await;
    let placed = |approved: bool| {
        let mut data = json!({"order_id": "SO-40", "revision": if approved { 2 } else { 1 }, "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z",
            "cost_center": "CC-1", "lines": [{"line": 1, "sku": "B", "quantity": 4, "unit_price": "250.00"}]});
        if approved {
            data["approvals"] = json!([{"role": "manager", "user_id": "u-1"}]);
        }
        let DomainEvent::OrderPlaced(o) = event(
            Source::shop(),
            json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": data}),
        ) else {
            unreachable!()
        };
        o
    };
    assert_eq!(s.deliver(&placed(false), 1).await, Ok("Held"));
    assert_eq!(s.deliver(&placed(true), 1).await, Ok("Submitted"));
    assert_eq!(s.erp_orders().await.len(), 1);
    // The first version arriving again, late, changes nothing.
    assert_eq!(s.deliver(&placed(false), 1).await, Ok("Stale"));
    assert_eq!(s.erp_orders().await.len(), 1);
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

#[tokio::test]
async fn a_price_announced_for_next_month_leaves_today_s_price_in_force_for_bridgectl_and_the_order_check()
 {
    let s = setup().await;
    let now = chrono::Utc::now();
    let next_month = (now + chrono::Duration::days(31))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string();
    // Today's price of A is 10.00 (revision 1, open window); the ERP announces 11.00.
    let DomainEvent::PriceChanged(announced) = event(
        Source::erp(),
        json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"price_list": "BASE", "sku": "A", "currency": "EUR", "revision": 2, "valid_from": next_month,
                 "tiers": [{"min_qty": 1, "unit_price": "11.00"}]}}),
    ) else {
        unreachable!()
    };
    let prices = bridge_aws::DynamoPriceStore::new(
        aws_sdk_dynamodb::Client::new(&s.stack.sdk),
        s.stack.table("PriceTable"),
        s.stack.table("PriceIndexTable"),
    );
    assert_eq!(
        prices.apply_price(&announced).await.unwrap(),
        bridge_domain::ApplyOutcome::Applied
    );
    let tables = bridgectl::read::Tables::new(
        aws_sdk_dynamodb::Client::new(&s.stack.sdk),
        s.stack.table("StockTable"),
        s.stack.table("PriceTable"),
        s.stack.table("CustomerTable"),
    );
    let price_at = |at| {
        let tables = &tables;
        async move {
            match bridgectl::read::price(tables, "C-1", "A", "1", at)
                .await
                .unwrap()
                .resolution
            {
                bridge_domain::pricing::PriceResolution::Priced(p) => p.unit_price.to_string(),
                other => format!("{other:?}"),
            }
        }
    };
    assert_eq!(price_at(now).await, "10.00", "today's price stays in force");
    assert_eq!(
        price_at(bridgectl::read::parse_at(&next_month).unwrap()).await,
        "11.00"
    );
    // An order at today's contract price passes the price check and goes to the ERP.
    let mut order = s.order("SO-80", "1", "10.00");
    order.placed_at = now;
    assert_eq!(s.deliver(&order, 1).await, Ok("Submitted"));
    assert_eq!(s.erp_orders().await.len(), 1);
}

#[tokio::test]
async fn two_quick_orders_each_within_the_limit_cannot_pass_it_together() {
    let s = setup().await;
    // Limit 1000, open items 100; the manager's approval is there for both.
    let placed = |id: &str| {
        let DomainEvent::OrderPlaced(o) = event(
            Source::shop(),
            json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"order_id": id, "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "cost_center": "CC-1",
                     "approvals": [{"role": "manager", "user_id": "u-1"}],
                     "lines": [{"line": 1, "sku": "A", "quantity": 50, "unit_price": "10.00"}]}}),
        ) else {
            unreachable!()
        };
        o
    };
    // 100 + 500 ≤ 1000: accepted, not yet invoiced.
    assert_eq!(s.deliver(&placed("SO-90"), 1).await, Ok("Submitted"));
    // 100 + 500 (not invoiced) + 500 > 1000, although 100 + 500 alone would pass.
    assert_eq!(s.deliver(&placed("SO-91"), 1).await, Ok("Held"));
    let stored = s.stored("SO-91").await;
    let bridge_domain::orders::OrderState::Held { reasons } = &stored.state else {
        panic!("{:?}", stored.state)
    };
    assert!(
        matches!(&reasons[0], bridge_domain::orders::HoldReason::CreditHold { open_orders: Some(m), .. } if m.amount.to_string() == "500.00"),
        "{reasons:?}"
    );
    assert!(bridgectl::orders::text(&stored).contains("orders not yet invoiced 500.00"));
    assert_eq!(s.erp_orders().await.len(), 1);
}

#[tokio::test]
async fn a_scheduled_run_bounded_by_its_budget_continues_where_the_last_one_stopped() {
    // A budget of nothing: each run visits one order per walk, and the next run the next.
    let s = setup_with(&[
        ("UNCONFIRMED_AFTER_MINUTES", "0"),
        ("SCHEDULE_BUDGET_SECONDS", "0"),
    ])
    .await;
    for id in ["SO-95", "SO-96", "SO-97"] {
        assert_eq!(
            s.deliver(&s.order(id, "1", "10.00"), 1).await,
            Ok("Submitted")
        );
    }
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let result = s
            .writeback
            .reconcile(later, std::time::Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(result.unconfirmed.len(), 1, "{result:?}");
        seen.extend(result.unconfirmed);
    }
    let first = seen[0].clone();
    seen.sort();
    assert_eq!(
        seen,
        ["SO-95", "SO-96", "SO-97"],
        "every order once in three runs"
    );
    // The walk went through: the next run starts again from the beginning.
    let again = s
        .writeback
        .reconcile(later, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(again.unconfirmed, [first], "from the beginning again");
}

/// `shipment.updated` from source `logistics` on the order status queue, as the intake
/// enqueues it, through the writeback wired as deployed: its outcome and metrics.
async fn ship(s: &Setup, message_id: &str, data: Value) -> bridge_lambda::Metrics {
    let envelope = json!({
        "version": 1, "webhook_id": format!("w-{message_id}"), "source": "logistics",
        "event_type": "shipment.updated", "correlation_id": format!("c-{message_id}"),
        "received_at": "2026-12-07T10:00:00Z",
        "payload": {"kind": "inline", "body": {"type": "shipment.updated", "timestamp": "2026-12-07T10:00:00Z", "data": data}}});
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records.push(super::support::sqs_record(
        s.stack.queue_arn("OrderStatusQueue"),
        message_id,
        &envelope.to_string(),
        1,
    ));
    let (response, metrics) = s.writeback.process(event).await;
    assert!(
        response.unwrap().batch_item_failures.is_empty(),
        "nothing left for a retry"
    );
    metrics
}

/// Contract section 8: partial shipments arriving in any order end `shipped`, then
/// `delivered` once every shipment is, with every tracking code; a stale revision of a
/// shipment changes nothing; a shipment above the ordered quantity is dead-lettered with
/// `over_shipment` and the order keeps what it had; an exception is counted for its alarm
/// and kept with its code.
#[tokio::test]
async fn partial_shipments_in_any_order_end_shipped_then_delivered_and_an_over_shipment_is_refused()
{
    let s = setup().await;
    let DomainEvent::OrderPlaced(order) = event(
        Source::shop(),
        json!({"type": "order.placed", "timestamp": "2026-12-07T09:00:00Z",
        "data": {"order_id": "SO-50", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-12-07T09:00:00Z", "cost_center": "CC-1",
                 "lines": [{"line": 1, "sku": "A", "quantity": 6, "unit_price": "10.00"},
                           {"line": 2, "sku": "A", "quantity": 2, "unit_price": "10.00"}]}}),
    ) else {
        unreachable!()
    };
    assert_eq!(s.deliver(&order, 1).await, Ok("Submitted"));
    let fulfilment = |stored: &bridge_domain::ports::StoredOrder| {
        bridge_domain::shipments::fulfilment(&stored.order, &stored.shipments)
    };
    let shipment = |id: &str, revision: u64, status: &str, lines: Value| {
        json!({"shipment_id": id, "order_id": "SO-50", "status": status, "revision": revision,
               "carrier": "DHL", "tracking_code": format!("JJD-{id}"), "lines": lines,
               "estimated_delivery": "2026-12-09", "occurred_at": "2026-12-07T10:00:00Z"})
    };
    // The second parcel's news first.
    let m = ship(
        &s,
        "m-1",
        shipment(
            "P-2",
            1,
            "in_transit",
            json!([{"line": 1, "quantity": 2}, {"line": 2, "quantity": 2}]),
        ),
    )
    .await;
    assert_eq!(m.count("ShipmentApplied"), 1);
    assert_eq!(
        fulfilment(&s.stored("SO-50").await),
        bridge_domain::shipments::Fulfilment::PartiallyShipped
    );

    // Over-shipment: line 2 has 2 of 2 already.
    let m = ship(
        &s,
        "m-2",
        shipment("P-3", 1, "dispatched", json!([{"line": 2, "quantity": 1}])),
    )
    .await;
    assert_eq!(m.count("ShipmentApplied"), 0);
    let (code, reason) = s.only_dead_letter("OrderStatusDeadLetterQueue").await;
    assert_eq!(code, "over_shipment");
    assert!(reason.contains("line 2"), "{reason}");
    assert!(!s.stored("SO-50").await.shipments.contains_key("P-3"));

    ship(
        &s,
        "m-3",
        shipment("P-1", 1, "dispatched", json!([{"line": 1, "quantity": 4}])),
    )
    .await;
    let stored = s.stored("SO-50").await;
    assert_eq!(
        fulfilment(&stored),
        bridge_domain::shipments::Fulfilment::Shipped
    );

    // P-1 delivered (a carrier's update without lines), then a late older P-1 update.
    ship(&s, "m-4", shipment("P-1", 3, "delivered", json!([]))).await;
    let m = ship(&s, "m-5", shipment("P-1", 2, "out_for_delivery", json!([]))).await;
    assert_eq!(m.count("Stale"), 1);
    let stored = s.stored("SO-50").await;
    assert_eq!(
        stored.shipments["P-1"].status,
        bridge_domain::ShipmentStatus::Delivered
    );
    assert_eq!(stored.shipments["P-1"].lines.len(), 1, "its lines kept");
    assert_eq!(
        fulfilment(&stored),
        bridge_domain::shipments::Fulfilment::Shipped
    );

    // P-2 hits a problem: alarmed, kept with its code; then delivered after all.
    let mut problem = shipment("P-2", 2, "exception", json!([]));
    problem["exception"] = json!({"code": "address_unknown", "message": "recipient not found"});
    let m = ship(&s, "m-6", problem).await;
    assert_eq!(m.count("ShipmentException"), 1);
    let stored = s.stored("SO-50").await;
    assert_eq!(
        stored.shipments["P-2"].exception.as_ref().unwrap().code,
        "address_unknown"
    );
    let shown = bridgectl::orders::text(&stored);
    assert!(shown.contains("exception   address_unknown"), "{shown}");
    ship(&s, "m-7", shipment("P-2", 3, "delivered", json!([]))).await;
    let stored = s.stored("SO-50").await;
    assert_eq!(
        fulfilment(&stored),
        bridge_domain::shipments::Fulfilment::Delivered
    );
    let shown = bridgectl::orders::text(&stored);
    assert!(shown.contains("fulfilment    DELIVERED"), "{shown}");
    for code in ["JJD-P-1", "JJD-P-2"] {
        assert!(shown.contains(code), "{shown}");
    }
    assert!(shown.contains("6 shipped of 6"), "{shown}");
    assert!(
        s.stack
            .drain_queue("OrderStatusDeadLetterQueue")
            .await
            .is_empty()
    );
}

/// A DISPATCHNOTIFICATION as the simulator's logistics partner writes one (ISO-8859-1):
/// `items` are (order id, order line, sku, quantity).
fn dispatch_notification(id: &str, generated: &str, items: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let items: Vec<_> = items
        .iter()
        .map(
            |(order_id, line, sku, quantity)| erp_simulator::documents::DispatchedItem {
                order_id,
                line,
                sku,
                quantity,
            },
        )
        .collect();
    erp_simulator::documents::dispatch_notification(
        id,
        generated,
        "Spedition Müller",
        &format!("TRK-{id}"),
        &items,
    )
}

impl Setup {
    /// Drops `body` into the catalog bucket at `key`.
    async fn drop_file(&self, key: &str, body: Vec<u8>) {
        aws_sdk_s3::Client::new(&self.stack.sdk)
            .put_object()
            .bucket(self.stack.bucket("CatalogBucket"))
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    /// The reports of every version of the logistics inbox file `name`, oldest first.
    async fn reports(&self, name: &str) -> Vec<Value> {
        self.reports_in("logistics/reports/", name).await
    }

    /// The reports under `folder` of every version of the inbox file `name`, oldest first.
    async fn reports_in(&self, folder: &str, name: &str) -> Vec<Value> {
        let s3 = aws_sdk_s3::Client::new(&self.stack.sdk);
        let bucket = self.stack.bucket("CatalogBucket");
        let listed = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(format!("{folder}{name}@"))
            .send()
            .await
            .unwrap();
        let mut reports = Vec::new();
        for object in listed.contents() {
            let body = s3
                .get_object()
                .bucket(bucket)
                .key(object.key().unwrap())
                .send()
                .await
                .unwrap();
            let report: Value =
                serde_json::from_slice(&body.body.collect().await.unwrap().into_bytes()).unwrap();
            reports.push(report);
        }
        reports.sort_by_key(|r| r["started_at"].as_str().unwrap_or_default().to_string());
        reports
    }

    /// The report of the file's last version read.
    async fn report(&self, name: &str) -> Value {
        self.reports(name).await.pop().expect("a report")
    }

    /// What S3 notified the document queue of (waiting for at least `expected`).
    async fn notifications(&self, expected: usize) -> Vec<aws_sdk_sqs::types::Message> {
        let mut notifications = Vec::new();
        for _ in 0..50 {
            notifications.extend(self.stack.drain_queue("DocumentQueue").await);
            if notifications.len() >= expected {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            notifications.len() >= expected,
            "S3 notified the document queue"
        );
        notifications
    }

    /// `notifications` through the document inbox as deployed, then what it queued,
    /// through the writeback: the inbox's metrics.
    async fn read_notified(
        &self,
        inbox: &document_inbox::DocumentInbox,
        notifications: &[aws_sdk_sqs::types::Message],
    ) -> bridge_lambda::Metrics {
        let event = super::support::sqs_event(self.stack.queue_arn("DocumentQueue"), notifications);
        let (response, metrics) = inbox.process(event).await;
        assert!(response.unwrap().batch_item_failures.is_empty());
        let queued = self.stack.drain_queue("OrderStatusQueue").await;
        if !queued.is_empty() {
            let event =
                super::support::sqs_event(self.stack.queue_arn("OrderStatusQueue"), &queued);
            let (response, _) = self.writeback.process(event).await;
            assert!(response.unwrap().batch_item_failures.is_empty());
        }
        metrics
    }

    /// What S3 notified of the last upload, read.
    async fn read_documents(
        &self,
        inbox: &document_inbox::DocumentInbox,
    ) -> bridge_lambda::Metrics {
        let notifications = self.notifications(1).await;
        self.read_notified(inbox, &notifications).await
    }
}

/// Contract section 8, the document side: DISPATCHNOTIFICATION files under
/// `logistics/inbox/` become each order's shipments through S3's notification, the intake
/// and the writeback as deployed. Parts in any order end `shipped`, with every tracking
/// code; an unknown order reference is reported (report, metric), not dropped; the same
/// notification delivered again reads nothing, the same file uploaded again changes
/// nothing; one file name used for two notifications, notified newest first, loses
/// neither; a correction that ships more than ordered is refused with `over_shipment`; a
/// file that is no notification is refused with its reason.
#[tokio::test]
async fn dispatch_notifications_in_the_inbox_ship_the_order_and_report_what_they_cannot() {
    let s = setup().await;
    let DomainEvent::OrderPlaced(order) = event(
        Source::shop(),
        json!({"type": "order.placed", "timestamp": "2026-12-07T09:00:00Z",
        "data": {"order_id": "SO-60", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-12-07T09:00:00Z", "cost_center": "CC-1",
                 "lines": [{"line": 1, "sku": "A", "quantity": 6, "unit_price": "10.00"},
                           {"line": 2, "sku": "A", "quantity": 2, "unit_price": "10.00"}]}}),
    ) else {
        unreachable!()
    };
    assert_eq!(s.deliver(&order, 1).await, Ok("Submitted"));
    let inbox = document_inbox::wiring::build(
        &Config::from_map(s.stack.environment("document-inbox")),
        &s.stack.sdk,
    )
    .await
    .unwrap();
    let fulfilment = |stored: &bridge_domain::ports::StoredOrder| {
        bridge_domain::shipments::fulfilment(&stored.order, &stored.shipments)
    };
    let dn2 = || {
        dispatch_notification(
            "DN-2",
            "2026-12-07T11:00:00+01:00",
            &[
                ("SO-60", "1", "A", "2"),
                ("SO-60", "2", "A", "2"),
                ("SO-404", "1", "A", "1"),
            ],
        )
    };

    // The second parcel's notification first; beside it an order the bridge never had.
    s.drop_file("logistics/inbox/dn-2.xml", dn2()).await;
    let notified = s.notifications(1).await;
    let m = s.read_notified(&inbox, &notified).await;
    assert_eq!(m.count("UnknownOrderReferences"), 1);
    assert_eq!(m.count("DocumentProblems"), 1);
    let report = s.report("dn-2.xml").await;
    assert_eq!(report["status"], "incomplete", "{report}");
    assert_eq!(report["entries"][0]["order_id"], "SO-404");
    assert_eq!(report["entries"][0]["outcome"], "unknown_order");
    assert_eq!(report["entries"][0]["items"], json!([3]));
    assert_eq!(report["entries"][1]["outcome"], "queued");
    let stored = s.stored("SO-60").await;
    assert_eq!(
        fulfilment(&stored),
        bridge_domain::shipments::Fulfilment::PartiallyShipped
    );
    let shipment = &stored.shipments["DN-2"];
    assert_eq!(shipment.tracking_code.as_deref(), Some("TRK-DN-2"));
    assert_eq!(shipment.carrier.as_deref(), Some("Spedition Müller"));

    // The same notification delivered again: that version has its report, nothing is read.
    let m = s.read_notified(&inbox, &notified).await;
    assert_eq!(m.count("DocumentsAlreadyRead"), 1);
    assert_eq!(m.count("DocumentProblems"), 0);
    assert_eq!(s.reports("dn-2.xml").await.len(), 1);

    // The same file uploaded again: read again (a new version), handed over as duplicates.
    s.drop_file("logistics/inbox/dn-2.xml", dn2()).await;
    s.read_documents(&inbox).await;
    let reports = s.reports("dn-2.xml").await;
    assert_eq!(reports.len(), 2, "a report per version");
    assert_ne!(reports[0]["version"], reports[1]["version"]);
    assert_eq!(
        reports[1]["entries"][1]["outcome"], "duplicate",
        "{reports:?}"
    );
    assert_eq!(s.stored("SO-60").await.shipments.len(), 1);

    // The partner uses one file name for every notification: DN-1a (1 of line 1), then
    // DN-1b (3 of line 1) under the same key, their notifications handled newest first.
    // Each version is read as notified: both parcels reach the order, which is shipped.
    s.drop_file(
        "logistics/inbox/dispatch.xml",
        dispatch_notification(
            "DN-1a",
            "2026-12-07T10:00:00+01:00",
            &[("SO-60", "1", "A", "1")],
        ),
    )
    .await;
    s.drop_file(
        "logistics/inbox/dispatch.xml",
        dispatch_notification(
            "DN-1b",
            "2026-12-07T10:05:00+01:00",
            &[("SO-60", "1", "A", "3")],
        ),
    )
    .await;
    let mut notified = s.notifications(2).await;
    notified.reverse();
    let m = s.read_notified(&inbox, &notified).await;
    assert_eq!(m.count("DocumentsProcessed"), 2);
    assert_eq!(m.count("DocumentProblems"), 0);
    assert_eq!(s.reports("dispatch.xml").await.len(), 2);
    let stored = s.stored("SO-60").await;
    assert_eq!(
        fulfilment(&stored),
        bridge_domain::shipments::Fulfilment::Shipped
    );
    let shown = bridgectl::orders::text(&stored);
    for code in ["TRK-DN-1a", "TRK-DN-1b", "TRK-DN-2"] {
        assert!(shown.contains(code), "{shown}");
    }

    // A correction of DN-1b (generated later) shipping 5 on line 1: 8 of 6, refused.
    s.drop_file(
        "logistics/inbox/dn-1b-corrected.xml",
        dispatch_notification(
            "DN-1b",
            "2026-12-07T12:00:00+01:00",
            &[("SO-60", "1", "A", "5")],
        ),
    )
    .await;
    s.read_documents(&inbox).await;
    let (code, _) = s.only_dead_letter("OrderStatusDeadLetterQueue").await;
    assert_eq!(code, "over_shipment");
    assert_eq!(
        s.stored("SO-60").await.shipments["DN-1b"].lines[0]
            .quantity
            .to_string(),
        "3",
        "the order keeps what it had"
    );

    // Not a notification at all: refused with its reason, nothing handed over.
    s.drop_file(
        "logistics/inbox/order.xml",
        b"<ORDER version=\"2.1\"/>".to_vec(),
    )
    .await;
    let m = s.read_documents(&inbox).await;
    assert_eq!(m.count("DocumentsRefused"), 1);
    let report = s.report("order.xml").await;
    assert_eq!(report["status"], "refused");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .starts_with("not_a_dispatch_notification"),
        "{report}"
    );
}

/// The openTRANS connector's setup: the writeback with `ERP_CONNECTOR=opentrans`, the
/// document inbox, and the ERP's EDI converter in front of the simulator.
async fn document_setup() -> (
    Setup,
    document_inbox::DocumentInbox,
    bridgectl::edi::Converter,
) {
    let s = setup_with(&[
        ("ERP_CONNECTOR", "opentrans"),
        ("ERP_SUPPLIER_ID", "SUPPLIER-1"),
    ])
    .await;
    let inbox = document_inbox::wiring::build(
        &Config::from_map(s.stack.environment("document-inbox")),
        &s.stack.sdk,
    )
    .await
    .unwrap();
    let converter = bridgectl::edi::Converter::new(
        aws_sdk_s3::Client::new(&s.stack.sdk),
        s.stack.bucket("CatalogBucket"),
        &s.sim.base_url,
        TOKEN,
    );
    (s, inbox, converter)
}

impl Setup {
    /// Every version of a key in the catalog bucket: (`is_delete_marker`, bytes).
    async fn versions(&self, key: &str) -> Vec<(bool, Vec<u8>)> {
        let s3 = aws_sdk_s3::Client::new(&self.stack.sdk);
        let bucket = self.stack.bucket("CatalogBucket");
        let listed = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
            .unwrap();
        let mut versions = Vec::new();
        for version in listed.versions() {
            let body = s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .version_id(version.version_id().unwrap())
                .send()
                .await
                .unwrap();
            versions.push((
                false,
                body.body.collect().await.unwrap().into_bytes().to_vec(),
            ));
        }
        versions.extend(listed.delete_markers().iter().map(|_| (true, Vec::new())));
        versions
    }

    /// The report of the ERP inbox file `name`'s last version read.
    async fn erp_report(&self, name: &str) -> Value {
        self.reports_in("erp/reports/inbox/", name)
            .await
            .pop()
            .expect("a report")
    }
}

/// Contract section 9, the openTRANS ERP connector, end to end on moto: the order is
/// written once as an ORDER document to `erp/outbox/orders/`; redeliveries, and the lookup
/// after the converter picked the file up (and deleted it), write nothing again; the ERP's
/// ORDERRESPONSE, dropped into `erp/inbox/` by the converter, reaches the order through S3's
/// notification, the document inbox, the intake and the writeback: `confirmed` with the
/// ERP's number. The same answer again changes nothing; another answer for the same order
/// is reported as a conflict and changes nothing either. A declined order ends `rejected`
/// and dead-lettered with the ERP's reason.
#[tokio::test]
async fn an_erp_that_takes_documents_gets_each_order_once_and_its_answer_confirms_or_rejects_it() {
    let (s, inbox, converter) = document_setup().await;
    // The customer orders under an open-ended framework agreement: the ORDER names it.
    s.customer(
        json!({"revision": 2, "credit_limit": {"amount": "1000", "currency": "EUR"},
        "open_items": {"amount": "100", "currency": "EUR"},
        "framework_agreement": {"id": "RV-2026-17"}}),
    )
    .await;
    let order = s.order("SO-70", "3", "10.00");
    let outbox = "erp/outbox/orders/SO-70.xml";
    assert_eq!(s.deliver(&order, 1).await, Ok("AwaitingErpAnswer"));
    let stored = s.stored("SO-70").await;
    assert_eq!(stored.state.name(), "submitted");
    assert_eq!(
        stored.erp_wait.as_ref().map(|w| w.last_error.as_str()),
        Some(order_writeback::AWAITING_ANSWER),
        "bridgectl order shows what the order waits for"
    );
    let written = s.versions(outbox).await;
    assert_eq!(written.len(), 1);
    let document = String::from_utf8(written[0].1.clone()).unwrap();
    assert!(
        document.contains("<ORDER_ID>SO-70</ORDER_ID>"),
        "{document}"
    );
    assert!(document.contains("SUPPLIER-1"), "{document}");
    assert!(
        document.contains("<bmecat:AGREEMENT_ID>RV-2026-17</bmecat:AGREEMENT_ID>")
            && document.contains("9999-12-31"),
        "{document}"
    );
    // A redelivery while the document waits in the outbox: nothing written again.
    assert_eq!(s.deliver(&order, 1).await, Ok("AwaitingErpAnswer"));
    assert_eq!(s.versions(outbox).await.len(), 1);

    // The converter hands it to the ERP, drops the answer into erp/inbox/, deletes the file.
    let round = converter.round().await.unwrap();
    assert_eq!(round.answered.len(), 1, "{round:?}");
    let answer_file = round.answered[0].clone();
    // A redelivery after the pickup: the key was written once; nothing is written again.
    assert_eq!(s.deliver(&order, 1).await, Ok("AwaitingErpAnswer"));
    let after_pickup = s.versions(outbox).await;
    assert_eq!(
        after_pickup.iter().filter(|(marker, _)| !marker).count(),
        1,
        "one document, ever"
    );
    assert_eq!(after_pickup.iter().filter(|(marker, _)| *marker).count(), 1);

    // S3 notifies the document queue; the inbox records the answer and hands it over.
    let notified = s.notifications(1).await;
    let m = s.read_notified(&inbox, &notified).await;
    assert_eq!(m.count("DocumentsProcessed"), 1);
    let name = answer_file.trim_start_matches("erp/inbox/");
    let report = s.erp_report(name).await;
    assert_eq!(report["kind"], "order_response", "{report}");
    assert_eq!(report["entries"][0]["outcome"], "queued", "{report}");
    let erp_orders = s.erp_orders().await;
    assert_eq!(erp_orders.len(), 1);
    let number = erp_orders[0]["erp_order_number"]
        .as_str()
        .unwrap()
        .to_string();
    let confirmed = s.stored("SO-70").await;
    assert_eq!(confirmed.state.name(), "confirmed");
    let bridge_domain::orders::OrderState::Erp {
        erp_order_number, ..
    } = &confirmed.state
    else {
        unreachable!()
    };
    assert_eq!(erp_order_number.as_deref(), Some(number.as_str()));
    assert!(confirmed.erp_wait.is_none(), "no wait left to show");

    // The same ORDERRESPONSE delivered again as a copy: a duplicate, the order unchanged.
    let answer_bytes = s.versions(&answer_file).await.remove(0).1;
    s.drop_file("erp/inbox/copy-of-answer.xml", answer_bytes.clone())
        .await;
    let m = s.read_documents(&inbox).await;
    assert_eq!(m.count("DocumentProblems"), 0);
    assert_eq!(
        s.erp_report("copy-of-answer.xml").await["entries"][0]["outcome"],
        "duplicate"
    );
    let after_copy = s.stored("SO-70").await;
    assert_eq!(after_copy.state, confirmed.state);
    assert_eq!(after_copy.history.len(), confirmed.history.len());

    // Another answer to the same order (declining it): a conflict, reported and alarmed;
    // the first answer stands.
    let declined = String::from_utf8(answer_bytes)
        .unwrap()
        .replace("<QUANTITY>3</QUANTITY>", "<QUANTITY>0</QUANTITY>");
    s.drop_file("erp/inbox/second-answer.xml", declined.into_bytes())
        .await;
    let m = s.read_documents(&inbox).await;
    assert_eq!(m.count("DocumentProblems"), 1);
    let report = s.erp_report("second-answer.xml").await;
    assert_eq!(report["entries"][0]["outcome"], "conflict", "{report}");
    assert_eq!(s.stored("SO-70").await.state, confirmed.state);

    // The ERP's own statuses follow, numbered its way (1, 2, ...): the document's
    // confirmation never makes them stale.
    let DomainEvent::OrderStatusChanged(shipped) = event(
        Source::erp(),
        json!({"type": "order.status_changed", "timestamp": "2026-12-07T12:00:00Z",
               "data": {"order_id": "SO-70", "status": "shipped", "revision": 1}}),
    ) else {
        unreachable!()
    };
    assert_eq!(s.writeback.status(shipped).await.unwrap(), "Applied");
    assert_eq!(s.state("SO-70").await, "shipped");

    // The ERP declines the next order of this customer: the answer is recorded, and the
    // schedule's lookup rejects the order and dead-letters it with the ERP's reason.
    // Its answer comes after the outage window (8 hours): an order the ERP has is not
    // dead-lettered as unreachable meanwhile, and the late decline still rejects it.
    s.faults(json!({"reject_customers": ["C-1"]})).await;
    let refused = s.order("SO-71", "1", "10.00");
    assert_eq!(s.deliver(&refused, 1).await, Ok("AwaitingErpAnswer"));
    let overnight = chrono::Utc::now() + chrono::Duration::hours(9);
    let run = s.writeback.scheduled(overnight).await.unwrap();
    assert_eq!(
        (run.resume.awaiting_answer, run.resume.dead_lettered),
        (1, 0),
        "{run:?}"
    );
    assert_eq!(converter.round().await.unwrap().answered.len(), 1);
    let m = s.read_documents(&inbox).await;
    assert_eq!(m.count("OrdersDeclinedByErp"), 1);
    let run = s
        .writeback
        .scheduled(overnight + chrono::Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(run.resume.dead_lettered, 1, "{run:?}");
    let rejected = s.stored("SO-71").await;
    assert_eq!(rejected.state.name(), "rejected");
    let (code, reason) = s.only_dead_letter("OrderPlacedDeadLetterQueue").await;
    assert_eq!(code, "erp_rejected");
    assert!(reason.contains("customer C-1 may not order"), "{reason}");
}

/// The guarantee of contract section 9 under a crash: an invocation that wrote the ORDER
/// document and died before recording anything leaves one document; its redelivery, after
/// the customer's data changed (the document would read differently now), finds it and
/// writes nothing; a concurrent writer with the changed content is refused, named, and the
/// first document stands. Never two documents with different content for one order.
#[tokio::test]
async fn a_crash_between_writing_the_order_document_and_recording_it_never_gives_two_documents() {
    let (s, _inbox, converter) = document_setup().await;
    let order = s.order("SO-80", "2", "10.00");
    let outbox = "erp/outbox/orders/SO-80.xml";
    let files: std::sync::Arc<dyn bridge_domain::ports::FileStore> =
        std::sync::Arc::new(bridge_aws::S3FileStore::new(
            aws_sdk_s3::Client::new(&s.stack.sdk),
            s.stack.bucket("CatalogBucket"),
        ));
    let customers: std::sync::Arc<dyn CustomerStore> =
        std::sync::Arc::new(bridge_aws::DynamoCustomerStore::new(
            aws_sdk_dynamodb::Client::new(&s.stack.sdk),
            s.stack.table("CustomerTable"),
        ));
    let connector = order_writeback::documents::DocumentErp::new(
        files.clone(),
        customers.clone(),
        "SUPPLIER-1",
    );
    use bridge_domain::ports::{ErpError, ErpLookup, ErpOrders, ErpReceipt};
    // The crashed invocation: the order saved `submitted`, the document written, then death.
    let store = bridge_aws::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&s.stack.sdk),
        s.stack.table("OrderTable"),
    );
    let mut stored = bridge_domain::ports::StoredOrder::new(order.clone(), chrono::Utc::now());
    stored.transition(
        bridge_domain::orders::OrderState::Submitted,
        chrono::Utc::now() - chrono::Duration::minutes(5),
    );
    assert!(store.insert(&stored).await.unwrap());
    assert_eq!(connector.create(&order).await, Ok(ErpReceipt::Sent));
    let first = s.versions(outbox).await;
    assert_eq!(first.len(), 1);

    // The customer's name changes: the same order would now make another document.
    s.customer(json!({"revision": 2, "name": "Kunde GmbH (neu)", "credit_limit": {"amount": "1000", "currency": "EUR"}})).await;
    assert_ne!(connector.document(&order).await.unwrap(), first[0].1);

    // The redelivery finds the document and writes nothing.
    assert_eq!(s.deliver(&order, 1).await, Ok("AwaitingErpAnswer"));
    // So does the schedule, before and after the converter picked the file up.
    // Long after the outage window: the order the ERP has waits for its answer, never
    // dead-lettered as unreachable.
    let later = chrono::Utc::now() + chrono::Duration::hours(9);
    let run = s.writeback.scheduled(later).await.unwrap();
    assert_eq!(run.resume.awaiting_answer, 1, "{run:?}");
    converter.round().await.unwrap();
    assert_eq!(
        connector.find(&order.order_id).await,
        Ok(ErpLookup::Pending)
    );
    let run = s.writeback.scheduled(later).await.unwrap();
    assert_eq!(run.resume.sent, 0, "{run:?}");
    // A writer racing with the changed content (the file back in the outbox) is refused by
    // name; nothing is replaced.
    files
        .write(outbox, first[0].1.clone(), "application/xml")
        .await
        .unwrap();
    assert!(matches!(
        connector.create(&order).await,
        Err(ErpError::Conflict(message)) if message.contains(outbox)
    ));
    let documents: Vec<Vec<u8>> = s
        .versions(outbox)
        .await
        .into_iter()
        .filter(|(marker, _)| !marker)
        .map(|(_, bytes)| bytes)
        .collect();
    assert!(
        documents.iter().all(|d| *d == first[0].1),
        "every document written for the order has the first content"
    );
    // The ERP got it once.
    assert_eq!(s.erp_orders().await.len(), 1);
}

/// Contract section 9, INVOICE: an invoice under `erp/inbox/` counts in its customer's open
/// items at once (gross), once per invoice id, and makes each order it names `invoiced`, so
/// the order's amount leaves the open orders as it enters the open items. The same invoice
/// again counts nothing; the ERP's next `customer.changed` replaces the adjusted open items
/// with its own; a credit memo takes off; an invoice for a customer the bridge does not
/// know is reported, not dropped.
#[tokio::test]
async fn an_erp_invoice_counts_in_the_customers_open_items_once_until_the_erps_next_update() {
    let (s, inbox, converter) = document_setup().await;
    let customers = bridge_aws::DynamoCustomerStore::new(
        aws_sdk_dynamodb::Client::new(&s.stack.sdk),
        s.stack.table("CustomerTable"),
    );
    let open_items = || async {
        customers
            .customer(&bridge_domain::CustomerId::parse("C-1").unwrap())
            .await
            .unwrap()
            .unwrap()
            .open_items
            .map(|m| m.to_string())
    };
    // Documents generated after the ERP's answer (their revisions follow it).
    let at = |minutes: i64| {
        (chrono::Utc::now() + chrono::Duration::minutes(minutes))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let order = s.order("SO-90", "3", "10.00");
    assert_eq!(s.deliver(&order, 1).await, Ok("AwaitingErpAnswer"));
    converter.round().await.unwrap();
    s.read_documents(&inbox).await;
    assert_eq!(s.state("SO-90").await, "confirmed");
    assert_eq!(open_items().await.as_deref(), Some("100 EUR"));

    // The ERP invoices it: 30.00 net, 35.70 gross.
    let line = erp_simulator::documents::InvoicedLine {
        order_id: "SO-90",
        line: "1",
        sku: "A",
        quantity: "3",
        unit_price: "10.00",
    };
    let invoice = erp_simulator::documents::invoice(
        "RE-2026-1",
        "C-1",
        &at(1),
        false,
        std::slice::from_ref(&line),
    );
    s.drop_file("erp/inbox/RE-2026-1.xml", invoice.clone())
        .await;
    let m = s.read_documents(&inbox).await;
    assert_eq!(m.count("OpenItemsAdjusted"), 1);
    let report = s.erp_report("RE-2026-1.xml").await;
    assert_eq!(report["kind"], "invoice", "{report}");
    assert_eq!(report["status"], "processed", "{report}");
    assert_eq!(report["entries"][0]["outcome"], "open_items_adjusted");
    assert_eq!(report["entries"][1]["order_id"], "SO-90");
    assert_eq!(report["entries"][1]["outcome"], "queued");
    assert_eq!(open_items().await.as_deref(), Some("135.70 EUR"));
    let invoiced = s.stored("SO-90").await;
    assert_eq!(invoiced.state.name(), "invoiced");
    assert!(
        !invoiced.counts_toward_exposure(),
        "its amount is in the open items now, not in the open orders"
    );
    // The ERP's own later status (delivered, its numbering) shows, and the order stays out
    // of the open orders: invoiced is for good.
    let DomainEvent::OrderStatusChanged(delivered) = event(
        Source::erp(),
        json!({"type": "order.status_changed", "timestamp": "2026-12-07T12:00:00Z",
               "data": {"order_id": "SO-90", "status": "delivered", "revision": 3}}),
    ) else {
        unreachable!()
    };
    assert_eq!(s.writeback.status(delivered).await.unwrap(), "Applied");
    let delivered = s.stored("SO-90").await;
    assert_eq!(delivered.state.name(), "delivered");
    assert!(!delivered.counts_toward_exposure());

    // The same invoice again (the converter delivers it twice): nothing counted twice.
    s.drop_file("erp/inbox/RE-2026-1-again.xml", invoice.clone())
        .await;
    let m = s.read_documents(&inbox).await;
    assert_eq!(m.count("OpenItemsAdjusted"), 0);
    assert_eq!(m.count("DocumentProblems"), 0);
    assert_eq!(open_items().await.as_deref(), Some("135.70 EUR"));

    // The ERP's own update includes the invoice (and more): its figure replaces the
    // bridge's. The invoice read once more after it (a late copy) counts nothing.
    s.customer(
        json!({"revision": 3, "credit_limit": {"amount": "1000", "currency": "EUR"},
        "open_items": {"amount": "140.00", "currency": "EUR"}}),
    )
    .await;
    assert_eq!(open_items().await.as_deref(), Some("140.00 EUR"));
    s.drop_file("erp/inbox/RE-2026-1-late-copy.xml", invoice)
        .await;
    s.read_documents(&inbox).await;
    assert_eq!(
        s.erp_report("RE-2026-1-late-copy.xml").await["entries"][0]["outcome"],
        "duplicate"
    );
    assert_eq!(open_items().await.as_deref(), Some("140.00 EUR"));
    // A credit memo for one piece: 11.90 off, counted from the ERP's figure.
    // It carries the invoice's number: an invoice and a credit memo each count once.
    let memo = erp_simulator::documents::invoice(
        "RE-2026-1",
        "C-1",
        &at(2),
        true,
        &[erp_simulator::documents::InvoicedLine {
            quantity: "1",
            ..line.clone()
        }],
    );
    s.drop_file("erp/inbox/GS-2026-1.xml", memo).await;
    s.read_documents(&inbox).await;
    assert_eq!(open_items().await.as_deref(), Some("128.10 EUR"));
    assert_eq!(
        s.state("SO-90").await,
        "delivered",
        "a credit memo changes no status"
    );

    // An invoice to a customer the bridge does not know, naming C-1's order: reported and
    // paged, nothing counted, the order left alone.
    let stranger = erp_simulator::documents::invoice("RE-2026-2", "C-404", &at(3), false, &[line]);
    s.drop_file("erp/inbox/RE-2026-2.xml", stranger).await;
    let m = s.read_documents(&inbox).await;
    assert_eq!(m.count("DocumentProblems"), 1);
    let report = s.erp_report("RE-2026-2.xml").await;
    assert_eq!(report["status"], "incomplete", "{report}");
    assert_eq!(report["entries"][0]["outcome"], "unknown_customer");
    assert_eq!(report["entries"][1]["outcome"], "customer_mismatch");
    assert_eq!(open_items().await.as_deref(), Some("128.10 EUR"));
}

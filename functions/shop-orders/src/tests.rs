//! The function's decisions on in-memory ports: what reaches the intake, what is counted,
//! retried or dead-lettered. The real shop and queues are in the emulator tests.

use super::*;
use bridge_contract::ContractError;
use bridge_domain::events::{OrderLine, OrderLines, UnitPrice};
use bridge_domain::ports::OutboundMessage;
use bridge_domain::{
    CustomerId, OrderId, OrderPlaced, PortError, Quantity, Revision, Sku, Sources,
};
use std::collections::HashMap;

struct FakeFeed(Result<ShopNotification, (bridge_domain::ErrorClass, &'static str)>);

#[async_trait::async_trait]
impl ShopOrderFeed for FakeFeed {
    async fn read_notification(
        &self,
        _: &str,
        _: Option<&str>,
    ) -> Result<ShopNotification, PortError> {
        self.0.clone().map_err(|(class, message)| match class {
            _ if message == "credentials" => PortError::retryable(
                bridge_commercetools::CREDENTIALS_OPERATION,
                "POST /oauth/token: 401 invalid_client",
            ),
            bridge_domain::ErrorClass::Retryable => {
                PortError::retryable("shop.read_order", message)
            }
            bridge_domain::ErrorClass::Permanent => {
                PortError::permanent("shop.read_order", message)
            }
        })
    }
}

/// One `accept`: source, webhook id, correlation id, body.
type IntakeCall = (String, String, String, Vec<u8>);

/// The intake: the contract's sources, one answer (after `in_flight` answers of
/// `InFlight`), every call recorded.
struct FakeIntake {
    answer: Accepted,
    in_flight: Mutex<u32>,
    calls: Mutex<Vec<IntakeCall>>,
}

#[async_trait::async_trait]
impl EventIntake for FakeIntake {
    fn sender(&self, name: &str) -> Option<Sender> {
        Sources::contract().sender(name)
    }

    async fn accept(
        &self,
        sender: &Sender,
        webhook_id: &str,
        correlation_id: &str,
        body: &[u8],
        _: chrono::DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> Accepted {
        metrics.add("IntakeCalled", 1);
        self.calls.lock().unwrap().push((
            sender.source.to_string(),
            webhook_id.to_string(),
            correlation_id.to_string(),
            body.to_vec(),
        ));
        let mut in_flight = self.in_flight.lock().unwrap();
        if *in_flight > 0 {
            *in_flight -= 1;
            return Accepted::InFlight;
        }
        self.answer.clone()
    }
}

#[derive(Default)]
struct FakeQueue {
    sent: Mutex<Vec<(String, OutboundMessage)>>,
    delays: Mutex<Vec<i32>>,
}

#[async_trait::async_trait]
impl MessageQueue for FakeQueue {
    async fn send(&self, queue: &str, message: &OutboundMessage) -> Result<String, PortError> {
        self.sent
            .lock()
            .unwrap()
            .push((queue.to_string(), message.clone()));
        Ok("m".into())
    }
    async fn delay(&self, _: &str, _: &str, seconds: i32) -> Result<(), PortError> {
        self.delays.lock().unwrap().push(seconds);
        Ok(())
    }
}

fn settings() -> ShopOrderSettings {
    ShopOrderSettings {
        queue_url: "orders-queue".into(),
        dead_letter_queue: "orders-dlq".into(),
        max_receive_count: 3,
        source: "shop".into(),
        backoff_base_seconds: 15,
        backoff_max_seconds: 900,
    }
}

fn order() -> OrderPlaced {
    OrderPlaced {
        order_id: OrderId::parse("SHOP-1").unwrap(),
        revision: Revision::new(1),
        customer_id: CustomerId::parse("C-1").unwrap(),
        currency: bridge_domain::Currency::parse("EUR").unwrap(),
        lines: OrderLines::new(vec![OrderLine {
            line: 1,
            sku: Sku::parse("SKU-1").unwrap(),
            quantity: Quantity::new(12.into()).unwrap(),
            unit_price: UnitPrice::new("9.80".parse().unwrap()).unwrap(),
        }])
        .unwrap(),
        placed_at: "2026-12-07T09:00:00Z".parse().unwrap(),
        po_number: Some("PO-1".into()),
        cost_center: None,
        buyer: None,
        approvals: vec![],
        delivery: None,
    }
}

fn placed() -> ShopNotification {
    ShopNotification::OrderPlaced {
        message_id: "msg-1".into(),
        order: Box::new(order()),
    }
}

struct World {
    orders: ShopOrders,
    intake: Arc<FakeIntake>,
    queue: Arc<FakeQueue>,
}

fn build_world(
    feed: Result<ShopNotification, (bridge_domain::ErrorClass, &'static str)>,
    answer: Accepted,
) -> World {
    let intake = Arc::new(FakeIntake {
        answer,
        in_flight: Mutex::new(0),
        calls: Mutex::default(),
    });
    let queue = Arc::new(FakeQueue::default());
    let orders = ShopOrders::new(
        settings(),
        bridge_commercetools::wiring::Reconnecting::fixed(Arc::new(FakeFeed(feed))),
        intake.clone(),
        queue.clone(),
    )
    .unwrap();
    World {
        orders,
        intake,
        queue,
    }
}

fn event(receive_count: u32) -> SqsEvent {
    let mut message = SqsMessage::default();
    message.message_id = Some("sqs-1".into());
    message.receipt_handle = Some("handle".into());
    message.body = Some("{\"notificationType\": \"Message\"}".into());
    message.event_source_arn = Some("arn:aws:sqs:eu-central-1:1:orders".into());
    message
        .attributes
        .insert("ApproximateReceiveCount".into(), receive_count.to_string());
    let mut event = SqsEvent::default();
    event.records.push(message);
    event
}

fn dead_letters(queue: &FakeQueue) -> Vec<HashMap<String, String>> {
    queue
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(q, m)| {
            assert_eq!(q, "orders-dlq");
            m.attributes.clone().into_iter().collect()
        })
        .collect()
}

#[tokio::test]
async fn an_order_goes_to_the_intake_as_the_shops_order_placed_under_the_message_id() {
    let world = build_world(Ok(placed()), Accepted::Queued);
    let (result, metrics) = world.orders.process(event(1)).await;
    assert!(result.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("OrderQueued"), 1);
    assert_eq!(
        metrics.count("IntakeCalled"),
        1,
        "the intake's counts join the batch's"
    );
    let calls = world.intake.calls.lock().unwrap();
    let (source, receipt, correlation, body) = &calls[0];
    assert_eq!(source, "shop");
    assert_eq!(receipt, "ct-message-msg-1");
    assert_eq!(correlation, "SHOP-1");
    let sender = Sources::contract().sender("shop").unwrap();
    let parsed = bridge_contract::parse_event(&sender, body).unwrap();
    assert_eq!(
        parsed.event,
        bridge_domain::DomainEvent::OrderPlaced(order()),
        "the contract's parser reads the order back unchanged"
    );
}

#[tokio::test]
async fn an_order_that_changed_since_its_first_delivery_was_queued_is_a_duplicate_not_a_dead_letter()
 {
    // The intake's answer when the same message id comes with other content: the order was
    // read again (it did not fit into the message) after the bridge wrote to it.
    let world = build_world(Ok(placed()), Accepted::Conflict);
    let (result, metrics) = world.orders.process(event(2)).await;
    assert!(result.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("OrderDuplicate"), 1);
    assert!(world.queue.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_delivery_racing_another_of_the_same_message_waits_for_its_verdict() {
    let world = build_world(Ok(placed()), Accepted::Duplicate);
    *world.intake.in_flight.lock().unwrap() = 2;
    let (result, metrics) = world.orders.process(event(1)).await;
    assert!(result.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("OrderDuplicate"), 1);
    assert_eq!(world.intake.calls.lock().unwrap().len(), 3);

    // Still held after the last wait: back to the queue, later.
    let stuck = build_world(Ok(placed()), Accepted::Duplicate);
    *stuck.intake.in_flight.lock().unwrap() = 9;
    let (result, _) = stuck.orders.process(event(1)).await;
    assert!(result.is_err(), "the only message failed retryably");
    assert_eq!(
        stuck.intake.calls.lock().unwrap().len(),
        webhook_intake::handover::IN_FLIGHT_WAITS.len()
    );
    assert_eq!(stuck.queue.delays.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_test_message_is_counted_and_never_reaches_the_intake() {
    let world = build_world(
        Ok(ShopNotification::Ignored {
            what: "ResourceCreated notification".into(),
        }),
        Accepted::Queued,
    );
    let (result, metrics) = world.orders.process(event(1)).await;
    assert!(result.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("NotificationIgnored"), 1);
    assert!(world.intake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_order_that_cannot_be_placed_is_dead_lettered_with_the_reason() {
    let refused = (
        bridge_domain::ErrorClass::Permanent,
        "order SHOP-1 has no customer (an anonymous checkout)",
    );
    let world = build_world(Err(refused), Accepted::Queued);
    let (result, metrics) = world.orders.process(event(1)).await;
    assert!(result.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("Rejected"), 1);
    let dead = dead_letters(&world.queue);
    assert_eq!(dead[0]["failure_code"], "order_refused");
    assert!(dead[0]["failure_reason"].contains("anonymous"));

    let invalid = Accepted::Invalid(ContractError::new(
        "not_positive",
        "an order line quantity must be above 0",
        Some("/data/lines/0/quantity".into()),
    ));
    let second = build_world(Ok(placed()), invalid);
    second.orders.process(event(1)).await.0.unwrap();
    let dead = dead_letters(&second.queue);
    assert_eq!(dead[0]["failure_code"], "invalid_order");
    assert!(dead[0]["failure_reason"].contains("/data/lines/0/quantity"));
}

#[tokio::test]
async fn a_shop_that_cannot_answer_now_brings_the_message_back_later_and_the_last_try_dead_letters()
{
    let down = || Err((bridge_domain::ErrorClass::Retryable, "GET /orders/x: 503"));
    let world = build_world(down(), Accepted::Queued);
    let (result, _) = world.orders.process(event(1)).await;
    // Every message of the batch failed retryably: the invocation fails (the errors alarm).
    assert!(result.is_err());
    assert!(world.queue.sent.lock().unwrap().is_empty());
    let delays = world.queue.delays.lock().unwrap().clone();
    assert_eq!(delays.len(), 1);
    assert!((8..=15).contains(&delays[0]), "{delays:?}");

    let last = build_world(down(), Accepted::Unavailable);
    let (result, metrics) = last.orders.process(event(3)).await;
    assert!(result.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("RetriesExhausted"), 1);
    assert_eq!(
        dead_letters(&last.queue)[0]["failure_code"],
        "shop_unavailable"
    );
}

#[tokio::test]
async fn refused_credentials_keep_the_order_waiting_and_the_secret_is_read_again() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let reconnects = Arc::new(AtomicU32::new(0));
    let counted = reconnects.clone();
    let reconnect: bridge_commercetools::wiring::Reconnect<dyn ShopOrderFeed> =
        Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let good: Arc<dyn ShopOrderFeed> = Arc::new(FakeFeed(Ok(placed())));
            Box::pin(async move { Ok(good) })
        });
    let refusing: Arc<dyn ShopOrderFeed> = Arc::new(FakeFeed(Err((
        bridge_domain::ErrorClass::Retryable,
        "credentials",
    ))));
    let intake = Arc::new(FakeIntake {
        answer: Accepted::Queued,
        in_flight: Mutex::new(0),
        calls: Mutex::default(),
    });
    let queue = Arc::new(FakeQueue::default());
    let orders = ShopOrders::new(
        settings(),
        bridge_commercetools::wiring::Reconnecting::new(refusing, reconnect),
        intake.clone(),
        queue.clone(),
    )
    .unwrap();
    let (result, _) = orders.process(event(1)).await;
    assert!(result.is_err(), "retried, not dead-lettered");
    assert!(queue.sent.lock().unwrap().is_empty());
    assert_eq!(reconnects.load(Ordering::SeqCst), 1);
    let (result, metrics) = orders.process(event(2)).await;
    assert!(result.unwrap().batch_item_failures.is_empty());
    assert_eq!(
        metrics.count("OrderQueued"),
        1,
        "the secret read again works"
    );
}

#[tokio::test]
async fn a_source_that_may_not_place_orders_stops_the_start() {
    let intake = Arc::new(FakeIntake {
        answer: Accepted::Queued,
        in_flight: Mutex::new(0),
        calls: Mutex::default(),
    });
    let queue = Arc::new(FakeQueue::default());
    for (source, expected) in [("erp", "does not allow"), ("nobody", "does not configure")] {
        let mut settings = settings();
        settings.source = source.into();
        let err = ShopOrders::new(
            settings,
            bridge_commercetools::wiring::Reconnecting::fixed(Arc::new(FakeFeed(Ok(placed())))),
            intake.clone(),
            queue.clone(),
        )
        .err()
        .expect("refused");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

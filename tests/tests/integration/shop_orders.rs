//! Orders from the shop end to end on the local stack: an order checked out in the shop
//! (the commercetools emulator makes it from a cart), its `OrderCreated` notification put on
//! the Subscription's queue as commercetools delivers it, three times; the ERP receives one
//! sales order with the order's B2B fields. A notification too large for the queue is read
//! from the shop by id; the Subscription's test message is dropped; an anonymous order is
//! dead-lettered with its reason. The ERP's answer and status go back onto the shop's order.

use super::support::{post_to_local_stack, shop_until};
use bridge_domain::Source;
use bridgectl::dev::{DevOptions, LocalStack};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn post(stack: &LocalStack, id: &str, kind: &str, data: Value) {
    let body = json!({"type": kind, "timestamp": "2026-12-07T09:00:00Z", "data": data});
    assert_eq!(
        post_to_local_stack(stack, Source::erp(), id, &body).await,
        202,
        "{id}"
    );
}

async fn erp_orders(stack: &LocalStack) -> Vec<Value> {
    let url = format!("{}/_admin/orders", stack.info.erp_base_url);
    let answer: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    answer["orders"].as_array().cloned().unwrap_or_default()
}

/// Checks out `quantity` of `sku` for the shop customer `customer` (None: a guest).
async fn checkout(
    stack: &LocalStack,
    customer: Option<&str>,
    sku: &str,
    quantity: u32,
    number: &str,
) -> Value {
    let fields = json!({"poNumber": format!("PO-{number}"), "costCenter": "CC-10"});
    bridgectl::shop::checkout(
        &stack.shop_settings,
        customer,
        sku,
        quantity,
        number,
        fields,
    )
    .await
    .unwrap()
}

fn order_created(project: &str, message_id: &str, order: &Value) -> Value {
    bridgectl::shop::order_created(project, message_id, order)
}

#[tokio::test]
async fn a_shop_order_delivered_three_times_reaches_the_erp_once_with_its_b2b_fields() {
    let dir = std::env::temp_dir().join(bridge_testkit::unique("stack"));
    let mut options = DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("shoporders");
    options.stack_file = dir.join("stack.json");
    options.shop_emulator = Some(bridge_testkit::shop_emulator().to_string());
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");
    // Customer emails (the bridge's placeholders among them) are unique across the
    // emulator's projects: an id of this test's own.
    let customer_id = bridge_testkit::unique("C").to_uppercase();
    let sku = "SKU-SO";
    post(&stack, "c1", "customer.changed",
        json!({"customer_id": customer_id, "name": "ACME GmbH", "revision": 1, "price_lists": ["BASE"],
               "cost_centers": ["CC-10"], "credit_limit": {"amount": "10000", "currency": "EUR"}})).await;
    post(
        &stack,
        "p1",
        "price.changed",
        json!({"price_list": "BASE", "sku": sku, "currency": "EUR", "revision": 1,
               "tiers": [{"min_qty": 1, "unit_price": "9.80"}]}),
    )
    .await;
    // The customer reaches the shop through the shop sync, under its ERP id as key.
    let query = format!("customers?where=key%3D%22{customer_id}%22");
    let found = shop_until(&stack, &query, Duration::from_secs(30), |a| {
        a["results"][0]["id"].is_string()
    })
    .await;
    let shop_customer = found["results"][0]["id"].as_str().unwrap().to_string();

    bridgectl::shop::storefront(&stack.shop_settings, sku, 980)
        .await
        .unwrap();
    let order = checkout(&stack, Some(&shop_customer), sku, 12, "SHOP-1001").await;
    assert_eq!(order["orderState"], "Open", "{order}");
    let project = stack.shop_settings.project_key.clone();
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let queue = stack.queue("ShopOrderQueue").url.clone();
    let send = |body: Value| {
        let (sqs, queue) = (sqs.clone(), queue.clone());
        async move {
            sqs.send_message()
                .queue_url(queue)
                .message_body(body.to_string())
                .send()
                .await
                .unwrap();
        }
    };
    // The Subscription's test message on creation, then the order's notification, three
    // times (at-least-once delivery), the last one after the first has been handled.
    send(
        json!({"notificationType": "ResourceCreated", "projectKey": project,
                "resource": {"typeId": "subscription", "id": "sub-1"}, "version": 1}),
    )
    .await;
    let notification = order_created(&project, "msg-order-1", &order);
    send(notification.clone()).await;
    send(notification.clone()).await;

    let started = Instant::now();
    let sales_order = loop {
        let orders = erp_orders(&stack).await;
        if let Some(found) = orders
            .iter()
            .find(|o| o["external_reference"] == "SHOP-1001")
        {
            break found.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the shop order never reached the ERP: {orders:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    send(notification).await;
    stack
        .drain(
            &["ShopOrderQueue", "OrderPlacedQueue"],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let reached: Vec<Value> = erp_orders(&stack)
        .await
        .into_iter()
        .filter(|o| o["external_reference"] == "SHOP-1001")
        .collect();
    assert_eq!(reached.len(), 1, "one sales order: {reached:?}");
    let body = &sales_order["body"];
    assert_eq!(body["customer_id"], customer_id.as_str(), "{body}");
    assert_eq!(body["po_number"], "PO-SHOP-1001", "{body}");
    assert_eq!(body["cost_center"], "CC-10", "{body}");
    let lines = body["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{body}");
    assert_eq!(lines[0]["sku"], sku);
    assert_eq!(lines[0]["quantity"].to_string().trim_matches('"'), "12");
    assert_eq!(lines[0]["unit_price"].to_string().trim_matches('"'), "9.80");

    // The ERP's answer reaches the shop's order: confirmed, the ERP's number as sync info.
    let erp_number = sales_order["erp_order_number"]
        .as_str()
        .unwrap()
        .to_string();
    let shop_order = |done: Box<dyn Fn(&Value) -> bool>| {
        let stack = &stack;
        async move {
            shop_until(
                stack,
                "orders/order-number=SHOP-1001",
                Duration::from_secs(30),
                done,
            )
            .await
        }
    };
    let confirmed = shop_order(Box::new(move |o| {
        o["orderState"] == "Confirmed" && o["syncInfo"].as_array().is_some_and(|s| !s.is_empty())
    }))
    .await;
    assert_eq!(
        confirmed["syncInfo"][0]["externalId"],
        erp_number.as_str(),
        "{confirmed}"
    );
    assert_eq!(
        confirmed["custom"]["fields"]["poNumber"], "PO-SHOP-1001",
        "the shop's own fields stay"
    );
    assert_eq!(
        confirmed["custom"]["fields"]["bridgeRevision"], 0,
        "{confirmed}"
    );
    // Then its status: shipped with a parcel's tracking, then an older status arriving late.
    post(
        &stack,
        "st2",
        "order.status_changed",
        json!({"order_id": "SHOP-1001", "status": "shipped", "revision": 2,
               "tracking": [{"carrier": "DHL", "code": "1Z999"}]}),
    )
    .await;
    post(
        &stack,
        "st1",
        "order.status_changed",
        json!({"order_id": "SHOP-1001", "status": "confirmed", "revision": 1}),
    )
    .await;
    let shipped = shop_order(Box::new(|o| o["shipmentState"] == "Shipped")).await;
    let parcel = &shipped["shippingInfo"]["deliveries"][0]["parcels"][0];
    assert_eq!(parcel["trackingData"]["trackingId"], "1Z999", "{shipped}");
    assert_eq!(parcel["trackingData"]["carrier"], "DHL");
    let items = shipped["shippingInfo"]["deliveries"][0]["items"]
        .as_array()
        .unwrap();
    assert_eq!(items[0]["quantity"], 12, "the whole line ships: {shipped}");
    assert_eq!(
        shipped["custom"]["fields"]["bridgeRevision"], 18,
        "the ERP's revision 2 x 8 + the stage of shipped (erp_progress_revision)"
    );
    stack
        .drain(&["OrderStatusQueue"], Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = super::support::shop_get(&stack, "orders/order-number=SHOP-1001").await;
    assert_eq!(
        after["shipmentState"], "Shipped",
        "the late status changed nothing: {after}"
    );
    assert_eq!(after["version"], shipped["version"], "{after}");

    // The carrier's word (contract section 8): the whole line delivered in one parcel. The
    // shop's shipment state follows the goods, the parcel joins the delivery, and the
    // shipment's revision lifts the order's bridgeRevision past the ERP's.
    let delivered = json!({"type": "shipment.updated", "timestamp": "2026-12-07T12:00:00Z",
        "data": {"shipment_id": "PCL-1001", "order_id": "SHOP-1001", "status": "delivered", "revision": 1,
                 "carrier": "GLS", "tracking_code": "GLS-1001", "lines": [{"line": 1, "quantity": 12}]}});
    assert_eq!(
        post_to_local_stack(
            &stack,
            Source::parse("logistics").unwrap(),
            "ship-1",
            &delivered
        )
        .await,
        202
    );
    let arrived = shop_order(Box::new(|o| o["shipmentState"] == "Delivered")).await;
    let parcels = arrived["shippingInfo"]["deliveries"][0]["parcels"]
        .as_array()
        .unwrap();
    assert!(
        parcels
            .iter()
            .any(|p| p["trackingData"]["trackingId"] == "GLS-1001"
                && p["trackingData"]["carrier"] == "GLS"),
        "{arrived}"
    );
    assert_eq!(
        arrived["custom"]["fields"]["bridgeRevision"], 19,
        "the ERP's 18 + the shipment's 1: {arrived}"
    );

    // Too large for the queue: the notification names the order, the bridge reads it.
    let large = checkout(&stack, Some(&shop_customer), sku, 3, "SHOP-1002").await;
    send(json!({"notificationType": "Message", "projectKey": project, "id": "msg-order-2",
                "version": 1, "sequenceNumber": 1, "resource": {"typeId": "order", "id": large["id"]},
                "resourceVersion": 1, "createdAt": large["createdAt"], "lastModifiedAt": large["createdAt"],
                "payloadNotIncluded": {"reason": "Payload too large.", "payloadType": "OrderCreated"}}))
        .await;
    // An anonymous checkout: no ERP customer to bill, so it waits in the dead-letter queue.
    let anonymous = checkout(&stack, None, sku, 1, "SHOP-1003").await;
    send(order_created(&project, "msg-order-3", &anonymous)).await;

    let started = Instant::now();
    while !erp_orders(&stack)
        .await
        .iter()
        .any(|o| o["external_reference"] == "SHOP-1002")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the order read by id never reached the ERP"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dead_letters = stack.queue("ShopOrderDeadLetterQueue").url.clone();
    let message = super::support::first_message(
        &sqs,
        &dead_letters,
        Duration::from_secs(30),
        "the anonymous order was not dead-lettered",
    )
    .await;
    let attributes = message.message_attributes.unwrap_or_default();
    let attribute = |name: &str| attributes[name].string_value.clone().unwrap_or_default();
    assert_eq!(attribute("failure_code"), "order_refused");
    assert!(
        attribute("failure_reason").contains("SHOP-1003")
            && attribute("failure_reason").contains("no customer"),
        "{}",
        attribute("failure_reason")
    );
    assert!(message.body.unwrap_or_default().contains("msg-order-3"));
    // Only the anonymous order is there: the test message was dropped, not dead-lettered.
    let depth = bridgectl::dev::queue_depth(&sqs, &dead_letters)
        .await
        .unwrap();
    assert_eq!(depth, 1, "in flight: the anonymous order's message only");
    stack.stop().await;
}

/// The shop's order feed with one answer: the same order on every delivery.
struct SameOrder(bridge_domain::OrderPlaced);

#[async_trait::async_trait]
impl bridge_domain::shop::ShopOrderFeed for SameOrder {
    async fn read_notification(
        &self,
        _: &str,
        _: Option<&str>,
    ) -> Result<bridge_domain::shop::ShopNotification, bridge_domain::PortError> {
        Ok(bridge_domain::shop::ShopNotification::OrderPlaced {
            message_id: "msg-twice".into(),
            order: Box::new(self.0.clone()),
        })
    }
}

#[tokio::test]
async fn the_intakes_receipt_of_the_message_id_queues_a_redelivered_order_once() {
    let stack = bridge_testkit::TestStack::with_secrets(Default::default()).await;
    let config = bridge_lambda::Config::from_map(stack.environment("shop-orders"));
    let intake = webhook_intake::wiring::build_for_handover(&config, &stack.sdk).unwrap();
    let order: bridge_domain::OrderPlaced = serde_json::from_value(json!({
        "order_id": "SHOP-9", "revision": 1, "customer_id": "C-1", "currency": "EUR",
        "lines": [{"line": 1, "sku": "A", "quantity": "2", "unit_price": "9.80"}],
        "placed_at": "2026-12-07T09:00:00Z", "po_number": null, "cost_center": null,
        "buyer": null, "approvals": [], "delivery": null}))
    .unwrap();
    let feed: std::sync::Arc<dyn bridge_domain::shop::ShopOrderFeed> =
        std::sync::Arc::new(SameOrder(order));
    let orders = shop_orders::ShopOrders::new(
        shop_orders::ShopOrderSettings::from_config(&config).unwrap(),
        bridge_commercetools::wiring::Reconnecting::fixed(feed),
        std::sync::Arc::new(intake),
        std::sync::Arc::new(bridge_aws::SqsQueue::new(aws_sdk_sqs::Client::new(
            &stack.sdk,
        ))),
    )
    .unwrap();
    let mut queued = 0;
    let mut duplicates = 0;
    for n in 1..=3 {
        let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
        event.records = vec![super::support::sqs_record(
            stack.queue_arn("ShopOrderQueue"),
            &format!("sqs-{n}"),
            "{}",
            n,
        )];
        let (result, metrics) = orders.process(event).await;
        assert!(result.unwrap().batch_item_failures.is_empty());
        queued += metrics.count("OrderQueued");
        duplicates += metrics.count("OrderDuplicate");
    }
    assert_eq!((queued, duplicates), (1, 2));
    let on_queue = stack.drain_queue("OrderPlacedQueue").await;
    assert_eq!(on_queue.len(), 1, "one order.placed for three deliveries");
    assert!(on_queue[0].body().unwrap_or_default().contains("SHOP-9"));
}

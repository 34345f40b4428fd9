//! Orders from the shop end to end on the local stack: an order checked out in the shop
//! (the commercetools emulator makes it from a cart), its `OrderCreated` notification put on
//! the Subscription's queue as commercetools delivers it, three times; the ERP receives one
//! sales order with the order's B2B fields. A notification too large for the queue is read
//! from the shop by id; the Subscription's test message is dropped; an anonymous order is
//! dead-lettered with its reason.

use super::support::{post_to_local_stack, shop_until};
use bridge_domain::Source;
use bridgectl::dev::{DevOptions, LocalStack};
use reqwest::Method;
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

async fn shop(stack: &LocalStack, method: Method, path: &str, body: Value) -> Value {
    bridgectl::shop::request(&stack.shop_settings, method, path, Some(&body))
        .await
        .unwrap_or_else(|e| panic!("{path}: {e:#}"))
}

async fn erp_orders(stack: &LocalStack) -> Vec<Value> {
    let url = format!("{}/_admin/orders", stack.info.erp_base_url);
    let answer: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    answer["orders"].as_array().cloned().unwrap_or_default()
}

/// What a storefront needs to check out: a product with a price, a shipping method for
/// Germany, and the order Type carrying the B2B fields.
async fn storefront(stack: &LocalStack, sku: &str) {
    shop(
        stack,
        Method::POST,
        "product-types",
        json!({"key": "goods", "name": "Goods", "description": "", "attributes": []}),
    )
    .await;
    shop(stack, Method::POST, "products", json!({"key": sku, "name": {"de": "Schraube"}, "slug": {"de": sku.to_lowercase()},
        "productType": {"typeId": "product-type", "key": "goods"},
        "masterVariant": {"sku": sku, "prices": [{"value": {"currencyCode": "EUR", "centAmount": 980}}]}, "publish": true})).await;
    shop(
        stack,
        Method::POST,
        "zones",
        json!({"key": "de", "name": "DE", "locations": [{"country": "DE"}]}),
    )
    .await;
    shop(
        stack,
        Method::POST,
        "tax-categories",
        json!({"key": "std", "name": "std",
        "rates": [{"name": "19", "amount": 0.19, "includedInPrice": true, "country": "DE"}]}),
    )
    .await;
    shop(stack, Method::POST, "shipping-methods", json!({"key": "std", "name": "std", "isDefault": true,
        "taxCategory": {"typeId": "tax-category", "key": "std"},
        "zoneRates": [{"zone": {"typeId": "zone", "key": "de"}, "shippingRates": [{"price": {"currencyCode": "EUR", "centAmount": 0}}]}]})).await;
    let text = |name: &str| json!({"name": name, "type": {"name": "String"}, "required": false, "label": {"en": name}, "inputHint": "SingleLine"});
    shop(
        stack,
        Method::POST,
        "types",
        json!({"key": "b2b-order", "name": {"en": "B2B order"}, "resourceTypeIds": ["order"],
        "fieldDefinitions": [text("poNumber"), text("costCenter"), text("approvals")]}),
    )
    .await;
}

/// Checks out `quantity` of `sku` for the shop customer `customer` (None: anonymous).
async fn checkout(
    stack: &LocalStack,
    customer: Option<&str>,
    sku: &str,
    quantity: u32,
    number: &str,
) -> Value {
    let mut cart = json!({"currency": "EUR", "country": "DE",
        "shippingAddress": {"country": "DE", "city": "Berlin", "streetName": "Hauptstr.", "streetNumber": "5",
                            "postalCode": "10115", "company": "ACME GmbH"},
        "shippingMethod": {"typeId": "shipping-method", "key": "std"},
        "lineItems": [{"sku": sku, "quantity": quantity}],
        "custom": {"type": {"typeId": "type", "key": "b2b-order"},
                   "fields": {"poNumber": format!("PO-{number}"), "costCenter": "CC-10"}}});
    if let Some(customer) = customer {
        cart["customerId"] = json!(customer);
    }
    let cart = shop(stack, Method::POST, "carts", cart).await;
    shop(
        stack,
        Method::POST,
        "orders",
        json!({"cart": {"typeId": "cart", "id": cart["id"]}, "version": cart["version"], "orderNumber": number}),
    )
    .await
}

/// The `OrderCreated` notification of `order` in the Subscription's Platform format.
fn order_created(project: &str, message_id: &str, order: &Value) -> Value {
    json!({
        "notificationType": "Message", "projectKey": project, "id": message_id,
        "version": 1, "sequenceNumber": 1,
        "resource": {"typeId": "order", "id": order["id"]}, "resourceVersion": order["version"],
        "resourceUserProvidedIdentifiers": {"orderNumber": order["orderNumber"]},
        "type": "OrderCreated", "order": order,
        "createdAt": order["createdAt"], "lastModifiedAt": order["createdAt"]
    })
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

    storefront(&stack, sku).await;
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
    let started = Instant::now();
    let message = loop {
        let received = sqs
            .receive_message()
            .queue_url(&dead_letters)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if let Some(message) = received.into_iter().next() {
            break message;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the anonymous order was not dead-lettered"
        );
    };
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

//! The built `order-writeback` binary starts under a Lambda runtime API and sends a placed
//! order to the ERP (the simulator), its AWS calls going to the moto server.

use bridge_domain::ports::CustomerStore;
use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, spawn_function};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn the_binary_sends_a_placed_order_to_the_erp() {
    let stack = TestStack::with_secrets(BTreeMap::new()).await;
    let sim = erp_simulator::Simulator::start(0, "bin-token")
        .await
        .unwrap();
    let secret = bridge_testkit::unique("erp-token");
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .create_secret()
        .name(&secret)
        .secret_string("bin-token")
        .send()
        .await
        .unwrap();
    // A customer without price lists would hold the order: give it what the order needs.
    let customer = bridge_contract::parse_event(
        &bridge_domain::Sources::contract().sender("erp").unwrap(),
        json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z",
               "data": {"customer_id": "C-1", "name": "Kunde", "revision": 1, "price_lists": ["BASE"]}}).to_string().as_bytes(),
    )
    .unwrap();
    let bridge_domain::DomainEvent::CustomerChanged(customer) = customer.event else {
        unreachable!()
    };
    bridge_aws::DynamoCustomerStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("CustomerTable"),
    )
    .apply_customer(&customer)
    .await
    .unwrap();
    let price = bridge_contract::parse_event(
        &bridge_domain::Sources::contract().sender("erp").unwrap(),
        json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
               "data": {"price_list": "BASE", "sku": "A", "currency": "EUR", "revision": 1, "tiers": [{"min_qty": 1, "unit_price": "5.00"}]}}).to_string().as_bytes(),
    )
    .unwrap();
    let bridge_domain::DomainEvent::PriceChanged(price) = price.event else {
        unreachable!()
    };
    bridge_domain::ports::PriceStore::apply_price(
        &bridge_aws::DynamoPriceStore::new(
            aws_sdk_dynamodb::Client::new(&stack.sdk),
            stack.table("PriceTable"),
            stack.table("PriceIndexTable"),
        ),
        &price,
    )
    .await
    .unwrap();

    let envelope = json!({
        "version": 1, "webhook_id": "w-o1", "source": "shop", "event_type": "order.placed",
        "correlation_id": "c-o1", "received_at": "2026-11-26T10:00:00Z",
        "payload": {"kind": "inline", "body": {"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"order_id": "SO-BIN", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z",
                     "lines": [{"line": 1, "sku": "A", "quantity": 2, "unit_price": "5.00"}]}}}});
    let event = json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "r-1", "body": envelope.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": stack.queue_arn("OrderPlacedQueue"), "awsRegion": "us-east-1"}]});
    let api = RuntimeApi::start(vec![event]).await;
    let mut env = stack.environment("order-writeback");
    env.insert("ERP_BASE_URL".into(), sim.base_url.clone());
    env.insert("ERP_TOKEN_SECRET_ID".into(), secret);
    let mut child = spawn_function(
        env!("CARGO_BIN_EXE_order-writeback"),
        &api,
        "order-writeback",
        env,
    );
    let outcomes = api.outcomes(1, Duration::from_secs(60)).await;
    child.kill().await.ok();
    let Outcome::Response(response) = &outcomes[0] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    let orders: Value = reqwest::get(format!("{}/_admin/orders", sim.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["orders"][0]["external_reference"], "SO-BIN");
}

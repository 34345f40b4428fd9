//! The built `price-stock-sync` binary starts under a Lambda runtime API and applies one
//! SQS event, with its AWS calls going to the moto server; an event it is not wired for and
//! a broken one fail with the function contract's permanent error types.

use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, spawn_function};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn the_binary_applies_an_sqs_batch_and_reports_no_failures() {
    let stack = TestStack::with_secrets(BTreeMap::new()).await;
    let envelope = json!({
        "version": 1, "webhook_id": "w-1", "source": "erp", "event_type": "stock.changed",
        "correlation_id": "c-1", "received_at": "2026-11-26T10:00:00Z",
        "payload": {"kind": "inline", "body": {"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"sku": "SKU-B", "warehouse": "W1", "available": "4.5", "revision": 3}}}});
    let event = json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "r-1", "body": envelope.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": stack.queue_arn("StockPriceQueue"), "awsRegion": "us-east-1"}]});
    let request = json!({"version": "2.0", "rawPath": "/prices", "requestContext": {"http": {"method": "GET"}}});
    let broken = json!({"Records": "not a list"});
    let api = RuntimeApi::start(vec![event, request, broken]).await;
    let mut child = spawn_function(
        env!("CARGO_BIN_EXE_price-stock-sync"),
        &api,
        "price-stock-sync",
        stack.environment("price-stock-sync"),
    );
    let outcomes = api.outcomes(3, Duration::from_secs(30)).await;
    child.kill().await.ok();
    let error_type = |outcome: &Outcome| match outcome {
        Outcome::Error(error) => error["errorType"].clone(),
        other => panic!("expected an error, got {other:?}"),
    };
    assert_eq!(error_type(&outcomes[1]), "Permanent.UnsupportedEvent");
    assert_eq!(error_type(&outcomes[2]), "Permanent.MalformedEvent");
    let Outcome::Response(response) = &outcomes[0] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    let dynamo = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let item = dynamo
        .get_item()
        .table_name(stack.table("StockTable"))
        .key(
            "sku",
            aws_sdk_dynamodb::types::AttributeValue::S("SKU-B".into()),
        )
        .key(
            "warehouse",
            aws_sdk_dynamodb::types::AttributeValue::S("W1".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("the stock level was written");
    assert_eq!(
        item["revision"],
        aws_sdk_dynamodb::types::AttributeValue::N("3".into())
    );
}

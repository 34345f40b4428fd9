//! The built `shop-orders` binary starts under a Lambda runtime API, reads the shop's client
//! secret from Secrets Manager (moto), builds its intake on moto and handles an SQS batch
//! as commercetools fills its queue: the Subscription's test message is dropped, a body that
//! is no notification is dead-lettered with its reason, and the batch reports no failure.

use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, spawn_function};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn the_binary_drops_the_test_message_and_dead_letters_what_is_no_notification() {
    let stack = TestStack::with_secrets(BTreeMap::new()).await;
    let (environment, project) = stack.environment_with_shop("shop-orders").await;
    let record = |id: &str, body: String| {
        json!({"messageId": id, "receiptHandle": format!("r-{id}"), "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": stack.queue_arn("ShopOrderQueue"), "awsRegion": bridge_testkit::REGION})
    };
    let test_message = json!({"notificationType": "ResourceCreated", "projectKey": project,
        "resource": {"typeId": "subscription", "id": "sub-1"}, "version": 1});
    let event = json!({"Records": [
        record("m-1", test_message.to_string()),
        record("m-2", "not a notification".to_string()),
    ]});
    let api = RuntimeApi::start(vec![event]).await;
    let mut child = spawn_function(
        env!("CARGO_BIN_EXE_shop-orders"),
        &api,
        "shop-orders",
        environment,
    );
    let outcomes = api.outcomes(1, Duration::from_secs(60)).await;
    child.kill().await.ok();
    let Outcome::Response(response) = &outcomes[0] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");

    let dead = aws_sdk_sqs::Client::new(&stack.sdk)
        .receive_message()
        .queue_url(stack.queue_url("ShopOrderDeadLetterQueue"))
        .message_attribute_names("All")
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(dead.len(), 1, "only the body that is no notification");
    let attributes = dead[0].message_attributes.clone().unwrap_or_default();
    assert_eq!(
        attributes["failure_code"].string_value.as_deref(),
        Some("order_refused")
    );
    assert_eq!(dead[0].body.as_deref(), Some("not a notification"));
}

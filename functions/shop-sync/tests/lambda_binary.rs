//! The built `shop-sync` binary starts under a Lambda runtime API, reads its client secret
//! from Secrets Manager (moto) and publishes a DynamoDB stream batch to the commercetools
//! emulator: the new stock level arrives, a removed item costs nothing, and a record of a
//! table it does not publish lands in its dead-letter queue while the batch succeeds.

use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, spawn_function};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

fn record(stack: &TestStack, table: &str, sequence: u32, name: &str, image: Value) -> Value {
    let arn = format!(
        "arn:aws:dynamodb:{}:123456789012:table/{}/stream/2026-12-04T00:00:00.000",
        bridge_testkit::REGION,
        stack.table(table)
    );
    let removed = name == "REMOVE";
    json!({"eventID": format!("e{sequence}"), "eventName": name, "eventSource": "aws:dynamodb",
        "awsRegion": bridge_testkit::REGION, "eventSourceARN": arn,
        "dynamodb": {"ApproximateCreationDateTime": 1764800000.0,
            "Keys": {"sku": image["sku"].clone(), "warehouse": image["warehouse"].clone()},
            "NewImage": if removed { json!({}) } else { image.clone() },
            "OldImage": if removed { image } else { json!({}) },
            "SequenceNumber": sequence.to_string(), "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES"}})
}

#[tokio::test]
async fn the_binary_publishes_a_stream_batch_to_the_shop() {
    let stack = TestStack::with_secrets(BTreeMap::new()).await;
    let (environment, project) = stack.environment_with_shop("shop-sync").await;
    let shop = bridge_testkit::shop_emulator();
    let level = json!({"sku": {"S": "SKU-BIN"}, "warehouse": {"S": "W1"}, "available": {"S": "7"},
        "revision": {"N": "5"}});
    let event = json!({"Records": [
        record(&stack, "StockTable", 1, "INSERT", level.clone()),
        record(&stack, "StockTable", 2, "REMOVE", level.clone()),
        record(&stack, "FreshnessTable", 3, "INSERT", level),
    ]});
    let api = RuntimeApi::start(vec![event]).await;
    let mut child = spawn_function(
        env!("CARGO_BIN_EXE_shop-sync"),
        &api,
        "shop-sync",
        environment,
    );
    let outcomes = api.outcomes(1, Duration::from_secs(60)).await;
    child.kill().await.ok();
    let Outcome::Response(response) = &outcomes[0] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");

    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{shop}/oauth/token?grant_type=client_credentials"))
        .basic_auth("local", Some("local"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries: Value = client
        .get(format!(
            "{shop}/{project}/inventory?where=sku%3D%22SKU-BIN%22"
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(entries["results"][0]["quantityOnStock"], 7, "{entries}");
    assert_eq!(
        entries["results"][0]["custom"]["fields"]["bridgeRevision"],
        5
    );

    let dead = aws_sdk_sqs::Client::new(&stack.sdk)
        .receive_message()
        .queue_url(stack.queue_url("ShopSyncDeadLetterQueue"))
        .message_attribute_names("All")
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(dead.len(), 1);
    let attributes = dead[0].message_attributes.clone().unwrap_or_default();
    assert_eq!(
        attributes["failure_code"].string_value.as_deref(),
        Some("unknown_table")
    );
    assert!(
        dead[0]
            .body
            .as_deref()
            .unwrap_or_default()
            .contains("SKU-BIN")
    );
}

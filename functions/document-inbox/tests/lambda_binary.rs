//! The built `document-inbox` binary starts under a Lambda runtime API, builds its intake
//! on moto and handles an SQS batch: a file in the inbox that is no dispatch notification
//! gets a `refused` report naming why, a message that names no file is dead-lettered with
//! its reason, and the batch reports no failure.

use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, spawn_function};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn the_binary_reports_a_refused_document_and_dead_letters_what_names_no_file() {
    let stack = TestStack::with_secrets(BTreeMap::new()).await;
    let s3 = aws_sdk_s3::Client::new(&stack.sdk);
    let bucket = stack.bucket("CatalogBucket");
    s3.put_object()
        .bucket(bucket)
        .key("logistics/inbox/invoice.xml")
        .body(b"<INVOICE version=\"2.1\"/>".to_vec().into())
        .send()
        .await
        .unwrap();
    let record = |id: &str, body: String| {
        json!({"messageId": id, "receiptHandle": format!("r-{id}"), "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": stack.queue_arn("DocumentQueue"), "awsRegion": bridge_testkit::REGION})
    };
    let event = json!({"Records": [
        record("m-1", json!({"document": "logistics/inbox/invoice.xml"}).to_string()),
        record("m-2", "not a notification".to_string()),
    ]});
    let api = RuntimeApi::start(vec![event]).await;
    let mut child = spawn_function(
        env!("CARGO_BIN_EXE_document-inbox"),
        &api,
        "document-inbox",
        stack.environment("document-inbox"),
    );
    let outcomes = api.outcomes(1, Duration::from_secs(60)).await;
    child.kill().await.ok();
    let Outcome::Response(response) = &outcomes[0] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");

    // One report per version of the file: `<file>@<version>.json`.
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("logistics/reports/invoice.xml@")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1, "{listed:?}");
    let report = s3
        .get_object()
        .bucket(bucket)
        .key(listed.contents()[0].key().unwrap())
        .send()
        .await
        .expect("the report is written");
    let report: serde_json::Value =
        serde_json::from_slice(&report.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(report["status"], "refused", "{report}");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .starts_with("not_a_dispatch_notification"),
        "{report}"
    );

    let dead = aws_sdk_sqs::Client::new(&stack.sdk)
        .receive_message()
        .queue_url(stack.queue_url("DocumentDeadLetterQueue"))
        .message_attribute_names("All")
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(dead.len(), 1, "only the message that names no file");
    let attributes = dead[0].message_attributes.clone().unwrap_or_default();
    assert_eq!(
        attributes["failure_code"].string_value.as_deref(),
        Some("invalid_message")
    );
}

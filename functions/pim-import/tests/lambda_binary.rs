//! The built `pim-import` binary starts under a Lambda runtime API, imports the file an SQS
//! message names, and answers a scheduled event with its sweep.

use bridge_domain::ports::FileStore;
use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, spawn_function};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn the_binary_imports_a_file_and_sweeps_on_schedule() {
    let stack = TestStack::with_secrets(BTreeMap::new()).await;
    let files = bridge_aws::S3FileStore::new(
        bridge_aws::s3_client(&stack.sdk),
        stack.bucket("CatalogBucket"),
    );
    files
        .write(
            "pim/inbox/bin.csv",
            b"sku,name.en\nBIN-1,Bolt\n".to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
    let sqs_event = json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "r-1", "body": json!({"import": "pim/inbox/bin.csv"}).to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": stack.queue_arn("PimImportQueue"), "awsRegion": "us-east-1"}]});
    let scheduled = json!({"version": "0", "id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-26T10:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    let api = RuntimeApi::start(vec![sqs_event, scheduled]).await;
    let mut child = spawn_function(
        env!("CARGO_BIN_EXE_pim-import"),
        &api,
        "pim-import",
        stack.environment("pim-import"),
    );
    let outcomes = api.outcomes(2, Duration::from_secs(60)).await;
    child.kill().await.ok();
    let Outcome::Response(first) = &outcomes[0] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(first["batchItemFailures"], json!([]), "{first}");
    let report = files
        .read("pim/reports/bin.csv.json")
        .await
        .unwrap()
        .expect("the report exists");
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(report["counts"]["created"], 1);
    let Outcome::Response(second) = &outcomes[1] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(second["queued"], json!([]), "{second}");
}

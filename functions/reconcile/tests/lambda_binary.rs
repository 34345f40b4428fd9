//! The built `reconcile` binary starts under a Lambda runtime API and reconciles a snapshot
//! named by an S3 notification, its AWS calls going to the moto server.

use bridge_domain::ports::FileStore;
use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, spawn_function};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn the_binary_reconciles_a_snapshot_from_its_notification() {
    let stack = TestStack::with_secrets(BTreeMap::new()).await;
    let files = bridge_aws::S3FileStore::new(
        bridge_aws::s3_client(&stack.sdk),
        stack.bucket("CatalogBucket"),
    );
    let key = "erp/snapshots/stock-2026-11-26.csv";
    files
        .write(
            key,
            b"sku,warehouse,available,revision\nBIN-1,W1,5,1\nBIN-2,W1,6,1\n".to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
    let notification = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"object": {"key": "erp%2Fsnapshots%2Fstock-2026-11-26.csv"}}}]});
    let event = json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "r-1", "body": notification.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": stack.queue_arn("ReconcileQueue"), "awsRegion": "us-east-1"}]});
    let api = RuntimeApi::start(vec![event]).await;
    let mut child = spawn_function(
        env!("CARGO_BIN_EXE_reconcile"),
        &api,
        "reconcile",
        stack.environment("reconcile"),
    );
    let outcomes = api.outcomes(1, Duration::from_secs(60)).await;
    child.kill().await.ok();
    let Outcome::Response(response) = &outcomes[0] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    let report: Value = serde_json::from_slice(
        &files
            .read("erp/reports/stock-2026-11-26.csv.json")
            .await
            .unwrap()
            .expect("the report is written"),
    )
    .unwrap();
    assert_eq!(report["counts"]["applied"], 2, "{report}");
    assert_eq!(report["counts"]["drift"]["missing_in_store"], 2, "{report}");
}

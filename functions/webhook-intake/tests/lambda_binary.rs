//! The built `webhook-intake` binary starts under a Lambda runtime API and answers one
//! API Gateway HTTP API event, with its AWS calls going to the moto server.

use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, lambda_environment, spawn_function};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn the_binary_answers_a_signed_webhook_with_202_and_queues_it() {
    let secret = bridge_contract::SigningSecret::from_bytes([9; 32]).to_whsec();
    let stack = TestStack::with_secrets(BTreeMap::from([
        ("erp".to_string(), vec![secret.clone()]),
        ("shop".to_string(), vec![]),
    ]))
    .await;
    let body = json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"sku": "SKU-1", "warehouse": "W1", "available": 3, "revision": 1}})
    .to_string();
    let ts = chrono::Utc::now().timestamp();
    let signature = bridge_contract::sign(
        &bridge_contract::SigningSecret::parse(&secret).unwrap(),
        "msg_bin",
        ts,
        body.as_bytes(),
    );
    let event = json!({
        "version": "2.0", "routeKey": "POST /webhooks/{source}", "rawPath": "/webhooks/erp",
        "rawQueryString": "", "isBase64Encoded": false, "body": body,
        "pathParameters": {"source": "erp"},
        "headers": {"content-type": "application/json", "webhook-id": "msg_bin",
                    "webhook-timestamp": ts.to_string(), "webhook-signature": signature},
        "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "x", "domainPrefix": "x",
            "http": {"method": "POST", "path": "/webhooks/erp", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "r1", "routeKey": "POST /webhooks/{source}", "stage": "$default", "time": "26/Nov/2026:10:00:00 +0000", "timeEpoch": 0}
    });
    let api = RuntimeApi::start(vec![event]).await;
    let mut child = spawn_function(
        env!("CARGO_BIN_EXE_webhook-intake"),
        &api,
        "webhook-intake",
        stack.environment("webhook-intake"),
    );
    let outcomes = api.outcomes(1, Duration::from_secs(30)).await;
    child.kill().await.ok();
    let Outcome::Response(response) = &outcomes[0] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(response["statusCode"], 202, "{response}");
    assert_eq!(stack.drain_queue("StockPriceQueue").await.len(), 1);
}

#[tokio::test]
async fn without_its_configuration_the_binary_reports_an_init_error() {
    let api = RuntimeApi::start(vec![json!({})]).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_webhook-intake"))
        .env_clear()
        .envs(lambda_environment(&api, "webhook-intake"))
        .env("AWS_REGION", "us-east-1")
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("it exits")
        .expect("status");
    assert!(
        !status.success(),
        "a misconfigured function must not start serving"
    );
}

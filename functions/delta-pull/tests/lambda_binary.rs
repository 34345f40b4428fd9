//! The built `delta-pull` binary starts under a Lambda runtime API, pulls the ERP
//! simulator's changes on a scheduled event and queues them, its AWS calls going to moto.

use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, spawn_function};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn the_binary_pulls_changes_on_a_scheduled_event() {
    let stack = TestStack::with_secrets(BTreeMap::new()).await;
    let sim = erp_simulator::Simulator::start(0, "pull-token")
        .await
        .unwrap();
    let secret = bridge_testkit::unique("erp-token");
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .create_secret()
        .name(&secret)
        .secret_string("pull-token")
        .send()
        .await
        .unwrap();
    reqwest::Client::new()
        .post(format!("{}/_admin/changes", sim.base_url))
        .json(&json!({"changes": [
            {"type": "stock.changed", "data": {"sku": "BIN-1", "warehouse": "W1", "available": "3", "revision": 1}},
            {"type": "stock.changed", "data": {"sku": "BIN-2", "warehouse": "W1", "available": "4", "revision": 1}}
        ]}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    // What EventBridge Scheduler delivers: the schedule's input (none) as an empty object.
    let api = RuntimeApi::start(vec![json!({})]).await;
    let mut env = stack.environment("delta-pull");
    env.insert("ERP_BASE_URL".into(), sim.base_url.clone());
    env.insert("ERP_TOKEN_SECRET_ID".into(), secret);
    let mut child = spawn_function(env!("CARGO_BIN_EXE_delta-pull"), &api, "delta-pull", env);
    let outcomes = api.outcomes(1, Duration::from_secs(60)).await;
    child.kill().await.ok();
    let Outcome::Response(response) = &outcomes[0] else {
        panic!("expected a response, got {outcomes:?}");
    };
    assert_eq!(response["accepted"], 2, "{response}");
    assert_eq!(response["cursor"], "c-2", "{response}");
    assert_eq!(stack.drain_queue("StockPriceQueue").await.len(), 2);
}

/// A secret that cannot be read fails each invocation as retryable (`Retryable.Wiring`):
/// the function starts, and every invocation loads again until the secret is readable.
#[tokio::test]
async fn an_unreadable_erp_token_fails_each_invocation_as_retryable() {
    let stack = TestStack::with_secrets(BTreeMap::new()).await;
    let api = RuntimeApi::start(vec![json!({}), json!({})]).await;
    let mut env = stack.environment("delta-pull");
    env.insert("ERP_BASE_URL".into(), "http://127.0.0.1:9".into());
    env.insert(
        "ERP_TOKEN_SECRET_ID".into(),
        bridge_testkit::unique("no-such-secret"),
    );
    let mut child = spawn_function(env!("CARGO_BIN_EXE_delta-pull"), &api, "delta-pull", env);
    let outcomes = api.outcomes(2, Duration::from_secs(60)).await;
    child.kill().await.ok();
    for outcome in &outcomes {
        let Outcome::Error(error) = outcome else {
            panic!("expected an invocation error, got {outcomes:?}");
        };
        assert_eq!(error["errorType"], "Retryable.Wiring", "{error}");
        assert!(
            error["errorMessage"].as_str().unwrap().contains("secret"),
            "{error}"
        );
    }
}

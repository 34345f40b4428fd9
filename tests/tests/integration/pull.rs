//! The delta pull against the moto server and the ERP simulator's changes endpoint.

use bridge_contract::Envelope;
use bridge_domain::pull::PullStateStore;
use bridge_lambda::Config;
use bridge_testkit::TestStack;
use delta_pull::{DeltaPull, RunSummary};
use erp_simulator::Simulator;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TOKEN: &str = "erp-pull-token";

struct Setup {
    stack: TestStack,
    sim: Simulator,
    http: reqwest::Client,
    env: std::collections::HashMap<String, String>,
}

async fn setup(overrides: &[(&str, &str)]) -> Setup {
    let stack = super::support::stack(false).await;
    let sim = Simulator::start(0, TOKEN).await.unwrap();
    let secret = bridge_testkit::unique("erp-token");
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .create_secret()
        .name(&secret)
        .secret_string(TOKEN)
        .send()
        .await
        .unwrap();
    let mut env = stack.environment("delta-pull");
    env.insert("ERP_BASE_URL".into(), sim.base_url.clone());
    env.insert("ERP_TOKEN_SECRET_ID".into(), secret);
    env.insert("ERP_TIMEOUT_SECONDS".into(), "2".into());
    env.insert("PULL_PAGE_LIMIT".into(), "2".into());
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    Setup {
        stack,
        sim,
        http: reqwest::Client::new(),
        env,
    }
}

fn stock(sku: &str, revision: u64, available: &str) -> Value {
    json!({"type": "stock.changed", "data": {"sku": sku, "warehouse": "W1", "available": available, "revision": revision}})
}

impl Setup {
    async fn pull(&self) -> DeltaPull {
        delta_pull::wiring::build(&Config::from_map(self.env.clone()), &self.stack.sdk)
            .await
            .expect("the pull wires")
    }

    async fn run(&self) -> Result<RunSummary, delta_pull::PullError> {
        self.pull()
            .await
            .run(Instant::now() + Duration::from_secs(60), &mut |_| {})
            .await
    }

    async fn erp_lists(&self, changes: Vec<Value>) {
        let response = self
            .http
            .post(format!("{}/_admin/changes", self.sim.base_url))
            .json(&json!({ "changes": changes }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }

    async fn faults(&self, faults: Value) {
        let response = self
            .http
            .post(format!("{}/_admin/faults", self.sim.base_url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    fn state_store(&self) -> bridge_aws::DynamoPullStateStore {
        bridge_aws::DynamoPullStateStore::new(
            aws_sdk_dynamodb::Client::new(&self.stack.sdk),
            self.stack.table("PullStateTable"),
        )
    }

    async fn state(&self) -> bridge_domain::pull::PullState {
        self.state_store()
            .load("erp")
            .await
            .unwrap()
            .expect("a run saved its state")
    }

    /// The events queued on a route, as (record, revision) in queue order.
    async fn queued(&self, queue: &str) -> Vec<(String, u64)> {
        self.stack
            .drain_queue(queue)
            .await
            .iter()
            .map(|m| {
                let envelope = Envelope::from_json(m.body().unwrap()).unwrap();
                let bridge_contract::Payload::Inline { body } = envelope.payload else {
                    panic!("small events travel inline")
                };
                let data = &body["data"];
                let record = data["sku"]
                    .as_str()
                    .or(data["customer_id"].as_str())
                    .unwrap()
                    .to_string();
                (record, data["revision"].as_u64().unwrap())
            })
            .collect()
    }
}

#[tokio::test]
async fn a_pull_of_several_pages_queues_every_change_once_and_catches_up() {
    let s = setup(&[]).await;
    s.erp_lists(vec![
        stock("P-1", 1, "10"),
        stock("P-2", 1, "20"),
        json!({"type": "price.changed", "data": {"price_list": "BASE", "sku": "P-1", "currency": "EUR", "tiers": [{"min_qty": 1, "unit_price": "9.50"}], "revision": 4}}),
        json!({"type": "customer.changed", "data": {"customer_id": "C-9", "name": "Kunde", "revision": 2}}),
        stock("P-3", 1, "30"),
    ])
    .await;
    let summary = s.run().await.unwrap();
    assert_eq!(
        (summary.pages, summary.changes, summary.accepted),
        (3, 5, 5)
    );
    let state = s.state().await;
    assert_eq!(state.cursor.as_deref(), Some("c-5"));
    assert_eq!(state.last_run_status.as_deref(), Some("caught_up"));
    assert!(state.caught_up_at.is_some());

    let mut stock_price = s.queued("StockPriceQueue").await;
    stock_price.sort();
    assert_eq!(
        stock_price,
        vec![
            ("P-1".to_string(), 1),
            ("P-1".to_string(), 4),
            ("P-2".to_string(), 1),
            ("P-3".to_string(), 1)
        ]
    );
    assert_eq!(
        s.queued("CustomerQueue").await,
        vec![("C-9".to_string(), 2)]
    );

    // Nothing new: the next run asks once, queues nothing, and stays caught up.
    let again = s.run().await.unwrap();
    assert_eq!((again.pages, again.changes), (1, 0));
    assert_eq!(s.state().await.cursor.as_deref(), Some("c-5"));
    assert!(s.queued("StockPriceQueue").await.is_empty());
}

#[tokio::test]
async fn a_failed_run_resumes_at_the_last_enqueued_page_with_nothing_skipped_or_doubled() {
    let s = setup(&[("PULL_TRANSIENT_RETRIES", "0")]).await;
    s.erp_lists((1..=6).map(|n| stock(&format!("P-{n}"), 1, "1")).collect())
        .await;
    // The first page is served, the second fails.
    s.faults(json!({"script": ["ok", "server_error"]})).await;
    let err = s.run().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let state = s.state().await;
    assert_eq!(state.cursor.as_deref(), Some("c-2"));
    assert_eq!(state.last_run_status.as_deref(), Some("failed"));
    assert!(state.last_error.unwrap().contains("500"));

    let resumed = s.run().await.unwrap();
    assert_eq!((resumed.changes, resumed.accepted), (4, 4));
    let mut queued = s.queued("StockPriceQueue").await;
    queued.sort();
    let expected: Vec<_> = (1..=6).map(|n| (format!("P-{n}"), 1)).collect();
    assert_eq!(queued, expected, "each change exactly once");

    // A crash after a page was queued but before its cursor was saved: the page comes
    // again, and the intake's receipts recognise every change in it.
    let mut state = s.state().await;
    let expected_cursor = state.cursor.clone();
    state.cursor = Some("c-4".into());
    assert!(
        s.state_store()
            .save(&state, expected_cursor.as_deref())
            .await
            .unwrap()
    );
    let repeated = s.run().await.unwrap();
    assert_eq!(
        (repeated.changes, repeated.accepted, repeated.duplicates),
        (2, 0, 2)
    );
    assert!(s.queued("StockPriceQueue").await.is_empty());
    assert_eq!(s.state().await.cursor.as_deref(), Some("c-6"));
}

#[tokio::test]
async fn the_pull_waits_out_429_as_told_and_ends_cleanly_when_it_may_not_wait() {
    let s = setup(&[]).await;
    s.erp_lists(vec![stock("T-1", 1, "5")]).await;
    s.faults(json!({"script": ["throttled", "throttled"]}))
        .await;
    let started = Instant::now();
    let summary = s.run().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After: 1, twice"
    );
    assert_eq!((summary.throttled, summary.accepted), (2, 1));

    // A run allowed no wait ends `throttled`, its cursor untouched, and is not an error.
    let s = setup(&[("PULL_MAX_THROTTLE_WAITS", "0")]).await;
    s.erp_lists(vec![stock("T-2", 1, "5")]).await;
    s.faults(json!({"script": ["throttled"]})).await;
    let summary = s.run().await.unwrap();
    assert_eq!((summary.throttled, summary.changes), (1, 0));
    let state = s.state().await;
    assert_eq!(state.last_run_status.as_deref(), Some("throttled"));
    assert_eq!(state.cursor, None);
    assert!(s.run().await.unwrap().accepted == 1, "the next run goes on");
}

#[tokio::test]
async fn an_invalid_change_is_dead_lettered_with_its_reason_and_spares_its_neighbours() {
    let s = setup(&[]).await;
    s.erp_lists(vec![
        stock("V-1", 1, "5"),
        stock("V-2", 1, "-3"),
        stock("V-3", 1, "7"),
    ])
    .await;
    let summary = s.run().await.unwrap();
    assert_eq!((summary.accepted, summary.rejected), (2, 1));
    assert_eq!(s.state().await.cursor.as_deref(), Some("c-3"));
    let dead = s.stack.drain_queue("StockPriceDeadLetterQueue").await;
    assert_eq!(dead.len(), 1);
    let attributes: BTreeMap<_, _> = dead[0]
        .message_attributes()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_string()))
        .collect();
    // The batch driver's format: what `bridgectl dlq` reads from every dead-letter queue.
    assert_eq!(attributes["failed_by"], "delta-pull");
    assert_eq!(attributes["failure_code"], "negative");
    assert_eq!(attributes["failure_class"], "permanent");
    assert_eq!(attributes["source"], "erp");
    assert!(
        attributes["failure_reason"].contains("/data/available"),
        "{attributes:?}"
    );
    assert!(dead[0].body().unwrap().contains("\"V-2\""));
    let mut queued = s.queued("StockPriceQueue").await;
    queued.sort();
    assert_eq!(queued, vec![("V-1".to_string(), 1), ("V-3".to_string(), 1)]);
}

#[tokio::test]
async fn pulled_changes_reach_the_tables_through_the_sync() {
    let s = setup(&[]).await;
    s.erp_lists(vec![stock("S-1", 2, "12.50"), stock("S-1", 1, "99")])
        .await;
    s.run().await.unwrap();
    let messages = s.stack.drain_queue("StockPriceQueue").await;
    let event = super::support::sqs_event(s.stack.queue_arn("StockPriceQueue"), &messages);
    let response = super::support::sync(&s.stack)
        .handle_batch(event)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let stored = bridge_domain::ports::StockStore::stock_of(
        &bridge_aws::DynamoStockStore::new(
            aws_sdk_dynamodb::Client::new(&s.stack.sdk),
            s.stack.table("StockTable"),
        ),
        &bridge_domain::Sku::parse("S-1").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].revision.value(),
        2,
        "the older change came later and lost"
    );
    assert_eq!(
        stored[0].available.value(),
        "12.50".parse::<rust_decimal::Decimal>().unwrap()
    );
}

//! The pull loop with in-memory ports: the failure cases moto cannot stage (a queue that
//! fails in the middle of a page).

use super::*;
use async_trait::async_trait;
use bridge_domain::ports::{ObjectStore, ReceiptClaim, ReceiptStore};
use bridge_domain::pull::PulledChange;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The ERP: a change log served in pages of `page` from a numeric cursor.
struct Erp {
    log: Vec<PulledChange>,
    page: usize,
}

#[async_trait]
impl ErpChanges for Erp {
    async fn changes(
        &self,
        since: Option<&str>,
        _types: &[String],
        _limit: u32,
    ) -> Result<ChangesPage, ChangesError> {
        let start: usize = since.map_or(0, |c| c.parse().unwrap());
        let end = (start + self.page).min(self.log.len());
        Ok(ChangesPage {
            changes: self.log[start..end].to_vec(),
            next_cursor: end.to_string(),
            has_more: end < self.log.len(),
        })
    }
}

#[derive(Default)]
struct State(Mutex<Option<PullState>>);

#[async_trait]
impl PullStateStore for State {
    async fn load(&self, _name: &str) -> Result<Option<PullState>, PortError> {
        Ok(self.0.lock().unwrap().clone())
    }
    async fn save(&self, state: &PullState, expected: Option<&str>) -> Result<bool, PortError> {
        let mut stored = self.0.lock().unwrap();
        if stored.as_ref().and_then(|s| s.cursor.as_deref()) != expected {
            return Ok(false);
        }
        *stored = Some(state.clone());
        Ok(true)
    }
}

/// Receipts as the intake's table keeps them.
#[derive(Default)]
struct Receipts(Mutex<BTreeMap<String, (String, bool)>>);

#[async_trait]
impl ReceiptStore for Receipts {
    async fn claim(
        &self,
        id: &str,
        sha: &str,
        _now: DateTime<Utc>,
        _lease: i64,
    ) -> Result<ReceiptClaim, PortError> {
        let mut receipts = self.0.lock().unwrap();
        match receipts.get(id) {
            Some((seen, true)) => Ok(ReceiptClaim::AlreadyQueued {
                content_sha256: seen.clone(),
            }),
            Some((_, false)) => Ok(ReceiptClaim::InFlight),
            None => {
                receipts.insert(id.to_string(), (sha.to_string(), false));
                Ok(ReceiptClaim::Claimed)
            }
        }
    }
    async fn complete(
        &self,
        id: &str,
        _details: &BTreeMap<String, String>,
        _now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        self.0.lock().unwrap().get_mut(id).unwrap().1 = true;
        Ok(())
    }
    async fn release(&self, id: &str) -> Result<(), PortError> {
        self.0.lock().unwrap().remove(id);
        Ok(())
    }
}

/// A queue that refuses its `fail_at`-th send (1-based), once.
#[derive(Default)]
struct Queue {
    sent: Mutex<Vec<(String, String)>>,
    /// The failure attributes of each dead letter: (code, class, failed_by).
    failures: Mutex<Vec<(String, String, String)>>,
    sends: AtomicUsize,
    fail_at: usize,
}

#[async_trait]
impl MessageQueue for Queue {
    async fn send(&self, queue: &str, message: &OutboundMessage) -> Result<String, PortError> {
        if self.sends.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
            return Err(PortError::retryable("sqs.send", "queue unavailable"));
        }
        if let Some(code) = message.attributes.get(attributes::FAILURE_CODE) {
            let get = |name: &str| message.attributes.get(name).cloned().unwrap_or_default();
            self.failures.lock().unwrap().push((
                code.clone(),
                get(attributes::FAILURE_CLASS),
                get(attributes::FAILED_BY),
            ));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push((queue.to_string(), message.body.clone()));
        Ok(sent.len().to_string())
    }
    async fn delay(&self, _queue: &str, _handle: &str, _seconds: i32) -> Result<(), PortError> {
        Ok(())
    }
}

struct NoObjects;

#[async_trait]
impl ObjectStore for NoObjects {
    async fn put(&self, _key: &str, _body: Vec<u8>, _ct: &str) -> Result<(), PortError> {
        unreachable!("small events")
    }
    async fn get(&self, _key: &str) -> Result<Vec<u8>, PortError> {
        unreachable!("small events")
    }
}

#[derive(Default)]
struct Freshness;

#[async_trait]
impl FreshnessStore for Freshness {
    async fn record(&self, _c: Category, _at: DateTime<Utc>, _f: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn all(&self) -> Result<Vec<(Category, DateTime<Utc>, String)>, PortError> {
        Ok(Vec::new())
    }
}

fn pull(erp: Erp, queue: Arc<Queue>, state: Arc<State>, receipts: Arc<Receipts>) -> DeltaPull {
    let queues = Route::ALL
        .into_iter()
        .map(|r| (r, format!("q-{}", r.as_str())))
        .collect();
    let intake = webhook_intake::Intake::new(
        webhook_intake::IntakeSettings {
            secrets: Default::default(),
            sources: bridge_domain::Sources::contract(),
            queues,
            receipt_table: "receipts".into(),
            payload_bucket: "payloads".into(),
            max_body_bytes: 1 << 20,
            max_message_bytes: 262_144,
            receipt_retention_seconds: 86_400,
        },
        webhook_intake::IntakePorts {
            queue: queue.clone(),
            receipts,
            objects: Arc::new(NoObjects),
        },
    );
    DeltaPull::new(
        PullSettings {
            name: "erp".into(),
            types: vec!["stock".into()],
            page_limit: 4,
            max_pages: 10,
            max_throttle_waits: 0,
            max_retry_after: Duration::from_secs(1),
            transient_retries: 0,
            safety_margin: Duration::ZERO,
            dead_letter_queues: HashMap::from([(Route::StockPrice, "dlq".to_string())]),
        },
        PullPorts {
            erp: Arc::new(erp),
            state,
            intake: Arc::new(intake),
            queue,
            freshness: Arc::new(Freshness),
        },
    )
}

fn log(n: usize) -> Vec<PulledChange> {
    (1..=n)
        .map(|i| PulledChange {
            event_type: "stock.changed".into(),
            data_json: format!(
                r#"{{"sku":"S-{i}","warehouse":"W1","available":"{i}","revision":1}}"#
            ),
        })
        .collect()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn a_queue_failure_in_the_middle_of_a_page_keeps_the_cursor_and_loses_or_doubles_nothing() {
    let state = Arc::new(State::default());
    let receipts = Arc::new(Receipts::default());
    // Page 1 is changes 1-4, page 2 is 5-8; the 6th send (change 6) fails.
    let queue = Arc::new(Queue {
        fail_at: 6,
        ..Queue::default()
    });
    let first = pull(
        Erp {
            log: log(10),
            page: 4,
        },
        queue.clone(),
        state.clone(),
        receipts.clone(),
    );
    let err = first.run(deadline(), &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, PullError::Unavailable(_)), "{err}");
    let stored = state.0.lock().unwrap().clone().unwrap();
    assert_eq!(
        stored.cursor.as_deref(),
        Some("4"),
        "page 2 was not complete"
    );
    assert_eq!(stored.last_run_status.as_deref(), Some("failed"));

    let summary = first.run(deadline(), &mut |_| {}).await.unwrap();
    // Page 2 again: 5 was queued before the failure (a duplicate now), 6-8 are new; then
    // page 3 (9-10).
    assert_eq!(
        (summary.changes, summary.accepted, summary.duplicates),
        (6, 5, 1)
    );
    let sent = queue.sent.lock().unwrap();
    let mut skus: Vec<String> = sent
        .iter()
        .map(|(_, body)| {
            let envelope: serde_json::Value = serde_json::from_str(body).unwrap();
            envelope["payload"]["body"]["data"]["sku"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    skus.sort();
    let mut expected: Vec<String> = (1..=10).map(|i| format!("S-{i}")).collect();
    expected.sort();
    assert_eq!(skus, expected, "every change queued exactly once");
    let stock_queue = format!("q-{}", Route::StockPrice.as_str());
    assert!(sent.iter().all(|(q, _)| *q == stock_queue));
    assert_eq!(
        state.0.lock().unwrap().as_ref().unwrap().cursor.as_deref(),
        Some("10")
    );
}

/// A store whose cursor another run moved after this run loaded it.
struct MovedMeanwhile(State);

#[async_trait]
impl PullStateStore for MovedMeanwhile {
    async fn load(&self, _name: &str) -> Result<Option<PullState>, PortError> {
        Ok(Some(PullState {
            name: "erp".into(),
            cursor: Some("0".into()),
            ..PullState::default()
        }))
    }
    async fn save(&self, state: &PullState, expected: Option<&str>) -> Result<bool, PortError> {
        self.0.save(state, expected).await
    }
}

#[tokio::test]
async fn a_run_that_finds_the_cursor_moved_by_another_stops_without_moving_it_back() {
    let moved = State(Mutex::new(Some(PullState {
        name: "erp".into(),
        cursor: Some("2".into()),
        ..PullState::default()
    })));
    let store = Arc::new(MovedMeanwhile(moved));
    let queue = Arc::new(Queue::default());
    let mut pull = pull(
        Erp {
            log: log(3),
            page: 4,
        },
        queue.clone(),
        Arc::new(State::default()),
        Arc::new(Receipts::default()),
    );
    pull.ports.state = store.clone();
    let summary = pull.run(deadline(), &mut |_| {}).await.unwrap();
    assert_eq!(summary.pages, 0, "the page's cursor was not saved");
    let stored = store.0.0.lock().unwrap().clone().unwrap();
    assert_eq!(stored.cursor.as_deref(), Some("2"), "not moved back");
    assert_eq!(
        stored.last_run_status, None,
        "the superseded run records nothing"
    );
}

/// An intake that answers every change with the same outcome: the pull depends on the port,
/// and each outcome has its one meaning for the run.
struct Answers(Accepted);

#[async_trait]
impl EventIntake for Answers {
    fn sender(&self, name: &str) -> Option<bridge_domain::Sender> {
        bridge_domain::Sources::contract().sender(name)
    }
    async fn accept(
        &self,
        _sender: &bridge_domain::Sender,
        _webhook_id: &str,
        _correlation_id: &str,
        _body: &[u8],
        _now: DateTime<Utc>,
        _metrics: &mut Metrics,
    ) -> Accepted {
        self.0.clone()
    }
}

#[tokio::test]
async fn each_intake_outcome_moves_the_cursor_or_fails_the_run_as_it_means() {
    let invalid = bridge_contract::ContractError::new(
        "negative",
        "must not be negative",
        Some("/data/available".into()),
    );
    for (outcome, moves, dead_code) in [
        (Accepted::Queued, true, None),
        (Accepted::Duplicate, true, None),
        (Accepted::Invalid(invalid), true, Some("negative")),
        (Accepted::Conflict, true, Some("webhook_id_conflict")),
        (Accepted::InFlight, false, None),
        (Accepted::Unavailable, false, None),
    ] {
        let queue = Arc::new(Queue::default());
        let state = Arc::new(State::default());
        let mut pull = pull(
            Erp {
                log: log(2),
                page: 4,
            },
            queue.clone(),
            state.clone(),
            Arc::new(Receipts::default()),
        );
        pull.ports.intake = Arc::new(Answers(outcome.clone()));
        let result = pull.run(deadline(), &mut |_| {}).await;
        let cursor = state.0.lock().unwrap().clone().and_then(|s| s.cursor);
        if moves {
            let summary = result.unwrap_or_else(|e| panic!("{outcome:?}: {e}"));
            assert_eq!(cursor.as_deref(), Some("2"), "{outcome:?}");
            assert_eq!(summary.changes, 2);
        } else {
            let err = result.unwrap_err();
            assert!(err.is_retryable(), "{outcome:?}: {err}");
            assert_eq!(cursor, None, "{outcome:?}: the page is pulled again");
        }
        let dead: Vec<_> = queue
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(q, _)| q == "dlq")
            .cloned()
            .collect();
        assert_eq!(
            dead.len(),
            if dead_code.is_some() { 2 } else { 0 },
            "{outcome:?}"
        );
    }
}

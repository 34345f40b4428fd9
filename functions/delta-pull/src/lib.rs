//! The scheduled delta pull (contract section 5): pages through the ERP's changes from the
//! stored cursor and hands every change to the webhook intake's `accept` — the same
//! validation, dedupe and queues as a pushed webhook. The cursor moves only after its page
//! is durably enqueued, so a failed run resumes where the last good page ended: nothing
//! skipped, and a repeated page is recognised by the intake's receipts (nothing doubled).

pub mod http;
pub mod wiring;

use bridge_contract::envelope::attributes;
use bridge_domain::error::cause_chain;
use bridge_domain::freshness::Category;
use bridge_domain::ports::{FreshnessStore, MessageQueue, OutboundMessage};
use bridge_domain::pull::{ChangesError, ChangesPage, ErpChanges, PullState, PullStateStore};
use bridge_domain::{ErrorClass, EventType, PortError, Route};
use bridge_lambda::{MessageError, Metrics};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{Instrument, error, info, warn};
use webhook_intake::{Accepted, EventIntake};

pub const FUNCTION_NAME: &str = "delta-pull";

#[derive(Debug, Clone)]
pub struct PullSettings {
    /// The state item's name (one pull per ERP).
    pub name: String,
    pub types: Vec<String>,
    pub page_limit: u32,
    /// Pages per run: a run is bounded even when the ERP has a backlog; the next run goes on.
    pub max_pages: u32,
    /// 429s a run waits out before it ends (as `throttled`, the cursor where it was).
    pub max_throttle_waits: u32,
    /// The longest `Retry-After` a run waits for; a longer one ends the run.
    pub max_retry_after: Duration,
    /// 5xx/timeouts a page is retried before the run fails.
    pub transient_retries: u32,
    /// Time kept free before the invocation's deadline for saving the state.
    pub safety_margin: Duration,
    /// Where a change the intake refuses goes, by its route: the dead-letter queue its
    /// event would have ended in (a change of an unknown type: the first route's).
    pub dead_letter_queues: HashMap<Route, String>,
}

#[derive(Clone)]
pub struct PullPorts {
    pub erp: Arc<dyn ErpChanges>,
    pub state: Arc<dyn PullStateStore>,
    pub intake: Arc<dyn EventIntake>,
    pub queue: Arc<dyn MessageQueue>,
    pub freshness: Arc<dyn FreshnessStore>,
}

/// The source the pulled changes come in as: the ERP, like its webhooks, so that the two
/// paths share receipts and rules.
pub const PULL_SOURCE: &str = bridge_domain::Source::ERP;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the ERP changes endpoint: {0}")]
    Erp(#[from] ChangesError),
    #[error("the pull state: {0}")]
    State(#[source] PortError),
    #[error("a change could not be made durable ({0}); the page is pulled again next run")]
    Unavailable(String),
    #[error("a refused change could not be dead-lettered: {0}")]
    DeadLetter(#[source] PortError),
}

impl PullError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Erp(e) => e.is_retryable(),
            Self::State(e) | Self::DeadLetter(e) => e.is_retryable(),
            Self::Unavailable(_) => true,
        }
    }
}

impl bridge_lambda::Classified for PullError {
    fn class(&self) -> ErrorClass {
        ErrorClass::retryable_if(self.is_retryable())
    }
    fn kind(&self) -> &'static str {
        "PullFailed"
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Reached the end of the ERP's changes.
    CaughtUp,
    /// Used its page or time budget; more changes wait for the next run.
    Partial,
    /// The ERP kept throttling; the cursor stays after the last enqueued page.
    Throttled,
    /// Another run moved the cursor meanwhile; this one stopped.
    Superseded,
    Failed,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::CaughtUp => "caught_up",
            Self::Partial => "partial",
            Self::Throttled => "throttled",
            Self::Superseded => "superseded",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunSummary {
    pub pages: u64,
    pub changes: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub throttled: u64,
    pub cursor: Option<String>,
}

/// What a run reports after each enqueued page (for `bridgectl sync pull`).
pub type Progress<'a> = &'a mut (dyn FnMut(&RunSummary) + Send);

pub struct DeltaPull {
    settings: PullSettings,
    ports: PullPorts,
}

/// The id a pulled change goes through the intake with: derived from its content, so the
/// same change pulled again (a page repeated after a failure) is a duplicate, not new work.
pub fn change_id(event_type: &str, data_json: &str) -> String {
    let digest = Sha256::digest(format!("{event_type}\n{data_json}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("erp-pull-{hex}")
}

fn categories(types: &[String]) -> Vec<Category> {
    types
        .iter()
        .filter_map(|t| match t.as_str() {
            "stock" => Some(Category::Stock),
            "price" => Some(Category::Prices),
            "customer" => Some(Category::Customers),
            _ => None,
        })
        .collect()
}

impl DeltaPull {
    pub fn new(settings: PullSettings, ports: PullPorts) -> Self {
        Self { settings, ports }
    }

    pub fn settings(&self) -> &PullSettings {
        &self.settings
    }

    /// One scheduled run: pulls, records the run, emits its metrics.
    pub async fn run(
        &self,
        deadline: Instant,
        progress: Progress<'_>,
    ) -> Result<RunSummary, PullError> {
        let run_id = uuid::Uuid::new_v4().to_string();
        let span = tracing::info_span!(
            "pull",
            function = FUNCTION_NAME,
            event_id = %run_id,
            correlation_id = %format!("pull-{run_id}"),
            pull = %self.settings.name,
        );
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let result = self
            .run_inner(&run_id, deadline, &mut metrics, progress)
            .instrument(span)
            .await;
        metrics.add("PullRuns", 1);
        metrics.add("PullFailed", u64::from(result.is_err()));
        metrics.flush();
        result
    }

    async fn run_inner(
        &self,
        run_id: &str,
        deadline: Instant,
        metrics: &mut Metrics,
        progress: Progress<'_>,
    ) -> Result<RunSummary, PullError> {
        let started = Utc::now();
        let mut state = self
            .ports
            .state
            .load(&self.settings.name)
            .await
            .map_err(PullError::State)?
            .unwrap_or_else(|| PullState::new(&self.settings.name));
        let mut summary = RunSummary {
            cursor: state.cursor.clone(),
            ..RunSummary::default()
        };
        let outcome = self
            .pull_pages(
                run_id,
                deadline,
                &mut state,
                &mut summary,
                metrics,
                progress,
            )
            .await;
        let status = match &outcome {
            Ok(status) => *status,
            Err(_) => RunStatus::Failed,
        };
        if status == RunStatus::Superseded {
            warn!("another run moved the cursor; this run stops");
            return Ok(summary);
        }
        state.last_run_at = Some(started);
        state.last_run_status = Some(status.as_str().to_string());
        state.last_run_changes = summary.changes;
        state.last_run_pages = summary.pages;
        state.last_error = outcome.as_ref().err().map(|e| cause_chain(e));
        if status == RunStatus::CaughtUp {
            state.caught_up_at = Some(Utc::now());
        }
        // The cursor is already saved page by page; this save only records the run.
        match self
            .ports
            .state
            .save(&state, state.cursor.clone().as_deref())
            .await
        {
            Ok(true) => {}
            Ok(false) => warn!("another run moved the cursor before this run was recorded"),
            Err(err) => {
                error!(error = %cause_chain(&err), "could not record the run");
                metrics.add("PullStateNotRecorded", 1);
            }
        }
        if let Some(lag) = state.lag(Utc::now()) {
            metrics.add("PullLagSeconds", lag.num_seconds().max(0) as u64);
        }
        metrics.add("PullChanges", summary.changes);
        metrics.add("PullPages", summary.pages);
        metrics.add("PullAccepted", summary.accepted);
        metrics.add("PullDuplicates", summary.duplicates);
        metrics.add("PullRejected", summary.rejected);
        metrics.add("PullThrottled", summary.throttled);
        if status == RunStatus::CaughtUp {
            self.record_freshness(metrics).await;
        }
        match outcome {
            Ok(status) => {
                info!(status = status.as_str(), pages = summary.pages, changes = summary.changes, accepted = summary.accepted, duplicates = summary.duplicates, rejected = summary.rejected, cursor = ?summary.cursor, "pull finished");
                Ok(summary)
            }
            Err(err) => {
                error!(error = %cause_chain(&err), pages = summary.pages, cursor = ?summary.cursor, "pull failed; the next run resumes from the stored cursor");
                Err(err)
            }
        }
    }

    /// Caught up: the shop is as fresh as the ERP for every pulled category, even when the
    /// ERP had nothing new (an ERP that cannot push would otherwise look stale).
    async fn record_freshness(&self, metrics: &mut Metrics) {
        let categories = categories(&self.settings.types);
        for category in &categories {
            if let Err(err) = self
                .ports
                .freshness
                .record(*category, Utc::now(), FUNCTION_NAME)
                .await
            {
                error!(category = %category, error = %cause_chain(&err), "could not record freshness");
                metrics.add("FreshnessNotRecorded", 1);
            }
        }
        bridge_lambda::metrics::heartbeats(categories.iter().map(|c| c.as_str()));
    }

    async fn pull_pages(
        &self,
        run_id: &str,
        deadline: Instant,
        state: &mut PullState,
        summary: &mut RunSummary,
        metrics: &mut Metrics,
        progress: Progress<'_>,
    ) -> Result<RunStatus, PullError> {
        // Checked at init (`wiring::check`); a change is never handed over under another name.
        let sender = self.ports.intake.sender(PULL_SOURCE).ok_or_else(|| {
            PullError::Unavailable(format!(
                "the intake has no source {PULL_SOURCE} configured (WEBHOOK_SOURCES)"
            ))
        })?;
        let budget_left = || {
            deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_default()
        };
        while summary.pages < u64::from(self.settings.max_pages) {
            if budget_left() <= self.settings.safety_margin {
                return Ok(RunStatus::Partial);
            }
            let Some(page) = self
                .fetch(state.cursor.as_deref(), summary, &budget_left)
                .await?
            else {
                return Ok(RunStatus::Throttled);
            };
            for change in &page.changes {
                self.hand_over(&sender, run_id, change, summary, metrics)
                    .await?;
            }
            let expected = state.cursor.clone();
            let now = Utc::now();
            if state.cursor.as_deref() != Some(page.next_cursor.as_str()) {
                state.cursor_moved_at = Some(now);
            }
            state.cursor = Some(page.next_cursor.clone());
            state.total_changes += page.changes.len() as u64;
            if !self
                .ports
                .state
                .save(state, expected.as_deref())
                .await
                .map_err(PullError::State)?
            {
                return Ok(RunStatus::Superseded);
            }
            summary.pages += 1;
            summary.cursor = state.cursor.clone();
            info!(page = summary.pages, changes = page.changes.len(), cursor = %page.next_cursor, has_more = page.has_more, "page enqueued");
            progress(summary);
            if !page.has_more {
                return Ok(RunStatus::CaughtUp);
            }
        }
        Ok(RunStatus::Partial)
    }

    /// One page, waiting out 429s (as long as told, within budget) and retrying transient
    /// failures a few times. `None`: throttled for longer than this run may wait.
    async fn fetch(
        &self,
        cursor: Option<&str>,
        summary: &mut RunSummary,
        budget_left: &impl Fn() -> Duration,
    ) -> Result<Option<ChangesPage>, PullError> {
        let mut transient = 0;
        let mut throttles = 0;
        loop {
            match self
                .ports
                .erp
                .changes(cursor, &self.settings.types, self.settings.page_limit)
                .await
            {
                Ok(page) => return Ok(Some(page)),
                Err(ChangesError::Throttled { retry_after }) => {
                    summary.throttled += 1;
                    throttles += 1;
                    let wait = retry_after.unwrap_or(Duration::from_secs(1));
                    if throttles > self.settings.max_throttle_waits
                        || wait > self.settings.max_retry_after
                        || wait + self.settings.safety_margin >= budget_left()
                    {
                        warn!(
                            retry_after_seconds = wait.as_secs(),
                            "the ERP throttles; the run ends and the next one goes on"
                        );
                        return Ok(None);
                    }
                    info!(
                        retry_after_seconds = wait.as_secs_f64(),
                        "the ERP throttles; waiting as asked"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(err @ ChangesError::Transient(_))
                    if transient < self.settings.transient_retries =>
                {
                    transient += 1;
                    let wait = Duration::from_millis(500 * 2u64.pow(transient));
                    warn!(error = %err, attempt = transient, "the ERP failed; retrying the page");
                    if wait + self.settings.safety_margin >= budget_left() {
                        return Err(err.into());
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Hands one change to the intake: queued or a known duplicate is done; a refusal is
    /// dead-lettered with its reason (visible, alarmed); anything else fails the run before
    /// the cursor moves.
    async fn hand_over(
        &self,
        sender: &bridge_domain::Sender,
        run_id: &str,
        change: &bridge_domain::pull::PulledChange,
        summary: &mut RunSummary,
        metrics: &mut Metrics,
    ) -> Result<(), PullError> {
        summary.changes += 1;
        let now = Utc::now();
        let id = change_id(&change.event_type, &change.data_json);
        let body = event_body(&change.event_type, &change.data_json, now);
        let correlation_id = format!("pull-{run_id}");
        let outcome = self
            .ports
            .intake
            .accept(sender, &id, &correlation_id, body.as_bytes(), now, metrics)
            .await;
        let refusal = match outcome {
            Accepted::Queued => {
                summary.accepted += 1;
                return Ok(());
            }
            Accepted::Duplicate => {
                summary.duplicates += 1;
                return Ok(());
            }
            Accepted::Invalid(err) => {
                let reason = match &err.field {
                    Some(field) => format!("{} (at {field})", err.message),
                    None => err.message.clone(),
                };
                MessageError::permanent(err.code, reason)
            }
            Accepted::Conflict => MessageError::permanent(
                "webhook_id_conflict",
                "a change with this id was queued before with other content",
            ),
            Accepted::InFlight | Accepted::Unavailable => {
                return Err(PullError::Unavailable(format!(
                    "the intake could not make the change durable ({outcome:?})"
                )));
            }
        };
        summary.rejected += 1;
        self.dead_letter(&id, &correlation_id, change, &body, &refusal, now)
            .await
    }

    async fn dead_letter(
        &self,
        id: &str,
        correlation_id: &str,
        change: &bridge_domain::pull::PulledChange,
        body: &str,
        refusal: &MessageError,
        now: DateTime<Utc>,
    ) -> Result<(), PullError> {
        let route = EventType::parse(&change.event_type)
            .map(|t| t.route())
            .unwrap_or(Route::StockPrice);
        let queue = self
            .settings
            .dead_letter_queues
            .get(&route)
            .or_else(|| self.settings.dead_letter_queues.get(&Route::StockPrice))
            .ok_or_else(|| {
                PullError::DeadLetter(PortError::permanent(
                    "pull.dead_letter",
                    format!("no dead-letter queue is configured for {}", route.as_str()),
                ))
            })?;
        warn!(change_id = id, event_type = %change.event_type, code = %refusal.code, reason = %refusal.message, "the ERP's change is invalid; dead-lettered");
        let sent_with = BTreeMap::from([
            (
                attributes::EVENT_TYPE.to_string(),
                change.event_type.chars().take(100).collect(),
            ),
            (attributes::WEBHOOK_ID.to_string(), id.to_string()),
            (
                attributes::CORRELATION_ID.to_string(),
                correlation_id.to_string(),
            ),
            (attributes::SOURCE.to_string(), PULL_SOURCE.to_string()),
            ("pulled_at".to_string(), now.to_rfc3339()),
        ]);
        let message = OutboundMessage {
            body: body.to_string(),
            attributes: bridge_lambda::batch::failure_attributes(
                sent_with,
                refusal,
                1,
                FUNCTION_NAME,
            ),
            ..Default::default()
        };
        self.ports
            .queue
            .send(queue, &message)
            .await
            .map_err(PullError::DeadLetter)?;
        Ok(())
    }
}

/// The webhook body of a pulled change: its `type` and `data` as the ERP sent them.
fn event_body(event_type: &str, data_json: &str, now: DateTime<Utc>) -> String {
    format!(
        r#"{{"type":{},"timestamp":"{}","data":{}}}"#,
        Value::String(event_type.to_string()),
        now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        data_json
    )
}

#[cfg(test)]
mod pull_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_keeps_its_id_when_pulled_again() {
        let a = change_id("stock.changed", r#"{"sku":"A","revision":1}"#);
        assert_eq!(a, change_id("stock.changed", r#"{"sku":"A","revision":1}"#));
        assert_ne!(a, change_id("stock.changed", r#"{"sku":"A","revision":2}"#));
        assert_ne!(a, change_id("price.changed", r#"{"sku":"A","revision":1}"#));
        assert!(a.starts_with("erp-pull-") && a.len() == 9 + 32);
    }

    #[test]
    fn the_event_body_is_a_webhook_body() {
        let body = event_body("stock.changed", r#"{"sku":"A"}"#, Utc::now());
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["type"], "stock.changed");
        assert_eq!(value["data"]["sku"], "A");
        assert!(value["timestamp"].is_string());
    }

    #[test]
    fn pulled_types_name_their_freshness_categories() {
        let types = ["stock", "price", "customer", "other"].map(String::from);
        assert_eq!(
            categories(&types),
            vec![Category::Stock, Category::Prices, Category::Customers]
        );
    }
}

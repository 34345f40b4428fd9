//! Order writeback (contract section 4): placed orders go to the ERP once the B2B checks
//! allow it, exactly once in effect; ERP status events update the order.
//!
//! Exactly once: the order is saved as `submitted` before the ERP is called; an attempt that
//! finds it `submitted` (a retry, a redelivery, a crash after the call) first asks the ERP
//! whether it has it, and the ERP call itself carries the order id as its idempotency key.
//! Transient failures retry through the message's visibility timeout, not by sleeping.

pub mod documents;
pub mod erp;
pub mod postings;
pub mod wiring;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bridge_domain::error::cause_chain;
use bridge_domain::events::{OrderPlaced, OrderStatus, OrderStatusChanged, ShipmentUpdated};
use bridge_domain::feedback::{AccountRegistered, PaymentReceived, ReturnRequested};
use bridge_domain::orders::{
    Approvers, ErpWait, OrderState, OrderVersion, StateName, check_order, compare_versions,
    open_orders_total,
};
use bridge_domain::ports::PostingStore;
use bridge_domain::ports::{
    ContactStore, CrmLeads, CustomerStore, ErpError, ErpLookup, ErpOrders, ErpPostings, ErpReceipt,
    MessageQueue, ObjectStore, OrderStore, PriceStore, StoredOrder,
};
use bridge_domain::pull::PullStateStore;
use bridge_domain::shipments::ShipmentApplied;
use bridge_domain::{DomainEvent, ErrorClass, PortError, Route};
use bridge_lambda::{
    BatchSettings, Config, ConfigError, ConsumeError, ConsumedQueues, MessageError, MessageOutcome,
    Metrics, QueueVariables,
};
use chrono::Utc;
use std::sync::Arc;
use tracing::{Instrument, error, info, warn};

pub const FUNCTION_NAME: &str = "order-writeback";

/// What an edit of a stored order decided (`OrderWriteback::edit_order`).
enum Edit<T> {
    /// Save the order as edited; `T` goes back to the caller.
    Save(T),
    /// Nothing to save: the message's outcome.
    Leave(MessageOutcome),
}

tokio::task_local! {
    /// The correlation id of the message being handled: the ERP connector sends it on, so
    /// one id follows an order from the shop's webhook into the ERP's logs.
    pub static CORRELATION_ID: String;
}

/// The queues this function consumes; their URLs carry the retry backoff.
pub const QUEUES: [QueueVariables; 5] = [
    QueueVariables {
        arn: "ORDER_PLACED_QUEUE_ARN",
        url: Some("ORDER_PLACED_QUEUE_URL"),
        dead_letter_queue: "ORDER_PLACED_DLQ_URL",
        route: Route::OrdersPlaced,
    },
    QueueVariables {
        arn: "ORDER_STATUS_QUEUE_ARN",
        url: Some("ORDER_STATUS_QUEUE_URL"),
        dead_letter_queue: "ORDER_STATUS_DLQ_URL",
        route: Route::OrderStatus,
    },
    QueueVariables {
        arn: "RETURN_QUEUE_ARN",
        url: Some("RETURN_QUEUE_URL"),
        dead_letter_queue: "RETURN_DLQ_URL",
        route: Route::Returns,
    },
    QueueVariables {
        arn: "PAYMENT_QUEUE_ARN",
        url: Some("PAYMENT_QUEUE_URL"),
        dead_letter_queue: "PAYMENT_DLQ_URL",
        route: Route::Payments,
    },
    QueueVariables {
        arn: "LEAD_QUEUE_ARN",
        url: Some("LEAD_QUEUE_URL"),
        dead_letter_queue: "LEAD_DLQ_URL",
        route: Route::Leads,
    },
];

#[derive(Debug, Clone)]
pub struct WritebackSettings {
    pub order_table: String,
    pub customer_table: String,
    pub price_table: String,
    pub payload_bucket: String,
    pub erp_base_url: String,
    pub erp_token_secret: String,
    /// The CRM's leads API (`CRM_BASE_URL`) and its token's secret.
    pub crm_base_url: String,
    pub crm_token_secret: String,
    /// How orders reach the ERP (`ERP_CONNECTOR`).
    pub connector: Connector,
    /// Whether approvals are checked against the CRM's contacts (`APPROVALS_CHECKED_AGAINST`
    /// `crm`, the default) or taken on the shop's word (`shop`, a stack without a CRM).
    pub approvals_from_crm: bool,
    pub contact_table: String,
    /// Returns and payments as posted to the ERP.
    pub posting_table: String,
    pub queues: ConsumedQueues,
    /// Retry backoff of ERP failures: base and cap, in seconds.
    pub backoff: (u32, u32),
    pub max_receive_count: u32,
    /// Orders sent but without an ERP status for longer than this are reconciled.
    pub unconfirmed_after: chrono::Duration,
    /// Accepted orders older than this are no longer polled at the ERP: they are counted as
    /// unconfirmed (and alarm) without a call.
    pub stop_polling_after: chrono::Duration,
    /// How long a submitted order waits for an ERP that cannot be reached (a maintenance
    /// window) before it goes to the dead-letter queue.
    pub outage_window: chrono::Duration,
    /// The schedule resumes a submitted order that nothing touched for this long.
    pub resume_after: chrono::Duration,
    /// What one scheduled run may spend before it leaves the rest to the next run: with
    /// the order it is working on (at most one ERP timeout, 10 s) within the function's
    /// 30 s timeout.
    pub schedule_budget: std::time::Duration,
}

impl WritebackSettings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        config.apply_business_time_zone()?;
        let queues = ConsumedQueues::from_config(config, &QUEUES)?;
        Ok(Self {
            order_table: config.required("ORDER_TABLE")?,
            customer_table: config.required("CUSTOMER_TABLE")?,
            price_table: config.required("PRICE_TABLE")?,
            payload_bucket: config.required("PAYLOAD_BUCKET")?,
            erp_base_url: config.required("ERP_BASE_URL")?,
            erp_token_secret: config.required("ERP_TOKEN_SECRET_ID")?,
            crm_base_url: config.required("CRM_BASE_URL")?,
            crm_token_secret: config.required("CRM_TOKEN_SECRET_ID")?,
            connector: Connector::from_config(config)?,
            approvals_from_crm: match config.optional("APPROVALS_CHECKED_AGAINST").as_deref() {
                None | Some("") | Some("crm") => true,
                Some("shop") => false,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "APPROVALS_CHECKED_AGAINST".into(),
                        message: format!("{other:?}: approvals are checked against crm or shop"),
                    });
                }
            },
            contact_table: config.required("CONTACT_TABLE")?,
            posting_table: config.required("POSTING_TABLE")?,
            queues,
            max_receive_count: config.parsed("MAX_RECEIVE_COUNT", 5)?,
            backoff: (
                config.parsed("RETRY_BASE_SECONDS", 15)?,
                config.parsed("RETRY_MAX_SECONDS", 900)?,
            ),
            unconfirmed_after: chrono::Duration::minutes(
                config.parsed("UNCONFIRMED_AFTER_MINUTES", 60)?,
            ),
            stop_polling_after: chrono::Duration::days(
                config.parsed("STOP_POLLING_AFTER_DAYS", 14)?,
            ),
            outage_window: chrono::Duration::minutes(
                config.parsed("ERP_OUTAGE_WINDOW_MINUTES", 480)?,
            ),
            resume_after: chrono::Duration::seconds(config.parsed("RESUME_AFTER_SECONDS", 120)?),
            schedule_budget: std::time::Duration::from_secs(
                config.parsed("SCHEDULE_BUDGET_SECONDS", 15)?,
            ),
        })
    }
}

/// How orders reach the ERP, chosen per stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connector {
    /// `rest` (the default): the sales-order API of contract section 4.
    Rest,
    /// `opentrans`: ORDER documents into the bucket's `erp/outbox/orders/` (section 9).
    OpenTrans {
        bucket: String,
        /// Our company's id as the ERP knows it.
        supplier_id: String,
    },
}

impl Connector {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        match config.optional("ERP_CONNECTOR").as_deref() {
            None | Some("") | Some("rest") => Ok(Connector::Rest),
            Some("opentrans") => Ok(Connector::OpenTrans {
                bucket: config.required("ORDER_DOCUMENT_BUCKET")?,
                supplier_id: config.required("ERP_SUPPLIER_ID")?,
            }),
            Some(other) => Err(ConfigError::Invalid {
                name: "ERP_CONNECTOR".into(),
                message: format!("{other:?}: the connectors are rest and opentrans"),
            }),
        }
    }
}

#[derive(Clone)]
pub struct WritebackPorts {
    pub orders: Arc<dyn OrderStore>,
    pub customers: Arc<dyn CustomerStore>,
    pub contacts: Arc<dyn ContactStore>,
    pub prices: Arc<dyn PriceStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub queue: Arc<dyn MessageQueue>,
    pub erp: Arc<dyn ErpOrders>,
    /// Returns and payments (the REST API whichever connector sends orders).
    pub erp_postings: Arc<dyn ErpPostings>,
    pub returns: Arc<dyn PostingStore<ReturnRequested>>,
    pub payments: Arc<dyn PostingStore<PaymentReceived>>,
    pub leads: Arc<dyn PostingStore<AccountRegistered>>,
    pub crm: Arc<dyn CrmLeads>,
    /// Whether the ERP circuit is open (for the metric and alarm).
    pub circuit_open: Arc<dyn Fn() -> bool + Send + Sync>,
    pub freshness: Arc<dyn bridge_domain::ports::FreshnessStore>,
    /// Where each scheduled walk over an order state stopped (named cursors).
    pub cursors: Arc<dyn PullStateStore>,
}

/// Orders a scheduled run reads at a time.
const SCHEDULE_PAGE: i32 = 100;

/// A scheduled run's walk over the orders in one state: page by page, from where the last
/// run stopped (its position is saved by [`OrderWriteback::end_walk`]), so that a run is
/// bounded by its budget and every order is visited within a few runs, however many.
struct Walk {
    state: StateName,
    /// The saved position this run started from.
    started_from: Option<String>,
    /// Where the next page starts.
    after: Option<String>,
    scan_ended: bool,
    /// Where the next run continues if this one stops now: after the last order visited, or
    /// after the last page read through.
    position: Option<String>,
    /// This walk's share of the run.
    deadline: std::time::Instant,
    /// Something was done (an order visited or a page read): the budget may stop it now.
    progressed: bool,
    /// The budget ran out: the next run continues from `position`.
    stopped: bool,
}

impl Walk {
    fn cursor_name(state: StateName) -> String {
        format!("order-schedule/{state}")
    }

    /// Whether to leave the rest to the next run. Each walk still does something per run,
    /// so that even a run that starts late makes progress.
    fn stop_now(&mut self) -> bool {
        if !self.stopped && self.progressed && std::time::Instant::now() >= self.deadline {
            self.stopped = true;
        }
        self.stopped
    }

    fn visited(&mut self, id: &bridge_domain::OrderId) {
        self.position = Some(id.to_string());
        self.progressed = true;
    }

    /// A page read through: the next run starts after it.
    fn page_done(&mut self) {
        if !self.stopped {
            self.position = self.after.clone();
            self.progressed = true;
        }
    }
}

fn store_failure(err: PortError) -> MessageError {
    MessageError {
        class: err.class,
        code: if err.class == ErrorClass::Retryable {
            "store_unavailable"
        } else {
            "store_rejected"
        }
        .into(),
        message: cause_chain(&err),
    }
}

fn erp_failure(err: ErpError) -> MessageError {
    match err {
        ErpError::Ambiguous(m) => MessageError::retryable(ERP_AMBIGUOUS, m),
        ErpError::CircuitOpen => MessageError::retryable(ERP_CIRCUIT_OPEN, err.to_string()),
        other => MessageError::retryable(ERP_UNAVAILABLE, other.to_string()),
    }
}

const ERP_AMBIGUOUS: &str = "erp_ambiguous";
/// The outcome of an order the ERP has but has not answered yet.
const AWAITING_ERP_ANSWER: &str = "AwaitingErpAnswer";
/// The wait of such an order, as `bridgectl order` shows it.
pub const AWAITING_ANSWER: &str = "sent; waiting for the ERP's answer (ORDERRESPONSE)";
const ERP_UNAVAILABLE: &str = "erp_unavailable";
const ERP_CIRCUIT_OPEN: &str = "erp_circuit_open";

/// A failure that waiting for the ERP fixes (it is down, slow, throttling, or the circuit is
/// open); the order is `submitted` and the schedule will send it.
fn waits_for_erp(err: &MessageError) -> bool {
    err.class == ErrorClass::Retryable
        && [ERP_AMBIGUOUS, ERP_UNAVAILABLE, ERP_CIRCUIT_OPEN].contains(&err.code.as_str())
}

/// What a reconciliation of accepted orders found (submitted ones are resumed instead).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reconciliation {
    /// Orders the ERP accepted but does not know any more.
    pub unknown: Vec<String>,
    /// Orders the ERP has but never confirmed.
    pub unconfirmed: Vec<String>,
    /// Left for the next run (this run's budget was spent).
    pub deferred: u64,
}

/// What releasing held orders did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Release {
    pub submitted: u64,
    pub still_held: u64,
    /// Released, but the ERP could not be reached: they wait, submitted, for the resume.
    pub waiting_for_erp: u64,
    pub failed: u64,
    /// Left for the next run (this run's budget was spent).
    pub deferred: u64,
}

/// What resuming submitted orders did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resume {
    /// The ERP has them now (sent, or found there).
    pub sent: u64,
    /// Still waiting for the ERP.
    pub waiting_for_erp: u64,
    /// The ERP has them and has not answered yet (a document ERP).
    pub awaiting_answer: u64,
    /// Touched too recently: a delivery may still be working on them.
    pub in_flight: u64,
    /// Waited longer than the outage window: moved to the dead-letter queue this run.
    pub dead_lettered: u64,
    /// Left for the next run (this run's budget was spent).
    pub deferred: u64,
    pub failed: u64,
    /// The longest current wait for the ERP, in seconds (0 when nothing waits).
    pub longest_wait_seconds: i64,
}

/// One scheduled run: release, resume, reconcile.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScheduledRun {
    pub release: Release,
    pub resume: Resume,
    pub reconciliation: Reconciliation,
    pub postings: postings::PostingsResumed,
}

pub struct OrderWriteback {
    settings: WritebackSettings,
    ports: WritebackPorts,
}

impl OrderWriteback {
    pub fn new(settings: WritebackSettings, ports: WritebackPorts) -> Self {
        Self { settings, ports }
    }

    pub async fn handle_batch(&self, event: SqsEvent) -> Result<SqsBatchResponse, ConsumeError> {
        let (result, mut metrics) = self.process(event).await;
        metrics.flush();
        result
    }

    /// One SQS batch (all from one queue), with the invocation's counts.
    pub async fn process(
        &self,
        event: SqsEvent,
    ) -> (Result<SqsBatchResponse, ConsumeError>, Metrics) {
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let span = tracing::info_span!(
            "batch",
            function = FUNCTION_NAME,
            size = event.records.len()
        );
        let result = async {
            let consumed = match self.settings.queues.of_batch(&event) {
                Ok(Some(consumed)) => consumed,
                Ok(None) => return Ok(SqsBatchResponse::default()),
                Err(err) => return Err(err),
            };
            let settings = BatchSettings {
                function: FUNCTION_NAME,
                dead_letter_queue: &consumed.dead_letter_queue,
                max_receive_count: self.settings.max_receive_count,
                queue: self.ports.queue.as_ref(),
                // An ERP that is down recovers in minutes, not seconds: back off.
                backoff: consumed
                    .url
                    .as_deref()
                    .map(|queue_url| bridge_lambda::Backoff {
                        queue_url,
                        base_seconds: self.settings.backoff.0,
                        max_seconds: self.settings.backoff.1,
                    }),
            };
            let result = bridge_lambda::process_batch(event, &settings, &mut metrics, |message| {
                self.handle_message(message, consumed.route)
            })
            .await;
            Ok(result?)
        }
        .instrument(span)
        .await;
        if (self.ports.circuit_open)() {
            metrics.add("CircuitOpen", 1);
        }
        (result, metrics)
    }

    async fn handle_message(
        &self,
        message: SqsMessage,
        route: Route,
    ) -> Result<MessageOutcome, MessageError> {
        let correlation = message
            .message_attributes
            .get(bridge_contract::envelope::attributes::CORRELATION_ID)
            .and_then(|a| a.string_value.clone())
            .unwrap_or_default();
        CORRELATION_ID
            .scope(correlation, async {
                let body = message.body.as_deref().unwrap_or_default();
                let parsed =
                    bridge_lambda::envelope::read_event(body, route, self.ports.objects.as_ref())
                        .await?;
                match parsed.event {
                    DomainEvent::OrderPlaced(order) => {
                        let mut result = self.place(order.clone()).await;
                        if matches!(&result, Err(e) if e.code == "concurrent_update") {
                            // Another delivery or the schedule moved the order meanwhile:
                            // judge this one again against where it stands now.
                            result = self.place(order).await;
                        }
                        match result {
                            // The order is saved `submitted` with its wait: the schedule sends
                            // it when the ERP is back. An open circuit burns no delivery, and
                            // the last delivery ends here instead of in the dead-letter queue.
                            Err(err)
                                if waits_for_erp(&err)
                                    && (err.code == ERP_CIRCUIT_OPEN
                                        || bridge_lambda::batch::receive_count(&message)
                                            >= self.settings.max_receive_count) =>
                            {
                                warn!(code = %err.code, reason = %err.message, outcome = "waiting_for_erp", "the ERP cannot be reached; the order waits for the schedule to send it");
                                Ok("WaitingForErp")
                            }
                            other => other,
                        }
                    }
                    DomainEvent::OrderStatusChanged(status) => self.status(status).await,
                    DomainEvent::ShipmentUpdated(shipment) => self.shipment(shipment).await,
                    DomainEvent::ReturnRequested(request) => {
                        self.wait_at_last(&message, self.return_requested(request).await)
                    }
                    DomainEvent::ReturnStatusChanged(status) => self.return_status(status).await,
                    DomainEvent::PaymentReceived(payment) => {
                        self.wait_at_last(&message, self.payment_received(payment).await)
                    }
                    DomainEvent::AccountRegistered(registration) => {
                        self.wait_at_last(&message, self.account_registered(registration).await)
                    }
                    other => Err(MessageError::permanent(
                        "unexpected_event_type",
                        format!("{} does not belong on this queue", other.event_type()),
                    )),
                }
            })
            .await
    }

    /// A placed order: recorded once, checked, and sent when the checks allow it. The shop's
    /// revision of the order decides which version counts (contract v2), not the arrival.
    pub async fn place(&self, order: OrderPlaced) -> Result<MessageOutcome, MessageError> {
        let id = order.order_id.clone();
        let stored = match self.ports.orders.get(&id).await.map_err(store_failure)? {
            Some(mut stored) => match compare_versions(&stored.order, &order) {
                // The shop changed the order (an approval added, a corrected price) before it
                // reached the ERP: the new version is the one to check and send.
                OrderVersion::Newer if stored.state.may_submit() => {
                    info!(order_id = %id, from = %stored.order.revision, to = %order.revision, "order updated by the shop before submission");
                    stored.order = order.clone();
                    self.save_as_is(&mut stored).await?;
                    stored
                }
                OrderVersion::Newer => {
                    error!(order_id = %id, state = stored.state.name(), submitted = %stored.order.revision, revision = %order.revision, outcome = "changed_after_submission", "the shop changed an order the ERP already has; the change is not sent");
                    if stored
                        .changed_after_submission
                        .is_none_or(|seen| seen < order.revision)
                    {
                        stored.changed_after_submission = Some(order.revision);
                        self.save_as_is(&mut stored).await?;
                    }
                    return Ok("ChangedAfterSubmission");
                }
                OrderVersion::Older => {
                    info!(order_id = %id, stored = %stored.order.revision, revision = %order.revision, outcome = "stale", "an older version of the order arrived late; it changes nothing");
                    return Ok("Stale");
                }
                OrderVersion::Conflict => {
                    return Err(MessageError::permanent(
                        "order_version_conflict",
                        format!(
                            "revision {} of order {id} arrived with other content than the stored revision {}; the shop must send a change under a higher revision",
                            order.revision, stored.order.revision
                        ),
                    ));
                }
                OrderVersion::Same => {
                    // A redrive of an order whose wait for the ERP outlasted the window: it
                    // starts a new wait rather than being skipped by the schedule.
                    if stored
                        .erp_wait
                        .as_ref()
                        .is_some_and(|w| w.dead_lettered_at.is_some())
                    {
                        stored.erp_wait = None;
                        self.save_as_is(&mut stored).await?;
                    }
                    stored
                }
            },
            None => {
                let stored = StoredOrder::new(order.clone(), Utc::now());
                if self
                    .ports
                    .orders
                    .insert(&stored)
                    .await
                    .map_err(store_failure)?
                {
                    info!(order_id = %id, "order received");
                    stored
                } else {
                    // Another delivery recorded it first: judged against it on the retry
                    // (`handle_message` judges a delivery that lost a race again at once).
                    return Err(MessageError::retryable(
                        "concurrent_update",
                        "another delivery recorded the order first",
                    ));
                }
            }
        };
        self.advance(stored).await
    }

    /// Moves an order as far as it can go now.
    async fn advance(&self, mut stored: StoredOrder) -> Result<MessageOutcome, MessageError> {
        let id = stored.order.order_id.clone();
        match &stored.state {
            OrderState::Received | OrderState::Held { .. } => {
                let reasons = self.check(&stored.order).await?;
                if !reasons.is_empty() {
                    let held = OrderState::Held { reasons };
                    if stored.state != held {
                        info!(order_id = %id, reasons = %serde_json::to_string(&held).unwrap_or_default(), "order held");
                        self.save(&mut stored, held).await?;
                    }
                    return Ok("Held");
                }
                self.save(&mut stored, OrderState::Submitted).await?;
                self.submit(stored).await
            }
            OrderState::Submitted => {
                // An earlier attempt may have reached the ERP: ask before sending again.
                match self.ports.erp.find(&id).await {
                    Ok(ErpLookup::Accepted(number)) => self.accept(stored, number).await,
                    Ok(ErpLookup::Unknown) => self.submit(stored).await,
                    Ok(ErpLookup::Pending) => self.await_answer(stored).await,
                    Ok(ErpLookup::Declined(errors)) => self.reject(stored, errors).await,
                    Err(err) => Err(self.wait_for_erp(stored, err).await),
                }
            }
            // A delivery that died between saving the rejection and dead-lettering it: the
            // rejection still goes to the DLQ with its reason, never quietly deleted.
            OrderState::Rejected { errors } => {
                Err(MessageError::permanent("erp_rejected", errors.join("; ")))
            }
            _ => Ok("Duplicate"),
        }
    }

    async fn submit(&self, mut stored: StoredOrder) -> Result<MessageOutcome, MessageError> {
        let id = stored.order.order_id.clone();
        match self.ports.erp.create(&stored.order).await {
            Ok(ErpReceipt::Accepted(number)) => self.accept(stored, number).await,
            Ok(ErpReceipt::Sent) => self.await_answer(stored).await,
            Err(ErpError::Rejected { errors }) => self.reject(stored, errors).await,
            Err(ErpError::Conflict(message)) => {
                error!(order_id = %id, code = "erp_conflict", reason = %message, "the ERP holds this order under something else; asking what it knows");
                match self.ports.erp.find(&id).await.map_err(erp_failure)? {
                    ErpLookup::Accepted(number) => self.accept(stored, number).await,
                    ErpLookup::Pending => self.await_answer(stored).await,
                    ErpLookup::Declined(errors) => self.reject(stored, errors).await,
                    ErpLookup::Unknown => {
                        self.save(
                            &mut stored,
                            OrderState::Rejected {
                                errors: vec![message.clone()],
                            },
                        )
                        .await?;
                        Err(MessageError::permanent("erp_conflict", message))
                    }
                }
            }
            Err(err) => {
                warn!(order_id = %id, error = %err, outcome = "retry", "ERP call failed; the order stays submitted");
                Err(self.wait_for_erp(stored, err).await)
            }
        }
    }

    /// The ERP refused the order for good: saved `rejected` and dead-lettered with the
    /// ERP's reasons.
    async fn reject(
        &self,
        mut stored: StoredOrder,
        errors: Vec<String>,
    ) -> Result<MessageOutcome, MessageError> {
        warn!(order_id = %stored.order.order_id, errors = ?errors, outcome = "rejected", "the ERP rejected the order");
        let message = errors.join("; ");
        stored.erp_wait = None;
        self.save(&mut stored, OrderState::Rejected { errors })
            .await?;
        Err(MessageError::permanent("erp_rejected", message))
    }

    /// The ERP has the order as a document and answers later (openTRANS): the order stays
    /// `submitted`, never sent again, with a wait that `bridgectl order` and the wait alarm
    /// see and no outage window ends (`ErpWait::awaiting_answer`); the answer moves it on
    /// (an `order.status_changed`, or the schedule's lookup).
    async fn await_answer(&self, mut stored: StoredOrder) -> Result<MessageOutcome, MessageError> {
        let awaiting = stored
            .erp_wait
            .as_ref()
            .is_some_and(|w| w.awaiting_answer && w.last_error == AWAITING_ANSWER);
        if !awaiting {
            info!(order_id = %stored.order.order_id, outcome = "sent", "the ERP has the order; its answer comes later");
            let mut wait =
                ErpWait::after_failure(stored.erp_wait.as_ref(), Utc::now(), AWAITING_ANSWER);
            wait.awaiting_answer = true;
            stored.erp_wait = Some(wait);
            self.save_as_is(&mut stored).await?;
        }
        Ok(AWAITING_ERP_ANSWER)
    }

    /// Records that a submitted order could not reach the ERP (for `bridgectl order`, the
    /// outage window and the alarm) and returns the failure to report. The record is best
    /// effort: the order is `submitted` either way, which is what the schedule resumes.
    async fn wait_for_erp(&self, mut stored: StoredOrder, err: ErpError) -> MessageError {
        let failure = erp_failure(err);
        stored.erp_wait = Some(ErpWait::after_failure(
            stored.erp_wait.as_ref(),
            Utc::now(),
            &failure.message,
        ));
        if let Err(save_err) = self.save_as_is(&mut stored).await {
            warn!(order_id = %stored.order.order_id, error = %save_err, "could not record the wait for the ERP");
        }
        failure
    }

    async fn accept(
        &self,
        mut stored: StoredOrder,
        erp_order_number: String,
    ) -> Result<MessageOutcome, MessageError> {
        info!(order_id = %stored.order.order_id, %erp_order_number, outcome = "submitted", "the ERP has the order");
        stored.erp_wait = None;
        self.save(&mut stored, OrderState::Accepted { erp_order_number })
            .await?;
        Ok("Submitted")
    }

    async fn save(&self, stored: &mut StoredOrder, state: OrderState) -> Result<(), MessageError> {
        stored.transition(state, Utc::now());
        self.save_as_is(stored).await
    }

    /// Saves what changed on `stored` without a state transition.
    async fn save_as_is(&self, stored: &mut StoredOrder) -> Result<(), MessageError> {
        stored.version += 1;
        if self
            .ports
            .orders
            .save(stored)
            .await
            .map_err(store_failure)?
        {
            Ok(())
        } else {
            // Someone moved the order meanwhile: the redelivery sees where it stands.
            Err(MessageError::retryable(
                "concurrent_update",
                "the order changed while it was handled",
            ))
        }
    }

    async fn check(
        &self,
        order: &OrderPlaced,
    ) -> Result<Vec<bridge_domain::orders::HoldReason>, MessageError> {
        let customer = self
            .ports
            .customers
            .customer(&order.customer_id)
            .await
            .map_err(store_failure)?;
        let mut prices = Vec::new();
        if let Some(customer) = &customer {
            let mut skus: Vec<_> = order
                .lines
                .as_slice()
                .iter()
                .map(|l| l.sku.clone())
                .collect();
            skus.sort();
            skus.dedup();
            for sku in skus {
                prices.extend(
                    self.ports
                        .prices
                        .prices_of(&customer.price_lists, &sku)
                        .await
                        .map_err(store_failure)?,
                );
            }
        }
        // The customer's exposure: its other orders the ERP has (or is being sent) and has
        // not invoiced, so that several quick orders cannot together pass a limit.
        let mut open_orders = rust_decimal::Decimal::ZERO;
        if customer.as_ref().is_some_and(|c| c.credit_limit.is_some()) {
            let others = self
                .ports
                .orders
                .of_customer(&order.customer_id)
                .await
                .map_err(store_failure)?;
            open_orders = open_orders_total(order, &others).ok_or_else(|| {
                MessageError::permanent(
                    "amount_out_of_range",
                    "the customer's open orders add up beyond the exact decimal range",
                )
            })?;
        }
        // The CRM's contacts, only when an approval is to be judged.
        let contacts = if self.settings.approvals_from_crm && !order.approvals.is_empty() {
            self.ports
                .contacts
                .contacts_of(&order.customer_id)
                .await
                .map_err(store_failure)?
        } else {
            Vec::new()
        };
        let approvers = if self.settings.approvals_from_crm {
            Approvers::Contacts(&contacts)
        } else {
            Approvers::ShopsWord
        };
        Ok(check_order(
            order,
            customer.as_ref(),
            &prices,
            open_orders,
            approvers,
        ))
    }

    /// Reads an order, lets `edit` change it and saves it under its version; when another
    /// save came first, reads it again (three times in all). `Ok(Err(outcome))`: `edit`
    /// left it alone; `Ok(Ok((order, value)))`: saved.
    async fn edit_order<T>(
        &self,
        order_id: &bridge_domain::OrderId,
        unknown: impl Fn() -> String,
        mut edit: impl FnMut(&mut StoredOrder) -> Result<Edit<T>, MessageError>,
    ) -> Result<Result<(StoredOrder, T), MessageOutcome>, MessageError> {
        for _ in 0..3 {
            let Some(mut stored) = self
                .ports
                .orders
                .get(order_id)
                .await
                .map_err(store_failure)?
            else {
                return Err(MessageError::permanent("unknown_order", unknown()));
            };
            let value = match edit(&mut stored)? {
                Edit::Leave(outcome) => return Ok(Err(outcome)),
                Edit::Save(value) => value,
            };
            match self.save_as_is(&mut stored).await {
                Ok(()) => return Ok(Ok((stored, value))),
                Err(err) if err.code == "concurrent_update" => continue,
                Err(err) => return Err(err),
            }
        }
        Err(MessageError::retryable(
            "concurrent_update",
            "the order kept changing",
        ))
    }

    /// An ERP status event: newer revisions win.
    pub async fn status(&self, event: OrderStatusChanged) -> Result<MessageOutcome, MessageError> {
        let edited = self
            .edit_order(
                &event.order_id,
                || {
                    format!(
                        "order {} was never placed through the bridge",
                        event.order_id
                    )
                },
                |stored| {
                    // Invoiced is for good, even when the status itself comes too late to
                    // show: the amount is in the customer's open items.
                    let newly_invoiced = event.status == OrderStatus::Invoiced && !stored.invoiced;
                    stored.invoiced |= newly_invoiced;
                    Ok(match stored.state.with_status(&event) {
                        None if newly_invoiced => Edit::Save(false),
                        None => Edit::Leave("Stale"),
                        Some(state) => {
                            // The ERP speaks of the order: it is not waiting for it any more.
                            stored.erp_wait = None;
                            stored.transition(state, Utc::now());
                            Edit::Save(true)
                        }
                    })
                },
            )
            .await?;
        match edited {
            Err(outcome) => return Ok(outcome),
            Ok((_, false)) => {
                info!(order_id = %event.order_id, outcome = "invoiced_noted", "invoiced: the order leaves the open orders; its stored status is newer and stays");
                return Ok("InvoicedNoted");
            }
            Ok((_, true)) => {}
        }
        info!(order_id = %event.order_id, status = event.status.as_str(), "order status updated");
        let category = bridge_domain::freshness::Category::OrderStatus;
        if let Err(err) = self
            .ports
            .freshness
            .record(category, Utc::now(), FUNCTION_NAME)
            .await
        {
            warn!(error = %cause_chain(&err), "could not record freshness");
        }
        bridge_lambda::metrics::heartbeats([category.as_str()]);
        Ok("Applied")
    }

    /// A shipment of an order (contract section 8): recorded under its own revision; a
    /// shipment that names a line the order lacks or ships more than was ordered is refused
    /// with its reason (dead-lettered), the order unchanged; an exception is alarmed.
    pub async fn shipment(&self, event: ShipmentUpdated) -> Result<MessageOutcome, MessageError> {
        let edited = self
            .edit_order(
                &event.order_id,
                || {
                    format!(
                        "shipment {} is for order {}, which was never placed through the bridge",
                        event.shipment_id, event.order_id
                    )
                },
                |stored| {
                    let applied = bridge_domain::shipments::apply_shipment(
                        &stored.order,
                        &mut stored.shipments,
                        &event,
                        Utc::now(),
                    )
                    .map_err(|refused| MessageError::permanent(refused.code, refused.message))?;
                    Ok(match applied {
                        ShipmentApplied::Stale { stored: revision } => {
                            info!(order_id = %event.order_id, shipment_id = %event.shipment_id, stored = revision.value(), "stale shipment revision: nothing changed");
                            Edit::Leave("Stale")
                        }
                        ShipmentApplied::Applied { exception } => Edit::Save(exception),
                    })
                },
            )
            .await?;
        let (stored, exception) = match edited {
            Ok(saved) => saved,
            Err(outcome) => return Ok(outcome),
        };
        if exception {
            let problem = event.exception.as_ref();
            error!(
                order_id = %event.order_id,
                shipment_id = %event.shipment_id,
                code = problem.map(|p| p.code.as_str()).unwrap_or_default(),
                message = problem.and_then(|p| p.message.as_deref()).unwrap_or_default(),
                "shipment exception"
            );
            return Ok("ShipmentException");
        }
        let fulfilment = bridge_domain::shipments::fulfilment(&stored.order, &stored.shipments);
        info!(order_id = %event.order_id, shipment_id = %event.shipment_id, status = event.status.as_str(), fulfilment = fulfilment.as_str(), "shipment recorded");
        Ok("ShipmentApplied")
    }

    /// One run of the schedule: release held orders whose reasons cleared, resume submitted
    /// orders that have not reached the ERP, reconcile accepted ones it never confirmed;
    /// all within one budget (`SCHEDULE_BUDGET_SECONDS`), each continuing where it stopped.
    pub async fn scheduled(&self, now: chrono::DateTime<Utc>) -> Result<ScheduledRun, PortError> {
        // Orders waiting for the ERP first (an outage's backlog must not wait behind held
        // orders), each walk with its own share, so that none starves the others; a walk
        // that fails does not keep the others from running, and fails the run after them.
        let budget = self.settings.schedule_budget;
        let resume = self.resume_submitted(now, budget.mul_f64(0.4)).await;
        let release = self.release_held(budget.mul_f64(0.25)).await;
        let reconciliation = self.reconcile(now, budget.mul_f64(0.15)).await;
        let postings = self.resume_postings(now, budget.mul_f64(0.2)).await;
        let (resume, release, reconciliation, postings) = match (
            resume,
            release,
            reconciliation,
            postings,
        ) {
            (Ok(resume), Ok(release), Ok(reconciliation), Ok(postings)) => {
                (resume, release, reconciliation, postings)
            }
            (resume, release, reconciliation, postings) => {
                let errors: Vec<PortError> = [
                    resume.err(),
                    release.err(),
                    reconciliation.err(),
                    postings.err(),
                ]
                .into_iter()
                .flatten()
                .collect();
                for err in &errors {
                    error!(error = %cause_chain(err), "a scheduled walk over the orders failed; the others ran");
                }
                return Err(errors.into_iter().next().expect("one failed"));
            }
        };
        Ok(ScheduledRun {
            release,
            resume,
            reconciliation,
            postings,
        })
    }

    async fn walk(&self, state: StateName, budget: std::time::Duration) -> Result<Walk, PortError> {
        let saved = self.ports.cursors.load(&Walk::cursor_name(state)).await?;
        let started_from = saved.and_then(|s| s.cursor);
        Ok(Walk {
            state,
            after: started_from.clone(),
            position: started_from.clone(),
            started_from,
            scan_ended: false,
            deadline: std::time::Instant::now() + budget,
            progressed: false,
            stopped: false,
        })
    }

    /// The next page of the walk; `None` when the scan ended or the budget stopped it.
    async fn next_page(&self, walk: &mut Walk) -> Result<Option<Vec<StoredOrder>>, PortError> {
        if walk.scan_ended || walk.stop_now() {
            return Ok(None);
        }
        let (page, next) = self
            .ports
            .orders
            .page_in_state(walk.state, walk.after.as_deref(), SCHEDULE_PAGE)
            .await?;
        walk.scan_ended = next.is_none();
        walk.after = next;
        Ok(Some(page))
    }

    /// Saves where the walk stopped (or that it went through), for the next run.
    async fn end_walk(&self, walk: Walk) {
        let name = Walk::cursor_name(walk.state);
        let cursor = if walk.stopped { walk.position } else { None };
        if cursor == walk.started_from {
            return;
        }
        let mut state = bridge_domain::pull::PullState::new(&name);
        state.cursor = cursor;
        state.last_run_at = Some(Utc::now());
        state.last_run_status = Some(if walk.stopped { "partial" } else { "complete" }.into());
        match self
            .ports
            .cursors
            .save(&state, walk.started_from.as_deref())
            .await
        {
            Ok(true) => {}
            Ok(false) => info!(walk = %name, "another run moved the schedule's position meanwhile"),
            Err(err) => {
                warn!(walk = %name, error = %cause_chain(&err), "could not save where the schedule stopped; the next run starts from the saved position")
            }
        }
    }

    /// Sends every submitted order that nothing is working on: a released held order whose
    /// ERP call failed, an order whose deliveries ended while the ERP was down, one whose
    /// invocation died after saving `submitted`. Lookup first, then send (the idempotency key
    /// guards the rest). An order that waited longer than the outage window goes to the
    /// dead-letter queue with its body, so that a redrive hands it back.
    pub async fn resume_submitted(
        &self,
        now: chrono::DateTime<Utc>,
        budget: std::time::Duration,
    ) -> Result<Resume, PortError> {
        let mut resume = Resume::default();
        let mut walk = self.walk(StateName::Submitted, budget).await?;
        while let Some(page) = self.next_page(&mut walk).await? {
            for stored in page {
                let id = stored.order.order_id.clone();
                if let Some(wait) = &stored.erp_wait
                    && wait.dead_lettered_at.is_none()
                {
                    resume.longest_wait_seconds = resume
                        .longest_wait_seconds
                        .max((now - wait.since).num_seconds());
                }
                if walk.stop_now() {
                    resume.deferred += 1;
                    continue;
                }
                walk.visited(&id);
                let last_touched = stored
                    .erp_wait
                    .as_ref()
                    .map(|w| w.last_attempt)
                    .into_iter()
                    .chain(stored.history.last().map(|t| t.at))
                    .max()
                    .unwrap_or(now);
                if now - last_touched < self.settings.resume_after {
                    resume.in_flight += 1;
                    continue;
                }
                match &stored.erp_wait {
                    Some(wait) if wait.dead_lettered_at.is_some() => continue,
                    // The ERP has an order it has not answered: it is not unreachable, and
                    // its answer may come any time (the wait alarm pages meanwhile).
                    Some(wait) if wait.awaiting_answer => {}
                    Some(wait) if now - wait.since > self.settings.outage_window => {
                        let waited = now - wait.since;
                        let err = MessageError::permanent(
                            "erp_outage_exceeded",
                            format!(
                                "the ERP could not be reached for {} minutes (the outage window is {}); last error: {}",
                                waited.num_minutes(),
                                self.settings.outage_window.num_minutes(),
                                wait.last_error
                            ),
                        );
                        match self.dead_letter_order(stored, &err, now).await {
                            Ok(()) => resume.dead_lettered += 1,
                            Err(dlq_err) => {
                                error!(order_id = %id, error = %dlq_err.message, "could not dead-letter an order past the outage window; the next run tries again");
                                resume.failed += 1;
                            }
                        }
                        continue;
                    }
                    _ => {}
                }
                if (self.ports.circuit_open)() {
                    // The ERP failed just now: the orders wait for the next run, not a flood.
                    resume.waiting_for_erp += 1;
                    continue;
                }
                match self.advance(stored.clone()).await {
                    Ok(AWAITING_ERP_ANSWER) => resume.awaiting_answer += 1,
                    Ok(_) => resume.sent += 1,
                    Err(err) if waits_for_erp(&err) => resume.waiting_for_erp += 1,
                    Err(err) if err.class == ErrorClass::Permanent => {
                        // A rejection the ERP gave the schedule: to the DLQ like any other.
                        error!(order_id = %id, code = %err.code, reason = %err.message, "a resumed order was refused");
                        match self.dead_letter_order(stored, &err, now).await {
                            Ok(()) => resume.dead_lettered += 1,
                            Err(_) => resume.failed += 1,
                        }
                    }
                    Err(err) => {
                        warn!(order_id = %id, code = %err.code, reason = %err.message, "resuming a submitted order failed; the next run tries again");
                        resume.failed += 1;
                    }
                }
            }
            walk.page_done();
        }
        self.end_walk(walk).await;
        let mut metrics = Metrics::new(FUNCTION_NAME);
        metrics.add("Resumed", resume.sent);
        metrics.add("OrdersWaitingForErp", resume.waiting_for_erp);
        metrics.add("OrdersAwaitingErpAnswer", resume.awaiting_answer);
        metrics.add("OrdersPastErpWindow", resume.dead_lettered);
        metrics.add("ResumeDeferred", resume.deferred);
        metrics.add("ResumeFailed", resume.failed);
        // The alarm's threshold is a template parameter in minutes.
        metrics.add(
            "ErpWaitMinutes",
            u64::try_from(resume.longest_wait_seconds / 60).unwrap_or(0),
        );
        metrics.flush();
        Ok(resume)
    }

    /// Puts an event that has no queue message left (the schedule found it) into its route's
    /// dead-letter queue, in the format every dead-lettered message has, so that a redrive
    /// hands it back like any other delivery.
    async fn dead_letter_event(
        &self,
        route: Route,
        source: bridge_domain::Source,
        webhook_id: String,
        body: serde_json::Value,
        err: &MessageError,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), MessageError> {
        use bridge_contract::envelope::{ENVELOPE_VERSION, Envelope, Payload};
        let Some(queue) = self.settings.queues.of_route(route) else {
            return Err(MessageError::permanent(
                "no_dead_letter_queue",
                format!("no dead-letter queue is configured for {}", route.as_str()),
            ));
        };
        let event_type = body["type"]
            .as_str()
            .and_then(bridge_domain::EventType::parse)
            .ok_or_else(|| MessageError::permanent("invalid_event", "the body names no type"))?;
        let envelope = Envelope {
            version: ENVELOPE_VERSION,
            webhook_id: webhook_id.clone(),
            source,
            event_type,
            correlation_id: CORRELATION_ID
                .try_with(Clone::clone)
                .unwrap_or_else(|_| webhook_id.clone()),
            received_at: now,
            payload: Payload::Inline { body },
        };
        let message = bridge_domain::ports::OutboundMessage {
            body: envelope.to_json(),
            attributes: bridge_lambda::batch::failure_attributes(
                envelope.message_attributes(),
                err,
                0,
                FUNCTION_NAME,
            ),
            ..Default::default()
        };
        self.ports
            .queue
            .send(&queue.dead_letter_queue, &message)
            .await
            .map_err(store_failure)
            .map(|_| ())
    }

    /// Puts an order that has no queue message left into the placed orders' dead-letter
    /// queue, in the format every dead-lettered message has, and marks its wait as ended.
    async fn dead_letter_order(
        &self,
        mut stored: StoredOrder,
        err: &MessageError,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), MessageError> {
        let id = stored.order.order_id.to_string();
        self.dead_letter_event(
            Route::OrdersPlaced,
            bridge_domain::Source::shop(),
            format!("{id}.r{}.resumed", stored.order.revision),
            bridge_contract::order_placed_body(&stored.order, now),
            err,
            now,
        )
        .await?;
        error!(order_id = %id, code = %err.code, reason = %err.message, outcome = "dead_lettered", "order moved to the dead-letter queue");
        // Marked on the order as it is now: the attempt that failed may have saved it since.
        if let Some(current) = self
            .ports
            .orders
            .get(&stored.order.order_id)
            .await
            .map_err(store_failure)?
        {
            stored = current;
        }
        let mut wait = stored
            .erp_wait
            .clone()
            .unwrap_or_else(|| ErpWait::after_failure(None, now, &err.message));
        wait.dead_lettered_at = Some(now);
        stored.erp_wait = Some(wait);
        self.save_as_is(&mut stored).await
    }

    /// Asks the ERP about accepted orders older than `unconfirmed_after` that have no ERP
    /// status yet; one it does not know, or never confirmed, is counted (and alarms). Orders
    /// older than `stop_polling_after` are counted without asking: the alarm stays, the
    /// calls stop.
    pub async fn reconcile(
        &self,
        now: chrono::DateTime<Utc>,
        budget: std::time::Duration,
    ) -> Result<Reconciliation, PortError> {
        let mut result = Reconciliation::default();
        let cutoff = now - self.settings.unconfirmed_after;
        let polling_ends = now - self.settings.stop_polling_after;
        let mut walk = self.walk(StateName::Accepted, budget).await?;
        while let Some(page) = self.next_page(&mut walk).await? {
            for stored in page {
                if walk.stop_now() {
                    result.deferred += 1;
                    continue;
                }
                let id = stored.order.order_id.clone();
                walk.visited(&id);
                let since = stored.history.last().map(|t| t.at).unwrap_or(now);
                if since > cutoff {
                    continue;
                }
                if since < polling_ends {
                    result.unconfirmed.push(id.to_string());
                    continue;
                }
                match self.ports.erp.find(&id).await {
                    Ok(ErpLookup::Accepted(_) | ErpLookup::Pending) => {
                        result.unconfirmed.push(id.to_string())
                    }
                    Ok(ErpLookup::Unknown) => {
                        warn!(order_id = %id, "the ERP does not know an order it accepted");
                        result.unknown.push(id.to_string());
                    }
                    Ok(ErpLookup::Declined(errors)) => {
                        error!(order_id = %id, errors = ?errors, "the ERP declined an order it had accepted");
                        result.unknown.push(id.to_string());
                    }
                    Err(err) => {
                        warn!(order_id = %id, error = %err, "reconciliation could not reach the ERP");
                    }
                }
            }
            walk.page_done();
        }
        self.end_walk(walk).await;
        let mut metrics = Metrics::new(FUNCTION_NAME);
        metrics.add("OrdersUnknownToErp", result.unknown.len() as u64);
        metrics.add("OrdersUnconfirmed", result.unconfirmed.len() as u64);
        metrics.flush();
        Ok(result)
    }

    /// Re-checks every held order; the ones whose reasons cleared go to the ERP.
    pub async fn release_held(&self, budget: std::time::Duration) -> Result<Release, PortError> {
        let mut release = Release::default();
        let mut walk = self.walk(StateName::Held, budget).await?;
        while let Some(page) = self.next_page(&mut walk).await? {
            for stored in page {
                if walk.stop_now() {
                    release.deferred += 1;
                    continue;
                }
                walk.visited(&stored.order.order_id);
                self.release_one(stored, &mut release).await;
            }
            walk.page_done();
        }
        self.end_walk(walk).await;
        let mut metrics = Metrics::new(FUNCTION_NAME);
        metrics.add("Released", release.submitted);
        metrics.add("StillHeld", release.still_held);
        metrics.add("ReleasedWaitingForErp", release.waiting_for_erp);
        metrics.add("ReleaseFailed", release.failed);
        metrics.flush();
        Ok(release)
    }

    /// Checks a held order again and sends it when its reasons cleared.
    async fn release_one(&self, stored: StoredOrder, release: &mut Release) {
        let id = stored.order.order_id.clone();
        match self.advance(stored.clone()).await {
            Ok("Held") => release.still_held += 1,
            Ok(_) => release.submitted += 1,
            // Saved `submitted` with its wait: the resume sends it when the ERP is back.
            Err(err) if waits_for_erp(&err) => {
                warn!(order_id = %id, code = %err.code, reason = %err.message, outcome = "waiting_for_erp", "a released order waits for the ERP");
                release.waiting_for_erp += 1;
            }
            // The ERP refused it for good: to the DLQ with its reason, as any order.
            Err(err) if err.class == ErrorClass::Permanent => {
                error!(order_id = %id, code = %err.code, reason = %err.message, "a released order was refused");
                release.failed += 1;
                if let Err(dlq_err) = self.dead_letter_order(stored, &err, Utc::now()).await {
                    error!(order_id = %id, error = %dlq_err.message, "could not dead-letter a refused released order");
                }
            }
            Err(err) => {
                error!(order_id = %id, code = %err.code, reason = %err.message, "releasing a held order failed");
                release.failed += 1;
            }
        }
    }

    /// Checks the customer's orders held for credit again at once (a payment came in),
    /// instead of at the next scheduled release. The number sent on.
    pub async fn release_credit_held_of(
        &self,
        customer: &bridge_domain::CustomerId,
    ) -> Result<u64, PortError> {
        let mut release = Release::default();
        for stored in self.ports.orders.of_customer(customer).await? {
            let credit_held = matches!(&stored.state, OrderState::Held { reasons }
                if reasons.iter().any(|r| matches!(r, bridge_domain::orders::HoldReason::CreditHold { .. })));
            if credit_held {
                self.release_one(stored, &mut release).await;
            }
        }
        Ok(release.submitted + release.waiting_for_erp)
    }
}

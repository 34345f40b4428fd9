//! Order writeback (contract section 4): placed orders go to the ERP once the B2B checks
//! allow it, exactly once in effect; ERP status events update the order.
//!
//! Exactly once: the order is saved as `submitted` before the ERP is called; an attempt that
//! finds it `submitted` (a retry, a redelivery, a crash after the call) first asks the ERP
//! whether it has it, and the ERP call itself carries the order id as its idempotency key.
//! Transient failures retry through the message's visibility timeout, not by sleeping.

pub mod erp;
pub mod wiring;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bridge_domain::error::cause_chain;
use bridge_domain::events::{OrderPlaced, OrderStatusChanged};
use bridge_domain::orders::{OrderState, check_order};
use bridge_domain::ports::{
    CustomerStore, ErpError, ErpOrders, MessageQueue, ObjectStore, OrderStore, PriceStore,
    StoredOrder,
};
use bridge_domain::{DomainEvent, ErrorClass, PortError, Route};
use bridge_lambda::batch::BatchFailed;
use bridge_lambda::{
    BatchSettings, Config, ConfigError, ConsumedQueues, MessageError, MessageOutcome, Metrics,
    QueueVariables,
};
use chrono::Utc;
use std::sync::Arc;
use tracing::{Instrument, error, info, warn};

pub const FUNCTION_NAME: &str = "order-writeback";

tokio::task_local! {
    /// The correlation id of the message being handled: the ERP connector sends it on, so
    /// one id follows an order from the shop's webhook into the ERP's logs.
    pub static CORRELATION_ID: String;
}

/// The queues this function consumes; their URLs carry the retry backoff.
pub const QUEUES: [QueueVariables; 2] = [
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
];

#[derive(Debug, Clone)]
pub struct WritebackSettings {
    pub order_table: String,
    pub customer_table: String,
    pub price_table: String,
    pub payload_bucket: String,
    pub erp_base_url: String,
    pub erp_token_secret: String,
    pub queues: ConsumedQueues,
    /// Retry backoff of ERP failures: base and cap, in seconds.
    pub backoff: (u32, u32),
    pub max_receive_count: u32,
    /// Orders sent but without an ERP status for longer than this are reconciled.
    pub unconfirmed_after: chrono::Duration,
}

impl WritebackSettings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let queues = ConsumedQueues::from_config(config, &QUEUES)?;
        Ok(Self {
            order_table: config.required("ORDER_TABLE")?,
            customer_table: config.required("CUSTOMER_TABLE")?,
            price_table: config.required("PRICE_TABLE")?,
            payload_bucket: config.required("PAYLOAD_BUCKET")?,
            erp_base_url: config.required("ERP_BASE_URL")?,
            erp_token_secret: config.required("ERP_TOKEN_SECRET_ID")?,
            queues,
            max_receive_count: config.parsed("MAX_RECEIVE_COUNT", 5)?,
            backoff: (
                config.parsed("RETRY_BASE_SECONDS", 15)?,
                config.parsed("RETRY_MAX_SECONDS", 900)?,
            ),
            unconfirmed_after: chrono::Duration::minutes(
                config.parsed("UNCONFIRMED_AFTER_MINUTES", 60)?,
            ),
        })
    }
}

#[derive(Clone)]
pub struct WritebackPorts {
    pub orders: Arc<dyn OrderStore>,
    pub customers: Arc<dyn CustomerStore>,
    pub prices: Arc<dyn PriceStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub queue: Arc<dyn MessageQueue>,
    pub erp: Arc<dyn ErpOrders>,
    /// Whether the ERP circuit is open (for the metric and alarm).
    pub circuit_open: Arc<dyn Fn() -> bool + Send + Sync>,
    pub freshness: Arc<dyn bridge_domain::ports::FreshnessStore>,
}

#[derive(Debug, thiserror::Error)]
pub enum WritebackError {
    #[error("messages from {0} arrived, but no dead-letter queue is configured for that queue")]
    UnknownSourceQueue(String),
    #[error(transparent)]
    BatchFailed(#[from] BatchFailed),
}

impl From<WritebackError> for lambda_runtime::Diagnostic {
    fn from(err: WritebackError) -> Self {
        let error_type = match &err {
            WritebackError::UnknownSourceQueue(_) => "Permanent.UnknownSourceQueue",
            WritebackError::BatchFailed(_) => "Retryable.BatchFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: err.to_string(),
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
        ErpError::Ambiguous(m) => MessageError::retryable("erp_ambiguous", m),
        other => MessageError::retryable("erp_unavailable", other.to_string()),
    }
}

/// What a reconciliation found.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reconciliation {
    /// Submitted orders the ERP turned out to have.
    pub found: u64,
    /// Orders the ERP does not know although they were sent (or may have been).
    pub unknown: Vec<String>,
    /// Orders the ERP has but never confirmed.
    pub unconfirmed: Vec<String>,
}

/// What releasing held orders did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Release {
    pub submitted: u64,
    pub still_held: u64,
    pub failed: u64,
}

pub struct OrderWriteback {
    settings: WritebackSettings,
    ports: WritebackPorts,
}

impl OrderWriteback {
    pub fn new(settings: WritebackSettings, ports: WritebackPorts) -> Self {
        Self { settings, ports }
    }

    pub async fn handle_batch(&self, event: SqsEvent) -> Result<SqsBatchResponse, WritebackError> {
        let (result, mut metrics) = self.process(event).await;
        metrics.flush();
        result
    }

    /// One SQS batch (all from one queue), with the invocation's counts.
    pub async fn process(
        &self,
        event: SqsEvent,
    ) -> (Result<SqsBatchResponse, WritebackError>, Metrics) {
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
                Err(arn) => return Err(WritebackError::UnknownSourceQueue(arn)),
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
                    DomainEvent::OrderPlaced(order) => self.place(order).await,
                    DomainEvent::OrderStatusChanged(status) => self.status(status).await,
                    other => Err(MessageError::permanent(
                        "unexpected_event_type",
                        format!("{} does not belong on this queue", other.event_type()),
                    )),
                }
            })
            .await
    }

    /// A placed order: recorded once, checked, and sent when the checks allow it.
    pub async fn place(&self, order: OrderPlaced) -> Result<MessageOutcome, MessageError> {
        let id = order.order_id.clone();
        let stored = match self.ports.orders.get(&id).await.map_err(store_failure)? {
            // The shop sent the order again with changes (an approval added, a corrected
            // price) before it reached the ERP: the new version is the one to check and send.
            Some(mut stored) if stored.state.may_submit() && stored.order != order => {
                info!(order_id = %id, "order updated by the shop before submission");
                stored.order = order;
                stored.version += 1;
                if !self
                    .ports
                    .orders
                    .save(&stored)
                    .await
                    .map_err(store_failure)?
                {
                    return Err(MessageError::retryable(
                        "concurrent_update",
                        "the order changed while it was handled",
                    ));
                }
                stored
            }
            Some(stored) => stored,
            None => {
                let stored = StoredOrder::new(order, Utc::now());
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
                    // Another delivery recorded it first.
                    self.ports
                        .orders
                        .get(&id)
                        .await
                        .map_err(store_failure)?
                        .ok_or_else(|| {
                            MessageError::retryable(
                                "store_unavailable",
                                "the order vanished after its insert",
                            )
                        })?
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
                match self.ports.erp.find(&id).await.map_err(erp_failure)? {
                    Some(number) => self.accept(stored, number).await,
                    None => self.submit(stored).await,
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
            Ok(number) => self.accept(stored, number).await,
            Err(ErpError::Rejected { errors }) => {
                warn!(order_id = %id, errors = ?errors, outcome = "rejected", "the ERP rejected the order");
                let message = errors.join("; ");
                self.save(&mut stored, OrderState::Rejected { errors })
                    .await?;
                Err(MessageError::permanent("erp_rejected", message))
            }
            Err(ErpError::Conflict(message)) => {
                match self.ports.erp.find(&id).await.map_err(erp_failure)? {
                    Some(number) => self.accept(stored, number).await,
                    None => {
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
                Err(erp_failure(err))
            }
        }
    }

    async fn accept(
        &self,
        mut stored: StoredOrder,
        erp_order_number: String,
    ) -> Result<MessageOutcome, MessageError> {
        info!(order_id = %stored.order.order_id, %erp_order_number, outcome = "submitted", "the ERP has the order");
        self.save(&mut stored, OrderState::Accepted { erp_order_number })
            .await?;
        Ok("Submitted")
    }

    async fn save(&self, stored: &mut StoredOrder, state: OrderState) -> Result<(), MessageError> {
        stored.transition(state, Utc::now());
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
        Ok(check_order(order, customer.as_ref(), &prices))
    }

    /// An ERP status event: newer revisions win.
    pub async fn status(&self, event: OrderStatusChanged) -> Result<MessageOutcome, MessageError> {
        for _ in 0..3 {
            let Some(mut stored) = self
                .ports
                .orders
                .get(&event.order_id)
                .await
                .map_err(store_failure)?
            else {
                return Err(MessageError::permanent(
                    "unknown_order",
                    format!(
                        "order {} was never placed through the bridge",
                        event.order_id
                    ),
                ));
            };
            let Some(state) = stored.state.with_status(&event) else {
                return Ok("Stale");
            };
            match self.save(&mut stored, state).await {
                Ok(()) => {
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
                    return Ok("Applied");
                }
                Err(err) if err.code == "concurrent_update" => continue,
                Err(err) => return Err(err),
            }
        }
        Err(MessageError::retryable(
            "concurrent_update",
            "the order kept changing",
        ))
    }

    /// Asks the ERP about orders sent longer than `unconfirmed_after` ago that have no ERP
    /// status yet: a submitted one it has is recorded as accepted; one it does not know, or
    /// one it never confirmed, is counted (and alarms).
    pub async fn reconcile(&self, now: chrono::DateTime<Utc>) -> Result<Reconciliation, PortError> {
        let mut result = Reconciliation::default();
        let cutoff = now - self.settings.unconfirmed_after;
        for state in ["submitted", "accepted"] {
            for stored in self.ports.orders.in_state(state).await? {
                let since = stored.history.last().map(|t| t.at).unwrap_or(now);
                if since > cutoff {
                    continue;
                }
                let id = stored.order.order_id.clone();
                match self.ports.erp.find(&id).await {
                    Ok(Some(number)) if state == "submitted" => {
                        if self.accept(stored, number).await.is_ok() {
                            result.found += 1;
                        }
                    }
                    Ok(Some(_)) => result.unconfirmed.push(id.to_string()),
                    Ok(None) => {
                        warn!(order_id = %id, state, "the ERP does not know an order the bridge sent");
                        result.unknown.push(id.to_string());
                    }
                    Err(err) => {
                        warn!(order_id = %id, error = %err, "reconciliation could not reach the ERP");
                    }
                }
            }
        }
        let mut metrics = Metrics::new(FUNCTION_NAME);
        metrics.add("ReconciledFound", result.found);
        metrics.add("OrdersUnknownToErp", result.unknown.len() as u64);
        metrics.add("OrdersUnconfirmed", result.unconfirmed.len() as u64);
        metrics.flush();
        Ok(result)
    }

    /// Re-checks every held order; the ones whose reasons cleared go to the ERP.
    pub async fn release_held(&self) -> Result<Release, PortError> {
        let mut release = Release::default();
        for stored in self.ports.orders.in_state("held").await? {
            let id = stored.order.order_id.clone();
            match self.advance(stored).await {
                Ok("Held") => release.still_held += 1,
                Ok(_) => release.submitted += 1,
                Err(err) => {
                    error!(order_id = %id, code = %err.code, reason = %err.message, "releasing a held order failed");
                    release.failed += 1;
                }
            }
        }
        let mut metrics = Metrics::new(FUNCTION_NAME);
        metrics.add("Released", release.submitted);
        metrics.add("StillHeld", release.still_held);
        metrics.add("ReleaseFailed", release.failed);
        metrics.flush();
        Ok(release)
    }
}

//! Shop orders (contract section 6): a commercetools Subscription delivers the shop's
//! `OrderCreated` messages to this function's queue; each becomes the
//! contract's `order.placed` and is handed to the intake as if the shop had posted it: the
//! same validation, the same receipts and the same queue. So a shop order takes the
//! existing writeback path (B2B checks, exactly one sales order in the ERP), and a message
//! the Subscription delivers three times is queued once: its receipt is the message's id.
//!
//! The Subscription's test message is counted and dropped; any other notification that is
//! not an `OrderCreated` of this stack's project, and any order that cannot become an
//! `order.placed` (no customer, a line without sku, a total the lines do not make, an
//! unreadable custom field), is dead-lettered with the field and the reason, never dropped; one that fails for a reason that passes (the shop or the intake's
//! stores unavailable) comes back after a growing wait (2, 4, 8, 16 minutes with the
//! defaults), so a shop down for half an hour loses no order, and one down for longer
//! leaves it in the dead-letter queue, alarmed, to be redriven.

pub mod wiring;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bridge_commercetools::wiring::{Reconnecting, is_credentials};
use bridge_domain::error::cause_chain;
use bridge_domain::ports::MessageQueue;
use bridge_domain::shop::{ShopNotification, ShopOrderFeed};
use bridge_domain::{EventType, Sender};
use bridge_lambda::batch::{Backoff, BatchFailed};
use bridge_lambda::{BatchSettings, Config, ConfigError, MessageError, MessageOutcome, Metrics};
use chrono::Utc;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tracing::{Instrument, info, warn};
use webhook_intake::{Accepted, EventIntake};

pub const FUNCTION_NAME: &str = "shop-orders";

pub const SHOP_ORDER_QUEUE_URL: &str = "SHOP_ORDER_QUEUE_URL";
pub const SHOP_ORDER_DLQ_URL: &str = "SHOP_ORDER_DLQ_URL";
/// The source the orders come in as (default `shop`): it must be configured in
/// `WEBHOOK_SOURCES` and may send `order.placed`.
pub const SHOP_ORDER_SOURCE: &str = "SHOP_ORDER_SOURCE";
pub const MAX_RECEIVE_COUNT: &str = "MAX_RECEIVE_COUNT";

/// The prefix of the receipt ids of notifications: apart from the shop's own webhook ids.
pub const RECEIPT_PREFIX: &str = "ct-message-";

#[derive(Debug, Clone)]
pub struct ShopOrderSettings {
    pub queue_url: String,
    pub dead_letter_queue: String,
    /// On this delivery a retryable failure is dead-lettered with its reason (the stack's
    /// `MaxReceiveCount`, 5 by default: about half an hour of waits).
    pub max_receive_count: u32,
    pub source: String,
    /// First wait before a retry; it doubles per delivery up to `backoff_max_seconds`
    /// (2, 4, 8, 16 minutes: a shop down for half an hour loses no order).
    pub backoff_base_seconds: u32,
    pub backoff_max_seconds: u32,
}

impl ShopOrderSettings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self {
            queue_url: config.required(SHOP_ORDER_QUEUE_URL)?,
            dead_letter_queue: config.required(SHOP_ORDER_DLQ_URL)?,
            max_receive_count: config.parsed(MAX_RECEIVE_COUNT, 5)?,
            source: config
                .optional(SHOP_ORDER_SOURCE)
                .unwrap_or_else(|| bridge_domain::Source::SHOP.to_string()),
            backoff_base_seconds: config.parsed("SHOP_ORDER_BACKOFF_BASE_SECONDS", 120)?,
            backoff_max_seconds: config.parsed("SHOP_ORDER_BACKOFF_MAX_SECONDS", 3600)?,
        })
    }
}

pub use webhook_intake::handover::SourceError;

/// The sender the orders come in as (`found`: what the intake's sources say of `source`),
/// checked: it must exist and may send `order.placed`.
pub fn order_sender(found: Option<Sender>, source: &str) -> Result<Sender, SourceError> {
    webhook_intake::handover::checked_sender(
        found,
        SHOP_ORDER_SOURCE,
        source,
        EventType::OrderPlaced,
    )
}

pub struct ShopOrders {
    settings: ShopOrderSettings,
    sender: Sender,
    /// Built again with the secret read again when the shop refuses the credentials.
    feed: Reconnecting<dyn ShopOrderFeed>,
    intake: Arc<dyn EventIntake>,
    queue: Arc<dyn MessageQueue>,
}

impl ShopOrders {
    pub fn new(
        settings: ShopOrderSettings,
        feed: Reconnecting<dyn ShopOrderFeed>,
        intake: Arc<dyn EventIntake>,
        queue: Arc<dyn MessageQueue>,
    ) -> Result<Self, SourceError> {
        let sender = order_sender(intake.sender(&settings.source), &settings.source)?;
        Ok(Self {
            settings,
            sender,
            feed,
            intake,
            queue,
        })
    }

    /// Handles one SQS batch and emits its metrics.
    pub async fn handle_batch(&self, event: SqsEvent) -> Result<SqsBatchResponse, BatchFailed> {
        let (result, mut metrics) = self.process(event).await;
        metrics.flush();
        result
    }

    pub async fn process(
        &self,
        event: SqsEvent,
    ) -> (Result<SqsBatchResponse, BatchFailed>, Metrics) {
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let span = tracing::info_span!(
            "batch",
            function = FUNCTION_NAME,
            size = event.records.len()
        );
        let settings = BatchSettings {
            function: FUNCTION_NAME,
            dead_letter_queue: &self.settings.dead_letter_queue,
            max_receive_count: self.settings.max_receive_count,
            queue: self.queue.as_ref(),
            backoff: Some(Backoff {
                queue_url: &self.settings.queue_url,
                base_seconds: self.settings.backoff_base_seconds,
                max_seconds: self.settings.backoff_max_seconds,
            }),
        };
        // The intake counts per message; the counts join the batch's after it.
        let intake_counts = Mutex::new(Vec::new());
        let result = bridge_lambda::process_batch(event, &settings, &mut metrics, |message| {
            self.handle_message(message, &intake_counts)
        })
        .instrument(span)
        .await;
        for counts in intake_counts
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
        {
            metrics.absorb(counts);
        }
        (result, metrics)
    }

    async fn handle_message(
        &self,
        message: SqsMessage,
        intake_counts: &Mutex<Vec<Metrics>>,
    ) -> Result<MessageOutcome, MessageError> {
        let body = message.body.as_deref().unwrap_or_default();
        let read = self
            .feed
            .current()
            .read_notification(body, message.message_id.as_deref())
            .await;
        let notification = match read {
            Ok(notification) => notification,
            Err(err) => {
                let code = if is_credentials(&err) {
                    // The record waits while an operator puts the secret; it is read again.
                    self.feed.credentials_refused().await;
                    "shop_credentials_refused"
                } else if err.is_retryable() {
                    "shop_unavailable"
                } else {
                    "order_refused"
                };
                return Err(MessageError {
                    class: err.class,
                    code: code.to_string(),
                    message: cause_chain(&err),
                });
            }
        };
        let (message_id, order) = match notification {
            ShopNotification::Ignored { what } => {
                info!(what, outcome = "ignored", "not an order notification");
                return Ok("NotificationIgnored");
            }
            ShopNotification::OrderPlaced { message_id, order } => (message_id, order),
        };
        let order_id = order.order_id.to_string();
        let span = tracing::info_span!("order", order_id = %order_id, shop_message_id = %message_id, correlation_id = %order_id);
        async {
            let body = json!({
                "type": EventType::OrderPlaced.as_str(),
                "timestamp": Utc::now().to_rfc3339(),
                "data": order,
            })
            .to_string();
            let receipt = format!("{RECEIPT_PREFIX}{message_id}");
            let mut counts = Metrics::new(FUNCTION_NAME);
            let accepted = webhook_intake::handover::accept_waiting(
                self.intake.as_ref(),
                &self.sender,
                &receipt,
                &order_id,
                body.as_bytes(),
                &mut counts,
            )
            .await;
            intake_counts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(counts);
            outcome(accepted)
        }
        .instrument(span)
        .await
    }
}

/// What the intake's answer means for the notification.
fn outcome(accepted: Accepted) -> Result<MessageOutcome, MessageError> {
    match accepted {
        Accepted::Queued => {
            info!(
                outcome = "queued",
                "the shop's order is on its way to the ERP"
            );
            Ok("OrderQueued")
        }
        Accepted::Duplicate => {
            info!(
                outcome = "duplicate",
                "the notification was delivered before; the order was queued then"
            );
            Ok("OrderDuplicate")
        }
        Accepted::Invalid(err) => Err(MessageError::permanent(
            "invalid_order",
            format!(
                "the order breaks the contract at {}: {} ({})",
                err.field.as_deref().unwrap_or("/"),
                err.message,
                err.code
            ),
        )),
        // The order was read again (it did not fit into the message) and changed since its
        // first delivery was queued: that one stands, later edits are the ERP's business.
        Accepted::Conflict => {
            warn!(
                outcome = "duplicate",
                "the order changed since the first delivery of its notification was queued; the first stands"
            );
            Ok("OrderDuplicate")
        }
        Accepted::InFlight => {
            warn!("another delivery of the same notification is still being handled");
            Err(MessageError::retryable(
                "in_flight",
                "another delivery of the same notification is being handled",
            ))
        }
        Accepted::Unavailable => Err(MessageError::retryable(
            "intake_unavailable",
            "the order could not be made durable (queue, receipts or bucket unavailable)",
        )),
    }
}

#[cfg(test)]
mod tests;

//! Price, stock and customer sync (contract section 2): applies `stock.changed`,
//! `price.changed`, `customer.changed` and the CRM's `contact.changed` from their queues to DynamoDB under the
//! revision guard. Lower or equal revisions change nothing and count as stale; what cannot
//! be applied goes to the source queue's dead-letter queue with its reason.

pub mod wiring;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bridge_domain::error::cause_chain;
use bridge_domain::freshness::Category;
use bridge_domain::ports::{
    ContactStore, CustomerStore, FreshnessStore, MessageQueue, ObjectStore, PriceStore, StockStore,
};
use bridge_domain::{ApplyOutcome, DomainEvent, ErrorClass, PortError, Route};
use bridge_lambda::{
    BatchSettings, Config, ConfigError, ConsumeError, ConsumedQueues, MessageError, MessageOutcome,
    Metrics, QueueVariables,
};
use std::sync::Arc;
use tracing::{Instrument, error, info};

pub const FUNCTION_NAME: &str = "price-stock-sync";

pub const STOCK_TABLE: &str = "STOCK_TABLE";
pub const PRICE_TABLE: &str = "PRICE_TABLE";
pub const PRICE_INDEX_TABLE: &str = "PRICE_INDEX_TABLE";
pub const CUSTOMER_TABLE: &str = "CUSTOMER_TABLE";
/// The CRM's contacts of each customer (`contact.changed` travels with the customers).
pub const CONTACT_TABLE: &str = "CONTACT_TABLE";
pub const PAYLOAD_BUCKET: &str = "PAYLOAD_BUCKET";
pub const MAX_RECEIVE_COUNT: &str = "MAX_RECEIVE_COUNT";
pub const FRESHNESS_TABLE: &str = "FRESHNESS_TABLE";
/// The queues this function consumes.
pub const QUEUES: [QueueVariables; 2] = [
    QueueVariables {
        arn: "STOCK_PRICE_QUEUE_ARN",
        url: None,
        dead_letter_queue: "STOCK_PRICE_DLQ_URL",
        route: Route::StockPrice,
    },
    QueueVariables {
        arn: "CUSTOMER_QUEUE_ARN",
        url: None,
        dead_letter_queue: "CUSTOMER_DLQ_URL",
        route: Route::Customers,
    },
];

#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub stock_table: String,
    pub price_table: String,
    pub price_index_table: String,
    pub customer_table: String,
    pub contact_table: String,
    pub payload_bucket: String,
    pub freshness_table: String,
    pub queues: ConsumedQueues,
    pub max_receive_count: u32,
}

impl SyncSettings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        config.apply_business_time_zone()?;
        let queues = ConsumedQueues::from_config(config, &QUEUES)?;
        Ok(Self {
            stock_table: config.required(STOCK_TABLE)?,
            price_table: config.required(PRICE_TABLE)?,
            price_index_table: config.required(PRICE_INDEX_TABLE)?,
            customer_table: config.required(CUSTOMER_TABLE)?,
            contact_table: config.required(CONTACT_TABLE)?,
            payload_bucket: config.required(PAYLOAD_BUCKET)?,
            freshness_table: config.required(FRESHNESS_TABLE)?,
            queues,
            max_receive_count: config.parsed(MAX_RECEIVE_COUNT, 5)?,
        })
    }
}

#[derive(Clone)]
pub struct SyncPorts {
    pub stock: Arc<dyn StockStore>,
    pub prices: Arc<dyn PriceStore>,
    pub customers: Arc<dyn CustomerStore>,
    pub contacts: Arc<dyn ContactStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub queue: Arc<dyn MessageQueue>,
    pub freshness: Arc<dyn FreshnessStore>,
}

pub struct PriceStockSync {
    settings: SyncSettings,
    ports: SyncPorts,
}

fn port_failure(err: PortError) -> MessageError {
    let code = if err.class == ErrorClass::Retryable {
        "store_unavailable"
    } else {
        "store_rejected"
    };
    MessageError {
        class: err.class,
        code: code.to_string(),
        message: cause_chain(&err),
    }
}

impl PriceStockSync {
    pub fn new(settings: SyncSettings, ports: SyncPorts) -> Self {
        Self { settings, ports }
    }

    /// Handles one SQS batch (all from one queue), emits its metrics and reports its
    /// partial failures.
    pub async fn handle_batch(&self, event: SqsEvent) -> Result<SqsBatchResponse, ConsumeError> {
        let (result, mut metrics) = self.process(event).await;
        metrics.flush();
        result
    }

    /// Handles one SQS batch and returns the response with the invocation's counts.
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
            let binding = match self.settings.queues.of_batch(&event) {
                Ok(Some(binding)) => binding,
                Ok(None) => return Ok(SqsBatchResponse::default()),
                Err(err) => return Err(err),
            };
            let settings = BatchSettings {
                function: FUNCTION_NAME,
                dead_letter_queue: &binding.dead_letter_queue,
                max_receive_count: self.settings.max_receive_count,
                queue: self.ports.queue.as_ref(),
                backoff: None,
            };
            let flowed = std::sync::Mutex::new(std::collections::BTreeSet::new());
            let result = bridge_lambda::process_batch(event, &settings, &mut metrics, |message| {
                self.handle_message(message, binding.route, &flowed)
            })
            .await;
            if let Err(err) = &result {
                error!(error = %err, "batch failed");
            }
            self.record_freshness(
                flowed.into_inner().unwrap_or_else(|p| p.into_inner()),
                &mut metrics,
            )
            .await;
            Ok(result?)
        }
        .instrument(span)
        .await;
        (result, metrics)
    }

    /// A category flowed when one of its events was applied or found stale: its data is as
    /// new as the sender's. Failing to record it must not fail the batch: it is logged and
    /// counted, and the freshness alarm is the safe side.
    async fn record_freshness(
        &self,
        categories: std::collections::BTreeSet<Category>,
        metrics: &mut Metrics,
    ) {
        let now = chrono::Utc::now();
        for category in &categories {
            if let Err(err) = self
                .ports
                .freshness
                .record(*category, now, FUNCTION_NAME)
                .await
            {
                error!(category = %category, error = %cause_chain(&err), "could not record freshness");
                metrics.add("FreshnessNotRecorded", 1);
            }
        }
        bridge_lambda::metrics::heartbeats(categories.iter().map(|c| c.as_str()));
    }

    async fn handle_message(
        &self,
        message: SqsMessage,
        route: Route,
        flowed: &std::sync::Mutex<std::collections::BTreeSet<Category>>,
    ) -> Result<MessageOutcome, MessageError> {
        let body = message.body.as_deref().unwrap_or_default();
        let parsed =
            bridge_lambda::envelope::read_event(body, route, self.ports.objects.as_ref()).await?;
        let record = parsed.event.record_key();
        let outcome = match &parsed.event {
            DomainEvent::StockChanged(stock) => self.ports.stock.apply_stock(stock).await,
            DomainEvent::PriceChanged(price) => self.ports.prices.apply_price(price).await,
            DomainEvent::CustomerChanged(customer) => {
                self.ports.customers.apply_customer(customer).await
            }
            DomainEvent::ContactChanged(contact) => {
                self.ports.contacts.apply_contact(contact).await
            }
            other => {
                return Err(MessageError::permanent(
                    "unexpected_event_type",
                    format!("{} does not belong on this queue", other.event_type()),
                ));
            }
        }
        .map_err(port_failure)?;
        let category = match &parsed.event {
            DomainEvent::StockChanged(_) => Some(Category::Stock),
            DomainEvent::PriceChanged(_) => Some(Category::Prices),
            DomainEvent::CustomerChanged(_) => Some(Category::Customers),
            _ => None,
        };
        if let Some(category) = category {
            flowed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(category);
        }
        Ok(match outcome {
            ApplyOutcome::Applied => {
                info!(event_type = %parsed.event_type, %record, "applied");
                "Applied"
            }
            ApplyOutcome::Stale { stored } => {
                info!(event_type = %parsed.event_type, %record, stored_revision = %stored, "stale revision ignored");
                "Stale"
            }
        })
    }
}

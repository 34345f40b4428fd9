//! Builds the function from its configuration and one AWS configuration, through its
//! [`Function`] contract.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `CATALOG_BUCKET` | the bucket of the inboxes (`logistics/inbox/`, `erp/inbox/`), their reports and the ERP's recorded answers | required |
//! | `ORDER_TABLE` | the orders the documents' references are looked up in | required |
//! | `CUSTOMER_TABLE` | the customers whose open items invoices change | required |
//! | `DOCUMENT_DLQ_URL` | dead-letter queue of the notification queue | required |
//! | `MAX_RECEIVE_COUNT` | the queue's `maxReceiveCount` | 5 |
//! | `DOCUMENT_SOURCE` | the source the shipments come in as | `logistics` |
//! | `ERP_DOCUMENT_SOURCE` | the source the ERP's answers (`erp/inbox/`) come in as | `erp` |
//! | the intake's (`WEBHOOK_SOURCES`, `RECEIPT_TABLE`, queues, ...) | as the webhook intake's | |

use crate::{DocumentInbox, DocumentSources, InboxPorts, answer_sender, shipment_sender};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bridge_aws::{DynamoCustomerStore, DynamoOrderStore, S3FileStore, SqsQueue};
use bridge_domain::Route;
use bridge_lambda::{Config, ConfigError, Failure, Function, Handler, InitError};
use std::sync::Arc;
use std::time::Instant;
use webhook_intake::IntakeSettings;

pub const CATALOG_BUCKET: &str = "CATALOG_BUCKET";
pub const ORDER_TABLE: &str = "ORDER_TABLE";
pub const CUSTOMER_TABLE: &str = "CUSTOMER_TABLE";
pub const DOCUMENT_DLQ_URL: &str = "DOCUMENT_DLQ_URL";
pub const MAX_RECEIVE_COUNT: &str = "MAX_RECEIVE_COUNT";
pub const DOCUMENT_SOURCE: &str = "DOCUMENT_SOURCE";
pub const ERP_DOCUMENT_SOURCE: &str = "ERP_DOCUMENT_SOURCE";

struct Wiring {
    catalog_bucket: String,
    order_table: String,
    customer_table: String,
    dead_letter_queue: String,
    max_receive_count: u32,
    source: String,
    erp_source: String,
}

impl Wiring {
    fn sources(&self) -> DocumentSources<'_> {
        DocumentSources {
            logistics: &self.source,
            erp: &self.erp_source,
        }
    }
}

fn wiring(config: &Config) -> Result<Wiring, ConfigError> {
    Ok(Wiring {
        catalog_bucket: config.required(CATALOG_BUCKET)?,
        order_table: config.required(ORDER_TABLE)?,
        customer_table: config.required(CUSTOMER_TABLE)?,
        dead_letter_queue: config.required(DOCUMENT_DLQ_URL)?,
        max_receive_count: config.parsed(MAX_RECEIVE_COUNT, 5)?,
        source: config
            .optional(DOCUMENT_SOURCE)
            .unwrap_or_else(|| "logistics".to_string()),
        erp_source: config
            .optional(ERP_DOCUMENT_SOURCE)
            .unwrap_or_else(|| "erp".to_string()),
    })
}

pub async fn build(
    config: &Config,
    aws: &aws_config::SdkConfig,
) -> Result<DocumentInbox, InitError> {
    let wiring = wiring(config)?;
    let intake = webhook_intake::wiring::build_for_handover(config, aws)?;
    Ok(DocumentInbox::new(
        InboxPorts {
            files: Arc::new(S3FileStore::new(
                bridge_aws::s3_client(aws),
                wiring.catalog_bucket.clone(),
            )),
            orders: Arc::new(DynamoOrderStore::new(
                bridge_aws::dynamodb_client(aws),
                wiring.order_table.clone(),
            )),
            customers: Arc::new(DynamoCustomerStore::new(
                bridge_aws::dynamodb_client(aws),
                wiring.customer_table.clone(),
            )),
            intake: Arc::new(intake),
            queue: Arc::new(SqsQueue::new(bridge_aws::sqs_client(aws))),
        },
        wiring.sources(),
        wiring.dead_letter_queue.clone(),
        wiring.max_receive_count,
    )?)
}

#[async_trait::async_trait]
impl Handler for DocumentInbox {
    async fn on_batch(
        &self,
        event: SqsEvent,
        _deadline: Instant,
    ) -> Result<SqsBatchResponse, Failure> {
        Ok(self.handle_batch(event).await?)
    }
}

#[async_trait::async_trait]
impl Function for DocumentInbox {
    const NAME: &'static str = crate::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        let wiring = wiring(config)?;
        let intake = IntakeSettings::for_handover(config)?;
        intake.require_queues(&[Route::OrderStatus])?;
        shipment_sender(intake.sources.sender(&wiring.source), &wiring.source)?;
        answer_sender(
            intake.sources.sender(&wiring.erp_source),
            &wiring.erp_source,
        )?;
        Ok(())
    }

    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        build(config, aws).await
    }
}

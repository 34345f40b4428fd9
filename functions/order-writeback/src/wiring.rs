//! Builds the writeback from its configuration: the Lambda binary and the local stack wire
//! it the same way. The ERP token is read from Secrets Manager once per cold start.

use crate::documents::DocumentErp;
use crate::erp::{Circuit, HttpCrm, HttpErp};
use crate::{Connector, OrderWriteback, WritebackPorts, WritebackSettings};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bridge_aws::{
    DynamoContactStore, DynamoCustomerStore, DynamoOrderStore, DynamoPostingStore,
    DynamoPriceStore, S3FileStore, S3ObjectStore, SqsQueue, load_secret_string,
};
use bridge_domain::ports::{CustomerStore, ErpOrders};
use bridge_lambda::{Config, Failure, Function, Handler, InitError};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What needs no network, checked at init: a misconfigured function fails there.
pub fn check(config: &Config) -> anyhow::Result<()> {
    WritebackSettings::from_config(config)?;
    config.parsed::<u64>("ERP_TIMEOUT_SECONDS", 10)?;
    Ok(())
}

pub async fn build(config: &Config, aws: &aws_config::SdkConfig) -> anyhow::Result<OrderWriteback> {
    let settings = WritebackSettings::from_config(config)?;
    let dynamo = bridge_aws::dynamodb_client(aws);
    let customers: Arc<dyn CustomerStore> = Arc::new(DynamoCustomerStore::new(
        dynamo.clone(),
        settings.customer_table.clone(),
    ));
    // Returns and payments go to the REST API whichever connector sends the orders.
    let token =
        load_secret_string(&bridge_aws::secrets_client(aws), &settings.erp_token_secret).await?;
    let timeout = Duration::from_secs(config.parsed("ERP_TIMEOUT_SECONDS", 10)?);
    let threshold = config.parsed("ERP_CIRCUIT_THRESHOLD", 5)?;
    let cool_down = Duration::from_secs(config.parsed("ERP_CIRCUIT_COOL_DOWN_SECONDS", 30)?);
    let rest = Arc::new(Circuit::new(
        HttpErp::new(&settings.erp_base_url, token.trim(), timeout)?,
        threshold,
        cool_down,
    ));
    let crm_token =
        load_secret_string(&bridge_aws::secrets_client(aws), &settings.crm_token_secret).await?;
    let crm = Arc::new(HttpCrm::new(
        &settings.crm_base_url,
        crm_token.trim(),
        timeout,
    )?);
    let erp: Box<dyn ErpOrders> = match &settings.connector {
        Connector::Rest => Box::new(HttpErp::new(&settings.erp_base_url, token.trim(), timeout)?),
        Connector::OpenTrans {
            bucket,
            supplier_id,
        } => Box::new(DocumentErp::new(
            Arc::new(S3FileStore::new(bridge_aws::s3_client(aws), bucket.clone())),
            customers.clone(),
            supplier_id.clone(),
        )),
    };
    let circuit = Arc::new(Circuit::around(erp, threshold, cool_down));
    let circuit_state = circuit.clone();
    let ports = WritebackPorts {
        orders: Arc::new(DynamoOrderStore::new(
            dynamo.clone(),
            settings.order_table.clone(),
        )),
        customers,
        contacts: Arc::new(DynamoContactStore::new(
            dynamo.clone(),
            settings.contact_table.clone(),
        )),
        erp_postings: rest,
        returns: Arc::new(DynamoPostingStore::new(
            dynamo.clone(),
            settings.posting_table.clone(),
        )),
        payments: Arc::new(DynamoPostingStore::new(
            dynamo.clone(),
            settings.posting_table.clone(),
        )),
        leads: Arc::new(DynamoPostingStore::new(
            dynamo.clone(),
            settings.posting_table.clone(),
        )),
        crm,
        prices: Arc::new(DynamoPriceStore::windows_only(
            dynamo.clone(),
            settings.price_table.clone(),
        )),
        objects: Arc::new(S3ObjectStore::new(
            bridge_aws::s3_client(aws),
            settings.payload_bucket.clone(),
        )),
        queue: Arc::new(SqsQueue::new(bridge_aws::sqs_client(aws))),
        erp: circuit,
        circuit_open: Arc::new(move || circuit_state.is_open()),
        freshness: Arc::new(bridge_aws::DynamoFreshnessStore::new(
            dynamo.clone(),
            config.required("FRESHNESS_TABLE")?,
        )),
        // Where each scheduled walk over an order state stopped.
        cursors: Arc::new(bridge_aws::DynamoPullStateStore::new(
            dynamo,
            config.required("PULL_STATE_TABLE")?,
        )),
    };
    Ok(OrderWriteback::new(settings, ports))
}

#[async_trait::async_trait]
impl Handler for OrderWriteback {
    /// Placed orders, ERP status events, returns and payments.
    async fn on_batch(
        &self,
        event: SqsEvent,
        _deadline: Instant,
    ) -> Result<SqsBatchResponse, Failure> {
        Ok(self.handle_batch(event).await?)
    }

    /// Releases held orders whose reasons cleared, resumes what has not reached the ERP,
    /// reconciles what it never confirmed.
    async fn on_schedule(&self, _deadline: Instant) -> Result<Value, Failure> {
        let run = self.scheduled(chrono::Utc::now()).await?;
        bridge_lambda::function::json_result(run)
    }
}

#[async_trait::async_trait]
impl Function for OrderWriteback {
    const NAME: &'static str = crate::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        Ok(check(config)?)
    }

    /// The ERP token is read here, in the background from init on.
    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        Ok(build(config, aws).await?)
    }
}

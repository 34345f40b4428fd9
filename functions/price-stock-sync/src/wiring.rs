//! Builds the sync from its configuration and one AWS configuration: the Lambda binary
//! and the local stack wire it the same way, through its [`Function`] contract.

use crate::{PriceStockSync, SyncPorts, SyncSettings};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bridge_aws::{
    DynamoCustomerStore, DynamoFreshnessStore, DynamoPriceStore, DynamoStockStore, S3ObjectStore,
    SqsQueue,
};
use bridge_lambda::{Config, ConfigError, Failure, Function, Handler, InitError};
use std::sync::Arc;
use std::time::Instant;

pub fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<PriceStockSync, ConfigError> {
    let settings = SyncSettings::from_config(config)?;
    let dynamo = bridge_aws::dynamodb_client(aws);
    let ports = SyncPorts {
        stock: Arc::new(DynamoStockStore::new(
            dynamo.clone(),
            settings.stock_table.clone(),
        )),
        prices: Arc::new(DynamoPriceStore::new(
            dynamo.clone(),
            settings.price_table.clone(),
            settings.price_index_table.clone(),
        )),
        customers: Arc::new(DynamoCustomerStore::new(
            dynamo.clone(),
            settings.customer_table.clone(),
        )),
        contacts: Arc::new(bridge_aws::DynamoContactStore::new(
            dynamo.clone(),
            settings.contact_table.clone(),
        )),
        objects: Arc::new(S3ObjectStore::new(
            bridge_aws::s3_client(aws),
            settings.payload_bucket.clone(),
        )),
        queue: Arc::new(SqsQueue::new(bridge_aws::sqs_client(aws))),
        freshness: Arc::new(DynamoFreshnessStore::new(
            dynamo,
            settings.freshness_table.clone(),
        )),
    };
    Ok(PriceStockSync::new(settings, ports))
}

#[async_trait::async_trait]
impl Handler for PriceStockSync {
    async fn on_batch(
        &self,
        event: SqsEvent,
        _deadline: Instant,
    ) -> Result<SqsBatchResponse, Failure> {
        Ok(self.handle_batch(event).await?)
    }
}

#[async_trait::async_trait]
impl Function for PriceStockSync {
    const NAME: &'static str = crate::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        SyncSettings::from_config(config)?;
        Ok(())
    }

    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        Ok(build(config, aws)?)
    }
}

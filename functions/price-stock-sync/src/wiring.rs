//! Builds the sync from its configuration and one AWS configuration: the Lambda binary
//! and the local stack wire it the same way.

use crate::{PriceStockSync, SyncPorts, SyncSettings};
use bridge_aws::{
    DynamoCustomerStore, DynamoFreshnessStore, DynamoPriceStore, DynamoStockStore, S3ObjectStore,
    SqsQueue,
};
use bridge_lambda::{Config, ConfigError};
use std::sync::Arc;

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
        )),
        customers: Arc::new(DynamoCustomerStore::new(
            dynamo.clone(),
            settings.customer_table.clone(),
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

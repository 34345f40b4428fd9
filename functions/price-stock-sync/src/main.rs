//! Lambda entry point: clients once per cold start, then the batch handler.

use bridge_aws::{
    DynamoCustomerStore, DynamoPriceStore, DynamoStockStore, S3ObjectStore, SqsQueue, load_config,
};
use bridge_lambda::Config;
use lambda_runtime::{LambdaEvent, service_fn};
use price_stock_sync::{PriceStockSync, SyncPorts, SyncSettings};
use std::sync::Arc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let settings = SyncSettings::from_config(&Config::from_env())?;
    let aws = load_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let ports = SyncPorts {
        stock: Arc::new(DynamoStockStore::new(dynamo.clone(), settings.stock_table.clone())),
        prices: Arc::new(DynamoPriceStore::new(dynamo.clone(), settings.price_table.clone())),
        customers: Arc::new(DynamoCustomerStore::new(dynamo, settings.customer_table.clone())),
        objects: Arc::new(S3ObjectStore::new(
            bridge_aws::s3_client(&aws),
            settings.payload_bucket.clone(),
        )),
        queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&aws))),
    };
    let sync = PriceStockSync::new(settings, ports);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let sync = &sync;
        async move { sync.handle_batch(event.payload).await }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

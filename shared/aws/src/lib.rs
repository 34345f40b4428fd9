//! AWS adapters behind the domain's ports.
//!
//! **API boundary:** SDK types stop here. Every SDK error becomes a classified
//! [`PortError`](bridge_domain::PortError): throttling, timeouts and 5xx are retryable,
//! everything else permanent, decided from the error's kind and code, never its text.

mod batch;
pub mod catalog;
mod classify;
pub mod clients;
pub mod counting;
pub mod dynamo;
pub mod orders;
pub mod postings;
pub mod price_index;
pub mod pull;
pub mod rate;
pub mod s3;
pub mod secrets;
pub mod sqs;

pub use catalog::{DynamoCatalogStore, DynamoImportLedger, S3FileStore};
pub use classify::classify;
pub use clients::{
    dynamodb_client, https_client, intercept_all, load_function_config, s3_client, secrets_client,
    sqs_client,
};
pub use dynamo::{
    DynamoContactStore, DynamoCustomerStore, DynamoFreshnessStore, DynamoPriceStore,
    DynamoReceiptStore, DynamoStockStore, IndexRebuild,
};
pub use orders::DynamoOrderStore;
pub use postings::DynamoPostingStore;
pub use pull::DynamoPullStateStore;
pub use rate::DynamoRateLimiter;
pub use s3::S3ObjectStore;
pub use secrets::load_secret_string;
pub use sqs::SqsQueue;

/// Time limits of every AWS call: well inside a function's 30 s, so that one hung call
/// fails its message (and is retried) instead of timing out the whole invocation.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(2))
        .operation_attempt_timeout(std::time::Duration::from_secs(5))
        .operation_timeout(std::time::Duration::from_secs(10))
        .build()
}

/// Loads the shared AWS configuration once (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts())
        .load()
        .await
}

//! Lambda entry point: SQS batches (placed orders, status events); the schedule releases
//! held orders whose reasons cleared and resumes submitted ones that wait for the ERP.

use bridge_lambda::{Config, Prefetch};
use lambda_runtime::{LambdaEvent, service_fn};
use order_writeback::wiring;
use serde_json::Value;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let config = Config::from_env();
    wiring::check(&config)?;
    let aws = bridge_aws::load_function_config().await;
    // The ERP token and the clients load in the background; the first invocation awaits them.
    let writeback = Prefetch::start(move || {
        let (config, aws) = (config.clone(), aws.clone());
        async move { wiring::build(&config, &aws).await }
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let writeback = &writeback;
        async move {
            let writeback = writeback
                .get()
                .await
                .map_err(|e| lambda_runtime::Error::from(format!("{e:#}")))?;
            if event.payload.get("Records").is_some() {
                let sqs = serde_json::from_value(event.payload)?;
                let response = writeback.handle_batch(sqs).await?;
                Ok::<Value, lambda_runtime::Error>(serde_json::to_value(response)?)
            } else {
                // The schedule: release what cleared, resume what has not reached the ERP,
                // reconcile what it never confirmed.
                let run = writeback.scheduled(chrono::Utc::now()).await?;
                Ok(serde_json::to_value(run)?)
            }
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

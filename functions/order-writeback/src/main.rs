//! Lambda entry point: SQS batches (placed orders, status events); the schedule releases
//! held orders whose reasons cleared.

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
                // The schedule: release what cleared, then reconcile what is unconfirmed.
                let release = writeback.release_held().await?;
                let reconciliation = writeback.reconcile(chrono::Utc::now()).await?;
                Ok(serde_json::json!({"release": release, "reconciliation": reconciliation}))
            }
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

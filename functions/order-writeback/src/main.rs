//! Lambda entry point: SQS batches (placed orders, status events); the schedule releases
//! held orders whose reasons cleared.

use bridge_lambda::Config;
use lambda_runtime::{LambdaEvent, service_fn};
use order_writeback::wiring;
use serde_json::Value;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let aws = bridge_aws::load_config().await;
    let writeback = wiring::build(&Config::from_env(), &aws).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let writeback = &writeback;
        async move {
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

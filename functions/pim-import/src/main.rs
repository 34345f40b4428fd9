//! Lambda entry point: clients once per cold start; SQS batches import, the schedule sweeps.

use bridge_lambda::Config;
use lambda_runtime::{LambdaEvent, service_fn};
use pim_import::wiring;
use serde_json::Value;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let aws = bridge_aws::load_function_config().await;
    let handler = wiring::build(&Config::from_env(), &aws)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let handler = &handler;
        async move {
            let remaining = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let deadline = Instant::now() + remaining;
            if event.payload.get("Records").is_some() {
                let sqs = serde_json::from_value(event.payload)?;
                let response = handler.handle_sqs(sqs, deadline).await?;
                Ok::<Value, lambda_runtime::Error>(serde_json::to_value(response)?)
            } else {
                let queued = handler.sweep().await?;
                Ok(serde_json::json!({"queued": queued}))
            }
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

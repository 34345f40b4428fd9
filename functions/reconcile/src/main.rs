//! Lambda entry point: clients once per cold start; SQS batches (S3 notifications of new
//! snapshots) reconcile, the schedule sweeps.

use bridge_lambda::Config;
use lambda_runtime::{LambdaEvent, service_fn};
use reconcile::wiring;
use serde_json::Value;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let aws = bridge_aws::load_function_config().await;
    let handler = wiring::build(&Config::from_env(), &aws)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let handler = &handler;
        async move {
            if event.payload.get("Records").is_some() {
                let sqs = serde_json::from_value(event.payload)?;
                let response = handler.handle_sqs(sqs).await?;
                Ok::<Value, lambda_runtime::Error>(serde_json::to_value(response)?)
            } else {
                let reports = handler.sweep().await?;
                let files: Vec<&str> = reports.iter().map(|r| r.file.as_str()).collect();
                Ok(serde_json::json!({"reconciled": files}))
            }
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

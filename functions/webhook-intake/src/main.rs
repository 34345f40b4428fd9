//! Lambda entry point: clients and secrets once per cold start, then the handler.

use anyhow::Context;
use bridge_aws::{DynamoReceiptStore, S3ObjectStore, SqsQueue, load_config, load_secret_string};
use bridge_lambda::Config;
use lambda_runtime::{LambdaEvent, service_fn};
use std::sync::Arc;
use webhook_intake::config::{SigningSecrets, WEBHOOK_SECRET_ID};
use webhook_intake::{Intake, IntakePorts, IntakeSettings, lambda};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let config = Config::from_env();
    let aws = load_config().await;
    let secret_id = config.required(WEBHOOK_SECRET_ID)?;
    let secrets_client = aws_sdk_secretsmanager::Client::new(&aws);
    let secret = load_secret_string(&secrets_client, &secret_id)
        .await
        .with_context(|| format!("reading the webhook signing secrets from {secret_id}"))?;
    let secrets = SigningSecrets::from_json(&secret)?;
    let settings = IntakeSettings::from_config(&config, secrets)?;
    let ports = IntakePorts {
        queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&aws))),
        receipts: Arc::new(DynamoReceiptStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            settings.receipt_table.clone(),
            settings.receipt_retention_seconds,
        )),
        objects: Arc::new(S3ObjectStore::new(
            bridge_aws::s3_client(&aws),
            settings.payload_bucket.clone(),
        )),
    };
    let intake = Intake::new(settings, ports);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let intake = &intake;
        async move { Ok::<_, lambda_runtime::Error>(lambda::handle_event(intake, event.payload).await) }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

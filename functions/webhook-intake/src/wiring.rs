//! Builds the intake from its configuration and one AWS configuration: the Lambda binary
//! and the local stack wire it the same way.

use crate::config::{SecretsError, SigningSecrets, WEBHOOK_SECRET_ID};
use crate::{Intake, IntakePorts, IntakeSettings, SecretRefresh};
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use bridge_aws::{DynamoReceiptStore, S3ObjectStore, SqsQueue, load_secret_string};
use bridge_domain::PortError;
use bridge_lambda::{Config, ConfigError, Failure, Function, Handler, InitError};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reading the webhook signing secrets: {0}")]
    Secret(#[from] PortError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// What needs no network, checked at init: a misconfigured function fails there.
pub fn check(config: &Config) -> Result<(), WiringError> {
    config.required(WEBHOOK_SECRET_ID)?;
    IntakeSettings::from_config(config, SigningSecrets::default())?;
    Ok(())
}

/// Reads the signing secrets and builds the clients (once per cold start); the secrets are
/// read again every `SECRET_REFRESH_SECONDS` (default 60) and on a signature no current
/// secret verifies (at most every `SECRET_RECHECK_SECONDS`, default 10).
pub async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Intake, WiringError> {
    let secret_id = config.required(WEBHOOK_SECRET_ID)?;
    let secrets_client = bridge_aws::secrets_client(aws);
    let secret = load_secret_string(&secrets_client, &secret_id).await?;
    let sources = IntakeSettings::sources(config)?;
    let settings =
        IntakeSettings::from_config(config, SigningSecrets::from_json(&secret, &sources)?)?;
    for source in settings.sources_without_secrets() {
        // Not fatal: the entry may be added to the secret before the sender goes live (it
        // is read again), but until then every request of this source gets 401.
        tracing::warn!(%source, "configured source has no signing secret; its requests are refused until the secret has an entry for it");
    }
    let refresh = SecretRefresh {
        load: Arc::new(move || {
            let (client, id) = (secrets_client.clone(), secret_id.clone());
            let sources = sources.clone();
            Box::pin(async move {
                let text = load_secret_string(&client, &id)
                    .await
                    .map_err(|e| e.to_string())?;
                SigningSecrets::from_json(&text, &sources).map_err(|e| e.to_string())
            })
        }),
        every: std::time::Duration::from_secs(config.parsed("SECRET_REFRESH_SECONDS", 60)?),
        on_unknown_after: std::time::Duration::from_secs(
            config.parsed("SECRET_RECHECK_SECONDS", 10)?,
        ),
    };
    let ports = ports(&settings, aws);
    Ok(Intake::new(settings, ports).with_refresh(refresh))
}

/// The intake as another function hands events over to it (the delta pull, the shop's
/// order feed): the same rules, receipts and queues, built without signing secrets, since
/// those events are authenticated on their own way in.
pub fn build_for_handover(
    config: &Config,
    aws: &aws_config::SdkConfig,
) -> Result<Intake, ConfigError> {
    let settings = IntakeSettings::for_handover(config)?;
    let ports = ports(&settings, aws);
    Ok(Intake::new(settings, ports))
}

/// The intake's queues, receipts and claim-check bucket on AWS.
fn ports(settings: &IntakeSettings, aws: &aws_config::SdkConfig) -> IntakePorts {
    IntakePorts {
        queue: Arc::new(SqsQueue::new(bridge_aws::sqs_client(aws))),
        receipts: Arc::new(DynamoReceiptStore::new(
            bridge_aws::dynamodb_client(aws),
            settings.receipt_table.clone(),
            settings.receipt_retention_seconds,
        )),
        objects: Arc::new(S3ObjectStore::new(
            bridge_aws::s3_client(aws),
            settings.payload_bucket.clone(),
        )),
    }
}

#[async_trait::async_trait]
impl Handler for Intake {
    /// A webhook request of the HTTP API; every outcome is an HTTP answer.
    async fn on_http(
        &self,
        request: ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, Failure> {
        Ok(crate::lambda::handle_event(self, request).await)
    }
}

#[async_trait::async_trait]
impl Function for Intake {
    const NAME: &'static str = crate::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        Ok(check(config)?)
    }

    /// The signing secrets are read here, in the background from init on.
    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        Ok(build(config, aws).await?)
    }
}

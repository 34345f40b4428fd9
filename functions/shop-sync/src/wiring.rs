//! Builds the shop sync from its configuration: the commercetools client (its client secret
//! from Secrets Manager, or `CTP_CLIENT_SECRET` where a local run has no secret store) and
//! the dead-letter queue, through its [`Function`] contract.

use crate::{Reconnect, ShopSync, ShopSyncSettings};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use bridge_aws::SqsQueue;
use bridge_commercetools::wiring;
use bridge_domain::shop::Shop;
use bridge_lambda::{Config, Failure, Function, Handler, InitError};
use std::sync::Arc;
use std::time::Instant;

/// The shop client with the client secret as it is now.
async fn connect(
    config: &Config,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<Arc<dyn Shop>, InitError> {
    Ok(Arc::new(wiring::connect(config, secrets).await?))
}

#[async_trait::async_trait]
impl Handler for ShopSync {
    async fn on_stream(
        &self,
        event: StreamEvent,
        deadline: Instant,
    ) -> Result<DynamoDbEventResponse, Failure> {
        Ok(self.handle_stream(event, deadline).await)
    }
}

#[async_trait::async_trait]
impl Function for ShopSync {
    const NAME: &'static str = crate::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        ShopSyncSettings::from_config(config)?;
        wiring::check(config)
    }

    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        let settings = ShopSyncSettings::from_config(config)?;
        let secrets = bridge_aws::secrets_client(aws);
        let shop = connect(config, &secrets).await?;
        let queue = SqsQueue::new(bridge_aws::sqs_client(aws));
        let sync = ShopSync::new(settings, shop, Arc::new(queue));
        if !wiring::secret_is_managed(config) {
            // A secret from the environment cannot change while the process runs.
            return Ok(sync);
        }
        let config = config.clone();
        let reconnect: Reconnect = Arc::new(move || {
            let (config, secrets) = (config.clone(), secrets.clone());
            Box::pin(async move { connect(&config, &secrets).await.map_err(|e| e.to_string()) })
        });
        Ok(sync.with_reconnect(reconnect))
    }
}

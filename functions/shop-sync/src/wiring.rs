//! Builds the shop sync from its configuration: the commercetools client (its client secret
//! from Secrets Manager, or `CTP_CLIENT_SECRET` where a local run has no secret store) and
//! the dead-letter queue, through its [`Function`] contract.

use crate::{Reconnect, ShopSync, ShopSyncSettings};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use bridge_aws::SqsQueue;
use bridge_commercetools::{ClientSecret, CommercetoolsConfig, CommercetoolsShop};
use bridge_domain::shop::Shop;
use bridge_lambda::{Config, Failure, Function, Handler, InitError};
use std::sync::Arc;
use std::time::Instant;

/// The Secrets Manager id of the API client's secret.
pub const CTP_CLIENT_SECRET_ID: &str = "CTP_CLIENT_SECRET_ID";

fn shop_config(config: &Config, secret: ClientSecret) -> Result<CommercetoolsConfig, InitError> {
    Ok(CommercetoolsConfig::from_lookup_with_secret(
        |name| config.optional(name),
        secret,
    )?)
}

/// The shop client with the client secret as it is now: Secrets Manager's
/// (`CTP_CLIENT_SECRET_ID`), or `CTP_CLIENT_SECRET` where a local run has no secret store.
async fn connect(
    config: &Config,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<Arc<dyn Shop>, InitError> {
    let secret = match config.optional(CTP_CLIENT_SECRET_ID) {
        Some(id) => bridge_aws::load_secret_string(secrets, &id).await?,
        None => config.required(bridge_commercetools::CTP_CLIENT_SECRET)?,
    };
    let shop = CommercetoolsShop::new(&shop_config(config, ClientSecret::new(secret))?)?;
    Ok(Arc::new(shop))
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
        // Everything but the secret, which only `build` reads.
        shop_config(config, ClientSecret::new("read at build"))?;
        if config.optional(CTP_CLIENT_SECRET_ID).is_none()
            && config
                .optional(bridge_commercetools::CTP_CLIENT_SECRET)
                .is_none()
        {
            return Err(format!(
                "neither {CTP_CLIENT_SECRET_ID} nor {} is set",
                bridge_commercetools::CTP_CLIENT_SECRET
            )
            .into());
        }
        Ok(())
    }

    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        let settings = ShopSyncSettings::from_config(config)?;
        let secrets = bridge_aws::secrets_client(aws);
        let shop = connect(config, &secrets).await?;
        let queue = SqsQueue::new(bridge_aws::sqs_client(aws));
        let sync = ShopSync::new(settings, shop, Arc::new(queue));
        if config.optional(CTP_CLIENT_SECRET_ID).is_none() {
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

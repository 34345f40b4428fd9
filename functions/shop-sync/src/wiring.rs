//! Builds the shop sync from its configuration: the commercetools client (its client secret
//! from Secrets Manager, or `CTP_CLIENT_SECRET` where a local run has no secret store) and
//! the dead-letter queue, through its [`Function`] contract.

use crate::{PriceSources, ShopSync, ShopSyncSettings};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use bridge_aws::SqsQueue;
use bridge_commercetools::wiring;
use bridge_domain::shop::Shop;
use bridge_lambda::{Config, Failure, Function, Handler, InitError};
use std::sync::Arc;
use std::time::Instant;

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
        config.required("FRESHNESS_TABLE")?;
        wiring::check(config)
    }

    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        let settings = ShopSyncSettings::from_config(config)?;
        let shop = wiring::connect_reconnecting(
            config,
            &bridge_aws::secrets_client(aws),
            |shop| -> Arc<dyn Shop> { Arc::new(shop) },
        )
        .await?;
        let queue = SqsQueue::new(bridge_aws::sqs_client(aws));
        let dynamodb = bridge_aws::dynamodb_client(aws);
        let freshness = Arc::new(bridge_aws::DynamoFreshnessStore::new(
            dynamodb.clone(),
            config.required("FRESHNESS_TABLE")?,
        ));
        let prices = PriceSources {
            store: Arc::new(bridge_aws::DynamoPriceStore::windows_only(
                dynamodb,
                settings.price_table.clone(),
            )),
            // The combinations of price lists live beside the freshness items.
            registry: freshness.clone(),
        };
        Ok(ShopSync::with_shop(settings, shop, Arc::new(queue))
            .with_freshness(freshness)
            .with_prices(prices))
    }
}

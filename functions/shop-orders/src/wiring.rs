//! Builds the function from its configuration: the shop client (its client secret from
//! Secrets Manager), the intake it hands orders to (as the delta pull does) and the
//! dead-letter queue, through its [`Function`] contract.

use crate::{ShopOrderSettings, ShopOrders};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bridge_aws::SqsQueue;
use bridge_domain::Route;
use bridge_domain::shop::ShopOrderFeed;
use bridge_lambda::{Config, Failure, Function, Handler, InitError};
use std::sync::Arc;
use std::time::Instant;
use webhook_intake::IntakeSettings;

#[async_trait::async_trait]
impl Handler for ShopOrders {
    async fn on_batch(
        &self,
        event: SqsEvent,
        _deadline: Instant,
    ) -> Result<SqsBatchResponse, Failure> {
        Ok(self.handle_batch(event).await?)
    }
}

#[async_trait::async_trait]
impl Function for ShopOrders {
    const NAME: &'static str = crate::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        let settings = ShopOrderSettings::from_config(config)?;
        bridge_commercetools::wiring::check(config)?;
        let intake = IntakeSettings::for_handover(config)?;
        intake.require_queues(&[Route::OrdersPlaced])?;
        crate::order_sender(intake.sources.sender(&settings.source), &settings.source)?;
        Ok(())
    }

    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        let settings = ShopOrderSettings::from_config(config)?;
        let feed = bridge_commercetools::wiring::connect_reconnecting(
            config,
            &bridge_aws::secrets_client(aws),
            |shop| -> Arc<dyn ShopOrderFeed> { Arc::new(shop) },
        )
        .await?;
        let intake = webhook_intake::wiring::build_for_handover(config, aws)?;
        let queue = SqsQueue::new(bridge_aws::sqs_client(aws));
        Ok(ShopOrders::new(
            settings,
            feed,
            Arc::new(intake),
            Arc::new(queue),
        )?)
    }
}

//! Lambda entry point: configuration, clients and secrets once per cold start.

use bridge_lambda::Config;
use lambda_runtime::{LambdaEvent, service_fn};
use webhook_intake::{lambda, wiring};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let aws = bridge_aws::load_config().await;
    let intake = wiring::build(&Config::from_env(), &aws).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let intake = &intake;
        async move {
            Ok::<_, lambda_runtime::Error>(lambda::handle_event(intake, event.payload).await)
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

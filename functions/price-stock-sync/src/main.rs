//! Lambda entry point: configuration and clients once per cold start.

use bridge_lambda::Config;
use lambda_runtime::{LambdaEvent, service_fn};
use price_stock_sync::wiring;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let aws = bridge_aws::load_function_config().await;
    let sync = wiring::build(&Config::from_env(), &aws)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let sync = &sync;
        async move { sync.handle_batch(event.payload).await }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

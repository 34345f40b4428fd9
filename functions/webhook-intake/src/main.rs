//! Lambda entry point: configuration checked and the AWS configuration loaded at init;
//! the signing secrets and clients are loaded in the background from then on (the first
//! invocation awaits them), once per cold start.

use bridge_lambda::{Config, Prefetch};
use lambda_runtime::{LambdaEvent, service_fn};
use webhook_intake::{lambda, wiring};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let config = Config::from_env();
    wiring::check(&config)?;
    let aws = bridge_aws::load_function_config().await;
    let intake = Prefetch::start(move || {
        let (config, aws) = (config.clone(), aws.clone());
        async move { wiring::build(&config, &aws).await }
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        let intake = &intake;
        async move {
            let intake = intake.get().await?;
            Ok::<_, lambda_runtime::Error>(lambda::handle_event(intake, event.payload).await)
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

//! Lambda entry point: clients once per cold start; each scheduled invocation is one run.

use bridge_lambda::Config;
use delta_pull::wiring;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let aws = bridge_aws::load_config().await;
    let pull = wiring::build(&Config::from_env(), &aws).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let pull = &pull;
        async move {
            let remaining = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let summary = pull.run(Instant::now() + remaining, &mut |_| {}).await?;
            Ok::<Value, delta_pull::PullError>(json!({
                "pages": summary.pages,
                "changes": summary.changes,
                "accepted": summary.accepted,
                "duplicates": summary.duplicates,
                "rejected": summary.rejected,
                "cursor": summary.cursor,
            }))
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

//! Lambda entry point: configuration checked at init, the ERP token and clients loaded in
//! the background once per cold start; each scheduled invocation is one run.

use bridge_lambda::{Config, Prefetch};
use delta_pull::wiring;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bridge_lambda::logging::init();
    let config = Config::from_env();
    wiring::check(&config)?;
    let aws = bridge_aws::load_function_config().await;
    // The ERP token and the clients load in the background; the first invocation awaits them.
    let pull = Prefetch::start(move || {
        let (config, aws) = (config.clone(), aws.clone());
        async move { wiring::build(&config, &aws).await }
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let pull = &pull;
        async move {
            let pull = pull.get().await.map_err(|e| lambda_runtime::Diagnostic {
                error_type: "Retryable.Wiring".into(),
                error_message: format!("{e:#}"),
            })?;
            let remaining = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let summary = pull
                .run(Instant::now() + remaining, &mut |_| {})
                .await
                .map_err(lambda_runtime::Diagnostic::from)?;
            Ok::<Value, lambda_runtime::Diagnostic>(json!({
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

//! The local stack's infrastructure, from the same `template.yaml` that deploys.
//!
//! **Architecture invariant:** there is no second list of queues, tables or buckets. The
//! local stack reads the template, creates what it declares on the emulator, and resolves
//! each function's environment and event sources from it.

pub mod ctmock;
pub mod generate;
pub mod moto;
pub mod provision;
pub mod template;

pub use moto::MotoServer;
pub use provision::{ProvisionError, Stack};
pub use template::{FunctionDef, Template, TemplateError};

/// An SDK configuration for an emulator endpoint: fixed test credentials and region.
pub async fn local_sdk_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .timeout_config(bridge_aws_timeouts())
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "local-stack",
        ))
        .load()
        .await
}

/// The same limits the deployed functions use (see `bridge_aws::timeouts`), a little
/// wider: the emulator on a loaded 2-core machine is slower than AWS.
fn bridge_aws_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .operation_attempt_timeout(std::time::Duration::from_secs(20))
        .operation_timeout(std::time::Duration::from_secs(40))
        .build()
}

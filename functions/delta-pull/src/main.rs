//! The Lambda binary: the function contract's runtime loop over [`delta_pull::DeltaPull`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge_lambda::function::run::<delta_pull::DeltaPull>().await
}

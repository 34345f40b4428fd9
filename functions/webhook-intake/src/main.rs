//! The Lambda binary: the function contract's runtime loop over [`webhook_intake::Intake`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge_lambda::function::run::<webhook_intake::Intake>().await
}

//! The Lambda binary: the function contract's runtime loop over [`pim_import::handler::ImportHandler`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge_lambda::function::run::<pim_import::handler::ImportHandler>().await
}

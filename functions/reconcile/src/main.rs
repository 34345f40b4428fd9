//! The Lambda binary: the function contract's runtime loop over [`reconcile::handler::ReconcileHandler`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge_lambda::function::run::<reconcile::handler::ReconcileHandler>().await
}

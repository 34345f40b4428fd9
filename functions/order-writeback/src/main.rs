//! The Lambda binary: the function contract's runtime loop over [`order_writeback::OrderWriteback`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge_lambda::function::run::<order_writeback::OrderWriteback>().await
}

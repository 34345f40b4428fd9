//! The Lambda binary: the function contract's runtime loop over [`price_stock_sync::PriceStockSync`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge_lambda::function::run::<price_stock_sync::PriceStockSync>().await
}

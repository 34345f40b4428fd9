//! The Lambda binary: the function contract's runtime loop over [`shop_orders::ShopOrders`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge_lambda::function::run::<shop_orders::ShopOrders>().await
}

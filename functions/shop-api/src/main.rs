//! The Lambda binary: the function contract's runtime loop over [`shop_api::ShopApi`].

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    bridge_lambda::function::run::<shop_api::ShopApi>().await
}

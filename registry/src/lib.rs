//! Every function of the stack, once. The local stack runs what is listed here, the
//! cold-start bench measures it and the template tests hold the template to it: a function
//! in `functions/` but not here, or here but not in the template, fails a test.

use bridge_lambda::Registration;

pub const FUNCTIONS: &[Registration] = &[
    Registration::of::<webhook_intake::Intake>(),
    Registration::of::<price_stock_sync::PriceStockSync>(),
    Registration::of::<pim_import::handler::ImportHandler>(),
    Registration::of::<order_writeback::OrderWriteback>(),
    Registration::of::<reconcile::handler::ReconcileHandler>(),
    Registration::of::<delta_pull::DeltaPull>(),
    Registration::of::<shop_sync::ShopSync>(),
    Registration::of::<shop_orders::ShopOrders>(),
    Registration::of::<shop_api::ShopApi>(),
    Registration::of::<document_inbox::DocumentInbox>(),
];

/// The registered function of this binary name.
pub fn find(name: &str) -> Option<&'static Registration> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// The binary names, in registry order.
pub fn names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.name)
}

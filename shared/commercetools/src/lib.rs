//! The shop port ([`bridge_domain::shop::Shop`]) on the commercetools HTTP API (contract
//! section 6): stock levels as inventory entries of the warehouse's supply channel,
//! customers by key, each carrying the source revision in a custom field that is checked
//! before every write.
//!
//! A publish reads the resource, decides without I/O what to do ([`plan_stock`],
//! [`plan_customer`]: nothing when the shop holds the same or a newer revision, else only the
//! actions that change something, with the resource's version) and writes once. A 409
//! (someone changed it in between) reads and decides again, up to [`MAX_WRITE_ATTEMPTS`]
//! writes. Failures are classified: 429, 5xx, timeouts, no connection and conflicts that
//! outlast the attempts are retryable (the stream consumer retries its batch; a
//! `Retry-After` is named in the message); any other 4xx is permanent with the shop's error
//! codes and the request (`POST /{project}/inventory/{id}`) in the message.
//!
//! An order's progress in the ERP goes onto the shop's order (`progress.rs`). Orders come
//! the other way: [`ShopOrderFeed`] reads a Subscription's `OrderCreated`
//! notification and gives the contract's `order.placed` (`orders.rs`).
//!
//! The custom Types (`bridge-inventory`, `bridge-customer`) and the channels (key =
//! warehouse code, role InventorySupply) are read by key and created when missing, once per
//! [`CommercetoolsShop`]: build one per process and keep it.

mod client;
mod config;
mod customer;
mod error;
mod model;
mod orders;
mod plan;
mod prices;
mod product;
mod progress;
mod setup;
mod stock;
pub mod wiring;
mod write;

pub use client::BuildError;
pub use config::{
    CTP_API_URL, CTP_AUTH_URL, CTP_CLIENT_ID, CTP_CLIENT_SECRET, CTP_PROJECT_KEY, CTP_SCOPES,
    ClientSecret, CommercetoolsConfig, ConfigError,
};
pub use customer::{PLACEHOLDER_EMAIL_DOMAIN, customer_key, placeholder_email, plan_customer};
pub use error::CREDENTIALS_OPERATION;
pub use model::{
    CustomFields, CustomFieldsDraft, Customer, CustomerDraft, DeliveryItem, DeliveryResource,
    ErrorObject, ExpandedReference, FieldValue, InventoryEntry, InventoryEntryDraft, KeyedResource,
    MoneyDraft, Order, OrderLineItem, ParcelDraft, ParcelResource, PriceDraft, PriceTierDraft,
    Reference, ShippingInfo, SyncInfo, TrackingData, TypeKey, UpdateAction,
};
pub use orders::{
    APPROVALS_FIELD, BUYER_USER_ID_FIELD, COST_CENTER_FIELD, ORDER_CREATED, OrderError,
    PO_NUMBER_FIELD, REQUESTED_DELIVERY_DATE_FIELD, ShopOrder, order_id_of, order_placed,
};
pub use plan::{Plan, PlanError};
pub use prices::{
    PriceResource, PriceTierResource, money, plan_prices, price_draft, price_group_name, to_millis,
};
pub use product::{
    AttributeSpec, CATEGORY_KEY_PREFIX, CODE_PREFIX, ProductDraft, ProductResource, ProductTarget,
    attribute_name, attributes_needed, category_key, plan_product, product_key, slug,
};
pub use progress::{OrderTarget, plan_order_progress};
pub use setup::{
    CUSTOMER_TYPE, ERP_CHANNEL_KEY, INVENTORY_TYPE, ORDER_BLOCKED_FIELD, ORDER_TYPE,
    PRODUCT_TYPE_KEY, REVISION_FIELD,
};
pub use stock::{StockTarget, expected_delivery, plan_stock, quantity_on_stock};

use bridge_domain::PortError;
use bridge_domain::events::{CustomerChanged, StockChanged};
use bridge_domain::shop::{OrderProgress, Published, Shop, ShopNotification, ShopOrderFeed};
use client::{Call, Client};
use setup::Setup;

/// Writes per publish before a resource that keeps changing under the bridge is left to
/// the batch's retry (each write after a 409 follows a fresh read).
pub const MAX_WRITE_ATTEMPTS: u32 = 5;

/// The commercetools shop of one project. Cheap to share (`&self` everywhere); holds the
/// token, the setup it has done and its request counters.
pub struct CommercetoolsShop {
    client: Client,
    setup: Setup,
    /// Notifications of another project are refused.
    project_key: String,
}

impl CommercetoolsShop {
    /// Builds the HTTP client; makes no request (the first publish fetches the token).
    pub fn new(config: &CommercetoolsConfig) -> Result<Self, BuildError> {
        Ok(Self {
            client: Client::new(config)?,
            setup: Setup::default(),
            project_key: config.project_key.clone(),
        })
    }

    /// API requests made so far by this client, token fetches excluded.
    pub fn requests_made(&self) -> u64 {
        self.client.requests_made()
    }

    /// Token fetches so far: one per process while tokens last, plus one per renewal.
    pub fn token_fetches(&self) -> u64 {
        self.client.token_fetches()
    }

    /// [`Shop::publish_stock`], sending `correlation_id` as `X-Correlation-ID` on every
    /// request, so the shop's logs can be joined to the bridge's.
    pub async fn publish_stock_correlated(
        &self,
        stock: &StockChanged,
        correlation_id: Option<&str>,
    ) -> Result<Published, PortError> {
        let mut call = Call::new(correlation_id);
        stock::publish(&self.client, &self.setup, &mut call, stock).await
    }

    /// [`Shop::publish_customer`] with `X-Correlation-ID` (see
    /// [`CommercetoolsShop::publish_stock_correlated`]).
    pub async fn publish_customer_correlated(
        &self,
        customer: &CustomerChanged,
        correlation_id: Option<&str>,
    ) -> Result<Published, PortError> {
        let mut call = Call::new(correlation_id);
        customer::publish(&self.client, &self.setup, &mut call, customer).await
    }
}

#[async_trait::async_trait]
impl Shop for CommercetoolsShop {
    async fn publish_stock(&self, stock: &StockChanged) -> Result<Published, PortError> {
        self.publish_stock_correlated(stock, None).await
    }

    async fn publish_customer(&self, customer: &CustomerChanged) -> Result<Published, PortError> {
        self.publish_customer_correlated(customer, None).await
    }

    async fn publish_product(
        &self,
        product: &bridge_domain::product::Product,
        revision: bridge_domain::Revision,
    ) -> Result<Published, PortError> {
        let correlation_id = product.sku.to_string();
        let mut call = Call::new(Some(&correlation_id));
        product::publish(&self.client, &self.setup, &mut call, product, revision).await
    }

    async fn publish_prices(
        &self,
        sku: &bridge_domain::Sku,
        source: &dyn bridge_domain::shop::ShopPriceSource,
    ) -> Result<Published, PortError> {
        let correlation_id = sku.to_string();
        let mut call = Call::new(Some(&correlation_id));
        prices::publish(&self.client, &self.setup, &mut call, sku, source).await
    }

    async fn publish_order_progress(
        &self,
        progress: &OrderProgress,
    ) -> Result<Published, PortError> {
        let correlation_id = progress.order_id.to_string();
        let mut call = Call::new(Some(&correlation_id));
        progress::publish(&self.client, &self.setup, &mut call, progress).await
    }
}

#[async_trait::async_trait]
impl ShopOrderFeed for CommercetoolsShop {
    async fn read_notification(
        &self,
        body: &str,
        correlation_id: Option<&str>,
    ) -> Result<ShopNotification, PortError> {
        let mut call = Call::new(correlation_id);
        orders::read_notification(&self.client, &mut call, &self.project_key, body).await
    }
}

/// A string literal of a query predicate (`"SKU-1"`), with `"` and `\` escaped.
pub(crate) fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_literals_escape_quotes() {
        assert_eq!(quoted("SKU-1"), r#""SKU-1""#);
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}

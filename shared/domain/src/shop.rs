//! The shop platform (contract section 6): what the bridge publishes there and the port it
//! publishes through. The shop adapter decides the requests; this module decides what is
//! worth a request at all.

use crate::error::PortError;
use crate::events::{CustomerChanged, OrderPlaced, StockChanged};
use crate::revision::Revision;
use async_trait::async_trait;

/// What one publish did to the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The shop now holds the record; `requests` shop requests were made (reads included).
    Written { requests: u32 },
    /// The shop already held exactly this content; nothing was written.
    AlreadyCurrent { requests: u32 },
    /// The shop holds a newer revision of the record (a redelivery or a racing writer);
    /// nothing was written.
    Stale {
        shop_revision: Revision,
        requests: u32,
    },
}

impl Published {
    pub fn requests(&self) -> u32 {
        match *self {
            Published::Written { requests }
            | Published::AlreadyCurrent { requests }
            | Published::Stale { requests, .. } => requests,
        }
    }
}

/// The shop as the bridge writes it. Every write carries the shop resource's version and
/// only the changes it needs; the adapter re-reads and recomputes on a concurrent edit
/// (409) and never writes a revision over a newer one. Errors are classified: a shop that is
/// down, throttling or still conflicting after its retries is `Retryable`; a record the shop
/// refuses (another 4xx) is `Permanent` with the shop's error in the message.
#[async_trait]
pub trait Shop: Send + Sync {
    /// `(sku, warehouse)` as the inventory of the warehouse's supply channel.
    async fn publish_stock(&self, stock: &StockChanged) -> Result<Published, PortError>;
    /// The customer (key = customer id) with its company name and whether it may order.
    async fn publish_customer(&self, customer: &CustomerChanged) -> Result<Published, PortError>;
}

/// One notification of the shop's order feed (a commercetools Subscription's message), as
/// the bridge reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopNotification {
    /// An order was placed in the shop. `message_id` is the shop's id of the notification:
    /// the same on every delivery of it, so that a redelivery is recognised.
    OrderPlaced {
        message_id: String,
        order: Box<OrderPlaced>,
    },
    /// A notification the bridge does not act on (the subscription's test message, another
    /// message type); `what` names it for the log.
    Ignored { what: String },
}

/// The shop's orders as they come in: what a notification says, with what the shop must be
/// asked to turn it into an `order.placed` (the customer's ERP id, an order too large to
/// travel in the notification). A body that is no notification, or an order that cannot be
/// an `order.placed`, is `Permanent` with the reason; a shop that cannot answer now is
/// `Retryable`.
#[async_trait]
pub trait ShopOrderFeed: Send + Sync {
    async fn read_notification(
        &self,
        body: &str,
        correlation_id: Option<&str>,
    ) -> Result<ShopNotification, PortError>;
}

/// Whether a stock change is worth a shop request: the shop holds quantity and next
/// delivery, not the ERP's `as_of`, so a change of that alone (or a rewrite of the same
/// level under a new revision) costs nothing.
pub fn stock_differs_for_shop(old: Option<&StockChanged>, new: &StockChanged) -> bool {
    match old {
        None => true,
        Some(old) => old.available != new.available || old.next_delivery != new.next_delivery,
    }
}

/// Whether a customer change is worth a shop request: the shop holds the name, whether the
/// customer may order and (through its customer group) its price lists.
pub fn customer_differs_for_shop(old: Option<&CustomerChanged>, new: &CustomerChanged) -> bool {
    match old {
        None => true,
        Some(old) => {
            old.name != new.name || old.blocked != new.blocked || old.price_lists != new.price_lists
        }
    }
}

//! The shop platform (contract section 6): what the bridge publishes there and the port it
//! publishes through. The shop adapter decides the requests; this module decides what is
//! worth a request at all.

use crate::error::PortError;
use crate::events::{CustomerChanged, OrderPlaced, OrderStatus, StockChanged, Tracking};
use crate::ids::{OrderId, Sku};
use crate::orders::OrderState;
use crate::ports::{StoredOrder, StoredProduct};
use crate::product::Product;
use crate::revision::Revision;
use crate::shop_prices::SkuPrices;
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
    /// The shop has no such resource and the bridge does not create one (an order placed
    /// elsewhere than in this shop); nothing was written.
    Absent { requests: u32 },
}

impl Published {
    pub fn requests(&self) -> u32 {
        match *self {
            Published::Written { requests }
            | Published::AlreadyCurrent { requests }
            | Published::Stale { requests, .. }
            | Published::Absent { requests } => requests,
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
    /// The product (key = sku) with its names, descriptions, category, attributes, GTIN and
    /// images; inactive is unpublished, never deleted. `revision` is [`product_revision`].
    async fn publish_product(
        &self,
        product: &Product,
        revision: Revision,
    ) -> Result<Published, PortError>;
    /// The prices of `sku` in the customer groups `source` names, read from `source` only
    /// after the shop's product was read: a write is planned against what the shop held
    /// before the table was read, and a write planned on an older read fails on the
    /// product's version and is planned again, so an older state of the table never
    /// overwrites a newer one. `Absent` when the shop has no product of that sku (its
    /// prices follow it when it comes).
    async fn publish_prices(
        &self,
        sku: &Sku,
        source: &dyn ShopPriceSource,
    ) -> Result<Published, PortError>;
    /// An order's progress in the ERP onto the shop's order of that id; `Absent` when the
    /// shop has none (the order came from elsewhere).
    async fn publish_order_progress(
        &self,
        progress: &OrderProgress,
    ) -> Result<Published, PortError>;
}

/// Where the shop adapter reads what a sku's prices must be, at the moment of its choosing
/// (see [`Shop::publish_prices`]).
#[async_trait]
pub trait ShopPriceSource: Send + Sync {
    /// What the shop must hold from `now` on.
    async fn prices_of(
        &self,
        sku: &Sku,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<SkuPrices, PortError>;
}

/// The revision a product travels with: the PIM sends none, so the time the import stored
/// this version (milliseconds; imports of a catalog run one after another, so a later
/// version of a product always has a later time).
pub fn product_revision(stored: &StoredProduct) -> Revision {
    Revision::new(u64::try_from(stored.updated_at.timestamp_millis()).unwrap_or(0))
}

/// Whether a product change is worth a shop request: its content (not the import's
/// bookkeeping: hash, import id, time) changed.
pub fn product_differs_for_shop(old: Option<&StoredProduct>, new: &StoredProduct) -> bool {
    old.is_none_or(|old| old.product != new.product)
}

/// When the shop last caught up with a change of one category (a record published, found
/// current or not needed there), and how long that change had waited since its table
/// write: the shop's lag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopFreshness {
    /// `stock`, `customers`, `products`, `orders`.
    pub category: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub lag: chrono::Duration,
}

/// Where the shop sync records its freshness (beside the data categories' freshness).
#[async_trait]
pub trait ShopFreshnessStore: Send + Sync {
    /// Records a catch-up (a later one never goes back in time).
    async fn record_shop(&self, freshness: &ShopFreshness) -> Result<(), PortError>;
    /// The last catch-up of every category that had one.
    async fn shop_all(&self) -> Result<Vec<ShopFreshness>, PortError>;
}

/// Where the shop shows an order: commercetools' order states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopOrderState {
    Open,
    Confirmed,
    Complete,
    Cancelled,
}

/// How far the shop shows an order's goods: commercetools' shipment states the ERP's
/// statuses reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopShipmentState {
    /// Some of the goods are on their way (logistics' shipments, not yet every line).
    Partial,
    Shipped,
    Delivered,
}

/// What the shop shows of an order's progress in the ERP (contract section 6): its state,
/// its shipment state, a delivery with a parcel per tracking code, and the ERP's order
/// number as the order's sync info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderProgress {
    pub order_id: OrderId,
    /// Stored on the shop's order and checked before a write: 0 while the writeback's
    /// answer is all the bridge knows (accepted or rejected by the ERP), then grown from the
    /// ERP status's revision and stage (`erp_progress_revision`), so that any status the ERP
    /// reports supersedes the answer.
    pub revision: Revision,
    pub state: ShopOrderState,
    /// `None` leaves the shop's shipment state as it is.
    pub shipment: Option<ShopShipmentState>,
    pub erp_order_number: Option<String>,
    pub tracking: Vec<Tracking>,
}

impl OrderProgress {
    /// What the shop shows of `order`; `None` while the ERP has not answered (received,
    /// held, submitted: the shop's order stays Open as the checkout left it).
    pub fn of(order: &StoredOrder) -> Option<Self> {
        let (revision, state, shipment, erp_order_number, tracking) = match &order.state {
            OrderState::Received | OrderState::Held { .. } | OrderState::Submitted => {
                return None;
            }
            OrderState::Accepted { erp_order_number } => (
                Revision::new(0),
                ShopOrderState::Confirmed,
                None,
                Some(erp_order_number.clone()),
                Vec::new(),
            ),
            OrderState::Rejected { .. } => (
                Revision::new(0),
                ShopOrderState::Cancelled,
                None,
                None,
                Vec::new(),
            ),
            OrderState::Erp {
                status,
                revision,
                erp_order_number,
                tracking,
            } => {
                let (state, shipment) = match status {
                    OrderStatus::Confirmed => (ShopOrderState::Confirmed, None),
                    OrderStatus::Shipped => {
                        (ShopOrderState::Confirmed, Some(ShopShipmentState::Shipped))
                    }
                    OrderStatus::Delivered => (
                        ShopOrderState::Confirmed,
                        Some(ShopShipmentState::Delivered),
                    ),
                    // Invoiced is done for the buyer; the shipment state stays what the
                    // ERP last said of the goods.
                    OrderStatus::Invoiced => (ShopOrderState::Complete, None),
                    OrderStatus::Cancelled => (ShopOrderState::Cancelled, None),
                };
                (
                    erp_progress_revision(*revision, *status),
                    state,
                    shipment,
                    erp_order_number.clone(),
                    tracking.clone(),
                )
            }
        };
        let (revision, shipment, tracking) = with_shipments(order, revision, shipment, tracking);
        Some(Self {
            order_id: order.order.order_id.clone(),
            revision,
            state,
            shipment,
            erp_order_number,
            tracking,
        })
    }
}

/// The shop's revision of an ERP status: above the writeback's answer (0), growing with
/// the ERP's revision and, within one revision, with the status's stage, so that statuses
/// read from documents (all under revision 0, `orders::DOCUMENT_REVISION`) reach the shop
/// one after another and every status the ERP numbers itself (1 and up) supersedes them.
fn erp_progress_revision(revision: Revision, status: OrderStatus) -> Revision {
    Revision::new(
        revision
            .value()
            .saturating_mul(8)
            .saturating_add(u64::from(status.stage())),
    )
}

/// What logistics' shipments (contract section 8) add to the ERP's word: their fulfilment
/// as the shipment state (closer to the goods than the ERP's status), a parcel per tracking
/// code, and their revisions in the progress's revision. Each shipment's revision only
/// grows, as the ERP's does, so their sum grows with every change either makes and the
/// shop's revision check lets it through.
fn with_shipments(
    order: &StoredOrder,
    revision: Revision,
    shipment: Option<ShopShipmentState>,
    mut tracking: Vec<Tracking>,
) -> (Revision, Option<ShopShipmentState>, Vec<Tracking>) {
    if order.shipments.is_empty() {
        return (revision, shipment, tracking);
    }
    let shipments: u64 = order
        .shipments
        .values()
        .map(|s| s.revision.value())
        .fold(0, u64::saturating_add);
    let revision = Revision::new(revision.value().saturating_add(shipments));
    let shipment = match crate::shipments::fulfilment(&order.order, &order.shipments) {
        crate::shipments::Fulfilment::Unshipped => shipment,
        crate::shipments::Fulfilment::PartiallyShipped => Some(ShopShipmentState::Partial),
        crate::shipments::Fulfilment::Shipped => Some(ShopShipmentState::Shipped),
        crate::shipments::Fulfilment::Delivered => Some(ShopShipmentState::Delivered),
    };
    for s in order.shipments.values().filter(|s| s.counts_as_shipped()) {
        if let Some(code) = &s.tracking_code
            && !tracking.iter().any(|t| t.code.as_ref() == Some(code))
        {
            tracking.push(Tracking {
                carrier: s.carrier.clone(),
                code: Some(code.clone()),
            });
        }
    }
    (revision, shipment, tracking)
}

/// The progress to publish when a stored order changed from `old` to `new`: `None` when
/// the shop shows nothing new (a retry count, a hold reason, the same ERP status again).
pub fn order_progress_changed(
    old: Option<&StoredOrder>,
    new: &StoredOrder,
) -> Option<OrderProgress> {
    let progress = OrderProgress::of(new)?;
    let before = old.and_then(OrderProgress::of);
    (before.as_ref() != Some(&progress)).then_some(progress)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{OrderLine, OrderLines, OrderStatusChanged, UnitPrice};
    use crate::ids::{CustomerId, Sku};
    use crate::money::{Currency, Quantity};

    fn stored() -> StoredOrder {
        let order = OrderPlaced {
            order_id: OrderId::parse("SHOP-1").unwrap(),
            revision: Revision::new(1),
            customer_id: CustomerId::parse("C-1").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            lines: OrderLines::new(vec![OrderLine {
                line: 1,
                sku: Sku::parse("A").unwrap(),
                quantity: Quantity::new(1.into()).unwrap(),
                unit_price: UnitPrice::new(1.into()).unwrap(),
            }])
            .unwrap(),
            placed_at: chrono::Utc::now(),
            po_number: None,
            cost_center: None,
            buyer: None,
            approvals: vec![],
            delivery: None,
        };
        StoredOrder::new(order, chrono::Utc::now())
    }

    fn with(state: OrderState) -> StoredOrder {
        let mut order = stored();
        order.transition(state, chrono::Utc::now());
        order
    }

    fn erp(status: OrderStatus, revision: u64, tracking: &[&str]) -> OrderState {
        OrderState::Submitted
            .with_status(&OrderStatusChanged {
                order_id: OrderId::parse("SHOP-1").unwrap(),
                status,
                revision: Revision::new(revision),
                erp_order_number: Some("SO-9".into()),
                tracking: tracking
                    .iter()
                    .map(|code| Tracking {
                        carrier: Some("DHL".into()),
                        code: Some(code.to_string()),
                    })
                    .collect(),
            })
            .unwrap()
    }

    /// Logistics' shipments show as the shop's shipment state (Partial until every line is
    /// shipped), a parcel per tracking code, and raise the progress's revision each time.
    #[test]
    fn shipments_show_partial_then_shipped_then_delivered_with_their_parcels() {
        use crate::events::{ShipmentLine, ShipmentStatus, ShipmentUpdated};
        let mut order = with(OrderState::Accepted {
            erp_order_number: "SO-9".into(),
        });
        let mut ship = |id: &str, revision: u64, status: ShipmentStatus, quantity: Option<&str>| {
            let event = ShipmentUpdated {
                shipment_id: crate::ids::ShipmentId::parse(id).unwrap(),
                order_id: OrderId::parse("SHOP-1").unwrap(),
                status,
                revision: Revision::new(revision),
                carrier: Some("GLS".into()),
                tracking_code: Some(format!("JJD-{id}")),
                tracking_url: None,
                estimated_delivery: None,
                occurred_at: None,
                lines: quantity
                    .map(|q| ShipmentLine {
                        line: 1,
                        quantity: Quantity::new(q.parse().unwrap()).unwrap(),
                    })
                    .into_iter()
                    .collect(),
                exception: None,
            };
            let snapshot = order.order.clone();
            crate::shipments::apply_shipment(
                &snapshot,
                &mut order.shipments,
                &event,
                chrono::Utc::now(),
            )
            .unwrap();
            OrderProgress::of(&order).unwrap()
        };
        let partial = ship("P1", 2, ShipmentStatus::Dispatched, Some("0.5"));
        assert_eq!(
            (partial.shipment, partial.revision),
            (Some(ShopShipmentState::Partial), Revision::new(2))
        );
        assert_eq!(partial.tracking[0].code.as_deref(), Some("JJD-P1"));
        let shipped = ship("P2", 1, ShipmentStatus::Delivered, Some("0.5"));
        assert_eq!(
            (shipped.shipment, shipped.revision, shipped.tracking.len()),
            (Some(ShopShipmentState::Shipped), Revision::new(3), 2)
        );
        let delivered = ship("P1", 3, ShipmentStatus::Delivered, None);
        assert_eq!(
            (delivered.shipment, delivered.revision),
            (Some(ShopShipmentState::Delivered), Revision::new(4))
        );
        // The ERP's status later: its revision counts on top; logistics' word on the goods
        // stays, the ERP's parcel joins theirs.
        let shipments = order.shipments.clone();
        let mut order = with(erp(OrderStatus::Shipped, 5, &["1Z"]));
        order.shipments = shipments;
        let both = OrderProgress::of(&order).unwrap();
        assert_eq!(both.revision, Revision::new(5 * 8 + 2 + 4));
        assert_eq!(both.shipment, Some(ShopShipmentState::Delivered));
        let codes: Vec<_> = both
            .tracking
            .iter()
            .filter_map(|t| t.code.as_deref())
            .collect();
        assert_eq!(codes, ["1Z", "JJD-P1", "JJD-P2"]);
    }

    #[test]
    fn the_shop_sees_an_order_once_the_erp_answered_and_with_each_status() {
        assert_eq!(OrderProgress::of(&stored()), None, "received: still Open");
        assert_eq!(OrderProgress::of(&with(OrderState::Submitted)), None);
        let accepted = OrderProgress::of(&with(OrderState::Accepted {
            erp_order_number: "SO-9".into(),
        }))
        .unwrap();
        assert_eq!(
            (accepted.state, accepted.shipment, accepted.revision),
            (ShopOrderState::Confirmed, None, Revision::new(0))
        );
        assert_eq!(accepted.erp_order_number.as_deref(), Some("SO-9"));
        let rejected = OrderProgress::of(&with(OrderState::Rejected { errors: vec![] })).unwrap();
        assert_eq!(rejected.state, ShopOrderState::Cancelled);
        let shipped = OrderProgress::of(&with(erp(OrderStatus::Shipped, 3, &["1Z1"]))).unwrap();
        assert_eq!(
            (shipped.state, shipped.shipment, shipped.revision),
            (
                ShopOrderState::Confirmed,
                Some(ShopShipmentState::Shipped),
                Revision::new(3 * 8 + 2)
            ),
            "the ERP's revision 3 and shipped's stage, after the writeback's 0"
        );
        assert_eq!(shipped.tracking[0].code.as_deref(), Some("1Z1"));
        let states = [
            (
                OrderStatus::Delivered,
                ShopOrderState::Confirmed,
                Some(ShopShipmentState::Delivered),
            ),
            (OrderStatus::Invoiced, ShopOrderState::Complete, None),
            (OrderStatus::Cancelled, ShopOrderState::Cancelled, None),
        ];
        for (status, state, shipment) in states {
            let progress = OrderProgress::of(&with(erp(status, 4, &[]))).unwrap();
            assert_eq!(
                (progress.state, progress.shipment),
                (state, shipment),
                "{status:?}"
            );
        }
    }

    /// Statuses read from documents (revision 0) reach the shop one after another, and a
    /// status the ERP numbers itself supersedes every one of them.
    #[test]
    fn document_statuses_reach_the_shop_in_order_and_the_erp_s_own_supersede_them() {
        let revision = |status, revision| {
            OrderProgress::of(&with(erp(status, revision, &[])))
                .unwrap()
                .revision
        };
        let accepted = Revision::new(0);
        let confirmed = revision(OrderStatus::Confirmed, 0);
        let invoiced = revision(OrderStatus::Invoiced, 0);
        assert!(accepted < confirmed && confirmed < invoiced);
        for status in OrderStatus::ALL {
            assert!(revision(status, 1) > revision(OrderStatus::Cancelled, 0));
            assert!(revision(status, 2) > revision(OrderStatus::Cancelled, 1));
        }
    }

    #[test]
    fn only_a_change_the_shop_shows_is_published() {
        let submitted = with(OrderState::Submitted);
        let shipped = with(erp(OrderStatus::Shipped, 3, &["1Z1"]));
        assert!(order_progress_changed(Some(&submitted), &shipped).is_some());
        assert!(order_progress_changed(None, &shipped).is_some());
        // The same status saved again (a retry, a wait recorded) shows nothing new.
        assert_eq!(order_progress_changed(Some(&shipped), &shipped), None);
        assert_eq!(order_progress_changed(Some(&stored()), &submitted), None);
    }
}

//! The five event types of the contract (section 1) as validated domain values.
//!
//! Fields are newtypes that cannot hold invalid values; rules that span fields (tier
//! order, validity windows, unique order lines) live in the collection types below, so a
//! value of these types is valid however it was built.

use crate::error::InvalidValue;
use crate::ids::{CostCenter, CustomerId, OrderId, PriceListId, ShipmentId, Sku, WarehouseId};
use crate::money::{Currency, Money, Quantity, UnitCode};
use crate::revision::Revision;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Where an event type travels after intake: one queue per route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    StockPrice,
    Customers,
    OrderStatus,
    OrdersPlaced,
    Returns,
    Payments,
    Leads,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::StockPrice,
        Route::Customers,
        Route::OrderStatus,
        Route::OrdersPlaced,
        Route::Returns,
        Route::Payments,
        Route::Leads,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Route::StockPrice => "stock_price",
            Route::Customers => "customers",
            Route::OrderStatus => "order_status",
            Route::OrdersPlaced => "orders_placed",
            Route::Returns => "returns",
            Route::Payments => "payments",
            Route::Leads => "leads",
        }
    }
}

/// The event types of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "stock.changed")]
    StockChanged,
    #[serde(rename = "price.changed")]
    PriceChanged,
    #[serde(rename = "customer.changed")]
    CustomerChanged,
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged,
    #[serde(rename = "order.placed")]
    OrderPlaced,
    #[serde(rename = "shipment.updated")]
    ShipmentUpdated,
    #[serde(rename = "return.requested")]
    ReturnRequested,
    #[serde(rename = "return.status_changed")]
    ReturnStatusChanged,
    #[serde(rename = "payment.received")]
    PaymentReceived,
    #[serde(rename = "contact.changed")]
    ContactChanged,
    #[serde(rename = "account.registered")]
    AccountRegistered,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::StockChanged,
        EventType::PriceChanged,
        EventType::CustomerChanged,
        EventType::OrderStatusChanged,
        EventType::OrderPlaced,
        EventType::ShipmentUpdated,
        EventType::ReturnRequested,
        EventType::ReturnStatusChanged,
        EventType::PaymentReceived,
        EventType::ContactChanged,
        EventType::AccountRegistered,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::StockChanged => "stock.changed",
            EventType::PriceChanged => "price.changed",
            EventType::CustomerChanged => "customer.changed",
            EventType::OrderStatusChanged => "order.status_changed",
            EventType::OrderPlaced => "order.placed",
            EventType::ShipmentUpdated => "shipment.updated",
            EventType::ReturnRequested => "return.requested",
            EventType::ReturnStatusChanged => "return.status_changed",
            EventType::PaymentReceived => "payment.received",
            EventType::ContactChanged => "contact.changed",
            EventType::AccountRegistered => "account.registered",
        }
    }

    pub fn route(&self) -> Route {
        match self {
            EventType::StockChanged | EventType::PriceChanged => Route::StockPrice,
            // Contacts are the customer's people: applied beside its master data.
            EventType::CustomerChanged | EventType::ContactChanged => Route::Customers,
            // A shipment changes its order: in line with the ERP's statuses of it.
            EventType::OrderStatusChanged | EventType::ShipmentUpdated => Route::OrderStatus,
            EventType::OrderPlaced => Route::OrdersPlaced,
            EventType::ReturnRequested | EventType::ReturnStatusChanged => Route::Returns,
            EventType::PaymentReceived => Route::Payments,
            EventType::AccountRegistered => Route::Leads,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule violation inside an event, with the path of the offending field relative to
/// the event's `data` object, as JSON-pointer segments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {error}")]
pub struct FieldViolation {
    pub path: String,
    pub error: InvalidValue,
}

impl FieldViolation {
    pub fn new(path: impl Into<String>, error: InvalidValue) -> Self {
        Self {
            path: path.into(),
            error,
        }
    }
}

/// Stock of one sku in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChanged {
    pub sku: Sku,
    pub warehouse: WarehouseId,
    pub available: Quantity,
    pub revision: Revision,
    pub as_of: Option<DateTime<Utc>>,
    pub next_delivery: Option<NextDelivery>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextDelivery {
    pub date: NaiveDate,
    pub quantity: Quantity,
}

/// A non-negative price per `price_per` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct UnitPrice(Decimal);

impl UnitPrice {
    pub fn new(value: Decimal) -> Result<Self, InvalidValue> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(InvalidValue::new(
                "negative",
                format!("price {value} must not be negative"),
            ));
        }
        Ok(Self(value))
    }

    pub fn value(&self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for UnitPrice {
    type Error = InvalidValue;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<UnitPrice> for Decimal {
    fn from(value: UnitPrice) -> Decimal {
        value.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTier {
    pub min_qty: Quantity,
    pub unit_price: UnitPrice,
}

/// Price tiers: at least one, strictly ascending by `min_qty`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<PriceTier>", into = "Vec<PriceTier>")]
pub struct PriceTiers(Vec<PriceTier>);

impl PriceTiers {
    pub fn new(tiers: Vec<PriceTier>) -> Result<Self, FieldViolation> {
        if tiers.is_empty() {
            return Err(FieldViolation::new(
                "/tiers",
                InvalidValue::new("empty", "at least one price tier is required"),
            ));
        }
        for (index, pair) in tiers.windows(2).enumerate() {
            if pair[1].min_qty <= pair[0].min_qty {
                return Err(FieldViolation::new(
                    format!("/tiers/{}/min_qty", index + 1),
                    InvalidValue::new(
                        "not_ascending",
                        format!(
                            "tiers must be in strictly ascending min_qty order ({} follows {})",
                            pair[1].min_qty, pair[0].min_qty
                        ),
                    ),
                ));
            }
        }
        Ok(Self(tiers))
    }

    pub fn as_slice(&self) -> &[PriceTier] {
        &self.0
    }

    /// The tier with the highest `min_qty` not above `quantity`, if any.
    pub fn tier_for(&self, quantity: Quantity) -> Option<&PriceTier> {
        self.0.iter().rev().find(|tier| tier.min_qty <= quantity)
    }
}

impl TryFrom<Vec<PriceTier>> for PriceTiers {
    type Error = FieldViolation;
    fn try_from(value: Vec<PriceTier>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<PriceTiers> for Vec<PriceTier> {
    fn from(value: PriceTiers) -> Self {
        value.0
    }
}

/// How many units one `unit_price` buys (e.g. 100 for a price per hundred): positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct PricePer(Decimal);

impl PricePer {
    pub const ONE: PricePer = PricePer(Decimal::ONE);

    pub fn new(value: Decimal) -> Result<Self, InvalidValue> {
        if value <= Decimal::ZERO {
            return Err(InvalidValue::new(
                "not_positive",
                format!("price_per {value} must be greater than 0"),
            ));
        }
        Ok(Self(value))
    }

    pub fn value(&self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for PricePer {
    type Error = InvalidValue;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<PricePer> for Decimal {
    fn from(value: PricePer) -> Decimal {
        value.0
    }
}

/// A half-open validity window `[from, until)`; an open end is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "RawWindow", into = "RawWindow")]
pub struct ValidityWindow {
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
struct RawWindow {
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

impl ValidityWindow {
    pub fn new(
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Self, FieldViolation> {
        if let (Some(from), Some(until)) = (from, until)
            && until <= from
        {
            return Err(FieldViolation::new(
                "/valid_to",
                InvalidValue::new("empty_window", "valid_to must be after valid_from"),
            ));
        }
        Ok(Self { from, until })
    }

    pub fn from(&self) -> Option<DateTime<Utc>> {
        self.from
    }

    pub fn until(&self) -> Option<DateTime<Utc>> {
        self.until
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| from <= at) && self.until.is_none_or(|until| at < until)
    }

    /// The start as a price window's key names it: RFC 3339 in UTC, empty when open.
    pub fn start_key(&self) -> String {
        self.from
            .map(|from| from.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_default()
    }
}

impl TryFrom<RawWindow> for ValidityWindow {
    type Error = FieldViolation;
    fn try_from(raw: RawWindow) -> Result<Self, Self::Error> {
        Self::new(raw.from, raw.until)
    }
}

impl From<ValidityWindow> for RawWindow {
    fn from(window: ValidityWindow) -> Self {
        RawWindow {
            from: window.from,
            until: window.until,
        }
    }
}

/// One validity window of one price list's prices for one sku (contract v2): a record is
/// `(price_list, sku, valid_from)`, so announcing next period's price adds a window beside
/// the one in force instead of replacing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChanged {
    pub price_list: PriceListId,
    pub sku: Sku,
    pub currency: Currency,
    pub tiers: PriceTiers,
    pub revision: Revision,
    pub price_unit: UnitCode,
    pub price_per: PricePer,
    pub validity: ValidityWindow,
    /// The ERP removed this window (`"deleted": true` under a higher revision). Kept as a
    /// tombstone, so that a late older revision cannot bring it back.
    #[serde(default)]
    pub deleted: bool,
}

impl PriceChanged {
    /// The window's key among the windows of its price list: the sku and the window's
    /// start (empty for an open start). `#` cannot occur in a sku, so the windows of one
    /// sku are exactly the keys starting with `"{sku}#"` ([`PriceChanged::window_prefix`]).
    pub fn window_key(&self) -> String {
        format!(
            "{}{}",
            Self::window_prefix(&self.sku),
            self.validity.start_key()
        )
    }

    pub fn window_prefix(sku: &Sku) -> String {
        format!("{sku}#")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeliveryTerms {
    pub incoterm: Option<String>,
    pub place: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRule {
    pub above: Money,
    pub role: String,
}

/// Customer master data as the ERP owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerChanged {
    pub customer_id: CustomerId,
    pub name: String,
    pub revision: Revision,
    pub blocked: bool,
    pub credit_limit: Option<Money>,
    pub open_items: Option<Money>,
    pub payment_terms: Option<String>,
    pub delivery_terms: Option<DeliveryTerms>,
    /// Highest priority first.
    pub price_lists: Vec<PriceListId>,
    pub cost_centers: Vec<CostCenter>,
    pub approval_rules: Vec<ApprovalRule>,
    /// The framework agreement the customer orders under, if it has one (documented
    /// extension of `customer.changed`; openTRANS ORDER documents name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_agreement: Option<FrameworkAgreement>,
}

/// A framework agreement (Rahmenvertrag) between the customer and us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkAgreement {
    pub id: String,
    /// Its last day; `None`: open-ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Confirmed,
    Shipped,
    Delivered,
    Invoiced,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Invoiced,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Invoiced => "invoiced",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Where in an order's life the status comes: later stages follow earlier ones.
    pub fn stage(&self) -> u8 {
        match self {
            OrderStatus::Confirmed => 1,
            OrderStatus::Shipped => 2,
            OrderStatus::Delivered => 3,
            OrderStatus::Invoiced => 4,
            OrderStatus::Cancelled => 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    pub carrier: Option<String>,
    pub code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatusChanged {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub revision: Revision,
    pub erp_order_number: Option<String>,
    pub tracking: Vec<Tracking>,
}

/// Where a shipment is (contract section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Dispatched,
    InTransit,
    OutForDelivery,
    Delivered,
    Exception,
    ReturnedToSender,
}

impl ShipmentStatus {
    pub const ALL: [ShipmentStatus; 6] = [
        ShipmentStatus::Dispatched,
        ShipmentStatus::InTransit,
        ShipmentStatus::OutForDelivery,
        ShipmentStatus::Delivered,
        ShipmentStatus::Exception,
        ShipmentStatus::ReturnedToSender,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ShipmentStatus::Dispatched => "dispatched",
            ShipmentStatus::InTransit => "in_transit",
            ShipmentStatus::OutForDelivery => "out_for_delivery",
            ShipmentStatus::Delivered => "delivered",
            ShipmentStatus::Exception => "exception",
            ShipmentStatus::ReturnedToSender => "returned_to_sender",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// How much of an order line a shipment carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentLine {
    pub line: u32,
    pub quantity: Quantity,
}

/// What went wrong with a shipment (status `exception`): the carrier's code and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentProblem {
    pub code: String,
    pub message: Option<String>,
}

/// `shipment.updated` (contract section 8): one shipment of an order, guarded by its own
/// revision. Lines may be left out of a later update (a carrier's status change); the
/// shipment keeps the lines it was announced with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentUpdated {
    pub shipment_id: ShipmentId,
    pub order_id: OrderId,
    pub status: ShipmentStatus,
    pub revision: Revision,
    pub carrier: Option<String>,
    pub tracking_code: Option<String>,
    pub tracking_url: Option<String>,
    pub estimated_delivery: Option<NaiveDate>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub lines: Vec<ShipmentLine>,
    pub exception: Option<ShipmentProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub line: u32,
    pub sku: Sku,
    pub quantity: Quantity,
    pub unit_price: UnitPrice,
}

/// Order lines: at least one, unique line numbers, positive quantities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<OrderLine>", into = "Vec<OrderLine>")]
pub struct OrderLines(Vec<OrderLine>);

impl OrderLines {
    pub fn new(lines: Vec<OrderLine>) -> Result<Self, FieldViolation> {
        if lines.is_empty() {
            return Err(FieldViolation::new(
                "/lines",
                InvalidValue::new("empty", "an order needs at least one line"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (index, line) in lines.iter().enumerate() {
            if !seen.insert(line.line) {
                return Err(FieldViolation::new(
                    format!("/lines/{index}/line"),
                    InvalidValue::new(
                        "duplicate",
                        format!("line number {} appears twice", line.line),
                    ),
                ));
            }
            if line.quantity == Quantity::ZERO {
                return Err(FieldViolation::new(
                    format!("/lines/{index}/quantity"),
                    InvalidValue::new("not_positive", "an order line quantity must be above 0"),
                ));
            }
        }
        // Every order's total must be computable: an amount beyond what exact decimals hold
        // (a quantity of 1e20 at 1e10) is refused here, by name, not a panic at the check.
        if let Err(index) = Self::checked_total(&lines) {
            return Err(FieldViolation::new(
                format!("/lines/{index}"),
                InvalidValue::new(
                    "amount_out_of_range",
                    "quantity × unit price (or the order total) exceeds the largest amount the bridge represents exactly",
                ),
            ));
        }
        Ok(Self(lines))
    }

    /// The sum of quantity × unit price; `Err(index)` of the line where it overflows.
    fn checked_total(lines: &[OrderLine]) -> Result<Decimal, usize> {
        lines
            .iter()
            .enumerate()
            .try_fold(Decimal::ZERO, |sum, (index, line)| {
                line.quantity
                    .value()
                    .checked_mul(line.unit_price.value())
                    .and_then(|amount| sum.checked_add(amount))
                    .ok_or(index)
            })
    }

    pub fn as_slice(&self) -> &[OrderLine] {
        &self.0
    }
}

impl TryFrom<Vec<OrderLine>> for OrderLines {
    type Error = FieldViolation;
    fn try_from(value: Vec<OrderLine>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<OrderLines> for Vec<OrderLine> {
    fn from(value: OrderLines) -> Self {
        value.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    pub user_id: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub role: String,
    pub user_id: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Delivery {
    /// Address lines by name (`street`, `city`, ...), as the shop sends them.
    pub address: BTreeMap<String, String>,
    pub requested_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: OrderId,
    /// The shop's version of this order (contract v2; absent counts as 1): a delivery
    /// replaces a stored unsubmitted order only when its revision is higher.
    #[serde(default = "Revision::first")]
    pub revision: Revision,
    pub customer_id: CustomerId,
    pub currency: Currency,
    pub lines: OrderLines,
    pub placed_at: DateTime<Utc>,
    pub po_number: Option<String>,
    pub cost_center: Option<CostCenter>,
    pub buyer: Option<Buyer>,
    pub approvals: Vec<Approval>,
    pub delivery: Option<Delivery>,
}

impl OrderPlaced {
    /// The order total: sum of quantity × unit price (`OrderLines::new` has checked that it
    /// fits, so this cannot overflow).
    pub fn total(&self) -> Money {
        let amount = OrderLines::checked_total(self.lines.as_slice()).unwrap_or(Decimal::MAX);
        Money::new(amount, self.currency)
    }
}

/// Any event of the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DomainEvent {
    #[serde(rename = "stock.changed")]
    StockChanged(StockChanged),
    #[serde(rename = "price.changed")]
    PriceChanged(PriceChanged),
    #[serde(rename = "customer.changed")]
    CustomerChanged(CustomerChanged),
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged(OrderStatusChanged),
    #[serde(rename = "order.placed")]
    OrderPlaced(OrderPlaced),
    #[serde(rename = "shipment.updated")]
    ShipmentUpdated(ShipmentUpdated),
    #[serde(rename = "return.requested")]
    ReturnRequested(crate::feedback::ReturnRequested),
    #[serde(rename = "return.status_changed")]
    ReturnStatusChanged(crate::feedback::ReturnStatusChanged),
    #[serde(rename = "payment.received")]
    PaymentReceived(crate::feedback::PaymentReceived),
    #[serde(rename = "contact.changed")]
    ContactChanged(crate::feedback::ContactChanged),
    #[serde(rename = "account.registered")]
    AccountRegistered(crate::feedback::AccountRegistered),
}

impl DomainEvent {
    pub fn event_type(&self) -> EventType {
        match self {
            DomainEvent::StockChanged(_) => EventType::StockChanged,
            DomainEvent::PriceChanged(_) => EventType::PriceChanged,
            DomainEvent::CustomerChanged(_) => EventType::CustomerChanged,
            DomainEvent::OrderStatusChanged(_) => EventType::OrderStatusChanged,
            DomainEvent::OrderPlaced(_) => EventType::OrderPlaced,
            DomainEvent::ShipmentUpdated(_) => EventType::ShipmentUpdated,
            DomainEvent::ReturnRequested(_) => EventType::ReturnRequested,
            DomainEvent::ReturnStatusChanged(_) => EventType::ReturnStatusChanged,
            DomainEvent::PaymentReceived(_) => EventType::PaymentReceived,
            DomainEvent::ContactChanged(_) => EventType::ContactChanged,
            DomainEvent::AccountRegistered(_) => EventType::AccountRegistered,
        }
    }

    /// The record this event is about, for logs and reports (`sku@warehouse`, ...).
    pub fn record_key(&self) -> String {
        match self {
            DomainEvent::StockChanged(e) => format!("{}@{}", e.sku, e.warehouse),
            DomainEvent::PriceChanged(e) => format!("{}/{}", e.price_list, e.sku),
            DomainEvent::CustomerChanged(e) => e.customer_id.to_string(),
            DomainEvent::OrderStatusChanged(e) => e.order_id.to_string(),
            DomainEvent::OrderPlaced(e) => e.order_id.to_string(),
            DomainEvent::ShipmentUpdated(e) => format!("{}/{}", e.order_id, e.shipment_id),
            DomainEvent::ReturnRequested(e) => format!("{}/{}", e.order_id, e.return_id),
            DomainEvent::ReturnStatusChanged(e) => e.return_id.to_string(),
            DomainEvent::PaymentReceived(e) => format!("{}/{}", e.customer_id, e.payment_id),
            DomainEvent::ContactChanged(e) => format!("{}/{}", e.customer_id, e.contact_id),
            DomainEvent::AccountRegistered(e) => e.registration_id.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn tier(min: &str, price: &str) -> PriceTier {
        PriceTier {
            min_qty: Quantity::new(Decimal::from_str(min).unwrap()).unwrap(),
            unit_price: UnitPrice::new(Decimal::from_str(price).unwrap()).unwrap(),
        }
    }

    #[test]
    fn each_type_belongs_to_one_route() {
        assert_eq!(EventType::PriceChanged.route(), Route::StockPrice);
        assert_eq!(EventType::CustomerChanged.route(), Route::Customers);
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn tiers_must_ascend_strictly() {
        let err = PriceTiers::new(vec![tier("10", "9"), tier("10", "8")]).unwrap_err();
        assert_eq!(err.path, "/tiers/1/min_qty");
        assert_eq!(err.error.code, "not_ascending");
        assert!(PriceTiers::new(vec![]).is_err());
    }

    #[test]
    fn an_order_whose_total_does_not_fit_is_refused_by_name() {
        let line = |n: u32, qty: &str, price: &str| OrderLine {
            line: n,
            sku: Sku::parse("A").unwrap(),
            quantity: Quantity::new(Decimal::from_str(qty).unwrap()).unwrap(),
            unit_price: UnitPrice::new(Decimal::from_str(price).unwrap()).unwrap(),
        };
        let err = OrderLines::new(vec![
            line(1, "1", "1"),
            line(2, "100000000000000000000", "10000000000"),
        ])
        .unwrap_err();
        assert_eq!(err.path, "/lines/1");
        assert_eq!(err.error.code, "amount_out_of_range");
        // Each line fits, their sum does not.
        let big = "70000000000000000000000000000";
        let err = OrderLines::new(vec![line(1, big, "1"), line(2, big, "1")]).unwrap_err();
        assert_eq!(err.error.code, "amount_out_of_range");
        let fine = OrderLines::new(vec![line(1, "3", "9.90")]).unwrap();
        assert_eq!(
            OrderLines::checked_total(fine.as_slice()),
            Ok(Decimal::from_str("29.70").unwrap())
        );
    }

    #[test]
    fn the_tier_is_the_highest_min_qty_not_above_the_quantity() {
        let tiers =
            PriceTiers::new(vec![tier("1", "10"), tier("10", "9"), tier("100", "8")]).unwrap();
        let q = |s: &str| Quantity::new(Decimal::from_str(s).unwrap()).unwrap();
        assert_eq!(tiers.tier_for(q("0.5")), None);
        assert_eq!(
            tiers
                .tier_for(q("1"))
                .unwrap()
                .unit_price
                .value()
                .to_string(),
            "10"
        );
        assert_eq!(
            tiers
                .tier_for(q("99.9"))
                .unwrap()
                .unit_price
                .value()
                .to_string(),
            "9"
        );
        assert_eq!(
            tiers
                .tier_for(q("100"))
                .unwrap()
                .unit_price
                .value()
                .to_string(),
            "8"
        );
    }

    #[test]
    fn a_window_is_half_open() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let window = ValidityWindow::new(
            Some(at("2026-01-01T00:00:00Z")),
            Some(at("2026-02-01T00:00:00Z")),
        )
        .unwrap();
        assert!(window.contains(at("2026-01-01T00:00:00Z")));
        assert!(!window.contains(at("2026-02-01T00:00:00Z")));
        assert!(
            ValidityWindow::new(
                Some(at("2026-02-01T00:00:00Z")),
                Some(at("2026-01-01T00:00:00Z"))
            )
            .is_err()
        );
    }

    #[test]
    fn order_lines_need_unique_numbers_and_positive_quantities() {
        let line = |n: u32, qty: &str| OrderLine {
            line: n,
            sku: Sku::parse("A").unwrap(),
            quantity: Quantity::new(Decimal::from_str(qty).unwrap()).unwrap(),
            unit_price: UnitPrice::new(Decimal::ONE).unwrap(),
        };
        assert_eq!(
            OrderLines::new(vec![line(1, "1"), line(1, "2")])
                .unwrap_err()
                .path,
            "/lines/1/line"
        );
        assert_eq!(
            OrderLines::new(vec![line(1, "0")]).unwrap_err().path,
            "/lines/0/quantity"
        );
    }
}

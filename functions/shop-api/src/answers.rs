//! The read API's answers as they go on the wire (contract section 7). The OpenAPI document
//! (`docs/contract/shop-api.openapi.json`) is generated from these types, so the two cannot
//! part ways: decimals are JSON strings with their exact digits, timestamps RFC 3339.

use bridge_domain::events::StockChanged;
use bridge_domain::orders::CreditPosition;
use bridge_domain::pricing::{ListSkipped, PriceResolution};
use bridge_domain::{Money, Quantity, Sku};
use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An exact decimal, as text ("12.50").
pub type DecimalText = String;

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `POST /v1/prices/resolve`: the request (what the parser in `bridge_contract::read_api`
/// accepts; the document shows it, the parser decides).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "ResolveRequest")]
pub struct ResolveRequestDoc {
    /// The ERP's customer id.
    pub customer_id: String,
    /// The date the prices are for (RFC 3339, or a date: midnight in the business time
    /// zone); default now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// 1 to 200 lines.
    pub lines: Vec<ResolveLineDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "ResolveLine")]
pub struct ResolveLineDoc {
    pub sku: String,
    /// Above 0; a JSON string or number, read exactly.
    pub quantity: DecimalText,
}

/// The answer to a price request: one line per line asked, in the same order.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ResolveAnswer {
    pub customer_id: String,
    /// The date the prices are for.
    pub at: String,
    /// The customer's price lists, highest priority first.
    pub price_lists: Vec<String>,
    pub lines: Vec<LineAnswer>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Priced,
    /// No list of the customer gives a price: the shop shows "price on request", never 0.
    OnRequest,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct LineAnswer {
    pub sku: String,
    pub quantity: DecimalText,
    pub status: LineStatus,
    /// Price per `price_per` units of `price_unit` (priced lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<DecimalText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The list the price comes from, and its place among the customer's (1 = first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_list: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<usize>,
    /// The tier applied: the highest `min_qty` not above the quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_min_qty: Option<DecimalText>,
    /// UN/ECE Rec 20 unit (C62: piece).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per: Option<DecimalText>,
    /// quantity × unit_price ÷ price_per, exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_total: Option<DecimalText>,
    /// The window the price holds in; absent bounds are open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
    /// Why each list gave no price (lines on request).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedList>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SkippedList {
    pub price_list: String,
    pub reason: SkipReason,
    /// The list's first tier (`below_minimum_quantity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_qty: Option<DecimalText>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    NotListed,
    NotValidAt,
    BelowMinimumQuantity,
}

impl LineAnswer {
    /// One line's answer from the resolution `bridgectl price` and the order checks share.
    pub fn from_resolution(sku: &Sku, quantity: Quantity, resolution: PriceResolution) -> Self {
        let mut line = LineAnswer {
            sku: sku.as_str().to_string(),
            quantity: quantity.value().to_string(),
            status: LineStatus::OnRequest,
            unit_price: None,
            currency: None,
            price_list: None,
            priority: None,
            tier_min_qty: None,
            price_unit: None,
            price_per: None,
            line_total: None,
            valid_from: None,
            valid_to: None,
            skipped: Vec::new(),
        };
        match resolution {
            PriceResolution::Priced(p) => {
                line.status = LineStatus::Priced;
                line.unit_price = Some(p.unit_price.to_string());
                line.currency = Some(p.currency.to_string());
                line.price_list = Some(p.price_list.to_string());
                line.priority = Some(p.priority);
                line.tier_min_qty = Some(p.tier_min_qty.value().to_string());
                line.price_unit = Some(p.price_unit.as_str().to_string());
                line.price_per = Some(p.price_per.value().to_string());
                line.line_total = p.line_total.map(|t| t.to_string());
                line.valid_from = p.validity.from().map(timestamp);
                line.valid_to = p.validity.until().map(timestamp);
            }
            PriceResolution::OnRequest { skipped } => {
                line.skipped = skipped
                    .into_iter()
                    .map(|s| match s {
                        ListSkipped::NotListed { price_list } => SkippedList {
                            price_list: price_list.to_string(),
                            reason: SkipReason::NotListed,
                            min_qty: None,
                        },
                        ListSkipped::NotValidAt { price_list } => SkippedList {
                            price_list: price_list.to_string(),
                            reason: SkipReason::NotValidAt,
                            min_qty: None,
                        },
                        ListSkipped::BelowMinimumQuantity {
                            price_list,
                            min_qty,
                        } => SkippedList {
                            price_list: price_list.to_string(),
                            reason: SkipReason::BelowMinimumQuantity,
                            min_qty: Some(min_qty.value().to_string()),
                        },
                    })
                    .collect();
            }
        }
        line
    }
}

/// `GET /v1/availability`: per sku asked, in the order asked, its warehouses' levels.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct AvailabilityAnswer {
    /// The stock SLA `stale` is measured against, in seconds.
    pub stale_after_seconds: i64,
    pub skus: Vec<SkuAvailability>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct SkuAvailability {
    pub sku: String,
    /// Empty when the ERP reported no level (for that warehouse) yet.
    pub warehouses: Vec<WarehouseLevel>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct WarehouseLevel {
    pub warehouse: String,
    pub available: DecimalText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_delivery: Option<NextDeliveryAnswer>,
    /// When the ERP counted it (absent if the ERP did not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// `as_of` is older than the stock SLA, or unknown: do not promise from it.
    pub stale: bool,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct NextDeliveryAnswer {
    /// YYYY-MM-DD
    pub date: String,
    pub quantity: DecimalText,
}

impl WarehouseLevel {
    pub fn from_level(level: &StockChanged, now: DateTime<Utc>, sla: chrono::Duration) -> Self {
        WarehouseLevel {
            warehouse: level.warehouse.to_string(),
            available: level.available.value().to_string(),
            next_delivery: level.next_delivery.as_ref().map(|d| NextDeliveryAnswer {
                date: d.date.to_string(),
                quantity: d.quantity.value().to_string(),
            }),
            as_of: level.as_of.map(timestamp),
            stale: level.as_of.is_none_or(|as_of| now - as_of > sla),
        }
    }
}

/// `GET /v1/customers/{id}/credit`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct CreditAnswer {
    pub customer_id: String,
    /// A blocked customer's orders are held whatever its headroom.
    pub blocked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_limit: Option<MoneyAnswer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_items: Option<MoneyAnswer>,
    /// Orders the ERP has (or is being sent) and has not invoiced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_orders: Option<MoneyAnswer>,
    /// open_items + open_orders (absent when they are in different currencies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<MoneyAnswer>,
    /// credit_limit − exposure; negative when over the limit; absent without a limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headroom: Option<MoneyAnswer>,
    /// Open orders in another currency, not in `exposure` (no rate to add them with).
    pub orders_in_other_currencies: usize,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct MoneyAnswer {
    pub amount: DecimalText,
    pub currency: String,
}

impl From<Money> for MoneyAnswer {
    fn from(money: Money) -> Self {
        MoneyAnswer {
            amount: money.amount.to_string(),
            currency: money.currency.to_string(),
        }
    }
}

impl CreditAnswer {
    pub fn new(customer_id: &str, position: CreditPosition) -> Self {
        CreditAnswer {
            customer_id: customer_id.to_string(),
            blocked: position.blocked,
            credit_limit: position.credit_limit.map(Into::into),
            open_items: position.open_items.map(Into::into),
            open_orders: position.open_orders.map(Into::into),
            exposure: position.exposure.map(Into::into),
            headroom: position.headroom.map(Into::into),
            orders_in_other_currencies: position.orders_in_other_currencies,
        }
    }
}

/// Every error: as the webhooks' (contract section 1).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ErrorAnswer {
    /// Stable code: `invalid_json`, `missing_field`, `too_many_lines`, `customer_not_found`,
    /// `unauthorized`, `forbidden`, `unavailable`, ...
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// JSON pointer of the offending field (`/lines/3/quantity`; query parameters as
    /// `/sku/1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

//! Orders from the shop (contract section 6): a commercetools Subscription delivers each
//! `OrderCreated` message to the bridge's queue in the Platform format; this module reads
//! the notification and turns the order in it into the contract's `order.placed`.
//!
//! What the order does not say itself comes from the shop: the customer's ERP id is the key
//! of the commercetools customer (the bridge creates customers under that key), and an
//! order too large for the notification (`payloadNotIncluded`) is read by its id.
//!
//! The B2B fields travel as custom fields of the order (any Type that has them):
//! `poNumber`, `costCenter`, `buyerUserId` (String), `requestedDeliveryDate` (Date) and
//! `approvals` (String holding the contract's JSON array `[{role, user_id, at}]`).

use crate::client::{Call, Client};
use crate::error::ShopError;
use crate::model::CustomFields;
use bridge_domain::events::{Approval, Buyer, Delivery, OrderLine, OrderLines, UnitPrice};
use bridge_domain::shop::ShopNotification;
use bridge_domain::{
    CostCenter, Currency, CustomerId, OrderId, OrderPlaced, PortError, Quantity, Revision, Sku,
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

const OPERATION: &str = "shop.read_order";

/// The order's custom fields the bridge reads.
pub const PO_NUMBER_FIELD: &str = "poNumber";
pub const COST_CENTER_FIELD: &str = "costCenter";
pub const BUYER_USER_ID_FIELD: &str = "buyerUserId";
pub const REQUESTED_DELIVERY_DATE_FIELD: &str = "requestedDeliveryDate";
pub const APPROVALS_FIELD: &str = "approvals";

/// The message type the bridge acts on: an order checked out from a cart.
pub const ORDER_CREATED: &str = "OrderCreated";

/// A Subscription's notification in the Platform format (only what the bridge reads). A
/// Message notification carries the message's fields at the top level.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    notification_type: Option<String>,
    /// The project the message comes from: commercetools sends every project's messages as
    /// one AWS principal, so the queue policy alone does not keep other projects out.
    project_key: Option<String>,
    /// The message's id: the same on every delivery of this message.
    id: Option<String>,
    #[serde(rename = "type")]
    message_type: Option<String>,
    resource: Option<ResourceRef>,
    /// Kept as JSON first, so that an unreadable order is reported by its own field.
    order: Option<Value>,
    /// Set instead of the payload when the message was too large for the destination.
    payload_not_included: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceRef {
    type_id: String,
    id: String,
}

/// An order as the API returns it (the fields the bridge reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShopOrder {
    pub id: String,
    pub version: u64,
    pub order_number: Option<String>,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub total_price: TypedMoney,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub custom_line_items: Vec<Value>,
    /// A cart discount on the order's total, which no line carries.
    pub discount_on_total_price: Option<Value>,
    pub custom: Option<CustomFields>,
    pub shipping_address: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub id: String,
    pub variant: Variant,
    pub quantity: u64,
    pub price: Price,
    #[serde(default)]
    pub discounted_price_per_quantity: Vec<DiscountedPerQuantity>,
    /// What the buyer pays for the line: checked against quantity × unit price.
    pub total_price: TypedMoney,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Variant {
    pub sku: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub value: TypedMoney,
    pub discounted: Option<Discounted>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Discounted {
    pub value: TypedMoney,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscountedPerQuantity {
    pub quantity: u64,
    pub discounted_price: Discounted,
}

/// `CentPrecisionMoney` or `HighPrecisionMoney`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedMoney {
    pub currency_code: String,
    pub cent_amount: i64,
    #[serde(default = "two")]
    pub fraction_digits: u32,
    /// High precision money: the amount in `fraction_digits` digits (`centAmount` is rounded).
    pub precise_amount: Option<i64>,
}

fn two() -> u32 {
    2
}

impl TypedMoney {
    /// The exact amount: `preciseAmount` where there is one, else `centAmount`.
    pub fn amount(&self) -> Decimal {
        Decimal::new(
            self.precise_amount.unwrap_or(self.cent_amount),
            self.fraction_digits,
        )
    }
}

/// Why an order cannot become an `order.placed`: the shop will send it no other way, so
/// each is permanent and names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("the notification is not JSON of a commercetools Subscription: {0}")]
    NotANotification(String),
    #[error(
        "the notification comes from project {found:?}, not this stack's {expected:?}: another project's Subscription points at this queue"
    )]
    OtherProject { found: String, expected: String },
    #[error(
        "{0}: this queue takes OrderCreated messages only (Platform format); check the Subscription's messages and format"
    )]
    NotAnOrderCreated(String),
    #[error("the order message has no order and no payloadNotIncluded: {0}")]
    NoOrder(String),
    #[error("the order in the message is not an order as the API defines it: {0}")]
    UnreadableOrder(String),
    #[error(
        "order {order} has no customer (an anonymous checkout); the bridge takes orders of ERP customers only"
    )]
    NoCustomer { order: String },
    #[error(
        "order {order}: its customer {customer} has no key, so it is no ERP customer the bridge knows (the bridge creates customers with key = ERP customer id)"
    )]
    CustomerWithoutKey { order: String, customer: String },
    #[error("order {order}: customer {customer} does not exist in the shop")]
    UnknownCustomer { order: String, customer: String },
    #[error("order {order}: {field}: {message}")]
    Field {
        order: String,
        field: String,
        message: String,
    },
}

impl OrderError {
    fn field(order: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        OrderError::Field {
            order: order.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What a notification asks of the bridge, before the shop is asked anything.
#[derive(Debug)]
pub(crate) enum Reading {
    Ignored(String),
    Order {
        message_id: String,
        order: Box<ShopOrder>,
    },
    /// The order did not fit into the message: read it by id.
    OrderById {
        message_id: String,
        id: String,
    },
}

/// Reads a notification's body (pure): `project` is this stack's project key.
pub(crate) fn read(body: &str, project: &str) -> Result<Reading, OrderError> {
    let notification: Notification =
        serde_json::from_str(body).map_err(|e| OrderError::NotANotification(e.to_string()))?;
    let Some(found) = notification.project_key.as_deref() else {
        return Err(OrderError::NotAnOrderCreated(
            "a notification without projectKey (CloudEvents format?)".into(),
        ));
    };
    if found != project {
        return Err(OrderError::OtherProject {
            found: found.to_string(),
            expected: project.to_string(),
        });
    }
    let kind = notification.notification_type.as_deref().unwrap_or("");
    // The test message commercetools sends when the Subscription is created.
    if kind == "ResourceCreated"
        && notification
            .resource
            .as_ref()
            .is_some_and(|r| r.type_id == "subscription")
    {
        return Ok(Reading::Ignored("the Subscription's test message".into()));
    }
    // A message too large for the queue may come without its `type`: the notification then
    // names it as `payloadNotIncluded.payloadType`.
    let message_type = notification.message_type.clone().or_else(|| {
        notification
            .payload_not_included
            .as_ref()
            .and_then(|p| p.get("payloadType"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    // Anything else is refused, not dropped: an order sent in another format or as another
    // type would otherwise be acknowledged and lost.
    if kind != "Message" || message_type.as_deref() != Some(ORDER_CREATED) {
        let what = match (kind, message_type.as_deref()) {
            ("Message", Some(message)) => format!("a {message} message"),
            ("Message", None) => "a message without type".to_string(),
            ("", _) => "a notification without notificationType (CloudEvents format?)".to_string(),
            (other, _) => format!("a {other} notification"),
        };
        return Err(OrderError::NotAnOrderCreated(what));
    }
    let message_id = notification
        .id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| OrderError::NotANotification("the message has no id".into()))?;
    match (notification.order, notification.payload_not_included) {
        (Some(order), _) => {
            let order: ShopOrder = serde_json::from_value(order)
                .map_err(|e| OrderError::UnreadableOrder(e.to_string()))?;
            Ok(Reading::Order {
                message_id,
                order: Box::new(order),
            })
        }
        (None, Some(_)) => match notification.resource {
            Some(resource) if resource.type_id == "order" => Ok(Reading::OrderById {
                message_id,
                id: resource.id,
            }),
            _ => Err(OrderError::NoOrder(
                "payloadNotIncluded without an order resource".into(),
            )),
        },
        (None, None) => Err(OrderError::NoOrder(format!("message {message_id}"))),
    }
}

/// The order id the ERP sees: the shop's order number (what the buyer is shown), else the
/// order's id.
pub fn order_id_of(order: &ShopOrder) -> &str {
    order
        .order_number
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&order.id)
}

fn custom_string<'a>(order: &'a ShopOrder, name: &str) -> Option<&'a str> {
    order
        .custom
        .as_ref()
        .and_then(|c| c.fields.get(name))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The order as the contract's `order.placed`, for the customer whose ERP id is
/// `customer_key` (pure).
pub fn order_placed(order: &ShopOrder, customer_key: &str) -> Result<OrderPlaced, OrderError> {
    let id = order_id_of(order);
    let err = |field: &str, message: String| OrderError::field(id, field, message);
    let order_id = OrderId::parse(id).map_err(|e| err("orderNumber", e.message))?;
    let customer_id =
        CustomerId::parse(customer_key).map_err(|e| err("customer key", e.message))?;
    let currency = Currency::parse(&order.total_price.currency_code)
        .map_err(|e| err("totalPrice.currencyCode", e.message))?;
    if !order.custom_line_items.is_empty() {
        return Err(err(
            "customLineItems",
            format!(
                "{} custom line items (fees, surcharges) have no place in order.placed; the ERP would not see them",
                order.custom_line_items.len()
            ),
        ));
    }
    if order.discount_on_total_price.is_some() {
        return Err(err(
            "discountOnTotalPrice",
            "a discount on the order's total has no place in order.placed; the ERP would invoice more than the buyer saw".into(),
        ));
    }
    let mut lines = Vec::with_capacity(order.line_items.len());
    for (index, item) in order.line_items.iter().enumerate() {
        let at = |field: &str| format!("lineItems/{index}/{field}");
        let sku = item
            .variant
            .sku
            .as_deref()
            .ok_or_else(|| err(&at("variant/sku"), "the variant has no sku".into()))?;
        let sku = Sku::parse(sku).map_err(|e| err(&at("variant/sku"), e.message))?;
        if item.price.value.currency_code != currency.code() {
            return Err(err(
                &at("price/value/currencyCode"),
                format!(
                    "{} in an order in {}",
                    item.price.value.currency_code,
                    currency.code()
                ),
            ));
        }
        let unit = unit_price(item).map_err(|message| err(&at("price"), message))?;
        check_line_total(item, unit).map_err(|message| err(&at("totalPrice"), message))?;
        lines.push(OrderLine {
            line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            sku,
            quantity: Quantity::new(Decimal::from(item.quantity))
                .map_err(|e| err(&at("quantity"), e.message))?,
            unit_price: UnitPrice::new(unit).map_err(|e| err(&at("price"), e.message))?,
        });
    }
    let lines = OrderLines::new(lines).map_err(|v| {
        err(
            &format!("lineItems{}", v.path.trim_start_matches("/lines")),
            v.error.message,
        )
    })?;
    let cost_center = custom_string(order, COST_CENTER_FIELD)
        .map(|c| CostCenter::parse(c).map_err(|e| err(&custom_path(COST_CENTER_FIELD), e.message)))
        .transpose()?;
    let approvals = match custom_string(order, APPROVALS_FIELD) {
        None => Vec::new(),
        Some(text) => serde_json::from_str::<Vec<Approval>>(text).map_err(|e| {
            err(
                &custom_path(APPROVALS_FIELD),
                format!("not a JSON array of {{role, user_id, at}}: {e}"),
            )
        })?,
    };
    let buyer_user = custom_string(order, BUYER_USER_ID_FIELD);
    let buyer = (buyer_user.is_some() || order.customer_email.is_some()).then(|| Buyer {
        user_id: buyer_user.map(str::to_string),
        email: order.customer_email.clone(),
    });
    let requested_date = custom_string(order, REQUESTED_DELIVERY_DATE_FIELD)
        .map(|d| {
            d.parse::<NaiveDate>().map_err(|e| {
                err(
                    &custom_path(REQUESTED_DELIVERY_DATE_FIELD),
                    format!("{d:?}: {e}"),
                )
            })
        })
        .transpose()?;
    let address = order
        .shipping_address
        .as_ref()
        .map(contract_address)
        .unwrap_or_default();
    let delivery = (!address.is_empty() || requested_date.is_some()).then_some(Delivery {
        address,
        requested_date,
    });
    Ok(OrderPlaced {
        order_id,
        // The shop's version of the order: a later version of the same order replaces an
        // unsubmitted one (contract v2).
        revision: Revision::new(order.version.max(1)),
        customer_id,
        currency,
        lines,
        placed_at: order.created_at,
        po_number: custom_string(order, PO_NUMBER_FIELD).map(str::to_string),
        cost_center,
        buyer,
        approvals,
        delivery,
    })
}

/// A commercetools Address as the contract's address lines (`name`, `street`,
/// `postal_code`, `city`, `region`, `country`); empty parts are left out.
fn contract_address(address: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    let part = |name: &str| {
        address
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let joined = |parts: &[Option<&str>], separator: &str| {
        let parts: Vec<&str> = parts.iter().flatten().copied().collect();
        (!parts.is_empty()).then(|| parts.join(separator))
    };
    let person = joined(&[part("firstName"), part("lastName")], " ");
    let street = joined(
        &[
            joined(&[part("streetName"), part("streetNumber")], " ").as_deref(),
            part("additionalStreetInfo"),
        ],
        ", ",
    );
    [
        ("name", part("company").map(str::to_string).or(person)),
        ("street", street),
        ("postal_code", part("postalCode").map(str::to_string)),
        ("city", part("city").map(str::to_string)),
        (
            "region",
            part("region").or(part("state")).map(str::to_string),
        ),
        ("country", part("country").map(str::to_string)),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_string(), value?)))
    .collect()
}

fn custom_path(field: &str) -> String {
    format!("custom/fields/{field}")
}

/// What one unit costs the buyer: the product discount's price where there is one. A cart
/// discount that gives every unit of the line the same price is that price; one that
/// prices the units differently cannot be one unit price, and the ERP would invoice
/// another amount than the buyer saw, so the order is refused with the reason.
fn unit_price(item: &LineItem) -> Result<Decimal, String> {
    let listed = item
        .price
        .discounted
        .as_ref()
        .map_or(&item.price.value, |d| &d.value)
        .amount();
    let mut per_quantity = item.discounted_price_per_quantity.iter();
    match (per_quantity.next(), per_quantity.next()) {
        (None, _) => Ok(listed),
        (Some(only), None) if only.quantity == item.quantity => {
            Ok(only.discounted_price.value.amount())
        }
        _ => Err(format!(
            "a cart discount prices the {} units of line item {} differently; order.placed carries one unit price per line",
            item.quantity, item.id
        )),
    }
}

/// The line's total as the shop computed it must be quantity × the unit price sent
/// (rounded half to even to the total's digits, as commercetools rounds): otherwise the ERP
/// would invoice another amount than the buyer saw (an external total, a discount the unit
/// price does not carry).
fn check_line_total(item: &LineItem, unit: Decimal) -> Result<(), String> {
    let total = item.total_price.amount();
    let computed = (unit * Decimal::from(item.quantity)).round_dp_with_strategy(
        item.total_price.fraction_digits,
        rust_decimal::RoundingStrategy::MidpointNearestEven,
    );
    if computed == total {
        Ok(())
    } else {
        Err(format!(
            "the line's total {total} is not {} × {unit} = {computed}; order.placed carries quantity and unit price only",
            item.quantity
        ))
    }
}

/// Reads a notification and asks the shop what it does not say.
pub(crate) async fn read_notification(
    client: &Client,
    call: &mut Call<'_>,
    project: &str,
    body: &str,
) -> Result<ShopNotification, PortError> {
    let refused = |err: OrderError| PortError::permanent(OPERATION, err.to_string());
    let shop_error = |err: ShopError| err.into_port_error(OPERATION);
    let (message_id, order) = match read(body, project).map_err(refused)? {
        Reading::Ignored(what) => return Ok(ShopNotification::Ignored { what }),
        Reading::Order { message_id, order } => (message_id, order),
        Reading::OrderById { message_id, id } => {
            let order: Option<ShopOrder> = client
                .get_optional(call, client.url(&["orders", &id]))
                .await
                .map_err(shop_error)?;
            let order = order.ok_or_else(|| {
                PortError::permanent(
                    OPERATION,
                    format!("order {id} of message {message_id} does not exist in the shop"),
                )
            })?;
            (message_id, Box::new(order))
        }
    };
    let customer = order.customer_id.as_deref().ok_or_else(|| {
        refused(OrderError::NoCustomer {
            order: order_id_of(&order).to_string(),
        })
    })?;
    let key = customer_key_of(client, call, customer)
        .await
        .map_err(shop_error)?;
    let key = match key {
        CustomerKey::Key(key) => key,
        CustomerKey::NoKey => {
            return Err(refused(OrderError::CustomerWithoutKey {
                order: order_id_of(&order).to_string(),
                customer: customer.to_string(),
            }));
        }
        CustomerKey::Missing => {
            return Err(refused(OrderError::UnknownCustomer {
                order: order_id_of(&order).to_string(),
                customer: customer.to_string(),
            }));
        }
    };
    let placed = order_placed(&order, &key).map_err(refused)?;
    Ok(ShopNotification::OrderPlaced {
        message_id,
        order: Box::new(placed),
    })
}

enum CustomerKey {
    Key(String),
    NoKey,
    Missing,
}

#[derive(Deserialize)]
struct KeyOnly {
    key: Option<String>,
}

async fn customer_key_of(
    client: &Client,
    call: &mut Call<'_>,
    customer_id: &str,
) -> Result<CustomerKey, ShopError> {
    let found: Option<KeyOnly> = client
        .get_optional(call, client.url(&["customers", customer_id]))
        .await?;
    Ok(match found {
        None => CustomerKey::Missing,
        Some(KeyOnly { key: Some(key) }) if !key.is_empty() => CustomerKey::Key(key),
        Some(_) => CustomerKey::NoKey,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An `OrderCreated` notification as a Subscription delivers it (Platform format).
    pub(crate) fn notification(order: Value) -> String {
        json!({
            "notificationType": "Message",
            "projectKey": "shop",
            "id": "7c5f4f4e-msg",
            "version": 1,
            "sequenceNumber": 1,
            "resource": {"typeId": "order", "id": order["id"]},
            "resourceVersion": 1,
            "resourceUserProvidedIdentifiers": {"orderNumber": order["orderNumber"]},
            "type": "OrderCreated",
            "order": order,
            "createdAt": "2026-12-07T09:00:00.000Z",
            "lastModifiedAt": "2026-12-07T09:00:00.000Z"
        })
        .to_string()
    }

    fn money(cents: i64) -> Value {
        json!({"type": "centPrecision", "currencyCode": "EUR", "centAmount": cents, "fractionDigits": 2})
    }

    pub(crate) fn order() -> Value {
        json!({
            "id": "0f8a-order", "version": 3, "orderNumber": "SHOP-1001",
            "customerId": "cu-1", "customerEmail": "buyer@acme.example",
            "createdAt": "2026-12-07T08:59:58.123Z",
            "totalPrice": money(11_760 + 2_000),
            "orderState": "Open",
            "lineItems": [
                {"id": "li-1", "productId": "p1", "variant": {"id": 1, "sku": "SKU-1"}, "quantity": 12,
                 "price": {"id": "pr", "value": money(1_000), "discounted": {"value": money(980)}},
                 "totalPrice": money(11_760)},
                {"id": "li-2", "productId": "p2", "variant": {"id": 1, "sku": "SKU-2"}, "quantity": 1,
                 "price": {"id": "pr2", "value": {"type": "highPrecision", "currencyCode": "EUR",
                     "centAmount": 2000, "preciseAmount": 199_995, "fractionDigits": 4}},
                 "totalPrice": money(2_000)}
            ],
            "custom": {"type": {"typeId": "type", "id": "t-order"}, "fields": {
                "poNumber": "PO-77", "costCenter": "CC-10", "buyerUserId": "u-9",
                "requestedDeliveryDate": "2027-01-15",
                "approvals": "[{\"role\": \"purchasing\", \"user_id\": \"u-2\", \"at\": \"2026-12-07T08:00:00Z\"}]"
            }},
            "shippingAddress": {"id": "a1", "company": "ACME GmbH", "streetName": "Hauptstr.",
                "streetNumber": "5", "postalCode": "10115", "city": "Berlin", "country": "DE", "state": ""}
        })
    }

    fn placed(order: Value) -> Result<OrderPlaced, OrderError> {
        let Reading::Order { order, .. } = read(&notification(order), "shop").unwrap() else {
            panic!("an order")
        };
        order_placed(&order, "C-10001")
    }

    #[test]
    fn an_order_created_message_becomes_order_placed_with_its_b2b_fields() {
        let placed = placed(order()).unwrap();
        assert_eq!(placed.order_id.as_str(), "SHOP-1001");
        assert_eq!(placed.revision, Revision::new(3));
        assert_eq!(placed.customer_id.as_str(), "C-10001");
        assert_eq!(placed.currency.code(), "EUR");
        let lines = placed.lines.as_slice();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].line, lines[0].sku.as_str()),
            (1, "SKU-1"),
            "lines numbered in the order's sequence"
        );
        assert_eq!(lines[0].quantity.to_string(), "12");
        // The product discount's price is what the buyer pays per unit.
        assert_eq!(lines[0].unit_price.value().to_string(), "9.80");
        // High precision money keeps its digits.
        assert_eq!(lines[1].unit_price.value().to_string(), "19.9995");
        assert_eq!(placed.po_number.as_deref(), Some("PO-77"));
        assert_eq!(placed.cost_center.as_ref().unwrap().as_str(), "CC-10");
        assert_eq!(placed.approvals.len(), 1);
        assert_eq!(placed.approvals[0].role, "purchasing");
        assert_eq!(
            placed.buyer,
            Some(Buyer {
                user_id: Some("u-9".into()),
                email: Some("buyer@acme.example".into())
            })
        );
        let delivery = placed.delivery.unwrap();
        assert_eq!(delivery.requested_date.unwrap().to_string(), "2027-01-15");
        assert_eq!(
            delivery.address,
            BTreeMap::from(
                [
                    ("name", "ACME GmbH"),
                    ("street", "Hauptstr. 5"),
                    ("postal_code", "10115"),
                    ("city", "Berlin"),
                    ("country", "DE")
                ]
                .map(|(k, v)| (k.to_string(), v.to_string()))
            ),
            "the contract's address lines; empty parts left out"
        );
        assert_eq!(
            placed.placed_at.to_rfc3339(),
            "2026-12-07T08:59:58.123+00:00"
        );
    }

    #[test]
    fn the_result_is_an_order_placed_event_the_contract_parser_reads_back_equal() {
        let placed = placed(order()).unwrap();
        let body = json!({"type": "order.placed", "timestamp": "2026-12-07T09:00:00Z",
                          "data": serde_json::to_value(&placed).unwrap()});
        let parsed = bridge_contract::parse_event_value(
            &bridge_domain::Sources::contract().sender("shop").unwrap(),
            &body,
        )
        .unwrap();
        assert_eq!(
            parsed.event,
            bridge_domain::events::DomainEvent::OrderPlaced(placed)
        );
    }

    #[test]
    fn without_a_custom_type_or_address_the_optional_fields_are_absent() {
        let mut bare = order();
        bare.as_object_mut().unwrap().remove("custom");
        bare.as_object_mut().unwrap().remove("shippingAddress");
        bare.as_object_mut().unwrap().remove("customerEmail");
        bare.as_object_mut().unwrap().remove("orderNumber");
        let placed = placed(bare).unwrap();
        assert_eq!(
            placed.order_id.as_str(),
            "0f8a-order",
            "the id without a number"
        );
        assert_eq!(placed.po_number, None);
        assert_eq!(placed.cost_center, None);
        assert_eq!(placed.buyer, None);
        assert_eq!(placed.delivery, None);
        assert!(placed.approvals.is_empty());
    }

    #[test]
    fn what_cannot_be_an_order_placed_is_refused_by_its_field() {
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|o| {
                    o["lineItems"][1]["variant"]
                        .as_object_mut()
                        .unwrap()
                        .clear()
                }),
                "lineItems/1/variant/sku",
            ),
            (Box::new(|o| o["lineItems"] = json!([])), "lineItems"),
            (
                Box::new(|o| o["lineItems"][0]["price"]["value"]["currencyCode"] = json!("USD")),
                "lineItems/0/price/value/currencyCode",
            ),
            (
                Box::new(|o| o["customLineItems"] = json!([{"id": "fee"}])),
                "customLineItems",
            ),
            (
                Box::new(|o| o["discountOnTotalPrice"] = json!({"discountedAmount": money(500)})),
                "discountOnTotalPrice",
            ),
            (
                // An external total (or a discount the unit price does not carry).
                Box::new(|o| o["lineItems"][0]["totalPrice"] = money(11_000)),
                "lineItems/0/totalPrice",
            ),
            (
                Box::new(|o| o["custom"]["fields"]["approvals"] = json!("yes")),
                "custom/fields/approvals",
            ),
            (
                Box::new(|o| o["custom"]["fields"]["requestedDeliveryDate"] = json!("soon")),
                "custom/fields/requestedDeliveryDate",
            ),
            (
                Box::new(|o| {
                    o["lineItems"][0]["discountedPricePerQuantity"] = json!([
                        {"quantity": 10, "discountedPrice": {"value": money(900)}},
                        {"quantity": 2, "discountedPrice": {"value": money(980)}}])
                }),
                "lineItems/0/price",
            ),
        ];
        for (change, field) in cases {
            let mut bad = order();
            change(&mut bad);
            match placed(bad) {
                Err(OrderError::Field { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_cart_discount_on_every_unit_alike_is_the_unit_price() {
        let mut discounted = order();
        discounted["lineItems"][0]["discountedPricePerQuantity"] =
            json!([{"quantity": 12, "discountedPrice": {"value": money(950)}}]);
        discounted["lineItems"][0]["totalPrice"] = money(11_400);
        let placed = placed(discounted).unwrap();
        assert_eq!(
            placed.lines.as_slice()[0].unit_price.value().to_string(),
            "9.50"
        );
    }

    #[test]
    fn the_test_message_is_ignored_and_anything_else_but_an_order_created_is_refused() {
        let test = json!({"notificationType": "ResourceCreated", "projectKey": "shop",
            "resource": {"typeId": "subscription", "id": "s1"}, "version": 1})
        .to_string();
        assert!(matches!(read(&test, "shop"), Ok(Reading::Ignored(_))));
        let refused = |body: Value| match read(&body.to_string(), "shop") {
            Err(OrderError::NotAnOrderCreated(what)) => what,
            other => panic!("{other:?}"),
        };
        let other = json!({"notificationType": "Message", "projectKey": "shop",
            "type": "OrderImported", "id": "m"});
        assert_eq!(refused(other), "a OrderImported message");
        let cloud_event = json!({"specversion": "1.0", "projectKey": "shop", "type": "com.commercetools.order.message.OrderCreated"});
        assert!(refused(cloud_event).contains("CloudEvents"));
        let cloud_event = json!({"specversion": "1.0", "source": "/shop/orders", "type": "com.commercetools.order.message.OrderCreated"});
        assert!(refused(cloud_event).contains("CloudEvents"));
        let change = json!({"notificationType": "ResourceCreated", "projectKey": "shop",
            "resource": {"typeId": "order", "id": "o"}});
        assert_eq!(refused(change), "a ResourceCreated notification");
        assert!(matches!(
            read("{", "shop"),
            Err(OrderError::NotANotification(_))
        ));
        let mut unreadable: Value = serde_json::from_str(&notification(order())).unwrap();
        unreadable["order"]["lineItems"][0]["quantity"] = json!("twelve");
        assert!(matches!(
            read(&unreadable.to_string(), "shop"),
            Err(OrderError::UnreadableOrder(_))
        ));
    }

    #[test]
    fn a_notification_of_another_project_is_refused() {
        assert_eq!(
            read(&notification(order()), "production").unwrap_err(),
            OrderError::OtherProject {
                found: "shop".into(),
                expected: "production".into()
            }
        );
    }

    #[test]
    fn an_order_too_large_for_the_message_is_read_by_its_id() {
        let mut large: Value = serde_json::from_str(&notification(order())).unwrap();
        large.as_object_mut().unwrap().remove("order");
        // Such a notification may name its type only inside payloadNotIncluded.
        large.as_object_mut().unwrap().remove("type");
        large["payloadNotIncluded"] =
            json!({"reason": "Payload too large", "payloadType": "OrderCreated"});
        match read(&large.to_string(), "shop").unwrap() {
            Reading::OrderById { message_id, id } => {
                assert_eq!(message_id, "7c5f4f4e-msg");
                assert_eq!(id, "0f8a-order");
            }
            other => panic!("{other:?}"),
        }
    }
}

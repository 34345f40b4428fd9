//! Webhook bodies (`{"type", "timestamp", "data"}`) to domain events.

use crate::json::{ContractError, Field, Obj};
use bridge_domain::events::{
    Approval, ApprovalRule, Buyer, Delivery, DeliveryTerms, FrameworkAgreement, NextDelivery,
    OrderLine, OrderLines, OrderStatus, PricePer, PriceTier, PriceTiers, ShipmentLine,
    ShipmentProblem, ShipmentStatus, ShipmentUpdated, Tracking, UnitPrice, ValidityWindow,
};
use bridge_domain::feedback::{
    AccountRegistered, ContactChanged, LeadContact, PaymentReceived, ReturnLine, ReturnRequested,
    ReturnStatus, ReturnStatusChanged,
};
use bridge_domain::{ContactId, PaymentId, RegistrationId, ReturnId};
use bridge_domain::{
    CostCenter, Currency, CustomerChanged, CustomerId, DomainEvent, EventType, InvalidValue, Money,
    OrderId, OrderPlaced, OrderStatusChanged, PriceChanged, PriceListId, Quantity, Sender,
    ShipmentId, Sku, StockChanged, UnitCode, WarehouseId,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Longest free-text field we accept (names, terms, roles).
const MAX_TEXT: usize = 512;

/// A webhook body that passed schema validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    pub event_type: EventType,
    pub timestamp: DateTime<Utc>,
    pub event: DomainEvent,
}

/// Parses and validates a webhook body sent by `sender`, which must be configured to send
/// its type.
pub fn parse_event(sender: &Sender, body: &[u8]) -> Result<ParsedEvent, ContractError> {
    parse_event_value(sender, &parse_json(body)?)
}

/// The body as JSON, or the contract's `invalid_json` error.
/// The webhook body of a stored order, as the shop would send it: what the writeback puts
/// in the dead-letter queue for an order that has no queue message left (one that waited
/// for the ERP from the schedule), so that a redrive hands it back like any other delivery.
pub fn order_placed_body(order: &OrderPlaced, timestamp: DateTime<Utc>) -> Value {
    serde_json::json!({
        "type": EventType::OrderPlaced.as_str(),
        "timestamp": timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": order,
    })
}

pub fn parse_json(body: &[u8]) -> Result<Value, ContractError> {
    serde_json::from_slice(body).map_err(|e| {
        ContractError::new(
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
            None,
        )
    })
}

/// Validates a body already parsed as JSON (the intake keeps the value for the queue
/// message instead of parsing the body twice).
pub fn parse_event_value(sender: &Sender, value: &Value) -> Result<ParsedEvent, ContractError> {
    let root = Obj::root(value)?;
    let event_type = root.required("type", |f| {
        let name = f.str()?;
        let event_type = EventType::parse(name).ok_or_else(|| {
            ContractError::new(
                "unknown_type",
                format!("{name:?} is not an event type of the contract"),
                Some(f.path().to_string()),
            )
        })?;
        if !sender.allows(event_type) {
            return Err(ContractError::new(
                "unknown_type",
                format!("{name} is not accepted from source {}", sender.source),
                Some(f.path().to_string()),
            ));
        }
        Ok(event_type)
    })?;
    let timestamp = root.required("timestamp", |f| f.timestamp())?;
    let event = root.required("data", |f| parse_data(event_type, f))?;
    Ok(ParsedEvent {
        event_type,
        timestamp,
        event,
    })
}

/// Parses the `data` member of an event of `event_type`.
pub fn parse_data(event_type: EventType, data: Field<'_>) -> Result<DomainEvent, ContractError> {
    data.object(|o| {
        Ok(match event_type {
            EventType::StockChanged => DomainEvent::StockChanged(stock(o)?),
            EventType::PriceChanged => DomainEvent::PriceChanged(price(o)?),
            EventType::CustomerChanged => DomainEvent::CustomerChanged(customer(o)?),
            EventType::OrderStatusChanged => DomainEvent::OrderStatusChanged(order_status(o)?),
            EventType::OrderPlaced => DomainEvent::OrderPlaced(order_placed(o)?),
            EventType::ShipmentUpdated => DomainEvent::ShipmentUpdated(shipment(o)?),
            EventType::ReturnRequested => DomainEvent::ReturnRequested(return_requested(o)?),
            EventType::ReturnStatusChanged => DomainEvent::ReturnStatusChanged(return_status(o)?),
            EventType::PaymentReceived => DomainEvent::PaymentReceived(payment(o)?),
            EventType::ContactChanged => DomainEvent::ContactChanged(contact(o)?),
            EventType::AccountRegistered => DomainEvent::AccountRegistered(registration(o)?),
        })
    })
}

fn quantity(f: Field<'_>) -> Result<Quantity, ContractError> {
    f.decimal_as(Quantity::new)
}

fn money(f: Field<'_>) -> Result<Money, ContractError> {
    f.object(|o| {
        Ok(Money::new(
            o.required("amount", |f| f.decimal())?,
            o.required("currency", |f| f.parse(Currency::parse))?,
        ))
    })
}

fn stock(o: &Obj<'_>) -> Result<StockChanged, ContractError> {
    Ok(StockChanged {
        sku: o.required("sku", |f| f.parse(Sku::parse))?,
        warehouse: o.required("warehouse", |f| f.parse(WarehouseId::parse))?,
        available: o.required("available", quantity)?,
        revision: o.required("revision", |f| f.revision())?,
        as_of: o.optional("as_of", |f| f.timestamp())?,
        next_delivery: o.optional("next_delivery", |f| {
            f.object(|d| {
                Ok(NextDelivery {
                    date: d.required("date", |f| f.date())?,
                    quantity: d.required("quantity", quantity)?,
                })
            })
        })?,
    })
}

fn price(o: &Obj<'_>) -> Result<PriceChanged, ContractError> {
    let tiers = o.required("tiers", |f| {
        f.array(|t| {
            t.object(|t| {
                Ok(PriceTier {
                    min_qty: t.required("min_qty", quantity)?,
                    unit_price: t.required("unit_price", |f| f.decimal_as(UnitPrice::new))?,
                })
            })
        })
    })?;
    let tiers = PriceTiers::new(tiers).map_err(|v| ContractError::violation(o.path(), v))?;
    let valid_from = o.optional("valid_from", |f| f.bound(false))?;
    let valid_to = o.optional("valid_to", |f| f.bound(true))?;
    let validity = ValidityWindow::new(valid_from, valid_to)
        .map_err(|v| ContractError::violation(o.path(), v))?;
    Ok(PriceChanged {
        price_list: o.required("price_list", |f| f.parse(PriceListId::parse))?,
        sku: o.required("sku", |f| f.parse(Sku::parse))?,
        currency: o.required("currency", |f| f.parse(Currency::parse))?,
        tiers,
        revision: o.required("revision", |f| f.revision())?,
        price_unit: o
            .optional("price_unit", |f| f.parse(UnitCode::parse))?
            .unwrap_or_else(UnitCode::piece),
        price_per: o
            .optional("price_per", |f| f.decimal_as(PricePer::new))?
            .unwrap_or(PricePer::ONE),
        validity,
        // Contract v2: the ERP removes a window by sending it again, deleted, under a higher
        // revision.
        deleted: o.optional("deleted", |f| f.bool())?.unwrap_or(false),
    })
}

fn customer(o: &Obj<'_>) -> Result<CustomerChanged, ContractError> {
    Ok(CustomerChanged {
        customer_id: o.required("customer_id", |f| f.parse(CustomerId::parse))?,
        name: o.required("name", |f| f.text(MAX_TEXT))?,
        revision: o.required("revision", |f| f.revision())?,
        blocked: o.optional("blocked", |f| f.bool())?.unwrap_or(false),
        credit_limit: o.optional("credit_limit", money)?,
        open_items: o.optional("open_items", money)?,
        payment_terms: o.optional("payment_terms", |f| f.text(MAX_TEXT))?,
        delivery_terms: o.optional("delivery_terms", |f| {
            f.object(|d| {
                Ok(DeliveryTerms {
                    incoterm: d.optional("incoterm", |f| f.text(16))?,
                    place: d.optional("place", |f| f.text(MAX_TEXT))?,
                })
            })
        })?,
        price_lists: o.list("price_lists", |f| f.parse(PriceListId::parse))?,
        cost_centers: o.list("cost_centers", |f| f.parse(CostCenter::parse))?,
        framework_agreement: o.optional("framework_agreement", |f| {
            f.object(|a| {
                Ok(FrameworkAgreement {
                    // openTRANS's AGREEMENT_ID takes 50 characters.
                    id: a.required("id", |f| f.text(50))?,
                    valid_until: a.optional("valid_until", |f| f.date())?,
                })
            })
        })?,
        approval_rules: o.list("approval_rules", |f| {
            f.object(|r| {
                let above = r.required("above", money)?;
                if above.amount.is_sign_negative() {
                    return Err(ContractError::new(
                        "negative",
                        "an approval threshold must not be negative",
                        Some(format!("{}/above/amount", r.path())),
                    ));
                }
                Ok(ApprovalRule {
                    above,
                    role: r.required("role", |f| f.text(MAX_TEXT))?,
                })
            })
        })?,
    })
}

fn order_status(o: &Obj<'_>) -> Result<OrderStatusChanged, ContractError> {
    Ok(OrderStatusChanged {
        order_id: o.required("order_id", |f| f.parse(OrderId::parse))?,
        status: o.required("status", |f| {
            f.parse(|s| {
                OrderStatus::parse(s).ok_or_else(|| {
                    InvalidValue::new(
                        "unknown_status",
                        format!(
                            "{s:?} is not one of confirmed, shipped, delivered, invoiced, cancelled"
                        ),
                    )
                })
            })
        })?,
        revision: o.required("revision", |f| f.revision())?,
        erp_order_number: o.optional("erp_order_number", |f| f.text(MAX_TEXT))?,
        tracking: o.list("tracking", |f| {
            f.object(|t| {
                Ok(Tracking {
                    carrier: t.optional("carrier", |f| f.text(MAX_TEXT))?,
                    code: t.optional("code", |f| f.text(MAX_TEXT))?,
                })
            })
        })?,
    })
}

/// `shipment.updated` (section 8). Lines are unique per order line and above 0; an
/// `exception` status needs the exception's code (it is alarmed and shown with it).
fn shipment(o: &Obj<'_>) -> Result<ShipmentUpdated, ContractError> {
    let status = o.required("status", |f| {
        f.parse(|s| {
            ShipmentStatus::parse(s).ok_or_else(|| {
                InvalidValue::new(
                    "unknown_status",
                    format!(
                        "{s:?} is not one of {}",
                        ShipmentStatus::ALL.map(|s| s.as_str()).join(", ")
                    ),
                )
            })
        })
    })?;
    let mut seen = std::collections::BTreeSet::new();
    let lines = o.list("lines", |f| {
        let line = f.object(|l| {
            Ok(ShipmentLine {
                line: l.required("line", |f| f.u32())?,
                quantity: l.required("quantity", |f| {
                    let quantity = quantity(f)?;
                    if quantity.value().is_zero() {
                        return Err(f.invalid(InvalidValue::new(
                            "not_positive",
                            "a shipped quantity must be above 0",
                        )));
                    }
                    Ok(quantity)
                })?,
            })
        })?;
        if !seen.insert(line.line) {
            return Err(f.invalid(InvalidValue::new(
                "duplicate_line",
                format!("line {} is listed twice", line.line),
            )));
        }
        Ok(line)
    })?;
    let exception = o.optional("exception", |f| {
        f.object(|e| {
            Ok(ShipmentProblem {
                code: e.required("code", |f| f.text(MAX_TEXT))?,
                message: e.optional("message", |f| f.text(MAX_TEXT))?,
            })
        })
    })?;
    if status == ShipmentStatus::Exception && exception.is_none() {
        return Err(ContractError::new(
            "missing_field",
            "a shipment in status exception needs exception.code",
            Some(o.path().to_string() + "/exception"),
        ));
    }
    Ok(ShipmentUpdated {
        shipment_id: o.required("shipment_id", |f| f.parse(ShipmentId::parse))?,
        order_id: o.required("order_id", |f| f.parse(OrderId::parse))?,
        status,
        revision: o.required("revision", |f| f.revision())?,
        carrier: o.optional("carrier", |f| f.text(MAX_TEXT))?,
        tracking_code: o.optional("tracking_code", |f| f.text(MAX_TEXT))?,
        tracking_url: o.optional("tracking_url", |f| f.text(2048))?,
        estimated_delivery: o.optional("estimated_delivery", |f| f.date())?,
        occurred_at: o.optional("occurred_at", |f| f.timestamp())?,
        lines,
        exception,
    })
}

fn order_placed(o: &Obj<'_>) -> Result<OrderPlaced, ContractError> {
    let lines = o.required("lines", |f| {
        f.array(|l| {
            l.object(|l| {
                Ok(OrderLine {
                    line: l.required("line", |f| f.u32())?,
                    sku: l.required("sku", |f| f.parse(Sku::parse))?,
                    quantity: l.required("quantity", quantity)?,
                    unit_price: l.required("unit_price", |f| f.decimal_as(UnitPrice::new))?,
                })
            })
        })
    })?;
    let lines = OrderLines::new(lines).map_err(|v| ContractError::violation(o.path(), v))?;
    Ok(OrderPlaced {
        order_id: o.required("order_id", |f| f.parse(OrderId::parse))?,
        // Contract v2: the shop's version of the order; senders of v1 send none.
        revision: o
            .optional("revision", |f| f.revision())?
            .unwrap_or_else(bridge_domain::Revision::first),
        customer_id: o.required("customer_id", |f| f.parse(CustomerId::parse))?,
        currency: o.required("currency", |f| f.parse(Currency::parse))?,
        lines,
        placed_at: o.required("placed_at", |f| f.timestamp())?,
        po_number: o.optional("po_number", |f| f.text(MAX_TEXT))?,
        cost_center: o.optional("cost_center", |f| f.parse(CostCenter::parse))?,
        buyer: o.optional("buyer", |f| {
            f.object(|b| {
                Ok(Buyer {
                    user_id: b.optional("user_id", |f| f.text(MAX_TEXT))?,
                    email: b.optional("email", |f| f.text(MAX_TEXT))?,
                })
            })
        })?,
        approvals: o.list("approvals", |f| {
            f.object(|a| {
                Ok(Approval {
                    role: a.required("role", |f| f.text(MAX_TEXT))?,
                    user_id: a.required("user_id", |f| f.text(MAX_TEXT))?,
                    at: a.optional("at", |f| f.timestamp())?,
                })
            })
        })?,
        delivery: o.optional("delivery", |f| {
            f.object(|d| {
                Ok(Delivery {
                    address: d.optional("address", address)?.unwrap_or_default(),
                    requested_date: d.optional("requested_date", |f| f.date())?,
                })
            })
        })?,
    })
}

/// `return.requested` (section 9): lines unique per order line, each above 0.
fn return_requested(o: &Obj<'_>) -> Result<ReturnRequested, ContractError> {
    let mut seen = std::collections::BTreeSet::new();
    let lines = o.required("lines", |f| {
        let lines = f.array(|l| {
            let line = l.object(|l| {
                Ok(ReturnLine {
                    line: l.required("line", |f| f.u32())?,
                    sku: l.required("sku", |f| f.parse(Sku::parse))?,
                    quantity: l.required("quantity", positive_quantity)?,
                    reason: l.optional("reason", |f| f.text(MAX_TEXT))?,
                })
            })?;
            if !seen.insert(line.line) {
                return Err(l.invalid(InvalidValue::new(
                    "duplicate_line",
                    format!("line {} is listed twice", line.line),
                )));
            }
            Ok(line)
        })?;
        if lines.is_empty() {
            return Err(f.invalid(InvalidValue::new(
                "empty",
                "a return needs at least one line",
            )));
        }
        Ok(lines)
    })?;
    Ok(ReturnRequested {
        return_id: o.required("return_id", |f| f.parse(ReturnId::parse))?,
        order_id: o.required("order_id", |f| f.parse(OrderId::parse))?,
        lines,
        revision: o.required("revision", |f| f.revision())?,
    })
}

fn positive_quantity(f: Field<'_>) -> Result<Quantity, ContractError> {
    let value = quantity(f)?;
    if value.value().is_zero() {
        return Err(f.invalid(InvalidValue::new(
            "not_positive",
            "the quantity must be above 0",
        )));
    }
    Ok(value)
}

/// `return.status_changed` (section 9), from the ERP under its revision of the return.
fn return_status(o: &Obj<'_>) -> Result<ReturnStatusChanged, ContractError> {
    Ok(ReturnStatusChanged {
        return_id: o.required("return_id", |f| f.parse(ReturnId::parse))?,
        status: o.required("status", |f| {
            f.parse(|s| {
                ReturnStatus::parse(s).ok_or_else(|| {
                    InvalidValue::new(
                        "unknown_status",
                        format!(
                            "{s:?} is not one of {}",
                            ReturnStatus::ALL.map(|s| s.as_str()).join(", ")
                        ),
                    )
                })
            })
        })?,
        revision: o.required("revision", |f| f.revision())?,
        erp_return_number: o.optional("erp_return_number", |f| f.text(MAX_TEXT))?,
    })
}

/// `payment.received` (section 9): the amount above 0.
fn payment(o: &Obj<'_>) -> Result<PaymentReceived, ContractError> {
    let amount = o.required("amount", |f| {
        let amount = money(f)?;
        if amount.amount <= rust_decimal::Decimal::ZERO {
            return Err(f.invalid(InvalidValue::new(
                "not_positive",
                "a payment's amount must be above 0",
            )));
        }
        Ok(amount)
    })?;
    Ok(PaymentReceived {
        payment_id: o.required("payment_id", |f| f.parse(PaymentId::parse))?,
        customer_id: o.required("customer_id", |f| f.parse(CustomerId::parse))?,
        amount,
        received_at: o.required("received_at", |f| f.timestamp())?,
        invoices: o.list("invoices", |f| f.text(MAX_TEXT))?,
    })
}

/// `contact.changed` (section 9), from the CRM under its revision of the contact.
fn contact(o: &Obj<'_>) -> Result<ContactChanged, ContractError> {
    Ok(ContactChanged {
        contact_id: o.required("contact_id", |f| f.parse(ContactId::parse))?,
        customer_id: o.required("customer_id", |f| f.parse(CustomerId::parse))?,
        revision: o.required("revision", |f| f.revision())?,
        email: o.optional("email", |f| f.text(MAX_TEXT))?,
        name: o.optional("name", |f| f.text(MAX_TEXT))?,
        roles: o.list("roles", |f| f.text(MAX_TEXT))?,
        active: o.optional("active", |f| f.bool())?.unwrap_or(true),
    })
}

/// `account.registered` (section 9): a company asking for a B2B account.
fn registration(o: &Obj<'_>) -> Result<AccountRegistered, ContractError> {
    Ok(AccountRegistered {
        registration_id: o.required("registration_id", |f| f.parse(RegistrationId::parse))?,
        company: o.required("company", |f| f.text(MAX_TEXT))?,
        vat_id: o.optional("vat_id", |f| f.text(64))?,
        contact: o.optional("contact", |f| {
            f.object(|c| {
                Ok(LeadContact {
                    name: c.optional("name", |f| f.text(MAX_TEXT))?,
                    email: c.optional("email", |f| f.text(MAX_TEXT))?,
                    phone: c.optional("phone", |f| f.text(64))?,
                })
            })
        })?,
        address: o.optional("address", address)?.unwrap_or_default(),
    })
}

/// A delivery address: an object of text lines, or one text.
fn address(f: Field<'_>) -> Result<std::collections::BTreeMap<String, String>, ContractError> {
    if let Ok(text) = f.str() {
        return Ok([("text".to_string(), text.to_string())].into());
    }
    f.object(|a| {
        let mut lines = std::collections::BTreeMap::new();
        for key in [
            "name",
            "street",
            "postal_code",
            "city",
            "region",
            "country",
            "text",
        ] {
            if let Some(value) = a.optional(key, |f| f.text(MAX_TEXT))? {
                lines.insert(key.to_string(), value);
            }
        }
        Ok(lines)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sender(name: &str) -> Sender {
        bridge_domain::Sources::contract().sender(name).unwrap()
    }

    fn parse(source: &str, body: Value) -> Result<ParsedEvent, ContractError> {
        parse_event(&sender(source), body.to_string().as_bytes())
    }

    fn stock_body(data: Value) -> Value {
        json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z", "data": data})
    }

    #[test]
    fn a_stock_event_with_string_and_number_decimals_parses() {
        let parsed = parse(
            "erp",
            stock_body(
                json!({"sku": "A-1", "warehouse": "W1", "available": "12.5", "revision": 7,
                "next_delivery": {"date": "2026-12-01", "quantity": 40}}),
            ),
        )
        .unwrap();
        let DomainEvent::StockChanged(stock) = parsed.event else {
            panic!()
        };
        assert_eq!(stock.available.to_string(), "12.5");
        assert_eq!(stock.revision.value(), 7);
        assert_eq!(stock.next_delivery.unwrap().quantity.to_string(), "40");
    }

    fn shipment_body(data: Value) -> Value {
        json!({"type": "shipment.updated", "timestamp": "2026-12-07T10:00:00Z", "data": data})
    }

    #[test]
    fn a_shipment_from_logistics_parses_with_every_field_and_bad_ones_name_their_pointer() {
        let full = json!({"shipment_id": "00340434161094042557", "order_id": "SO-1", "status": "exception",
            "revision": 4, "carrier": "DHL", "tracking_code": "JJD000390007", "tracking_url": "https://dhl.example/t/JJD000390007",
            "estimated_delivery": "2026-12-09", "occurred_at": "2026-12-07T09:30:00Z",
            "lines": [{"line": 1, "quantity": "2.5"}, {"line": 2, "quantity": 1}],
            "exception": {"code": "address_unknown", "message": "recipient not found"}});
        let DomainEvent::ShipmentUpdated(s) = parse("logistics", shipment_body(full.clone()))
            .unwrap()
            .event
        else {
            panic!()
        };
        assert_eq!(s.status, ShipmentStatus::Exception);
        assert_eq!(s.lines[0].quantity.to_string(), "2.5");
        assert_eq!(s.exception.unwrap().code, "address_unknown");
        assert_eq!(s.estimated_delivery.unwrap().to_string(), "2026-12-09");
        assert_eq!(
            s.tracking_url.as_deref(),
            Some("https://dhl.example/t/JJD000390007")
        );
        // Only the logistics source may send it.
        assert_eq!(
            parse("erp", shipment_body(full.clone())).unwrap_err().code,
            "unknown_type"
        );
        for (change, pointer, code) in [
            (json!({"status": "lost"}), "/data/status", "unknown_status"),
            (
                json!({"exception": null}),
                "/data/exception",
                "missing_field",
            ),
            (
                json!({"lines": [{"line": 1, "quantity": 0}]}),
                "/data/lines/0/quantity",
                "not_positive",
            ),
            (
                json!({"lines": [{"line": 1, "quantity": 1}, {"line": 1, "quantity": 2}]}),
                "/data/lines/1",
                "duplicate_line",
            ),
        ] {
            let mut data = full.clone();
            for (key, value) in change.as_object().unwrap() {
                if value.is_null() {
                    data.as_object_mut().unwrap().remove(key);
                } else {
                    data[key] = value.clone();
                }
            }
            let err = parse("logistics", shipment_body(data)).unwrap_err();
            assert_eq!(
                (err.code.as_str(), err.field.as_deref()),
                (code, Some(pointer)),
                "{change}: {err:?}"
            );
        }
    }

    #[test]
    fn a_missing_required_field_names_its_pointer() {
        let err = parse(
            "erp",
            stock_body(json!({"sku": "A-1", "available": 1, "revision": 1})),
        )
        .unwrap_err();
        assert_eq!(err.code, "missing_field");
        assert_eq!(err.field.as_deref(), Some("/data/warehouse"));
    }

    #[test]
    fn a_negative_quantity_is_rejected_at_its_field() {
        let err = parse(
            "erp",
            stock_body(json!({"sku": "A-1", "warehouse": "W", "available": -1, "revision": 1})),
        )
        .unwrap_err();
        assert_eq!(err.code, "negative");
        assert_eq!(err.field.as_deref(), Some("/data/available"));
    }

    #[test]
    fn a_nested_tier_violation_points_into_the_array() {
        let body = json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {
            "price_list": "PL1", "sku": "A-1", "currency": "EUR", "revision": 3,
            "tiers": [{"min_qty": 1, "unit_price": "9.90"}, {"min_qty": 10, "unit_price": "-1"}]}});
        let err = parse("erp", body).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/data/tiers/1/unit_price"));
        assert_eq!(err.code, "negative");
    }

    #[test]
    fn unordered_tiers_point_at_the_offending_tier() {
        let body = json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {
            "price_list": "PL1", "sku": "A-1", "currency": "EUR", "revision": 3,
            "tiers": [{"min_qty": 10, "unit_price": "9"}, {"min_qty": 5, "unit_price": "8"}]}});
        let err = parse("erp", body).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/data/tiers/1/min_qty"));
    }

    #[test]
    fn an_erp_type_from_the_shop_is_an_unknown_type() {
        let err = parse(
            "shop",
            stock_body(json!({"sku": "A-1", "warehouse": "W", "available": 1, "revision": 1})),
        )
        .unwrap_err();
        assert_eq!(err.code, "unknown_type");
        assert_eq!(err.field.as_deref(), Some("/type"));
    }

    #[test]
    fn not_json_is_invalid_json() {
        let err = parse_event(&sender("erp"), b"{not json").unwrap_err();
        assert_eq!(err.code, "invalid_json");
    }

    #[test]
    fn a_date_only_valid_to_includes_that_whole_day() {
        let body = json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {
            "price_list": "PL1", "sku": "A-1", "currency": "EUR", "revision": 3,
            "valid_from": "2026-01-01", "valid_to": "2026-01-31",
            "tiers": [{"min_qty": 0, "unit_price": "9"}]}});
        let DomainEvent::PriceChanged(price) = parse("erp", body).unwrap().event else {
            panic!()
        };
        // Midnights in the business time zone (Europe/Berlin by default: UTC+1 in winter,
        // UTC+2 in summer), not in UTC.
        assert_eq!(
            price.validity.from().unwrap().to_rfc3339(),
            "2025-12-31T23:00:00+00:00"
        );
        assert_eq!(
            price.validity.until().unwrap().to_rfc3339(),
            "2026-01-31T23:00:00+00:00"
        );
        let summer = json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {
            "price_list": "PL1", "sku": "A-1", "currency": "EUR", "revision": 3,
            "valid_from": "2026-07-01", "tiers": [{"min_qty": 0, "unit_price": "9"}]}});
        let DomainEvent::PriceChanged(price) = parse("erp", summer).unwrap().event else {
            panic!()
        };
        assert_eq!(
            price.validity.from().unwrap().to_rfc3339(),
            "2026-06-30T22:00:00+00:00"
        );
        // An explicit timestamp means what it says.
        assert_eq!(
            crate::json::parse_bound("2026-07-01T00:00:00Z", false)
                .unwrap()
                .to_rfc3339(),
            "2026-07-01T00:00:00+00:00"
        );
        assert!(crate::json::set_business_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn every_event_type_parses_from_a_full_example() {
        let placed = json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": {
            "order_id": "SO-1", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T09:59:00Z",
            "po_number": "PO 4711", "cost_center": "CC-10",
            "buyer": {"user_id": "u1", "email": "buyer@example.com"},
            "approvals": [{"role": "manager", "user_id": "u2", "at": "2026-11-26T09:00:00Z"}],
            "delivery": {"address": {"street": "Hauptstr. 1", "city": "Köln"}, "requested_date": "2026-12-01"},
            "lines": [{"line": 1, "sku": "A-1", "quantity": 3, "unit_price": "9.90"}]}});
        let placed = parse("shop", placed).unwrap();
        let DomainEvent::OrderPlaced(order) = &placed.event else {
            panic!()
        };
        assert_eq!(order.total().amount.to_string(), "29.70");
        assert_eq!(order.total().currency.code(), "EUR");
        assert_eq!(order.revision.value(), 1, "no revision counts as 1");
        // A stored order's body parses back to the same order (the writeback's DLQ relies on it).
        let body = order_placed_body(order, chrono::Utc::now());
        let again = parse("shop", body).unwrap();
        assert_eq!(&again.event, &placed.event);
        let versioned = json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": {
            "order_id": "SO-1", "revision": 3, "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T09:59:00Z",
            "lines": [{"line": 1, "sku": "A-1", "quantity": "1", "unit_price": "1"}]}});
        let DomainEvent::OrderPlaced(v3) = parse("shop", versioned).unwrap().event else {
            panic!()
        };
        assert_eq!(v3.revision.value(), 3);

        let status = json!({"type": "order.status_changed", "timestamp": "2026-11-26T10:00:00Z", "data": {
            "order_id": "SO-1", "status": "shipped", "revision": 2, "erp_order_number": "4500001",
            "tracking": [{"carrier": "DHL", "code": "00340434"}]}});
        assert_eq!(
            parse("erp", status).unwrap().event_type,
            EventType::OrderStatusChanged
        );

        let customer = json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {
            "customer_id": "C-1", "name": "Muster GmbH", "revision": 4, "blocked": false,
            "credit_limit": {"amount": "50000", "currency": "EUR"}, "open_items": {"amount": 1200.5, "currency": "EUR"},
            "payment_terms": "30 days net", "delivery_terms": {"incoterm": "DAP", "place": "Köln"},
            "price_lists": ["CONTRACT-1", "BASE"], "cost_centers": ["CC-10"],
            "approval_rules": [{"above": {"amount": 10000, "currency": "EUR"}, "role": "manager"}]}});
        let DomainEvent::CustomerChanged(customer) = parse("erp", customer).unwrap().event else {
            panic!()
        };
        assert_eq!(customer.price_lists.len(), 2);
        assert_eq!(customer.open_items.unwrap().amount.to_string(), "1200.5");
        assert_eq!(customer.framework_agreement, None);

        // A framework agreement (the documented extension), open-ended or with its last day.
        let with_agreement = |agreement: Value| {
            parse(
                "erp",
                json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {
                    "customer_id": "C-1", "name": "Muster GmbH", "revision": 5,
                    "framework_agreement": agreement}}),
            )
        };
        let DomainEvent::CustomerChanged(customer) =
            with_agreement(json!({"id": "RV-2026-17", "valid_until": "2027-12-31"}))
                .unwrap()
                .event
        else {
            panic!()
        };
        let agreement = customer.framework_agreement.unwrap();
        assert_eq!(agreement.id, "RV-2026-17");
        assert_eq!(agreement.valid_until.unwrap().to_string(), "2027-12-31");
        let err = with_agreement(json!({"id": "RV-1", "valid_until": "end of 2027"})).unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("/data/framework_agreement/valid_until")
        );
        let err = with_agreement(json!({"id": "R".repeat(51)})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/data/framework_agreement/id"));
    }
}

#[cfg(test)]
mod section_9 {
    use super::*;
    use serde_json::json;

    fn parse(source: &str, event_type: &str, data: Value) -> Result<DomainEvent, ContractError> {
        let sender = bridge_domain::Sources::contract().sender(source).unwrap();
        let body = json!({"type": event_type, "timestamp": "2026-12-08T10:00:00Z", "data": data});
        parse_event(&sender, body.to_string().as_bytes()).map(|p| p.event)
    }

    #[test]
    fn returns_payments_contacts_and_registrations_parse_and_name_their_bad_fields() {
        let ret = json!({"return_id": "R-1", "order_id": "SO-1", "revision": 1,
            "lines": [{"line": 1, "sku": "A", "quantity": "2", "reason": "damaged"}]});
        let DomainEvent::ReturnRequested(r) =
            parse("shop", "return.requested", ret.clone()).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.lines[0].quantity.value().to_string(), "2");
        for (data, field) in [
            (
                json!({"return_id": "R-1", "order_id": "SO-1", "revision": 1, "lines": []}),
                "/data/lines",
            ),
            (
                json!({"return_id": "R-1", "order_id": "SO-1", "revision": 1,
                "lines": [{"line": 1, "sku": "A", "quantity": 0}]}),
                "/data/lines/0/quantity",
            ),
            (
                json!({"return_id": "R-1", "order_id": "SO-1", "revision": 1,
                "lines": [{"line": 1, "sku": "A", "quantity": 1}, {"line": 1, "sku": "A", "quantity": 1}]}),
                "/data/lines/1",
            ),
            (
                json!({"order_id": "SO-1", "revision": 1, "lines": [{"line": 1, "sku": "A", "quantity": 1}]}),
                "/data/return_id",
            ),
        ] {
            let err = parse("shop", "return.requested", data).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{err:?}");
        }
        // The ERP does not request returns, the shop does not say what became of them.
        assert_eq!(
            parse("erp", "return.requested", ret).unwrap_err().code,
            "unknown_type"
        );
        let err = parse(
            "erp",
            "return.status_changed",
            json!({"return_id": "R-1", "status": "lost", "revision": 2}),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/data/status"));

        let payment = json!({"payment_id": "P-1", "customer_id": "C-1",
            "amount": {"amount": "100.50", "currency": "EUR"}, "received_at": "2026-12-08T09:00:00Z"});
        assert!(parse("psp", "payment.received", payment.clone()).is_ok());
        assert!(parse("shop", "payment.received", payment).is_ok());
        let err = parse(
            "psp",
            "payment.received",
            json!({"payment_id": "P-1", "customer_id": "C-1",
            "amount": {"amount": "-1", "currency": "EUR"}, "received_at": "2026-12-08T09:00:00Z"}),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/data/amount"));

        let DomainEvent::ContactChanged(c) = parse(
            "crm",
            "contact.changed",
            json!({"contact_id": "u-1", "customer_id": "C-1", "revision": 4, "roles": ["manager"]}),
        )
        .unwrap() else {
            panic!()
        };
        assert!(c.active, "absent counts as active");
        assert_eq!(
            parse("shop", "contact.changed", json!({}))
                .unwrap_err()
                .code,
            "unknown_type"
        );

        let err = parse(
            "shop",
            "account.registered",
            json!({"registration_id": "REG-1", "company": ""}),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("/data/company"), "{err:?}");
    }
}

#[cfg(test)]
mod published_examples {
    use super::*;

    /// The examples integration teams copy from must stay valid.
    #[test]
    fn published_examples_are_accepted() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/contract/examples");
        let mut seen = Vec::new();
        for event_type in EventType::ALL {
            let path = dir.join(format!("{}.json", event_type.as_str()));
            let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let contract = bridge_domain::Sources::contract();
            let sender = contract
                .names()
                .filter_map(|name| contract.sender(name.as_str()))
                .find(|sender| sender.allows(event_type))
                .expect("a contract source sends every type");
            let parsed =
                parse_event(&sender, &body).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            assert_eq!(parsed.event_type, event_type);
            seen.push(event_type);
        }
        assert_eq!(seen.len(), EventType::ALL.len());
    }
}

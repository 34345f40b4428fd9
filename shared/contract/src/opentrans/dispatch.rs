//! openTRANS 2.1 `DISPATCHNOTIFICATION` (contract section 8): what a supplier or 3PL sent,
//! read into the facts of `shipment.updated`.
//!
//! | openTRANS | shipment.updated |
//! |---|---|
//! | `DISPATCHNOTIFICATION_ID` | `shipment_id` |
//! | `ORDER_REFERENCE/ORDER_ID` of each item | `order_id` (one shipment per order named) |
//! | (a dispatch notification) | `status`: `dispatched` |
//! | `GENERATION_DATE`, else `DISPATCHNOTIFICATION_DATE`, in ms since 1970 | `revision` |
//! | the `deliverer` party's name (else its contact's) | `carrier` |
//! | `SHIPMENT_ID` | `tracking_code` |
//! | `TRACKING_TRACING_URL` | `tracking_url` |
//! | the header's `DELIVERY_DATE/DELIVERY_END_DATE` | `estimated_delivery` |
//! | `DISPATCHNOTIFICATION_DATE` | `occurred_at` |
//! | items: `ORDER_REFERENCE/LINE_ITEM_ID` (the order's line number), else the one order line whose sku is `SUPPLIER_PID`; `QUANTITY` | `lines` [{line, quantity}] |
//!
//! A corrected notification is sent again with a later `GENERATION_DATE`: its revision is
//! higher, so it replaces the first; the same file read again is the same shipment fact.

use super::{Element, Seen, non_empty, read_elements};
use bridge_domain::events::OrderPlaced;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::str::FromStr;

/// Items one notification may carry: more is refused (the items are held while the file is
/// read; this keeps a file's memory bounded whatever its size).
pub const MAX_ITEMS: usize = 10_000;
pub use super::{MAX_DOCUMENT_BYTES, MAX_TOKEN_BYTES};
/// Ids one party may carry.
const MAX_PARTY_IDS: usize = 16;

pub use super::DocumentError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchItem {
    /// 1-based place in the document.
    pub position: usize,
    /// The item's own `LINE_ITEM_ID`.
    pub line_item_id: Option<String>,
    pub supplier_pid: Option<String>,
    pub quantity: Option<Decimal>,
    /// The quantity's text when it is no decimal above 0 (reported, not guessed).
    pub invalid_quantity: Option<String>,
    pub unit: Option<String>,
    /// `ORDER_REFERENCE/ORDER_ID`: the order (our order id) the item ships.
    pub order_id: Option<String>,
    /// `ORDER_REFERENCE/LINE_ITEM_ID`: the order's line.
    pub order_line: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchNotification {
    pub id: String,
    pub generated_at: Option<DateTime<Utc>>,
    pub date: DateTime<Utc>,
    pub estimated_delivery: Option<NaiveDate>,
    pub carrier: Option<String>,
    pub tracking_code: Option<String>,
    pub tracking_url: Option<String>,
    pub items: Vec<DispatchItem>,
}

#[derive(Default)]
struct Party {
    ids: Vec<String>,
    role: Option<String>,
    name: Option<String>,
    contact: Option<String>,
}

#[derive(Default)]
struct Reading {
    id: Option<String>,
    generated_at: Option<String>,
    date: Option<String>,
    delivery_end: Option<String>,
    parties: Vec<Party>,
    deliverer_ref: Option<String>,
    tracking_code: Option<String>,
    tracking_url: Option<String>,
    items: Vec<DispatchItem>,
    item: Option<DispatchItem>,
}

impl Reading {
    fn open(&mut self, element: &Element<'_>, line: u64) -> Result<(), DocumentError> {
        match element.name {
            "PARTY" if element.within("DISPATCHNOTIFICATION_INFO") => {
                self.parties.push(Party::default());
                super::check_parties(self.parties.len())?;
            }
            "DISPATCHNOTIFICATION_ITEM" => {
                if self.items.len() >= MAX_ITEMS {
                    return Err(DocumentError::new(
                        "too_many_items",
                        format!(
                            "more than {MAX_ITEMS} items (line {line}); split the notification"
                        ),
                    ));
                }
                self.item = Some(DispatchItem {
                    position: self.items.len() + 1,
                    line_item_id: None,
                    supplier_pid: None,
                    quantity: None,
                    invalid_quantity: None,
                    unit: None,
                    order_id: None,
                    order_line: None,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, element: &Element<'_>, text: &str) {
        if let Some(item) = self.item.as_mut() {
            match (element.parent, element.name) {
                ("DISPATCHNOTIFICATION_ITEM", "LINE_ITEM_ID") => {
                    item.line_item_id = non_empty(text)
                }
                // The item's own product, not a kit component's.
                ("PRODUCT_ID", "SUPPLIER_PID")
                    if element.at(&["DISPATCHNOTIFICATION_ITEM", "PRODUCT_ID", "SUPPLIER_PID"]) =>
                {
                    item.supplier_pid = non_empty(text)
                }
                ("DISPATCHNOTIFICATION_ITEM", "QUANTITY") => {
                    match Decimal::from_str(text).ok().filter(|q| *q > Decimal::ZERO) {
                        Some(q) => item.quantity = Some(q.normalize()),
                        None => item.invalid_quantity = Some(text.to_string()),
                    }
                }
                ("DISPATCHNOTIFICATION_ITEM", "ORDER_UNIT") => item.unit = non_empty(text),
                ("ORDER_REFERENCE", "ORDER_ID")
                    if element.at(&[
                        "DISPATCHNOTIFICATION_ITEM",
                        "ORDER_REFERENCE",
                        "ORDER_ID",
                    ]) =>
                {
                    item.order_id = non_empty(text)
                }
                ("ORDER_REFERENCE", "LINE_ITEM_ID")
                    if element.at(&[
                        "DISPATCHNOTIFICATION_ITEM",
                        "ORDER_REFERENCE",
                        "LINE_ITEM_ID",
                    ]) =>
                {
                    item.order_line = non_empty(text)
                }
                (_, "DISPATCHNOTIFICATION_ITEM") => {
                    if let Some(done) = self.item.take() {
                        self.items.push(done);
                    }
                }
                _ => {}
            }
            return;
        }
        if !element.within("DISPATCHNOTIFICATION_HEADER") {
            return;
        }
        if let Some(party) = self.parties.last_mut().filter(|_| element.within("PARTY")) {
            match (element.parent, element.name) {
                ("PARTY", "PARTY_ID") if party.ids.len() < MAX_PARTY_IDS => {
                    party.ids.extend(non_empty(text))
                }
                ("PARTY", "PARTY_ROLE") => party.role = non_empty(text),
                ("ADDRESS", "NAME") => party.name = non_empty(text),
                ("CONTACT_DETAILS", "CONTACT_NAME") => party.contact = non_empty(text),
                _ => {}
            }
            return;
        }
        match (element.parent, element.name) {
            ("CONTROL_INFO", "GENERATION_DATE") => self.generated_at = non_empty(text),
            ("DISPATCHNOTIFICATION_INFO", "DISPATCHNOTIFICATION_ID") => self.id = non_empty(text),
            ("DISPATCHNOTIFICATION_INFO", "DISPATCHNOTIFICATION_DATE") => {
                self.date = non_empty(text)
            }
            ("DELIVERY_DATE", "DELIVERY_END_DATE") => self.delivery_end = non_empty(text),
            ("SHIPMENT_PARTIES_REFERENCE", "DELIVERER_IDREF") => {
                self.deliverer_ref = non_empty(text)
            }
            ("DISPATCHNOTIFICATION_INFO", "SHIPMENT_ID") => self.tracking_code = non_empty(text),
            ("DISPATCHNOTIFICATION_INFO", "TRACKING_TRACING_URL") => {
                self.tracking_url = non_empty(text)
            }
            _ => {}
        }
    }

    fn finish(self) -> Result<DispatchNotification, DocumentError> {
        let id = super::required(self.id, "DISPATCHNOTIFICATION_INFO/DISPATCHNOTIFICATION_ID")?;
        // It becomes the shipment's id: checked here, so that a bad one refuses the file
        // once instead of every order's shipment.
        if let Err(e) = bridge_domain::ShipmentId::parse(&id) {
            return Err(DocumentError::new(
                "invalid_value",
                format!("DISPATCHNOTIFICATION_ID {id:?} cannot be a shipment id: {e}"),
            ));
        }
        let date = super::required_datetime(
            self.date.as_deref(),
            "DISPATCHNOTIFICATION_INFO/DISPATCHNOTIFICATION_DATE",
        )?;
        let generated_at =
            super::optional_datetime(self.generated_at.as_deref(), "CONTROL_INFO/GENERATION_DATE")?;
        if self.items.is_empty() {
            return Err(DocumentError::new(
                "missing_field",
                "the notification has no DISPATCHNOTIFICATION_ITEM",
            ));
        }
        // The deliverer: the party the header's DELIVERER_IDREF names, else the one whose
        // role is `deliverer`.
        let deliverer = self
            .deliverer_ref
            .as_ref()
            .and_then(|id| self.parties.iter().find(|p| p.ids.contains(id)))
            .or_else(|| {
                self.parties
                    .iter()
                    .find(|p| p.role.as_deref() == Some("deliverer"))
            });
        Ok(DispatchNotification {
            id,
            generated_at,
            date,
            estimated_delivery: self.delivery_end.as_deref().and_then(super::date),
            carrier: deliverer
                .and_then(|p| p.name.as_deref().or(p.contact.as_deref()))
                .map(|name| super::one_line(name, 200)),
            tracking_code: self.tracking_code.map(|t| super::one_line(&t, 512)),
            tracking_url: self.tracking_url.map(|t| super::one_line(&t, 2048)),
            items: self.items,
        })
    }
}

/// Reads a whole notification (streamed: the text is never held, the items are, up to
/// [`MAX_ITEMS`]).
pub fn read(input: Box<dyn BufRead + Send>) -> Result<DispatchNotification, DocumentError> {
    let mut reading = Reading::default();
    read_elements(
        input,
        "DISPATCHNOTIFICATION",
        "not_a_dispatch_notification",
        |seen| {
            match seen {
                Seen::Open(element, line) => reading.open(&element, line)?,
                Seen::Close(element, text) => reading.close(&element, text),
            }
            Ok(())
        },
    )?;
    reading.finish()
}

/// Why an order's items cannot become its shipment's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineProblem {
    /// The item's place in the document.
    pub position: usize,
    /// `unknown_line` (neither the line number nor the sku is on the order, or the sku is
    /// on it twice), `sku_mismatch` (the line number names a line of another sku),
    /// `unit_mismatch` (not in pieces), `invalid_quantity`.
    pub reason: &'static str,
    pub message: String,
}

impl DispatchNotification {
    /// The shipment's revision: when the notification was generated (else dated), in
    /// milliseconds, so a correction sent later replaces it.
    pub fn revision(&self) -> u64 {
        super::revision_at(self.generated_at, self.date)
    }

    /// The items of each order named, in the order of the document; items without an
    /// order reference under `None`.
    pub fn items_by_order(&self) -> BTreeMap<Option<&str>, Vec<&DispatchItem>> {
        let mut out: BTreeMap<Option<&str>, Vec<&DispatchItem>> = BTreeMap::new();
        for item in &self.items {
            out.entry(item.order_id.as_deref()).or_default().push(item);
        }
        out
    }

    /// The `data` of the `shipment.updated` for `order_id`, with `lines` (line, quantity).
    pub fn shipment_data(&self, order_id: &str, lines: &[(u32, Decimal)]) -> Value {
        let mut data = json!({
            "shipment_id": self.id,
            "order_id": order_id,
            "status": "dispatched",
            "revision": self.revision(),
            "occurred_at": self.date.to_rfc3339(),
            "lines": lines.iter().map(|(line, quantity)| json!({"line": line, "quantity": quantity.to_string()})).collect::<Vec<_>>(),
        });
        let fields = [
            ("carrier", self.carrier.clone()),
            ("tracking_code", self.tracking_code.clone()),
            ("tracking_url", self.tracking_url.clone()),
            (
                "estimated_delivery",
                self.estimated_delivery.map(|d| d.to_string()),
            ),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                data[name] = Value::String(value);
            }
        }
        data
    }
}

/// The order's lines `items` ship, quantities of one line added up: by the line number in
/// `ORDER_REFERENCE/LINE_ITEM_ID` (its sku must be the item's `SUPPLIER_PID` when given),
/// else by the one order line whose sku is the `SUPPLIER_PID`.
pub fn order_lines(
    items: &[&DispatchItem],
    order: &OrderPlaced,
) -> Result<Vec<(u32, Decimal)>, LineProblem> {
    let mut lines: BTreeMap<u32, Decimal> = BTreeMap::new();
    for item in items {
        let problem = |reason, message: String| LineProblem {
            position: item.position,
            reason,
            message,
        };
        // The order is in pieces (the ORDER says C62): another unit is not converted.
        if let Some(unit) = item.unit.as_deref().filter(|u| *u != "C62") {
            return Err(problem(
                "unit_mismatch",
                format!(
                    "item {} is in {unit}; the order's lines are in pieces (C62)",
                    item.position
                ),
            ));
        }
        let Some(quantity) = item.quantity else {
            return Err(problem(
                "invalid_quantity",
                format!(
                    "item {} has no quantity above 0 ({:?})",
                    item.position,
                    item.invalid_quantity.as_deref().unwrap_or("missing")
                ),
            ));
        };
        let by_number = item
            .order_line
            .as_deref()
            .and_then(|l| l.trim().parse::<u32>().ok())
            .and_then(|n| order.lines.as_slice().iter().find(|l| l.line == n));
        let line = match (by_number, item.supplier_pid.as_deref()) {
            (Some(line), Some(pid)) if line.sku.as_str() != pid => {
                return Err(problem(
                    "sku_mismatch",
                    format!(
                        "item {} names line {} of order {}, which is {}, not {pid}",
                        item.position, line.line, order.order_id, line.sku
                    ),
                ));
            }
            (Some(line), _) => line.line,
            (None, pid) => {
                let mut same_sku = order
                    .lines
                    .as_slice()
                    .iter()
                    .filter(|l| pid.is_some_and(|p| l.sku.as_str() == p));
                match (same_sku.next(), same_sku.next()) {
                    (Some(line), None) => line.line,
                    _ => {
                        return Err(problem(
                            "unknown_line",
                            format!(
                                "item {} (order line {:?}, sku {:?}) matches no single line of order {}",
                                item.position,
                                item.order_line.as_deref().unwrap_or(""),
                                pid.unwrap_or(""),
                                order.order_id
                            ),
                        ));
                    }
                }
            }
        };
        let shipped = lines.entry(line).or_default();
        *shipped = shipped.checked_add(quantity).ok_or_else(|| {
            problem(
                "invalid_quantity",
                format!("the quantities of line {line} add up beyond the decimal range"),
            )
        })?;
    }
    Ok(lines.into_iter().collect())
}

#[cfg(test)]
mod tests;

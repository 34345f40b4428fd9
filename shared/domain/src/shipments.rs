//! Shipments of an order (contract section 8): each shipment under its own revision, the
//! quantity shipped per order line, and the order's fulfilment derived from all of them.
//! Nothing here is stored apart from the shipments themselves: the fulfilment is computed
//! from them wherever it is shown, so it cannot drift from what the carriers said.

use crate::events::{OrderPlaced, ShipmentLine, ShipmentProblem, ShipmentStatus, ShipmentUpdated};
use crate::revision::Revision;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One shipment as last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub status: ShipmentStatus,
    pub revision: Revision,
    pub carrier: Option<String>,
    pub tracking_code: Option<String>,
    pub tracking_url: Option<String>,
    pub estimated_delivery: Option<NaiveDate>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub lines: Vec<ShipmentLine>,
    pub exception: Option<ShipmentProblem>,
    pub updated_at: DateTime<Utc>,
}

impl Shipment {
    /// Goods sent back to the sender are no longer shipped to the customer.
    pub fn counts_as_shipped(&self) -> bool {
        self.status != ShipmentStatus::ReturnedToSender
    }
}

/// The shipments of an order by shipment id.
pub type Shipments = BTreeMap<String, Shipment>;

/// How far an order has been shipped, from every shipment of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfilment {
    /// No shipment carries any of its lines.
    Unshipped,
    /// Some quantity is dispatched, not yet every line in full.
    PartiallyShipped,
    /// Every line is dispatched in full.
    Shipped,
    /// Every line in full, and every shipment that carries them delivered.
    Delivered,
}

impl Fulfilment {
    pub fn as_str(&self) -> &'static str {
        match self {
            Fulfilment::Unshipped => "unshipped",
            Fulfilment::PartiallyShipped => "partially_shipped",
            Fulfilment::Shipped => "shipped",
            Fulfilment::Delivered => "delivered",
        }
    }
}

/// What applying a shipment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipmentApplied {
    /// Recorded; `exception` when the shipment is now in `exception`.
    Applied { exception: bool },
    /// The shipment is known at this revision or a newer one: nothing changed.
    Stale { stored: Revision },
}

/// Why a shipment is refused (dead-lettered with this reason, the order unchanged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ShipmentRefused {
    pub code: &'static str,
    pub message: String,
}

/// Quantity shipped per order line over every shipment that counts.
pub fn shipped_per_line(shipments: &Shipments) -> BTreeMap<u32, Decimal> {
    let mut shipped = BTreeMap::new();
    for shipment in shipments.values().filter(|s| s.counts_as_shipped()) {
        for line in &shipment.lines {
            *shipped.entry(line.line).or_insert(Decimal::ZERO) += line.quantity.value();
        }
    }
    shipped
}

/// The order's fulfilment: partially shipped until every line is dispatched in full, then
/// shipped, delivered once every shipment carrying goods is delivered.
pub fn fulfilment(order: &OrderPlaced, shipments: &Shipments) -> Fulfilment {
    let shipped = shipped_per_line(shipments);
    if shipped.values().all(|q| q.is_zero()) {
        return Fulfilment::Unshipped;
    }
    let complete = order.lines.as_slice().iter().all(|line| {
        shipped.get(&line.line).copied().unwrap_or(Decimal::ZERO) >= line.quantity.value()
    });
    if !complete {
        return Fulfilment::PartiallyShipped;
    }
    let delivered = shipments
        .values()
        .filter(|s| s.counts_as_shipped() && !s.lines.is_empty())
        .all(|s| s.status == ShipmentStatus::Delivered);
    if delivered {
        Fulfilment::Delivered
    } else {
        Fulfilment::Shipped
    }
}

/// Applies `event` to the shipments of `order` under the shipment's revision guard. A
/// shipment naming a line the order lacks, or making a line's shipped quantity exceed what
/// was ordered, is refused and changes nothing.
pub fn apply_shipment(
    order: &OrderPlaced,
    shipments: &mut Shipments,
    event: &ShipmentUpdated,
    now: DateTime<Utc>,
) -> Result<ShipmentApplied, ShipmentRefused> {
    let id = event.shipment_id.as_str();
    let known = shipments.get(id);
    if let Some(stored) = known
        && !event.revision.supersedes(Some(stored.revision))
    {
        return Ok(ShipmentApplied::Stale {
            stored: stored.revision,
        });
    }
    // A later update without lines keeps the lines the shipment was announced with.
    let lines = if event.lines.is_empty() {
        known.map(|s| s.lines.clone()).unwrap_or_default()
    } else {
        event.lines.clone()
    };
    let shipment = Shipment {
        status: event.status,
        revision: event.revision,
        carrier: event.carrier.clone(),
        tracking_code: event.tracking_code.clone(),
        tracking_url: event.tracking_url.clone(),
        estimated_delivery: event.estimated_delivery,
        occurred_at: event.occurred_at,
        lines,
        exception: event.exception.clone(),
        updated_at: now,
    };
    let ordered: BTreeMap<u32, Decimal> = order
        .lines
        .as_slice()
        .iter()
        .map(|l| (l.line, l.quantity.value()))
        .collect();
    for line in &shipment.lines {
        if !ordered.contains_key(&line.line) {
            return Err(ShipmentRefused {
                code: "unknown_line",
                message: format!(
                    "shipment {id} carries line {} which order {} does not have",
                    line.line, order.order_id
                ),
            });
        }
    }
    let mut after = shipments.clone();
    after.insert(id.to_string(), shipment);
    for (line, shipped) in shipped_per_line(&after) {
        let ordered = ordered[&line];
        if shipped > ordered {
            return Err(ShipmentRefused {
                code: "over_shipment",
                message: format!(
                    "line {line} of order {} would be shipped {shipped} times, ordered {ordered} (shipment {id})",
                    order.order_id
                ),
            });
        }
    }
    *shipments = after;
    Ok(ShipmentApplied::Applied {
        exception: event.status == ShipmentStatus::Exception,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{OrderLine, OrderLines, UnitPrice};
    use crate::ids::{CustomerId, OrderId, ShipmentId, Sku};
    use crate::money::{Currency, Quantity};
    use std::str::FromStr;

    fn qty(text: &str) -> Quantity {
        Quantity::new(Decimal::from_str(text).unwrap()).unwrap()
    }

    fn order() -> OrderPlaced {
        let line = |line: u32, quantity: &str| OrderLine {
            line,
            sku: Sku::parse(&format!("SKU-{line}")).unwrap(),
            quantity: qty(quantity),
            unit_price: UnitPrice::new(Decimal::ONE).unwrap(),
        };
        OrderPlaced {
            order_id: OrderId::parse("SO-1").unwrap(),
            revision: Revision::first(),
            customer_id: CustomerId::parse("C-1").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            lines: OrderLines::new(vec![line(1, "10"), line(2, "4")]).unwrap(),
            placed_at: now(),
            po_number: None,
            cost_center: None,
            buyer: None,
            approvals: vec![],
            delivery: None,
        }
    }

    fn shipment(
        id: &str,
        revision: u64,
        status: ShipmentStatus,
        lines: &[(u32, &str)],
    ) -> ShipmentUpdated {
        ShipmentUpdated {
            shipment_id: ShipmentId::parse(id).unwrap(),
            order_id: OrderId::parse("SO-1").unwrap(),
            status,
            revision: Revision::new(revision),
            carrier: Some("DHL".into()),
            tracking_code: Some(format!("TRK-{id}")),
            tracking_url: None,
            estimated_delivery: None,
            occurred_at: None,
            lines: lines
                .iter()
                .map(|(line, q)| ShipmentLine {
                    line: *line,
                    quantity: qty(q),
                })
                .collect(),
            exception: None,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn partial_shipments_in_any_order_end_shipped_then_delivered() {
        let order = order();
        let parts = [
            shipment("P-2", 1, ShipmentStatus::Dispatched, &[(2, "4")]),
            shipment("P-1", 1, ShipmentStatus::Dispatched, &[(1, "6")]),
            shipment("P-3", 1, ShipmentStatus::InTransit, &[(1, "4")]),
        ];
        let mut shipments = Shipments::new();
        assert_eq!(fulfilment(&order, &shipments), Fulfilment::Unshipped);
        for (n, part) in parts.iter().enumerate() {
            apply_shipment(&order, &mut shipments, part, now()).unwrap();
            let expected = if n < 2 {
                Fulfilment::PartiallyShipped
            } else {
                Fulfilment::Shipped
            };
            assert_eq!(fulfilment(&order, &shipments), expected, "after {n}");
        }
        for (n, id) in ["P-3", "P-1", "P-2"].iter().enumerate() {
            // A delivery update without lines keeps the shipment's lines.
            let delivered = shipment(id, 2, ShipmentStatus::Delivered, &[]);
            apply_shipment(&order, &mut shipments, &delivered, now()).unwrap();
            let expected = if n < 2 {
                Fulfilment::Shipped
            } else {
                Fulfilment::Delivered
            };
            assert_eq!(fulfilment(&order, &shipments), expected, "after {id}");
        }
        let mut codes: Vec<_> = shipments
            .values()
            .filter_map(|s| s.tracking_code.clone())
            .collect();
        codes.sort();
        assert_eq!(codes, ["TRK-P-1", "TRK-P-2", "TRK-P-3"]);
        assert_eq!(shipped_per_line(&shipments)[&1], Decimal::from(10));
    }

    #[test]
    fn a_stale_revision_changes_nothing() {
        let order = order();
        let mut shipments = Shipments::new();
        apply_shipment(
            &order,
            &mut shipments,
            &shipment("P-1", 3, ShipmentStatus::Delivered, &[(1, "10")]),
            now(),
        )
        .unwrap();
        let before = shipments.clone();
        let late = shipment("P-1", 2, ShipmentStatus::InTransit, &[(1, "10")]);
        assert_eq!(
            apply_shipment(&order, &mut shipments, &late, now()),
            Ok(ShipmentApplied::Stale {
                stored: Revision::new(3)
            })
        );
        assert_eq!(shipments, before);
    }

    #[test]
    fn an_over_shipment_or_an_unknown_line_is_refused_with_its_reason() {
        let order = order();
        let mut shipments = Shipments::new();
        apply_shipment(
            &order,
            &mut shipments,
            &shipment("P-1", 1, ShipmentStatus::Dispatched, &[(2, "3")]),
            now(),
        )
        .unwrap();
        let too_many = shipment("P-2", 1, ShipmentStatus::Dispatched, &[(2, "2")]);
        let refused = apply_shipment(&order, &mut shipments, &too_many, now()).unwrap_err();
        assert_eq!(refused.code, "over_shipment");
        assert!(refused.message.contains("line 2"), "{refused}");
        let unknown = shipment("P-3", 1, ShipmentStatus::Dispatched, &[(9, "1")]);
        assert_eq!(
            apply_shipment(&order, &mut shipments, &unknown, now())
                .unwrap_err()
                .code,
            "unknown_line"
        );
        assert_eq!(shipments.len(), 1, "nothing refused was kept");
        // The same shipment corrected downwards replaces its own quantity, not adds to it.
        let corrected = shipment("P-1", 2, ShipmentStatus::Dispatched, &[(2, "4")]);
        apply_shipment(&order, &mut shipments, &corrected, now()).unwrap();
        assert_eq!(shipped_per_line(&shipments)[&2], Decimal::from(4));
    }

    #[test]
    fn goods_returned_to_sender_are_no_longer_shipped_and_an_exception_is_reported() {
        let order = order();
        let mut shipments = Shipments::new();
        apply_shipment(
            &order,
            &mut shipments,
            &shipment("P-1", 1, ShipmentStatus::Dispatched, &[(1, "10"), (2, "4")]),
            now(),
        )
        .unwrap();
        assert_eq!(fulfilment(&order, &shipments), Fulfilment::Shipped);
        let mut problem = shipment("P-1", 2, ShipmentStatus::Exception, &[]);
        problem.exception = Some(ShipmentProblem {
            code: "address_unknown".into(),
            message: Some("recipient not found".into()),
        });
        assert_eq!(
            apply_shipment(&order, &mut shipments, &problem, now()),
            Ok(ShipmentApplied::Applied { exception: true })
        );
        assert_eq!(fulfilment(&order, &shipments), Fulfilment::Shipped);
        let back = shipment("P-1", 3, ShipmentStatus::ReturnedToSender, &[]);
        apply_shipment(&order, &mut shipments, &back, now()).unwrap();
        assert_eq!(fulfilment(&order, &shipments), Fulfilment::Unshipped);
        // Sent again: allowed, the returned parcel no longer counts.
        let again = shipment("P-2", 1, ShipmentStatus::Dispatched, &[(1, "10"), (2, "4")]);
        apply_shipment(&order, &mut shipments, &again, now()).unwrap();
        assert_eq!(fulfilment(&order, &shipments), Fulfilment::Shipped);
    }
}

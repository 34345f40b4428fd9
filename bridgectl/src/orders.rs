//! `bridgectl order ORDER_ID`: where an order stands, how it got there, its ERP number.

use crate::cli::{Resolved, Target, output};
use bridge_domain::OrderId;
use bridge_domain::orders::{HoldReason, OrderState};
use bridge_domain::ports::{OrderStore, StoredOrder};
use std::fmt::Write;
use std::process::ExitCode;

pub async fn order(store: &dyn OrderStore, id: &str) -> anyhow::Result<StoredOrder> {
    let id = OrderId::parse(id).map_err(|e| anyhow::anyhow!("order id: {e}"))?;
    store
        .get(&id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("order {id} is not known to the bridge"))
}

fn reason_text(reason: &HoldReason) -> String {
    match reason {
        HoldReason::CustomerUnknown => {
            "customer_unknown: no customer master data for this customer yet".into()
        }
        HoldReason::CustomerBlocked => {
            "customer_blocked: the customer is blocked in the ERP".into()
        }
        HoldReason::ApprovalMissing { role, above } => {
            format!("approval_missing: orders above {above} need the approval of a {role}")
        }
        HoldReason::ApprovalInvalid { role, reasons } => format!(
            "approval_invalid: the {role} approval does not count ({})",
            reasons.join("; ")
        ),
        HoldReason::CostCenterInvalid { cost_center } => format!(
            "cost_center_invalid: {:?} is not one of the customer's cost centers",
            cost_center.as_deref().unwrap_or("none")
        ),
        HoldReason::CreditHold {
            open_items,
            open_orders,
            order_total,
            credit_limit,
        } => match open_orders {
            Some(open_orders) => format!(
                "credit_hold: open items {open_items} + orders not yet invoiced {open_orders} + order {order_total} exceed the limit {credit_limit}"
            ),
            None => format!(
                "credit_hold: open items {open_items} + order {order_total} exceed the limit {credit_limit}"
            ),
        },
        HoldReason::CurrencyMismatch { order, customer } => {
            format!("currency_mismatch: order in {order}, customer terms in {customer}")
        }
        HoldReason::PriceMismatch {
            line,
            sku,
            ordered,
            resolved,
        } => format!(
            "price_mismatch: line {line} ({sku}) ordered at {ordered}, the customer's price is {}",
            resolved
                .map(|r| r.to_string())
                .unwrap_or_else(|| "on request".into())
        ),
    }
}

fn erp_number(state: &OrderState) -> Option<&str> {
    match state {
        OrderState::Accepted { erp_order_number } => Some(erp_order_number),
        OrderState::Erp {
            erp_order_number, ..
        } => erp_order_number.as_deref(),
        _ => None,
    }
}

pub fn text(stored: &StoredOrder) -> String {
    let o = &stored.order;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "order         {} revision {} (customer {}, po {})",
        o.order_id,
        o.revision,
        o.customer_id,
        o.po_number.as_deref().unwrap_or("-")
    );
    let _ = writeln!(out, "state         {}", stored.state.name().to_uppercase());
    let _ = writeln!(
        out,
        "erp number    {}",
        stored
            .history
            .iter()
            .rev()
            .find_map(|t| erp_number(&t.state))
            .unwrap_or("-")
    );
    let _ = writeln!(
        out,
        "total         {} in {} line(s)",
        o.total(),
        o.lines.as_slice().len()
    );
    match &stored.state {
        OrderState::Held { reasons } => {
            for reason in reasons {
                let _ = writeln!(out, "held because  {}", reason_text(reason));
            }
        }
        OrderState::Rejected { errors } => {
            let _ = writeln!(out, "rejected      {}", errors.join("; "));
        }
        OrderState::Erp { tracking, .. } => {
            for parcel in tracking {
                let _ = writeln!(
                    out,
                    "tracking      {} {}",
                    parcel.carrier.as_deref().unwrap_or("-"),
                    parcel.code.as_deref().unwrap_or("-")
                );
            }
        }
        _ => {}
    }
    if !stored.shipments.is_empty() {
        let shipped = bridge_domain::shipments::shipped_per_line(&stored.shipments);
        let _ = writeln!(
            out,
            "fulfilment    {}",
            bridge_domain::shipments::fulfilment(o, &stored.shipments)
                .as_str()
                .to_uppercase()
        );
        for line in o.lines.as_slice() {
            let _ = writeln!(
                out,
                "  line {:<3}    {} shipped of {} ({})",
                line.line,
                shipped.get(&line.line).copied().unwrap_or_default(),
                line.quantity.value(),
                line.sku
            );
        }
        for (id, s) in &stored.shipments {
            let lines: Vec<String> = s
                .lines
                .iter()
                .map(|l| format!("line {} x {}", l.line, l.quantity.value()))
                .collect();
            let _ = writeln!(
                out,
                "shipment      {id} {} revision {} {} {} [{}]",
                s.status.as_str(),
                s.revision,
                s.carrier.as_deref().unwrap_or("-"),
                s.tracking_code.as_deref().unwrap_or("-"),
                lines.join(", ")
            );
            if let Some(problem) = &s.exception
                && s.status == bridge_domain::ShipmentStatus::Exception
            {
                let _ = writeln!(
                    out,
                    "  exception   {}: {}",
                    problem.code,
                    problem.message.as_deref().unwrap_or("-")
                );
            }
        }
    }
    if let Some(wait) = &stored.erp_wait {
        let since = wait
            .since
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match wait.dead_lettered_at {
            None => {
                let _ = writeln!(
                    out,
                    "waiting       for the ERP since {since} ({} attempt(s), last: {}); the schedule sends it when the ERP answers",
                    wait.attempts, wait.last_error
                );
            }
            Some(at) => {
                let _ = writeln!(
                    out,
                    "dead-lettered {}: the ERP was unreachable from {since} for longer than the outage window (last: {}); redrive it from OrderPlacedDeadLetterQueue",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    wait.last_error
                );
            }
        }
    }
    if let Some(revision) = stored.changed_after_submission {
        let _ = writeln!(
            out,
            "changed       the shop sent revision {revision} after revision {} was submitted; not sent (change it in the ERP)",
            o.revision
        );
    }
    let _ = writeln!(out, "history");
    for t in &stored.history {
        let _ = writeln!(
            out,
            "  {}  {}",
            t.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            t.state.name()
        );
    }
    out
}

/// `bridgectl order ORDER_ID`.
pub async fn run_order(
    target: &Target,
    id: &str,
    order_table: &Option<String>,
) -> anyhow::Result<ExitCode> {
    let r = Resolved::new(target, order_table.is_some()).await?;
    let store = bridge_aws::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&r.aws),
        r.name(order_table, "OrderTable")?,
    );
    let stored = order(&store, id).await?;
    output(target.json, &stored, || text(&stored))?;
    Ok(ExitCode::SUCCESS)
}

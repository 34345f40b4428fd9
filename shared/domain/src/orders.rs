//! Orders (contract section 4): the B2B checks an order must pass before it may reach the
//! ERP, and the states an order goes through. Pure rules, for the order writeback.

use crate::CustomerChanged;
use crate::events::{Approval, OrderPlaced, OrderStatus, OrderStatusChanged, PriceChanged};
pub use crate::feedback::Approvers;
use crate::ids::{OrderId, Sku};
use crate::money::{Currency, Money};
use crate::pricing::{PriceResolution, resolve_price};
use crate::revision::Revision;
use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Why an order waits instead of going to the ERP. Each is a named state, not an error:
/// it is recorded, counted, and released when its cause clears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum HoldReason {
    /// No `customer.changed` for this customer has been applied.
    CustomerUnknown,
    CustomerBlocked,
    /// The order total is above a threshold that needs this role's approval.
    ApprovalMissing {
        role: String,
        above: Money,
    },
    /// The approvals for the role come from no active contact of the customer holding it
    /// (the CRM's contacts, contract section 9): why each does not count.
    ApprovalInvalid {
        role: String,
        reasons: Vec<String>,
    },
    /// The order names no cost center, or one the customer does not have.
    CostCenterInvalid {
        cost_center: Option<String>,
    },
    /// Open items, plus the customer's orders the ERP has (or is being sent) but not yet
    /// invoiced, plus this order exceed the credit limit.
    CreditHold {
        open_items: Money,
        /// Orders accepted but not yet invoiced (absent in holds recorded before it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        open_orders: Option<Money>,
        order_total: Money,
        credit_limit: Money,
    },
    /// Amounts in different currencies cannot be compared.
    CurrencyMismatch {
        order: String,
        customer: String,
    },
    /// A line's price is not what the customer's price lists give (or they give none).
    PriceMismatch {
        line: u32,
        sku: Sku,
        ordered: Decimal,
        /// `None`: price on request.
        resolved: Option<Decimal>,
    },
}

impl HoldReason {
    /// The state name the contract uses (`credit_hold`, `price_mismatch`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            HoldReason::CustomerUnknown => "customer_unknown",
            HoldReason::CustomerBlocked => "customer_blocked",
            HoldReason::ApprovalMissing { .. } => "approval_missing",
            HoldReason::ApprovalInvalid { .. } => "approval_invalid",
            HoldReason::CostCenterInvalid { .. } => "cost_center_invalid",
            HoldReason::CreditHold { .. } => "credit_hold",
            HoldReason::CurrencyMismatch { .. } => "currency_mismatch",
            HoldReason::PriceMismatch { .. } => "price_mismatch",
        }
    }
}

/// What the customer's other orders add to its exposure: those sent to the ERP, or accepted
/// by it, and not yet invoiced (from then on the ERP's open items count them) nor cancelled
/// or rejected ([`OrderState::counts_toward_exposure`]), in the order's currency.
pub fn open_orders_total(
    order: &OrderPlaced,
    others: &[crate::ports::StoredOrder],
) -> Option<Decimal> {
    open_orders_in(order.currency, Some(&order.order_id), others)
}

/// What `orders` add to a customer's exposure in `currency`, leaving out `except` (the
/// order being checked): see [`open_orders_total`]. `None` beyond the decimal range.
pub fn open_orders_in(
    currency: Currency,
    except: Option<&OrderId>,
    orders: &[crate::ports::StoredOrder],
) -> Option<Decimal> {
    orders
        .iter()
        .filter(|o| o.counts_toward_exposure())
        .map(|o| &o.order)
        .filter(|o| Some(&o.order_id) != except && o.currency == currency)
        .try_fold(Decimal::ZERO, |sum, o| sum.checked_add(o.total().amount))
}

/// A customer's credit as the order checks see it (contract section 7): its exposure is
/// its open items plus its orders the ERP has and has not invoiced ([`open_orders_in`]),
/// in the currency of its credit limit (else of its open items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditPosition {
    pub blocked: bool,
    pub credit_limit: Option<Money>,
    pub open_items: Option<Money>,
    pub open_orders: Option<Money>,
    /// `None` when the limit and the open items are in different currencies, or neither is
    /// known: there is no rate to add them with.
    pub exposure: Option<Money>,
    /// The limit less the exposure; negative when the customer is over it. `None` without
    /// a limit (the ERP's own check applies) or without an exposure.
    pub headroom: Option<Money>,
    /// Open orders in another currency than the exposure's: not in it, for want of a rate.
    pub orders_in_other_currencies: usize,
}

/// A change of a customer's open items the bridge learns before the ERP's own
/// `customer.changed` says it (an invoice, a credit memo): counted at once, until the ERP's
/// next `customer.changed` replaces the customer's record, its open items including it
/// (contract section 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenItemsAdjustment {
    /// Where it comes from (`invoice:<id>`): each is counted once.
    pub id: String,
    /// Signed: an invoice adds, a credit memo subtracts.
    pub amount: Money,
}

/// What adjusting a customer's open items did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdjustOutcome {
    /// Counted; the customer's open items now.
    Applied {
        open_items: Money,
    },
    /// Counted before (the same document again).
    AlreadyApplied,
    UnknownCustomer,
    /// The customer's credit is kept in another currency: there is no rate to add it in.
    CurrencyMismatch {
        customer: Currency,
    },
    /// Beyond the exact decimal range.
    OutOfRange,
}

impl OpenItemsAdjustment {
    /// The customer's open items with this adjustment counted, in the currency of its open
    /// items (else of its credit limit, else the adjustment's).
    pub fn apply_to(&self, customer: &CustomerChanged) -> Result<Money, AdjustOutcome> {
        let currency = customer
            .open_items
            .or(customer.credit_limit)
            .map_or(self.amount.currency, |m| m.currency);
        if currency != self.amount.currency {
            return Err(AdjustOutcome::CurrencyMismatch { customer: currency });
        }
        customer
            .open_items
            .map_or(Decimal::ZERO, |m| m.amount)
            .checked_add(self.amount.amount)
            .map(|amount| Money::new(amount, currency))
            .ok_or(AdjustOutcome::OutOfRange)
    }
}

/// The credit of `customer` given its stored `orders`; `None` when the amounts add up
/// beyond the exact decimal range.
pub fn credit_position(
    customer: &CustomerChanged,
    orders: &[crate::ports::StoredOrder],
) -> Option<CreditPosition> {
    let open = || orders.iter().filter(|o| o.counts_toward_exposure());
    // Without a limit or open items, the open orders' currency if they share one.
    let currency = customer
        .credit_limit
        .or(customer.open_items)
        .map(|m| m.currency)
        .or_else(|| {
            let mut currencies = open().map(|o| o.order.currency);
            let first = currencies.next()?;
            currencies.all(|c| c == first).then_some(first)
        });
    let open_orders = match currency {
        Some(currency) => Some(Money::new(
            open_orders_in(currency, None, orders)?,
            currency,
        )),
        None => None,
    };
    let orders_in_other_currencies = open()
        .filter(|o| Some(o.order.currency) != currency)
        .count();
    let exposure = match (currency, customer.open_items, open_orders) {
        (Some(currency), open_items, Some(open_orders)) => {
            match open_items.unwrap_or(Money::new(Decimal::ZERO, currency)) {
                open if open.currency == currency => Some(Money::new(
                    open.amount.checked_add(open_orders.amount)?,
                    currency,
                )),
                _ => None,
            }
        }
        _ => None,
    };
    let headroom = match (customer.credit_limit, exposure) {
        (Some(limit), Some(exposure)) => Some(Money::new(
            limit.amount.checked_sub(exposure.amount)?,
            limit.currency,
        )),
        _ => None,
    };
    Some(CreditPosition {
        blocked: customer.blocked,
        credit_limit: customer.credit_limit,
        open_items: customer.open_items,
        open_orders,
        exposure,
        headroom,
        orders_in_other_currencies,
    })
}

/// Runs every B2B check; all reasons are reported at once, so a held order shows everything
/// that must change. `prices` are the stored price records of the ordered skus in the
/// customer's lists; `open_orders` what the customer's other open orders add to its
/// exposure ([`open_orders_total`]), in the order's currency.
pub fn check_order(
    order: &OrderPlaced,
    customer: Option<&CustomerChanged>,
    prices: &[PriceChanged],
    open_orders: Decimal,
    approvers: Approvers<'_>,
) -> Vec<HoldReason> {
    let Some(customer) = customer else {
        return vec![HoldReason::CustomerUnknown];
    };
    let mut reasons = Vec::new();
    if customer.blocked {
        reasons.push(HoldReason::CustomerBlocked);
    }
    let total = order.total();
    for rule in &customer.approval_rules {
        if rule.above.currency != total.currency {
            reasons.push(HoldReason::CurrencyMismatch {
                order: total.currency.to_string(),
                customer: rule.above.currency.to_string(),
            });
            continue;
        }
        if total.amount <= rule.above.amount {
            continue;
        }
        let given: Vec<&Approval> = order
            .approvals
            .iter()
            .filter(|a| a.role == rule.role)
            .collect();
        let refusals: Vec<String> = given.iter().filter_map(|a| approvers.refusal(a)).collect();
        if given.is_empty() {
            reasons.push(HoldReason::ApprovalMissing {
                role: rule.role.clone(),
                above: rule.above,
            });
        } else if refusals.len() == given.len() {
            reasons.push(HoldReason::ApprovalInvalid {
                role: rule.role.clone(),
                reasons: refusals,
            });
        }
    }
    if !customer.cost_centers.is_empty() {
        let known = order
            .cost_center
            .as_ref()
            .is_some_and(|c| customer.cost_centers.contains(c));
        if !known {
            reasons.push(HoldReason::CostCenterInvalid {
                cost_center: order.cost_center.as_ref().map(|c| c.to_string()),
            });
        }
    }
    // No credit limit on record: credit is not checked (the ERP's own credit check applies).
    if let Some(limit) = customer.credit_limit {
        let open = customer
            .open_items
            .unwrap_or(Money::new(Decimal::ZERO, limit.currency));
        if limit.currency != total.currency || open.currency != total.currency {
            reasons.push(HoldReason::CurrencyMismatch {
                order: total.currency.to_string(),
                customer: limit.currency.to_string(),
            });
        } else if open
            .amount
            .checked_add(open_orders)
            .and_then(|exposure| exposure.checked_add(total.amount))
            .is_none_or(|exposure| exposure > limit.amount)
        {
            reasons.push(HoldReason::CreditHold {
                open_items: open,
                open_orders: Some(Money::new(open_orders, total.currency)),
                order_total: total,
                credit_limit: limit,
            });
        }
    }
    for line in order.lines.as_slice() {
        let resolved = match resolve_price(
            &customer.price_lists,
            prices,
            &line.sku,
            line.quantity,
            order.placed_at,
        ) {
            // The order carries a price per piece; a list may price per 100 (or per 3, whose
            // per-piece price has no exact decimal: 10.00 per 3 is 3.33 in the shop).
            PriceResolution::Priced(p) if p.currency == order.currency => {
                p.unit_price.checked_div(p.price_per.value())
            }
            _ => None,
        };
        let precision = order.currency.minor_units();
        let at_precision = |amount: Decimal| {
            amount.round_dp_with_strategy(precision, RoundingStrategy::MidpointAwayFromZero)
        };
        let matches = resolved.is_some_and(|resolved| {
            resolved == line.unit_price.value()
                || at_precision(resolved) == at_precision(line.unit_price.value())
        });
        if !matches {
            reasons.push(HoldReason::PriceMismatch {
                line: line.line,
                sku: line.sku.clone(),
                ordered: line.unit_price.value(),
                resolved,
            });
        }
    }
    reasons
}

/// Where an order stands in the writeback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OrderState {
    Received,
    Held {
        reasons: Vec<HoldReason>,
    },
    /// Sent to the ERP (or being sent): from here on, never sent again without first asking
    /// the ERP whether it has it.
    Submitted,
    /// The ERP accepted it under this number.
    Accepted {
        erp_order_number: String,
    },
    /// The ERP refused it for good.
    Rejected {
        errors: Vec<String>,
    },
    /// Status reported by the ERP (`order.status_changed`), with the revision it came with.
    Erp {
        status: OrderStatus,
        revision: Revision,
        erp_order_number: Option<String>,
        /// The parcels' tracking as the ERP last reported it (kept when a later status
        /// names none), for the shop's deliveries.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tracking: Vec<crate::events::Tracking>,
    },
}

/// The name an order's state is stored and queried under: the state without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateName {
    Received,
    Held,
    Submitted,
    Accepted,
    Rejected,
    Erp(OrderStatus),
}

impl StateName {
    pub fn as_str(&self) -> &'static str {
        match self {
            StateName::Received => "received",
            StateName::Held => "held",
            StateName::Submitted => "submitted",
            StateName::Accepted => "accepted",
            StateName::Rejected => "rejected",
            StateName::Erp(status) => status.as_str(),
        }
    }
}

impl std::fmt::Display for StateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OrderState {
    pub fn state_name(&self) -> StateName {
        match self {
            OrderState::Received => StateName::Received,
            OrderState::Held { .. } => StateName::Held,
            OrderState::Submitted => StateName::Submitted,
            OrderState::Accepted { .. } => StateName::Accepted,
            OrderState::Rejected { .. } => StateName::Rejected,
            OrderState::Erp { status, .. } => StateName::Erp(*status),
        }
    }

    pub fn name(&self) -> &'static str {
        self.state_name().as_str()
    }

    /// Whether the order may (still) be sent to the ERP from this state.
    pub fn may_submit(&self) -> bool {
        matches!(self, OrderState::Received | OrderState::Held { .. })
    }

    /// Whether the order counts toward its customer's exposure in this state: being sent to
    /// the ERP or accepted by it, and not yet invoiced, cancelled or rejected.
    pub fn counts_toward_exposure(&self) -> bool {
        match self {
            OrderState::Submitted | OrderState::Accepted { .. } => true,
            OrderState::Erp { status, .. } => matches!(
                status,
                OrderStatus::Confirmed | OrderStatus::Shipped | OrderStatus::Delivered
            ),
            OrderState::Received | OrderState::Held { .. } | OrderState::Rejected { .. } => false,
        }
    }

    /// The state after an ERP status event: newer revisions win, older ones change nothing.
    ///
    /// Revision 0 is what the bridge gives the statuses it reads from the ERP's documents
    /// ([`DOCUMENT_REVISION`]: an ORDERRESPONSE's `confirmed`, an INVOICE's `invoiced`):
    /// they fill in until the ERP sends a status of its own, whatever its numbering, and
    /// among themselves the later stage wins.
    pub fn with_status(&self, event: &OrderStatusChanged) -> Option<OrderState> {
        if let OrderState::Erp {
            revision, status, ..
        } = self
        {
            let among_documents = event.revision == DOCUMENT_REVISION
                && *revision == DOCUMENT_REVISION
                && event.status.stage() > status.stage();
            if !event.revision.supersedes(Some(*revision)) && !among_documents {
                return None;
            }
        }
        let tracking = match self {
            OrderState::Erp { tracking, .. } if event.tracking.is_empty() => tracking.clone(),
            _ => event.tracking.clone(),
        };
        let erp_order_number = event.erp_order_number.clone().or(match self {
            OrderState::Accepted { erp_order_number } => Some(erp_order_number.clone()),
            OrderState::Erp {
                erp_order_number, ..
            } => erp_order_number.clone(),
            _ => None,
        });
        Some(OrderState::Erp {
            status: event.status,
            revision: event.revision,
            erp_order_number,
            tracking,
        })
    }
}

/// The revision of statuses read from the ERP's documents (see [`OrderState::with_status`]).
pub const DOCUMENT_REVISION: Revision = Revision::new(0);

/// How a delivered version of an order relates to the stored one (contract v2: the shop's
/// `revision` of the order decides, never the order in which deliveries arrive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderVersion {
    /// A later version: it replaces the stored one if that has not been submitted.
    Newer,
    /// The stored version again (a redelivery, a retry, a replay).
    Same,
    /// An earlier version arriving late: it changes nothing.
    Older,
    /// The same revision with other content: the shop broke its own versioning.
    Conflict,
}

pub fn compare_versions(stored: &OrderPlaced, incoming: &OrderPlaced) -> OrderVersion {
    match incoming.revision.cmp(&stored.revision) {
        std::cmp::Ordering::Greater => OrderVersion::Newer,
        std::cmp::Ordering::Less => OrderVersion::Older,
        std::cmp::Ordering::Equal if incoming == stored => OrderVersion::Same,
        std::cmp::Ordering::Equal => OrderVersion::Conflict,
    }
}

/// A submitted order that could not reach the ERP yet (down, throttling, circuit open): it
/// waits for the schedule to send it, up to the outage window, and `bridgectl order` says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErpWait {
    /// The first failed attempt of this wait.
    pub since: DateTime<Utc>,
    pub last_attempt: DateTime<Utc>,
    pub attempts: u32,
    pub last_error: String,
    /// The wait outlasted the outage window and the order went to the dead-letter queue;
    /// the schedule leaves it alone until it is redriven.
    #[serde(default)]
    pub dead_lettered_at: Option<DateTime<Utc>>,
    /// The ERP has the order (a document it has not answered): the wait is for its answer,
    /// not for an ERP that cannot be reached, and no outage window ends it. Kept through
    /// later failures of the lookup.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_answer: bool,
}

impl ErpWait {
    /// This wait, one failed attempt later (a new wait if there was none).
    pub fn after_failure(previous: Option<&ErpWait>, at: DateTime<Utc>, error: &str) -> Self {
        let error: String = error.chars().take(500).collect();
        match previous {
            Some(wait) if wait.dead_lettered_at.is_none() => Self {
                since: wait.since,
                last_attempt: at,
                attempts: wait.attempts.saturating_add(1),
                last_error: error,
                dead_lettered_at: None,
                awaiting_answer: wait.awaiting_answer,
            },
            _ => Self {
                since: at,
                last_attempt: at,
                attempts: 1,
                last_error: error,
                dead_lettered_at: None,
                awaiting_answer: false,
            },
        }
    }
}

/// One step of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTransition {
    pub at: DateTime<Utc>,
    pub state: OrderState,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{
        Approval, ApprovalRule, OrderLine, OrderLines, PricePer, PriceTier, PriceTiers, Tracking,
        UnitPrice, ValidityWindow,
    };
    use crate::ids::{CostCenter, CustomerId, OrderId, PriceListId};
    use crate::money::{Currency, Quantity, UnitCode};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn eur(s: &str) -> Money {
        Money::new(d(s), Currency::parse("EUR").unwrap())
    }
    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn customer() -> CustomerChanged {
        CustomerChanged {
            customer_id: CustomerId::parse("C-1").unwrap(),
            name: "Kunde".into(),
            revision: Revision::new(1),
            blocked: false,
            credit_limit: Some(eur("1000")),
            open_items: Some(eur("200")),
            payment_terms: None,
            delivery_terms: None,
            price_lists: vec![PriceListId::parse("BASE").unwrap()],
            cost_centers: vec![CostCenter::parse("CC-1").unwrap()],
            approval_rules: vec![ApprovalRule {
                above: eur("500"),
                role: "manager".into(),
            }],
            framework_agreement: None,
        }
    }

    fn price(sku: &str, unit: &str, per: &str) -> PriceChanged {
        PriceChanged {
            price_list: PriceListId::parse("BASE").unwrap(),
            sku: Sku::parse(sku).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            tiers: PriceTiers::new(vec![PriceTier {
                min_qty: Quantity::new(d("1")).unwrap(),
                unit_price: UnitPrice::new(d(unit)).unwrap(),
            }])
            .unwrap(),
            revision: Revision::new(1),
            price_unit: UnitCode::piece(),
            price_per: PricePer::new(d(per)).unwrap(),
            validity: ValidityWindow::default(),
            deleted: false,
        }
    }

    fn order(lines: &[(&str, &str, &str)]) -> OrderPlaced {
        OrderPlaced {
            order_id: OrderId::parse("SO-1").unwrap(),
            revision: Revision::first(),
            customer_id: CustomerId::parse("C-1").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            lines: OrderLines::new(
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, (sku, qty, price))| OrderLine {
                        line: i as u32 + 1,
                        sku: Sku::parse(sku).unwrap(),
                        quantity: Quantity::new(d(qty)).unwrap(),
                        unit_price: UnitPrice::new(d(price)).unwrap(),
                    })
                    .collect(),
            )
            .unwrap(),
            placed_at: at(),
            po_number: None,
            cost_center: Some(CostCenter::parse("CC-1").unwrap()),
            buyer: None,
            approvals: Vec::new(),
            delivery: None,
        }
    }

    #[test]
    fn an_order_within_every_rule_passes() {
        let prices = [price("A", "10.00", "1")];
        assert_eq!(
            check_order(
                &order(&[("A", "3", "10.00")]),
                Some(&customer()),
                &prices,
                Decimal::ZERO,
                Approvers::ShopsWord
            ),
            vec![]
        );
    }

    #[test]
    fn an_unknown_or_blocked_customer_holds_the_order() {
        assert_eq!(
            check_order(
                &order(&[("A", "1", "10")]),
                None,
                &[],
                Decimal::ZERO,
                Approvers::ShopsWord
            ),
            vec![HoldReason::CustomerUnknown]
        );
        let mut blocked = customer();
        blocked.blocked = true;
        let reasons = check_order(
            &order(&[("A", "1", "10")]),
            Some(&blocked),
            &[price("A", "10", "1")],
            Decimal::ZERO,
            Approvers::ShopsWord,
        );
        assert_eq!(reasons, vec![HoldReason::CustomerBlocked]);
    }

    #[test]
    fn a_total_above_a_threshold_needs_the_role_s_approval() {
        let prices = [price("A", "100", "1")];
        let big = order(&[("A", "6", "100")]);
        let mut generous = customer();
        generous.credit_limit = Some(eur("5000"));
        let reasons = check_order(
            &big,
            Some(&generous),
            &prices,
            Decimal::ZERO,
            Approvers::ShopsWord,
        );
        assert_eq!(
            reasons.iter().map(HoldReason::code).collect::<Vec<_>>(),
            vec!["approval_missing"]
        );
        let mut approved = big.clone();
        approved.approvals.push(Approval {
            role: "manager".into(),
            user_id: "u".into(),
            at: None,
        });
        assert!(
            check_order(
                &approved,
                Some(&generous),
                &prices,
                Decimal::ZERO,
                Approvers::ShopsWord
            )
            .is_empty()
        );
    }

    #[test]
    fn open_items_plus_the_order_above_the_limit_is_a_credit_hold() {
        let prices = [price("A", "100", "1")];
        let mut customer = customer();
        customer.approval_rules.clear();
        // 200 open + 900 ordered > 1000.
        let ordered = order(&[("A", "9", "100")]);
        let reasons = check_order(
            &ordered,
            Some(&customer),
            &prices,
            Decimal::ZERO,
            Approvers::ShopsWord,
        );
        assert_eq!(
            reasons,
            vec![HoldReason::CreditHold {
                open_items: eur("200"),
                open_orders: Some(eur("0")),
                order_total: ordered.total(),
                credit_limit: eur("1000"),
            }]
        );
        // Exactly at the limit is fine.
        assert!(
            check_order(
                &order(&[("A", "8", "100")]),
                Some(&customer),
                &prices,
                Decimal::ZERO,
                Approvers::ShopsWord
            )
            .is_empty()
        );
        // Orders the ERP has but not yet invoiced count too: 200 + 500 + 400 > 1000, though
        // 200 + 400 alone would pass.
        let small = order(&[("A", "4", "100")]);
        assert!(
            check_order(
                &small,
                Some(&customer),
                &prices,
                Decimal::ZERO,
                Approvers::ShopsWord
            )
            .is_empty()
        );
        let reasons = check_order(
            &small,
            Some(&customer),
            &prices,
            d("500"),
            Approvers::ShopsWord,
        );
        assert_eq!(reasons[0].code(), "credit_hold");
    }

    #[test]
    fn the_exposure_counts_other_open_orders_in_the_order_s_currency_only() {
        let this = order(&[("A", "1", "10")]);
        let mut other = order(&[("A", "2", "100")]);
        other.order_id = crate::ids::OrderId::parse("SO-2").unwrap();
        let mut dollars = other.clone();
        dollars.order_id = crate::ids::OrderId::parse("SO-3").unwrap();
        dollars.currency = Currency::parse("USD").unwrap();
        let submitted = |o: &OrderPlaced| {
            let mut stored = crate::ports::StoredOrder::new(o.clone(), at());
            stored.transition(OrderState::Submitted, at());
            stored
        };
        let mut held = crate::ports::StoredOrder::new(other.clone(), at());
        held.order.order_id = crate::ids::OrderId::parse("SO-4").unwrap();
        held.transition(OrderState::Held { reasons: vec![] }, at());
        // The order itself (a redelivery finds it submitted) does not count twice, nor does
        // one still held.
        assert_eq!(
            open_orders_total(
                &this,
                &[
                    submitted(&this),
                    submitted(&other),
                    submitted(&dollars),
                    held
                ]
            ),
            Some(d("200"))
        );
        assert!(OrderState::Submitted.counts_toward_exposure());
        assert!(!OrderState::Held { reasons: vec![] }.counts_toward_exposure());
        let invoiced = OrderState::Erp {
            status: OrderStatus::Invoiced,
            revision: Revision::new(4),
            erp_order_number: None,
            tracking: vec![],
        };
        assert!(
            !invoiced.counts_toward_exposure(),
            "the ERP's open items count it now"
        );
    }

    #[test]
    fn a_wait_for_the_erp_s_answer_stays_one_through_failed_lookups() {
        let mut awaiting = ErpWait::after_failure(None, at(), "sent");
        awaiting.awaiting_answer = true;
        let failed = ErpWait::after_failure(Some(&awaiting), at(), "S3 unavailable");
        assert!(failed.awaiting_answer, "no outage window ends it");
        assert_eq!((failed.since, failed.attempts), (awaiting.since, 2));
        assert!(!ErpWait::after_failure(None, at(), "HTTP 503").awaiting_answer);
    }

    #[test]
    fn the_credit_position_is_open_items_plus_open_orders_against_the_limit() {
        let submitted = |id: &str, currency: &str, state: OrderState| {
            let mut o = order(&[("A", "3", "100")]);
            o.order_id = crate::ids::OrderId::parse(id).unwrap();
            o.currency = Currency::parse(currency).unwrap();
            let mut stored = crate::ports::StoredOrder::new(o, at());
            stored.transition(state, at());
            stored
        };
        let orders = [
            submitted("SO-1", "EUR", OrderState::Submitted),
            submitted("SO-2", "USD", OrderState::Submitted),
            submitted("SO-3", "EUR", OrderState::Held { reasons: vec![] }),
        ];
        let position = credit_position(&customer(), &orders).unwrap();
        assert_eq!(position.open_orders, Some(eur("300")));
        assert_eq!(position.exposure, Some(eur("500")), "200 open items + 300");
        assert_eq!(position.headroom, Some(eur("500")), "1000 - 500");
        assert_eq!(position.orders_in_other_currencies, 1, "the USD order");
        assert!(!position.blocked);

        // Over the limit: a negative headroom, not zero.
        let mut over = customer();
        over.open_items = Some(eur("900"));
        over.blocked = true;
        let position = credit_position(&over, &orders).unwrap();
        assert_eq!(position.headroom, Some(eur("-200")));
        assert!(position.blocked);

        // No limit: the exposure is known, the headroom is not.
        let mut unlimited = customer();
        unlimited.credit_limit = None;
        let position = credit_position(&unlimited, &orders).unwrap();
        assert_eq!(position.exposure, Some(eur("500")));
        assert_eq!(position.headroom, None);

        // Neither a limit nor open items: the open orders' own currency.
        let mut bare = customer();
        bare.credit_limit = None;
        bare.open_items = None;
        let euro_orders = &orders[..1];
        let position = credit_position(&bare, euro_orders).unwrap();
        assert_eq!(position.exposure, Some(eur("300")));
        assert_eq!(position.orders_in_other_currencies, 0);

        // Open items in another currency than the limit: no rate, no exposure.
        let mut mixed = customer();
        mixed.open_items = Some(Money::new(d("10"), Currency::parse("USD").unwrap()));
        let position = credit_position(&mixed, &orders).unwrap();
        assert_eq!((position.exposure, position.headroom), (None, None));
    }

    #[test]
    fn a_cost_center_the_customer_lacks_holds_the_order() {
        let mut wrong = order(&[("A", "1", "10")]);
        wrong.cost_center = Some(CostCenter::parse("CC-9").unwrap());
        let reasons = check_order(
            &wrong,
            Some(&customer()),
            &[price("A", "10", "1")],
            Decimal::ZERO,
            Approvers::ShopsWord,
        );
        assert_eq!(
            reasons.iter().map(HoldReason::code).collect::<Vec<_>>(),
            vec!["cost_center_invalid"]
        );
    }

    #[test]
    fn a_line_priced_differently_from_the_customer_s_lists_is_a_price_mismatch() {
        let reasons = check_order(
            &order(&[("A", "1", "9.99")]),
            Some(&customer()),
            &[price("A", "10.00", "1")],
            Decimal::ZERO,
            Approvers::ShopsWord,
        );
        assert_eq!(
            reasons,
            vec![HoldReason::PriceMismatch {
                line: 1,
                sku: Sku::parse("A").unwrap(),
                ordered: d("9.99"),
                resolved: Some(d("10.00"))
            }]
        );
        // Price on request is never a match.
        let reasons = check_order(
            &order(&[("B", "1", "0")]),
            Some(&customer()),
            &[],
            Decimal::ZERO,
            Approvers::ShopsWord,
        );
        assert_eq!(reasons[0].code(), "price_mismatch");
        // A list priced per 100 compares per piece.
        assert!(
            check_order(
                &order(&[("C", "1", "0.25")]),
                Some(&customer()),
                &[price("C", "25", "100")],
                Decimal::ZERO,
                Approvers::ShopsWord,
            )
            .is_empty()
        );
    }

    #[test]
    fn status_updates_keep_the_newest_revision() {
        let event = |status, revision| OrderStatusChanged {
            order_id: OrderId::parse("SO-1").unwrap(),
            status,
            revision: Revision::new(revision),
            erp_order_number: None,
            tracking: Vec::new(),
        };
        let accepted = OrderState::Accepted {
            erp_order_number: "4711".into(),
        };
        let shipped = accepted
            .with_status(&event(OrderStatus::Shipped, 3))
            .unwrap();
        assert_eq!(shipped.name(), "shipped");
        assert!(
            matches!(&shipped, OrderState::Erp { erp_order_number: Some(n), .. } if n == "4711")
        );
        assert_eq!(shipped.with_status(&event(OrderStatus::Confirmed, 2)), None);
        assert_eq!(shipped.with_status(&event(OrderStatus::Confirmed, 3)), None);
        assert_eq!(
            shipped
                .with_status(&event(OrderStatus::Delivered, 4))
                .unwrap()
                .name(),
            "delivered"
        );
        assert!(!shipped.may_submit() && OrderState::Received.may_submit());
    }

    #[test]
    fn tracking_is_kept_until_a_status_names_other_parcels() {
        let parcel = |code: &str| Tracking {
            carrier: Some("DHL".into()),
            code: Some(code.into()),
        };
        let event = |status, revision, tracking: Vec<Tracking>| OrderStatusChanged {
            order_id: OrderId::parse("SO-1").unwrap(),
            status,
            revision: Revision::new(revision),
            erp_order_number: None,
            tracking,
        };
        let tracking_of = |state: &OrderState| match state {
            OrderState::Erp { tracking, .. } => tracking.clone(),
            other => panic!("{other:?}"),
        };
        let shipped = OrderState::Submitted
            .with_status(&event(OrderStatus::Shipped, 1, vec![parcel("1Z1")]))
            .unwrap();
        let delivered = shipped
            .with_status(&event(OrderStatus::Delivered, 2, vec![]))
            .unwrap();
        assert_eq!(tracking_of(&delivered), [parcel("1Z1")]);
        let reshipped = delivered
            .with_status(&event(OrderStatus::Shipped, 3, vec![parcel("1Z2")]))
            .unwrap();
        assert_eq!(tracking_of(&reshipped), [parcel("1Z2")]);
    }

    #[test]
    fn the_revision_decides_between_order_versions_not_the_arrival() {
        let v1 = order(&[("A", "1", "10")]);
        let mut v2 = order(&[("A", "2", "10")]);
        v2.revision = Revision::new(2);
        assert_eq!(compare_versions(&v1, &v2), OrderVersion::Newer);
        assert_eq!(compare_versions(&v2, &v1), OrderVersion::Older);
        assert_eq!(compare_versions(&v2, &v2.clone()), OrderVersion::Same);
        let mut other = v2.clone();
        other.po_number = Some("PO-9".into());
        assert_eq!(compare_versions(&v2, &other), OrderVersion::Conflict);
    }

    #[test]
    fn an_erp_wait_keeps_its_start_until_it_was_dead_lettered() {
        let t = |m: i64| at() + chrono::Duration::minutes(m);
        let first = ErpWait::after_failure(None, t(0), "HTTP 503");
        let later = ErpWait::after_failure(Some(&first), t(30), "circuit open");
        assert_eq!(
            (later.since, later.attempts, later.last_attempt),
            (t(0), 2, t(30))
        );
        let mut ended = later.clone();
        ended.dead_lettered_at = Some(t(500));
        let redriven = ErpWait::after_failure(Some(&ended), t(600), "HTTP 503");
        assert_eq!((redriven.since, redriven.attempts), (t(600), 1));
    }

    #[test]
    fn a_price_per_several_pieces_matches_at_the_currency_precision() {
        // 10.00 per 3 pieces: the shop shows 3.33 a piece; 3.34 is another price.
        let prices = [price("A", "10.00", "3")];
        assert!(
            check_order(
                &order(&[("A", "3", "3.33")]),
                Some(&customer()),
                &prices,
                Decimal::ZERO,
                Approvers::ShopsWord
            )
            .is_empty()
        );
        let reasons = check_order(
            &order(&[("A", "3", "3.34")]),
            Some(&customer()),
            &prices,
            Decimal::ZERO,
            Approvers::ShopsWord,
        );
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0].code(), "price_mismatch");
    }
}

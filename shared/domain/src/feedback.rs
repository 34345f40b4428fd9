//! What flows back to the ERP and in from the CRM (contract section 9): returns, incoming
//! payments, the CRM's contacts and their roles, new B2B accounts; and the record of what
//! the bridge posted to a partner system once in effect (`Posting`), the same machinery as
//! orders: saved before the call, looked up before any resend, the idempotency key.

use crate::events::{Approval, OrderStatus};
use crate::ids::{ContactId, CustomerId, OrderId, PaymentId, RegistrationId, ReturnId, Sku};
use crate::money::{Money, Quantity};
use crate::orders::OrderState;
use crate::ports::StoredOrder;
use crate::revision::Revision;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One line of a return: which order line, how much of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub line: u32,
    pub sku: Sku,
    pub quantity: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `return.requested` from the shop. The lines are unique per order line, each above 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequested {
    pub return_id: ReturnId,
    pub order_id: OrderId,
    pub lines: Vec<ReturnLine>,
    pub revision: Revision,
}

/// What the ERP says of a return (`return.status_changed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    Received,
    Inspected,
    Refunded,
    Rejected,
}

impl ReturnStatus {
    pub const ALL: [ReturnStatus; 4] = [
        ReturnStatus::Received,
        ReturnStatus::Inspected,
        ReturnStatus::Refunded,
        ReturnStatus::Rejected,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ReturnStatus::Received => "received",
            ReturnStatus::Inspected => "inspected",
            ReturnStatus::Refunded => "refunded",
            ReturnStatus::Rejected => "rejected",
        }
    }
}

/// `return.status_changed` from the ERP, under the return's revision there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnStatusChanged {
    pub return_id: ReturnId,
    pub status: ReturnStatus,
    pub revision: Revision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_return_number: Option<String>,
}

/// `payment.received` from the shop or the payment service provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReceived {
    pub payment_id: PaymentId,
    pub customer_id: CustomerId,
    pub amount: Money,
    pub received_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invoices: Vec<String>,
}

impl PaymentReceived {
    /// The payment counted in the customer's open items until the ERP's next
    /// `customer.changed` (which then includes it) replaces the record.
    pub fn open_items_adjustment(&self) -> crate::orders::OpenItemsAdjustment {
        crate::orders::OpenItemsAdjustment {
            id: format!("payment:{}", self.payment_id),
            amount: Money::new(-self.amount.amount, self.amount.currency),
        }
    }
}

/// `contact.changed` from the CRM: a person of a customer and the roles they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactChanged {
    pub contact_id: ContactId,
    pub customer_id: CustomerId,
    pub revision: Revision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Absent counts as active (a CRM that deactivates says so).
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

/// Who an order's approvals are checked against.
#[derive(Debug, Clone, Copy)]
pub enum Approvers<'a> {
    /// The shop's word (a stack without a CRM): any approval naming the role counts.
    ShopsWord,
    /// The customer's contacts from the CRM: an approval counts only when its `user_id` is
    /// an active contact of that customer holding the role.
    Contacts(&'a [ContactChanged]),
}

impl Approvers<'_> {
    /// Why `approval` does not count, if it does not.
    pub fn refusal(&self, approval: &Approval) -> Option<String> {
        let Approvers::Contacts(contacts) = self else {
            return None;
        };
        let Some(contact) = contacts
            .iter()
            .find(|c| c.contact_id.as_str() == approval.user_id)
        else {
            return Some(format!(
                "{} is not a contact of the customer in the CRM",
                approval.user_id
            ));
        };
        if !contact.active {
            return Some(format!("contact {} is inactive", approval.user_id));
        }
        if !contact.roles.contains(&approval.role) {
            return Some(format!(
                "contact {} does not hold the role {}",
                approval.user_id, approval.role
            ));
        }
        None
    }
}

/// `account.registered` from the shop: a company asking for a B2B account, a lead for the CRM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRegistered {
    pub registration_id: RegistrationId,
    pub company: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<LeadContact>,
    /// Address lines by name, as the shop sends them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub address: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LeadContact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// How much of each line of `order` can still be returned by `return_id`: what was shipped
/// (logistics' shipments where the order has any, else all of it once the ERP reports it
/// shipped, delivered or invoiced) minus what the order's other returns take back.
pub fn returnable_per_line(order: &StoredOrder, return_id: &ReturnId) -> BTreeMap<u32, Decimal> {
    let mut returnable = if order.shipments.is_empty() {
        let shipped_by_erp = order.invoiced
            || matches!(
                order.state,
                OrderState::Erp {
                    status: OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Invoiced,
                    ..
                }
            );
        order
            .order
            .lines
            .as_slice()
            .iter()
            .map(|l| {
                let shipped = if shipped_by_erp {
                    l.quantity.value()
                } else {
                    Decimal::ZERO
                };
                (l.line, shipped)
            })
            .collect()
    } else {
        crate::shipments::shipped_per_line(&order.shipments)
    };
    let others = order
        .returns
        .iter()
        .filter(|(id, _)| id.as_str() != return_id.as_str());
    for (_, lines) in others {
        for line in lines {
            if let Some(left) = returnable.get_mut(&line.line) {
                *left -= line.quantity.value();
            }
        }
    }
    returnable
}

/// Why a return cannot go to the ERP (it is held with this reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ReturnHold {
    /// The order is not known to the bridge.
    UnknownOrder,
    /// A line the order does not have, or another sku than the order line's.
    UnknownLine { line: u32 },
    /// More than was shipped of the line (less the other returns of it).
    AboveShipped {
        line: u32,
        requested: Decimal,
        returnable: Decimal,
    },
}

impl ReturnHold {
    pub fn code(&self) -> &'static str {
        match self {
            ReturnHold::UnknownOrder => "unknown_order",
            ReturnHold::UnknownLine { .. } => "unknown_line",
            ReturnHold::AboveShipped { .. } => "above_shipped",
        }
    }
}

impl std::fmt::Display for ReturnHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReturnHold::UnknownOrder => f.write_str("unknown_order: the order is not known"),
            ReturnHold::UnknownLine { line } => {
                write!(f, "unknown_line: the order has no line {line} of that sku")
            }
            ReturnHold::AboveShipped {
                line,
                requested,
                returnable,
            } => write!(
                f,
                "above_shipped: line {line} returns {requested}, {returnable} can be returned"
            ),
        }
    }
}

/// The checks of a return against its order: every line one of the order's, none above
/// what can be returned.
pub fn check_return(request: &ReturnRequested, order: Option<&StoredOrder>) -> Vec<ReturnHold> {
    let Some(order) = order else {
        return vec![ReturnHold::UnknownOrder];
    };
    let returnable = returnable_per_line(order, &request.return_id);
    let mut holds = Vec::new();
    for line in &request.lines {
        let ordered = order
            .order
            .lines
            .as_slice()
            .iter()
            .find(|l| l.line == line.line && l.sku == line.sku);
        if ordered.is_none() {
            holds.push(ReturnHold::UnknownLine { line: line.line });
            continue;
        }
        let left = returnable.get(&line.line).copied().unwrap_or(Decimal::ZERO);
        if line.quantity.value() > left {
            holds.push(ReturnHold::AboveShipped {
                line: line.line,
                requested: line.quantity.value(),
                returnable: left.max(Decimal::ZERO),
            });
        }
    }
    holds
}

/// Where a posting (a return, a payment, a lead) stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PostingState {
    Received,
    /// Not sent: the reasons say what must change (a return above what was shipped).
    Held {
        reasons: Vec<String>,
    },
    /// Sent (or being sent): from here on never sent again without asking first.
    Submitted,
    /// The partner took it under its number.
    Accepted {
        number: String,
    },
    /// The partner refused it for good.
    Rejected {
        errors: Vec<String>,
    },
}

impl PostingState {
    pub fn name(&self) -> &'static str {
        match self {
            PostingState::Received => "received",
            PostingState::Held { .. } => "held",
            PostingState::Submitted => "submitted",
            PostingState::Accepted { .. } => "accepted",
            PostingState::Rejected { .. } => "rejected",
        }
    }
}

/// One step of a posting's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingTransition {
    pub at: DateTime<Utc>,
    pub state: PostingState,
}

/// What a posting carries: its kind, its id, and the group it is listed under.
pub trait Posted: Serialize + serde::de::DeserializeOwned + Clone + Send + Sync {
    /// `return`, `payment`, `lead`: the key prefix and the metric's name.
    const KIND: &'static str;
    fn id(&self) -> String;
    /// What postings are listed by (a return's order, a payment's customer).
    fn group(&self) -> String;
}

impl Posted for ReturnRequested {
    const KIND: &'static str = "return";
    fn id(&self) -> String {
        self.return_id.to_string()
    }
    fn group(&self) -> String {
        self.order_id.to_string()
    }
}

impl Posted for PaymentReceived {
    const KIND: &'static str = "payment";
    fn id(&self) -> String {
        self.payment_id.to_string()
    }
    fn group(&self) -> String {
        self.customer_id.to_string()
    }
}

impl Posted for AccountRegistered {
    const KIND: &'static str = "lead";
    fn id(&self) -> String {
        self.registration_id.to_string()
    }
    fn group(&self) -> String {
        self.registration_id.to_string()
    }
}

/// A return, payment or lead as the bridge keeps it: the request, where it stands, and
/// what the partner said since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "T: Posted")]
pub struct Posting<T: Posted> {
    pub request: T,
    pub state: PostingState,
    pub history: Vec<PostingTransition>,
    /// Grows with every save: saves are conditional on it.
    pub version: u64,
    /// The last failed attempt to reach the partner, while it is submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// A payment: counted in the customer's open items.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counted: bool,
    /// The last failed attempt to reach the partner (the schedule leaves a posting a live
    /// delivery may still be retrying alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<DateTime<Utc>>,
    /// A return: the ERP's status of it and the revision it came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp_status: Option<(ReturnStatus, Revision)>,
}

impl<T: Posted> Posting<T> {
    pub fn new(request: T, at: DateTime<Utc>) -> Self {
        Self {
            request,
            state: PostingState::Received,
            history: vec![PostingTransition {
                at,
                state: PostingState::Received,
            }],
            version: 1,
            last_error: None,
            last_attempt: None,
            counted: false,
            erp_status: None,
        }
    }

    /// Moves to `state` (the caller saves it under the next version).
    pub fn advance(&mut self, state: PostingState, at: DateTime<Utc>) {
        self.history.push(PostingTransition {
            at,
            state: state.clone(),
        });
        self.state = state;
        self.version += 1;
    }

    /// When it came to where it stands (the last step of its history).
    pub fn since(&self) -> DateTime<Utc> {
        self.history.last().map_or(Utc::now(), |t| t.at)
    }

    /// When anything last happened to it: its last step or its last failed attempt.
    pub fn touched(&self) -> DateTime<Utc> {
        self.last_attempt
            .map_or(self.since(), |attempt| attempt.max(self.since()))
    }

    /// The partner's number, once it took the posting.
    pub fn number(&self) -> Option<&str> {
        match &self.state {
            PostingState::Accepted { number } => Some(number),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{
        OrderLine, OrderLines, OrderPlaced, ShipmentLine, ShipmentStatus, UnitPrice,
    };
    use crate::money::Currency;
    use std::str::FromStr;

    fn d(v: &str) -> Decimal {
        Decimal::from_str(v).unwrap()
    }

    fn order() -> StoredOrder {
        let line = |n: u32, sku: &str, qty: &str| OrderLine {
            line: n,
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(d(qty)).unwrap(),
            unit_price: UnitPrice::new(d("1")).unwrap(),
        };
        StoredOrder::new(
            OrderPlaced {
                order_id: OrderId::parse("SO-1").unwrap(),
                revision: Revision::first(),
                customer_id: CustomerId::parse("C1").unwrap(),
                currency: Currency::parse("EUR").unwrap(),
                lines: OrderLines::new(vec![line(1, "A", "10"), line(2, "B", "4")]).unwrap(),
                placed_at: Utc::now(),
                po_number: None,
                cost_center: None,
                buyer: None,
                approvals: vec![],
                delivery: None,
            },
            Utc::now(),
        )
    }

    fn request(id: &str, lines: &[(u32, &str, &str)]) -> ReturnRequested {
        ReturnRequested {
            return_id: ReturnId::parse(id).unwrap(),
            order_id: OrderId::parse("SO-1").unwrap(),
            lines: lines
                .iter()
                .map(|(line, sku, qty)| ReturnLine {
                    line: *line,
                    sku: Sku::parse(sku).unwrap(),
                    quantity: Quantity::new(d(qty)).unwrap(),
                    reason: None,
                })
                .collect(),
            revision: Revision::first(),
        }
    }

    #[test]
    fn nothing_can_be_returned_before_anything_shipped() {
        let holds = check_return(&request("R1", &[(1, "A", "1")]), Some(&order()));
        assert_eq!(
            holds,
            vec![ReturnHold::AboveShipped {
                line: 1,
                requested: d("1"),
                returnable: d("0")
            }]
        );
        assert_eq!(
            check_return(&request("R1", &[(1, "A", "1")]), None),
            vec![ReturnHold::UnknownOrder]
        );
    }

    #[test]
    fn shipments_bound_a_return_and_other_returns_count_against_it() {
        let mut stored = order();
        stored.shipments.insert(
            "P1".into(),
            crate::shipments::Shipment {
                status: ShipmentStatus::Delivered,
                revision: Revision::first(),
                carrier: None,
                tracking_code: None,
                tracking_url: None,
                estimated_delivery: None,
                occurred_at: None,
                lines: vec![ShipmentLine {
                    line: 1,
                    quantity: Quantity::new(d("6")).unwrap(),
                }],
                exception: None,
                updated_at: Utc::now(),
            },
        );
        let first = request("R1", &[(1, "A", "4")]);
        assert!(check_return(&first, Some(&stored)).is_empty());
        stored.returns.insert("R1".into(), first.lines.clone());
        // The first return's own reservation does not count against it when it is checked
        // again (a redelivery).
        assert!(check_return(&first, Some(&stored)).is_empty());
        let second = request("R2", &[(1, "A", "3"), (2, "B", "1"), (3, "A", "1")]);
        assert_eq!(
            check_return(&second, Some(&stored)),
            vec![
                ReturnHold::AboveShipped {
                    line: 1,
                    requested: d("3"),
                    returnable: d("2")
                },
                ReturnHold::AboveShipped {
                    line: 2,
                    requested: d("1"),
                    returnable: d("0")
                },
                ReturnHold::UnknownLine { line: 3 },
            ]
        );
    }

    #[test]
    fn the_erps_shipped_status_makes_every_line_returnable() {
        let mut stored = order();
        stored.state = OrderState::Erp {
            status: OrderStatus::Delivered,
            revision: Revision::new(3),
            erp_order_number: None,
            tracking: vec![],
        };
        assert!(
            check_return(
                &request("R1", &[(1, "A", "10"), (2, "B", "4")]),
                Some(&stored)
            )
            .is_empty()
        );
    }

    #[test]
    fn an_approval_counts_only_from_an_active_contact_holding_the_role() {
        let contact = |id: &str, roles: &[&str], active: bool| ContactChanged {
            contact_id: ContactId::parse(id).unwrap(),
            customer_id: CustomerId::parse("C1").unwrap(),
            revision: Revision::first(),
            email: None,
            name: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            active,
        };
        let contacts = [
            contact("u-buyer", &["buyer"], true),
            contact("u-head", &["purchasing_manager"], true),
            contact("u-gone", &["purchasing_manager"], false),
        ];
        let approval = |user: &str| Approval {
            role: "purchasing_manager".into(),
            user_id: user.into(),
            at: None,
        };
        let approvers = Approvers::Contacts(&contacts);
        assert_eq!(approvers.refusal(&approval("u-head")), None);
        assert!(
            approvers
                .refusal(&approval("u-buyer"))
                .unwrap()
                .contains("does not hold the role")
        );
        assert!(
            approvers
                .refusal(&approval("u-gone"))
                .unwrap()
                .contains("inactive")
        );
        assert!(
            approvers
                .refusal(&approval("u-else"))
                .unwrap()
                .contains("not a contact")
        );
        assert_eq!(Approvers::ShopsWord.refusal(&approval("u-else")), None);
    }

    #[test]
    fn a_payment_lowers_the_open_items() {
        let payment = PaymentReceived {
            payment_id: PaymentId::parse("PAY-1").unwrap(),
            customer_id: CustomerId::parse("C1").unwrap(),
            amount: Money::new(d("250.00"), Currency::parse("EUR").unwrap()),
            received_at: Utc::now(),
            invoices: vec![],
        };
        let adjustment = payment.open_items_adjustment();
        assert_eq!(adjustment.id, "payment:PAY-1");
        assert_eq!(adjustment.amount.amount, d("-250.00"));
    }
}

//! The ERP's invoices (contract section 9): an `INVOICE` under `erp/inbox/` changes the
//! customer's open items at once, by its gross total (a credit memo by minus that), counted
//! once per document (`erp/answers/invoices/<kind>-<id>.json` records it), until the ERP's
//! next `customer.changed` replaces the record (whose open items include it). A file that
//! arrives after that record (which already includes it) counts on top until the ERP's next
//! one: the customer's credit looks tighter for a while, never looser. Each order of that
//! customer it names becomes `invoiced` (the ERP's
//! `order.status_changed` under the documents' revision 0; the writeback keeps `invoiced` for
//! good), so the order leaves the customer's open orders as its amount enters the open
//! items: counted once. A credit memo changes no order's status.

use crate::report::{DocumentReport, Entry, EntryOutcome};
use crate::{DocumentInbox, InboxError};
use bridge_contract::opentrans::invoice::{Invoice, InvoiceKind};
use bridge_domain::orders::{AdjustOutcome, DOCUMENT_REVISION, OpenItemsAdjustment};
use bridge_domain::{CustomerId, EventType};
use bridge_lambda::Metrics;
use chrono::Utc;
use serde_json::json;
use tracing::info;

/// Where each invoice counted is recorded, by its id.
pub const INVOICE_LEDGER: &str = "erp/answers/invoices/";

/// An invoice id as a key name: characters S3 keys and operators read safely, the rest
/// as `_` and a hash of the id (two ids never share a name).
fn ledger_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if safe == id {
        safe
    } else {
        crate::document_receipt(&safe, &[id])
    }
}

/// The intake's receipt for an invoice's status of one order.
fn receipt(invoice: &Invoice, order_id: &str) -> String {
    let revision = invoice.revision().to_string();
    crate::document_receipt("invoice", &[&invoice.id, order_id, &revision])
}

impl DocumentInbox {
    /// One INVOICE: the customer's open items, then each order's status.
    pub(crate) async fn invoice(
        &self,
        invoice: &Invoice,
        report: &mut DocumentReport,
        metrics: &mut Metrics,
    ) -> Result<(), InboxError> {
        report.document_id = Some(invoice.id.clone());
        report.revision = Some(invoice.revision());
        report.counts.items = invoice.items;
        report.counts.orders = invoice.order_ids.len();
        let (outcome, message) = self.adjust_open_items(invoice, metrics).await?;
        report.add_entry(
            Entry {
                order_id: None,
                outcome,
                items: Vec::new(),
                message,
            },
            metrics,
        );
        let orders = match invoice.kind {
            InvoiceKind::Invoice => invoice.order_ids.iter().collect(),
            // A credit memo gives money back; the orders it names were invoiced before.
            InvoiceKind::CreditMemo => Vec::new(),
        };
        for order_ref in orders {
            let (outcome, message) = match self.known_order(order_ref).await? {
                Err(outcome) => outcome,
                Ok(stored) if stored.order.customer_id.as_str() != invoice.customer_id => (
                    EntryOutcome::CustomerMismatch,
                    Some(format!(
                        "order {order_ref} is customer {}'s, the invoice is to {}: the order is left alone",
                        stored.order.customer_id, invoice.customer_id
                    )),
                ),
                Ok(_) => {
                    let body = json!({
                        "type": EventType::OrderStatusChanged.as_str(),
                        "timestamp": Utc::now().to_rfc3339(),
                        "data": {"order_id": order_ref, "status": "invoiced", "revision": DOCUMENT_REVISION.value()},
                    });
                    self.hand_to_intake(
                        &self.erp_sender,
                        &receipt(invoice, order_ref),
                        order_ref,
                        body,
                        || {
                            format!(
                                "invoice {} revision {} was handed over for this order before with other content",
                                invoice.id,
                                invoice.revision()
                            )
                        },
                        metrics,
                    )
                    .await?
                }
            };
            report.add_entry(
                Entry {
                    order_id: Some(order_ref.clone()),
                    outcome,
                    items: Vec::new(),
                    message,
                },
                metrics,
            );
        }
        report.conclude();
        Ok(())
    }

    async fn adjust_open_items(
        &self,
        invoice: &Invoice,
        metrics: &mut Metrics,
    ) -> Result<(EntryOutcome, Option<String>), InboxError> {
        let Ok(customer) = CustomerId::parse(&invoice.customer_id) else {
            return Ok((
                EntryOutcome::UnknownCustomer,
                Some(format!(
                    "{:?} cannot be a customer id of the bridge",
                    invoice.customer_id
                )),
            ));
        };
        let change = invoice.open_items_change();
        // An invoice and a credit memo may share a number: each counts once.
        let kind = invoice.kind.as_str();
        let ledger = format!("{INVOICE_LEDGER}{kind}-{}.json", ledger_name(&invoice.id));
        if self.files.read(&ledger).await?.is_some() {
            return Ok((
                EntryOutcome::Duplicate,
                Some(format!(
                    "invoice {} was counted before ({ledger})",
                    invoice.id
                )),
            ));
        }
        let adjustment = OpenItemsAdjustment {
            id: format!("{kind}:{}", invoice.id),
            amount: change,
        };
        let outcome = self
            .customers
            .adjust_open_items(&customer, &adjustment)
            .await?;
        if matches!(
            outcome,
            AdjustOutcome::Applied { .. } | AdjustOutcome::AlreadyApplied
        ) {
            // Outside the customer's record, which the ERP's next update replaces: the
            // invoice read again later (a redelivery, a copy) counts nothing.
            let record = json!({"invoice": invoice.id, "customer_id": invoice.customer_id,
                "change": change.to_string(), "outcome": format!("{outcome:?}"),
                "recorded_at": Utc::now()});
            self.files
                .create_new(
                    &ledger,
                    serde_json::to_vec_pretty(&record).unwrap_or_default(),
                    "application/json",
                )
                .await?;
        }
        Ok(match outcome {
            AdjustOutcome::Applied { open_items } => {
                info!(customer_id = %customer, invoice = %invoice.id, change = %change, open_items = %open_items, "the invoice counts in the customer's open items until the ERP's next customer.changed");
                metrics.add("OpenItemsAdjusted", 1);
                (
                    EntryOutcome::OpenItemsAdjusted,
                    Some(format!(
                        "customer {customer}: open items {}{change} to {open_items}, until the ERP's next customer.changed",
                        if change.amount.is_sign_negative() {
                            ""
                        } else {
                            "+"
                        }
                    )),
                )
            }
            AdjustOutcome::AlreadyApplied => (
                EntryOutcome::Duplicate,
                Some(format!(
                    "invoice {} counts in customer {customer}'s open items already",
                    invoice.id
                )),
            ),
            AdjustOutcome::UnknownCustomer => (
                EntryOutcome::UnknownCustomer,
                Some(format!("no customer {customer} is known to the bridge")),
            ),
            AdjustOutcome::CurrencyMismatch { customer: currency } => (
                EntryOutcome::CurrencyMismatch,
                Some(format!(
                    "the invoice is in {}, customer {customer}'s credit in {currency}: not counted",
                    change.currency
                )),
            ),
            AdjustOutcome::OutOfRange => (
                EntryOutcome::Invalid,
                Some("the open items would leave the exact decimal range".into()),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipt_is_the_invoice_its_order_and_its_revision() {
        let invoice = |id: &str| Invoice {
            id: id.into(),
            date: bridge_contract::opentrans::datetime("2026-12-07T09:00:00Z").unwrap(),
            generated_at: None,
            kind: bridge_contract::opentrans::invoice::InvoiceKind::Invoice,
            customer_id: "C-1".into(),
            customer_name: None,
            order_ids: Default::default(),
            total: bridge_domain::Money::new(
                rust_decimal::Decimal::ONE,
                bridge_domain::Currency::parse("EUR").unwrap(),
            ),
            net: None,
            tax: None,
            items: 0,
        };
        assert_eq!(
            receipt(&invoice("R-1"), "SO-1"),
            receipt(&invoice("R-1"), "SO-1")
        );
        assert_ne!(
            receipt(&invoice("R-1"), "SO-1"),
            receipt(&invoice("R-1"), "SO-2")
        );
        assert_ne!(
            receipt(&invoice("R-1"), "SO-1"),
            receipt(&invoice("R-2"), "SO-1")
        );
    }
}

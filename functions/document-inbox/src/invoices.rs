//! The ERP's invoices (contract section 9): an `INVOICE` under `erp/inbox/` changes the
//! customer's open items at once, by its gross total (a credit memo by minus that), counted
//! once per invoice id, until the ERP's next `customer.changed` replaces the record (whose
//! open items include it); and each order it names becomes `invoiced` (the ERP's
//! `order.status_changed`, revision = the invoice's generation time in ms), so the order
//! leaves the customer's open orders as its amount enters the open items: counted once.

use crate::report::{DocumentReport, Entry, EntryOutcome};
use crate::{DocumentInbox, InboxError};
use bridge_contract::opentrans::invoice::Invoice;
use bridge_domain::orders::{AdjustOutcome, OpenItemsAdjustment};
use bridge_domain::{CustomerId, EventType};
use bridge_lambda::Metrics;
use chrono::Utc;
use serde_json::json;
use tracing::info;

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
        for order_ref in &invoice.order_ids {
            let (outcome, message) = match self.known_order(order_ref).await? {
                Err(outcome) => outcome,
                Ok(_) => {
                    let body = json!({
                        "type": EventType::OrderStatusChanged.as_str(),
                        "timestamp": Utc::now().to_rfc3339(),
                        "data": {"order_id": order_ref, "status": "invoiced", "revision": invoice.revision()},
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
        let adjustment = OpenItemsAdjustment {
            id: format!("invoice:{}", invoice.id),
            amount: change,
        };
        let outcome = self
            .customers
            .adjust_open_items(&customer, &adjustment)
            .await?;
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

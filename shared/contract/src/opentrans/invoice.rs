//! openTRANS 2.1 `INVOICE` (contract section 9): what the ERP invoiced a customer, for its
//! open items.
//!
//! | INVOICE | meaning |
//! |---|---|
//! | `INVOICE_INFO/INVOICE_ID`, `INVOICE_DATE` | the invoice |
//! | `INVOICE_TYPE` (`invoice` when absent) | `credit_memo` lowers what the customer owes |
//! | `INVOICE_RECIPIENT_IDREF` (else `bmecat:BUYER_IDREF`) | the customer (its ERP id) |
//! | the party of that id: `ADDRESS/NAME` | the customer's name as invoiced |
//! | `ORDER_HISTORY/ORDER_ID`, items' `ORDER_REFERENCE/ORDER_ID` | the orders it invoices |
//! | `bmecat:CURRENCY`, summary `TOTAL_AMOUNT` (gross), `NET_VALUE_GOODS`, `TOTAL_TAX`'s `TAX_AMOUNT` | the amounts |
//! | `GENERATION_DATE`, else `INVOICE_DATE`, in ms | the invoice's revision |

use super::DocumentError;
use super::{Seen, non_empty, read_elements};
use bridge_domain::{Currency, Money};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceKind {
    Invoice,
    CreditMemo,
}

impl InvoiceKind {
    /// Its `INVOICE_TYPE` (an invoice copy is the invoice).
    pub fn as_str(&self) -> &'static str {
        match self {
            InvoiceKind::Invoice => "invoice",
            InvoiceKind::CreditMemo => "credit_memo",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: String,
    pub date: DateTime<Utc>,
    pub generated_at: Option<DateTime<Utc>>,
    pub kind: InvoiceKind,
    pub customer_id: String,
    pub customer_name: Option<String>,
    /// Every order the invoice names, header and items.
    pub order_ids: BTreeSet<String>,
    /// What the customer owes for it (gross).
    pub total: Money,
    pub net: Option<Decimal>,
    pub tax: Option<Decimal>,
    pub items: usize,
}

impl Invoice {
    pub fn revision(&self) -> u64 {
        super::revision_at(self.generated_at, self.date)
    }

    /// What it changes in the customer's open items: an invoice adds its gross total, a
    /// credit memo takes it off.
    pub fn open_items_change(&self) -> Money {
        match self.kind {
            InvoiceKind::Invoice => self.total,
            InvoiceKind::CreditMemo => Money::new(-self.total.amount, self.total.currency),
        }
    }
}

#[derive(Default)]
struct Party {
    ids: Vec<String>,
    name: Option<String>,
}

#[derive(Default)]
struct Reading {
    id: Option<String>,
    date: Option<String>,
    generated_at: Option<String>,
    kind: Option<String>,
    recipient: Option<String>,
    buyer: Option<String>,
    parties: Vec<Party>,
    order_ids: BTreeSet<String>,
    currency: Option<String>,
    total: Option<String>,
    net: Option<String>,
    taxes: Vec<String>,
    items: usize,
}

/// Orders one invoice may name.
const MAX_ORDERS: usize = 10_000;
/// Ids one party may carry.
const MAX_PARTY_IDS: usize = 16;

/// The summary's tax amounts added up (`None` without any).
fn tax_total(taxes: &[String]) -> Result<Option<Decimal>, DocumentError> {
    let mut total: Option<Decimal> = None;
    for text in taxes {
        let tax = amount(Some(text), "INVOICE_SUMMARY/TOTAL_TAX")?.unwrap_or_default();
        total = Some(total.unwrap_or_default().checked_add(tax).ok_or_else(|| {
            DocumentError::new(
                "invalid_value",
                "the tax amounts add up beyond the decimal range",
            )
        })?);
    }
    Ok(total)
}

fn amount(text: Option<&str>, path: &str) -> Result<Option<Decimal>, DocumentError> {
    text.map(|t| {
        Decimal::from_str(t)
            .map_err(|_| DocumentError::new("invalid_value", format!("{path} {t:?} is no decimal")))
    })
    .transpose()
}

/// Reads a whole INVOICE (streamed; only its header and totals are kept).
pub fn read(input: Box<dyn BufRead + Send>) -> Result<Invoice, DocumentError> {
    let mut r = Reading::default();
    read_elements(input, "INVOICE", "not_an_invoice", |seen| {
        match seen {
            Seen::Open(element, _) => match element.name {
                "PARTY" if element.within("INVOICE_INFO") => {
                    r.parties.push(Party::default());
                    super::check_parties(r.parties.len())?;
                }
                "INVOICE_ITEM" => r.items += 1,
                _ => {}
            },
            Seen::Close(element, text) => match (element.parent, element.name) {
                ("PARTY", "PARTY_ID") => {
                    if let Some(p) = r.parties.last_mut().filter(|p| p.ids.len() < MAX_PARTY_IDS) {
                        p.ids.extend(non_empty(text))
                    }
                }
                ("ADDRESS", "NAME") => {
                    if let Some(p) = r.parties.last_mut() {
                        p.name = p.name.take().or_else(|| non_empty(text))
                    }
                }
                ("INVOICE_INFO", "INVOICE_ID") => r.id = non_empty(text),
                ("INVOICE_INFO", "INVOICE_DATE") => r.date = non_empty(text),
                ("INVOICE_INFO", "INVOICE_TYPE") => r.kind = non_empty(text),
                ("INVOICE_INFO", "INVOICE_RECIPIENT_IDREF") => r.recipient = non_empty(text),
                ("INVOICE_INFO", "BUYER_IDREF") => r.buyer = non_empty(text),
                ("INVOICE_INFO", "CURRENCY") => r.currency = non_empty(text),
                ("CONTROL_INFO", "GENERATION_DATE") => r.generated_at = non_empty(text),
                ("ORDER_HISTORY", "ORDER_ID") | ("ORDER_REFERENCE", "ORDER_ID") => {
                    r.order_ids.extend(non_empty(text));
                    if r.order_ids.len() > MAX_ORDERS {
                        return Err(DocumentError::new(
                            "too_large",
                            format!("more than {MAX_ORDERS} orders"),
                        ));
                    }
                }
                ("INVOICE_SUMMARY", "TOTAL_AMOUNT") => r.total = non_empty(text),
                ("INVOICE_SUMMARY", "NET_VALUE_GOODS") => r.net = non_empty(text),
                // Every rate's tax (7 % and 19 % on one invoice) adds up.
                ("TAX_DETAILS_FIX", "TAX_AMOUNT") if element.within("INVOICE_SUMMARY") => {
                    r.taxes.extend(non_empty(text))
                }
                _ => {}
            },
        }
        Ok(())
    })?;
    let customer_id = super::required(
        r.recipient.or(r.buyer),
        "INVOICE_INFO/INVOICE_RECIPIENT_IDREF",
    )?;
    let currency_text = super::required(r.currency, "INVOICE_INFO/CURRENCY")?;
    let currency = Currency::parse(&currency_text).map_err(|_| {
        DocumentError::new(
            "invalid_value",
            format!("CURRENCY {currency_text:?} is no ISO 4217 code"),
        )
    })?;
    let total = super::required(
        amount(r.total.as_deref(), "INVOICE_SUMMARY/TOTAL_AMOUNT")?,
        "INVOICE_SUMMARY/TOTAL_AMOUNT",
    )?;
    let kind = match r.kind.as_deref() {
        None | Some("invoice") | Some("invoice_copy") => InvoiceKind::Invoice,
        Some("credit_memo") => InvoiceKind::CreditMemo,
        Some(other) => {
            return Err(DocumentError::new(
                "invalid_value",
                format!(
                    "INVOICE_TYPE {other:?}: the bridge takes invoice, invoice_copy and credit_memo"
                ),
            ));
        }
    };
    let customer_name = r
        .parties
        .iter()
        .find(|p| p.ids.contains(&customer_id))
        .and_then(|p| p.name.clone());
    Ok(Invoice {
        id: super::required(r.id, "INVOICE_INFO/INVOICE_ID")?,
        date: super::required_datetime(r.date.as_deref(), "INVOICE_INFO/INVOICE_DATE")?,
        generated_at: super::optional_datetime(
            r.generated_at.as_deref(),
            "CONTROL_INFO/GENERATION_DATE",
        )?,
        kind,
        customer_id,
        customer_name,
        order_ids: r.order_ids,
        total: Money::new(total, currency),
        net: amount(r.net.as_deref(), "INVOICE_SUMMARY/NET_VALUE_GOODS")?,
        tax: tax_total(&r.taxes)?,
        items: r.items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(xml: &str) -> Result<Invoice, DocumentError> {
        read(Box::new(std::io::Cursor::new(xml.as_bytes().to_vec())))
    }

    fn invoice(extra_info: &str) -> String {
        format!(
            r#"<INVOICE version="2.1" xmlns="http://www.opentrans.org/XMLSchema/2.1" xmlns:bmecat="http://www.bmecat.org/bmecat/2005">
<INVOICE_HEADER><INVOICE_INFO><INVOICE_ID>R-1</INVOICE_ID><INVOICE_DATE>2026-12-07</INVOICE_DATE>{extra_info}
<PARTIES><PARTY><bmecat:PARTY_ID>C-1</bmecat:PARTY_ID><PARTY_ROLE>buyer</PARTY_ROLE><ADDRESS><bmecat:NAME>Kunde GmbH</bmecat:NAME></ADDRESS></PARTY></PARTIES>
<INVOICE_ISSUER_IDREF>S-1</INVOICE_ISSUER_IDREF><INVOICE_RECIPIENT_IDREF>C-1</INVOICE_RECIPIENT_IDREF><bmecat:CURRENCY>EUR</bmecat:CURRENCY></INVOICE_INFO>
<ORDER_HISTORY><ORDER_ID>SO-1</ORDER_ID></ORDER_HISTORY></INVOICE_HEADER>
<INVOICE_ITEM_LIST><INVOICE_ITEM><LINE_ITEM_ID>1</LINE_ITEM_ID><ORDER_REFERENCE><ORDER_ID>SO-2</ORDER_ID><LINE_ITEM_ID>1</LINE_ITEM_ID></ORDER_REFERENCE></INVOICE_ITEM></INVOICE_ITEM_LIST>
<INVOICE_SUMMARY><TOTAL_ITEM_NUM>1</TOTAL_ITEM_NUM><NET_VALUE_GOODS>100</NET_VALUE_GOODS><TOTAL_AMOUNT>119.00</TOTAL_AMOUNT>
<TOTAL_TAX><TAX_DETAILS_FIX><TAX_AMOUNT>19.00</TAX_AMOUNT></TAX_DETAILS_FIX></TOTAL_TAX></INVOICE_SUMMARY></INVOICE>"#
        )
    }

    #[test]
    fn an_invoice_names_its_customer_orders_and_amounts_and_a_credit_memo_says_so() {
        let inv = read_text(&invoice("")).unwrap();
        assert_eq!(inv.id, "R-1");
        assert_eq!(inv.kind, InvoiceKind::Invoice);
        assert_eq!(inv.customer_id, "C-1");
        assert_eq!(inv.customer_name.as_deref(), Some("Kunde GmbH"));
        assert_eq!(
            inv.order_ids.iter().map(String::as_str).collect::<Vec<_>>(),
            ["SO-1", "SO-2"]
        );
        assert_eq!(inv.total.amount.to_string(), "119.00");
        assert_eq!(inv.tax, Some(Decimal::new(1900, 2)));
        // Two rates: both taxes count.
        let two_rates = invoice("").replace(
            "<TAX_DETAILS_FIX><TAX_AMOUNT>19.00</TAX_AMOUNT></TAX_DETAILS_FIX>",
            "<TAX_DETAILS_FIX><TAX_AMOUNT>7.00</TAX_AMOUNT></TAX_DETAILS_FIX><TAX_DETAILS_FIX><TAX_AMOUNT>9.50</TAX_AMOUNT></TAX_DETAILS_FIX>",
        );
        assert_eq!(
            read_text(&two_rates).unwrap().tax,
            Some(Decimal::new(1650, 2))
        );
        let memo = read_text(&invoice("<INVOICE_TYPE>credit_memo</INVOICE_TYPE>")).unwrap();
        assert_eq!(memo.kind, InvoiceKind::CreditMemo);
        assert_eq!(
            read_text(&invoice("<INVOICE_TYPE>advice_of_amendment</INVOICE_TYPE>"))
                .unwrap_err()
                .code,
            "invalid_value"
        );
        assert_eq!(
            read_text(&invoice("").replace("<TOTAL_AMOUNT>119.00</TOTAL_AMOUNT>", ""))
                .unwrap_err()
                .code,
            "missing_field"
        );
        assert_eq!(read_text("<ORDER/>").unwrap_err().code, "not_an_invoice");
    }

    /// The real sample of `../shared/samples/opentrans/` (when `BRIDGE_SAMPLES_DIR` is
    /// set): every field the bridge takes from an invoice.
    #[test]
    fn the_real_sample_invoice_reads_with_every_field_the_bridge_takes() {
        let Ok(dir) = std::env::var("BRIDGE_SAMPLES_DIR") else {
            eprintln!("BRIDGE_SAMPLES_DIR is not set: skipping the real-sample check");
            return;
        };
        let path = std::path::Path::new(&dir).join("opentrans/sample_invoice_opentrans_2_1.xml");
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let inv = read(Box::new(std::io::BufReader::new(file))).unwrap();
        assert_eq!(inv.id, "I21298");
        assert_eq!(inv.date.to_rfc3339(), "2009-05-13T08:00:00+00:00");
        assert_eq!(
            inv.generated_at.unwrap().to_rfc3339(),
            "2009-05-13T05:20:00+00:00"
        );
        assert_eq!(inv.kind, InvoiceKind::Invoice);
        assert_eq!(inv.customer_id, "968314");
        assert_eq!(
            inv.customer_name.as_deref(),
            Some("Supershop Store International")
        );
        assert_eq!(
            inv.order_ids.iter().map(String::as_str).collect::<Vec<_>>(),
            ["O3849"]
        );
        assert_eq!(inv.total.amount, Decimal::new(556920, 2));
        assert_eq!(inv.total.currency.to_string(), "EUR");
        assert_eq!(inv.net, Some(Decimal::new(468000, 2)));
        assert_eq!(inv.tax, Some(Decimal::new(88920, 2)));
        assert_eq!(inv.items, 1);
    }
}

//! openTRANS 2.1 `ORDERRESPONSE` (contract section 9): the ERP's answer to an ORDER document
//! the connector wrote. The schema has no accept or reject code: an answer whose every item
//! is confirmed with quantity 0 declines the order; any other answer accepts it, under the
//! ERP's order number (`SUPPLIER_ORDER_ID`).
//!
//! | ORDERRESPONSE | meaning |
//! |---|---|
//! | `ORDERRESPONSE_INFO/ORDER_ID` | our order id (the ORDER's `ORDER_ID`) |
//! | `SUPPLIER_ORDER_ID` | the ERP's order number |
//! | `ORDERRESPONSE_DATE` | when the ERP answered |
//! | `GENERATION_DATE`, else `ORDERRESPONSE_DATE`, in ms | the answer's revision: a later one replaces it |
//! | items: `LINE_ITEM_ID`, `QUANTITY` | the quantity confirmed per line (0: declined) |
//! | `REMARKS` | the ERP's words, kept for the order's history |

use super::DocumentError;
use super::{Seen, non_empty, read_elements};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::io::BufRead;
use std::str::FromStr;

/// Items one answer may carry.
pub const MAX_ITEMS: usize = 10_000;
const MAX_REMARKS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseItem {
    pub line_item_id: Option<String>,
    pub supplier_pid: Option<String>,
    /// `None` when the text is no decimal (reported by the reader's caller).
    pub quantity: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderResponse {
    pub order_id: String,
    pub erp_order_number: Option<String>,
    pub date: DateTime<Utc>,
    pub generated_at: Option<DateTime<Utc>>,
    pub items: Vec<ResponseItem>,
    pub remarks: Vec<String>,
}

/// What the answer says of the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted (in full or changed), under the ERP's number if it gave one.
    Accepted { erp_order_number: Option<String> },
    /// Every item confirmed with 0.
    Declined,
}

impl OrderResponse {
    pub fn revision(&self) -> u64 {
        super::revision_at(self.generated_at, self.date)
    }

    pub fn verdict(&self) -> Verdict {
        let declined = !self.items.is_empty()
            && self
                .items
                .iter()
                .all(|i| i.quantity.is_some_and(|q| q.is_zero()));
        if declined {
            Verdict::Declined
        } else {
            Verdict::Accepted {
                erp_order_number: self.erp_order_number.clone(),
            }
        }
    }
}

/// Where the ERP connector writes an order's ORDER document, for the EDI converter.
pub const ORDER_OUTBOX: &str = "erp/outbox/orders/";
/// Where the ERP's answers are recorded, one per order.
pub const ANSWERS: &str = "erp/answers/orders/";

pub fn order_document_key(order_id: &str) -> String {
    format!("{ORDER_OUTBOX}{order_id}.xml")
}

pub fn answer_key(order_id: &str) -> String {
    format!("{ANSWERS}{order_id}.json")
}

/// The ERP's answer to one order as the document inbox records it (`erp/answers/orders/
/// <order_id>.json`, written once: the first answer decides) and the connector's lookup
/// reads it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedAnswer {
    pub order_id: String,
    pub accepted: bool,
    pub erp_order_number: Option<String>,
    /// Why the ERP declined (its remarks), or what it remarked.
    #[serde(default)]
    pub remarks: Vec<String>,
    pub revision: u64,
    /// The document it came in, `key@version`.
    pub document: String,
    pub recorded_at: DateTime<Utc>,
}

impl RecordedAnswer {
    pub fn of(response: &OrderResponse, document: String, now: DateTime<Utc>) -> Self {
        let (accepted, erp_order_number) = match response.verdict() {
            Verdict::Accepted { erp_order_number } => (true, erp_order_number),
            Verdict::Declined => (false, None),
        };
        Self {
            order_id: response.order_id.clone(),
            accepted,
            erp_order_number,
            remarks: response.remarks.clone(),
            revision: response.revision(),
            document,
            recorded_at: now,
        }
    }

    /// The same answer (a redelivery, a copy of the file): not where it came from or when.
    pub fn same_answer(&self, other: &RecordedAnswer) -> bool {
        (
            &self.order_id,
            self.accepted,
            &self.erp_order_number,
            &self.remarks,
            self.revision,
        ) == (
            &other.order_id,
            other.accepted,
            &other.erp_order_number,
            &other.remarks,
            other.revision,
        )
    }
}

#[derive(Default)]
struct Reading {
    order_id: Option<String>,
    erp_order_number: Option<String>,
    date: Option<String>,
    generated_at: Option<String>,
    items: Vec<ResponseItem>,
    item: Option<ResponseItem>,
    remarks: Vec<String>,
}

/// Reads a whole ORDERRESPONSE (streamed; at most [`MAX_ITEMS`] items held).
pub fn read(input: Box<dyn BufRead + Send>) -> Result<OrderResponse, DocumentError> {
    let mut r = Reading::default();
    read_elements(input, "ORDERRESPONSE", "not_an_order_response", |seen| {
        match seen {
            Seen::Open(element, _) if element.name == "ORDERRESPONSE_ITEM" => {
                if r.items.len() >= MAX_ITEMS {
                    return Err(DocumentError::new(
                        "too_many_items",
                        format!("more than {MAX_ITEMS} items"),
                    ));
                }
                r.item = Some(ResponseItem {
                    line_item_id: None,
                    supplier_pid: None,
                    quantity: None,
                });
            }
            Seen::Open(..) => {}
            Seen::Close(element, text) => {
                if let Some(item) = r.item.as_mut() {
                    match (element.parent, element.name) {
                        ("ORDERRESPONSE_ITEM", "LINE_ITEM_ID") => {
                            item.line_item_id = non_empty(text)
                        }
                        // The item's own product, not a kit component's.
                        ("PRODUCT_ID", "SUPPLIER_PID")
                            if element.at(&[
                                "ORDERRESPONSE_ITEM",
                                "PRODUCT_ID",
                                "SUPPLIER_PID",
                            ]) =>
                        {
                            item.supplier_pid = non_empty(text)
                        }
                        ("ORDERRESPONSE_ITEM", "QUANTITY") => {
                            item.quantity = Decimal::from_str(text).ok()
                        }
                        (_, "ORDERRESPONSE_ITEM") => r.items.extend(r.item.take()),
                        _ => {}
                    }
                    return Ok(());
                }
                match (element.parent, element.name) {
                    ("ORDERRESPONSE_INFO", "ORDER_ID") => r.order_id = non_empty(text),
                    ("ORDERRESPONSE_INFO", "SUPPLIER_ORDER_ID") => {
                        r.erp_order_number = non_empty(text)
                    }
                    ("ORDERRESPONSE_INFO", "ORDERRESPONSE_DATE") => r.date = non_empty(text),
                    ("CONTROL_INFO", "GENERATION_DATE") => r.generated_at = non_empty(text),
                    ("ORDERRESPONSE_INFO", "REMARKS") => {
                        r.remarks.extend(non_empty(text));
                        if r.remarks.len() > MAX_REMARKS {
                            return Err(DocumentError::new(
                                "too_large",
                                format!("more than {MAX_REMARKS} remarks"),
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
    Ok(OrderResponse {
        order_id: super::required(r.order_id, "ORDERRESPONSE_INFO/ORDER_ID")?,
        erp_order_number: r.erp_order_number,
        date: super::required_datetime(r.date.as_deref(), "ORDERRESPONSE_INFO/ORDERRESPONSE_DATE")?,
        generated_at: super::optional_datetime(
            r.generated_at.as_deref(),
            "CONTROL_INFO/GENERATION_DATE",
        )?,
        items: r.items,
        remarks: r.remarks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(items: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ORDERRESPONSE xmlns="http://www.opentrans.org/XMLSchema/2.1" xmlns:bmecat="http://www.bmecat.org/bmecat/2005" version="2.1">
<ORDERRESPONSE_HEADER><CONTROL_INFO><GENERATION_DATE>2026-12-07T11:00:00+01:00</GENERATION_DATE></CONTROL_INFO>
<ORDERRESPONSE_INFO><ORDER_ID>SO-1</ORDER_ID><ORDERRESPONSE_DATE>2026-12-07T11:00:00+01:00</ORDERRESPONSE_DATE>
<SUPPLIER_ORDER_ID>AB-20931</SUPPLIER_ORDER_ID>
<PARTIES><PARTY><bmecat:PARTY_ID>C-1</bmecat:PARTY_ID></PARTY></PARTIES>
<ORDER_PARTIES_REFERENCE><bmecat:BUYER_IDREF>C-1</bmecat:BUYER_IDREF><bmecat:SUPPLIER_IDREF>S-1</bmecat:SUPPLIER_IDREF></ORDER_PARTIES_REFERENCE>
<REMARKS type="general">Lieferung KW 51</REMARKS>
</ORDERRESPONSE_INFO></ORDERRESPONSE_HEADER>
<ORDERRESPONSE_ITEM_LIST>{items}</ORDERRESPONSE_ITEM_LIST>
<ORDERRESPONSE_SUMMARY><TOTAL_ITEM_NUM>1</TOTAL_ITEM_NUM></ORDERRESPONSE_SUMMARY></ORDERRESPONSE>"#
        )
    }

    fn item(line: &str, quantity: &str) -> String {
        format!(
            "<ORDERRESPONSE_ITEM><LINE_ITEM_ID>{line}</LINE_ITEM_ID><PRODUCT_ID><bmecat:SUPPLIER_PID>A</bmecat:SUPPLIER_PID></PRODUCT_ID>\
             <QUANTITY>{quantity}</QUANTITY><bmecat:ORDER_UNIT>C62</bmecat:ORDER_UNIT></ORDERRESPONSE_ITEM>"
        )
    }

    fn read_text(xml: &str) -> Result<OrderResponse, DocumentError> {
        read(Box::new(std::io::Cursor::new(xml.as_bytes().to_vec())))
    }

    #[test]
    fn an_answer_accepts_under_the_erps_number_or_declines_with_every_item_at_zero() {
        let accepted =
            read_text(&response(&format!("{}{}", item("1", "2"), item("2", "0")))).unwrap();
        assert_eq!(accepted.order_id, "SO-1");
        assert_eq!(accepted.remarks, ["Lieferung KW 51"]);
        assert_eq!(
            accepted.verdict(),
            Verdict::Accepted {
                erp_order_number: Some("AB-20931".into())
            }
        );
        assert_eq!(
            accepted.revision(),
            accepted.generated_at.unwrap().timestamp_millis() as u64
        );
        let declined = read_text(&response(&format!(
            "{}{}",
            item("1", "0"),
            item("2", "0.000")
        )))
        .unwrap();
        assert_eq!(declined.verdict(), Verdict::Declined);
        // An answer without items is no refusal.
        assert!(matches!(
            read_text(&response("")).unwrap().verdict(),
            Verdict::Accepted { .. }
        ));
    }

    #[test]
    fn other_documents_and_missing_fields_are_refused() {
        assert_eq!(
            read_text("<ORDER version=\"2.1\"/>").unwrap_err().code,
            "not_an_order_response"
        );
        let without_id = response(&item("1", "1")).replace("<ORDER_ID>SO-1</ORDER_ID>", "");
        assert_eq!(read_text(&without_id).unwrap_err().code, "missing_field");
        let bad_date = response(&item("1", "1")).replace(
            "<ORDERRESPONSE_DATE>2026-12-07T11:00:00+01:00",
            "<ORDERRESPONSE_DATE>gestern",
        );
        assert_eq!(read_text(&bad_date).unwrap_err().code, "invalid_value");
    }
}

//! openTRANS 2.1 `ORDER` (contract section 9, the document ERP connector): one order as the
//! document an EDI converter hands the ERP, valid against `opentrans_2_1.xsd` (a test runs
//! a real XML Schema validator over what this writes).
//!
//! The same order always gives the same bytes (no generation time: the order's own
//! `placed_at` dates it), so a document written again after a crash is the same document.
//!
//! | order | ORDER |
//! |---|---|
//! | `order_id` | `ORDER_INFO/ORDER_ID` |
//! | `placed_at` | `ORDER_INFO/ORDER_DATE` |
//! | `delivery.requested_date` | `ORDER_INFO/DELIVERY_DATE` (start = end) |
//! | customer id and name | party `buyer` (`PARTY_ID`, `ADDRESS/NAME`), `BUYER_IDREF` |
//! | the stack's supplier id | party `supplier`, `SUPPLIER_IDREF` |
//! | `delivery.address` | party `delivery` (`<order id>-delivery`) with its address, `DELIVERY_IDREF` |
//! | `po_number` | `CUSTOMER_ORDER_REFERENCE/ORDER_ID` |
//! | `currency` | `bmecat:CURRENCY` |
//! | the customer's `payment_terms` | `TERMS_AND_CONDITIONS` (`PAYMENT` would need a means of payment the bridge does not know) |
//! | the customer's `delivery_terms` | `bmecat:TRANSPORT/INCOTERM`, `LOCATION` |
//! | a framework agreement | `SOURCING_INFO/AGREEMENT` |
//! | lines: `line`, `sku`, `quantity`, `unit_price` | `ORDER_ITEM`: `LINE_ITEM_ID`, `SUPPLIER_PID`, `QUANTITY`, `ORDER_UNIT` C62, `PRICE_AMOUNT`, `PRICE_LINE_AMOUNT` |
//! | `cost_center` | every item's `ACCOUNTING_INFO/COST_CATEGORY_ID` (ORDER has no header cost center) |
//! | lines, total | `ORDER_SUMMARY/TOTAL_ITEM_NUM`, `TOTAL_AMOUNT` |

use bridge_domain::events::{DeliveryTerms, OrderPlaced};
use chrono::{NaiveDate, SecondsFormat};
use quick_xml::escape::escape;
use rust_decimal::Decimal;
use std::fmt::Write;

/// A framework agreement the customer orders under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    pub id: String,
    /// openTRANS requires an end; an open-ended agreement gives its far end.
    pub ends: NaiveDate,
}

/// What the document needs besides the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDocument<'a> {
    pub order: &'a OrderPlaced,
    /// The customer's name as the ERP gave it.
    pub buyer_name: &'a str,
    /// Our company's id as the ERP knows it (the stack's setting).
    pub supplier_id: &'a str,
    pub payment_terms: Option<&'a str>,
    pub delivery_terms: Option<&'a DeliveryTerms>,
    pub agreement: Option<&'a Agreement>,
}

/// Why an order cannot be written as a valid document: permanent (the order or the
/// customer's data must change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OrderDocumentError {
    /// The order's field (`/lines/0/sku`, `/delivery/address/street`, `delivery_terms`).
    pub field: String,
    pub message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> OrderDocumentError {
    OrderDocumentError {
        field: field.into(),
        message: message.into(),
    }
}

/// The schema's length limits (characters).
const SUPPLIER_PID_MAX: usize = 32;
const NAME_MAX: usize = 50;
const STREET_MAX: usize = 50;
const CITY_MAX: usize = 50;
const ZIP_MAX: usize = 20;
const AGREEMENT_ID_MAX: usize = 50;
const TEXT_MAX: usize = 250;
const LINE_ITEM_ID_MAX: usize = 50;
const COST_CATEGORY_MAX: usize = 64;

fn checked<'t>(text: &'t str, max: usize, field: &str) -> Result<&'t str, OrderDocumentError> {
    let count = text.chars().count();
    if count == 0 || count > max {
        return Err(refuse(
            field,
            format!("{count} characters; openTRANS takes 1 to {max}"),
        ));
    }
    Ok(text)
}

/// A name cut to the schema's 50 characters: the party's id identifies it, the name only
/// shows it.
fn name(text: &str) -> String {
    text.chars().take(NAME_MAX).collect()
}

fn element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>{}</{name}>", escape(text));
}

fn decimal(value: Decimal) -> String {
    // Plain digits, never an exponent (xsd:decimal).
    value.normalize().to_string()
}

/// The ORDER document of `doc`, UTF-8.
pub fn write(doc: &OrderDocument<'_>) -> Result<String, OrderDocumentError> {
    let order = doc.order;
    let mut out = String::with_capacity(2048 + 600 * order.lines.as_slice().len());
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ORDER xmlns=\"http://www.opentrans.org/XMLSchema/2.1\" xmlns:bmecat=\"http://www.bmecat.org/bmecat/2005\" version=\"2.1\" type=\"standard\">\n<ORDER_HEADER>\n");
    if let Some(agreement) = doc.agreement {
        out.push_str("<SOURCING_INFO><AGREEMENT type=\"buyer\">");
        element(
            &mut out,
            "bmecat:AGREEMENT_ID",
            checked(&agreement.id, AGREEMENT_ID_MAX, "agreement")?,
        );
        element(
            &mut out,
            "bmecat:AGREEMENT_END_DATE",
            &agreement.ends.to_string(),
        );
        out.push_str("</AGREEMENT></SOURCING_INFO>\n");
    }
    out.push_str("<ORDER_INFO>");
    element(&mut out, "ORDER_ID", order.order_id.as_str());
    element(
        &mut out,
        "ORDER_DATE",
        &order.placed_at.to_rfc3339_opts(SecondsFormat::Secs, false),
    );
    if let Some(date) = order.delivery.as_ref().and_then(|d| d.requested_date) {
        let _ = write!(
            out,
            "<DELIVERY_DATE type=\"fixed\"><DELIVERY_START_DATE>{date}</DELIVERY_START_DATE><DELIVERY_END_DATE>{date}</DELIVERY_END_DATE></DELIVERY_DATE>"
        );
    }
    // The parties: the ids are the ERP's (ours: the supplier's), hence supplier_specific.
    out.push_str("\n<PARTIES>\n<PARTY>");
    let customer = order.customer_id.as_str();
    let _ = write!(
        out,
        "<bmecat:PARTY_ID type=\"supplier_specific\">{}</bmecat:PARTY_ID><PARTY_ROLE>buyer</PARTY_ROLE>",
        escape(customer)
    );
    out.push_str("<ADDRESS>");
    element(&mut out, "bmecat:NAME", &name(doc.buyer_name));
    out.push_str("</ADDRESS></PARTY>\n<PARTY>");
    let _ = writeln!(
        out,
        "<bmecat:PARTY_ID type=\"supplier_specific\">{}</bmecat:PARTY_ID><PARTY_ROLE>supplier</PARTY_ROLE></PARTY>",
        escape(checked(doc.supplier_id, TEXT_MAX, "supplier_id")?)
    );
    let delivery_party = format!("{}-delivery", order.order_id);
    let address = order
        .delivery
        .as_ref()
        .map(|d| &d.address)
        .filter(|a| !a.is_empty());
    if let Some(address) = address {
        let _ = write!(
            out,
            "<PARTY><bmecat:PARTY_ID type=\"supplier_specific\">{}</bmecat:PARTY_ID><PARTY_ROLE>delivery</PARTY_ROLE><ADDRESS>",
            escape(&delivery_party)
        );
        element(
            &mut out,
            "bmecat:NAME",
            &name(address.get("name").map_or(doc.buyer_name, String::as_str)),
        );
        let line = |key: &str| address.get(key).map(String::as_str);
        let field = |key: &str| format!("/delivery/address/{key}");
        if let Some(street) = line("street") {
            element(
                &mut out,
                "bmecat:STREET",
                checked(street, STREET_MAX, &field("street"))?,
            );
        }
        if let Some(zip) = line("postal_code") {
            element(
                &mut out,
                "bmecat:ZIP",
                checked(zip, ZIP_MAX, &field("postal_code"))?,
            );
        }
        if let Some(city) = line("city") {
            element(
                &mut out,
                "bmecat:CITY",
                checked(city, CITY_MAX, &field("city"))?,
            );
        }
        if let Some(region) = line("region") {
            element(
                &mut out,
                "bmecat:STATE",
                checked(region, CITY_MAX, &field("region"))?,
            );
        }
        if let Some(country) = line("country") {
            // A two-letter code is coded; anything else is the country's name.
            if country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()) {
                element(&mut out, "bmecat:COUNTRY_CODED", country);
            } else {
                element(
                    &mut out,
                    "bmecat:COUNTRY",
                    checked(country, CITY_MAX, &field("country"))?,
                );
            }
        }
        if let Some(text) = line("text") {
            element(
                &mut out,
                "bmecat:ADDRESS_REMARKS",
                checked(text, TEXT_MAX, &field("text"))?,
            );
        }
        out.push_str("</ADDRESS></PARTY>\n");
    }
    out.push_str("</PARTIES>\n");
    if let Some(po) = order.po_number.as_deref() {
        out.push_str("<CUSTOMER_ORDER_REFERENCE>");
        element(&mut out, "ORDER_ID", checked(po, TEXT_MAX, "/po_number")?);
        out.push_str("</CUSTOMER_ORDER_REFERENCE>\n");
    }
    let _ = write!(
        out,
        "<ORDER_PARTIES_REFERENCE><bmecat:BUYER_IDREF type=\"supplier_specific\">{}</bmecat:BUYER_IDREF><bmecat:SUPPLIER_IDREF type=\"supplier_specific\">{}</bmecat:SUPPLIER_IDREF>",
        escape(customer),
        escape(doc.supplier_id)
    );
    if address.is_some() {
        let _ = write!(
            out,
            "<SHIPMENT_PARTIES_REFERENCE><DELIVERY_IDREF type=\"supplier_specific\">{}</DELIVERY_IDREF></SHIPMENT_PARTIES_REFERENCE>",
            escape(&delivery_party)
        );
    }
    out.push_str("</ORDER_PARTIES_REFERENCE>\n");
    element(&mut out, "bmecat:CURRENCY", &order.currency.to_string());
    if let Some(terms) = doc.payment_terms {
        element(
            &mut out,
            "TERMS_AND_CONDITIONS",
            checked(
                &format!("Payment terms: {terms}"),
                TEXT_MAX,
                "payment_terms",
            )?,
        );
    }
    if let Some(terms) = doc.delivery_terms
        && let Some(incoterm) = terms.incoterm.as_deref()
    {
        if incoterm.chars().count() != 3 {
            return Err(refuse(
                "delivery_terms",
                format!("incoterm {incoterm:?} is not a three-letter Incoterm"),
            ));
        }
        out.push_str("<bmecat:TRANSPORT>");
        element(&mut out, "bmecat:INCOTERM", incoterm);
        if let Some(place) = terms.place.as_deref() {
            element(
                &mut out,
                "bmecat:LOCATION",
                checked(place, TEXT_MAX, "delivery_terms")?,
            );
        }
        out.push_str("</bmecat:TRANSPORT>");
    }
    out.push_str("\n</ORDER_INFO>\n</ORDER_HEADER>\n<ORDER_ITEM_LIST>\n");
    let mut total = Decimal::ZERO;
    for (index, line) in order.lines.as_slice().iter().enumerate() {
        let quantity = line.quantity.value();
        let unit_price = line.unit_price.value();
        let amount = quantity
            .checked_mul(unit_price)
            .ok_or_else(|| refuse(format!("/lines/{index}"), "the line amount is out of range"))?;
        total = total
            .checked_add(amount)
            .ok_or_else(|| refuse("/lines", "the order total is out of range"))?;
        out.push_str("<ORDER_ITEM>");
        element(
            &mut out,
            "LINE_ITEM_ID",
            checked(
                &line.line.to_string(),
                LINE_ITEM_ID_MAX,
                &format!("/lines/{index}/line"),
            )?,
        );
        out.push_str("<PRODUCT_ID>");
        element(
            &mut out,
            "bmecat:SUPPLIER_PID",
            checked(
                line.sku.as_str(),
                SUPPLIER_PID_MAX,
                &format!("/lines/{index}/sku"),
            )?,
        );
        out.push_str("</PRODUCT_ID>");
        element(&mut out, "QUANTITY", &decimal(quantity));
        element(&mut out, "bmecat:ORDER_UNIT", "C62");
        out.push_str("<PRODUCT_PRICE_FIX>");
        element(&mut out, "bmecat:PRICE_AMOUNT", &decimal(unit_price));
        out.push_str("</PRODUCT_PRICE_FIX>");
        element(&mut out, "PRICE_LINE_AMOUNT", &decimal(amount));
        if let Some(cost_center) = order.cost_center.as_ref() {
            out.push_str("<bmecat:ACCOUNTING_INFO>");
            let _ = write!(
                out,
                "<bmecat:COST_CATEGORY_ID type=\"cost_center\">{}</bmecat:COST_CATEGORY_ID>",
                escape(checked(
                    cost_center.as_str(),
                    COST_CATEGORY_MAX,
                    "/cost_center"
                )?)
            );
            out.push_str("</bmecat:ACCOUNTING_INFO>");
        }
        out.push_str("</ORDER_ITEM>\n");
    }
    out.push_str("</ORDER_ITEM_LIST>\n<ORDER_SUMMARY>");
    element(
        &mut out,
        "TOTAL_ITEM_NUM",
        &order.lines.as_slice().len().to_string(),
    );
    element(&mut out, "TOTAL_AMOUNT", &decimal(total));
    out.push_str("</ORDER_SUMMARY>\n</ORDER>\n");
    Ok(out)
}

#[cfg(test)]
mod tests;

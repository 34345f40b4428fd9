//! The document side of a logistics partner (contract section 8): openTRANS 2.1
//! `DISPATCHNOTIFICATION` files as an EDI converter writes them (ISO-8859-1, the `bmecat:`
//! prefix, the deliverer as a party), for the local stack's demo and the tests to drop into
//! `logistics/inbox/`; and of an ERP that takes documents (section 9): the ORDER documents
//! the bridge writes, read, and the ERP's `ORDERRESPONSE` to each.

/// Text as XML character data.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One item: the order it ships, the order's line (its number), the sku and the quantity.
#[derive(Debug, Clone)]
pub struct DispatchedItem<'a> {
    pub order_id: &'a str,
    pub line: &'a str,
    pub sku: &'a str,
    pub quantity: &'a str,
}

/// A notification `id`, generated at `generated` (RFC 3339: its revision), shipped by
/// `carrier` under `tracking_code`, in ISO-8859-1.
pub fn dispatch_notification(
    id: &str,
    generated: &str,
    carrier: &str,
    tracking_code: &str,
    items: &[DispatchedItem<'_>],
) -> Vec<u8> {
    let items: String = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            format!(
                "\n<DISPATCHNOTIFICATION_ITEM><LINE_ITEM_ID>{}</LINE_ITEM_ID>\
                 <PRODUCT_ID><bmecat:SUPPLIER_PID>{}</bmecat:SUPPLIER_PID></PRODUCT_ID>\
                 <QUANTITY>{}</QUANTITY><bmecat:ORDER_UNIT>C62</bmecat:ORDER_UNIT>\
                 <ORDER_REFERENCE><ORDER_ID>{}</ORDER_ID><LINE_ITEM_ID>{}</LINE_ITEM_ID></ORDER_REFERENCE>\
                 <SHIPMENT_PARTIES_REFERENCE><DELIVERY_IDREF>BUYER-1</DELIVERY_IDREF></SHIPMENT_PARTIES_REFERENCE>\
                 </DISPATCHNOTIFICATION_ITEM>",
                n + 1,
                escape(item.sku),
                escape(item.quantity),
                escape(item.order_id),
                escape(item.line)
            )
        })
        .collect();
    let (id, carrier, tracking_code) = (escape(id), escape(carrier), escape(tracking_code));
    let text = format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<DISPATCHNOTIFICATION version="2.1" xmlns="http://www.opentrans.org/XMLSchema/2.1" xmlns:bmecat="http://www.bmecat.org/bmecat/2005">
<DISPATCHNOTIFICATION_HEADER><CONTROL_INFO><GENERATION_DATE>{generated}</GENERATION_DATE></CONTROL_INFO>
<DISPATCHNOTIFICATION_INFO><DISPATCHNOTIFICATION_ID>{id}</DISPATCHNOTIFICATION_ID>
<DISPATCHNOTIFICATION_DATE>{generated}</DISPATCHNOTIFICATION_DATE>
<DELIVERY_DATE><DELIVERY_START_DATE>2026-12-08</DELIVERY_START_DATE><DELIVERY_END_DATE>2026-12-09</DELIVERY_END_DATE></DELIVERY_DATE>
<PARTIES><PARTY><bmecat:PARTY_ID type="supplier_specific">SUPPLIER-1</bmecat:PARTY_ID><PARTY_ROLE>supplier</PARTY_ROLE></PARTY>
<PARTY><bmecat:PARTY_ID type="supplier_specific">BUYER-1</bmecat:PARTY_ID><PARTY_ROLE>customer</PARTY_ROLE></PARTY>
<PARTY><bmecat:PARTY_ID type="supplier_specific">DELIVERER-1</bmecat:PARTY_ID><PARTY_ROLE>deliverer</PARTY_ROLE>
<ADDRESS><bmecat:NAME>{carrier}</bmecat:NAME></ADDRESS></PARTY></PARTIES>
<bmecat:SUPPLIER_IDREF>SUPPLIER-1</bmecat:SUPPLIER_IDREF><bmecat:BUYER_IDREF>BUYER-1</bmecat:BUYER_IDREF>
<SHIPMENT_PARTIES_REFERENCE><DELIVERY_IDREF>BUYER-1</DELIVERY_IDREF><DELIVERER_IDREF>DELIVERER-1</DELIVERER_IDREF></SHIPMENT_PARTIES_REFERENCE>
<SHIPMENT_ID>{tracking_code}</SHIPMENT_ID><TRACKING_TRACING_URL>https://track.example/{tracking_code}</TRACKING_TRACING_URL>
</DISPATCHNOTIFICATION_INFO></DISPATCHNOTIFICATION_HEADER>
<DISPATCHNOTIFICATION_ITEM_LIST>{items}
</DISPATCHNOTIFICATION_ITEM_LIST>
<DISPATCHNOTIFICATION_SUMMARY><TOTAL_ITEM_NUM>{count}</TOTAL_ITEM_NUM></DISPATCHNOTIFICATION_SUMMARY>
</DISPATCHNOTIFICATION>
"#,
        count = items.matches("<DISPATCHNOTIFICATION_ITEM>").count()
    );
    encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
}

/// What the ERP takes from an openTRANS `ORDER` document (the side of an ERP that takes
/// documents: contract section 9).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedOrder {
    /// `ORDER_INFO/ORDER_ID`: the bridge's order id.
    pub order_id: String,
    /// `ORDER_PARTIES_REFERENCE/BUYER_IDREF`: the customer.
    pub buyer: String,
    pub supplier: String,
    /// `CUSTOMER_ORDER_REFERENCE/ORDER_ID`.
    pub po_number: Option<String>,
    pub currency: Option<String>,
    /// `(LINE_ITEM_ID, SUPPLIER_PID, QUANTITY, PRICE_AMOUNT)`.
    pub items: Vec<(String, String, String, String)>,
}

/// Reads an ORDER document's essentials; `Err` names what is wrong.
pub fn read_order(xml: &[u8]) -> Result<ReceivedOrder, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut order = ReceivedOrder::default();
    let mut item: Option<(String, String, String, String)> = None;
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "ORDER_ITEM" {
                    item = Some(Default::default());
                }
                path.push(name);
                text.clear();
            }
            Ok(Event::Text(t)) => {
                text.push_str(&t.unescape().map_err(|e| e.to_string())?);
            }
            Ok(Event::End(_)) => {
                let tail: Vec<&str> = path.iter().rev().take(2).map(String::as_str).collect();
                let value = text.trim().to_string();
                match (tail.get(1).copied(), tail[0]) {
                    (Some("ORDER_INFO"), "ORDER_ID") => order.order_id = value,
                    (Some("CUSTOMER_ORDER_REFERENCE"), "ORDER_ID") => order.po_number = Some(value),
                    (Some("ORDER_PARTIES_REFERENCE"), "BUYER_IDREF") => order.buyer = value,
                    (Some("ORDER_PARTIES_REFERENCE"), "SUPPLIER_IDREF") => order.supplier = value,
                    (Some("ORDER_INFO"), "CURRENCY") => order.currency = Some(value),
                    (Some("ORDER_ITEM"), "LINE_ITEM_ID") => {
                        if let Some(i) = item.as_mut() {
                            i.0 = value
                        }
                    }
                    (Some("PRODUCT_ID"), "SUPPLIER_PID") => {
                        if let Some(i) = item.as_mut() {
                            i.1 = value
                        }
                    }
                    (Some("ORDER_ITEM"), "QUANTITY") => {
                        if let Some(i) = item.as_mut() {
                            i.2 = value
                        }
                    }
                    (Some("PRODUCT_PRICE_FIX"), "PRICE_AMOUNT") => {
                        if let Some(i) = item.as_mut() {
                            i.3 = value
                        }
                    }
                    (_, "ORDER_ITEM") => order.items.extend(item.take()),
                    _ => {}
                }
                path.pop();
                text.clear();
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("not XML: {e}")),
        }
        buffer.clear();
    }
    if order.order_id.is_empty() {
        return Err("ORDER_INFO/ORDER_ID is missing".into());
    }
    if order.items.is_empty() {
        return Err("an order needs items".into());
    }
    Ok(order)
}

/// The ERP's `ORDERRESPONSE` to `order`, generated at `generated` (RFC 3339): accepted
/// under `erp_order_number` with every item confirmed, or, with `declined`, every item
/// confirmed with 0 and the reason as a remark. UTF-8.
pub fn order_response(
    order: &ReceivedOrder,
    erp_order_number: Option<&str>,
    generated: &str,
    declined: Option<&str>,
) -> Vec<u8> {
    let number = erp_order_number
        .map(|n| format!("<SUPPLIER_ORDER_ID>{}</SUPPLIER_ORDER_ID>", escape(n)))
        .unwrap_or_default();
    let remarks = declined
        .map(|r| format!("<REMARKS type=\"general\">{}</REMARKS>", escape(r)))
        .unwrap_or_default();
    let items: String = order
        .items
        .iter()
        .map(|(line, sku, quantity, _)| {
            format!(
                "\n<ORDERRESPONSE_ITEM><LINE_ITEM_ID>{}</LINE_ITEM_ID>\
                 <PRODUCT_ID><bmecat:SUPPLIER_PID>{}</bmecat:SUPPLIER_PID></PRODUCT_ID>\
                 <QUANTITY>{}</QUANTITY><bmecat:ORDER_UNIT>C62</bmecat:ORDER_UNIT></ORDERRESPONSE_ITEM>",
                escape(line),
                escape(sku),
                if declined.is_some() { "0" } else { quantity.as_str() },
            )
        })
        .collect();
    let (buyer, supplier) = (escape(&order.buyer), escape(&order.supplier));
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ORDERRESPONSE version="2.1" xmlns="http://www.opentrans.org/XMLSchema/2.1" xmlns:bmecat="http://www.bmecat.org/bmecat/2005">
<ORDERRESPONSE_HEADER><CONTROL_INFO><GENERATION_DATE>{generated}</GENERATION_DATE></CONTROL_INFO>
<ORDERRESPONSE_INFO><ORDER_ID>{order_id}</ORDER_ID><ORDERRESPONSE_DATE>{generated}</ORDERRESPONSE_DATE>{number}
<PARTIES><PARTY><bmecat:PARTY_ID type="buyer_specific">{buyer}</bmecat:PARTY_ID><PARTY_ROLE>buyer</PARTY_ROLE></PARTY>
<PARTY><bmecat:PARTY_ID type="buyer_specific">{supplier}</bmecat:PARTY_ID><PARTY_ROLE>supplier</PARTY_ROLE></PARTY></PARTIES>
<ORDER_PARTIES_REFERENCE><bmecat:BUYER_IDREF type="buyer_specific">{buyer}</bmecat:BUYER_IDREF><bmecat:SUPPLIER_IDREF type="buyer_specific">{supplier}</bmecat:SUPPLIER_IDREF></ORDER_PARTIES_REFERENCE>
{remarks}</ORDERRESPONSE_INFO></ORDERRESPONSE_HEADER>
<ORDERRESPONSE_ITEM_LIST>{items}
</ORDERRESPONSE_ITEM_LIST>
<ORDERRESPONSE_SUMMARY><TOTAL_ITEM_NUM>{count}</TOTAL_ITEM_NUM></ORDERRESPONSE_SUMMARY>
</ORDERRESPONSE>
"#,
        order_id = escape(&order.order_id),
        count = order.items.len()
    )
    .into_bytes()
}

/// One invoiced line: the order, its line, the sku, the quantity and the net unit price.
#[derive(Debug, Clone)]
pub struct InvoicedLine<'a> {
    pub order_id: &'a str,
    pub line: &'a str,
    pub sku: &'a str,
    pub quantity: &'a str,
    pub unit_price: &'a str,
}

/// The ERP's openTRANS `INVOICE` (or, with `credit_memo`, a credit memo) `id` to `customer`,
/// generated at `generated` (RFC 3339: its revision), in EUR with 19 % VAT: net per line, the
/// tax and the gross total computed here. UTF-8.
pub fn invoice(
    id: &str,
    customer: &str,
    generated: &str,
    credit_memo: bool,
    lines: &[InvoicedLine<'_>],
) -> Vec<u8> {
    use std::str::FromStr;
    let decimal = |text: &str| rust_decimal::Decimal::from_str(text).unwrap_or_default();
    let rate = rust_decimal::Decimal::new(19, 2);
    let mut net = rust_decimal::Decimal::ZERO;
    let items: String = lines
        .iter()
        .enumerate()
        .map(|(n, line)| {
            let amount = (decimal(line.quantity) * decimal(line.unit_price)).round_dp(2);
            net += amount;
            format!(
                "\n<INVOICE_ITEM><LINE_ITEM_ID>{}</LINE_ITEM_ID>\
                 <PRODUCT_ID><bmecat:SUPPLIER_PID>{}</bmecat:SUPPLIER_PID></PRODUCT_ID>\
                 <QUANTITY>{}</QUANTITY><bmecat:ORDER_UNIT>C62</bmecat:ORDER_UNIT>\
                 <PRODUCT_PRICE_FIX><bmecat:PRICE_AMOUNT>{}</bmecat:PRICE_AMOUNT></PRODUCT_PRICE_FIX>\
                 <PRICE_LINE_AMOUNT>{amount}</PRICE_LINE_AMOUNT>\
                 <ORDER_REFERENCE><ORDER_ID>{}</ORDER_ID><LINE_ITEM_ID>{}</LINE_ITEM_ID></ORDER_REFERENCE>\
                 </INVOICE_ITEM>",
                n + 1,
                escape(line.sku),
                escape(line.quantity),
                escape(line.unit_price),
                escape(line.order_id),
                escape(line.line),
            )
        })
        .collect();
    let tax = (net * rate).round_dp(2);
    let total = net + tax;
    let orders: std::collections::BTreeSet<&str> = lines.iter().map(|l| l.order_id).collect();
    let history = orders
        .iter()
        .next()
        .map(|order| {
            format!(
                "<ORDER_HISTORY><ORDER_ID>{}</ORDER_ID></ORDER_HISTORY>",
                escape(order)
            )
        })
        .unwrap_or_default();
    let kind = if credit_memo {
        "credit_memo"
    } else {
        "invoice"
    };
    let (id, customer) = (escape(id), escape(customer));
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<INVOICE version="2.1" xmlns="http://www.opentrans.org/XMLSchema/2.1" xmlns:bmecat="http://www.bmecat.org/bmecat/2005">
<INVOICE_HEADER><CONTROL_INFO><GENERATION_DATE>{generated}</GENERATION_DATE></CONTROL_INFO>
<INVOICE_INFO><INVOICE_ID>{id}</INVOICE_ID><INVOICE_DATE>{generated}</INVOICE_DATE><INVOICE_TYPE>{kind}</INVOICE_TYPE>
<PARTIES><PARTY><bmecat:PARTY_ID type="supplier_specific">SUPPLIER-1</bmecat:PARTY_ID><PARTY_ROLE>invoice_issuer</PARTY_ROLE></PARTY>
<PARTY><bmecat:PARTY_ID type="supplier_specific">{customer}</bmecat:PARTY_ID><PARTY_ROLE>invoice_recipient</PARTY_ROLE></PARTY></PARTIES>
<INVOICE_ISSUER_IDREF type="supplier_specific">SUPPLIER-1</INVOICE_ISSUER_IDREF><INVOICE_RECIPIENT_IDREF type="supplier_specific">{customer}</INVOICE_RECIPIENT_IDREF>
<bmecat:CURRENCY>EUR</bmecat:CURRENCY>
</INVOICE_INFO>{history}</INVOICE_HEADER>
<INVOICE_ITEM_LIST>{items}
</INVOICE_ITEM_LIST>
<INVOICE_SUMMARY><TOTAL_ITEM_NUM>{count}</TOTAL_ITEM_NUM><NET_VALUE_GOODS>{net}</NET_VALUE_GOODS><TOTAL_AMOUNT>{total}</TOTAL_AMOUNT>
<TOTAL_TAX><TAX_DETAILS_FIX><bmecat:TAX_CATEGORY>standard_rate</bmecat:TAX_CATEGORY><bmecat:TAX_TYPE>vat</bmecat:TAX_TYPE><bmecat:TAX>0.19</bmecat:TAX><TAX_AMOUNT>{tax}</TAX_AMOUNT></TAX_DETAILS_FIX></TOTAL_TAX>
</INVOICE_SUMMARY>
</INVOICE>
"#,
        count = lines.len()
    )
    .into_bytes()
}

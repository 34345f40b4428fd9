//! The document side of a logistics partner (contract section 8): openTRANS 2.1
//! `DISPATCHNOTIFICATION` files as an EDI converter writes them (ISO-8859-1, the `bmecat:`
//! prefix, the deliverer as a party), for the local stack's demo and the tests to drop into
//! `logistics/inbox/`.

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
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
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

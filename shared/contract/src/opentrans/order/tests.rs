use super::*;
use crate::xml::{Visit, walk};
use bridge_domain::events::DomainEvent;
use serde_json::{Value, json};

pub(crate) fn order(data: Value) -> OrderPlaced {
    let mut body = json!({"order_id": "SO-1", "customer_id": "C-1", "currency": "EUR",
        "placed_at": "2026-12-07T09:30:00Z",
        "lines": [{"line": 1, "sku": "DRILL-007", "quantity": 2, "unit_price": "10.50"},
                  {"line": 2, "sku": "SAW-1", "quantity": "1.5", "unit_price": "4.00"},
                  {"line": 3, "sku": "BIT-9", "quantity": 10, "unit_price": "0.99"}]});
    for (key, value) in data.as_object().unwrap() {
        body[key] = value.clone();
    }
    let event = json!({"type": "order.placed", "timestamp": "2026-12-07T10:00:00Z", "data": body});
    let sender = bridge_domain::Sources::contract().sender("shop").unwrap();
    match crate::parse_event(&sender, event.to_string().as_bytes())
        .unwrap()
        .event
    {
        DomainEvent::OrderPlaced(o) => o,
        _ => unreachable!(),
    }
}

/// Every element's text by its path of local names (the last of each path).
fn read_back(xml: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    walk::<crate::xml::XmlError>(
        Box::new(std::io::Cursor::new(xml.as_bytes().to_vec())),
        4096,
        1 << 20,
        |v| {
            if let Visit::Close { path, text, .. } = v
                && !text.is_empty()
            {
                out.entry(path[1..].join("/"))
                    .or_default()
                    .push(text.to_string());
            }
            Ok(())
        },
    )
    .unwrap();
    out
}

fn terms() -> DeliveryTerms {
    DeliveryTerms {
        incoterm: Some("DAP".into()),
        place: Some("Köln".into()),
    }
}

#[test]
fn every_field_of_the_order_is_in_its_element_and_the_same_order_gives_the_same_bytes() {
    let order = order(
        json!({"po_number": "PO-4711 <Werk & Lager>", "cost_center": "CC-4000",
        "delivery": {"address": {"name": "Kunde GmbH Lager", "street": "Hauptstr. 1", "postal_code": "50667", "city": "Köln", "country": "DE"},
                     "requested_date": "2026-12-10"}}),
    );
    let terms = terms();
    let agreement = Agreement {
        id: "RV-2026-7".into(),
        ends: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
    };
    let doc = OrderDocument {
        order: &order,
        buyer_name: "Kunde GmbH",
        supplier_id: "SUPPLIER-1",
        payment_terms: Some("30 days net"),
        delivery_terms: Some(&terms),
        agreement: Some(&agreement),
    };
    let xml = write(&doc).unwrap();
    assert_eq!(xml, write(&doc).unwrap(), "deterministic");
    let f = read_back(&xml);
    let one = |path: &str| f.get(path).map(|v| v.join("|")).unwrap_or_default();
    assert_eq!(one("ORDER_HEADER/ORDER_INFO/ORDER_ID"), "SO-1");
    assert_eq!(
        one("ORDER_HEADER/ORDER_INFO/ORDER_DATE"),
        "2026-12-07T09:30:00+00:00"
    );
    assert_eq!(
        one("ORDER_HEADER/ORDER_INFO/DELIVERY_DATE/DELIVERY_END_DATE"),
        "2026-12-10"
    );
    assert_eq!(
        one("ORDER_HEADER/ORDER_INFO/PARTIES/PARTY/PARTY_ROLE"),
        "buyer|supplier|delivery"
    );
    assert_eq!(
        one("ORDER_HEADER/ORDER_INFO/PARTIES/PARTY/ADDRESS/CITY"),
        "Köln"
    );
    assert_eq!(
        one("ORDER_HEADER/ORDER_INFO/CUSTOMER_ORDER_REFERENCE/ORDER_ID"),
        "PO-4711 <Werk & Lager>"
    );
    assert_eq!(
        one("ORDER_HEADER/ORDER_INFO/ORDER_PARTIES_REFERENCE/BUYER_IDREF"),
        "C-1"
    );
    assert_eq!(
        one(
            "ORDER_HEADER/ORDER_INFO/ORDER_PARTIES_REFERENCE/SHIPMENT_PARTIES_REFERENCE/DELIVERY_IDREF"
        ),
        "SO-1-delivery"
    );
    assert_eq!(one("ORDER_HEADER/ORDER_INFO/CURRENCY"), "EUR");
    assert_eq!(
        one("ORDER_HEADER/ORDER_INFO/TERMS_AND_CONDITIONS"),
        "Payment terms: 30 days net"
    );
    assert_eq!(one("ORDER_HEADER/ORDER_INFO/TRANSPORT/INCOTERM"), "DAP");
    assert_eq!(
        one("ORDER_HEADER/SOURCING_INFO/AGREEMENT/AGREEMENT_ID"),
        "RV-2026-7"
    );
    assert_eq!(
        one("ORDER_ITEM_LIST/ORDER_ITEM/PRODUCT_ID/SUPPLIER_PID"),
        "DRILL-007|SAW-1|BIT-9"
    );
    assert_eq!(one("ORDER_ITEM_LIST/ORDER_ITEM/QUANTITY"), "2|1.5|10");
    assert_eq!(
        one("ORDER_ITEM_LIST/ORDER_ITEM/PRODUCT_PRICE_FIX/PRICE_AMOUNT"),
        "10.5|4|0.99"
    );
    assert_eq!(
        one("ORDER_ITEM_LIST/ORDER_ITEM/PRICE_LINE_AMOUNT"),
        "21|6|9.9"
    );
    assert_eq!(
        one("ORDER_ITEM_LIST/ORDER_ITEM/ACCOUNTING_INFO/COST_CATEGORY_ID"),
        "CC-4000|CC-4000|CC-4000"
    );
    assert_eq!(one("ORDER_SUMMARY/TOTAL_ITEM_NUM"), "3");
    assert_eq!(one("ORDER_SUMMARY/TOTAL_AMOUNT"), "36.9");
}

#[test]
fn what_the_schema_cannot_hold_is_refused_with_the_field() {
    let long_sku = order(
        json!({"lines": [{"line": 1, "sku": "S".repeat(33), "quantity": 1, "unit_price": "1"}]}),
    );
    let bad_terms = DeliveryTerms {
        incoterm: Some("DAP 2020".into()),
        place: None,
    };
    let long_street = order(json!({"delivery": {"address": {"street": "x".repeat(51)}}}));
    let plain = order(json!({}));
    for (order, delivery_terms, field) in [
        (&long_sku, None, "/lines/0/sku"),
        (&plain, Some(&bad_terms), "delivery_terms"),
        (&long_street, None, "/delivery/address/street"),
    ] {
        let err = write(&OrderDocument {
            order,
            buyer_name: "Kunde GmbH",
            supplier_id: "SUPPLIER-1",
            payment_terms: None,
            delivery_terms,
            agreement: None,
        })
        .unwrap_err();
        assert_eq!(err.field, field, "{err}");
    }
    // A long name is cut, not refused: the party's id identifies the buyer.
    let xml = write(&OrderDocument {
        order: &plain,
        buyer_name: &"N".repeat(80),
        supplier_id: "SUPPLIER-1",
        payment_terms: None,
        delivery_terms: None,
        agreement: None,
    })
    .unwrap();
    assert!(xml.contains(&format!("<bmecat:NAME>{}</bmecat:NAME>", "N".repeat(50))));
}

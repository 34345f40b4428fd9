use super::*;
use bridge_domain::events::DomainEvent;

fn read_text(xml: &str) -> Result<DispatchNotification, DocumentError> {
    read(Box::new(std::io::Cursor::new(xml.as_bytes().to_vec())))
}

/// A notification as an EDI converter writes one: `bmecat:` prefixes, a deliverer named
/// by its contact only, partial deliveries that must not count as quantities.
fn notification(items: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<DISPATCHNOTIFICATION version="2.1" xmlns="http://www.opentrans.org/XMLSchema/2.1" xmlns:bmecat="http://www.bmecat.org/bmecat/2005">
  <DISPATCHNOTIFICATION_HEADER>
    <CONTROL_INFO><GENERATION_DATE>2026-12-07T08:00:00+01:00</GENERATION_DATE></CONTROL_INFO>
    <DISPATCHNOTIFICATION_INFO>
      <DISPATCHNOTIFICATION_ID>DN-77</DISPATCHNOTIFICATION_ID>
      <DISPATCHNOTIFICATION_DATE>2026-12-07T09:00:00+01:00</DISPATCHNOTIFICATION_DATE>
      <DELIVERY_DATE><DELIVERY_START_DATE>2026-12-08</DELIVERY_START_DATE><DELIVERY_END_DATE>2026-12-09T18:00:00+01:00</DELIVERY_END_DATE></DELIVERY_DATE>
      <PARTIES>
        <PARTY><bmecat:PARTY_ID type="buyer_specific">C-1</bmecat:PARTY_ID><PARTY_ROLE>customer</PARTY_ROLE>
          <ADDRESS><bmecat:NAME>Kunde GmbH</bmecat:NAME></ADDRESS></PARTY>
        <PARTY><bmecat:PARTY_ID type="supplier_specific">DHL-1</bmecat:PARTY_ID><PARTY_ROLE>deliverer</PARTY_ROLE>
          <ADDRESS><CONTACT_DETAILS><bmecat:CONTACT_NAME>DHL Freight</bmecat:CONTACT_NAME></CONTACT_DETAILS></ADDRESS></PARTY>
      </PARTIES>
      <SHIPMENT_PARTIES_REFERENCE><DELIVERY_IDREF>C-1</DELIVERY_IDREF><DELIVERER_IDREF>DHL-1</DELIVERER_IDREF></SHIPMENT_PARTIES_REFERENCE>
      <SHIPMENT_ID>JJD0001</SHIPMENT_ID>
      <TRACKING_TRACING_URL>https://dhl.example/t/JJD0001</TRACKING_TRACING_URL>
    </DISPATCHNOTIFICATION_INFO>
  </DISPATCHNOTIFICATION_HEADER>
  <DISPATCHNOTIFICATION_ITEM_LIST>{items}</DISPATCHNOTIFICATION_ITEM_LIST>
  <DISPATCHNOTIFICATION_SUMMARY><TOTAL_ITEM_NUM>2</TOTAL_ITEM_NUM></DISPATCHNOTIFICATION_SUMMARY>
</DISPATCHNOTIFICATION>"#
    )
}

fn item(line: &str, pid: &str, quantity: &str, order: &str, order_line: &str) -> String {
    format!(
        r#"<DISPATCHNOTIFICATION_ITEM><LINE_ITEM_ID>{line}</LINE_ITEM_ID>
  <PRODUCT_ID><bmecat:SUPPLIER_PID>{pid}</bmecat:SUPPLIER_PID></PRODUCT_ID>
  <QUANTITY>{quantity}</QUANTITY><bmecat:ORDER_UNIT>C62</bmecat:ORDER_UNIT>
  <PARTIAL_DELIVERY_LIST><PARTIAL_DELIVERY><QUANTITY>1</QUANTITY></PARTIAL_DELIVERY></PARTIAL_DELIVERY_LIST>
  <ORDER_REFERENCE><ORDER_ID>{order}</ORDER_ID><LINE_ITEM_ID>{order_line}</LINE_ITEM_ID></ORDER_REFERENCE>
</DISPATCHNOTIFICATION_ITEM>"#
    )
}

fn order(id: &str, lines: &[(u32, &str, &str)]) -> OrderPlaced {
    let body = json!({"type": "order.placed", "timestamp": "2026-12-07T10:00:00Z", "data": {
        "order_id": id, "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-12-01T10:00:00Z",
        "lines": lines.iter().map(|(line, sku, quantity)| json!({"line": line, "sku": sku, "quantity": quantity, "unit_price": "1.00"})).collect::<Vec<_>>()}});
    let sender = bridge_domain::Sources::contract().sender("shop").unwrap();
    match crate::parse_event(&sender, body.to_string().as_bytes())
        .unwrap()
        .event
    {
        DomainEvent::OrderPlaced(o) => o,
        _ => unreachable!(),
    }
}

#[test]
fn a_notification_reads_into_every_field_of_a_shipment() {
    let doc = read_text(&notification(&format!(
        "{}{}{}",
        item("1", "DRILL-007", "2", "SO-1", "1"),
        item("2", "SAW-1", "1.5", "SO-1", "P-2"),
        item("3", "BIT-9", "10", "SO-2", "1"),
    )))
    .unwrap();
    assert_eq!(doc.id, "DN-77");
    assert_eq!(doc.carrier.as_deref(), Some("DHL Freight"));
    assert_eq!(doc.tracking_code.as_deref(), Some("JJD0001"));
    assert_eq!(
        doc.tracking_url.as_deref(),
        Some("https://dhl.example/t/JJD0001")
    );
    assert_eq!(doc.estimated_delivery.unwrap().to_string(), "2026-12-09");
    assert_eq!(doc.date.to_rfc3339(), "2026-12-07T08:00:00+00:00");
    // The generation date, not the notification's date, orders corrections.
    assert_eq!(
        doc.revision(),
        doc.generated_at.unwrap().timestamp_millis() as u64
    );
    assert_eq!(doc.items.len(), 3);
    // The item's quantity, not a partial delivery's.
    assert_eq!(doc.items[1].quantity, Some(Decimal::new(15, 1)));
    assert_eq!(doc.items[1].order_line.as_deref(), Some("P-2"));
    let by_order = doc.items_by_order();
    assert_eq!(by_order[&Some("SO-1")].len(), 2);

    // Line 1 by its number; "P-2" is no line number: the order's one SAW-1 line.
    let so1 = order("SO-1", &[(1, "DRILL-007", "2"), (2, "SAW-1", "3")]);
    let lines = order_lines(&by_order[&Some("SO-1")], &so1).unwrap();
    assert_eq!(
        lines,
        vec![(1, Decimal::new(2, 0)), (2, Decimal::new(15, 1))]
    );
    // What the intake is handed is a valid shipment.updated of the logistics source.
    let body = json!({"type": "shipment.updated", "timestamp": "2026-12-07T10:00:00Z",
        "data": doc.shipment_data("SO-1", &lines)});
    let sender = bridge_domain::Sources::contract()
        .sender("logistics")
        .unwrap();
    let DomainEvent::ShipmentUpdated(s) = crate::parse_event(&sender, body.to_string().as_bytes())
        .unwrap()
        .event
    else {
        panic!("a shipment")
    };
    assert_eq!(s.shipment_id.as_str(), "DN-77");
    assert_eq!(s.carrier.as_deref(), Some("DHL Freight"));
    assert_eq!(s.tracking_code.as_deref(), Some("JJD0001"));
    assert_eq!(s.lines.len(), 2);
    assert_eq!(s.revision.value(), doc.revision());
}

#[test]
fn items_that_match_no_single_line_are_named() {
    let so1 = order(
        "SO-1",
        &[(1, "DRILL-007", "2"), (2, "SAW-1", "3"), (3, "SAW-1", "1")],
    );
    let doc = read_text(&notification(&format!(
        "{}{}",
        item("1", "SAW-1", "1", "SO-1", "X"),
        item("2", "DRILL-007", "1", "SO-1", "2"),
    )))
    .unwrap();
    let items = &doc.items_by_order()[&Some("SO-1")];
    // SAW-1 is on the order twice: which line is not guessed.
    assert_eq!(
        order_lines(&items[..1], &so1).unwrap_err().reason,
        "unknown_line"
    );
    // Line 2 is SAW-1, the item says DRILL-007.
    assert_eq!(
        order_lines(&items[1..], &so1).unwrap_err().reason,
        "sku_mismatch"
    );
    // Two items of one line add up.
    let doc = read_text(&notification(&format!(
        "{}{}",
        item("1", "DRILL-007", "1", "SO-1", "1"),
        item("2", "DRILL-007", "0.5", "SO-1", "1"),
    )))
    .unwrap();
    let items = &doc.items_by_order()[&Some("SO-1")];
    assert_eq!(
        order_lines(items, &so1).unwrap(),
        vec![(1, Decimal::new(15, 1))]
    );
    let doc = read_text(&notification(&item("1", "DRILL-007", "0", "SO-1", "1"))).unwrap();
    assert_eq!(
        order_lines(&doc.items_by_order()[&Some("SO-1")], &so1)
            .unwrap_err()
            .reason,
        "invalid_quantity"
    );
}

#[test]
fn documents_that_are_not_notifications_are_refused_with_a_reason() {
    let one = item("1", "A", "1", "SO-1", "1");
    for (xml, code) in [
        (
            "<ORDER version=\"2.1\"/>".to_string(),
            "not_a_dispatch_notification",
        ),
        ("not xml at all".to_string(), "not_xml"),
        (
            notification(&one).replace(
                "<DISPATCHNOTIFICATION_ID>DN-77</DISPATCHNOTIFICATION_ID>",
                "",
            ),
            "missing_field",
        ),
        (
            notification(&one).replace("2026-12-07T09:00:00+01:00", "07.12.2026"),
            "invalid_value",
        ),
        (notification(""), "missing_field"),
        (
            format!(
                "<!DOCTYPE DISPATCHNOTIFICATION [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
                notification(&one).replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
            ),
            "not_xml",
        ),
    ] {
        assert_eq!(read_text(&xml).unwrap_err().code, code, "{xml}");
    }
    let many = item("1", "A", "1", "SO-1", "1").repeat(MAX_ITEMS + 1);
    assert_eq!(
        read_text(&notification(&many)).unwrap_err().code,
        "too_many_items"
    );
}

/// The real sample of `../shared/samples/opentrans/` (when `BRIDGE_SAMPLES_DIR` is set):
/// every field the contract names.
#[test]
fn the_real_sample_notification_reads_with_every_field_the_contract_names() {
    let Ok(dir) = std::env::var("BRIDGE_SAMPLES_DIR") else {
        eprintln!("BRIDGE_SAMPLES_DIR is not set: skipping the real-sample check");
        return;
    };
    let path =
        std::path::Path::new(&dir).join("opentrans/sample_dispatchnotification_opentrans_2_1.xml");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = read(Box::new(std::io::BufReader::new(file))).unwrap();
    assert_eq!(doc.id, "LA86");
    assert_eq!(doc.date.to_rfc3339(), "2009-05-13T08:00:00+00:00");
    assert_eq!(
        doc.generated_at.unwrap().to_rfc3339(),
        "2009-05-13T05:20:00+00:00"
    );
    assert_eq!(doc.carrier.as_deref(), Some("Transportation Services Inc."));
    assert_eq!(doc.tracking_code.as_deref(), Some("PACK-04943"));
    assert_eq!(
        doc.tracking_url.as_deref(),
        Some("http://trace.your.package.com")
    );
    assert_eq!(doc.estimated_delivery.unwrap().to_string(), "2009-05-25");
    assert_eq!(doc.items.len(), 1);
    let item = &doc.items[0];
    assert_eq!(item.order_id.as_deref(), Some("ORD112"));
    assert_eq!(item.order_line.as_deref(), Some("P697"));
    assert_eq!(item.supplier_pid.as_deref(), Some("SG8"));
    assert_eq!(item.quantity, Some(Decimal::new(4000, 0)));
    assert_eq!(item.unit.as_deref(), Some("C62"));
    // Its order line is found by the sku when the line id is not the order's number.
    let ord112 = order("ORD112", &[(1, "SG8", "4000")]);
    assert_eq!(
        order_lines(&[item], &ord112).unwrap(),
        vec![(1, Decimal::new(4000, 0))]
    );
}

#[test]
fn a_kit_components_sku_a_foreign_unit_and_an_overflow_are_not_taken_for_the_items() {
    let so1 = order("SO-1", &[(1, "KIT-1", "2"), (2, "SCREW-9", "100")]);
    let kit = item("1", "KIT-1", "2", "SO-1", "1").replace(
        "<QUANTITY>2</QUANTITY>",
        "<PRODUCT_COMPONENTS><PRODUCT_COMPONENT><PRODUCT_ID><bmecat:SUPPLIER_PID>SCREW-9</bmecat:SUPPLIER_PID></PRODUCT_ID>\
         <QUANTITY>8</QUANTITY><bmecat:ORDER_UNIT>C62</bmecat:ORDER_UNIT></PRODUCT_COMPONENT></PRODUCT_COMPONENTS><QUANTITY>2</QUANTITY>",
    );
    let doc = read_text(&notification(&kit)).unwrap();
    assert_eq!(doc.items[0].supplier_pid.as_deref(), Some("KIT-1"));
    assert_eq!(doc.items[0].quantity, Some(Decimal::new(2, 0)));
    let items = &doc.items_by_order()[&Some("SO-1")];
    assert_eq!(
        order_lines(items, &so1).unwrap(),
        vec![(1, Decimal::new(2, 0))]
    );

    let packs = item("1", "KIT-1", "2", "SO-1", "1").replace(">C62<", ">PK<");
    let doc = read_text(&notification(&packs)).unwrap();
    assert_eq!(
        order_lines(&doc.items_by_order()[&Some("SO-1")], &so1)
            .unwrap_err()
            .reason,
        "unit_mismatch"
    );

    let huge = "79228162514264337593543950335";
    let doc = read_text(&notification(&format!(
        "{}{}",
        item("1", "KIT-1", huge, "SO-1", "1"),
        item("2", "KIT-1", huge, "SO-1", "1")
    )))
    .unwrap();
    assert_eq!(
        order_lines(&doc.items_by_order()[&Some("SO-1")], &so1)
            .unwrap_err()
            .reason,
        "invalid_quantity"
    );
}

#[test]
fn an_id_no_shipment_can_have_and_two_documents_in_one_file_are_refused_and_names_are_one_line() {
    let one = item("1", "A", "1", "SO-1", "1");
    let spaced = notification(&one).replace(">DN-77<", ">LS 4711<");
    assert_eq!(read_text(&spaced).unwrap_err().code, "invalid_value");
    let twice = format!(
        "{}{}",
        notification(&one),
        notification(&one).replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
    );
    assert_eq!(read_text(&twice).unwrap_err().code, "not_xml");
    let broken_name = notification(&one).replace("DHL Freight", "DHL\n   Freight\t");
    assert_eq!(
        read_text(&broken_name).unwrap().carrier.as_deref(),
        Some("DHL Freight")
    );
}

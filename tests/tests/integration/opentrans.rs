//! The openTRANS documents the bridge writes, checked by a real XML Schema validator (lxml
//! over `opentrans_2_1.xsd` from `../shared/samples/opentrans/`, `BRIDGE_SAMPLES_DIR`;
//! skipped when the samples are absent): ORDER documents of every shape the connector
//! writes, and the simulator's DISPATCHNOTIFICATION the demo drops.

use bridge_contract::opentrans::order::{Agreement, OrderDocument, write};
use bridge_contract::parse_event;
use bridge_domain::events::{DeliveryTerms, DomainEvent, OrderPlaced};
use serde_json::{Value, json};
use std::path::PathBuf;

fn schema() -> Option<PathBuf> {
    let Ok(dir) = std::env::var("BRIDGE_SAMPLES_DIR") else {
        eprintln!("BRIDGE_SAMPLES_DIR is not set: skipping the XML Schema check");
        return None;
    };
    let xsd = PathBuf::from(dir).join("opentrans/opentrans_2_1.xsd");
    assert!(xsd.is_file(), "{} is missing", xsd.display());
    Some(xsd)
}

fn order(data: Value) -> OrderPlaced {
    let mut body = json!({"order_id": "SO-1", "customer_id": "C-1", "currency": "EUR",
        "placed_at": "2026-12-07T09:30:00Z",
        "lines": [{"line": 1, "sku": "SKU-100", "quantity": 12, "unit_price": "9.80"}]});
    for (key, value) in data.as_object().unwrap() {
        body[key] = value.clone();
    }
    let event = json!({"type": "order.placed", "timestamp": "2026-12-07T10:00:00Z", "data": body});
    let sender = bridge_domain::Sources::contract().sender("shop").unwrap();
    match parse_event(&sender, event.to_string().as_bytes())
        .unwrap()
        .event
    {
        DomainEvent::OrderPlaced(o) => o,
        _ => unreachable!(),
    }
}

/// Runs the validator over `files`: its output, and whether every file is valid.
fn validate(xsd: &std::path::Path, files: &[PathBuf]) -> (String, bool) {
    let output = std::process::Command::new(bridge_testkit::venv().join("bin/python"))
        .arg(bridge_testkit::repo_root().join("tools/opentrans/validate.py"))
        .arg(xsd)
        .args(files)
        .output()
        .expect("the validator runs");
    (
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        output.status.success(),
    )
}

#[test]
fn every_order_document_the_connector_writes_is_valid_opentrans_2_1() {
    let Some(xsd) = schema() else { return };
    let dir = std::env::temp_dir().join(bridge_testkit::unique("opentrans"));
    std::fs::create_dir_all(&dir).unwrap();
    let terms = DeliveryTerms {
        incoterm: Some("DAP".into()),
        place: Some("Köln, Werk 2".into()),
    };
    let agreement = Agreement {
        id: "RV-2026-7".into(),
        ends: chrono::NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
    };
    let several = order(
        json!({"po_number": "PO-4711 <Werk & Lager>", "cost_center": "CC-4000",
        "delivery": {"address": {"name": "Kunde GmbH Lager Süd", "street": "Hauptstr. 1", "postal_code": "50667",
                                 "city": "Köln", "region": "NRW", "country": "DE", "text": "Tor 3, Rampe 2"},
                     "requested_date": "2026-12-10"},
        "lines": [{"line": 1, "sku": "SKU-100", "quantity": 12, "unit_price": "9.80"},
                  {"line": 2, "sku": "DRILL-007", "quantity": "2.5", "unit_price": "149.00"},
                  {"line": 3, "sku": "BIT-9", "quantity": 1000, "unit_price": "0.0125"}]}),
    );
    let named_country = order(json!({"order_id": "SO-2",
        "delivery": {"address": {"street": "Bahnhofstr. 7", "postal_code": "8001", "city": "Zürich", "country": "Schweiz"}}}));
    let minimal = order(json!({"order_id": "SO-3"}));
    let cases = [
        (
            "several-lines.xml",
            OrderDocument {
                order: &several,
                buyer_name: "Kunde GmbH & Co. KG Maschinenbau Niederlassung Süd-West",
                supplier_id: "SUPPLIER-1",
                payment_terms: Some("30 Tage netto, 2 % Skonto binnen 10 Tagen"),
                delivery_terms: Some(&terms),
                agreement: Some(&agreement),
            },
        ),
        (
            "named-country.xml",
            OrderDocument {
                order: &named_country,
                buyer_name: "Kunde AG",
                supplier_id: "SUPPLIER-1",
                payment_terms: None,
                delivery_terms: None,
                agreement: None,
            },
        ),
        (
            "minimal.xml",
            OrderDocument {
                order: &minimal,
                buyer_name: "Kunde GmbH",
                supplier_id: "SUPPLIER-1",
                payment_terms: None,
                delivery_terms: None,
                agreement: None,
            },
        ),
    ];
    let mut files = Vec::new();
    for (name, doc) in &cases {
        let path = dir.join(name);
        std::fs::write(&path, write(doc).unwrap()).unwrap();
        files.push(path);
    }
    // The logistics partner's notification of the demo and the tests, too.
    let notification = dir.join("dispatch-notification.xml");
    std::fs::write(
        &notification,
        erp_simulator::documents::dispatch_notification(
            "DN-1",
            "2026-12-07T10:00:00+01:00",
            "Spedition Müller & Söhne",
            "JJD0001",
            &[erp_simulator::documents::DispatchedItem {
                order_id: "SO-1",
                line: "1",
                sku: "SKU-100",
                quantity: "12",
            }],
        ),
    )
    .unwrap();
    files.push(notification);
    // The ERP's answers (the simulator's document side) to the first order, as it reads it:
    // accepted, and declined.
    let received = erp_simulator::documents::read_order(&std::fs::read(&files[0]).unwrap())
        .expect("the simulator reads the ORDER");
    assert_eq!(received.order_id, cases[0].1.order.order_id.as_str());
    assert_eq!(received.buyer, cases[0].1.order.customer_id.as_str());
    assert_eq!(
        received.items.len(),
        cases[0].1.order.lines.as_slice().len()
    );
    for (name, declined) in [("accepted", None), ("declined", Some("credit & blocked"))] {
        let path = dir.join(format!("orderresponse-{name}.xml"));
        std::fs::write(
            &path,
            erp_simulator::documents::order_response(
                &received,
                declined.is_none().then_some("4500000001"),
                "2026-12-07T10:00:00.123Z",
                declined,
            ),
        )
        .unwrap();
        files.push(path);
    }
    // The ERP's invoice and credit memo (the simulator's, for the demo and the tests).
    for (name, credit_memo) in [("invoice", false), ("credit-memo", true)] {
        let path = dir.join(format!("{name}.xml"));
        std::fs::write(
            &path,
            erp_simulator::documents::invoice(
                "RE-1",
                "C-1",
                "2026-12-07T12:00:00Z",
                credit_memo,
                &[erp_simulator::documents::InvoicedLine {
                    order_id: "SO-1",
                    line: "1",
                    sku: "SKU-100",
                    quantity: "12",
                    unit_price: "9.80",
                }],
            ),
        )
        .unwrap();
        files.push(path);
    }
    let (output, valid) = validate(&xsd, &files);
    assert!(valid, "{output}");
    assert_eq!(output.matches("VALID ").count(), files.len(), "{output}");

    // The validator is no rubber stamp: an ORDER with its elements out of order fails.
    let broken = dir.join("broken.xml");
    let text = std::fs::read_to_string(&files[2])
        .unwrap()
        .replace("<bmecat:ORDER_UNIT>C62</bmecat:ORDER_UNIT>", "");
    std::fs::write(&broken, text).unwrap();
    let (output, valid) = validate(&xsd, &[broken]);
    assert!(!valid, "{output}");
    assert!(output.contains("INVALID"), "{output}");
}

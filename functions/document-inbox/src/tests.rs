use super::*;

#[test]
fn reports_sit_beside_the_inbox_and_only_inbox_files_have_one() {
    assert_eq!(
        report_key("logistics/inbox/2026/DN-77.xml", Some("v2")).as_deref(),
        Some("logistics/reports/2026/DN-77.xml@v2.json")
    );
    assert_eq!(
        report_key("logistics/inbox/DN-77.xml", None).as_deref(),
        Some("logistics/reports/DN-77.xml.json")
    );
    assert_eq!(report_key("logistics/inbox/", None), None);
    assert_eq!(report_key("logistics/inbox/sub/", Some("v1")), None);
    assert_eq!(report_key("pim/inbox/a.xml", None), None);
}

#[test]
fn the_receipt_is_the_notification_its_order_and_its_revision() {
    let doc = |generated: &str| DispatchNotification {
        id: "DN-1".into(),
        generated_at: bridge_contract::opentrans::datetime(generated),
        date: bridge_contract::opentrans::datetime("2026-12-07T09:00:00Z").unwrap(),
        estimated_delivery: None,
        carrier: None,
        tracking_code: None,
        tracking_url: None,
        items: Vec::new(),
    };
    let first = doc("2026-12-07T08:00:00Z");
    assert_eq!(receipt(&first, "SO-1"), receipt(&first, "SO-1"));
    assert_ne!(receipt(&first, "SO-1"), receipt(&first, "SO-2"));
    // A correction generated later is another fact.
    assert_ne!(
        receipt(&first, "SO-1"),
        receipt(&doc("2026-12-07T08:30:00Z"), "SO-1")
    );
    assert!(receipt(&first, "SO-1").len() <= 64);
}

#[test]
fn the_source_must_exist_and_may_send_shipments() {
    let sources = bridge_domain::Sources::contract();
    assert!(shipment_sender(sources.sender("logistics"), "logistics").is_ok());
    assert!(matches!(
        shipment_sender(sources.sender("erp"), "erp"),
        Err(SourceError::NotAllowed { .. })
    ));
    assert!(matches!(
        shipment_sender(sources.sender("3pl"), "3pl"),
        Err(SourceError::Unknown { .. })
    ));
}

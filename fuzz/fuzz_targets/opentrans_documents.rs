#![no_main]
//! The openTRANS readers (DISPATCHNOTIFICATION, ORDERRESPONSE, INVOICE) on any bytes:
//! whatever they accept is within their limits, and a notification becomes shipment data
//! for every order it names, without a panic.

use bridge_contract::opentrans::{dispatch, invoice, response};
use bridge_domain::events::{DomainEvent, OrderPlaced};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// An order the items are matched against: three lines, two of one sku.
fn order() -> &'static OrderPlaced {
    static ORDER: OnceLock<OrderPlaced> = OnceLock::new();
    ORDER.get_or_init(|| {
        let body = br#"{"type": "order.placed", "timestamp": "2026-12-07T10:00:00Z", "data": {
            "order_id": "SO-1", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-12-07T09:00:00Z",
            "lines": [{"line": 1, "sku": "A-1", "quantity": 2, "unit_price": "1"},
                      {"line": 2, "sku": "B-2", "quantity": 5, "unit_price": "1"},
                      {"line": 3, "sku": "B-2", "quantity": 1, "unit_price": "1"}]}}"#;
        let sender = bridge_domain::Sources::contract()
            .sender("shop")
            .expect("the shop source");
        match bridge_contract::parse_event(&sender, body).expect("a valid order").event {
            DomainEvent::OrderPlaced(order) => order,
            _ => unreachable!(),
        }
    })
}

fn input(data: &[u8]) -> Box<dyn std::io::BufRead + Send> {
    Box::new(std::io::Cursor::new(data.to_vec()))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(document) = dispatch::read(input(data)) {
        assert!(!document.items.is_empty());
        assert!(document.items.len() <= dispatch::MAX_ITEMS);
        assert!(document.revision() >= 1);
        for (order, items) in document.items_by_order() {
            let lines: Vec<_> = items
                .iter()
                .enumerate()
                .filter_map(|(n, item)| item.quantity.map(|q| (n as u32 + 1, q)))
                .collect();
            let _ = document.shipment_data(order.unwrap_or("none"), &lines);
            // Matching items to lines never panics; what it gives is a line of the order,
            // each once, with a quantity above 0.
            if let Ok(matched) = dispatch::order_lines(&items, self::order()) {
                for (line, quantity) in &matched {
                    assert!((1..=3).contains(line));
                    assert!(*quantity > rust_decimal::Decimal::ZERO);
                }
                assert!(matched.windows(2).all(|w| w[0].0 < w[1].0));
            }
        }
    }
    if let Ok(answer) = response::read(input(data)) {
        assert!(answer.items.len() <= response::MAX_ITEMS);
        let _ = answer.verdict();
        assert!(answer.revision() >= 1);
    }
    if let Ok(invoice) = invoice::read(input(data)) {
        assert!(!invoice.customer_id.is_empty());
        assert!(invoice.revision() >= 1);
    }
});

#![no_main]
//! The openTRANS readers (DISPATCHNOTIFICATION, ORDERRESPONSE, INVOICE) on any bytes:
//! whatever they accept is within their limits, and a notification becomes shipment data
//! for every order it names, without a panic.

use bridge_contract::opentrans::{dispatch, invoice, response};
use libfuzzer_sys::fuzz_target;

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

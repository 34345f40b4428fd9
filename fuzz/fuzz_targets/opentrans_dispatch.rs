#![no_main]
//! The openTRANS DISPATCHNOTIFICATION reader on any bytes: whatever it accepts is within its
//! limits and becomes shipment data for every order it names without a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    if let Ok(document) = bridge_contract::opentrans::dispatch::read(input) {
        assert!(!document.items.is_empty());
        assert!(document.items.len() <= bridge_contract::opentrans::dispatch::MAX_ITEMS);
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
});

#![no_main]
//! `bridge_contract::parse_event` on any body, from either source (the first byte's low
//! bit). Whatever it accepts, the intake's second parse of the body must accept too.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let name = if flags & 1 == 0 { "erp" } else { "shop" };
    let sender = bridge_domain::Sources::contract()
        .sender(name)
        .expect("a contract source");
    if let Ok(parsed) = bridge_contract::parse_event(&sender, body) {
        assert!(sender.allows(parsed.event_type));
        let _: serde_json::Value =
            serde_json::from_slice(body).expect("the intake parses an accepted body again");
        let _ = parsed.event.record_key();
    }
});

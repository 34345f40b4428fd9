#![no_main]
//! `webhook_intake::Intake::handle` over in-memory ports: method, source, headers,
//! signature, content type, webhook id, body (layout: `src/webhook.rs`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bridge_fuzz::webhook::run(data);
});

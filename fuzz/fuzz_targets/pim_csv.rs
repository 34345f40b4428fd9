#![no_main]
//! The PIM CSV reader through `formats::open` (gzip when the input starts with the gzip
//! magic): both ways through a row (in place and general) must agree.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bridge_fuzz::pim::csv_differential(data);
});

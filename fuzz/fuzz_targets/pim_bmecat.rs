#![no_main]
//! The PIM BMEcat reader through `formats::open` (gzip when the input starts with the
//! gzip magic), every record checked and built as the import does.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bridge_fuzz::pim::read_all(pim_import::formats::Format::Bmecat, data);
});

#![no_main]
//! The contract's value parsers on any text: exact decimals (plain and exponent
//! notation), revisions, RFC 3339 timestamps, dates and validity bounds.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    use bridge_contract::json::{
        parse_bound, parse_date, parse_exact_decimal, parse_revision, parse_timestamp,
    };
    if let Ok(value) = parse_exact_decimal(text) {
        // Exact: the value's own text reads back as the same value.
        let again = parse_exact_decimal(&value.to_string())
            .unwrap_or_else(|e| panic!("{text:?} read as {value}, which does not read: {e:?}"));
        assert_eq!(again, value, "{text:?}");
        // And it is the number the text says, digit for digit.
        if let Some(meaning) = bridge_fuzz::decimal_meaning(text) {
            assert_eq!(
                bridge_fuzz::decimal_meaning(&value.to_string()),
                Some(meaning),
                "{text:?} read as {value}"
            );
        }
    }
    let _ = parse_revision(text);
    let _ = parse_timestamp(text);
    let _ = parse_date(text);
    let _ = parse_bound(text, false);
    let _ = parse_bound(text, true);
});

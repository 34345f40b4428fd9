//! What the fuzz targets share: in-memory ports for the webhook intake, and the drivers of
//! the PIM format readers. Every check here is an invariant of the code under test; a
//! failed one panics, which libFuzzer reports as a crash with the input that caused it.

pub mod pim;
pub mod webhook;

/// The instant every target runs at, so that a crash input replays the same way.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
        .expect("a valid instant")
        .with_timezone(&chrono::Utc)
}

/// What a decimal text means, computed independently of the code under test: sign,
/// significant digits and the power of ten of the last one (`-1.50e3` is `(true, "15",
/// 2)`); zero is `(false, "", 0)`. `None` for what is not plain or exponent notation, or an
/// exponent beyond `i128`.
pub fn decimal_meaning(text: &str) -> Option<(bool, String, i128)> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i128>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all = format!("{int}{frac}");
    let significant = all.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some((false, String::new(), 0));
    }
    let power = exponent - frac.len() as i128 + (significant.len() - trimmed.len()) as i128;
    Some((negative, trimmed.to_string(), power))
}

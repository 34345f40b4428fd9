//! A JSON reader that tracks the JSON pointer of every value it visits, so that each
//! violation names its field (`/data/tiers/2/unit_price`).

use bridge_domain::InvalidValue;
use bridge_domain::events::FieldViolation;
use bridge_domain::revision::Revision;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// A request that breaks the contract: `code` is stable, `field` a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ContractError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl ContractError {
    pub fn new(code: impl Into<String>, message: impl Into<String>, field: Option<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            field,
        }
    }

    pub(crate) fn at(path: &str, error: InvalidValue) -> Self {
        Self::new(
            error.code,
            format!("{path}: {}", error.message),
            Some(path.to_string()),
        )
    }

    /// A cross-field violation reported by the domain, relative to the object at `base`.
    pub(crate) fn violation(base: &str, violation: FieldViolation) -> Self {
        Self::at(&format!("{base}{}", violation.path), violation.error)
    }
}

/// Escapes a key as a JSON-pointer segment (RFC 6901).
fn segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[derive(Clone, Copy)]
pub struct Field<'a> {
    value: &'a Value,
    path: &'a str,
}

pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(path: &str, expected: &str, value: &Value) -> ContractError {
    ContractError::new(
        "wrong_type",
        format!("{path}: expected {expected}, found {}", kind(value)),
        Some(path.to_string()),
    )
}

impl<'a> Obj<'a> {
    pub fn root(value: &'a Value) -> Result<Self, ContractError> {
        match value {
            Value::Object(map) => Ok(Obj {
                map,
                path: String::new(),
            }),
            other => Err(ContractError::new(
                "wrong_type",
                format!("the body must be a JSON object, found {}", kind(other)),
                Some(String::new()),
            )),
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn child_path(&self, key: &str) -> String {
        format!("{}/{}", self.path, segment(key))
    }

    /// Runs `read` on a required member; absent or null is `missing_field`.
    pub fn required<T>(
        &self,
        key: &str,
        read: impl FnOnce(Field<'_>) -> Result<T, ContractError>,
    ) -> Result<T, ContractError> {
        let path = self.child_path(key);
        match self.map.get(key) {
            None | Some(Value::Null) => Err(ContractError::new(
                "missing_field",
                format!("{path} is required"),
                Some(path),
            )),
            Some(value) => read(Field { value, path: &path }),
        }
    }

    /// Runs `read` on an optional member; absent and null are `None`.
    pub fn optional<T>(
        &self,
        key: &str,
        read: impl FnOnce(Field<'_>) -> Result<T, ContractError>,
    ) -> Result<Option<T>, ContractError> {
        let path = self.child_path(key);
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => read(Field { value, path: &path }).map(Some),
        }
    }

    /// An optional array, empty when absent.
    pub fn list<T>(
        &self,
        key: &str,
        read: impl FnMut(Field<'_>) -> Result<T, ContractError>,
    ) -> Result<Vec<T>, ContractError> {
        Ok(self.optional(key, |f| f.array(read))?.unwrap_or_default())
    }
}

impl<'a> Field<'a> {
    pub fn path(&self) -> &str {
        self.path
    }

    pub fn object<T>(
        &self,
        read: impl FnOnce(&Obj<'_>) -> Result<T, ContractError>,
    ) -> Result<T, ContractError> {
        match self.value {
            Value::Object(map) => read(&Obj {
                map,
                path: self.path.to_string(),
            }),
            other => Err(wrong_type(self.path, "an object", other)),
        }
    }

    pub fn array<T>(
        &self,
        mut read: impl FnMut(Field<'_>) -> Result<T, ContractError>,
    ) -> Result<Vec<T>, ContractError> {
        match self.value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, value)| {
                    let path = format!("{}/{index}", self.path);
                    read(Field { value, path: &path })
                })
                .collect(),
            other => Err(wrong_type(self.path, "an array", other)),
        }
    }

    pub fn str(&self) -> Result<&'a str, ContractError> {
        match self.value {
            Value::String(s) => Ok(s),
            other => Err(wrong_type(self.path, "a string", other)),
        }
    }

    /// A free-text field: non-blank, no control characters, bounded length.
    pub fn text(&self, max_len: usize) -> Result<String, ContractError> {
        let s = self.str()?;
        if s.trim().is_empty() {
            return Err(self.invalid(InvalidValue::new("empty", "must not be blank")));
        }
        if s.chars().count() > max_len {
            return Err(self.invalid(InvalidValue::new(
                "too_long",
                format!("longer than {max_len} characters"),
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(self.invalid(InvalidValue::new(
                "invalid_character",
                "control characters are not allowed",
            )));
        }
        Ok(s.to_string())
    }

    pub fn bool(&self) -> Result<bool, ContractError> {
        match self.value {
            Value::Bool(b) => Ok(*b),
            other => Err(wrong_type(self.path, "a boolean", other)),
        }
    }

    /// A string parsed by a domain constructor; its error is reported at this field.
    pub fn parse<T>(
        &self,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Result<T, ContractError> {
        parse(self.str()?).map_err(|e| self.invalid(e))
    }

    pub fn invalid(&self, error: InvalidValue) -> ContractError {
        ContractError::at(self.path, error)
    }

    /// An exact decimal from a JSON string or number, never through f64.
    pub fn decimal(&self) -> Result<Decimal, ContractError> {
        let text = match self.value {
            Value::String(s) => s.clone(),
            // arbitrary_precision: the number's text as the sender wrote it.
            Value::Number(n) => n.to_string(),
            other => return Err(wrong_type(self.path, "a decimal number or string", other)),
        };
        parse_exact_decimal(&text).map_err(|e| self.invalid(e))
    }

    /// A decimal checked by a domain constructor (`Quantity::new`, ...).
    pub fn decimal_as<T>(
        &self,
        build: impl FnOnce(Decimal) -> Result<T, InvalidValue>,
    ) -> Result<T, ContractError> {
        build(self.decimal()?).map_err(|e| self.invalid(e))
    }

    /// A revision: a non-negative integer (JSON number, or a string of digits).
    pub fn revision(&self) -> Result<Revision, ContractError> {
        let text = match self.value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => return Err(wrong_type(self.path, "a non-negative integer", other)),
        };
        parse_revision(&text).map_err(|e| self.invalid(e))
    }

    pub fn u32(&self) -> Result<u32, ContractError> {
        match self.value {
            Value::Number(n) => n
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| {
                    self.invalid(InvalidValue::new(
                        "invalid_integer",
                        format!("expected a positive integer, got {n}"),
                    ))
                }),
            other => Err(wrong_type(self.path, "an integer", other)),
        }
    }

    pub fn timestamp(&self) -> Result<DateTime<Utc>, ContractError> {
        parse_timestamp(self.str()?).map_err(|e| self.invalid(e))
    }

    pub fn date(&self) -> Result<NaiveDate, ContractError> {
        parse_date(self.str()?).map_err(|e| self.invalid(e))
    }

    /// A validity bound: an RFC 3339 timestamp, or a date meaning that whole day
    /// (the start of it for `valid_from`, the end of it for `valid_to`).
    pub fn bound(&self, end_of_day: bool) -> Result<DateTime<Utc>, ContractError> {
        parse_bound(self.str()?, end_of_day).map_err(|e| self.invalid(e))
    }
}

/// A revision from its text: a non-negative integer (the snapshot reader shares it).
pub fn parse_revision(text: &str) -> Result<Revision, InvalidValue> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidValue::new(
            "invalid_revision",
            format!("revision must be a non-negative integer, got {text:?}"),
        ));
    }
    text.parse::<u64>()
        .map(Revision::new)
        .map_err(|_| InvalidValue::new("out_of_range", "revision exceeds 18446744073709551615"))
}

/// An RFC 3339 timestamp.
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, InvalidValue> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            InvalidValue::new(
                "invalid_timestamp",
                format!("{s:?} is not an RFC 3339 timestamp ({e})"),
            )
        })
}

/// A calendar date (YYYY-MM-DD).
pub fn parse_date(s: &str) -> Result<NaiveDate, InvalidValue> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| InvalidValue::new("invalid_date", format!("{s:?} is not a date (YYYY-MM-DD)")))
}

/// A validity bound from its text: an RFC 3339 timestamp, or a date meaning that whole day
/// (its start for `valid_from`, the start of the next day for `valid_to`, the window being
/// half-open).
pub fn parse_bound(s: &str, end_of_day: bool) -> Result<DateTime<Utc>, InvalidValue> {
    if s.len() == 10 {
        let date = parse_date(s)?;
        let date = if end_of_day {
            date.succ_opt()
                .ok_or_else(|| InvalidValue::new("invalid_date", "date out of range"))?
        } else {
            date
        };
        return Ok(business_midnight(date));
    }
    parse_timestamp(s)
}

/// The time zone whose midnight a date-only bound means (contract v2): the stack's
/// `BusinessTimeZone`, set once per process at init ([`set_business_time_zone`]).
static BUSINESS_TIME_ZONE: std::sync::OnceLock<chrono_tz::Tz> = std::sync::OnceLock::new();

/// The template parameter's default.
pub const DEFAULT_BUSINESS_TIME_ZONE: &str = "Europe/Berlin";

/// Sets the business time zone from its IANA name (`Europe/Berlin`). Once per process: a
/// second call with another zone is refused, since every date already read used the first.
pub fn set_business_time_zone(name: &str) -> Result<(), InvalidValue> {
    let zone: chrono_tz::Tz = name.parse().map_err(|_| {
        InvalidValue::new(
            "unknown_time_zone",
            format!(
                "{name:?} is not an IANA time zone this build carries (Europe/* and UTC, e.g. Europe/Berlin; CHRONO_TZ_TIMEZONE_FILTER in .cargo/config.toml)"
            ),
        )
    })?;
    let set = *BUSINESS_TIME_ZONE.get_or_init(|| zone);
    if set != zone {
        return Err(InvalidValue::new(
            "time_zone_already_set",
            format!("the business time zone is {set} already; {zone} cannot replace it"),
        ));
    }
    Ok(())
}

pub fn business_time_zone() -> chrono_tz::Tz {
    *BUSINESS_TIME_ZONE.get_or_init(|| chrono_tz::Europe::Berlin)
}

/// Midnight at the start of `date` in the business time zone, in UTC. Where a zone skips
/// midnight (a daylight-saving change at 00:00), the first moment of the day after the gap.
pub fn business_midnight(date: chrono::NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    let zone = business_time_zone();
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    let local = zone
        .from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .unwrap_or_else(|| zone.from_utc_datetime(&midnight));
    local.with_timezone(&Utc)
}

/// Parses a decimal exactly: plain (`-12.50`) or exponent (`1.5e3`) notation; more digits
/// than 28 significant ones is an error, never a silent rounding.
pub fn parse_exact_decimal(text: &str) -> Result<Decimal, InvalidValue> {
    let plain = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let mut parts = digits.splitn(2, '.');
        let int = parts.next().unwrap_or("");
        let frac = parts.next();
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    let invalid = || {
        InvalidValue::new(
            "invalid_decimal",
            format!("{text:?} is not a decimal number"),
        )
    };
    let out_of_range = || {
        InvalidValue::new(
            "out_of_range",
            format!("{text:?} has more digits than an exact decimal holds (28)"),
        )
    };
    if text.len() > 64 {
        return Err(out_of_range());
    }
    if let Some((mantissa, exponent)) = text.split_once(['e', 'E']) {
        let exponent_ok = exponent
            .strip_prefix(['-', '+'])
            .unwrap_or(exponent)
            .bytes()
            .all(|b| b.is_ascii_digit())
            && !exponent.is_empty();
        if !plain(mantissa) || !exponent_ok {
            return Err(invalid());
        }
        // The mantissa exactly, then the exponent as a scale change: never rounded.
        let mut value = Decimal::from_str_exact(mantissa).map_err(|_| out_of_range())?;
        let exponent: i64 = exponent.parse().map_err(|_| out_of_range())?;
        if exponent >= 0 {
            // Move the decimal point first, then multiply for what remains.
            let scale = i64::from(value.scale());
            let shift = exponent.min(scale);
            value
                .set_scale((scale - shift) as u32)
                .map_err(|_| out_of_range())?;
            for _ in 0..(exponent - shift).min(29) {
                value = value.checked_mul(Decimal::TEN).ok_or_else(out_of_range)?;
            }
            if exponent - shift > 28 && !value.is_zero() {
                return Err(out_of_range());
            }
        } else {
            // The exponent can be as low as i64::MIN: subtracting it must saturate, not wrap
            // (a wrapped scale read `1.5e-9223372036854775807` as 15).
            let scale = i64::from(value.scale()).saturating_sub(exponent);
            if scale > 28 {
                return Err(out_of_range());
            }
            value.set_scale(scale as u32).map_err(|_| out_of_range())?;
        }
        return Ok(value);
    }
    if !plain(text) {
        return Err(invalid());
    }
    Decimal::from_str_exact(text).map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_exact_decimal("0.1").unwrap().to_string(), "0.1");
        assert_eq!(parse_exact_decimal("-12.50").unwrap().to_string(), "-12.50");
        assert_eq!(parse_exact_decimal("1.5e3").unwrap().to_string(), "1500");
    }

    #[test]
    fn forty_digits_are_out_of_range_not_rounded() {
        let forty = "1234567890123456789012345678901234567890";
        assert_eq!(parse_exact_decimal(forty).unwrap_err().code, "out_of_range");
        let long_fraction = "0.1234567890123456789012345678901234";
        assert_eq!(
            parse_exact_decimal(long_fraction).unwrap_err().code,
            "out_of_range"
        );
    }

    #[test]
    fn exponents_are_applied_exactly_or_refused() {
        assert_eq!(
            parse_exact_decimal("1.25e-2").unwrap().to_string(),
            "0.0125"
        );
        assert_eq!(parse_exact_decimal("-2E+3").unwrap().to_string(), "-2000");
        let long = "1.00000000000000000000000000001e0";
        assert_eq!(parse_exact_decimal(long).unwrap_err().code, "out_of_range");
        assert_eq!(
            parse_exact_decimal("1e40").unwrap_err().code,
            "out_of_range"
        );
        assert_eq!(
            parse_exact_decimal("1e-40").unwrap_err().code,
            "out_of_range"
        );
    }

    #[test]
    fn exponents_near_i64_min_are_out_of_range_not_wrapped() {
        // Found by the contract_values fuzz target (fuzz/seeds/contract_values/crash-*).
        for text in [
            "1e-9223372036854775808",
            "1.5e-9223372036854775807",
            "-12.50e-9223372036854775806",
        ] {
            assert_eq!(
                parse_exact_decimal(text).unwrap_err().code,
                "out_of_range",
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_decimals_are_invalid() {
        for bad in [
            "", "1.", ".5", "1,5", " 1", "+1", "0x10", "NaN", "1e", "e5", "1.2.3",
        ] {
            assert_eq!(
                parse_exact_decimal(bad).unwrap_err().code,
                "invalid_decimal",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pointer_segments_are_escaped() {
        assert_eq!(segment("a/b~c"), "a~1b~0c");
    }
}

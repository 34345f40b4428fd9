//! Money, quantities and units: exact decimals only, never floating point.

use crate::error::InvalidValue;
use rust_decimal::Decimal;
use std::fmt;

/// An ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Currency(iso_currency::Currency);

crate::serialize_as_str!(Currency, |v| v.code());

impl Currency {
    pub fn parse(code: &str) -> Result<Self, InvalidValue> {
        // ISO 4217 codes are upper case; "eur" is a sender bug worth surfacing, not guessing.
        iso_currency::Currency::from_code(code)
            .map(Self)
            .ok_or_else(|| {
                InvalidValue::new(
                    "unknown_currency",
                    format!("{code:?} is not an ISO 4217 currency code"),
                )
            })
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// Decimal places of the currency's minor unit (EUR 2, JPY 0, BHD 3); 2 where ISO 4217
    /// names none (precious metals, funds).
    pub fn minor_units(&self) -> u32 {
        self.0.exponent().map(u32::from).unwrap_or(2)
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> String {
        value.code().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Money {
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// A quantity of goods: exact, never negative.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Quantity(Decimal);

impl Quantity {
    pub const ZERO: Quantity = Quantity(Decimal::ZERO);

    pub fn new(value: Decimal) -> Result<Self, InvalidValue> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(InvalidValue::new(
                "negative",
                format!("quantity {value} must not be negative"),
            ));
        }
        Ok(Self(value.normalize()))
    }

    pub fn value(&self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for Quantity {
    type Error = InvalidValue;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Quantity> for Decimal {
    fn from(value: Quantity) -> Decimal {
        value.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A unit of measure code after UN/ECE Recommendation 20 (`C62` = piece, `KGM`, `MTR`, ...).
///
/// Checked for form (2–3 upper-case letters or digits); the PIM import narrows this to the
/// list of known codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct UnitCode(String);

crate::serialize_as_str!(UnitCode, |v| v.as_str());

impl UnitCode {
    /// "One" (piece): the contract's default price unit.
    pub fn piece() -> Self {
        Self("C62".to_string())
    }

    pub fn parse(code: &str) -> Result<Self, InvalidValue> {
        Self::check(code)?;
        Ok(Self(code.to_string()))
    }

    fn check(code: &str) -> Result<(), InvalidValue> {
        let well_formed = (2..=3).contains(&code.len())
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !well_formed {
            return Err(InvalidValue::new(
                "invalid_unit",
                format!("{code:?} is not a UN/ECE Rec 20 unit code"),
            ));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UnitCode {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::check(&value)?;
        Ok(Self(value))
    }
}

impl From<UnitCode> for String {
    fn from(value: UnitCode) -> String {
        value.0
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn currencies_are_iso_4217_codes() {
        assert_eq!(Currency::parse("EUR").unwrap().code(), "EUR");
        assert_eq!(Currency::parse("XYZ").unwrap_err().code, "unknown_currency");
        assert_eq!(Currency::parse("eur").unwrap_err().code, "unknown_currency");
    }

    #[test]
    fn a_negative_quantity_is_rejected_but_zero_is_fine() {
        assert!(Quantity::new(Decimal::from_str("-0.001").unwrap()).is_err());
        assert_eq!(Quantity::new(Decimal::ZERO).unwrap(), Quantity::ZERO);
    }

    #[test]
    fn unit_codes_are_checked_for_form() {
        assert!(UnitCode::parse("C62").is_ok());
        assert!(UnitCode::parse("KGM").is_ok());
        assert!(UnitCode::parse("kg").is_err());
        assert!(UnitCode::parse("PIECE").is_err());
    }
}

//! Products as the PIM owns them (contract section 3), and the quality rules every import
//! format goes through: a raw record in, a valid product or the list of what is wrong out.

use crate::error::InvalidValue;
use crate::ids::Sku;
use crate::money::UnitCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A GTIN (EAN/UPC): 8, 12, 13 or 14 digits with a valid check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Gtin(String);

crate::serialize_as_str!(Gtin, |v| v.as_str());

impl Gtin {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::check(value)?;
        Ok(Self(value.to_string()))
    }

    /// The GTIN rules over borrowed text: what [`Gtin::parse`] checks, without keeping the
    /// value (readers that validate fields in place use it).
    pub fn check(value: &str) -> Result<(), InvalidValue> {
        let bytes = value.as_bytes();
        let (digits, sum) = match bytes.split_last() {
            // Weights 3,1,3,... from the rightmost body digit (GS1 General Specifications
            // 7.9), in one pass that also finds a byte that is no digit.
            Some((last, body)) => body.iter().rev().enumerate().fold(
                (last.is_ascii_digit(), 0u32),
                |(digits, sum), (from_right, &b)| {
                    let digit = b.wrapping_sub(b'0');
                    let weight = 3 - 2 * (from_right as u32 & 1);
                    (digits & (digit <= 9), sum + u32::from(digit) * weight)
                },
            ),
            None => (false, 0),
        };
        if !matches!(bytes.len(), 8 | 12 | 13 | 14) || !digits {
            return Err(InvalidValue::new(
                "invalid_gtin",
                format!("{value:?} is not a GTIN (8, 12, 13 or 14 digits)"),
            ));
        }
        let check = u32::from(bytes[bytes.len() - 1] - b'0');
        let expected = (10 - sum % 10) % 10;
        if expected != check {
            return Err(InvalidValue::new(
                "gtin_check_digit",
                format!("GTIN {value} has check digit {check}, expected {expected}"),
            ));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GTIN-13 with this 12-digit body and its check digit (fixtures, demos).
    pub fn gtin13(body: u64) -> Self {
        let digits = format!("{:012}", body % 1_000_000_000_000);
        let sum: u32 = digits
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        Self(format!("{digits}{}", (10 - sum % 10) % 10))
    }
}

impl TryFrom<String> for Gtin {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::check(&value)?;
        Ok(Self(value))
    }
}

impl From<Gtin> for String {
    fn from(value: Gtin) -> String {
        value.0
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A content language: an ISO 639 language code, optionally with a region (`de`, `de-DE`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Locale(String);

crate::serialize_as_str!(Locale, |v| v.as_str());

impl Locale {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let mut parts = value.split(['-', '_']);
        let language = parts.next().unwrap_or_default();
        let region = parts.next();
        let well_formed = (2..=3).contains(&language.len())
            && language.bytes().all(|b| b.is_ascii_alphabetic())
            && region.is_none_or(|r| {
                (2..=3).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
            })
            && parts.next().is_none();
        if !well_formed {
            return Err(InvalidValue::new(
                "invalid_locale",
                format!("{value:?} is not a locale such as de or de-DE"),
            ));
        }
        let mut canonical = language.to_ascii_lowercase();
        if let Some(region) = region {
            canonical.push('-');
            canonical.push_str(&region.to_ascii_uppercase());
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Locale {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Locale> for String {
    fn from(value: Locale) -> String {
        value.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    Active,
    Inactive,
}

/// A product as the shop receives it. Maps are ordered, so that the same content always
/// serializes (and hashes) the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: Sku,
    pub gtin: Option<Gtin>,
    pub names: BTreeMap<Locale, String>,
    pub descriptions: BTreeMap<Locale, String>,
    pub brand: Option<String>,
    /// Category path from the root, e.g. `["Tools", "Drills"]`.
    pub category: Vec<String>,
    pub unit: Option<UnitCode>,
    pub weight_kg: Option<Decimal>,
    pub images: Vec<String>,
    pub status: ProductStatus,
    pub attributes: BTreeMap<String, String>,
}

/// One record as a reader found it: text fields, not yet checked. Readers of every format
/// produce this, so the quality rules live in one place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawProduct {
    pub sku: Option<String>,
    pub gtin: Option<String>,
    /// (locale, text) pairs as found.
    pub names: Vec<(String, String)>,
    pub descriptions: Vec<(String, String)>,
    pub brand: Option<String>,
    pub category: Option<String>,
    pub unit: Option<String>,
    pub weight_kg: Option<String>,
    pub images: Vec<String>,
    pub status: Option<String>,
    pub attributes: Vec<(String, String)>,
    /// The record asks to remove the product (BMEcat `mode="delete"`): only its sku matters.
    pub deletion: bool,
}

/// Why a record was not imported: every field a PIM team needs to find and fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Line (CSV, NDJSON, BMEcat: where the record starts) in the file.
    pub line: u64,
    pub sku: Option<String>,
    pub field: String,
    pub code: String,
    pub message: String,
}

fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A deletion record needs only a well-formed sku.
pub fn validate_deletion(raw: &RawProduct, line: u64) -> Result<Sku, Vec<Rejection>> {
    let text = non_blank(&raw.sku);
    let error = match text {
        None => InvalidValue::new("missing_field", "sku is required"),
        Some(text) => match Sku::parse(text) {
            Ok(sku) => return Ok(sku),
            Err(e) => e,
        },
    };
    Err(vec![Rejection {
        line,
        sku: text.map(str::to_string),
        field: "sku".into(),
        code: error.code.to_string(),
        message: error.message,
    }])
}

/// `text` without surrounding whitespace, reusing its allocation when there is none.
fn trimmed(text: String) -> String {
    if text.trim().len() == text.len() {
        text
    } else {
        text.trim().to_string()
    }
}

fn non_blank_owned(value: Option<String>) -> Option<String> {
    value.map(trimmed).filter(|v| !v.is_empty())
}

/// The unit rule: a UN/ECE Rec 20 code that is in the recommendation and not deleted from
/// it, well formed as a [`UnitCode`]. Over borrowed text, for readers that validate fields
/// in place; [`validate_product`] applies the same rule.
pub fn check_unit(code: &str) -> Result<(), InvalidValue> {
    if listed(units::UNITS_IN_FORCE, code) {
        UnitCode::parse(code).map(drop)
    } else if listed(units::UNITS_DELETED, code) {
        Err(InvalidValue::new(
            "deleted_unit",
            format!("{code:?} was removed from UN/ECE Rec 20"),
        ))
    } else {
        Err(InvalidValue::new(
            "unknown_unit",
            format!("{code:?} is not a UN/ECE Rec 20 unit code"),
        ))
    }
}

mod units {
    include!(concat!(env!("OUT_DIR"), "/units.rs"));
}

/// Whether `code` is in a table of sorted 3-byte codes (padded with spaces) written by the
/// build script from `cefact-units`.
fn listed(table: &str, code: &str) -> bool {
    // A space is the table's padding, never part of a code.
    if !(1..=3).contains(&code.len()) || code.contains(' ') {
        return false;
    }
    let mut key = [b' '; 3];
    key[..code.len()].copy_from_slice(code.as_bytes());
    let table = table.as_bytes();
    let (mut low, mut high) = (0, table.len() / 3);
    while low < high {
        let middle = (low + high) / 2;
        match table[3 * middle..3 * middle + 3].cmp(&key) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// Applies the quality rules of contract section 3 to one record. Takes the record by
/// value: its strings move into the product (this runs for every row of large files).
pub fn validate_product(raw: RawProduct, line: u64) -> Result<Product, Vec<Rejection>> {
    let RawProduct {
        sku,
        gtin,
        names,
        descriptions,
        brand,
        category,
        unit,
        weight_kg,
        images,
        status,
        attributes,
        deletion: _,
    } = raw;
    let sku = non_blank_owned(sku);
    let mut problems = Vec::new();
    let mut reject = |field: &str, error: InvalidValue| {
        problems.push(Rejection {
            line,
            sku: sku.clone(),
            field: field.to_string(),
            code: error.code.to_string(),
            message: error.message,
        })
    };
    let valid_sku = match &sku {
        None => {
            reject("sku", InvalidValue::new("missing_field", "sku is required"));
            None
        }
        Some(text) => Sku::try_from(text.clone())
            .map_err(|e| reject("sku", e))
            .ok(),
    };
    let gtin =
        non_blank_owned(gtin).and_then(|g| Gtin::try_from(g).map_err(|e| reject("gtin", e)).ok());
    let mut invalid_locale = false;
    let mut text_map = |field: &str, pairs: Vec<(String, String)>| {
        let mut map = BTreeMap::new();
        for (locale, text) in pairs {
            let text = trimmed(text);
            if text.is_empty() {
                continue;
            }
            match Locale::parse(&locale) {
                Ok(locale) => {
                    map.insert(locale, text);
                }
                Err(e) => {
                    invalid_locale = true;
                    reject(&format!("{field}.{locale}"), e);
                }
            }
        }
        map
    };
    let names = text_map("name", names);
    let descriptions = text_map("description", descriptions);
    if names.is_empty() && !invalid_locale {
        reject(
            "name",
            InvalidValue::new("missing_name", "at least one name is required"),
        );
    }
    let unit = non_blank_owned(unit).and_then(|u| match check_unit(&u) {
        Ok(()) => UnitCode::try_from(u).map_err(|e| reject("unit", e)).ok(),
        Err(e) => {
            reject("unit", e);
            None
        }
    });
    let weight_kg = non_blank_owned(weight_kg).and_then(|w| {
        // A decimal comma is common in European exports.
        let parsed = if w.contains(',') {
            w.replace(',', ".").parse::<Decimal>()
        } else {
            w.parse::<Decimal>()
        };
        match parsed {
            Ok(value) if !value.is_sign_negative() => Some(value.normalize()),
            Ok(_) => {
                reject(
                    "weight_kg",
                    InvalidValue::new("negative", "weight_kg must not be negative"),
                );
                None
            }
            Err(_) => {
                reject(
                    "weight_kg",
                    InvalidValue::new("invalid_number", format!("{w:?} is not a number")),
                );
                None
            }
        }
    });
    let status = match non_blank_owned(status) {
        None => ProductStatus::Active,
        Some(text) if text.eq_ignore_ascii_case("active") => ProductStatus::Active,
        Some(text) if text.eq_ignore_ascii_case("inactive") => ProductStatus::Inactive,
        Some(other) => {
            reject(
                "status",
                InvalidValue::new(
                    "invalid_status",
                    format!("{other:?} is neither active nor inactive"),
                ),
            );
            ProductStatus::Active
        }
    };
    let category = non_blank_owned(category)
        .map(|c| {
            c.split('>')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let images = images
        .into_iter()
        .map(trimmed)
        .filter(|i| !i.is_empty())
        .collect();
    // A key given twice keeps both values (`a|b`), in file order; none is dropped.
    let mut attribute_map: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in attributes {
        let value = trimmed(value);
        if value.is_empty() {
            continue;
        }
        match attribute_map.entry(trimmed(key)) {
            std::collections::btree_map::Entry::Occupied(mut existing) => {
                let existing = existing.get_mut();
                existing.push('|');
                existing.push_str(&value);
            }
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(value);
            }
        }
    }
    match valid_sku {
        Some(sku) if problems.is_empty() => Ok(Product {
            sku,
            gtin,
            names,
            descriptions,
            brand: non_blank_owned(brand),
            category,
            unit,
            weight_kg,
            images,
            status,
            attributes: attribute_map,
        }),
        _ => Err(problems),
    }
}

/// The share thresholds above which an import is quarantined instead of applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportGuards {
    /// Largest share of rejected records (0.2 = 20 %).
    pub max_reject_share: f64,
    /// Largest share of active products a full catalog may deactivate.
    pub max_deactivation_share: f64,
}

impl Default for ImportGuards {
    fn default() -> Self {
        Self {
            max_reject_share: 0.20,
            max_deactivation_share: 0.10,
        }
    }
}

impl ImportGuards {
    /// Why the file must be quarantined, judged on the records read.
    pub fn check_rejections(&self, total: u64, rejected: u64) -> Option<String> {
        let share = if total == 0 {
            0.0
        } else {
            rejected as f64 / total as f64
        };
        (share > self.max_reject_share).then(|| {
            format!(
                "{rejected} of {total} records rejected ({:.1} %), above the limit of {:.1} %",
                share * 100.0,
                self.max_reject_share * 100.0
            )
        })
    }

    /// Why a full catalog must be quarantined, judged on what it would deactivate.
    pub fn check_deactivations(&self, active: u64, to_deactivate: u64) -> Option<String> {
        let share = if active == 0 {
            0.0
        } else {
            to_deactivate as f64 / active as f64
        };
        (share > self.max_deactivation_share).then(|| {
            format!(
                "the file would deactivate {to_deactivate} of {active} active products ({:.1} %), above the limit of {:.1} %",
                share * 100.0,
                self.max_deactivation_share * 100.0
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_rule_agrees_with_rec_20_for_every_code() {
        let mut deleted = 0;
        for unit in cefact_units::UnitCode::ALL {
            let code = unit.as_str();
            let result = check_unit(code);
            if unit.status() == cefact_units::Status::Deleted {
                deleted += 1;
                assert_eq!(result.unwrap_err().code, "deleted_unit", "{code}");
            } else {
                assert_eq!(result.is_ok(), UnitCode::parse(code).is_ok(), "{code}");
            }
        }
        assert!(deleted > 0 && cefact_units::UnitCode::ALL.len() > 1000);
        for unknown in [
            "", "c62", "C622", "Q9Z", " C6", "C62 ", "2A ", "\u{e4}", "A",
        ] {
            assert!(
                cefact_units::UnitCode::from_code(unknown).is_none(),
                "{unknown:?}"
            );
            assert_eq!(
                check_unit(unknown).unwrap_err().code,
                "unknown_unit",
                "{unknown:?}"
            );
        }
        assert!(check_unit("C62").is_ok() && check_unit("KGM").is_ok());
    }

    fn raw(sku: &str) -> RawProduct {
        RawProduct {
            sku: Some(sku.into()),
            names: vec![("de-DE".into(), "Bohrer".into())],
            ..Default::default()
        }
    }

    #[test]
    fn gtin_check_digits_are_verified() {
        assert!(Gtin::parse("4008190143640").is_ok());
        assert_eq!(Gtin::gtin13(400819014364).as_str(), "4008190143640");
        assert!(Gtin::parse(Gtin::gtin13(123).as_str()).is_ok());
        assert!(Gtin::parse("96385074").is_ok());
        assert!(Gtin::parse("036000291452").is_ok());
        assert_eq!(
            Gtin::parse("4008190143641").unwrap_err().code,
            "gtin_check_digit"
        );
        assert_eq!(Gtin::parse("40081901436").unwrap_err().code, "invalid_gtin");
        assert_eq!(
            Gtin::parse("400819014364X").unwrap_err().code,
            "invalid_gtin"
        );
    }

    /// The check digit rule as GS1 states it, written plainly, against `Gtin::check`.
    #[test]
    fn the_gtin_check_agrees_with_the_plain_rule() {
        fn plain(value: &str) -> Option<&'static str> {
            if !matches!(value.len(), 8 | 12 | 13 | 14)
                || !value.bytes().all(|b| b.is_ascii_digit())
            {
                return Some("invalid_gtin");
            }
            let digits: Vec<u32> = value.bytes().map(|b| u32::from(b - b'0')).collect();
            let (check, body) = digits.split_last().unwrap();
            let sum: u32 = body
                .iter()
                .rev()
                .enumerate()
                .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
                .sum();
            ((10 - sum % 10) % 10 != *check).then_some("gtin_check_digit")
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut cases: Vec<String> = [
            "",
            "0",
            "4008190143640",
            "96385074",
            "036000291452",
            "1234567890123x",
        ]
        .map(String::from)
        .to_vec();
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = [7, 8, 12, 13, 14, 15][(state % 6) as usize];
            let alphabet = b"0123456789012345678/:a ";
            cases.push(
                (0..len)
                    .map(|i| {
                        let pick = (state >> (i % 16 * 4)) as usize + i;
                        let digit_only = !state.is_multiple_of(7);
                        let n = if digit_only { 10 } else { alphabet.len() };
                        alphabet[pick % n] as char
                    })
                    .collect(),
            );
        }
        for case in cases {
            assert_eq!(
                Gtin::check(&case).err().map(|e| e.code),
                plain(&case),
                "{case:?}"
            );
        }
    }

    #[test]
    fn locales_are_canonicalised() {
        assert_eq!(Locale::parse("de_de").unwrap().as_str(), "de-DE");
        assert_eq!(Locale::parse("en").unwrap().as_str(), "en");
        assert!(Locale::parse("german").is_err());
    }

    #[test]
    fn a_good_record_becomes_a_product() {
        let mut r = raw("A-1");
        r.gtin = Some("4008190143640".into());
        r.unit = Some("C62".into());
        r.weight_kg = Some("0,25".into());
        r.category = Some("Werkzeug > Bohrer".into());
        let product = validate_product(r, 2).unwrap();
        assert_eq!(product.weight_kg.unwrap().to_string(), "0.25");
        assert_eq!(product.category, vec!["Werkzeug", "Bohrer"]);
        assert_eq!(product.status, ProductStatus::Active);
    }

    #[test]
    fn every_problem_of_a_record_is_reported_with_line_sku_and_field() {
        let mut r = raw("A-1");
        r.names.clear();
        r.gtin = Some("4008190143641".into());
        r.unit = Some("stk".into());
        r.weight_kg = Some("heavy".into());
        let problems = validate_product(r, 7).unwrap_err();
        let fields: Vec<_> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("gtin", "gtin_check_digit"),
                ("name", "missing_name"),
                ("unit", "unknown_unit"),
                ("weight_kg", "invalid_number")
            ]
        );
        assert!(
            problems
                .iter()
                .all(|p| p.line == 7 && p.sku.as_deref() == Some("A-1"))
        );
    }

    #[test]
    fn a_missing_or_malformed_sku_is_rejected() {
        let problems = validate_product(RawProduct::default(), 3).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.field == "sku" && p.code == "missing_field")
        );
        let problems = validate_product(raw("A B"), 3).unwrap_err();
        assert_eq!(problems[0].code, "invalid_character");
    }

    #[test]
    fn a_deletion_needs_only_its_sku() {
        let raw = RawProduct {
            sku: Some("OLD-1".into()),
            deletion: true,
            ..Default::default()
        };
        assert_eq!(validate_deletion(&raw, 4).unwrap().as_str(), "OLD-1");
        assert_eq!(
            validate_deletion(&RawProduct::default(), 5).unwrap_err()[0].code,
            "missing_field"
        );
    }

    #[test]
    fn guards_trip_above_their_share() {
        let guards = ImportGuards::default();
        assert!(guards.check_rejections(100, 20).is_none());
        assert!(guards.check_rejections(100, 21).is_some());
        assert!(guards.check_deactivations(100, 10).is_none());
        assert!(guards.check_deactivations(100, 11).is_some());
        assert!(guards.check_deactivations(0, 0).is_none());
    }
}

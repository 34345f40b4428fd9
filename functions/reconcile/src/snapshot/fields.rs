//! The text rules a snapshot row's fields follow, whatever the kind: required values,
//! exact decimals, revisions, record keys, and what an invalid row reports.

use super::reader::Row;
use bridge_contract::json::{parse_exact_decimal, parse_revision};
use bridge_domain::InvalidValue;

/// What is wrong with one field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub error: InvalidValue,
}

/// An invalid row: what is wrong, the key as written, and the key if it is a valid one
/// (then the record it names is in the snapshot, but nothing of it applies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub problem: Problem,
    pub raw_key: Vec<String>,
    pub key: Option<String>,
}

pub(super) fn at(field: &'static str) -> impl Fn(InvalidValue) -> Problem {
    move |error| Problem { field, error }
}

pub(super) fn required<'a>(row: &'a Row<'_>, field: &'static str) -> Result<&'a str, Problem> {
    let text = row.text(field)?;
    if text.is_empty() {
        return Err(Problem {
            field,
            error: InvalidValue::new("missing_value", format!("{field} is required")),
        });
    }
    Ok(text)
}

/// An exact decimal (a decimal point, never a comma: `1,000` could be a thousand).
pub(super) fn decimal(
    row: &Row<'_>,
    field: &'static str,
) -> Result<rust_decimal::Decimal, Problem> {
    let text = required(row, field)?;
    parse_exact_decimal(text).map_err(|mut e| {
        if text.contains(',') {
            e.message
                .push_str(" (use a decimal point: a comma is ambiguous)");
        }
        Problem { field, error: e }
    })
}

pub(super) fn revision(row: &Row<'_>) -> Result<bridge_domain::Revision, Problem> {
    parse_revision(required(row, "revision")?).map_err(at("revision"))
}

/// The key text of a record: two identifiers, which cannot hold a tab.
pub fn join_key(parts: &[&str]) -> String {
    parts.join("\t")
}

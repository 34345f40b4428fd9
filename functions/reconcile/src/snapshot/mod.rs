//! Snapshot files: which kind a key names, the CSV reader (header by name, `,` or `;`,
//! optional BOM, CRLF, gzip) and the rows of each kind, validated by the domain's
//! constructors and the contract's text rules (decimals, revisions, validity bounds), the
//! same that `price.changed` and `stock.changed` webhooks obey.
//!
//! Here: the file names and what a kind of snapshot is ([`Snapshot`]). The parts:
//! `reader` (the CSV text to rows), `fields` (the text rules every kind's fields follow),
//! `stock` and `prices` (each kind's rows, records and store).

mod fields;
mod prices;
mod reader;
mod stock;

pub use fields::{Problem, RowError, join_key};
pub use prices::{PriceRow, Prices, StoredPrice};
pub use reader::{CsvSnapshot, MAX_LINE_BYTES, ReadError, Row};
pub use stock::{Stock, StockRow, StoredStock};

use bridge_domain::reconcile::{Reconciled, RecordViolation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Where the ERP drops its exports.
pub const SNAPSHOTS: &str = "erp/snapshots/";
/// Where each snapshot's report goes (`erp/reports/<file>.json`).
pub const REPORTS: &str = "erp/reports/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    Stock,
    Prices,
}

impl SnapshotKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            SnapshotKind::Stock => "stock",
            SnapshotKind::Prices => "prices",
        }
    }
}

/// The key relative to [`SNAPSHOTS`], `None` if it is not under it.
pub fn relative(key: &str) -> Option<&str> {
    key.strip_prefix(SNAPSHOTS).filter(|name| !name.is_empty())
}

/// `erp/reports/<file relative to erp/snapshots/>.json`.
pub fn report_key(key: &str) -> String {
    format!("{REPORTS}{}.json", relative(key).unwrap_or(key))
}

/// The kind of a snapshot by its file name (`stock-<date>.csv[.gz]`,
/// `prices-<date>.csv[.gz]`) and whether it is gzip-compressed, or why it is none.
pub fn file_kind(key: &str) -> Result<(SnapshotKind, bool), String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let lower = name.to_ascii_lowercase();
    let (plain, gzip) = match lower.strip_suffix(".gz") {
        Some(plain) => (plain, true),
        None => (lower.as_str(), false),
    };
    let kind = if lower.starts_with("stock-") {
        SnapshotKind::Stock
    } else if lower.starts_with("prices-") {
        SnapshotKind::Prices
    } else {
        return Err(format!(
            "{name:?} is not a snapshot: the name must start with \"stock-\" or \"prices-\""
        ));
    };
    if !plain.ends_with(".csv") {
        return Err(format!(
            "{name:?} is not a snapshot: snapshots are CSV files (.csv or .csv.gz)"
        ));
    }
    Ok((kind, gzip))
}

/// One kind of snapshot: its columns, rows, records and the store it reconciles with.
#[async_trait::async_trait]
pub trait Snapshot: Send + Sync + 'static {
    const KIND: SnapshotKind;
    const REQUIRED: &'static [&'static str];
    const OPTIONAL: &'static [&'static str];
    /// The names of the two parts of a key (report).
    const KEY: &'static [&'static str];
    /// Fields of a stored record that a snapshot cannot state (left out of its side of
    /// the report).
    const NOT_IN_SNAPSHOT: &'static [&'static str];
    /// A valid row, as its partition file holds it.
    type Row: Serialize + DeserializeOwned + Send + 'static;
    type Record: Reconciled + Serialize + Clone + Send + Sync + 'static;
    /// A stored record as its partition file holds it (compact: no field names).
    type Stored: Serialize + DeserializeOwned + Send + 'static;

    fn to_stored(record: Self::Record) -> Self::Stored;
    fn from_stored(stored: Self::Stored) -> Self::Record;

    fn parse_row(row: &Row<'_>) -> Result<Self::Row, Box<RowError>>;
    fn row_key(row: &Self::Row) -> String;
    fn record_key(record: &Self::Record) -> String;
    /// One record from all rows of its key.
    fn assemble(rows: Vec<Self::Row>) -> Result<Self::Record, RecordViolation>;
    /// The record to write for a snapshot record, given the stored one.
    fn prepare(snapshot: Self::Record, stored: Option<&Self::Record>) -> Self::Record;

    async fn scan(
        ports: &crate::ReconcilePorts,
        cursor: Option<String>,
    ) -> Result<(Vec<Self::Record>, Option<String>), bridge_domain::PortError>;
    async fn apply(
        ports: &crate::ReconcilePorts,
        record: &Self::Record,
    ) -> Result<bridge_domain::ApplyOutcome, bridge_domain::PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed<S> = Result<<S as Snapshot>::Row, Box<RowError>>;

    /// The rows of a snapshot text as kind `S` parses them (the kinds' and the reader's
    /// tests read through it).
    pub(super) fn rows<S: Snapshot>(text: &[u8], gzip: bool) -> Result<Vec<Parsed<S>>, ReadError> {
        let mut reader = CsvSnapshot::open(
            Box::new(std::io::Cursor::new(text.to_vec())),
            gzip,
            S::REQUIRED,
            S::OPTIONAL,
        )?;
        let mut out = Vec::new();
        while let Some(row) = reader.next_row() {
            out.push(S::parse_row(&row?));
        }
        Ok(out)
    }

    #[test]
    fn kinds_by_file_name() {
        assert_eq!(
            file_kind("erp/snapshots/stock-2026-11-26.csv"),
            Ok((SnapshotKind::Stock, false))
        );
        assert_eq!(
            file_kind("erp/snapshots/prices-2026-11-26.csv.gz"),
            Ok((SnapshotKind::Prices, true))
        );
        assert!(
            file_kind("erp/snapshots/customers-1.csv")
                .unwrap_err()
                .contains("must start with")
        );
        assert!(
            file_kind("erp/snapshots/stock-1.xlsx")
                .unwrap_err()
                .contains("CSV")
        );
        assert_eq!(
            report_key("erp/snapshots/stock-1.csv"),
            "erp/reports/stock-1.csv.json"
        );
        assert_eq!(relative("erp/snapshots/"), None);
    }
}

//! Snapshot files: which kind a key names, the CSV reader (header by name, `,` or `;`,
//! optional BOM, CRLF, gzip) and the rows of each kind, validated by the domain's
//! constructors and the contract's text rules (decimals, revisions, validity bounds), the
//! same that `price.changed` and `stock.changed` webhooks obey.

use bridge_contract::json::{parse_bound, parse_exact_decimal, parse_revision};
use bridge_domain::events::{PriceTier, PriceTiers, UnitPrice, ValidityWindow};
use bridge_domain::reconcile::{PriceTierRow, Reconciled, RecordViolation};
use bridge_domain::{
    Currency, InvalidValue, PriceChanged, PriceListId, Quantity, Sku, StockChanged, WarehouseId,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read};

/// Where the ERP drops its exports.
pub const SNAPSHOTS: &str = "erp/snapshots/";
/// Where each snapshot's report goes (`erp/reports/<file>.json`).
pub const REPORTS: &str = "erp/reports/";

/// A line (a row, or a header) longer than this fails the file: a file without line
/// breaks must not make the reader hold it whole.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

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

/// Why a snapshot cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The file itself is unusable (no header, a required column missing, broken gzip):
    /// reported, nothing applied.
    #[error("{0}")]
    File(String),
    /// Reading the stream failed (a network reset): the file may be fine, try again.
    #[error("{0}")]
    Io(String),
}

fn io_error(error: &std::io::Error) -> ReadError {
    use std::io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
    match error.kind() {
        UnexpectedEof | InvalidData | InvalidInput => ReadError::File(format!(
            "the file cannot be read: {error} (truncated or corrupt)"
        )),
        _ => ReadError::Io(format!("reading the file failed: {error}")),
    }
}

/// The stream as the CSV reader sees it: line ends made `\n` (CRLF and a lone CR alike,
/// so that line numbers count right), a final line end added where the file lacks one,
/// and a line longer than [`MAX_LINE_BYTES`] an error.
struct LineEnds<R> {
    inner: R,
    /// Bytes since the last line end.
    run: usize,
    /// The last byte was a CR made `\n`: an LF right after it belongs to it.
    after_cr: bool,
    /// Whether anything was read, and whether the last byte given out ended a line.
    any: bool,
    ended: bool,
    done: bool,
}

impl<R> LineEnds<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            run: 0,
            after_cr: false,
            any: false,
            ended: false,
            done: false,
        }
    }
}

impl<R: Read> Read for LineEnds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() || self.done {
            return Ok(0);
        }
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                self.done = true;
                if self.any && !self.ended {
                    buf[0] = b'\n';
                    return Ok(1);
                }
                return Ok(0);
            }
            // In place: the output never outgrows the input.
            let mut w = 0;
            for r in 0..n {
                let byte = buf[r];
                if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                    continue;
                }
                let out = if byte == b'\r' {
                    self.after_cr = true;
                    b'\n'
                } else {
                    byte
                };
                buf[w] = out;
                w += 1;
                if out == b'\n' {
                    self.run = 0;
                } else {
                    self.run += 1;
                    if self.run > MAX_LINE_BYTES {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("a line is longer than {MAX_LINE_BYTES} bytes"),
                        ));
                    }
                }
            }
            if w > 0 {
                self.any = true;
                self.ended = buf[w - 1] == b'\n';
                return Ok(w);
            }
        }
    }
}

/// A snapshot's rows, one at a time.
pub struct CsvSnapshot {
    reader: csv::Reader<LineEnds<BufReader<Box<dyn Read + Send>>>>,
    /// (column name, index) of the columns the kind reads.
    columns: Vec<(&'static str, usize)>,
    record: csv::ByteRecord,
    last_byte: u64,
    pub delimiter: u8,
}

/// One data row.
pub struct Row<'a> {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// Bytes of snapshot text the row took.
    pub bytes: u64,
    record: &'a csv::ByteRecord,
    columns: &'a [(&'static str, usize)],
}

impl Row<'_> {
    /// The trimmed text of a column (empty when the row is short or the column absent).
    pub fn text(&self, column: &'static str) -> Result<&str, Problem> {
        let Some(index) = self
            .columns
            .iter()
            .find(|(name, _)| *name == column)
            .map(|(_, i)| *i)
        else {
            return Ok("");
        };
        let bytes = self.record.get(index).unwrap_or_default();
        std::str::from_utf8(bytes)
            .map(str::trim)
            .map_err(|_| Problem {
                field: column,
                error: InvalidValue::new("invalid_encoding", "the value is not UTF-8"),
            })
    }

    /// The text for a report, whatever its encoding.
    pub fn lossy(&self, column: &'static str) -> String {
        self.columns
            .iter()
            .find(|(name, _)| *name == column)
            .and_then(|(_, i)| self.record.get(*i))
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
            .unwrap_or_default()
    }
}

impl CsvSnapshot {
    /// Reads the header: the columns are found by name (any order, case and surrounding
    /// blanks ignored, extra columns ignored); a missing `required` one fails the file.
    pub fn open(
        input: Box<dyn Read + Send>,
        gzip: bool,
        required: &[&'static str],
        optional: &[&'static str],
    ) -> Result<Self, ReadError> {
        let input: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(input))
        } else {
            input
        };
        let mut buffered = BufReader::with_capacity(64 * 1024, input);
        let head = buffered.fill_buf().map_err(|e| io_error(&e))?;
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            buffered.consume(3);
        } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            return Err(ReadError::File(
                "the file is UTF-16; export it as UTF-8".into(),
            ));
        }
        let delimiter = bridge_contract::delimited::detect_delimiter(
            buffered.fill_buf().map_err(|e| io_error(&e))?,
        );
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(LineEnds::new(buffered));
        let mut header = csv::ByteRecord::new();
        let read = reader.read_byte_record(&mut header).map_err(csv_error)?;
        if !read {
            return Err(ReadError::File("the file is empty (no header row)".into()));
        }
        let names: Vec<String> = header
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase())
            .collect();
        let mut columns = Vec::new();
        let mut missing = Vec::new();
        for (column, is_required) in required
            .iter()
            .map(|c| (c, true))
            .chain(optional.iter().map(|c| (c, false)))
        {
            match names.iter().position(|n| n == column) {
                Some(index) => columns.push((*column, index)),
                None if is_required => missing.push(*column),
                None => {}
            }
        }
        if !missing.is_empty() {
            return Err(ReadError::File(format!(
                "the header lacks the required column{} {} (delimiter {:?}; found {})",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", "),
                delimiter as char,
                names.join(", ")
            )));
        }
        let last_byte = reader.position().byte();
        Ok(Self {
            reader,
            columns,
            record: csv::ByteRecord::new(),
            last_byte,
            delimiter,
        })
    }

    /// The next non-blank row, `None` at the end.
    pub fn next_row(&mut self) -> Option<Result<Row<'_>, ReadError>> {
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => return Some(Err(csv_error(e))),
                Ok(true) => {
                    let end = self.reader.position().byte();
                    let bytes = end - self.last_byte;
                    self.last_byte = end;
                    if self.record.iter().all(|f| f.trim_ascii().is_empty()) {
                        continue;
                    }
                    // Every record ends with `\n` (see `LineEnds`): the reader stands on
                    // the line after it; the record began as many lines up as it spans.
                    let inside: usize = self
                        .record
                        .iter()
                        .map(|f| f.iter().filter(|&&b| b == b'\n').count())
                        .sum();
                    let line = self
                        .reader
                        .position()
                        .line()
                        .saturating_sub(inside as u64 + 1)
                        .max(1);
                    return Some(Ok(Row {
                        line,
                        bytes,
                        record: &self.record,
                        columns: &self.columns,
                    }));
                }
            }
        }
    }

    /// Bytes of (uncompressed) text read so far.
    pub fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}

fn csv_error(error: csv::Error) -> ReadError {
    match error.kind() {
        csv::ErrorKind::Io(io) => io_error(io),
        _ => ReadError::File(format!("the file is not readable CSV: {error}")),
    }
}

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

fn at(field: &'static str) -> impl Fn(InvalidValue) -> Problem {
    move |error| Problem { field, error }
}

fn required<'a>(row: &'a Row<'_>, field: &'static str) -> Result<&'a str, Problem> {
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
fn decimal(row: &Row<'_>, field: &'static str) -> Result<rust_decimal::Decimal, Problem> {
    let text = required(row, field)?;
    parse_exact_decimal(text).map_err(|mut e| {
        if text.contains(',') {
            e.message
                .push_str(" (use a decimal point: a comma is ambiguous)");
        }
        Problem { field, error: e }
    })
}

fn revision(row: &Row<'_>) -> Result<bridge_domain::Revision, Problem> {
    parse_revision(required(row, "revision")?).map_err(at("revision"))
}

/// The key text of a record: two identifiers, which cannot hold a tab.
pub fn join_key(parts: &[&str]) -> String {
    parts.join("\t")
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

/// Stock snapshots: `sku, warehouse, available, revision`.
pub struct Stock;

/// A stock row and its line; in a partition file `[line, sku, warehouse, available,
/// revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow(pub u64, pub StockChanged);

impl Serialize for StockRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let StockRow(line, s) = self;
        (line, &s.sku, &s.warehouse, &s.available, s.revision).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StockRow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (line, sku, warehouse, available, revision) = Deserialize::deserialize(deserializer)?;
        Ok(StockRow(
            line,
            StockChanged {
                sku,
                warehouse,
                available,
                revision,
                as_of: None,
                next_delivery: None,
            },
        ))
    }
}

/// A stored stock level in a partition file: `[sku, warehouse, available, revision,
/// as_of, next_delivery]`.
pub struct StoredStock(pub StockChanged);

impl Serialize for StoredStock {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let s = &self.0;
        (
            &s.sku,
            &s.warehouse,
            &s.available,
            s.revision,
            &s.as_of,
            &s.next_delivery,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoredStock {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (sku, warehouse, available, revision, as_of, next_delivery) =
            Deserialize::deserialize(deserializer)?;
        Ok(StoredStock(StockChanged {
            sku,
            warehouse,
            available,
            revision,
            as_of,
            next_delivery,
        }))
    }
}

/// A price tier row in a partition file: `[line, price_list, sku, currency, min_qty,
/// unit_price, valid_from, valid_to, revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRow(pub PriceTierRow);

impl Serialize for PriceRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = &self.0;
        (
            r.line,
            &r.price_list,
            &r.sku,
            &r.currency,
            &r.tier.min_qty,
            &r.tier.unit_price,
            r.validity.from(),
            r.validity.until(),
            r.revision,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PriceRow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (line, price_list, sku, currency, min_qty, unit_price, from, until, revision) =
            Deserialize::deserialize(deserializer)?;
        Ok(PriceRow(PriceTierRow {
            line,
            price_list,
            sku,
            currency,
            tier: PriceTier {
                min_qty,
                unit_price,
            },
            validity: ValidityWindow::new(from, until)
                .map_err(|v| serde::de::Error::custom(v.to_string()))?,
            revision,
        }))
    }
}

/// A stored price record in a partition file: `[price_list, sku, currency,
/// [[min_qty, unit_price], ...], revision, price_unit, price_per, valid_from, valid_to,
/// deleted]`.
pub struct StoredPrice(pub PriceChanged);

impl Serialize for StoredPrice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let p = &self.0;
        let tiers: Vec<_> = p
            .tiers
            .as_slice()
            .iter()
            .map(|t| (&t.min_qty, &t.unit_price))
            .collect();
        (
            &p.price_list,
            &p.sku,
            &p.currency,
            tiers,
            p.revision,
            &p.price_unit,
            &p.price_per,
            p.validity.from(),
            p.validity.until(),
            p.deleted,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoredPrice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (
            price_list,
            sku,
            currency,
            tiers,
            revision,
            price_unit,
            price_per,
            from,
            until,
            deleted,
        ): (_, _, _, Vec<(Quantity, UnitPrice)>, _, _, _, _, _, bool) =
            Deserialize::deserialize(deserializer)?;
        let tiers = PriceTiers::new(
            tiers
                .into_iter()
                .map(|(min_qty, unit_price)| PriceTier {
                    min_qty,
                    unit_price,
                })
                .collect(),
        )
        .map_err(|v| D::Error::custom(v.to_string()))?;
        Ok(StoredPrice(PriceChanged {
            price_list,
            sku,
            currency,
            tiers,
            revision,
            price_unit,
            price_per,
            validity: ValidityWindow::new(from, until)
                .map_err(|v| D::Error::custom(v.to_string()))?,
            deleted,
        }))
    }
}

#[async_trait::async_trait]
impl Snapshot for Stock {
    const KIND: SnapshotKind = SnapshotKind::Stock;
    const REQUIRED: &'static [&'static str] = &["sku", "warehouse", "available", "revision"];
    const OPTIONAL: &'static [&'static str] = &[];
    const KEY: &'static [&'static str] = &["sku", "warehouse"];
    const NOT_IN_SNAPSHOT: &'static [&'static str] = &["as_of", "next_delivery"];
    type Row = StockRow;
    type Record = StockChanged;
    type Stored = StoredStock;

    fn to_stored(record: StockChanged) -> StoredStock {
        StoredStock(record)
    }

    fn from_stored(stored: StoredStock) -> StockChanged {
        stored.0
    }

    fn parse_row(row: &Row<'_>) -> Result<StockRow, Box<RowError>> {
        let error = |problem, key| {
            Box::new(RowError {
                problem,
                raw_key: vec![row.lossy("sku"), row.lossy("warehouse")],
                key,
            })
        };
        let sku = required(row, "sku")
            .and_then(|t| Sku::parse(t).map_err(at("sku")))
            .map_err(|p| error(p, None))?;
        let warehouse = required(row, "warehouse")
            .and_then(|t| WarehouseId::parse(t).map_err(at("warehouse")))
            .map_err(|p| error(p, None))?;
        let fields = (|| {
            let available = Quantity::new(decimal(row, "available")?).map_err(at("available"))?;
            Ok::<_, Problem>((available, revision(row)?))
        })();
        match fields {
            Ok((available, revision)) => Ok(StockRow(
                row.line,
                StockChanged {
                    sku,
                    warehouse,
                    available,
                    revision,
                    as_of: None,
                    next_delivery: None,
                },
            )),
            Err(p) => Err(error(
                p,
                Some(join_key(&[sku.as_str(), warehouse.as_str()])),
            )),
        }
    }

    fn row_key(row: &StockRow) -> String {
        Self::record_key(&row.1)
    }

    fn record_key(record: &StockChanged) -> String {
        join_key(&[record.sku.as_str(), record.warehouse.as_str()])
    }

    /// A key on several rows is fine when they are identical; otherwise the rows conflict
    /// and none applies.
    fn assemble(mut rows: Vec<StockRow>) -> Result<StockChanged, RecordViolation> {
        rows.sort_by_key(|r| r.0);
        let mut rows = rows.into_iter();
        let StockRow(first_line, first) = rows.next().ok_or_else(|| RecordViolation {
            line: 0,
            field: "sku",
            error: InvalidValue::new("empty", "no row"),
        })?;
        for StockRow(line, other) in rows {
            let field = if other.revision != first.revision {
                "revision"
            } else if !other.same_content(&first) {
                "available"
            } else {
                continue;
            };
            return Err(RecordViolation {
                line,
                field,
                error: InvalidValue::new(
                    "conflicting_rows",
                    format!(
                        "sku {} in warehouse {} is also on line {first_line} with another {field}",
                        first.sku, first.warehouse
                    ),
                ),
            });
        }
        Ok(first)
    }

    fn prepare(snapshot: StockChanged, _stored: Option<&StockChanged>) -> StockChanged {
        snapshot
    }

    async fn scan(
        ports: &crate::ReconcilePorts,
        cursor: Option<String>,
    ) -> Result<(Vec<StockChanged>, Option<String>), bridge_domain::PortError> {
        ports.stock.scan_stock(cursor).await
    }

    async fn apply(
        ports: &crate::ReconcilePorts,
        record: &StockChanged,
    ) -> Result<bridge_domain::ApplyOutcome, bridge_domain::PortError> {
        ports.stock.apply_stock(record).await
    }
}

/// Price snapshots: one row per tier, `price_list, sku, currency, min_qty, unit_price,
/// valid_from, valid_to, revision` (the validity columns may be absent: open).
pub struct Prices;

#[async_trait::async_trait]
impl Snapshot for Prices {
    const KIND: SnapshotKind = SnapshotKind::Prices;
    const REQUIRED: &'static [&'static str] = &[
        "price_list",
        "sku",
        "currency",
        "min_qty",
        "unit_price",
        "revision",
    ];
    const OPTIONAL: &'static [&'static str] = &["valid_from", "valid_to"];
    // A record is one validity window (contract v2): a snapshot may carry several windows
    // of one list and sku.
    const KEY: &'static [&'static str] = &["price_list", "sku", "valid_from"];
    const NOT_IN_SNAPSHOT: &'static [&'static str] = &["price_unit", "price_per"];
    type Row = PriceRow;
    type Record = PriceChanged;
    type Stored = StoredPrice;

    fn to_stored(record: PriceChanged) -> StoredPrice {
        StoredPrice(record)
    }

    fn from_stored(stored: StoredPrice) -> PriceChanged {
        stored.0
    }

    fn parse_row(row: &Row<'_>) -> Result<PriceRow, Box<RowError>> {
        let error = |problem, key| {
            Box::new(RowError {
                problem,
                raw_key: vec![
                    row.lossy("price_list"),
                    row.lossy("sku"),
                    row.lossy("valid_from"),
                ],
                key,
            })
        };
        let price_list = required(row, "price_list")
            .and_then(|t| PriceListId::parse(t).map_err(at("price_list")))
            .map_err(|p| error(p, None))?;
        let sku = required(row, "sku")
            .and_then(|t| Sku::parse(t).map_err(at("sku")))
            .map_err(|p| error(p, None))?;
        // The contract's bounds: a date means that whole day.
        let bound = |field: &'static str, end_of_day: bool| -> Result<_, Problem> {
            let text = row.text(field)?;
            if text.is_empty() {
                return Ok(None);
            }
            parse_bound(text, end_of_day).map(Some).map_err(at(field))
        };
        let validity = (|| {
            ValidityWindow::new(bound("valid_from", false)?, bound("valid_to", true)?).map_err(
                |v| Problem {
                    field: "valid_to",
                    error: v.error,
                },
            )
        })();
        // The window's key: its start as the store keys it, or as written when it cannot be
        // read (then every row of that window fails alike).
        let start = match &validity {
            Ok(validity) => validity.start_key(),
            Err(_) => row.lossy("valid_from"),
        };
        let key = join_key(&[price_list.as_str(), sku.as_str(), &start]);
        let fields = (|| {
            let validity = validity?;
            let currency = Currency::parse(required(row, "currency")?).map_err(at("currency"))?;
            let min_qty = Quantity::new(decimal(row, "min_qty")?).map_err(at("min_qty"))?;
            let unit_price =
                UnitPrice::new(decimal(row, "unit_price")?).map_err(at("unit_price"))?;
            Ok::<_, Problem>((
                currency,
                PriceTier {
                    min_qty,
                    unit_price,
                },
                validity,
                revision(row)?,
            ))
        })();
        match fields {
            Ok((currency, tier, validity, revision)) => Ok(PriceRow(PriceTierRow {
                line: row.line,
                price_list,
                sku,
                currency,
                tier,
                validity,
                revision,
            })),
            Err(p) => Err(error(p, Some(key))),
        }
    }

    fn row_key(row: &PriceRow) -> String {
        let row = &row.0;
        join_key(&[
            row.price_list.as_str(),
            row.sku.as_str(),
            &row.validity.start_key(),
        ])
    }

    fn record_key(record: &PriceChanged) -> String {
        join_key(&[
            record.price_list.as_str(),
            record.sku.as_str(),
            &record.validity.start_key(),
        ])
    }

    fn assemble(rows: Vec<PriceRow>) -> Result<PriceChanged, RecordViolation> {
        bridge_domain::reconcile::assemble_price(rows.into_iter().map(|r| r.0).collect())
    }

    fn prepare(snapshot: PriceChanged, stored: Option<&PriceChanged>) -> PriceChanged {
        bridge_domain::reconcile::keep_stored_units(snapshot, stored)
    }

    async fn scan(
        ports: &crate::ReconcilePorts,
        cursor: Option<String>,
    ) -> Result<(Vec<PriceChanged>, Option<String>), bridge_domain::PortError> {
        ports.prices.scan_prices(cursor).await
    }

    async fn apply(
        ports: &crate::ReconcilePorts,
        record: &PriceChanged,
    ) -> Result<bridge_domain::ApplyOutcome, bridge_domain::PortError> {
        ports.prices.apply_price(record).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed<S> = Result<<S as Snapshot>::Row, Box<RowError>>;

    fn rows<S: Snapshot>(text: &[u8], gzip: bool) -> Result<Vec<Parsed<S>>, ReadError> {
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
    fn partition_lines_are_compact_and_round_trip() {
        let text = "price_list,sku,currency,min_qty,unit_price,valid_from,valid_to,revision\n\
                    PL1,A-1,EUR,1,9.90,2026-01-01,,3\n";
        let row = rows::<Prices>(text.as_bytes(), false)
            .unwrap()
            .remove(0)
            .unwrap();
        let line = serde_json::to_string(&row).unwrap();
        assert_eq!(
            line,
            r#"[2,"PL1","A-1","EUR","1","9.90","2025-12-31T23:00:00Z",null,3]"#
        );
        assert_eq!(serde_json::from_str::<PriceRow>(&line).unwrap(), row);
        let mut record = Prices::assemble(vec![row]).unwrap();
        record.price_per = bridge_domain::events::PricePer::new(10.into()).unwrap();
        let stored = serde_json::to_string(&StoredPrice(record.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<StoredPrice>(&stored).unwrap().0,
            record
        );

        let text = "sku,warehouse,available,revision\nA-1,W1,10.5,7\n";
        let row = rows::<Stock>(text.as_bytes(), false)
            .unwrap()
            .remove(0)
            .unwrap();
        let line = serde_json::to_string(&row).unwrap();
        assert_eq!(line, r#"[2,"A-1","W1","10.5",7]"#);
        assert_eq!(serde_json::from_str::<StockRow>(&line).unwrap(), row);
        let mut level = row.1;
        level.as_of = Some(chrono::Utc::now());
        let stored = serde_json::to_string(&StoredStock(level.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<StoredStock>(&stored).unwrap().0,
            level
        );
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

    #[test]
    fn columns_by_name_in_any_order_with_bom_crlf_and_semicolons() {
        let text = "\u{feff}Revision;Available;Extra;SKU;warehouse\r\n7;10.50;x;A-1;W1\r\n;;;;\r\n8;0;y;A-2;W2\r\n";
        let rows = rows::<Stock>(text.as_bytes(), false).unwrap();
        assert_eq!(rows.len(), 2, "the blank row is skipped");
        let StockRow(line, stock) = rows[0].clone().unwrap();
        assert_eq!(
            (line, stock.sku.as_str(), stock.available.to_string()),
            (2, "A-1", "10.5".into())
        );
        assert_eq!(rows[1].clone().unwrap().0, 4);
    }

    #[test]
    fn tab_separated_snapshots_are_read_as_the_pim_import_reads_them() {
        let text = "sku\twarehouse\tavailable\trevision\nA-1\tW1\t3\t1\n";
        let rows = rows::<Stock>(text.as_bytes(), false).unwrap();
        assert_eq!(rows[0].clone().unwrap().1.available.to_string(), "3");
    }

    #[test]
    fn line_numbers_count_blank_lines_quoted_line_breaks_and_any_line_end() {
        for end in ["\n", "\r\n", "\r"] {
            let text = [
                "sku,warehouse,available,revision",
                "",
                "A-1,W1,1,1",
                "\"A-2",
                "\",W1,1,1",
                "A-3,W1,1,1",
            ]
            .join(end);
            let mut reader = CsvSnapshot::open(
                Box::new(std::io::Cursor::new(text.into_bytes())),
                false,
                Stock::REQUIRED,
                Stock::OPTIONAL,
            )
            .unwrap();
            let mut lines = Vec::new();
            while let Some(row) = reader.next_row() {
                lines.push(row.unwrap().line);
            }
            assert_eq!(lines, [3, 4, 6], "line end {end:?}");
        }
    }

    #[test]
    fn a_missing_required_column_fails_the_file() {
        let err = rows::<Stock>(b"sku,warehouse,revision\nA,W,1\n", false)
            .err()
            .unwrap();
        assert!(
            matches!(&err, ReadError::File(m) if m.contains("available")),
            "{err:?}"
        );
        assert!(matches!(rows::<Stock>(b"", false), Err(ReadError::File(_))));
    }

    #[test]
    fn gzip_is_decompressed_and_a_broken_archive_is_the_file() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"sku,warehouse,available,revision\nA-1,W1,3,1\n")
            .unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(rows::<Stock>(&bytes, true).unwrap().len(), 1);
        assert!(matches!(
            rows::<Stock>(&bytes[..bytes.len() / 2], true),
            Err(ReadError::File(_))
        ));
    }

    #[test]
    fn invalid_rows_name_their_field_and_keep_a_valid_key() {
        let text =
            "sku,warehouse,available,revision\nA-1,W1,-1,1\nbad sku,W1,1,1\nA-2,W1,\"1,5\",x\n";
        let rows = rows::<Stock>(text.as_bytes(), false).unwrap();
        let negative = rows[0].clone().unwrap_err();
        assert_eq!(
            (negative.problem.field, negative.problem.error.code),
            ("available", "negative")
        );
        assert_eq!(negative.key.as_deref(), Some("A-1\tW1"));
        let bad_key = rows[1].clone().unwrap_err();
        assert_eq!((bad_key.problem.field, bad_key.key), ("sku", None));
        assert_eq!(bad_key.raw_key[0], "bad sku");
        let comma = rows[2].clone().unwrap_err();
        assert_eq!(comma.problem.field, "available");
        assert!(comma.problem.error.message.contains("decimal point"));
    }

    #[test]
    fn price_bounds_follow_the_contract() {
        let text = "price_list,sku,currency,min_qty,unit_price,valid_from,valid_to,revision\n\
                    PL1,A-1,EUR,1,9.90,2026-01-01,2026-01-31,3\n\
                    PL1,A-2,EUR,1,9.90,2026-01-01T06:00:00+01:00,,3\n\
                    PL1,A-3,EUR,1,9.90,2026-02-01,2026-01-01,3\n";
        let rows = rows::<Prices>(text.as_bytes(), false).unwrap();
        let first = rows[0].clone().unwrap().0;
        // Dates are midnights in the business time zone (Europe/Berlin by default).
        assert_eq!(
            first.validity.from().unwrap().to_rfc3339(),
            "2025-12-31T23:00:00+00:00"
        );
        assert_eq!(
            first.validity.until().unwrap().to_rfc3339(),
            "2026-01-31T23:00:00+00:00"
        );
        let second = rows[1].clone().unwrap().0;
        assert_eq!(
            second.validity.from().unwrap().to_rfc3339(),
            "2026-01-01T05:00:00+00:00"
        );
        assert!(second.validity.until().is_none());
        let empty = rows[2].clone().unwrap_err();
        assert_eq!(
            (empty.problem.field, empty.problem.error.code),
            ("valid_to", "empty_window")
        );
        // A window that cannot be read is keyed by its start as written.
        assert_eq!(empty.key.as_deref(), Some("PL1\tA-3\t2026-02-01"));
    }

    #[test]
    fn a_line_without_end_fails_the_file() {
        let mut text = b"sku,warehouse,available,revision\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        assert!(matches!(
            rows::<Stock>(&text, false),
            Err(ReadError::File(_))
        ));
    }

    #[test]
    fn identical_repeats_are_one_record_and_differing_ones_conflict() {
        let stock = |line, available: &str| {
            let text = format!("sku,warehouse,available,revision\nA-1,W1,{available},4\n");
            let mut row = rows::<Stock>(text.as_bytes(), false)
                .unwrap()
                .remove(0)
                .unwrap();
            row.0 = line;
            row
        };
        assert!(Stock::assemble(vec![stock(2, "5"), stock(9, "5.0")]).is_ok());
        let err = Stock::assemble(vec![stock(9, "6"), stock(2, "5")]).unwrap_err();
        assert_eq!(
            (err.line, err.field, err.error.code),
            (9, "available", "conflicting_rows")
        );
    }
}

//! Readers of the PIM formats. Each turns a byte stream into [`Record`]s of text fields
//! (`RawProduct`) one at a time, holding only the current record in memory; the quality
//! rules are applied afterwards, the same for every format.
//!
//! The import reads through [`RecordSource::next_checked`]: the record with the quality
//! rules applied and its content hashed. By default that is `validate_product` over the
//! record; the CSV reader checks well-formed UTF-8 rows in place instead (no owned fields)
//! and leaves every other row to `validate_product`, so rejections come from one place.

pub mod bmecat;
pub mod csv;
pub mod ndjson;

use crate::content;
use bridge_domain::Sku;
use bridge_domain::product::{
    Product, ProductStatus, RawProduct, Rejection, validate_deletion, validate_product,
};
use std::io::{BufRead, BufReader, Read};

/// One record and where it starts in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: u64,
    pub raw: RawProduct,
}

/// A problem reading the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// One record cannot be read (a malformed NDJSON line, a CSV row with too many
    /// fields); the others can.
    #[error("line {}: {}", .0.line, .0.message)]
    Record(Rejection),
    /// The file as a whole cannot be read (truncated archive, XML that is not well formed,
    /// no sku column).
    #[error("{0}")]
    File(String),
    /// Reading the stream failed (a network reset): the file may be fine, try again.
    #[error("reading the file failed: {0}")]
    Io(String),
}

/// An I/O error of the input: a broken archive or encoding is the file's fault, anything
/// else (the S3 stream) is transient.
pub fn io_error(error: &std::io::Error, context: &str) -> ReadError {
    use std::io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
    match error.kind() {
        UnexpectedEof | InvalidData | InvalidInput => {
            ReadError::File(format!("{context}: {error} (truncated or corrupt)"))
        }
        _ => ReadError::Io(format!("{context}: {error}")),
    }
}

impl ReadError {
    pub fn record(line: u64, field: &str, code: &str, message: impl Into<String>) -> Self {
        ReadError::Record(Rejection {
            line,
            sku: None,
            field: field.to_string(),
            code: code.to_string(),
            message: message.into(),
        })
    }
}

/// A reader of one format.
pub trait RecordSource: Send {
    fn next_record(&mut self) -> Option<Result<Record, ReadError>>;
    /// File-level observations for the report (encoding detected, columns ignored, ...).
    fn warnings(&self) -> Vec<String>;
    /// The next record with the quality rules applied and, if valid, its content hashed.
    fn next_checked(&mut self) -> Option<Result<Checked<'_>, ReadError>> {
        self.next_record().map(|r| r.map(check_owned))
    }
}

/// A record judged by the quality rules.
pub struct Checked<'a> {
    pub line: u64,
    pub outcome: Outcome<'a>,
}

pub enum Outcome<'a> {
    /// A valid product.
    Valid(Valid<'a>),
    /// A valid deletion record (BMEcat `mode="delete"`).
    Deletion(Sku),
    /// Everything wrong with the record (every rejection names its sku text, if any).
    Rejected(Vec<Rejection>),
}

/// A valid product: its sku, content key and status; its content digest and the product
/// itself are computed only when asked for (the scan needs neither).
pub struct Valid<'a> {
    /// The 64-bit key of the content (`content::key_of`), for the index.
    pub key: u64,
    /// The product's status is inactive: the row switches it off.
    pub inactive: bool,
    content: Content<'a>,
}

enum Content<'a> {
    Built {
        product: Box<Product>,
        digest: u128,
    },
    /// A CSV row checked in place: the sku text, the content encoding and the row to build
    /// the product from.
    Csv {
        sku: &'a str,
        encoding: &'a [u8],
        row: csv::Row<'a>,
    },
}

impl<'a> Valid<'a> {
    pub(crate) fn csv(
        key: u64,
        inactive: bool,
        sku: &'a str,
        encoding: &'a [u8],
        row: csv::Row<'a>,
    ) -> Self {
        Valid {
            key,
            inactive,
            content: Content::Csv { sku, encoding, row },
        }
    }

    pub fn sku(&self) -> &str {
        match &self.content {
            Content::Built { product, .. } => product.sku.as_str(),
            Content::Csv { sku, .. } => sku,
        }
    }

    /// The content hash as stored (128 bits of xxh3 over the canonical encoding).
    pub fn digest(&self) -> u128 {
        match &self.content {
            Content::Built { digest, .. } => *digest,
            Content::Csv { encoding, .. } => xxhash_rust::xxh3::xxh3_128(encoding),
        }
    }

    /// What is needed to build the product later, owned (the record's fields, not yet the
    /// product).
    pub fn into_pending(self, line: u64) -> Pending {
        let digest = self.digest();
        let (sku, content) = match self.content {
            Content::Built { product, .. } => (product.sku.clone(), PendingContent::Built(product)),
            Content::Csv { sku, row, .. } => (
                Sku::parse(sku).expect("the quality rules accepted this sku"),
                PendingContent::Raw(Box::new(row.raw_product().0)),
            ),
        };
        Pending {
            sku,
            digest,
            line,
            content,
        }
    }
}

/// A valid product kept for a later write.
pub struct Pending {
    pub sku: Sku,
    pub digest: u128,
    pub line: u64,
    content: PendingContent,
}

enum PendingContent {
    Built(Box<Product>),
    Raw(Box<RawProduct>),
}

impl Pending {
    /// The product (the quality rules run again on the kept fields: they judged them valid
    /// before, and they are deterministic).
    pub fn into_product(self) -> Result<Product, Vec<Rejection>> {
        match self.content {
            PendingContent::Built(product) => Ok(*product),
            PendingContent::Raw(raw) => validate_product(*raw, self.line),
        }
    }
}

/// The quality rules over an owned record: every format's general path.
pub fn check_owned(record: Record) -> Checked<'static> {
    let line = record.line;
    let outcome = if record.raw.deletion {
        match validate_deletion(&record.raw, line) {
            Ok(sku) => Outcome::Deletion(sku),
            Err(problems) => Outcome::Rejected(problems),
        }
    } else {
        match validate_product(record.raw, line) {
            Err(problems) => Outcome::Rejected(problems),
            Ok(product) => match content::too_large(&product) {
                Some(bytes) => Outcome::Rejected(vec![Rejection {
                    line,
                    sku: Some(product.sku.to_string()),
                    field: "-".into(),
                    code: "too_large".into(),
                    message: format!(
                        "the product takes {bytes} bytes, more than the {} a record may hold",
                        content::MAX_PRODUCT_BYTES
                    ),
                }]),
                None => {
                    let (key, digest) = content::keys(&product);
                    Outcome::Valid(Valid {
                        key,
                        inactive: product.status == ProductStatus::Inactive,
                        content: Content::Built {
                            product: Box::new(product),
                            digest,
                        },
                    })
                }
            },
        }
    };
    Checked { line, outcome }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    Bmecat,
}

/// The format by file name, and whether it is gzip-compressed.
pub fn detect(key: &str) -> Option<(Format, bool)> {
    let lower = key.to_ascii_lowercase();
    let (name, gzip) = match lower.strip_suffix(".gz") {
        Some(name) => (name.to_string(), true),
        None => (lower, false),
    };
    let format = if name.ends_with(".csv") {
        Format::Csv
    } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") {
        Format::Ndjson
    } else if name.ends_with(".xml") {
        Format::Bmecat
    } else {
        return None;
    };
    Some((format, gzip))
}

/// What a reader reads: `input` decompressed (gzip) and buffered.
pub fn buffered(gzip: bool, input: Box<dyn Read + Send>) -> Box<dyn BufRead + Send> {
    let input: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else {
        input
    };
    Box::new(BufReader::with_capacity(64 * 1024, input))
}

/// Largest single record (an NDJSON line, a CSV row, a BMEcat product) accepted, so that
/// a file without line breaks cannot make the reader hold gigabytes.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// Opens a reader over `input`, decompressing gzip on the fly.
pub fn open(
    format: Format,
    gzip: bool,
    input: Box<dyn Read + Send>,
) -> Result<Box<dyn RecordSource>, ReadError> {
    let buffered = buffered(gzip, input);
    Ok(match format {
        Format::Csv => Box::new(csv::CsvSource::new(buffered)?),
        Format::Ndjson => Box::new(ndjson::NdjsonSource::new(buffered)),
        Format::Bmecat => Box::new(bmecat::BmecatSource::new(buffered)),
    })
}

/// Text from bytes: UTF-8 where valid; each byte that is not part of valid UTF-8 read as
/// Windows-1252 (which decodes any byte), so that a field mixing both (an export appended
/// to by two systems) keeps both right. Returns whether the fallback was needed.
pub fn decode_text(bytes: &[u8]) -> (String, bool) {
    let mut rest = match std::str::from_utf8(bytes) {
        Ok(text) => return (text.to_string(), false),
        Err(_) => bytes,
    };
    let mut out = String::with_capacity(bytes.len() + 16);
    loop {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                out.push_str(text);
                return (out, true);
            }
            Err(error) => {
                let (valid, invalid) = rest.split_at(error.valid_up_to());
                out.push_str(std::str::from_utf8(valid).expect("valid up to there"));
                let bad = error.error_len().unwrap_or(invalid.len());
                let (text, _) =
                    encoding_rs::WINDOWS_1252.decode_without_bom_handling(&invalid[..bad]);
                out.push_str(&text);
                rest = &invalid[bad..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_chosen_by_extension() {
        assert_eq!(detect("pim/inbox/a.CSV"), Some((Format::Csv, false)));
        assert_eq!(
            detect("pim/inbox/full/a.jsonl.gz"),
            Some((Format::Ndjson, true))
        );
        assert_eq!(detect("b.xml.gz"), Some((Format::Bmecat, true)));
        assert_eq!(detect("notes.txt"), None);
    }

    #[test]
    fn invalid_utf8_falls_back_to_windows_1252() {
        assert_eq!(
            decode_text("Größe".as_bytes()),
            ("Größe".to_string(), false)
        );
        assert_eq!(
            decode_text(b"Gr\xf6\xdfe \x80"),
            ("Größe €".to_string(), true)
        );
        // Both in one field: each part as it was meant.
        assert_eq!(
            decode_text(b"Gr\xc3\xbcn 5 \x80"),
            ("Grün 5 €".to_string(), true)
        );
        assert_eq!(decode_text(b"\xc3"), ("Ã".to_string(), true));
    }
}

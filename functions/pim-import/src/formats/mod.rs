//! Readers of the PIM formats. Each turns a byte stream into [`Record`]s of text fields
//! (`RawProduct`) one at a time, holding only the current record in memory; the quality
//! rules are applied afterwards, the same for every format.

pub mod bmecat;
pub mod csv;
pub mod ndjson;

use bridge_domain::product::{RawProduct, Rejection};
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

/// Largest single record (an NDJSON line, a CSV row, a BMEcat product) accepted, so that
/// a file without line breaks cannot make the reader hold gigabytes.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// Opens a reader over `input`, decompressing gzip on the fly.
pub fn open(
    format: Format,
    gzip: bool,
    input: Box<dyn Read + Send>,
) -> Result<Box<dyn RecordSource>, ReadError> {
    let input: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else {
        input
    };
    let buffered: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(64 * 1024, input));
    Ok(match format {
        Format::Csv => Box::new(csv::CsvSource::new(buffered)?),
        Format::Ndjson => Box::new(ndjson::NdjsonSource::new(buffered)),
        Format::Bmecat => Box::new(bmecat::BmecatSource::new(buffered)),
    })
}

/// Text from bytes: UTF-8 when valid, otherwise Windows-1252 (which decodes any byte).
/// Returns whether the fallback was needed.
pub fn decode_text(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), false),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text.into_owned(), true)
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
    }
}

//! The CSV reader of snapshots: gzip undone, a BOM skipped (UTF-16 refused), the
//! delimiter detected (`,`, `;` or tab, as the PIM import detects it), line ends made one,
//! over-long lines refused, and the header's columns found by name; rows come one at a
//! time with the line they start on.

use super::fields::Problem;
use bridge_domain::InvalidValue;
use std::io::{BufRead, BufReader, Read};

/// A line (a row, or a header) longer than this fails the file: a file without line
/// breaks must not make the reader hold it whole.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::tests::rows;
    use crate::snapshot::{Snapshot, Stock, StockRow};

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
    fn a_line_without_end_fails_the_file() {
        let mut text = b"sku,warehouse,available,revision\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        assert!(matches!(
            rows::<Stock>(&text, false),
            Err(ReadError::File(_))
        ));
    }
}

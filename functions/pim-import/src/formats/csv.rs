//! CSV (contract section 3): header row; `,` `;` or tab, detected from the header; UTF-8
//! with or without BOM, or Windows-1252 (detected per field, reported as a warning);
//! RFC 4180 quoting; CRLF or LF.

use super::{MAX_RECORD_BYTES, ReadError, Record, RecordSource, decode_text};
use bridge_domain::product::RawProduct;
use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, Read};
use std::sync::{Arc, Mutex};

/// Newline positions of the bytes handed to the CSV parser, so that each record's line is
/// exact (the csv crate's own line count is off for CRLF, quoted newlines and blank lines).
/// Positions behind the last record asked about are folded into a count: memory stays
/// bounded by the parser's read-ahead.
#[derive(Default)]
struct Newlines {
    before: u64,
    positions: VecDeque<u64>,
    delivered: u64,
    /// Where the record being parsed starts: the parser may buffer a record whole.
    record_start: u64,
}

impl Newlines {
    /// The line a record ends on, given the parser's position after it: the parser stops
    /// after an LF terminator but before the LF of a CRLF one, so a newline just before
    /// `end` is the record's own terminator.
    fn line_ending_before(&mut self, end: u64) -> u64 {
        self.record_start = end;
        let mut terminator = false;
        while let Some(&p) = self.positions.front() {
            if p >= end {
                break;
            }
            terminator = p + 1 == end;
            self.positions.pop_front();
            self.before += 1;
        }
        self.before + 1 - u64::from(terminator)
    }
}

struct CountingReader {
    inner: Box<dyn BufRead + Send>,
    newlines: Arc<Mutex<Newlines>>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        {
            let newlines = self.newlines.lock().unwrap_or_else(|p| p.into_inner());
            // One record may not take the rest of the file into memory (an unclosed quote).
            if newlines.delivered - newlines.record_start > (MAX_RECORD_BYTES + buf.len()) as u64 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "a record is longer than {MAX_RECORD_BYTES} bytes (an unclosed quote?)"
                    ),
                ));
            }
        }
        let n = self.inner.read(buf)?;
        let mut newlines = self.newlines.lock().unwrap_or_else(|p| p.into_inner());
        let start = newlines.delivered;
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n') {
            newlines.positions.push_back(start + i as u64);
        }
        newlines.delivered += n as u64;
        Ok(n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Sku,
    Gtin,
    Name(String),
    Description(String),
    Brand,
    Category,
    Unit,
    Weight,
    Images,
    Status,
    Attribute(String),
    Ignored,
}

fn column(name: &str) -> Column {
    let name = name.trim();
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "sku" => Column::Sku,
        "gtin" | "ean" => Column::Gtin,
        "brand" => Column::Brand,
        "category" => Column::Category,
        "unit" => Column::Unit,
        "weight_kg" => Column::Weight,
        "images" => Column::Images,
        "status" => Column::Status,
        _ => {
            if let Some(locale) = name.strip_prefix("name.") {
                Column::Name(locale.to_string())
            } else if let Some(locale) = name.strip_prefix("description.") {
                Column::Description(locale.to_string())
            } else if let Some(code) = name.strip_prefix("attr.") {
                Column::Attribute(code.to_string())
            } else {
                Column::Ignored
            }
        }
    }
}

/// The delimiter that occurs most often outside quotes in the header line.
fn detect_delimiter(header: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &byte in header {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                for (delimiter, count) in counts.iter_mut() {
                    if byte == *delimiter {
                        *count += 1;
                    }
                }
            }
            _ => {}
        }
    }
    counts
        .iter()
        .max_by_key(|(_, count)| *count)
        .map(|(d, _)| *d)
        .unwrap_or(b',')
}

pub struct CsvSource {
    reader: csv::Reader<CountingReader>,
    newlines: Arc<Mutex<Newlines>>,
    columns: Vec<Column>,
    record: csv::ByteRecord,
    warnings: BTreeSet<String>,
    done: bool,
}

impl CsvSource {
    pub fn new(mut input: Box<dyn BufRead + Send>) -> Result<Self, ReadError> {
        let io = |e: std::io::Error| super::io_error(&e, "cannot read the file");
        let mut warnings = BTreeSet::new();
        let head = input.fill_buf().map_err(io)?;
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            input.consume(3);
        } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            return Err(ReadError::File(
                "the file is UTF-16; export it as UTF-8 (or Windows-1252)".into(),
            ));
        }
        let delimiter = detect_delimiter(input.fill_buf().map_err(io)?);
        if delimiter != b',' {
            warnings.insert(format!(
                "delimiter detected: {}",
                if delimiter == b'\t' {
                    "tab".to_string()
                } else {
                    (delimiter as char).to_string()
                }
            ));
        }
        let newlines = Arc::new(Mutex::new(Newlines::default()));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(CountingReader {
                inner: input,
                newlines: newlines.clone(),
            });
        let mut header = csv::ByteRecord::new();
        let read = reader
            .read_byte_record(&mut header)
            .map_err(|e| ReadError::File(format!("cannot read the header row: {e}")))?;
        if !read {
            return Err(ReadError::File("the file is empty (no header row)".into()));
        }
        let mut columns = Vec::new();
        for field in header.iter() {
            let (name, fallback) = decode_text(field);
            if fallback {
                warnings.insert("the file is not UTF-8; it was read as Windows-1252".into());
            }
            let column = column(&name);
            if column == Column::Ignored && !name.trim().is_empty() {
                warnings.insert(format!(
                    "column {:?} is not part of the format and was ignored",
                    name.trim()
                ));
            }
            columns.push(column);
        }
        if !columns.contains(&Column::Sku) {
            return Err(ReadError::File("the header has no sku column".into()));
        }
        Ok(Self {
            reader,
            newlines,
            columns,
            record: csv::ByteRecord::new(),
            warnings,
            done: false,
        })
    }
}

impl CsvSource {
    /// The line the last record started on.
    fn record_line(&self, newlines_inside: u64) -> u64 {
        let end = self.reader.position().byte();
        let ends_on = self
            .newlines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .line_ending_before(end);
        ends_on.saturating_sub(newlines_inside).max(1)
    }
}

impl RecordSource for CsvSource {
    fn next_record(&mut self) -> Option<Result<Record, ReadError>> {
        loop {
            if let Some(next) = self.read_one() {
                return next;
            }
        }
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.iter().cloned().collect()
    }
}

impl CsvSource {
    /// One row; `None` for a blank row to skip (a loop, not recursion: exports end with
    /// thousands of `;;;;` rows).
    fn read_one(&mut self) -> Option<Option<Result<Record, ReadError>>> {
        if self.done {
            return Some(None);
        }
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => {
                self.done = true;
                Some(None)
            }
            Err(e) => {
                let line = self.record_line(0);
                Some(Some(Err(match e.kind() {
                    // A broken row is that row's problem; a broken stream is the file's.
                    csv::ErrorKind::Io(io) => {
                        self.done = true;
                        super::io_error(io, &format!("after line {line}"))
                    }
                    _ => ReadError::record(line, "-", "malformed_row", e.to_string()),
                })))
            }
            Ok(true) => {
                let inside = self
                    .record
                    .iter()
                    .flatten()
                    .filter(|&&b| b == b'\n')
                    .count() as u64;
                let line = self.record_line(inside);
                if self
                    .record
                    .iter()
                    .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
                {
                    return None;
                }
                if self.record.len() > self.columns.len() {
                    let mut rejection = ReadError::record(
                        line,
                        "-",
                        "too_many_fields",
                        format!(
                            "{} fields, the header has {}",
                            self.record.len(),
                            self.columns.len()
                        ),
                    );
                    // The sku still counts as present (a full catalog must not deactivate it).
                    if let ReadError::Record(r) = &mut rejection {
                        r.sku = self
                            .columns
                            .iter()
                            .position(|c| *c == Column::Sku)
                            .and_then(|i| self.record.get(i))
                            .map(|bytes| decode_text(bytes).0.trim().to_string());
                    }
                    return Some(Some(Err(rejection)));
                }
                let mut raw = RawProduct::default();
                for (column, bytes) in self.columns.iter().zip(self.record.iter()) {
                    let (text, fallback) = decode_text(bytes.trim_ascii());
                    if fallback {
                        self.warnings
                            .insert("the file is not UTF-8; it was read as Windows-1252".into());
                    }
                    match column {
                        Column::Sku => raw.sku = Some(text),
                        Column::Gtin => raw.gtin = Some(text),
                        Column::Name(locale) => raw.names.push((locale.clone(), text)),
                        Column::Description(locale) => {
                            raw.descriptions.push((locale.clone(), text))
                        }
                        Column::Brand => raw.brand = Some(text),
                        Column::Category => raw.category = Some(text),
                        Column::Unit => raw.unit = Some(text),
                        Column::Weight => raw.weight_kg = Some(text),
                        Column::Images => {
                            raw.images = text
                                .split('|')
                                .map(|s| s.trim().to_string())
                                .filter(|s| !s.is_empty())
                                .collect()
                        }
                        Column::Status => raw.status = Some(text),
                        Column::Attribute(code) => raw.attributes.push((code.clone(), text)),
                        Column::Ignored => {}
                    }
                }
                Some(Some(Ok(Record { line, raw })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> (Vec<Result<Record, ReadError>>, Vec<String>) {
        let mut source = CsvSource::new(Box::new(std::io::Cursor::new(bytes.to_vec()))).unwrap();
        let mut out = Vec::new();
        while let Some(r) = source.next_record() {
            out.push(r);
        }
        (out, source.warnings())
    }

    #[test]
    fn semicolons_bom_crlf_and_quotes_are_handled() {
        let file = "\u{feff}sku;name.de-DE;attr.color;images\r\nA-1;\"Bohrer; 8 mm\";rot;http://x/1.jpg|http://x/2.jpg\r\n\"B-2\";\"Sägeblatt \"\"Pro\"\"\r\nzweite Zeile\";;\r\n";
        let (records, warnings) = read(file.as_bytes());
        let first = records[0].as_ref().unwrap();
        assert_eq!(first.line, 2);
        assert_eq!(first.raw.sku.as_deref(), Some("A-1"));
        assert_eq!(
            first.raw.names,
            vec![("de-DE".to_string(), "Bohrer; 8 mm".to_string())]
        );
        assert_eq!(first.raw.images.len(), 2);
        let second = records[1].as_ref().unwrap();
        assert_eq!(second.line, 3);
        assert_eq!(second.raw.names[0].1, "Sägeblatt \"Pro\"\r\nzweite Zeile");
        assert!(warnings.iter().any(|w| w.contains("delimiter detected: ;")));
    }

    #[test]
    fn lines_count_quoted_newlines_blank_lines_and_crlf() {
        let (records, _) = read(b"sku,name.de\r\nA,\"x\r\ny\"\r\n\r\nB,z\r\nC,w\n");
        let lines: Vec<u64> = records.iter().map(|r| r.as_ref().unwrap().line).collect();
        assert_eq!(lines, vec![2, 5, 6]);
    }

    #[test]
    fn windows_1252_is_detected_and_reported() {
        let (records, warnings) = read(b"sku\tname.de\nA-1\tGr\xf6\xdfe 10\n");
        assert_eq!(records[0].as_ref().unwrap().raw.names[0].1, "Größe 10");
        assert!(warnings.iter().any(|w| w.contains("Windows-1252")));
    }

    #[test]
    fn an_unclosed_quote_does_not_take_the_file_into_memory() {
        let mut file = b"sku,name.de\nA,\"unclosed\n".to_vec();
        file.extend(std::iter::repeat_n(b"x,y\n".as_slice(), 3 * 1024 * 1024).flatten());
        let (records, _) = read(&file);
        assert!(
            matches!(records.last(), Some(Err(ReadError::File(m))) if m.contains("unclosed quote")),
            "{:?}",
            records.last()
        );
    }

    #[test]
    fn a_file_without_sku_column_is_refused() {
        let err = CsvSource::new(Box::new(std::io::Cursor::new(b"name.de\nx\n".to_vec())))
            .err()
            .unwrap();
        assert!(matches!(err, ReadError::File(m) if m.contains("sku")));
    }

    #[test]
    fn a_row_with_too_many_fields_is_rejected_alone() {
        let (records, _) = read(b"sku,name.de\nA,x,extra\nB,y\n");
        assert!(
            matches!(&records[0], Err(ReadError::Record(r)) if r.code == "too_many_fields" && r.line == 2)
        );
        assert!(records[1].is_ok());
    }
}

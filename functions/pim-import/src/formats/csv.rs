//! CSV (contract section 3): header row; `,` `;` or tab, detected from the header; UTF-8
//! with or without BOM, or Windows-1252 (detected per field, reported as a warning);
//! RFC 4180 quoting; CRLF or LF.
//!
//! Parsed by csv-core (the csv crate's parser) straight from the buffered input, which
//! also gives each record's exact line without a second look at its bytes (`Parser`).
//! The import's path through a row ([`RecordSource::next_checked`]) works in place: one
//! `Fields` buffer reused for every row, the columns mapped once from the header (which
//! field holds the sku, the names in locale order, the attributes in key order), the
//! quality rules and the content encoding over `&str` slices of the record. A row that is
//! not well-formed UTF-8, or that any rule doubts, goes the general way instead (fields
//! decoded into a `RawProduct`, Windows-1252 where needed, `validate_product`), which is
//! also where every rejection is worded. Both ways hash the same content the same.

use super::{
    Checked, MAX_RECORD_BYTES, Outcome, ReadError, Record, RecordSource, Valid, check_owned,
    decode_text,
};
use crate::content::{self, Encoder};
use bridge_domain::product::{Gtin, Locale, RawProduct, check_unit};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};

const NOT_UTF8: &str = "the file is not UTF-8; it was read as Windows-1252";

/// The most of the first line looked at to find the delimiter.
const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// Parsed after the input's end: a record that ends inside quotes takes it into its last
/// field (csv-core ends such a field at the end of input without complaint: a file cut
/// short would import its last row with a partial value); after any other ending it is a
/// record of its own, `\x00` alone.
const SENTINEL: &[u8] = b"\n\x00";

/// One parsed record, reused for every row: its fields' bytes end to end and where each
/// ends, as csv-core writes them.
#[derive(Default)]
pub(crate) struct Fields {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    len: usize,
}

impl Fields {
    fn len(&self) -> usize {
        self.len
    }

    /// The fields' bytes end to end.
    fn as_slice(&self) -> &[u8] {
        let end = self.ends[..self.len].last().copied().unwrap_or(0);
        &self.bytes[..end]
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends[..self.len].get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends[..self.len].iter().map(move |&end| {
            let field = &self.bytes[start..end];
            start = end;
            field
        })
    }
}

/// A record read, with the line it starts on.
enum Parsed {
    Record(u64),
    /// The record ran into the sentinel: the input ended inside a quoted field.
    EndsInQuotes(u64),
    End,
}

/// csv-core over the buffered input (RFC 4180, `""` inside quotes, CRLF, LF or CR). Each
/// record's line comes from the parser's own count of `\n` consumed and the first and last
/// byte of the record's read: a record that ended on `\n` (LF) consumed it, one that ended
/// on `\r` (CRLF) leaves its `\n` to the next read, and a `\n` first in a read is not the
/// record's own (a CRLF's, or a blank line). Only when more `\n` were consumed than those
/// (blank lines, quoted newlines) are the record's own counted.
struct Parser {
    input: Box<dyn BufRead + Send>,
    core: csv_core::Reader,
    /// Bytes consumed so far, the sentinel's included.
    consumed: u64,
    /// `\n` consumed up to the end of the last record.
    newlines: u64,
    /// Once the input has ended: its length, and the sentinel's bytes still to parse.
    ended: Option<(u64, &'static [u8])>,
    delimiter: u8,
    /// Plain lines read without csv-core ([`plain_line`]); off only in the test that
    /// compares both ways.
    plain_lines: bool,
}

impl Parser {
    fn new(input: Box<dyn BufRead + Send>, delimiter: u8) -> Self {
        Parser {
            input,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            consumed: 0,
            newlines: 0,
            ended: None,
            delimiter,
            plain_lines: true,
        }
    }

    /// The next record into `fields`.
    fn next(&mut self, fields: &mut Fields) -> Result<Parsed, ReadError> {
        if fields.bytes.len() < 1024 {
            fields.bytes.resize(1024, 0);
        }
        if fields.ends.len() < 64 {
            fields.ends.resize(64, 0);
        }
        let started = self.consumed;
        let (mut written, mut ends) = (0, 0);
        let (mut first, mut last) = (None, None);
        loop {
            let input: &[u8] = match self.ended {
                Some((_, rest)) => rest,
                None => self.input.fill_buf().map_err(|e| {
                    super::io_error(&e, &format!("after line {}", self.newlines + 1))
                })?,
            };
            // The header always goes through csv-core (its first read strips a BOM).
            if self.plain_lines
                && self.consumed == started
                && started > 0
                && self.ended.is_none()
                && let Some((taken, skipped)) = plain_line(input, self.delimiter, fields)
            {
                let line = self.core.line() + skipped;
                self.core.set_line(line + 1);
                self.newlines = line;
                self.input.consume(taken);
                self.consumed += taken as u64;
                return Ok(Parsed::Record(line));
            }
            if input.is_empty() && self.ended.is_none() {
                self.ended = Some((self.consumed, SENTINEL));
                continue;
            }
            let (result, read, wrote, ended) = self.core.read_record(
                input,
                &mut fields.bytes[written..],
                &mut fields.ends[ends..],
            );
            if read > 0 {
                first.get_or_insert(input[0]);
                last = Some(input[read - 1]);
            }
            match &mut self.ended {
                Some((_, rest)) => *rest = &rest[read..],
                None => self.input.consume(read),
            }
            self.consumed += read as u64;
            written += wrote;
            ends += ended;
            // One record may not take the rest of the file into memory (an unclosed quote).
            if self.consumed - started > MAX_RECORD_BYTES as u64 {
                return Err(ReadError::File(format!(
                    "a record is longer than {MAX_RECORD_BYTES} bytes (an unclosed quote?), after line {}",
                    self.newlines + 1
                )));
            }
            match result {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull => {
                    let size = 2 * fields.bytes.len();
                    fields.bytes.resize(size, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let size = 2 * fields.ends.len();
                    fields.ends.resize(size, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    fields.len = ends;
                    let line = self.record_line(fields, first, last);
                    return Ok(match self.ended {
                        Some((input_len, _))
                            if self.consumed >= input_len + SENTINEL.len() as u64 =>
                        {
                            if fields.len() == 1 && fields.get(0) == Some(&SENTINEL[1..]) {
                                Parsed::End
                            } else {
                                Parsed::EndsInQuotes(line)
                            }
                        }
                        _ => Parsed::Record(line),
                    });
                }
                csv_core::ReadRecordResult::End => return Ok(Parsed::End),
            }
        }
    }

    /// The line the record just read starts on, given the first and last byte of its read.
    fn record_line(&mut self, fields: &Fields, first: Option<u8>, last: Option<u8>) -> u64 {
        let newlines = self.core.line().saturating_sub(1);
        let consumed = newlines.saturating_sub(self.newlines);
        let own = u64::from(last == Some(b'\n'));
        let before = u64::from(first == Some(b'\n'));
        let inside = if consumed <= own + before {
            0
        } else {
            count_newlines(fields.as_slice())
        };
        self.newlines = newlines;
        (1 + newlines).saturating_sub(inside + own).max(1)
    }
}

/// The record at the start of `input` without csv-core, when it is a plain line whole in
/// the buffer (most rows): ends in `\n` (or `\r\n`), no other `\r` outside quotes, and
/// each quoted field closes right before a delimiter or the line's end with no `""`
/// inside. Then its fields are what csv-core makes of it (tested side by side, and
/// fuzzed), found by `memchr` instead of csv-core's byte-at-a-time state machine, which
/// costs about as much per row as the rules and the hash. Blank lines and a CRLF's `\n` left before the
/// record are skipped as csv-core skips them. Returns the bytes taken and the `\n`
/// skipped before the record; `None` (nothing taken) leaves the record to csv-core.
fn plain_line(input: &[u8], delimiter: u8, fields: &mut Fields) -> Option<(usize, u64)> {
    let skip = input.iter().position(|&b| b != b'\n' && b != b'\r')?;
    let skipped = count_newlines(&input[..skip]);
    let rest = &input[skip..];
    let newline = memchr::memchr(b'\n', rest)?;
    let line = match &rest[..newline] {
        [line @ .., b'\r'] => line,
        line => line,
    };
    if fields.bytes.len() < line.len() {
        fields.bytes.resize(line.len(), 0);
    }
    let (mut at, mut written, mut count) = (0, 0, 0);
    loop {
        let (field, next) = if line.get(at) == Some(&b'"') {
            let close = at + 1 + memchr::memchr(b'"', &line[at + 1..])?;
            match line.get(close + 1) {
                None => (&line[at + 1..close], None),
                Some(&b) if b == delimiter => (&line[at + 1..close], Some(close + 2)),
                // `""` inside, or text after the closing quote: csv-core's to read.
                Some(_) => return None,
            }
        } else {
            match memchr::memchr2(delimiter, b'\r', &line[at..]) {
                None => (&line[at..], None),
                Some(end) if line[at + end] == delimiter => {
                    (&line[at..at + end], Some(at + end + 1))
                }
                // A lone `\r` ends a record for csv-core.
                Some(_) => return None,
            }
        };
        fields.bytes[written..written + field.len()].copy_from_slice(field);
        written += field.len();
        if fields.ends.len() <= count {
            fields.ends.resize(2 * (count + 1), 0);
        }
        fields.ends[count] = written;
        count += 1;
        match next {
            Some(next) => at = next,
            None => break,
        }
    }
    fields.len = count;
    Some((skip + newline + 1, skipped))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Column {
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

/// Where a field goes when a row is checked in place: a single field's slot, or `Other`
/// (names, descriptions and attributes are looked up by column; ignored columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Other,
    Sku,
    Gtin,
    Brand,
    Category,
    Unit,
    Weight,
    Images,
    Status,
}

const SLOTS: usize = 9;

/// Columns sharing one key (a canonical locale, an attribute code), in file order.
#[derive(Debug)]
struct Group {
    key: String,
    columns: Vec<usize>,
}

/// Where the header puts each field, worked out once per file so that a row is checked
/// without looking at column names. A field given in several columns resolves as
/// `validate_product` resolves the `RawProduct` the general path builds: single fields
/// from their last column in the row, names of one locale from their last non-empty
/// column, attribute values of one code joined with `|` in column order.
#[derive(Debug, Default)]
struct Plan {
    /// The slot of each column's field.
    slots: Vec<Slot>,
    /// By canonical locale, in locale order (the product's map order).
    names: Vec<Group>,
    descriptions: Vec<Group>,
    /// Name and description columns whose locale is not one: any text in them is rejected.
    bad_locales: Vec<usize>,
    /// By trimmed code, in code order.
    attributes: Vec<Group>,
    /// What the header's keys and the JSON syntax can add to a product's size beyond 8
    /// bytes per byte of the row (JSON escapes a byte into at most 6).
    json_overhead: usize,
}

impl Plan {
    fn new(columns: &[Column], header_bytes: usize) -> Self {
        let mut plan = Plan {
            slots: vec![Slot::Other; columns.len()],
            json_overhead: 1024 + 8 * header_bytes + 16 * columns.len(),
            ..Plan::default()
        };
        let mut names: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut descriptions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut attributes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, column) in columns.iter().enumerate() {
            match column {
                Column::Sku => plan.slots[i] = Slot::Sku,
                Column::Gtin => plan.slots[i] = Slot::Gtin,
                Column::Brand => plan.slots[i] = Slot::Brand,
                Column::Category => plan.slots[i] = Slot::Category,
                Column::Unit => plan.slots[i] = Slot::Unit,
                Column::Weight => plan.slots[i] = Slot::Weight,
                Column::Images => plan.slots[i] = Slot::Images,
                Column::Status => plan.slots[i] = Slot::Status,
                Column::Name(locale) | Column::Description(locale) => match Locale::parse(locale) {
                    Ok(locale) => {
                        let map = if matches!(column, Column::Name(_)) {
                            &mut names
                        } else {
                            &mut descriptions
                        };
                        map.entry(locale.as_str().to_string()).or_default().push(i);
                    }
                    Err(_) => plan.bad_locales.push(i),
                },
                Column::Attribute(code) => attributes
                    .entry(code.trim().to_string())
                    .or_default()
                    .push(i),
                Column::Ignored => {}
            }
        }
        let groups = |map: BTreeMap<String, Vec<usize>>| {
            map.into_iter()
                .map(|(key, columns)| Group { key, columns })
                .collect()
        };
        plan.names = groups(names);
        plan.descriptions = groups(descriptions);
        plan.attributes = groups(attributes);
        plan
    }
}

/// A row as the csv crate parsed it, with the columns that name its fields.
pub(crate) struct Row<'a> {
    columns: &'a [Column],
    record: &'a Fields,
}

impl Row<'_> {
    /// The row's fields as text (Windows-1252 for fields that are not UTF-8, reported as
    /// `true`).
    pub(crate) fn raw_product(&self) -> (RawProduct, bool) {
        let mut raw = RawProduct::default();
        let mut not_utf8 = false;
        for (column, bytes) in self.columns.iter().zip(self.record.iter()) {
            let (text, fallback) = decode_text(bytes.trim_ascii());
            not_utf8 |= fallback;
            match column {
                Column::Sku => raw.sku = Some(text),
                Column::Gtin => raw.gtin = Some(text),
                Column::Name(locale) => raw.names.push((locale.clone(), text)),
                Column::Description(locale) => raw.descriptions.push((locale.clone(), text)),
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
        (raw, not_utf8)
    }
}

/// What the in-place check found in a valid row.
struct InPlace {
    key: u64,
    inactive: bool,
    /// Bytes of the content encoding.
    encoded: usize,
}

/// An empty vector of string slices with the allocation of `v`, for slices of another
/// lifetime (collecting in place keeps the allocation: no allocation per row).
fn reuse<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    // Emptied first: the collect below then has nothing to walk.
    v.clear();
    v.into_iter().map(|_| "").collect()
}

/// Unit codes the rules accepted in this file (a catalog uses a handful).
#[derive(Default)]
struct Units(Vec<Box<str>>);

impl Units {
    fn accepts(&mut self, code: &str) -> bool {
        if self.0.iter().any(|known| **known == *code) {
            return true;
        }
        let ok = check_unit(code).is_ok();
        if ok && self.0.len() < 32 {
            self.0.push(code.into());
        }
        ok
    }
}

/// Whether `sku` certainly passes the identifier rule of `Sku` (1 to 64 ASCII letters,
/// digits and `-_./:`), checked without building one. Anything else takes the general
/// path, where `Sku` itself judges it.
fn plain_sku(sku: &str) -> bool {
    (1..=64).contains(&sku.len())
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b':'))
}

/// How many `\n` the bytes hold (a record's own, inside quotes: rare).
fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// `str::trim`: nothing to do when both ends are visible ASCII (most fields); else ASCII
/// whitespace off both ends, and the general (Unicode) trim if an end is then not ASCII.
#[inline(always)]
fn trim(text: &str) -> &str {
    let visible = |b: u8| b > b' ' && b < 0x80;
    match text.as_bytes() {
        [] => text,
        [first, .., last] if visible(*first) && visible(*last) => text,
        [only] if visible(*only) => text,
        _ => trim_ends(text),
    }
}

#[inline(never)]
fn trim_ends(text: &str) -> &str {
    // What `char::is_whitespace` holds in ASCII: tab, LF, VT, FF, CR and space.
    let space = |b: u8| b == b' ' || (b'\t'..=b'\r').contains(&b);
    let bytes = text.as_bytes();
    let (mut start, mut end) = (0, bytes.len());
    while start < end && space(bytes[start]) {
        start += 1;
    }
    while end > start && space(bytes[end - 1]) {
        end -= 1;
    }
    if start < end && (bytes[start] >= 0x80 || bytes[end - 1] >= 0x80) {
        return text[start..end].trim();
    }
    &text[start..end]
}

/// Where the byte `needle` first occurs, eight bytes at a time.
#[inline]
fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(needle);
    let mut words = haystack.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ pattern;
        // The lowest byte that is zero sets its high bit (higher ones may be false hits).
        let zero = word.wrapping_sub(ONES) & !word & HIGHS;
        if zero != 0 {
            return Some(at + zero.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|p| at + p)
}

/// Each part of `text` between the ASCII byte `separator`, trimmed, if not empty (splitting
/// UTF-8 at an ASCII byte leaves whole characters on both sides).
#[inline]
fn for_parts<'t>(text: &'t str, separator: u8, mut f: impl FnMut(&'t str)) {
    let bytes = text.as_bytes();
    let mut start = 0;
    loop {
        let end = find_byte(&bytes[start..], separator).map_or(bytes.len(), |p| start + p);
        // Spaces around a separator (`a > b`) are the rule: off by index, then the trim's
        // fast path holds.
        let (mut first, mut last) = (start, end);
        while first < last && bytes[first] == b' ' {
            first += 1;
        }
        while last > first && bytes[last - 1] == b' ' {
            last -= 1;
        }
        let part = trim(&text[first..last]);
        if !part.is_empty() {
            f(part);
        }
        if end == bytes.len() {
            return;
        }
        start = end + 1;
    }
}

/// The quality rules and the content encoding over the row in place. `None` when the row
/// is not well-formed UTF-8 or a rule doubts it: the general path decides then.
fn check_in_place<'a>(
    plan: &Plan,
    record: &'a Fields,
    fields: &mut Vec<&'a str>,
    buffer: &mut Vec<u8>,
    units: &mut Units,
    sku_out: &mut String,
) -> Option<InPlace> {
    let bytes = record.as_slice();
    if plan.json_overhead + 8 * bytes.len() > content::MAX_PRODUCT_BYTES {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    // One pass over the row: each field trimmed, single fields into their slot (a later
    // column overrides an earlier one, as in the `RawProduct` the general path builds).
    let mut slots: [&str; SLOTS] = [""; SLOTS];
    // The record's fields lie end to end in its bytes.
    let mut rest = text;
    for (field, &slot) in record.iter().zip(&plan.slots) {
        // A character split between two fields: not UTF-8 field by field.
        let (field, after) = rest.split_at_checked(field.len())?;
        rest = after;
        let field = trim(field);
        fields.push(field);
        slots[slot as usize] = field;
    }
    let len = fields.len();
    let present = |slot: Slot| Some(slots[slot as usize]).filter(|t| !t.is_empty());

    let sku = present(Slot::Sku)?;
    if !plain_sku(sku) {
        return None;
    }
    let mut encoder = Encoder::new(buffer);
    encoder.text(sku);
    match present(Slot::Gtin) {
        Some(gtin) => {
            Gtin::check(gtin).ok()?;
            encoder.text(gtin);
        }
        None => encoder.end(),
    }
    if plan
        .bad_locales
        .iter()
        .any(|&i| i < len && !fields[i].is_empty())
    {
        return None;
    }
    let mut names = 0;
    for (groups, is_names) in [(&plan.names, true), (&plan.descriptions, false)] {
        for group in groups {
            let value = match group.columns.as_slice() {
                [only] => fields.get(*only).copied().filter(|t| !t.is_empty()),
                columns => columns
                    .iter()
                    .rev()
                    .filter(|&&i| i < len)
                    .map(|&i| fields[i])
                    .find(|t| !t.is_empty()),
            };
            if let Some(value) = value {
                encoder.text(&group.key);
                encoder.text(value);
                names += usize::from(is_names);
            }
        }
        encoder.end();
        if is_names && names == 0 {
            return None;
        }
    }
    encoder.optional(present(Slot::Brand));
    if let Some(category) = present(Slot::Category) {
        for_parts(category, b'>', |segment| encoder.text(segment));
    }
    encoder.end();
    match present(Slot::Unit) {
        Some(unit) => {
            if !units.accepts(unit) {
                return None;
            }
            encoder.text(unit);
        }
        None => encoder.end(),
    }
    match present(Slot::Weight) {
        Some(weight) => {
            if !content::plain_decimal(weight, &mut encoder) {
                return None;
            }
        }
        None => encoder.end(),
    }
    if let Some(images) = present(Slot::Images) {
        for_parts(images, b'|', |image| encoder.text(image));
    }
    encoder.end();
    let inactive = match present(Slot::Status) {
        None => false,
        Some(status) if status.eq_ignore_ascii_case("active") => false,
        Some(status) if status.eq_ignore_ascii_case("inactive") => true,
        Some(_) => return None,
    };
    encoder.status(if inactive {
        bridge_domain::product::ProductStatus::Inactive
    } else {
        bridge_domain::product::ProductStatus::Active
    });
    for group in &plan.attributes {
        let mut started = false;
        for &i in group.columns.iter().take_while(|&&i| i < len) {
            let value = fields[i];
            if value.is_empty() {
                continue;
            }
            if started {
                encoder.piece("|");
            } else {
                encoder.text(&group.key);
                started = true;
            }
            encoder.piece(value);
        }
        if started {
            encoder.end_text();
        }
    }
    encoder.end();
    sku_out.clear();
    sku_out.push_str(sku);
    Some(InPlace {
        key: content::key_of(encoder.bytes()),
        inactive,
        encoded: encoder.bytes().len(),
    })
}

pub struct CsvSource {
    parser: Parser,
    columns: Vec<Column>,
    plan: Plan,
    record: Fields,
    warnings: BTreeSet<String>,
    done: bool,
    /// The content encoding and the sku of the current row.
    encoded: Vec<u8>,
    sku: String,
    /// Room for the trimmed fields of a row (empty between rows).
    fields: Vec<&'static str>,
    units: Units,
}

impl CsvSource {
    pub fn new(mut input: Box<dyn BufRead + Send>) -> Result<Self, ReadError> {
        let io = |e: std::io::Error| super::io_error(&e, "cannot read the file");
        let mut warnings = BTreeSet::new();
        // The first line whole (a stream's first read may hold less), then put back.
        let mut head = Vec::new();
        input
            .by_ref()
            .take(MAX_HEADER_BYTES)
            .read_until(b'\n', &mut head)
            .map_err(io)?;
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            head.drain(..3);
        } else if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            return Err(ReadError::File(
                "the file is UTF-16; export it as UTF-8 (or Windows-1252)".into(),
            ));
        }
        let delimiter = bridge_contract::delimited::detect_delimiter(&head);
        let input: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(head).chain(input));
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
        let mut parser = Parser::new(input, delimiter);
        let mut header = Fields::default();
        match parser.next(&mut header)? {
            Parsed::Record(_) => {}
            Parsed::End => return Err(ReadError::File("the file is empty (no header row)".into())),
            Parsed::EndsInQuotes(_) => {
                return Err(ReadError::File(
                    "the file ends inside a quoted field of the header row".into(),
                ));
            }
        }
        let mut columns = Vec::new();
        let mut header_bytes = 0;
        for field in header.iter() {
            let (name, fallback) = decode_text(field);
            if fallback {
                warnings.insert(NOT_UTF8.into());
            }
            header_bytes += name.len();
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
        let plan = Plan::new(&columns, header_bytes);
        Ok(Self {
            parser,
            columns,
            plan,
            record: Fields::default(),
            warnings,
            done: false,
            encoded: Vec::with_capacity(1024),
            sku: String::with_capacity(64),
            fields: Vec::new(),
            units: Units::default(),
        })
    }

    /// Every row through csv-core, none by [`plain_line`]: the reference the fuzz target
    /// compares the reader with.
    #[doc(hidden)]
    pub fn without_plain_lines(mut self) -> Self {
        self.parser.plain_lines = false;
        self
    }

    fn row(&self) -> Row<'_> {
        Row {
            columns: &self.columns,
            record: &self.record,
        }
    }

    /// The next row into `self.record`, skipping blank rows (a loop: exports end with
    /// thousands of `;;;;` rows); returns its line.
    fn read_row(&mut self) -> Option<Result<u64, ReadError>> {
        loop {
            if self.done {
                return None;
            }
            let line = match self.parser.next(&mut self.record) {
                Ok(Parsed::Record(line)) => line,
                Ok(Parsed::End) => {
                    self.done = true;
                    return None;
                }
                Ok(Parsed::EndsInQuotes(line)) => {
                    self.done = true;
                    return Some(Err(ReadError::File(format!(
                        "the file ends inside a quoted field, at line {line} (an unclosed quote, or the file was cut short)"
                    ))));
                }
                Err(e) => {
                    // A broken stream is the file's problem.
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if self
                .record
                .iter()
                .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
            {
                continue;
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
                return Some(Err(rejection));
            }
            return Some(Ok(line));
        }
    }

    /// The current row as an owned record.
    fn owned_record(&mut self, line: u64) -> Record {
        let (raw, not_utf8) = self.row().raw_product();
        if not_utf8 {
            self.warnings.insert(NOT_UTF8.into());
        }
        Record { line, raw }
    }
}

impl RecordSource for CsvSource {
    fn next_record(&mut self) -> Option<Result<Record, ReadError>> {
        Some(match self.read_row()? {
            Ok(line) => Ok(self.owned_record(line)),
            Err(e) => Err(e),
        })
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.iter().cloned().collect()
    }

    fn next_checked(&mut self) -> Option<Result<Checked<'_>, ReadError>> {
        let line = match self.read_row()? {
            Ok(line) => line,
            Err(e) => return Some(Err(e)),
        };
        let mut fields = reuse(std::mem::take(&mut self.fields));
        let found = check_in_place(
            &self.plan,
            &self.record,
            &mut fields,
            &mut self.encoded,
            &mut self.units,
            &mut self.sku,
        );
        self.fields = reuse(fields);
        match found {
            Some(found) => {
                let row = Row {
                    columns: &self.columns,
                    record: &self.record,
                };
                let encoding = &self.encoded[..found.encoded];
                let valid = Valid::csv(found.key, found.inactive, &self.sku, encoding, row);
                Some(Ok(Checked {
                    line,
                    outcome: Outcome::Valid(valid),
                }))
            }
            None => {
                let record = self.owned_record(line);
                Some(Ok(check_owned(record)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Outcome;

    fn read(bytes: &[u8]) -> (Vec<Result<Record, ReadError>>, Vec<String>) {
        let mut source = CsvSource::new(Box::new(std::io::Cursor::new(bytes.to_vec()))).unwrap();
        let mut out = Vec::new();
        while let Some(r) = source.next_record() {
            out.push(r);
        }
        (out, source.warnings())
    }

    /// A fixed pseudo-random sequence (xorshift): the same generated files every run.
    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// A reader handing out at most `size` bytes per read.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        size: usize,
    }

    impl Trickle {
        /// `file` behind a buffer of `size` bytes, delivered `size` bytes at a time.
        fn buffered(file: &[u8], size: usize) -> std::io::BufReader<Trickle> {
            let bytes = file.to_vec();
            std::io::BufReader::with_capacity(size, Trickle { bytes, at: 0, size })
        }
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.size.min(buf.len()).min(self.bytes.len() - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// The lines of a file's records read in deliveries of `size` bytes, or the file error.
    fn lines_of(file: &[u8], size: usize) -> Result<Vec<u64>, String> {
        let input = Trickle::buffered(file, size);
        let mut source = CsvSource::new(Box::new(input)).map_err(|e| format!("{e:?}"))?;
        let mut lines = Vec::new();
        while let Some(record) = source.next_record() {
            match record {
                Ok(record) => lines.push(record.line),
                Err(ReadError::File(message)) => return Err(message),
                Err(e) => return Err(format!("{e:?}")),
            }
        }
        Ok(lines)
    }

    /// Every record of `file` as `Parser` reads it in deliveries of `size` bytes: its line
    /// and fields, or how the input ended.
    fn parsed(file: &[u8], size: usize, plain_lines: bool) -> Vec<String> {
        let input = Trickle::buffered(file, size);
        let mut parser = Parser::new(Box::new(input), b';');
        parser.plain_lines = plain_lines;
        let mut fields = Fields::default();
        let mut out = Vec::new();
        loop {
            let record = match parser.next(&mut fields) {
                Ok(Parsed::Record(line)) => {
                    format!("{line}: {:?}", fields.iter().collect::<Vec<_>>())
                }
                Ok(Parsed::EndsInQuotes(line)) => format!("{line}: ends in quotes"),
                Ok(Parsed::End) => return out,
                Err(e) => format!("{e:?}"),
            };
            out.push(record);
        }
    }

    #[test]
    fn plain_lines_are_read_as_csv_core_reads_them() {
        let pieces: [&[u8]; 16] = [
            b"a",
            b"bc",
            b";",
            b";",
            b",",
            b"\"",
            b"\"",
            b"\"\"",
            b"\r",
            b"\n",
            b"\n",
            b"\r\n",
            b" ",
            b"\xc3\xa9",
            b"\t",
            b"\xef\xbb\xbf",
        ];
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let mut plain_taken = 0;
        for _ in 0..3000 {
            let mut file = b"sku;name\n".to_vec();
            for _ in 0..next() % 120 {
                // Mostly field text and delimiters, so that many lines are plain.
                let piece = match next() % 10 {
                    0..=3 => pieces[(next() % 4) as usize],
                    4 => b"\"x;y\"",
                    5 => b"\n",
                    _ => pieces[(next() % pieces.len() as u64) as usize],
                };
                file.extend_from_slice(piece);
            }
            for size in [1, 2, 3, 5, 16, 64, 8192] {
                let plain = parsed(&file, size, true);
                assert_eq!(
                    plain,
                    parsed(&file, size, false),
                    "file {:?} in deliveries of {size}",
                    String::from_utf8_lossy(&file)
                );
                plain_taken += plain.len();
            }
        }
        assert!(
            plain_taken > 10_000,
            "the files have records: {plain_taken}"
        );
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
        // The same when the input comes in short reads, the first shorter than the header
        // (an S3 stream's first read is not always a whole line): the BOM, the delimiter.
        for size in [1, 2, 5, 17] {
            assert_eq!(
                lines_of(file.as_bytes(), size).unwrap(),
                vec![2, 3],
                "{size}"
            );
            let input = std::io::BufReader::with_capacity(
                64 * 1024,
                Trickle {
                    bytes: file.as_bytes().to_vec(),
                    at: 0,
                    size,
                },
            );
            let mut source = CsvSource::new(Box::new(input)).unwrap();
            let first = source.next_record().unwrap().unwrap();
            assert_eq!(first.raw.sku.as_deref(), Some("A-1"), "{size}");
            assert!(
                source
                    .warnings()
                    .iter()
                    .any(|w| w.contains("delimiter detected: ;")),
                "{size}"
            );
        }
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

    #[test]
    fn the_in_place_check_accepts_exactly_the_skus_that_sku_accepts() {
        let mut texts: Vec<String> = (0u8..=127).map(|b| format!("A{}B", b as char)).collect();
        texts.extend(["Ä1", "x\u{202e}y", "\u{a0}", "é"].map(String::from));
        texts.extend((60..70).map(|n| "A".repeat(n)));
        for text in texts {
            if plain_sku(&text) {
                assert!(bridge_domain::Sku::parse(&text).is_ok(), "{text:?}");
            }
            if bridge_domain::Sku::parse(&text).is_ok() {
                assert!(
                    plain_sku(&text),
                    "{text:?} takes the general path needlessly"
                );
            }
        }
    }

    /// What the import gets for every row, in place or the general way, against the general
    /// way alone (`validate_product` over the decoded row): the same verdict, the same
    /// rejections, the same hash, the same product.
    fn compare(file: &[u8]) -> (usize, usize) {
        let open = || CsvSource::new(Box::new(std::io::Cursor::new(file.to_vec()))).unwrap();
        let (mut fast, mut general) = (open(), open());
        let (mut in_place, mut rows) = (0, 0);
        loop {
            let expected = general.next_record().map(|r| r.map(check_owned));
            let got = fast.next_checked();
            let (got, expected) = match (got, expected) {
                (None, None) => break,
                (Some(Ok(got)), Some(Ok(expected))) => (got, expected),
                (Some(Err(got)), Some(Err(expected))) => {
                    assert_eq!(got, expected);
                    continue;
                }
                (got, expected) => panic!(
                    "{:?} against {:?}",
                    got.map(|r| r.map(|c| c.line)),
                    expected.map(|r| r.map(|c| c.line))
                ),
            };
            rows += 1;
            assert_eq!(got.line, expected.line);
            match (got.outcome, expected.outcome) {
                (Outcome::Valid(got), Outcome::Valid(expected)) => {
                    in_place +=
                        usize::from(matches!(got.content, super::super::Content::Csv { .. }));
                    assert_eq!(got.sku(), expected.sku());
                    assert_eq!(got.inactive, expected.inactive);
                    assert_eq!(got.key, expected.key);
                    let got_digest = got.digest();
                    let expected_digest = expected.digest();
                    let got = got.into_pending(1).into_product().unwrap();
                    let expected = expected.into_pending(1).into_product().unwrap();
                    assert_eq!(got, expected);
                    assert_eq!(got_digest, expected_digest, "{got:?}");
                    assert_eq!(got_digest, content::digest(&got));
                }
                (Outcome::Rejected(got), Outcome::Rejected(expected)) => {
                    assert_eq!(got, expected)
                }
                (got, expected) => panic!(
                    "line {}: {} against {}",
                    got_line(&got),
                    kind(&got),
                    kind(&expected)
                ),
            }
        }
        assert_eq!(fast.warnings(), general.warnings());
        (in_place, rows)
    }

    fn kind(outcome: &Outcome<'_>) -> String {
        match outcome {
            Outcome::Valid(v) => format!("valid {}", v.sku()),
            Outcome::Deletion(s) => format!("deletion {s}"),
            Outcome::Rejected(r) => format!("rejected {r:?}"),
        }
    }

    fn got_line(outcome: &Outcome<'_>) -> String {
        kind(outcome)
    }

    #[test]
    fn rows_checked_in_place_come_out_as_the_general_path_makes_them() {
        let headers: [&[u8]; 4] = [
            b"sku;gtin;name.de-DE;name.en-GB;description.de-DE;brand;category;unit;weight_kg;images;status;attr.color;attr.material",
            // Repeated columns, a locale that is none, locales given twice in other spellings,
            // an attribute code with spaces.
            b"name.de;sku;name.DE;attr. color;attr.color;name.x1;sku;status;unit;unit;weight_kg;images;images;description.en_gb;gtin;category",
            // No name column at all.
            b"sku;gtin;unit;weight_kg",
            b"sku;name.fr;attr.a;attr.a;attr.b;ean;brand;other",
        ];
        let pool: [&[u8]; 40] = [
            b"",
            b" ",
            b"A-1",
            b" B-2 ",
            b"C 3",
            b"\xc2\xa0D-4\xc2\xa0",
            b"E\xe9",
            b"4008190143640",
            b"4008190143641",
            b"400819014364",
            b"96385074",
            b"C62",
            b"KGM",
            b"stk",
            b"05",
            b" c62",
            b"0,50",
            b"1.5",
            b"-1",
            b"abc",
            b"0.000",
            b"1e3",
            b"007.10",
            b"12345678901234567890",
            b"active",
            b"INACTIVE",
            b"Inaktiv",
            b"http://x/1.jpg| |http://x/2.jpg",
            b"a > b >> c",
            b"\"quoted; with delimiter\"",
            b"\"two\r\nlines\"",
            b"Gr\xf6\xdfe",
            b"\xe2\x82\xac 5",
            b"x|y",
            b"  padded  ",
            b"\"\"",
            b"SKU-9",
            b"SKU-9",
            b"0",
            b"\t",
        ];
        let mut next = xorshift(0x853c_49e6_748f_ea9b);
        let (mut in_place, mut rows) = (0, 0);
        for header in headers {
            let columns = header.split(|&b| b == b';').count();
            let mut file = header.to_vec();
            file.extend_from_slice(b"\n");
            for row in 0..400 {
                // Mostly good rows (so that both paths are exercised), some of anything.
                let good = row % 3 != 0;
                let width = if next().is_multiple_of(10) {
                    next() as usize % (columns + 1)
                } else {
                    columns
                };
                let fields: Vec<Vec<u8>> = (0..width)
                    .map(|i| {
                        let name = header.split(|&b| b == b';').nth(i).unwrap_or_default();
                        if good {
                            let n = next() % 50;
                            match name {
                                b"sku" => format!("SKU-{n}").into_bytes(),
                                b"gtin" | b"ean" => bridge_domain::product::Gtin::gtin13(n)
                                    .to_string()
                                    .into_bytes(),
                                b"unit" => {
                                    [b"C62".as_slice(), b"KGM", b""][n as usize % 3].to_vec()
                                }
                                b"weight_kg" => format!("{}.{}0", n, n % 7).into_bytes(),
                                b"status" => [b"active".as_slice(), b"inactive", b""]
                                    [n as usize % 3]
                                    .to_vec(),
                                b"name.x1" => Vec::new(),
                                _ => format!(" text {n} \u{e4}").into_bytes(),
                            }
                        } else {
                            pool[next() as usize % pool.len()].to_vec()
                        }
                    })
                    .collect();
                file.extend(fields.join(&b';'));
                file.extend_from_slice(if next().is_multiple_of(2) {
                    b"\r\n"
                } else {
                    b"\n"
                });
            }
            let (fast, all) = compare(&file);
            in_place += fast;
            rows += all;
        }
        assert!(
            rows > 1000 && in_place > 300,
            "{in_place} of {rows} rows checked in place"
        );
    }

    #[test]
    fn reusing_the_fields_vector_keeps_its_allocation() {
        let mut v: Vec<&str> = Vec::with_capacity(16);
        v.extend(["a", "b"]);
        let at = v.as_ptr() as usize;
        let again: Vec<&str> = reuse(v);
        assert!(again.is_empty());
        assert_eq!((again.as_ptr() as usize, again.capacity()), (at, 16));
    }

    #[test]
    fn the_byte_helpers_agree_with_the_std_ones() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{a0}x\u{a0}",
            "\u{1}x",
            "x\u{b}",
            "é",
            " é ",
            "a>b> >c>",
            ">",
            "\u{3000}ab",
            "a|b||c |",
            " \u{a0} x ",
            "\t\r\n",
            "\u{85}a",
            "a\u{2000}",
            "x\u{c}",
            " \u{1f} ",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
            for separator in [b'>', b'|'] {
                let mut parts = Vec::new();
                for_parts(text, separator, |p| parts.push(p));
                let expected: Vec<&str> = text
                    .split(separator as char)
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                assert_eq!(parts, expected, "{text:?}");
            }
        }
        for text in [
            &b""[..],
            b"a",
            b"abcdefgh|",
            b"abcdefghijklmnop|x|",
            b"|",
            b"0123456789",
        ] {
            assert_eq!(find_byte(text, b'|'), text.iter().position(|&b| b == b'|'));
        }
        let mut bytes = b"x\ny".repeat(40);
        bytes.extend_from_slice(b"\n\n\r\n");
        for end in 0..bytes.len() {
            let expected = bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(count_newlines(&bytes[..end]), expected);
        }
    }

    #[test]
    fn a_file_ending_inside_quotes_is_a_file_error() {
        let (records, _) = read(b"sku,name.de\nA,x\nB,\"cut sho");
        assert!(records[0].is_ok());
        assert!(
            matches!(&records[1], Err(ReadError::File(m)) if m.contains("quoted field") && m.contains("line 3")),
            "{:?}",
            records[1]
        );
        assert_eq!(records.len(), 2);
        // Quotes that close, escaped quotes, quotes inside unquoted fields, a closing quote
        // as the very last byte, CR line ends: all end outside quotes.
        for file in [
            &b"sku,name.de\nA,\"x\"\"\"\"y\"\nB,z\"q\"\n"[..],
            b"sku,name.de\r\nA,\"x,\r\ny\"",
            b"sku,name.de\rA,\"\"\rB,\"a\"b\"",
            b"sku;name.de\nA;\"\"\"\"",
        ] {
            let (records, _) = read(file);
            assert!(records.iter().all(Result::is_ok), "{file:?}: {records:?}");
        }
        // Deliveries of every size (a record's last byte, or the byte before it, in
        // another delivery than the rest): the same lines, the same ending.
        let file = b"sku,name.de\r\nA,\"a\"\"b\r\nc\"\r\n\r\nB,\"c\"\nC,d\n\n\nD,e\r\n";
        let expected = vec![2, 5, 6, 9];
        for size in 1..file.len() {
            assert_eq!(
                lines_of(file, size).unwrap(),
                expected,
                "deliveries of {size}"
            );
            let cut = lines_of(&file[..17], size).unwrap_err();
            assert!(cut.contains("line 2"), "deliveries of {size}, cut: {cut}");
        }
    }
}

//! NDJSON (`.ndjson`, `.jsonl`): one product object per line, the CSV fields with
//! `name`/`description` as `{locale: text}` maps and `attributes` as a map.

use super::{MAX_RECORD_BYTES, ReadError, Record, RecordSource};
use bridge_domain::product::RawProduct;
use serde_json::Value;
use std::io::BufRead;

/// Most JSON values and keys a line may hold (counted by the `,` `:` `[` `{` outside
/// strings). A product has a few hundred; each costs about 130 bytes once parsed, so an
/// 8 MiB line of `0,0,0,...` (8 KB of gzip) took over 500 MB before this bound.
pub const MAX_JSON_ITEMS: usize = 100_000;

/// Whether `bytes` holds more than `limit` JSON values and keys, by a scan that allocates
/// nothing (the parser's `Value` would).
fn more_items_than(bytes: &[u8], limit: usize) -> bool {
    let (mut count, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' | b':' | b'[' | b'{' => {
                count += 1;
                if count > limit {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

pub struct NdjsonSource {
    input: Box<dyn BufRead + Send>,
    line: u64,
    buffer: Vec<u8>,
    done: bool,
}

impl NdjsonSource {
    pub fn new(input: Box<dyn BufRead + Send>) -> Self {
        Self {
            input,
            line: 0,
            buffer: Vec::new(),
            done: false,
        }
    }

    /// Reads one line into the buffer; `Ok(false)` when it was longer than allowed (the
    /// rest of it is skipped).
    fn read_line(&mut self) -> std::io::Result<Option<bool>> {
        self.buffer.clear();
        let mut too_long = false;
        loop {
            let available = self.input.fill_buf()?;
            if available.is_empty() {
                return Ok(if self.buffer.is_empty() && !too_long {
                    None
                } else {
                    Some(!too_long)
                });
            }
            let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                Some(end) => (&available[..end], Some(end + 1)),
                None => (available, None),
            };
            if !too_long {
                if self.buffer.len() + chunk.len() > MAX_RECORD_BYTES {
                    too_long = true;
                    self.buffer.clear();
                } else {
                    self.buffer.extend_from_slice(chunk);
                }
            }
            let consumed = found.unwrap_or(available.len());
            self.input.consume(consumed);
            if found.is_some() {
                return Ok(Some(!too_long));
            }
        }
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn localized(value: Option<&Value>) -> Vec<(String, String)> {
    match value {
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| text(v).map(|t| (k.clone(), t)))
            .collect(),
        _ => Vec::new(),
    }
}

fn to_raw(object: &serde_json::Map<String, Value>) -> RawProduct {
    let field = |name: &str| object.get(name).and_then(text);
    RawProduct {
        sku: field("sku"),
        gtin: field("gtin"),
        names: localized(object.get("name")),
        descriptions: localized(object.get("description")),
        brand: field("brand"),
        category: match object.get("category") {
            Some(Value::Array(parts)) => Some(
                parts
                    .iter()
                    .filter_map(text)
                    .collect::<Vec<_>>()
                    .join(" > "),
            ),
            other => other.and_then(text),
        },
        unit: field("unit"),
        weight_kg: field("weight_kg"),
        images: match object.get("images") {
            Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
            Some(Value::String(s)) => s.split('|').map(str::to_string).collect(),
            _ => Vec::new(),
        },
        status: field("status"),
        attributes: match object.get("attributes") {
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::Array(items) => Some((
                        k.clone(),
                        items.iter().filter_map(text).collect::<Vec<_>>().join("|"),
                    )),
                    other => text(other).map(|t| (k.clone(), t)),
                })
                .collect(),
            _ => Vec::new(),
        },
        deletion: false,
    }
}

impl RecordSource for NdjsonSource {
    fn next_record(&mut self) -> Option<Result<Record, ReadError>> {
        loop {
            if self.done {
                return None;
            }
            let line = match self.read_line() {
                Err(e) => {
                    self.done = true;
                    return Some(Err(ReadError::File(format!(
                        "cannot read the file after line {}: {e}",
                        self.line
                    ))));
                }
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Ok(Some(fits)) => {
                    self.line += 1;
                    if !fits {
                        return Some(Err(ReadError::record(
                            self.line,
                            "-",
                            "record_too_large",
                            format!("the line is longer than {MAX_RECORD_BYTES} bytes"),
                        )));
                    }
                    self.line
                }
            };
            let mut bytes = self.buffer.as_slice();
            if line == 1 {
                bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
            }
            if bytes.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            if more_items_than(bytes, MAX_JSON_ITEMS) {
                return Some(Err(ReadError::record(
                    line,
                    "-",
                    "record_too_large",
                    format!("the line holds more than {MAX_JSON_ITEMS} JSON values and keys"),
                )));
            }
            return Some(match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(object)) => Ok(Record {
                    line,
                    raw: to_raw(&object),
                }),
                Ok(_) => Err(ReadError::record(
                    line,
                    "-",
                    "not_an_object",
                    "each line must be a JSON object",
                )),
                Err(e) => Err(ReadError::record(
                    line,
                    "-",
                    "invalid_json",
                    format!("not valid JSON: {e}"),
                )),
            });
        }
    }

    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<Record, ReadError>> {
        let mut source =
            NdjsonSource::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())));
        std::iter::from_fn(|| source.next_record()).collect()
    }

    #[test]
    fn objects_per_line_with_maps_and_blank_lines() {
        let records = read(
            "{\"sku\":\"A-1\",\"name\":{\"de\":\"Bohrer\",\"en\":\"Drill\"},\"weight_kg\":0.25,\"attributes\":{\"color\":\"red\",\"sizes\":[8,10]}}\n\n{\"sku\":\"B\"}",
        );
        let first = records[0].as_ref().unwrap();
        assert_eq!(first.raw.names.len(), 2);
        assert_eq!(first.raw.weight_kg.as_deref(), Some("0.25"));
        assert!(
            first
                .raw
                .attributes
                .contains(&("sizes".to_string(), "8|10".to_string()))
        );
        assert_eq!(records[1].as_ref().unwrap().line, 3);
    }

    #[test]
    fn a_broken_line_is_rejected_alone() {
        let records = read("{\"sku\":\"A\"}\n{broken\n[1]\n{\"sku\":\"B\"}\n");
        assert!(
            matches!(&records[1], Err(ReadError::Record(r)) if r.line == 2 && r.code == "invalid_json")
        );
        assert!(matches!(&records[2], Err(ReadError::Record(r)) if r.code == "not_an_object"));
        assert!(records[3].is_ok());
    }

    /// Found fuzzing (`fuzz/seeds/pim_ndjson/crash-gzip-many-values`, 8 KB of gzip): one
    /// line of four million values took over 500 MB to parse.
    #[test]
    fn a_line_of_too_many_values_is_rejected_before_it_is_parsed() {
        let many = format!(
            "{{\"sku\":\"A\",\"attributes\":{{\"a\":[{}0]}}}}",
            "0,".repeat(MAX_JSON_ITEMS)
        );
        let quoted = format!(
            "{{\"sku\":\"B\",\"name\":{{\"de\":\"{}\\\"\"}}}}",
            ",:[{".repeat(MAX_JSON_ITEMS)
        );
        let records = read(&format!("{many}\n{quoted}\n{{\"sku\":\"C\"}}\n"));
        assert!(
            matches!(&records[0], Err(ReadError::Record(r))
                if r.line == 1 && r.code == "record_too_large" && r.message.contains("JSON values")),
            "{:?}",
            records[0]
        );
        // Separators inside strings are text, not values.
        let quoted = records[1].as_ref().unwrap();
        assert_eq!(quoted.raw.sku.as_deref(), Some("B"));
        assert_eq!(quoted.raw.names[0].1.len(), 4 * MAX_JSON_ITEMS + 1);
        assert_eq!(records[2].as_ref().unwrap().raw.sku.as_deref(), Some("C"));
    }
}

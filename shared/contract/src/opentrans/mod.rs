//! openTRANS 2.1 documents (contract sections 8 and 9): the partner's XML read as a stream
//! (`crate::xml`), matched by local element names, so the `bmecat:` prefix or another
//! namespace binding changes nothing.

pub mod dispatch;
pub mod invoice;
pub mod order;
pub mod response;

use crate::xml::XmlError;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Why a document is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DocumentError {
    /// `not_xml`, `not_a_<document>` (another document), `missing_field`,
    /// `invalid_value`, `too_many_items`, or `read_failed` (the stream broke: retryable).
    pub code: &'static str,
    pub message: String,
}

impl DocumentError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The stream broke, not the document: reading it again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.code == "read_failed"
    }
}

impl From<XmlError> for DocumentError {
    fn from(err: XmlError) -> Self {
        match err {
            XmlError::Document(message) => DocumentError::new("not_xml", message),
            XmlError::TooLarge(message) => DocumentError::new("too_large", message),
            XmlError::Io(message) => DocumentError::new("read_failed", message),
        }
    }
}

/// Bytes read ahead to find a document's root element (the XML declaration and comments
/// come before it).
pub const ROOT_LOOKAHEAD: u64 = 16 * 1024;

/// The local name of the root element in the first bytes of a document (`None`: none in
/// them, or no XML). Only to choose the reader: the reader checks the whole document.
pub fn root_element(head: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(head);
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => return None,
            Ok(_) => buffer.clear(),
        }
    }
}

/// The most a document may have (bytes): what a reader holds stays bounded by it.
pub const MAX_DOCUMENT_BYTES: u64 = 32 * 1024 * 1024;
/// Bytes of one token (a text, a tag).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Parties one document may name (each is held while it is read).
pub const MAX_PARTIES: usize = 1_000;

/// Whether `path` ends with the local names `tail` (an element at an exact place, not a
/// namesake deeper down: a kit component's `SUPPLIER_PID` is not its item's).
pub(crate) fn ends_with(path: &[String], tail: &[&str]) -> bool {
    path.len() >= tail.len()
        && path[path.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(a, b)| a == b)
}

/// A party more than [`MAX_PARTIES`] is refused.
pub(crate) fn check_parties(count: usize) -> Result<(), DocumentError> {
    if count > MAX_PARTIES {
        return Err(DocumentError::new(
            "too_large",
            format!("more than {MAX_PARTIES} parties"),
        ));
    }
    Ok(())
}

/// Free text of a cosmetic field (a carrier's name) as one line: whitespace runs (line
/// breaks, tabs) become one space, and it is cut at `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

/// One element as a reader sees it: the local names of the open elements (the last is this
/// one), its own name and its parent's (`""` for the root).
pub(crate) struct Element<'a> {
    pub path: &'a [String],
    pub name: &'a str,
    pub parent: &'a str,
}

impl<'a> Element<'a> {
    fn of(path: &'a [String]) -> Self {
        let at = |back: usize| {
            path.len()
                .checked_sub(back)
                .map_or("", |i| path[i].as_str())
        };
        Element {
            path,
            name: at(1),
            parent: at(2),
        }
    }

    /// Whether the element sits at exactly this place (see [`ends_with`]).
    pub fn at(&self, tail: &[&str]) -> bool {
        ends_with(self.path, tail)
    }

    /// Whether it is inside an element named `name`.
    pub fn within(&self, name: &str) -> bool {
        self.path.iter().any(|p| p == name)
    }
}

/// What a reader is handed: an element opening (with its line), or closing with its text.
pub(crate) enum Seen<'a> {
    Open(Element<'a>, u64),
    Close(Element<'a>, &'a str),
}

/// Walks an openTRANS document within the limits every reader keeps ([`MAX_DOCUMENT_BYTES`],
/// [`MAX_TOKEN_BYTES`]); its root must be `root` (else `wrong_root`), and a file without
/// any element is `not_xml`.
pub(crate) fn read_elements(
    input: Box<dyn std::io::BufRead + Send>,
    root: &str,
    wrong_root: &'static str,
    mut read: impl FnMut(Seen<'_>) -> Result<(), DocumentError>,
) -> Result<(), DocumentError> {
    let mut root_seen = false;
    crate::xml::walk::<DocumentError>(input, MAX_TOKEN_BYTES, MAX_DOCUMENT_BYTES, |visit| {
        match visit {
            crate::xml::Visit::Open { path, line, .. } => {
                let element = Element::of(path);
                if path.len() == 1 {
                    expect_root(element.name, root, wrong_root)?;
                    root_seen = true;
                }
                read(Seen::Open(element, line))
            }
            crate::xml::Visit::Close { path, text, .. } => {
                read(Seen::Close(Element::of(path), text))
            }
        }
    })?;
    if !root_seen {
        return Err(DocumentError::new(
            "not_xml",
            "the file holds no XML element",
        ));
    }
    Ok(())
}

/// A text as a value: `None` when empty.
pub(crate) fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// The document's root element must be `expected`.
pub(crate) fn expect_root(
    name: &str,
    expected: &str,
    code: &'static str,
) -> Result<(), DocumentError> {
    if name == expected {
        return Ok(());
    }
    Err(DocumentError::new(
        code,
        format!("the document is a {name}, not an openTRANS {expected}"),
    ))
}

/// A required element's text.
pub(crate) fn required<T>(value: Option<T>, path: &str) -> Result<T, DocumentError> {
    value.ok_or_else(|| DocumentError::new("missing_field", format!("{path} is missing")))
}

/// A `dtDATETIME` element's value.
pub(crate) fn required_datetime(
    text: Option<&str>,
    path: &str,
) -> Result<DateTime<Utc>, DocumentError> {
    let text = required(text, path)?;
    datetime(text).ok_or_else(|| {
        DocumentError::new(
            "invalid_value",
            format!("{path} {text:?} is no date and time"),
        )
    })
}

/// An optional `dtDATETIME` element's value (present but unreadable is refused).
pub(crate) fn optional_datetime(
    text: Option<&str>,
    path: &str,
) -> Result<Option<DateTime<Utc>>, DocumentError> {
    text.map(|t| required_datetime(Some(t), path)).transpose()
}

/// A document's revision: when it was generated (else its own date), in milliseconds, so
/// a correction sent later replaces it.
pub fn revision_at(generated_at: Option<DateTime<Utc>>, date: DateTime<Utc>) -> u64 {
    u64::try_from(generated_at.unwrap_or(date).timestamp_millis())
        .unwrap_or(0)
        .max(1)
}

/// openTRANS `dtDATETIME`: RFC 3339; without an offset it is read as UTC; a date alone is
/// its midnight (UTC).
pub fn datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(at.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
}

/// The calendar day a `dtDATETIME` names, in its own offset (a delivery "on 25 May" stays
/// the 25th whatever the zone).
pub fn date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.date_naive());
    }
    text.get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_with_and_without_offsets_and_dates() {
        assert_eq!(
            datetime("2009-05-13T06:20:00+01:00").unwrap().to_rfc3339(),
            "2009-05-13T05:20:00+00:00"
        );
        assert_eq!(
            datetime("2009-05-13T06:20:00").unwrap().to_rfc3339(),
            "2009-05-13T06:20:00+00:00"
        );
        assert_eq!(
            datetime("2009-05-13").unwrap().to_rfc3339(),
            "2009-05-13T00:00:00+00:00"
        );
        assert!(datetime("13.05.2009").is_none());
        assert_eq!(
            date("2009-05-25T23:30:00-05:00").unwrap().to_string(),
            "2009-05-25"
        );
        assert_eq!(date("2009-05-25").unwrap().to_string(), "2009-05-25");
    }
}

//! Partners' XML read safely, as a stream of events: a DTD is never loaded, a DOCTYPE that
//! declares entities is refused (external entities would read local files or URLs, nested
//! ones expand exponentially), and no single token (a text, a tag, a comment) may take more
//! than a budget, so a file without an end cannot take the function's memory.
//!
//! [`walk`] hands each element's opening (with its attributes) and its closing (with its
//! text) to a visitor, by the local names of the open elements: namespaces and prefixes
//! differ between exporters, the names do not.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::io::{BufRead, Read};

/// Elements nested deeper than this are refused.
pub const MAX_DEPTH: usize = 64;

/// The input, counting the bytes quick-xml takes for the event it is reading: it holds a
/// whole event in memory, so one without an end would otherwise take the rest of the file.
pub struct Budgeted {
    inner: Box<dyn BufRead + Send>,
    /// Bytes taken since the event before.
    taken: usize,
    limit: usize,
    /// Bytes taken in all, and the most the whole document may have.
    total: u64,
    max_total: u64,
}

impl Budgeted {
    pub fn new(inner: Box<dyn BufRead + Send>, limit: usize) -> Self {
        Self::with_total(inner, limit, u64::MAX)
    }

    /// With a limit on the whole document too.
    pub fn with_total(inner: Box<dyn BufRead + Send>, limit: usize, max_total: u64) -> Self {
        Self {
            inner,
            taken: 0,
            limit,
            total: 0,
            max_total,
        }
    }

    /// The whole document is over its limit.
    pub fn too_large(&self) -> bool {
        self.total > self.max_total
    }

    /// The next event's count starts.
    pub fn start_token(&mut self) {
        self.taken = 0;
    }

    pub fn exceeded(&self) -> bool {
        self.taken > self.limit || self.too_large()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl Read for Budgeted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Budgeted {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.exceeded() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("an XML token is longer than {} bytes", self.limit),
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.taken += amount;
        self.total += amount as u64;
        self.inner.consume(amount);
    }
}

/// Whether a DOCTYPE's content (its internal subset) declares an entity, general or
/// parameter (`<!ENTITY`, matched without regard to case).
pub fn declares_entities(doctype: &[u8]) -> bool {
    const DECLARATION: &[u8] = b"<!ENTITY";
    doctype
        .windows(DECLARATION.len())
        .any(|w| w.eq_ignore_ascii_case(DECLARATION))
}

/// Why a document could not be read as XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well formed, refused (entities, depth, a token over budget): the file's fault.
    #[error("{0}")]
    Document(String),
    /// The document is larger than the reader takes.
    #[error("{0}")]
    TooLarge(String),
    /// The stream broke: the file may be fine.
    #[error("reading failed: {0}")]
    Io(String),
}

/// What [`walk`] hands the visitor.
pub enum Visit<'a> {
    /// An element opens: the local names of the open elements (the last is this one) and
    /// its attributes (local name, value).
    Open {
        path: &'a [String],
        attributes: &'a [(String, String)],
        line: u64,
    },
    /// An element closes with its text (entities decoded, trimmed).
    Close {
        path: &'a [String],
        text: &'a str,
        line: u64,
    },
}

/// Reads the whole document (at most `max_bytes`), handing each element's opening and
/// closing to `visit`; its error stops the walk. Text is kept for the innermost element
/// only, up to `max_token` bytes. One root element: a second is refused (two documents
/// pasted together must not be read as one).
pub fn walk<E: From<XmlError>>(
    input: Box<dyn BufRead + Send>,
    max_token: usize,
    max_bytes: u64,
    mut visit: impl FnMut(Visit<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut reader = Reader::from_reader(Budgeted::with_total(input, max_token, max_bytes));
    let mut root_closed = false;
    reader.config_mut().trim_text(false);
    let mut buffer = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut line: u64 = 1;
    let lines_in = |bytes: &[u8]| bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    loop {
        buffer.clear();
        reader.get_mut().start_token();
        let at = line;
        let event = match reader.read_event_into(&mut buffer) {
            Ok(event) => event,
            Err(quick_xml::Error::Io(_)) if reader.get_ref().too_large() => {
                return Err(XmlError::TooLarge(format!(
                    "the document is larger than {max_bytes} bytes"
                ))
                .into());
            }
            Err(quick_xml::Error::Io(_)) if reader.get_ref().exceeded() => {
                return Err(XmlError::Document(format!(
                    "an XML token near line {line} is longer than {} bytes",
                    reader.get_ref().limit()
                ))
                .into());
            }
            Err(quick_xml::Error::Io(io)) => {
                return Err(XmlError::Io(format!("near line {line}: {io}")).into());
            }
            Err(e) => {
                return Err(XmlError::Document(format!(
                    "the XML is not well formed near line {line}: {e}"
                ))
                .into());
            }
        };
        match event {
            Event::Start(start) | Event::Empty(start) if path.len() >= MAX_DEPTH => {
                let _ = start;
                return Err(XmlError::Document(format!(
                    "elements nested deeper than {MAX_DEPTH} at line {at}"
                ))
                .into());
            }
            Event::Start(start) | Event::Empty(start) if path.is_empty() && root_closed => {
                return Err(XmlError::Document(format!(
                    "a second root element <{}> at line {at}: one document per file",
                    local_name(&start)
                ))
                .into());
            }
            Event::Start(start) => {
                line += lines_in(start.as_ref());
                let attributes = attributes(&reader, &start);
                path.push(local_name(&start));
                text.clear();
                visit(Visit::Open {
                    path: &path,
                    attributes: &attributes,
                    line: at,
                })?;
            }
            Event::Empty(start) => {
                line += lines_in(start.as_ref());
                let attributes = attributes(&reader, &start);
                path.push(local_name(&start));
                visit(Visit::Open {
                    path: &path,
                    attributes: &attributes,
                    line: at,
                })?;
                visit(Visit::Close {
                    path: &path,
                    text: "",
                    line: at,
                })?;
                path.pop();
                text.clear();
                root_closed |= path.is_empty();
            }
            Event::End(_) => {
                visit(Visit::Close {
                    path: &path,
                    text: text.trim(),
                    line: at,
                })?;
                path.pop();
                text.clear();
                root_closed |= path.is_empty();
            }
            Event::Text(t) => {
                line += lines_in(t.as_ref());
                let decoded = t.unescape().map_err(|e| {
                    XmlError::Document(format!("an unreadable text near line {at}: {e}"))
                })?;
                push_text(&mut text, &decoded, max_token, at)?;
            }
            Event::CData(data) => {
                line += lines_in(data.as_ref());
                let decoded = reader.decoder().decode(data.as_ref()).map_err(|e| {
                    XmlError::Document(format!("an unreadable CDATA section near line {at}: {e}"))
                })?;
                push_text(&mut text, &decoded, max_token, at)?;
            }
            Event::DocType(doctype) => {
                if declares_entities(doctype.as_ref()) {
                    return Err(XmlError::Document(format!(
                        "the DOCTYPE at line {at} declares entities (<!ENTITY>); entity \
                         declarations are refused (no external entities, no entity expansion)"
                    ))
                    .into());
                }
                line += lines_in(doctype.as_ref());
            }
            Event::Comment(c) => line += lines_in(c.as_ref()),
            Event::PI(p) => line += lines_in(p.as_ref()),
            Event::Decl(d) => line += lines_in(d.as_ref()),
            Event::Eof => {
                return if path.is_empty() {
                    Ok(())
                } else {
                    Err(XmlError::Document(format!(
                        "the document ends inside <{}>",
                        path.join("/")
                    ))
                    .into())
                };
            }
        }
    }
}

fn push_text(text: &mut String, piece: &str, max: usize, line: u64) -> Result<(), XmlError> {
    if text.len() + piece.len() > max {
        return Err(XmlError::Document(format!(
            "an element near line {line} holds more than {max} bytes of text"
        )));
    }
    text.push_str(piece);
    Ok(())
}

fn local_name(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

fn attributes<R>(reader: &Reader<R>, start: &BytesStart<'_>) -> Vec<(String, String)> {
    start
        .attributes()
        .flatten()
        .filter_map(|a| {
            let value = a.decode_and_unescape_value(reader.decoder()).ok()?;
            Some((
                String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
                value.into_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closes(xml: &[u8]) -> Result<Vec<(String, String)>, XmlError> {
        let mut out = Vec::new();
        walk::<XmlError>(
            Box::new(std::io::Cursor::new(xml.to_vec())),
            1024,
            1 << 20,
            |v| {
                if let Visit::Close { path, text, .. } = v {
                    out.push((path.join("/"), text.to_string()));
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    #[test]
    fn elements_by_local_name_with_their_text_in_the_declared_encoding() {
        let mut doc =
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<a:R xmlns:a=\"urn:x\"><a:N>Gr"
                .to_vec();
        doc.extend_from_slice(b"\xfc\xdfe &amp; <![CDATA[<b>]]></a:N><E/></a:R>");
        assert_eq!(
            closes(&doc).unwrap(),
            vec![
                ("R/N".to_string(), "Grüße & <b>".to_string()),
                ("R/E".to_string(), String::new()),
                ("R".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn entity_declarations_long_tokens_and_broken_documents_are_refused() {
        let xxe = b"<!DOCTYPE R [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><R>&x;</R>";
        assert!(matches!(closes(xxe), Err(XmlError::Document(m)) if m.contains("ENTITY")));
        // A DOCTYPE naming an external DTD is fine: it is never loaded.
        assert!(closes(b"<!DOCTYPE R SYSTEM \"r.dtd\"><R/>").is_ok());
        let long = format!("<R>{}</R>", "x".repeat(5000));
        // Refused by the token budget or the text's, whichever the reads meet first.
        assert!(
            matches!(closes(long.as_bytes()), Err(XmlError::Document(m)) if m.contains("longer than") || m.contains("more than"))
        );
        assert!(
            matches!(closes(b"<R><N>"), Err(XmlError::Document(m)) if m.contains("ends inside"))
        );
        assert!(
            matches!(closes(b"<R></N>"), Err(XmlError::Document(m)) if m.contains("not well formed"))
        );
        assert!(
            matches!(closes(b"<R/><R/>"), Err(XmlError::Document(m)) if m.contains("second root"))
        );
        let big = format!("<R>{}</R>", "<a>x</a>".repeat(200_000));
        assert!(matches!(closes(big.as_bytes()), Err(XmlError::TooLarge(_))));
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(
            matches!(closes(deep.as_bytes()), Err(XmlError::Document(m)) if m.contains("deeper"))
        );
    }
}

//! BMEcat 2005 (`PRODUCT`) and 1.2 (`ARTICLE`) catalogs, read as a stream of XML events:
//! one product in memory at a time, whatever the file size.
//!
//! Real-world quirks handled, not rejected: any (or a non-standard) namespace, since
//! elements are matched by local name; ISO 639-2 language codes (`deu`, `eng`), mapped to
//! ISO 639-1; HTML entities escaped twice (`&amp;sup2;`), decoded to the character. DTDs
//! are never loaded (a `<!DOCTYPE BMECAT SYSTEM "bmecat_2005.dtd">` reference is fine) and
//! a DOCTYPE that declares entities is refused as a whole: such a file is either an attack
//! (external entities that would read local files or URLs, an exponential "billion
//! laughs" expansion) or one whose text means something we would not expand, and reading
//! it with its references left literal would store `&xxe;` as a product name.

use super::{MAX_RECORD_BYTES, ReadError, Record, RecordSource};
use bridge_contract::xml::{Budgeted, declares_entities};
use bridge_domain::product::RawProduct;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::io::BufRead;

const MAX_DEPTH: usize = 64;
/// What an element costs a product beyond its text and `lang` (the entry it adds), so that
/// a product of a million empty elements is bounded too.
const ELEMENT_BYTES: usize = 32;

/// ISO 639-2 (B and T) codes of the languages catalogs use, to ISO 639-1.
fn language(code: &str) -> String {
    let lower = code.trim().to_ascii_lowercase();
    let mapped = match lower.as_str() {
        "deu" | "ger" => "de",
        "eng" => "en",
        "fra" | "fre" => "fr",
        "ita" => "it",
        "spa" => "es",
        "nld" | "dut" => "nl",
        "pol" => "pl",
        "ces" | "cze" => "cs",
        "por" => "pt",
        "swe" => "sv",
        "dan" => "da",
        "fin" => "fi",
        "nor" | "nob" => "no",
        "hun" => "hu",
        "rus" => "ru",
        "tur" => "tr",
        "jpn" => "ja",
        "zho" | "chi" => "zh",
        "kor" => "ko",
        "slk" | "slo" => "sk",
        "slv" => "sl",
        "ron" | "rum" => "ro",
        "bul" => "bg",
        "hrv" => "hr",
        "ell" | "gre" => "el",
        "est" => "et",
        "lav" => "lv",
        "lit" => "lt",
        "ukr" => "uk",
        other => other,
    };
    mapped.to_string()
}

/// Decodes the XML entities, then the HTML named entities that exports escape a second time
/// (`&amp;sup2;` means `²`). The second round leaves the five XML entities alone, so a text
/// that means a literal `&lt;` keeps it (and no markup appears from nowhere).
fn decode_entities(raw: &str) -> String {
    let once = decode_references(raw, Round::First);
    decode_references(&once, Round::Second)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Round {
    /// Every reference: named (HTML5 names, the XML ones among them) and numeric.
    First,
    /// Named ones only, but not the five of XML.
    Second,
}

/// `text` with its character references decoded; anything that is not an exact reference
/// ending in `;` is left as it is (no legacy forms without `;`).
fn decode_references(text: &str, round: Round) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match reference(tail, round) {
            Some((decoded, length)) => {
                match decoded {
                    Decoded::Text(text) => out.push_str(text),
                    Decoded::Char(c) => out.push(c),
                }
                rest = &tail[length..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

enum Decoded {
    Text(&'static str),
    Char(char),
}

/// The reference `text` starts with (`&name;`, `&#digits;` or `&#xhex;`) and its length.
/// A numeric one must be a Unicode scalar value and no C0 control but whitespace (as an
/// HTML parser takes them).
fn reference(text: &str, round: Round) -> Option<(Decoded, usize)> {
    let body = text.strip_prefix('&')?;
    let end = body.find([';', '&'])?;
    let name = body.get(..end).filter(|_| body.as_bytes()[end] == b';')?;
    let decoded = match name.strip_prefix('#') {
        Some(number) if round == Round::First => {
            let value = match number.strip_prefix(['x', 'X']) {
                Some(hex) if hex.starts_with(|c: char| c.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()?
                }
                None if number.starts_with(|c: char| c.is_ascii_digit()) => number.parse().ok()?,
                _ => return None,
            };
            let c = char::from_u32(value)?;
            if c < ' ' && !matches!(c, '\t' | '\n' | '\u{c}' | '\r') {
                return None;
            }
            Decoded::Char(c)
        }
        Some(_) => return None,
        None => {
            if round == Round::Second
                && (!name.bytes().all(|b| b.is_ascii_alphanumeric())
                    || matches!(name, "amp" | "lt" | "gt" | "quot" | "apos"))
            {
                return None;
            }
            Decoded::Text(quick_xml::escape::resolve_html5_entity(name)?)
        }
    };
    Some((decoded, end + 2))
}

#[derive(Default)]
struct Feature {
    name: Option<String>,
    id: Option<String>,
    values: Vec<String>,
    details: Option<String>,
    unit: Option<String>,
}

#[derive(Default)]
struct Mime {
    kind: Option<String>,
    source: Option<String>,
}

struct Product {
    line: u64,
    raw: RawProduct,
    bytes: usize,
    feature: Option<Feature>,
    mime: Option<Mime>,
    classification_system: Option<String>,
}

pub struct BmecatSource {
    reader: Reader<Budgeted>,
    buffer: Vec<u8>,
    /// Local names of the open elements.
    path: Vec<String>,
    /// `lang` attribute of each open element.
    langs: Vec<Option<String>>,
    text: String,
    line: u64,
    default_language: Option<String>,
    product: Option<Product>,
    transaction_seen: bool,
    /// Bytes of the open elements' names and `lang` attributes (at most [`MAX_DEPTH`] of
    /// them, each as long as a token may be: bounded in all too).
    open_bytes: usize,
    done: bool,
}

impl BmecatSource {
    pub fn new(input: Box<dyn BufRead + Send>) -> Self {
        // The input counts the bytes quick-xml takes for one event: it holds a whole event
        // in memory, so one without an end would otherwise take the rest of the file (of a
        // gzip bomb, gigabytes from a few megabytes).
        let mut reader = Reader::from_reader(Budgeted::new(input, MAX_RECORD_BYTES));
        reader.config_mut().trim_text(false);
        Self {
            reader,
            buffer: Vec::new(),
            path: Vec::new(),
            langs: Vec::new(),
            text: String::new(),
            line: 1,
            default_language: None,
            product: None,
            transaction_seen: false,
            open_bytes: 0,
            done: false,
        }
    }

    /// Adds to the current element's text, up to [`MAX_RECORD_BYTES`].
    fn push_text(&mut self, piece: &str) -> Result<(), ReadError> {
        if self.text.len() + piece.len() > MAX_RECORD_BYTES {
            return Err(ReadError::File(format!(
                "an element near line {} holds more than {MAX_RECORD_BYTES} bytes of text",
                self.line
            )));
        }
        self.text.push_str(piece);
        Ok(())
    }

    /// A product whose elements hold more than [`MAX_RECORD_BYTES`] in all.
    fn oversized_product(&self) -> Option<ReadError> {
        let product = self.product.as_ref()?;
        (product.bytes > MAX_RECORD_BYTES).then(|| {
            ReadError::File(format!(
                "the product at line {} holds more than {MAX_RECORD_BYTES} bytes",
                product.line
            ))
        })
    }

    fn count_lines(&mut self, bytes: &[u8]) {
        self.line += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    }

    fn parent(&self) -> &str {
        self.path
            .iter()
            .rev()
            .nth(1)
            .map(String::as_str)
            .unwrap_or_default()
    }

    fn lang_attribute(&self, start: &BytesStart<'_>) -> Option<String> {
        start.attributes().flatten().find_map(|a| {
            (a.key.local_name().as_ref() == b"lang")
                .then(|| {
                    a.decode_and_unescape_value(self.reader.decoder())
                        .ok()
                        .map(|v| language(&v))
                })
                .flatten()
        })
    }

    fn attribute(&self, start: &BytesStart<'_>, name: &[u8]) -> Option<String> {
        start.attributes().flatten().find_map(|a| {
            (a.key.local_name().as_ref() == name)
                .then(|| {
                    a.decode_and_unescape_value(self.reader.decoder())
                        .ok()
                        .map(|v| v.into_owned())
                })
                .flatten()
        })
    }

    fn open(&mut self, start: &BytesStart<'_>, line: u64) -> Result<(), ReadError> {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        if self.path.len() >= MAX_DEPTH {
            return Err(ReadError::File(format!(
                "elements nested deeper than {MAX_DEPTH} at line {line}"
            )));
        }
        match name.as_str() {
            "T_UPDATE_PRICES" => {
                return Err(ReadError::File(
                    "T_UPDATE_PRICES carries prices, not product data; send prices through the ERP price events".into(),
                ));
            }
            "T_NEW_CATALOG" | "T_UPDATE_PRODUCTS" => self.transaction_seen = true,
            "PRODUCT" | "ARTICLE" if self.product.is_none() && self.transaction_seen => {
                let raw = RawProduct {
                    deletion: self.attribute(start, b"mode").as_deref() == Some("delete"),
                    ..Default::default()
                };
                self.product = Some(Product {
                    line,
                    raw,
                    bytes: 0,
                    feature: None,
                    mime: None,
                    classification_system: None,
                });
            }
            "FEATURE" => {
                if let Some(p) = self.product.as_mut() {
                    p.feature = Some(Feature::default());
                }
            }
            "MIME" => {
                if let Some(p) = self.product.as_mut() {
                    p.mime = Some(Mime::default());
                }
            }
            _ => {}
        }
        let lang = self.lang_attribute(start);
        let cost = name.len() + lang.as_ref().map_or(0, String::len);
        if self.open_bytes + cost > MAX_RECORD_BYTES {
            return Err(ReadError::File(format!(
                "the elements open at line {line} hold more than {MAX_RECORD_BYTES} bytes of \
                 names and attributes"
            )));
        }
        self.open_bytes += cost;
        self.path.push(name);
        self.langs.push(lang);
        self.text.clear();
        Ok(())
    }

    /// Closes the innermost element; returns a finished product.
    fn close(&mut self) -> Option<Record> {
        let name = self.path.last().cloned().unwrap_or_default();
        let lang = self.langs.last().cloned().flatten();
        let cost = name.len() + lang.as_ref().map_or(0, String::len);
        let parent = self.parent().to_string();
        let text = decode_entities(self.text.trim());
        self.text.clear();
        let default_language = self
            .default_language
            .clone()
            .unwrap_or_else(|| "und".to_string());
        let mut finished = None;
        if name == "LANGUAGE"
            && parent == "CATALOG"
            && self.default_language.is_none()
            && !text.is_empty()
        {
            self.default_language = Some(language(&text));
        }
        if let Some(product) = self.product.as_mut() {
            product.bytes += text.len() + cost + ELEMENT_BYTES;
            let raw = &mut product.raw;
            let value = || (!text.is_empty()).then(|| text.clone());
            match name.as_str() {
                "SUPPLIER_PID" | "SUPPLIER_AID" if parent == "PRODUCT" || parent == "ARTICLE" => {
                    raw.sku = value()
                }
                "DESCRIPTION_SHORT" => raw
                    .names
                    .push((lang.unwrap_or(default_language), text.clone())),
                "DESCRIPTION_LONG" => raw
                    .descriptions
                    .push((lang.unwrap_or(default_language), text.clone())),
                "EAN" if raw.gtin.is_none() => raw.gtin = value(),
                "INTERNATIONAL_PID" if raw.gtin.is_none() => raw.gtin = value(),
                "MANUFACTURER_NAME" => raw.brand = value(),
                "ORDER_UNIT" => raw.unit = value(),
                "REFERENCE_FEATURE_SYSTEM_NAME" => product.classification_system = value(),
                "REFERENCE_FEATURE_GROUP_ID"
                    if !text.is_empty()
                        && (parent == "PRODUCT_FEATURES" || parent == "ARTICLE_FEATURES") =>
                {
                    let system = product
                        .classification_system
                        .clone()
                        .unwrap_or_else(|| "group".into());
                    raw.attributes
                        .push((format!("classification.{system}"), text.clone()));
                }
                "FNAME" | "FT_NAME" => {
                    if let Some(f) = product.feature.as_mut() {
                        f.name = value();
                    }
                }
                "FT_ID" => {
                    if let Some(f) = product.feature.as_mut() {
                        f.id = value();
                    }
                }
                "FVALUE" => {
                    // Catalogs repeat a value per language: keep the catalog's own language.
                    let wanted = lang.as_ref().is_none_or(|l| *l == default_language);
                    if let (Some(f), Some(v), true) = (product.feature.as_mut(), value(), wanted) {
                        f.values.push(v);
                    }
                }
                "FVALUE_DETAILS" => {
                    if let Some(f) = product.feature.as_mut() {
                        f.details = value();
                    }
                }
                "FUNIT" => {
                    if let Some(f) = product.feature.as_mut() {
                        f.unit = value();
                    }
                }
                "FEATURE" => {
                    if let Some(f) = product.feature.take() {
                        let key = f.name.or(f.id);
                        let values = if f.values.is_empty() {
                            f.details.into_iter().collect()
                        } else {
                            f.values
                        };
                        if let (Some(key), false) = (key, values.is_empty()) {
                            let mut joined = values.join("|");
                            if let Some(unit) = f.unit {
                                joined.push(' ');
                                joined.push_str(&unit);
                            }
                            raw.attributes.push((key, joined));
                        }
                    }
                }
                "MIME_TYPE" => {
                    if let Some(m) = product.mime.as_mut() {
                        m.kind = value();
                    }
                }
                "MIME_SOURCE" => {
                    if let Some(m) = product.mime.as_mut() {
                        m.source = value();
                    }
                }
                "MIME" => {
                    if let Some(Mime {
                        kind: Some(kind),
                        source: Some(source),
                    }) = product.mime.take()
                        && kind.starts_with("image/")
                    {
                        raw.images.push(source);
                    }
                }
                "PRODUCT" | "ARTICLE" => {
                    let done = self.product.take().expect("inside a product");
                    finished = Some(Record {
                        line: done.line,
                        raw: done.raw,
                    });
                }
                _ => {}
            }
        }
        self.open_bytes = self.open_bytes.saturating_sub(cost);
        self.path.pop();
        self.langs.pop();
        finished
    }
}

impl RecordSource for BmecatSource {
    fn next_record(&mut self) -> Option<Result<Record, ReadError>> {
        loop {
            if self.done {
                return None;
            }
            self.buffer.clear();
            let line_before = self.line;
            self.reader.get_mut().start_token();
            let event = match self.reader.read_event_into(&mut self.buffer) {
                Ok(event) => event.into_owned(),
                Err(quick_xml::Error::Io(_)) if self.reader.get_ref().exceeded() => {
                    self.done = true;
                    return Some(Err(ReadError::File(format!(
                        "an XML token (a text, CDATA section, comment or tag) near line {} \
                         is longer than {MAX_RECORD_BYTES} bytes",
                        self.line
                    ))));
                }
                Err(quick_xml::Error::Io(io)) => {
                    self.done = true;
                    return Some(Err(super::io_error(
                        &io,
                        &format!("near line {}", self.line),
                    )));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(ReadError::File(format!(
                        "the XML is not well formed near line {}: {e}",
                        self.line
                    ))));
                }
            };
            match &event {
                Event::Start(start) => {
                    self.count_lines(start.as_ref());
                    if let Err(e) = self.open(start, line_before) {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                Event::Empty(start) => {
                    self.count_lines(start.as_ref());
                    if let Err(e) = self.open(start, line_before) {
                        self.done = true;
                        return Some(Err(e));
                    }
                    if let Some(record) = self.close() {
                        return Some(Ok(record));
                    }
                    if let Some(e) = self.oversized_product() {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                Event::End(_) => {
                    if let Some(record) = self.close() {
                        return Some(Ok(record));
                    }
                    if let Some(e) = self.oversized_product() {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                Event::Text(text) => {
                    self.count_lines(text.as_ref());
                    if self.product.is_some()
                        || self.path.last().map(String::as_str) == Some("LANGUAGE")
                    {
                        let decoded = self
                            .reader
                            .decoder()
                            .decode(text.as_ref())
                            .unwrap_or_default();
                        if let Err(e) = self.push_text(&decoded) {
                            self.done = true;
                            return Some(Err(e));
                        }
                    }
                }
                Event::CData(data) => {
                    self.count_lines(data.as_ref());
                    if self.product.is_some() {
                        let decoded = self
                            .reader
                            .decoder()
                            .decode(data.as_ref())
                            .unwrap_or_default();
                        // CDATA is literal: escape it so that entity decoding leaves it as is.
                        let escaped =
                            quick_xml::escape::partial_escape(decoded.as_ref()).into_owned();
                        if let Err(e) = self.push_text(&escaped) {
                            self.done = true;
                            return Some(Err(e));
                        }
                    }
                }
                Event::Comment(c) => self.count_lines(c.as_ref()),
                Event::DocType(d) => {
                    if declares_entities(d.as_ref()) {
                        self.done = true;
                        return Some(Err(ReadError::File(format!(
                            "the DOCTYPE at line {line_before} declares entities (<!ENTITY>); \
                             entity declarations are refused (no external entities, no \
                             entity expansion): export the catalog without an internal DTD subset"
                        ))));
                    }
                    self.count_lines(d.as_ref());
                }
                Event::PI(p) => self.count_lines(p.as_ref()),
                Event::Decl(d) => self.count_lines(d.as_ref()),
                Event::Eof => {
                    self.done = true;
                    if !self.path.is_empty() {
                        return Some(Err(ReadError::File(format!(
                            "the file ends inside <{}>: it is truncated",
                            self.path.last().cloned().unwrap_or_default()
                        ))));
                    }
                    if !self.transaction_seen {
                        return Some(Err(ReadError::File(
                            "no T_NEW_CATALOG or T_UPDATE_PRODUCTS transaction found".into(),
                        )));
                    }
                    return None;
                }
            }
        }
    }

    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read(xml: &str) -> Vec<Result<Record, ReadError>> {
        let mut source = BmecatSource::new(Box::new(std::io::Cursor::new(xml.as_bytes().to_vec())));
        std::iter::from_fn(|| source.next_record()).collect()
    }

    const CATALOG_2005: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<BMECAT version="2005" xmlns="http://www.bmecat.org/bmecat/2005+onto">
  <HEADER><CATALOG><LANGUAGE>deu</LANGUAGE><LANGUAGE>eng</LANGUAGE></CATALOG></HEADER>
  <T_NEW_CATALOG>
    <PRODUCT>
      <SUPPLIER_PID>1010000000</SUPPLIER_PID>
      <PRODUCT_DETAILS>
        <DESCRIPTION_SHORT lang="deu">Reihenklemme</DESCRIPTION_SHORT>
        <DESCRIPTION_SHORT lang="eng">Terminal</DESCRIPTION_SHORT>
        <DESCRIPTION_LONG lang="deu">2.5 mm&amp;sup2;, gr&#252;n</DESCRIPTION_LONG>
        <EAN>4008190143640</EAN>
        <MANUFACTURER_NAME>Weidmueller</MANUFACTURER_NAME>
      </PRODUCT_DETAILS>
      <PRODUCT_FEATURES>
        <REFERENCE_FEATURE_SYSTEM_NAME>ECLASS-9.0</REFERENCE_FEATURE_SYSTEM_NAME>
        <REFERENCE_FEATURE_GROUP_ID>27141141</REFERENCE_FEATURE_GROUP_ID>
        <FEATURE><FNAME>Voltage</FNAME><FVALUE>110</FVALUE><FVALUE>220</FVALUE><FUNIT>VLT</FUNIT></FEATURE>
      </PRODUCT_FEATURES>
      <PRODUCT_ORDER_DETAILS><ORDER_UNIT>C62</ORDER_UNIT></PRODUCT_ORDER_DETAILS>
      <MIME_INFO><MIME><MIME_TYPE>image/jpeg</MIME_TYPE><MIME_SOURCE>a.jpg</MIME_SOURCE></MIME>
        <MIME><MIME_TYPE>url</MIME_TYPE><MIME_SOURCE>http://x</MIME_SOURCE></MIME></MIME_INFO>
    </PRODUCT>
    <PRODUCT mode="delete"><SUPPLIER_PID>OLD-1</SUPPLIER_PID><PRODUCT_DETAILS><DESCRIPTION_SHORT>Alt</DESCRIPTION_SHORT></PRODUCT_DETAILS></PRODUCT>
  </T_NEW_CATALOG>
</BMECAT>"#;

    #[test]
    fn a_2005_product_with_its_quirks() {
        let records = read(CATALOG_2005);
        assert_eq!(records.len(), 2);
        let first = records[0].as_ref().unwrap();
        assert_eq!(first.line, 5);
        assert_eq!(first.raw.sku.as_deref(), Some("1010000000"));
        assert_eq!(
            first.raw.names,
            vec![
                ("de".into(), "Reihenklemme".into()),
                ("en".into(), "Terminal".into())
            ]
        );
        assert_eq!(first.raw.descriptions[0].1, "2.5 mm², grün");
        assert_eq!(
            decode_entities("a &amp;lt;b&amp;gt; &amp;amp; &amp;sup2; &amp;unknown; &"),
            "a &lt;b&gt; &amp; ² &unknown; &"
        );
        // Numeric references once (a second escape keeps them literal); nothing that is not
        // an exact reference is touched.
        for (raw, decoded) in [
            ("&#176;C &#x2300; &#X41;", "°C ⌀ A"),
            ("&amp;#176;", "&#176;"),
            ("&#0; &#1; &#x9;&#10;", "&#0; &#1; \t\n"),
            (
                "&#xD800; &#1114112; &#-1; &#x+1; &#;",
                "&#xD800; &#1114112; &#-1; &#x+1; &#;",
            ),
            (
                "&sup2 &sup2&sup2; &; &&amp; &amp",
                "&sup2 &sup2² &; && &amp",
            ),
            ("&Auml;&auml;&szlig;&euro;&nbsp;", "Ääß€\u{a0}"),
        ] {
            assert_eq!(decode_entities(raw), decoded, "{raw}");
        }
        assert_eq!(first.raw.gtin.as_deref(), Some("4008190143640"));
        assert_eq!(first.raw.unit.as_deref(), Some("C62"));
        assert_eq!(first.raw.images, vec!["a.jpg"]);
        assert!(
            first
                .raw
                .attributes
                .contains(&("Voltage".into(), "110|220 VLT".into()))
        );
        assert!(
            first
                .raw
                .attributes
                .contains(&("classification.ECLASS-9.0".into(), "27141141".into()))
        );
        let second = records[1].as_ref().unwrap();
        assert!(second.raw.deletion);
        // No lang attribute: the catalog's first language.
        assert_eq!(second.raw.names[0].0, "de");
    }

    #[test]
    fn a_truncated_file_is_a_file_error() {
        let cut = &CATALOG_2005[..CATALOG_2005.len() / 2];
        let records = read(cut);
        assert!(matches!(records.last(), Some(Err(ReadError::File(_)))));
    }

    #[test]
    fn price_updates_are_refused() {
        let records = read("<BMECAT><T_UPDATE_PRICES></T_UPDATE_PRICES></BMECAT>");
        assert!(matches!(&records[0], Err(ReadError::File(m)) if m.contains("T_UPDATE_PRICES")));
    }

    #[test]
    fn entity_declarations_are_refused_before_any_record() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE BMECAT [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<BMECAT><T_NEW_CATALOG><ARTICLE><SUPPLIER_AID>X</SUPPLIER_AID><ARTICLE_DETAILS><DESCRIPTION_SHORT>&b;</DESCRIPTION_SHORT></ARTICLE_DETAILS></ARTICLE></T_NEW_CATALOG></BMECAT>"#;
        let external = "<?xml version=\"1.0\"?>\n<!DOCTYPE BMECAT [\n  <!entity % p SYSTEM \"http://evil/x.dtd\"> %p;\n]>\n<BMECAT/>";
        for (xml, line) in [(laughs, 1), (external, 2)] {
            let records = read(xml);
            assert_eq!(records.len(), 1, "{xml}");
            assert!(
                matches!(&records[0], Err(ReadError::File(m))
                    if m.contains(&format!("DOCTYPE at line {line} declares entities"))),
                "{:?}",
                records[0]
            );
        }
    }

    #[test]
    fn a_doctype_that_only_names_its_dtd_is_read_without_loading_it() {
        let xml = CATALOG_2005.replacen(
            "<BMECAT ",
            "<!DOCTYPE BMECAT SYSTEM \"file:///etc/passwd\">\n<BMECAT ",
            1,
        );
        let records = read(&xml);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].as_ref().unwrap().line, 6);
    }

    /// What was read from a stream, to show how far a reader went.
    struct Counted<R> {
        inner: R,
        read: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            Ok(n)
        }
    }

    fn last_error(records: &[Result<Record, ReadError>]) -> String {
        match records.last() {
            Some(Err(ReadError::File(message))) => message.clone(),
            other => panic!("expected a file error, got {other:?}"),
        }
    }

    /// Found fuzzing (`fuzz/seeds/pim_bmecat/gzip-bomb-*`, docs/fuzzing.md): quick-xml holds
    /// a whole token in memory, so a token without end (a few megabytes of gzip make
    /// gigabytes) took the rest of the file before any limit applied.
    #[test]
    fn a_token_without_end_does_not_take_the_file_into_memory() {
        let catalog = "<BMECAT><T_NEW_CATALOG><PRODUCT><SUPPLIER_PID>";
        for head in [
            format!("{catalog}x"),
            format!("{catalog}<![CDATA["),
            format!("{catalog}<!--"),
            "<BMECAT lang=\"".to_string(),
            "<?pi ".to_string(),
        ] {
            let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let endless = std::io::Cursor::new(head.clone().into_bytes())
                .chain(std::io::repeat(b'x').take(8 * MAX_RECORD_BYTES as u64));
            let input = Counted {
                inner: endless,
                read: read.clone(),
            };
            let mut source = BmecatSource::new(Box::new(std::io::BufReader::new(input)));
            let records: Vec<_> = std::iter::from_fn(|| source.next_record()).collect();
            let message = last_error(&records);
            assert!(message.contains("is longer than"), "{head}: {message}");
            let read = read.load(std::sync::atomic::Ordering::Relaxed);
            assert!(
                read < MAX_RECORD_BYTES + (1 << 20),
                "{head}: read {read} bytes"
            );
        }
    }

    /// CDATA counted against the text limit as text is (it bypassed it, growing fourfold by
    /// its escaping on the way).
    #[test]
    fn cdata_counts_against_the_text_limit() {
        let section = format!("<![CDATA[{}]]>", "<".repeat(1 << 20));
        let xml = format!(
            "<BMECAT><T_NEW_CATALOG><PRODUCT><SUPPLIER_PID>P</SUPPLIER_PID>\
             <DESCRIPTION_LONG>{}</DESCRIPTION_LONG></PRODUCT></T_NEW_CATALOG></BMECAT>",
            section.repeat(3)
        );
        let message = last_error(&read(&xml));
        assert!(message.contains("bytes of text"), "{message}");
    }

    /// A product is bounded however its elements split it: large texts each under the text
    /// limit, a quarter of a million empty elements, long `lang` attributes on open ones.
    #[test]
    fn a_product_is_bounded_however_its_elements_split_it() {
        let text = format!(
            "<DESCRIPTION_LONG>{}</DESCRIPTION_LONG>",
            "x".repeat(MAX_RECORD_BYTES / 2)
        );
        let empty = "<DESCRIPTION_SHORT/>".repeat(MAX_RECORD_BYTES / ELEMENT_BYTES + 1);
        let lang = "a".repeat(MAX_RECORD_BYTES / 40);
        let nested = format!("<X lang=\"{lang}\">").repeat(50) + &"</X>".repeat(50);
        for (body, expected) in [
            (text.repeat(3), "the product at line 1"),
            (empty, "the product at line 1"),
            (nested, "the elements open at line 1"),
        ] {
            let xml = format!(
                "<BMECAT><T_NEW_CATALOG><PRODUCT><SUPPLIER_PID>P</SUPPLIER_PID>{body}\
                 </PRODUCT></T_NEW_CATALOG></BMECAT>"
            );
            let message = last_error(&read(&xml));
            assert!(message.contains(expected), "{message}");
        }
    }
}

//! The content hash of a product: 128 bits of xxh3 over a canonical byte encoding of its
//! validated fields. Equal products (the same [`Product`] value) always encode the same way,
//! whatever the format, column order or spelling they were read from (maps in key order,
//! decimals normalized, locales canonical); different products encode differently.
//!
//! The encoding, after a version tag: every text is its UTF-8 bytes followed by `0xFF`;
//! an absent optional text is `0xFE`; a list or map is its texts followed by `0xFE`. Neither
//! byte occurs in UTF-8, so the encoding is unambiguous without lengths, and a reader can
//! write a text in pieces (the CSV reader writes attribute values given in several columns
//! that way, and decimals without building them).
//!
//! Fields, in order: sku, gtin?, names (locale, text)*, descriptions (locale, text)*,
//! brand?, category segments*, unit?, weight_kg? (normalized decimal text), images*,
//! status (`active`/`inactive`), attributes (key, value)*.
//!
//! This replaced the hash of the product's canonical JSON: the stored hashes written before
//! differ, so the first import of each product after the change rewrites it once.

use bridge_domain::product::{Product, ProductStatus};
use std::cell::RefCell;
use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

/// Largest product (as JSON) accepted: DynamoDB items hold 400 KB, with room for the keys.
pub const MAX_PRODUCT_BYTES: usize = 350 * 1024;

const VERSION: &[u8] = b"pim-content-2\xFF";
const TEXT_END: u8 = 0xFF;
const END: u8 = 0xFE;

/// Writes the canonical encoding into a reused buffer.
pub struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Encoder<'a> {
    /// Starts an encoding in `out` (cleared; its allocation is reused).
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.clear();
        out.extend_from_slice(VERSION);
        Self { out }
    }

    /// One whole text.
    #[inline(always)]
    pub fn text(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(TEXT_END);
    }

    /// Part of a text; [`Encoder::end_text`] closes it.
    #[inline(always)]
    pub fn piece(&mut self, piece: &str) {
        self.out.extend_from_slice(piece.as_bytes());
    }

    #[inline(always)]
    pub fn end_text(&mut self) {
        self.out.push(TEXT_END);
    }

    #[inline(always)]
    pub fn optional(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.text(text),
            None => self.out.push(END),
        }
    }

    /// Ends a list or a map (and stands for an absent optional text).
    #[inline(always)]
    pub fn end(&mut self) {
        self.out.push(END);
    }

    #[inline]
    pub fn status(&mut self, status: ProductStatus) {
        self.text(match status {
            ProductStatus::Active => "active",
            ProductStatus::Inactive => "inactive",
        });
    }

    /// The stored content hash (128 bits).
    pub fn digest(&self) -> u128 {
        xxh3_128(self.out)
    }

    /// The encoding so far.
    pub fn bytes(&self) -> &[u8] {
        self.out
    }
}

/// The 64-bit key of an encoding: what tells rows of one file apart in the sku index
/// (cheaper than the stored 128-bit hash, and only compared within a file).
#[inline]
pub fn key_of(encoding: &[u8]) -> u64 {
    xxh3_64(encoding)
}

/// Encodes an owned product.
pub fn encode(product: &Product, encoder: &mut Encoder<'_>) {
    encoder.text(product.sku.as_str());
    encoder.optional(product.gtin.as_ref().map(|g| g.as_str()));
    for (locale, text) in &product.names {
        encoder.text(locale.as_str());
        encoder.text(text);
    }
    encoder.end();
    for (locale, text) in &product.descriptions {
        encoder.text(locale.as_str());
        encoder.text(text);
    }
    encoder.end();
    encoder.optional(product.brand.as_deref());
    for segment in &product.category {
        encoder.text(segment);
    }
    encoder.end();
    encoder.optional(product.unit.as_ref().map(|u| u.as_str()));
    match product.weight_kg {
        Some(weight) => encoder.text(&weight.normalize().to_string()),
        None => encoder.end(),
    }
    for image in &product.images {
        encoder.text(image);
    }
    encoder.end();
    encoder.status(product.status);
    for (key, value) in &product.attributes {
        encoder.text(key);
        encoder.text(value);
    }
    encoder.end();
}

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The content digest of an owned product.
pub fn digest(product: &Product) -> u128 {
    keys(product).1
}

/// The index key and the content digest of an owned product.
pub fn keys(product: &Product) -> (u64, u128) {
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        let mut encoder = Encoder::new(&mut buffer);
        encode(product, &mut encoder);
        let keys = (key_of(encoder.bytes()), encoder.digest());
        if buffer.capacity() > 64 * 1024 {
            // One huge product does not keep its buffer for the rest of the file.
            *buffer = Vec::new();
        }
        keys
    })
}

/// The stored form of a digest (the `content_hash` of a product item).
pub fn hash_text(digest: u128) -> String {
    format!("{digest:032x}")
}

/// The product's size as JSON (what a DynamoDB item holds), exactly; only computed when
/// [`json_bytes_bound`] cannot rule out the limit.
pub fn json_bytes(product: &Product) -> usize {
    struct Counting(usize);
    impl std::io::Write for Counting {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Counting(0);
    serde_json::to_writer(&mut out, product).expect("a product serializes");
    out.0
}

/// An upper bound of [`json_bytes`] from the lengths of the product's texts (JSON escapes
/// a byte into at most six).
pub fn json_bytes_bound(product: &Product) -> usize {
    let text = |s: &str| 6 * s.len() + 4;
    let mut bound = 512 + text(product.sku.as_str());
    bound += product.gtin.as_ref().map_or(0, |g| text(g.as_str()));
    for (locale, value) in product.names.iter().chain(&product.descriptions) {
        bound += text(locale.as_str()) + text(value);
    }
    bound += product.brand.as_deref().map_or(0, text);
    bound += product.category.iter().map(|s| text(s)).sum::<usize>();
    bound += product.unit.as_ref().map_or(0, |u| text(u.as_str()));
    bound += product.images.iter().map(|s| text(s)).sum::<usize>();
    bound += product
        .attributes
        .iter()
        .map(|(k, v)| text(k) + text(v))
        .sum::<usize>();
    bound
}

/// Whether the product is larger than a record may hold; returns its JSON size if so.
pub fn too_large(product: &Product) -> Option<usize> {
    if json_bytes_bound(product) <= MAX_PRODUCT_BYTES {
        return None;
    }
    let bytes = json_bytes(product);
    (bytes > MAX_PRODUCT_BYTES).then_some(bytes)
}

/// Writes the normalized text of a plain decimal (`digits`, or `digits` `.`/`,` `digits`,
/// at most 18 characters) the way `rust_decimal` prints the normalized value: no leading
/// zeros before the point, no trailing zeros after it, no point without decimals. Returns
/// `false` (and writes nothing) for any other text, which takes the general path.
pub fn plain_decimal(text: &str, encoder: &mut Encoder<'_>) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 18 {
        return false;
    }
    // One pass: digits, at most one separator, with digits on both sides.
    let mut point = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => {}
            b'.' | b',' if point.is_none() && i > 0 && i + 1 < bytes.len() => point = Some(i),
            _ => return false,
        }
    }
    let (whole, fraction) = match point {
        Some(p) => (&text[..p], &text[p + 1..]),
        None => (text, ""),
    };
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    encoder.piece(if whole.is_empty() { "0" } else { whole });
    if !fraction.is_empty() {
        encoder.piece(".");
        encoder.piece(fraction);
    }
    encoder.end_text();
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridge_domain::product::{RawProduct, validate_product};

    fn product(raw: RawProduct) -> Product {
        validate_product(raw, 1).unwrap()
    }

    fn raw() -> RawProduct {
        RawProduct {
            sku: Some("A-1".into()),
            names: vec![
                ("de".into(), "Bohrer".into()),
                ("en".into(), "Drill".into()),
            ],
            weight_kg: Some("0,50".into()),
            attributes: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            ..Default::default()
        }
    }

    #[test]
    fn equal_products_hash_equal_whatever_their_spelling() {
        let mut other = raw();
        other.names.reverse();
        other.attributes.reverse();
        other.weight_kg = Some("0.5".into());
        other.sku = Some(" A-1 ".into());
        assert_eq!(digest(&product(raw())), digest(&product(other)));
    }

    #[test]
    fn any_change_changes_the_hash() {
        let base = digest(&product(raw()));
        let mut changes: Vec<RawProduct> = Vec::new();
        let mut r = raw();
        r.names[0].1 = "Bohrer!".into();
        changes.push(r);
        let mut r = raw();
        r.weight_kg = Some("0,51".into());
        changes.push(r);
        let mut r = raw();
        r.status = Some("inactive".into());
        changes.push(r);
        let mut r = raw();
        // Moving text from one field to the next is a change too.
        r.attributes = vec![("b".into(), "2".into()), ("a1".into(), "".into())];
        changes.push(r);
        let mut r = raw();
        r.images = vec!["x".into()];
        changes.push(r);
        let mut r = raw();
        r.brand = Some("".into());
        r.category = Some("x".into());
        changes.push(r);
        let mut digests: Vec<u128> = changes.into_iter().map(|r| digest(&product(r))).collect();
        digests.push(base);
        let count = digests.len();
        digests.sort();
        digests.dedup();
        assert_eq!(digests.len(), count);
    }

    #[test]
    fn plain_decimals_print_as_the_normalized_decimal() {
        let mut cases: Vec<String> = [
            "0",
            "00",
            "0.0",
            "0,000",
            "1",
            "10",
            "100.00",
            "007.50",
            "0.001",
            "12,3400",
            "123456789012345678",
            "0.00000000000000001",
            "5.",
            ".5",
            "1,5,0",
            "-1",
            "+1",
            "1e3",
            "1 0",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let alphabet = b"0000123456789.,";
            let len = (state % 19) as usize;
            let text: String = (0..len)
                .map(|i| alphabet[((state >> (i * 3)) % alphabet.len() as u64) as usize] as char)
                .collect();
            cases.push(text);
        }
        for case in cases {
            let mut buffer = Vec::new();
            let mut encoder = Encoder::new(&mut buffer);
            if plain_decimal(&case, &mut encoder) {
                let bytes = encoder.bytes();
                let written =
                    String::from_utf8(bytes[VERSION.len()..bytes.len() - 1].to_vec()).unwrap();
                // What the quality rules make of the same text.
                let mut r = raw();
                r.weight_kg = Some(case.clone());
                let weight = validate_product(r, 1).unwrap().weight_kg.unwrap();
                assert_eq!(written, weight.to_string(), "{case:?}");
            } else {
                assert_eq!(
                    encoder.bytes().len(),
                    VERSION.len(),
                    "{case:?} wrote on refusal"
                );
            }
        }
    }

    #[test]
    fn the_json_bound_is_an_upper_bound() {
        let mut r = raw();
        r.descriptions = vec![("de".into(), "\u{1}\"\\ü".repeat(50))];
        r.images = vec!["\u{2}".repeat(10), "x".into()];
        let p = product(r);
        assert!(json_bytes_bound(&p) >= json_bytes(&p));
        assert_eq!(too_large(&p), None);
        let mut r = raw();
        r.descriptions = vec![("de".into(), "x".repeat(MAX_PRODUCT_BYTES))];
        assert!(too_large(&product(r)).is_some());
    }
}

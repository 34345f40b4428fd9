//! Drives the PIM format readers (`pim_import::formats`) over one input, the way the
//! import's scan and apply passes do: `formats::open` (gzip when the input starts with the
//! gzip magic, as a `.gz` file would), then every record through `next_checked`, and every
//! valid one built into its product.

use pim_import::content;
use pim_import::formats::{self, Checked, Format, Outcome, ReadError, RecordSource, check_owned};
use std::io::Cursor;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens a reader over `data` through the import's entry point.
pub fn open(format: Format, data: &[u8]) -> Result<Box<dyn RecordSource>, ReadError> {
    let gzip = data.starts_with(&GZIP_MAGIC);
    formats::open(format, gzip, Box::new(Cursor::new(data.to_vec())))
}

/// Every record of `data` as the import sees it; panics when an invariant breaks.
pub fn read_all(format: Format, data: &[u8]) {
    let Ok(mut source) = open(format, data) else {
        return;
    };
    while let Some(next) = source.next_checked() {
        match next {
            Ok(checked) => judge(checked),
            Err(ReadError::Record(rejection)) => {
                assert!(rejection.line >= 1, "a record error without a line");
            }
            Err(ReadError::File(_) | ReadError::Io(_)) => {}
        }
    }
    let _ = source.warnings();
}

/// What the import does with one checked record: a valid one becomes its product (the
/// quality rules run again on what was kept and must agree), with the same sku, index key
/// and content digest.
fn judge(checked: Checked<'_>) {
    let line = checked.line;
    assert!(line >= 1, "a record without a line");
    match checked.outcome {
        Outcome::Valid(valid) => {
            let sku = valid.sku().to_string();
            let keys = (valid.key, valid.digest());
            let product = valid
                .into_pending(line)
                .into_product()
                .unwrap_or_else(|r| panic!("line {line}: valid, then rejected: {r:?}"));
            assert_eq!(product.sku.as_str(), sku, "line {line}: the sku changed");
            assert_eq!(
                content::keys(&product),
                keys,
                "line {line}: the key or digest is not the product's"
            );
        }
        Outcome::Deletion(_) => {}
        Outcome::Rejected(rejections) => {
            assert!(
                !rejections.is_empty(),
                "line {line}: rejected without a reason"
            );
        }
    }
}

/// The CSV reader's two ways through a row against each other: `next_checked` (rows
/// checked in place where possible, plain lines split without csv-core) and `next_record`
/// + `check_owned` over csv-core alone (the general way)
/// must give the same verdict, rejections, sku, status, key, digest and product for every row,
/// and the same warnings.
pub fn csv_differential(data: &[u8]) {
    // The general way also reads every row with csv-core alone (no plain-line splitting).
    let csv_core_only = || {
        let gzip = data.starts_with(&GZIP_MAGIC);
        let input = formats::buffered(gzip, Box::new(Cursor::new(data.to_vec())));
        formats::csv::CsvSource::new(input)
            .map(|source| Box::new(source.without_plain_lines()) as Box<dyn RecordSource>)
    };
    let (fast, general) = match (open(Format::Csv, data), csv_core_only()) {
        (Ok(fast), Ok(general)) => (fast, general),
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "the same file opened twice");
            return;
        }
        (a, b) => panic!(
            "the same file opened twice: {:?} against {:?}",
            a.err(),
            b.err()
        ),
    };
    let (mut fast, mut general) = (fast, general);
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
                "in place {:?} against general {:?}",
                got.map(|r| r.map(|c| c.line)),
                expected.map(|r| r.map(|c| c.line))
            ),
        };
        let line = expected.line;
        assert_eq!(got.line, line);
        match (got.outcome, expected.outcome) {
            (Outcome::Valid(got), Outcome::Valid(expected)) => {
                assert_eq!(got.sku(), expected.sku(), "line {line}");
                assert_eq!(got.inactive, expected.inactive, "line {line}");
                let keys = (got.key, got.digest());
                assert_eq!(keys, (expected.key, expected.digest()), "line {line}");
                let got = got.into_pending(line).into_product();
                let expected = expected.into_pending(line).into_product();
                assert_eq!(got, expected, "line {line}");
                let product = got.unwrap_or_else(|r| panic!("line {line}: {r:?}"));
                assert_eq!(content::keys(&product), keys, "line {line}");
            }
            (Outcome::Rejected(got), Outcome::Rejected(expected)) => {
                assert_eq!(got, expected, "line {line}");
            }
            (Outcome::Deletion(got), Outcome::Deletion(expected)) => {
                assert_eq!(got, expected, "line {line}");
            }
            (got, expected) => panic!(
                "line {line}: in place {} against general {}",
                kind(&got),
                kind(&expected)
            ),
        }
    }
    assert_eq!(fast.warnings(), general.warnings());
}

fn kind(outcome: &Outcome<'_>) -> String {
    match outcome {
        Outcome::Valid(v) => format!("valid {}", v.sku()),
        Outcome::Deletion(s) => format!("deletion {s}"),
        Outcome::Rejected(r) => format!("rejected {r:?}"),
    }
}

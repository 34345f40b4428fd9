//! Adversarial PIM files: truncated, mixed encodings, spreadsheet formulas, XML entity
//! attacks. Each gets its specific answer in the report, and none changes a product it
//! should not.

use bridge_domain::Sku;
use bridge_domain::ports::{CatalogStore, FileStore, ImportLedger, ImportStatus, StoredProduct};
use bridge_lambda::Config;
use bridge_testkit::TestStack;
use pim_import::handler::ImportHandler;
use pim_import::{ImportReport, RunOutcome};
use serde_json::Value;
use std::io::Write;
use std::time::{Duration, Instant};

fn handler(stack: &TestStack) -> ImportHandler {
    pim_import::wiring::build(
        &Config::from_map(stack.environment("pim-import")),
        &stack.sdk,
    )
    .expect("the import wires")
}

fn files(stack: &TestStack) -> bridge_aws::S3FileStore {
    bridge_aws::S3FileStore::new(
        bridge_aws::s3_client(&stack.sdk),
        stack.bucket("CatalogBucket"),
    )
}

fn catalog(stack: &TestStack) -> bridge_aws::DynamoCatalogStore {
    bridge_aws::DynamoCatalogStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("ProductTable"),
    )
}

/// Uploads `body` under `key` and imports it to the end; returns the report and how long
/// the import took.
async fn import(
    stack: &TestStack,
    handler: &ImportHandler,
    key: &str,
    body: Vec<u8>,
) -> (ImportReport, Duration) {
    files(stack)
        .write(key, body, "application/octet-stream")
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..100 {
        match handler
            .importer
            .run(key, Instant::now() + Duration::from_secs(600))
            .await
            .unwrap()
        {
            RunOutcome::Finished(report) => return (*report, started.elapsed()),
            RunOutcome::Continued { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("the import of {key} does not finish");
}

async fn product(stack: &TestStack, sku: &str) -> Option<StoredProduct> {
    catalog(stack)
        .product(&Sku::parse(sku).unwrap())
        .await
        .unwrap()
}

async fn product_count(stack: &TestStack) -> i32 {
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .scan()
        .table_name(stack.table("ProductTable"))
        .consistent_read(true)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .expect("the product table scans")
        .count()
}

fn name_of(stored: &StoredProduct) -> &str {
    stored.product.names.values().next().expect("a name")
}

/// The report as stored, raw and parsed as JSON.
async fn stored_report(stack: &TestStack, file: &str) -> (String, Value) {
    let bytes = files(stack)
        .read(&format!("pim/reports/{file}.json"))
        .await
        .unwrap()
        .expect("a report beside the file");
    let text = String::from_utf8(bytes).expect("the report is UTF-8");
    let json = serde_json::from_str(&text).expect("the report is JSON");
    (text, json)
}

async fn ledger_status(stack: &TestStack, file: &str) -> ImportStatus {
    let ledger = bridge_aws::DynamoImportLedger::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("ImportTable"),
    );
    ledger
        .get(file)
        .await
        .unwrap()
        .expect("a ledger record")
        .status
}

/// A quarantined file: its report says why, the file sits in `pim/quarantine/`, the ledger
/// agrees, and nothing was counted as written.
async fn assert_quarantined(stack: &TestStack, report: &ImportReport, file: &str) {
    assert_eq!(report.status, ImportStatus::Quarantined, "{report:?}");
    assert_eq!(report.moved_to, format!("pim/quarantine/{file}"));
    assert_eq!(
        (
            report.counts.created,
            report.counts.updated,
            report.counts.deactivated
        ),
        (0, 0, 0),
        "{report:?}"
    );
    assert_eq!(
        ledger_status(stack, &format!("pim/inbox/{file}")).await,
        ImportStatus::Quarantined
    );
    let store = files(stack);
    assert!(
        store
            .read(&format!("pim/quarantine/{file}"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .read(&format!("pim/inbox/{file}"))
            .await
            .unwrap()
            .is_none()
    );
}

/// A CSV of products `P-<n>` named `<name> <n>`, with a quoted attribute.
fn csv(skus: std::ops::Range<u64>, name: &str) -> String {
    let mut out = String::from("sku,name.de,unit,attr.size\n");
    for n in skus {
        out.push_str(&format!("P-{n:05},{name} {n},C62,\"{n} mm, lang\"\n"));
    }
    out
}

const BMECAT_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<BMECAT version="2005" xmlns="http://www.bmecat.org/bmecat/2005"><HEADER><CATALOG><LANGUAGE>deu</LANGUAGE></CATALOG></HEADER>
<T_NEW_CATALOG>
"#;

fn bmecat_product(n: u64) -> String {
    format!(
        "<PRODUCT><SUPPLIER_PID>X-{n}</SUPPLIER_PID><PRODUCT_DETAILS><DESCRIPTION_SHORT>Klemme {n}</DESCRIPTION_SHORT></PRODUCT_DETAILS></PRODUCT>\n"
    )
}

// ------------------------------------------------------------------ truncated files

/// The csv crate ends a quoted field at the end of input without complaint, and the reader
/// (`formats/csv.rs`) does not ask it whether the input ended inside quotes, so the last,
/// cut-off row imports with a partial value and the file is applied.
#[tokio::test]
async fn a_csv_cut_inside_a_quoted_field_is_quarantined_and_changes_no_product() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    import(
        &stack,
        &handler,
        "pim/inbox/cut.csv",
        csv(0..10, "Alt").into_bytes(),
    )
    .await;
    let before = product(&stack, "P-00009").await.unwrap();
    // The new export, cut off inside the last row's quoted attribute.
    let full = csv(0..10, "Neu");
    let cut = &full[..full.rfind(" mm, lang").unwrap() + 3];
    assert!(cut.ends_with("\"9 mm"));
    let (report, _) = import(
        &stack,
        &handler,
        "pim/inbox/cut.csv",
        cut.as_bytes().to_vec(),
    )
    .await;
    assert_quarantined(&stack, &report, "cut.csv").await;
    let reason = report.reason.as_deref().unwrap();
    assert!(
        reason.contains("the file cannot be read") && reason.contains("quote"),
        "{reason}"
    );
    // Nothing of the cut file was applied, not even its complete rows.
    let after = product(&stack, "P-00009").await.unwrap();
    assert_eq!(name_of(&after), "Alt 9");
    assert_eq!(after.import_id, before.import_id);
    assert_eq!(name_of(&product(&stack, "P-00000").await.unwrap()), "Alt 0");
}

#[tokio::test]
async fn a_gzip_file_cut_short_is_quarantined_and_writes_no_product() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv(0..500, "Gz").as_bytes()).unwrap();
    let mut cut = gz.finish().unwrap();
    cut.truncate(cut.len() * 2 / 3);
    let (report, _) = import(&stack, &handler, "pim/inbox/cut.csv.gz", cut).await;
    assert_quarantined(&stack, &report, "cut.csv.gz").await;
    let reason = report.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("the file cannot be read: ")
            && reason.contains("(truncated or corrupt)"),
        "{reason}"
    );
    assert!(report.compressed);
    assert_eq!(product_count(&stack).await, 0);
}

#[tokio::test]
async fn a_bmecat_file_cut_mid_element_is_quarantined_and_writes_no_product() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    let mut xml = BMECAT_HEAD.to_string();
    for n in 0..5 {
        xml.push_str(&bmecat_product(n));
    }
    xml.push_str(&bmecat_product(5));
    xml.push_str("</T_NEW_CATALOG></BMECAT>\n");
    // Inside the text of an element, and inside a tag's name.
    let in_text = &xml[..xml.find("Klemme 5").unwrap() + 4];
    let in_tag = &xml[..xml.find("<DESCRIPTION_SHORT>Klemme 5").unwrap() + 8];
    let cases = [
        (
            "text.xml",
            in_text,
            "the file ends inside <DESCRIPTION_SHORT>: it is truncated",
        ),
        ("tag.xml", in_tag, "the XML is not well formed near line 9"),
    ];
    for (file, body, expected) in cases {
        let key = format!("pim/inbox/{file}");
        let (report, _) = import(&stack, &handler, &key, body.as_bytes().to_vec()).await;
        assert_quarantined(&stack, &report, file).await;
        let reason = report.reason.as_deref().unwrap();
        assert!(
            reason.starts_with("the file cannot be read: ") && reason.contains(expected),
            "{file}: {reason}"
        );
    }
    // The five complete products before the cut were not applied either.
    assert_eq!(product_count(&stack).await, 0);
}

// ------------------------------------------------------------------ encodings

#[tokio::test]
async fn a_utf8_csv_with_one_windows_1252_row_reads_that_row_as_windows_1252_with_a_warning() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    let mut body = b"sku,name.de\nE-1,Gr\xc3\xb6\xc3\x9fe f\xc3\xbcr Au\xc3\x9fen\n".to_vec();
    // One row from a Windows-1252 source: ö ß € in single bytes.
    body.extend_from_slice(b"E-2,Gr\xf6\xdfe 10 \x80\n");
    body.extend_from_slice("E-3,Stra\u{df}e \u{2013} \u{20ac} 5\n".as_bytes());
    let (report, _) = import(&stack, &handler, "pim/inbox/mixed.csv", body).await;
    assert_eq!(report.status, ImportStatus::Applied, "{report:?}");
    assert_eq!((report.counts.created, report.counts.rejected), (3, 0));
    // Detected per field, so neither encoding's rows are garbled by the other.
    assert_eq!(
        name_of(&product(&stack, "E-1").await.unwrap()),
        "Größe für Außen"
    );
    assert_eq!(
        name_of(&product(&stack, "E-2").await.unwrap()),
        "Größe 10 €"
    );
    assert_eq!(
        name_of(&product(&stack, "E-3").await.unwrap()),
        "Straße – € 5"
    );
    // Not silent: the report says the file was (partly) read as Windows-1252.
    assert!(
        report.warnings.iter().any(|w| w.contains("Windows-1252")),
        "{:?}",
        report.warnings
    );
}

/// One field with UTF-8 "ü" and a Windows-1252 "€" byte is decoded whole as Windows-1252
/// (`formats::decode_text`), so the UTF-8 part becomes mojibake ("Ã¼") in the table, with
/// only the file-wide warning.
#[tokio::test]
async fn a_field_mixing_utf8_and_windows_1252_bytes_is_not_stored_as_mojibake() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    let body = b"sku,name.de\nM-1,Gr\xc3\xbcn 5 \x80\nM-2,Blau\n".to_vec();
    let (report, _) = import(&stack, &handler, "pim/inbox/field.csv", body).await;
    // Either the row is refused with its field named, or both parts are read correctly;
    // never "GrÃ¼n 5 €".
    match product(&stack, "M-1").await {
        Some(stored) => assert_eq!(name_of(&stored), "Grün 5 €", "{report:?}"),
        None => assert!(
            report
                .rejections
                .iter()
                .any(|r| r.line == 2 && r.field.starts_with("name")),
            "{report:?}"
        ),
    }
    assert_eq!(name_of(&product(&stack, "M-2").await.unwrap()), "Blau");
}

// ------------------------------------------------------------------ spreadsheet formulas

#[tokio::test]
async fn formula_cells_reach_the_report_only_as_json_strings_and_the_table_as_text() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    let formulas = [
        ("F-1", r#"=HYPERLINK("http://evil","x")"#),
        ("F-2", "@SUM(1+1)"),
        ("F-3", "+1+1"),
        ("F-4", "-2+3"),
        ("F-5", "=cmd|' /C calc'!A0"),
        ("F-6", "\u{9}=1+1"),
    ];
    let mut body = String::from("sku,name.de,brand,gtin\n");
    for (sku, name) in formulas {
        body.push_str(&format!(
            "{sku},\"{}\",\"{}\",\n",
            name.replace('"', "\"\""),
            name.replace('"', "\"\"")
        ));
    }
    for n in 0..10 {
        body.push_str(&format!("OK-{n},Schraube {n},ACME,\n"));
    }
    // Formulas where the report repeats the value: a sku and a GTIN that are rejected.
    body.push_str("=1+1,Formel als sku,ACME,\n");
    body.push_str("F-9,Formel als GTIN,ACME,\"=HYPERLINK(\"\"http://evil\"\")\"\n");
    let (report, _) = import(
        &stack,
        &handler,
        "pim/inbox/formulas.csv",
        body.into_bytes(),
    )
    .await;
    assert_eq!(report.status, ImportStatus::Applied, "{report:?}");
    assert_eq!(report.counts.rejected, 2, "{report:?}");

    // The report is JSON only: no CSV (or TSV) beside it that a spreadsheet would open.
    let listed = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&stack.sdk)
            .force_path_style(true)
            .build(),
    )
    .list_objects_v2()
    .bucket(stack.bucket("CatalogBucket"))
    .prefix("pim/reports/")
    .send()
    .await
    .unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["pim/reports/formulas.csv.json"]);

    // In it the values are JSON strings, exactly as sent.
    let (_, json) = stored_report(&stack, "formulas.csv").await;
    let rejections = json["rejections"].as_array().unwrap();
    let sku_row = rejections
        .iter()
        .find(|r| r["line"] == 18)
        .expect("line 18");
    assert_eq!(sku_row["sku"], Value::String("=1+1".into()));
    assert_eq!(sku_row["field"], "sku");
    assert_eq!(sku_row["code"], "invalid_character");
    let gtin_row = rejections
        .iter()
        .find(|r| r["line"] == 19)
        .expect("line 19");
    assert_eq!(gtin_row["sku"], "F-9");
    assert_eq!(gtin_row["field"], "gtin");
    assert!(gtin_row["message"].is_string());

    // The table keeps product text as the PIM sent it: it is data for the shop, not a
    // cell; neutralising is the job of whatever writes a spreadsheet.
    for (sku, name) in formulas {
        let stored = product(&stack, sku)
            .await
            .unwrap_or_else(|| panic!("{sku}"));
        let expected = name.trim();
        assert_eq!(name_of(&stored), expected, "{sku}");
        assert_eq!(stored.product.brand.as_deref(), Some(expected), "{sku}");
    }
    assert!(product(&stack, "F-9").await.is_none());
}

// ------------------------------------------------------------------ XML entities

#[tokio::test]
async fn an_xml_external_entity_is_refused_and_nothing_leaks() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    let xml = BMECAT_HEAD.replacen(
        "<BMECAT ",
        "<!DOCTYPE BMECAT [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<BMECAT ",
        1,
    ) + "<PRODUCT><SUPPLIER_PID>XXE-1</SUPPLIER_PID><PRODUCT_DETAILS><DESCRIPTION_SHORT>&xxe;</DESCRIPTION_SHORT></PRODUCT_DETAILS></PRODUCT>\n</T_NEW_CATALOG></BMECAT>\n";
    let (report, took) = import(&stack, &handler, "pim/inbox/xxe.xml", xml.into_bytes()).await;
    assert_quarantined(&stack, &report, "xxe.xml").await;
    assert_eq!(
        report.reason.as_deref(),
        Some(
            "the file cannot be read: the DOCTYPE at line 2 declares entities (<!ENTITY>); \
             entity declarations are refused (no external entities, no entity expansion): \
             export the catalog without an internal DTD subset"
        )
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let (text, _) = stored_report(&stack, "xxe.xml").await;
    assert!(!text.contains("root:"), "file content leaked: {text}");
    assert_eq!(product_count(&stack).await, 0);
}

#[tokio::test]
async fn a_billion_laughs_is_refused_fast_and_writes_no_product() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    let mut doctype = String::from("<!DOCTYPE BMECAT [\n<!ENTITY lol0 \"lol\">\n");
    for level in 1..10 {
        let previous = format!("&lol{};", level - 1);
        doctype.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">\n",
            previous.repeat(10)
        ));
    }
    doctype.push_str("]>\n");
    let xml = BMECAT_HEAD.replacen("<BMECAT ", &format!("{doctype}<BMECAT "), 1)
        + "<PRODUCT><SUPPLIER_PID>LOL-1</SUPPLIER_PID><PRODUCT_DETAILS><DESCRIPTION_SHORT>&lol9;</DESCRIPTION_SHORT></PRODUCT_DETAILS></PRODUCT>\n</T_NEW_CATALOG></BMECAT>\n";
    let (report, took) = import(&stack, &handler, "pim/inbox/lol.xml", xml.into_bytes()).await;
    assert_quarantined(&stack, &report, "lol.xml").await;
    let reason = report.reason.as_deref().unwrap();
    assert!(
        reason.contains("the DOCTYPE at line 2 declares entities"),
        "{reason}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let (text, _) = stored_report(&stack, "lol.xml").await;
    assert!(!text.contains("lollol"), "an entity was expanded: {text}");
    assert_eq!(product_count(&stack).await, 0);
}

//! The PIM import, wired as deployed, against the moto server.

use bridge_domain::Sku;
use bridge_domain::ports::{CatalogStore, FileStore, ImportStatus};
use bridge_domain::product::ProductStatus;
use bridge_lambda::Config;
use bridge_testkit::TestStack;
use pim_import::handler::ImportHandler;
use pim_import::{ImportReport, RunOutcome};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

fn handler(stack: &TestStack, overrides: &[(&str, &str)]) -> ImportHandler {
    let mut env = stack.environment("pim-import");
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    pim_import::wiring::build(&Config::from_map(env), &stack.sdk).expect("the import wires")
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

/// A CSV of `skus` products (`P-<n>`), `name` varying the content.
fn csv(skus: std::ops::Range<u64>, name: &str) -> String {
    let mut out = String::from("sku,gtin,name.de,unit,weight_kg,attr.size\n");
    for n in skus {
        out.push_str(&format!(
            "P-{n:05},{},{name} {n},C62,1.{n},\"{n} mm, lang\"\n",
            bridge_domain::product::Gtin::gtin13(400_000_000_000 + n)
        ));
    }
    out
}

/// Uploads and imports to the end, one run or many; returns the report and the runs.
async fn import(
    stack: &TestStack,
    handler: &ImportHandler,
    key: &str,
    body: Vec<u8>,
) -> (ImportReport, u32) {
    files(stack)
        .write(key, body, "application/octet-stream")
        .await
        .unwrap();
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 1000, "the import does not finish");
        match handler
            .importer
            .run(key, Instant::now() + Duration::from_secs(600))
            .await
            .unwrap()
        {
            RunOutcome::Finished(report) => return (*report, runs),
            RunOutcome::Continued { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn product(stack: &TestStack, sku: &str) -> Option<bridge_domain::ports::StoredProduct> {
    catalog(stack)
        .product(&Sku::parse(sku).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_delta_import_creates_then_an_unchanged_file_costs_no_write() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    let (report, _) = import(
        &stack,
        &handler,
        "pim/inbox/d.csv",
        csv(0..20, "Schraube").into_bytes(),
    )
    .await;
    assert_eq!(report.status, ImportStatus::Applied, "{report:?}");
    assert_eq!(
        (
            report.counts.total,
            report.counts.created,
            report.counts.rejected
        ),
        (20, 20, 0)
    );
    assert_eq!(report.moved_to, "pim/processed/d.csv");
    let first = product(&stack, "P-00007").await.unwrap();
    assert_eq!(first.product.attributes["size"], "7 mm, lang");
    let store = files(&stack);
    assert!(store.read("pim/inbox/d.csv").await.unwrap().is_none());
    assert!(store.read("pim/processed/d.csv").await.unwrap().is_some());
    let stored_report: ImportReport =
        serde_json::from_slice(&store.read("pim/reports/d.csv.json").await.unwrap().unwrap())
            .unwrap();
    assert_eq!(stored_report.counts, report.counts);

    // The same content again: nothing written (the product still names the first import).
    let (again, _) = import(
        &stack,
        &handler,
        "pim/inbox/d.csv",
        csv(0..20, "Schraube").into_bytes(),
    )
    .await;
    assert_eq!(
        (
            again.counts.unchanged,
            again.counts.created,
            again.counts.updated
        ),
        (20, 0, 0)
    );
    assert_eq!(
        product(&stack, "P-00007").await.unwrap().import_id,
        first.import_id
    );

    // One changed row: one write.
    let changed = csv(0..20, "Schraube").replace("Schraube 3,", "Schraube drei,");
    let (third, _) = import(&stack, &handler, "pim/inbox/d.csv", changed.into_bytes()).await;
    assert_eq!((third.counts.updated, third.counts.unchanged), (1, 19));
    assert_eq!(
        product(&stack, "P-00003")
            .await
            .unwrap()
            .product
            .names
            .values()
            .next()
            .unwrap(),
        "Schraube drei"
    );
    assert_eq!(
        product(&stack, "P-00007").await.unwrap().import_id,
        first.import_id
    );
}

#[tokio::test]
async fn conflicting_rows_are_both_rejected_and_identical_repeats_import_once() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    let mut body = csv(0..20, "Mutter");
    body.push_str(&format!(
        "P-00002,{},Mutter anders,C62,1.2,x\n",
        bridge_domain::product::Gtin::gtin13(400_000_000_002)
    ));
    body.push_str(&format!(
        "P-00004,{},Mutter 4,C62,1.4,\"4 mm, lang\"\n",
        bridge_domain::product::Gtin::gtin13(400_000_000_004)
    ));
    let (report, _) = import(&stack, &handler, "pim/inbox/c.csv", body.into_bytes()).await;
    assert_eq!(report.status, ImportStatus::Applied);
    assert_eq!(report.counts.created, 19, "{report:?}");
    let conflicts: Vec<_> = report
        .rejections
        .iter()
        .filter(|r| r.code == "conflict")
        .collect();
    assert_eq!(
        conflicts.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![4, 22]
    );
    assert!(
        conflicts
            .iter()
            .all(|r| r.sku.as_deref() == Some("P-00002"))
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("P-00004") && w.contains("lines 6 and 23"))
    );
    assert!(product(&stack, "P-00002").await.is_none());
    assert!(product(&stack, "P-00004").await.is_some());
}

#[tokio::test]
async fn too_many_rejections_quarantine_the_file_and_apply_nothing() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    let mut body = csv(0..8, "Dübel");
    body.push_str("BAD 1,,x,C62,1,\n,,nameless,C62,1,\nP-00100,123,ok,C62,abc,\n");
    let (report, _) = import(&stack, &handler, "pim/inbox/q.csv", body.into_bytes()).await;
    assert_eq!(report.status, ImportStatus::Quarantined);
    assert!(
        report
            .reason
            .as_ref()
            .unwrap()
            .contains("3 of 11 records rejected"),
        "{:?}",
        report.reason
    );
    assert_eq!(report.counts.created, 0);
    assert_eq!(report.moved_to, "pim/quarantine/q.csv");
    let codes: Vec<_> = report
        .rejections
        .iter()
        .map(|r| (r.line, r.field.as_str(), r.code.as_str()))
        .collect();
    assert!(
        codes.contains(&(10, "sku", "invalid_character")),
        "{codes:?}"
    );
    assert!(codes.contains(&(11, "sku", "missing_field")), "{codes:?}");
    assert!(codes.contains(&(12, "gtin", "invalid_gtin")), "{codes:?}");
    assert!(
        codes.contains(&(12, "weight_kg", "invalid_number")),
        "{codes:?}"
    );
    assert!(
        product(&stack, "P-00001").await.is_none(),
        "nothing may be applied"
    );
    assert!(
        files(&stack)
            .read("pim/quarantine/q.csv")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_full_catalog_deactivates_what_it_lacks_unless_that_is_too_much() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    let (first, _) = import(
        &stack,
        &handler,
        "pim/inbox/full/all.csv",
        csv(0..20, "Nagel").into_bytes(),
    )
    .await;
    assert_eq!((first.mode.as_str(), first.counts.created), ("full", 20));
    // Two of twenty gone: 10 %, at the limit.
    let (second, _) = import(
        &stack,
        &handler,
        "pim/inbox/full/all.csv",
        csv(0..18, "Nagel").into_bytes(),
    )
    .await;
    assert_eq!(second.status, ImportStatus::Applied, "{:?}", second.reason);
    assert_eq!(
        (second.counts.deactivated, second.counts.unchanged),
        (2, 18)
    );
    assert_eq!(
        product(&stack, "P-00019").await.unwrap().product.status,
        ProductStatus::Inactive
    );
    assert_eq!(
        product(&stack, "P-00017").await.unwrap().product.status,
        ProductStatus::Active
    );
    let stored = product(&stack, "P-00019").await.unwrap();
    assert!(stored.content_hash.starts_with("deactivated-by-"));
    // Half of them gone: quarantined, nothing deactivated.
    let (third, _) = import(
        &stack,
        &handler,
        "pim/inbox/full/all.csv",
        csv(0..9, "Nagel").into_bytes(),
    )
    .await;
    assert_eq!(third.status, ImportStatus::Quarantined);
    assert!(
        third
            .reason
            .as_ref()
            .unwrap()
            .contains("would deactivate 9 of 18"),
        "{:?}",
        third.reason
    );
    assert_eq!(third.counts.deactivated, 0);
    let active = catalog(&stack).active_skus(None).await.unwrap().0.len();
    assert_eq!(active, 18);
}

#[tokio::test]
async fn an_import_continued_over_many_runs_equals_an_uninterrupted_one() {
    let body = csv(0..60, "Bolzen").into_bytes();
    let whole = super::support::stack(false).await;
    let (uninterrupted, runs) = import(
        &whole,
        &handler(&whole, &[]),
        "pim/inbox/full/r.csv",
        body.clone(),
    )
    .await;
    assert_eq!(runs, 1);
    let pieces = super::support::stack(false).await;
    let (continued, runs) = import(
        &pieces,
        &handler(&pieces, &[("MAX_RECORDS_PER_RUN", "7")]),
        "pim/inbox/full/r.csv",
        body,
    )
    .await;
    assert!(runs >= 9, "{runs} runs");
    assert_eq!(continued.runs, runs);
    assert_eq!(continued.counts, uninterrupted.counts);
    assert_eq!(continued.counts.created, 60, "each product written once");
    for n in 0..60 {
        let sku = format!("P-{n:05}");
        let a = product(&whole, &sku).await.unwrap();
        let b = product(&pieces, &sku).await.unwrap();
        assert_eq!(
            (a.product, a.content_hash),
            (b.product, b.content_hash),
            "{sku}"
        );
    }
    // Every pause queued its continuation.
    let queued = pieces.drain_queue("PimImportQueue").await;
    let continuations = queued
        .iter()
        .filter(|m| m.body().unwrap_or_default().contains("\"import\""))
        .count();
    assert_eq!(continuations as u32, runs - 1);
}

#[tokio::test]
async fn gzip_windows_1252_ndjson_and_bmecat_files_import() {
    let stack = super::support::stack(false).await;
    // A small catalog: one deletion is a large share of it.
    let handler = handler(&stack, &[("MAX_DEACTIVATION_SHARE", "0.5")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv(0..5, "Gz").as_bytes()).unwrap();
    let (report, _) = import(&stack, &handler, "pim/inbox/z.csv.gz", gz.finish().unwrap()).await;
    assert_eq!((report.compressed, report.counts.created), (true, 5));

    let (latin, _, _) =
        encoding_rs::WINDOWS_1252.encode("sku;name.de-DE\r\nW-1;Größe für Außen\r\n");
    let (report, _) = import(&stack, &handler, "pim/inbox/w.csv", latin.into_owned()).await;
    assert_eq!(report.counts.created, 1);
    assert!(
        report.warnings.iter().any(|w| w.contains("Windows-1252")),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        product(&stack, "W-1")
            .await
            .unwrap()
            .product
            .names
            .values()
            .next()
            .unwrap(),
        "Größe für Außen"
    );

    let ndjson = "{\"sku\":\"N-1\",\"name\":{\"en\":\"Nut\"},\"attributes\":{\"thread\":\"M8\"}}\n{\"sku\":\"N-2\",\"name\":{\"en\":\"Bolt\"},\"status\":\"inactive\"}\n";
    let (report, _) = import(
        &stack,
        &handler,
        "pim/inbox/n.jsonl",
        ndjson.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(report.counts.created, 2);
    assert_eq!(
        product(&stack, "N-2").await.unwrap().product.status,
        ProductStatus::Inactive
    );

    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<BMECAT version="2005" xmlns="http://www.bmecat.org/bmecat/2005"><HEADER><CATALOG><LANGUAGE>deu</LANGUAGE></CATALOG></HEADER>
<T_UPDATE_PRODUCTS prev_version="1">
<PRODUCT mode="update"><SUPPLIER_PID>B-1</SUPPLIER_PID><PRODUCT_DETAILS><DESCRIPTION_SHORT>Klemme 4 mm&amp;sup2;</DESCRIPTION_SHORT></PRODUCT_DETAILS></PRODUCT>
<PRODUCT mode="delete"><SUPPLIER_PID>N-1</SUPPLIER_PID></PRODUCT>
</T_UPDATE_PRODUCTS></BMECAT>"#;
    let (report, _) = import(&stack, &handler, "pim/inbox/b.xml", xml.as_bytes().to_vec()).await;
    assert_eq!(
        (
            report.counts.created,
            report.counts.deactivated,
            report.counts.rejected
        ),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(
        product(&stack, "B-1")
            .await
            .unwrap()
            .product
            .names
            .values()
            .next()
            .unwrap(),
        "Klemme 4 mm²"
    );
    assert_eq!(
        product(&stack, "N-1").await.unwrap().product.names.len(),
        1,
        "a deletion keeps the content"
    );
    assert!(
        catalog(&stack)
            .active_skus(None)
            .await
            .unwrap()
            .0
            .iter()
            .all(|s| s.as_str() != "N-1")
    );
}

#[tokio::test]
async fn unreadable_and_unknown_files_are_quarantined_with_a_reason() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv(0..200, "Cut").as_bytes()).unwrap();
    let mut truncated = gz.finish().unwrap();
    truncated.truncate(truncated.len() / 2);
    let (report, _) = import(&stack, &handler, "pim/inbox/t.csv.gz", truncated).await;
    assert_eq!(report.status, ImportStatus::Quarantined);
    assert!(
        report.reason.as_ref().unwrap().contains("cannot be read"),
        "{:?}",
        report.reason
    );
    assert_eq!(report.counts.created, 0);
    assert!(product(&stack, "P-00001").await.is_none());

    let (report, _) = import(&stack, &handler, "pim/inbox/notes.txt", b"hello".to_vec()).await;
    assert_eq!(report.status, ImportStatus::Quarantined);
    assert!(report.reason.as_ref().unwrap().contains("unknown format"));
    let ledger = bridge_aws::DynamoImportLedger::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("ImportTable"),
    );
    let listed = bridge_domain::ports::ImportLedger::list(&ledger)
        .await
        .unwrap();
    let statuses: HashMap<_, _> = listed
        .iter()
        .map(|r| (r.file.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(statuses["pim/inbox/t.csv.gz"], "quarantined");
    assert_eq!(statuses["pim/inbox/notes.txt"], "quarantined");
}

#[tokio::test]
async fn a_redelivered_notification_of_an_imported_file_changes_nothing() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    let (report, _) = import(
        &stack,
        &handler,
        "pim/inbox/once.csv",
        csv(0..3, "Stift").into_bytes(),
    )
    .await;
    assert_eq!(report.status, ImportStatus::Applied);
    let again = handler
        .importer
        .run(
            "pim/inbox/once.csv",
            Instant::now() + Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(matches!(again, RunOutcome::Skipped(_)), "{again:?}");
    let ledger = bridge_aws::DynamoImportLedger::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("ImportTable"),
    );
    let record = bridge_domain::ports::ImportLedger::get(&ledger, "pim/inbox/once.csv")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, ImportStatus::Applied);
}

#[tokio::test]
async fn a_valid_row_followed_by_a_rejected_row_of_the_same_sku_is_not_imported() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    let mut body = csv(0..20, "Keil");
    // P-00005 again, with a broken GTIN: which row is right cannot be told.
    body.push_str("P-00005,4000000000050,Keil 5,C62,1.5,x\n");
    let (report, _) = import(&stack, &handler, "pim/inbox/v.csv", body.into_bytes()).await;
    assert_eq!(report.status, ImportStatus::Applied, "{:?}", report.reason);
    assert_eq!(report.counts.created, 19);
    assert!(product(&stack, "P-00005").await.is_none());
    let lines: Vec<_> = report
        .rejections
        .iter()
        .filter(|r| r.sku.as_deref() == Some("P-00005"))
        .map(|r| (r.line, r.code.as_str()))
        .collect();
    assert!(
        lines.contains(&(7, "conflict")) && lines.iter().any(|(l, _)| *l == 22),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_full_catalog_with_rows_without_a_readable_sku_deactivates_nothing() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    import(
        &stack,
        &handler,
        "pim/inbox/full/u.csv",
        csv(0..20, "Niete").into_bytes(),
    )
    .await;
    // Nineteen good rows and one whose sku cannot be read: P-00019 may be that row.
    let mut body = csv(0..19, "Niete");
    body.push_str(",,Niete ohne sku,C62,1,\n");
    let (report, _) = import(&stack, &handler, "pim/inbox/full/u.csv", body.into_bytes()).await;
    assert_eq!(report.status, ImportStatus::Applied, "{:?}", report.reason);
    assert_eq!(report.counts.deactivated, 0);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("nothing is deactivated")),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        product(&stack, "P-00019").await.unwrap().product.status,
        ProductStatus::Active
    );
}

#[tokio::test]
async fn folder_markers_are_skipped_not_quarantined() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    files(&stack)
        .write("pim/inbox/full/", Vec::new(), "application/x-directory")
        .await
        .unwrap();
    let outcome = handler
        .importer
        .run("pim/inbox/full/", Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(outcome, RunOutcome::Skipped(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_file_uploaded_again_during_an_import_is_left_for_its_own_import() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[("MAX_RECORDS_PER_RUN", "5")]);
    let store = files(&stack);
    store
        .write(
            "pim/inbox/again.csv",
            csv(0..12, "Alt").into_bytes(),
            "text/csv",
        )
        .await
        .unwrap();
    let first = handler
        .importer
        .run(
            "pim/inbox/again.csv",
            Instant::now() + Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(matches!(first, RunOutcome::Continued { .. }), "{first:?}");
    // The PIM uploads a corrected export under the same name while the first one runs.
    store
        .write(
            "pim/inbox/again.csv",
            csv(100..103, "Neu").into_bytes(),
            "text/csv",
        )
        .await
        .unwrap();
    let report = loop {
        match handler
            .importer
            .run(
                "pim/inbox/again.csv",
                Instant::now() + Duration::from_secs(60),
            )
            .await
            .unwrap()
        {
            RunOutcome::Finished(report) => break report,
            RunOutcome::Continued { .. } => continue,
            other => panic!("{other:?}"),
        }
    };
    // The first import read its own version to the end...
    assert_eq!(report.counts.created, 12, "{report:?}");
    assert!(product(&stack, "P-00100").await.is_none());
    // ...and the second upload is still in the inbox, imported next.
    assert!(store.read("pim/inbox/again.csv").await.unwrap().is_some());
    let (second, _) = import_existing(&handler, "pim/inbox/again.csv").await;
    assert_eq!(second.counts.created, 3);
    assert!(product(&stack, "P-00101").await.is_some());
}

async fn import_existing(handler: &ImportHandler, key: &str) -> (ImportReport, u32) {
    let mut runs = 0;
    loop {
        runs += 1;
        match handler
            .importer
            .run(key, Instant::now() + Duration::from_secs(600))
            .await
            .unwrap()
        {
            RunOutcome::Finished(report) => return (*report, runs),
            RunOutcome::Continued { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn switching_off_many_products_by_status_trips_the_deactivation_guard_too() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack, &[]);
    import(
        &stack,
        &handler,
        "pim/inbox/base.csv",
        csv(0..20, "Klammer").into_bytes(),
    )
    .await;
    // A delta that switches off five of twenty active products: 25 %.
    let mut body = String::from("sku,name.de,status\n");
    for n in 0..5 {
        body.push_str(&format!("P-{n:05},Klammer {n},inactive\n"));
    }
    let (report, _) = import(&stack, &handler, "pim/inbox/off.csv", body.into_bytes()).await;
    assert_eq!(report.status, ImportStatus::Quarantined, "{report:?}");
    assert!(
        report
            .reason
            .as_ref()
            .unwrap()
            .contains("deactivate 5 of 20"),
        "{:?}",
        report.reason
    );
    assert_eq!(
        product(&stack, "P-00001").await.unwrap().product.status,
        ProductStatus::Active
    );
}

/// Runs `key` once as its notification would.
async fn run_once(handler: &ImportHandler, key: &str) -> RunOutcome {
    handler
        .importer
        .run(key, Instant::now() + Duration::from_secs(600))
        .await
        .unwrap()
}

#[tokio::test]
async fn files_apply_in_the_order_they_arrived_whatever_order_their_imports_run_in() {
    let stack = TestStack::with_secrets(Default::default()).await;
    // A waiting file holds its lease until shortly before its delayed message returns: the
    // wait less 5 s, 4 s here (whole seconds in the ledger, so 5.1 s to be sure it ended),
    // room for the steps between a wait and the check that finds the file busy on a loaded
    // 2-core machine (1 s was too little: a CI run failed there).
    let handler = handler(&stack, &[("WAIT_FOR_EARLIER_SECONDS", "9")]);
    let lease_ends = || tokio::time::sleep(Duration::from_millis(5100));
    let put = |key: &'static str, body: String| {
        let files = files(&stack);
        async move {
            files
                .write(key, body.into_bytes(), "text/csv")
                .await
                .unwrap();
        }
    };
    // A complete catalog of P-00000..P-00004, then (a second later: S3 keeps seconds) a
    // delta that adds P-00009 and renames P-00001, then one that renames P-00001 again.
    put("pim/inbox/full/catalog.csv", csv(0..5, "Katalog")).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut delta = csv(9..10, "Neu");
    delta.push_str(csv(1..2, "Erste").lines().nth(1).unwrap());
    delta.push('\n');
    put("pim/inbox/z-first.csv", delta).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    put("pim/inbox/a-second.csv", csv(1..2, "Zweite")).await;

    // The notifications arrive the other way round: the later files wait for the earlier.
    let waiting = run_once(&handler, "pim/inbox/a-second.csv").await;
    assert!(
        matches!(&waiting, RunOutcome::Waiting { behind } if behind == "pim/inbox/full/catalog.csv"),
        "{waiting:?}"
    );
    let waiting = run_once(&handler, "pim/inbox/z-first.csv").await;
    assert!(matches!(waiting, RunOutcome::Waiting { .. }), "{waiting:?}");
    assert!(
        product(&stack, "P-00009").await.is_none(),
        "nothing applied yet"
    );
    // A second notification (or the sweep) meanwhile finds the waiting file busy: no second
    // chain of waits.
    assert!(matches!(
        run_once(&handler, "pim/inbox/a-second.csv").await,
        RunOutcome::Busy
    ));
    // Each went back to the queue, delayed, not lost.
    let delayed = aws_sdk_sqs::Client::new(&stack.sdk)
        .get_queue_attributes()
        .queue_url(stack.queue_url("PimImportQueue"))
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .unwrap();
    assert_eq!(
        delayed.attributes().unwrap()
            [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed],
        "2"
    );

    assert!(matches!(
        run_once(&handler, "pim/inbox/full/catalog.csv").await,
        RunOutcome::Finished(_)
    ));
    lease_ends().await;
    assert!(matches!(
        run_once(&handler, "pim/inbox/a-second.csv").await,
        RunOutcome::Waiting { .. }
    ));
    assert!(matches!(
        run_once(&handler, "pim/inbox/z-first.csv").await,
        RunOutcome::Finished(_)
    ));
    lease_ends().await;
    assert!(matches!(
        run_once(&handler, "pim/inbox/a-second.csv").await,
        RunOutcome::Finished(_)
    ));

    // The catalog did not deactivate what the later delta created, and the last delta won.
    let created = product(&stack, "P-00009")
        .await
        .expect("created by the delta");
    assert_eq!(created.product.status, ProductStatus::Active);
    let renamed = product(&stack, "P-00001").await.unwrap();
    assert!(
        renamed.product.names.values().any(|n| n == "Zweite 1"),
        "{:?}",
        renamed.product.names
    );
}

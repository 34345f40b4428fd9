//! Snapshot reconciliation (contract section 5) against the moto server: the real
//! tables, bucket and queues of the template, the function wired by `wiring::build`.

use bridge_domain::events::{PricePer, PriceTier, PriceTiers, UnitPrice, ValidityWindow};
use bridge_domain::ports::{FileStore, PriceStore, StockStore};
use bridge_domain::{
    Currency, PriceChanged, PriceListId, Quantity, Revision, Sku, StockChanged, UnitCode,
    WarehouseId,
};
use bridge_lambda::Config;
use bridge_testkit::TestStack;
use reconcile::handler::ReconcileHandler;
use reconcile::{ReconcileReport, Status};
use rust_decimal::Decimal;
use serde_json::Value;
use std::io::Write;
use std::str::FromStr;

/// The function wired as the template wires it (a threshold of 2 to see both sides of it).
fn handler(stack: &TestStack) -> ReconcileHandler {
    let mut env = stack.environment("reconcile");
    env.insert("DRIFT_ALARM_THRESHOLD".into(), "2".into());
    env.insert(
        "TEMP_DIR".into(),
        std::env::temp_dir()
            .join("reconcile-it")
            .display()
            .to_string(),
    );
    reconcile::wiring::build(&Config::from_map(env), &stack.sdk).expect("reconcile wires")
}

fn files(stack: &TestStack) -> bridge_aws::S3FileStore {
    bridge_aws::S3FileStore::new(
        bridge_aws::s3_client(&stack.sdk),
        stack.bucket("CatalogBucket"),
    )
}

fn stock_store(stack: &TestStack) -> bridge_aws::DynamoStockStore {
    bridge_aws::DynamoStockStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("StockTable"),
    )
}

fn price_store(stack: &TestStack) -> bridge_aws::DynamoPriceStore {
    bridge_aws::DynamoPriceStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("PriceTable"),
        stack.table("PriceIndexTable"),
    )
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn stock(sku: &str, available: &str, revision: u64) -> StockChanged {
    StockChanged {
        sku: Sku::parse(sku).unwrap(),
        warehouse: WarehouseId::parse("W1").unwrap(),
        available: Quantity::new(dec(available)).unwrap(),
        revision: Revision::new(revision),
        as_of: None,
        next_delivery: None,
    }
}

/// Every stored stock level, through the paged scan, by sku.
async fn all_stock(stack: &TestStack) -> Vec<StockChanged> {
    let store = stock_store(stack);
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = store.scan_stock(cursor).await.unwrap();
        all.extend(page);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    all.sort_by(|a, b| a.sku.cmp(&b.sku));
    all
}

async fn level(stack: &TestStack, sku: &str) -> Option<StockChanged> {
    stock_store(stack)
        .stock_of(&Sku::parse(sku).unwrap())
        .await
        .unwrap()
        .into_iter()
        .next()
}

async fn report_json(stack: &TestStack, report: &ReconcileReport) -> Value {
    let bytes = files(stack)
        .read(&report.report_key)
        .await
        .unwrap()
        .expect("the report is written");
    serde_json::from_slice(&bytes).unwrap()
}

/// The drift list as (sku, kind, applied).
fn drift_of(report: &Value, key_part: &str) -> Vec<(String, String, bool)> {
    let mut drift: Vec<_> = report["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["key"][key_part].as_str().unwrap().to_string(),
                d["kind"].as_str().unwrap().to_string(),
                d["applied"].as_bool().unwrap(),
            )
        })
        .collect();
    drift.sort();
    drift
}

const STOCK_SNAPSHOT: &str = "sku,warehouse,available,revision\n\
    A-NEWER,W1,12,5\n\
    A-OLDER,W1,3,2\n\
    A-EQUAL,W1,10.0,3\n\
    A-DIFF,W1,8,3\n\
    A-NEW,W1,4.25,1\n";

#[tokio::test]
async fn a_stock_snapshot_applies_what_is_newer_and_reports_every_drift() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    let store = stock_store(&stack);
    for level in [
        stock("A-NEWER", "1", 3),
        stock("A-OLDER", "9", 4),
        stock("A-EQUAL", "10", 3),
        stock("A-DIFF", "7", 3),
        stock("A-ONLY-STORE", "5", 2),
    ] {
        store.apply_stock(&level).await.unwrap();
    }
    let key = "erp/snapshots/stock-2026-11-26.csv";
    files(&stack)
        .write(key, STOCK_SNAPSHOT.as_bytes().to_vec(), "text/csv")
        .await
        .unwrap();

    let report = handler.reconciler.reconcile(key).await.unwrap();
    assert_eq!(report.status, Status::Reconciled, "{report:?}");
    let c = &report.counts;
    assert_eq!(
        (
            c.rows,
            c.records,
            c.unchanged,
            c.applied,
            c.stale_on_apply,
            c.invalid
        ),
        (5, 5, 1, 2, 0, 0),
        "{c:?}"
    );
    assert_eq!(
        (
            c.drift.content_mismatch,
            c.drift.missing_in_store,
            c.drift.missing_in_snapshot,
            c.drift.store_newer,
            c.drift_total
        ),
        (1, 1, 1, 1, 4)
    );
    assert_eq!(report.report_key, "erp/reports/stock-2026-11-26.csv.json");
    assert!(report.version.is_some(), "the catalog bucket is versioned");

    // The report names every drifted record with its kind and both sides.
    let json = report_json(&stack, &report).await;
    assert_eq!(json["kind"], "stock");
    assert_eq!(json["status"], "reconciled");
    assert_eq!(json["counts"]["drift_total"], 4);
    assert_eq!(
        drift_of(&json, "sku"),
        [
            ("A-DIFF".into(), "content_mismatch".into(), false),
            ("A-NEW".into(), "missing_in_store".into(), true),
            ("A-OLDER".into(), "store_newer".into(), false),
            ("A-ONLY-STORE".into(), "missing_in_snapshot".into(), false),
        ]
    );
    let mismatch = json["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "content_mismatch")
        .unwrap();
    assert_eq!(mismatch["key"]["warehouse"], "W1");
    assert_eq!(mismatch["snapshot"]["available"], "8");
    assert_eq!(mismatch["store"]["available"], "7");
    assert!(mismatch["snapshot"].get("as_of").is_none());
    let only_store = json["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "missing_in_snapshot")
        .unwrap();
    assert!(only_store["snapshot"].is_null());
    assert_eq!(json["invalid"], serde_json::json!([]));

    // The newer and the missing records are stored; the others are untouched.
    let newer = level(&stack, "A-NEWER").await.unwrap();
    assert_eq!(
        (newer.available.to_string(), newer.revision.value()),
        ("12".into(), 5)
    );
    let added = level(&stack, "A-NEW").await.unwrap();
    assert_eq!(
        (added.available.to_string(), added.revision.value()),
        ("4.25".into(), 1)
    );
    assert_eq!(
        level(&stack, "A-OLDER").await.unwrap(),
        stock("A-OLDER", "9", 4)
    );
    assert_eq!(
        level(&stack, "A-EQUAL").await.unwrap(),
        stock("A-EQUAL", "10", 3)
    );
    assert_eq!(
        level(&stack, "A-DIFF").await.unwrap(),
        stock("A-DIFF", "7", 3)
    );

    // A re-delivered notification of the same version: the existing report, no new run.
    let again = handler.reconciler.reconcile(key).await.unwrap();
    assert_eq!(again.started_at, report.started_at);
    assert_eq!(again.counts, report.counts);

    // The same content as a new file: nothing is written.
    let before = all_stock(&stack).await;
    let second_key = "erp/snapshots/stock-2026-11-27.csv";
    files(&stack)
        .write(second_key, STOCK_SNAPSHOT.as_bytes().to_vec(), "text/csv")
        .await
        .unwrap();
    let second = handler.reconciler.reconcile(second_key).await.unwrap();
    let c = &second.counts;
    assert_eq!(
        (c.applied, c.unchanged, c.stale_on_apply),
        (0, 3, 0),
        "{c:?}"
    );
    assert_eq!(
        (
            c.drift.content_mismatch,
            c.drift.store_newer,
            c.drift.missing_in_snapshot,
            c.drift.missing_in_store
        ),
        (1, 1, 1, 0)
    );
    assert_eq!(all_stock(&stack).await, before, "no stored item changed");
}

fn price(sku: &str, tiers: &[(&str, &str)], revision: u64) -> PriceChanged {
    PriceChanged {
        price_list: PriceListId::parse("PL1").unwrap(),
        sku: Sku::parse(sku).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        tiers: PriceTiers::new(
            tiers
                .iter()
                .map(|(min, unit)| PriceTier {
                    min_qty: Quantity::new(dec(min)).unwrap(),
                    unit_price: UnitPrice::new(dec(unit)).unwrap(),
                })
                .collect(),
        )
        .unwrap(),
        revision: Revision::new(revision),
        price_unit: UnitCode::piece(),
        price_per: PricePer::ONE,
        validity: ValidityWindow::default(),
        deleted: false,
    }
}

async fn stored_price(stack: &TestStack, sku: &str) -> Option<PriceChanged> {
    price_store(stack)
        .prices_of(
            &[PriceListId::parse("PL1").unwrap()],
            &Sku::parse(sku).unwrap(),
        )
        .await
        .unwrap()
        .into_iter()
        .next()
}

fn tiers_of(price: &PriceChanged) -> Vec<(String, String)> {
    price
        .tiers
        .as_slice()
        .iter()
        .map(|t| (t.min_qty.to_string(), t.unit_price.value().to_string()))
        .collect()
}

#[tokio::test]
async fn a_gzip_price_snapshot_with_semicolons_applies_tiers_and_lists_invalid_rows() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    // A price per 100 kg: the snapshot cannot say so, and must not undo it.
    let mut per_hundred = price("P-1", &[("1", "9.90"), ("10", "8.50")], 2);
    per_hundred.price_unit = UnitCode::parse("KGM").unwrap();
    per_hundred.price_per = PricePer::new(dec("100")).unwrap();
    // The same window as the snapshot's (a record is a validity window, contract v2).
    per_hundred.validity = ValidityWindow::new(
        Some(bridge_contract::json::parse_bound("2026-01-01", false).unwrap()),
        None,
    )
    .unwrap();
    price_store(&stack).apply_price(&per_hundred).await.unwrap();
    price_store(&stack)
        .apply_price(&price("P-5", &[("1", "1")], 4))
        .await
        .unwrap();

    // Columns in another order, an extra one, CRLF; tiers of a record in any order.
    let csv = "sku;price_list;min_qty;unit_price;currency;valid_from;valid_to;revision;note\r\n\
        P-1;PL1;10;8.00;EUR;2026-01-01;;3;x\r\n\
        P-1;PL1;1;9.50;EUR;2026-01-01;;3;x\r\n\
        P-2;PL1;1;5;EUR;;2026-12-31;1;\r\n\
        P-2;PL1;5;4.5;EUR;;2026-12-31;1;\r\n\
        P-3;PL1;1;-2;EUR;;;1;\r\n\
        P-3;PL1;5;1;EUR;;;1;\r\n\
        P-4;PL1;1;3;EUR;;;1;\r\n\
        P-4;PL1;5;2;USD;;;1;\r\n\
        P-5;PL1;1;1.00;EUR;;;4;\r\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv.as_bytes()).unwrap();
    let key = "erp/snapshots/prices-2026-11-26.csv.gz";
    files(&stack)
        .write(key, gz.finish().unwrap(), "application/gzip")
        .await
        .unwrap();

    let report = handler.reconciler.reconcile(key).await.unwrap();
    assert_eq!(report.status, Status::Reconciled, "{report:?}");
    let c = &report.counts;
    assert_eq!(
        (
            c.rows,
            c.records,
            c.unchanged,
            c.applied,
            c.invalid,
            c.drift_total
        ),
        (9, 3, 1, 2, 2, 1),
        "{c:?}"
    );
    assert_eq!(c.drift.missing_in_store, 1);

    let json = report_json(&stack, &report).await;
    assert_eq!(json["kind"], "prices");
    let mut invalid: Vec<(u64, String, String)> = json["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["key"]["price_list"], "PL1");
            (
                i["line"].as_u64().unwrap(),
                i["key"]["sku"].as_str().unwrap().to_string(),
                i["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    invalid.sort();
    assert_eq!(
        invalid,
        [
            (6, "P-3".into(), "unit_price".into()),
            (9, "P-4".into(), "currency".into()),
        ]
    );
    assert_eq!(
        drift_of(&json, "sku"),
        [("P-2".into(), "missing_in_store".into(), true)]
    );
    let added = &json["drift"][0]["snapshot"];
    assert!(
        added.get("price_per").is_none(),
        "the snapshot cannot state it"
    );

    // P-1: the snapshot's tiers and window, the stored unit and price_per kept.
    let p1 = stored_price(&stack, "P-1").await.unwrap();
    assert_eq!(
        tiers_of(&p1),
        [("1".into(), "9.50".into()), ("10".into(), "8.00".into())]
    );
    assert_eq!(p1.revision.value(), 3);
    assert_eq!(
        (p1.price_unit.as_str(), p1.price_per.value()),
        ("KGM", dec("100"))
    );
    // The snapshot's dates are midnights in the business time zone (Europe/Berlin).
    assert_eq!(
        p1.validity.from().unwrap().to_rfc3339(),
        "2025-12-31T23:00:00+00:00"
    );
    // P-2: new, with the contract's defaults; a date-only valid_to includes that day.
    let p2 = stored_price(&stack, "P-2").await.unwrap();
    assert_eq!(
        (p2.price_unit.as_str(), p2.price_per),
        ("C62", PricePer::ONE)
    );
    assert_eq!(
        p2.validity.until().unwrap().to_rfc3339(),
        "2026-12-31T23:00:00+00:00"
    );
    // Invalid records apply nothing.
    assert!(stored_price(&stack, "P-3").await.is_none());
    assert!(stored_price(&stack, "P-4").await.is_none());
}

#[tokio::test]
async fn the_handler_reconciles_what_s3_notifies_and_refuses_what_is_no_snapshot() {
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    stock_store(&stack)
        .apply_stock(&stock("H-1", "1", 1))
        .await
        .unwrap();
    let store = files(&stack);
    let snapshot = "erp/snapshots/stock 2026-11-26.csv";
    // Not a stock file: the name is not `stock-...`.
    store
        .write(
            snapshot,
            b"sku,warehouse,available,revision\n".to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
    let real = "erp/snapshots/stock-2026-11-26.csv";
    store
        .write(
            real,
            b"sku,warehouse,available,revision\nH-1,W1,2,2\n".to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
    let missing_column = "erp/snapshots/stock-broken.csv";
    store
        .write(
            missing_column,
            b"sku;available;revision\nH-1;2;2\n".to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
    let notification = |key: &str| {
        serde_json::json!({"Records": [{
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": stack.bucket("CatalogBucket")},
                   "object": {"key": key.replace(' ', "+").replace('/', "%2F")}}
        }]})
        .to_string()
    };
    let arn = stack.queue_arn("ReconcileQueue").to_string();
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    for (id, body) in [
        ("m1", notification(real)),
        ("m2", notification(snapshot)),
        ("m3", notification(missing_column)),
        ("m4", "not json".to_string()),
    ] {
        event
            .records
            .push(super::support::sqs_record(&arn, id, &body, 1));
    }
    let response = handler.handle_sqs(event).await.unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );

    // The snapshot was applied and reported.
    assert_eq!(level(&stack, "H-1").await.unwrap(), stock("H-1", "2", 2));
    let reconciled = handler
        .reconciler
        .existing_report(real)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reconciled.status, Status::Reconciled);
    assert_eq!(reconciled.counts.applied, 1);
    // A file under the prefix that is not a snapshot, and one lacking a column: a failed
    // report each, saying why.
    let refused = handler
        .reconciler
        .existing_report(snapshot)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refused.status, Status::Failed);
    assert!(refused.kind.is_none());
    assert!(refused.message.unwrap().contains("stock-"));
    let broken = handler
        .reconciler
        .existing_report(missing_column)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(broken.status, Status::Failed);
    assert!(broken.message.unwrap().contains("warehouse"));
    // The message that is no notification went to the dead-letter queue with its reason.
    let dead = stack.drain_queue("ReconcileDeadLetterQueue").await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0]
        .message_attributes()
        .and_then(|a| a.get("failure_code"))
        .and_then(|v| v.string_value())
        .unwrap_or_default()
        .to_string();
    assert_eq!(reason, "invalid_message");

    // The sweep finds nothing left (everything has its report; young files wait anyway).
    assert!(
        handler
            .reconciler
            .pending(chrono::Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(handler.reconciler.pending(later).await.unwrap().is_empty());
    store
        .write(
            "erp/snapshots/stock-2026-11-28.csv",
            b"sku,warehouse,available,revision\n".to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
    assert_eq!(
        handler.reconciler.pending(later).await.unwrap(),
        ["erp/snapshots/stock-2026-11-28.csv"]
    );
}

#[tokio::test]
async fn a_snapshot_with_several_windows_per_list_and_sku_keeps_each_and_a_deleted_one_is_no_drift()
{
    let stack = super::support::stack(false).await;
    let handler = handler(&stack);
    let at = |s: &str| -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
    };
    // The store: today's window of W-1, and a window of W-2 the ERP deleted.
    let mut today = price("W-1", &[("1", "10.00")], 5);
    today.validity = ValidityWindow::new(Some(at("2026-11-01T00:00:00Z")), None).unwrap();
    price_store(&stack).apply_price(&today).await.unwrap();
    let mut gone = price("W-2", &[("1", "3.00")], 7);
    gone.deleted = true;
    price_store(&stack).apply_price(&gone).await.unwrap();
    // The export: today's window unchanged, and next year's announced beside it.
    let csv = "price_list,sku,currency,min_qty,unit_price,valid_from,valid_to,revision\n\
        PL1,W-1,EUR,1,10.00,2026-11-01T00:00:00Z,,5\n\
        PL1,W-1,EUR,1,11.00,2027-01-01T00:00:00Z,,2\n\
        PL1,W-1,EUR,10,10.50,2027-01-01T00:00:00Z,,2\n";
    let key = "erp/snapshots/prices-2026-12-03.csv";
    files(&stack)
        .write(key, csv.as_bytes().to_vec(), "text/csv")
        .await
        .unwrap();
    let report = handler.reconciler.reconcile(key).await.unwrap();
    let c = &report.counts;
    assert_eq!(
        (c.records, c.unchanged, c.applied, c.drift_total),
        (2, 1, 1, 1),
        "{c:?}"
    );
    assert_eq!(
        c.drift.missing_in_store, 1,
        "the announced window was missing"
    );
    assert_eq!(
        c.drift.missing_in_snapshot, 0,
        "a deleted window is missing by right"
    );
    let json = report_json(&stack, &report).await;
    assert_eq!(
        json["drift"][0]["key"]["valid_from"],
        "2027-01-01T00:00:00Z"
    );
    let windows = price_store(&stack)
        .prices_of(
            &[PriceListId::parse("PL1").unwrap()],
            &Sku::parse("W-1").unwrap(),
        )
        .await
        .unwrap();
    let mut prices: Vec<String> = windows
        .iter()
        .map(|w| {
            format!(
                "{} {}",
                w.validity.start_key(),
                w.tiers.as_slice()[0].unit_price.value()
            )
        })
        .collect();
    prices.sort();
    assert_eq!(
        prices,
        ["2026-11-01T00:00:00Z 10.00", "2027-01-01T00:00:00Z 11.00"]
    );
}

//! `bridgectl`'s read commands as a support engineer runs them: the binary, against a
//! local stack that the webhooks filled.

use bridge_domain::Source;
use bridgectl::dev::{DevOptions, LocalStack};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn bridgectl(stack_file: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_bridgectl"))
        .args(args)
        .arg("--stack-file")
        .arg(stack_file)
        .output()
        .expect("bridgectl runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn price_stock_and_customer_answer_from_the_tables() {
    let dir = std::env::temp_dir().join(bridge_testkit::unique("cli"));
    let mut options = DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("cli");
    options.stack_file = dir.join("stack.json");
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");
    let http = reqwest::Client::new();
    let events: [(&str, Value); 5] = [
        (
            "c",
            json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"customer_id": "C-7", "name": "Süd AG", "revision": 1, "price_lists": ["SPECIAL", "BASE"],
                     "credit_limit": {"amount": "900.00", "currency": "EUR"}}}),
        ),
        (
            "p1",
            json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"price_list": "BASE", "sku": "A-1", "currency": "EUR", "revision": 1,
                     "tiers": [{"min_qty": 1, "unit_price": "20.00"}]}}),
        ),
        (
            "p2",
            json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"price_list": "SPECIAL", "sku": "A-1", "currency": "EUR", "revision": 1,
                     "valid_from": "2026-01-01", "valid_to": "2026-06-30",
                     "tiers": [{"min_qty": 1, "unit_price": "15.00"}, {"min_qty": 10, "unit_price": "14.00"}]}}),
        ),
        (
            "s1",
            json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"sku": "A-1", "warehouse": "W1", "available": "7", "revision": 2}}),
        ),
        (
            "s2",
            json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"sku": "A-1", "warehouse": "W2", "available": "0", "revision": 1,
                     "next_delivery": {"date": "2026-12-01", "quantity": 40}}}),
        ),
    ];
    for (id, event) in &events {
        let (status, body) = bridgectl::demo::post(&http, &stack, Source::erp(), id, event, false)
            .await
            .unwrap();
        assert_eq!(status, 202, "{body}");
    }
    stack
        .drain(
            &["StockPriceQueue", "CustomerQueue"],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let file = dir.join("stack.json");

    // Inside SPECIAL's window its tier applies; after it, BASE (the next list) does.
    let (code, out, err) = bridgectl(
        &file,
        &[
            "price",
            "--customer",
            "C-7",
            "--sku",
            "A-1",
            "--qty",
            "10",
            "--at",
            "2026-03-01",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("14.00 EUR"), "{out}");
    assert!(
        out.contains("price list SPECIAL (priority 1 of 2)"),
        "{out}"
    );
    let (code, out, _) = bridgectl(
        &file,
        &[
            "price",
            "--customer",
            "C-7",
            "--sku",
            "A-1",
            "--qty",
            "10",
            "--at",
            "2026-07-01",
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["resolution"]["result"], "priced");
    assert_eq!(answer["resolution"]["price_list"], "BASE");
    assert_eq!(answer["resolution"]["unit_price"], "20.00");
    assert_eq!(answer["resolution"]["line_total"], "200.00");

    let (code, out, _) = bridgectl(
        &file,
        &["price", "--customer", "C-7", "--sku", "B-2", "--qty", "1"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("PRICE ON REQUEST"), "{out}");
    assert!(!out.contains(" 0 EUR"), "{out}");

    let (code, out, _) = bridgectl(&file, &["stock", "--sku", "A-1", "--json"]);
    assert_eq!(code, 0);
    let levels: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(levels.as_array().unwrap().len(), 2);
    let (_, out, _) = bridgectl(&file, &["stock", "--sku", "A-1"]);
    assert!(out.contains("40 on 2026-12-01"), "{out}");

    let (code, out, _) = bridgectl(&file, &["customer", "C-7"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Süd AG") && out.contains("900.00 EUR") && out.contains("SPECIAL, BASE"),
        "{out}"
    );

    let (code, _, err) = bridgectl(&file, &["customer", "C-404"]);
    assert_eq!(code, 1);
    assert!(err.contains("customer C-404 is not known"), "{err}");

    // The CRM's contact of C-7, and a return of an order the bridge does not know.
    let contact = json!({"type": "contact.changed", "timestamp": "2026-12-08T10:00:00Z",
        "data": {"contact_id": "u-70", "customer_id": "C-7", "revision": 1, "name": "Eva Berg",
                 "roles": ["purchasing_manager"]}});
    let crm = Source::parse("crm").unwrap();
    let (status, body) = bridgectl::demo::post(&http, &stack, crm, "crm-1", &contact, false)
        .await
        .unwrap();
    assert_eq!(status, 202, "{body}");
    let ret = json!({"type": "return.requested", "timestamp": "2026-12-08T10:00:00Z",
        "data": {"return_id": "R-70", "order_id": "SO-NOWHERE", "revision": 1,
                 "lines": [{"line": 1, "sku": "A-1", "quantity": 1}]}});
    let (status, body) = bridgectl::demo::post(&http, &stack, Source::shop(), "ret-1", &ret, false)
        .await
        .unwrap();
    assert_eq!(status, 202, "{body}");
    stack
        .drain(&["CustomerQueue", "ReturnQueue"], Duration::from_secs(60))
        .await
        .unwrap();
    let (code, out, _) = bridgectl(&file, &["customer", "C-7"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("u-70") && out.contains("Eva Berg") && out.contains("purchasing_manager"),
        "{out}"
    );
    let (code, out, _) = bridgectl(&file, &["customer", "C-7", "--json"]);
    assert_eq!(code, 0);
    let view: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(view["name"], "Süd AG");
    assert_eq!(view["contacts"][0]["contact_id"], "u-70");
    let (code, out, err) = bridgectl(&file, &["return", "R-70"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("held: unknown_order") && out.contains("SO-NOWHERE"),
        "{out}"
    );
    let (code, _, err) = bridgectl(&file, &["return", "R-404"]);
    assert_eq!(code, 1);
    assert!(err.contains("return R-404 is not known"), "{err}");
    let (code, _, err) = bridgectl(&file, &["price", "--customer", "C-7", "--sku", "A 1"]);
    assert_eq!(code, 1);
    assert!(err.contains("--sku"), "{err}");

    // Freshness: the three flows that ran are fresh, products never flowed.
    let (code, out, _) = bridgectl(&file, &["freshness", "--json"]);
    assert_eq!(code, 0, "{out}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    let state = |rows: &Value, category: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["category"] == category)
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state(&rows, "prices"), "fresh");
    assert_eq!(state(&rows, "stock"), "fresh");
    assert_eq!(state(&rows, "customers"), "fresh");
    assert_eq!(state(&rows, "products"), "never");
    assert_eq!(state(&rows, "order_status"), "never");
    // The stock flow stops; past its SLA, stock turns stale.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (code, out, _) = bridgectl(&file, &["freshness", "--sla", "stock=1s"]);
    assert_eq!(code, 4, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("stock") && l.contains("STALE")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("prices") && l.contains("fresh")),
        "{out}"
    );

    // A stock level lost downstream comes back by replaying its webhook.
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .delete_item()
        .table_name(stack.info.table("StockTable").unwrap())
        .key(
            "sku",
            aws_sdk_dynamodb::types::AttributeValue::S("A-1".into()),
        )
        .key(
            "warehouse",
            aws_sdk_dynamodb::types::AttributeValue::S("W1".into()),
        )
        .send()
        .await
        .unwrap();
    let (code, out, err) = bridgectl(&file, &["replay", "s1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("replayed s1 (stock.changed from erp, A-1@W1)"),
        "{out}"
    );
    stack
        .drain(&["StockPriceQueue"], Duration::from_secs(60))
        .await
        .unwrap();
    let (_, out, _) = bridgectl(&file, &["stock", "--sku", "A-1", "--json"]);
    let levels: Value = serde_json::from_str(&out).unwrap();
    assert!(
        levels
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["warehouse"] == "W1" && l["available"] == "7"),
        "{out}"
    );
    let (code, _, err) = bridgectl(&file, &["replay", "never-sent"]);
    assert_eq!(code, 1);
    assert!(err.contains("no receipt for webhook never-sent"), "{err}");
    stack.stop().await;
}

#[tokio::test]
async fn import_uploads_follows_and_reports_and_product_reads_the_result() {
    let dir = std::env::temp_dir().join(bridge_testkit::unique("cli-import"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut options = DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("cli");
    options.stack_file = dir.join("stack.json");
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");
    let file = dir.join("stack.json");
    let good = dir.join("tools.csv");
    std::fs::write(
        &good,
        "sku,name.de,unit\nT-1,Hammer,C62\nT-2,Zange,C62\nT-3,Säge,XX9\nT-4,Feile,C62\nT-5,Meißel,C62\nT-6,Bohrer,C62\n",
    )
    .unwrap();
    let bad = dir.join("broken.csv");
    std::fs::write(&bad, "sku,name.de\nB 1,x\nB 2,y\nB-3,z\n").unwrap();

    // The binary waits for the import the stack runs in this process: run it beside.
    let run = |args: Vec<String>| {
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            bridgectl(&file, &args)
        })
    };
    let (code, out, err) = run(vec![
        "import".into(),
        good.display().to_string(),
        "--wait".into(),
        "60".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("APPLIED") && out.contains("created 5") && out.contains("unknown_unit"),
        "{out}"
    );
    assert!(err.contains("uploaded to pim/inbox/tools.csv"), "{err}");

    let (code, out, err) = run(vec![
        "import".into(),
        bad.display().to_string(),
        "--wait".into(),
        "60".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 3, "a quarantined file exits 3: {out}{err}");
    assert!(out.contains("QUARANTINED"), "{out}");

    let (code, out, _) = bridgectl(&file, &["import", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("pim/inbox/tools.csv")
            && out.contains("applied")
            && out.contains("quarantined"),
        "{out}"
    );
    let (code, out, _) = bridgectl(&file, &["import", "report", "tools.csv", "--json"]);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["counts"]["created"], 5);
    assert_eq!(report["rejections"][0]["line"], 4);
    let (code, out, _) = bridgectl(&file, &["product", "T-2", "--json"]);
    assert_eq!(code, 0);
    let product: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(product["names"]["de"], "Zange");
    let (code, _, err) = bridgectl(&file, &["product", "T-3"]);
    assert_eq!(code, 1);
    assert!(err.contains("not in the catalog"), "{err}");
    stack.stop().await;
}

#[tokio::test]
async fn dlq_show_explains_and_redrive_brings_back_what_can_now_be_applied() {
    let dir = std::env::temp_dir().join(bridge_testkit::unique("cli-dlq"));
    let mut options = DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("dlq");
    options.stack_file = dir.join("stack.json");
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");
    let file = dir.join("stack.json");
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let string = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    // An event that failed during a store outage and ran out of retries...
    let envelope = json!({
        "version": 1, "webhook_id": "w-outage", "source": "erp", "event_type": "stock.changed",
        "correlation_id": "c-9", "received_at": "2026-11-26T10:00:00Z",
        "payload": {"kind": "inline", "body": {"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"sku": "OUT-1", "warehouse": "W1", "available": "9", "revision": 4}}}});
    sqs.send_message()
        .queue_url(&stack.queue("StockPriceDeadLetterQueue").url)
        .message_body(envelope.to_string())
        .message_attributes("failure_code", string("store_unavailable"))
        .message_attributes("failure_class", string("retryable"))
        .message_attributes(
            "failure_reason",
            string("stock.put failed (retryable): ThrottlingException"),
        )
        .message_attributes("webhook_id", string("w-outage"))
        .send()
        .await
        .unwrap();
    // ...and poison that will never apply.
    sqs.send_message()
        .queue_url(&stack.queue("StockPriceQueue").url)
        .message_body("not an envelope")
        .send()
        .await
        .unwrap();
    stack
        .drain(&["StockPriceQueue"], Duration::from_secs(60))
        .await
        .unwrap();

    let (code, out, _) = bridgectl(&file, &["dlq", "list"]);
    assert_eq!(code, 0);
    let line = out
        .lines()
        .find(|l| l.starts_with("StockPriceDeadLetterQueue"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains(" 2 ") && line.contains("StockPriceQueue"),
        "{line}"
    );

    for _ in 0..2 {
        // Showing twice shows the same: nothing is consumed.
        let (code, out, _) = bridgectl(
            &file,
            &["dlq", "show", "StockPriceDeadLetterQueue", "--json"],
        );
        assert_eq!(code, 0);
        let messages: Value = serde_json::from_str(&out).unwrap();
        let mut codes: Vec<_> = messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["attributes"]["failure_code"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        codes.sort();
        assert_eq!(codes, vec!["invalid_envelope", "store_unavailable"]);
    }
    let (_, out, _) = bridgectl(&file, &["dlq", "show", "StockPriceDeadLetterQueue"]);
    assert!(
        out.contains("not a bridge envelope") && out.contains("ThrottlingException"),
        "{out}"
    );

    // The outage is over: move back what failed for it, and only that.
    let (code, out, err) = bridgectl(
        &file,
        &[
            "dlq",
            "redrive",
            "StockPriceDeadLetterQueue",
            "--filter",
            "failure_code=store_unavailable",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("moved 1 message(s) back") && out.contains("kept 1"),
        "{out}{err}"
    );
    stack
        .drain(&["StockPriceQueue"], Duration::from_secs(60))
        .await
        .unwrap();
    let (code, out, _) = bridgectl(&file, &["stock", "--sku", "OUT-1", "--json"]);
    assert_eq!(code, 0);
    let levels: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(levels[0]["revision"], 4, "{out}");
    let (_, out, _) = bridgectl(
        &file,
        &["dlq", "show", "StockPriceDeadLetterQueue", "--json"],
    );
    let left: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(left.as_array().unwrap().len(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn sync_pull_shows_progress_status_shows_the_cursor_and_reconcile_report_the_drift() {
    let dir = std::env::temp_dir().join(bridge_testkit::unique("cli-sync"));
    let mut options = DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("sync");
    options.stack_file = dir.join("stack.json");
    options.schedule(delta_pull::FUNCTION_NAME, None);
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");
    let file = dir.join("stack.json");
    let (code, out, _) = bridgectl(&file, &["sync", "status"]);
    assert_eq!(code, 0);
    assert!(out.contains("no pull has run yet"), "{out}");

    let erp = stack.info.erp_base_url.clone();
    let http = reqwest::Client::new();
    let changes: Vec<Value> = (1..=3)
        .map(|n| json!({"type": "stock.changed", "data": {"sku": format!("Y-{n}"), "warehouse": "W1", "available": n, "revision": 1}}))
        .collect();
    http.post(format!("{erp}/_admin/changes"))
        .json(&json!({ "changes": changes }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let run = |args: &'static [&'static str]| {
        let file = file.clone();
        tokio::task::spawn_blocking(move || bridgectl(&file, args))
    };
    let (code, out, err) = run(&["sync", "pull"]).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("page 1:") && out.contains("pulled 3 changes in 1 pages: 3 queued"),
        "{out}"
    );
    let (code, out, _) = run(&["sync", "status", "--json"]).await.unwrap();
    assert_eq!(code, 0);
    let state: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(state["cursor"], "c-3");
    assert_eq!(state["last_run_status"], "caught_up");
    stack
        .drain(&["StockPriceQueue"], Duration::from_secs(60))
        .await
        .unwrap();

    // The ERP's export disagrees on Y-2 at the same revision.
    let snapshot = "sku,warehouse,available,revision\nY-1,W1,1,1\nY-2,W1,9,1\nY-3,W1,3,1\n";
    let files = bridge_aws::S3FileStore::new(
        bridge_aws::s3_client(&stack.sdk),
        stack.info.stack.buckets["CatalogBucket"].clone(),
    );
    bridge_domain::ports::FileStore::write(
        &files,
        "erp/snapshots/stock-2026-11-26.csv",
        snapshot.as_bytes().to_vec(),
        "text/csv",
    )
    .await
    .unwrap();
    let mut report = (0, String::new(), String::new());
    for _ in 0..120 {
        report = run(&["reconcile", "report", "stock-2026-11-26.csv"])
            .await
            .unwrap();
        if report.0 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (code, out, err) = report;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("unchanged 2") && out.contains("content_mismatch") && out.contains("Y-2/W1"),
        "{out}"
    );
    let (code, _, err) = run(&["reconcile", "report", "prices-never.csv"])
        .await
        .unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("was not reconciled"), "{err}");
    stack.stop().await;
}

//! The simulator's change log keeps contract section 5: delta pull by cursor, and the
//! snapshots the ERP drops into S3.

use erp_simulator::Simulator;
use serde_json::{Value, json};

const TOKEN: &str = "t0ken";

async fn append(http: &reqwest::Client, sim: &Simulator, changes: Value) -> Value {
    let response = http
        .post(format!("{}/_admin/changes", sim.base_url))
        .json(&json!({ "changes": changes }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

/// `GET /changes` with the query as given; returns status and body.
async fn pull(http: &reqwest::Client, sim: &Simulator, query: &str) -> (u16, Value) {
    let response = http
        .get(format!("{}/changes{query}", sim.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn stock(sku: &str, warehouse: &str, available: Value, revision: Value) -> Value {
    json!({"type": "stock.changed",
           "data": {"sku": sku, "warehouse": warehouse, "available": available, "revision": revision}})
}

async fn snapshot(http: &reqwest::Client, sim: &Simulator, which: &str) -> Vec<Vec<String>> {
    let response = http
        .get(format!("{}/_admin/snapshot/{which}", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/csv"
    );
    let text = response.text().await.unwrap();
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn paging_visits_every_change_once() {
    let sim = Simulator::start(0, TOKEN).await.unwrap();
    let http = reqwest::Client::new();
    let changes: Vec<Value> = (1..=5)
        .map(|i| stock(&format!("SKU-{i}"), "W1", json!(i), json!(1)))
        .collect();
    let appended = append(&http, &sim, Value::Array(changes)).await;
    assert_eq!(appended, json!({"appended": 5, "last_sequence": 5}));

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            None => "?limit=2".to_string(),
            Some(c) => format!("?limit=2&since={c}"),
        };
        let (status, page) = pull(&http, &sim, &query).await;
        assert_eq!(status, 200);
        pages += 1;
        for change in page["changes"].as_array().unwrap() {
            assert_eq!(change["type"], "stock.changed");
            seen.push(change["data"]["sku"].as_str().unwrap().to_string());
        }
        cursor = Some(page["next_cursor"].as_str().unwrap().to_string());
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, ["SKU-1", "SKU-2", "SKU-3", "SKU-4", "SKU-5"]);
    assert_eq!(pages, 3);

    // Nothing left: the cursor stays where it was.
    let cursor = cursor.unwrap();
    let (status, empty) = pull(&http, &sim, &format!("?since={cursor}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        empty,
        json!({"changes": [], "next_cursor": cursor, "has_more": false})
    );
    // From the start of an empty log: c-0.
    http.post(format!("{}/_admin/reset", sim.base_url))
        .send()
        .await
        .unwrap();
    let (_, empty) = pull(&http, &sim, "").await;
    assert_eq!(
        empty,
        json!({"changes": [], "next_cursor": "c-0", "has_more": false})
    );

    let admin: Value = http
        .get(format!("{}/_admin/changes", sim.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin, json!({"changes": [], "change_requests": 1}));
}

#[tokio::test]
async fn types_filter_skips_other_types_and_the_cursor_moves_past_them() {
    let sim = Simulator::start(0, TOKEN).await.unwrap();
    let http = reqwest::Client::new();
    append(
        &http,
        &sim,
        json!([
            stock("A", "W1", json!("1"), json!(1)),
            {"type": "customer.changed", "data": {"customer_id": "C-1", "name": "Acme", "revision": 1}},
            {"type": "price.changed", "data": {"price_list": "PL", "sku": "A", "currency": "EUR",
                                              "tiers": [{"min_qty": "1", "unit_price": "9.90"}], "revision": 1}},
            {"type": "customer.changed", "data": {"customer_id": "C-2", "name": "Beta", "revision": 1}},
            stock("B", "W1", json!("2"), json!(1)),
            {"type": "customer.changed", "data": {"customer_id": "C-3", "name": "Gamma", "revision": 1}},
        ]),
    )
    .await;

    let (_, page) = pull(&http, &sim, "?types=stock,price&limit=2").await;
    let types: Vec<&str> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["stock.changed", "price.changed"]);
    // The customer change at 4 was examined on the way to the next stock change (5).
    assert_eq!(page["next_cursor"], "c-4");
    assert_eq!(page["has_more"], true);

    // The trailing customer change at 6 is examined too: the cursor ends past it.
    let (_, page) = pull(&http, &sim, "?types=stock,price&limit=2&since=c-4").await;
    assert_eq!(page["changes"].as_array().unwrap().len(), 1);
    assert_eq!(page["changes"][0]["data"]["sku"], "B");
    assert_eq!(page["next_cursor"], "c-6");
    assert_eq!(page["has_more"], false);

    // Without types, everything.
    let (_, page) = pull(&http, &sim, "?limit=1000").await;
    assert_eq!(page["changes"].as_array().unwrap().len(), 6);
    assert_eq!(page["next_cursor"], "c-6");
}

#[tokio::test]
async fn faults_auth_and_bad_requests() {
    let sim = Simulator::start(0, TOKEN).await.unwrap();
    let http = reqwest::Client::new();
    append(&http, &sim, json!([stock("A", "W1", json!(1), json!(1))])).await;

    let unauthorized = http
        .get(format!("{}/changes", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);

    http.post(format!("{}/_admin/faults", sim.base_url))
        .json(&json!({"script": ["throttled", "server_error"]}))
        .send()
        .await
        .unwrap();
    let throttled = http
        .get(format!("{}/changes", sim.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status().as_u16(), 429);
    assert_eq!(throttled.headers()["retry-after"], "1");
    assert_eq!(pull(&http, &sim, "").await.0, 500);
    assert_eq!(pull(&http, &sim, "").await.0, 200);

    let (status, body) = pull(&http, &sim, "?since=not-a-cursor").await;
    assert_eq!((status, body), (400, json!({"errors": ["invalid cursor"]})));
    assert_eq!(pull(&http, &sim, "?since=c-x1").await.0, 400);
    assert_eq!(pull(&http, &sim, "?limit=lots").await.0, 400);

    // Only the 200 counts as a change request; every /changes call counted as a request.
    let admin: Value = http
        .get(format!("{}/_admin/changes", sim.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin["change_requests"], 1);
    assert_eq!(admin["changes"][0]["sequence"], 1);
    assert_eq!(admin["changes"][0]["type"], "stock.changed");
    let orders: Value = http
        .get(format!("{}/_admin/orders", sim.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["requests"], 6);

    // The admin feed checks the envelope only.
    let bad = http
        .post(format!("{}/_admin/changes", sim.base_url))
        .json(&json!({"changes": [{"type": "stock.changed", "data": "nope"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let invalid_data = append(
        &http,
        &sim,
        json!([{"type": "stock.changed", "data": {"available": "-5"}}]),
    )
    .await;
    assert_eq!(invalid_data, json!({"appended": 1, "last_sequence": 2}));
}

#[tokio::test]
async fn stock_snapshot_keeps_the_highest_revision() {
    let sim = Simulator::start(0, TOKEN).await.unwrap();
    let http = reqwest::Client::new();
    append(
        &http,
        &sim,
        json!([
            stock("B", "W1", json!("7"), json!(3)),
            stock("A", "W2", json!("2"), json!("10")),
            // Arrives late with an older revision: ignored.
            stock("B", "W1", json!("9"), json!(2)),
            stock("A", "W1", json!("0"), json!(1)),
            // Revision 9 after "10": compared as integers (as text "9" > "10"), ignored.
            stock("A", "W2", json!("4.000"), json!(9)),
            {"type": "price.changed", "data": {"price_list": "PL", "sku": "A", "revision": 1}},
        ]),
    )
    .await;
    // The same revision again, later in the log, replaces it (how tests make drift at the
    // same revision). Numbers keep their text (arbitrary_precision): 1.50 stays 1.50; sent
    // as raw text, since `json!(1.50)` would go through f64.
    let raw = r#"{"changes": [{"type": "stock.changed", "data":
        {"sku": "A", "warehouse": "W2", "available": 1.50, "revision": "10"}}]}"#;
    let response = http
        .post(format!("{}/_admin/changes", sim.base_url))
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        snapshot(&http, &sim, "stock").await,
        [
            vec!["sku", "warehouse", "available", "revision"],
            vec!["A", "W1", "0", "1"],
            vec!["A", "W2", "1.50", "10"],
            vec!["B", "W1", "7", "3"],
        ]
    );
}

#[tokio::test]
async fn price_snapshot_has_one_row_per_tier() {
    let sim = Simulator::start(0, TOKEN).await.unwrap();
    let http = reqwest::Client::new();
    append(
        &http,
        &sim,
        json!([
            {"type": "price.changed", "data": {"price_list": "PL-2", "sku": "X, \"quoted\"", "currency": "EUR",
                "tiers": [{"min_qty": 0, "unit_price": "1.00"}], "revision": 1}},
            {"type": "price.changed", "data": {"price_list": "PL-1", "sku": "A", "currency": "EUR",
                "tiers": [{"min_qty": "1", "unit_price": "12.00"}], "revision": 4}},
            {"type": "price.changed", "data": {"price_list": "PL-1", "sku": "A", "currency": "EUR",
                "tiers": [{"min_qty": "1", "unit_price": "10.00"}, {"min_qty": 10, "unit_price": 9.125},
                          {"min_qty": "100", "unit_price": "8.5"}],
                "valid_from": "2025-01-01", "revision": 5}},
            {"type": "price.changed", "data": {"price_list": "PL-1", "sku": "A", "currency": "EUR",
                "tiers": [{"min_qty": "1", "unit_price": "99"}], "revision": 3}},
        ]),
    )
    .await;
    let header = vec![
        "price_list",
        "sku",
        "currency",
        "min_qty",
        "unit_price",
        "valid_from",
        "valid_to",
        "revision",
    ];
    assert_eq!(
        snapshot(&http, &sim, "prices").await,
        [
            header,
            vec!["PL-1", "A", "EUR", "1", "10.00", "2025-01-01", "", "5"],
            vec!["PL-1", "A", "EUR", "10", "9.125", "2025-01-01", "", "5"],
            vec!["PL-1", "A", "EUR", "100", "8.5", "2025-01-01", "", "5"],
            vec!["PL-2", "X, \"quoted\"", "EUR", "0", "1.00", "", "", "1"],
        ]
    );

    // Reset forgets the log.
    http.post(format!("{}/_admin/reset", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(snapshot(&http, &sim, "prices").await.len(), 1);
}

//! The simulator keeps contract section 4, and its faults do what they say.

use erp_simulator::Simulator;
use serde_json::{Value, json};

async fn post(
    http: &reqwest::Client,
    sim: &Simulator,
    key: &str,
    reference: &str,
    customer: &str,
) -> (u16, Value) {
    let response = http
        .post(format!("{}/sales-orders", sim.base_url))
        .bearer_auth("t0ken")
        .header("Idempotency-Key", key)
        .json(
            &json!({"external_reference": reference, "customer_id": customer, "currency": "EUR",
                      "lines": [{"line": 1, "sku": "A", "quantity": "1", "unit_price": "9.90"}]}),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn idempotency_conflicts_lookups_and_rejections() {
    let sim = Simulator::start(0, "t0ken").await.unwrap();
    let http = reqwest::Client::new();
    let (status, first) = post(&http, &sim, "SO-1", "SO-1", "C-1").await;
    assert_eq!(status, 201);
    let (status, again) = post(&http, &sim, "SO-1", "SO-1", "C-1").await;
    assert_eq!(
        (status, &again["erp_order_number"]),
        (200, &first["erp_order_number"])
    );
    assert_eq!(post(&http, &sim, "other-key", "SO-1", "C-1").await.0, 409);
    let found = http
        .get(format!(
            "{}/sales-orders?external_reference=SO-1",
            sim.base_url
        ))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(found.status().as_u16(), 200);
    let missing = http
        .get(format!(
            "{}/sales-orders?external_reference=SO-404",
            sim.base_url
        ))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let unauthorized = http
        .get(format!(
            "{}/sales-orders?external_reference=SO-1",
            sim.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);

    http.post(format!("{}/_admin/faults", sim.base_url))
        .json(&json!({"reject_customers": ["C-BAD"]}))
        .send()
        .await
        .unwrap();
    let (status, body) = post(&http, &sim, "SO-2", "SO-2", "C-BAD").await;
    assert_eq!(status, 422);
    assert!(body["errors"][0].as_str().unwrap().contains("C-BAD"));
}

#[tokio::test]
async fn scripted_faults_and_a_response_lost_after_commit() {
    let sim = Simulator::start(0, "t0ken").await.unwrap();
    let http = reqwest::Client::new();
    http.post(format!("{}/_admin/faults", sim.base_url))
        .json(&json!({"script": ["server_error", "throttled", "lost_after_commit"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(post(&http, &sim, "SO-3", "SO-3", "C-1").await.0, 500);
    assert_eq!(post(&http, &sim, "SO-3", "SO-3", "C-1").await.0, 429);
    // Committed, but the client never heard: the order exists once.
    assert_eq!(post(&http, &sim, "SO-3", "SO-3", "C-1").await.0, 500);
    assert_eq!(post(&http, &sim, "SO-3", "SO-3", "C-1").await.0, 200);
    let orders: Value = http
        .get(format!("{}/_admin/orders", sim.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["orders"].as_array().unwrap().len(), 1);

    // A timeout holds the request beyond the client's patience.
    http.post(format!("{}/_admin/faults", sim.base_url))
        .json(&json!({"script": ["timeout"]}))
        .send()
        .await
        .unwrap();
    let slow = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let result = slow
        .post(format!("{}/sales-orders", sim.base_url))
        .bearer_auth("t0ken")
        .header("Idempotency-Key", "SO-4")
        .json(&json!({"external_reference": "SO-4", "customer_id": "C-1", "lines": [{}]}))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
}

//! Adversarial webhooks: every hostile or malformed request gets its specific answer, and
//! none of them leaves a trace (no queue message, no receipt, no claim-check object).
//!
//! Valid signatures come from the reference Python signer (`signed_request`) where the
//! request is ordinary, from our signer (`rust_signed`, verified equal to the reference one
//! elsewhere) where the Python command line cannot carry the value (a NUL in the id) or the
//! test sends many requests; invalid ones are crafted by hand.

use super::support::{
    intake, intake_with, now, request, rust_signed, signed_request, stack, stock_event,
};
use bridge_testkit::TestStack;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use webhook_intake::{Intake, IntakeRequest, IntakeResponse};

const ROUTE_QUEUES: [&str; 4] = [
    "StockPriceQueue",
    "CustomerQueue",
    "OrderStatusQueue",
    "OrderPlacedQueue",
];

async fn receipt_count(stack: &TestStack) -> i32 {
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .scan()
        .table_name(stack.table("WebhookReceiptTable"))
        .consistent_read(true)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .expect("the receipt table scans")
        .count()
}

async fn payload_objects(stack: &TestStack) -> usize {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&stack.sdk)
            .force_path_style(true)
            .build(),
    )
    .list_objects_v2()
    .bucket(stack.bucket("PayloadBucket"))
    .send()
    .await
    .expect("the payload bucket lists")
    .contents()
    .len()
}

/// Nothing was taken: every route queue is empty, no receipt was claimed (or one was
/// released), no claim-check body was stored.
async fn assert_nothing_taken(stack: &TestStack, label: &str) {
    for queue in ROUTE_QUEUES {
        assert!(
            stack.drain_queue(queue).await.is_empty(),
            "{label}: {queue} got a message"
        );
    }
    assert_eq!(
        receipt_count(stack).await,
        0,
        "{label}: a receipt was written"
    );
    assert_eq!(
        payload_objects(stack).await,
        0,
        "{label}: a body was stored"
    );
}

async fn send(intake: &Intake, request: IntakeRequest) -> IntakeResponse {
    intake.handle(request, chrono::Utc::now()).await
}

fn erp_secret(stack: &TestStack) -> &str {
    &stack.signing["erp"][0]
}

/// A request with a good signature whose `webhook-signature` header is then replaced
/// (`None` removes it).
fn with_signature(mut request: IntakeRequest, signature: Option<&str>) -> IntakeRequest {
    match signature {
        Some(value) => request
            .headers
            .insert("webhook-signature".into(), value.into()),
        None => request.headers.remove("webhook-signature"),
    };
    request
}

fn assert_unauthorized(response: &IntakeResponse, label: &str) {
    assert_eq!(response.status, 401, "{label}: {}", response.body);
    // Nothing that tells the sender which check failed.
    assert_eq!(
        response.body,
        json!({"error": "invalid_signature"}),
        "{label}"
    );
}

/// A `stock.changed` body with `data` replaced.
fn stock_with(data: Value) -> String {
    json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z", "data": data}).to_string()
}

fn price_with_tiers(tiers: Value) -> String {
    json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {
        "price_list": "PL-1", "sku": "SKU-P", "currency": "EUR", "revision": 1, "tiers": tiers}})
    .to_string()
}

/// A signed ERP event answered 400 with exactly this code and JSON pointer.
async fn assert_rejected_at(
    stack: &TestStack,
    intake: &Intake,
    id: &str,
    body: &str,
    code: &str,
    field: &str,
) -> IntakeResponse {
    let response = send(intake, rust_signed("erp", erp_secret(stack), id, body)).await;
    assert_eq!(response.status, 400, "{id}: {}", response.body);
    assert_eq!(response.body["error"], code, "{id}: {}", response.body);
    assert_eq!(response.body["field"], field, "{id}: {}", response.body);
    response
}

// ------------------------------------------------------------------ signatures

#[tokio::test]
async fn a_missing_signature_header_is_401() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let unsigned = with_signature(
        signed_request("erp", erp_secret(&stack), "adv_sig_missing", now(), &body),
        None,
    );
    assert_unauthorized(&send(&intake, unsigned).await, "missing");
    assert_nothing_taken(&stack, "missing").await;
}

#[tokio::test]
async fn an_empty_signature_header_is_401() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let empty = with_signature(
        signed_request("erp", erp_secret(&stack), "adv_sig_empty", now(), &body),
        Some(""),
    );
    assert_unauthorized(&send(&intake, empty).await, "empty");
    assert_nothing_taken(&stack, "empty").await;
}

#[tokio::test]
async fn a_v1_prefix_without_a_signature_is_401() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    for bare in ["v1,", "v1", "v1, ", " v1,"] {
        let request = with_signature(
            signed_request("erp", erp_secret(&stack), "adv_sig_bare", now(), &body),
            Some(bare),
        );
        assert_unauthorized(&send(&intake, request).await, bare);
    }
    assert_nothing_taken(&stack, "v1, only").await;
}

#[tokio::test]
async fn a_v1_signature_of_the_wrong_length_is_401() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let ts = now();
    let good = bridge_testkit::python_sign(erp_secret(&stack), "adv_sig_len", ts, &body);
    // Well-formed base64 of the wrong length: the real tag's first 30 bytes (its first 40
    // characters), the real tag and one byte more, 16 bytes, the tag twice. Each is decoded
    // and length-checked, none compared as a prefix.
    let tag = good.strip_prefix("v1,").expect("a v1 signature");
    assert_eq!(tag.len(), 44, "32 bytes in base64");
    let cases = [
        ("30 bytes of the real tag", format!("v1,{}", &tag[..40])),
        ("33 bytes", format!("v1,{}AA==", &tag[..40])),
        ("16 bytes", format!("v1,{}==", "A".repeat(22))),
        ("64 bytes", format!("v1,{}{}", &tag[..43], tag)),
        ("not base64", format!("v1,{}!", &tag[..tag.len() - 1])),
    ];
    for (label, signature) in cases {
        let request = request("erp", "adv_sig_len", ts, &signature, &body);
        assert_unauthorized(&send(&intake, request).await, label);
    }
    assert_nothing_taken(&stack, "wrong length").await;
}

#[tokio::test]
async fn a_correct_signature_labelled_as_another_version_is_401() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let ts = now();
    let good = bridge_testkit::python_sign(erp_secret(&stack), "adv_sig_v2", ts, &body);
    for version in ["v2,", "v1a,", "V1,", "v0,"] {
        let relabelled = good.replacen("v1,", version, 1);
        let request = request("erp", "adv_sig_v2", ts, &relabelled, &body);
        assert_unauthorized(&send(&intake, request).await, version);
    }
    assert_nothing_taken(&stack, "other version").await;
}

#[tokio::test]
async fn a_correct_signature_six_minutes_old_is_401() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let request = signed_request("erp", erp_secret(&stack), "adv_ts_old", now() - 360, &body);
    assert_unauthorized(&send(&intake, request).await, "6 minutes old");
    assert_nothing_taken(&stack, "6 minutes old").await;
}

#[tokio::test]
async fn a_correct_signature_six_minutes_in_the_future_is_401() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let request = signed_request(
        "erp",
        erp_secret(&stack),
        "adv_ts_future",
        now() + 360,
        &body,
    );
    assert_unauthorized(&send(&intake, request).await, "6 minutes ahead");
    assert_nothing_taken(&stack, "6 minutes ahead").await;
}

#[tokio::test]
async fn a_non_numeric_timestamp_is_401() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let ts = now();
    for timestamp in [
        "abc".to_string(),
        String::new(),
        format!("{ts}.0"),
        format!("+{ts}"),
        format!(" {ts}"),
        format!("{ts}e0"),
        "-1".to_string(),
        "99999999999999999999".to_string(),
        chrono::Utc::now().to_rfc3339(),
    ] {
        let mut request = signed_request("erp", erp_secret(&stack), "adv_ts_text", ts, &body);
        request
            .headers
            .insert("webhook-timestamp".into(), timestamp.clone());
        assert_unauthorized(&send(&intake, request).await, &timestamp);
    }
    assert_nothing_taken(&stack, "non-numeric timestamp").await;
}

#[tokio::test]
async fn a_replayed_request_is_a_duplicate_and_queues_one_message() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-R", 4, "2").to_string();
    let request = signed_request("erp", erp_secret(&stack), "adv_replay", now(), &body);
    let first = send(&intake, request.clone()).await;
    assert_eq!(first.status, 202, "{}", first.body);
    // The very same bytes again, within the tolerance: an attacker's replay or a
    // redelivery, either way nothing new happens.
    for _ in 0..3 {
        let again = send(&intake, request.clone()).await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_eq!(
            again.body,
            json!({"id": "adv_replay", "status": "duplicate"})
        );
    }
    assert_eq!(stack.drain_queue("StockPriceQueue").await.len(), 1);
    assert_eq!(receipt_count(&stack).await, 1);
}

#[tokio::test]
async fn a_replayed_id_with_another_body_is_409_and_queues_nothing() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let secret = erp_secret(&stack);
    let body = stock_event("SKU-R", 4, "2").to_string();
    let first = send(
        &intake,
        signed_request("erp", secret, "adv_reuse", now(), &body),
    )
    .await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(stack.drain_queue("StockPriceQueue").await.len(), 1);

    let other = stock_event("SKU-R", 5, "0").to_string();
    let reused = send(
        &intake,
        signed_request("erp", secret, "adv_reuse", now(), &other),
    )
    .await;
    assert_eq!(reused.status, 409, "{}", reused.body);
    assert_eq!(reused.body["error"], "webhook_id_conflict");
    assert!(stack.drain_queue("StockPriceQueue").await.is_empty());
    assert_eq!(receipt_count(&stack).await, 1, "the first receipt only");
}

#[tokio::test]
async fn the_shop_secret_does_not_sign_for_the_erp() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let shop_secret = &stack.signing["shop"][0];
    let request = signed_request("erp", shop_secret, "adv_cross", now(), &body);
    assert_unauthorized(&send(&intake, request).await, "shop secret on erp");
    // Nor the ERP's for the shop.
    let order = json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": {"order_id": "O-1", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "lines": [{"line": 1, "sku": "S", "quantity": 1, "unit_price": "1"}]}}).to_string();
    let request = signed_request("shop", erp_secret(&stack), "adv_cross", now(), &order);
    assert_unauthorized(&send(&intake, request).await, "erp secret on shop");
    assert_nothing_taken(&stack, "cross-source secret").await;
}

// ------------------------------------------------------------------ the body as bytes

#[tokio::test]
async fn an_oversized_body_is_413_before_any_signature_work() {
    let stack = stack(false).await;
    let intake = intake_with(
        &stack,
        HashMap::from([("MAX_BODY_BYTES", "2048".to_string())]),
    )
    .await;
    let mut event = stock_event("SKU-1", 1, "1");
    event["pad"] = json!("x".repeat(4096));
    let body = event.to_string();
    // Without any signature header: a 401 would mean the signature was looked at.
    let mut unsigned = request("erp", "adv_big", now(), "", &body);
    unsigned.headers.retain(|k, _| !k.starts_with("webhook-"));
    let response = send(&intake, unsigned).await;
    assert_eq!(response.status, 413, "{}", response.body);
    assert_eq!(response.body, json!({"error": "payload_too_large"}));
    // Signed correctly, it is still too large.
    let signed = signed_request("erp", erp_secret(&stack), "adv_big", now(), &body);
    let response = send(&intake, signed).await;
    assert_eq!(response.status, 413, "{}", response.body);
    assert_eq!(response.body, json!({"error": "payload_too_large"}));
    // One byte over the limit is over it.
    let exact = "x".repeat(2049);
    let response = send(&intake, request("erp", "adv_big", now(), "v1,", &exact)).await;
    assert_eq!(response.status, 413);
    assert_nothing_taken(&stack, "oversized").await;
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let cases = [
        "{\"type\": \"stock.changed\",",
        "{not json}",
        "",
        "{\"type\": \"stock.changed\"} trailing",
        "{\"a\": 1,}",
        "{\"a\": NaN}",
        "{\"a\": \"\\ud800\"}",
    ];
    for (n, body) in cases.into_iter().enumerate() {
        let id = format!("adv_badjson_{n}");
        let response = send(&intake, rust_signed("erp", erp_secret(&stack), &id, body)).await;
        assert_eq!(response.status, 400, "{body:?}: {}", response.body);
        assert_eq!(response.body["error"], "invalid_json", "{body:?}");
        assert_eq!(response.body["field"], Value::Null, "{body:?}");
    }
    // Bytes that are not UTF-8 are not JSON either.
    let mut latin = rust_signed("erp", erp_secret(&stack), "adv_badjson_latin", "x");
    latin.body = b"{\"type\": \"stock.changed\", \"note\": \"Gr\xf6\xdfe\"}".to_vec();
    let signature = bridge_contract::sign(
        &bridge_contract::SigningSecret::parse(erp_secret(&stack)).unwrap(),
        "adv_badjson_latin",
        latin.headers["webhook-timestamp"].parse().unwrap(),
        &latin.body,
    );
    latin.headers.insert("webhook-signature".into(), signature);
    let response = send(&intake, latin).await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.body["error"], "invalid_json");
    assert_nothing_taken(&stack, "malformed JSON").await;
}

#[tokio::test]
async fn json_that_is_not_an_object_is_400_wrong_type_at_the_root() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    for (n, body) in ["[1, 2]", "\"stock.changed\"", "42", "null", "true", "[]"]
        .into_iter()
        .enumerate()
    {
        let id = format!("adv_notobj_{n}");
        let response = send(&intake, rust_signed("erp", erp_secret(&stack), &id, body)).await;
        assert_eq!(response.status, 400, "{body}: {}", response.body);
        assert_eq!(response.body["error"], "wrong_type", "{body}");
        // The empty JSON pointer is the whole document.
        assert_eq!(response.body["field"], "", "{body}");
    }
    // `data` that is not an object is reported at /data.
    let body = json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z", "data": [1]})
        .to_string();
    assert_rejected_at(
        &stack,
        &intake,
        "adv_notobj_data",
        &body,
        "wrong_type",
        "/data",
    )
    .await;
    assert_nothing_taken(&stack, "not an object").await;
}

#[tokio::test]
async fn wrong_content_types_are_415() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    for content_type in [
        Some("text/plain"),
        None,
        Some("application/json-patch+json"),
        Some(""),
        Some("application/jsonx"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=application/json"),
    ] {
        let mut request = signed_request("erp", erp_secret(&stack), "adv_ct", now(), &body);
        match content_type {
            Some(value) => request.headers.insert("content-type".into(), value.into()),
            None => request.headers.remove("content-type"),
        };
        let response = send(&intake, request).await;
        assert_eq!(response.status, 415, "{content_type:?}: {}", response.body);
        assert_eq!(
            response.body["error"], "unsupported_media_type",
            "{content_type:?}"
        );
    }
    assert_nothing_taken(&stack, "content types").await;
}

// ------------------------------------------------------------------ ids and text

#[tokio::test]
async fn webhook_ids_with_spaces_controls_or_non_ascii_are_400_invalid_webhook_id() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let long = "a".repeat(257);
    // Correctly signed (the id is part of the signed content), so the signature passes and
    // the id's form is what answers.
    for id in [
        "msg 1",
        "msg\n1",
        "msg\u{0}1",
        "msg\t1",
        "msg\u{7f}1",
        "msg_ü",
        "msg_\u{202e}1",
        long.as_str(),
    ] {
        let response = send(&intake, rust_signed("erp", erp_secret(&stack), id, &body)).await;
        assert_eq!(response.status, 400, "{id:?}: {}", response.body);
        assert_eq!(response.body["error"], "invalid_webhook_id", "{id:?}");
        assert_eq!(response.body["field"], Value::Null, "{id:?}");
    }
    // Unsigned, the same ids answer 401 first: an unauthenticated sender learns nothing.
    let response = send(&intake, request("erp", "msg\u{0}1", now(), "v1,", &body)).await;
    assert_unauthorized(&response, "unsigned NUL id");
    // An empty id is a missing header.
    let response = send(&intake, rust_signed("erp", erp_secret(&stack), "", &body)).await;
    assert_unauthorized(&response, "empty id");
    assert_nothing_taken(&stack, "webhook ids").await;
}

#[tokio::test]
async fn a_sku_with_control_characters_is_400_at_data_sku() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    for (n, sku) in [
        "SKU\u{0}1",
        "SKU\n1",
        "SKU\u{1b}[31m",
        "SKU\u{202e}1",
        " SKU",
    ]
    .into_iter()
    .enumerate()
    {
        let body =
            stock_with(json!({"sku": sku, "warehouse": "W1", "available": "1", "revision": 1}));
        let response = assert_rejected_at(
            &stack,
            &intake,
            &format!("adv_sku_ctl_{n}"),
            &body,
            "invalid_character",
            "/data/sku",
        )
        .await;
        // The message names the character escaped, never raw.
        let message = response.body["message"].as_str().unwrap();
        assert!(!message.chars().any(char::is_control), "{message:?}");
    }
    assert_nothing_taken(&stack, "control characters").await;
}

#[tokio::test]
async fn a_sku_of_1000_characters_is_400_too_long_at_data_sku() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_with(
        json!({"sku": "A".repeat(1000), "warehouse": "W1", "available": "1", "revision": 1}),
    );
    let response = assert_rejected_at(
        &stack,
        &intake,
        "adv_sku_long",
        &body,
        "too_long",
        "/data/sku",
    )
    .await;
    // The answer does not echo the kilobyte back.
    assert!(response.body.to_string().len() < 400, "{}", response.body);
    assert_nothing_taken(&stack, "1000-character sku").await;
}

// ------------------------------------------------------------------ numbers

#[tokio::test]
async fn numbers_with_exponents_are_accepted_exactly() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let secret = erp_secret(&stack);
    // Raw JSON text: `1e3` and `2.5E-1` as the sender wrote them.
    let stock = r#"{"type":"stock.changed","timestamp":"2026-11-26T10:00:00Z","data":{"sku":"SKU-E","warehouse":"W1","available":1e3,"revision":1,"next_delivery":{"date":"2026-12-01","quantity":2.5E-1}}}"#;
    let price = r#"{"type":"price.changed","timestamp":"2026-11-26T10:00:00Z","data":{"price_list":"PL-E","sku":"SKU-E","currency":"EUR","revision":1,"tiers":[{"min_qty":1e0,"unit_price":1.25e-1},{"min_qty":1E+2,"unit_price":"1e-2"}]}}"#;
    for (id, body) in [("adv_exp_stock", stock), ("adv_exp_price", price)] {
        let response = send(&intake, rust_signed("erp", secret, id, body)).await;
        assert_eq!(response.status, 202, "{id}: {}", response.body);
    }
    let messages = stack.drain_queue("StockPriceQueue").await;
    assert_eq!(messages.len(), 2);
    let sync = super::support::sync(&stack);
    let result = sync
        .handle_batch(super::support::sqs_event(
            stack.queue_arn("StockPriceQueue"),
            &messages,
        ))
        .await
        .unwrap();
    assert!(result.batch_item_failures.is_empty());
    let dynamo = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let sku = bridge_domain::Sku::parse("SKU-E").unwrap();
    let stock = bridge_domain::ports::StockStore::stock_of(
        &bridge_aws::DynamoStockStore::new(dynamo.clone(), stack.table("StockTable")),
        &sku,
    )
    .await
    .unwrap();
    let exact = |s: &str| rust_decimal::Decimal::from_str_exact(s).unwrap();
    assert_eq!(stock[0].available.value(), exact("1000"));
    assert_eq!(
        stock[0].next_delivery.as_ref().unwrap().quantity.value(),
        exact("0.25")
    );
    let prices = bridge_domain::ports::PriceStore::prices_of(
        &bridge_aws::DynamoPriceStore::windows_only(dynamo, stack.table("PriceTable")),
        &[bridge_domain::PriceListId::parse("PL-E").unwrap()],
        &sku,
    )
    .await
    .unwrap();
    let tiers: Vec<_> = prices[0]
        .tiers
        .as_slice()
        .iter()
        .map(|t| (t.min_qty.value(), t.unit_price.value()))
        .collect();
    assert_eq!(
        tiers,
        vec![(exact("1"), exact("0.125")), (exact("100"), exact("0.01"))]
    );
}

#[tokio::test]
async fn exponents_beyond_an_exact_decimal_are_400_out_of_range() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    for (n, available) in ["1e40", "1e-40", "1.00000000000000000000000000001e0"]
        .into_iter()
        .enumerate()
    {
        let body = format!(
            r#"{{"type":"stock.changed","timestamp":"2026-11-26T10:00:00Z","data":{{"sku":"S","warehouse":"W1","available":{available},"revision":1}}}}"#
        );
        assert_rejected_at(
            &stack,
            &intake,
            &format!("adv_exp_big_{n}"),
            &body,
            "out_of_range",
            "/data/available",
        )
        .await;
    }
    assert_nothing_taken(&stack, "huge exponents").await;
}

#[tokio::test]
async fn numbers_with_40_digits_are_400_out_of_range_not_rounded() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let forty = "1234567890123456789012345678901234567890";
    let fraction = "0.1234567890123456789012345678901234567890";
    // As raw JSON numbers (the parser keeps their text) and as strings.
    for (n, value) in [
        forty.to_string(),
        fraction.to_string(),
        format!("\"{forty}\""),
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!(
            r#"{{"type":"stock.changed","timestamp":"2026-11-26T10:00:00Z","data":{{"sku":"S","warehouse":"W1","available":{value},"revision":1}}}}"#
        );
        assert_rejected_at(
            &stack,
            &intake,
            &format!("adv_40_{n}"),
            &body,
            "out_of_range",
            "/data/available",
        )
        .await;
    }
    let price = format!(
        r#"{{"type":"price.changed","timestamp":"2026-11-26T10:00:00Z","data":{{"price_list":"PL","sku":"S","currency":"EUR","revision":1,"tiers":[{{"min_qty":1,"unit_price":{fraction}}}]}}}}"#
    );
    assert_rejected_at(
        &stack,
        &intake,
        "adv_40_price",
        &price,
        "out_of_range",
        "/data/tiers/0/unit_price",
    )
    .await;
    assert_nothing_taken(&stack, "40 digits").await;
}

#[tokio::test]
async fn a_negative_quantity_is_400_at_data_available() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    for (n, available) in [json!(-1), json!("-0.001"), json!(-1e3)]
        .into_iter()
        .enumerate()
    {
        let body = stock_with(
            json!({"sku": "S", "warehouse": "W1", "available": available, "revision": 1}),
        );
        assert_rejected_at(
            &stack,
            &intake,
            &format!("adv_negqty_{n}"),
            &body,
            "negative",
            "/data/available",
        )
        .await;
    }
    assert_nothing_taken(&stack, "negative quantity").await;
}

#[tokio::test]
async fn a_negative_price_is_400_at_its_tier() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = price_with_tiers(json!([{"min_qty": 1, "unit_price": "-0.01"}]));
    assert_rejected_at(
        &stack,
        &intake,
        "adv_negprice_0",
        &body,
        "negative",
        "/data/tiers/0/unit_price",
    )
    .await;
    let body = price_with_tiers(
        json!([{"min_qty": 1, "unit_price": 5}, {"min_qty": 10, "unit_price": -4.5}]),
    );
    assert_rejected_at(
        &stack,
        &intake,
        "adv_negprice_1",
        &body,
        "negative",
        "/data/tiers/1/unit_price",
    )
    .await;
    let body = price_with_tiers(json!([{"min_qty": -1, "unit_price": 5}]));
    assert_rejected_at(
        &stack,
        &intake,
        "adv_negprice_2",
        &body,
        "negative",
        "/data/tiers/0/min_qty",
    )
    .await;
    assert_nothing_taken(&stack, "negative price").await;
}

#[tokio::test]
async fn a_negative_fractional_or_too_large_revision_is_400_at_data_revision() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let cases = [
        ("-1", "invalid_revision"),
        ("1.5", "invalid_revision"),
        ("1.0", "invalid_revision"),
        // An exponent is not an integer's form, even where its value is one.
        ("1e3", "invalid_revision"),
        ("\"-1\"", "invalid_revision"),
        ("\"\"", "invalid_revision"),
        ("18446744073709551616", "out_of_range"),
        (
            "\"99999999999999999999999999999999999999999\"",
            "out_of_range",
        ),
        ("true", "wrong_type"),
    ];
    for (n, (revision, code)) in cases.into_iter().enumerate() {
        let body = format!(
            r#"{{"type":"stock.changed","timestamp":"2026-11-26T10:00:00Z","data":{{"sku":"S","warehouse":"W1","available":1,"revision":{revision}}}}}"#
        );
        assert_rejected_at(
            &stack,
            &intake,
            &format!("adv_rev_{n}"),
            &body,
            code,
            "/data/revision",
        )
        .await;
    }
    // u64::MAX itself is a revision.
    let body = stock_event("SKU-MAX", u64::MAX, "1").to_string();
    let response = send(
        &intake,
        rust_signed("erp", erp_secret(&stack), "adv_rev_max", &body),
    )
    .await;
    assert_eq!(response.status, 202, "{}", response.body);
    assert_eq!(stack.drain_queue("StockPriceQueue").await.len(), 1);
}

// ------------------------------------------------------------------ structure

#[tokio::test]
async fn ten_thousand_nested_arrays_are_400_quickly_without_overflowing_the_stack() {
    let stack = stack(false).await;
    let depth = 10_000;
    let arrays = format!(
        r#"{{"type":"stock.changed","timestamp":"2026-11-26T10:00:00Z","data":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let objects = format!(
        r#"{{"type":"stock.changed","timestamp":"2026-11-26T10:00:00Z","data":{}1{}}}"#,
        r#"{"a":"#.repeat(depth),
        "}".repeat(depth)
    );
    for (id, body) in [("adv_deep_arrays", arrays), ("adv_deep_objects", objects)] {
        let request = rust_signed("erp", erp_secret(&stack), id, &body);
        let intake = intake(&stack).await;
        let started = Instant::now();
        // On a thread with the 2 MiB stack of a Tokio worker: a recursive parser without a
        // depth limit overflows it long before 10,000 levels (and aborts the process).
        let response = tokio::task::spawn_blocking(move || {
            std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(send(&intake, request))
                })
                .unwrap()
                .join()
                .expect("the intake answers")
        })
        .await
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{id}: {:?}",
            started.elapsed()
        );
        assert_eq!(response.status, 400, "{id}: {}", response.body);
        assert_eq!(response.body["error"], "invalid_json", "{id}");
        assert!(
            response.body["message"]
                .as_str()
                .unwrap()
                .contains("recursion limit"),
            "{id}: {}",
            response.body
        );
    }
    assert_nothing_taken(&stack, "deep nesting").await;
}

#[tokio::test]
async fn a_shop_type_sent_to_the_erp_endpoint_is_400_unknown_type() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let order = json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": {"order_id": "O-1", "customer_id": "C-1", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "lines": [{"line": 1, "sku": "S", "quantity": 1, "unit_price": "1"}]}}).to_string();
    let response = send(
        &intake,
        signed_request("erp", erp_secret(&stack), "adv_type_erp", now(), &order),
    )
    .await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.body["error"], "unknown_type");
    assert_eq!(response.body["field"], "/type");
    // A type no source sends, and a type of the wrong JSON kind.
    for (n, kind) in [json!("stock.deleted"), json!(""), json!(7)]
        .into_iter()
        .enumerate()
    {
        let body =
            json!({"type": kind, "timestamp": "2026-11-26T10:00:00Z", "data": {}}).to_string();
        let response = send(
            &intake,
            rust_signed("erp", erp_secret(&stack), &format!("adv_type_{n}"), &body),
        )
        .await;
        assert_eq!(response.status, 400, "{kind}: {}", response.body);
        assert_eq!(response.body["field"], "/type", "{kind}");
        let expected = if kind.is_string() {
            "unknown_type"
        } else {
            "wrong_type"
        };
        assert_eq!(response.body["error"], expected, "{kind}");
    }
    assert_nothing_taken(&stack, "unknown type").await;
}

//! The webhook intake, wired as deployed, against the moto server.

use super::support::{
    intake, intake_with, now, request, rust_signed, signed_request, stack, stock_event,
};
use bridge_contract::Envelope;
use serde_json::json;
use std::collections::HashMap;

#[tokio::test]
async fn a_webhook_signed_by_the_reference_library_is_queued_once() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 5, "12.5").to_string();
    let secret = &stack.signing["erp"][0];
    let response = intake
        .handle(
            signed_request("erp", secret, "msg_ref_1", now(), &body),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(response.status, 202, "{}", response.body);
    assert_eq!(
        response.body,
        json!({"id": "msg_ref_1", "status": "queued"})
    );

    let messages = stack.drain_queue("StockPriceQueue").await;
    assert_eq!(messages.len(), 1);
    let envelope = Envelope::from_json(messages[0].body().unwrap()).unwrap();
    assert_eq!(envelope.webhook_id, "msg_ref_1");
    assert_eq!(envelope.event_type.as_str(), "stock.changed");
    let attributes = messages[0].message_attributes().unwrap();
    assert_eq!(attributes["webhook_id"].string_value(), Some("msg_ref_1"));
    assert!(attributes["correlation_id"].string_value().is_some());
}

#[tokio::test]
async fn tampered_stale_and_empty_signatures_get_401_and_queue_nothing() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 5, "1").to_string();
    let secret = &stack.signing["erp"][0];
    let good = bridge_testkit::python_sign(secret, "msg_bad", now(), &body);

    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let stale = bridge_testkit::python_sign(secret, "msg_bad", now() - 301, &body);
    let future = bridge_testkit::python_sign(secret, "msg_bad", now() + 301, &body);
    let cases = [
        ("tampered", now(), tampered),
        ("v1, only", now(), "v1,".to_string()),
        ("v1 without comma", now(), "v1".to_string()),
        ("short", now(), good[..20].to_string()),
        ("other version", now(), good.replace("v1,", "v1a,")),
        ("stale timestamp", now() - 301, stale),
        ("future timestamp", now() + 301, future),
        ("empty", now(), String::new()),
    ];
    for (label, ts, signature) in cases {
        let response = intake
            .handle(
                request("erp", "msg_bad", ts, &signature, &body),
                chrono::Utc::now(),
            )
            .await;
        assert_eq!(response.status, 401, "{label}: {}", response.body);
        assert_eq!(
            response.body,
            json!({"error": "invalid_signature"}),
            "{label}"
        );
    }
    // The shop's secret does not sign for the ERP.
    let response = intake
        .handle(
            signed_request("erp", &stack.signing["shop"][0], "msg_bad", now(), &body),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(response.status, 401);
    assert!(stack.drain_queue("StockPriceQueue").await.is_empty());
}

#[tokio::test]
async fn both_secrets_of_a_rotation_are_accepted() {
    let stack = stack(true).await;
    let intake = intake(&stack).await;
    for (index, secret) in stack.signing["erp"].iter().enumerate() {
        let body = stock_event("SKU-1", index as u64 + 1, "1").to_string();
        let response = intake
            .handle(
                signed_request("erp", secret, &format!("msg_rot_{index}"), now(), &body),
                chrono::Utc::now(),
            )
            .await;
        assert_eq!(response.status, 202, "secret {index}: {}", response.body);
    }
}

#[tokio::test]
async fn the_same_webhook_twice_gives_202_then_200_and_one_message() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let body = stock_event("SKU-1", 7, "3").to_string();
    let secret = &stack.signing["erp"][0];
    let first = intake
        .handle(
            rust_signed("erp", secret, "msg_dup", &body),
            chrono::Utc::now(),
        )
        .await;
    let second = intake
        .handle(
            rust_signed("erp", secret, "msg_dup", &body),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(first.status, 202);
    assert_eq!(second.status, 200);
    assert_eq!(second.body, json!({"id": "msg_dup", "status": "duplicate"}));
    assert_eq!(stack.drain_queue("StockPriceQueue").await.len(), 1);

    // The same id for another event is refused, not silently dropped.
    let other = stock_event("SKU-1", 8, "4").to_string();
    let reused = intake
        .handle(
            rust_signed("erp", secret, "msg_dup", &other),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(reused.status, 409, "{}", reused.body);
    assert!(stack.drain_queue("StockPriceQueue").await.is_empty());
}

#[tokio::test]
async fn each_type_goes_to_its_queue() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let erp = &stack.signing["erp"][0];
    let shop = &stack.signing["shop"][0];
    let cases = [
        (
            "erp",
            erp,
            json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {"price_list": "PL", "sku": "S", "currency": "EUR", "revision": 1, "tiers": [{"min_qty": 1, "unit_price": "1"}]}}),
            "StockPriceQueue",
        ),
        (
            "erp",
            erp,
            json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {"customer_id": "C", "name": "N", "revision": 1}}),
            "CustomerQueue",
        ),
        (
            "erp",
            erp,
            json!({"type": "order.status_changed", "timestamp": "2026-11-26T10:00:00Z", "data": {"order_id": "O", "status": "confirmed", "revision": 1}}),
            "OrderStatusQueue",
        ),
        (
            "shop",
            shop,
            json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": {"order_id": "O", "customer_id": "C", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "lines": [{"line": 1, "sku": "S", "quantity": 1, "unit_price": "1"}]}}),
            "OrderPlacedQueue",
        ),
    ];
    for (index, (source, secret, body, queue)) in cases.into_iter().enumerate() {
        let response = intake
            .handle(
                rust_signed(
                    source,
                    secret,
                    &format!("msg_route_{index}"),
                    &body.to_string(),
                ),
                chrono::Utc::now(),
            )
            .await;
        assert_eq!(response.status, 202, "{body}: {}", response.body);
        assert_eq!(stack.drain_queue(queue).await.len(), 1, "{queue}");
    }
}

#[tokio::test]
async fn bad_requests_get_specific_answers() {
    let stack = stack(false).await;
    let intake = intake_with(
        &stack,
        HashMap::from([("MAX_BODY_BYTES", "4096".to_string())]),
    )
    .await;
    let secret = &stack.signing["erp"][0];
    let send = |id: &str, body: String| rust_signed("erp", secret, id, &body);

    let response = intake
        .handle(send("b1", "{\"type\":".into()), chrono::Utc::now())
        .await;
    assert_eq!(
        (response.status, response.body["error"].as_str()),
        (400, Some("invalid_json"))
    );

    let response = intake
        .handle(send("b2", json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {"sku": "S", "warehouse": "W", "available": "1", "revision": "x"}}).to_string()), chrono::Utc::now())
        .await;
    assert_eq!(response.status, 400);
    assert_eq!(response.body["field"], "/data/revision");

    let response = intake
        .handle(
            send(
                "b3",
                json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": {}})
                    .to_string(),
            ),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(
        (response.status, response.body["error"].as_str()),
        (400, Some("unknown_type"))
    );

    let response = intake
        .handle(send("b4", json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z", "data": {"sku": "S", "warehouse": "W", "available": "1234567890123456789012345678901234567890", "revision": 1}}).to_string()), chrono::Utc::now())
        .await;
    assert_eq!(
        (response.status, response.body["error"].as_str()),
        (400, Some("out_of_range"))
    );

    let mut wrong_type = send("b5", stock_event("S", 1, "1").to_string());
    wrong_type
        .headers
        .insert("content-type".into(), "text/plain".into());
    assert_eq!(
        intake.handle(wrong_type, chrono::Utc::now()).await.status,
        415
    );

    let huge = json!({"type": "stock.changed", "pad": "x".repeat(5000)}).to_string();
    let response = intake.handle(send("b6", huge), chrono::Utc::now()).await;
    assert_eq!(response.status, 413);
    assert_eq!(response.body, json!({"error": "payload_too_large"}));

    let mut unknown_source = send("b7", stock_event("S", 1, "1").to_string());
    unknown_source.source = "pim".into();
    assert_eq!(
        intake
            .handle(unknown_source, chrono::Utc::now())
            .await
            .status,
        404
    );

    for queue in [
        "StockPriceQueue",
        "CustomerQueue",
        "OrderStatusQueue",
        "OrderPlacedQueue",
    ] {
        assert!(
            stack.drain_queue(queue).await.is_empty(),
            "{queue} got a message from a bad request"
        );
    }
}

#[tokio::test]
async fn a_body_above_the_queue_limit_travels_as_a_claim_check_and_is_applied() {
    let stack = stack(false).await;
    // A small limit makes any event "large" without sending megabytes.
    let intake = intake_with(
        &stack,
        HashMap::from([("MAX_QUEUE_MESSAGE_BYTES", "2100".to_string())]),
    )
    .await;
    let mut event = stock_event("SKU-BIG", 3, "42");
    event["data"]["as_of"] = json!("2026-11-26T09:00:00Z");
    event["padding"] = json!("p".repeat(600));
    let body = event.to_string();
    let response = intake
        .handle(
            rust_signed("erp", &stack.signing["erp"][0], "msg_big", &body),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(response.status, 202, "{}", response.body);
    let messages = stack.drain_queue("StockPriceQueue").await;
    let envelope = Envelope::from_json(messages[0].body().unwrap()).unwrap();
    let bridge_contract::Payload::ClaimCheck { key, .. } = &envelope.payload else {
        panic!("expected a claim check, got {:?}", envelope.payload);
    };
    assert!(key.starts_with("claims/"));

    let sync = super::support::sync(&stack);
    let result = sync
        .handle_batch(super::support::sqs_event(
            stack.queue_arn("StockPriceQueue"),
            &messages,
        ))
        .await
        .unwrap();
    assert!(result.batch_item_failures.is_empty());
    let store = bridge_aws::DynamoStockStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("StockTable"),
    );
    let levels = bridge_domain::ports::StockStore::stock_of(
        &store,
        &bridge_domain::Sku::parse("SKU-BIG").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(levels[0].available.to_string(), "42");
}

#[tokio::test]
async fn when_the_queue_is_unavailable_the_answer_is_503_and_a_retry_is_not_blocked() {
    let stack = stack(false).await;
    let broken = format!("{}-missing", stack.queue_url("StockPriceQueue"));
    let intake = intake_with(&stack, HashMap::from([("STOCK_PRICE_QUEUE_URL", broken)])).await;
    let body = stock_event("SKU-1", 1, "1").to_string();
    let secret = &stack.signing["erp"][0];
    for attempt in 0..2 {
        let response = intake
            .handle(
                rust_signed("erp", secret, "msg_503", &body),
                chrono::Utc::now(),
            )
            .await;
        assert_eq!(response.status, 503, "attempt {attempt}: {}", response.body);
        // Released, not "in flight": the retry reached the queue again.
        assert_eq!(
            response.body["message"],
            "the event could not be made durable"
        );
    }
    // Once the queue is back, the same webhook is accepted.
    let healthy = intake_with(&stack, HashMap::new()).await;
    let response = healthy
        .handle(
            rust_signed("erp", secret, "msg_503", &body),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(response.status, 202);
}

#[tokio::test]
async fn dedupe_is_per_source_and_compares_the_event_not_its_serialization() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let erp = &stack.signing["erp"][0];
    let shop = &stack.signing["shop"][0];
    let body = stock_event("SKU-1", 3, "3");
    let first = intake
        .handle(
            rust_signed("erp", erp, "msg_same", &body.to_string()),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(first.status, 202);
    // The same event re-serialized, with a refreshed timestamp: a redelivery.
    let mut again = body.clone();
    again["timestamp"] = json!("2026-11-26T11:00:00Z");
    let pretty = serde_json::to_string_pretty(&again).unwrap();
    let second = intake
        .handle(
            rust_signed("erp", erp, "msg_same", &pretty),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    // The shop may use the same id for its own event.
    let order = json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": {"order_id": "O", "customer_id": "C", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "lines": [{"line": 1, "sku": "S", "quantity": 1, "unit_price": "1"}]}});
    let shop_answer = intake
        .handle(
            rust_signed("shop", shop, "msg_same", &order.to_string()),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(shop_answer.status, 202, "{}", shop_answer.body);
    assert_eq!(stack.drain_queue("StockPriceQueue").await.len(), 1);
    assert_eq!(stack.drain_queue("OrderPlacedQueue").await.len(), 1);
}

#[tokio::test]
async fn characters_sqs_refuses_travel_as_a_claim_check() {
    let stack = stack(false).await;
    let intake = intake(&stack).await;
    let mut event = stock_event("SKU-U", 1, "1");
    event["note"] = json!("noncharacter \u{FFFF} inside");
    let response = intake
        .handle(
            rust_signed(
                "erp",
                &stack.signing["erp"][0],
                "msg_ffff",
                &event.to_string(),
            ),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(response.status, 202, "{}", response.body);
    let messages = stack.drain_queue("StockPriceQueue").await;
    let envelope = Envelope::from_json(messages[0].body().unwrap()).unwrap();
    assert!(matches!(
        envelope.payload,
        bridge_contract::Payload::ClaimCheck { .. }
    ));
}

#[tokio::test]
async fn a_store_or_bucket_that_is_unavailable_gives_503() {
    let stack = stack(false).await;
    let secret = &stack.signing["erp"][0];
    let body = stock_event("SKU-1", 1, "1").to_string();
    let no_receipts = intake_with(
        &stack,
        HashMap::from([("RECEIPT_TABLE", "missing-table".to_string())]),
    )
    .await;
    let response = no_receipts
        .handle(
            rust_signed("erp", secret, "msg_r", &body),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(response.status, 503, "{}", response.body);
    let no_bucket = intake_with(
        &stack,
        HashMap::from([
            ("PAYLOAD_BUCKET", "missing-bucket-x".to_string()),
            ("MAX_QUEUE_MESSAGE_BYTES", "2100".to_string()),
        ]),
    )
    .await;
    let response = no_bucket
        .handle(
            rust_signed("erp", secret, "msg_b", &body),
            chrono::Utc::now(),
        )
        .await;
    assert_eq!(response.status, 503, "{}", response.body);
    assert!(stack.drain_queue("StockPriceQueue").await.is_empty());
}

#[tokio::test]
async fn checks_run_in_order_size_then_signature_then_media_type_then_schema() {
    let stack = stack(false).await;
    let intake = intake_with(
        &stack,
        HashMap::from([("MAX_BODY_BYTES", "2048".to_string())]),
    )
    .await;
    let secret = &stack.signing["erp"][0];
    // Oversized and unsigned: 413 before any signature work.
    let huge = "x".repeat(3000);
    assert_eq!(
        intake
            .handle(
                request("erp", "o1", now(), "v1,", &huge),
                chrono::Utc::now()
            )
            .await
            .status,
        413
    );
    // Unsigned, wrong media type, invalid body: the signature answers first.
    let mut unsigned = request("erp", "o2", now(), "v1,", "{not json");
    unsigned
        .headers
        .insert("content-type".into(), "text/plain".into());
    assert_eq!(
        intake.handle(unsigned, chrono::Utc::now()).await.status,
        401
    );
    // Signed, wrong media type, invalid body: 415 before 400.
    let mut signed = rust_signed("erp", secret, "o3", "{not json");
    signed
        .headers
        .insert("content-type".into(), "text/plain".into());
    assert_eq!(intake.handle(signed, chrono::Utc::now()).await.status, 415);
    // "application/json; charset=utf-8" is JSON.
    let mut charset = rust_signed("erp", secret, "o4", "{not json");
    charset.headers.insert(
        "content-type".into(),
        "application/json; charset=utf-8".into(),
    );
    assert_eq!(intake.handle(charset, chrono::Utc::now()).await.status, 400);
}

#[tokio::test]
async fn a_revoked_secret_stops_working_and_an_added_one_works_without_a_redeploy() {
    let stack = stack(false).await;
    let secret_id = stack.environment("webhook-intake")["WEBHOOK_SECRET_ID"].clone();
    let old = stack.signing["erp"][0].clone();
    let new = super::support::new_secret();
    async fn answer(intake: &webhook_intake::Intake, secret: &str, id: &str, revision: u64) -> u16 {
        let body = stock_event("SKU-R", revision, "1").to_string();
        let request = signed_request("erp", secret, id, now(), &body);
        intake.handle(request, chrono::Utc::now()).await.status
    }
    // Read again every second; a signature no secret verifies does not force a read.
    let periodic = super::support::intake_with(
        &stack,
        HashMap::from([
            ("SECRET_REFRESH_SECONDS", "1".to_string()),
            ("SECRET_RECHECK_SECONDS", "3600".to_string()),
        ]),
    )
    .await;
    // A signature no current secret verifies reads them at once (a rotation's new one).
    let on_unknown = super::support::intake_with(
        &stack,
        HashMap::from([
            ("SECRET_REFRESH_SECONDS", "3600".to_string()),
            ("SECRET_RECHECK_SECONDS", "0".to_string()),
        ]),
    )
    .await;
    assert_eq!(answer(&periodic, &old, "rv-1", 1).await, 202);
    assert_eq!(answer(&on_unknown, &old, "rv-2", 2).await, 202);

    // The ERP's old secret leaked: operations replace it.
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(json!({"erp": [new], "shop": stack.signing["shop"]}).to_string())
        .send()
        .await
        .unwrap();

    assert_eq!(
        answer(&on_unknown, &new, "rv-3", 3).await,
        202,
        "the new secret at once"
    );
    assert_eq!(
        answer(&on_unknown, &old, "rv-4", 4).await,
        401,
        "the old one refused"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        answer(&periodic, &old, "rv-5", 5).await,
        401,
        "refused after the refresh"
    );
    assert_eq!(answer(&periodic, &new, "rv-6", 6).await, 202);
}

/// Contract version 2: a new source is a configuration entry (its name, its event types)
/// and an entry in the signing secret, no code: here a second ERP that sends stock and
/// prices only, with the shop switched off.
#[tokio::test]
async fn a_new_source_is_configuration_with_its_own_secret_and_event_types() {
    let stack = bridge_testkit::TestStack::with_secrets(std::collections::BTreeMap::from([
        ("erp".to_string(), vec![super::support::new_secret()]),
        ("erp-eu".to_string(), vec![super::support::new_secret()]),
        ("shop".to_string(), vec![super::support::new_secret()]),
    ]))
    .await;
    let sources = "erp=stock.changed,price.changed,customer.changed,order.status_changed;\
                   erp-eu=stock.changed,price.changed";
    let intake = super::support::intake_with(
        &stack,
        HashMap::from([("WEBHOOK_SOURCES", sources.to_string())]),
    )
    .await;
    let eu = &stack.signing["erp-eu"][0];
    let stock = stock_event("SKU-EU", 4, "40").to_string();
    let send = |source: &str, secret: &str, id: &str, body: &str| {
        intake.handle(rust_signed(source, secret, id, body), chrono::Utc::now())
    };

    let accepted = send("erp-eu", eu, "msg_eu_1", &stock).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    // Ids are per source: the first ERP's own msg_eu_1 is another event.
    let first_erp = send("erp", &stack.signing["erp"][0], "msg_eu_1", &stock).await;
    assert_eq!(first_erp.status, 202, "{}", first_erp.body);

    let customer = json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"customer_id": "C-1", "name": "Kunde", "revision": 1}})
    .to_string();
    let refused = send("erp-eu", eu, "msg_eu_2", &customer).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"], "unknown_type");
    assert_eq!(refused.body["field"], "/type");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("not accepted from source erp-eu"),
        "{}",
        refused.body
    );
    // Its own secret only: the first ERP's does not sign for it.
    let foreign = send("erp-eu", &stack.signing["erp"][0], "msg_eu_3", &stock).await;
    assert_eq!(foreign.status, 401, "{}", foreign.body);
    // The secret still has a shop entry, but the shop is not configured.
    let order = json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z", "data": {"order_id": "O", "customer_id": "C", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z", "lines": [{"line": 1, "sku": "S", "quantity": 1, "unit_price": "1"}]}}).to_string();
    let shop = send("shop", &stack.signing["shop"][0], "msg_eu_4", &order).await;
    assert_eq!(shop.status, 404, "{}", shop.body);
    assert_eq!(shop.body["error"], "unknown_source");
    assert!(stack.drain_queue("OrderPlacedQueue").await.is_empty());
    assert!(stack.drain_queue("CustomerQueue").await.is_empty());

    // The queued event carries its source, and the sync applies it like the ERP's.
    let messages = stack.drain_queue("StockPriceQueue").await;
    assert_eq!(messages.len(), 2);
    let arn = stack.queue_arn("StockPriceQueue").to_string();
    let mut batch = aws_lambda_events::event::sqs::SqsEvent::default();
    for (index, message) in messages.iter().enumerate() {
        let envelope = Envelope::from_json(message.body().unwrap()).unwrap();
        let attributes = message.message_attributes().unwrap();
        assert_eq!(
            attributes["source"].string_value(),
            Some(envelope.source.as_str())
        );
        batch.records.push(super::support::sqs_record(
            &arn,
            &format!("m{index}"),
            message.body().unwrap(),
            1,
        ));
    }
    let mut seen: Vec<String> = messages
        .iter()
        .map(|m| {
            Envelope::from_json(m.body().unwrap())
                .unwrap()
                .source
                .to_string()
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ["erp", "erp-eu"]);
    let response = super::support::sync(&stack)
        .handle_batch(batch)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let levels = bridge_domain::ports::StockStore::stock_of(
        &bridge_aws::DynamoStockStore::new(
            aws_sdk_dynamodb::Client::new(&stack.sdk),
            stack.table("StockTable"),
        ),
        &bridge_domain::Sku::parse("SKU-EU").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(levels.len(), 1);
    assert_eq!(levels[0].available.to_string(), "40");
}

/// A mistyped source configuration stops the intake at init, with the variable named.
#[tokio::test]
async fn a_mistyped_source_configuration_stops_the_start() {
    let stack = stack(false).await;
    let mut env = stack.environment("webhook-intake");
    env.insert(
        "WEBHOOK_SOURCES".to_string(),
        "erp=stock.changed;shop=order.plaecd".to_string(),
    );
    let config = bridge_lambda::Config::from_map(env);
    let err = webhook_intake::wiring::check(&config).unwrap_err();
    assert!(err.to_string().contains("WEBHOOK_SOURCES"), "{err}");
    assert!(err.to_string().contains("order.plaecd"), "{err}");
    // The template's default is the contract's two sources.
    let config = bridge_lambda::Config::from_map(stack.environment("webhook-intake"));
    webhook_intake::wiring::check(&config).unwrap();
}

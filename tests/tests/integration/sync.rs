//! The price/stock/customer sync, wired as deployed, against the moto server.

use super::support::{rust_signed, sqs_record, stack, stock_event};
use aws_lambda_events::event::sqs::SqsEvent;
use bridge_aws::DynamoStockStore;
use bridge_domain::Sku;
use bridge_domain::ports::StockStore;

/// Envelopes as the intake writes them, through the real intake.
async fn envelopes(stack: &bridge_testkit::TestStack, events: &[serde_json::Value]) -> Vec<String> {
    let intake = super::support::intake(stack).await;
    for (index, event) in events.iter().enumerate() {
        let request = rust_signed(
            "erp",
            &stack.signing["erp"][0],
            &format!("msg_sync_{index}"),
            &event.to_string(),
        );
        assert_eq!(intake.handle(request, chrono::Utc::now()).await.status, 202);
    }
    let mut bodies = Vec::new();
    for queue in ["StockPriceQueue", "CustomerQueue"] {
        for message in stack.drain_queue(queue).await {
            bodies.push(message.body().unwrap().to_string());
        }
    }
    // In the order sent (a standard queue does not promise it).
    let index = |body: &String| {
        let envelope = bridge_contract::Envelope::from_json(body).unwrap();
        envelope
            .webhook_id
            .trim_start_matches("msg_sync_")
            .parse::<usize>()
            .unwrap()
    };
    bodies.sort_by_key(index);
    bodies
}

#[tokio::test]
async fn one_bad_message_goes_to_the_dlq_with_its_reason_and_spares_its_neighbours() {
    let stack = stack(false).await;
    let arn = stack.queue_arn("StockPriceQueue").to_string();
    let bodies = envelopes(
        &stack,
        &[
            stock_event("SKU-7", 5, "50"),
            stock_event("SKU-7", 7, "70"),
            stock_event("SKU-7", 6, "60"),
        ],
    )
    .await;
    let mut event = SqsEvent::default();
    for (index, body) in bodies.iter().enumerate() {
        event
            .records
            .push(sqs_record(&arn, &format!("m{index}"), body, 1));
    }
    event
        .records
        .push(sqs_record(&arn, "poison", "{\"not\": \"an envelope\"}", 1));

    let sync = super::support::sync(&stack);
    let response = sync.handle_batch(event).await.unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );

    let store = DynamoStockStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("StockTable"),
    );
    let levels = store.stock_of(&Sku::parse("SKU-7").unwrap()).await.unwrap();
    assert_eq!(levels[0].revision.value(), 7);
    assert_eq!(levels[0].available.to_string(), "70");

    let dead = stack.drain_queue("StockPriceDeadLetterQueue").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some("{\"not\": \"an envelope\"}"));
    let attributes = dead[0].message_attributes().unwrap();
    assert_eq!(
        attributes["failure_code"].string_value(),
        Some("invalid_envelope")
    );
    assert_eq!(
        attributes["failed_by"].string_value(),
        Some("price-stock-sync")
    );
    assert!(
        attributes["failure_reason"]
            .string_value()
            .unwrap()
            .contains("not a bridge envelope")
    );
}

#[tokio::test]
async fn an_event_that_fails_validation_at_the_consumer_is_dead_lettered_with_its_field() {
    let stack = stack(false).await;
    let arn = stack.queue_arn("CustomerQueue").to_string();
    // An envelope whose event no longer validates (written by an older intake, say).
    let envelope = serde_json::json!({
        "version": 1, "webhook_id": "w-old", "source": "erp", "event_type": "customer.changed",
        "correlation_id": "c-1", "received_at": "2026-11-26T10:00:00Z",
        "payload": {"kind": "inline", "body": {"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z",
            "data": {"customer_id": "C 1", "name": "x", "revision": 1}}}});
    let mut event = SqsEvent::default();
    event
        .records
        .push(sqs_record(&arn, "m1", &envelope.to_string(), 1));
    let response = super::support::sync(&stack)
        .handle_batch(event)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let dead = stack.drain_queue("CustomerDeadLetterQueue").await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0].message_attributes().unwrap()["failure_reason"]
        .string_value()
        .unwrap()
        .to_string();
    assert!(reason.contains("/data/customer_id"), "{reason}");
}

#[tokio::test]
async fn a_batch_from_an_unconfigured_queue_fails_the_invocation() {
    let stack = stack(false).await;
    let mut event = SqsEvent::default();
    event.records.push(sqs_record(
        "arn:aws:sqs:us-east-1:123456789012:elsewhere",
        "m1",
        "{}",
        1,
    ));
    let err = super::support::sync(&stack)
        .handle_batch(event)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("elsewhere"), "{err}");
}

#[tokio::test]
async fn stale_revisions_are_counted_and_change_nothing() {
    let stack = stack(false).await;
    let arn = stack.queue_arn("StockPriceQueue").to_string();
    let sync = super::support::sync(&stack);
    let bodies = envelopes(
        &stack,
        &[
            stock_event("SKU-S", 7, "70"),
            stock_event("SKU-S", 6, "60"),
            stock_event("SKU-S", 7, "71"),
        ],
    )
    .await;
    let mut counts = Vec::new();
    // One message per batch, in the order sent: 7 applies, then 6 and the second 7 are stale.
    for (index, body) in bodies.iter().enumerate() {
        let mut event = SqsEvent::default();
        event
            .records
            .push(sqs_record(&arn, &format!("m{index}"), body, 1));
        let (response, metrics) = sync.process(event).await;
        assert!(response.unwrap().batch_item_failures.is_empty());
        counts.push((metrics.count("Applied"), metrics.count("Stale")));
    }
    assert_eq!(counts, vec![(1, 0), (0, 1), (0, 1)]);
    let store = DynamoStockStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("StockTable"),
    );
    let levels = store.stock_of(&Sku::parse("SKU-S").unwrap()).await.unwrap();
    assert_eq!(levels[0].available.to_string(), "70");
}

#[tokio::test]
async fn an_event_on_the_wrong_queue_is_dead_lettered_not_applied() {
    let stack = stack(false).await;
    // A stock event delivered from the customer queue.
    let bodies = envelopes(&stack, &[stock_event("SKU-W", 1, "1")]).await;
    let mut event = SqsEvent::default();
    event.records.push(sqs_record(
        stack.queue_arn("CustomerQueue"),
        "m1",
        &bodies[0],
        1,
    ));
    let (response, metrics) = super::support::sync(&stack).process(event).await;
    assert!(response.unwrap().batch_item_failures.is_empty());
    assert_eq!(metrics.count("Rejected"), 1);
    let dead = stack.drain_queue("CustomerDeadLetterQueue").await;
    assert_eq!(
        dead[0].message_attributes().unwrap()["failure_code"].string_value(),
        Some("wrong_queue")
    );
    let store = DynamoStockStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("StockTable"),
    );
    assert!(
        store
            .stock_of(&Sku::parse("SKU-W").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}

//! Every adapter against the moto server through the ordinary SDK clients.

use bridge_aws::{
    DynamoCustomerStore, DynamoPriceStore, DynamoReceiptStore, DynamoStockStore, S3ObjectStore,
    SqsQueue,
};
use bridge_contract::{ParsedEvent, parse_event};
use bridge_domain::ports::{
    CustomerStore, MessageQueue, ObjectStore, OutboundMessage, PriceStore, ReceiptClaim,
    ReceiptStore, StockStore,
};
use bridge_domain::{ApplyOutcome, DomainEvent, ErrorClass, Revision, Sku};
use serde_json::json;
use std::collections::BTreeMap;

fn event(body: serde_json::Value) -> DomainEvent {
    let ParsedEvent { event, .. } = parse_event(
        &bridge_domain::Sources::contract().sender("erp").unwrap(),
        body.to_string().as_bytes(),
    )
    .unwrap();
    event
}

fn stock(revision: u64, available: &str) -> bridge_domain::StockChanged {
    match event(super::support::stock_event("SKU-1", revision, available)) {
        DomainEvent::StockChanged(s) => s,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn stock_revisions_5_7_6_leave_revision_7_and_report_the_rest_stale() {
    let stack = super::support::stack(false).await;
    let store = DynamoStockStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("StockTable"),
    );
    assert_eq!(
        store.apply_stock(&stock(5, "10")).await.unwrap(),
        ApplyOutcome::Applied
    );
    assert_eq!(
        store.apply_stock(&stock(7, "30")).await.unwrap(),
        ApplyOutcome::Applied
    );
    assert_eq!(
        store.apply_stock(&stock(6, "20")).await.unwrap(),
        ApplyOutcome::Stale {
            stored: Revision::new(7)
        }
    );
    assert_eq!(
        store.apply_stock(&stock(7, "30")).await.unwrap(),
        ApplyOutcome::Stale {
            stored: Revision::new(7)
        }
    );
    let levels = store.stock_of(&Sku::parse("SKU-1").unwrap()).await.unwrap();
    assert_eq!(levels, vec![stock(7, "30")]);
}

#[tokio::test]
async fn a_price_window_is_replaced_only_by_a_higher_revision_and_another_start_adds_one() {
    let stack = super::support::stack(false).await;
    let store = DynamoPriceStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("PriceTable"),
    );
    let price = |revision: u64, from: &str, deleted: bool| match event(json!({
        "type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"price_list": "PL-1", "sku": "SKU-1", "currency": "EUR", "revision": revision,
                 "valid_from": from, "price_per": "100", "price_unit": "KGM", "deleted": deleted,
                 "tiers": [{"min_qty": 0, "unit_price": "0.10"}, {"min_qty": "12.5", "unit_price": 0.095}]}}))
    {
        DomainEvent::PriceChanged(p) => p,
        _ => unreachable!(),
    };
    let march = price(3, "2026-03-01", false);
    let april = price(2, "2026-04-01", false);
    assert_eq!(
        store.apply_price(&march).await.unwrap(),
        ApplyOutcome::Applied
    );
    // Another start is another window, whatever its revision: March's stays.
    assert_eq!(
        store.apply_price(&april).await.unwrap(),
        ApplyOutcome::Applied
    );
    // Each window keeps its own revision guard.
    assert_eq!(
        store.apply_price(&march).await.unwrap(),
        ApplyOutcome::Stale {
            stored: Revision::new(3)
        }
    );
    let stored = store
        .prices_of(std::slice::from_ref(&march.price_list), &march.sku)
        .await
        .unwrap();
    assert_eq!(stored, vec![march.clone(), april.clone()]);
    assert_eq!(
        stored[0].tiers.as_slice()[1].unit_price.value().to_string(),
        "0.095"
    );
    // The ERP deletes April's window: a tombstone that a late older revision cannot undo.
    let deleted = price(5, "2026-04-01", true);
    assert_eq!(
        store.apply_price(&deleted).await.unwrap(),
        ApplyOutcome::Applied
    );
    assert_eq!(
        store.apply_price(&april).await.unwrap(),
        ApplyOutcome::Stale {
            stored: Revision::new(5)
        }
    );
    let stored = store
        .prices_of(std::slice::from_ref(&march.price_list), &march.sku)
        .await
        .unwrap();
    assert_eq!(stored, vec![march.clone(), deleted]);
    // A sku whose name is a prefix of another sees only its own windows.
    let other = store
        .prices_of(
            std::slice::from_ref(&march.price_list),
            &Sku::parse("SKU").unwrap(),
        )
        .await
        .unwrap();
    assert!(other.is_empty());
}

#[tokio::test]
async fn a_customer_round_trips_with_every_field() {
    let stack = super::support::stack(false).await;
    let store = DynamoCustomerStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("CustomerTable"),
    );
    let DomainEvent::CustomerChanged(customer) = event(json!({
        "type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"customer_id": "C-9", "name": "Nord GmbH", "revision": 3, "blocked": true,
                 "credit_limit": {"amount": "1000.00", "currency": "EUR"},
                 "open_items": {"amount": "-20.5", "currency": "EUR"},
                 "delivery_terms": {"incoterm": "FCA"}, "price_lists": ["A", "B"],
                 "cost_centers": ["CC-1"], "approval_rules": [{"above": {"amount": 500, "currency": "EUR"}, "role": "lead"}]}}))
    else {
        unreachable!()
    };
    assert_eq!(
        store.apply_customer(&customer).await.unwrap(),
        ApplyOutcome::Applied
    );
    assert_eq!(
        store.customer(&customer.customer_id).await.unwrap(),
        Some(customer.clone())
    );
    let unknown = bridge_domain::CustomerId::parse("C-404").unwrap();
    assert_eq!(store.customer(&unknown).await.unwrap(), None);
}

#[tokio::test]
async fn a_receipt_is_claimed_once_then_reports_what_was_queued() {
    let stack = super::support::stack(false).await;
    let store = DynamoReceiptStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.table("WebhookReceiptTable"),
        86_400,
    );
    let now = chrono::Utc::now();
    assert_eq!(
        store.claim("w1", "h1", now, 60).await.unwrap(),
        ReceiptClaim::Claimed
    );
    assert_eq!(
        store.claim("w1", "h1", now, 60).await.unwrap(),
        ReceiptClaim::InFlight
    );
    // A lease that ran out can be taken over (the first claimant crashed).
    let later = now + chrono::Duration::seconds(61);
    assert_eq!(
        store.claim("w1", "h1", later, 60).await.unwrap(),
        ReceiptClaim::Claimed
    );
    store
        .complete(
            "w1",
            &BTreeMap::from([("message_id".to_string(), "m-1".to_string())]),
            later,
        )
        .await
        .unwrap();
    assert_eq!(
        store.claim("w1", "h1", later, 60).await.unwrap(),
        ReceiptClaim::AlreadyQueued {
            content_sha256: "h1".into()
        }
    );
    assert_eq!(
        store.receipt("w1").await.unwrap().unwrap()["message_id"],
        "m-1"
    );
    // A queued receipt cannot be released.
    assert!(store.release("w1").await.is_err());
    assert_eq!(
        store.claim("w2", "h2", now, 60).await.unwrap(),
        ReceiptClaim::Claimed
    );
    store.release("w2").await.unwrap();
    assert_eq!(
        store.claim("w2", "h2", now, 60).await.unwrap(),
        ReceiptClaim::Claimed
    );
}

#[tokio::test]
async fn objects_round_trip_and_a_missing_one_is_a_permanent_error() {
    let stack = super::support::stack(false).await;
    let store = S3ObjectStore::new(
        bridge_aws::s3_client(&stack.sdk),
        stack.bucket("PayloadBucket"),
    );
    store
        .put("claims/a.json", b"{\"a\":1}".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(store.get("claims/a.json").await.unwrap(), b"{\"a\":1}");
    let err = store.get("claims/missing.json").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{err}");
}

#[tokio::test]
async fn queue_messages_carry_their_attributes() {
    let stack = super::support::stack(false).await;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&stack.sdk));
    let message = OutboundMessage {
        body: "hello".into(),
        attributes: BTreeMap::from([("event_type".to_string(), "stock.changed".to_string())]),
        ..Default::default()
    };
    let id = queue
        .send(stack.queue_url("CustomerQueue"), &message)
        .await
        .unwrap();
    let received = stack.drain_queue("CustomerQueue").await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].message_id(), Some(id.as_str()));
    assert_eq!(received[0].body(), Some("hello"));
    assert_eq!(
        received[0].message_attributes().unwrap()["event_type"].string_value(),
        Some("stock.changed")
    );
    // A missing queue is a deployment fault, not bad data: retryable, so nothing is
    // dead-lettered for it.
    let missing = format!("{}-gone", stack.queue_url("CustomerQueue"));
    let err = queue.send(&missing, &message).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Retryable, "{err}");
}

/// A DynamoDB client whose requests a counting interceptor sees.
fn counted_dynamodb(
    sdk: &aws_config::SdkConfig,
) -> (
    aws_sdk_dynamodb::Client,
    bridge_aws::counting::RequestCounter,
) {
    let counter = bridge_aws::counting::RequestCounter::default();
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(counter.clone())
        .build();
    (aws_sdk_dynamodb::Client::from_conf(config), counter)
}

/// Redelivered and unchanged records must cost no write: DynamoDB bills a failed
/// conditional write like a write, so the adapters read first.
#[tokio::test]
async fn a_stale_record_and_a_redelivered_webhook_id_send_no_write() {
    let stack = super::support::stack(false).await;
    let (client, counter) = counted_dynamodb(&stack.sdk);
    let levels = DynamoStockStore::new(client.clone(), stack.table("StockTable"));
    assert_eq!(
        levels.apply_stock(&stock(5, "10")).await.unwrap(),
        ApplyOutcome::Applied
    );
    let before = counter.snapshot();
    for (revision, available) in [(5, "10"), (4, "9")] {
        assert_eq!(
            levels
                .apply_stock(&stock(revision, available))
                .await
                .unwrap(),
            ApplyOutcome::Stale {
                stored: Revision::new(5)
            }
        );
    }
    let stale = counter.snapshot().minus(&before);
    assert_eq!(stale.operation("DynamoDB", "PutItem"), 0, "{stale:?}");
    assert_eq!(stale.units(|_| true), 0.0);
    assert_eq!(stale.operation("DynamoDB", "GetItem"), 2);

    let receipts = DynamoReceiptStore::new(client, stack.table("WebhookReceiptTable"), 86_400);
    let now = chrono::Utc::now();
    assert_eq!(
        receipts.claim("w1", "h1", now, 60).await.unwrap(),
        ReceiptClaim::Claimed
    );
    receipts
        .complete("w1", &BTreeMap::new(), now)
        .await
        .unwrap();
    let before = counter.snapshot();
    assert_eq!(
        receipts.claim("w1", "h1", now, 60).await.unwrap(),
        ReceiptClaim::AlreadyQueued {
            content_sha256: "h1".into()
        }
    );
    let redelivered = counter.snapshot().minus(&before);
    assert_eq!(redelivered.units(|_| true), 0.0, "{redelivered:?}");
    assert_eq!(redelivered.operation("DynamoDB", "GetItem"), 1);
}

/// Every batch reports success; freshness SLAs are hours, so a container records each
/// category at most once a minute.
#[tokio::test]
async fn freshness_is_written_at_most_once_a_minute_per_category() {
    use bridge_domain::freshness::Category;
    use bridge_domain::ports::FreshnessStore;
    let stack = super::support::stack(false).await;
    let (client, counter) = counted_dynamodb(&stack.sdk);
    let store = bridge_aws::DynamoFreshnessStore::new(client, stack.table("FreshnessTable"));
    let now = chrono::Utc::now();
    for seconds in [0, 10, 59, 61] {
        store
            .record(
                Category::Prices,
                now + chrono::Duration::seconds(seconds),
                "sync",
            )
            .await
            .unwrap();
    }
    store.record(Category::Stock, now, "sync").await.unwrap();
    assert_eq!(counter.snapshot().operation("DynamoDB", "UpdateItem"), 3);
    let recorded = store.all().await.unwrap();
    let prices = recorded
        .iter()
        .find(|(c, _, _)| *c == Category::Prices)
        .unwrap();
    assert_eq!(
        prices.1.timestamp_millis(),
        (now + chrono::Duration::seconds(61)).timestamp_millis()
    );
}

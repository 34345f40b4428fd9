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
        stack.table("PriceIndexTable"),
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

/// A window of `sku` in `list` from `from` (`None`: open start).
fn window(
    list: &str,
    sku: &str,
    revision: u64,
    from: Option<&str>,
    price: &str,
    deleted: bool,
) -> bridge_domain::PriceChanged {
    let mut data = json!({"price_list": list, "sku": sku, "currency": "EUR", "revision": revision,
                          "deleted": deleted, "tiers": [{"min_qty": 1, "unit_price": price}, {"min_qty": 10, "unit_price": "0.5"}]});
    if let Some(from) = from {
        data["valid_from"] = json!(from);
    }
    match event(json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z", "data": data}))
    {
        DomainEvent::PriceChanged(p) => p,
        _ => unreachable!(),
    }
}

fn by_window(mut records: Vec<bridge_domain::PriceChanged>) -> Vec<bridge_domain::PriceChanged> {
    records.sort_by_key(|r| (r.price_list.clone(), r.window_key()));
    records
}

/// The read API's availability for one warehouse: 150 skus (one asked twice, some without a
/// level there, some only in another warehouse) are two BatchGetItem requests and no query,
/// and the same levels the per-sku queries give for that warehouse.
#[tokio::test]
async fn a_warehouses_levels_of_many_skus_are_read_in_batches_exactly_as_per_sku() {
    let stack = super::support::stack(false).await;
    let (client, counter) = counted_dynamodb(&stack.sdk);
    let store = DynamoStockStore::new(client, stack.table("StockTable"));
    let mut skus: Vec<Sku> = (0..150)
        .map(|n| Sku::parse(&format!("AV-{n:03}")).unwrap())
        .collect();
    for (n, sku) in skus.iter().enumerate() {
        for (warehouse, every) in [("W1", 2), ("W2", 3)] {
            if n % every == 0 {
                let DomainEvent::StockChanged(level) = event(
                    json!({"type": "stock.changed", "timestamp": "2026-11-26T10:00:00Z",
                    "data": {"sku": sku.as_str(), "warehouse": warehouse, "available": n.to_string(), "revision": 1,
                             "as_of": "2026-11-26T09:00:00Z"}}),
                ) else {
                    unreachable!()
                };
                store.apply_stock(&level).await.unwrap();
            }
        }
    }
    skus.push(skus[0].clone());
    let w1 = bridge_domain::WarehouseId::parse("W1").unwrap();
    let sorted = |mut levels: Vec<bridge_domain::StockChanged>| {
        levels.sort_by(|a, b| a.sku.cmp(&b.sku));
        levels
    };
    let mut expected = store.stock_of_skus(&skus).await.unwrap();
    expected.retain(|l| l.warehouse == w1);
    // The sku asked twice is read twice one by one, once in a batch.
    let mut expected = sorted(expected);
    expected.dedup_by(|a, b| a.sku == b.sku);
    assert_eq!(expected.len(), 75);

    let before = counter.snapshot();
    let batched = sorted(store.stock_in_warehouse(&skus, &w1).await.unwrap());
    let cost = counter.snapshot().minus(&before);
    assert_eq!(batched, expected);
    assert_eq!(cost.operation("DynamoDB", "BatchGetItem"), 2, "{cost:?}");
    assert_eq!(cost.operation("DynamoDB", "Query"), 0, "{cost:?}");
}

/// The read API's cart read: every window of 120 skus in two lists (some announced for next
/// month, some deleted, some replaced by a newer revision, some lists without the sku) is
/// three BatchGetItem requests and no query, and equal to what the per-sku queries of the
/// windows give (what `bridgectl price` and the order checks read). An index wiped (as
/// before its first rebuild) is not trusted: the reads fall back to the windows until
/// `rebuild_index` copied them, which leaves an entry a writer made newer alone.
#[tokio::test]
async fn the_price_index_answers_a_cart_in_batches_exactly_as_the_windows_and_is_rebuilt() {
    let stack = super::support::stack(false).await;
    let (client, counter) = counted_dynamodb(&stack.sdk);
    let store = || {
        DynamoPriceStore::new(
            client.clone(),
            stack.table("PriceTable"),
            stack.table("PriceIndexTable"),
        )
    };
    let writer = store();
    let skus: Vec<Sku> = (0..120)
        .map(|n| Sku::parse(&format!("IX-{n:03}")).unwrap())
        .collect();
    let lists = [
        bridge_domain::PriceListId::parse("CONTRACT").unwrap(),
        bridge_domain::PriceListId::parse("BASE").unwrap(),
    ];
    let mut written = 0;
    for (n, sku) in skus.iter().enumerate() {
        let sku = sku.as_str();
        let mut windows = Vec::new();
        if n % 2 == 0 {
            windows.push(window("CONTRACT", sku, 1, None, "9.50", false));
        }
        if n % 3 == 0 {
            windows.push(window("BASE", sku, 1, None, "10.00", n % 7 == 0));
        }
        if n % 5 == 0 {
            windows.push(window("BASE", sku, 2, Some("2027-01-01"), "10.40", false));
        }
        if n % 4 == 0 {
            windows.push(window("CONTRACT", sku, 3, None, "9.40", false));
            // A late older revision changes neither the window nor its entry.
            windows.push(window("CONTRACT", sku, 2, None, "9.45", false));
        }
        for w in windows {
            if writer.apply_price(&w).await.unwrap() == ApplyOutcome::Applied {
                written += 1;
            }
        }
    }
    assert!(written > 100, "{written}");
    let expected = by_window(
        bridge_domain::ports::prices_per_sku(&writer, &lists, &skus)
            .await
            .unwrap(),
    );
    assert!(expected.iter().any(|w| w.deleted));
    assert!(
        expected
            .iter()
            .all(|w| w.tiers.as_slice()[0].unit_price.value().to_string() != "9.45")
    );

    let reader = store();
    let before = counter.snapshot();
    let batched = by_window(reader.prices_of_skus(&lists, &skus).await.unwrap());
    let cost = counter.snapshot().minus(&before);
    assert_eq!(batched, expected);
    // 240 (list, sku) keys: three batches of at most 100, and the completeness marker.
    assert_eq!(cost.operation("DynamoDB", "BatchGetItem"), 3, "{cost:?}");
    assert_eq!(cost.operation("DynamoDB", "Query"), 0, "{cost:?}");
    assert_eq!(cost.operation("DynamoDB", "GetItem"), 1, "{cost:?}");

    // The index wiped, as on a stack deployed before it existed.
    let index_table = stack.table("PriceIndexTable");
    let items = client
        .scan()
        .table_name(index_table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    for item in items {
        client
            .delete_item()
            .table_name(index_table)
            .key("price_list", item["price_list"].clone())
            .key("sku", item["sku"].clone())
            .send()
            .await
            .unwrap();
    }
    let unindexed = store();
    let before = counter.snapshot();
    assert_eq!(
        by_window(unindexed.prices_of_skus(&lists, &skus).await.unwrap()),
        expected,
        "an incomplete index is not read"
    );
    let cost = counter.snapshot().minus(&before);
    assert_eq!(cost.operation("DynamoDB", "BatchGetItem"), 0, "{cost:?}");
    assert!(cost.operation("DynamoDB", "Query") >= 120, "{cost:?}");

    // A writer adds a newer window before the rebuild reaches it: the rebuild keeps it.
    let newer = window("CONTRACT", "IX-000", 9, None, "9.10", false);
    assert_eq!(
        writer.apply_price(&newer).await.unwrap(),
        ApplyOutcome::Applied
    );
    let report = unindexed.rebuild_index().await.unwrap();
    assert_eq!(report.windows, expected.len() as u64);
    assert_eq!((report.copied, report.current), (report.windows - 1, 1));
    let expected: Vec<_> = expected
        .into_iter()
        .map(|w| {
            if w.window_key() == newer.window_key() && w.price_list == newer.price_list {
                newer.clone()
            } else {
                w
            }
        })
        .collect();
    let before = counter.snapshot();
    assert_eq!(
        by_window(unindexed.prices_of_skus(&lists, &skus).await.unwrap()),
        expected
    );
    let cost = counter.snapshot().minus(&before);
    assert_eq!(cost.operation("DynamoDB", "BatchGetItem"), 3, "{cost:?}");
    assert_eq!(cost.operation("DynamoDB", "Query"), 0, "{cost:?}");
    // Run again, everything is current.
    let again = store().rebuild_index().await.unwrap();
    assert_eq!((again.copied, again.current), (0, again.windows));

    // Two writers of one window at once: both may pass the revision peek, and the
    // transaction's condition then cancels the older one, which is stale, not an error.
    let before = counter.snapshot();
    let mut applied = 0;
    for n in 0..20 {
        let sku = format!("RACE-{n}");
        let (newer, older) = (
            window("BASE", &sku, 6, None, "6.00", false),
            window("BASE", &sku, 5, None, "5.00", false),
        );
        let (a, b) = tokio::join!(writer.apply_price(&newer), writer.apply_price(&older));
        for outcome in [a.unwrap(), b.unwrap()] {
            applied += usize::from(outcome == ApplyOutcome::Applied);
        }
        let sku = Sku::parse(&sku).unwrap();
        let indexed = writer
            .prices_of_skus(&lists[1..], std::slice::from_ref(&sku))
            .await
            .unwrap();
        assert_eq!(indexed.len(), 1);
        assert_eq!(indexed[0].revision, Revision::new(6));
        assert_eq!(indexed, writer.prices_of(&lists[1..], &sku).await.unwrap());
    }
    let cost = counter.snapshot().minus(&before);
    let transactions = cost.operation("DynamoDB", "TransactWriteItems") as usize;
    println!(
        "{transactions} transactions for {applied} applied windows: {} cancelled as stale",
        transactions - applied
    );
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

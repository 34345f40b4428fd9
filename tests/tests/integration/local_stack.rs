//! The local stack end to end: HTTP webhooks in, tables and dead-letter queues out.

use bridge_domain::Source;
use bridge_domain::pricing::PriceResolution;
use bridgectl::dev::{DevOptions, LocalStack};
use bridgectl::read::{self, Tables};
use serde_json::json;
use std::time::Duration;

async fn post_signed(stack: &LocalStack, id: &str, body: &serde_json::Value) -> u16 {
    super::support::post_to_local_stack(stack, Source::erp(), id, body).await
}

#[tokio::test]
async fn webhooks_over_http_reach_the_tables_and_poison_reaches_the_dlq_with_its_reason() {
    let root = bridge_testkit::repo_root();
    let dir = std::env::temp_dir().join(bridge_testkit::unique("stack"));
    let mut options = DevOptions::new(root);
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("dev");
    options.stack_file = dir.join("stack.json");
    // A third source, configured as an operator would: the intake's WEBHOOK_SOURCES.
    options.overrides.insert(
        "WEBHOOK_SOURCES".to_string(),
        format!(
            "{};warehouse-b=stock.changed",
            bridge_domain::Sources::contract()
        ),
    );
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");
    assert!(stack.info.webhook_url.starts_with("http://127.0.0.1:"));
    assert!(stack.info.webhook_url.ends_with("/webhooks/{source}"));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("stack.json")).unwrap()).unwrap();
    assert_eq!(written["webhook_url"], stack.info.webhook_url.as_str());
    assert!(
        written["signing_secrets"]["erp"][0]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    assert!(written["stack"]["queues"]["StockPriceQueue"]["url"].is_string());

    let customer = json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"customer_id": "C-1", "name": "Kunde", "revision": 2, "price_lists": ["GOLD", "BASE"]}});
    let gold = json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"price_list": "GOLD", "sku": "SKU-1", "currency": "EUR", "revision": 1,
                 "tiers": [{"min_qty": 5, "unit_price": "8.00"}, {"min_qty": 50, "unit_price": "7.00"}]}});
    let base = json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"price_list": "BASE", "sku": "SKU-1", "currency": "EUR", "revision": 1,
                 "tiers": [{"min_qty": 1, "unit_price": "10.00"}]}});
    assert_eq!(post_signed(&stack, "e1", &customer).await, 202);
    assert_eq!(post_signed(&stack, "e2", &gold).await, 202);
    assert_eq!(post_signed(&stack, "e3", &base).await, 202);
    for (id, revision) in [("s5", 5), ("s7", 7), ("s6", 6)] {
        let event = super::support::stock_event("SKU-1", revision, &format!("{revision}0"));
        assert_eq!(post_signed(&stack, id, &event).await, 202);
    }
    assert_eq!(
        post_signed(&stack, "s7", &super::support::stock_event("SKU-1", 7, "70")).await,
        200
    );
    // The new source signs with its own secret (the local stack made one) and sends stock.
    let warehouse_b = Source::parse("warehouse-b").unwrap();
    let stock_b = super::support::stock_event("SKU-B", 1, "3");
    assert_eq!(
        super::support::post_to_local_stack(&stack, warehouse_b.clone(), "b1", &stock_b).await,
        202
    );
    assert_eq!(
        super::support::post_to_local_stack(&stack, warehouse_b, "b2", &base).await,
        400,
        "prices are not among what warehouse-b may send"
    );

    // Poison put straight on the queue, as a broken producer would.
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    sqs.send_message()
        .queue_url(&stack.queue("StockPriceQueue").url)
        .message_body("garbage")
        .send()
        .await
        .unwrap();

    stack
        .drain(
            &["StockPriceQueue", "CustomerQueue"],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let tables = Tables::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.info.table("StockTable").unwrap(),
        stack.info.table("PriceTable").unwrap(),
        stack.info.table("CustomerTable").unwrap(),
    );
    let levels = read::stock(&tables, "SKU-1").await.unwrap();
    assert_eq!(levels[0].revision.value(), 7);
    assert_eq!(levels[0].available.to_string(), "70");
    let levels = read::stock(&tables, "SKU-B").await.unwrap();
    assert_eq!(levels[0].available.to_string(), "3");

    let at = chrono::Utc::now();
    let priced = read::price(&tables, "C-1", "SKU-1", "60", at)
        .await
        .unwrap();
    assert!(
        matches!(&priced.resolution, PriceResolution::Priced(p) if p.price_list.as_str() == "GOLD" && p.unit_price.to_string() == "7.00"),
        "{}",
        priced.text()
    );
    // Below GOLD's first tier, BASE (the next list) applies.
    let fallback = read::price(&tables, "C-1", "SKU-1", "2", at).await.unwrap();
    assert!(
        matches!(&fallback.resolution, PriceResolution::Priced(p) if p.price_list.as_str() == "BASE"),
        "{}",
        fallback.text()
    );
    let on_request = read::price(&tables, "C-1", "SKU-404", "1", at)
        .await
        .unwrap();
    assert!(matches!(
        on_request.resolution,
        PriceResolution::OnRequest { .. }
    ));
    assert!(on_request.text().contains("PRICE ON REQUEST"));

    let dead = sqs
        .receive_message()
        .queue_url(&stack.queue("StockPriceDeadLetterQueue").url)
        .message_attribute_names("All")
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some("garbage"));
    assert_eq!(
        dead[0].message_attributes().unwrap()["failure_code"].string_value(),
        Some("invalid_envelope")
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_webhook_stock_change_and_a_customer_reach_the_shop_within_seconds_and_stale_ones_never()
{
    let root = bridge_testkit::repo_root();
    let dir = std::env::temp_dir().join(bridge_testkit::unique("stack"));
    let mut options = DevOptions::new(root);
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("shop");
    options.stack_file = dir.join("stack.json");
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");

    let started = std::time::Instant::now();
    let event = super::support::stock_event("SKU-SHOP", 3, "12");
    assert_eq!(post_signed(&stack, "shop-s3", &event).await, 202);
    let customer = json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z",
        "data": {"customer_id": "C-SHOP", "name": "Shop Kunde GmbH", "revision": 2, "blocked": true, "price_lists": ["BASE"]}});
    assert_eq!(post_signed(&stack, "shop-c2", &customer).await, 202);
    let path = "inventory?where=sku%3D%22SKU-SHOP%22";
    let entries = super::support::shop_until(&stack, path, Duration::from_secs(30), |answer| {
        answer["results"][0]["quantityOnStock"] == 12
    })
    .await;
    eprintln!(
        "stock in the shop {:?} after the webhook",
        started.elapsed()
    );
    let entry = &entries["results"][0];
    assert_eq!(entry["custom"]["fields"]["bridgeRevision"], 3);
    assert_eq!(entries["results"].as_array().unwrap().len(), 1);

    let shopper = super::support::shop_until(
        &stack,
        "customers/key=C-SHOP",
        Duration::from_secs(30),
        |answer| answer["companyName"] == "Shop Kunde GmbH",
    )
    .await;
    assert_eq!(shopper["custom"]["fields"]["orderBlocked"], true);

    // An older revision arriving later changes neither the table nor the shop; a newer one
    // replaces the level.
    let stale = super::support::stock_event("SKU-SHOP", 2, "99");
    assert_eq!(post_signed(&stack, "shop-s2", &stale).await, 202);
    let newer = super::support::stock_event("SKU-SHOP", 4, "20");
    assert_eq!(post_signed(&stack, "shop-s4", &newer).await, 202);
    let entries = super::support::shop_until(&stack, path, Duration::from_secs(30), |answer| {
        answer["results"][0]["quantityOnStock"] == 20
    })
    .await;
    assert_eq!(
        entries["results"][0]["custom"]["fields"]["bridgeRevision"],
        4
    );
    assert_eq!(entries["results"].as_array().unwrap().len(), 1);

    // The shop's lag per category, as `bridgectl shop status` and `freshness` show it.
    let store = bridge_aws::DynamoFreshnessStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.info.table("FreshnessTable").unwrap(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = bridgectl::shop::shop_freshness(&store).await.unwrap();
        let caught_up = |category: &str| {
            rows.iter()
                .any(|r| r.category == category && r.caught_up_at.is_some())
        };
        if (caught_up("stock") && caught_up("customers")) || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for category in ["stock", "customers"] {
        let row = rows.iter().find(|r| r.category == category).unwrap();
        let lag = row.lag_ms.unwrap_or_else(|| panic!("{category}: {rows:?}"));
        assert!((0..30_000).contains(&lag), "{category} lag {lag} ms");
    }
    let products = rows.iter().find(|r| r.category == "products").unwrap();
    assert_eq!(products.caught_up_at, None, "no product flowed");
    stack.stop().await;
}

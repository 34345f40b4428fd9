//! The shop sync end to end on the local stack, under the faults it claims to survive:
//! the shop unreachable for a while (nothing lost, every change published in order once it
//! answers), and a record the shop refuses (dead-lettered with the shop's error while its
//! neighbours publish).

use super::support::{FaultProxy, post_to_local_stack, shop_until, stock_event};
use bridge_domain::Source;
use bridgectl::dev::{DevOptions, LocalStack};
use serde_json::{Value, json};
use std::time::Duration;

/// How long the shop stays unreachable (`BRIDGE_SHOP_OUTAGE_SECONDS`, default 20): the
/// mechanism (the shard held at the waiting record, backoff, retries from it) is the same
/// for five minutes; a longer run shows it at full length.
fn outage() -> Duration {
    Duration::from_secs(
        std::env::var("BRIDGE_SHOP_OUTAGE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
    )
}

fn stock_at(sku: &str, warehouse: &str, revision: u64, available: &str) -> Value {
    let mut event = stock_event(sku, revision, available);
    event["data"]["warehouse"] = json!(warehouse);
    event
}

#[tokio::test]
async fn the_shop_down_loses_nothing_and_catches_up_in_order_and_a_refused_record_is_dead_lettered()
{
    let proxy = FaultProxy::start(bridge_testkit::shop_emulator()).await;
    let dir = std::env::temp_dir().join(bridge_testkit::unique("stack"));
    let mut options = DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("shopfault");
    options.stack_file = dir.join("stack.json");
    options.shop_emulator = Some(proxy.url.clone());
    // Retries a second apart instead of up to 30 s: the test waits for the catch-up.
    options
        .overrides
        .insert("SHOP_BACKOFF_MAX_SECONDS".into(), "1".into());
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");
    let post = |id: &'static str, body: Value| {
        let stack = &stack;
        async move { post_to_local_stack(stack, Source::erp(), id, &body).await }
    };
    let sku = "inventory?where=sku%3D%22SKU-OUT%22";

    assert_eq!(post("o1", stock_at("SKU-OUT", "W1", 1, "1")).await, 202);
    shop_until(&stack, sku, Duration::from_secs(30), |a| {
        a["results"][0]["quantityOnStock"] == 1
    })
    .await;

    // A warehouse whose channel the shop keeps for something else: it refuses its stock.
    let channel = bridgectl::shop::request(
        &stack.shop_settings,
        reqwest::Method::POST,
        "channels",
        Some(&json!({"key": "W-BAD", "roles": ["ProductDistribution"]})),
    )
    .await
    .unwrap();
    assert_eq!(channel["key"], "W-BAD", "{channel}");

    proxy.set_up(false);
    for (id, revision) in [("o2", 2), ("o3", 3), ("o4", 4), ("o5", 5), ("o6", 6)] {
        let available = revision.to_string();
        assert_eq!(
            post(id, stock_at("SKU-OUT", "W1", revision, &available)).await,
            202
        );
    }
    assert_eq!(post("p1", stock_at("SKU-BAD", "W-BAD", 1, "3")).await, 202);
    assert_eq!(post("q1", stock_at("SKU-NEXT", "W1", 1, "10")).await, 202);
    tokio::time::sleep(outage()).await;
    let dead_letters = stack.queue("ShopSyncDeadLetterQueue").url.clone();
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let waiting = bridgectl::dev::queue_depth(&sqs, &dead_letters)
        .await
        .unwrap();
    assert_eq!(waiting, 0, "nothing is given up on while the shop is down");

    proxy.set_up(true);
    shop_until(&stack, sku, Duration::from_secs(60), |a| {
        a["results"][0]["quantityOnStock"] == 6
    })
    .await;
    shop_until(
        &stack,
        "inventory?where=sku%3D%22SKU-NEXT%22",
        Duration::from_secs(30),
        |a| a["results"][0]["quantityOnStock"] == 10,
    )
    .await;
    // Every level reached the shop, each once and in the order of its revisions.
    let sent: Vec<i64> = proxy.quantities_sent();
    assert_eq!(
        sent,
        [2, 3, 4, 5, 6],
        "changeQuantity actions sent: {sent:?}"
    );

    // The refused record waits in the dead-letter queue with the shop's reason; nothing of
    // it reached the shop.
    let message = super::support::first_message(
        &sqs,
        &dead_letters,
        Duration::from_secs(30),
        "no dead letter for SKU-BAD",
    )
    .await;
    let attributes = message.message_attributes.unwrap_or_default();
    let attribute = |name: &str| attributes[name].string_value.clone().unwrap_or_default();
    assert_eq!(attribute("failure_code"), "shop_rejected");
    assert_eq!(attribute("failure_class"), "permanent");
    assert!(
        attribute("failure_reason").contains("W-BAD"),
        "{}",
        attribute("failure_reason")
    );
    assert!(message.body.unwrap_or_default().contains("SKU-BAD"));
    let bad = super::support::shop_get(&stack, "inventory?where=sku%3D%22SKU-BAD%22").await;
    assert_eq!(bad["results"], json!([]), "{bad}");
    stack.stop().await;
}

#[tokio::test]
async fn a_resync_republishes_what_the_shop_lost_and_costs_only_reads_for_what_it_holds() {
    use bridgectl::shop::{ResyncCategory, resync};
    let dir = std::env::temp_dir().join(bridge_testkit::unique("stack"));
    let mut options = DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("resync");
    options.stack_file = dir.join("stack.json");
    options.shop_emulator = Some(bridge_testkit::shop_emulator().to_string());
    let stack = LocalStack::start(options)
        .await
        .expect("the local stack starts");
    let post = |id: &'static str, body: Value| {
        let stack = &stack;
        async move { post_to_local_stack(stack, Source::erp(), id, &body).await }
    };
    assert_eq!(post("r1", stock_at("SKU-R1", "W1", 4, "40")).await, 202);
    assert_eq!(post("r2", stock_at("SKU-R2", "W1", 2, "20")).await, 202);
    let path = |sku: &str| format!("inventory?where=sku%3D%22{sku}%22");
    for sku in ["SKU-R1", "SKU-R2"] {
        shop_until(&stack, &path(sku), Duration::from_secs(30), |a| {
            a["results"][0]["quantityOnStock"].is_number()
        })
        .await;
    }
    // The shop restored from an older backup: one level gone.
    let lost = shop_until(&stack, &path("SKU-R1"), Duration::from_secs(5), |_| true).await;
    let entry = &lost["results"][0];
    bridgectl::shop::request(
        &stack.shop_settings,
        reqwest::Method::DELETE,
        &format!(
            "inventory/{}?version={}",
            entry["id"].as_str().unwrap(),
            entry["version"]
        ),
        None,
    )
    .await
    .unwrap();

    let shop = bridge_commercetools::CommercetoolsShop::new(&stack.shop_settings).unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let table = stack.info.table("StockTable").unwrap();
    let mut lines = Vec::new();
    let counts = resync(
        &shop,
        &dynamo,
        table,
        ResyncCategory::Stock,
        None,
        &mut |l| lines.push(l.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            counts.read,
            counts.written,
            counts.already_current,
            counts.failed
        ),
        (2, 1, 1, 0),
        "{counts:?}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("stock: 2 read, 1 written"),
        "{lines:?}"
    );
    let back = shop_until(&stack, &path("SKU-R1"), Duration::from_secs(5), |a| {
        a["results"][0]["quantityOnStock"] == 40
    })
    .await;
    assert_eq!(back["results"][0]["custom"]["fields"]["bridgeRevision"], 4);

    // Again: everything is there, so only reads (one per level, the setup cached).
    let shop = bridge_commercetools::CommercetoolsShop::new(&stack.shop_settings).unwrap();
    let again = resync(
        &shop,
        &dynamo,
        table,
        ResyncCategory::Stock,
        Some("SKU-R2"),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (again.read, again.already_current, again.written),
        (1, 1, 0),
        "{again:?}"
    );

    // A product the PIM import stored reaches the shop; edited there by hand at the same
    // revision, a resync reports it instead of writing over it.
    let product: bridge_domain::product::Product = serde_json::from_value(json!({
        "sku": "SKU-RP", "gtin": null, "names": {"de": "Winkel"}, "descriptions": {},
        "brand": null, "category": [], "unit": null, "weight_kg": null, "images": [],
        "status": "active", "attributes": {}}))
    .unwrap();
    let catalog = bridge_aws::DynamoCatalogStore::new(
        dynamo.clone(),
        stack.info.table("ProductTable").unwrap(),
    );
    use bridge_domain::ports::CatalogStore;
    catalog
        .put_products(&[bridge_domain::ports::StoredProduct {
            product,
            content_hash: "h1".into(),
            import_id: "i1".into(),
            updated_at: chrono::Utc::now(),
        }])
        .await
        .unwrap();
    let shown = shop_until(
        &stack,
        "products/key=SKU-RP",
        Duration::from_secs(30),
        |p| p["masterData"]["published"] == true,
    )
    .await;
    bridgectl::shop::request(
        &stack.shop_settings,
        reqwest::Method::POST,
        &format!("products/{}", shown["id"].as_str().unwrap()),
        Some(&json!({"version": shown["version"], "actions": [
            {"action": "changeName", "name": {"de": "Winkel (von Hand)"}, "staged": false}]})),
    )
    .await
    .unwrap();
    let products = resync(
        &shop,
        &dynamo,
        stack.info.table("ProductTable").unwrap(),
        ResyncCategory::Products,
        Some("SKU-RP"),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (products.read, products.differs, products.written),
        (1, 1, 0),
        "{products:?}"
    );
    assert!(
        products.differing[0].starts_with("product SKU-RP"),
        "{products:?}"
    );
    stack.stop().await;
}

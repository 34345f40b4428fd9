//! The shop sync end to end on the local stack, under the faults it claims to survive:
//! the shop unreachable for a while (nothing lost, every change published in order once it
//! answers), and a record the shop refuses (dead-lettered with the shop's error while its
//! neighbours publish).

use super::support::{FaultProxy, local_stack, post_to_local_stack, shop_until, stock_event};
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
    let stack = local_stack("resync").await;
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

fn price_at(list: &str, sku: &str, revision: u64, tiers: Value) -> Value {
    json!({"type": "price.changed", "timestamp": chrono::Utc::now().to_rfc3339(),
           "data": {"price_list": list, "sku": sku, "currency": "EUR", "revision": revision,
                    "tiers": tiers}})
}

fn customer_with(id: &str, lists: &[&str]) -> Value {
    json!({"type": "customer.changed", "timestamp": chrono::Utc::now().to_rfc3339(),
           "data": {"customer_id": id, "name": id, "revision": 1, "price_lists": lists}})
}

#[tokio::test]
async fn prices_reach_every_customer_group_in_the_shop_and_a_new_combination_gets_them_before_its_customer()
 {
    use bridgectl::shop::{ResyncCategory, group_price_until, resync_prices};
    let stack = local_stack("prices").await;
    let post = |id: &'static str, body: Value| {
        let stack = &stack;
        async move { post_to_local_stack(stack, Source::erp(), id, &body).await }
    };
    let lists = |ids: &[&str]| -> Vec<bridge_domain::PriceListId> {
        ids.iter()
            .map(|id| bridge_domain::PriceListId::parse(id).unwrap())
            .collect()
    };
    let group = |ids: &[&str]| bridge_domain::shop_prices::price_group_key(&lists(ids)).unwrap();
    let cents = |prices: &[Value]| -> Vec<i64> {
        prices
            .iter()
            .map(|p| p["value"]["centAmount"].as_i64().unwrap())
            .collect()
    };

    // The product, as the PIM import stores it: the shop gets it from the product stream.
    let product: bridge_domain::product::Product = serde_json::from_value(json!({
        "sku": "SKU-P1", "gtin": null, "names": {"de": "Schraube"}, "descriptions": {},
        "brand": null, "category": [], "unit": null, "weight_kg": null, "images": [],
        "status": "active", "attributes": {}}))
    .unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(&stack.sdk);
    use bridge_domain::ports::CatalogStore;
    bridge_aws::DynamoCatalogStore::new(dynamo.clone(), stack.info.table("ProductTable").unwrap())
        .put_products(&[bridge_domain::ports::StoredProduct {
            product,
            content_hash: "h1".into(),
            import_id: "i1".into(),
            updated_at: chrono::Utc::now(),
        }])
        .await
        .unwrap();
    shop_until(
        &stack,
        "products/key=SKU-P1",
        Duration::from_secs(30),
        |p| p["masterData"]["published"] == true,
    )
    .await;

    // A customer with a contract list before the catalog list: its group is made (no
    // prices yet), the customer put into it.
    assert_eq!(
        post("c1", customer_with("C-P1", &["CONTRACT-1", "BASE"])).await,
        202
    );
    let customer = shop_until(
        &stack,
        "customers/key=C-P1?expand=customerGroup",
        Duration::from_secs(30),
        |c| c["customerGroup"]["obj"]["key"].is_string(),
    )
    .await;
    assert_eq!(
        customer["customerGroup"]["obj"]["key"],
        group(&["CONTRACT-1", "BASE"])
    );

    // Prices by webhook: the catalog price for every group holding BASE, the contract price
    // (tiered, and a promotion window ahead) for the contract group only.
    let ahead = chrono::Utc::now() + chrono::Duration::days(3);
    assert_eq!(
        post(
            "p1",
            price_at(
                "BASE",
                "SKU-P1",
                1,
                json!([{"min_qty": 1, "unit_price": "1.20"}])
            )
        )
        .await,
        202
    );
    assert_eq!(
        post("p2", price_at("CONTRACT-1", "SKU-P1", 1,
            json!([{"min_qty": 1, "unit_price": "1.00"}, {"min_qty": 100, "unit_price": "0.9125"}]))).await,
        202
    );
    let mut promotion = price_at(
        "CONTRACT-1",
        "SKU-P1",
        1,
        json!([{"min_qty": 1, "unit_price": "0.80"}]),
    );
    promotion["data"]["valid_from"] = json!(ahead.to_rfc3339());
    promotion["data"]["valid_to"] = json!((ahead + chrono::Duration::days(2)).to_rfc3339());
    assert_eq!(post("p3", promotion).await, 202);
    let started = std::time::Instant::now();
    let (arrived, prices) = group_price_until(
        &stack.shop_settings,
        "SKU-P1",
        &group(&["CONTRACT-1", "BASE"]),
        Duration::from_secs(30),
        |p| p["value"]["centAmount"] == 80,
    )
    .await
    .unwrap();
    assert!(arrived, "{prices:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let mut held = cents(&prices);
    held.sort();
    // Until the window the contract price, in it the promotion, after it BASE: the contract
    // list's open record ends where its next window begins (contract v2), as `bridgectl
    // price` answers.
    assert_eq!(held, [80, 100, 120], "{prices:?}");
    let after = chrono::Utc::now() + chrono::Duration::days(6);
    let tables = bridgectl::read::Tables::new(
        dynamo.clone(),
        stack.info.table("StockTable").unwrap(),
        stack.info.table("PriceTable").unwrap(),
        stack.info.table("CustomerTable").unwrap(),
    );
    let answer = bridgectl::read::price(&tables, "C-P1", "SKU-P1", "1", after)
        .await
        .unwrap();
    assert!(
        matches!(&answer.resolution, bridge_domain::pricing::PriceResolution::Priced(p) if p.unit_price.to_string() == "1.20"),
        "{answer:?}"
    );
    let tiered = prices
        .iter()
        .find(|p| p["tiers"].is_array())
        .expect("the tiers");
    assert_eq!(tiered["tiers"][0]["minimumQuantity"], 100);
    assert_eq!(
        tiered["tiers"][0]["value"]["preciseAmount"], 9125,
        "{tiered}"
    );

    // A second customer with only BASE: a new combination. Its group gets SKU-P1's price
    // from the table (published before the customer is put into it).
    assert_eq!(post("c2", customer_with("C-P2", &["BASE"])).await, 202);
    let customer = shop_until(
        &stack,
        "customers/key=C-P2?expand=customerGroup",
        Duration::from_secs(30),
        |c| c["customerGroup"]["obj"]["key"].is_string(),
    )
    .await;
    assert_eq!(customer["customerGroup"]["obj"]["key"], group(&["BASE"]));
    let (_, base) = group_price_until(
        &stack.shop_settings,
        "SKU-P1",
        &group(&["BASE"]),
        Duration::from_secs(5),
        |_| true,
    )
    .await
    .unwrap();
    assert_eq!(
        cents(&base),
        [120],
        "in the shop when its customer was: {base:?}"
    );

    // A change of BASE: in the shop within seconds (the contract group, which prices
    // SKU-P1 from its own list, stays as it is).
    assert_eq!(
        post(
            "p4",
            price_at(
                "BASE",
                "SKU-P1",
                2,
                json!([{"min_qty": 1, "unit_price": "1.25"}])
            )
        )
        .await,
        202
    );
    let (arrived, base) = group_price_until(
        &stack.shop_settings,
        "SKU-P1",
        &group(&["BASE"]),
        Duration::from_secs(30),
        |p| p["value"]["centAmount"] == 125,
    )
    .await
    .unwrap();
    assert!(arrived, "{base:?}");

    // A resync of prices: the shop holds every price, so reads only.
    let shop = bridge_commercetools::CommercetoolsShop::new(&stack.shop_settings).unwrap();
    let counts = resync_prices(
        &shop,
        &dynamo,
        stack.info.table("PriceTable").unwrap(),
        stack.info.table("FreshnessTable").unwrap(),
        None,
        &mut |_| {},
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
        (1, 0, 1, 0),
        "{counts:?}"
    );
    assert_eq!(
        ResyncCategory::ALL[1],
        ResyncCategory::Prices,
        "before the customers"
    );
    stack.stop().await;
}

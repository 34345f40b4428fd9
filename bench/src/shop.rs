//! The shop connector (issue "The shop receives what the bridge knows", docs/performance.md):
//!
//! - Shop requests per changed record, counted by the shop sync itself (its
//!   `ShopRequests` metric) over stream batches of stock changes, as Lambda hands them to
//!   it: the first publish of each level, then `BENCH_SHOP_ROUNDS` rounds of changes of
//!   every level, then a round the shop already has (only the revision changed). Baseline:
//!   commercetools-sync, which reads a resource before each update (2 requests).
//! - Publish throughput against the commercetools emulator: the same updates through the
//!   connector and sent bare (one `POST` with the entry's version, the least a client can
//!   send), each with `SHOP_CONCURRENCY` writers (a shard each).
//! - Peak heap of `bridgectl shop resync --category products` over 10,000 and 100,000
//!   products in the product table (moto), published to a shop that answers at once: what
//!   the resync holds (a table page at a time), not what the emulator does.

use crate::report::{Report, Target};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use bridge_commercetools::{CommercetoolsConfig, CommercetoolsShop};
use bridge_domain::events::StockChanged;
use bridge_domain::ports::{MessageQueue, OutboundMessage};
use bridge_domain::shop::{Published, Shop, ShopPriceSource};
use bridge_domain::{PortError, Quantity, Revision, Sku, WarehouseId};
use bridge_lambda::Metrics;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Writers at once: shards of a stream, each published in order by its own invocation.
const SHOP_CONCURRENCY: usize = 4;

pub struct Settings {
    /// Stock levels in the request count and throughput runs.
    pub levels: usize,
    /// Rounds of changes of every level after the first publish.
    pub rounds: u64,
    /// Product counts of the resync memory figure.
    pub resync_products: Vec<usize>,
}

fn config(url: &str, project: &str) -> CommercetoolsConfig {
    CommercetoolsConfig::from_lookup(|name| match name {
        "CTP_API_URL" | "CTP_AUTH_URL" => Some(url.to_string()),
        "CTP_PROJECT_KEY" => Some(project.to_string()),
        "CTP_SCOPES" => Some(format!("manage_project:{project}")),
        "CTP_CLIENT_ID" | "CTP_CLIENT_SECRET" => Some("local".to_string()),
        _ => None,
    })
    .expect("a shop configuration")
}

fn level(sku: &str, available: u64, revision: u64) -> StockChanged {
    StockChanged {
        sku: Sku::parse(sku).expect("a sku"),
        warehouse: WarehouseId::parse("W1").expect("a warehouse"),
        available: Quantity::new(Decimal::from(available)).expect("a quantity"),
        revision: Revision::new(revision),
        as_of: None,
        next_delivery: None,
    }
}

fn image(stock: &StockChanged) -> Value {
    let item: serde_dynamo::Item = serde_dynamo::to_item(stock).expect("an item");
    serde_json::to_value(item).expect("JSON")
}

/// A stream batch of the stock table: `(old, new)` per record, in order.
fn batch(changes: &[(Option<StockChanged>, StockChanged)], first: u64) -> StreamEvent {
    let records: Vec<Value> = changes
        .iter()
        .enumerate()
        .map(|(n, (old, new))| {
            let mut change = json!({"Keys": {"sku": {"S": new.sku.as_str()}},
                "NewImage": image(new), "SequenceNumber": (first + n as u64).to_string(),
                "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES",
                "ApproximateCreationDateTime": chrono::Utc::now().timestamp() as f64});
            if let Some(old) = old {
                change["OldImage"] = image(old);
            }
            json!({"eventID": format!("e{n}"), "eventName": if old.is_some() { "MODIFY" } else { "INSERT" },
                "eventSource": "aws:dynamodb", "awsRegion": "eu-central-1",
                "eventSourceARN": "arn:aws:dynamodb:eu-central-1:1:table/stock/stream/2026",
                "dynamodb": change})
        })
        .collect();
    serde_json::from_value(json!({"Records": records})).expect("a stream event")
}

/// Dead letters are not expected here: counted, never sent anywhere.
struct NoQueue;

#[async_trait::async_trait]
impl MessageQueue for NoQueue {
    async fn send(&self, _: &str, _: &OutboundMessage) -> Result<String, PortError> {
        Err(PortError::permanent("bench", "a record was dead-lettered"))
    }
    async fn delay(&self, _: &str, _: &str, _: i32) -> Result<(), PortError> {
        Ok(())
    }
}

fn sync(shop: Arc<CommercetoolsShop>) -> shop_sync::ShopSync {
    let settings = shop_sync::ShopSyncSettings {
        stock_table: "stock".into(),
        customer_table: "customers".into(),
        order_table: "orders".into(),
        product_table: "products".into(),
        price_table: "prices".into(),
        dead_letter_queue: "dlq".into(),
        backoff_max: Duration::ZERO,
    };
    shop_sync::ShopSync::new(settings, shop, Arc::new(NoQueue))
}

/// Runs `changes` through the shop sync in batches of 100: the shop requests it counted.
async fn publish(
    sync: &shop_sync::ShopSync,
    changes: &[(Option<StockChanged>, StockChanged)],
) -> u64 {
    let mut requests = 0;
    for (n, chunk) in changes.chunks(100).enumerate() {
        let mut metrics = Metrics::new("shop-sync");
        let response = sync
            .process(
                batch(chunk, n as u64 * 100),
                Instant::now() + Duration::from_secs(600),
                &mut metrics,
            )
            .await;
        assert!(
            response.batch_item_failures.is_empty(),
            "the shop took every record"
        );
        assert_eq!(metrics.count("ShopDeadLettered"), 0);
        requests += metrics.count("ShopRequests");
    }
    requests
}

async fn request_count(report: &mut Report, url: &str, settings: &Settings) {
    let project = bridge_testkit::unique("bench");
    let shop = Arc::new(CommercetoolsShop::new(&config(url, &project)).expect("a connector"));
    let sync = sync(shop.clone());
    let skus: Vec<String> = (0..settings.levels)
        .map(|n| format!("SKU-{n:05}"))
        .collect();
    // The setup (Type, channel) once, not counted.
    shop.publish_stock(&level("SKU-SETUP", 1, 1))
        .await
        .expect("setup");
    let mut current: Vec<StockChanged> = skus.iter().map(|sku| level(sku, 10, 1)).collect();
    let first: Vec<_> = current.iter().map(|l| (None, l.clone())).collect();
    let first_requests = publish(&sync, &first).await;
    report.add(
        "shop",
        format!(
            "requests per new level (first publish), {} levels",
            skus.len()
        ),
        first_requests as f64 / skus.len() as f64,
        "commercetools-sync: read, then create",
        2.0,
        "",
        None,
    );
    let mut changed = 0u64;
    let mut requests = 0u64;
    for round in 0..settings.rounds {
        let changes: Vec<_> = current
            .iter()
            .map(|old| {
                let new = level(old.sku.as_str(), 11 + round, old.revision.value() + 1);
                (Some(old.clone()), new)
            })
            .collect();
        requests += publish(&sync, &changes).await;
        changed += changes.len() as u64;
        current = changes.into_iter().map(|(_, new)| new).collect();
    }
    report.add(
        "shop",
        format!(
            "requests per changed record: {} rounds of changes of {} levels",
            settings.rounds,
            skus.len()
        ),
        requests as f64 / changed as f64,
        "one write per record (commercetools-sync: 2, a read before each)",
        1.0,
        "",
        Some(Target::AtMost(1.1)),
    );
    report.add(
        "shop",
        "requests per changed record, first publish included",
        (requests + first_requests) as f64 / (changed + skus.len() as u64) as f64,
        "commercetools-sync: read before each write",
        2.0,
        "",
        None,
    );
    // The ERP sends the same levels again under new revisions (a full re-push).
    let again: Vec<_> = current
        .iter()
        .map(|old| {
            let mut new = old.clone();
            new.revision = Revision::new(old.revision.value() + 1);
            (Some(old.clone()), new)
        })
        .collect();
    let unchanged = publish(&sync, &again).await;
    report.add(
        "shop",
        "requests per record the shop already has (a re-push, new revisions)",
        unchanged as f64 / again.len() as f64,
        "commercetools-sync: read, compare",
        1.0,
        "",
        Some(Target::AtMost(0.0)),
    );
}

/// Entries of `project` by sku, as the emulator holds them: (id, version).
async fn entries(url: &str, project: &str, token: &str) -> Vec<(String, u64)> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let page: Value = client
            .get(format!(
                "{url}/{project}/inventory?limit=500&offset={offset}&withTotal=false"
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("the emulator answers")
            .json()
            .await
            .expect("a page");
        let results = page["results"].as_array().cloned().unwrap_or_default();
        for entry in &results {
            out.push((
                entry["id"].as_str().unwrap_or_default().to_string(),
                entry["version"].as_u64().unwrap_or_default(),
            ));
        }
        if results.len() < 500 {
            return out;
        }
        offset += 500;
    }
}

async fn token(url: &str, project: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{url}/oauth/token?grant_type=client_credentials&scope=manage_project:{project}"
        ))
        .basic_auth("local", Some("local"))
        .send()
        .await
        .expect("a token")
        .json()
        .await
        .expect("JSON");
    answer["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn throughput(report: &mut Report, url: &str, settings: &Settings) {
    let project = bridge_testkit::unique("bench");
    let shop = Arc::new(CommercetoolsShop::new(&config(url, &project)).expect("a connector"));
    let skus: Vec<String> = (0..settings.levels)
        .map(|n| format!("SKU-{n:05}"))
        .collect();
    for sku in &skus {
        shop.publish_stock(&level(sku, 10, 1)).await.expect("first");
    }
    // Through the connector: each writer its share of the levels, in order.
    let rounds = 4u64;
    let started = Instant::now();
    let writers: Vec<_> = (0..SHOP_CONCURRENCY)
        .map(|writer| {
            let shop = shop.clone();
            let mine: Vec<String> = skus
                .iter()
                .skip(writer)
                .step_by(SHOP_CONCURRENCY)
                .cloned()
                .collect();
            tokio::spawn(async move {
                for round in 0..rounds {
                    for sku in &mine {
                        let published = shop
                            .publish_stock(&level(sku, 20 + round, 2 + round))
                            .await
                            .expect("published");
                        assert!(matches!(published, Published::Written { .. }));
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer");
    }
    let bridge_rate = (skus.len() as u64 * rounds) as f64 / started.elapsed().as_secs_f64();

    // Bare: the same updates as single POSTs with the version each answer gives.
    let token = token(url, &project).await;
    let all = entries(url, &project, &token).await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let writers: Vec<_> = (0..SHOP_CONCURRENCY)
        .map(|writer| {
            let mine: Vec<(String, u64)> = all
                .iter()
                .skip(writer)
                .step_by(SHOP_CONCURRENCY)
                .cloned()
                .collect();
            let (client, url, project, token) =
                (client.clone(), url.to_string(), project.clone(), token.clone());
            tokio::spawn(async move {
                let mut versions = mine;
                for round in 0..rounds {
                    for (id, version) in versions.iter_mut() {
                        let answer: Value = client
                            .post(format!("{url}/{project}/inventory/{id}"))
                            .bearer_auth(&token)
                            .json(&json!({"version": *version, "actions": [
                                {"action": "changeQuantity", "quantity": 100 + round},
                                {"action": "setCustomField", "name": "bridgeRevision", "value": 100 + round}]}))
                            .send()
                            .await
                            .expect("the emulator answers")
                            .json()
                            .await
                            .expect("JSON");
                        *version = answer["version"].as_u64().expect("a version");
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer");
    }
    let bare_rate = (all.len() as u64 * rounds) as f64 / started.elapsed().as_secs_f64();
    report.add(
        "shop",
        format!("publish throughput, stock updates, {SHOP_CONCURRENCY} writers"),
        bridge_rate,
        "the same updates sent bare (one POST each)",
        bare_rate,
        "/s",
        Some(Target::AtLeast(0.8)),
    );
}

/// A shop that takes everything at once: the resync's own memory is what is measured.
struct Instant0;

#[async_trait::async_trait]
impl Shop for Instant0 {
    async fn publish_stock(&self, _: &StockChanged) -> Result<Published, PortError> {
        Ok(Published::Written { requests: 1 })
    }
    async fn publish_customer(
        &self,
        _: &bridge_domain::CustomerChanged,
    ) -> Result<Published, PortError> {
        Ok(Published::Written { requests: 1 })
    }
    async fn publish_product(
        &self,
        _: &bridge_domain::product::Product,
        _: Revision,
    ) -> Result<Published, PortError> {
        Ok(Published::Written { requests: 1 })
    }
    async fn publish_prices(
        &self,
        _: &Sku,
        _: &dyn ShopPriceSource,
    ) -> Result<Published, PortError> {
        Ok(Published::Written { requests: 1 })
    }
    async fn publish_order_progress(
        &self,
        _: &bridge_domain::shop::OrderProgress,
    ) -> Result<Published, PortError> {
        Ok(Published::Written { requests: 1 })
    }
}

async fn resync_memory(report: &mut Report, settings: &Settings) {
    use bridge_domain::ports::CatalogStore;
    let stack = bridge_testkit::TestStack::with_secrets(Default::default()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let table = stack.table("ProductTable").to_string();
    let catalog = bridge_aws::DynamoCatalogStore::new(dynamo.clone(), &table);
    let mut stored = 0usize;
    let mut peaks = Vec::new();
    for &count in &settings.resync_products {
        while stored < count {
            let page: Vec<_> = (stored..count.min(stored + 500))
                .map(|n| bridge_domain::ports::StoredProduct {
                    product: serde_json::from_value(json!({
                        "sku": format!("P-{n:06}"), "gtin": null,
                        "names": {"de-DE": format!("Artikel {n}"), "en": format!("Article {n}")},
                        "descriptions": {"de-DE": "Beschreibung eines Artikels mit etwas Text"},
                        "brand": "Muster", "category": ["Werkzeug", "Bohrer"], "unit": "C62",
                        "weight_kg": "0.5", "images": [format!("https://pim.example/{n}.jpg")],
                        "status": "active", "attributes": {"color": "silber", "size": "M"}}))
                    .expect("a product"),
                    content_hash: format!("h{n}"),
                    import_id: "bench".into(),
                    updated_at: chrono::Utc::now(),
                })
                .collect();
            catalog.put_products(&page).await.expect("stored");
            stored += page.len();
        }
        let started = Instant::now();
        let (counts, peak) = bridge_testkit::memory::peak_of_async(bridgectl::shop::resync(
            &Instant0,
            &dynamo,
            &table,
            bridgectl::shop::ResyncCategory::Products,
            None,
            &mut |_| {},
        ))
        .await;
        let counts = counts.expect("the resync");
        assert_eq!(counts.read as usize, count);
        eprintln!(
            "  resync of {count} products: {:.1} s, peak {} KiB",
            started.elapsed().as_secs_f64(),
            peak / 1024
        );
        peaks.push((count, peak));
    }
    if let (Some(&(small, small_peak)), Some(&(large, large_peak))) = (peaks.first(), peaks.last())
        && large > small
    {
        report.add(
            "shop",
            format!("resync peak heap, {large} products"),
            large_peak as f64 / 1_048_576.0,
            format!("the same resync of {small} products"),
            small_peak as f64 / 1_048_576.0,
            "MiB",
            Some(Target::AtMost(1.5)),
        );
    }
}

pub async fn run(report: &mut Report, settings: &Settings) {
    let url = bridge_testkit::shop_emulator().to_string();
    request_count(report, &url, settings).await;
    throughput(report, &url, settings).await;
    resync_memory(report, settings).await;
}

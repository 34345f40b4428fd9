//! The shop read API (issue "Live prices, availability and credit", docs/performance.md):
//!
//! - CPU per resolved line in process, with in-memory stores: a 200-line cart through the
//!   handler (parse, reads, resolution, answer) against `pricing::resolve_price` alone for
//!   the same lines over records already read. Target ≤ 2×.
//! - Latency of a 50-line resolve against the local stack (its HTTP port, moto's tables)
//!   against the DynamoDB reads it needs sent alone from here in the same run (the
//!   customer, then each sku's records in each of its lists), p50 and p99 over
//!   `BENCH_API_REQUESTS` requests each, in turns. Target ≤ 1.3×.

use crate::cpu::best_of_interleaved;
use crate::report::{Report, Target};
use bridge_domain::memory::MemoryStores;
use bridge_domain::ports::{CustomerStore, PriceStore};
use bridge_domain::pricing::resolve_price;
use bridge_domain::{CustomerChanged, CustomerId, PriceChanged, PriceListId, Quantity, Sku};
use bridge_lambda::Refreshing;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use shop_api::keys::ApiKeys;
use shop_api::{ApiPorts, ApiRequest, ApiSettings, ShopApi};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "sak_bench_00000000000000000000000000000000";
const LISTS: [&str; 3] = ["CONTRACT-1", "PROMO-1", "BASE"];

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
        .expect("a timestamp")
        .with_timezone(&Utc)
}

fn parse(kind: &str, data: Value) -> bridge_domain::events::DomainEvent {
    let sender = bridge_domain::Sources::contract()
        .sender("erp")
        .expect("the erp source");
    let body = json!({"type": kind, "timestamp": "2026-12-07T09:00:00Z", "data": data});
    bridge_contract::parse_event(&sender, body.to_string().as_bytes())
        .expect("a valid event")
        .event
}

fn customer(id: &str, lists: &[&str]) -> CustomerChanged {
    match parse(
        "customer.changed",
        json!({"customer_id": id, "name": "Bench GmbH", "revision": 1,
               "credit_limit": {"amount": "100000", "currency": "EUR"}, "price_lists": lists}),
    ) {
        bridge_domain::events::DomainEvent::CustomerChanged(c) => c,
        _ => unreachable!(),
    }
}

/// Every sku in BASE with three tiers; every second one in the contract list with this
/// year's window and next year's; every fourth in a promotion.
fn prices(skus: usize) -> Vec<PriceChanged> {
    let mut out = Vec::new();
    let mut push = |data: Value| {
        if let bridge_domain::events::DomainEvent::PriceChanged(p) = parse("price.changed", data) {
            out.push(p);
        }
    };
    for n in 0..skus {
        let sku = format!("SKU-{n:05}");
        push(
            json!({"price_list": "BASE", "sku": sku, "currency": "EUR", "revision": 1,
            "tiers": [{"min_qty": 1, "unit_price": "12.00"}, {"min_qty": 10, "unit_price": "11.00"},
                      {"min_qty": 100, "unit_price": "10.00"}]}),
        );
        if n % 2 == 0 {
            push(
                json!({"price_list": "CONTRACT-1", "sku": sku, "currency": "EUR", "revision": 1,
                "valid_to": "2026-12-31",
                "tiers": [{"min_qty": 1, "unit_price": "10.50"}, {"min_qty": 10, "unit_price": "9.80"}]}),
            );
            push(
                json!({"price_list": "CONTRACT-1", "sku": sku, "currency": "EUR", "revision": 1,
                "valid_from": "2027-01-01",
                "tiers": [{"min_qty": 1, "unit_price": "10.90"}, {"min_qty": 10, "unit_price": "10.10"}]}),
            );
        }
        if n % 4 == 1 {
            push(
                json!({"price_list": "PROMO-1", "sku": sku, "currency": "EUR", "revision": 1,
                "valid_from": "2026-12-01", "valid_to": "2026-12-24",
                "tiers": [{"min_qty": 5, "unit_price": "8.00"}]}),
            );
        }
    }
    out
}

fn cart(customer: &str, lines: usize) -> Value {
    json!({"customer_id": customer, "at": "2026-12-07T10:00:00Z",
        "lines": (0..lines).map(|n| json!({"sku": format!("SKU-{n:05}"), "quantity": 1 + (n % 3) * 7}))
            .collect::<Vec<_>>()})
}

fn keys() -> ApiKeys {
    ApiKeys::from_json(
        &json!({"clients": {"bench": {"keys": [KEY], "endpoints": ["prices"]}}}).to_string(),
    )
    .expect("keys")
}

/// The in-process figure, on a runtime of its own on this thread (its CPU time is this
/// thread's).
pub fn cpu_per_line(report: &mut Report) {
    const LINES: usize = 200;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let stores = Arc::new(MemoryStores::default());
    runtime.block_on(async {
        stores
            .apply_customer(&customer("C-1", &LISTS))
            .await
            .expect("stored");
        for price in prices(2_000) {
            stores.apply_price(&price).await.expect("stored");
        }
    });
    let api = ShopApi::new(
        // No per-client throttle: thousands of carts a second from one client here.
        ApiSettings {
            client_requests_per_second: 0,
            ..ApiSettings::default()
        },
        ApiPorts {
            customers: stores.clone(),
            prices: stores.clone(),
            stock: stores.clone(),
            orders: stores.clone(),
            rate: stores.clone(),
        },
        Refreshing::fixed(keys()),
    );
    let body = cart("C-1", LINES).to_string().into_bytes();
    let request = ApiRequest {
        method: "POST".into(),
        path: "/v1/prices/resolve".into(),
        headers: [
            ("authorization".to_string(), format!("Bearer {KEY}")),
            ("content-type".to_string(), "application/json".to_string()),
        ]
        .into(),
        body,
        ..ApiRequest::default()
    };
    // The baseline's records are read before it is timed: resolution alone.
    let lists: Vec<PriceListId> = LISTS
        .iter()
        .map(|l| PriceListId::parse(l).expect("a list"))
        .collect();
    let lines: Vec<(Sku, Quantity, Vec<PriceChanged>)> = (0..LINES)
        .map(|n| {
            let sku = Sku::parse(&format!("SKU-{n:05}")).expect("a sku");
            let records = runtime
                .block_on(stores.prices_of(&lists, &sku))
                .expect("read");
            (
                sku,
                Quantity::new((1 + (n % 3) * 7).into()).expect("a quantity"),
                records,
            )
        })
        .collect();
    // The baseline of both figures (it captures by reference: one closure, used twice).
    let resolve_alone = || {
        lines
            .iter()
            .map(|(sku, quantity, records)| resolve_price(&lists, records, sku, *quantity, at()))
            .collect::<Vec<_>>()
    };
    let ((answer, handler), (_, alone)) = best_of_interleaved(
        30,
        || {
            let response = runtime.block_on(api.handle(request.clone(), at()));
            // The body as the function hands it to Lambda.
            response.body.to_string().len()
        },
        resolve_alone,
    );
    assert!(answer > LINES * 50, "the handler answered every line");
    // What the target leaves room for: each line's answer alone, from a resolution made
    // before timing to its JSON bytes (no parse, no reads, no Value), against resolution.
    let resolutions: Vec<_> = lines
        .iter()
        .map(|(sku, quantity, records)| {
            (
                sku,
                *quantity,
                resolve_price(&lists, records, sku, *quantity, at()),
            )
        })
        .collect();
    let ((written, answer_alone), (_, alone_again)) = best_of_interleaved(
        30,
        || {
            let mut out = Vec::with_capacity(LINES * 300);
            for (sku, quantity, resolution) in &resolutions {
                let line = shop_api::answers::LineAnswer::from_resolution(
                    sku,
                    *quantity,
                    resolution.clone(),
                );
                serde_json::to_writer(&mut out, &line).expect("written");
            }
            out.len()
        },
        resolve_alone,
    );
    assert!(written > LINES * 50, "every line written");
    let per_line = |spent: Duration| spent.as_secs_f64() * 1e6 / LINES as f64;
    report.add(
        "api",
        format!("answer alone per line: resolution made before, to JSON bytes ({LINES} lines)"),
        per_line(answer_alone),
        "pricing::resolve_price alone, same lines",
        per_line(alone_again),
        "µs",
        None,
    );
    report.add(
        "api",
        format!("CPU per resolved line, {LINES}-line cart through the handler (in-memory stores)"),
        per_line(handler),
        "pricing::resolve_price alone, same lines",
        per_line(alone),
        "µs",
        Some(Target::AtMost(2.0)),
    );
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[index].as_secs_f64() * 1e3
}

pub async fn latency_against_the_local_stack(report: &mut Report, requests: usize) {
    const LINES: usize = 50;
    let dir = std::env::temp_dir().join(bridge_testkit::unique("bench-api"));
    let mut options = bridgectl::dev::DevOptions::new(bridge_testkit::repo_root());
    options.endpoint = Some(bridge_testkit::endpoint().to_string());
    options.stack_name = bridge_testkit::unique("benchapi");
    options.stack_file = dir.join("stack.json");
    options.shop_emulator = Some(bridge_testkit::shop_emulator().to_string());
    // The per-client throttle counts every request (its cost is in the figure) but must
    // not refuse the bench's back-to-back carts.
    options
        .overrides
        .insert("CLIENT_REQUESTS_PER_SECOND".into(), "1000000".into());
    let stack = bridgectl::dev::LocalStack::start(options)
        .await
        .expect("the local stack starts");
    let api = stack.info.shop_api.clone().expect("the read API is served");
    let dynamo = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let customers = bridge_aws::DynamoCustomerStore::new(
        dynamo.clone(),
        stack.info.table("CustomerTable").expect("a customer table"),
    );
    let prices = bridge_aws::DynamoPriceStore::new(
        dynamo,
        stack.info.table("PriceTable").expect("a price table"),
        stack
            .info
            .table("PriceIndexTable")
            .expect("a price index table"),
    );
    let two_lists = ["CONTRACT-1", "BASE"];
    customers
        .apply_customer(&customer("C-1", &two_lists))
        .await
        .expect("stored");
    for price in prices_of_lists(LINES, &two_lists) {
        prices.apply_price(&price).await.expect("stored");
    }
    // The shop sync publishes what the streams carry: let it settle before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let http = reqwest::Client::new();
    let url = format!("{}/v1/prices/resolve", api.url);
    let body = cart("C-1", LINES);
    let id = CustomerId::parse("C-1").expect("an id");
    let skus: Vec<Sku> = (0..LINES)
        .map(|n| Sku::parse(&format!("SKU-{n:05}")).expect("a sku"))
        .collect();
    let (mut through_api, mut reads_alone) = (Vec::new(), Vec::new());
    for round in 0..requests + 10 {
        let started = Instant::now();
        let response = http
            .post(&url)
            .bearer_auth(&api.key)
            .json(&body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.expect("JSON");
        let api_time = started.elapsed();
        assert_eq!(answer["lines"].as_array().map(Vec::len), Some(LINES));

        let started = Instant::now();
        let customer = customers.customer(&id).await.expect("read").expect("known");
        let records = prices
            .prices_of_skus(&customer.price_lists, &skus)
            .await
            .expect("read");
        let reads_time = started.elapsed();
        assert!(!records.is_empty());
        // The first rounds warm connections on both sides.
        if round >= 10 {
            through_api.push(api_time);
            reads_alone.push(reads_time);
        }
    }
    stack.stop().await;
    for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
        report.add(
            "api",
            format!("{LINES}-line resolve on the local stack, {name} over {requests} requests"),
            percentile(&mut through_api, p),
            "its DynamoDB reads (customer, 2 lists x 50 skus) sent alone",
            percentile(&mut reads_alone, p),
            "ms",
            Some(Target::AtMost(1.3)),
        );
    }
}

/// The prices of `skus` skus in `lists` (the first list every second sku).
fn prices_of_lists(skus: usize, lists: &[&str]) -> Vec<PriceChanged> {
    prices(skus)
        .into_iter()
        .filter(|p| lists.contains(&p.price_list.as_str()))
        .collect()
}

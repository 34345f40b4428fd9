//! The shop read API (contract section 7) on the local stack: the HTTP port, the key in
//! Secrets Manager, the tables the sync wrote from real webhooks, and the order an ERP
//! accepted. Each price line is checked against `bridgectl price` at the same date.

use super::support::{local_stack_with, post_to_local_stack};
use bridge_domain::Source;
use bridge_domain::pricing::PriceResolution;
use bridgectl::read::{self, Tables};
use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, SubsecRound, Utc};
use serde_json::{Value, json};
use std::time::Duration;

fn event(kind: &str, data: Value) -> Value {
    json!({"type": kind, "timestamp": Utc::now().to_rfc3339(), "data": data})
}

/// The first of next month where date-only bounds are read (the business time zone,
/// Europe/Berlin by default): in UTC it may already be next month's eve.
fn first_of_next_month(now: DateTime<Utc>) -> NaiveDate {
    let local = now.with_timezone(&chrono_tz::Europe::Berlin);
    let (year, month) = if local.month() == 12 {
        (local.year() + 1, 1)
    } else {
        (local.year(), local.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1).unwrap()
}

struct Api {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn resolve(&self, body: &Value) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/v1/prices/resolve",
            Some(&self.key),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(&self.key), None)
            .await
    }
}

#[tokio::test]
async fn the_read_api_answers_carts_as_bridgectl_price_and_availability_and_credit_from_the_tables()
{
    // A new key is recognised at its first use (no 10 s gap between secret reads).
    let stack = local_stack_with("shopapi", &[("KEY_RECHECK_SECONDS", "0")]).await;
    let info = stack
        .info
        .shop_api
        .clone()
        .expect("the stack serves the read API");
    let api = Api {
        http: reqwest::Client::new(),
        url: info.url.clone(),
        key: info.key.clone(),
    };
    let now = Utc::now().trunc_subsecs(0);
    let next_month = first_of_next_month(now);
    let erp = [
        event(
            "customer.changed",
            json!({"customer_id": "C-A", "name": "A GmbH", "revision": 1,
            "credit_limit": {"amount": "5000.00", "currency": "EUR"},
            "open_items": {"amount": "1000.00", "currency": "EUR"},
            "price_lists": ["CONTRACT-A", "PROMO-A", "BASE"]}),
        ),
        event(
            "customer.changed",
            json!({"customer_id": "C-B", "name": "B KG", "revision": 1,
            "blocked": true, "credit_limit": {"amount": "100.00", "currency": "EUR"},
            "price_lists": ["BASE"]}),
        ),
        // This month's contract price, and next month's announced.
        event(
            "price.changed",
            json!({"price_list": "CONTRACT-A", "sku": "SKU-1", "currency": "EUR",
            "revision": 1, "valid_to": (next_month - Days::days(1)).to_string(),
            "tiers": [{"min_qty": 1, "unit_price": "10.50"}, {"min_qty": 10, "unit_price": "9.80"}]}),
        ),
        event(
            "price.changed",
            json!({"price_list": "CONTRACT-A", "sku": "SKU-1", "currency": "EUR",
            "revision": 1, "valid_from": next_month.to_string(),
            "tiers": [{"min_qty": 1, "unit_price": "10.90"}, {"min_qty": 10, "unit_price": "10.10"}]}),
        ),
        event(
            "price.changed",
            json!({"price_list": "BASE", "sku": "SKU-1", "currency": "EUR",
            "revision": 1, "tiers": [{"min_qty": 1, "unit_price": "12.00"}]}),
        ),
        // A promotion of a week: SKU-2 from PROMO-A now, from BASE after it.
        event(
            "price.changed",
            json!({"price_list": "PROMO-A", "sku": "SKU-2", "currency": "EUR",
            "revision": 1, "valid_from": (now - Days::days(1)).to_rfc3339(),
            "valid_to": (now + Days::days(7)).to_rfc3339(),
            "tiers": [{"min_qty": 1, "unit_price": "4.00"}]}),
        ),
        event(
            "price.changed",
            json!({"price_list": "BASE", "sku": "SKU-2", "currency": "EUR",
            "revision": 1, "tiers": [{"min_qty": 1, "unit_price": "5.00"}]}),
        ),
        // Priced from 100 only, per 100 pieces.
        event(
            "price.changed",
            json!({"price_list": "BASE", "sku": "SKU-3", "currency": "EUR",
            "revision": 1, "price_per": 100, "tiers": [{"min_qty": 100, "unit_price": "31.00"}]}),
        ),
        event(
            "stock.changed",
            json!({"sku": "SKU-1", "warehouse": "W1", "available": "40",
            "revision": 3, "as_of": (now - Days::minutes(5)).to_rfc3339(),
            "next_delivery": {"date": next_month.to_string(), "quantity": 100}}),
        ),
        event(
            "stock.changed",
            json!({"sku": "SKU-1", "warehouse": "W2", "available": "7",
            "revision": 2, "as_of": (now - Days::hours(3)).to_rfc3339()}),
        ),
    ];
    for (index, body) in erp.iter().enumerate() {
        let status =
            post_to_local_stack(&stack, Source::erp(), &format!("api-{index}"), body).await;
        assert_eq!(status, 202, "{body}");
    }
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
    let lines = [
        ("SKU-1", "3"),
        ("SKU-1", "12"),
        ("SKU-2", "1"),
        ("SKU-3", "250"),
        ("SKU-3", "20"),
        ("SKU-4", "1"),
    ];
    let mid_next_month = next_month.and_hms_opt(12, 0, 0).unwrap().and_utc() + Days::days(14);
    for at in [now, mid_next_month, now + Days::days(8)] {
        let cart = json!({"customer_id": "C-A", "at": at.to_rfc3339(),
            "lines": lines.iter().map(|(sku, qty)| json!({"sku": sku, "quantity": qty})).collect::<Vec<_>>()});
        let (status, answer) = api.resolve(&cart).await;
        assert_eq!(status, 200, "{answer}");
        for (index, (sku, qty)) in lines.iter().enumerate() {
            let line = &answer["lines"][index];
            let expected = read::price(&tables, "C-A", sku, qty, at).await.unwrap();
            match expected.resolution {
                PriceResolution::Priced(p) => {
                    assert_eq!(line["status"], "priced", "{at} {sku} x {qty}: {line}");
                    assert_eq!(
                        line["unit_price"],
                        p.unit_price.to_string(),
                        "{at} {sku} x {qty}"
                    );
                    assert_eq!(
                        line["price_list"],
                        p.price_list.to_string(),
                        "{at} {sku} x {qty}"
                    );
                    assert_eq!(line["tier_min_qty"], p.tier_min_qty.value().to_string());
                    assert_eq!(line["currency"], "EUR");
                }
                PriceResolution::OnRequest { .. } => {
                    assert_eq!(line["status"], "on_request", "{at} {sku} x {qty}: {line}");
                    assert!(line.get("unit_price").is_none(), "never 0: {line}");
                }
            }
        }
    }
    // The answers themselves, so that agreeing with a broken bridgectl cannot pass.
    let today = json!({"customer_id": "C-A", "at": now.to_rfc3339(),
        "lines": lines.iter().map(|(sku, qty)| json!({"sku": sku, "quantity": qty})).collect::<Vec<_>>()});
    let (_, answer) = api.resolve(&today).await;
    let prices: Vec<&Value> = answer["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["unit_price"])
        .collect();
    assert_eq!(
        prices,
        [
            &json!("10.50"),
            &json!("9.80"),
            &json!("4.00"),
            &json!("31.00"),
            &Value::Null,
            &Value::Null
        ]
    );
    let (_, january) = api
        .resolve(&json!({"customer_id": "C-A", "at": next_month.to_string(), "lines": [{"sku": "SKU-1", "quantity": 12}]}))
        .await;
    assert_eq!(
        january["lines"][0]["unit_price"], "10.10",
        "next month's announced window"
    );

    // Unknown customer, bad input.
    let (status, body) = api
        .resolve(&json!({"customer_id": "C-NOBODY", "lines": [{"sku": "SKU-1", "quantity": 1}]}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("customer_not_found"))
    );
    let many: Vec<Value> = (0..201)
        .map(|_| json!({"sku": "SKU-1", "quantity": 1}))
        .collect();
    for (body, field) in [
        (json!({"customer_id": "C-A", "lines": many}), "/lines"),
        (
            json!({"customer_id": "C-A", "lines": [{"sku": "SKU-1", "quantity": 1}, {"sku": "SKU-1", "quantity": "-3"}]}),
            "/lines/1/quantity",
        ),
        (
            json!({"customer_id": "C-A", "lines": [{"sku": "SKU 1", "quantity": 1}]}),
            "/lines/0/sku",
        ),
    ] {
        let (status, answer) = api.resolve(&body).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{answer}"
        );
    }

    // Availability: W2's count is three hours old, past the stack's one-hour stock SLA.
    let (status, body) = api.get("/v1/availability?sku=SKU-1&sku=SKU-4").await;
    assert_eq!(status, 200, "{body}");
    let levels = &body["skus"][0]["warehouses"];
    assert_eq!(
        (
            levels[0]["warehouse"].as_str(),
            levels[0]["available"].as_str()
        ),
        (Some("W1"), Some("40"))
    );
    assert_eq!(levels[0]["stale"], false);
    assert_eq!(levels[0]["next_delivery"]["quantity"], "100");
    assert_eq!(levels[1]["stale"], true, "{body}");
    assert_eq!(body["skus"][1]["warehouses"], json!([]));

    // Credit: a blocked customer says so; an order the ERP accepted counts until invoiced.
    let (status, body) = api.get("/v1/customers/C-B/credit").await;
    assert_eq!((status, &body["blocked"]), (200, &json!(true)), "{body}");
    let order = event(
        "order.placed",
        json!({"order_id": "SO-API-1", "customer_id": "C-A",
        "currency": "EUR", "placed_at": now.to_rfc3339(),
        "lines": [{"line": 1, "sku": "SKU-1", "quantity": 12, "unit_price": "9.80"}]}),
    );
    assert_eq!(
        post_to_local_stack(&stack, Source::shop(), "api-order", &order).await,
        202
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let credit = loop {
        let (_, body) = api.get("/v1/customers/C-A/credit").await;
        if body["open_orders"]["amount"] == "117.60" || tokio::time::Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(credit["open_orders"]["amount"], "117.60", "{credit}");
    assert_eq!(credit["exposure"]["amount"], "1117.60");
    assert_eq!(credit["headroom"]["amount"], "3882.40");
    assert_eq!(credit["blocked"], false);
}

/// What the operator does: the key secret's new value, in Secrets Manager.
async fn put_keys(stack: &bridgectl::dev::LocalStack, secret: &Value) {
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .put_secret_value()
        .secret_id(&stack.info.stack.secrets["ShopApiKeysSecret"])
        .secret_string(secret.to_string())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn keys_from_secrets_manager_rotate_and_hold_each_client_to_its_endpoints() {
    let stack = local_stack_with(
        "shopapikeys",
        &[("KEY_RECHECK_SECONDS", "0"), ("KEY_REFRESH_SECONDS", "1")],
    )
    .await;
    let info = stack
        .info
        .shop_api
        .clone()
        .expect("the stack serves the read API");
    let api = Api {
        http: reqwest::Client::new(),
        url: info.url.clone(),
        key: info.key.clone(),
    };
    let path = "/v1/availability?sku=SKU-1";
    assert_eq!(
        api.call(reqwest::Method::GET, path, None, None).await.0,
        401
    );
    assert_eq!(
        api.call(
            reqwest::Method::GET,
            path,
            Some("sak_wrong_0000000000000000000000000000"),
            None
        )
        .await
        .0,
        401
    );
    assert_eq!(api.get(path).await.0, 200);

    // The operator rotates: a second key for the shop beside the first, and a widget that
    // may only read stock.
    let rotated = "sak_rotated_11111111111111111111111111111111";
    let widget = "sak_widget_22222222222222222222222222222222";
    let secret = json!({"clients": {
        "local-shop": {"keys": [info.key, rotated], "endpoints": ["prices", "availability", "credit"]},
        "stock-widget": {"keys": [widget], "endpoints": ["availability"]}
    }});
    put_keys(&stack, &secret).await;
    let credit = "/v1/customers/C-ANY/credit";
    assert_eq!(
        api.call(reqwest::Method::GET, path, Some(rotated), None)
            .await
            .0,
        200,
        "the new key at once"
    );
    assert_eq!(
        api.call(reqwest::Method::GET, path, Some(&info.key), None)
            .await
            .0,
        200,
        "the old key still"
    );
    assert_eq!(
        api.call(reqwest::Method::GET, path, Some(widget), None)
            .await
            .0,
        200
    );
    let (status, body) = api
        .call(reqwest::Method::GET, credit, Some(widget), None)
        .await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/v1/prices/resolve",
            Some(widget),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 403);
    // The shop's key on credit: 404 for a customer the bridge does not know.
    let (status, _) = api
        .call(reqwest::Method::GET, credit, Some(rotated), None)
        .await;
    assert_eq!(status, 404);

    // The rotation ends: the old key removed stops working within the refresh.
    let secret = json!({"clients": {
        "local-shop": {"keys": [rotated], "endpoints": ["prices", "availability", "credit"]},
        "stock-widget": {"keys": [widget], "endpoints": ["availability"]}
    }});
    put_keys(&stack, &secret).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        api.call(reqwest::Method::GET, path, Some(&info.key), None)
            .await
            .0,
        401,
        "the removed key"
    );
    assert_eq!(
        api.call(reqwest::Method::GET, path, Some(rotated), None)
            .await
            .0,
        200
    );
}

/// Per-client throttling through the counters on DynamoDB (moto): a widget allowed two
/// requests a second by its entry in the key secret gets 429 for the rest of a burst, while
/// the shop's own key is served beside it; a second later the widget is served again.
#[tokio::test]
async fn a_client_above_its_requests_a_second_gets_429_and_the_others_are_served() {
    let stack = local_stack_with("shopapirate", &[("KEY_RECHECK_SECONDS", "0")]).await;
    let info = stack
        .info
        .shop_api
        .clone()
        .expect("the stack serves the read API");
    let api = Api {
        http: reqwest::Client::new(),
        url: info.url.clone(),
        key: info.key.clone(),
    };
    let widget = "sak_widget_33333333333333333333333333333333";
    put_keys(
        &stack,
        &json!({"clients": {
            "local-shop": {"keys": [info.key], "endpoints": ["availability"]},
            "stock-widget": {"keys": [widget], "endpoints": ["availability"], "requests_per_second": 2}
        }}),
    )
    .await;
    let path = "/v1/availability?sku=SKU-1";
    let burst: Vec<_> = (0..8)
        .map(|_| api.call(reqwest::Method::GET, path, Some(widget), None))
        .collect();
    let (answers, shop) = tokio::join!(futures::future::join_all(burst), api.get(path));
    assert_eq!(
        shop.0, 200,
        "another client is not held to the widget's limit"
    );
    let served = answers.iter().filter(|(status, _)| *status == 200).count();
    let throttled: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == 429)
        .collect();
    // Two a second; a burst may straddle a second's boundary.
    assert!((1..=4).contains(&served), "{answers:?}");
    assert_eq!(served + throttled.len(), answers.len(), "{answers:?}");
    assert!(
        throttled
            .iter()
            .all(|(_, body)| body["error"] == "too_many_requests"),
        "{throttled:?}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api.call(reqwest::Method::GET, path, Some(widget), None)
            .await
            .0,
        200
    );
}

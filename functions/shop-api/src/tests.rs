use crate::fixture::{KEY, STOCK_ONLY_KEY, api, now, request};
use crate::{ApiResponse, Route};
use bridge_domain::ports::{CustomerStore, PriceStore};
use bridge_domain::pricing::{PriceResolution, resolve_price};
use bridge_domain::{CustomerId, Quantity, Sku};
use serde_json::{Value, json};

fn header<'a>(response: &'a ApiResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

async fn resolve(body: Value) -> ApiResponse {
    let (api, _) = api().await;
    api.handle(
        request("POST", "/v1/prices/resolve", Some(KEY), Some(body)),
        now(),
    )
    .await
}

#[tokio::test]
async fn every_line_is_what_the_shared_resolution_gives_across_lists_tiers_and_windows() {
    let (api, stores) = api().await;
    let customer = stores
        .customer(&CustomerId::parse("C-1001").unwrap())
        .await
        .unwrap()
        .unwrap();
    let lines = [
        ("BOLT-M8", "10"),
        ("BOLT-M8", "250"),
        ("NUT-M8", "500"),
        ("NUT-M8", "50"),
        ("DRILL-9", "1"),
    ];
    for at in ["2026-12-07T10:00:00Z", "2027-01-15"] {
        let body = json!({
            "customer_id": "C-1001",
            "at": at,
            "lines": lines.iter().map(|(sku, qty)| json!({"sku": sku, "quantity": qty})).collect::<Vec<_>>(),
        });
        let response = api
            .handle(
                request("POST", "/v1/prices/resolve", Some(KEY), Some(body)),
                now(),
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
        let when = bridge_contract::read_api::parse_resolve_request(
            json!({"customer_id": "C-1001", "at": at, "lines": [{"sku": "A", "quantity": 1}]})
                .to_string()
                .as_bytes(),
        )
        .unwrap()
        .at
        .unwrap();
        for (index, (sku, qty)) in lines.iter().enumerate() {
            let sku = Sku::parse(sku).unwrap();
            let quantity = Quantity::new(qty.parse().unwrap()).unwrap();
            let records = stores.prices_of(&customer.price_lists, &sku).await.unwrap();
            let line = &response.body["lines"][index];
            match resolve_price(&customer.price_lists, &records, &sku, quantity, when) {
                PriceResolution::Priced(p) => {
                    assert_eq!(line["status"], "priced", "{at} line {index}: {line}");
                    assert_eq!(line["unit_price"], p.unit_price.to_string());
                    assert_eq!(line["price_list"], p.price_list.to_string());
                    assert_eq!(line["tier_min_qty"], p.tier_min_qty.value().to_string());
                }
                PriceResolution::OnRequest { .. } => {
                    assert_eq!(line["status"], "on_request", "{at} line {index}: {line}");
                    assert!(line.get("unit_price").is_none(), "never 0: {line}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_cart_today_and_next_month() {
    let cart = |at: &str| {
        json!({"customer_id": "C-1001", "at": at, "lines": [
            {"sku": "BOLT-M8", "quantity": 10},
            {"sku": "BOLT-M8", "quantity": "250"},
            {"sku": "NUT-M8", "quantity": 500},
            {"sku": "NUT-M8", "quantity": 50},
            {"sku": "DRILL-9", "quantity": 1}
        ]})
    };
    let today = resolve(cart("2026-12-07T10:00:00Z")).await;
    let lines = &today.body["lines"];
    assert_eq!(lines[0]["unit_price"], "0.42");
    assert_eq!(lines[0]["price_list"], "CONTRACT-1001");
    assert_eq!(
        lines[0]["valid_to"], "2026-12-31T23:00:00Z",
        "the end of the 31st in Berlin"
    );
    assert_eq!(lines[1]["unit_price"], "0.38");
    assert_eq!(lines[1]["tier_min_qty"], "100");
    assert_eq!(lines[1]["line_total"], "95.00");
    assert_eq!(lines[2]["unit_price"], "21.00");
    assert_eq!(lines[2]["price_list"], "BASE-EUR");
    assert_eq!(lines[2]["price_per"], "100");
    assert_eq!(lines[2]["priority"], 2);
    assert_eq!(
        lines[3]["status"], "on_request",
        "below the first tier of 100"
    );
    assert_eq!(lines[3]["skipped"][1]["reason"], "below_minimum_quantity");
    assert_eq!(lines[4]["status"], "on_request");
    assert!(lines[4].get("unit_price").is_none());
    assert_eq!(header(&today, "cache-control"), Some("private, max-age=60"));

    let january = resolve(cart("2027-01-15")).await;
    assert_eq!(
        january.body["lines"][0]["unit_price"], "0.44",
        "the window announced for January"
    );
    assert_eq!(january.body["lines"][1]["unit_price"], "0.40");

    // Minutes before the new window: cached no longer than until it starts.
    let eve = resolve(cart("2026-12-31T22:59:30Z")).await;
    assert_eq!(header(&eve, "cache-control"), Some("private, max-age=30"));
}

#[tokio::test]
async fn an_unknown_customer_is_404_and_bad_input_is_400_with_a_pointer() {
    let unknown =
        resolve(json!({"customer_id": "C-404", "lines": [{"sku": "A", "quantity": 1}]})).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"], "customer_not_found");
    let too_many: Vec<Value> = (0..201)
        .map(|_| json!({"sku": "A", "quantity": 1}))
        .collect();
    for (body, code, field) in [
        (
            json!({"customer_id": "C-1001", "lines": too_many}),
            "too_many_lines",
            "/lines",
        ),
        (
            json!({"customer_id": "C-1001", "lines": [{"sku": "A", "quantity": "-1"}]}),
            "negative",
            "/lines/0/quantity",
        ),
        (
            json!({"customer_id": "C-1001", "lines": [{"sku": "A\u{7}", "quantity": 1}]}),
            "invalid_character",
            "/lines/0/sku",
        ),
    ] {
        let response = resolve(body).await;
        assert_eq!(response.status, 400);
        assert_eq!(response.body["error"], code);
        assert_eq!(response.body["field"], field);
    }
}

#[tokio::test]
async fn keys_decide_who_may_call_what() {
    let (api, _) = api().await;
    let credit = "/v1/customers/C-1001/credit";
    let no_key = api.handle(request("GET", credit, None, None), now()).await;
    assert_eq!(no_key.status, 401);
    assert_eq!(header(&no_key, "www-authenticate"), Some("Bearer"));
    let wrong = api
        .handle(
            request(
                "GET",
                credit,
                Some("sak_live_not_a_key_of_anyone_at_all_0000"),
                None,
            ),
            now(),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let stock_only = api
        .handle(request("GET", credit, Some(STOCK_ONLY_KEY), None), now())
        .await;
    assert_eq!(stock_only.status, 403);
    assert_eq!(stock_only.body["error"], "forbidden");
    let allowed = api
        .handle(
            request(
                "GET",
                "/v1/availability?sku=BOLT-M8",
                Some(STOCK_ONLY_KEY),
                None,
            ),
            now(),
        )
        .await;
    assert_eq!(allowed.status, 200);
    let wrong_method = api
        .handle(request("GET", "/v1/prices/resolve", Some(KEY), None), now())
        .await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(header(&wrong_method, "allow"), Some("POST"));
    let nowhere = api
        .handle(request("GET", "/v1/nothing", Some(KEY), None), now())
        .await;
    assert_eq!(nowhere.status, 404);
}

#[tokio::test]
async fn availability_marks_levels_older_than_the_sla_as_stale() {
    let (api, _) = api().await;
    let response = api
        .handle(
            request(
                "GET",
                "/v1/availability?sku=BOLT-M8&sku=DRILL-9",
                Some(KEY),
                None,
            ),
            now(),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let bolt = &response.body["skus"][0];
    assert_eq!(bolt["warehouses"][0]["warehouse"], "WH-HAM");
    assert_eq!(bolt["warehouses"][0]["stale"], false, "10 minutes old");
    assert_eq!(bolt["warehouses"][1]["stale"], true, "16 hours old");
    assert_eq!(bolt["warehouses"][1]["next_delivery"]["date"], "2026-12-10");
    assert_eq!(response.body["skus"][1]["warehouses"], json!([]));
    assert_eq!(
        header(&response, "cache-control"),
        Some("private, max-age=30")
    );
    let one = api
        .handle(
            request(
                "GET",
                "/v1/availability?sku=BOLT-M8&warehouse=WH-MUC",
                Some(KEY),
                None,
            ),
            now(),
        )
        .await;
    assert_eq!(
        one.body["skus"][0]["warehouses"].as_array().unwrap().len(),
        1
    );
    let bad = api
        .handle(
            request("GET", "/v1/availability?sku=A&sku=B%20C", Some(KEY), None),
            now(),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("/sku/1"))
    );
}

#[tokio::test]
async fn credit_is_open_items_plus_unbilled_orders_and_a_block_is_said() {
    let (api, _) = api().await;
    let response = api
        .handle(
            request("GET", "/v1/customers/C-1001/credit", Some(KEY), None),
            now(),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.body["exposure"]["amount"], "13900.00",
        "12000 + 5000 × 0.38"
    );
    assert_eq!(response.body["headroom"]["amount"], "36100.00");
    assert_eq!(response.body["blocked"], false);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let blocked = api
        .handle(
            request("GET", "/v1/customers/C-2002/credit", Some(KEY), None),
            now(),
        )
        .await;
    assert_eq!(blocked.body["blocked"], true);
    let unknown = api
        .handle(
            request("GET", "/v1/customers/C-404/credit", Some(KEY), None),
            now(),
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn availability_is_not_cached_past_a_level_turning_stale_and_odd_ids_are_refused() {
    use bridge_domain::ports::StockStore;
    let (api, stores) = api().await;
    let mut level = stores
        .stock_of(&Sku::parse("BOLT-M8").unwrap())
        .await
        .unwrap()
        .remove(0);
    level.sku = Sku::parse("NEARLY-STALE").unwrap();
    level.as_of = Some(now() - chrono::Duration::seconds(3600 - 10));
    stores.apply_stock(&level).await.unwrap();
    let response = api
        .handle(
            request("GET", "/v1/availability?sku=NEARLY-STALE", Some(KEY), None),
            now(),
        )
        .await;
    assert_eq!(response.body["skus"][0]["warehouses"][0]["stale"], false);
    assert_eq!(
        header(&response, "cache-control"),
        Some("private, max-age=10")
    );
    level.as_of = Some(now() - chrono::Duration::seconds(3600));
    stores
        .apply_stock(&bridge_domain::StockChanged {
            revision: bridge_domain::Revision::new(level.revision.value() + 1),
            ..level
        })
        .await
        .unwrap();
    let at_the_edge = api
        .handle(
            request("GET", "/v1/availability?sku=NEARLY-STALE", Some(KEY), None),
            now(),
        )
        .await;
    assert_eq!(header(&at_the_edge, "cache-control"), Some("no-store"));

    // A literal `&` or `%` is not part of any id: 400, never another customer's credit.
    for path in [
        "/v1/customers/C-1001&x/credit",
        "/v1/customers/C-1001%FF/credit",
    ] {
        let response = api
            .handle(request("GET", path, Some(KEY), None), now())
            .await;
        assert_eq!(response.status, 400, "{path}: {}", response.body);
        assert_eq!(response.body["field"], "/customer_id");
    }
}

#[test]
fn routes_are_told_by_their_path() {
    assert_eq!(Route::of_path("/v1/prices/resolve/"), Some(Route::Resolve));
    assert_eq!(
        Route::of_path("/v1/customers/C%2F1/credit"),
        Some(Route::Credit {
            customer_id: "C/1".into()
        })
    );
    assert_eq!(Route::of_path("/v1/customers//credit"), None);
    assert_eq!(Route::of_path("/v2/prices/resolve"), None);
}

/// A shop that sends more than its requests a second gets 429 with `Retry-After`, while
/// another client is served; the next second it is served again.
#[tokio::test]
async fn a_client_over_its_requests_a_second_is_throttled_and_no_other() {
    let (_, stores) = api().await;
    let ports = crate::ApiPorts {
        customers: stores.clone(),
        prices: stores.clone(),
        stock: stores.clone(),
        orders: stores.clone(),
        rate: stores.clone(),
    };
    let settings = crate::ApiSettings {
        client_requests_per_second: 2,
        ..crate::ApiSettings::default()
    };
    // The stock widget's own limit in the key secret: one a second.
    let keys = crate::keys::ApiKeys::from_json(
        &json!({"clients": {
            "shop-backend": {"keys": [KEY], "endpoints": ["availability"]},
            "stock-widget": {"keys": [STOCK_ONLY_KEY], "endpoints": ["availability"], "requests_per_second": 1}
        }})
        .to_string(),
    )
    .unwrap();
    let api = crate::ShopApi::new(settings, ports, bridge_lambda::Refreshing::fixed(keys));
    let ask = |key, at| {
        api.handle(
            request("GET", "/v1/availability?sku=BOLT-M8", Some(key), None),
            at,
        )
    };
    let statuses = [
        ask(KEY, now()).await,
        ask(KEY, now()).await,
        ask(KEY, now()).await,
    ];
    assert_eq!(statuses.each_ref().map(|r| r.status), [200, 200, 429]);
    assert_eq!(header(&statuses[2], "retry-after"), Some("1"));
    assert_eq!(statuses[2].body["error"], "too_many_requests");
    assert_eq!(ask(STOCK_ONLY_KEY, now()).await.status, 200);
    assert_eq!(ask(STOCK_ONLY_KEY, now()).await.status, 429);
    let next_second = now() + chrono::Duration::seconds(1);
    assert_eq!(ask(KEY, next_second).await.status, 200);
}

/// A throttle that cannot count lets the request through: it protects the stack, and a
/// counter table's hiccup must not stop the shop's checkout.
#[tokio::test]
async fn a_throttle_that_cannot_count_lets_requests_through() {
    struct Broken;
    #[async_trait::async_trait]
    impl bridge_domain::ports::RateLimiter for Broken {
        async fn admit(
            &self,
            _: &str,
            _: u32,
            _: chrono::DateTime<chrono::Utc>,
        ) -> Result<bool, bridge_domain::PortError> {
            Err(bridge_domain::PortError::retryable(
                "rate.admit",
                "throttled",
            ))
        }
    }
    let (_, stores) = api().await;
    let api = crate::ShopApi::new(
        crate::ApiSettings {
            client_requests_per_second: 1,
            ..crate::ApiSettings::default()
        },
        crate::ApiPorts {
            customers: stores.clone(),
            prices: stores.clone(),
            stock: stores.clone(),
            orders: stores.clone(),
            rate: std::sync::Arc::new(Broken),
        },
        bridge_lambda::Refreshing::fixed(crate::fixture::keys()),
    );
    for _ in 0..3 {
        let response = api
            .handle(
                request("GET", "/v1/availability?sku=BOLT-M8", Some(KEY), None),
                now(),
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
    }
}

//! A wholesaler's data for the tests and the OpenAPI document's examples: a customer with a
//! contract list over the base list, tiers, a window announced for next month, stock in two
//! warehouses and an order the ERP has not invoiced.

use crate::keys::ApiKeys;
use crate::{ApiPorts, ApiRequest, ApiSettings, ShopApi};
use bridge_contract::parse_event;
use bridge_domain::Sources;
use bridge_domain::events::DomainEvent;
use bridge_domain::memory::MemoryStores;
use bridge_domain::orders::OrderState;
use bridge_domain::ports::{CustomerStore, OrderStore, PriceStore, StockStore, StoredOrder};
use bridge_lambda::Refreshing;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

pub const KEY: &str = "sak_live_4f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f";
pub const STOCK_ONLY_KEY: &str = "sak_live_0a1b2c3d4e5f60718293a4b5c6d7e8f9";

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn keys() -> ApiKeys {
    ApiKeys::from_json(
        &json!({"clients": {
            "shop-backend": {"keys": [KEY], "endpoints": ["prices", "availability", "credit"]},
            "stock-widget": {"keys": [STOCK_ONLY_KEY], "endpoints": ["availability"]}
        }})
        .to_string(),
    )
    .unwrap()
}

fn event(source: &str, event_type: &str, data: Value) -> DomainEvent {
    let sender = Sources::contract().sender(source).unwrap();
    let body = json!({"type": event_type, "timestamp": "2026-12-07T09:00:00Z", "data": data});
    parse_event(&sender, body.to_string().as_bytes())
        .unwrap()
        .event
}

pub async fn stores() -> Arc<MemoryStores> {
    let stores = Arc::new(MemoryStores::default());
    let apply = |data: DomainEvent| {
        let stores = stores.clone();
        async move {
            match data {
                DomainEvent::PriceChanged(p) => stores.apply_price(&p).await.unwrap(),
                DomainEvent::StockChanged(s) => stores.apply_stock(&s).await.unwrap(),
                DomainEvent::CustomerChanged(c) => stores.apply_customer(&c).await.unwrap(),
                other => panic!("not a record: {other:?}"),
            };
        }
    };
    apply(event(
        "erp",
        "customer.changed",
        json!({
            "customer_id": "C-1001", "name": "Müller Haustechnik GmbH", "revision": 7,
            "credit_limit": {"amount": "50000.00", "currency": "EUR"},
            "open_items": {"amount": "12000.00", "currency": "EUR"},
            "price_lists": ["CONTRACT-1001", "BASE-EUR"]
        }),
    ))
    .await;
    apply(event(
        "erp",
        "customer.changed",
        json!({
            "customer_id": "C-2002", "name": "Bau Schmidt KG", "revision": 3, "blocked": true,
            "credit_limit": {"amount": "10000.00", "currency": "EUR"},
            "open_items": {"amount": "9800.00", "currency": "EUR"},
            "price_lists": ["BASE-EUR"]
        }),
    ))
    .await;
    // The contract price until the end of the year, and the one announced for January.
    apply(event(
        "erp",
        "price.changed",
        json!({
            "price_list": "CONTRACT-1001", "sku": "BOLT-M8", "currency": "EUR", "revision": 4,
            "tiers": [{"min_qty": 1, "unit_price": "0.42"}, {"min_qty": 100, "unit_price": "0.38"}],
            "valid_to": "2026-12-31"
        }),
    ))
    .await;
    apply(event(
        "erp",
        "price.changed",
        json!({
            "price_list": "CONTRACT-1001", "sku": "BOLT-M8", "currency": "EUR", "revision": 5,
            "tiers": [{"min_qty": 1, "unit_price": "0.44"}, {"min_qty": 100, "unit_price": "0.40"}],
            "valid_from": "2027-01-01"
        }),
    ))
    .await;
    apply(event(
        "erp",
        "price.changed",
        json!({
            "price_list": "BASE-EUR", "sku": "BOLT-M8", "currency": "EUR", "revision": 2,
            "tiers": [{"min_qty": 1, "unit_price": "0.55"}]
        }),
    ))
    .await;
    apply(event(
        "erp",
        "price.changed",
        json!({
            "price_list": "BASE-EUR", "sku": "NUT-M8", "currency": "EUR", "revision": 2,
            "price_per": 100, "tiers": [{"min_qty": 100, "unit_price": "21.00"}]
        }),
    ))
    .await;
    apply(event(
        "erp",
        "stock.changed",
        json!({
            "sku": "BOLT-M8", "warehouse": "WH-HAM", "available": "12000", "revision": 31,
            "as_of": "2026-12-07T09:50:00Z"
        }),
    ))
    .await;
    apply(event(
        "erp",
        "stock.changed",
        json!({
            "sku": "BOLT-M8", "warehouse": "WH-MUC", "available": 0, "revision": 12,
            "as_of": "2026-12-06T18:00:00Z",
            "next_delivery": {"date": "2026-12-10", "quantity": 5000}
        }),
    ))
    .await;
    let DomainEvent::OrderPlaced(order) = event(
        "shop",
        "order.placed",
        json!({
            "order_id": "SO-88121", "customer_id": "C-1001", "currency": "EUR",
            "placed_at": "2026-12-05T08:00:00Z",
            "lines": [{"line": 1, "sku": "BOLT-M8", "quantity": 5000, "unit_price": "0.38"}]
        }),
    ) else {
        unreachable!()
    };
    let mut stored = StoredOrder::new(order, now());
    stored.transition(
        OrderState::Accepted {
            erp_order_number: "4500012345".into(),
        },
        now(),
    );
    stores.insert(&stored).await.unwrap();
    stores
}

pub async fn api() -> (ShopApi, Arc<MemoryStores>) {
    let stores = stores().await;
    let ports = ApiPorts {
        customers: stores.clone(),
        prices: stores.clone(),
        stock: stores.clone(),
        orders: stores.clone(),
        rate: stores.clone(),
    };
    (
        ShopApi::new(ApiSettings::default(), ports, Refreshing::fixed(keys())),
        stores,
    )
}

pub fn request(method: &str, target: &str, key: Option<&str>, body: Option<Value>) -> ApiRequest {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = std::collections::BTreeMap::new();
    if let Some(key) = key {
        headers.insert("authorization".to_string(), format!("Bearer {key}"));
    }
    headers.insert("content-type".to_string(), "application/json".to_string());
    ApiRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        request_id: "req-1".into(),
    }
}

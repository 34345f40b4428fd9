//! The connector against the commercetools emulator (tools/commercetools-mock), each test in
//! a project of its own, through a recording proxy (tests/support). Run with
//! `scripts/ctmock.sh install && . scripts/ctmock.sh ctmock-tests.log && cargo test -p
//! bridge-commercetools`; without the emulator they skip, unless `BRIDGE_REQUIRE_CTMOCK=1`.

mod support;

use bridge_commercetools::MAX_WRITE_ATTEMPTS;
use bridge_domain::events::NextDelivery;
use bridge_domain::shop::{Published, Shop};
use bridge_domain::{
    CustomerChanged, CustomerId, ErrorClass, Quantity, Revision, Sku, StockChanged, WarehouseId,
};
use chrono::NaiveDate;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::json;
use std::str::FromStr;
use support::{Fault, Proxy};

fn stock(
    sku: &str,
    warehouse: &str,
    available: &str,
    revision: u64,
    delivery: Option<&str>,
) -> StockChanged {
    StockChanged {
        sku: Sku::parse(sku).unwrap(),
        warehouse: WarehouseId::parse(warehouse).unwrap(),
        available: Quantity::new(Decimal::from_str(available).unwrap()).unwrap(),
        revision: Revision::new(revision),
        as_of: None,
        next_delivery: delivery.map(|date| NextDelivery {
            date: NaiveDate::from_str(date).unwrap(),
            quantity: Quantity::new(Decimal::from(40)).unwrap(),
        }),
    }
}

fn customer(id: &str, name: &str, blocked: bool, revision: u64) -> CustomerChanged {
    CustomerChanged {
        customer_id: CustomerId::parse(id).unwrap(),
        name: name.to_string(),
        revision: Revision::new(revision),
        blocked,
        credit_limit: None,
        open_items: None,
        payment_terms: None,
        delivery_terms: None,
        price_lists: vec![],
        cost_centers: vec![],
        approval_rules: vec![],
        framework_agreement: None,
    }
}

fn written(requests: u32) -> Published {
    Published::Written { requests }
}

/// Updates of one resource: `POST /{project}/{collection}/{id}`.
fn update_of(collection: &'static str) -> impl Fn(&str) -> bool + Send + Sync + 'static {
    move |path| path.contains(&format!("/{collection}/"))
}

#[tokio::test]
async fn a_new_stock_level_is_created_with_its_revision_after_the_setup_it_needs() {
    let world = world!();
    let shop = world.shop();

    let published = shop
        .publish_stock(&stock("SKU-1", "W1", "12.7", 41, Some("2027-01-02")))
        .await
        .unwrap();

    let requests = world.proxy.take_api_requests();
    let p = &world.project;
    let (_, channel) = world.raw.get("channels/key=W1").await;
    let channel_id = channel["id"].as_str().unwrap();
    assert_eq!(
        Proxy::lines(&requests),
        [
            format!("GET /{p}/types/key=bridge-inventory -> 404"),
            format!("POST /{p}/types -> 201"),
            format!("GET /{p}/channels/key=W1 -> 404"),
            format!("POST /{p}/channels -> 201"),
            format!(
                "GET /{p}/inventory?where=sku=\"SKU-1\" and supplyChannel(id=\"{channel_id}\")&limit=2&withTotal=false -> 200"
            ),
            format!("POST /{p}/inventory -> 201"),
        ]
    );
    assert_eq!(published, written(6));
    let entry = world.raw.entry("SKU-1").await;
    // 12.7 rounded down: the shop never offers more than the warehouse has.
    assert_eq!(entry["quantityOnStock"], json!(12));
    assert_eq!(entry["expectedDelivery"], json!("2027-01-01T23:00:00.000Z"));
    assert_eq!(entry["custom"]["fields"], json!({"bridgeRevision": 41}));
    assert_eq!(channel["roles"], json!(["InventorySupply"]));
    assert_eq!(entry["supplyChannel"]["id"], channel["id"]);
    let (_, inventory_type) = world.raw.get("types/key=bridge-inventory").await;
    assert_eq!(
        inventory_type["resourceTypeIds"],
        json!(["inventory-entry"])
    );
    assert_eq!(entry["custom"]["type"]["id"], inventory_type["id"]);

    // Setup is remembered: the next sku of the warehouse costs a read and a create.
    let published = shop
        .publish_stock(&stock("SKU-2", "W1", "3", 1, None))
        .await
        .unwrap();
    assert_eq!(published, written(2));
    assert_eq!(world.proxy.take_api_requests().len(), 2);
    assert_eq!(shop.requests_made(), 8);
    assert_eq!(shop.token_fetches(), 1);
}

#[tokio::test]
async fn an_update_of_a_level_this_process_wrote_is_one_request_with_only_what_changed() {
    let world = world!();
    let shop = world.shop();
    shop.publish_stock(&stock("SKU-1", "W1", "10", 1, Some("2027-01-02")))
        .await
        .unwrap();
    world.proxy.take_api_requests();

    let published = shop
        .publish_stock(&stock("SKU-1", "W1", "7", 2, Some("2027-01-02")))
        .await
        .unwrap();

    // Planned on what the create answered (its version guards it): no read.
    assert_eq!(published, written(1));
    let requests = world.proxy.take_api_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].body,
        json!({"version": 1, "actions": [
            {"action": "changeQuantity", "quantity": 7},
            {"action": "setCustomField", "name": "bridgeRevision", "value": 2},
        ]})
    );
    let entry = world.raw.entry("SKU-1").await;
    assert_eq!(entry["quantityOnStock"], json!(7));
    assert_eq!(entry["custom"]["fields"]["bridgeRevision"], json!(2));
    assert_eq!(entry["expectedDelivery"], json!("2027-01-01T23:00:00.000Z"));
}

#[tokio::test]
async fn a_lower_revision_writes_nothing_and_costs_one_request() {
    let world = world!();
    let shop = world.shop();
    shop.publish_stock(&stock("SKU-1", "W1", "10", 5, None))
        .await
        .unwrap();
    let before = world.raw.entry("SKU-1").await;
    world.proxy.take_api_requests();
    // Another process (a container that never wrote it): one read.
    let other = world.shop();
    // Its setup (Type, channel) done on another sku.
    other
        .publish_stock(&stock("SKU-WARM", "W1", "1", 1, None))
        .await
        .unwrap();
    world.proxy.take_api_requests();

    let published = other
        .publish_stock(&stock("SKU-1", "W1", "99", 4, None))
        .await
        .unwrap();

    assert_eq!(
        published,
        Published::Stale {
            shop_revision: Revision::new(5),
            requests: 1
        }
    );
    let requests = world.proxy.take_api_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(world.raw.entry("SKU-1").await, before);
    // The process that wrote revision 5 reads too: a decision not to write is made on what
    // the shop holds, not on what the process remembers.
    assert_eq!(
        shop.publish_stock(&stock("SKU-1", "W1", "99", 4, None))
            .await
            .unwrap(),
        Published::Stale {
            shop_revision: Revision::new(5),
            requests: 1
        }
    );
    assert_eq!(world.proxy.take_api_requests().len(), 1);
}

#[tokio::test]
async fn an_identical_republish_is_already_current() {
    let world = world!();
    let shop = world.shop();
    let level = stock("SKU-1", "W1", "10", 5, Some("2027-05-01"));
    shop.publish_stock(&level).await.unwrap();
    world.proxy.take_api_requests();
    assert_eq!(
        shop.publish_stock(&level).await.unwrap(),
        Published::AlreadyCurrent { requests: 1 },
        "the process that wrote it reads too"
    );
    // Another process reads once.
    let shop = world.shop();
    shop.publish_stock(&stock("SKU-WARM", "W1", "1", 1, None))
        .await
        .unwrap();
    world.proxy.take_api_requests();

    assert_eq!(
        shop.publish_stock(&level).await.unwrap(),
        Published::AlreadyCurrent { requests: 1 }
    );
    assert_eq!(world.proxy.take_api_requests().len(), 1);
    // The same revision with other content is stale, not a silent overwrite.
    assert_eq!(
        shop.publish_stock(&stock("SKU-1", "W1", "11", 5, Some("2027-05-01")))
            .await
            .unwrap(),
        Published::Stale {
            shop_revision: Revision::new(5),
            requests: 1
        }
    );
}

#[tokio::test]
async fn a_level_deleted_by_hand_is_made_again_when_its_record_comes_again() {
    let world = world!();
    let shop = world.shop();
    let level = stock("SKU-1", "W1", "10", 42, None);
    shop.publish_stock(&level).await.unwrap();
    let entry = world.raw.entry("SKU-1").await;
    let (status, _) = world
        .raw
        .delete(&format!(
            "inventory/{}?version={}",
            entry["id"].as_str().unwrap(),
            entry["version"]
        ))
        .await;
    assert_eq!(status, 200);
    world.proxy.take_api_requests();

    // The same record again (a redelivered batch): what the process wrote says "current",
    // so the shop is read, and it has no entry.
    let published = shop.publish_stock(&level).await.unwrap();

    assert_eq!(published, written(2));
    let entry = world.raw.entry("SKU-1").await;
    assert_eq!(entry["quantityOnStock"], json!(10));
    assert_eq!(entry["custom"]["fields"]["bridgeRevision"], json!(42));
}

#[tokio::test]
async fn a_concurrent_edit_between_read_and_write_is_read_again_and_overwritten() {
    let world = world!();
    let shop = world.shop();
    shop.publish_stock(&stock("SKU-1", "W1", "10", 1, None))
        .await
        .unwrap();
    world.proxy.take_api_requests();
    // A merchant sets the quantity by hand just before the connector's write.
    world.proxy.on(
        Method::POST,
        update_of("inventory"),
        1,
        Fault::ConcurrentEdit {
            actions: json!([{"action": "changeQuantity", "quantity": 99}]),
        },
    );

    let published = shop
        .publish_stock(&stock("SKU-1", "W1", "7", 2, None))
        .await
        .unwrap();

    let requests = world.proxy.take_api_requests();
    let statuses: Vec<_> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.status))
        .collect();
    // The first write was planned on what the process wrote last; the shop changed since.
    assert_eq!(statuses, [("POST", 409), ("GET", 200), ("POST", 200)]);
    assert_eq!(published, written(3));
    // The second write was computed from the fresh read, with its version.
    let retried = &requests[2].body;
    assert_ne!(retried["version"], requests[0].body["version"]);
    assert_eq!(
        retried["actions"],
        json!([
            {"action": "changeQuantity", "quantity": 7},
            {"action": "setCustomField", "name": "bridgeRevision", "value": 2},
        ])
    );
    let entry = world.raw.entry("SKU-1").await;
    assert_eq!(entry["quantityOnStock"], json!(7));
    assert_eq!(entry["custom"]["fields"]["bridgeRevision"], json!(2));
}

#[tokio::test]
async fn a_newer_revision_written_concurrently_wins_and_the_publish_is_stale() {
    let world = world!();
    let shop = world.shop();
    shop.publish_stock(&stock("SKU-1", "W1", "10", 1, None))
        .await
        .unwrap();
    world.proxy.take_api_requests();
    // Another bridge instance writes revision 9 between this one's read and write.
    world.proxy.on(
        Method::POST,
        update_of("inventory"),
        1,
        Fault::ConcurrentEdit {
            actions: json!([
                {"action": "changeQuantity", "quantity": 3},
                {"action": "setCustomField", "name": "bridgeRevision", "value": 9},
            ]),
        },
    );

    let published = shop
        .publish_stock(&stock("SKU-1", "W1", "7", 2, None))
        .await
        .unwrap();

    assert_eq!(
        published,
        Published::Stale {
            shop_revision: Revision::new(9),
            requests: 2
        }
    );
    let entry = world.raw.entry("SKU-1").await;
    assert_eq!(entry["quantityOnStock"], json!(3));
    assert_eq!(entry["custom"]["fields"]["bridgeRevision"], json!(9));
}

#[tokio::test]
async fn an_entry_that_keeps_changing_is_left_to_the_batch_retry() {
    let world = world!();
    let shop = world.shop();
    shop.publish_stock(&stock("SKU-1", "W1", "10", 1, None))
        .await
        .unwrap();
    world.proxy.take_api_requests();
    world.proxy.on(
        Method::POST,
        update_of("inventory"),
        usize::MAX,
        Fault::EverChangingEdit,
    );

    let err = shop
        .publish_stock(&stock("SKU-1", "W1", "7", 2, None))
        .await
        .unwrap_err();

    assert_eq!(err.class, ErrorClass::Retryable);
    assert!(err.message.contains("5 writes"), "{err}");
    let requests = world.proxy.take_api_requests();
    let writes = requests.iter().filter(|r| r.method == "POST").count();
    assert_eq!(writes as u32, MAX_WRITE_ATTEMPTS);
    assert!(
        requests
            .iter()
            .filter(|r| r.method == "POST")
            .all(|r| r.status == 409)
    );
    // The first write without a read (the process wrote the entry), each other after one.
    assert_eq!(requests.len() as u32, 2 * MAX_WRITE_ATTEMPTS - 1);
}

#[tokio::test]
async fn a_refused_customer_is_permanent_and_names_the_shops_error_and_the_request() {
    let world = world!();
    // A customer made in the shop by hand holds the email the bridge would derive.
    let (status, body) = world
        .raw
        .post(
            "customers",
            &json!({"key": "made-by-hand", "email": "c-2@customers.invalid",
                    "authenticationMode": "ExternalAuth"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let shop = world.shop();

    let err = shop
        .publish_customer(&customer("C-2", "ACME", false, 1))
        .await
        .unwrap_err();

    assert_eq!(err.class, ErrorClass::Permanent, "{err}");
    assert_eq!(err.operation, "shop.publish_customer");
    let request = format!(
        "POST /{}/customers: 400 DuplicateField (field email)",
        world.project
    );
    assert!(err.message.starts_with(&request), "{err}");
    // Create refused, read again by key (a racing create of *this* customer would be found).
    let requests = world.proxy.take_api_requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [404, 201, 404, 400, 404]
    );
}

#[tokio::test]
async fn a_customer_id_that_cannot_be_a_key_is_refused_before_any_request() {
    let world = world!();
    let shop = world.shop();
    let err = shop
        .publish_customer(&customer("C.1", "ACME", false, 1))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("customer key"), "{err}");
    assert_eq!(shop.requests_made(), 0);
    assert_eq!(shop.token_fetches(), 0);
}

#[tokio::test]
async fn an_unreachable_shop_is_retryable() {
    let world = world!();
    // A port that was free a moment ago and has no listener now.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };

    let err = world
        .shop_at(&closed, &closed)
        .publish_stock(&stock("SKU-1", "W1", "1", 1, None))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Retryable, "{err}");
    assert!(err.message.contains("POST /oauth/token"), "{err}");
    assert!(err.message.contains("cannot connect"), "{err}");

    // Auth answers, the API does not.
    let err = world
        .shop_at(&closed, &world.proxy.url)
        .publish_customer(&customer("C-1", "ACME", false, 1))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Retryable, "{err}");
    let request = format!(
        "GET /{}/types/key=bridge-customer: cannot connect",
        world.project
    );
    assert!(err.message.starts_with(&request), "{err}");
}

#[tokio::test]
async fn throttling_is_retryable_and_names_the_wait() {
    let world = world!();
    world.proxy.on(
        Method::GET,
        |_| true,
        1,
        Fault::Respond {
            status: 429,
            retry_after: Some(7),
            body: json!({"statusCode": 429, "message": "Too many requests",
                         "errors": [{"code": "TooManyRequests", "message": "Too many requests"}]}),
        },
    );
    let err = world
        .shop()
        .publish_stock(&stock("SKU-1", "W1", "1", 1, None))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Retryable);
    assert!(err.message.contains("429 TooManyRequests"), "{err}");
    assert!(err.message.contains("Retry-After 7s"), "{err}");
}

#[tokio::test]
async fn a_customer_is_created_and_then_updated_with_only_what_changed() {
    let world = world!();
    let shop = world.shop();

    let published = shop
        .publish_customer(&customer("C-1", "ACME", false, 7))
        .await
        .unwrap();
    assert_eq!(published, written(4));
    let (status, stored) = world.raw.get("customers/key=C-1").await;
    assert_eq!(status, 200);
    assert_eq!(stored["companyName"], json!("ACME"));
    assert_eq!(stored["email"], json!("c-1@customers.invalid"));
    assert_eq!(stored["authenticationMode"], json!("ExternalAuth"));
    assert_eq!(
        stored["custom"]["fields"],
        json!({"bridgeRevision": 7, "orderBlocked": false})
    );
    let (_, customer_type) = world.raw.get("types/key=bridge-customer").await;
    assert_eq!(stored["custom"]["type"]["id"], customer_type["id"]);
    world.proxy.take_api_requests();

    // Blocked, same name: the name is not sent.
    let published = shop
        .publish_customer(&customer("C-1", "ACME", true, 8))
        .await
        .unwrap();
    assert_eq!(published, written(2));
    let requests = world.proxy.take_api_requests();
    assert_eq!(
        requests[1].body["actions"],
        json!([
            {"action": "setCustomField", "name": "orderBlocked", "value": true},
            {"action": "setCustomField", "name": "bridgeRevision", "value": 8},
        ])
    );
    // Renamed: only the name (and the revision).
    shop.publish_customer(&customer("C-1", "ACME GmbH", true, 9))
        .await
        .unwrap();
    let requests = world.proxy.take_api_requests();
    assert_eq!(
        requests[1].body["actions"],
        json!([
            {"action": "setCompanyName", "companyName": "ACME GmbH"},
            {"action": "setCustomField", "name": "bridgeRevision", "value": 9},
        ])
    );
    let (_, stored) = world.raw.get("customers/key=C-1").await;
    assert_eq!(stored["companyName"], json!("ACME GmbH"));
    assert_eq!(
        stored["custom"]["fields"],
        json!({"bridgeRevision": 9, "orderBlocked": true})
    );

    assert_eq!(
        shop.publish_customer(&customer("C-1", "ACME GmbH", true, 9))
            .await
            .unwrap(),
        Published::AlreadyCurrent { requests: 1 }
    );
    assert_eq!(
        shop.publish_customer(&customer("C-1", "Old name", false, 6))
            .await
            .unwrap(),
        Published::Stale {
            shop_revision: Revision::new(9),
            requests: 1
        }
    );
}

#[tokio::test]
async fn a_customer_changed_concurrently_is_read_again() {
    let world = world!();
    let shop = world.shop();
    shop.publish_customer(&customer("C-1", "ACME", false, 1))
        .await
        .unwrap();
    world.proxy.take_api_requests();
    world.proxy.on(
        Method::POST,
        update_of("customers"),
        1,
        Fault::ConcurrentEdit {
            actions: json!([{"action": "setCompanyName", "companyName": "Typed by hand"}]),
        },
    );
    let published = shop
        .publish_customer(&customer("C-1", "ACME", true, 2))
        .await
        .unwrap();

    assert_eq!(published, written(4));
    let requests = world.proxy.take_api_requests();
    assert_eq!(requests[1].status, 409);
    // Recomputed from the fresh read: now the name differs too.
    assert_eq!(
        requests[3].body["actions"],
        json!([
            {"action": "setCompanyName", "companyName": "ACME"},
            {"action": "setCustomField", "name": "orderBlocked", "value": true},
            {"action": "setCustomField", "name": "bridgeRevision", "value": 2},
        ])
    );
    let (_, stored) = world.raw.get("customers/key=C-1").await;
    assert_eq!(stored["companyName"], json!("ACME"));
}

#[tokio::test]
async fn a_rejected_token_is_renewed_once_and_the_request_repeated() {
    let world = world!();
    let shop = world.shop();
    shop.publish_stock(&stock("SKU-1", "W1", "10", 1, None))
        .await
        .unwrap();
    assert_eq!(shop.token_fetches(), 1);
    world.proxy.take_api_requests();
    // The cached token stops working (expired, revoked): the emulator's own 401 answers it.
    world
        .proxy
        .on(Method::POST, update_of("inventory"), 1, Fault::CorruptToken);

    let published = shop
        .publish_stock(&stock("SKU-1", "W1", "7", 2, None))
        .await
        .unwrap();

    assert_eq!(shop.token_fetches(), 2);
    let requests = world.proxy.take_api_requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [401, 200]
    );
    // The refused request counts: it was made.
    assert_eq!(published, written(2));
    assert_eq!(world.raw.entry("SKU-1").await["quantityOnStock"], json!(7));
}

#[tokio::test]
async fn removing_an_expected_delivery_sends_the_reference_action_which_the_emulator_fails() {
    let world = world!();
    let shop = world.shop();
    shop.publish_stock(&stock("SKU-1", "W1", "10", 1, Some("2027-01-02")))
        .await
        .unwrap();
    world.proxy.take_api_requests();

    let result = shop
        .publish_stock(&stock("SKU-1", "W1", "10", 2, None))
        .await;

    // The API reference: setExpectedDelivery without a value removes the date. The
    // emulator (4.4.0) throws on it (`new Date(undefined).toISOString()`) and answers 500,
    // which the connector rightly treats as retryable. When the emulator learns it, this
    // test fails and becomes the success case.
    let requests = world.proxy.take_api_requests();
    assert_eq!(
        requests[0].body["actions"][0],
        json!({"action": "setExpectedDelivery"})
    );
    let err = result.unwrap_err();
    assert_eq!(err.class, ErrorClass::Retryable);
    assert!(err.message.contains("500"), "{err}");
    assert!(err.message.contains("Invalid time value"), "{err}");
}

#[tokio::test]
async fn an_entry_made_in_the_shop_without_custom_fields_gets_the_bridge_type() {
    let world = world!();
    let (_, channel) = world
        .raw
        .post(
            "channels",
            &json!({"key": "W1", "roles": ["InventorySupply"]}),
        )
        .await;
    let (status, body) = world
        .raw
        .post(
            "inventory",
            &json!({"sku": "SKU-1", "quantityOnStock": 4,
                    "supplyChannel": {"typeId": "channel", "id": channel["id"]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let shop = world.shop();

    let published = shop
        .publish_stock(&stock("SKU-1", "W1", "4", 3, None))
        .await
        .unwrap();

    // Type created (2), channel found (1), entry found (1), updated (1).
    assert_eq!(published, written(5));
    let requests = world.proxy.take_api_requests();
    assert_eq!(
        requests[4].body["actions"],
        json!([{"action": "setCustomType",
                "type": {"typeId": "type", "key": "bridge-inventory"},
                "fields": {"bridgeRevision": 3}}])
    );
    assert_eq!(
        world.raw.entry("SKU-1").await["custom"]["fields"],
        json!({"bridgeRevision": 3})
    );
}

#[tokio::test]
async fn a_channel_keyed_like_the_warehouse_but_for_something_else_is_not_used() {
    let world = world!();
    let (status, _) = world
        .raw
        .post(
            "channels",
            &json!({"key": "W9", "roles": ["ProductDistribution"]}),
        )
        .await;
    assert_eq!(status, 201);
    let err = world
        .shop()
        .publish_stock(&stock("SKU-1", "W9", "4", 3, None))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("ProductDistribution"), "{err}");
    let (_, page) = world.raw.get("inventory").await;
    assert_eq!(page["results"], json!([]));
}

#[tokio::test]
async fn a_warehouse_code_with_a_slash_finds_its_channel_by_key() {
    let world = world!();
    world
        .shop()
        .publish_stock(&stock("SKU-1", "DE/01", "4", 1, None))
        .await
        .unwrap();
    world.proxy.take_api_requests();

    // A fresh connector (a new container) finds the Type and the channel instead of
    // creating them again.
    let published = world
        .shop()
        .publish_stock(&stock("SKU-2", "DE/01", "5", 1, None))
        .await
        .unwrap();

    assert_eq!(published, written(4));
    let requests = world.proxy.take_api_requests();
    assert_eq!(
        requests[1].line(),
        format!("GET /{}/channels/key=DE/01 -> 200", world.project)
    );
    let (_, channels) = world.raw.get("channels").await;
    assert_eq!(
        channels["results"].as_array().unwrap().len(),
        1,
        "{channels}"
    );
}

#[tokio::test]
async fn every_request_carries_the_correlation_id() {
    let world = world!();
    let shop = world.shop();
    shop.publish_stock_correlated(&stock("SKU-1", "W1", "4", 1, None), Some("corr-4711-abc"))
        .await
        .unwrap();
    let requests = world.proxy.take_api_requests();
    assert_eq!(requests.len(), 6);
    for request in &requests {
        assert_eq!(
            request.correlation_id.as_deref(),
            Some("corr-4711-abc"),
            "{}",
            request.line()
        );
    }
    // One that cannot be a header value is dropped, not a failed publish.
    shop.publish_stock_correlated(&stock("SKU-1", "W1", "5", 2, None), Some("two words"))
        .await
        .unwrap();
    assert!(
        world
            .proxy
            .take_api_requests()
            .iter()
            .all(|r| r.correlation_id.is_none())
    );
}

/// Checks out `quantity` of a 9.80 EUR product for the shop customer `customer_id`, as a
/// storefront would: product, shipping method for Germany, the shop's own order Type with
/// its B2B fields, a cart, the order. The order as the shop answers it.
async fn checkout(world: &support::World, customer_id: &str, number: &str) -> serde_json::Value {
    let raw = &world.raw;
    let created = |(status, body): (u16, serde_json::Value)| {
        assert!(status == 200 || status == 201, "{status} {body}");
        body
    };
    created(
        raw.post(
            "product-types",
            &json!({"key": "goods", "name": "Goods", "description": "", "attributes": []}),
        )
        .await,
    );
    created(raw.post("products", &json!({"key": "SKU-O", "name": {"de": "Schraube"}, "slug": {"de": "sku-o"},
        "productType": {"typeId": "product-type", "key": "goods"},
        "masterVariant": {"sku": "SKU-O", "prices": [{"value": {"currencyCode": "EUR", "centAmount": 980}}]}, "publish": true})).await);
    created(
        raw.post(
            "zones",
            &json!({"key": "de", "name": "DE", "locations": [{"country": "DE"}]}),
        )
        .await,
    );
    created(
        raw.post(
            "tax-categories",
            &json!({"key": "std", "name": "std",
        "rates": [{"name": "19", "amount": 0.19, "includedInPrice": true, "country": "DE"}]}),
        )
        .await,
    );
    created(raw.post("shipping-methods", &json!({"key": "std", "name": "std", "isDefault": true,
        "taxCategory": {"typeId": "tax-category", "key": "std"},
        "zoneRates": [{"zone": {"typeId": "zone", "key": "de"}, "shippingRates": [{"price": {"currencyCode": "EUR", "centAmount": 0}}]}]})).await);
    created(
        raw.post(
            "types",
            &json!({"key": "b2b-order", "name": {"en": "B2B order"}, "resourceTypeIds": ["order"],
        "fieldDefinitions": [{"name": "poNumber", "type": {"name": "String"}, "required": false,
                              "label": {"en": "PO"}, "inputHint": "SingleLine"}]}),
        )
        .await,
    );
    let cart = created(raw.post("carts", &json!({"currency": "EUR", "country": "DE", "customerId": customer_id,
        "shippingAddress": {"country": "DE", "city": "Berlin"},
        "shippingMethod": {"typeId": "shipping-method", "key": "std"},
        "lineItems": [{"sku": "SKU-O", "quantity": 4}],
        "custom": {"type": {"typeId": "type", "key": "b2b-order"}, "fields": {"poNumber": "PO-7"}}})).await);
    created(
        raw.post(
            "orders",
            &json!({"cart": {"typeId": "cart", "id": cart["id"]},
        "version": cart["version"], "orderNumber": number}),
        )
        .await,
    )
}

fn progress(
    state: bridge_domain::shop::ShopOrderState,
    shipment: Option<bridge_domain::shop::ShopShipmentState>,
    revision: u64,
    codes: &[&str],
) -> bridge_domain::shop::OrderProgress {
    bridge_domain::shop::OrderProgress {
        order_id: bridge_domain::OrderId::parse("SHOP-7").unwrap(),
        revision: Revision::new(revision),
        state,
        shipment,
        erp_order_number: Some("SO-4711".into()),
        tracking: codes
            .iter()
            .map(|code| bridge_domain::events::Tracking {
                carrier: Some("DHL".into()),
                code: Some(code.to_string()),
            })
            .collect(),
    }
}

#[tokio::test]
async fn a_shop_order_is_read_as_order_placed_under_its_customers_key_also_when_not_in_the_message()
{
    use bridge_domain::shop::{ShopNotification, ShopOrderFeed};
    let world = world!();
    let shop = world.shop();
    shop.publish_customer(&customer("C-ORD", "ACME", false, 1))
        .await
        .unwrap();
    let (_, account) = world.raw.get("customers/key=C-ORD").await;
    let order = checkout(&world, account["id"].as_str().unwrap(), "SHOP-7").await;
    let full = json!({"notificationType": "Message", "projectKey": world.project, "id": "m-1",
        "version": 1, "sequenceNumber": 1, "resource": {"typeId": "order", "id": order["id"]},
        "resourceVersion": 1, "type": "OrderCreated", "order": order,
        "createdAt": order["createdAt"], "lastModifiedAt": order["createdAt"]});
    let mut without = full.clone();
    without.as_object_mut().unwrap().remove("order");
    without.as_object_mut().unwrap().remove("type");
    without["payloadNotIncluded"] =
        json!({"reason": "Payload too large.", "payloadType": "OrderCreated"});
    world.proxy.take_api_requests();
    for (notification, requests) in [(full, 1), (without, 2)] {
        let read = shop
            .read_notification(&notification.to_string(), Some("corr-1"))
            .await
            .unwrap();
        let ShopNotification::OrderPlaced { message_id, order } = read else {
            panic!("{read:?}")
        };
        assert_eq!(message_id, "m-1");
        assert_eq!(order.order_id.as_str(), "SHOP-7");
        assert_eq!(order.customer_id.as_str(), "C-ORD", "the customer's key");
        assert_eq!(order.po_number.as_deref(), Some("PO-7"));
        let line = &order.lines.as_slice()[0];
        assert_eq!(
            (line.sku.as_str(), line.quantity.to_string()),
            ("SKU-O", "4".into())
        );
        assert_eq!(line.unit_price.value().to_string(), "9.80");
        let seen = world.proxy.take_api_requests();
        assert_eq!(seen.len(), requests, "{:?}", Proxy::lines(&seen));
        assert!(
            seen.iter()
                .all(|r| r.correlation_id.as_deref() == Some("corr-1"))
        );
    }
}

#[tokio::test]
async fn an_orders_progress_reaches_the_shops_order_under_its_revision_and_a_concurrent_edit_is_absorbed()
 {
    use bridge_domain::shop::{ShopOrderState::*, ShopShipmentState::*};
    let world = world!();
    let shop = world.shop();
    shop.publish_customer(&customer("C-PRO", "ACME", false, 1))
        .await
        .unwrap();
    let (_, account) = world.raw.get("customers/key=C-PRO").await;
    checkout(&world, account["id"].as_str().unwrap(), "SHOP-7").await;

    let accepted = shop
        .publish_order_progress(&progress(Confirmed, None, 0, &[]))
        .await
        .unwrap();
    assert!(
        matches!(accepted, Published::Written { .. }),
        "{accepted:?}"
    );
    let (_, order) = world.raw.get("orders/order-number=SHOP-7").await;
    assert_eq!(order["orderState"], "Confirmed");
    assert_eq!(order["syncInfo"][0]["externalId"], "SO-4711");
    assert_eq!(
        order["custom"]["fields"]["poNumber"], "PO-7",
        "the shop's fields stay"
    );
    assert_eq!(order["custom"]["fields"]["bridgeRevision"], 0);
    // The shop's own Type got the field, optional: nothing the shop writes breaks.
    let (_, b2b) = world.raw.get("types/key=b2b-order").await;
    let field = b2b["fieldDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "bridgeRevision")
        .cloned()
        .unwrap_or_else(|| panic!("{b2b}"));
    assert_eq!(
        (field["type"]["name"].as_str(), field["required"].as_bool()),
        (Some("Number"), Some(false))
    );

    // Someone edits the order between the bridge's read and its write.
    world.proxy.take_api_requests();
    world.proxy.on(
        Method::POST,
        update_of("orders"),
        1,
        Fault::ConcurrentEdit {
            actions: json!([{"action": "setCustomerEmail", "email": "buyer@acme.example"}]),
        },
    );
    let shipped = shop
        .publish_order_progress(&progress(Confirmed, Some(Shipped), 3, &["1Z1"]))
        .await
        .unwrap();
    assert!(matches!(shipped, Published::Written { .. }), "{shipped:?}");
    let requests = world.proxy.take_api_requests();
    let statuses: Vec<_> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [("GET", 200), ("POST", 409), ("GET", 200), ("POST", 200)]
    );
    let (_, order) = world.raw.get("orders/order-number=SHOP-7").await;
    assert_eq!(order["shipmentState"], "Shipped");
    assert_eq!(
        order["customerEmail"], "buyer@acme.example",
        "the edit stays"
    );
    let delivery = &order["shippingInfo"]["deliveries"][0];
    assert_eq!(
        delivery["parcels"][0]["trackingData"]["trackingId"], "1Z1",
        "{order}"
    );
    assert_eq!(delivery["items"][0]["quantity"], 4);
    assert_eq!(order["custom"]["fields"]["bridgeRevision"], 3);

    // Delivered with a second parcel: the parcel joins the delivery; an older progress
    // afterwards changes nothing; an order the shop does not have is left alone.
    shop.publish_order_progress(&progress(Confirmed, Some(Delivered), 4, &["1Z1", "1Z2"]))
        .await
        .unwrap();
    let (_, order) = world.raw.get("orders/order-number=SHOP-7").await;
    assert_eq!(order["shipmentState"], "Delivered");
    let parcels = order["shippingInfo"]["deliveries"][0]["parcels"]
        .as_array()
        .unwrap();
    assert_eq!(parcels.len(), 2, "{order}");
    let stale = shop
        .publish_order_progress(&progress(Confirmed, Some(Shipped), 3, &["1Z1"]))
        .await
        .unwrap();
    assert!(matches!(stale, Published::Stale { .. }), "{stale:?}");
    let mut elsewhere = progress(Confirmed, None, 1, &[]);
    elsewhere.order_id = bridge_domain::OrderId::parse("EDI-1").unwrap();
    let absent = shop.publish_order_progress(&elsewhere).await.unwrap();
    assert!(matches!(absent, Published::Absent { .. }), "{absent:?}");
}

fn pim_product(
    sku: &str,
    name: &str,
    path: &[&str],
    codes: &[(&str, &str)],
) -> bridge_domain::product::Product {
    use bridge_domain::product::{Locale, Product, ProductStatus};
    Product {
        sku: Sku::parse(sku).unwrap(),
        gtin: Some(bridge_domain::product::Gtin::gtin13(400_819_014_307)),
        names: [(Locale::parse("de-DE").unwrap(), name.to_string())].into(),
        descriptions: [(Locale::parse("de-DE").unwrap(), "HSS".to_string())].into(),
        brand: Some("Muster".into()),
        category: path.iter().map(|s| s.to_string()).collect(),
        unit: None,
        weight_kg: Some(Decimal::from_str("0.07").unwrap()),
        images: vec![format!("https://pim.example/{sku}.jpg")],
        status: ProductStatus::Active,
        attributes: codes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[tokio::test]
async fn a_pim_product_arrives_published_in_its_category_and_changes_send_only_what_changed() {
    let world = world!();
    let shop = world.shop();
    let drill = pim_product(
        "DRILL-7",
        "Bohrer 7 mm",
        &["Werkzeug", "Bohrer"],
        &[
            ("color", "silber"),
            ("classification.ECLASS-9.0", "23-11-01-01"),
        ],
    );

    let created = shop
        .publish_product(&drill, Revision::new(10))
        .await
        .unwrap();
    assert!(matches!(created, Published::Written { .. }), "{created:?}");
    let (status, stored) = world.raw.get("products/key=DRILL-7").await;
    assert_eq!(status, 200, "{stored}");
    let current = &stored["masterData"]["current"];
    assert_eq!(stored["masterData"]["published"], true);
    assert_eq!(current["name"]["de-DE"], "Bohrer 7 mm");
    assert_eq!(current["description"]["de-DE"], "HSS");
    let attributes: std::collections::BTreeMap<String, serde_json::Value> =
        current["masterVariant"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["name"].as_str().unwrap().to_string(), a["value"].clone()))
            .collect();
    assert_eq!(attributes["attr-color"], "silber");
    assert_eq!(attributes["bridgeRevision"], 10);
    assert_eq!(attributes["bridge-gtin"], "4008190143077");
    let eclass = bridge_commercetools::attribute_name("classification.ECLASS-9.0");
    assert_eq!(
        attributes[&eclass], "23-11-01-01",
        "a BMEcat classification code"
    );
    assert_eq!(
        current["masterVariant"]["images"][0]["url"],
        "https://pim.example/DRILL-7.jpg"
    );
    // The leaf of the path, below its parent, both made by the bridge.
    let leaf_key = bridge_commercetools::category_key(&["Werkzeug".into(), "Bohrer".into()]);
    let (_, leaf) = world.raw.get(&format!("categories/key={leaf_key}")).await;
    assert_eq!(current["categories"][0]["id"], leaf["id"], "{stored}");
    assert_eq!(leaf["name"]["de-DE"], "Bohrer");
    let root_key = bridge_commercetools::category_key(&["Werkzeug".into()]);
    let (_, root) = world.raw.get(&format!("categories/key={root_key}")).await;
    assert_eq!(leaf["parent"]["id"], root["id"]);

    // The same content again is already there; a new name and a new PIM code (the product
    // type grows) send only those and the revision.
    let again = shop
        .publish_product(&drill, Revision::new(10))
        .await
        .unwrap();
    assert!(
        matches!(again, Published::AlreadyCurrent { .. }),
        "{again:?}"
    );
    world.proxy.take_api_requests();
    let renamed = pim_product(
        "DRILL-7",
        "Bohrer 7 mm HSS",
        &["Werkzeug", "Bohrer"],
        &[
            ("color", "silber"),
            ("classification.ECLASS-9.0", "23-11-01-01"),
            ("diameter_mm", "7"),
        ],
    );
    shop.publish_product(&renamed, Revision::new(11))
        .await
        .unwrap();
    let requests = world.proxy.take_api_requests();
    let update = requests
        .iter()
        .find(|r| r.method == "POST" && r.target.contains("/products/"))
        .expect("an update");
    assert_eq!(
        update.body["actions"],
        json!([
            {"action": "changeName", "name": {"de-DE": "Bohrer 7 mm HSS"}, "staged": false},
            {"action": "setAttribute", "sku": "DRILL-7", "name": "attr-diameter_mm", "value": "7", "staged": false},
            {"action": "setAttribute", "sku": "DRILL-7", "name": "bridgeRevision", "value": 11, "staged": false},
        ])
    );
    let (_, product_type) = world.raw.get("product-types/key=bridge-product").await;
    assert!(
        product_type["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "attr-diameter_mm"),
        "{product_type}"
    );

    // Inactive in the PIM: unpublished, not deleted; an older revision changes nothing.
    let mut retired = renamed.clone();
    retired.status = bridge_domain::product::ProductStatus::Inactive;
    shop.publish_product(&retired, Revision::new(12))
        .await
        .unwrap();
    let (status, stored) = world.raw.get("products/key=DRILL-7").await;
    assert_eq!(
        (status, stored["masterData"]["published"].clone()),
        (200, json!(false))
    );
    let late = shop
        .publish_product(&renamed, Revision::new(11))
        .await
        .unwrap();
    assert!(matches!(late, Published::Stale { .. }), "{late:?}");

    // A sku that cannot be a key is found by its sku.
    let odd = pim_product("AB-100/2.x", "Winkel", &[], &[]);
    shop.publish_product(&odd, Revision::new(1)).await.unwrap();
    let again = shop.publish_product(&odd, Revision::new(1)).await.unwrap();
    assert!(
        matches!(again, Published::AlreadyCurrent { .. }),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_category_deleted_in_the_shop_is_made_again_for_the_next_product_of_its_path() {
    let world = world!();
    let shop = world.shop();
    let path = ["Werkzeug", "Sägen"];
    shop.publish_product(&pim_product("SAW-1", "Säge", &path, &[]), Revision::new(1))
        .await
        .unwrap();
    let leaf_key = bridge_commercetools::category_key(&path.map(String::from));
    let (_, leaf) = world.raw.get(&format!("categories/key={leaf_key}")).await;
    let (status, _) = world
        .raw
        .delete(&format!(
            "categories/{}?version={}",
            leaf["id"].as_str().unwrap(),
            leaf["version"]
        ))
        .await;
    assert_eq!(status, 200);

    let published = shop
        .publish_product(
            &pim_product("SAW-2", "Säge 2", &path, &[]),
            Revision::new(1),
        )
        .await
        .unwrap();
    assert!(
        matches!(published, Published::Written { .. }),
        "{published:?}"
    );
    let (status, again) = world.raw.get(&format!("categories/key={leaf_key}")).await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["id"], leaf["id"]);
    let (_, saw) = world.raw.get("products/key=SAW-2").await;
    assert_eq!(
        saw["masterData"]["current"]["categories"][0]["id"],
        again["id"]
    );
}

/// The price table of the price tests, in memory.
#[derive(Default)]
struct PriceTable(std::sync::Mutex<Vec<bridge_domain::PriceChanged>>);

#[async_trait::async_trait]
impl bridge_domain::ports::PriceStore for PriceTable {
    async fn apply_price(
        &self,
        price: &bridge_domain::PriceChanged,
    ) -> Result<bridge_domain::ApplyOutcome, bridge_domain::PortError> {
        let mut all = self.0.lock().unwrap();
        all.retain(|p| {
            !(p.price_list == price.price_list
                && p.sku == price.sku
                && p.validity.start_key() == price.validity.start_key())
        });
        all.push(price.clone());
        Ok(bridge_domain::ApplyOutcome::Applied)
    }
    async fn prices_of(
        &self,
        lists: &[bridge_domain::PriceListId],
        sku: &Sku,
    ) -> Result<Vec<bridge_domain::PriceChanged>, bridge_domain::PortError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|p| &p.sku == sku && lists.contains(&p.price_list))
            .cloned()
            .collect())
    }
    async fn scan_prices(
        &self,
        _: Option<String>,
    ) -> Result<(Vec<bridge_domain::PriceChanged>, Option<String>), bridge_domain::PortError> {
        Ok((self.0.lock().unwrap().clone(), None))
    }
}

fn price_record(
    list: &str,
    sku: &str,
    tiers: &[(&str, &str)],
    window: (
        Option<chrono::DateTime<chrono::Utc>>,
        Option<chrono::DateTime<chrono::Utc>>,
    ),
    deleted: bool,
) -> bridge_domain::PriceChanged {
    use bridge_domain::events::{PricePer, PriceTier, PriceTiers, UnitPrice, ValidityWindow};
    bridge_domain::PriceChanged {
        price_list: bridge_domain::PriceListId::parse(list).unwrap(),
        sku: Sku::parse(sku).unwrap(),
        currency: bridge_domain::Currency::parse("EUR").unwrap(),
        tiers: PriceTiers::new(
            tiers
                .iter()
                .map(|(min, price)| PriceTier {
                    min_qty: Quantity::new(Decimal::from_str(min).unwrap()).unwrap(),
                    unit_price: UnitPrice::new(Decimal::from_str(price).unwrap()).unwrap(),
                })
                .collect(),
        )
        .unwrap(),
        revision: Revision::new(1),
        price_unit: bridge_domain::UnitCode::piece(),
        price_per: PricePer::ONE,
        validity: ValidityWindow::new(window.0, window.1).unwrap(),
        deleted,
    }
}

fn lists_of(ids: &[&str]) -> Vec<bridge_domain::PriceListId> {
    ids.iter()
        .map(|id| bridge_domain::PriceListId::parse(id).unwrap())
        .collect()
}

/// Money as the shop returns it, exactly.
fn amount(money: &serde_json::Value) -> Decimal {
    let digits = money["fractionDigits"].as_u64().unwrap() as u32;
    let units = money["preciseAmount"]
        .as_i64()
        .or_else(|| money["centAmount"].as_i64())
        .unwrap();
    Decimal::new(units, digits)
}

/// The prices the storefront reads (the published copy) of `sku`, per customer group key.
async fn shop_prices(
    world: &support::World,
    sku: &str,
) -> std::collections::BTreeMap<String, Vec<bridge_domain::shop_prices::GroupPrice>> {
    let (_, groups) = world.raw.get("customer-groups?limit=500").await;
    let key_of: std::collections::HashMap<String, String> = groups["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_string(),
                g["key"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let (status, product) = world.raw.get(&format!("products/key={sku}")).await;
    assert_eq!(status, 200, "{product}");
    let date = |v: &serde_json::Value| {
        v.as_str()
            .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap())
    };
    let mut by_group: std::collections::BTreeMap<String, Vec<_>> = Default::default();
    for price in product["masterData"]["current"]["masterVariant"]["prices"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let Some(group) = price["customerGroup"]["id"].as_str() else {
            continue;
        };
        let mut tiers: Vec<(u64, Decimal)> = price["tiers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    t["minimumQuantity"].as_u64().unwrap(),
                    amount(&t["value"]).normalize(),
                )
            })
            .collect();
        tiers.sort();
        by_group.entry(key_of[group].clone()).or_default().push(
            bridge_domain::shop_prices::GroupPrice {
                currency: bridge_domain::Currency::parse(
                    price["value"]["currencyCode"].as_str().unwrap(),
                )
                .unwrap(),
                value: amount(&price["value"]).normalize(),
                tiers,
                valid_from: date(&price["validFrom"]),
                valid_until: date(&price["validUntil"]),
            },
        );
    }
    for prices in by_group.values_mut() {
        prices.sort_by_key(|p| p.valid_from);
    }
    by_group
}

fn normalized(
    mut prices: Vec<bridge_domain::shop_prices::GroupPrice>,
) -> Vec<bridge_domain::shop_prices::GroupPrice> {
    for price in &mut prices {
        // What the shop keeps of a date: milliseconds.
        price.valid_from = price.valid_from.map(bridge_commercetools::to_millis);
        price.valid_until = price.valid_until.map(bridge_commercetools::to_millis);
        price.value = price.value.normalize();
        for tier in &mut price.tiers {
            tier.1 = tier.1.normalize();
        }
    }
    prices.sort_by_key(|p| p.valid_from);
    prices
}

#[tokio::test]
async fn prices_in_the_shop_give_every_customer_group_the_bridges_price_and_only_changes_are_sent()
{
    use bridge_domain::pricing::{PriceResolution, resolve_price};
    use bridge_domain::shop_prices::{
        StoredGroupPrices, group_prices, price_group_key, select_price,
    };
    let world = world!();
    let shop = world.shop();
    let now = chrono::Utc::now();
    let days = |n: i64| now + chrono::Duration::days(n);
    let table = std::sync::Arc::new(PriceTable::default());
    let records = [
        // L1: the catalog list, tiers from 10 and 100, a price rise from day 10.
        price_record(
            "L1",
            "S-1",
            &[("1", "12.50"), ("10", "11.90"), ("100", "10.125")],
            (None, Some(days(10))),
            false,
        ),
        price_record(
            "L1",
            "S-1",
            &[("1", "13.00"), ("10", "12.40")],
            (Some(days(10)), None),
            false,
        ),
        price_record(
            "L1",
            "S-2",
            &[("1", "0.0345"), ("1000", "0.031")],
            (None, None),
            false,
        ),
        price_record("L1", "S-3", &[("1", "99")], (None, None), false),
        // L2: a customer's contract list with a promotion window, ended and deleted records.
        price_record(
            "L2",
            "S-1",
            &[("1", "11.00"), ("50", "10.00")],
            (None, None),
            false,
        ),
        price_record(
            "L2",
            "S-1",
            &[("1", "9.99")],
            (Some(days(3)), Some(days(5))),
            false,
        ),
        price_record(
            "L2",
            "S-2",
            &[("1", "0.03")],
            (Some(days(-20)), Some(days(-10))),
            false,
        ),
        price_record("L2", "S-3", &[("1", "80")], (None, None), true),
        // L3: only from 5 units (no price for one: on request below, the documented gap).
        price_record("L3", "S-3", &[("5", "70")], (None, None), false),
    ];
    for record in &records {
        use bridge_domain::ports::PriceStore;
        table.apply_price(record).await.unwrap();
    }
    let groups = vec![
        lists_of(&["L1"]),
        lists_of(&["L2", "L1"]),
        lists_of(&["L3", "L1"]),
        lists_of(&["L3"]),
    ];
    let source = StoredGroupPrices {
        store: table.clone(),
        groups: groups.clone(),
    };
    let skus = ["S-1", "S-2", "S-3"];
    for sku in skus {
        shop.publish_product(&pim_product(sku, sku, &[], &[]), Revision::new(1))
            .await
            .unwrap();
    }
    // A sku the shop has no product of: nothing written, it comes with the product.
    let absent = shop
        .publish_prices(&Sku::parse("S-404").unwrap(), &source)
        .await
        .unwrap();
    assert!(matches!(absent, Published::Absent { .. }), "{absent:?}");
    for sku in skus {
        let published = shop
            .publish_prices(&Sku::parse(sku).unwrap(), &source)
            .await
            .unwrap();
        assert!(
            matches!(published, Published::Written { .. }),
            "{sku}: {published:?}"
        );
    }

    // What the shop holds is what the mapping says, read back from the published copy.
    let table_now = table.0.lock().unwrap().clone();
    let mut compared = 0u32;
    let mut gaps = std::collections::BTreeSet::new();
    for sku in skus {
        let held = shop_prices(&world, sku).await;
        let parsed = Sku::parse(sku).unwrap();
        for lists in &groups {
            let key = price_group_key(lists).unwrap();
            let wanted = normalized(group_prices(lists, &table_now, &parsed, now));
            let stored = held.get(&key).cloned().unwrap_or_default();
            assert_eq!(stored, wanted, "{sku} in {lists:?}");
            // And commercetools' selection over it gives the bridge's price.
            let mut moments = vec![now + chrono::Duration::minutes(1)];
            for day in [3, 5, 10] {
                moments.push(days(day) - chrono::Duration::seconds(1));
                moments.push(days(day));
            }
            for at in moments {
                for quantity in [1u64, 2, 5, 9, 10, 11, 49, 50, 99, 100, 101, 999, 1000, 1001] {
                    let shop_price = select_price(
                        &stored,
                        bridge_domain::Currency::parse("EUR").unwrap(),
                        quantity,
                        at,
                    )
                    .unwrap();
                    let bridge = resolve_price(
                        lists,
                        &table_now,
                        &parsed,
                        Quantity::new(Decimal::from(quantity)).unwrap(),
                        at,
                    );
                    match (shop_price, bridge) {
                        (Some(shop), PriceResolution::Priced(price)) => {
                            assert_eq!(
                                shop.normalize(),
                                price.unit_price.normalize(),
                                "{sku} {lists:?} x{quantity} at {at}"
                            );
                            compared += 1;
                        }
                        (None, PriceResolution::OnRequest { .. }) => compared += 1,
                        (None, PriceResolution::Priced(_)) => {
                            gaps.insert((sku, format!("{lists:?}"), quantity));
                        }
                        (Some(shop), other) => {
                            panic!(
                                "{sku} {lists:?} x{quantity} at {at}: shop {shop}, bridge {other:?}"
                            )
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 500, "{compared}");
    // Only where L3 alone prices S-3 from 5 units: the shop cannot hold a price that starts
    // above one unit (documented; the bridge's checks price such an order).
    let gap_groups: std::collections::BTreeSet<_> = gaps
        .iter()
        .map(|(sku, lists, _)| (*sku, lists.clone()))
        .collect();
    assert_eq!(
        gap_groups,
        std::collections::BTreeSet::from([("S-3", r#"[PriceListId("L3")]"#.to_string())]),
        "{gaps:?}"
    );
    assert!(
        gaps.iter().all(|(_, _, quantity)| *quantity >= 5),
        "{gaps:?}"
    );

    // Published again: one read, nothing written.
    world.proxy.take_api_requests();
    let again = shop
        .publish_prices(&Sku::parse("S-1").unwrap(), &source)
        .await
        .unwrap();
    assert_eq!(again, Published::AlreadyCurrent { requests: 1 });

    // L2's promotion for S-1 changes: one update replacing that price in the one group
    // holding L2; the other groups' prices and a merchant's own price stay.
    world
        .raw
        .edit(
            "products/key=S-1",
            json!([{"action": "addPrice", "sku": "S-1", "staged": false,
                    "price": {"value": {"currencyCode": "EUR", "centAmount": 1999}}}]),
        )
        .await;
    {
        use bridge_domain::ports::PriceStore;
        table
            .apply_price(&price_record(
                "L2",
                "S-1",
                &[("1", "9.49")],
                (Some(days(3)), Some(days(5))),
                false,
            ))
            .await
            .unwrap();
    }
    world.proxy.take_api_requests();
    let changed = shop
        .publish_prices(&Sku::parse("S-1").unwrap(), &source)
        .await
        .unwrap();
    assert_eq!(changed, Published::Written { requests: 2 });
    let requests = world.proxy.take_api_requests();
    let actions = requests[1].body["actions"].as_array().unwrap().clone();
    let kinds: Vec<&str> = actions
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["removePrice", "addPrice"], "{actions:?}");
    assert_eq!(actions[1]["price"]["value"]["centAmount"], 949);
    let held = shop_prices(&world, "S-1").await;
    let promotion = &held[&price_group_key(&lists_of(&["L2", "L1"])).unwrap()];
    assert!(
        promotion
            .iter()
            .any(|p| p.value == Decimal::from_str("9.49").unwrap())
    );
    let (_, product) = world.raw.get("products/key=S-1").await;
    let own = product["masterData"]["current"]["masterVariant"]["prices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["customerGroup"].is_null())
        .count();
    assert_eq!(own, 1, "the merchant's own price stays");

    // A merchant edits the product between the bridge's read and its write (409): read
    // again, the table read again, written once.
    {
        use bridge_domain::ports::PriceStore;
        table
            .apply_price(&price_record(
                "L1",
                "S-2",
                &[("1", "0.0355"), ("1000", "0.031")],
                (None, None),
                false,
            ))
            .await
            .unwrap();
    }
    world.proxy.on(
        Method::POST,
        update_of("products"),
        1,
        Fault::ConcurrentEdit {
            actions: json!([{"action": "setDescription", "description": {"en": "by hand"}, "staged": false}]),
        },
    );
    world.proxy.take_api_requests();
    let raced = shop
        .publish_prices(&Sku::parse("S-2").unwrap(), &source)
        .await
        .unwrap();
    let statuses: Vec<_> = world
        .proxy
        .take_api_requests()
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("GET".to_string(), 200),
            ("POST".to_string(), 409),
            ("GET".to_string(), 200),
            ("POST".to_string(), 200)
        ]
    );
    assert_eq!(raced, Published::Written { requests: 4 });
    let held = shop_prices(&world, "S-2").await;
    assert!(
        held[&price_group_key(&lists_of(&["L1"])).unwrap()]
            .iter()
            .any(|p| p.value == Decimal::from_str("0.0355").unwrap()),
        "{held:?}"
    );
}

#[tokio::test]
async fn a_customer_is_put_into_the_group_of_its_price_lists() {
    let world = world!();
    let shop = world.shop();
    let mut wanted = customer("C-PL-1", "ACME", false, 1);
    wanted.price_lists = lists_of(&["L2", "L1"]);
    shop.publish_customer(&wanted).await.unwrap();
    let key = bridge_domain::shop_prices::price_group_key(&wanted.price_lists).unwrap();
    let (status, group) = world.raw.get(&format!("customer-groups/key={key}")).await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["name"], "Price lists L2, L1");
    let (_, stored) = world.raw.get("customers/key=C-PL-1").await;
    assert_eq!(stored["customerGroup"]["id"], group["id"], "{stored}");

    // Other lists: the other group.
    wanted.price_lists = lists_of(&["L1"]);
    wanted.revision = Revision::new(2);
    shop.publish_customer(&wanted).await.unwrap();
    let other = bridge_domain::shop_prices::price_group_key(&wanted.price_lists).unwrap();
    let (_, group) = world.raw.get(&format!("customer-groups/key={other}")).await;
    let (_, stored) = world.raw.get("customers/key=C-PL-1").await;
    assert_eq!(stored["customerGroup"]["id"], group["id"], "{stored}");
}

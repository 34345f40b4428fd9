//! The demo scenario of `bridgectl dev --demo`: signed webhooks through the running local
//! stack, including a duplicate, an out-of-order revision and invalid ones, then what
//! landed where. Every expectation is checked: the demo fails if the slice does not work.

use crate::dev::{LocalStack, queue_depth};
use crate::read::{self, Tables};
use bridge_contract::{SigningSecret, sign};
use bridge_domain::Source;
use bridge_domain::pricing::PriceResolution;
use serde_json::{Value, json};
use std::time::Duration;

/// One webhook delivery and its answer.
pub struct Delivery {
    pub label: &'static str,
    pub status: u16,
    pub body: String,
    pub expected: u16,
}

/// Signs and posts one event; `tamper` breaks the signature after signing.
pub async fn post(
    http: &reqwest::Client,
    stack: &LocalStack,
    source: Source,
    webhook_id: &str,
    event: &Value,
    tamper: bool,
) -> anyhow::Result<(u16, String)> {
    let secret = SigningSecret::parse(&stack.info.signing_secrets[source.as_str()][0])?;
    let body = event.to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let mut signature = sign(&secret, webhook_id, timestamp, body.as_bytes());
    if tamper {
        signature = signature.replace("v1,", "v1,AAAA");
    }
    let response = http
        .post(stack.webhook_url(&source))
        .header("content-type", "application/json")
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// `ok ` or `BAD` for a line of the demo's output; a `BAD` fails the demo.
fn verdict(good: bool, ok: &mut bool) -> &'static str {
    *ok &= good;
    if good { "ok " } else { "BAD" }
}

fn event(kind: &str, data: Value) -> Value {
    json!({"type": kind, "timestamp": chrono::Utc::now().to_rfc3339(), "data": data})
}

fn stock(revision: u64, available: &str) -> Value {
    event(
        "stock.changed",
        json!({"sku": "SKU-100", "warehouse": "W1", "available": available, "revision": revision}),
    )
}

/// Runs the scenario and prints it; `Ok(false)` when an expectation failed.
pub async fn run(stack: &LocalStack) -> anyhow::Result<bool> {
    let http = reqwest::Client::new();
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let id = |n: &str| format!("msg_{run_id}_{n}");
    let customer = event(
        "customer.changed",
        json!({"customer_id": "C-100", "name": "Muster Maschinenbau GmbH", "revision": 1,
               "credit_limit": {"amount": "50000.00", "currency": "EUR"},
               "open_items": {"amount": "1250.00", "currency": "EUR"},
               "payment_terms": "30 days net", "delivery_terms": {"incoterm": "DAP", "place": "Köln"},
               "price_lists": ["CONTRACT-100", "BASE"], "cost_centers": ["CC-10"],
               "approval_rules": [{"above": {"amount": "10000", "currency": "EUR"}, "role": "purchasing_manager"}]}),
    );
    let base_price = event(
        "price.changed",
        json!({"price_list": "BASE", "sku": "SKU-100", "currency": "EUR", "revision": 1,
               "tiers": [{"min_qty": 1, "unit_price": "12.00"}]}),
    );
    let contract_price = event(
        "price.changed",
        json!({"price_list": "CONTRACT-100", "sku": "SKU-100", "currency": "EUR", "revision": 1,
               "tiers": [{"min_qty": 1, "unit_price": "10.50"}, {"min_qty": 10, "unit_price": "9.80"},
                         {"min_qty": 100, "unit_price": "9.10"}]}),
    );
    let invalid = event(
        "stock.changed",
        json!({"sku": "SKU-100", "warehouse": "W1", "available": "-5", "revision": 8}),
    );
    let plan: Vec<(&'static str, String, Value, bool, u16)> = vec![
        (
            "customer C-100 (rev 1)",
            id("customer"),
            customer,
            false,
            202,
        ),
        (
            "price BASE/SKU-100 (rev 1)",
            id("base"),
            base_price,
            false,
            202,
        ),
        (
            "price CONTRACT-100/SKU-100 (rev 1)",
            id("contract"),
            contract_price,
            false,
            202,
        ),
        (
            "stock SKU-100@W1 = 120 (rev 5)",
            id("stock5"),
            stock(5, "120"),
            false,
            202,
        ),
        (
            "stock SKU-100@W1 = 80 (rev 7)",
            id("stock7"),
            stock(7, "80"),
            false,
            202,
        ),
        (
            "stock SKU-100@W1 = 95 (rev 6, out of order)",
            id("stock6"),
            stock(6, "95"),
            false,
            202,
        ),
        (
            "the rev 7 webhook again (redelivery)",
            id("stock7"),
            stock(7, "80"),
            false,
            200,
        ),
        (
            "stock with a negative quantity",
            id("invalid"),
            invalid,
            false,
            400,
        ),
        (
            "stock with a tampered signature",
            id("tampered"),
            stock(9, "1"),
            true,
            401,
        ),
    ];
    println!("== webhooks posted to {}", stack.info.webhook_url);
    let mut ok = true;
    let mut sent = Vec::new();
    for (label, webhook_id, body, tamper, expected) in plan {
        // Keep the stable body of a redelivery identical to the first one.
        let body = sent
            .iter()
            .find(|(id, _): &&(String, Value)| *id == webhook_id)
            .map(|(_, b)| b.clone())
            .unwrap_or(body);
        let (status, answer) =
            post(&http, stack, Source::erp(), &webhook_id, &body, tamper).await?;
        let mark = verdict(status == expected, &mut ok);
        println!("{mark} {status} {label:<45} {answer}");
        sent.push((webhook_id, body));
    }

    stack
        .drain(
            &["StockPriceQueue", "CustomerQueue"],
            Duration::from_secs(60),
        )
        .await?;
    let client = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let tables = Tables::new(
        client,
        stack.info.table("StockTable").unwrap_or_default(),
        stack.info.table("PriceTable").unwrap_or_default(),
        stack.info.table("CustomerTable").unwrap_or_default(),
    );

    println!(
        "\n== stock table ({})",
        stack.info.table("StockTable").unwrap_or_default()
    );
    let levels = read::stock(&tables, "SKU-100").await?;
    print!("{}", read::stock_text("SKU-100", &levels));
    let kept_seven = levels.len() == 1
        && levels[0].revision.value() == 7
        && levels[0].available.to_string() == "80";
    if !kept_seven {
        ok = false;
        println!("BAD expected revision 7 with 80 available");
    }

    println!(
        "\n== the shop ({}/{}): SKU-100 as the storefront reads it",
        stack.shop_settings.api_url, stack.shop_settings.project_key
    );
    let (arrived, entries) = crate::shop::inventory_until(
        &stack.shop_settings,
        "SKU-100",
        Duration::from_secs(20),
        |entries| {
            entries.len() == 1
                && entries[0]["quantityOnStock"] == 80
                && entries[0]["custom"]["fields"]["bridgeRevision"] == 7
        },
    )
    .await?;
    for entry in &entries {
        println!(
            "inventory entry: sku {} quantityOnStock {} bridgeRevision {}",
            entry["sku"], entry["quantityOnStock"], entry["custom"]["fields"]["bridgeRevision"]
        );
    }
    if !arrived {
        ok = false;
        println!("BAD expected 80 on stock at revision 7 in the shop");
    }

    println!(
        "\n== customer table ({})",
        stack.info.table("CustomerTable").unwrap_or_default()
    );
    print!(
        "{}",
        read::customer_text(&read::customer(&tables, "C-100").await?)
    );

    let at = chrono::Utc::now();
    println!("\n== bridgectl price --customer C-100 --sku SKU-100 --qty 12");
    let answer = read::price(&tables, "C-100", "SKU-100", "12", at).await?;
    print!("{}", answer.text());
    if !matches!(&answer.resolution, PriceResolution::Priced(p) if p.unit_price.to_string() == "9.80" && p.price_list.as_str() == "CONTRACT-100")
    {
        ok = false;
        println!("BAD expected 9.80 EUR from CONTRACT-100");
    }
    println!("\n== bridgectl price --customer C-100 --sku SKU-999 --qty 1");
    let answer = read::price(&tables, "C-100", "SKU-999", "1", at).await?;
    print!("{}", answer.text());
    if !matches!(answer.resolution, PriceResolution::OnRequest { .. }) {
        ok = false;
        println!("BAD expected price on request");
    }

    if let Some(api) = &stack.info.shop_api {
        println!(
            "\n== the shop read API at {}/v1 (what a cart page asks)",
            api.url
        );
        ok &= shop_api_demo(api, &http, &tables, at).await?;
    }

    println!(
        "\n== orders from the shop: one plain, one over the credit limit, one needing an approval"
    );
    ok &= orders_demo(stack, &http, &run_id).await?;

    println!(
        "\n== a checkout in the shop: its OrderCreated message (delivered twice) to the ERP and back"
    );
    ok &= shop_order_demo(stack, &http, &run_id).await?;

    println!("\n== PIM import: bridgectl import demo-catalog.csv (2 bad rows, 1 repeat)");
    let imported = import_demo(stack).await?;
    ok &= imported;
    if imported {
        println!(
            "\n== prices in the shop: C-100's price of DRILL-007, then a price change by webhook"
        );
        ok &= shop_price_demo(stack, &http, &run_id).await?;
    }

    if stack.erp.is_some() {
        println!("\n== ERP without webhooks: bridgectl sync pull, then a snapshot with drift");
        ok &= erp_sync_demo(stack, &http, &run_id).await?;
    }

    println!("\n== queues");
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    for (logical, queue) in &stack.info.stack.queues {
        println!(
            "{:<28} {} messages",
            logical,
            queue_depth(&sqs, &queue.url).await?
        );
    }
    println!(
        "\nfunction logs: .local/functions.log   metrics (EMF): .local/metrics.log   stack: .local/stack.json"
    );
    println!(
        "{}",
        if ok {
            "demo: every expectation held"
        } else {
            "demo: SOME EXPECTATIONS FAILED"
        }
    );
    Ok(ok)
}

/// Imports a small CSV with some bad rows through the inbox and prints its report.
async fn import_demo(stack: &LocalStack) -> anyhow::Result<bool> {
    let mut csv = String::from(
        "sku;gtin;name.de-DE;name.en;brand;category;unit;weight_kg;status;attr.color\r\n",
    );
    for n in 1..=12 {
        csv.push_str(&format!(
            "DRILL-{n:03};{};Bohrer {n} mm;Drill {n} mm;Muster;Werkzeug > Bohrer;C62;0,{n:02};active;silber\r\n",
            bridge_domain::product::Gtin::gtin13(400_819_014_300 + n)
        ));
    }
    csv.push_str("DRILL-013;4008190143641;Bohrer 13 mm;Drill 13 mm;Muster;Werkzeug > Bohrer;C62;0,13;active;silber\r\n");
    csv.push_str("DRILL-014;;;;Muster;Werkzeug > Bohrer;C62;0,14;active;silber\r\n");
    csv.push_str(&format!(
        "DRILL-001;{};Bohrer 1 mm;Drill 1 mm;Muster;Werkzeug > Bohrer;C62;0,01;active;silber\r\n",
        bridge_domain::product::Gtin::gtin13(400_819_014_301)
    ));
    let local = std::env::current_dir()?.join(".local");
    std::fs::create_dir_all(&local)?;
    let path = local.join("demo-catalog.csv");
    std::fs::write(&path, csv)?;
    let catalog = crate::catalog::Catalog {
        products: std::sync::Arc::new(bridge_aws::DynamoCatalogStore::new(
            aws_sdk_dynamodb::Client::new(&stack.sdk),
            stack.info.table("ProductTable").unwrap_or_default(),
        )),
        ledger: std::sync::Arc::new(bridge_aws::DynamoImportLedger::new(
            aws_sdk_dynamodb::Client::new(&stack.sdk),
            stack.info.table("ImportTable").unwrap_or_default(),
        )),
        files: std::sync::Arc::new(bridge_aws::S3FileStore::new(
            bridge_aws::s3_client(&stack.sdk),
            stack
                .info
                .stack
                .buckets
                .get("CatalogBucket")
                .cloned()
                .unwrap_or_default(),
        )),
    };
    let report =
        crate::catalog::upload_and_wait(&catalog, &path, false, Duration::from_secs(120), |line| {
            println!("   {line}")
        })
        .await?;
    print!("{}", crate::catalog::report_text(&report, 20));
    let c = &report.counts;
    let expected = report.status == bridge_domain::ports::ImportStatus::Applied
        && c.created == 12
        && c.rejected == 2
        && c.duplicates == 1;
    if !expected {
        println!("BAD expected 12 created, 2 rejected, 1 repeat");
    }
    println!("\n== bridgectl product DRILL-007");
    let product = crate::catalog::product(&catalog, "DRILL-007").await?;
    print!("{}", crate::catalog::product_text(&product));
    println!("\n== the shop: DRILL-007 as the storefront reads it");
    let (arrived, shown) = crate::shop::until(
        &stack.shop_settings,
        "products/key=DRILL-007",
        Duration::from_secs(30),
        |p| p["masterData"]["published"] == true,
    )
    .await;
    let shown = shown.unwrap_or_default();
    let current = &shown["masterData"]["current"];
    println!(
        "product DRILL-007: published {} name {} categories {} images {}",
        shown["masterData"]["published"],
        current["name"],
        current["categories"].as_array().map_or(0, Vec::len),
        current["masterVariant"]["images"]
            .as_array()
            .map_or(0, Vec::len)
    );
    if !arrived || current["name"]["de-DE"] != "Bohrer 7 mm" {
        println!("BAD expected DRILL-007 published in the shop as Bohrer 7 mm");
        return Ok(false);
    }
    Ok(expected)
}

/// The ERP's prices of DRILL-007 (published by the import) by webhook, then a change of its
/// contract price: each shown as C-100's customer group gets it in the shop (the group of
/// its lists, CONTRACT-100 before BASE), timed from the webhook.
async fn shop_price_demo(
    stack: &LocalStack,
    http: &reqwest::Client,
    run_id: &str,
) -> anyhow::Result<bool> {
    let lists = ["CONTRACT-100", "BASE"].map(|l| bridge_domain::PriceListId::parse(l).unwrap());
    let group = bridge_domain::shop_prices::price_group_key(&lists).unwrap_or_default();
    let price = |list: &str, revision: u64, tiers: Value| {
        event(
            "price.changed",
            json!({"price_list": list, "sku": "DRILL-007", "currency": "EUR",
                   "revision": revision, "tiers": tiers}),
        )
    };
    let steps = [
        (
            "BASE/DRILL-007 = 4.20 (rev 1)",
            "dbase1",
            price("BASE", 1, json!([{"min_qty": 1, "unit_price": "4.20"}])),
            None,
        ),
        (
            "CONTRACT-100/DRILL-007 = 3.90, from 10: 3.60 (rev 1)",
            "dcontract1",
            price(
                "CONTRACT-100",
                1,
                json!([{"min_qty": 1, "unit_price": "3.90"}, {"min_qty": 10, "unit_price": "3.60"}]),
            ),
            Some(390),
        ),
        (
            "CONTRACT-100/DRILL-007 = 3.75, from 10: 3.50 (rev 2)",
            "dcontract2",
            price(
                "CONTRACT-100",
                2,
                json!([{"min_qty": 1, "unit_price": "3.75"}, {"min_qty": 10, "unit_price": "3.50"}]),
            ),
            Some(375),
        ),
    ];
    let mut ok = true;
    for (label, id, body, expected) in steps {
        let posted = std::time::Instant::now();
        let (status, _) = post(
            http,
            stack,
            Source::erp(),
            &format!("msg_{run_id}_{id}"),
            &body,
            false,
        )
        .await?;
        println!("{status} {label}");
        let Some(cents) = expected else { continue };
        let (arrived, prices) = crate::shop::group_price_until(
            &stack.shop_settings,
            "DRILL-007",
            &group,
            Duration::from_secs(30),
            |price| price["value"]["centAmount"] == cents,
        )
        .await?;
        let shown: Vec<String> = prices
            .iter()
            .map(|p| {
                let tiers: Vec<String> = p["tiers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|t| {
                        format!(
                            "from {}: {}",
                            t["minimumQuantity"], t["value"]["centAmount"]
                        )
                    })
                    .collect();
                format!("{} cents [{}]", p["value"]["centAmount"], tiers.join(", "))
            })
            .collect();
        if arrived {
            println!(
                "ok  in the shop for group {group} after {:.1} s: {}",
                posted.elapsed().as_secs_f64(),
                shown.join("; ")
            );
        } else {
            ok = false;
            println!("BAD expected {cents} cents for group {group} in the shop, found {shown:?}");
        }
    }
    Ok(ok)
}

/// Orders through the writeback to the ERP (the bundled simulator unless ERP_BASE_URL).
async fn orders_demo(
    stack: &LocalStack,
    http: &reqwest::Client,
    run_id: &str,
) -> anyhow::Result<bool> {
    let mut ok = true;
    if std::env::var("ERP_CONNECTOR").as_deref() == Ok("opentrans") {
        println!(
            "(the ERP takes openTRANS documents: each order goes to erp/outbox/orders/ as an ORDER; the EDI converter stand-in hands it to the ERP and drops its ORDERRESPONSE into erp/inbox/)"
        );
    }
    let order = |id: &str, qty: u32, price: &str, approved: bool| {
        let mut data = json!({"order_id": id, "customer_id": "C-100", "currency": "EUR",
            "placed_at": chrono::Utc::now().to_rfc3339(), "po_number": format!("PO-{id}"), "cost_center": "CC-10",
            "lines": [{"line": 1, "sku": "SKU-100", "quantity": qty, "unit_price": price}]});
        if approved {
            data["approvals"] = json!([{"role": "purchasing_manager", "user_id": "u-3"}]);
        }
        event("order.placed", data)
    };
    // The CRM says who may approve for C-100 (contract section 9): approvals count only
    // from an active contact of the customer holding the role.
    let contact = event(
        "contact.changed",
        json!({"contact_id": "u-3", "customer_id": "C-100", "revision": 1, "name": "Petra Schmidt",
               "email": "einkauf@muster.example", "roles": ["buyer", "purchasing_manager"], "active": true}),
    );
    let crm = Source::parse("crm").expect("a source name");
    let (code, _) = post(
        http,
        stack,
        crm,
        &format!("msg_{run_id}_contact"),
        &contact,
        false,
    )
    .await?;
    ok &= code == 202;
    stack
        .drain(&["CustomerQueue"], Duration::from_secs(60))
        .await?;
    let ids = [
        format!("SO-{run_id}-1"),
        format!("SO-{run_id}-2"),
        format!("SO-{run_id}-3"),
    ];
    let plan = [
        (
            &ids[0],
            order(&ids[0], 12, "9.80", false),
            "plain: 117.60 EUR",
        ),
        (
            &ids[1],
            order(&ids[1], 6000, "9.10", true),
            "54,600 EUR: above the 50,000 credit limit",
        ),
        (
            &ids[2],
            order(&ids[2], 2000, "9.10", false),
            "18,200 EUR: above 10,000 without approval",
        ),
    ];
    for (id, body, label) in &plan {
        let (status, answer) = post(
            http,
            stack,
            Source::shop(),
            &format!("msg_{id}"),
            body,
            false,
        )
        .await?;
        let mark = verdict(status == 202, &mut ok);
        println!("{mark} {status} {id:<18} {label:<45} {answer}");
    }
    stack
        .drain(&["OrderPlacedQueue"], Duration::from_secs(60))
        .await?;
    let store = bridge_aws::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.info.table("OrderTable").unwrap_or_default(),
    );
    let Some(number) = erp_number(&store, &ids[0]).await? else {
        return Ok(false);
    };
    // The ERP confirms: its status webhook comes in (an ERP that takes documents confirmed
    // with its ORDERRESPONSE already: the same news again changes nothing).
    let status = event(
        "order.status_changed",
        json!({"order_id": ids[0], "status": "confirmed", "revision": status_revision(), "erp_order_number": number}),
    );
    let (code, _) = post(
        http,
        stack,
        Source::erp(),
        &format!("msg_{}_confirmed", ids[0]),
        &status,
        false,
    )
    .await?;
    ok &= code == 202;
    // The warehouse ships it in two parcels. The 3PL announces the second (5 pieces) as an
    // openTRANS DISPATCHNOTIFICATION dropped into logistics/inbox/; the carrier's news of
    // the first comes by webhook, out of order (delivered before dispatched news).
    let notification_id = format!("DN-{run_id}");
    // The carrier's later updates of a shipment a document announced carry the
    // document's id and a revision above its generation time in ms (its revision).
    let generated = chrono::Utc::now() - chrono::Duration::seconds(5);
    let file = erp_simulator::documents::dispatch_notification(
        &notification_id,
        &generated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "DHL Freight",
        &format!("JJD{run_id}P2"),
        &[erp_simulator::documents::DispatchedItem {
            order_id: &ids[0],
            line: "1",
            sku: "SKU-100",
            quantity: "5",
        }],
    );
    let bucket = stack
        .info
        .stack
        .buckets
        .get("CatalogBucket")
        .cloned()
        .unwrap_or_default();
    let key = format!("logistics/inbox/{notification_id}.xml");
    let s3 = aws_sdk_s3::Client::new(&stack.sdk);
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(file.into())
        .send()
        .await?;
    stack
        .drain(
            &["DocumentQueue", "OrderStatusQueue"],
            Duration::from_secs(60),
        )
        .await?;
    // One report per version of a file.
    let report_key = match put.version_id() {
        Some(version) => format!("logistics/reports/{notification_id}.xml@{version}.json"),
        None => format!("logistics/reports/{notification_id}.xml.json"),
    };
    let report: Value = match s3
        .get_object()
        .bucket(&bucket)
        .key(&report_key)
        .send()
        .await
    {
        Ok(object) => serde_json::from_slice(&object.body.collect().await?.into_bytes())?,
        Err(e) => {
            println!("BAD no report at {report_key}: {e}");
            return Ok(false);
        }
    };
    let mark = verdict(
        report["status"] == "processed" && report["counts"]["queued"] == 1,
        &mut ok,
    );
    println!(
        "{mark} {key}: {} ({} queued), report {report_key}",
        report["status"].as_str().unwrap_or("?"),
        report["counts"]["queued"]
    );
    let logistics = Source::parse("logistics").expect("a source name");
    let news = [
        json!({"shipment_id": format!("{}-P1", ids[0]), "order_id": ids[0], "status": "delivered",
               "revision": 2, "carrier": "DHL", "tracking_code": format!("JJD{run_id}P1"),
               "lines": [{"line": 1, "quantity": 7}]}),
        json!({"shipment_id": notification_id, "order_id": ids[0], "status": "delivered",
               "revision": chrono::Utc::now().timestamp_millis(), "carrier": "DHL Freight",
               "tracking_code": format!("JJD{run_id}P2"), "lines": []}),
    ];
    for (n, data) in news.into_iter().enumerate() {
        let (code, _) = post(
            http,
            stack,
            logistics.clone(),
            &format!("msg_{}_parcel_{n}", ids[0]),
            &event("shipment.updated", data),
            false,
        )
        .await?;
        ok &= code == 202;
    }
    stack
        .drain(&["OrderStatusQueue"], Duration::from_secs(60))
        .await?;
    let expected = [
        ("confirmed", "delivered"),
        ("held", "unshipped"),
        ("held", "unshipped"),
    ];
    for (id, (want, shipped)) in ids.iter().zip(expected) {
        println!("\n== bridgectl order {id}");
        let stored = crate::orders::order(&store, id).await?;
        print!("{}", crate::orders::text(&stored));
        if stored.state.name() != want {
            ok = false;
            println!("BAD expected {want}");
        }
        let fulfilment = bridge_domain::shipments::fulfilment(&stored.order, &stored.shipments);
        if fulfilment.as_str() != shipped {
            ok = false;
            println!(
                "BAD expected fulfilment {shipped}, is {}",
                fulfilment.as_str()
            );
        }
    }
    if let Some(erp) = &stack.erp {
        let orders: serde_json::Value = http
            .get(format!("{}/_admin/orders", erp.base_url))
            .send()
            .await?
            .json()
            .await?;
        let count = orders["orders"]
            .as_array()
            .map(|o| {
                o.iter()
                    .filter(|o| o["external_reference"] == ids[0].as_str())
                    .count()
            })
            .unwrap_or(0);
        println!(
            "\nERP simulator ({}) holds {} order(s) for {}",
            erp.base_url, count, ids[0]
        );
        ok &= count == 1;
    }
    ok &= return_and_payment_demo(stack, http, run_id, &ids[0]).await?;
    Ok(ok)
}

/// The delivered order comes back in part (a return to the ERP, exactly once) and its
/// invoice is paid (the payment to the ERP, counted in the open items at once); then
/// `bridgectl return` and `bridgectl customer` show both.
async fn return_and_payment_demo(
    stack: &LocalStack,
    http: &reqwest::Client,
    run_id: &str,
    order_id: &str,
) -> anyhow::Result<bool> {
    use bridge_domain::feedback::{PaymentReceived, PostingState, ReturnRequested};
    use bridge_domain::ports::PostingStore;
    let mut ok = true;
    let return_id = format!("RMA-{run_id}");
    let payment_id = format!("PAY-{run_id}");
    let tables = crate::read::Tables::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.info.table("StockTable").unwrap_or_default(),
        stack.info.table("PriceTable").unwrap_or_default(),
        stack.info.table("CustomerTable").unwrap_or_default(),
    );
    let open_before = crate::read::customer(&tables, "C-100").await?.open_items;
    let sent = [
        (
            Source::shop(),
            "return.requested",
            json!({"return_id": return_id, "order_id": order_id, "revision": 1,
                   "lines": [{"line": 1, "sku": "SKU-100", "quantity": 2, "reason": "damaged in transit"}]}),
            "return 2 of 12 delivered",
        ),
        (
            Source::parse("psp").expect("a source name"),
            "payment.received",
            json!({"payment_id": payment_id, "customer_id": "C-100", "amount": {"amount": "117.60", "currency": "EUR"},
                   "received_at": chrono::Utc::now().to_rfc3339(), "invoices": [format!("RE-{run_id}")]}),
            "the invoice paid: 117.60 EUR",
        ),
    ];
    for (source, kind, data, label) in sent {
        // Twice, as a sender retrying after a timeout would: the ERP gets each once.
        for attempt in 0..2 {
            let (status, answer) = post(
                http,
                stack,
                source.clone(),
                &format!("msg_{run_id}_{kind}_{attempt}"),
                &event(kind, data.clone()),
                false,
            )
            .await?;
            let mark = verdict(status == 202, &mut ok);
            println!("{mark} {status} {kind:<20} {label:<35} {answer}");
        }
    }
    stack
        .drain(&["ReturnQueue", "PaymentQueue"], Duration::from_secs(60))
        .await?;
    let client = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let postings = stack.info.table("PostingTable").unwrap_or_default();
    let returns: bridge_aws::DynamoPostingStore<ReturnRequested> =
        bridge_aws::DynamoPostingStore::new(client.clone(), postings);
    println!("\n== bridgectl return {return_id}");
    match returns.get(&return_id).await? {
        Some(posting) => {
            print!("{}", crate::postings::return_text(&posting));
            if !matches!(posting.state, PostingState::Accepted { .. }) {
                ok = false;
                println!("BAD expected accepted by the ERP");
            }
        }
        None => {
            ok = false;
            println!("BAD the return is not stored");
        }
    }
    println!("\n== bridgectl customer C-100");
    let payments: bridge_aws::DynamoPostingStore<PaymentReceived> =
        bridge_aws::DynamoPostingStore::new(client.clone(), postings);
    let contacts = bridge_aws::DynamoContactStore::new(
        client,
        stack.info.table("ContactTable").unwrap_or_default(),
    );
    let customer = crate::read::customer(&tables, "C-100").await?;
    let view = crate::postings::CustomerView::read(customer, &contacts, &payments).await?;
    print!("{}", view.text());
    let counted = view
        .payments
        .iter()
        .any(|p| p.request.payment_id.as_str() == payment_id && p.counted && p.number().is_some());
    let expected_open = open_before.map(|m| m.amount - rust_decimal::Decimal::new(11760, 2));
    if !counted || view.customer.open_items.map(|m| m.amount) != expected_open {
        ok = false;
        println!("BAD expected the payment accepted and counted once in the open items");
    }
    if !view.contacts.iter().any(|c| c.contact_id.as_str() == "u-3") {
        ok = false;
        println!("BAD expected the CRM's contact u-3");
    }
    if let Some(erp) = &stack.erp {
        let booked: Value = http
            .get(format!("{}/_admin/orders", erp.base_url))
            .send()
            .await?
            .json()
            .await?;
        let count = |book: &str, reference: &str| {
            booked[book]
                .as_array()
                .map(|b| {
                    b.iter()
                        .filter(|r| r["external_reference"] == reference)
                        .count()
                })
                .unwrap_or(0)
        };
        let (returns, payments) = (count("returns", &return_id), count("payments", &payment_id));
        println!(
            "\nERP simulator holds {returns} return(s) {return_id} and {payments} payment(s) {payment_id}"
        );
        ok &= returns == 1 && payments == 1;
    }
    Ok(ok)
}

/// The revision of an ERP status the demo sends: the time in ms, above the revision of an
/// ORDERRESPONSE (its generation time in ms) when the ERP takes documents.
fn status_revision() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The ERP's number of an order once the ERP has it: at once from a REST ERP, from its
/// ORDERRESPONSE (through the EDI converter, the bucket and the document inbox) from an ERP
/// that takes documents. `None` (printed) when it does not come within 60 s.
async fn erp_number(
    store: &bridge_aws::DynamoOrderStore,
    id: &str,
) -> anyhow::Result<Option<String>> {
    use bridge_domain::orders::OrderState;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stored = crate::orders::order(store, id).await?;
        match &stored.state {
            OrderState::Accepted { erp_order_number }
            | OrderState::Erp {
                erp_order_number: Some(erp_order_number),
                ..
            } => return Ok(Some(erp_order_number.clone())),
            OrderState::Submitted if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            other => {
                println!(
                    "BAD {id} should be accepted by the ERP, is {}",
                    other.name()
                );
                return Ok(None);
            }
        }
    }
}

/// An order checked out in the shop (the emulator makes it from a cart), its `OrderCreated`
/// notification put on `ShopOrderQueue` twice as a Subscription may deliver it, then the
/// ERP's answer and its shipment back on the shop's order.
async fn shop_order_demo(
    stack: &LocalStack,
    http: &reqwest::Client,
    run_id: &str,
) -> anyhow::Result<bool> {
    let shop = &stack.shop_settings;
    let number = format!("SHOP-{run_id}");
    let account = crate::shop::get(shop, "customers?where=key%3D%22C-100%22").await?;
    let Some(customer) = account["results"][0]["id"].as_str() else {
        println!("BAD customer C-100 is not in the shop");
        return Ok(false);
    };
    crate::shop::storefront(shop, "SKU-100", 980).await?;
    let order = crate::shop::checkout(
        shop,
        Some(customer),
        "SKU-100",
        12,
        &number,
        json!({"poNumber": format!("PO-{number}"), "costCenter": "CC-10"}),
    )
    .await?;
    println!(
        "shop order {number}: 12 x SKU-100 at 9.80 EUR for customer C-100 ({customer}), state {}",
        order["orderState"]
    );
    let notification =
        crate::shop::order_created(&shop.project_key, &format!("msg-{number}"), &order).to_string();
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    for _ in 0..2 {
        sqs.send_message()
            .queue_url(&stack.queue("ShopOrderQueue").url)
            .message_body(&notification)
            .send()
            .await?;
    }
    stack
        .drain(
            &["ShopOrderQueue", "OrderPlacedQueue"],
            Duration::from_secs(60),
        )
        .await?;
    let store = bridge_aws::DynamoOrderStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.info.table("OrderTable").unwrap_or_default(),
    );
    let Some(erp_order_number) = erp_number(&store, &number).await? else {
        return Ok(false);
    };
    print!(
        "{}",
        crate::orders::text(&crate::orders::order(&store, &number).await?)
    );
    let mut ok = true;
    if let Some(erp) = &stack.erp {
        let orders: Value = http
            .get(format!("{}/_admin/orders", erp.base_url))
            .send()
            .await?
            .json()
            .await?;
        let count = orders["orders"].as_array().map_or(0, |o| {
            o.iter()
                .filter(|o| o["external_reference"] == number.as_str())
                .count()
        });
        println!(
            "ERP simulator holds {count} order(s) for {number} (two deliveries of its message)"
        );
        ok &= count == 1;
    }
    let status = event(
        "order.status_changed",
        json!({"order_id": number, "status": "shipped", "revision": status_revision(),
               "tracking": [{"carrier": "DHL", "code": format!("1Z{run_id}")}]}),
    );
    let (code, _) = post(
        http,
        stack,
        Source::erp(),
        &format!("msg_{number}_shipped"),
        &status,
        false,
    )
    .await?;
    ok &= code == 202;
    let path = format!("orders/order-number={number}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let shown = crate::shop::get(shop, &path).await?;
        if shown["shipmentState"] == "Shipped" || std::time::Instant::now() > deadline {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let parcel = &shown["shippingInfo"]["deliveries"][0]["parcels"][0]["trackingData"];
    println!(
        "the shop's order {number}: orderState {} shipmentState {} ERP number {} parcel {} {}",
        shown["orderState"],
        shown["shipmentState"],
        shown["syncInfo"][0]["externalId"],
        parcel["carrier"],
        parcel["trackingId"]
    );
    if shown["shipmentState"] != "Shipped"
        || shown["syncInfo"][0]["externalId"] != erp_order_number.as_str()
    {
        ok = false;
        println!("BAD expected the shop's order shipped with ERP number {erp_order_number}");
    }
    Ok(ok)
}

/// The delta pull and the snapshot reconciliation against the bundled ERP simulator: the
/// ERP lists changes (one invalid), a pull queues them; then the ERP's export disagrees
/// with the shop on a record at the same revision and has one the shop never got.
async fn erp_sync_demo(
    stack: &LocalStack,
    http: &reqwest::Client,
    run_id: &str,
) -> anyhow::Result<bool> {
    let erp = &stack.info.erp_base_url;
    let sku = |n: &str| format!("ERP-{run_id}-{n}");
    let stock_change = |sku: &str, revision: u64, available: &str| json!({"type": "stock.changed", "data": {"sku": sku, "warehouse": "W1", "available": available, "revision": revision}});
    let listed = json!({"changes": [
        stock_change(&sku("1"), 3, "40"),
        {"type": "price.changed", "data": {"price_list": "BASE", "sku": sku("1"), "currency": "EUR", "revision": 2,
            "tiers": [{"min_qty": 1, "unit_price": "7.25"}, {"min_qty": 50, "unit_price": "6.90"}]}},
        stock_change(&sku("2"), 1, "-5"),
    ]});
    http.post(format!("{erp}/_admin/changes"))
        .json(&listed)
        .send()
        .await?
        .error_for_status()?;
    let pull = crate::sync::local_pull(&stack.info, &stack.sdk).await?;
    let summary = pull
        .run(
            std::time::Instant::now() + Duration::from_secs(120),
            &mut |s| {
                println!(
                    "   page {}: {} changes (accepted {}, rejected {}), cursor {}",
                    s.pages,
                    s.changes,
                    s.accepted,
                    s.rejected,
                    s.cursor.as_deref().unwrap_or("-")
                )
            },
        )
        .await?;
    let mut ok = summary.accepted == 2 && summary.rejected == 1;
    println!(
        "{} pulled {} changes: {} queued, {} refused (negative stock, in StockPriceDeadLetterQueue)",
        if ok { "ok " } else { "BAD" },
        summary.changes,
        summary.accepted,
        summary.rejected
    );
    stack
        .drain(&["StockPriceQueue"], Duration::from_secs(30))
        .await?;

    // The shop hears of DRIFT via a webhook; the ERP's export says otherwise at the same
    // revision, and lists a record no event ever brought.
    let drift_sku = sku("DRIFT");
    let (status, _) = post(
        http,
        stack,
        Source::erp(),
        &format!("msg_{run_id}_drift"),
        &event(
            "stock.changed",
            json!({"sku": drift_sku, "warehouse": "W1", "available": "10", "revision": 5}),
        ),
        false,
    )
    .await?;
    ok &= status == 202;
    http.post(format!("{erp}/_admin/changes"))
        .json(&json!({"changes": [stock_change(&drift_sku, 5, "12"), stock_change(&sku("LOST"), 4, "8")]}))
        .send()
        .await?
        .error_for_status()?;
    stack
        .drain(&["StockPriceQueue"], Duration::from_secs(30))
        .await?;
    let snapshot = http
        .get(format!("{erp}/_admin/snapshot/stock"))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let name = format!(
        "stock-{}-{run_id}.csv",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let files = bridge_aws::S3FileStore::new(
        bridge_aws::s3_client(&stack.sdk),
        stack
            .info
            .stack
            .buckets
            .get("CatalogBucket")
            .cloned()
            .unwrap_or_default(),
    );
    use bridge_domain::ports::FileStore;
    files
        .write(
            &format!("erp/snapshots/{name}"),
            snapshot.to_vec(),
            "text/csv",
        )
        .await?;
    println!("   the ERP dropped erp/snapshots/{name}; waiting for its reconciliation");
    let key = crate::sync::report_key(&name);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let report = loop {
        if let Some(body) = files.read(&key).await? {
            break serde_json::from_slice::<Value>(&body)?;
        }
        if tokio::time::Instant::now() > deadline {
            println!("BAD no drift report after 120 s");
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("\n== bridgectl reconcile report {name}");
    print!("{}", crate::sync::report_text(&report, 10));
    let drifted = |kind: &str, sku: &str| {
        report["drift"].as_array().is_some_and(|d| {
            d.iter()
                .any(|r| r["kind"] == kind && r["key"]["sku"] == sku)
        })
    };
    let found =
        drifted("content_mismatch", &drift_sku) && drifted("missing_in_store", &sku("LOST"));
    if !found {
        println!(
            "BAD expected a content mismatch on {drift_sku} and {} missing in the store",
            sku("LOST")
        );
    }
    Ok(ok && found)
}

/// The read API answers a cart as `bridgectl price` does, availability and credit, and
/// refuses a request without a key.
async fn shop_api_demo(
    api: &crate::stackfile::StackShopApi,
    http: &reqwest::Client,
    tables: &Tables,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<bool> {
    let mut ok = true;
    let mut check = |good: bool, what: &str| {
        println!("{} {what}", if good { "ok " } else { "BAD" });
        ok &= good;
    };
    let cart = json!({"customer_id": "C-100", "at": at.to_rfc3339(), "lines": [
        {"sku": "SKU-100", "quantity": 12}, {"sku": "SKU-999", "quantity": 1}
    ]});
    let started = std::time::Instant::now();
    let response = http
        .post(format!("{}/v1/prices/resolve", api.url))
        .bearer_auth(&api.key)
        .json(&cart)
        .send()
        .await?;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = response.json().await?;
    println!(
        "POST /v1/prices/resolve C-100: 12 x SKU-100, 1 x SKU-999 -> {status} in {} ms, cache-control {cache}",
        elapsed.as_millis()
    );
    for line in body["lines"].as_array().into_iter().flatten() {
        println!("    {line}");
    }
    let expected = read::price(tables, "C-100", "SKU-100", "12", at).await?;
    let same = matches!(&expected.resolution, PriceResolution::Priced(p)
        if body["lines"][0]["unit_price"] == p.unit_price.to_string()
            && body["lines"][0]["price_list"] == p.price_list.to_string());
    check(
        status == 200 && same,
        "SKU-100 is the price bridgectl price gives",
    );
    check(
        body["lines"][1]["status"] == "on_request" && body["lines"][1].get("unit_price").is_none(),
        "SKU-999 is on request, not 0",
    );

    let response = http
        .get(format!("{}/v1/availability?sku=SKU-100", api.url))
        .bearer_auth(&api.key)
        .send()
        .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    println!("GET /v1/availability?sku=SKU-100 -> {status} {body}");
    check(
        body["skus"][0]["warehouses"][0]["available"] == "80",
        "SKU-100 has 80 in W1 (revision 7)",
    );

    let response = http
        .get(format!("{}/v1/customers/C-100/credit", api.url))
        .bearer_auth(&api.key)
        .send()
        .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    println!("GET /v1/customers/C-100/credit -> {status} {body}");
    check(
        status == 200 && body["credit_limit"].is_object(),
        "C-100's credit is answered",
    );

    let refused = http
        .get(format!("{}/v1/customers/C-100/credit", api.url))
        .send()
        .await?
        .status()
        .as_u16();
    check(refused == 401, "a request without a key is 401");
    Ok(ok)
}

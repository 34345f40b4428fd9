//! Reading the shop (commercetools) as the storefront would: what the shop sync published.

use anyhow::Context;
use bridge_commercetools::CommercetoolsConfig;
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `GET {api}/{project}/{path}` with a fresh client-credentials token.
pub async fn get(shop: &CommercetoolsConfig, path: &str) -> anyhow::Result<Value> {
    request(shop, reqwest::Method::GET, path, None).await
}

/// A request to `{api}/{project}/{path}` with a fresh client-credentials token (support and
/// tests: the shop sync itself goes through `bridge-commercetools`).
pub async fn request(
    shop: &CommercetoolsConfig,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!(
            "{}/oauth/token?grant_type=client_credentials",
            shop.auth_url
        ))
        .basic_auth(&shop.client_id, Some(shop.client_secret.expose()))
        .send()
        .await?
        .error_for_status()
        .context("the shop's token endpoint")?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .context("the token answer has no access_token")?;
    let mut request = client
        .request(
            method.clone(),
            format!("{}/{}/{path}", shop.api_url, shop.project_key),
        )
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    Ok(request
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("{method} {path} in the shop"))?
        .json()
        .await?)
}

/// The inventory query of `sku`'s entries (one per warehouse's supply channel).
fn inventory_path(sku: &str) -> String {
    let mut query = reqwest::Url::parse("http://query/").expect("a URL");
    query
        .query_pairs_mut()
        .append_pair("where", &format!("sku=\"{sku}\""));
    format!("inventory?{}", query.query().unwrap_or_default())
}

/// The inventory entries of `sku` (one per warehouse's supply channel).
pub async fn inventory(shop: &CommercetoolsConfig, sku: &str) -> anyhow::Result<Vec<Value>> {
    let answer = get(shop, &inventory_path(sku)).await?;
    Ok(answer["results"].as_array().cloned().unwrap_or_default())
}

/// Polls `path` until `done` holds for the shop's answer or `timeout` passes: whether it got
/// there, and the last answer (the error's text where the shop had none yet, a 404).
pub async fn until(
    shop: &CommercetoolsConfig,
    path: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> (bool, Result<Value, String>) {
    let deadline = Instant::now() + timeout;
    loop {
        let answer = get(shop, path).await.map_err(|e| format!("{e:#}"));
        if answer.as_ref().is_ok_and(&done) {
            return (true, answer);
        }
        if Instant::now() > deadline {
            return (false, answer);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls the inventory of `sku` until `done` holds for it or `timeout` passes; the last
/// answer either way.
pub async fn inventory_until(
    shop: &CommercetoolsConfig,
    sku: &str,
    timeout: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> anyhow::Result<(bool, Vec<Value>)> {
    let path = inventory_path(sku);
    let results = |answer: &Value| answer["results"].as_array().cloned().unwrap_or_default();
    let (arrived, answer) = until(shop, &path, timeout, |answer| done(&results(answer))).await;
    let answer = answer.map_err(anyhow::Error::msg)?;
    Ok((arrived, results(&answer)))
}

/// Polls `sku`'s prices for the customer group `group_key` (the storefront's published
/// copy) until one satisfies `done` or `timeout` passes: whether it did, and the group's
/// prices as last read.
pub async fn group_price_until(
    shop: &CommercetoolsConfig,
    sku: &str,
    group_key: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<(bool, Vec<Value>)> {
    let deadline = Instant::now() + timeout;
    loop {
        let group_id = get(shop, &format!("customer-groups/key={group_key}"))
            .await
            .ok()
            .and_then(|g| g["id"].as_str().map(str::to_string));
        let prices: Vec<Value> = match (&group_id, get(shop, &format!("products/key={sku}")).await)
        {
            (Some(id), Ok(product)) => product["masterData"]["current"]["masterVariant"]["prices"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p["customerGroup"]["id"].as_str() == Some(id.as_str()))
                .collect(),
            _ => Vec::new(),
        };
        if prices.iter().any(&done) || Instant::now() > deadline {
            return Ok((prices.iter().any(&done), prices));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates `draft` under `collection` unless a resource of its key is there already.
async fn ensure(shop: &CommercetoolsConfig, collection: &str, draft: Value) -> anyhow::Result<()> {
    let key = draft["key"].as_str().context("a draft with a key")?;
    if get(shop, &format!("{collection}/key={key}")).await.is_ok() {
        return Ok(());
    }
    request(shop, reqwest::Method::POST, collection, Some(&draft)).await?;
    Ok(())
}

/// What a storefront needs before it can check `sku` out at `cent_amount` EUR cents (the
/// demo and tests; a real shop has its own): the product, a shipping method for Germany,
/// and the order Type `b2b-order` with the B2B fields the bridge reads (`poNumber`,
/// `costCenter`, `approvals`). Idempotent.
pub async fn storefront(
    shop: &CommercetoolsConfig,
    sku: &str,
    cent_amount: u64,
) -> anyhow::Result<()> {
    ensure(
        shop,
        "product-types",
        json!({"key": "goods", "name": "Goods", "description": "", "attributes": []}),
    )
    .await?;
    ensure(shop, "products", json!({"key": sku, "name": {"de": sku}, "slug": {"de": sku.to_lowercase()},
        "productType": {"typeId": "product-type", "key": "goods"},
        "masterVariant": {"sku": sku, "prices": [{"value": {"currencyCode": "EUR", "centAmount": cent_amount}}]},
        "publish": true})).await?;
    ensure(
        shop,
        "zones",
        json!({"key": "de", "name": "DE", "locations": [{"country": "DE"}]}),
    )
    .await?;
    ensure(
        shop,
        "tax-categories",
        json!({"key": "std", "name": "std",
        "rates": [{"name": "19", "amount": 0.19, "includedInPrice": true, "country": "DE"}]}),
    )
    .await?;
    ensure(
        shop,
        "shipping-methods",
        json!({"key": "std", "name": "std", "isDefault": true,
        "taxCategory": {"typeId": "tax-category", "key": "std"},
        "zoneRates": [{"zone": {"typeId": "zone", "key": "de"},
                       "shippingRates": [{"price": {"currencyCode": "EUR", "centAmount": 0}}]}]}),
    )
    .await?;
    let text = |name: &str| {
        json!({"name": name, "type": {"name": "String"}, "required": false,
               "label": {"en": name}, "inputHint": "SingleLine"})
    };
    ensure(
        shop,
        "types",
        json!({"key": "b2b-order", "name": {"en": "B2B order"}, "resourceTypeIds": ["order"],
        "fieldDefinitions": [text("poNumber"), text("costCenter"), text("approvals")]}),
    )
    .await
}

/// Checks out `quantity` of `sku` as the shop customer `customer` (its commercetools id;
/// `None`: a guest) with the order's B2B custom `fields`, shipped to Berlin: the order as
/// the shop answers it. Needs [`storefront`].
pub async fn checkout(
    shop: &CommercetoolsConfig,
    customer: Option<&str>,
    sku: &str,
    quantity: u32,
    order_number: &str,
    fields: Value,
) -> anyhow::Result<Value> {
    let mut cart = json!({"currency": "EUR", "country": "DE",
        "shippingAddress": {"country": "DE", "city": "Berlin", "streetName": "Hauptstr.",
                            "streetNumber": "5", "postalCode": "10115", "company": "ACME GmbH"},
        "shippingMethod": {"typeId": "shipping-method", "key": "std"},
        "lineItems": [{"sku": sku, "quantity": quantity}],
        "custom": {"type": {"typeId": "type", "key": "b2b-order"}, "fields": fields}});
    if let Some(customer) = customer {
        cart["customerId"] = json!(customer);
    }
    let cart = request(shop, reqwest::Method::POST, "carts", Some(&cart)).await?;
    request(
        shop,
        reqwest::Method::POST,
        "orders",
        Some(
            &json!({"cart": {"typeId": "cart", "id": cart["id"]}, "version": cart["version"],
                     "orderNumber": order_number}),
        ),
    )
    .await
}

/// The `OrderCreated` notification of `order` as a commercetools Subscription delivers it
/// to an SQS queue (Platform format): what the emulator, which delivers none, cannot send.
pub fn order_created(project: &str, message_id: &str, order: &Value) -> Value {
    json!({
        "notificationType": "Message", "projectKey": project, "id": message_id,
        "version": 1, "sequenceNumber": 1,
        "resource": {"typeId": "order", "id": order["id"]}, "resourceVersion": order["version"],
        "resourceUserProvidedIdentifiers": {"orderNumber": order["orderNumber"]},
        "type": "OrderCreated", "order": order,
        "createdAt": order["createdAt"], "lastModifiedAt": order["createdAt"]
    })
}

/// What a resync republishes, by the table it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResyncCategory {
    Products,
    /// Every sku's prices in every customer group of price lists (before the customers,
    /// who are put into those groups).
    Prices,
    Stock,
    Customers,
    Orders,
}

impl ResyncCategory {
    pub const ALL: [ResyncCategory; 5] = [
        ResyncCategory::Products,
        ResyncCategory::Prices,
        ResyncCategory::Stock,
        ResyncCategory::Customers,
        ResyncCategory::Orders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResyncCategory::Products => "products",
            ResyncCategory::Prices => "prices",
            ResyncCategory::Stock => "stock",
            ResyncCategory::Customers => "customers",
            ResyncCategory::Orders => "orders",
        }
    }

    /// The table's logical id in the template.
    pub fn table(self) -> &'static str {
        match self {
            ResyncCategory::Products => "ProductTable",
            ResyncCategory::Prices => "PriceTable",
            ResyncCategory::Stock => "StockTable",
            ResyncCategory::Customers => "CustomerTable",
            ResyncCategory::Orders => "OrderTable",
        }
    }
}

/// What a resync of one category did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResyncCounts {
    /// Records read from the table.
    pub read: u64,
    pub written: u64,
    pub already_current: u64,
    /// The shop holds a newer revision (nothing written).
    pub stale: u64,
    /// The shop holds the same revision with other content (edited there by hand, or
    /// staged changes): not written, since the revision rule keeps what the shop holds at
    /// an equal revision; listed (the first 20) for an operator.
    pub differs: u64,
    pub differing: Vec<String>,
    /// Nothing the shop shows (an order the ERP has not answered, an order placed
    /// elsewhere).
    pub skipped: u64,
    /// Permanent refusals and failures that outlasted the connector's retries, with the
    /// record and the reason (the first 20).
    pub failed: u64,
    pub failures: Vec<String>,
    /// Shop requests made.
    pub requests: u64,
}

/// The records to republish of one page of a table: each as what the shop port publishes.
enum Record {
    Stock(bridge_domain::StockChanged),
    Customer(bridge_domain::CustomerChanged),
    Product(Box<bridge_domain::ports::StoredProduct>),
    Order(Box<bridge_domain::ports::StoredOrder>),
}

impl Record {
    fn decode(
        category: ResyncCategory,
        item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    ) -> Result<Self, serde_dynamo::Error> {
        Ok(match category {
            ResyncCategory::Stock => Record::Stock(serde_dynamo::from_item(item)?),
            ResyncCategory::Customers => Record::Customer(serde_dynamo::from_item(item)?),
            ResyncCategory::Products => Record::Product(Box::new(serde_dynamo::from_item(item)?)),
            ResyncCategory::Orders => Record::Order(Box::new(serde_dynamo::from_item(item)?)),
            ResyncCategory::Prices => {
                unreachable!("prices are republished per sku (resync_prices)")
            }
        })
    }

    /// The revision the record is published under.
    fn revision(&self) -> Option<bridge_domain::Revision> {
        match self {
            Record::Stock(s) => Some(s.revision),
            Record::Customer(c) => Some(c.revision),
            Record::Product(p) => Some(bridge_domain::shop::product_revision(p)),
            Record::Order(o) => bridge_domain::shop::OrderProgress::of(o).map(|p| p.revision),
        }
    }

    fn name(&self) -> String {
        match self {
            Record::Stock(s) => format!("stock {}@{}", s.sku, s.warehouse),
            Record::Customer(c) => format!("customer {}", c.customer_id),
            Record::Product(p) => format!("product {}", p.product.sku),
            Record::Order(o) => format!("order {}", o.order.order_id),
        }
    }

    /// Publishes the record; `None` when the shop shows nothing of it.
    async fn publish(
        &self,
        shop: &dyn bridge_domain::shop::Shop,
    ) -> Result<Option<bridge_domain::shop::Published>, bridge_domain::PortError> {
        use bridge_domain::shop::{OrderProgress, product_revision};
        Ok(Some(match self {
            Record::Stock(stock) => shop.publish_stock(stock).await?,
            Record::Customer(customer) => shop.publish_customer(customer).await?,
            Record::Product(stored) => {
                shop.publish_product(&stored.product, product_revision(stored))
                    .await?
            }
            Record::Order(order) => match OrderProgress::of(order) {
                Some(progress) => shop.publish_order_progress(&progress).await?,
                None => return Ok(None),
            },
        }))
    }
}

/// Items per page of a table read: what a resync holds at a time, whatever the table's
/// size (DynamoDB's own 1 MB page is larger than a page needs to be).
const RESYNC_PAGE: i32 = 500;

/// How many records are published at once: the shop, not the bridge, is the bottleneck,
/// and commercetools limits concurrent requests per client.
const RESYNC_CONCURRENCY: usize = 8;

/// Republishes `category` from its table to the shop, page by page (a page of the table
/// at a time in memory, whatever its size), through the same connector and revision guard
/// as the shop sync: what the shop already holds costs reads only, a newer revision there
/// is never overwritten. `sku` limits it to one sku (products and stock, whose partition
/// key it is: a query, not a scan). `progress` gets a line per page.
pub async fn resync(
    shop: &dyn bridge_domain::shop::Shop,
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    category: ResyncCategory,
    sku: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<ResyncCounts> {
    use aws_sdk_dynamodb::types::AttributeValue;
    use bridge_domain::shop::Published;
    let mut counts = ResyncCounts::default();
    let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
    loop {
        let (items, next) = match sku {
            // The sku is the partition key of both tables that have one: a query.
            Some(sku) => {
                let page = dynamo
                    .query()
                    .table_name(table)
                    .key_condition_expression("sku = :sku")
                    .expression_attribute_values(":sku", AttributeValue::S(sku.to_string()))
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .with_context(|| format!("reading {sku} from {table}"))?;
                (page.items, page.last_evaluated_key)
            }
            None => {
                let page = dynamo
                    .scan()
                    .table_name(table)
                    .limit(RESYNC_PAGE)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .with_context(|| format!("scanning {table}"))?;
                (page.items, page.last_evaluated_key)
            }
        };
        let records: Vec<Result<Record, String>> = items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let key = format!(
                    "{:?}",
                    item.get("sku")
                        .or_else(|| item.get("customer_id"))
                        .or_else(|| item.get("order_id"))
                );
                Record::decode(category, item)
                    .map_err(|e| format!("{key}: not a valid record: {e}"))
            })
            .collect();
        counts.read += records.len() as u64;
        let results: Vec<_> = futures::stream::iter(records)
            .map(|record| async move {
                match record {
                    Ok(record) => {
                        let published = record.publish(shop).await;
                        (
                            record.name(),
                            record.revision(),
                            published.map_err(|e| e.to_string()),
                        )
                    }
                    Err(reason) => (String::new(), None, Err(reason)),
                }
            })
            .buffer_unordered(RESYNC_CONCURRENCY)
            .collect()
            .await;
        for (name, revision, result) in results {
            match result {
                Ok(None) => counts.skipped += 1,
                Ok(Some(published)) => {
                    counts.requests += u64::from(published.requests());
                    match published {
                        Published::Written { .. } => counts.written += 1,
                        Published::AlreadyCurrent { .. } => counts.already_current += 1,
                        Published::Stale { shop_revision, .. }
                            if Some(shop_revision) == revision =>
                        {
                            counts.differs += 1;
                            if counts.differing.len() < 20 {
                                counts.differing.push(format!(
                                    "{name}: the shop holds revision {shop_revision} with other content"
                                ));
                            }
                        }
                        Published::Stale { .. } => counts.stale += 1,
                        Published::Absent { .. } => counts.skipped += 1,
                    }
                }
                Err(reason) => {
                    counts.failed += 1;
                    if counts.failures.len() < 20 {
                        counts.failures.push(
                            format!("{name}: {reason}")
                                .trim_start_matches(": ")
                                .to_string(),
                        );
                    }
                }
            }
        }
        progress(&format!(
            "{}: {} read, {} written, {} already current, {} stale, {} differ, {} skipped, {} failed",
            category.as_str(),
            counts.read,
            counts.written,
            counts.already_current,
            counts.stale,
            counts.differs,
            counts.skipped,
            counts.failed
        ));
        match next {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(counts),
        }
    }
}

/// Republishes every sku's prices (or `sku`'s) in every registered customer group of price
/// lists, through the shop sync's connector: what the shop holds costs a read and a query
/// of the price table. The skus are the price table's (a scan of the sku attribute only).
pub async fn resync_prices(
    shop: &dyn bridge_domain::shop::Shop,
    dynamo: &aws_sdk_dynamodb::Client,
    price_table: &str,
    freshness_table: &str,
    sku: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<ResyncCounts> {
    use aws_sdk_dynamodb::types::AttributeValue;
    use bridge_domain::shop::Published;
    use bridge_domain::shop_prices::{PriceGroupRegistry, StoredGroupPrices};
    let registry = bridge_aws::DynamoFreshnessStore::new(dynamo.clone(), freshness_table);
    let groups: Vec<Vec<bridge_domain::PriceListId>> = registry
        .price_groups()
        .await
        .context("reading the price groups")?
        .into_iter()
        .map(|group| group.lists)
        .collect();
    let mut counts = ResyncCounts::default();
    if groups.is_empty() {
        progress("prices: no customer has price lists yet; nothing to publish");
        return Ok(counts);
    }
    let mut skus = std::collections::BTreeSet::new();
    match sku {
        Some(sku) => {
            skus.insert(sku.to_string());
        }
        None => {
            let mut start = None;
            loop {
                let page = dynamo
                    .scan()
                    .table_name(price_table)
                    .limit(RESYNC_PAGE)
                    .projection_expression("sku")
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .with_context(|| format!("scanning {price_table}"))?;
                for item in page.items.unwrap_or_default() {
                    if let Some(AttributeValue::S(sku)) = item.get("sku") {
                        skus.insert(sku.clone());
                    }
                }
                match page.last_evaluated_key {
                    Some(key) if !key.is_empty() => start = Some(key),
                    _ => break,
                }
            }
        }
    }
    let source = StoredGroupPrices {
        store: std::sync::Arc::new(bridge_aws::DynamoPriceStore::windows_only(
            dynamo.clone(),
            price_table,
        )),
        groups,
    };
    let skus: Vec<String> = skus.into_iter().collect();
    for page in skus.chunks(500) {
        let results: Vec<_> = futures::stream::iter(page)
            .map(|sku| {
                let source = &source;
                async move {
                    let published = match bridge_domain::Sku::parse(sku) {
                        Ok(parsed) => shop
                            .publish_prices(&parsed, source)
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(format!("not a valid sku: {e}")),
                    };
                    (sku, published)
                }
            })
            .buffer_unordered(RESYNC_CONCURRENCY)
            .collect()
            .await;
        for (sku, result) in results {
            counts.read += 1;
            match result {
                Ok(published) => {
                    counts.requests += u64::from(published.requests());
                    match published {
                        Published::Written { .. } => counts.written += 1,
                        Published::AlreadyCurrent { .. } => counts.already_current += 1,
                        Published::Stale { .. } => counts.stale += 1,
                        Published::Absent { .. } => counts.skipped += 1,
                    }
                }
                Err(reason) => {
                    counts.failed += 1;
                    if counts.failures.len() < 20 {
                        counts.failures.push(format!("prices of {sku}: {reason}"));
                    }
                }
            }
        }
        progress(&format!(
            "prices: {} of {} skus, {} written, {} already current, {} without product in the shop, {} failed",
            counts.read,
            skus.len(),
            counts.written,
            counts.already_current,
            counts.skipped,
            counts.failed
        ));
    }
    Ok(counts)
}

/// Before customers are republished: every combination of price lists the customer table
/// holds gets its customer group filled ([`bridge_domain::shop_prices::fill_price_group`],
/// registered first where new), so that a customer put into its group sees the bridge's
/// prices. Groups filled before cost nothing. Returns the combinations and skus refused.
pub async fn fill_customer_groups(
    shop: &dyn bridge_domain::shop::Shop,
    dynamo: &aws_sdk_dynamodb::Client,
    customer_table: &str,
    price_table: &str,
    freshness_table: &str,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<(usize, Vec<String>)> {
    use aws_sdk_dynamodb::types::AttributeValue;
    use bridge_domain::shop_prices::{PriceGroupRegistry, fill_price_group, price_group_key};
    let mut combinations = std::collections::BTreeSet::new();
    let mut start = None;
    loop {
        let page = dynamo
            .scan()
            .table_name(customer_table)
            .limit(RESYNC_PAGE)
            .projection_expression("price_lists")
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .with_context(|| format!("scanning {customer_table}"))?;
        for item in page.items.unwrap_or_default() {
            let Some(AttributeValue::L(lists)) = item.get("price_lists") else {
                continue;
            };
            let lists: Vec<bridge_domain::PriceListId> = lists
                .iter()
                .filter_map(|l| match l {
                    AttributeValue::S(id) => bridge_domain::PriceListId::parse(id).ok(),
                    _ => None,
                })
                .collect();
            if !lists.is_empty() {
                combinations.insert(lists);
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => break,
        }
    }
    let registry = bridge_aws::DynamoFreshnessStore::new(dynamo.clone(), freshness_table);
    let store: std::sync::Arc<dyn bridge_domain::ports::PriceStore> = std::sync::Arc::new(
        bridge_aws::DynamoPriceStore::windows_only(dynamo.clone(), price_table),
    );
    let known = registry
        .price_groups()
        .await
        .context("reading the price groups")?;
    let mut refused = Vec::new();
    for lists in &combinations {
        let group = known.iter().find(|g| &g.lists == lists);
        let key = price_group_key(lists).unwrap_or_default();
        let report = fill_price_group(
            shop,
            store.clone(),
            &registry,
            group,
            lists,
            None,
            &mut |sku, err| refused.push(format!("prices of {sku} in {key}: {err}")),
        )
        .await
        .with_context(|| format!("filling the price group of {lists:?}"))?;
        progress(&format!(
            "price group {key} ({}): {} skus, {} written",
            lists
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            report.skus,
            report.written
        ));
    }
    Ok((combinations.len(), refused))
}

/// The shop a command talks to: the local stack's (its file), else the `CTP_*` variables
/// of a deployed stack's API client (`CTP_CLIENT_SECRET` with them).
fn shop_of(resolved: &crate::cli::Resolved) -> anyhow::Result<CommercetoolsConfig> {
    if let Some((_, file)) = &resolved.file
        && let Some(shop) = &file.shop
    {
        return Ok(shop.config());
    }
    CommercetoolsConfig::from_lookup(|name| std::env::var(name).ok())
        .context("the shop: set CTP_PROJECT_KEY, CTP_CLIENT_ID, CTP_CLIENT_SECRET, CTP_SCOPES, CTP_API_URL and CTP_AUTH_URL, or run the local stack")
}

/// `bridgectl shop resync`: republishes categories (all by default) from the tables.
pub async fn run_resync(
    target: &crate::cli::Target,
    order_table: &Option<String>,
    freshness_table: &Option<String>,
    categories: &[ResyncCategory],
    sku: Option<&str>,
) -> anyhow::Result<std::process::ExitCode> {
    let deployed = target.product_table.is_some()
        || target.price_table.is_some()
        || target.stock_table.is_some()
        || target.customer_table.is_some()
        || order_table.is_some();
    let resolved = crate::cli::Resolved::new(target, deployed).await?;
    let shop = bridge_commercetools::CommercetoolsShop::new(&shop_of(&resolved)?)?;
    let dynamo = aws_sdk_dynamodb::Client::new(&resolved.aws);
    let categories = match (categories.is_empty(), sku) {
        (true, None) => ResyncCategory::ALL.to_vec(),
        // A sku names products, prices and stock levels only.
        (true, Some(_)) => vec![
            ResyncCategory::Products,
            ResyncCategory::Prices,
            ResyncCategory::Stock,
        ],
        (false, _) => categories.to_vec(),
    };
    if sku.is_some()
        && let Some(other) = categories.iter().find(|c| {
            !matches!(
                c,
                ResyncCategory::Products | ResyncCategory::Prices | ResyncCategory::Stock
            )
        })
    {
        anyhow::bail!(
            "--sku names products, prices and stock levels, not {}",
            other.as_str()
        );
    }
    let mut all = std::collections::BTreeMap::new();
    for category in categories {
        if category == ResyncCategory::Prices {
            let prices = resolved.name(&target.price_table, "PriceTable")?;
            let freshness = resolved.name(freshness_table, "FreshnessTable")?;
            let counts = resync_prices(&shop, &dynamo, &prices, &freshness, sku, &mut |line| {
                eprintln!("{line}")
            })
            .await?;
            all.insert(category.as_str(), counts);
            continue;
        }
        let given = match category {
            ResyncCategory::Prices => &target.price_table,
            ResyncCategory::Products => &target.product_table,
            ResyncCategory::Stock => &target.stock_table,
            ResyncCategory::Customers => &target.customer_table,
            ResyncCategory::Orders => order_table,
        };
        let table = resolved.name(given, category.table())?;
        let mut refused = Vec::new();
        if category == ResyncCategory::Customers {
            let prices = resolved.name(&target.price_table, "PriceTable")?;
            let freshness = resolved.name(freshness_table, "FreshnessTable")?;
            (_, refused) =
                fill_customer_groups(&shop, &dynamo, &table, &prices, &freshness, &mut |line| {
                    eprintln!("{line}")
                })
                .await?;
        }
        let mut counts = resync(&shop, &dynamo, &table, category, sku, &mut |line| {
            eprintln!("{line}")
        })
        .await?;
        counts.failed += refused.len() as u64;
        counts.failures.extend(refused.into_iter().take(20));
        all.insert(category.as_str(), counts);
    }
    let failed = all.values().any(|c| c.failed > 0);
    crate::cli::output(target.json, &all, || resync_text(&all))?;
    Ok(if failed {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

fn resync_text(all: &std::collections::BTreeMap<&str, ResyncCounts>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (category, c) in all {
        let _ = writeln!(
            out,
            "{category:<10} {} read: {} written, {} already current, {} stale (newer in the shop), {} differ at the same revision, {} skipped, {} failed, {} shop requests",
            c.read,
            c.written,
            c.already_current,
            c.stale,
            c.differs,
            c.skipped,
            c.failed,
            c.requests
        );
        for failure in &c.failures {
            let _ = writeln!(out, "  failed  {failure}");
        }
        for differing in &c.differing {
            let _ = writeln!(
                out,
                "  differs {differing} (edited in the shop; the next change from the ERP or PIM writes it)"
            );
        }
    }
    out
}

/// What `bridgectl shop status` shows: per category when the shop last caught up with a
/// change and how long that change had waited, and what waits in the shop's dead-letter
/// queues.
#[derive(Debug, serde::Serialize)]
pub struct ShopStatus {
    pub categories: Vec<ShopCategoryStatus>,
    pub dead_letters: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, serde::Serialize)]
pub struct ShopCategoryStatus {
    pub category: String,
    pub caught_up_at: Option<chrono::DateTime<chrono::Utc>>,
    pub lag_ms: Option<i64>,
}

/// The shop's categories as the freshness table holds them (absent ones never caught up).
pub async fn shop_freshness(
    store: &dyn bridge_domain::shop::ShopFreshnessStore,
) -> anyhow::Result<Vec<ShopCategoryStatus>> {
    let recorded = store.shop_all().await?;
    Ok(ResyncCategory::ALL
        .iter()
        .map(|category| {
            let found = recorded.iter().find(|f| f.category == category.as_str());
            ShopCategoryStatus {
                category: category.as_str().to_string(),
                caught_up_at: found.map(|f| f.at),
                lag_ms: found.map(|f| f.lag.num_milliseconds()),
            }
        })
        .collect())
}

pub fn shop_freshness_text(
    rows: &[ShopCategoryStatus],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{:<10} {:<26} {:>10} {:>12}\n",
        "shop", "caught up at", "age", "its lag"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<10} {:<26} {:>10} {:>12}",
            row.category,
            row.caught_up_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| "never".into()),
            row.caught_up_at
                .map(|t| crate::freshness::human(now - t))
                .unwrap_or_else(|| "-".into()),
            row.lag_ms
                .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
        );
    }
    out
}

/// The shop's dead-letter queues.
const SHOP_DEAD_LETTER_QUEUES: [&str; 2] = ["ShopSyncDeadLetterQueue", "ShopOrderDeadLetterQueue"];

/// `bridgectl shop status`: exit 4 when something waits in the shop's dead-letter queues.
pub async fn run_status(
    target: &crate::cli::Target,
    freshness_table: &Option<String>,
) -> anyhow::Result<std::process::ExitCode> {
    let resolved = crate::cli::Resolved::new(target, freshness_table.is_some()).await?;
    let store = bridge_aws::DynamoFreshnessStore::new(
        aws_sdk_dynamodb::Client::new(&resolved.aws),
        resolved.name(freshness_table, "FreshnessTable")?,
    );
    let categories = shop_freshness(&store).await?;
    let (sqs, queues) = crate::dlq::queues(target).await?;
    let mut dead_letters = std::collections::BTreeMap::new();
    for (name, url) in &queues {
        if SHOP_DEAD_LETTER_QUEUES.iter().any(|q| name.contains(q)) {
            dead_letters.insert(name.clone(), crate::dev::queue_depth(&sqs, url).await?);
        }
    }
    let status = ShopStatus {
        categories,
        dead_letters,
    };
    let now = chrono::Utc::now();
    crate::cli::output(target.json, &status, || {
        let mut out = shop_freshness_text(&status.categories, now);
        for (queue, depth) in &status.dead_letters {
            out.push_str(&format!(
                "{queue}: {depth} waiting (bridgectl dlq show {queue})\n"
            ));
        }
        out
    })?;
    Ok(if status.dead_letters.values().any(|d| *d > 0) {
        std::process::ExitCode::from(4)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

//! Reading the shop (commercetools) as the storefront would: what the shop sync published.

use anyhow::Context;
use bridge_commercetools::CommercetoolsConfig;
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

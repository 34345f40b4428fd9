//! Reading the shop (commercetools) as the storefront would: what the shop sync published.

use anyhow::Context;
use bridge_commercetools::CommercetoolsConfig;
use serde_json::Value;
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

/// The inventory entries of `sku` (one per warehouse's supply channel).
pub async fn inventory(shop: &CommercetoolsConfig, sku: &str) -> anyhow::Result<Vec<Value>> {
    let mut query = reqwest::Url::parse("http://query/").expect("a URL");
    query
        .query_pairs_mut()
        .append_pair("where", &format!("sku=\"{sku}\""));
    let path = format!("inventory?{}", query.query().unwrap_or_default());
    let answer = get(shop, &path).await?;
    Ok(answer["results"].as_array().cloned().unwrap_or_default())
}

/// Polls the inventory of `sku` until `done` holds for it or `timeout` passes; the last
/// answer either way.
pub async fn inventory_until(
    shop: &CommercetoolsConfig,
    sku: &str,
    timeout: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> anyhow::Result<(bool, Vec<Value>)> {
    let deadline = Instant::now() + timeout;
    loop {
        let entries = inventory(shop, sku).await?;
        if done(&entries) {
            return Ok((true, entries));
        }
        if Instant::now() > deadline {
            return Ok((false, entries));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

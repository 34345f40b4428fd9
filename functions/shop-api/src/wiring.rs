//! Builds the read API from its configuration and one AWS configuration: the Lambda binary
//! and the local stack wire it the same way.

use crate::keys::{ApiKeys, KeysError};
use crate::{ApiPorts, ApiSettings, ShopApi};
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use bridge_aws::{
    DynamoCustomerStore, DynamoOrderStore, DynamoPriceStore, DynamoStockStore, load_secret_string,
};
use bridge_domain::PortError;
use bridge_lambda::refresh::Loader;
use bridge_lambda::{Config, ConfigError, Failure, Function, Handler, InitError, Refreshing};
use std::sync::Arc;
use std::time::Duration;

pub const API_KEYS_SECRET_ID: &str = "API_KEYS_SECRET_ID";
pub const CUSTOMER_TABLE: &str = "CUSTOMER_TABLE";
pub const PRICE_TABLE: &str = "PRICE_TABLE";
pub const PRICE_INDEX_TABLE: &str = "PRICE_INDEX_TABLE";
pub const STOCK_TABLE: &str = "STOCK_TABLE";
pub const ORDER_TABLE: &str = "ORDER_TABLE";
/// The stock freshness SLA in hours (the stack's `FreshnessSlaStockHours`).
pub const STOCK_SLA_HOURS: &str = "STOCK_SLA_HOURS";
pub const PRICE_MAX_AGE_SECONDS: &str = "PRICE_MAX_AGE_SECONDS";
pub const STOCK_MAX_AGE_SECONDS: &str = "STOCK_MAX_AGE_SECONDS";
/// The per-client throttle's counters (one item per client and second).
pub const CLIENT_RATE_TABLE: &str = "CLIENT_RATE_TABLE";
/// Requests a second a client may send unless its key secret says otherwise (0: none).
pub const CLIENT_REQUESTS_PER_SECOND: &str = "CLIENT_REQUESTS_PER_SECOND";

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reading the API key secret: {0}")]
    Secret(#[from] PortError),
    #[error(transparent)]
    Keys(#[from] KeysError),
}

pub fn settings(config: &Config) -> Result<ApiSettings, ConfigError> {
    let defaults = ApiSettings::default();
    Ok(ApiSettings {
        stock_sla: chrono::Duration::hours(config.parsed(STOCK_SLA_HOURS, 1)?),
        price_max_age_seconds: config
            .parsed(PRICE_MAX_AGE_SECONDS, defaults.price_max_age_seconds)?,
        stock_max_age_seconds: config
            .parsed(STOCK_MAX_AGE_SECONDS, defaults.stock_max_age_seconds)?,
        max_body_bytes: defaults.max_body_bytes,
        client_requests_per_second: config.parsed(
            CLIENT_REQUESTS_PER_SECOND,
            defaults.client_requests_per_second,
        )?,
    })
}

/// What needs no network, checked at init.
pub fn check(config: &Config) -> Result<(), WiringError> {
    for name in [
        API_KEYS_SECRET_ID,
        CUSTOMER_TABLE,
        PRICE_TABLE,
        PRICE_INDEX_TABLE,
        STOCK_TABLE,
        ORDER_TABLE,
        CLIENT_RATE_TABLE,
    ] {
        config.required(name)?;
    }
    settings(config)?;
    config.apply_business_time_zone()?;
    Ok(())
}

/// Reads the keys and builds the clients (once per cold start). The keys are read again
/// every `KEY_REFRESH_SECONDS` (default 60: a removed key stops working within it) and on
/// a key no client has (at most every `KEY_RECHECK_SECONDS`, default 10: a new key works
/// at once).
pub async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<ShopApi, WiringError> {
    check(config)?;
    let secret_id = config.required(API_KEYS_SECRET_ID)?;
    let secrets = bridge_aws::secrets_client(aws);
    let keys = ApiKeys::from_json(&load_secret_string(&secrets, &secret_id).await?)?;
    if keys.key_count() == 0 {
        tracing::warn!(
            "the API key secret has no key yet: every request is answered 401 until one is added"
        );
    }
    let load: Loader<ApiKeys> = Arc::new(move || {
        let (client, id) = (secrets.clone(), secret_id.clone());
        Box::pin(async move {
            let text = load_secret_string(&client, &id)
                .await
                .map_err(|e| e.to_string())?;
            ApiKeys::from_json(&text).map_err(|e| e.to_string())
        })
    });
    // A secret that cannot be read or is broken keeps the keys there are for a while (an
    // edit in progress), but not for the life of the instance: a key removed in the same
    // edit must stop working. After `KEY_MAX_STALE_SECONDS` every request is 401.
    let keys = Refreshing::new(
        keys,
        load,
        Duration::from_secs(config.parsed("KEY_REFRESH_SECONDS", 60)?),
        Duration::from_secs(config.parsed("KEY_RECHECK_SECONDS", 10)?),
    )
    .failing_closed(
        Duration::from_secs(config.parsed("KEY_MAX_STALE_SECONDS", 300)?),
        ApiKeys::default(),
    );
    let dynamo = bridge_aws::dynamodb_client(aws);
    let ports = ApiPorts {
        customers: Arc::new(DynamoCustomerStore::new(
            dynamo.clone(),
            config.required(CUSTOMER_TABLE)?,
        )),
        prices: Arc::new(DynamoPriceStore::new(
            dynamo.clone(),
            config.required(PRICE_TABLE)?,
            config.required(PRICE_INDEX_TABLE)?,
        )),
        stock: Arc::new(DynamoStockStore::new(
            dynamo.clone(),
            config.required(STOCK_TABLE)?,
        )),
        orders: Arc::new(DynamoOrderStore::new(
            dynamo.clone(),
            config.required(ORDER_TABLE)?,
        )),
        rate: Arc::new(bridge_aws::DynamoRateLimiter::new(
            dynamo,
            config.required(CLIENT_RATE_TABLE)?,
        )),
    };
    Ok(ShopApi::new(settings(config)?, ports, keys))
}

#[async_trait::async_trait]
impl Handler for ShopApi {
    async fn on_http(
        &self,
        request: ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, Failure> {
        Ok(crate::lambda::handle_event(self, request).await)
    }
}

#[async_trait::async_trait]
impl Function for ShopApi {
    const NAME: &'static str = crate::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        Ok(check(config)?)
    }

    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        Ok(build(config, aws).await?)
    }
}

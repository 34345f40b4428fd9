//! The shop read API (contract section 7): live prices, availability and credit for a shop
//! backend at cart and checkout time, answered from the tables the sync functions keep.
//!
//! Prices come from `pricing::resolve_price`, the resolution `bridgectl price` and the
//! order checks use; credit from `orders::credit_position`, the exposure the order checks
//! hold a customer to. Nothing here decides a price or a limit of its own.

pub mod answers;
pub mod keys;
pub mod lambda;
#[cfg(test)]
mod openapi;
pub mod wiring;

use answers::{
    AvailabilityAnswer, CreditAnswer, ErrorAnswer, LineAnswer, ResolveAnswer, SkuAvailability,
    WarehouseLevel,
};
use bridge_contract::ContractError;
use bridge_contract::read_api::{
    parse_availability_query, parse_customer_path, parse_resolve_request,
};
use bridge_domain::ports::{CustomerStore, OrderStore, PriceStore, RateLimiter, StockStore};
use bridge_domain::pricing::resolve_price;
use bridge_domain::{ErrorClass, PortError, PriceChanged, Sku};
use bridge_lambda::{Metrics, Refreshing};
use chrono::{DateTime, SecondsFormat, Utc};
use keys::{ApiKeys, Denied, Endpoint};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tracing::{Instrument, info, warn};

pub const FUNCTION_NAME: &str = "shop-api";

/// The tables the answers are read from.
#[derive(Clone)]
pub struct ApiPorts {
    pub customers: Arc<dyn CustomerStore>,
    pub prices: Arc<dyn PriceStore>,
    pub stock: Arc<dyn StockStore>,
    pub orders: Arc<dyn OrderStore>,
    /// The per-client throttle's counters.
    pub rate: Arc<dyn RateLimiter>,
}

#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// A level whose `as_of` is older is `stale` (the stack's stock freshness SLA).
    pub stock_sla: chrono::Duration,
    /// The longest a price answer may be cached (a webhook may change a price any time).
    pub price_max_age_seconds: i64,
    /// The longest an availability answer may be cached.
    pub stock_max_age_seconds: i64,
    pub max_body_bytes: usize,
    /// Requests a second a client may send unless its key secret says otherwise (0: no
    /// per-client limit; the HTTP API's stage throttle still holds).
    pub client_requests_per_second: u32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            stock_sla: chrono::Duration::hours(1),
            price_max_age_seconds: 60,
            stock_max_age_seconds: 30,
            max_body_bytes: 256 * 1024,
            client_requests_per_second: 50,
        }
    }
}

/// One request as the handler sees it (the HTTP API event, see [`lambda`]).
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// API Gateway's request id (the event id of every log line).
    pub request_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl ApiResponse {
    fn json(status: u16, body: &impl Serialize) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: serde_json::to_value(body).unwrap_or(Value::Null),
        }
    }

    fn error(status: u16, code: &str, message: impl Into<String>, field: Option<String>) -> Self {
        Self::json(
            status,
            &ErrorAnswer {
                error: code.to_string(),
                message: Some(message.into()),
                field,
            },
        )
    }

    fn invalid(err: ContractError) -> Self {
        Self::error(400, &err.code, err.message, err.field)
    }

    fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn cache_for(self, seconds: i64) -> Self {
        let value = if seconds > 0 {
            format!("private, max-age={seconds}")
        } else {
            "no-store".to_string()
        };
        self.with_header("cache-control", value)
    }
}

/// The routes of the API: what the template routes to this function, and the OpenAPI
/// document describes (a test holds the three together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Resolve,
    Availability,
    Credit { customer_id: String },
}

impl Route {
    /// `(method, path template)` of every route.
    pub const ALL: [(&'static str, &'static str); 3] = [
        ("POST", "/v1/prices/resolve"),
        ("GET", "/v1/availability"),
        ("GET", "/v1/customers/{id}/credit"),
    ];

    pub fn of_path(path: &str) -> Option<Route> {
        let path = path.strip_suffix('/').unwrap_or(path);
        match path {
            "/v1/prices/resolve" => Some(Route::Resolve),
            "/v1/availability" => Some(Route::Availability),
            _ => {
                let id = path
                    .strip_prefix("/v1/customers/")?
                    .strip_suffix("/credit")?;
                (!id.is_empty() && !id.contains('/')).then(|| Route::Credit {
                    // Not UTF-8 once decoded: kept as sent, which the id's parser refuses.
                    customer_id: percent_encoding::percent_decode_str(id)
                        .decode_utf8()
                        .map_or_else(|_| id.to_string(), |d| d.into_owned()),
                })
            }
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            Route::Resolve => "POST",
            Route::Availability | Route::Credit { .. } => "GET",
        }
    }

    pub fn endpoint(&self) -> Endpoint {
        match self {
            Route::Resolve => Endpoint::Prices,
            Route::Availability => Endpoint::Availability,
            Route::Credit { .. } => Endpoint::Credit,
        }
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A store failure as an answer: one a retry can get past is 503 with a `retry-after`.
fn unavailable(err: &PortError) -> ApiResponse {
    match err.class {
        ErrorClass::Retryable => {
            warn!(error = %err, "a table read failed; answered 503");
            ApiResponse::error(
                503,
                "unavailable",
                "the data could not be read; retry",
                None,
            )
            .with_header("retry-after", "1")
        }
        ErrorClass::Permanent => {
            tracing::error!(error = %err, "a table read failed for good; answered 500");
            ApiResponse::error(500, "internal", "the data could not be read", None)
        }
    }
}

pub struct ShopApi {
    settings: ApiSettings,
    ports: ApiPorts,
    keys: Refreshing<ApiKeys>,
}

impl ShopApi {
    pub fn new(settings: ApiSettings, ports: ApiPorts, keys: Refreshing<ApiKeys>) -> Self {
        Self {
            settings,
            ports,
            keys,
        }
    }

    /// Answers one request; logs it and emits its metrics.
    pub async fn handle(&self, request: ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        let correlation_id = request
            .headers
            .get("x-correlation-id")
            .filter(|c| !c.is_empty() && c.len() <= 128 && c.bytes().all(|b| b.is_ascii_graphic()))
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let event_id = if request.request_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            request.request_id.clone()
        };
        let span = tracing::info_span!(
            "request",
            function = FUNCTION_NAME,
            event_id = %event_id,
            correlation_id = %correlation_id,
            method = %request.method,
            path = %request.path,
        );
        let started = std::time::Instant::now();
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let response = self
            .route(&request, now, &mut metrics)
            .instrument(span.clone())
            .await
            .with_header("x-correlation-id", correlation_id);
        let error = response.body.get("error").and_then(Value::as_str);
        span.in_scope(|| {
            info!(
                status = response.status,
                error,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request answered"
            )
        });
        metrics.add("Requests", 1);
        match response.status {
            500.. => metrics.add("ServerErrors", 1),
            401 => metrics.add("Unauthorized", 1),
            403 => metrics.add("Forbidden", 1),
            400 | 413 => metrics.add("BadRequests", 1),
            429 => metrics.add("ClientThrottled", 1),
            _ => {}
        }
        metrics.flush();
        response
    }

    async fn route(
        &self,
        request: &ApiRequest,
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> ApiResponse {
        let Some(route) = Route::of_path(&request.path) else {
            return ApiResponse::error(404, "not_found", "no such endpoint", None);
        };
        if !request.method.eq_ignore_ascii_case(route.method()) {
            return ApiResponse::error(
                405,
                "method_not_allowed",
                format!("use {}", route.method()),
                None,
            )
            .with_header("allow", route.method());
        }
        let authorization = request.headers.get("authorization").map(String::as_str);
        let keys = self.keys.current().await;
        let mut authorized = keys.authorize(authorization, route.endpoint());
        if matches!(authorized, Err(Denied::Unauthenticated(_)))
            && authorization.is_some()
            && let Some(reread) = self.keys.recheck().await
        {
            // A key added since the last read (a rotation) works at once.
            authorized = reread.authorize(authorization, route.endpoint());
        }
        let authorized = match authorized {
            Ok(authorized) => authorized,
            Err(Denied::Unauthenticated(reason)) => {
                // The reason stays in our log; the caller learns only that it failed.
                warn!(reason, "request refused: no valid key");
                return ApiResponse::error(
                    401,
                    "unauthorized",
                    "a valid bearer key is required",
                    None,
                )
                .with_header("www-authenticate", "Bearer");
            }
            Err(Denied::Forbidden { client }) => {
                warn!(
                    client,
                    endpoint = route.endpoint().as_str(),
                    "request refused: key not allowed this endpoint"
                );
                return ApiResponse::error(
                    403,
                    "forbidden",
                    format!(
                        "this key may not call the {} endpoint",
                        route.endpoint().as_str()
                    ),
                    None,
                );
            }
        };
        let client = authorized.client.as_str();
        info!(
            client,
            endpoint = route.endpoint().as_str(),
            "request authorized"
        );
        let limit = authorized
            .requests_per_second
            .unwrap_or(self.settings.client_requests_per_second);
        let answer = async {
            match route {
                Route::Resolve => self.resolve(request, now, metrics).await,
                Route::Availability => self.availability(&request.query, now, metrics).await,
                Route::Credit { customer_id } => self.credit(&customer_id).await,
            }
        };
        if limit == 0 {
            return answer.await;
        }
        // Counted beside the answer's reads, not before them: the throttle adds no round
        // trip to a cart that is let through.
        let (admitted, response) = tokio::join!(self.admit(client, limit, now), answer);
        if admitted {
            response
        } else {
            ApiResponse::error(
                429,
                "too_many_requests",
                format!("this client may send {limit} requests a second"),
                None,
            )
            .with_header("retry-after", "1")
        }
    }

    /// Whether `client` is within its requests a second. A throttle that cannot count lets
    /// the request through (logged, `ClientThrottleUnavailable`): it protects the stack,
    /// and the shop's checkout must not fail because a counter could not be written.
    async fn admit(&self, client: &str, limit: u32, now: DateTime<Utc>) -> bool {
        match self.ports.rate.admit(client, limit, now).await {
            Ok(admitted) => {
                if !admitted {
                    warn!(
                        client,
                        limit, "request throttled: the client's requests a second are used up"
                    );
                }
                admitted
            }
            Err(err) => {
                warn!(client, error = %err, "the client throttle could not count: let through");
                let mut metrics = Metrics::new(FUNCTION_NAME);
                metrics.add("ClientThrottleUnavailable", 1);
                metrics.flush();
                true
            }
        }
    }

    async fn resolve(
        &self,
        request: &ApiRequest,
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> ApiResponse {
        if request.body.len() > self.settings.max_body_bytes {
            return ApiResponse::error(
                413,
                "payload_too_large",
                format!("the body may have {} bytes", self.settings.max_body_bytes),
                None,
            );
        }
        let parsed = match parse_resolve_request(&request.body) {
            Ok(parsed) => parsed,
            Err(err) => return ApiResponse::invalid(err),
        };
        let customer = match self.ports.customers.customer(&parsed.customer_id).await {
            Ok(Some(customer)) => customer,
            Ok(None) => {
                return ApiResponse::error(
                    404,
                    "customer_not_found",
                    format!("customer {} is not known", parsed.customer_id),
                    Some("/customer_id".into()),
                );
            }
            Err(err) => return unavailable(&err),
        };
        let at = parsed.at.unwrap_or(now);
        let mut skus: Vec<Sku> = parsed.lines.iter().map(|l| l.sku.clone()).collect();
        skus.sort();
        skus.dedup();
        let mut records = match self
            .ports
            .prices
            .prices_of_skus(&customer.price_lists, &skus)
            .await
        {
            Ok(records) => records,
            Err(err) => return unavailable(&err),
        };
        let answer = resolve_lines(&customer.price_lists, &mut records, &parsed.lines, at);
        let priced = answer
            .iter()
            .filter(|l| l.status == answers::LineStatus::Priced)
            .count();
        metrics.add("LinesPriced", priced as u64);
        metrics.add("LinesOnRequest", (answer.len() - priced) as u64);
        let max_age = self
            .settings
            .price_max_age_seconds
            .min(seconds_until_next_change(&records, at).unwrap_or(i64::MAX));
        ApiResponse::json(
            200,
            &ResolveAnswer {
                customer_id: customer.customer_id.to_string(),
                at: timestamp(at),
                price_lists: customer.price_lists.iter().map(|l| l.to_string()).collect(),
                lines: answer,
            },
        )
        .cache_for(max_age)
    }

    async fn availability(
        &self,
        query: &str,
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> ApiResponse {
        let parsed = match parse_availability_query(query) {
            Ok(parsed) => parsed,
            Err(err) => return ApiResponse::invalid(err),
        };
        // A warehouse given: its (sku, warehouse) keys read together; else every
        // warehouse's levels of each sku.
        let read = match &parsed.warehouse {
            Some(warehouse) => {
                self.ports
                    .stock
                    .stock_in_warehouse(&parsed.skus, warehouse)
                    .await
            }
            None => self.ports.stock.stock_of_skus(&parsed.skus).await,
        };
        let levels = match read {
            Ok(levels) => levels,
            Err(err) => return unavailable(&err),
        };
        let mut by_sku: HashMap<&Sku, Vec<&bridge_domain::StockChanged>> = HashMap::new();
        for level in &levels {
            if parsed
                .warehouse
                .as_ref()
                .is_none_or(|w| w == &level.warehouse)
            {
                by_sku.entry(&level.sku).or_default().push(level);
            }
        }
        let sla = self.settings.stock_sla;
        let mut max_age = self.settings.stock_max_age_seconds;
        let mut stale = 0;
        let skus = parsed
            .skus
            .iter()
            .map(|sku| {
                let mut warehouses: Vec<WarehouseLevel> = by_sku
                    .get(sku)
                    .into_iter()
                    .flatten()
                    .map(|level| {
                        // Cached no longer than until a fresh level turns stale.
                        if let Some(as_of) = level.as_of
                            && as_of + sla >= now
                        {
                            max_age = max_age.min((as_of + sla - now).num_seconds());
                        }
                        WarehouseLevel::from_level(level, now, sla)
                    })
                    .collect();
                warehouses.sort_by(|a, b| a.warehouse.cmp(&b.warehouse));
                stale += warehouses.iter().filter(|w| w.stale).count();
                SkuAvailability {
                    sku: sku.as_str().to_string(),
                    warehouses,
                }
            })
            .collect();
        metrics.add("StaleLevels", stale as u64);
        ApiResponse::json(
            200,
            &AvailabilityAnswer {
                stale_after_seconds: sla.num_seconds(),
                skus,
            },
        )
        .cache_for(max_age)
    }

    async fn credit(&self, customer_id: &str) -> ApiResponse {
        let id = match parse_customer_path(customer_id) {
            Ok(id) => id,
            Err(err) => return ApiResponse::invalid(err),
        };
        let customer = match self.ports.customers.customer(&id).await {
            Ok(Some(customer)) => customer,
            Ok(None) => {
                return ApiResponse::error(
                    404,
                    "customer_not_found",
                    format!("customer {id} is not known"),
                    Some("/customer_id".into()),
                );
            }
            Err(err) => return unavailable(&err),
        };
        let orders = match self.ports.orders.of_customer(&id).await {
            Ok(orders) => orders,
            Err(err) => return unavailable(&err),
        };
        let Some(position) = bridge_domain::orders::credit_position(&customer, &orders) else {
            tracing::error!(customer = %id, "the customer's amounts add up beyond the exact decimal range");
            return ApiResponse::error(
                500,
                "amount_out_of_range",
                "the customer's amounts add up beyond the exact decimal range",
                None,
            );
        };
        // Every order placed changes it: never cached.
        ApiResponse::json(200, &CreditAnswer::new(id.as_str(), position)).cache_for(0)
    }
}

/// Each line's answer, in the order asked: the shared resolution over the records read
/// (sorted here by sku, so that each line sees only its sku's records, without copies).
pub fn resolve_lines(
    price_lists: &[bridge_domain::PriceListId],
    records: &mut [PriceChanged],
    lines: &[bridge_contract::read_api::ResolveLine],
    at: DateTime<Utc>,
) -> Vec<LineAnswer> {
    records.sort_unstable_by(|a, b| a.sku.cmp(&b.sku));
    let records: &[PriceChanged] = records;
    lines
        .iter()
        .map(|line| {
            let start = records.partition_point(|r| r.sku < line.sku);
            let end = start + records[start..].partition_point(|r| r.sku == line.sku);
            let resolution = resolve_price(
                price_lists,
                &records[start..end],
                &line.sku,
                line.quantity,
                at,
            );
            LineAnswer::from_resolution(&line.sku, line.quantity, resolution)
        })
        .collect()
}

/// Seconds from `at` until a window of `records` begins or ends: the answer may change
/// then (another window or another list takes over), so it is not cached past it.
fn seconds_until_next_change(records: &[PriceChanged], at: DateTime<Utc>) -> Option<i64> {
    records
        .iter()
        .filter(|r| !r.deleted)
        .flat_map(|r| [r.validity.from(), r.validity.until()])
        .flatten()
        .filter(|t| *t > at)
        .min()
        .map(|t| (t - at).num_seconds())
}

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;

//! An ERP that speaks contract section 4, for tests and the local stack:
//!
//! - `POST /sales-orders` with `Idempotency-Key`: 201 with the new `erp_order_number`; 200
//!   with the same body for a key seen before; 409 when the `external_reference` exists under
//!   another key; 422 `{"errors": [...]}` for an order it refuses.
//! - `GET /sales-orders?external_reference=...`: 200 with the order, or 404.
//! - `Authorization: Bearer <token>` on both (401 otherwise).
//!
//! Faults are switched through `POST /_admin/faults`: a script of outcomes consumed one per
//! request (deterministic, for tests), then rates. `GET /_admin/orders` lists what the ERP
//! holds, `POST /_admin/reset` forgets everything.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the simulator does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Serve it normally.
    Ok,
    /// 500 before doing anything.
    ServerError,
    /// 429 with `Retry-After: 1`.
    Throttled,
    /// Hold the request far longer than any client waits, then do nothing.
    Timeout,
    /// Do the work (create the order), then answer 500 as if the response was lost.
    LostAfterCommit,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Faults {
    #[serde(default)]
    pub latency_ms: u64,
    /// Outcomes for the next requests, in order; rates apply once it is used up.
    #[serde(default)]
    pub script: Vec<Outcome>,
    #[serde(default)]
    pub server_error_rate: f64,
    #[serde(default)]
    pub throttle_rate: f64,
    #[serde(default)]
    pub timeout_rate: f64,
    #[serde(default)]
    pub lost_after_commit_rate: f64,
    /// Customers whose orders the ERP refuses with 422.
    #[serde(default)]
    pub reject_customers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SalesOrder {
    pub erp_order_number: String,
    pub idempotency_key: String,
    pub external_reference: String,
    /// The sender's `X-Correlation-Id`, as an ERP would log it.
    pub correlation_id: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Erp {
    faults: Faults,
    script: VecDeque<Outcome>,
    orders: BTreeMap<String, SalesOrder>,
    next_number: u64,
    requests: u64,
}

#[derive(Clone)]
struct AppState {
    erp: Arc<Mutex<Erp>>,
    token: Arc<String>,
}

impl AppState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Erp> {
        self.erp.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The outcome for the next request: the script first, then the rates.
    fn next_outcome(&self) -> (Outcome, u64) {
        let mut erp = self.lock();
        erp.requests += 1;
        let latency = erp.faults.latency_ms;
        if let Some(outcome) = erp.script.pop_front() {
            return (outcome, latency);
        }
        let f = &erp.faults;
        let roll: f64 = rand::random();
        let outcome = [
            (f.server_error_rate, Outcome::ServerError),
            (f.throttle_rate, Outcome::Throttled),
            (f.timeout_rate, Outcome::Timeout),
            (f.lost_after_commit_rate, Outcome::LostAfterCommit),
        ]
        .into_iter()
        .scan(0.0, |acc, (rate, outcome)| {
            *acc += rate;
            Some((*acc, outcome))
        })
        .find(|(threshold, _)| roll < *threshold)
        .map(|(_, outcome)| outcome)
        .unwrap_or(Outcome::Ok);
        (outcome, latency)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            == Some(self.token.as_str())
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"errors": [message]}))).into_response()
}

/// Applies the fault part of an outcome; `Some(response)` ends the request.
async fn fault(outcome: Outcome, latency_ms: u64) -> Option<Response> {
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    match outcome {
        Outcome::ServerError => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulated failure",
        )),
        Outcome::Throttled => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "slow down");
            response
                .headers_mut()
                .insert("retry-after", "1".parse().expect("valid"));
            Some(response)
        }
        Outcome::Timeout => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Some(error(StatusCode::GATEWAY_TIMEOUT, "timed out"))
        }
        Outcome::Ok | Outcome::LostAfterCommit => None,
    }
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !state.authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "bad token");
    }
    let (outcome, latency) = state.next_outcome();
    if let Some(response) = fault(outcome, latency).await {
        return response;
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency-Key is required",
        );
    };
    let Some(reference) = body
        .get("external_reference")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "external_reference is required",
        );
    };
    let (status, order) = {
        let mut erp = state.lock();
        if let Some(existing) = erp.orders.values().find(|o| o.idempotency_key == key) {
            (StatusCode::OK, existing.clone())
        } else if erp.orders.contains_key(&reference) {
            return error(
                StatusCode::CONFLICT,
                "external_reference exists under another Idempotency-Key",
            );
        } else {
            let customer = body
                .get("customer_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if erp.faults.reject_customers.iter().any(|c| c == customer) {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("customer {customer} may not order"),
                );
            }
            if body
                .get("lines")
                .and_then(Value::as_array)
                .is_none_or(|l| l.is_empty())
            {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "an order needs lines");
            }
            erp.next_number += 1;
            let order = SalesOrder {
                erp_order_number: format!("45{:08}", erp.next_number),
                idempotency_key: key,
                external_reference: reference.clone(),
                correlation_id: headers
                    .get("x-correlation-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                body,
            };
            erp.orders.insert(reference, order.clone());
            (StatusCode::CREATED, order)
        }
    };
    if outcome == Outcome::LostAfterCommit {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "connection reset");
    }
    (status, Json(json!({"erp_order_number": order.erp_order_number, "external_reference": order.external_reference}))).into_response()
}

#[derive(Deserialize)]
struct Lookup {
    external_reference: String,
}

async fn find(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(lookup): Query<Lookup>,
) -> Response {
    if !state.authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "bad token");
    }
    let (outcome, latency) = state.next_outcome();
    if let Some(response) = fault(outcome, latency).await {
        return response;
    }
    match state.lock().orders.get(&lookup.external_reference) {
        Some(order) => Json(json!({"erp_order_number": order.erp_order_number, "external_reference": order.external_reference, "order": order.body})).into_response(),
        None => error(StatusCode::NOT_FOUND, "no such order"),
    }
}

async fn set_faults(State(state): State<AppState>, Json(faults): Json<Faults>) -> StatusCode {
    let mut erp = state.lock();
    erp.script = faults.script.iter().copied().collect();
    erp.faults = faults;
    StatusCode::NO_CONTENT
}

async fn orders(State(state): State<AppState>) -> Json<Value> {
    let erp = state.lock();
    Json(json!({"orders": erp.orders.values().collect::<Vec<_>>(), "requests": erp.requests}))
}

async fn reset(State(state): State<AppState>) -> StatusCode {
    *state.lock() = Erp::default();
    StatusCode::NO_CONTENT
}

/// A running simulator.
pub struct Simulator {
    pub base_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Simulator {
    /// Serves on `127.0.0.1:port` (0: a free port) with `token` as the bearer token.
    pub async fn start(port: u16, token: &str) -> std::io::Result<Self> {
        let state = AppState {
            erp: Arc::new(Mutex::new(Erp::default())),
            token: Arc::new(token.to_string()),
        };
        let app = axum::Router::new()
            .route("/sales-orders", post(create).get(find))
            .route("/_admin/faults", post(set_faults))
            .route("/_admin/orders", get(orders))
            .route("/_admin/reset", post(reset))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            base_url: format!("http://{address}"),
            shutdown: Some(shutdown),
        })
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

//! An ERP that speaks contract sections 4 and 5, for tests and the local stack:
//!
//! - `POST /sales-orders` with `Idempotency-Key`: 201 with the new `erp_order_number`; 200
//!   with the same body for a key seen before; 409 when the `external_reference` exists under
//!   another key; 422 `{"errors": [...]}` for an order it refuses.
//! - `GET /sales-orders?external_reference=...`: 200 with the order, or 404.
//! - `GET /changes?since=<cursor>&types=stock,price,customer&limit=<n>` (section 5 delta
//!   pull): 200 `{"changes": [{"type", "data"}], "next_cursor": "c-<seq>", "has_more": bool}`
//!   from the change log; 400 `{"errors": ["invalid cursor"]}` (or `"invalid limit"`).
//!   `types` filters on the part of `type` before the dot; `limit` defaults to 100 and is
//!   clamped to 1..=1000; the cursor advances past changes the filter skipped.
//! - `POST /returns` and `GET /returns?external_reference=` (`erp_return_number`), `POST
//!   /payments` (`erp_payment_number`), and the CRM's `POST /crm/leads` (`lead_id`): contract
//!   section 9, booked and answered as the sales orders are, with the same faults.
//! - `Authorization: Bearer <token>` on all of them (401 otherwise).
//!
//! Faults are switched through `POST /_admin/faults`: a script of outcomes consumed one per
//! request (deterministic, for tests), then rates; `"down": true` answers every request 503
//! (a maintenance window) until faults without it are posted. `GET /_admin/orders` lists what the ERP
//! holds (orders, returns, payments, leads), `POST /_admin/reset` forgets everything (orders, faults, change log, counters).
//!
//! The change log is fed through `POST /_admin/changes` with
//! `{"changes": [{"type": "stock.changed", "data": {...}}]}` (200
//! `{"appended": n, "last_sequence": s}`; the data is not validated, so tests can feed invalid
//! events) and read back by `GET /_admin/changes`
//! (`{"changes": [{"sequence", "type", "data"}], "change_requests": n}`, n counting the
//! `/changes` calls answered 200). `GET /_admin/snapshot/stock` and
//! `GET /_admin/snapshot/prices` export the log's latest state per record as the CSV files
//! the ERP drops into S3.
//!
//! Admin endpoints need no token.
//!
//! The document side (contract section 9, an ERP that takes openTRANS): `POST
//! /documents/orders` with an ORDER document (bearer token, faults as above) records the order
//! under its ORDER_ID as the idempotency key and answers 200 with the ORDERRESPONSE (XML)
//! an EDI converter drops into the bridge's `erp/inbox/`: accepted under the ERP's number, or
//! declined (every item 0, the reason as a remark) for a customer in `reject_customers`.
//!
//! [`documents`] writes what a logistics partner or the ERP drops into the bucket (openTRANS)
//! and reads the ORDER documents the bridge writes.

pub mod documents;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
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
    /// Customers whose orders (and payments) the ERP refuses with 422.
    #[serde(default)]
    pub reject_customers: Vec<String>,
    /// Down for maintenance: every request is answered 503 before anything happens (the
    /// script and the rates wait until it is back).
    #[serde(default)]
    pub down: bool,
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

/// One entry of the change log behind `GET /changes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// 1-based position in the log; the cursor `c-<sequence>` points after it.
    pub sequence: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
}

/// What the ERP (and the CRM beside it) books under an idempotency key: each book is
/// answered like the sales orders (201 new, 200 for a key seen before, 409 for a reference
/// under another key, 422 refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Book {
    Orders,
    /// `POST /returns` (contract section 9).
    Returns,
    /// `POST /payments`.
    Payments,
    /// `POST /crm/leads`: the CRM's leads (`CRM_BASE_URL` = the simulator's `/crm`).
    Leads,
}

impl Book {
    /// The answer's field with the number, and how numbers start.
    fn number(self) -> (&'static str, &'static str) {
        match self {
            Book::Orders => ("erp_order_number", "45"),
            Book::Returns => ("erp_return_number", "RMA"),
            Book::Payments => ("erp_payment_number", "ZE"),
            Book::Leads => ("lead_id", "LEAD"),
        }
    }

    /// Why the book refuses `body` (422), if it does.
    fn refusal(self, body: &Value, faults: &Faults) -> Option<String> {
        let has_lines = body
            .get("lines")
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty());
        match self {
            Book::Orders => {
                let customer = body
                    .get("customer_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if faults.reject_customers.iter().any(|c| c == customer) {
                    Some(format!("customer {customer} may not order"))
                } else if !has_lines {
                    Some("an order needs lines".into())
                } else {
                    None
                }
            }
            Book::Returns => (!has_lines).then(|| "a return needs lines".into()),
            Book::Payments => {
                let customer = body
                    .get("customer_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if faults.reject_customers.iter().any(|c| c == customer) {
                    Some(format!("customer {customer} has no account for payments"))
                } else if body.pointer("/amount/amount").is_none() {
                    Some("a payment needs an amount".into())
                } else {
                    None
                }
            }
            Book::Leads => body
                .get("company")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
                .then(|| "a lead needs a company".into()),
        }
    }
}

#[derive(Default)]
struct Erp {
    faults: Faults,
    script: VecDeque<Outcome>,
    orders: BTreeMap<String, SalesOrder>,
    returns: BTreeMap<String, SalesOrder>,
    payments: BTreeMap<String, SalesOrder>,
    leads: BTreeMap<String, SalesOrder>,
    /// POSTs answered 200 for a key seen before (a sender that did not look up first).
    replays: u64,
    next_number: u64,
    requests: u64,
    /// The change log; `changes[i].sequence == i + 1`.
    changes: Vec<Change>,
    /// `/changes` calls answered 200.
    change_requests: u64,
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

/// What every ERP endpoint does first: the bearer token (401), then the fault the script or
/// the rates choose for this request. `Err` is the answer that ends the request.
async fn admit(state: &AppState, headers: &HeaderMap) -> Result<Outcome, Response> {
    if !state.authorized(headers) {
        return Err(error(StatusCode::UNAUTHORIZED, "bad token"));
    }
    {
        let mut erp = state.lock();
        if erp.faults.down {
            erp.requests += 1;
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "down for maintenance",
            ));
        }
    }
    let (outcome, latency) = state.next_outcome();
    match fault(outcome, latency).await {
        Some(response) => Err(response),
        None => Ok(outcome),
    }
}

impl Erp {
    fn book(&mut self, book: Book) -> &mut BTreeMap<String, SalesOrder> {
        match book {
            Book::Orders => &mut self.orders,
            Book::Returns => &mut self.returns,
            Book::Payments => &mut self.payments,
            Book::Leads => &mut self.leads,
        }
    }
}

async fn create(state: State<AppState>, headers: HeaderMap, body: Json<Value>) -> Response {
    create_in(Book::Orders, state, headers, body).await
}

async fn create_in(
    book: Book,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (number_field, prefix) = book.number();
    let outcome = match admit(&state, &headers).await {
        Ok(outcome) => outcome,
        Err(response) => return response,
    };
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
        if let Some(existing) = erp
            .book(book)
            .values()
            .find(|o| o.idempotency_key == key)
            .cloned()
        {
            erp.replays += 1;
            (StatusCode::OK, existing)
        } else if erp.book(book).contains_key(&reference) {
            return error(
                StatusCode::CONFLICT,
                "external_reference exists under another Idempotency-Key",
            );
        } else {
            if let Some(refusal) = book.refusal(&body, &erp.faults) {
                return error(StatusCode::UNPROCESSABLE_ENTITY, &refusal);
            }
            erp.next_number += 1;
            let order = SalesOrder {
                erp_order_number: format!("{prefix}{:08}", erp.next_number),
                idempotency_key: key,
                external_reference: reference.clone(),
                correlation_id: headers
                    .get("x-correlation-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                body,
            };
            erp.book(book).insert(reference, order.clone());
            (StatusCode::CREATED, order)
        }
    };
    if outcome == Outcome::LostAfterCommit {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "connection reset");
    }
    (status, Json(json!({number_field: order.erp_order_number, "external_reference": order.external_reference}))).into_response()
}

#[derive(Deserialize)]
struct Lookup {
    external_reference: String,
}

async fn find(state: State<AppState>, headers: HeaderMap, lookup: Query<Lookup>) -> Response {
    find_in(Book::Orders, state, headers, lookup).await
}

async fn find_in(
    book: Book,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(lookup): Query<Lookup>,
) -> Response {
    // A lookup has no effect to lose: only the faults that end the request matter.
    if let Err(response) = admit(&state, &headers).await {
        return response;
    }
    let (number_field, _) = book.number();
    match state.lock().book(book).get(&lookup.external_reference) {
        Some(order) => Json(json!({number_field: order.erp_order_number, "external_reference": order.external_reference, "order": order.body})).into_response(),
        None => error(StatusCode::NOT_FOUND, "no such record"),
    }
}

/// Most changes one `/changes` page returns; larger limits are clamped to it.
const MAX_LIMIT: usize = 1000;
/// The page size when the client sends no `limit`.
const DEFAULT_LIMIT: usize = 100;

fn encode_cursor(sequence: u64) -> String {
    format!("c-{sequence}")
}

/// `c-<digits>`; anything else is not a cursor this ERP handed out.
fn decode_cursor(cursor: &str) -> Option<u64> {
    let digits = cursor.strip_prefix("c-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `stock.changed` -> `stock`.
fn type_family(kind: &str) -> &str {
    kind.split_once('.').map_or(kind, |(family, _)| family)
}

#[derive(Deserialize)]
struct ChangesQuery {
    since: Option<String>,
    types: Option<String>,
    limit: Option<String>,
}

async fn changes(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ChangesQuery>,
) -> Response {
    let outcome = match admit(&state, &headers).await {
        Ok(outcome) => outcome,
        Err(response) => return response,
    };
    // A read commits nothing: the page is simply lost on the way back.
    if outcome == Outcome::LostAfterCommit {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "connection reset");
    }
    let since = match query.since.as_deref() {
        None => 0,
        Some(cursor) => match decode_cursor(cursor) {
            Some(sequence) => sequence,
            None => return error(StatusCode::BAD_REQUEST, "invalid cursor"),
        },
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(limit) => match limit.trim().parse::<usize>() {
            Ok(limit) => limit.clamp(1, MAX_LIMIT),
            Err(_) => return error(StatusCode::BAD_REQUEST, "invalid limit"),
        },
    };
    // Empty entries (`types=` or `types=stock,`) are ignored; no family left means all types.
    let families: Vec<&str> = query
        .types
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|family| !family.is_empty())
        .collect();
    let wanted =
        |change: &Change| families.is_empty() || families.contains(&type_family(&change.kind));
    let mut erp = state.lock();
    let start = erp.changes.partition_point(|c| c.sequence <= since);
    let mut page = Vec::new();
    let mut cursor = since;
    let mut has_more = false;
    for change in &erp.changes[start..] {
        if wanted(change) {
            if page.len() == limit {
                has_more = true;
                break;
            }
            page.push(json!({"type": change.kind, "data": change.data}));
        }
        // Examined: a skipped change is never looked at again.
        cursor = change.sequence;
    }
    erp.change_requests += 1;
    Json(json!({"changes": page, "next_cursor": encode_cursor(cursor), "has_more": has_more}))
        .into_response()
}

/// `{"changes": [{"type": "...", "data": {...}}]}`: every item is checked before any is
/// appended; the data itself is not validated.
async fn append_changes(State(state): State<AppState>, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("not JSON: {e}")),
    };
    let Some(items) = body.get("changes").and_then(Value::as_array) else {
        return error(StatusCode::BAD_REQUEST, "changes must be an array");
    };
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(kind) = item.get("type").and_then(Value::as_str) else {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("changes[{i}].type must be a string"),
            );
        };
        let Some(data) = item.get("data").filter(|d| d.is_object()) else {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("changes[{i}].data must be an object"),
            );
        };
        parsed.push((kind.to_string(), data.clone()));
    }
    let mut erp = state.lock();
    let appended = parsed.len();
    for (kind, data) in parsed {
        let sequence = erp.changes.len() as u64 + 1;
        erp.changes.push(Change {
            sequence,
            kind,
            data,
        });
    }
    Json(json!({"appended": appended, "last_sequence": erp.changes.len() as u64})).into_response()
}

async fn list_changes(State(state): State<AppState>) -> Json<Value> {
    let erp = state.lock();
    Json(json!({"changes": erp.changes, "change_requests": erp.change_requests}))
}

/// A field as a CSV cell: strings as they are, numbers as their JSON text (exact with
/// `arbitrary_precision`), absent or null as empty, anything else as its JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `revision` as an integer, from a JSON number or a string.
fn revision(data: &Value) -> Option<u64> {
    match data.get("revision")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The latest change per key among those of `kind`: applied in log order, a change wins
/// when its revision is at least the one held (so an equal revision later in the log
/// replaces the earlier one, which lets tests make drift at the same revision). Changes
/// whose revision is not an integer cannot be ordered and are left out.
fn latest<'a>(
    changes: &'a [Change],
    kind: &str,
    key: impl Fn(&Value) -> (String, String),
) -> BTreeMap<(String, String), (u64, &'a Value)> {
    let mut latest: BTreeMap<(String, String), (u64, &Value)> = BTreeMap::new();
    for change in changes.iter().filter(|c| c.kind == kind) {
        let Some(rev) = revision(&change.data) else {
            continue;
        };
        let entry = latest
            .entry(key(&change.data))
            .or_insert((rev, &change.data));
        if rev >= entry.0 {
            *entry = (rev, &change.data);
        }
    }
    latest
}

fn csv_response(header_row: &[&str], rows: Vec<Vec<String>>) -> Response {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let written = writer
        .write_record(header_row)
        .and_then(|()| rows.iter().try_for_each(|row| writer.write_record(row)));
    let bytes = written
        .map_err(|e| e.to_string())
        .and_then(|()| writer.into_inner().map_err(|e| e.to_string()));
    match bytes {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/csv")], bytes).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// `sku,warehouse,available,revision`, one row per (sku, warehouse), sorted by it.
async fn snapshot_stock(State(state): State<AppState>) -> Response {
    let erp = state.lock();
    let latest = latest(&erp.changes, "stock.changed", |data| {
        (cell(data.get("sku")), cell(data.get("warehouse")))
    });
    let rows = latest
        .into_iter()
        .map(|((sku, warehouse), (rev, data))| {
            vec![sku, warehouse, cell(data.get("available")), rev.to_string()]
        })
        .collect();
    csv_response(&["sku", "warehouse", "available", "revision"], rows)
}

/// `price_list,sku,currency,min_qty,unit_price,valid_from,valid_to,revision`, one row per
/// tier of the latest price per (price_list, sku), sorted by it, tiers in their given order.
async fn snapshot_prices(State(state): State<AppState>) -> Response {
    let erp = state.lock();
    let latest = latest(&erp.changes, "price.changed", |data| {
        (cell(data.get("price_list")), cell(data.get("sku")))
    });
    let mut rows = Vec::new();
    for ((price_list, sku), (rev, data)) in latest {
        let tiers = data.get("tiers").and_then(Value::as_array);
        for tier in tiers.into_iter().flatten() {
            rows.push(vec![
                price_list.clone(),
                sku.clone(),
                cell(data.get("currency")),
                cell(tier.get("min_qty")),
                cell(tier.get("unit_price")),
                cell(data.get("valid_from")),
                cell(data.get("valid_to")),
                rev.to_string(),
            ]);
        }
    }
    csv_response(
        &[
            "price_list",
            "sku",
            "currency",
            "min_qty",
            "unit_price",
            "valid_from",
            "valid_to",
            "revision",
        ],
        rows,
    )
}

/// `POST /documents/orders`: an openTRANS ORDER as the ERP's EDI converter hands it over;
/// the answer is the ORDERRESPONSE to drop into the bridge's `erp/inbox/` (200, XML). The
/// document's ORDER_ID is the idempotency key: the same order again gets the same number. A
/// customer in `reject_customers` is declined (every item 0, the reason as a remark). The
/// faults apply as to any request (down: 503, nothing recorded).
async fn receive_order_document(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = match admit(&state, &headers).await {
        Ok(outcome) => outcome,
        Err(response) => return response,
    };
    let received = match documents::read_order(&body) {
        Ok(order) => order,
        Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, &message),
    };
    // An answer's generation time is its revision: to the millisecond.
    let generated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let answer = {
        let mut erp = state.lock();
        if erp.faults.reject_customers.contains(&received.buyer) {
            let reason = format!("customer {} may not order", received.buyer);
            documents::order_response(&received, None, &generated, Some(&reason))
        } else {
            let number = match erp.orders.get(&received.order_id) {
                Some(existing) => existing.erp_order_number.clone(),
                None => {
                    erp.next_number += 1;
                    let order = SalesOrder {
                        erp_order_number: format!("45{:08}", erp.next_number),
                        idempotency_key: received.order_id.clone(),
                        external_reference: received.order_id.clone(),
                        correlation_id: None,
                        body: json!({
                            "external_reference": received.order_id,
                            "customer_id": received.buyer,
                            "po_number": received.po_number,
                            "currency": received.currency,
                            "lines": received.items.iter().map(|(line, sku, quantity, price)| json!({
                                "line": line, "sku": sku, "quantity": quantity, "unit_price": price,
                            })).collect::<Vec<_>>(),
                            "via": "opentrans",
                            "document_bytes": body.len(),
                        }),
                    };
                    let number = order.erp_order_number.clone();
                    erp.orders.insert(received.order_id.clone(), order);
                    number
                }
            };
            documents::order_response(&received, Some(&number), &generated, None)
        }
    };
    if outcome == Outcome::LostAfterCommit {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "connection reset");
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml")],
        answer,
    )
        .into_response()
}

async fn set_faults(State(state): State<AppState>, Json(faults): Json<Faults>) -> StatusCode {
    let mut erp = state.lock();
    erp.script = faults.script.iter().copied().collect();
    erp.faults = faults;
    StatusCode::NO_CONTENT
}

async fn orders(State(state): State<AppState>) -> Json<Value> {
    let erp = state.lock();
    Json(json!({
        "orders": erp.orders.values().collect::<Vec<_>>(),
        "returns": erp.returns.values().collect::<Vec<_>>(),
        "payments": erp.payments.values().collect::<Vec<_>>(),
        "leads": erp.leads.values().collect::<Vec<_>>(),
        "replays": erp.replays,
        "requests": erp.requests,
    }))
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
            .route(
                "/returns",
                post(|s, h, b| create_in(Book::Returns, s, h, b))
                    .get(|s, h, q| find_in(Book::Returns, s, h, q)),
            )
            .route(
                "/payments",
                post(|s, h, b| create_in(Book::Payments, s, h, b)),
            )
            .route(
                "/crm/leads",
                post(|s, h, b| create_in(Book::Leads, s, h, b)),
            )
            .route("/changes", get(changes))
            .route("/documents/orders", post(receive_order_document))
            .route("/_admin/faults", post(set_faults))
            .route("/_admin/orders", get(orders))
            .route("/_admin/changes", post(append_changes).get(list_changes))
            .route("/_admin/snapshot/stock", get(snapshot_stock))
            .route("/_admin/snapshot/prices", get(snapshot_prices))
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

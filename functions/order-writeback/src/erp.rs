//! The built-in ERP connector (contract section 4) and the circuit that keeps the function
//! from hammering an ERP that is down.

use async_trait::async_trait;
use bridge_domain::events::OrderPlaced;
use bridge_domain::feedback::{AccountRegistered, PaymentReceived, ReturnRequested};
use bridge_domain::ids::OrderId;
use bridge_domain::ids::ReturnId;
use bridge_domain::ports::{CrmLeads, ErpError, ErpLookup, ErpOrders, ErpPostings, ErpReceipt};
use bridge_http::ApiClient;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `POST/GET {base}/sales-orders` with a bearer token.
pub struct HttpErp {
    api: ApiClient,
}

impl HttpErp {
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            api: ApiClient::new(base_url, token, timeout)?,
        })
    }
}

/// The body of contract section 4.
pub fn sales_order(order: &OrderPlaced) -> Value {
    json!({
        "external_reference": order.order_id,
        "customer_id": order.customer_id,
        "po_number": order.po_number,
        "cost_center": order.cost_center,
        "currency": order.currency,
        "lines": order.lines.as_slice().iter().map(|l| json!({
            "line": l.line, "sku": l.sku, "quantity": l.quantity.value().to_string(),
            "unit_price": l.unit_price.value().to_string(),
        })).collect::<Vec<_>>(),
        "delivery": order.delivery,
    })
}

/// The ERP's number of what it took (`field`: `erp_order_number`, `erp_return_number`, ...),
/// as a JSON string or a JSON number (many ERPs number their documents and send them as
/// such); its text as sent, never through a float.
fn erp_number(body: &Value, field: &str) -> Option<String> {
    match &body[field] {
        Value::String(number) if !number.is_empty() => Some(number.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The correlation id of the message being handled (empty outside one).
fn correlation_id() -> String {
    crate::CORRELATION_ID
        .try_with(Clone::clone)
        .unwrap_or_default()
}

fn transport(err: reqwest::Error, effect_possible: bool) -> ErpError {
    // A timeout after sending may have created the order; a refused connection did not.
    if err.is_timeout() && effect_possible {
        ErpError::Ambiguous(err.to_string())
    } else {
        ErpError::Transient(err.to_string())
    }
}

async fn errors(response: reqwest::Response) -> Vec<String> {
    let status = response.status();
    match response.json::<Value>().await {
        Ok(body) => body["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![body.to_string()]),
        Err(_) => vec![format!("HTTP {status}")],
    }
}

impl HttpErp {
    /// `POST {path}` under `key` (contract sections 4 and 9): the ERP's number from
    /// `number_field` of a 201 or 200 (the same key seen before).
    async fn post_once(
        &self,
        path: &str,
        key: &str,
        body: &Value,
        number_field: &str,
    ) -> Result<String, ErpError> {
        let response = self
            .api
            .post(path)
            .header("Idempotency-Key", key)
            .header("X-Correlation-Id", correlation_id())
            .json(body)
            .send()
            .await
            .map_err(|e| transport(e, true))?;
        let status = response.status().as_u16();
        match status {
            200 | 201 => {
                let body: Value = response
                    .json()
                    .await
                    .map_err(|e| ErpError::Ambiguous(e.to_string()))?;
                erp_number(&body, number_field)
                    .ok_or_else(|| ErpError::Ambiguous(format!("no {number_field} in {body}")))
            }
            422 => Err(ErpError::Rejected {
                errors: errors(response).await,
            }),
            409 => Err(ErpError::Conflict(errors(response).await.join("; "))),
            // A 500 may come after the ERP committed (the response was lost on the way).
            500..=599 => Err(ErpError::Ambiguous(format!("HTTP {status}"))),
            _ => Err(ErpError::Transient(format!(
                "HTTP {status}: {}",
                errors(response).await.join("; ")
            ))),
        }
    }

    /// `GET {path}?external_reference=`: the ERP's number of what it has under that
    /// reference; `None` when it has nothing (404, or 200 without a number: the send is
    /// repeated, and the idempotency key makes the ERP answer with what it has).
    async fn lookup(
        &self,
        path: &str,
        reference: &str,
        number_field: &str,
    ) -> Result<Option<String>, ErpError> {
        let response = self
            .api
            .get(path)
            .query(&[("external_reference", reference)])
            .header("X-Correlation-Id", correlation_id())
            .send()
            .await
            .map_err(|e| transport(e, false))?;
        match response.status().as_u16() {
            200 => {
                let body: Value = response
                    .json()
                    .await
                    .map_err(|e| ErpError::Transient(e.to_string()))?;
                Ok(erp_number(&body, number_field))
            }
            404 => Ok(None),
            status => Err(ErpError::Transient(format!("HTTP {status}"))),
        }
    }
}

#[async_trait]
impl ErpOrders for HttpErp {
    async fn create(&self, order: &OrderPlaced) -> Result<ErpReceipt, ErpError> {
        self.post_once(
            "/sales-orders",
            order.order_id.as_str(),
            &sales_order(order),
            "erp_order_number",
        )
        .await
        .map(ErpReceipt::Accepted)
    }

    async fn find(&self, order_id: &OrderId) -> Result<ErpLookup, ErpError> {
        Ok(self
            .lookup("/sales-orders", order_id.as_str(), "erp_order_number")
            .await?
            .map_or(ErpLookup::Unknown, ErpLookup::Accepted))
    }
}

/// The body of `POST /returns` (contract section 9): the return's lines with the order's
/// references the ERP books it against.
pub fn return_body(request: &ReturnRequested, order: &OrderPlaced) -> Value {
    json!({
        "external_reference": request.return_id,
        "order_reference": request.order_id,
        "customer_id": order.customer_id,
        "lines": request.lines.iter().map(|l| json!({
            "line": l.line, "sku": l.sku, "quantity": l.quantity.value().to_string(),
            "reason": l.reason,
        })).collect::<Vec<_>>(),
    })
}

/// The CRM (`POST {CRM_BASE_URL}/leads`, contract section 9): it answers as the ERP's API
/// does (201 new, 200 for a key seen before, 422 refused), with the lead's `lead_id`.
pub struct HttpCrm(HttpErp);

impl HttpCrm {
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self(HttpErp::new(base_url, token, timeout)?))
    }
}

#[async_trait]
impl CrmLeads for HttpCrm {
    async fn create_lead(&self, registration: &AccountRegistered) -> Result<String, ErpError> {
        let body = json!({
            "external_reference": registration.registration_id,
            "company": registration.company,
            "vat_id": registration.vat_id,
            "contact": registration.contact.as_ref().map(|c| json!({"name": c.name, "email": c.email, "phone": c.phone})),
            "address": registration.address,
            "source": "shop",
        });
        self.0
            .post_once(
                "/leads",
                registration.registration_id.as_str(),
                &body,
                "lead_id",
            )
            .await
    }
}

/// The body of `POST /payments` (contract section 9).
pub fn payment_body(payment: &PaymentReceived) -> Value {
    json!({
        "external_reference": payment.payment_id,
        "customer_id": payment.customer_id,
        "amount": {"amount": payment.amount.amount.to_string(), "currency": payment.amount.currency},
        "received_at": payment.received_at,
        "invoices": payment.invoices,
    })
}

#[async_trait]
impl ErpPostings for HttpErp {
    async fn create_return(
        &self,
        request: &ReturnRequested,
        order: &OrderPlaced,
    ) -> Result<String, ErpError> {
        self.post_once(
            "/returns",
            request.return_id.as_str(),
            &return_body(request, order),
            "erp_return_number",
        )
        .await
    }

    async fn find_return(&self, id: &ReturnId) -> Result<Option<String>, ErpError> {
        self.lookup("/returns", id.as_str(), "erp_return_number")
            .await
    }

    async fn create_payment(&self, payment: &PaymentReceived) -> Result<String, ErpError> {
        self.post_once(
            "/payments",
            payment.payment_id.as_str(),
            &payment_body(payment),
            "erp_payment_number",
        )
        .await
    }
}

/// Opens after `threshold` failures in a row (transient or ambiguous) and refuses calls for
/// `cool_down`; then lets one call through as a probe. Per function instance.
pub struct Circuit<E: ?Sized> {
    inner: Box<E>,
    threshold: u32,
    cool_down: Duration,
    state: Mutex<CircuitState>,
}

#[derive(Default)]
struct CircuitState {
    failures: u32,
    open_until: Option<Instant>,
}

impl<E> Circuit<E> {
    pub fn new(inner: E, threshold: u32, cool_down: Duration) -> Self {
        Self::around(Box::new(inner), threshold, cool_down)
    }
}

impl<E: ?Sized> Circuit<E> {
    /// Around the connector the stack chose (`Circuit<dyn ErpOrders>`).
    pub fn around(inner: Box<E>, threshold: u32, cool_down: Duration) -> Self {
        Self {
            inner,
            threshold,
            cool_down,
            state: Mutex::new(CircuitState::default()),
        }
    }

    pub fn is_open(&self) -> bool {
        self.lock()
            .open_until
            .is_some_and(|until| Instant::now() < until)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CircuitState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn admit(&self) -> Result<(), ErpError> {
        let mut state = self.lock();
        match state.open_until {
            Some(until) if Instant::now() < until => Err(ErpError::CircuitOpen),
            Some(_) => {
                // Half-open: this call is the probe; another failure re-opens at once.
                state.open_until = None;
                state.failures = self.threshold.saturating_sub(1);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn record<T>(&self, result: &Result<T, ErpError>) {
        let mut state = self.lock();
        match result {
            Err(ErpError::Transient(_) | ErpError::Ambiguous(_)) => {
                state.failures += 1;
                if state.failures >= self.threshold {
                    state.open_until = Some(Instant::now() + self.cool_down);
                }
            }
            _ => {
                state.failures = 0;
                state.open_until = None;
            }
        }
    }
}

/// Returns and payments behind a circuit of their own: an ERP down for them is not called
/// by every retry.
#[async_trait]
impl<E: ErpPostings + ?Sized> ErpPostings for Circuit<E> {
    async fn create_return(
        &self,
        request: &ReturnRequested,
        order: &OrderPlaced,
    ) -> Result<String, ErpError> {
        self.admit()?;
        let result = self.inner.create_return(request, order).await;
        self.record(&result);
        result
    }

    async fn find_return(&self, id: &ReturnId) -> Result<Option<String>, ErpError> {
        self.admit()?;
        let result = self.inner.find_return(id).await;
        self.record(&result);
        result
    }

    async fn create_payment(&self, payment: &PaymentReceived) -> Result<String, ErpError> {
        self.admit()?;
        let result = self.inner.create_payment(payment).await;
        self.record(&result);
        result
    }
}

#[async_trait]
impl<E: ErpOrders + ?Sized> ErpOrders for Circuit<E> {
    async fn create(&self, order: &OrderPlaced) -> Result<ErpReceipt, ErpError> {
        self.admit()?;
        let result = self.inner.create(order).await;
        self.record(&result);
        result
    }

    async fn find(&self, order_id: &OrderId) -> Result<ErpLookup, ErpError> {
        self.admit()?;
        let result = self.inner.find(order_id).await;
        self.record(&result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Failing(AtomicU32);

    #[async_trait]
    impl ErpOrders for Failing {
        async fn create(&self, _: &OrderPlaced) -> Result<ErpReceipt, ErpError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(ErpError::Transient("down".into()))
        }
        async fn find(&self, _: &OrderId) -> Result<ErpLookup, ErpError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(ErpLookup::Unknown)
        }
    }

    #[test]
    fn an_erp_order_number_may_be_a_string_or_a_number() {
        let number = |body: Value| erp_number(&body, "erp_order_number");
        assert_eq!(
            number(json!({"erp_order_number": "4500001"})).as_deref(),
            Some("4500001")
        );
        let numeric: Value =
            serde_json::from_str(r#"{"erp_order_number": 4500000000000000000001}"#).unwrap();
        assert_eq!(number(numeric).as_deref(), Some("4500000000000000000001"));
        assert_eq!(number(json!({"erp_order_number": ""})), None);
        assert_eq!(number(json!({"erp_order_number": null})), None);
        assert_eq!(number(json!({})), None);
    }

    #[tokio::test]
    async fn the_circuit_opens_after_repeated_failures_and_probes_after_its_cool_down() {
        let circuit = Circuit::new(Failing(AtomicU32::new(0)), 3, Duration::from_millis(50));
        let id = OrderId::parse("SO-1").unwrap();
        for _ in 0..3 {
            assert!(circuit.find(&id).await.is_ok());
        }
        // Successes keep it closed; failures open it.
        let calls = |c: &Circuit<Failing>| c.inner.0.load(Ordering::SeqCst);
        assert!(!circuit.is_open());
        let order: OrderPlaced = serde_json::from_value(json!({
            "order_id": "SO-1", "customer_id": "C", "currency": "EUR", "placed_at": "2026-11-26T10:00:00Z",
            "lines": [{"line": 1, "sku": "A", "quantity": "1", "unit_price": "1"}],
            "po_number": null, "cost_center": null, "buyer": null, "approvals": [], "delivery": null})).unwrap();
        for _ in 0..3 {
            assert!(circuit.create(&order).await.is_err());
        }
        assert!(circuit.is_open());
        let before = calls(&circuit);
        assert!(matches!(
            circuit.create(&order).await,
            Err(ErpError::CircuitOpen)
        ));
        assert_eq!(
            calls(&circuit),
            before,
            "an open circuit does not call the ERP"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            circuit.create(&order).await.is_err(),
            "the probe reaches the ERP"
        );
        assert_eq!(calls(&circuit), before + 1);
        assert!(circuit.is_open(), "a failed probe opens it again");
    }
}

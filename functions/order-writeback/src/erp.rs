//! The built-in ERP connector (contract section 4) and the circuit that keeps the function
//! from hammering an ERP that is down.

use async_trait::async_trait;
use bridge_domain::events::OrderPlaced;
use bridge_domain::ids::OrderId;
use bridge_domain::ports::{ErpError, ErpLookup, ErpOrders, ErpReceipt};
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

/// The ERP's order number, as a JSON string or a JSON number (many ERPs number their orders
/// and send them as such); its text as sent, never through a float.
fn order_number(body: &Value) -> Option<String> {
    match &body["erp_order_number"] {
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

#[async_trait]
impl ErpOrders for HttpErp {
    async fn create(&self, order: &OrderPlaced) -> Result<ErpReceipt, ErpError> {
        let response = self
            .api
            .post("/sales-orders")
            .header("Idempotency-Key", order.order_id.as_str())
            .header("X-Correlation-Id", correlation_id())
            .json(&sales_order(order))
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
                order_number(&body)
                    .map(ErpReceipt::Accepted)
                    .ok_or_else(|| ErpError::Ambiguous(format!("no erp_order_number in {body}")))
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

    async fn find(&self, order_id: &OrderId) -> Result<ErpLookup, ErpError> {
        let response = self
            .api
            .get("/sales-orders")
            .query(&[("external_reference", order_id.as_str())])
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
                // Without a number the send is repeated: the idempotency key makes the ERP
                // answer with the order it has.
                Ok(order_number(&body).map_or(ErpLookup::Unknown, ErpLookup::Accepted))
            }
            404 => Ok(ErpLookup::Unknown),
            status => Err(ErpError::Transient(format!("HTTP {status}"))),
        }
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
        let number = |body: Value| order_number(&body);
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

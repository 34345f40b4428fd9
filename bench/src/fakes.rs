//! In-memory ports for the in-process sections: they cost next to nothing, so what is
//! measured is the function's own work (verify, validate, route, apply), not a network.

use async_trait::async_trait;
use bridge_domain::ports::{
    CustomerStore, FreshnessStore, MessageQueue, ObjectStore, OutboundMessage, PriceStore,
    ReceiptClaim, ReceiptStore, StockStore,
};
use bridge_domain::{
    ApplyOutcome, CustomerChanged, CustomerId, PortError, PriceChanged, PriceListId, Revision, Sku,
    StockChanged,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Default)]
pub struct Receipts(Mutex<HashMap<String, (String, bool)>>);

#[async_trait]
impl ReceiptStore for Receipts {
    async fn claim(
        &self,
        id: &str,
        sha: &str,
        _now: DateTime<Utc>,
        _lease: i64,
    ) -> Result<ReceiptClaim, PortError> {
        let mut map = self.0.lock().unwrap();
        Ok(match map.get(id) {
            Some((seen, true)) => ReceiptClaim::AlreadyQueued {
                content_sha256: seen.clone(),
            },
            Some((_, false)) => ReceiptClaim::InFlight,
            None => {
                map.insert(id.to_string(), (sha.to_string(), false));
                ReceiptClaim::Claimed
            }
        })
    }

    async fn complete(
        &self,
        id: &str,
        _details: &BTreeMap<String, String>,
        _now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        if let Some(receipt) = self.0.lock().unwrap().get_mut(id) {
            receipt.1 = true;
        }
        Ok(())
    }

    async fn release(&self, id: &str) -> Result<(), PortError> {
        self.0.lock().unwrap().remove(id);
        Ok(())
    }
}

/// Keeps what was sent, per queue, so a later section can consume it.
#[derive(Default)]
pub struct Queue(pub Mutex<Vec<(String, OutboundMessage)>>);

#[async_trait]
impl MessageQueue for Queue {
    async fn send(&self, queue: &str, message: &OutboundMessage) -> Result<String, PortError> {
        let mut sent = self.0.lock().unwrap();
        sent.push((queue.to_string(), message.clone()));
        Ok(format!("m-{}", sent.len()))
    }

    async fn delay(&self, _queue: &str, _handle: &str, _seconds: i32) -> Result<(), PortError> {
        Ok(())
    }
}

#[derive(Default)]
pub struct Objects(Mutex<HashMap<String, Vec<u8>>>);

#[async_trait]
impl ObjectStore for Objects {
    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), PortError> {
        self.0.lock().unwrap().insert(key.to_string(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        self.0
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or_else(|| PortError::permanent("get", "no such object"))
    }
}

/// Records keyed by their identity, under the revision rule.
pub struct Table<K, V>(Mutex<HashMap<K, V>>);

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> Table<K, V> {
    fn apply(&self, key: K, value: &V, revision: impl Fn(&V) -> Revision) -> ApplyOutcome {
        let mut map = self.0.lock().unwrap();
        match map.get(&key) {
            Some(stored) if revision(stored) >= revision(value) => ApplyOutcome::Stale {
                stored: revision(stored),
            },
            _ => {
                map.insert(key, value.clone());
                ApplyOutcome::Applied
            }
        }
    }
}

#[derive(Default)]
pub struct Stores {
    pub stock: Table<(String, String), StockChanged>,
    pub prices: Table<(String, String), PriceChanged>,
    pub customers: Table<String, CustomerChanged>,
    pub contacts: Table<String, bridge_domain::feedback::ContactChanged>,
}

#[async_trait]
impl StockStore for Stores {
    async fn apply_stock(&self, stock: &StockChanged) -> Result<ApplyOutcome, PortError> {
        let key = (stock.sku.as_str().to_string(), stock.warehouse.to_string());
        Ok(self.stock.apply(key, stock, |s| s.revision))
    }

    async fn stock_of(&self, _sku: &Sku) -> Result<Vec<StockChanged>, PortError> {
        Ok(Vec::new())
    }

    async fn scan_stock(
        &self,
        _cursor: Option<String>,
    ) -> Result<(Vec<StockChanged>, Option<String>), PortError> {
        Ok((Vec::new(), None))
    }
}

#[async_trait]
impl PriceStore for Stores {
    async fn apply_price(&self, price: &PriceChanged) -> Result<ApplyOutcome, PortError> {
        // One record per validity window, as the price table keys it.
        let key = (price.price_list.as_str().to_string(), price.window_key());
        Ok(self.prices.apply(key, price, |p| p.revision))
    }

    async fn prices_of(
        &self,
        _lists: &[PriceListId],
        _sku: &Sku,
    ) -> Result<Vec<PriceChanged>, PortError> {
        Ok(Vec::new())
    }

    async fn scan_prices(
        &self,
        _cursor: Option<String>,
    ) -> Result<(Vec<PriceChanged>, Option<String>), PortError> {
        Ok((Vec::new(), None))
    }
}

#[async_trait]
impl CustomerStore for Stores {
    async fn apply_customer(&self, customer: &CustomerChanged) -> Result<ApplyOutcome, PortError> {
        let key = customer.customer_id.as_str().to_string();
        Ok(self.customers.apply(key, customer, |c| c.revision))
    }

    async fn customer(&self, _id: &CustomerId) -> Result<Option<CustomerChanged>, PortError> {
        Ok(None)
    }
}

#[async_trait]
impl bridge_domain::ports::ContactStore for Stores {
    async fn apply_contact(
        &self,
        contact: &bridge_domain::feedback::ContactChanged,
    ) -> Result<ApplyOutcome, PortError> {
        let key = contact.contact_id.to_string();
        Ok(self.contacts.apply(key, contact, |c| c.revision))
    }

    async fn contacts_of(
        &self,
        _customer: &CustomerId,
    ) -> Result<Vec<bridge_domain::feedback::ContactChanged>, PortError> {
        Ok(Vec::new())
    }
}

#[derive(Default)]
pub struct Freshness;

#[async_trait]
impl FreshnessStore for Freshness {
    async fn record(
        &self,
        _category: bridge_domain::freshness::Category,
        _at: DateTime<Utc>,
        _function: &str,
    ) -> Result<(), PortError> {
        Ok(())
    }

    async fn all(
        &self,
    ) -> Result<Vec<(bridge_domain::freshness::Category, DateTime<Utc>, String)>, PortError> {
        Ok(Vec::new())
    }
}

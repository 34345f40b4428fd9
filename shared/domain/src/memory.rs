//! In-memory stores (feature `memory`): the ports as maps, for the unit tests and the
//! in-process benchmarks of code that reads them. They keep the revision rule and the
//! orders' optimistic concurrency; they are never the proof that an AWS path works.

use crate::error::PortError;
use crate::events::{CustomerChanged, PriceChanged, StockChanged};
use crate::ids::{CustomerId, OrderId, PriceListId, Sku};
use crate::orders::StateName;
use crate::ports::{CustomerStore, OrderStore, PriceStore, RateLimiter, StockStore, StoredOrder};
use crate::revision::{ApplyOutcome, Revision};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryStores {
    /// (sku, warehouse)
    pub stock: Mutex<BTreeMap<(String, String), StockChanged>>,
    /// (price list, window key)
    pub prices: Mutex<BTreeMap<(String, String), PriceChanged>>,
    pub customers: Mutex<BTreeMap<String, CustomerChanged>>,
    /// by contact id
    pub contacts: Mutex<BTreeMap<String, crate::feedback::ContactChanged>>,
    pub orders: Mutex<BTreeMap<String, StoredOrder>>,
    /// (client, second) -> requests counted
    pub requests: Mutex<BTreeMap<(String, i64), u32>>,
}

fn apply<K: Ord, V: Clone>(
    map: &Mutex<BTreeMap<K, V>>,
    key: K,
    value: &V,
    revision: impl Fn(&V) -> Revision,
) -> ApplyOutcome {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(stored) = map.get(&key).map(&revision)
        && !revision(value).supersedes(Some(stored))
    {
        return ApplyOutcome::Stale { stored };
    }
    map.insert(key, value.clone());
    ApplyOutcome::Applied
}

#[async_trait]
impl StockStore for MemoryStores {
    async fn apply_stock(&self, stock: &StockChanged) -> Result<ApplyOutcome, PortError> {
        let key = (stock.sku.as_str().to_string(), stock.warehouse.to_string());
        Ok(apply(&self.stock, key, stock, |s| s.revision))
    }

    async fn stock_of(&self, sku: &Sku) -> Result<Vec<StockChanged>, PortError> {
        let stock = self.stock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(stock.values().filter(|s| &s.sku == sku).cloned().collect())
    }

    async fn scan_stock(
        &self,
        _cursor: Option<String>,
    ) -> Result<(Vec<StockChanged>, Option<String>), PortError> {
        let stock = self.stock.lock().unwrap_or_else(|p| p.into_inner());
        Ok((stock.values().cloned().collect(), None))
    }
}

#[async_trait]
impl PriceStore for MemoryStores {
    async fn apply_price(&self, price: &PriceChanged) -> Result<ApplyOutcome, PortError> {
        let key = (price.price_list.as_str().to_string(), price.window_key());
        Ok(apply(&self.prices, key, price, |p| p.revision))
    }

    async fn prices_of(
        &self,
        lists: &[PriceListId],
        sku: &Sku,
    ) -> Result<Vec<PriceChanged>, PortError> {
        // As the table's key does: a range of each list's windows, `{sku}#` onwards.
        let prices = self.prices.lock().unwrap_or_else(|p| p.into_inner());
        let prefix = PriceChanged::window_prefix(sku);
        let mut records = Vec::new();
        for list in lists {
            let start = (list.as_str().to_string(), prefix.clone());
            records.extend(
                prices
                    .range(start..)
                    .take_while(|((l, window), _)| {
                        l == list.as_str() && window.starts_with(&prefix)
                    })
                    .map(|(_, p)| p.clone()),
            );
        }
        Ok(records)
    }

    async fn scan_prices(
        &self,
        _cursor: Option<String>,
    ) -> Result<(Vec<PriceChanged>, Option<String>), PortError> {
        let prices = self.prices.lock().unwrap_or_else(|p| p.into_inner());
        Ok((prices.values().cloned().collect(), None))
    }
}

#[async_trait]
impl CustomerStore for MemoryStores {
    async fn apply_customer(&self, customer: &CustomerChanged) -> Result<ApplyOutcome, PortError> {
        let key = customer.customer_id.as_str().to_string();
        Ok(apply(&self.customers, key, customer, |c| c.revision))
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerChanged>, PortError> {
        let customers = self.customers.lock().unwrap_or_else(|p| p.into_inner());
        Ok(customers.get(id.as_str()).cloned())
    }
}

#[async_trait]
impl crate::ports::ContactStore for MemoryStores {
    async fn apply_contact(
        &self,
        contact: &crate::feedback::ContactChanged,
    ) -> Result<ApplyOutcome, PortError> {
        let key = contact.contact_id.to_string();
        Ok(apply(&self.contacts, key, contact, |c| c.revision))
    }

    async fn contacts_of(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<crate::feedback::ContactChanged>, PortError> {
        let contacts = self.contacts.lock().unwrap_or_else(|p| p.into_inner());
        Ok(contacts
            .values()
            .filter(|c| &c.customer_id == customer)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl OrderStore for MemoryStores {
    async fn get(&self, id: &OrderId) -> Result<Option<StoredOrder>, PortError> {
        let orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        Ok(orders.get(id.as_str()).cloned())
    }

    async fn insert(&self, order: &StoredOrder) -> Result<bool, PortError> {
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let id = order.order.order_id.as_str().to_string();
        if orders.contains_key(&id) {
            return Ok(false);
        }
        orders.insert(id, order.clone());
        Ok(true)
    }

    async fn save(&self, order: &StoredOrder) -> Result<bool, PortError> {
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let id = order.order.order_id.as_str().to_string();
        match orders.get(&id) {
            Some(stored) if stored.version + 1 == order.version => {
                orders.insert(id, order.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn in_state(&self, state: StateName) -> Result<Vec<StoredOrder>, PortError> {
        let orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        Ok(orders
            .values()
            .filter(|o| o.state.state_name() == state)
            .cloned()
            .collect())
    }

    async fn page_in_state(
        &self,
        state: StateName,
        after: Option<&str>,
        limit: i32,
    ) -> Result<(Vec<StoredOrder>, Option<String>), PortError> {
        let orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let page: Vec<StoredOrder> = orders
            .iter()
            .filter(|(id, _)| after.is_none_or(|after| id.as_str() > after))
            .filter(|(_, o)| o.state.state_name() == state)
            .take(usize::try_from(limit.max(1)).unwrap_or(1))
            .map(|(_, o)| o.clone())
            .collect();
        let next = (page.len() == usize::try_from(limit.max(1)).unwrap_or(1))
            .then(|| page.last().map(|o| o.order.order_id.as_str().to_string()))
            .flatten();
        Ok((page, next))
    }

    async fn of_customer(&self, customer: &CustomerId) -> Result<Vec<StoredOrder>, PortError> {
        let orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        Ok(orders
            .values()
            .filter(|o| &o.order.customer_id == customer)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl RateLimiter for MemoryStores {
    async fn admit(
        &self,
        client: &str,
        limit: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, PortError> {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let counted = requests
            .entry((client.to_string(), now.timestamp()))
            .or_default();
        if *counted >= limit {
            return Ok(false);
        }
        *counted += 1;
        Ok(true)
    }
}

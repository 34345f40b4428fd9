//! Ports: what the domain needs from the outside world, as small async traits.
//! The AWS adapters (`bridge-aws`) implement them; unit tests may use in-memory fakes.

use crate::error::PortError;
use crate::events::{CustomerChanged, PriceChanged, StockChanged};
use crate::ids::{CustomerId, PriceListId, Sku};
use crate::revision::ApplyOutcome;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Stock levels per (sku, warehouse), guarded by revision.
#[async_trait]
pub trait StockStore: Send + Sync {
    /// Writes the level only if its revision is higher than the stored one, atomically.
    async fn apply_stock(&self, stock: &StockChanged) -> Result<ApplyOutcome, PortError>;
    /// Every warehouse's level of one sku.
    async fn stock_of(&self, sku: &Sku) -> Result<Vec<StockChanged>, PortError>;
}

/// Price records per (price list, sku, validity start), guarded by revision.
#[async_trait]
pub trait PriceStore: Send + Sync {
    async fn apply_price(&self, price: &PriceChanged) -> Result<ApplyOutcome, PortError>;
    /// Every stored record of `sku` in any of `lists`.
    async fn prices_of(
        &self,
        lists: &[PriceListId],
        sku: &Sku,
    ) -> Result<Vec<PriceChanged>, PortError>;
}

/// Customer master data, guarded by revision.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn apply_customer(&self, customer: &CustomerChanged) -> Result<ApplyOutcome, PortError>;
    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerChanged>, PortError>;
}

/// What a claim on a webhook id found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptClaim {
    /// First delivery: the caller owns it until it completes or releases it.
    Claimed,
    /// Accepted before; `content_sha256` is what was accepted then.
    AlreadyQueued { content_sha256: String },
    /// Another delivery of the same id is being enqueued right now.
    InFlight,
}

/// Idempotency receipts of the webhook intake, keyed by webhook id.
#[async_trait]
pub trait ReceiptStore: Send + Sync {
    /// Claims `webhook_id` for `lease_seconds` unless it is queued or claimed by a live lease.
    async fn claim(
        &self,
        webhook_id: &str,
        content_sha256: &str,
        now: DateTime<Utc>,
        lease_seconds: i64,
    ) -> Result<ReceiptClaim, PortError>;
    /// Marks the claim as durably queued.
    async fn complete(
        &self,
        webhook_id: &str,
        details: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<(), PortError>;
    /// Gives up a claim after a failure, so that the sender's retry can succeed at once.
    async fn release(&self, webhook_id: &str) -> Result<(), PortError>;
}

/// A message to put on a queue: a body and string attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboundMessage {
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}

/// Queues, addressed by an opaque address the configuration provides.
#[async_trait]
pub trait MessageQueue: Send + Sync {
    /// Returns the queue's id for the message once it is durably stored.
    async fn send(&self, queue: &str, message: &OutboundMessage) -> Result<String, PortError>;
}

/// An object store (the claim checks of large events).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError>;
}

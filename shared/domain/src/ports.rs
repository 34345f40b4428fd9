//! Ports: what the domain needs from the outside world, as small async traits.
//! The AWS adapters (`bridge-aws`) implement them; unit tests may use in-memory fakes.

use crate::error::PortError;
use crate::events::{CustomerChanged, PriceChanged, StockChanged};
use crate::ids::{CustomerId, PriceListId, Sku};
use crate::revision::ApplyOutcome;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet};

/// Reads of one batch call a store runs at once by default: enough to hide a round trip's
/// latency, few enough not to meet the table's (or the emulator's) throttling.
pub const READS_IN_FLIGHT: usize = 16;

/// Stock levels per (sku, warehouse), guarded by revision.
#[async_trait]
pub trait StockStore: Send + Sync {
    /// Writes the level only if its revision is higher than the stored one, atomically.
    async fn apply_stock(&self, stock: &StockChanged) -> Result<ApplyOutcome, PortError>;
    /// Every warehouse's level of one sku.
    async fn stock_of(&self, sku: &Sku) -> Result<Vec<StockChanged>, PortError>;
    /// Every warehouse's level of each of `skus` (the read API's availability): one call, so
    /// that a store can read them together. By default the skus' reads run side by side.
    async fn stock_of_skus(&self, skus: &[Sku]) -> Result<Vec<StockChanged>, PortError> {
        // The futures are made first: a closure inside the stream would not be `Send`
        // for every lifetime (rust-lang/rust#64552).
        let reads: Vec<_> = skus.iter().map(|sku| self.stock_of(sku)).collect();
        let levels: Vec<Vec<StockChanged>> = futures::stream::iter(reads)
            .buffer_unordered(READS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(levels.into_iter().flatten().collect())
    }
    /// The level of each of `skus` in one warehouse (availability asked for a warehouse):
    /// one call, so that a store can read the (sku, warehouse) keys together. By default
    /// every warehouse's levels, filtered.
    async fn stock_in_warehouse(
        &self,
        skus: &[Sku],
        warehouse: &crate::ids::WarehouseId,
    ) -> Result<Vec<StockChanged>, PortError> {
        let mut levels = self.stock_of_skus(skus).await?;
        levels.retain(|level| &level.warehouse == warehouse);
        Ok(levels)
    }
    /// One page of every stored level (reconciliation): a `None` cursor starts, a `None`
    /// next cursor ends. The cursor is opaque.
    async fn scan_stock(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<StockChanged>, Option<String>), PortError>;
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
    /// Every stored record of each of `skus` in any of `lists` (a cart's lines): one call,
    /// so that a store can read them together. By default the skus' reads run side by side.
    async fn prices_of_skus(
        &self,
        lists: &[PriceListId],
        skus: &[Sku],
    ) -> Result<Vec<PriceChanged>, PortError> {
        prices_per_sku(self, lists, skus).await
    }
    /// One page of every stored record (reconciliation): a `None` cursor starts, a `None`
    /// next cursor ends. The cursor is opaque.
    async fn scan_prices(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<PriceChanged>, Option<String>), PortError>;
    /// Every sku `list` has a record of (deleted ones included). This reads every record;
    /// a store keyed by list answers it from the list alone.
    async fn skus_in_list(&self, list: &PriceListId) -> Result<BTreeSet<Sku>, PortError> {
        let mut skus = BTreeSet::new();
        let mut cursor = None;
        loop {
            let (records, next) = self.scan_prices(cursor).await?;
            skus.extend(
                records
                    .into_iter()
                    .filter(|r| &r.price_list == list)
                    .map(|r| r.sku),
            );
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(skus),
            }
        }
    }
}

/// [`PriceStore::prices_of_skus`] as [`PriceStore::prices_of`] per sku, side by side: the
/// default, and what a store falls back to when it cannot read the skus together.
pub async fn prices_per_sku<S: PriceStore + ?Sized>(
    store: &S,
    lists: &[PriceListId],
    skus: &[Sku],
) -> Result<Vec<PriceChanged>, PortError> {
    let reads: Vec<_> = skus.iter().map(|sku| store.prices_of(lists, sku)).collect();
    let records: Vec<Vec<PriceChanged>> = futures::stream::iter(reads)
        .buffer_unordered(READS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(records.into_iter().flatten().collect())
}

/// Customer master data, guarded by revision.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn apply_customer(&self, customer: &CustomerChanged) -> Result<ApplyOutcome, PortError>;
    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerChanged>, PortError>;
    /// Counts `adjustment` in the customer's open items once (by its id), until the ERP's
    /// next `customer.changed` replaces the record. Stores that keep none refuse it.
    async fn adjust_open_items(
        &self,
        customer: &CustomerId,
        adjustment: &crate::orders::OpenItemsAdjustment,
    ) -> Result<crate::orders::AdjustOutcome, PortError> {
        let _ = (customer, adjustment);
        Err(PortError::permanent(
            "customers.adjust_open_items",
            "this customer store keeps no open-items adjustments",
        ))
    }
}

/// The CRM's contacts of each customer, guarded by revision (contract section 9).
#[async_trait]
pub trait ContactStore: Send + Sync {
    async fn apply_contact(
        &self,
        contact: &crate::feedback::ContactChanged,
    ) -> Result<ApplyOutcome, PortError>;
    /// Every contact of `customer`, active or not.
    async fn contacts_of(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<crate::feedback::ContactChanged>, PortError>;
}

/// Returns, payments and leads as the bridge posted them (`Posting`): saves conditional on
/// the version, as orders'.
#[async_trait]
pub trait PostingStore<T: crate::feedback::Posted>: Send + Sync {
    async fn get(&self, id: &str) -> Result<Option<crate::feedback::Posting<T>>, PortError>;
    /// `false`: one with this id exists.
    async fn insert(&self, posting: &crate::feedback::Posting<T>) -> Result<bool, PortError>;
    /// Saves under `posting.version`, if the stored one is the version before; `false`
    /// when another writer moved it meanwhile.
    async fn save(&self, posting: &crate::feedback::Posting<T>) -> Result<bool, PortError>;
    /// Every posting of `group` (a return's order, a payment's customer).
    async fn of_group(&self, group: &str) -> Result<Vec<crate::feedback::Posting<T>>, PortError>;
    /// Every posting of this kind that is `submitted` (sent, the answer not recorded).
    async fn pending(&self) -> Result<Vec<crate::feedback::Posting<T>>, PortError>;
    /// Every posting of this kind that is `held`.
    async fn held(&self) -> Result<Vec<crate::feedback::Posting<T>>, PortError>;
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
    /// Seconds before the message becomes visible (0: at once; SQS allows up to 900).
    pub delay_seconds: u32,
}

/// Queues, addressed by an opaque address the configuration provides.
#[async_trait]
pub trait MessageQueue: Send + Sync {
    /// Returns the queue's id for the message once it is durably stored.
    async fn send(&self, queue: &str, message: &OutboundMessage) -> Result<String, PortError>;
    /// Keeps a received message invisible for `seconds` (a retry's backoff).
    async fn delay(&self, queue: &str, receipt_handle: &str, seconds: i32)
    -> Result<(), PortError>;
}

/// An object store (the claim checks of large events).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError>;
}

/// A product as stored, with the hash of its content (unchanged products cost no write).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredProduct {
    #[serde(flatten)]
    pub product: crate::product::Product,
    pub content_hash: String,
    /// The import that wrote it last.
    pub import_id: String,
    pub updated_at: DateTime<Utc>,
}

/// The product catalog.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// The content hash of each of `skus` that is stored (batched reads).
    async fn content_hashes(
        &self,
        skus: &[Sku],
    ) -> Result<std::collections::HashMap<Sku, String>, PortError>;
    /// Writes products (batched; unprocessed items are retried until written or failed).
    async fn put_products(&self, products: &[StoredProduct]) -> Result<(), PortError>;
    /// One page of active skus; `None` cursor starts, a `None` next cursor ends.
    async fn active_skus(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<Sku>, Option<String>), PortError>;
    /// Marks products inactive (those still active); returns how many changed.
    async fn deactivate(&self, skus: &[Sku], import_id: &str) -> Result<u64, PortError>;
    async fn product(&self, sku: &Sku) -> Result<Option<StoredProduct>, PortError>;
}

/// What a store knows about an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMetadata {
    /// `None` in an unversioned store.
    pub version: Option<String>,
    /// Bytes, when the store tells.
    pub size: Option<u64>,
}

/// Files in the catalog bucket. `open` is blocking (a streaming reader for parsers that
/// read synchronously) and must be called off the async executor.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Streams one version of an object (`None`: the current one).
    fn open(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Box<dyn std::io::Read + Send>, PortError>;
    /// The current version of an object, `Ok(None)` if it does not exist. An unversioned
    /// store answers `Some(None)`.
    async fn current_version(&self, key: &str) -> Result<Option<Option<String>>, PortError>;
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PortError>;
    async fn write(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError>;
    /// Writes `body` at `key` only if no object is there; `false` (nothing written) when one
    /// is. The default looks first (fine for fakes); a real store writes conditionally.
    async fn create_new(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<bool, PortError> {
        if self.current_version(key).await?.is_some() {
            return Ok(false);
        }
        self.write(key, body, content_type).await?;
        Ok(true)
    }
    /// Whether an object was ever written at `key`, even one deleted since (a versioned
    /// store remembers it; the default knows the current object only).
    async fn ever_written(&self, key: &str) -> Result<bool, PortError> {
        Ok(self.current_version(key).await?.is_some())
    }
    /// Uploads a local file, streaming it (reports too large to hold in memory). The
    /// default reads it whole and calls `write`: fine for fakes, not for real stores.
    async fn upload(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> Result<(), PortError> {
        let body = std::fs::read(path).map_err(|e| {
            PortError::permanent(
                "files.upload",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        self.write(key, body, content_type).await
    }
    /// The current version and size of an object, `Ok(None)` if it does not exist. The
    /// default knows the version only.
    async fn metadata(&self, key: &str) -> Result<Option<FileMetadata>, PortError> {
        Ok(self
            .current_version(key)
            .await?
            .map(|version| FileMetadata {
                version,
                size: None,
            }))
    }
    /// Moves one version of an object (copy it, then delete that version: a newer upload
    /// under the same key stays where it is).
    async fn rename(&self, from: &str, version: Option<&str>, to: &str) -> Result<(), PortError>;
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Keys under a prefix with their last-modified time.
    async fn list(&self, prefix: &str) -> Result<Vec<(String, DateTime<Utc>)>, PortError>;
}

/// Where an import stands: one running invocation chain, or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportStatus {
    Running,
    /// Its products are in the catalog; the file moved to `pim/processed/`.
    Applied,
    /// Refused as a whole (too many rejects or deactivations, unreadable); moved to
    /// `pim/quarantine/`.
    Quarantined,
    Failed,
}

impl ImportStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ImportStatus::Running => "running",
            ImportStatus::Applied => "applied",
            ImportStatus::Quarantined => "quarantined",
            ImportStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ImportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of one import, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportRecord {
    /// The inbox key of the file (the ledger's key).
    pub file: String,
    pub import_id: String,
    pub status: ImportStatus,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where a running import stands (`scan`, `apply`, ...), for progress displays.
    pub phase: String,
    pub records_done: u64,
    pub report_key: Option<String>,
    pub message: Option<String>,
    pub lease_until: i64,
    /// The object version this import reads: a file uploaded again meanwhile is a new import.
    #[serde(default)]
    pub version: Option<String>,
}

/// Which imports exist and who works on them.
#[async_trait]
pub trait ImportLedger: Send + Sync {
    /// Takes the lease on `file` unless another invocation holds a live one. Returns the
    /// current record (new, or the one to continue), or `None` if leased elsewhere.
    async fn claim(
        &self,
        file: &str,
        now: DateTime<Utc>,
        lease_seconds: i64,
    ) -> Result<Option<ImportRecord>, PortError>;
    async fn save(&self, record: &ImportRecord) -> Result<(), PortError>;
    async fn get(&self, file: &str) -> Result<Option<ImportRecord>, PortError>;
    async fn list(&self) -> Result<Vec<ImportRecord>, PortError>;
}

/// When each data category last flowed successfully.
#[async_trait]
pub trait FreshnessStore: Send + Sync {
    /// Records a success (a later one never goes back in time).
    async fn record(
        &self,
        category: crate::freshness::Category,
        at: DateTime<Utc>,
        function: &str,
    ) -> Result<(), PortError>;
    /// The last success of every category that had one, with the function that recorded it.
    async fn all(
        &self,
    ) -> Result<Vec<(crate::freshness::Category, DateTime<Utc>, String)>, PortError>;
}

/// An order as the writeback keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredOrder {
    pub order: crate::events::OrderPlaced,
    pub state: crate::orders::OrderState,
    pub history: Vec<crate::orders::OrderTransition>,
    /// Grows with every save: saves are conditional on it (no lost updates).
    pub version: u64,
    /// Set while a submitted order waits for the ERP (down, throttling, circuit open).
    #[serde(default)]
    pub erp_wait: Option<crate::orders::ErpWait>,
    /// The highest revision the shop sent after the order was submitted: not sent (an order
    /// change after submission is the ERP's business), recorded and alarmed.
    #[serde(default)]
    pub changed_after_submission: Option<crate::revision::Revision>,
    /// Every shipment of the order as last reported (contract section 8), by shipment id.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub shipments: crate::shipments::Shipments,
    /// The ERP said it invoiced the order (a status, an INVOICE naming it): its amount is in
    /// the customer's open items from then on, whatever status comes later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invoiced: bool,
    /// What the returns sent to the ERP take back, by return id: reserved on the order in
    /// the same conditional save as the check, so two returns cannot together take back
    /// more than was shipped.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub returns: std::collections::BTreeMap<String, Vec<crate::feedback::ReturnLine>>,
}

impl StoredOrder {
    pub fn new(order: crate::events::OrderPlaced, at: DateTime<Utc>) -> Self {
        let state = crate::orders::OrderState::Received;
        Self {
            order,
            history: vec![crate::orders::OrderTransition {
                at,
                state: state.clone(),
            }],
            state,
            version: 1,
            erp_wait: None,
            changed_after_submission: None,
            shipments: Default::default(),
            invoiced: false,
            returns: Default::default(),
        }
    }

    /// Whether the order counts toward its customer's exposure: by its state, and never
    /// once invoiced (its amount is in the open items then).
    pub fn counts_toward_exposure(&self) -> bool {
        !self.invoiced && self.state.counts_toward_exposure()
    }

    /// Moves to `state`, recording it in the history.
    pub fn transition(&mut self, state: crate::orders::OrderState, at: DateTime<Utc>) {
        self.history.push(crate::orders::OrderTransition {
            at,
            state: state.clone(),
        });
        self.state = state;
    }
}

/// Orders by id, saved under optimistic concurrency.
#[async_trait]
pub trait OrderStore: Send + Sync {
    async fn get(&self, id: &crate::ids::OrderId) -> Result<Option<StoredOrder>, PortError>;
    /// Stores a new order; `false` if one with that id exists.
    async fn insert(&self, order: &StoredOrder) -> Result<bool, PortError>;
    /// Saves `order` (its version already incremented) if the stored one still has
    /// `order.version - 1`; `false` if someone saved in between.
    async fn save(&self, order: &StoredOrder) -> Result<bool, PortError>;
    /// Orders in a state.
    async fn in_state(
        &self,
        state: crate::orders::StateName,
    ) -> Result<Vec<StoredOrder>, PortError>;
    /// One page of the orders in a state, after the order id `after` (a position a run can
    /// stop at and the next continue from); the next position, `None` at the end.
    async fn page_in_state(
        &self,
        state: crate::orders::StateName,
        after: Option<&str>,
        limit: i32,
    ) -> Result<(Vec<StoredOrder>, Option<String>), PortError>;
    /// The customer's orders (for its exposure: those the ERP has and not yet invoiced).
    async fn of_customer(
        &self,
        customer: &crate::ids::CustomerId,
    ) -> Result<Vec<StoredOrder>, PortError>;
}

/// What can go wrong talking to the ERP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErpError {
    /// Throttled, unavailable, 5xx: nothing happened, try later.
    #[error("the ERP is unavailable: {0}")]
    Transient(String),
    /// A timeout or a lost response: the ERP may or may not have the order.
    #[error("the ERP did not answer: {0}")]
    Ambiguous(String),
    /// 422: the ERP refuses the order for good.
    #[error("the ERP rejected the order: {}", .errors.join("; "))]
    Rejected { errors: Vec<String> },
    /// 409: the reference exists under another idempotency key.
    #[error("the ERP has this order under another key: {0}")]
    Conflict(String),
    /// Not called: the ERP failed repeatedly just now and the circuit is open.
    #[error("the ERP circuit is open (the ERP failed repeatedly)")]
    CircuitOpen,
}

/// Returns and payments to the ERP (contract section 9), each under its id as the
/// idempotency key; the ERP's number of what it took.
#[async_trait]
pub trait ErpPostings: Send + Sync {
    async fn create_return(
        &self,
        request: &crate::feedback::ReturnRequested,
        order: &crate::events::OrderPlaced,
    ) -> Result<String, ErpError>;
    /// The ERP's number of the return, `None` when it does not have it.
    async fn find_return(&self, id: &crate::ids::ReturnId) -> Result<Option<String>, ErpError>;
    /// The contract has no lookup of payments: a resend under the same key is the ERP's
    /// to answer with what it has (200).
    async fn create_payment(
        &self,
        payment: &crate::feedback::PaymentReceived,
    ) -> Result<String, ErpError>;
}

/// The CRM's leads (contract section 9): a new B2B account's registration under its id as
/// the idempotency key; the CRM's id of the lead.
#[async_trait]
pub trait CrmLeads: Send + Sync {
    async fn create_lead(
        &self,
        registration: &crate::feedback::AccountRegistered,
    ) -> Result<String, ErpError>;
}

/// What sending an order to the ERP did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErpReceipt {
    /// The ERP took it at once, under its order number (the REST contract, section 4).
    Accepted(String),
    /// Handed over as a document; the ERP answers later (`ORDERRESPONSE`, section 9).
    Sent,
}

/// What the ERP knows of an order (the lookup before anything is sent again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErpLookup {
    /// Never reached the ERP: sending it is safe.
    Unknown,
    /// The ERP has it, under this number.
    Accepted(String),
    /// Handed over, no answer yet: it must not be sent again.
    Pending,
    /// The ERP answered that it refuses the order, with its reasons.
    Declined(Vec<String>),
}

/// The ERP's sales orders (contract sections 4 and 9).
#[async_trait]
pub trait ErpOrders: Send + Sync {
    /// Sends the order, its id the idempotency key.
    async fn create(&self, order: &crate::events::OrderPlaced) -> Result<ErpReceipt, ErpError>;
    /// What the ERP knows of the order with this external reference.
    async fn find(&self, order_id: &crate::ids::OrderId) -> Result<ErpLookup, ErpError>;
}

/// Requests per client per second, counted across every instance of a function (the read
/// API's per-client throttle).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request of `client` in the second of `now`; false if `limit` requests of
    /// it were counted in that second already (the request is not counted then).
    async fn admit(&self, client: &str, limit: u32, now: DateTime<Utc>) -> Result<bool, PortError>;
}

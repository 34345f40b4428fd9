//! Shop sync (contract section 6): the tables' own DynamoDB streams, published to the shop.
//! The stream is the change feed: a change that reached a table reaches the shop, because
//! nothing beside the table write has to succeed for it to be recorded.
//!
//! A batch is one shard's records in order. A record the shop does not need (a change of
//! what the shop does not hold) costs no request; one the shop refuses is dead-lettered with
//! the shop's error and its neighbours go on; one that fails for a reason a retry can cure
//! (the shop down or throttling) ends the batch there: Lambda retries the shard from that
//! record, so later changes of the same key never overtake it.

pub mod wiring;

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use bridge_commercetools::wiring::{Reconnect, Reconnecting};
use bridge_domain::PriceListId;
use bridge_domain::error::cause_chain;
use bridge_domain::events::{CustomerChanged, PriceChanged, StockChanged};
use bridge_domain::ports::{MessageQueue, OutboundMessage, PriceStore, StoredOrder, StoredProduct};
use bridge_domain::shop::{
    Published, Shop, ShopFreshness, ShopFreshnessStore, customer_differs_for_shop,
    order_progress_changed, product_differs_for_shop, product_revision, stock_differs_for_shop,
};
use bridge_domain::shop_prices::{
    PriceGroup, PriceGroupRegistry, StoredGroupPrices, fill_price_group, price_differs_for_shop,
    price_group_key,
};
use bridge_domain::{ErrorClass, PortError};
use bridge_lambda::batch::failure_attributes;
use bridge_lambda::{Config, ConfigError, MessageError, Metrics};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{Instrument, error, info, warn};

pub const FUNCTION_NAME: &str = "shop-sync";

pub const STOCK_TABLE: &str = "STOCK_TABLE";
pub const CUSTOMER_TABLE: &str = "CUSTOMER_TABLE";
pub const ORDER_TABLE: &str = "ORDER_TABLE";
pub const PRODUCT_TABLE: &str = "PRODUCT_TABLE";
pub const PRICE_TABLE: &str = "PRICE_TABLE";

/// The largest dead-letter body sent whole: an SQS message holds 256 KiB with its
/// attributes.
const DEAD_LETTER_MAX_BYTES: usize = 240 * 1024;
pub const SHOP_DLQ_URL: &str = "SHOP_DLQ_URL";
/// The longest pause before a batch the shop could not take is handed back for its retry.
pub const SHOP_BACKOFF_MAX_SECONDS: &str = "SHOP_BACKOFF_MAX_SECONDS";

/// What is left of the invocation when the batch stops taking new records: enough for the
/// longest publish (a token, the setup reads, a read and writes, each bounded by the
/// client's 10 s timeout, rarely more than a few) and the response; a quarter of the
/// invocation's time where that is shorter (a function configured with a short timeout
/// still publishes).
const DEADLINE_RESERVE: Duration = Duration::from_secs(60);

fn reserve_before(deadline: Instant) -> Duration {
    DEADLINE_RESERVE.min(deadline.saturating_duration_since(Instant::now()) / 4)
}

#[derive(Debug, Clone)]
pub struct ShopSyncSettings {
    pub stock_table: String,
    pub customer_table: String,
    /// Orders: their progress in the ERP goes onto the shop's orders.
    pub order_table: String,
    /// The PIM's products.
    pub product_table: String,
    /// The ERP's prices: published per combination of price lists customers have.
    pub price_table: String,
    /// Where a record the shop refuses goes, with the shop's error.
    pub dead_letter_queue: String,
    /// Lambda retries a stream batch at once: the function waits (1 s, 2 s, 4 s... up to
    /// this) before it hands a batch back, so an outage costs a few invocations a minute,
    /// not a retry storm that uses up the mapping's attempts.
    pub backoff_max: Duration,
}

impl ShopSyncSettings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        // A next delivery's date is midnight in the business time zone (contract v2).
        config.apply_business_time_zone()?;
        Ok(Self {
            stock_table: config.required(STOCK_TABLE)?,
            customer_table: config.required(CUSTOMER_TABLE)?,
            order_table: config.required(ORDER_TABLE)?,
            product_table: config.required(PRODUCT_TABLE)?,
            price_table: config.required(PRICE_TABLE)?,
            dead_letter_queue: config.required(SHOP_DLQ_URL)?,
            backoff_max: Duration::from_secs(config.parsed(SHOP_BACKOFF_MAX_SECONDS, 30)?),
        })
    }
}

pub struct ShopSync {
    settings: ShopSyncSettings,
    /// Built again with the secret read again when the shop refuses the credentials.
    shop: Reconnecting<dyn Shop>,
    queue: Arc<dyn MessageQueue>,
    /// Batches handed back in a row, per stream (this container's): the backoff's exponent.
    failures_in_a_row: Mutex<HashMap<String, u32>>,
    /// Where the shop's catch-up per category is recorded (`bridgectl shop status`).
    freshness: Option<Arc<dyn ShopFreshnessStore>>,
    /// The price table and the combinations of lists published (`None`: a price record is
    /// refused as not configured).
    prices: Option<PriceSources>,
}

/// What publishing prices reads besides the stream: the price table (a sku's prices in
/// every list) and the registry of the combinations of lists customers have.
#[derive(Clone)]
pub struct PriceSources {
    pub store: Arc<dyn PriceStore>,
    pub registry: Arc<dyn PriceGroupRegistry>,
}

/// What one batch has read once for all its records.
#[derive(Default)]
struct BatchState {
    /// The registered combinations, read at the first record that needs them.
    price_groups: Option<Vec<PriceGroup>>,
    /// Skus whose prices the shop refused while a new group was published.
    prices_refused: u64,
}

/// The kinds of record the shop receives, by the table their stream comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Stock,
    Customers,
    Orders,
    Products,
    Prices,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Stock => "stock",
            Category::Customers => "customers",
            Category::Orders => "orders",
            Category::Products => "products",
            Category::Prices => "prices",
        }
    }
}

/// One record's result.
enum RecordOutcome {
    Published(Published),
    /// Nothing the shop holds changed (or the item was removed, which the shop never
    /// mirrors: products go inactive, they are not deleted).
    Skipped,
    DeadLettered,
}

/// Why a record cannot be published, ever: dead-lettered.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the record comes from a table this function does not publish: {0}")]
    UnknownTable(String),
    #[error("the record's image is not a valid {category}: {message}")]
    InvalidImage {
        category: &'static str,
        message: String,
    },
    #[error("a price record came, but this function was built without the price table")]
    PricesNotConfigured,
    #[error(
        "the price group {group} is not in the shop for all its {total} skus yet (the invocation's time is up); the record's retry goes on from the saved progress"
    )]
    BackfillIncomplete { group: String, total: usize },
    /// The bridge's own tables (prices, the registry of price groups).
    #[error(transparent)]
    Store(PortError),
    #[error(transparent)]
    Shop(#[from] PortError),
}

impl RecordError {
    fn class(&self) -> ErrorClass {
        match self {
            RecordError::Shop(err) | RecordError::Store(err) => err.class,
            RecordError::BackfillIncomplete { .. } => ErrorClass::Retryable,
            _ => ErrorClass::Permanent,
        }
    }

    /// The shop refused the API client, not the record.
    fn is_credentials(&self) -> bool {
        matches!(self, RecordError::Shop(err) if bridge_commercetools::wiring::is_credentials(err))
    }

    fn code(&self) -> &'static str {
        match self {
            RecordError::Shop(_) if self.is_credentials() => "shop_credentials_refused",
            RecordError::UnknownTable(_) => "unknown_table",
            RecordError::InvalidImage { .. } => "invalid_image",
            RecordError::PricesNotConfigured => "prices_not_configured",
            RecordError::BackfillIncomplete { .. } => "price_group_backfill_incomplete",
            RecordError::Store(err) if err.is_retryable() => "store_unavailable",
            RecordError::Store(_) => "store_refused",
            RecordError::Shop(err) if err.is_retryable() => "shop_unavailable",
            RecordError::Shop(_) => "shop_rejected",
        }
    }
}

impl ShopSync {
    pub fn new(
        settings: ShopSyncSettings,
        shop: Arc<dyn Shop>,
        queue: Arc<dyn MessageQueue>,
    ) -> Self {
        Self::with_shop(settings, Reconnecting::fixed(shop), queue)
    }

    pub fn with_shop(
        settings: ShopSyncSettings,
        shop: Reconnecting<dyn Shop>,
        queue: Arc<dyn MessageQueue>,
    ) -> Self {
        Self {
            settings,
            shop,
            queue,
            failures_in_a_row: Mutex::default(),
            freshness: None,
            prices: None,
        }
    }

    /// Publishes the price table's changes (and the customers' price groups).
    pub fn with_prices(mut self, prices: PriceSources) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Records when the shop caught up with each category, and the lag of that change.
    pub fn with_freshness(mut self, freshness: Arc<dyn ShopFreshnessStore>) -> Self {
        self.freshness = Some(freshness);
        self
    }

    /// The shop's lag per category in this batch (the oldest change it caught up with) as
    /// the `ShopLagMilliseconds` metric (dimension `Category`, alarmed per category) and in
    /// the freshness table. Failing to record it does not fail the batch: logged, counted.
    async fn record_lag(
        &self,
        lags: BTreeMap<&'static str, chrono::Duration>,
        metrics: &mut Metrics,
    ) {
        bridge_lambda::metrics::category_gauges(
            "ShopLagMilliseconds",
            "Milliseconds",
            lags.iter()
                .map(|(category, lag)| (*category, lag.num_milliseconds().max(0) as u64)),
        );
        let Some(store) = &self.freshness else {
            return;
        };
        let now = chrono::Utc::now();
        for (category, lag) in lags {
            let freshness = ShopFreshness {
                category: category.to_string(),
                at: now,
                lag,
            };
            if let Err(err) = store.record_shop(&freshness).await {
                warn!(category, error = %cause_chain(&err), "could not record the shop's freshness");
                metrics.add("ShopFreshnessNotRecorded", 1);
            }
        }
    }

    /// Reads the client secret again (through `reconnect`) when the shop refuses the
    /// credentials, at most every [`bridge_commercetools::wiring::RECONNECT_EVERY`].
    pub fn with_reconnect(mut self, reconnect: Reconnect<dyn Shop>) -> Self {
        self.shop = Reconnecting::new(self.shop.current(), reconnect);
        self
    }

    fn shop(&self) -> Arc<dyn Shop> {
        self.shop.current()
    }

    /// Waits before a batch of `stream` goes back to Lambda for its retry, within the
    /// invocation's time. Each stream backs off on its own: one flowing does not shorten
    /// another's wait.
    async fn back_off(&self, stream: &str, deadline: Instant) {
        let failures = {
            let mut all = self
                .failures_in_a_row
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let failures = all.entry(stream.to_string()).or_default();
            *failures += 1;
            *failures - 1
        };
        let wait = Duration::from_secs(1u64 << failures.min(10)).min(self.settings.backoff_max);
        let left = deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(reserve_before(deadline));
        tokio::time::sleep(wait.min(left)).await;
    }

    /// The table a stream ARN (`arn:aws:dynamodb:…:table/<name>/stream/<label>`) belongs to.
    fn category_of(&self, record: &EventRecord) -> Result<Category, RecordError> {
        let arn = record.event_source_arn.clone().unwrap_or_default();
        let table = arn
            .split_once(":table/")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .unwrap_or("");
        if table == self.settings.stock_table {
            Ok(Category::Stock)
        } else if table == self.settings.customer_table {
            Ok(Category::Customers)
        } else if table == self.settings.order_table {
            Ok(Category::Orders)
        } else if table == self.settings.product_table {
            Ok(Category::Products)
        } else if table == self.settings.price_table {
            Ok(Category::Prices)
        } else {
            Err(RecordError::UnknownTable(arn))
        }
    }

    /// Handles one stream batch, emits its metrics and reports the first record to retry.
    pub async fn handle_stream(
        &self,
        event: StreamEvent,
        deadline: Instant,
    ) -> DynamoDbEventResponse {
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let span = tracing::info_span!(
            "stream_batch",
            function = FUNCTION_NAME,
            size = event.records.len()
        );
        let response = self
            .process(event, deadline, &mut metrics)
            .instrument(span)
            .await;
        metrics.flush();
        response
    }

    pub async fn process(
        &self,
        event: StreamEvent,
        deadline: Instant,
        metrics: &mut Metrics,
    ) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        let stream = event
            .records
            .first()
            .and_then(|r| r.event_source_arn.clone())
            .unwrap_or_default();
        let mut credentials_refused = false;
        let mut lags: BTreeMap<&'static str, chrono::Duration> = BTreeMap::new();
        let reserve = reserve_before(deadline);
        let mut state = BatchState::default();
        for record in event.records {
            let sequence = record.change.sequence_number.clone();
            if Instant::now() + reserve > deadline {
                warn!(sequence = ?sequence, "the invocation's time is up; the shard resumes from this record");
                response.batch_item_failures.push(failure_at(sequence));
                break;
            }
            let span = tracing::info_span!("record", event_id = %record.event_id, correlation_id = %record.event_id, sequence = ?sequence);
            // A record without its creation time (Lambda always sends it) has no lag to tell.
            let written = record.change.approximate_creation_date_time;
            let waited = (written.timestamp() > 0).then(|| chrono::Utc::now() - written);
            let category = self.category_of(&record).ok();
            match self
                .publish(&record, &mut state, deadline)
                .instrument(span.clone())
                .await
            {
                Ok(outcome) => {
                    if let (Some(category), Some(waited)) = (category, waited) {
                        let lag = lags.entry(category.as_str()).or_insert(waited);
                        *lag = (*lag).max(waited);
                    }
                    count(metrics, outcome)
                }
                Err(err) if err.class() == ErrorClass::Retryable => {
                    credentials_refused = err.is_credentials();
                    span.in_scope(|| {
                        warn!(code = err.code(), reason = %cause_chain(&err), "the shop cannot take the record now; the shard resumes from it")
                    });
                    metrics.add("ShopRetried", 1);
                    response.batch_item_failures.push(failure_at(sequence));
                    break;
                }
                Err(err) => match self
                    .dead_letter(&record, &err)
                    .instrument(span.clone())
                    .await
                {
                    Ok(()) => {
                        span.in_scope(|| {
                            error!(code = err.code(), reason = %cause_chain(&err), outcome = "dead_lettered", "the shop refused the record; it is in the dead-letter queue")
                        });
                        count(metrics, RecordOutcome::DeadLettered);
                    }
                    Err(dlq) => {
                        // Not in the DLQ, so not settled: the shard stops here and retries.
                        span.in_scope(|| {
                            error!(code = err.code(), reason = %cause_chain(&err), dlq_error = %cause_chain(&dlq), "the refused record could not be dead-lettered; the shard resumes from it")
                        });
                        metrics.add("ShopRetried", 1);
                        response.batch_item_failures.push(failure_at(sequence));
                        break;
                    }
                },
            }
        }
        if !lags.is_empty() {
            self.record_lag(lags, metrics).await;
        }
        if state.prices_refused > 0 {
            metrics.add("ShopPricesRefused", state.prices_refused);
        }
        if response.batch_item_failures.is_empty() {
            self.failures_in_a_row
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&stream);
        } else {
            if credentials_refused {
                self.shop.credentials_refused().await;
            }
            self.back_off(&stream, deadline).await;
        }
        response
    }

    async fn publish(
        &self,
        record: &EventRecord,
        state: &mut BatchState,
        deadline: Instant,
    ) -> Result<RecordOutcome, RecordError> {
        let category = self.category_of(record)?;
        // A price record removed changes what the others resolve to.
        if record.event_name == "REMOVE" && category != Category::Prices {
            info!(
                category = category.as_str(),
                outcome = "skipped",
                "a removed item is not mirrored in the shop"
            );
            return Ok(RecordOutcome::Skipped);
        }
        let published = match category {
            Category::Stock => {
                let (old, new) = images::<StockChanged>(record, "stock level")?;
                if !stock_differs_for_shop(old.as_ref(), &new) {
                    return Ok(RecordOutcome::Skipped);
                }
                self.shop().publish_stock(&new).await?
            }
            Category::Customers => {
                let (old, new) = images::<CustomerChanged>(record, "customer")?;
                if !customer_differs_for_shop(old.as_ref(), &new) {
                    return Ok(RecordOutcome::Skipped);
                }
                // The group's prices are in the shop before the customer is put into it.
                if !new.price_lists.is_empty() && self.prices.is_some() {
                    self.backfill_price_group(&new.price_lists, state, deadline)
                        .await?;
                }
                self.shop().publish_customer(&new).await?
            }
            Category::Products => {
                let (old, new) = images::<StoredProduct>(record, "product")?;
                if !product_differs_for_shop(old.as_ref(), &new) {
                    return Ok(RecordOutcome::Skipped);
                }
                let published = self
                    .shop()
                    .publish_product(&new.product, product_revision(&new))
                    .await?;
                // A new product's prices were not published while the shop lacked it (also
                // on the record's retry, when the product is there already).
                match published {
                    Published::Written { requests } | Published::AlreadyCurrent { requests }
                        if old.is_none() && self.prices.is_some() =>
                    {
                        let priced = match self.publish_all_prices(&new.product.sku).await {
                            Ok(priced) => priced.requests(),
                            Err(err) if err.class() == ErrorClass::Retryable => return Err(err),
                            // The product is in the shop; its prices wait for the sku's next
                            // price change or a resync, alarmed.
                            Err(err) => {
                                state.prices_refused += 1;
                                error!(sku = %new.product.sku, code = err.code(), reason = %cause_chain(&err), "the shop refused a new product's prices");
                                0
                            }
                        };
                        let requests = requests + priced;
                        match published {
                            Published::Written { .. } => Published::Written { requests },
                            _ => Published::AlreadyCurrent { requests },
                        }
                    }
                    other => other,
                }
            }
            Category::Prices => {
                let sources = self
                    .prices
                    .clone()
                    .ok_or(RecordError::PricesNotConfigured)?;
                let (old, new) = price_images(record)?;
                if let Some(new) = &new
                    && !price_differs_for_shop(old.as_ref(), new)
                {
                    return Ok(RecordOutcome::Skipped);
                }
                let changed =
                    new.as_ref()
                        .or(old.as_ref())
                        .ok_or_else(|| RecordError::InvalidImage {
                            category: "price",
                            message: "the record has neither image".into(),
                        })?;
                let groups: Vec<Vec<PriceListId>> = self
                    .price_groups(state)
                    .await?
                    .iter()
                    .filter(|group| group.lists.contains(&changed.price_list))
                    .map(|group| group.lists.clone())
                    .collect();
                if groups.is_empty() {
                    info!(
                        category = "prices",
                        price_list = %changed.price_list,
                        outcome = "skipped",
                        "no customer has this price list"
                    );
                    return Ok(RecordOutcome::Skipped);
                }
                let source = StoredGroupPrices {
                    store: sources.store,
                    groups,
                };
                self.shop().publish_prices(&changed.sku, &source).await?
            }
            Category::Orders => {
                let (old, new) = images::<StoredOrder>(record, "order")?;
                let Some(progress) = order_progress_changed(old.as_ref(), &new) else {
                    return Ok(RecordOutcome::Skipped);
                };
                self.shop().publish_order_progress(&progress).await?
            }
        };
        let outcome = match published {
            Published::Written { .. } => "written",
            Published::AlreadyCurrent { .. } => "already_current",
            Published::Stale { .. } => "stale",
            Published::Absent { .. } => "not_in_shop",
        };
        info!(
            category = category.as_str(),
            outcome,
            requests = published.requests(),
            "published to the shop"
        );
        Ok(RecordOutcome::Published(published))
    }

    /// The registered combinations of price lists, read once per batch (strongly
    /// consistent; see [`PriceGroupRegistry`]).
    async fn price_groups<'s>(
        &self,
        state: &'s mut BatchState,
    ) -> Result<&'s [PriceGroup], RecordError> {
        let sources = self
            .prices
            .as_ref()
            .ok_or(RecordError::PricesNotConfigured)?;
        if state.price_groups.is_none() {
            let groups = sources
                .registry
                .price_groups()
                .await
                .map_err(RecordError::Store)?;
            state.price_groups = Some(groups);
        }
        Ok(state.price_groups.as_deref().unwrap_or_default())
    }

    /// `sku`'s prices in every registered group (a product the shop did not have). The
    /// registry is read after the product was made, not from the batch's copy: a group
    /// registered since, whose fill found no product yet, gets the sku's prices here.
    async fn publish_all_prices(&self, sku: &bridge_domain::Sku) -> Result<Published, RecordError> {
        let sources = self
            .prices
            .clone()
            .ok_or(RecordError::PricesNotConfigured)?;
        let groups: Vec<Vec<PriceListId>> = sources
            .registry
            .price_groups()
            .await
            .map_err(RecordError::Store)?
            .into_iter()
            .map(|group| group.lists)
            .collect();
        if groups.is_empty() {
            return Ok(Published::AlreadyCurrent { requests: 0 });
        }
        let source = StoredGroupPrices {
            store: sources.store,
            groups,
        };
        Ok(self.shop().publish_prices(sku, &source).await?)
    }

    /// Makes sure the customer group of `lists` holds the prices of every sku its lists
    /// price before its customer is put into it ([`fill_price_group`]). Out of time, the
    /// record is retried and the fill goes on from its saved progress.
    async fn backfill_price_group(
        &self,
        lists: &[PriceListId],
        state: &mut BatchState,
        deadline: Instant,
    ) -> Result<(), RecordError> {
        let sources = self
            .prices
            .clone()
            .ok_or(RecordError::PricesNotConfigured)?;
        let known = self
            .price_groups(state)
            .await?
            .iter()
            .find(|group| group.lists == lists)
            .cloned();
        if known.as_ref().is_some_and(|group| group.backfilled) {
            return Ok(());
        }
        let group = price_group_key(lists).unwrap_or_default();
        let until = deadline.checked_sub(reserve_before(deadline));
        let shop = self.shop();
        let mut refused = 0u64;
        let report = fill_price_group(
            shop.as_ref(),
            sources.store.clone(),
            sources.registry.as_ref(),
            known.as_ref(),
            lists,
            until,
            &mut |sku, err| {
                // One sku the shop refuses does not keep a customer out of its prices:
                // counted, alarmed and logged; the price stream dead-letters it on its
                // next change, `bridgectl shop resync --category prices --sku` repeats it.
                refused += 1;
                error!(%group, sku = %sku, code = "shop_rejected", reason = %cause_chain(err), "the shop refused a sku's prices for a new price group");
            },
        )
        .await;
        state.prices_refused += refused;
        // The next record reads the registry again, with this group (and its progress).
        state.price_groups = None;
        let report = report.map_err(|err| {
            if err.operation.starts_with("shop") {
                RecordError::Shop(err)
            } else {
                RecordError::Store(err)
            }
        })?;
        if !report.complete {
            return Err(RecordError::BackfillIncomplete {
                group,
                total: report.skus,
            });
        }
        info!(%group, skus = report.skus, written = report.written, refused = report.refused, "price group published for every sku of its lists");
        Ok(())
    }

    /// The stream record itself is the message: `bridgectl dlq` shows it with the reason,
    /// and a replay can publish it again.
    async fn dead_letter(&self, record: &EventRecord, err: &RecordError) -> Result<(), PortError> {
        let encode = |record: &EventRecord| {
            serde_json::to_string(record).map_err(|e| {
                PortError::permanent("shop.dead_letter", format!("cannot encode the record: {e}"))
            })
        };
        let mut body = encode(record)?;
        let mut attributes = BTreeMap::new();
        if body.len() > DEAD_LETTER_MAX_BYTES {
            // An item too large for a queue message (an order of many lines) would hold its
            // shard for a day: the record goes without its images; its keys and sequence
            // number say which item to look at in the table.
            let mut trimmed = record.clone();
            trimmed.change.new_image = Default::default();
            trimmed.change.old_image = Default::default();
            body = encode(&trimmed)?;
            attributes.insert("images_dropped".to_string(), "true".to_string());
        }
        let failure = MessageError {
            class: err.class(),
            code: err.code().to_string(),
            message: cause_chain(err),
        };
        let message = OutboundMessage {
            body,
            attributes: failure_attributes(attributes, &failure, 1, FUNCTION_NAME),
            ..Default::default()
        };
        self.queue
            .send(&self.settings.dead_letter_queue, &message)
            .await
            .map(|_| ())
    }
}

fn failure_at(sequence: Option<String>) -> DynamoDbBatchItemFailure {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = sequence;
    failure
}

fn count(metrics: &mut Metrics, outcome: RecordOutcome) {
    match outcome {
        RecordOutcome::Published(published) => {
            metrics.add("ShopRequests", published.requests().into());
            let name = match published {
                Published::Written { .. } => "ShopPublished",
                Published::AlreadyCurrent { .. } => "ShopAlreadyCurrent",
                Published::Stale { .. } => "ShopStale",
                Published::Absent { .. } => "ShopNotInShop",
            };
            metrics.add(name, 1);
        }
        RecordOutcome::Skipped => metrics.add("ShopUnchanged", 1),
        RecordOutcome::DeadLettered => metrics.add("ShopDeadLettered", 1),
    }
}

/// A price record's old and new image: either may be absent (INSERT, REMOVE), not both.
fn price_images(
    record: &EventRecord,
) -> Result<(Option<PriceChanged>, Option<PriceChanged>), RecordError> {
    let read = |image: &serde_dynamo::Item| -> Result<Option<PriceChanged>, RecordError> {
        if image.is_empty() {
            return Ok(None);
        }
        serde_dynamo::from_item(image.clone())
            .map(Some)
            .map_err(|e| RecordError::InvalidImage {
                category: "price",
                message: e.to_string(),
            })
    };
    Ok((
        read(&record.change.old_image)?,
        read(&record.change.new_image)?,
    ))
}

/// The record's old image (absent on INSERT) and new image as the table's records.
fn images<T: serde::de::DeserializeOwned>(
    record: &EventRecord,
    category: &'static str,
) -> Result<(Option<T>, T), RecordError> {
    let invalid = |e: serde_dynamo::Error| RecordError::InvalidImage {
        category,
        message: e.to_string(),
    };
    let new = serde_dynamo::from_item(record.change.new_image.clone()).map_err(invalid)?;
    let old = if record.change.old_image.is_empty() {
        None
    } else {
        // An old image that no longer reads is only a missed saving: publish the new one.
        serde_dynamo::from_item(record.change.old_image.clone()).ok()
    };
    Ok((old, new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridge_domain::revision::Revision;
    use serde_json::{Value, json};
    use std::sync::Mutex;

    /// A shop that records what it was asked and fails the skus it is told to.
    #[derive(Default)]
    struct FakeShop {
        published: Mutex<Vec<String>>,
        refuse: Vec<&'static str>,
        down: Vec<&'static str>,
    }

    #[async_trait::async_trait]
    impl Shop for FakeShop {
        async fn publish_stock(&self, stock: &StockChanged) -> Result<Published, PortError> {
            let sku = stock.sku.as_str();
            if self.down.contains(&sku) {
                return Err(PortError::retryable(
                    "shop.inventory",
                    "503 Service Unavailable",
                ));
            }
            if self.refuse.contains(&sku) {
                return Err(PortError::permanent(
                    "shop.inventory",
                    "400 InvalidInput: quantityOnStock",
                ));
            }
            self.published
                .lock()
                .unwrap()
                .push(format!("{sku}@{}", stock.revision.value()));
            Ok(Published::Written { requests: 2 })
        }

        async fn publish_customer(
            &self,
            customer: &CustomerChanged,
        ) -> Result<Published, PortError> {
            self.published
                .lock()
                .unwrap()
                .push(customer.customer_id.as_str().to_string());
            Ok(Published::Stale {
                shop_revision: Revision::new(99),
                requests: 1,
            })
        }

        async fn publish_product(
            &self,
            product: &bridge_domain::product::Product,
            revision: Revision,
        ) -> Result<Published, PortError> {
            self.published
                .lock()
                .unwrap()
                .push(format!("{}@{}", product.sku, revision.value()));
            Ok(Published::Written { requests: 2 })
        }

        async fn publish_prices(
            &self,
            sku: &bridge_domain::Sku,
            source: &dyn bridge_domain::shop::ShopPriceSource,
        ) -> Result<Published, PortError> {
            if self.refuse.contains(&sku.as_str()) {
                return Err(PortError::permanent(
                    "shop.publish_prices",
                    "400 InvalidField: value",
                ));
            }
            let wanted = source.prices_of(sku, chrono::Utc::now()).await?;
            for (group, prices) in wanted.groups {
                let values: Vec<String> =
                    prices.prices.iter().map(|p| p.value.to_string()).collect();
                self.published.lock().unwrap().push(format!(
                    "{sku}:{}={}",
                    prices
                        .lists
                        .iter()
                        .map(|l| l.as_str())
                        .collect::<Vec<_>>()
                        .join("+"),
                    values.join("/")
                ));
                assert!(group.starts_with("pl-"));
            }
            Ok(Published::Written { requests: 2 })
        }

        async fn publish_order_progress(
            &self,
            progress: &bridge_domain::shop::OrderProgress,
        ) -> Result<Published, PortError> {
            self.published.lock().unwrap().push(format!(
                "{}:{:?}@{}",
                progress.order_id,
                progress.state,
                progress.revision.value()
            ));
            Ok(Published::Written { requests: 2 })
        }
    }

    #[derive(Default)]
    struct FakeQueue {
        sent: Mutex<Vec<(String, OutboundMessage)>>,
        broken: bool,
    }

    #[async_trait::async_trait]
    impl MessageQueue for FakeQueue {
        async fn send(&self, queue: &str, message: &OutboundMessage) -> Result<String, PortError> {
            if self.broken {
                return Err(PortError::retryable("sqs.send", "throttled"));
            }
            self.sent
                .lock()
                .unwrap()
                .push((queue.to_string(), message.clone()));
            Ok("m".into())
        }
        async fn delay(&self, _: &str, _: &str, _: i32) -> Result<(), PortError> {
            Ok(())
        }
    }

    pub(super) fn settings() -> ShopSyncSettings {
        ShopSyncSettings {
            stock_table: "stock".into(),
            customer_table: "customers".into(),
            order_table: "orders".into(),
            product_table: "products".into(),
            price_table: "prices".into(),
            dead_letter_queue: "shop-dlq".into(),
            backoff_max: Duration::ZERO,
        }
    }

    fn stock_image(sku: &str, available: &str, revision: u64) -> Value {
        json!({"sku": {"S": sku}, "warehouse": {"S": "W1"}, "available": {"S": available},
               "revision": {"N": revision.to_string()}})
    }

    fn record(table: &str, sequence: u64, name: &str, old: Option<Value>, new: Value) -> Value {
        let key = old
            .as_ref()
            .map_or(new["sku"].clone(), |old| old["sku"].clone());
        let mut change = json!({"Keys": {"sku": key}, "NewImage": new,
            "SequenceNumber": sequence.to_string(), "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"});
        if let Some(old) = old {
            change["OldImage"] = old;
        }
        json!({"eventID": format!("e{sequence}"), "eventName": name, "eventSource": "aws:dynamodb",
               "awsRegion": "eu-central-1",
               "eventSourceARN": format!("arn:aws:dynamodb:eu-central-1:1:table/{table}/stream/2026"),
               "dynamodb": change})
    }

    fn batch(records: Vec<Value>) -> StreamEvent {
        serde_json::from_value(json!({"Records": records})).unwrap()
    }

    async fn run(
        shop: Arc<FakeShop>,
        queue: Arc<FakeQueue>,
        event: StreamEvent,
    ) -> (DynamoDbEventResponse, Metrics) {
        let sync = ShopSync::new(settings(), shop, queue);
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let response = sync
            .process(
                event,
                Instant::now() + Duration::from_secs(60),
                &mut metrics,
            )
            .await;
        (response, metrics)
    }

    fn failed_at(response: &DynamoDbEventResponse) -> Vec<String> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone().unwrap_or_default())
            .collect()
    }

    #[tokio::test]
    async fn a_refused_record_is_dead_lettered_with_the_shops_error_and_its_neighbours_publish() {
        let shop = Arc::new(FakeShop {
            refuse: vec!["B"],
            ..Default::default()
        });
        let queue = Arc::new(FakeQueue::default());
        let event = batch(vec![
            record("stock", 1, "INSERT", None, stock_image("A", "5", 1)),
            record("stock", 2, "INSERT", None, stock_image("B", "5", 1)),
            record("stock", 3, "INSERT", None, stock_image("C", "5", 1)),
        ]);
        let (response, metrics) = run(shop.clone(), queue.clone(), event).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*shop.published.lock().unwrap(), ["A@1", "C@1"]);
        let sent = queue.sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        let (dlq, message) = &sent[0];
        assert_eq!(dlq, "shop-dlq");
        assert_eq!(message.attributes["failure_code"], "shop_rejected");
        assert!(
            message.attributes["failure_reason"].contains("InvalidInput"),
            "{:?}",
            message.attributes
        );
        assert_eq!(message.attributes["failure_class"], "permanent");
        let body: Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(body["dynamodb"]["NewImage"]["sku"]["S"], "B");
        assert_eq!(metrics.count("ShopPublished"), 2);
        assert_eq!(metrics.count("ShopDeadLettered"), 1);
        assert_eq!(metrics.count("ShopRequests"), 4);
    }

    #[tokio::test]
    async fn a_shop_that_cannot_take_a_record_ends_the_batch_there_so_nothing_overtakes_it() {
        let shop = Arc::new(FakeShop {
            down: vec!["B"],
            ..Default::default()
        });
        let queue = Arc::new(FakeQueue::default());
        let event = batch(vec![
            record("stock", 1, "INSERT", None, stock_image("A", "5", 1)),
            record("stock", 2, "INSERT", None, stock_image("B", "5", 1)),
            record(
                "stock",
                3,
                "MODIFY",
                Some(stock_image("B", "5", 1)),
                stock_image("B", "6", 2),
            ),
        ]);
        let (response, metrics) = run(shop.clone(), queue.clone(), event).await;
        assert_eq!(failed_at(&response), ["2"]);
        assert_eq!(*shop.published.lock().unwrap(), ["A@1"]);
        assert!(queue.sent.lock().unwrap().is_empty());
        assert_eq!(metrics.count("ShopRetried"), 1);
    }

    #[tokio::test]
    async fn a_refused_record_too_large_for_a_message_is_dead_lettered_without_its_images() {
        let shop = Arc::new(FakeShop {
            refuse: vec!["BIG"],
            ..Default::default()
        });
        let queue = Arc::new(FakeQueue::default());
        let mut image = stock_image("BIG", "5", 1);
        image["padding"] = json!({"S": "x".repeat(300 * 1024)});
        let event = batch(vec![record("stock", 1, "INSERT", None, image)]);
        let (response, _) = run(shop, queue.clone(), event).await;
        assert!(response.batch_item_failures.is_empty(), "the shard goes on");
        let sent = queue.sent.lock().unwrap();
        let (_, message) = &sent[0];
        assert!(
            message.body.len() < DEAD_LETTER_MAX_BYTES,
            "{}",
            message.body.len()
        );
        assert_eq!(message.attributes["images_dropped"], "true");
        let body: Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(body["dynamodb"]["Keys"]["sku"]["S"], "BIG");
        assert_eq!(body["dynamodb"]["SequenceNumber"], "1");
    }

    #[tokio::test]
    async fn a_refused_record_that_cannot_be_dead_lettered_is_retried_not_dropped() {
        let shop = Arc::new(FakeShop {
            refuse: vec!["A"],
            ..Default::default()
        });
        let queue = Arc::new(FakeQueue {
            broken: true,
            ..Default::default()
        });
        let event = batch(vec![
            record("stock", 7, "INSERT", None, stock_image("A", "5", 1)),
            record("stock", 8, "INSERT", None, stock_image("C", "5", 1)),
        ]);
        let (response, _) = run(shop.clone(), queue, event).await;
        assert_eq!(failed_at(&response), ["7"]);
        assert!(shop.published.lock().unwrap().is_empty());
    }

    /// A shop whose API client is refused: the secret is wrong.
    struct RefusingShop;

    #[async_trait::async_trait]
    impl Shop for RefusingShop {
        async fn publish_stock(&self, _: &StockChanged) -> Result<Published, PortError> {
            Err(PortError::retryable(
                bridge_commercetools::CREDENTIALS_OPERATION,
                "POST /oauth/token: 401 invalid_client",
            ))
        }
        async fn publish_customer(&self, _: &CustomerChanged) -> Result<Published, PortError> {
            Err(PortError::retryable(
                bridge_commercetools::CREDENTIALS_OPERATION,
                "POST /oauth/token: 401 invalid_client",
            ))
        }
        async fn publish_product(
            &self,
            _: &bridge_domain::product::Product,
            _: Revision,
        ) -> Result<Published, PortError> {
            Err(PortError::retryable(
                bridge_commercetools::CREDENTIALS_OPERATION,
                "POST /oauth/token: 401 invalid_client",
            ))
        }

        async fn publish_prices(
            &self,
            _: &bridge_domain::Sku,
            _: &dyn bridge_domain::shop::ShopPriceSource,
        ) -> Result<Published, PortError> {
            Err(PortError::retryable(
                bridge_commercetools::CREDENTIALS_OPERATION,
                "POST /oauth/token: 401 invalid_client",
            ))
        }

        async fn publish_order_progress(
            &self,
            _: &bridge_domain::shop::OrderProgress,
        ) -> Result<Published, PortError> {
            Err(PortError::retryable(
                bridge_commercetools::CREDENTIALS_OPERATION,
                "POST /oauth/token: 401 invalid_client",
            ))
        }
    }

    #[tokio::test]
    async fn refused_credentials_hold_the_shard_and_the_secret_is_read_again() {
        let good = Arc::new(FakeShop::default());
        let reconnects = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (for_reconnect, counted) = (good.clone(), reconnects.clone());
        let reconnect: Reconnect<dyn Shop> = Arc::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let shop: Arc<dyn Shop> = for_reconnect.clone();
            Box::pin(async move { Ok(shop) })
        });
        let queue = Arc::new(FakeQueue::default());
        let sync = ShopSync::new(settings(), Arc::new(RefusingShop), queue.clone())
            .with_reconnect(reconnect);
        let event = || {
            batch(vec![record(
                "stock",
                1,
                "INSERT",
                None,
                stock_image("A", "5", 1),
            )])
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let response = sync.process(event(), deadline, &mut metrics).await;
        assert_eq!(
            failed_at(&response),
            ["1"],
            "the record waits, it is not dead-lettered"
        );
        assert!(queue.sent.lock().unwrap().is_empty());
        assert_eq!(reconnects.load(std::sync::atomic::Ordering::SeqCst), 1);
        let response = sync.process(event(), deadline, &mut metrics).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*good.published.lock().unwrap(), ["A@1"]);
    }

    #[tokio::test]
    async fn what_the_shop_does_not_hold_costs_no_request() {
        let shop = Arc::new(FakeShop::default());
        let queue = Arc::new(FakeQueue::default());
        let mut with_as_of = stock_image("A", "5", 2);
        with_as_of["as_of"] = json!({"S": "2026-12-04T10:00:00Z"});
        let event = batch(vec![
            // Same quantity under a new revision: the shop already shows it.
            record(
                "stock",
                1,
                "MODIFY",
                Some(stock_image("A", "5", 1)),
                with_as_of,
            ),
            // Removed items are not mirrored.
            record(
                "stock",
                2,
                "REMOVE",
                Some(stock_image("A", "5", 2)),
                json!({}),
            ),
        ]);
        let (response, metrics) = run(shop.clone(), queue, event).await;
        assert!(response.batch_item_failures.is_empty());
        assert!(shop.published.lock().unwrap().is_empty());
        assert_eq!(metrics.count("ShopUnchanged"), 2);
        assert_eq!(metrics.count("ShopRequests"), 0);
    }

    #[tokio::test]
    async fn a_record_of_an_unknown_table_or_an_unreadable_image_is_dead_lettered() {
        let shop = Arc::new(FakeShop::default());
        let queue = Arc::new(FakeQueue::default());
        let event = batch(vec![
            record("freshness", 1, "INSERT", None, stock_image("A", "5", 1)),
            record("stock", 2, "INSERT", None, json!({"sku": {"S": "A"}})),
        ]);
        let (response, metrics) = run(shop, queue.clone(), event).await;
        assert!(response.batch_item_failures.is_empty());
        let codes: Vec<String> = queue
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m)| m.attributes["failure_code"].clone())
            .collect();
        assert_eq!(codes, ["unknown_table", "invalid_image"]);
        assert_eq!(metrics.count("ShopDeadLettered"), 2);
    }

    /// An order table item's image, as the stream carries it.
    fn order_image(state: bridge_domain::orders::OrderState) -> Value {
        let placed: bridge_domain::OrderPlaced = serde_json::from_value(json!({
            "order_id": "SHOP-1", "revision": 1, "customer_id": "C-1", "currency": "EUR",
            "lines": [{"line": 1, "sku": "A", "quantity": "1", "unit_price": "1"}],
            "placed_at": "2026-12-07T09:00:00Z", "po_number": null, "cost_center": null,
            "buyer": null, "approvals": [], "delivery": null}))
        .unwrap();
        let mut stored = StoredOrder::new(placed, chrono::Utc::now());
        stored.transition(state, chrono::Utc::now());
        let item: serde_dynamo::Item = serde_dynamo::to_item(&stored).unwrap();
        let mut image = serde_json::to_value(item).unwrap();
        image["order_id"] = json!({"S": "SHOP-1"});
        image["state_name"] = json!({"S": stored.state.name()});
        image
    }

    #[tokio::test]
    async fn an_orders_erp_progress_goes_to_the_shop_once_and_what_the_shop_does_not_show_costs_nothing()
     {
        use bridge_domain::orders::OrderState;
        let shop = Arc::new(FakeShop::default());
        let queue = Arc::new(FakeQueue::default());
        let accepted = OrderState::Accepted {
            erp_order_number: "SO-9".into(),
        };
        let order_record = |sequence, old: Option<OrderState>, new: OrderState| {
            let mut r = record(
                "orders",
                sequence,
                if old.is_some() { "MODIFY" } else { "INSERT" },
                old.map(order_image),
                order_image(new),
            );
            r["dynamodb"]["Keys"] = json!({"order_id": {"S": "SHOP-1"}});
            r
        };
        let event = batch(vec![
            // Received: the shop's order stays as the checkout left it.
            order_record(1, None, OrderState::Received),
            order_record(2, Some(OrderState::Received), OrderState::Submitted),
            order_record(3, Some(OrderState::Submitted), accepted.clone()),
            // Saved again with nothing the shop shows changed (a retry count, say).
            order_record(4, Some(accepted.clone()), accepted),
        ]);
        let (response, metrics) = run(shop.clone(), queue.clone(), event).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*shop.published.lock().unwrap(), ["SHOP-1:Confirmed@0"]);
        assert_eq!(metrics.count("ShopUnchanged"), 3);
        assert!(queue.sent.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_product_goes_to_the_shop_under_its_import_time_and_a_repeat_of_its_content_costs_nothing()
     {
        let shop = Arc::new(FakeShop::default());
        let queue = Arc::new(FakeQueue::default());
        let image = |import: &str, at: &str, name: &str| {
            json!({"sku": {"S": "DRILL-7"}, "gtin": {"NULL": true}, "names": {"M": {"de": {"S": name}}},
                "descriptions": {"M": {}}, "brand": {"NULL": true}, "category": {"L": []},
                "unit": {"NULL": true}, "weight_kg": {"NULL": true}, "images": {"L": []},
                "status": {"S": "active"}, "attributes": {"M": {}}, "content_hash": {"S": name},
                "import_id": {"S": import}, "updated_at": {"S": at}})
        };
        let product_record = |sequence, old: Option<Value>, new: Value| {
            let mut r = record("products", sequence, "MODIFY", old, new);
            r["dynamodb"]["Keys"] = json!({"sku": {"S": "DRILL-7"}});
            r
        };
        let first = image("i1", "2026-12-07T09:00:00Z", "Bohrer");
        let event = batch(vec![
            product_record(1, None, first.clone()),
            // Imported again unchanged (another import, another time): nothing to publish.
            product_record(
                2,
                Some(first.clone()),
                image("i2", "2026-12-07T10:00:00Z", "Bohrer"),
            ),
            product_record(
                3,
                Some(image("i2", "2026-12-07T10:00:00Z", "Bohrer")),
                image("i3", "2026-12-07T11:00:00Z", "Bohrer 7 mm"),
            ),
        ]);
        let (response, metrics) = run(shop.clone(), queue.clone(), event).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            queue.sent.lock().unwrap()
        );
        assert_eq!(
            *shop.published.lock().unwrap(),
            ["DRILL-7@1796634000000", "DRILL-7@1796641200000"]
        );
        assert_eq!(metrics.count("ShopUnchanged"), 1);
    }

    #[derive(Default)]
    struct FakeFreshness(Mutex<Vec<ShopFreshness>>);

    #[async_trait::async_trait]
    impl ShopFreshnessStore for FakeFreshness {
        async fn record_shop(&self, freshness: &ShopFreshness) -> Result<(), PortError> {
            self.0.lock().unwrap().push(freshness.clone());
            Ok(())
        }
        async fn shop_all(&self) -> Result<Vec<ShopFreshness>, PortError> {
            Ok(self.0.lock().unwrap().clone())
        }
    }

    #[tokio::test]
    async fn the_shops_lag_per_category_is_the_oldest_change_it_caught_up_with() {
        let shop = Arc::new(FakeShop {
            down: vec!["DOWN"],
            ..Default::default()
        });
        let queue = Arc::new(FakeQueue::default());
        let freshness = Arc::new(FakeFreshness::default());
        let sync = ShopSync::new(settings(), shop, queue).with_freshness(freshness.clone());
        let written_ago = |seconds: i64, mut record: Value| {
            let at = chrono::Utc::now() - chrono::Duration::seconds(seconds);
            record["dynamodb"]["ApproximateCreationDateTime"] = json!(at.timestamp());
            record
        };
        let event = batch(vec![
            written_ago(
                30,
                record("stock", 1, "INSERT", None, stock_image("A", "5", 1)),
            ),
            written_ago(
                10,
                record("stock", 2, "INSERT", None, stock_image("B", "5", 1)),
            ),
            // Not caught up with: it waits, so it is no catch-up of its own.
            written_ago(
                600,
                record("stock", 3, "INSERT", None, stock_image("DOWN", "5", 1)),
            ),
        ]);
        let mut metrics = Metrics::new(FUNCTION_NAME);
        sync.process(
            event,
            Instant::now() + Duration::from_secs(60),
            &mut metrics,
        )
        .await;
        let recorded = freshness.0.lock().unwrap().clone();
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        assert_eq!(recorded[0].category, "stock");
        let lag = recorded[0].lag.num_seconds();
        assert!(
            (29..=40).contains(&lag),
            "the oldest caught-up change: {lag} s"
        );
    }

    #[tokio::test]
    async fn customer_changes_go_to_the_shop_and_a_newer_shop_revision_counts_as_stale() {
        let shop = Arc::new(FakeShop::default());
        let queue = Arc::new(FakeQueue::default());
        let customer = json!({"customer_id": {"S": "C-1"}, "name": {"S": "Acme GmbH"},
            "revision": {"N": "3"}, "blocked": {"BOOL": false}, "price_lists": {"L": []},
            "cost_centers": {"L": []}, "approval_rules": {"L": []}});
        let mut event_record = record("customers", 1, "INSERT", None, customer);
        event_record["dynamodb"]["Keys"] = json!({"customer_id": {"S": "C-1"}});
        let (response, metrics) = run(shop.clone(), queue, batch(vec![event_record])).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*shop.published.lock().unwrap(), ["C-1"]);
        assert_eq!(metrics.count("ShopStale"), 1);
    }
}

#[cfg(test)]
mod price_tests {
    //! Prices and price groups on in-memory tables (the AWS path: tests/ of bridge-testkit).
    use super::tests::settings;
    use super::*;
    use bridge_domain::revision::{ApplyOutcome, Revision};
    use bridge_domain::shop::ShopPriceSource;
    use bridge_domain::{PriceListId, Sku};
    use serde_json::{Value, json};
    use std::collections::BTreeSet;

    #[derive(Default)]
    struct Shop {
        published: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl bridge_domain::shop::Shop for Shop {
        async fn publish_stock(&self, _: &StockChanged) -> Result<Published, PortError> {
            unreachable!()
        }
        async fn publish_customer(&self, c: &CustomerChanged) -> Result<Published, PortError> {
            self.published
                .lock()
                .unwrap()
                .push(format!("customer {}", c.customer_id));
            Ok(Published::Written { requests: 2 })
        }
        async fn publish_product(
            &self,
            p: &bridge_domain::product::Product,
            _: Revision,
        ) -> Result<Published, PortError> {
            self.published
                .lock()
                .unwrap()
                .push(format!("product {}", p.sku));
            Ok(Published::Written { requests: 2 })
        }
        async fn publish_prices(
            &self,
            sku: &Sku,
            source: &dyn ShopPriceSource,
        ) -> Result<Published, PortError> {
            let wanted = source.prices_of(sku, chrono::Utc::now()).await?;
            for prices in wanted.groups.values() {
                let lists: Vec<&str> = prices.lists.iter().map(|l| l.as_str()).collect();
                let values: Vec<String> =
                    prices.prices.iter().map(|p| p.value.to_string()).collect();
                self.published.lock().unwrap().push(format!(
                    "{sku} {}: {}",
                    lists.join("+"),
                    values.join("/")
                ));
            }
            Ok(Published::Written { requests: 2 })
        }
        async fn publish_order_progress(
            &self,
            _: &bridge_domain::shop::OrderProgress,
        ) -> Result<Published, PortError> {
            unreachable!()
        }
    }

    #[derive(Default)]
    struct Tables {
        prices: Mutex<Vec<PriceChanged>>,
        groups: Mutex<Vec<PriceGroup>>,
    }

    #[async_trait::async_trait]
    impl PriceStore for Tables {
        async fn apply_price(&self, price: &PriceChanged) -> Result<ApplyOutcome, PortError> {
            self.prices.lock().unwrap().push(price.clone());
            Ok(ApplyOutcome::Applied)
        }
        async fn prices_of(
            &self,
            lists: &[PriceListId],
            sku: &Sku,
        ) -> Result<Vec<PriceChanged>, PortError> {
            Ok(self
                .prices
                .lock()
                .unwrap()
                .iter()
                .filter(|p| &p.sku == sku && lists.contains(&p.price_list))
                .cloned()
                .collect())
        }
        async fn scan_prices(
            &self,
            _: Option<String>,
        ) -> Result<(Vec<PriceChanged>, Option<String>), PortError> {
            Ok((self.prices.lock().unwrap().clone(), None))
        }
    }

    #[async_trait::async_trait]
    impl PriceGroupRegistry for Tables {
        async fn price_groups(&self) -> Result<Vec<PriceGroup>, PortError> {
            Ok(self.groups.lock().unwrap().clone())
        }
        async fn register_price_group(&self, lists: &[PriceListId]) -> Result<(), PortError> {
            let mut groups = self.groups.lock().unwrap();
            if !groups.iter().any(|g| g.lists == lists) {
                groups.push(PriceGroup {
                    lists: lists.to_vec(),
                    backfilled: false,
                    progress: None,
                });
            }
            Ok(())
        }
        async fn mark_backfilled(&self, lists: &[PriceListId]) -> Result<(), PortError> {
            for group in self.groups.lock().unwrap().iter_mut() {
                if group.lists == lists {
                    group.backfilled = true;
                }
            }
            Ok(())
        }
        async fn save_progress(&self, lists: &[PriceListId], last: &Sku) -> Result<(), PortError> {
            for group in self.groups.lock().unwrap().iter_mut() {
                if group.lists == lists {
                    group.progress = Some(last.clone());
                }
            }
            Ok(())
        }
    }

    #[derive(Default)]
    struct Queue;

    #[async_trait::async_trait]
    impl MessageQueue for Queue {
        async fn send(&self, _: &str, _: &OutboundMessage) -> Result<String, PortError> {
            Ok("m".into())
        }
        async fn delay(&self, _: &str, _: &str, _: i32) -> Result<(), PortError> {
            Ok(())
        }
    }

    fn price(list: &str, sku: &str, value: &str, revision: u64) -> PriceChanged {
        serde_json::from_value(json!({
            "price_list": list, "sku": sku, "currency": "EUR",
            "tiers": [{"min_qty": "1", "unit_price": value}],
            "revision": revision, "price_unit": "PCE", "price_per": "1",
            "validity": {"valid_from": null, "valid_until": null}, "deleted": false,
        }))
        .unwrap()
    }

    fn image<T: serde::Serialize>(value: &T) -> Value {
        let item: serde_dynamo::Item = serde_dynamo::to_item(value).unwrap();
        serde_json::to_value(item).unwrap()
    }

    fn customer(id: &str, lists: &[&str]) -> CustomerChanged {
        serde_json::from_value(json!({
            "customer_id": id, "name": "ACME", "revision": 1, "blocked": false,
            "credit_limit": null, "open_items": null, "payment_terms": null,
            "delivery_terms": null, "price_lists": lists, "cost_centers": [],
            "approval_rules": [],
        }))
        .unwrap()
    }

    fn record(table: &str, sequence: u64, name: &str, old: Option<Value>, new: Value) -> Value {
        let mut change = json!({"Keys": {}, "NewImage": new,
            "SequenceNumber": sequence.to_string(), "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"});
        if let Some(old) = old {
            change["OldImage"] = old;
        }
        json!({"eventID": format!("e{sequence}"), "eventName": name, "eventSource": "aws:dynamodb",
               "awsRegion": "eu-central-1",
               "eventSourceARN": format!("arn:aws:dynamodb:eu-central-1:1:table/{table}/stream/2026"),
               "dynamodb": change})
    }

    async fn run(
        shop: Arc<Shop>,
        tables: Arc<Tables>,
        records: Vec<Value>,
    ) -> (DynamoDbEventResponse, Metrics) {
        let sync = ShopSync::new(settings(), shop, Arc::new(Queue)).with_prices(PriceSources {
            store: tables.clone(),
            registry: tables,
        });
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let event = serde_json::from_value(json!({"Records": records})).unwrap();
        let response = sync
            .process(
                event,
                Instant::now() + Duration::from_secs(60),
                &mut metrics,
            )
            .await;
        (response, metrics)
    }

    fn lists(ids: &[&str]) -> Vec<PriceListId> {
        ids.iter()
            .map(|id| PriceListId::parse(id).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_new_combination_gets_every_sku_of_its_lists_before_its_first_customer() {
        let tables = Arc::new(Tables::default());
        for p in [
            price("L1", "A", "10", 1),
            price("L2", "A", "9", 1),
            price("L2", "B", "20", 1),
            price("L3", "C", "30", 1),
        ] {
            tables.apply_price(&p).await.unwrap();
        }
        let shop = Arc::new(Shop::default());
        let records = vec![
            record(
                "customers",
                1,
                "INSERT",
                None,
                image(&customer("C-1", &["L1", "L2"])),
            ),
            // The same combination again: published already.
            record(
                "customers",
                2,
                "INSERT",
                None,
                image(&customer("C-2", &["L1", "L2"])),
            ),
        ];
        let (response, _) = run(shop.clone(), tables.clone(), records).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            *shop.published.lock().unwrap(),
            ["A L1+L2: 10", "B L1+L2: 20", "customer C-1", "customer C-2"],
            "L1 first for A, L2 for B; C is in no list of the group"
        );
        assert_eq!(
            *tables.groups.lock().unwrap(),
            [PriceGroup {
                lists: lists(&["L1", "L2"]),
                backfilled: true,
                // Progress is saved every 64 skus or when a fill stops early: two skus finish
                // in one round, so the group is marked filled without a progress entry.
                progress: None
            }]
        );
    }

    #[tokio::test]
    async fn a_price_change_goes_to_every_group_holding_its_list_and_nowhere_else() {
        let tables = Arc::new(Tables::default());
        for group in [&["L1"][..], &["L2", "L1"], &["L3"]] {
            tables.register_price_group(&lists(group)).await.unwrap();
        }
        let old = price("L1", "A", "10", 1);
        let new = price("L1", "A", "11", 2);
        tables.apply_price(&new).await.unwrap();
        tables.apply_price(&price("L2", "A", "9", 1)).await.unwrap();
        let shop = Arc::new(Shop::default());
        let records = vec![
            record("prices", 1, "MODIFY", Some(image(&old)), image(&new)),
            // Only the revision changed: nothing for the shop.
            record(
                "prices",
                2,
                "MODIFY",
                Some(image(&new)),
                image(&{
                    let mut again = new.clone();
                    again.revision = Revision::new(3);
                    again
                }),
            ),
            // A list no customer has.
            record(
                "prices",
                3,
                "INSERT",
                None,
                image(&price("L9", "A", "1", 1)),
            ),
        ];
        let (response, metrics) = run(shop.clone(), tables, records).await;
        assert!(response.batch_item_failures.is_empty());
        let published: BTreeSet<String> = shop.published.lock().unwrap().iter().cloned().collect();
        assert_eq!(
            published,
            BTreeSet::from(["A L1: 11".to_string(), "A L2+L1: 9".to_string()]),
            "L2 comes first for the second group"
        );
        assert_eq!(metrics.count("ShopUnchanged"), 2);
    }

    #[tokio::test]
    async fn a_removed_price_record_is_published_as_what_is_left_and_a_new_product_gets_its_prices()
    {
        let tables = Arc::new(Tables::default());
        tables
            .register_price_group(&lists(&["L1", "L2"]))
            .await
            .unwrap();
        tables.apply_price(&price("L2", "A", "9", 1)).await.unwrap();
        let shop = Arc::new(Shop::default());
        let removed = price("L1", "A", "10", 1);
        let records = vec![record(
            "prices",
            1,
            "REMOVE",
            Some(image(&removed)),
            json!({}),
        )];
        let (response, _) = run(shop.clone(), tables.clone(), records).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*shop.published.lock().unwrap(), ["A L1+L2: 9"]);

        let shop = Arc::new(Shop::default());
        let product = bridge_domain::ports::StoredProduct {
            product: serde_json::from_value(json!({
                "sku": "A", "gtin": null, "names": {"en": "A"}, "descriptions": {},
                "brand": null, "category": [], "unit": null, "weight_kg": null, "images": [],
                "status": "active", "attributes": {}}))
            .unwrap(),
            content_hash: "h".into(),
            import_id: "i".into(),
            updated_at: "2026-12-07T09:00:00Z".parse().unwrap(),
        };
        let records = vec![record("products", 1, "INSERT", None, image(&product))];
        let (response, _) = run(shop.clone(), tables, records).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*shop.published.lock().unwrap(), ["product A", "A L1+L2: 9"]);
    }
    #[tokio::test]
    async fn a_fill_out_of_time_is_retried_and_goes_on_from_its_saved_progress() {
        let tables = Arc::new(Tables::default());
        for n in 0..70 {
            tables
                .apply_price(&price("L1", &format!("S-{n:03}"), "1", 1))
                .await
                .unwrap();
        }
        let shop = Arc::new(Shop::default());
        let group = lists(&["L1"]);
        // No time left: registered, nothing published, not done.
        let report = fill_price_group(
            shop.as_ref(),
            tables.clone(),
            tables.as_ref(),
            None,
            &group,
            Some(Instant::now()),
            &mut |_, _| {},
        )
        .await
        .unwrap();
        assert!(!report.complete);
        assert!(shop.published.lock().unwrap().is_empty());
        assert_eq!(tables.groups.lock().unwrap()[0].progress, None);
        // Done up to S-063 before: the rest only.
        tables
            .save_progress(&group, &Sku::parse("S-063").unwrap())
            .await
            .unwrap();
        let known = tables.groups.lock().unwrap()[0].clone();
        let report = fill_price_group(
            shop.as_ref(),
            tables.clone(),
            tables.as_ref(),
            Some(&known),
            &group,
            None,
            &mut |_, _| {},
        )
        .await
        .unwrap();
        assert!(report.complete);
        assert_eq!((report.skus, report.written), (70, 6));
        assert_eq!(shop.published.lock().unwrap().len(), 6);
        assert!(tables.groups.lock().unwrap()[0].backfilled);
    }
}

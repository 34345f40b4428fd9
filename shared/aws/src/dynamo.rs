//! DynamoDB adapters: revision-guarded records and webhook receipts.

use crate::classify;
use crate::price_index::{PriceIndex, index_key, window_attribute};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use bridge_domain::orders::{AdjustOutcome, OpenItemsAdjustment};
use bridge_domain::ports::{
    CustomerStore, PriceStore, READS_IN_FLIGHT, ReceiptClaim, ReceiptStore, StockStore,
    prices_per_sku,
};
use bridge_domain::{
    ApplyOutcome, CustomerChanged, CustomerId, PortError, PriceChanged, PriceListId, Revision, Sku,
    StockChanged, WarehouseId,
};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};

type Item = HashMap<String, AttributeValue>;

/// Attribute that every revision-guarded record carries.
pub const REVISION: &str = "revision";

fn to_item<T: Serialize>(operation: &'static str, value: &T) -> Result<Item, PortError> {
    serde_dynamo::to_item(value)
        .map_err(|e| PortError::permanent(operation, format!("cannot encode record: {e}")))
}

pub(crate) fn from_item<T: DeserializeOwned>(
    operation: &'static str,
    item: Item,
) -> Result<T, PortError> {
    // A stored record that no longer passes validation is data corruption: permanent.
    serde_dynamo::from_item(item)
        .map_err(|e| PortError::permanent(operation, format!("stored record is invalid: {e}")))
}

fn stored_revision(item: Option<&Item>) -> Option<Revision> {
    match item?.get(REVISION)? {
        AttributeValue::N(n) => n.parse().ok().map(Revision::new),
        _ => None,
    }
}

/// The stored revision of the record `key` names, from an eventually consistent read of
/// that one attribute. Such a read may lag a recent write, never run ahead of it, and
/// revisions only grow: a stored revision it shows at or above an incoming one is there.
async fn peek_revision(
    client: &Client,
    table: &str,
    key: Item,
    operation: &'static str,
) -> Result<Option<Revision>, PortError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .projection_expression("#rev")
        .expression_attribute_names("#rev", REVISION)
        .send()
        .await
        .map_err(|e| classify(operation, e))?;
    Ok(stored_revision(output.item.as_ref()))
}

/// The write condition of the revision rule: no stored record, or an older one.
const OLDER_OR_ABSENT: &str = "attribute_not_exists(#rev) OR #rev < :rev";

/// The stored revision of `item`'s record (its key is `key_attributes`) if it is at or
/// above `revision`: writing `item` would be stale.
async fn stored_at_or_above(
    client: &Client,
    table: &str,
    item: &Item,
    key_attributes: &[&str],
    revision: Revision,
    operation: &'static str,
) -> Result<Option<Revision>, PortError> {
    let key: Item = key_attributes
        .iter()
        .filter_map(|name| item.get(*name).map(|v| (name.to_string(), v.clone())))
        .collect();
    Ok(peek_revision(client, table, key, operation)
        .await?
        .filter(|stored| *stored >= revision))
}

/// Puts `item` only if no record with the same key has a revision at or above `revision`.
/// The condition makes the revision rule atomic under concurrent writers. A read of the
/// stored revision comes first: a redelivered or unchanged record (the common case of a
/// re-sent state) then costs half a read unit instead of a failed conditional write,
/// which DynamoDB bills as a full write.
async fn put_if_newer(
    client: &Client,
    table: &str,
    item: Item,
    key_attributes: &[&str],
    revision: Revision,
    operation: &'static str,
) -> Result<ApplyOutcome, PortError> {
    if let Some(stored) =
        stored_at_or_above(client, table, &item, key_attributes, revision, operation).await?
    {
        return Ok(ApplyOutcome::Stale { stored });
    }
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(OLDER_OR_ABSENT)
        .expression_attribute_names("#rev", REVISION)
        .expression_attribute_values(":rev", AttributeValue::N(revision.value().to_string()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(_) => Ok(ApplyOutcome::Applied),
        Err(err) => match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                Ok(ApplyOutcome::Stale {
                    // Without the old item (an emulator may omit it) the stored revision is at
                    // least the incoming one, which is all the rule needs.
                    stored: stored_revision(failed.item()).unwrap_or(revision),
                })
            }
            _ => Err(classify(operation, err)),
        },
    }
}

/// Stock levels: partition key `sku`, sort key `warehouse`.
#[derive(Clone)]
pub struct DynamoStockStore {
    client: Client,
    table: String,
}

impl DynamoStockStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl StockStore for DynamoStockStore {
    async fn apply_stock(&self, stock: &StockChanged) -> Result<ApplyOutcome, PortError> {
        let item = to_item("stock.put", stock)?;
        put_if_newer(
            &self.client,
            &self.table,
            item,
            &["sku", "warehouse"],
            stock.revision,
            "stock.put",
        )
        .await
    }

    async fn stock_of(&self, sku: &Sku) -> Result<Vec<StockChanged>, PortError> {
        let items = query_all(
            &self.client,
            &self.table,
            "sku = :sku",
            [(":sku", sku.as_str().to_string())],
            &[],
            "stock.query",
        )
        .await?;
        items
            .into_iter()
            .map(|i| from_item("stock.query", i))
            .collect()
    }

    /// BatchGetItem of the (sku, warehouse) keys, 100 a request, several in flight.
    async fn stock_in_warehouse(
        &self,
        skus: &[Sku],
        warehouse: &WarehouseId,
    ) -> Result<Vec<StockChanged>, PortError> {
        // DynamoDB refuses a batch naming one key twice.
        let skus: std::collections::BTreeSet<&Sku> = skus.iter().collect();
        let keys: Vec<crate::batch::Item> = skus
            .into_iter()
            .map(|sku| {
                HashMap::from([
                    (
                        "sku".to_string(),
                        AttributeValue::S(sku.as_str().to_string()),
                    ),
                    (
                        "warehouse".to_string(),
                        AttributeValue::S(warehouse.as_str().to_string()),
                    ),
                ])
            })
            .collect();
        crate::batch::get_many(&self.client, &self.table, &keys, None, "stock.batch_read")
            .await?
            .into_iter()
            .map(|item| from_item("stock.batch_read", item))
            .collect()
    }

    async fn scan_stock(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<StockChanged>, Option<String>), PortError> {
        scan_page(&self.client, &self.table, cursor, "stock.scan").await
    }
}

/// One page of a table scan (DynamoDB's, at most 1 MB) as records. The cursor is the
/// page's `LastEvaluatedKey` as JSON of its (string) key attributes: opaque to callers.
async fn scan_page<T: DeserializeOwned>(
    client: &Client,
    table: &str,
    cursor: Option<String>,
    operation: &'static str,
) -> Result<(Vec<T>, Option<String>), PortError> {
    let mut request = client.scan().table_name(table).consistent_read(true);
    if let Some(cursor) = cursor {
        let key: BTreeMap<String, String> = serde_json::from_str(&cursor)
            .map_err(|e| PortError::permanent(operation, format!("invalid scan cursor: {e}")))?;
        request = request.set_exclusive_start_key(Some(
            key.into_iter()
                .map(|(name, value)| (name, AttributeValue::S(value)))
                .collect(),
        ));
    }
    let output = request.send().await.map_err(|e| classify(operation, e))?;
    let records = output
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|item| from_item(operation, item))
        .collect::<Result<Vec<T>, _>>()?;
    let next = match output.last_evaluated_key.filter(|key| !key.is_empty()) {
        None => None,
        Some(key) => {
            let key = key
                .into_iter()
                .map(|(name, value)| match value {
                    AttributeValue::S(text) => Ok((name, text)),
                    other => Err(PortError::permanent(
                        operation,
                        format!("key attribute {name} is not a string: {other:?}"),
                    )),
                })
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            Some(serde_json::to_string(&key).expect("a map of strings serializes"))
        }
    };
    Ok((records, next))
}

/// Every item a scan returns, over all pages.
pub(crate) async fn scan_all(
    request: aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder,
    operation: &'static str,
) -> Result<Vec<Item>, PortError> {
    request
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| classify(operation, e))
}

async fn query_all<const N: usize>(
    client: &Client,
    table: &str,
    key_condition: &str,
    values: [(&str, String); N],
    names: &[(&str, &str)],
    operation: &'static str,
) -> Result<Vec<Item>, PortError> {
    let mut request = client
        .query()
        .table_name(table)
        .key_condition_expression(key_condition)
        .consistent_read(true);
    for (name, value) in values {
        request = request.expression_attribute_values(name, AttributeValue::S(value));
    }
    for (placeholder, name) in names {
        request = request.expression_attribute_names(*placeholder, *name);
    }
    let pages: Vec<_> = request
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| classify(operation, e))?;
    Ok(pages)
}

/// Prices: partition key `price_list`, sort key `window` (`{sku}#{valid_from}`, see
/// [`PriceChanged::window_key`]). A price record is one validity window (contract v2), and
/// the revision guard holds per window: announcing next period's price adds a window.
/// Beside it the price index (`crate::price_index`): each window also in one item per
/// (list, sku), written in the same transaction, for the read API's batch reads.
#[derive(Clone)]
pub struct DynamoPriceStore {
    client: Client,
    table: String,
    index: Option<PriceIndex>,
}

/// The price table's sort key.
pub const PRICE_WINDOW: &str = "window";
const PRICE_KEY: [&str; 2] = ["price_list", PRICE_WINDOW];

/// What [`DynamoPriceStore::rebuild_index`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IndexRebuild {
    /// Windows in the price table.
    pub windows: u64,
    /// Of those, copied into the index.
    pub copied: u64,
    /// Of those, already in the index at their revision or a newer one.
    pub current: u64,
}

impl DynamoPriceStore {
    /// The windows in `table` and their index in `index_table`: every write keeps both.
    pub fn new(client: Client, table: impl Into<String>, index_table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            index: Some(PriceIndex::new(index_table.into())),
        }
    }

    /// The windows alone, for readers without the index table (queries per sku). Such a
    /// store refuses to write: a window written without its index entry would leave the
    /// index behind, and the read API would answer from it.
    pub fn windows_only(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            index: None,
        }
    }

    /// Copies every window into the index (those written before it existed, or after a
    /// restore of the price table), then marks the index complete so that readers use it.
    /// Safe beside running writers and to repeat: an entry the index holds at the same or a
    /// newer revision is left alone.
    pub async fn rebuild_index(&self) -> Result<IndexRebuild, PortError> {
        let index = self.index.as_ref().ok_or_else(|| {
            PortError::permanent("price.index_rebuild", "this store has no index table")
        })?;
        let mut report = IndexRebuild::default();
        let mut cursor = None;
        loop {
            let (records, next) = self.scan_prices(cursor).await?;
            // The windows of one (list, sku) share an index item: copied one after another
            // (no contention on the item, and an emulator that creates an item twice when
            // two updates race for it loses nothing); different items side by side.
            let copies: Vec<_> = records
                .chunk_by(|a, b| a.price_list == b.price_list && a.sku == b.sku)
                .map(|windows| async move {
                    let mut copied = 0u64;
                    for price in windows {
                        let window = to_item("price.index_rebuild", price)?;
                        copied += u64::from(index.copy_window(&self.client, price, window).await?);
                    }
                    Ok::<_, PortError>(copied)
                })
                .collect();
            let copied: Vec<u64> = futures::stream::iter(copies)
                .buffer_unordered(READS_IN_FLIGHT)
                .try_collect()
                .await?;
            report.windows += records.len() as u64;
            report.copied += copied.iter().sum::<u64>();
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        report.current = report.windows - report.copied;
        index.mark_complete(&self.client, report.windows).await?;
        Ok(report)
    }

    /// The window's put (under the revision guard) and its index entry, in one transaction.
    async fn put_window_and_index(
        &self,
        index: &PriceIndex,
        price: &PriceChanged,
    ) -> Result<ApplyOutcome, PortError> {
        const OPERATION: &str = "price.put";
        let window = to_item(OPERATION, price)?;
        let mut item = window.clone();
        item.insert(PRICE_WINDOW.into(), AttributeValue::S(price.window_key()));
        if let Some(stored) = stored_at_or_above(
            &self.client,
            &self.table,
            &item,
            &PRICE_KEY,
            price.revision,
            OPERATION,
        )
        .await?
        {
            return Ok(ApplyOutcome::Stale { stored });
        }
        let build =
            |e: aws_sdk_dynamodb::error::BuildError| PortError::permanent(OPERATION, e.to_string());
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(OLDER_OR_ABSENT)
            .expression_attribute_names("#rev", REVISION)
            .expression_attribute_values(
                ":rev",
                AttributeValue::N(price.revision.value().to_string()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build)?;
        // Unconditional: the window's condition decides for both, and a window is only
        // ever written newer, so its entry is too.
        let entry = Update::builder()
            .table_name(&index.table)
            .set_key(Some(index_key(
                price.price_list.as_str(),
                price.sku.as_str(),
            )))
            .update_expression("SET #w = :window")
            .expression_attribute_names("#w", window_attribute(price))
            .expression_attribute_values(":window", AttributeValue::M(window))
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(entry).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(ApplyOutcome::Applied),
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                    err.as_service_error()
                    && let Some(reason) = cancelled.cancellation_reasons().first()
                    && reason.code() == Some("ConditionalCheckFailed")
                {
                    return Ok(ApplyOutcome::Stale {
                        stored: stored_revision(reason.item()).unwrap_or(price.revision),
                    });
                }
                // Cancelled for a conflict with another writer or for throughput: worth
                // another try. Anything else (an index item over 400 KB) as its code says.
                let transient = matches!(
                    err.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(c))
                        if c.cancellation_reasons().iter().any(|r| matches!(
                            r.code(),
                            Some("TransactionConflict" | "ProvisionedThroughputExceeded" | "ThrottlingError")
                        ))
                );
                let error = classify(OPERATION, err);
                Err(if transient {
                    PortError::retryable(OPERATION, error.to_string())
                } else {
                    error
                })
            }
        }
    }
}

#[async_trait]
impl PriceStore for DynamoPriceStore {
    async fn apply_price(&self, price: &PriceChanged) -> Result<ApplyOutcome, PortError> {
        match &self.index {
            Some(index) => self.put_window_and_index(index, price).await,
            None => Err(PortError::permanent(
                "price.put",
                "a price store without its index table cannot write (see DynamoPriceStore::windows_only)",
            )),
        }
    }

    async fn prices_of_skus(
        &self,
        lists: &[PriceListId],
        skus: &[Sku],
    ) -> Result<Vec<PriceChanged>, PortError> {
        match &self.index {
            Some(index) if index.is_complete(&self.client).await? => {
                index.windows(&self.client, lists, skus).await
            }
            _ => prices_per_sku(self, lists, skus).await,
        }
    }

    async fn prices_of(
        &self,
        lists: &[PriceListId],
        sku: &Sku,
    ) -> Result<Vec<PriceChanged>, PortError> {
        let mut records = Vec::new();
        for list in lists {
            // Every window of the sku in that list, deleted ones included (resolution skips
            // them): one query, however many windows the ERP announced.
            let items = query_all(
                &self.client,
                &self.table,
                "price_list = :list AND begins_with(#window, :sku)",
                [
                    (":list", list.as_str().to_string()),
                    (":sku", PriceChanged::window_prefix(sku)),
                ],
                &[("#window", PRICE_WINDOW)],
                "price.query",
            )
            .await?;
            for item in items {
                records.push(from_item("price.query", item)?);
            }
        }
        Ok(records)
    }

    async fn scan_prices(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<PriceChanged>, Option<String>), PortError> {
        scan_page(&self.client, &self.table, cursor, "price.scan").await
    }

    async fn skus_in_list(
        &self,
        list: &PriceListId,
    ) -> Result<std::collections::BTreeSet<Sku>, PortError> {
        // The list is the partition: one query, only the sku of each window read.
        let pages: Vec<_> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("price_list = :list")
            .expression_attribute_values(":list", s(list.as_str()))
            .projection_expression("sku")
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("price.skus_in_list", e))?;
        pages
            .iter()
            .map(|item| match item.get("sku") {
                Some(AttributeValue::S(sku)) => Sku::parse(sku).map_err(|e| {
                    PortError::permanent("price.skus_in_list", format!("a stored sku: {e}"))
                }),
                _ => Err(PortError::permanent(
                    "price.skus_in_list",
                    "a price record without its sku",
                )),
            })
            .collect()
    }
}

/// Customers: partition key `customer_id`.
#[derive(Clone)]
pub struct DynamoCustomerStore {
    client: Client,
    table: String,
}

impl DynamoCustomerStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl CustomerStore for DynamoCustomerStore {
    async fn apply_customer(&self, customer: &CustomerChanged) -> Result<ApplyOutcome, PortError> {
        let item = to_item("customer.put", customer)?;
        put_if_newer(
            &self.client,
            &self.table,
            item,
            &["customer_id"],
            customer.revision,
            "customer.put",
        )
        .await
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerChanged>, PortError> {
        self.customer_item(id)
            .await?
            .map(|item| from_item("customer.get", item))
            .transpose()
    }

    /// The adjusted open items are written into the customer's record with the ids counted
    /// (`open_items_adjusted_by`), under the record's revision and count of adjustments: a
    /// `customer.changed` applied meanwhile (a new record, without them) or another
    /// adjustment makes it read again. The ERP's next record replaces both.
    async fn adjust_open_items(
        &self,
        id: &CustomerId,
        adjustment: &OpenItemsAdjustment,
    ) -> Result<AdjustOutcome, PortError> {
        const OPERATION: &str = "customer.adjust_open_items";
        for _ in 0..5 {
            let Some(mut item) = self.customer_item(id).await? else {
                return Ok(AdjustOutcome::UnknownCustomer);
            };
            let adjusted_by: Vec<String> = match item.remove(ADJUSTED_BY) {
                Some(AttributeValue::L(ids)) => ids
                    .into_iter()
                    .filter_map(|v| v.as_s().ok().cloned())
                    .collect(),
                _ => Vec::new(),
            };
            if adjusted_by.contains(&adjustment.id) {
                return Ok(AdjustOutcome::AlreadyApplied);
            }
            let revision = item.get(REVISION).cloned();
            let mut customer: CustomerChanged = from_item(OPERATION, item)?;
            let open_items = match adjustment.apply_to(&customer) {
                Ok(open_items) => open_items,
                Err(outcome) => return Ok(outcome),
            };
            customer.open_items = Some(open_items);
            let mut new_item = to_item(OPERATION, &customer)?;
            let mut ids: Vec<AttributeValue> =
                adjusted_by.iter().cloned().map(AttributeValue::S).collect();
            ids.push(AttributeValue::S(adjustment.id.clone()));
            new_item.insert(ADJUSTED_BY.into(), AttributeValue::L(ids));
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(new_item))
                .expression_attribute_names("#rev", REVISION)
                .expression_attribute_names("#by", ADJUSTED_BY)
                .expression_attribute_values(
                    ":rev",
                    revision.unwrap_or(AttributeValue::N("0".into())),
                );
            put = if adjusted_by.is_empty() {
                put.condition_expression("#rev = :rev AND attribute_not_exists(#by)")
            } else {
                put.condition_expression("#rev = :rev AND size(#by) = :count")
                    .expression_attribute_values(
                        ":count",
                        AttributeValue::N(adjusted_by.len().to_string()),
                    )
            };
            match put.send().await {
                Ok(_) => return Ok(AdjustOutcome::Applied { open_items }),
                Err(err)
                    if matches!(
                        err.as_service_error(),
                        Some(PutItemError::ConditionalCheckFailedException(_))
                    ) =>
                {
                    continue;
                }
                Err(err) => return Err(classify(OPERATION, err)),
            }
        }
        Err(PortError::retryable(
            OPERATION,
            "the customer's record kept changing",
        ))
    }
}

/// The CRM's contacts: partition key `contact_id` (a contact moved to another customer is
/// one record, under its revision), listed per customer by the index `by_customer`.
#[derive(Clone)]
pub struct DynamoContactStore {
    client: Client,
    table: String,
}

impl DynamoContactStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl bridge_domain::ports::ContactStore for DynamoContactStore {
    async fn apply_contact(
        &self,
        contact: &bridge_domain::feedback::ContactChanged,
    ) -> Result<ApplyOutcome, PortError> {
        let item = to_item("contact.put", contact)?;
        put_if_newer(
            &self.client,
            &self.table,
            item,
            &["contact_id"],
            contact.revision,
            "contact.put",
        )
        .await
    }

    async fn contacts_of(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<bridge_domain::feedback::ContactChanged>, PortError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("by_customer")
            .key_condition_expression("customer_id = :c")
            .expression_attribute_values(":c", AttributeValue::S(customer.to_string()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("contact.query", e))?;
        items
            .into_iter()
            .map(|item| from_item("contact.query", item))
            .collect()
    }
}

/// The ids of the open-items adjustments a customer's record counts.
const ADJUSTED_BY: &str = "open_items_adjusted_by";

impl DynamoCustomerStore {
    async fn customer_item(&self, id: &CustomerId) -> Result<Option<Item>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("customer_id", AttributeValue::S(id.as_str().to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("customer.get", e))?;
        Ok(output.item)
    }
}

/// Webhook receipts: partition key `webhook_id`, TTL attribute `expires_at`.
#[derive(Clone)]
pub struct DynamoReceiptStore {
    client: Client,
    table: String,
    retention_seconds: i64,
}

const STATUS_IN_FLIGHT: &str = "in_flight";
const STATUS_QUEUED: &str = "queued";

impl DynamoReceiptStore {
    /// `retention_seconds`: how long a webhook id is remembered (the dedupe window).
    pub fn new(client: Client, table: impl Into<String>, retention_seconds: i64) -> Self {
        Self {
            client,
            table: table.into(),
            retention_seconds,
        }
    }

    /// The stored receipt of `webhook_id`, as attribute strings (for support tools).
    pub async fn receipt(
        &self,
        webhook_id: &str,
    ) -> Result<Option<BTreeMap<String, String>>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("webhook_id", AttributeValue::S(webhook_id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("receipt.get", e))?;
        Ok(output.item.map(|item| {
            item.into_iter()
                .map(|(k, v)| {
                    let text = match v {
                        AttributeValue::S(s) => s,
                        AttributeValue::N(n) => n,
                        other => format!("{other:?}"),
                    };
                    (k, text)
                })
                .collect()
        }))
    }
}

fn attribute<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// What a stored receipt already decides: queued, or claimed under a live lease. `None`
/// when a claim may be tried (a crashed claimant's lease has run out).
fn existing_claim(item: &Item, now: DateTime<Utc>) -> Option<ReceiptClaim> {
    match attribute(item, "status") {
        Some(STATUS_QUEUED) => Some(ReceiptClaim::AlreadyQueued {
            content_sha256: attribute(item, "content_sha256")
                .unwrap_or_default()
                .to_string(),
        }),
        Some(STATUS_IN_FLIGHT) => {
            let lease_until = match item.get("lease_until") {
                Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
                _ => None,
            };
            lease_until
                .is_some_and(|until| until >= now.timestamp())
                .then_some(ReceiptClaim::InFlight)
        }
        _ => None,
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[async_trait]
impl ReceiptStore for DynamoReceiptStore {
    async fn claim(
        &self,
        webhook_id: &str,
        content_sha256: &str,
        now: DateTime<Utc>,
        lease_seconds: i64,
    ) -> Result<ReceiptClaim, PortError> {
        // A redelivery (the sender's retry of an id it already had accepted) is answered
        // from a read: half a read unit, where a failed conditional put bills a write. The
        // read is eventually consistent; one that misses a fresh receipt falls through to
        // the conditional put, which decides.
        let seen = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("webhook_id", s(webhook_id))
            .send()
            .await
            .map_err(|e| classify("receipt.peek", e))?;
        if let Some(claim) = seen
            .item
            .as_ref()
            .and_then(|item| existing_claim(item, now))
        {
            return Ok(claim);
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("webhook_id", s(webhook_id))
            .item("status", s(STATUS_IN_FLIGHT))
            .item("content_sha256", s(content_sha256))
            .item("lease_until", n(now.timestamp() + lease_seconds))
            .item("expires_at", n(now.timestamp() + self.retention_seconds))
            // A crashed claimant's lease runs out, so its sender's retry is not refused forever.
            .condition_expression(
                "attribute_not_exists(webhook_id) OR (#status = :in_flight AND lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_flight", s(STATUS_IN_FLIGHT))
            .expression_attribute_values(":now", n(now.timestamp()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(ReceiptClaim::Claimed),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(match failed.item() {
                        Some(old) if attribute(old, "status") == Some(STATUS_QUEUED) => {
                            ReceiptClaim::AlreadyQueued {
                                content_sha256: attribute(old, "content_sha256")
                                    .unwrap_or_default()
                                    .to_string(),
                            }
                        }
                        _ => ReceiptClaim::InFlight,
                    })
                }
                _ => Err(classify("receipt.claim", err)),
            },
        }
    }

    async fn complete(
        &self,
        webhook_id: &str,
        details: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("webhook_id", s(webhook_id))
            .condition_expression("attribute_exists(webhook_id)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":queued", s(STATUS_QUEUED))
            .expression_attribute_values(":at", s(now.to_rfc3339()));
        let mut set = vec![
            "#status = :queued".to_string(),
            "queued_at = :at".to_string(),
        ];
        for (index, (name, value)) in details.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#d{index}"), name)
                .expression_attribute_values(format!(":d{index}"), s(value));
            set.push(format!("#d{index} = :d{index}"));
        }
        update
            .update_expression(format!("SET {} REMOVE lease_until", set.join(", ")))
            .send()
            .await
            .map_err(|e| classify("receipt.complete", e))?;
        Ok(())
    }

    async fn release(&self, webhook_id: &str) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("webhook_id", s(webhook_id))
            .condition_expression("#status = :in_flight")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_flight", s(STATUS_IN_FLIGHT))
            .send()
            .await
            .map_err(|e| classify("receipt.release", e))?;
        Ok(())
    }
}

/// Freshness: partition key `category`.
#[derive(Clone)]
pub struct DynamoFreshnessStore {
    client: Client,
    table: String,
    /// What this process last recorded per category: a success recorded less than
    /// [`FRESHNESS_RESOLUTION`] ago is not written again (every batch succeeds; its
    /// freshness SLAs are minutes to hours, so one write a minute per container tells
    /// the same at a fraction of the write units).
    recorded: std::sync::Arc<
        std::sync::Mutex<HashMap<bridge_domain::freshness::Category, DateTime<Utc>>>,
    >,
}

/// How far apart two recorded successes of one category are at least, per process.
pub const FRESHNESS_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

impl DynamoFreshnessStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            recorded: Default::default(),
        }
    }
}

/// A freshness item's key and last success (`None`: not one the bridge wrote).
fn freshness_entry(item: &Item) -> Option<(String, DateTime<Utc>)> {
    let text = |k: &str| match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    let at = DateTime::parse_from_rfc3339(text("last_success_at")?)
        .ok()?
        .with_timezone(&Utc);
    Some((text("category")?.to_string(), at))
}

/// The freshness table's key of the shop's catch-up of a category.
const SHOP_PREFIX: &str = "shop:";

#[async_trait]
impl bridge_domain::shop::ShopFreshnessStore for DynamoFreshnessStore {
    async fn record_shop(
        &self,
        freshness: &bridge_domain::shop::ShopFreshness,
    ) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                "category",
                s(format!("{SHOP_PREFIX}{}", freshness.category)),
            )
            .update_expression("SET last_success_at = :at, lag_ms = :lag")
            .condition_expression("attribute_not_exists(last_success_at) OR last_success_at < :at")
            .expression_attribute_values(
                ":at",
                s(freshness
                    .at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            )
            .expression_attribute_values(
                ":lag",
                AttributeValue::N(freshness.lag.num_milliseconds().max(0).to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(classify("freshness.record_shop", err)),
        }
    }

    async fn shop_all(&self) -> Result<Vec<bridge_domain::shop::ShopFreshness>, PortError> {
        let items = scan_all(self.client.scan().table_name(&self.table), "freshness.all").await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let (category, at) = freshness_entry(&item)?;
                let category = category.strip_prefix(SHOP_PREFIX)?.to_string();
                let lag = match item.get("lag_ms") {
                    Some(AttributeValue::N(n)) => n.parse().ok()?,
                    _ => 0,
                };
                Some(bridge_domain::shop::ShopFreshness {
                    category,
                    at,
                    lag: chrono::Duration::milliseconds(lag),
                })
            })
            .collect())
    }
}

/// The freshness table's item holding the combinations of price lists the shop sync
/// publishes (string sets of the lists joined by a space, which no list id holds).
const PRICE_GROUPS_KEY: &str = "shop-price-groups";

fn price_group_entry(lists: &[PriceListId]) -> String {
    lists
        .iter()
        .map(PriceListId::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

impl DynamoFreshnessStore {
    async fn add_price_group(
        &self,
        set: &str,
        lists: &[PriceListId],
        operation: &'static str,
    ) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("category", s(PRICE_GROUPS_KEY))
            .update_expression("ADD #set :entry")
            .expression_attribute_names("#set", set)
            .expression_attribute_values(
                ":entry",
                AttributeValue::Ss(vec![price_group_entry(lists)]),
            )
            .send()
            .await
            .map_err(|e| classify(operation, e))?;
        Ok(())
    }
}

#[async_trait]
impl bridge_domain::shop_prices::PriceGroupRegistry for DynamoFreshnessStore {
    async fn price_groups(&self) -> Result<Vec<bridge_domain::shop_prices::PriceGroup>, PortError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("category", s(PRICE_GROUPS_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("price_groups.read", e))?
            .item
            .unwrap_or_default();
        let set = |name: &str| match item.get(name) {
            Some(AttributeValue::Ss(entries)) => entries.clone(),
            _ => Vec::new(),
        };
        let backfilled = set("backfilled");
        set("groups")
            .into_iter()
            .map(|entry| {
                let lists = entry
                    .split(' ')
                    .map(PriceListId::parse)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        PortError::permanent("price_groups.read", format!("{entry:?}: {e}"))
                    })?;
                let progress = match item.get(&progress_attribute(&lists)) {
                    Some(AttributeValue::S(sku)) => Sku::parse(sku).ok(),
                    _ => None,
                };
                Ok(bridge_domain::shop_prices::PriceGroup {
                    backfilled: backfilled.contains(&entry),
                    lists,
                    progress,
                })
            })
            .collect()
    }

    async fn register_price_group(&self, lists: &[PriceListId]) -> Result<(), PortError> {
        self.add_price_group("groups", lists, "price_groups.register")
            .await
    }

    async fn mark_backfilled(&self, lists: &[PriceListId]) -> Result<(), PortError> {
        self.add_price_group("backfilled", lists, "price_groups.backfilled")
            .await
    }

    async fn save_progress(&self, lists: &[PriceListId], last: &Sku) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("category", s(PRICE_GROUPS_KEY))
            .update_expression("SET #progress = :sku")
            .expression_attribute_names("#progress", progress_attribute(lists))
            .expression_attribute_values(":sku", s(last.as_str()))
            .send()
            .await
            .map_err(|e| classify("price_groups.progress", e))?;
        Ok(())
    }
}

/// The attribute of the price group item holding a group's fill progress.
fn progress_attribute(lists: &[PriceListId]) -> String {
    format!(
        "progress-{}",
        bridge_domain::shop_prices::price_group_key(lists).unwrap_or_default()
    )
}

#[async_trait]
impl bridge_domain::ports::FreshnessStore for DynamoFreshnessStore {
    async fn record(
        &self,
        category: bridge_domain::freshness::Category,
        at: DateTime<Utc>,
        function: &str,
    ) -> Result<(), PortError> {
        let last = self.recorded.lock().unwrap().get(&category).copied();
        if last.is_some_and(|last| at >= last && at - last < FRESHNESS_RESOLUTION) {
            return Ok(());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("category", s(category.as_str()))
            .update_expression("SET last_success_at = :at, #function = :function")
            // RFC 3339 in UTC with a fixed format orders as text.
            .condition_expression("attribute_not_exists(last_success_at) OR last_success_at < :at")
            .expression_attribute_names("#function", "function")
            .expression_attribute_values(
                ":at",
                s(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            )
            .expression_attribute_values(":function", s(function))
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
            Err(err) => return Err(classify("freshness.record", err)),
        }
        self.recorded.lock().unwrap().insert(category, at);
        Ok(())
    }

    async fn all(
        &self,
    ) -> Result<Vec<(bridge_domain::freshness::Category, DateTime<Utc>, String)>, PortError> {
        let items = scan_all(self.client.scan().table_name(&self.table), "freshness.all").await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let (category, at) = freshness_entry(&item)?;
                let category = bridge_domain::freshness::Category::parse(&category)?;
                let function = match item.get("function") {
                    Some(AttributeValue::S(v)) => v.clone(),
                    _ => String::new(),
                };
                Some((category, at, function))
            })
            .collect())
    }
}

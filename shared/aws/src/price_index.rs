//! The price index: one item per (price list, sku) holding every validity window of that
//! sku in that list, so that the read API reads a cart's prices with a few BatchGetItem
//! requests instead of a query per sku and list (the price table's sort key is a window,
//! and a batch read needs whole keys).
//!
//! Every write of a window writes its index entry in the same transaction, so the index
//! never disagrees with the windows it was built from. Windows written before the index
//! existed are copied by [`crate::DynamoPriceStore::rebuild_index`] (`bridgectl prices
//! reindex`), which marks the index complete when done; until then readers use the
//! windows.

use crate::batch::{Item, get_many};
use crate::dynamo::{REVISION, from_item};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use bridge_domain::{PortError, PriceChanged, PriceListId, Sku};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Prefix of a window's attribute in an index item; the rest is the window's start key.
pub const WINDOW_ATTRIBUTE_PREFIX: &str = "w:";
/// The item that says the index holds every window: `#` is in no list id or sku.
pub(crate) const COMPLETE_MARKER: (&str, &str) = ("#index", "#complete");
/// How long a store believes an incomplete index before asking again.
const RECHECK: Duration = Duration::from_secs(60);

pub(crate) fn window_attribute(price: &PriceChanged) -> String {
    format!("{WINDOW_ATTRIBUTE_PREFIX}{}", price.validity.start_key())
}

pub(crate) fn index_key(list: &str, sku: &str) -> Item {
    HashMap::from([
        (
            "price_list".to_string(),
            AttributeValue::S(list.to_string()),
        ),
        ("sku".to_string(), AttributeValue::S(sku.to_string())),
    ])
}

#[derive(Debug, Clone, Copy)]
enum Completeness {
    Unchecked,
    Complete,
    MissingAt(Instant),
}

/// The index table of a price store and what this instance knows of its completeness.
#[derive(Clone)]
pub(crate) struct PriceIndex {
    pub(crate) table: String,
    completeness: Arc<Mutex<Completeness>>,
}

impl PriceIndex {
    pub(crate) fn new(table: String) -> Self {
        Self {
            table,
            completeness: Arc::new(Mutex::new(Completeness::Unchecked)),
        }
    }

    /// Whether the index holds every window. Once complete it stays so (every writer keeps
    /// it); an incomplete one is asked again after [`RECHECK`].
    pub(crate) async fn is_complete(&self, client: &Client) -> Result<bool, PortError> {
        let known = *self.completeness.lock().expect("not poisoned");
        match known {
            Completeness::Complete => return Ok(true),
            Completeness::MissingAt(at) if at.elapsed() < RECHECK => return Ok(false),
            _ => {}
        }
        let output = client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(index_key(COMPLETE_MARKER.0, COMPLETE_MARKER.1)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::classify("price.index_complete", e))?;
        let complete = output.item.is_some();
        if !complete {
            tracing::warn!(
                index_table = %self.table,
                "the price index is not marked complete: prices are read per sku until \
                 `bridgectl prices reindex` has run"
            );
        }
        *self.completeness.lock().expect("not poisoned") = if complete {
            Completeness::Complete
        } else {
            Completeness::MissingAt(Instant::now())
        };
        Ok(complete)
    }

    /// Every window of each of `skus` in any of `lists`: batches of 100 (list, sku) keys,
    /// several in flight.
    pub(crate) async fn windows(
        &self,
        client: &Client,
        lists: &[PriceListId],
        skus: &[Sku],
    ) -> Result<Vec<PriceChanged>, PortError> {
        // DynamoDB refuses a request naming one key twice: each list and sku once.
        let skus: BTreeSet<&Sku> = skus.iter().collect();
        let lists: BTreeSet<&PriceListId> = lists.iter().collect();
        let keys: Vec<Item> = lists
            .iter()
            .flat_map(|list| {
                skus.iter()
                    .map(|sku| index_key(list.as_str(), sku.as_str()))
            })
            .collect();
        let items = get_many(client, &self.table, &keys, None, "price.index_read").await?;
        let mut records = Vec::new();
        for item in items {
            for (name, value) in item {
                if !name.starts_with(WINDOW_ATTRIBUTE_PREFIX) {
                    continue;
                }
                match value {
                    AttributeValue::M(window) => {
                        records.push(from_item("price.index_read", window)?)
                    }
                    _ => {
                        return Err(PortError::permanent(
                            "price.index_read",
                            format!("index attribute {name} is not a map"),
                        ));
                    }
                }
            }
        }
        Ok(records)
    }

    /// Copies one window into the index unless the index holds it at the same or a newer
    /// revision (a writer got there first). True if it was written.
    pub(crate) async fn copy_window(
        &self,
        client: &Client,
        price: &PriceChanged,
        window: Item,
    ) -> Result<bool, PortError> {
        let result = client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(index_key(
                price.price_list.as_str(),
                price.sku.as_str(),
            )))
            .update_expression("SET #w = :window")
            .condition_expression("attribute_not_exists(#w) OR #w.#rev < :rev")
            .expression_attribute_names("#w", window_attribute(price))
            .expression_attribute_names("#rev", REVISION)
            .expression_attribute_values(":window", AttributeValue::M(window))
            .expression_attribute_values(
                ":rev",
                AttributeValue::N(price.revision.value().to_string()),
            )
            .send()
            .await;
        crate::classify::written("price.index_copy", result)
    }

    pub(crate) async fn mark_complete(
        &self,
        client: &Client,
        windows: u64,
    ) -> Result<(), PortError> {
        let mut item = index_key(COMPLETE_MARKER.0, COMPLETE_MARKER.1);
        item.insert(
            "rebuilt_at".into(),
            AttributeValue::S(chrono::Utc::now().to_rfc3339()),
        );
        item.insert("windows".into(), AttributeValue::N(windows.to_string()));
        client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| crate::classify("price.index_complete", e))?;
        *self.completeness.lock().expect("not poisoned") = Completeness::Complete;
        Ok(())
    }
}

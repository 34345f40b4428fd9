//! Orders of the writeback: partition key `order_id`, saves conditional on `version`.

use crate::classify;
use crate::classify::written;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use bridge_domain::PortError;
use bridge_domain::ids::{CustomerId, OrderId};
use bridge_domain::orders::StateName;
use bridge_domain::ports::{OrderStore, StoredOrder};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// The order table's index of orders by customer (`template.yaml`).
pub const BY_CUSTOMER: &str = "by_customer";
const CUSTOMER_ID: &str = "customer_id";

#[derive(Clone)]
pub struct DynamoOrderStore {
    client: Client,
    table: String,
}

impl DynamoOrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn item(order: &StoredOrder) -> Result<Item, PortError> {
        let mut item: Item = serde_dynamo::to_item(order)
            .map_err(|e| PortError::permanent("orders.encode", e.to_string()))?;
        item.insert(
            "order_id".into(),
            AttributeValue::S(order.order.order_id.to_string()),
        );
        item.insert(
            "state_name".into(),
            AttributeValue::S(order.state.name().to_string()),
        );
        // The key of the `by_customer` index (a customer's exposure).
        item.insert(
            CUSTOMER_ID.into(),
            AttributeValue::S(order.order.customer_id.to_string()),
        );
        Ok(item)
    }

    /// Puts `order` if the request's condition holds; `false` when it does not.
    async fn put_if(
        &self,
        request: aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
        order: &StoredOrder,
        operation: &'static str,
    ) -> Result<bool, PortError> {
        let result = request
            .table_name(&self.table)
            .set_item(Some(Self::item(order)?))
            .send()
            .await;
        written(operation, result)
    }

    fn decode(mut item: Item) -> Result<StoredOrder, PortError> {
        item.remove("order_id");
        item.remove("state_name");
        item.remove(CUSTOMER_ID);
        serde_dynamo::from_item(item).map_err(|e| {
            PortError::permanent("orders.decode", format!("stored order is invalid: {e}"))
        })
    }
}

#[async_trait]
impl OrderStore for DynamoOrderStore {
    async fn get(&self, id: &OrderId) -> Result<Option<StoredOrder>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("order_id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("orders.get", e))?;
        output.item.map(Self::decode).transpose()
    }

    async fn insert(&self, order: &StoredOrder) -> Result<bool, PortError> {
        let request = self
            .client
            .put_item()
            .condition_expression("attribute_not_exists(order_id)");
        self.put_if(request, order, "orders.insert").await
    }

    async fn save(&self, order: &StoredOrder) -> Result<bool, PortError> {
        let request = self
            .client
            .put_item()
            .condition_expression("version = :previous")
            .expression_attribute_values(
                ":previous",
                AttributeValue::N((order.version - 1).to_string()),
            );
        self.put_if(request, order, "orders.save").await
    }

    async fn in_state(&self, state: StateName) -> Result<Vec<StoredOrder>, PortError> {
        let request = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("state_name = :state")
            .expression_attribute_values(":state", AttributeValue::S(state.as_str().to_string()));
        let items = crate::dynamo::scan_all(request, "orders.scan").await?;
        items.into_iter().map(Self::decode).collect()
    }

    async fn page_in_state(
        &self,
        state: StateName,
        after: Option<&str>,
        limit: i32,
    ) -> Result<(Vec<StoredOrder>, Option<String>), PortError> {
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("state_name = :state")
            .expression_attribute_values(":state", AttributeValue::S(state.as_str().to_string()))
            // The limit bounds the items read (before the filter): a page's memory and time.
            .limit(limit)
            .set_exclusive_start_key(after.map(|id| {
                HashMap::from([("order_id".to_string(), AttributeValue::S(id.to_string()))])
            }))
            .send()
            .await
            .map_err(|e| classify("orders.scan", e))?;
        let next = output
            .last_evaluated_key
            .and_then(|key| match key.get("order_id") {
                Some(AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            });
        let orders = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Self::decode)
            .collect::<Result<_, _>>()?;
        Ok((orders, next))
    }

    async fn of_customer(&self, customer: &CustomerId) -> Result<Vec<StoredOrder>, PortError> {
        // The index is eventually consistent: an order saved a moment ago may be missing
        // (docs/reliability.md, known limits).
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_CUSTOMER)
            .key_condition_expression("customer_id = :customer")
            .expression_attribute_values(":customer", AttributeValue::S(customer.to_string()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("orders.of_customer", e))?;
        items.into_iter().map(Self::decode).collect()
    }
}

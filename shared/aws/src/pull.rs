//! The delta pull's state in DynamoDB: partition key `name`, one item per pull.

use crate::classify;
use crate::classify::written;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use bridge_domain::PortError;
use bridge_domain::pull::{PullState, PullStateStore};

#[derive(Clone)]
pub struct DynamoPullStateStore {
    client: Client,
    table: String,
}

impl DynamoPullStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl PullStateStore for DynamoPullStateStore {
    async fn load(&self, name: &str) -> Result<Option<PullState>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("name", AttributeValue::S(name.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("pull_state.get", e))?;
        output
            .item
            .map(|item| {
                serde_dynamo::from_item(item).map_err(|e| {
                    PortError::permanent("pull_state.get", format!("stored state is invalid: {e}"))
                })
            })
            .transpose()
    }

    async fn save(
        &self,
        state: &PullState,
        expected_cursor: Option<&str>,
    ) -> Result<bool, PortError> {
        let item = serde_dynamo::to_item(state).map_err(|e| {
            PortError::permanent("pull_state.put", format!("cannot encode state: {e}"))
        })?;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        // The cursor moves only from where this run found it: two runs at once cannot move
        // it back or skip a page.
        let request = match expected_cursor {
            Some(cursor) => request
                .condition_expression("#cursor = :expected")
                .expression_attribute_names("#cursor", "cursor")
                .expression_attribute_values(":expected", AttributeValue::S(cursor.to_string())),
            None => request
                .condition_expression("attribute_not_exists(#cursor)")
                .expression_attribute_names("#cursor", "cursor"),
        };
        written("pull_state.put", request.send().await)
    }
}

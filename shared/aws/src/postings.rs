//! Returns, payments and leads as the bridge posted them: one table for every kind,
//! partition key `posting_id` (`<kind>#<id>`), saves conditional on `version`; the index
//! `by_group` (`<kind>#<group>`) lists a kind by its group (a return's order).

use crate::classify::{classify, written};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use bridge_domain::PortError;
use bridge_domain::feedback::{Posted, Posting};
use bridge_domain::ports::PostingStore;
use std::collections::HashMap;
use std::marker::PhantomData;

type Item = HashMap<String, AttributeValue>;

const POSTING_ID: &str = "posting_id";
const GROUP_KEY: &str = "group_key";
/// The posting table's index by group (`template.yaml`).
pub const BY_GROUP: &str = "by_group";

pub struct DynamoPostingStore<T> {
    client: Client,
    table: String,
    kind: PhantomData<fn() -> T>,
}

impl<T: Posted> DynamoPostingStore<T> {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            kind: PhantomData,
        }
    }

    fn key(id: &str) -> AttributeValue {
        AttributeValue::S(format!("{}#{id}", T::KIND))
    }

    fn item(posting: &Posting<T>) -> Result<Item, PortError> {
        let mut item: Item = serde_dynamo::to_item(posting)
            .map_err(|e| PortError::permanent("postings.encode", e.to_string()))?;
        item.insert(POSTING_ID.into(), Self::key(&posting.request.id()));
        item.insert(
            GROUP_KEY.into(),
            AttributeValue::S(format!("{}#{}", T::KIND, posting.request.group())),
        );
        Ok(item)
    }

    fn decode(mut item: Item) -> Result<Posting<T>, PortError> {
        item.remove(POSTING_ID);
        item.remove(GROUP_KEY);
        serde_dynamo::from_item(item).map_err(|e| {
            PortError::permanent(
                "postings.decode",
                format!("stored {} is invalid: {e}", T::KIND),
            )
        })
    }
}

#[async_trait]
impl<T: Posted + 'static> PostingStore<T> for DynamoPostingStore<T> {
    async fn get(&self, id: &str) -> Result<Option<Posting<T>>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(POSTING_ID, Self::key(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("postings.get", e))?;
        output.item.map(Self::decode).transpose()
    }

    async fn insert(&self, posting: &Posting<T>) -> Result<bool, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(posting)?))
            .condition_expression("attribute_not_exists(posting_id)")
            .send()
            .await;
        written("postings.insert", result)
    }

    async fn save(&self, posting: &Posting<T>) -> Result<bool, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(posting)?))
            .condition_expression("version = :previous")
            .expression_attribute_values(
                ":previous",
                AttributeValue::N((posting.version - 1).to_string()),
            )
            .send()
            .await;
        written("postings.save", result)
    }

    async fn of_group(&self, group: &str) -> Result<Vec<Posting<T>>, PortError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_GROUP)
            .key_condition_expression("group_key = :g")
            .expression_attribute_values(":g", AttributeValue::S(format!("{}#{group}", T::KIND)))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("postings.query", e))?;
        items.into_iter().map(Self::decode).collect()
    }
}

//! Returns, payments and leads as the bridge posted them: one table for every kind,
//! partition key `posting_id` (`<kind>#<id>`), saves conditional on `version`; the index
//! `by_group` (`<kind>#<group>`) lists a kind by its group (a return's order).

use crate::classify::{classify, written};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use bridge_domain::PortError;
use bridge_domain::feedback::{Posted, Posting, PostingState};
use bridge_domain::ports::PostingStore;
use std::collections::HashMap;
use std::marker::PhantomData;

type Item = HashMap<String, AttributeValue>;

const POSTING_ID: &str = "posting_id";
const GROUP_KEY: &str = "group_key";
/// Present only while a posting is `submitted` (its kind) or `held` (`<kind>-held`): the key
/// of the sparse index `pending`, which lists what waits without reading the whole table.
const PENDING: &str = "pending";
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
        match posting.state {
            PostingState::Submitted => {
                item.insert(PENDING.into(), AttributeValue::S(T::KIND.to_string()));
            }
            PostingState::Held { .. } => {
                item.insert(
                    PENDING.into(),
                    AttributeValue::S(format!("{}-held", T::KIND)),
                );
            }
            _ => {}
        }
        Ok(item)
    }

    fn decode(mut item: Item) -> Result<Posting<T>, PortError> {
        item.remove(POSTING_ID);
        item.remove(GROUP_KEY);
        item.remove(PENDING);
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
        self.query(BY_GROUP, GROUP_KEY, format!("{}#{group}", T::KIND))
            .await
    }

    async fn pending(&self) -> Result<Vec<Posting<T>>, PortError> {
        self.query(PENDING, PENDING, T::KIND.to_string()).await
    }

    async fn held(&self) -> Result<Vec<Posting<T>>, PortError> {
        self.query(PENDING, PENDING, format!("{}-held", T::KIND))
            .await
    }
}

impl<T: Posted> DynamoPostingStore<T> {
    async fn query(
        &self,
        index: &str,
        key: &str,
        value: String,
    ) -> Result<Vec<Posting<T>>, PortError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", key)
            .expression_attribute_values(":v", AttributeValue::S(value))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("postings.query", e))?;
        items.into_iter().map(Self::decode).collect()
    }
}

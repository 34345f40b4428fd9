//! Adapters of the PIM import: the product table, the import ledger and the catalog
//! bucket (streaming reads for the parsers).

use crate::batch::{BATCH_ATTEMPTS, Item, backoff, get_many};
use crate::classify;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use bridge_domain::ports::{
    CatalogStore, FileMetadata, FileStore, ImportLedger, ImportRecord, ImportStatus, StoredProduct,
};
use bridge_domain::{PortError, Sku};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Products: partition key `sku`.
#[derive(Clone)]
pub struct DynamoCatalogStore {
    client: Client,
    table: String,
}

impl DynamoCatalogStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl CatalogStore for DynamoCatalogStore {
    async fn content_hashes(&self, skus: &[Sku]) -> Result<HashMap<Sku, String>, PortError> {
        // DynamoDB refuses a request naming one key twice.
        let skus: std::collections::BTreeSet<&Sku> = skus.iter().collect();
        let keys: Vec<Item> = skus
            .into_iter()
            .map(|sku| HashMap::from([("sku".to_string(), s(sku.as_str()))]))
            .collect();
        let items = get_many(
            &self.client,
            &self.table,
            &keys,
            Some("sku, content_hash"),
            "catalog.hashes",
        )
        .await?;
        let mut hashes = HashMap::new();
        for item in items {
            if let (Some(AttributeValue::S(sku)), Some(AttributeValue::S(hash))) =
                (item.get("sku"), item.get("content_hash"))
                && let Ok(sku) = Sku::parse(sku)
            {
                hashes.insert(sku, hash.clone());
            }
        }
        Ok(hashes)
    }

    async fn put_products(&self, products: &[StoredProduct]) -> Result<(), PortError> {
        for chunk in products.chunks(25) {
            let mut pending = chunk
                .iter()
                .map(|p| {
                    let item: Item = serde_dynamo::to_item(p).map_err(|e| {
                        PortError::permanent("catalog.put", format!("cannot encode product: {e}"))
                    })?;
                    Ok(WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item))
                                .build()
                                .map_err(|e| PortError::permanent("catalog.put", e.to_string()))?,
                        )
                        .build())
                })
                .collect::<Result<Vec<_>, PortError>>()?;
            let mut attempt = 0;
            while !pending.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| classify("catalog.put", e))?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt >= BATCH_ATTEMPTS {
                        return Err(PortError::retryable(
                            "catalog.put",
                            format!("{} writes stayed unprocessed (throttled)", pending.len()),
                        ));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(())
    }

    async fn active_skus(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<Sku>, Option<String>), PortError> {
        let mut request = self
            .client
            .scan()
            .table_name(&self.table)
            .projection_expression("sku")
            .filter_expression("#status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", s("active"))
            .limit(1000);
        if let Some(cursor) = cursor {
            request = request.exclusive_start_key("sku", s(cursor));
        }
        let output = request
            .send()
            .await
            .map_err(|e| classify("catalog.scan", e))?;
        let skus = output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| match item.get("sku") {
                Some(AttributeValue::S(sku)) => Sku::parse(sku).ok(),
                _ => None,
            })
            .collect();
        let next = output.last_evaluated_key.and_then(|k| match k.get("sku") {
            Some(AttributeValue::S(sku)) => Some(sku.clone()),
            _ => None,
        });
        Ok((skus, next))
    }

    async fn deactivate(&self, skus: &[Sku], import_id: &str) -> Result<u64, PortError> {
        let mut changed = 0;
        let now = Utc::now().to_rfc3339();
        for sku in skus {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("sku", s(sku.as_str()))
                // The hash changes too, so that the product's next appearance is written.
                .update_expression("SET #status = :inactive, import_id = :import, content_hash = :hash, updated_at = :now")
                .condition_expression("#status = :active")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":inactive", s("inactive"))
                .expression_attribute_values(":active", s("active"))
                .expression_attribute_values(":import", s(import_id))
                .expression_attribute_values(":hash", s(format!("deactivated-by-{import_id}")))
                .expression_attribute_values(":now", s(now.clone()))
                .send()
                .await;
            match result {
                Ok(_) => changed += 1,
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(err) => return Err(classify("catalog.deactivate", err)),
            }
        }
        Ok(changed)
    }

    async fn product(&self, sku: &Sku) -> Result<Option<StoredProduct>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("sku", s(sku.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("catalog.get", e))?;
        output
            .item
            .map(|item| {
                serde_dynamo::from_item(item).map_err(|e| {
                    PortError::permanent("catalog.get", format!("stored product is invalid: {e}"))
                })
            })
            .transpose()
    }
}

/// Imports: partition key `file` (the inbox key).
#[derive(Clone)]
pub struct DynamoImportLedger {
    client: Client,
    table: String,
}

impl DynamoImportLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl ImportLedger for DynamoImportLedger {
    async fn claim(
        &self,
        file: &str,
        now: DateTime<Utc>,
        lease_seconds: i64,
    ) -> Result<Option<ImportRecord>, PortError> {
        let current = self.get(file).await?;
        let mut record = match current {
            Some(record) if record.status == ImportStatus::Running => {
                if record.lease_until >= now.timestamp() {
                    return Ok(None);
                }
                record
            }
            // New, or a file of the same name uploaded again after an earlier import.
            _ => ImportRecord {
                file: file.to_string(),
                import_id: format!(
                    "{}-{:08x}",
                    now.format("%Y%m%dT%H%M%S"),
                    rand_suffix(file, now)
                ),
                status: ImportStatus::Running,
                started_at: now,
                updated_at: now,
                phase: "scan".into(),
                records_done: 0,
                report_key: None,
                message: None,
                lease_until: 0,
                version: None,
            },
        };
        let previous_lease = record.lease_until;
        record.lease_until = now.timestamp() + lease_seconds;
        record.updated_at = now;
        let item: Item = serde_dynamo::to_item(&record)
            .map_err(|e| PortError::permanent("imports.claim", e.to_string()))?;
        // Optimistic: only if nobody took the lease since we read it.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#file) OR lease_until = :previous")
            .expression_attribute_names("#file", "file")
            .expression_attribute_values(":previous", AttributeValue::N(previous_lease.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(record)),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(classify("imports.claim", err)),
        }
    }

    async fn save(&self, record: &ImportRecord) -> Result<(), PortError> {
        let item: Item = serde_dynamo::to_item(record)
            .map_err(|e| PortError::permanent("imports.save", e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| classify("imports.save", e))?;
        Ok(())
    }

    async fn get(&self, file: &str) -> Result<Option<ImportRecord>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("file", s(file))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("imports.get", e))?;
        output
            .item
            .map(|item| {
                serde_dynamo::from_item(item)
                    .map_err(|e| PortError::permanent("imports.get", e.to_string()))
            })
            .transpose()
    }

    async fn list(&self) -> Result<Vec<ImportRecord>, PortError> {
        let items =
            crate::dynamo::scan_all(self.client.scan().table_name(&self.table), "imports.list")
                .await?;
        items
            .into_iter()
            .map(|item| {
                serde_dynamo::from_item(item)
                    .map_err(|e| PortError::permanent("imports.list", e.to_string()))
            })
            .collect()
    }
}

fn rand_suffix(file: &str, now: DateTime<Utc>) -> u32 {
    xxhash_rust::xxh3::xxh3_64(
        format!("{file}{}", now.timestamp_nanos_opt().unwrap_or_default()).as_bytes(),
    ) as u32
}

/// The catalog bucket.
#[derive(Clone)]
pub struct S3FileStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3FileStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl FileStore for S3FileStore {
    fn open(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Box<dyn std::io::Read + Send>, PortError> {
        let handle = tokio::runtime::Handle::current();
        let output = handle
            .block_on(
                self.client
                    .get_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .set_version_id(version.map(str::to_string))
                    .send(),
            )
            .map_err(|e| classify("files.open", e))?;
        // The body streams: only the parser's buffer is in memory, whatever the size.
        let reader = output.body.into_async_read();
        Ok(Box::new(tokio_util::io::SyncIoBridge::new_with_handle(
            reader, handle,
        )))
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        crate::s3::get_object(&self.client, &self.bucket, key, "files.read").await
    }

    async fn write(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        crate::s3::put_object(
            &self.client,
            &self.bucket,
            key,
            body,
            content_type,
            "files.write",
        )
        .await
    }

    async fn create_new(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<bool, PortError> {
        // S3's conditional write: 412 when an object is there.
        match self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .if_none_match("*")
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 412) =>
            {
                Ok(false)
            }
            // 409 ConditionalRequestConflict: another write of the key is in flight; the
            // retry finds what it wrote.
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 409) =>
            {
                Err(PortError::retryable(
                    "files.create_new",
                    "another write of the key is in flight",
                )
                .with_source(err))
            }
            Err(err) => Err(classify("files.create_new", err)),
        }
    }

    async fn ever_written(&self, key: &str) -> Result<bool, PortError> {
        // Every version and delete marker of the key (a partner who picked the file up and
        // deleted it leaves a delete marker in a versioned bucket).
        let output = self
            .client
            .list_object_versions()
            .bucket(&self.bucket)
            .prefix(key)
            .max_keys(100)
            .send()
            .await
            .map_err(|e| classify("files.versions", e))?;
        // Keys sort before their extensions: the key's own versions come first, the current
        // one among them (an unversioned bucket lists it as version "null").
        Ok(output
            .versions()
            .iter()
            .filter_map(|v| v.key())
            .chain(output.delete_markers().iter().filter_map(|m| m.key()))
            .any(|found| found == key))
    }

    async fn upload(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> Result<(), PortError> {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
            .await
            .map_err(|e| {
                PortError::permanent("files.upload", format!("cannot read {}", path.display()))
                    .with_source(e)
            })?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .customize()
            // A large file takes longer than the 10 s every other call may.
            .config_override(
                aws_sdk_s3::config::Config::builder().timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout(Duration::from_secs(300))
                        .operation_timeout(Duration::from_secs(600))
                        .build(),
                ),
            )
            .send()
            .await
            .map_err(|e| classify("files.upload", e))?;
        Ok(())
    }

    async fn metadata(&self, key: &str) -> Result<Option<FileMetadata>, PortError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(FileMetadata {
                version: output.version_id.filter(|v| v != "null"),
                size: output.content_length.and_then(|n| u64::try_from(n).ok()),
            })),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(classify("files.head", err)),
        }
    }

    async fn current_version(&self, key: &str) -> Result<Option<Option<String>>, PortError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(output.version_id.filter(|v| v != "null"))),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(classify("files.head", err)),
        }
    }

    async fn rename(&self, from: &str, version: Option<&str>, to: &str) -> Result<(), PortError> {
        let mut source = format!("{}/{}", self.bucket, url_encode_path(from));
        if let Some(version) = version {
            source.push_str(&format!("?versionId={version}"));
        }
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| classify("files.copy", e))?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(from)
            .set_version_id(version.map(str::to_string))
            .send()
            .await
            .map_err(|e| classify("files.delete", e))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("files.delete", e))?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, DateTime<Utc>)>, PortError> {
        let objects: Vec<_> = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("files.list", e))?;
        Ok(objects
            .into_iter()
            .flat_map(|page| page.contents.unwrap_or_default())
            .filter_map(|o| {
                let modified = o.last_modified?;
                let at = DateTime::from_timestamp(modified.secs(), modified.subsec_nanos())?;
                Some((o.key?, at))
            })
            .collect())
    }
}

/// Percent-encodes a key for `CopySource` (slashes stay).
fn url_encode_path(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

//! Builds the reconciliation from its configuration and one AWS configuration.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `STOCK_TABLE` | the stock table | required |
//! | `PRICE_TABLE` | the price table | required |
//! | `PRICE_INDEX_TABLE` | the price index (every price write keeps it) | required |
//! | `CATALOG_BUCKET` | the bucket of `erp/snapshots/` and `erp/reports/` | required |
//! | `RECONCILE_DLQ_URL` | dead-letter queue of the notification queue | required |
//! | `MAX_RECEIVE_COUNT` | the queue's `maxReceiveCount` | 5 |
//! | `DRIFT_ALARM_THRESHOLD` | drifted records a snapshot may have before `DriftAboveThreshold` | 0 |
//! | `SWEEP_MIN_AGE_SECONDS` | the sweep leaves younger snapshots to their notification | 600 |
//! | `TEMP_DIR` | directory of the temporary partition files | the system's (`/tmp`) |
//! | `PARTITION_KIB` | snapshot text per partition, KiB | 256 |
//! | `APPLY_CONCURRENCY` | writes in flight at once | 16 |

use crate::handler::ReconcileHandler;
use crate::{ReconcileError, ReconcilePorts, ReconcileSettings, Reconciler};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bridge_aws::{DynamoPriceStore, DynamoStockStore, S3FileStore, SqsQueue};
use bridge_domain::ErrorClass;
use bridge_lambda::{Classified, Config, ConfigError, Failure, Function, Handler, InitError};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

pub const STOCK_TABLE: &str = "STOCK_TABLE";
pub const PRICE_TABLE: &str = "PRICE_TABLE";
pub const PRICE_INDEX_TABLE: &str = "PRICE_INDEX_TABLE";
pub const CATALOG_BUCKET: &str = "CATALOG_BUCKET";
pub const RECONCILE_DLQ_URL: &str = "RECONCILE_DLQ_URL";
pub const MAX_RECEIVE_COUNT: &str = "MAX_RECEIVE_COUNT";
pub const DRIFT_ALARM_THRESHOLD: &str = "DRIFT_ALARM_THRESHOLD";
pub const SWEEP_MIN_AGE_SECONDS: &str = "SWEEP_MIN_AGE_SECONDS";
pub const TEMP_DIR: &str = "TEMP_DIR";
pub const PARTITION_KIB: &str = "PARTITION_KIB";
pub const APPLY_CONCURRENCY: &str = "APPLY_CONCURRENCY";

fn positive<T: PartialOrd + Default + std::fmt::Display>(
    name: &str,
    value: T,
) -> Result<T, ConfigError> {
    if value <= T::default() {
        return Err(ConfigError::Invalid {
            name: name.to_string(),
            message: format!("{value} must be greater than 0"),
        });
    }
    Ok(value)
}

/// The settings the environment gives.
pub fn settings(config: &Config) -> Result<ReconcileSettings, ConfigError> {
    config.apply_business_time_zone()?;
    let defaults = ReconcileSettings::default();
    Ok(ReconcileSettings {
        temp_dir: config
            .optional(TEMP_DIR)
            .map(Into::into)
            .unwrap_or(defaults.temp_dir),
        partition_bytes: positive(
            PARTITION_KIB,
            config.parsed(PARTITION_KIB, defaults.partition_bytes / 1024)?,
        )? * 1024,
        apply_concurrency: positive(
            APPLY_CONCURRENCY,
            config.parsed(APPLY_CONCURRENCY, defaults.apply_concurrency)?,
        )?,
        sweep_min_age_seconds: config
            .parsed(SWEEP_MIN_AGE_SECONDS, defaults.sweep_min_age_seconds)?,
    })
}

/// What the environment names besides the settings, read without a client: [`check`] at
/// init and [`build`] read it the same way.
struct Wiring {
    settings: ReconcileSettings,
    catalog_bucket: String,
    stock_table: String,
    price_table: String,
    price_index_table: String,
    dead_letter_queue: String,
    max_receive_count: u32,
    drift_alarm_threshold: u64,
}

fn wiring(config: &Config) -> Result<Wiring, ConfigError> {
    Ok(Wiring {
        settings: settings(config)?,
        catalog_bucket: config.required(CATALOG_BUCKET)?,
        stock_table: config.required(STOCK_TABLE)?,
        price_table: config.required(PRICE_TABLE)?,
        price_index_table: config.required(PRICE_INDEX_TABLE)?,
        dead_letter_queue: config.required(RECONCILE_DLQ_URL)?,
        max_receive_count: config.parsed(MAX_RECEIVE_COUNT, 5)?,
        drift_alarm_threshold: config.parsed(DRIFT_ALARM_THRESHOLD, 0)?,
    })
}

/// What needs no network, checked at init: a misconfigured function fails there.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    wiring(config).map(|_| ())
}

pub fn build(
    config: &Config,
    aws: &aws_config::SdkConfig,
) -> Result<ReconcileHandler, ConfigError> {
    let wiring = wiring(config)?;
    let dynamo = bridge_aws::dynamodb_client(aws);
    let ports = ReconcilePorts {
        files: Arc::new(S3FileStore::new(
            bridge_aws::s3_client(aws),
            wiring.catalog_bucket,
        )),
        stock: Arc::new(DynamoStockStore::new(dynamo.clone(), wiring.stock_table)),
        prices: Arc::new(DynamoPriceStore::new(
            dynamo,
            wiring.price_table,
            wiring.price_index_table,
        )),
    };
    Ok(ReconcileHandler::new(
        Reconciler::new(wiring.settings, ports),
        wiring.dead_letter_queue,
        wiring.max_receive_count,
        wiring.drift_alarm_threshold,
        Arc::new(SqsQueue::new(bridge_aws::sqs_client(aws))),
    ))
}

impl Classified for ReconcileError {
    fn class(&self) -> ErrorClass {
        ErrorClass::retryable_if(self.is_retryable())
    }
    fn kind(&self) -> &'static str {
        "ReconcileFailed"
    }
}

#[async_trait::async_trait]
impl Handler for ReconcileHandler {
    /// S3 notifications of new snapshots (and operators' `{"reconcile": key}`).
    async fn on_batch(
        &self,
        event: SqsEvent,
        _deadline: Instant,
    ) -> Result<SqsBatchResponse, Failure> {
        Ok(self.handle_sqs(event).await?)
    }

    /// The nightly sweep over snapshots no notification brought.
    async fn on_schedule(&self, _deadline: Instant) -> Result<Value, Failure> {
        let reports = self.sweep().await?;
        let files: Vec<&str> = reports.iter().map(|r| r.file.as_str()).collect();
        Ok(serde_json::json!({"reconciled": files}))
    }
}

#[async_trait::async_trait]
impl Function for ReconcileHandler {
    const NAME: &'static str = crate::handler::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        Ok(check(config)?)
    }

    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        Ok(build(config, aws)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
    }

    #[test]
    fn defaults_and_overrides() {
        let defaults = settings(&config(&[])).unwrap();
        assert_eq!(defaults.partition_bytes, 256 * 1024);
        assert_eq!(defaults.sweep_min_age_seconds, 600);
        assert_eq!(defaults.temp_dir, std::env::temp_dir());
        let set = settings(&config(&[
            (TEMP_DIR, "/scratch"),
            (PARTITION_KIB, "1024"),
            (APPLY_CONCURRENCY, "4"),
        ]))
        .unwrap();
        assert_eq!(set.temp_dir, std::path::PathBuf::from("/scratch"));
        assert_eq!(
            (set.partition_bytes, set.apply_concurrency),
            (1024 * 1024, 4)
        );
        assert!(settings(&config(&[(APPLY_CONCURRENCY, "0")])).is_err());
    }
}

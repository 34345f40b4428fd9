//! Builds the reconciliation from its configuration and one AWS configuration.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `STOCK_TABLE` | the stock table | required |
//! | `PRICE_TABLE` | the price table | required |
//! | `CATALOG_BUCKET` | the bucket of `erp/snapshots/` and `erp/reports/` | required |
//! | `RECONCILE_DLQ_URL` | dead-letter queue of the notification queue | required |
//! | `MAX_RECEIVE_COUNT` | the queue's `maxReceiveCount` | 5 |
//! | `DRIFT_ALARM_THRESHOLD` | drifted records a snapshot may have before `DriftAboveThreshold` | 0 |
//! | `SWEEP_MIN_AGE_SECONDS` | the sweep leaves younger snapshots to their notification | 600 |
//! | `TEMP_DIR` | directory of the temporary partition files | the system's (`/tmp`) |
//! | `PARTITION_KIB` | snapshot text per partition, KiB | 256 |
//! | `APPLY_CONCURRENCY` | writes in flight at once | 16 |

use crate::handler::ReconcileHandler;
use crate::{ReconcilePorts, ReconcileSettings, Reconciler};
use bridge_aws::{DynamoPriceStore, DynamoStockStore, S3FileStore, SqsQueue};
use bridge_lambda::{Config, ConfigError};
use std::sync::Arc;

pub const STOCK_TABLE: &str = "STOCK_TABLE";
pub const PRICE_TABLE: &str = "PRICE_TABLE";
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

pub fn build(
    config: &Config,
    aws: &aws_config::SdkConfig,
) -> Result<ReconcileHandler, ConfigError> {
    let dynamo = bridge_aws::dynamodb_client(aws);
    let ports = ReconcilePorts {
        files: Arc::new(S3FileStore::new(
            bridge_aws::s3_client(aws),
            config.required(CATALOG_BUCKET)?,
        )),
        stock: Arc::new(DynamoStockStore::new(
            dynamo.clone(),
            config.required(STOCK_TABLE)?,
        )),
        prices: Arc::new(DynamoPriceStore::new(dynamo, config.required(PRICE_TABLE)?)),
    };
    Ok(ReconcileHandler::new(
        Reconciler::new(settings(config)?, ports),
        config.required(RECONCILE_DLQ_URL)?,
        config.parsed(MAX_RECEIVE_COUNT, 5)?,
        config.parsed(DRIFT_ALARM_THRESHOLD, 0)?,
        Arc::new(SqsQueue::new(bridge_aws::sqs_client(aws))),
    ))
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

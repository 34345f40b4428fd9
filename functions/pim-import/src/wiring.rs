//! Builds the import from its configuration and one AWS configuration: the Lambda binary
//! and the local stack wire it the same way.

use crate::handler::ImportHandler;
use crate::import::{ImportPorts, ImportSettings, Importer};
use bridge_aws::{DynamoCatalogStore, DynamoImportLedger, S3FileStore, SqsQueue};
use bridge_domain::product::ImportGuards;
use bridge_lambda::{Config, ConfigError};
use std::sync::Arc;
use std::time::Duration;

pub const PRODUCT_TABLE: &str = "PRODUCT_TABLE";
pub const IMPORT_TABLE: &str = "IMPORT_TABLE";
pub const CATALOG_BUCKET: &str = "CATALOG_BUCKET";
pub const IMPORT_QUEUE_URL: &str = "IMPORT_QUEUE_URL";
pub const IMPORT_DLQ_URL: &str = "IMPORT_DLQ_URL";
pub const FRESHNESS_TABLE: &str = "FRESHNESS_TABLE";

pub fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<ImportHandler, ConfigError> {
    let dynamo = bridge_aws::dynamodb_client(aws);
    let queue = Arc::new(SqsQueue::new(bridge_aws::sqs_client(aws)));
    let share = |name: &str, default: f64| -> Result<f64, ConfigError> {
        let value: f64 = config.parsed(name, default)?;
        if !(0.0..=1.0).contains(&value) {
            return Err(ConfigError::Invalid {
                name: name.to_string(),
                message: format!("{value} is not a share between 0 and 1"),
            });
        }
        Ok(value)
    };
    let settings = ImportSettings {
        guards: ImportGuards {
            max_reject_share: share("MAX_REJECT_SHARE", 0.20)?,
            max_deactivation_share: share("MAX_DEACTIVATION_SHARE", 0.10)?,
        },
        import_queue: config.required(IMPORT_QUEUE_URL)?,
        lease_seconds: config.parsed("LEASE_SECONDS", 960)?,
        safety_margin: Duration::from_secs(config.parsed("SAFETY_MARGIN_SECONDS", 60)?),
        max_records_per_run: config
            .optional("MAX_RECORDS_PER_RUN")
            .map(|v| v.parse())
            .transpose()
            .map_err(|e: std::num::ParseIntError| ConfigError::Invalid {
                name: "MAX_RECORDS_PER_RUN".into(),
                message: e.to_string(),
            })?,
        sweep_min_age_seconds: config.parsed("SWEEP_MIN_AGE_SECONDS", 600)?,
        wait_for_earlier_seconds: config.parsed("WAIT_FOR_EARLIER_SECONDS", 30)?,
        temp_dir: config
            .optional("TEMP_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
    };
    let ports = ImportPorts {
        files: Arc::new(S3FileStore::new(
            bridge_aws::s3_client(aws),
            config.required(CATALOG_BUCKET)?,
        )),
        catalog: Arc::new(DynamoCatalogStore::new(
            dynamo.clone(),
            config.required(PRODUCT_TABLE)?,
        )),
        ledger: Arc::new(DynamoImportLedger::new(
            dynamo.clone(),
            config.required(IMPORT_TABLE)?,
        )),
        freshness: Arc::new(bridge_aws::DynamoFreshnessStore::new(
            dynamo,
            config.required(FRESHNESS_TABLE)?,
        )),
        queue: queue.clone(),
    };
    Ok(ImportHandler {
        importer: Importer::new(settings, ports),
        dead_letter_queue: config.required(IMPORT_DLQ_URL)?,
        max_receive_count: config.parsed("MAX_RECEIVE_COUNT", 5)?,
        queue,
    })
}

//! Builds the import from its configuration and one AWS configuration: the Lambda binary
//! and the local stack wire it the same way, through its [`Function`] contract.

use crate::handler::ImportHandler;
use crate::import::{ImportError, ImportPorts, ImportSettings, Importer};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bridge_aws::{DynamoCatalogStore, DynamoImportLedger, S3FileStore, SqsQueue};
use bridge_domain::ErrorClass;
use bridge_domain::product::ImportGuards;
use bridge_lambda::{Classified, Config, ConfigError, Failure, Function, Handler, InitError};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PRODUCT_TABLE: &str = "PRODUCT_TABLE";
pub const IMPORT_TABLE: &str = "IMPORT_TABLE";
pub const CATALOG_BUCKET: &str = "CATALOG_BUCKET";
pub const IMPORT_QUEUE_URL: &str = "IMPORT_QUEUE_URL";
pub const IMPORT_DLQ_URL: &str = "IMPORT_DLQ_URL";
pub const FRESHNESS_TABLE: &str = "FRESHNESS_TABLE";

/// Everything the environment gives, parsed without a client: [`check`] at init and
/// [`build`] read it the same way.
struct Wiring {
    settings: ImportSettings,
    catalog_bucket: String,
    product_table: String,
    import_table: String,
    freshness_table: String,
    dead_letter_queue: String,
    max_receive_count: u32,
}

fn wiring(config: &Config) -> Result<Wiring, ConfigError> {
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
    Ok(Wiring {
        settings,
        catalog_bucket: config.required(CATALOG_BUCKET)?,
        product_table: config.required(PRODUCT_TABLE)?,
        import_table: config.required(IMPORT_TABLE)?,
        freshness_table: config.required(FRESHNESS_TABLE)?,
        dead_letter_queue: config.required(IMPORT_DLQ_URL)?,
        max_receive_count: config.parsed("MAX_RECEIVE_COUNT", 5)?,
    })
}

/// What needs no network, checked at init: a misconfigured function fails there.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    wiring(config).map(|_| ())
}

pub fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<ImportHandler, ConfigError> {
    let wiring = wiring(config)?;
    let dynamo = bridge_aws::dynamodb_client(aws);
    let queue = Arc::new(SqsQueue::new(bridge_aws::sqs_client(aws)));
    let ports = ImportPorts {
        files: Arc::new(S3FileStore::new(
            bridge_aws::s3_client(aws),
            wiring.catalog_bucket,
        )),
        catalog: Arc::new(DynamoCatalogStore::new(
            dynamo.clone(),
            wiring.product_table,
        )),
        ledger: Arc::new(DynamoImportLedger::new(dynamo.clone(), wiring.import_table)),
        freshness: Arc::new(bridge_aws::DynamoFreshnessStore::new(
            dynamo,
            wiring.freshness_table,
        )),
        queue: queue.clone(),
    };
    Ok(ImportHandler {
        importer: Importer::new(wiring.settings, ports),
        dead_letter_queue: wiring.dead_letter_queue,
        max_receive_count: wiring.max_receive_count,
        queue,
    })
}

impl Classified for ImportError {
    fn class(&self) -> ErrorClass {
        ErrorClass::retryable_if(self.is_retryable())
    }
    fn kind(&self) -> &'static str {
        "ImportFailed"
    }
}

#[async_trait::async_trait]
impl Handler for ImportHandler {
    /// S3 notifications, continuations and sweep picks of the import queue.
    async fn on_batch(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> Result<SqsBatchResponse, Failure> {
        Ok(self.handle_sqs(event, deadline).await?)
    }

    /// The sweep: queues what the notifications missed.
    async fn on_schedule(&self, _deadline: Instant) -> Result<Value, Failure> {
        let queued = self.sweep().await?;
        Ok(serde_json::json!({"queued": queued}))
    }
}

#[async_trait::async_trait]
impl Function for ImportHandler {
    const NAME: &'static str = crate::handler::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        Ok(check(config)?)
    }

    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        Ok(build(config, aws)?)
    }
}

//! What an importer is given: its settings, its ports, and the errors a run returns.

use bridge_domain::PortError;
use bridge_domain::ports::{CatalogStore, FileStore, ImportLedger, MessageQueue};
use bridge_domain::product::ImportGuards;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub guards: ImportGuards,
    /// Where continuation messages go (the queue that triggers the function).
    pub import_queue: String,
    /// How long one invocation holds a file.
    pub lease_seconds: i64,
    /// Stop this long before the invocation's deadline to save the checkpoint.
    pub safety_margin: std::time::Duration,
    /// Stop after this many records in one invocation (operations and tests).
    pub max_records_per_run: Option<u64>,
    /// The sweep picks up inbox files older than this that no import took.
    pub sweep_min_age_seconds: i64,
    /// Where the sku index keeps its temporary files (`TEMP_DIR`; Lambda's `/tmp`).
    pub temp_dir: PathBuf,
    /// How long a file waits before it looks again whether an earlier one is done.
    pub wait_for_earlier_seconds: u32,
}

#[derive(Clone)]
pub struct ImportPorts {
    pub files: Arc<dyn FileStore>,
    pub catalog: Arc<dyn CatalogStore>,
    pub ledger: Arc<dyn ImportLedger>,
    pub queue: Arc<dyn MessageQueue>,
    pub freshness: Arc<dyn bridge_domain::ports::FreshnessStore>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("checkpoint of {0} is unreadable: {1}")]
    Checkpoint(String, String),
}

impl ImportError {
    pub fn is_retryable(&self) -> bool {
        match self {
            ImportError::Port(e) => e.is_retryable(),
            ImportError::Checkpoint(..) => false,
        }
    }
}

//! Snapshot reconciliation (contract section 5): the ERP's complete stock and price
//! exports under `erp/snapshots/` are compared with the store. Records where the snapshot
//! is newer are applied through the revision guard; records that differ at the same
//! revision, exist on one side only, or where the store is newer than the export are
//! drift, listed in the report beside the snapshot (`erp/reports/<file>.json`).
//!
//! Memory does not grow with the snapshot: the comparison is a partitioned hash join
//! through temporary files (`join.rs`).

pub mod handler;
mod join;
pub mod partition;
pub mod report;
pub mod snapshot;
pub mod wiring;

pub use report::{Counts, DriftCounts, DriftEntry, InvalidEntry, ReconcileReport, Status};
pub use snapshot::{REPORTS, SNAPSHOTS, SnapshotKind};

use bridge_domain::PortError;
use bridge_domain::ports::{FileStore, PriceStore, StockStore};
use chrono::{DateTime, Utc};
use join::{Ran, Source};
use snapshot::{Prices, Stock};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tracing::{info, warn};

#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    /// Where the temporary partition files go (Lambda: `/tmp`).
    pub temp_dir: PathBuf,
    /// Snapshot text per partition: one partition's records are in memory at a time.
    pub partition_bytes: u64,
    /// Writes in flight at once.
    pub apply_concurrency: usize,
    /// The sweep takes snapshots older than this that have no report.
    pub sweep_min_age_seconds: i64,
}

/// 256 KiB of snapshot text per partition: a partition's map stays in the low
/// megabytes (a stock row of ~30 bytes is ~200 bytes as a record in a map), and up to
/// 64 MiB of text (two million stock rows) the partitions stay that small.
pub const DEFAULT_PARTITION_BYTES: u64 = 256 * 1024;

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            temp_dir: std::env::temp_dir(),
            partition_bytes: DEFAULT_PARTITION_BYTES,
            apply_concurrency: 16,
            sweep_min_age_seconds: 600,
        }
    }
}

#[derive(Clone)]
pub struct ReconcilePorts {
    pub files: Arc<dyn FileStore>,
    pub stock: Arc<dyn StockStore>,
    pub prices: Arc<dyn PriceStore>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Port(#[from] PortError),
    /// The snapshot's stream broke (the file may be fine).
    #[error("reading the snapshot failed: {0}")]
    Read(String),
    /// The temporary files could not be written (a full disk: the snapshot is too large
    /// for the function's ephemeral storage).
    #[error("temporary files: {0}")]
    TempFiles(#[from] std::io::Error),
    #[error("{0} is not under {SNAPSHOTS}")]
    NotASnapshot(String),
    /// The object is gone (a late notification of a deleted snapshot).
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("the {what} task failed: {message}")]
    Task {
        what: &'static str,
        panicked: bool,
        message: String,
    },
}

impl ReconcileError {
    pub fn is_retryable(&self) -> bool {
        match self {
            ReconcileError::Port(e) => e.is_retryable(),
            ReconcileError::Read(_) => true,
            ReconcileError::Task { panicked, .. } => !panicked,
            ReconcileError::TempFiles(_)
            | ReconcileError::NotASnapshot(_)
            | ReconcileError::NotFound(_) => false,
        }
    }
}

pub struct Reconciler {
    pub settings: ReconcileSettings,
    pub ports: ReconcilePorts,
}

impl Reconciler {
    pub fn new(settings: ReconcileSettings, ports: ReconcilePorts) -> Self {
        Self { settings, ports }
    }

    /// Reconciles the snapshot at `key` (its current version) and writes its report. A
    /// snapshot whose report already names this version is not read again: its report
    /// is returned (a re-delivered notification). A file that cannot be used gets a
    /// `failed` report and applies nothing.
    pub async fn reconcile(&self, key: &str) -> Result<ReconcileReport, ReconcileError> {
        if snapshot::relative(key).is_none() {
            return Err(ReconcileError::NotASnapshot(key.to_string()));
        }
        let report_key = snapshot::report_key(key);
        let metadata = self
            .ports
            .files
            .metadata(key)
            .await?
            .ok_or_else(|| ReconcileError::NotFound(key.to_string()))?;
        if metadata.version.is_some()
            && let Some(existing) = self.existing_report(key).await?
            && existing.version == metadata.version
        {
            info!(file = key, version = ?metadata.version, "already reconciled: the report names this version");
            return Ok(existing);
        }
        let started_at = Utc::now();
        // A killed invocation's partitions (up to the snapshot's size) go with the next run.
        let dir = bridge_lambda::scratch::ScratchDir::new(&self.settings.temp_dir, "reconcile")?;
        let kind = snapshot::file_kind(key);
        let source = |gzip| Source {
            key: key.to_string(),
            version: metadata.version.clone(),
            size: metadata.size,
            gzip,
        };
        let ran = match kind {
            Err(ref message) => Ran::Failed {
                message: message.clone(),
                rows: 0,
            },
            Ok((SnapshotKind::Stock, gzip)) => {
                join::run::<Stock>(&self.ports, &self.settings, dir.path(), source(gzip)).await?
            }
            Ok((SnapshotKind::Prices, gzip)) => {
                join::run::<Prices>(&self.ports, &self.settings, dir.path(), source(gzip)).await?
            }
        };
        let (status, message, counts, drift, invalid) = match ran {
            Ran::Joined {
                counts,
                drift,
                invalid,
            } => (Status::Reconciled, None, counts, Some(drift), Some(invalid)),
            Ran::Failed { message, rows } => (
                Status::Failed,
                Some(message),
                Counts {
                    rows,
                    ..Counts::default()
                },
                None,
                None,
            ),
        };
        let report = ReconcileReport {
            file: key.to_string(),
            version: metadata.version,
            kind: kind.ok().map(|(kind, _)| kind),
            started_at,
            finished_at: Utc::now(),
            status,
            message,
            counts,
            report_key,
        };
        let path = dir.path().join("report.json");
        let summary = report.clone();
        let written = path.clone();
        tokio::task::spawn_blocking(move || {
            report::write_report(&written, &summary, drift.as_deref(), invalid.as_deref())
        })
        .await
        .map_err(|e| ReconcileError::Task {
            what: "report",
            panicked: e.is_panic(),
            message: e.to_string(),
        })??;
        self.ports
            .files
            .upload(&report.report_key, &path, "application/json")
            .await?;
        // Removing the directory unlinks files: off the executor too.
        let _ = tokio::task::spawn_blocking(move || drop(dir)).await;
        match report.status {
            Status::Reconciled => info!(
                file = key,
                kind = report.kind.map(|k| k.as_str()),
                rows = report.counts.rows,
                records = report.counts.records,
                unchanged = report.counts.unchanged,
                applied = report.counts.applied,
                stale_on_apply = report.counts.stale_on_apply,
                invalid = report.counts.invalid,
                drift_total = report.counts.drift_total,
                content_mismatch = report.counts.drift.content_mismatch,
                missing_in_store = report.counts.drift.missing_in_store,
                missing_in_snapshot = report.counts.drift.missing_in_snapshot,
                store_newer = report.counts.drift.store_newer,
                report = %report.report_key,
                "snapshot reconciled"
            ),
            Status::Failed => warn!(
                file = key,
                kind = report.kind.map(|k| k.as_str()),
                message = report.message.as_deref().unwrap_or_default(),
                report = %report.report_key,
                "snapshot refused: nothing applied"
            ),
        }
        Ok(report)
    }

    /// The report of the snapshot at `key`, if one was written (its lists are streamed
    /// past, not loaded).
    pub async fn existing_report(
        &self,
        key: &str,
    ) -> Result<Option<ReconcileReport>, ReconcileError> {
        let report_key = snapshot::report_key(key);
        if self.ports.files.metadata(&report_key).await?.is_none() {
            return Ok(None);
        }
        let files = self.ports.files.clone();
        let at = report_key.clone();
        let read = tokio::task::spawn_blocking(move || {
            let reader = files.open(&at, None)?;
            Ok::<_, PortError>(serde_json::from_reader::<_, ReconcileReport>(
                std::io::BufReader::new(reader),
            ))
        })
        .await
        .map_err(|e| ReconcileError::Task {
            what: "report read",
            panicked: e.is_panic(),
            message: e.to_string(),
        })??;
        match read {
            Ok(mut report) => {
                report.report_key = report_key;
                Ok(Some(report))
            }
            Err(e) => {
                // Unreadable (another shape, or cut short): reconciling again replaces it.
                warn!(report = %report_key, error = %e, "the existing report is unreadable");
                Ok(None)
            }
        }
    }

    /// The snapshots the sweep takes: older than the minimum age, with no report, or
    /// only one older than the snapshot (uploaded again under the same name).
    pub async fn pending(&self, now: DateTime<Utc>) -> Result<Vec<String>, ReconcileError> {
        let reports: HashMap<String, DateTime<Utc>> =
            self.ports.files.list(REPORTS).await?.into_iter().collect();
        let mut pending = Vec::new();
        for (key, modified) in self.ports.files.list(SNAPSHOTS).await? {
            if key.ends_with('/')
                || (now - modified).num_seconds() < self.settings.sweep_min_age_seconds
            {
                continue;
            }
            let reported = reports
                .get(&snapshot::report_key(&key))
                .is_some_and(|at| *at >= modified);
            if !reported {
                pending.push(key);
            }
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests;

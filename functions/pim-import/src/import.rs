//! The import of one file, in passes that can stop and continue in a later invocation:
//!
//! 1. `scan`: read every record, apply the quality rules, find repeats and conflicts;
//!    nothing is written yet.
//! 2. guards: too many rejections, or (full catalogs) too many deactivations, quarantine
//!    the file with nothing applied.
//! 3. `apply`: read the file again and write the products whose content hash changed.
//! 4. `deactivate` (full catalogs): mark active products absent from the file inactive.
//! 5. report beside the file, file moved to `processed/` or `quarantine/`.
//!
//! Between invocations the state (pass, records done, rejections, counts) is a checkpoint
//! object in the bucket. The sku index (repeats, conflicts, the skus a complete catalog
//! has) is not part of it: it lives in temporary files of the invocation (bounded memory,
//! see `index.rs`), and a continuation rebuilds it by reading the file again, which costs
//! parsing and the quality rules, never a write. The apply pass skips what it had written,
//! and rewriting would be a no-op anyway since unchanged content is not written.

use crate::content;
use crate::formats::{self, Checked, Format, Outcome, Pending, ReadError, RecordSource};
use crate::index::{IndexBuilder, IndexSettings, Seen, SkuIndex};
use crate::report::{Counts, ImportReport};
use bridge_domain::error::cause_chain;
use bridge_domain::ports::{
    CatalogStore, FileStore, ImportLedger, ImportRecord, ImportStatus, MessageQueue,
    OutboundMessage, StoredProduct,
};
use bridge_domain::product::{ImportGuards, Product, Rejection};

/// The content hash a deletion record stands for in the sku index.
const DELETION: u64 = u64::MAX;
/// The checkpoint's format: 2 since the sku index is rebuilt instead of carried.
const CHECKPOINT_VERSION: u32 = 2;
use bridge_domain::{PortError, Sku};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tracing::{info, warn};

pub const INBOX: &str = "pim/inbox/";
pub const FULL: &str = "pim/inbox/full/";

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    Scan,
    Count,
    Apply,
    Deactivate,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Scan => "scan",
            Phase::Count => "count",
            Phase::Apply => "apply",
            Phase::Deactivate => "deactivate",
        }
    }
}

/// What the scan found, for the guards and the report.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub counts: Counts,
    pub rejections: Vec<Rejection>,
    pub warnings: BTreeSet<String>,
    /// Rows rejected (a row with several problems counts once).
    pub rejected_lines: u64,
    /// Rejected rows whose sku could not be read.
    pub unkeyed_rejections: u64,
    /// Valid rows that switch a product off (`status` inactive, BMEcat deletions): the
    /// deactivation guard counts them too.
    pub explicit_deactivations: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "CheckpointWire", into = "CheckpointWire")]
struct Checkpoint {
    phase: Phase,
    /// Records consumed in the current pass.
    records_done: u64,
    /// Table scan position in `count` and `deactivate`.
    scan_cursor: Option<String>,
    tally: Tally,
    started: DateTime<Utc>,
    runs: u32,
    version: u32,
}

/// The checkpoint as stored (the fields of earlier versions, flat).
#[derive(Serialize, Deserialize)]
struct CheckpointWire {
    phase: Phase,
    records_done: u64,
    scan_cursor: Option<String>,
    /// Version 1 carried the sku index here; it is rebuilt now.
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    index: String,
    rejections: Vec<Rejection>,
    warnings: BTreeSet<String>,
    counts: Counts,
    rejected_lines: u64,
    #[serde(default)]
    unkeyed_rejections: u64,
    #[serde(default)]
    explicit_deactivations: u64,
    started: DateTime<Utc>,
    runs: u32,
    #[serde(default)]
    version: u32,
}

impl From<CheckpointWire> for Checkpoint {
    fn from(w: CheckpointWire) -> Self {
        Checkpoint {
            phase: w.phase,
            records_done: w.records_done,
            scan_cursor: w.scan_cursor,
            tally: Tally {
                counts: w.counts,
                rejections: w.rejections,
                warnings: w.warnings,
                rejected_lines: w.rejected_lines,
                unkeyed_rejections: w.unkeyed_rejections,
                explicit_deactivations: w.explicit_deactivations,
            },
            started: w.started,
            runs: w.runs,
            version: w.version,
        }
    }
}

impl From<Checkpoint> for CheckpointWire {
    fn from(c: Checkpoint) -> Self {
        CheckpointWire {
            phase: c.phase,
            records_done: c.records_done,
            scan_cursor: c.scan_cursor,
            index: String::new(),
            rejections: c.tally.rejections,
            warnings: c.tally.warnings,
            counts: c.tally.counts,
            rejected_lines: c.tally.rejected_lines,
            unkeyed_rejections: c.tally.unkeyed_rejections,
            explicit_deactivations: c.tally.explicit_deactivations,
            started: c.started,
            runs: c.runs,
            version: c.version,
        }
    }
}

impl Checkpoint {
    fn new(started: DateTime<Utc>) -> Self {
        Checkpoint {
            phase: Phase::Scan,
            records_done: 0,
            scan_cursor: None,
            tally: Tally::default(),
            started,
            runs: 0,
            version: CHECKPOINT_VERSION,
        }
    }
}

/// What one invocation did with a file.
#[derive(Debug)]
pub enum RunOutcome {
    Finished(Box<ImportReport>),
    /// Saved a checkpoint and queued a continuation.
    Continued {
        phase: &'static str,
        records_done: u64,
    },
    /// Another invocation holds the file.
    Busy,
    /// An earlier file of the inbox is not imported yet: this one waits for it (files apply
    /// in the order they arrived) and is tried again after a delay.
    Waiting {
        behind: String,
    },
    /// The file is not an import (wrong prefix, unknown format, gone).
    Skipped(String),
}

pub struct Importer {
    settings: ImportSettings,
    ports: ImportPorts,
    /// The object version the passes read (`None`: the current one).
    pinned: Option<String>,
}

/// The key below the inbox (`full/a.csv` for `pim/inbox/full/a.csv`).
fn relative(file: &str) -> &str {
    file.strip_prefix(INBOX).unwrap_or(file)
}

pub fn report_key(file: &str) -> String {
    format!("pim/reports/{}.json", relative(file))
}

fn checkpoint_key(import_id: &str) -> String {
    format!("pim/work/{import_id}.checkpoint.json")
}

/// The content hash of a product as stored: 128 bits of xxh3 over its canonical encoding
/// (see `content.rs`).
pub fn content_hash(product: &Product) -> String {
    content::hash_text(content::digest(product))
}

/// Whether to stop this invocation now.
struct Budget {
    deadline: Instant,
    max_records: Option<u64>,
    records: u64,
}

impl Budget {
    fn spent(&self) -> bool {
        Instant::now() >= self.deadline || self.max_records.is_some_and(|m| self.records >= m)
    }
}

enum Pass {
    Done,
    Paused,
}

impl Importer {
    pub fn new(settings: ImportSettings, ports: ImportPorts) -> Self {
        Self {
            settings,
            ports,
            pinned: None,
        }
    }

    /// This importer reading one version of the files.
    fn pinned_to(&self, version: Option<String>) -> Importer {
        Importer {
            settings: self.settings.clone(),
            ports: self.ports.clone(),
            pinned: version,
        }
    }

    /// Imports (or continues importing) `file` until done or until `deadline`.
    pub async fn run(&self, file: &str, deadline: Instant) -> Result<RunOutcome, ImportError> {
        if !file.starts_with(INBOX) {
            return Ok(RunOutcome::Skipped(format!("{file} is not under {INBOX}")));
        }
        if file.ends_with('/') {
            // A folder marker (the S3 console's "create folder"), not a file.
            return Ok(RunOutcome::Skipped(format!("{file} is a folder")));
        }
        // A redelivered notification of a file already imported (and moved) finds nothing,
        // and must leave the ledger's record of that import alone.
        let Some(current_version) = self.ports.files.current_version(file).await? else {
            return Ok(RunOutcome::Skipped(format!("{file} is not in the inbox")));
        };
        let Some((format, gzip)) = formats::detect(file) else {
            // Not ours to judge silently: a report says why, and the file leaves the inbox.
            return self.reject_unknown_format(file).await;
        };
        let now = Utc::now();
        let Some(mut record) = self
            .ports
            .ledger
            .claim(file, now, self.settings.lease_seconds)
            .await?
        else {
            return Ok(RunOutcome::Busy);
        };
        if record.phase == "scan" && record.records_done == 0 && record.version.is_none() {
            // Files apply in the order they arrived: a delta uploaded after another must
            // not be overwritten by it, and a complete catalog must not deactivate what a
            // later delta created (nor a delta be undone by an earlier catalog).
            if let Some(behind) = self.earlier_pending(file).await? {
                // The lease stays until shortly before the delayed message returns, so that a
                // sweep or a repeated notification meanwhile finds the file busy instead of
                // starting a second chain of waits.
                record.lease_until = now.timestamp()
                    + i64::from(self.settings.wait_for_earlier_seconds.saturating_sub(5));
                record.message = Some(format!("waiting for {behind}"));
                self.ports.ledger.save(&record).await?;
                self.continue_later(file, self.settings.wait_for_earlier_seconds)
                    .await?;
                info!(file, behind = %behind, outcome = "waiting", "an earlier file is still in the inbox; this one waits for it");
                return Ok(RunOutcome::Waiting { behind });
            }
            record.message = None;
            // Pin the version now: an upload of the same name during the import is a
            // file of its own, left in the inbox for its own import.
            record.version = current_version;
            self.ports.ledger.save(&record).await?;
        }
        let mut checkpoint = match self
            .ports
            .files
            .read(&checkpoint_key(&record.import_id))
            .await?
        {
            Some(bytes) => serde_json::from_slice::<Checkpoint>(&bytes)
                .map_err(|e| ImportError::Checkpoint(file.to_string(), e.to_string()))?,
            None => Checkpoint::new(now),
        };
        checkpoint.runs += 1;
        if checkpoint.version < CHECKPOINT_VERSION && checkpoint.phase == Phase::Scan {
            // A scan paused by the version that carried the index accounted repeats and
            // conflicts as it went; this one does at the end of the scan: scan again.
            checkpoint.records_done = 0;
            checkpoint.tally = Tally::default();
        }
        checkpoint.version = CHECKPOINT_VERSION;
        let full = file.starts_with(FULL);
        // The margin never takes more than a quarter of the time left, so that a short
        // invocation still makes progress instead of only handing over.
        let remaining = deadline.saturating_duration_since(Instant::now());
        let margin = self.settings.safety_margin.min(remaining / 4);
        let mut budget = Budget {
            deadline: deadline.checked_sub(margin).unwrap_or_else(Instant::now),
            max_records: self.settings.max_records_per_run,
            records: 0,
        };
        info!(file, import_id = %record.import_id, phase = checkpoint.phase.as_str(), records_done = checkpoint.records_done, "import run starts");

        let result = self
            .advance(
                file,
                format,
                gzip,
                full,
                &record,
                &mut checkpoint,
                &mut budget,
            )
            .await;
        match result {
            Ok(Pass::Paused) => {
                self.ports
                    .files
                    .write(
                        &checkpoint_key(&record.import_id),
                        serde_json::to_vec(&checkpoint).expect("serializes"),
                        "application/json",
                    )
                    .await?;
                record.phase = checkpoint.phase.as_str().to_string();
                record.records_done = checkpoint.records_done;
                record.lease_until = 0;
                record.updated_at = Utc::now();
                self.ports.ledger.save(&record).await?;
                self.continue_later(file, 0).await?;
                Ok(RunOutcome::Continued {
                    phase: checkpoint.phase.as_str(),
                    records_done: checkpoint.records_done,
                })
            }
            Ok(Pass::Done) => {
                let report = self
                    .finish(
                        file,
                        format,
                        gzip,
                        full,
                        &mut record,
                        checkpoint,
                        None,
                        false,
                    )
                    .await?;
                Ok(RunOutcome::Finished(Box::new(report)))
            }
            Err(Stop::Quarantine(reason)) => {
                let report = self
                    .finish(
                        file,
                        format,
                        gzip,
                        full,
                        &mut record,
                        checkpoint,
                        Some(reason),
                        false,
                    )
                    .await?;
                Ok(RunOutcome::Finished(Box::new(report)))
            }
            Err(Stop::Port(err)) if !err.is_retryable() => {
                // Retrying cannot help: end it visibly, with what was done so far.
                let reason = format!("the import failed: {}", cause_chain(&err));
                warn!(file, reason = %reason, "import failed");
                let report = self
                    .finish(
                        file,
                        format,
                        gzip,
                        full,
                        &mut record,
                        checkpoint,
                        Some(reason),
                        true,
                    )
                    .await?;
                Ok(RunOutcome::Finished(Box::new(report)))
            }
            Err(Stop::Port(err)) => {
                // Release the lease so that the redelivered message continues at once.
                warn!(file, error = %cause_chain(&err), "import run failed; it continues from its last checkpoint");
                record.lease_until = 0;
                let _ = self.ports.ledger.save(&record).await;
                Err(err.into())
            }
        }
    }

    /// The earliest other file in the inbox that arrived before `file` (by upload time,
    /// then name), if any: it is imported first.
    async fn earlier_pending(&self, file: &str) -> Result<Option<String>, PortError> {
        let inbox = self.ports.files.list(INBOX).await?;
        let Some(own) = inbox.iter().find(|(key, _)| key == file).map(|(_, at)| *at) else {
            return Ok(None);
        };
        Ok(inbox
            .into_iter()
            .filter(|(key, _)| key != file && !key.ends_with('/') && formats::detect(key).is_some())
            .filter(|(key, at)| (*at, key.as_str()) < (own, file))
            .min_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)))
            .map(|(key, _)| key))
    }

    async fn continue_later(&self, file: &str, delay_seconds: u32) -> Result<(), PortError> {
        let message = OutboundMessage {
            body: serde_json::json!({"import": file}).to_string(),
            attributes: Default::default(),
            delay_seconds,
        };
        self.ports
            .queue
            .send(&self.settings.import_queue, &message)
            .await
            .map(|_| ())
    }

    #[allow(clippy::too_many_arguments)]
    async fn advance(
        &self,
        file: &str,
        format: Format,
        gzip: bool,
        full: bool,
        record: &ImportRecord,
        checkpoint: &mut Checkpoint,
        budget: &mut Budget,
    ) -> Result<Pass, Stop> {
        let pinned = self.pinned_to(record.version.clone());
        // Built by the scan, or rebuilt by reading the file again in a continuation.
        let mut index: Option<SkuIndex> = None;
        loop {
            match checkpoint.phase {
                Phase::Scan => {
                    match pinned.scan(file, format, gzip, checkpoint, budget).await? {
                        (Pass::Paused, _) => return Ok(Pass::Paused),
                        (Pass::Done, built) => index = built,
                    }
                    let tally = &checkpoint.tally;
                    if let Some(reason) = self
                        .settings
                        .guards
                        .check_rejections(tally.counts.total, tally.rejected_lines)
                    {
                        return Err(Stop::Quarantine(reason));
                    }
                    let deactivates = full && tally.unkeyed_rejections == 0;
                    if full && !deactivates {
                        let message = format!(
                            "{} rejected rows have no readable sku, so the catalog cannot tell which products it lacks: nothing is deactivated",
                            tally.unkeyed_rejections
                        );
                        checkpoint.tally.warnings.insert(message);
                    }
                    checkpoint.phase = if deactivates || checkpoint.tally.explicit_deactivations > 0
                    {
                        Phase::Count
                    } else {
                        Phase::Apply
                    };
                    checkpoint.records_done = 0;
                    checkpoint.scan_cursor = None;
                }
                Phase::Count => {
                    let index = pinned.ready(&mut index, file, format, gzip).await?;
                    loop {
                        if budget.spent() {
                            return Ok(Pass::Paused);
                        }
                        let (skus, next) = self
                            .ports
                            .catalog
                            .active_skus(checkpoint.scan_cursor.clone())
                            .await?;
                        let tally = &mut checkpoint.tally;
                        tally.counts.active_before += skus.len() as u64;
                        let absent_counts = full && tally.unkeyed_rejections == 0;
                        // What this file would switch off: active products it lacks (complete
                        // catalogs) and active products it marks inactive or deletes.
                        for sku in &skus {
                            let off = index.switches_off(sku.as_str()).map_err(index_error)?
                                || (absent_counts
                                    && !index.contains(sku.as_str()).map_err(index_error)?);
                            tally.counts.deactivated += u64::from(off);
                        }
                        checkpoint.scan_cursor = next;
                        budget.records += skus.len() as u64;
                        if checkpoint.scan_cursor.is_none() {
                            break;
                        }
                    }
                    let counts = &checkpoint.tally.counts;
                    if let Some(reason) = self
                        .settings
                        .guards
                        .check_deactivations(counts.active_before, counts.deactivated)
                    {
                        return Err(Stop::Quarantine(reason));
                    }
                    // Counted again when applied: what the report shows is what was done.
                    checkpoint.tally.counts.deactivated = 0;
                    checkpoint.phase = Phase::Apply;
                    checkpoint.records_done = 0;
                }
                Phase::Apply => {
                    pinned.ready(&mut index, file, format, gzip).await?;
                    let taken = index.take().expect("made ready above");
                    let (pass, taken) = pinned
                        .apply(
                            file,
                            format,
                            gzip,
                            &record.import_id,
                            checkpoint,
                            taken,
                            budget,
                        )
                        .await;
                    index = taken;
                    if let Pass::Paused = pass? {
                        return Ok(Pass::Paused);
                    }
                    checkpoint.records_done = 0;
                    checkpoint.scan_cursor = None;
                    if !full || checkpoint.tally.unkeyed_rejections > 0 {
                        return Ok(Pass::Done);
                    }
                    checkpoint.phase = Phase::Deactivate;
                }
                Phase::Deactivate => {
                    let index = pinned.ready(&mut index, file, format, gzip).await?;
                    loop {
                        if budget.spent() {
                            return Ok(Pass::Paused);
                        }
                        let (skus, next) = self
                            .ports
                            .catalog
                            .active_skus(checkpoint.scan_cursor.clone())
                            .await?;
                        let mut absent = Vec::new();
                        for sku in skus {
                            if !index.contains(sku.as_str()).map_err(index_error)? {
                                absent.push(sku);
                            }
                        }
                        checkpoint.tally.counts.deactivated += self
                            .ports
                            .catalog
                            .deactivate(&absent, &record.import_id)
                            .await?;
                        checkpoint.scan_cursor = next;
                        budget.records += absent.len() as u64;
                        if checkpoint.scan_cursor.is_none() {
                            return Ok(Pass::Done);
                        }
                    }
                }
            }
        }
    }

    /// Opens the file and skips the records a previous run consumed (blocking: call from a
    /// blocking thread). Skipping parses and checks, it never writes; at a few million
    /// records a second it is small beside a run's budget.
    fn reopen(
        &self,
        file: &str,
        format: Format,
        gzip: bool,
        skip: u64,
    ) -> Result<Box<dyn RecordSource>, Stop> {
        let input = self.ports.files.open(file, self.pinned.as_deref())?;
        let first_pass = skip == 0;
        let mut source = formats::open(format, gzip, input).map_err(|e| match e {
            ReadError::File(reason) => {
                Stop::Quarantine(format!("the file cannot be read: {reason}"))
            }
            ReadError::Record(r) => {
                Stop::Quarantine(format!("the file cannot be read: {}", r.message))
            }
            ReadError::Io(reason) => Stop::Port(PortError::retryable("import.read", reason)),
        })?;
        for _ in 0..skip {
            match source.next_checked() {
                None => break,
                // These records were read before: failing now is the stream's fault.
                Some(Err(ReadError::File(reason) | ReadError::Io(reason))) if !first_pass => {
                    return Err(Stop::Port(PortError::retryable("import.read", reason)));
                }
                Some(_) => {}
            }
        }
        Ok(source)
    }

    fn new_index(&self) -> Result<IndexBuilder, Stop> {
        IndexBuilder::new(IndexSettings::new(self.settings.temp_dir.clone())).map_err(|e| {
            Stop::Port(PortError::retryable(
                "import.index",
                format!(
                    "cannot create the sku index under {}: {e}",
                    self.settings.temp_dir.display()
                ),
            ))
        })
    }

    /// The index, rebuilt from the file if this run has none (a continuation).
    async fn ready<'a>(
        &self,
        index: &'a mut Option<SkuIndex>,
        file: &str,
        format: Format,
        gzip: bool,
    ) -> Result<&'a mut SkuIndex, Stop> {
        if index.is_none() {
            let importer = self.clone_parts();
            let file = file.to_string();
            let started = Instant::now();
            let built =
                tokio::task::spawn_blocking(move || importer.rebuild_blocking(&file, format, gzip))
                    .await
                    .map_err(|e| {
                        Stop::Port(PortError::retryable(
                            "import.index",
                            format!("the index task failed: {e}"),
                        ))
                    })??;
            info!(
                skus = built.len(),
                ms = started.elapsed().as_millis() as u64,
                "sku index rebuilt from the file"
            );
            *index = Some(built);
        }
        Ok(index.as_mut().expect("built above"))
    }

    /// Reads the whole file (scanned before) into a new index, without accounting.
    fn rebuild_blocking(&self, file: &str, format: Format, gzip: bool) -> Result<SkuIndex, Stop> {
        let mut index = self.new_index()?;
        let mut source = self.reopen(file, format, gzip, 0).map_err(read_before)?;
        let mut ordinal = 0;
        while let Some(next) = source.next_checked() {
            ordinal += 1;
            scan_record(&mut index, None, ordinal, next).map_err(read_before)?;
        }
        finish_scan(index, None).map_err(index_error)
    }

    /// The scan pass; returns the finished index when the scan is done.
    async fn scan(
        &self,
        file: &str,
        format: Format,
        gzip: bool,
        checkpoint: &mut Checkpoint,
        budget: &mut Budget,
    ) -> Result<(Pass, Option<SkuIndex>), Stop> {
        let importer = self.clone_parts();
        let mut state = std::mem::replace(checkpoint, Checkpoint::new(Utc::now()));
        let mut bud = Budget {
            deadline: budget.deadline,
            max_records: budget.max_records,
            records: budget.records,
        };
        let file = file.to_string();
        let (result, state, bud) = tokio::task::spawn_blocking(move || {
            let result = importer.scan_blocking(&file, format, gzip, &mut state, &mut bud);
            (result, state, bud)
        })
        .await
        .map_err(|e| {
            Stop::Port(PortError::retryable(
                "import.scan",
                format!("the scan task failed: {e}"),
            ))
        })?;
        *checkpoint = state;
        budget.records = bud.records;
        result
    }

    fn clone_parts(&self) -> Importer {
        self.pinned_to(self.pinned.clone())
    }

    fn scan_blocking(
        &self,
        file: &str,
        format: Format,
        gzip: bool,
        checkpoint: &mut Checkpoint,
        budget: &mut Budget,
    ) -> Result<(Pass, Option<SkuIndex>), Stop> {
        let mut index = self.new_index()?;
        let mut source = self.reopen(file, format, gzip, 0)?;
        // The records an earlier run scanned go into the index again, not into the tally.
        for ordinal in 1..=checkpoint.records_done {
            let Some(next) = source.next_checked() else {
                return Err(Stop::Port(PortError::retryable(
                    "import.read",
                    format!("the file ended before record {ordinal}, read before"),
                )));
            };
            scan_record(&mut index, None, ordinal, next).map_err(read_before)?;
        }
        loop {
            if budget.spent() {
                checkpoint.tally.warnings.extend(source.warnings());
                return Ok((Pass::Paused, None));
            }
            let Some(next) = source.next_checked() else {
                checkpoint.tally.warnings.extend(source.warnings());
                let index = finish_scan(index, Some(&mut checkpoint.tally)).map_err(index_error)?;
                return Ok((Pass::Done, Some(index)));
            };
            checkpoint.records_done += 1;
            budget.records += 1;
            let ordinal = checkpoint.records_done;
            scan_record(&mut index, Some(&mut checkpoint.tally), ordinal, next)?;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply(
        &self,
        file: &str,
        format: Format,
        gzip: bool,
        import_id: &str,
        checkpoint: &mut Checkpoint,
        index: SkuIndex,
        budget: &mut Budget,
    ) -> (Result<Pass, Stop>, Option<SkuIndex>) {
        let importer = self.clone_parts();
        let mut state = std::mem::replace(checkpoint, Checkpoint::new(Utc::now()));
        let mut bud = Budget {
            deadline: budget.deadline,
            max_records: budget.max_records,
            records: budget.records,
        };
        let file = file.to_string();
        let import_id = import_id.to_string();
        let handle = tokio::runtime::Handle::current();
        let joined = tokio::task::spawn_blocking(move || {
            let result = importer.apply_blocking(
                &handle, &file, format, gzip, &import_id, &mut state, &index, &mut bud,
            );
            (result, state, index, bud)
        })
        .await;
        match joined {
            Ok((result, state, index, bud)) => {
                *checkpoint = state;
                budget.records = bud.records;
                (result, Some(index))
            }
            Err(e) => (
                Err(Stop::Port(PortError::retryable(
                    "import.apply",
                    format!("the apply task failed: {e}"),
                ))),
                None,
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_blocking(
        &self,
        handle: &tokio::runtime::Handle,
        file: &str,
        format: Format,
        gzip: bool,
        import_id: &str,
        checkpoint: &mut Checkpoint,
        index: &SkuIndex,
        budget: &mut Budget,
    ) -> Result<Pass, Stop> {
        const BATCH: usize = 100;
        let mut applying = index.applying().map_err(index_error)?;
        let mut source = self.reopen(file, format, gzip, checkpoint.records_done)?;
        let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
        let mut deletions: Vec<Sku> = Vec::new();
        // Records read but not yet written: the checkpoint only moves past written ones.
        let mut pending_records = 0u64;
        loop {
            let spent = budget.spent();
            let next = if spent { None } else { source.next_checked() };
            let finished = next.is_none();
            if let Some(next) = next {
                pending_records += 1;
                budget.records += 1;
                let ordinal = checkpoint.records_done + pending_records;
                match next {
                    // The scan read this file whole: a failure now is the stream's, retry.
                    Err(ReadError::File(reason) | ReadError::Io(reason)) => {
                        return Err(Stop::Port(PortError::retryable("import.read", reason)));
                    }
                    Err(ReadError::Record(_)) => {}
                    Ok(Checked { line, outcome }) => match outcome {
                        Outcome::Rejected(_) => {}
                        Outcome::Deletion(sku) => {
                            if applying.applies(ordinal).map_err(index_error)? {
                                deletions.push(sku);
                            }
                        }
                        Outcome::Valid(valid) => {
                            if applying.applies(ordinal).map_err(index_error)? {
                                batch.push(valid.into_pending(line));
                            }
                        }
                    },
                }
            }
            if batch.len() + deletions.len() >= BATCH || finished {
                handle.block_on(self.write_changed(
                    &mut batch,
                    import_id,
                    &mut checkpoint.tally.counts,
                ))?;
                if !deletions.is_empty() {
                    checkpoint.tally.counts.deactivated +=
                        handle.block_on(self.ports.catalog.deactivate(&deletions, import_id))?;
                    deletions.clear();
                }
                checkpoint.records_done += pending_records;
                pending_records = 0;
            }
            if finished {
                return Ok(if spent { Pass::Paused } else { Pass::Done });
            }
        }
    }

    /// Writes the products of `batch` whose content changed (building only those); counts
    /// all of them.
    async fn write_changed(
        &self,
        batch: &mut Vec<Pending>,
        import_id: &str,
        counts: &mut Counts,
    ) -> Result<(), PortError> {
        if batch.is_empty() {
            return Ok(());
        }
        let skus: Vec<Sku> = batch.iter().map(|p| p.sku.clone()).collect();
        let stored = self.ports.catalog.content_hashes(&skus).await?;
        let now = Utc::now();
        let mut writes = Vec::new();
        for pending in batch.drain(..) {
            let hash = content::hash_text(pending.digest);
            let existing = stored.get(&pending.sku);
            if existing == Some(&hash) {
                counts.unchanged += 1;
                continue;
            }
            let line = pending.line;
            let product = pending.into_product().map_err(|problems| {
                PortError::permanent(
                    "import.apply",
                    format!(
                        "line {line} passed the quality rules in the scan but not when applied: {problems:?}"
                    ),
                )
            })?;
            if existing.is_some() {
                counts.updated += 1;
            } else {
                counts.created += 1;
            }
            writes.push(StoredProduct {
                product,
                content_hash: hash,
                import_id: import_id.to_string(),
                updated_at: now,
            });
        }
        self.ports.catalog.put_products(&writes).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        file: &str,
        format: Format,
        gzip: bool,
        full: bool,
        record: &mut ImportRecord,
        checkpoint: Checkpoint,
        quarantine: Option<String>,
        failed: bool,
    ) -> Result<ImportReport, PortError> {
        let finished = Utc::now();
        let tally = checkpoint.tally;
        let mut counts = tally.counts.clone();
        counts.rejected = tally.rejected_lines;
        counts.warnings = tally.warnings.len() as u64;
        if quarantine.is_some() && !failed {
            // A guard or an unreadable file stops the import before anything is applied.
            counts.created = 0;
            counts.updated = 0;
            counts.unchanged = 0;
            counts.deactivated = 0;
        }
        let status = if quarantine.is_some() {
            ImportStatus::Quarantined
        } else {
            ImportStatus::Applied
        };
        let destination = format!(
            "pim/{}/{}",
            if quarantine.is_some() {
                "quarantine"
            } else {
                "processed"
            },
            relative(file)
        );
        let report = ImportReport {
            file: file.to_string(),
            import_id: record.import_id.clone(),
            format: match format {
                Format::Csv => "csv",
                Format::Ndjson => "ndjson",
                Format::Bmecat => "bmecat",
            }
            .to_string(),
            compressed: gzip,
            mode: if full { "full" } else { "delta" }.to_string(),
            status,
            reason: quarantine.clone(),
            moved_to: destination.clone(),
            started_at: checkpoint.started,
            finished_at: finished,
            duration_ms: (finished - checkpoint.started).num_milliseconds().max(0) as u64,
            runs: checkpoint.runs,
            counts,
            warnings: tally.warnings.into_iter().collect(),
            rejections: tally.rejections,
        };
        let key = report_key(file);
        self.ports
            .files
            .write(
                &key,
                serde_json::to_vec_pretty(&report).expect("serializes"),
                "application/json",
            )
            .await?;
        self.ports
            .files
            .rename(file, record.version.as_deref(), &destination)
            .await?;
        let _ = self
            .ports
            .files
            .delete(&checkpoint_key(&record.import_id))
            .await;
        record.status = status;
        record.phase = "done".into();
        record.records_done = report.counts.total;
        record.report_key = Some(key);
        record.message = quarantine;
        record.lease_until = 0;
        record.updated_at = finished;
        self.ports.ledger.save(record).await?;
        if status == ImportStatus::Applied {
            // Product data flowed; a failure to say so is logged, the alarm is the safe side.
            let category = bridge_domain::freshness::Category::Products;
            if let Err(err) = self
                .ports
                .freshness
                .record(category, finished, "pim-import")
                .await
            {
                warn!(error = %cause_chain(&err), "could not record freshness");
            }
            bridge_lambda::metrics::heartbeats([category.as_str()]);
        }
        Ok(report)
    }

    async fn reject_unknown_format(&self, file: &str) -> Result<RunOutcome, ImportError> {
        let now = Utc::now();
        let Some(mut record) = self
            .ports
            .ledger
            .claim(file, now, self.settings.lease_seconds)
            .await?
        else {
            return Ok(RunOutcome::Busy);
        };
        let reason =
            "unknown format: use .csv, .ndjson, .jsonl or .xml, optionally with .gz".to_string();
        let mut checkpoint = Checkpoint::new(now);
        checkpoint.runs = 1;
        let report = self
            .finish(
                file,
                Format::Csv,
                false,
                file.starts_with(FULL),
                &mut record,
                checkpoint,
                Some(reason),
                false,
            )
            .await?;
        Ok(RunOutcome::Finished(Box::new(report)))
    }

    /// Queues an import for every inbox file older than the sweep age that has no running
    /// or finished import: files whose event was lost still get imported.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<Vec<String>, ImportError> {
        let mut queued = Vec::new();
        for (key, modified) in self.ports.files.list(INBOX).await? {
            if key.ends_with('/')
                || (now - modified).num_seconds() < self.settings.sweep_min_age_seconds
            {
                continue;
            }
            let running = self.ports.ledger.get(&key).await?.is_some_and(|r| {
                r.status == ImportStatus::Running && r.lease_until >= now.timestamp()
            });
            if !running {
                self.continue_later(&key, 0).await?;
                queued.push(key);
            }
        }
        Ok(queued)
    }
}

fn conflict(line: u64, sku: &str, message: &str) -> Rejection {
    Rejection {
        line,
        sku: Some(sku.to_string()),
        field: "sku".into(),
        code: "conflict".into(),
        message: message.to_string(),
    }
}

/// The scan's work on one record (the `ordinal`-th of the file): its sku, content hash and
/// outcome into the index, and, unless the index is only being rebuilt (`tally` `None`),
/// its count and rejections into the tally. Repeats and conflicts between rows are only
/// known when the scan ends ([`finish_scan`]).
pub fn scan_record(
    index: &mut IndexBuilder,
    mut tally: Option<&mut Tally>,
    ordinal: u64,
    next: Result<Checked<'_>, ReadError>,
) -> Result<(), Stop> {
    let (line, outcome) = match next {
        Err(ReadError::File(reason)) => {
            return Err(Stop::Quarantine(format!(
                "the file cannot be read: {reason}"
            )));
        }
        Err(ReadError::Io(reason)) => {
            return Err(Stop::Port(PortError::retryable("import.read", reason)));
        }
        Err(ReadError::Record(rejection)) => (rejection.line, Outcome::Rejected(vec![rejection])),
        Ok(Checked { line, outcome }) => (line, outcome),
    };
    if let Some(tally) = tally.as_deref_mut() {
        tally.counts.total += 1;
    }
    match outcome {
        Outcome::Valid(valid) => index
            .valid(valid.sku(), valid.key, valid.inactive, ordinal, line)
            .map_err(index_error),
        Outcome::Deletion(sku) => index
            .valid(sku.as_str(), DELETION, true, ordinal, line)
            .map_err(index_error),
        Outcome::Rejected(problems) => {
            // Every rejection names the row's sku text, when it had one.
            let keyed = problems
                .first()
                .and_then(|p| p.sku.as_deref())
                .is_some_and(|sku| Sku::parse(sku).is_ok());
            if keyed {
                // The sku stays known (not deactivated), and an earlier valid row of it is
                // no longer imported either.
                let sku = problems[0].sku.as_deref().expect("keyed");
                index.rejected(sku, ordinal, line).map_err(index_error)?;
            }
            if let Some(tally) = tally {
                if !keyed {
                    // A row without a readable sku: a complete catalog can no longer tell
                    // what it lacks, so it deactivates nothing.
                    tally.unkeyed_rejections += 1;
                }
                tally.rejected_lines += 1;
                tally.rejections.extend(problems);
            }
            Ok(())
        }
    }
}

/// Ends the scan: the index merges its rows by sku, and what it finds (first rows,
/// identical repeats, conflicts) goes into the tally, whose rejections are then in line
/// order.
pub fn finish_scan(index: IndexBuilder, tally: Option<&mut Tally>) -> std::io::Result<SkuIndex> {
    let Some(tally) = tally else {
        return index.finish(|_| {});
    };
    let finished = index.finish(|seen| account(tally, seen))?;
    tally.rejections.sort_by_key(|r| r.line);
    Ok(finished)
}

/// The counts, warnings and rejections of what the index found about one row.
fn account(tally: &mut Tally, seen: Seen<'_>) {
    match seen {
        Seen::First { switches_off } => {
            tally.counts.valid += 1;
            tally.explicit_deactivations += u64::from(switches_off);
        }
        Seen::Repeat {
            sku,
            first_line,
            line,
        } => {
            tally.counts.duplicates += 1;
            tally.warnings.insert(format!(
                "sku {sku} repeats identically (lines {first_line} and {line}); imported once"
            ));
        }
        Seen::Conflict {
            sku,
            first_line,
            line,
            first_was_valid,
        } => {
            let message = format!(
                "sku {sku} appears with different content on lines {first_line} and {line}; neither row is imported"
            );
            tally.counts.conflicts += 1;
            tally.rejected_lines += 1;
            if first_was_valid {
                // The first row had counted as valid: it is not imported either.
                tally.counts.valid = tally.counts.valid.saturating_sub(1);
                tally.counts.conflicts += 1;
                tally.rejected_lines += 1;
                tally.rejections.push(conflict(first_line, sku, &message));
            }
            tally.rejections.push(conflict(line, sku, &message));
        }
        Seen::RejectedAfterValid {
            sku,
            first_line,
            line,
        } => {
            tally.counts.valid = tally.counts.valid.saturating_sub(1);
            tally.counts.conflicts += 1;
            tally.rejected_lines += 1;
            tally.rejections.push(conflict(
                first_line,
                sku,
                &format!(
                    "sku {sku} has a rejected row on line {line}; this row is not imported either"
                ),
            ));
        }
    }
}

/// The index's temporary files failed (a full or missing `TEMP_DIR`): another invocation
/// may have the room.
fn index_error(e: std::io::Error) -> Stop {
    Stop::Port(PortError::retryable(
        "import.index",
        format!("the sku index's temporary files failed: {e}"),
    ))
}

/// A failure reading records an earlier pass read whole is the stream's: retry.
fn read_before(stop: Stop) -> Stop {
    match stop {
        Stop::Quarantine(reason) => Stop::Port(PortError::retryable("import.read", reason)),
        other => other,
    }
}

/// Why a pass stopped early.
#[derive(Debug)]
pub enum Stop {
    /// The file is quarantined with this reason.
    Quarantine(String),
    /// A port (or the index's temporary files) failed.
    Port(PortError),
}

impl From<PortError> for Stop {
    fn from(err: PortError) -> Self {
        Stop::Port(err)
    }
}

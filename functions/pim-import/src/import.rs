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
//! Between invocations the state (pass, records done, sku index, rejections, counts) is a
//! checkpoint object in the bucket. Re-reading up to the checkpoint costs parsing, never a
//! write: the apply pass skips what it had written, and rewriting would be a no-op anyway
//! since unchanged content is not written.

use crate::formats::{self, Format, ReadError, RecordSource};
use crate::index::{Seen, SkuIndex};
use crate::report::{Counts, ImportReport};
use base64::Engine;
use bridge_domain::error::cause_chain;
use bridge_domain::ports::{
    CatalogStore, FileStore, ImportLedger, ImportRecord, MessageQueue, OutboundMessage,
    StoredProduct,
};
use bridge_domain::product::{
    ImportGuards, Product, ProductStatus, Rejection, validate_deletion, validate_product,
};

/// The content hash a deletion record stands for in the sku index.
const DELETION: u64 = u64::MAX;
/// Largest product (as JSON) accepted: DynamoDB items hold 400 KB, with room for the keys.
const MAX_PRODUCT_BYTES: usize = 350 * 1024;
use bridge_domain::{PortError, Sku};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Checkpoint {
    phase: Phase,
    /// Records consumed in the current pass.
    records_done: u64,
    /// Table scan position in `count` and `deactivate`.
    scan_cursor: Option<String>,
    /// The sku index, base64 of its bytes.
    index: String,
    rejections: Vec<Rejection>,
    warnings: BTreeSet<String>,
    counts: Counts,
    /// Rows rejected (a row with several problems counts once).
    rejected_lines: u64,
    /// Rejected rows whose sku could not be read.
    #[serde(default)]
    unkeyed_rejections: u64,
    /// Valid rows that switch a product off (`status` inactive, BMEcat deletions): the
    /// deactivation guard counts them too.
    #[serde(default)]
    explicit_deactivations: u64,
    started: DateTime<Utc>,
    runs: u32,
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

/// The canonical content hash of a product: 128 bits of xxh3 over its JSON (ordered maps),
/// streamed into the hasher (no buffer), with the JSON's length.
pub fn content_digest(product: &Product) -> (u128, usize) {
    struct Hashing {
        hasher: xxhash_rust::xxh3::Xxh3,
        bytes: usize,
    }
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.hasher.update(buf);
            self.bytes += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Hashing {
        hasher: xxhash_rust::xxh3::Xxh3::new(),
        bytes: 0,
    };
    serde_json::to_writer(&mut out, product).expect("a product serializes");
    (out.hasher.digest128(), out.bytes)
}

/// The stored form of [`content_digest`].
pub fn content_hash(product: &Product) -> String {
    format!("{:032x}", content_digest(product).0)
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
            None => Checkpoint {
                phase: Phase::Scan,
                records_done: 0,
                scan_cursor: None,
                index: String::new(),
                rejections: Vec::new(),
                warnings: BTreeSet::new(),
                counts: Counts::default(),
                rejected_lines: 0,
                unkeyed_rejections: 0,
                explicit_deactivations: 0,
                started: now,
                runs: 0,
            },
        };
        checkpoint.runs += 1;
        let mut index = SkuIndex::from_bytes(
            &base64::engine::general_purpose::STANDARD
                .decode(&checkpoint.index)
                .map_err(|e| ImportError::Checkpoint(file.to_string(), e.to_string()))?,
        )
        .ok_or_else(|| ImportError::Checkpoint(file.to_string(), "index length".into()))?;
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
                &mut index,
                &mut budget,
            )
            .await;
        match result {
            Ok(Pass::Paused) => {
                checkpoint.index =
                    base64::engine::general_purpose::STANDARD.encode(index.to_bytes());
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
                self.continue_later(file).await?;
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

    async fn continue_later(&self, file: &str) -> Result<(), PortError> {
        let message = OutboundMessage {
            body: serde_json::json!({"import": file}).to_string(),
            attributes: Default::default(),
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
        index: &mut SkuIndex,
        budget: &mut Budget,
    ) -> Result<Pass, Stop> {
        loop {
            match checkpoint.phase {
                Phase::Scan => {
                    if let Pass::Paused = self
                        .pinned_to(record.version.clone())
                        .scan(file, format, gzip, checkpoint, index, budget)
                        .await?
                    {
                        return Ok(Pass::Paused);
                    }
                    let counts = &checkpoint.counts;
                    if let Some(reason) = self
                        .settings
                        .guards
                        .check_rejections(counts.total, checkpoint.rejected_lines)
                    {
                        return Err(Stop::Quarantine(reason));
                    }
                    let deactivates = full && checkpoint.unkeyed_rejections == 0;
                    if full && !deactivates {
                        checkpoint.warnings.insert(format!(
                            "{} rejected rows have no readable sku, so the catalog cannot tell which products it lacks: nothing is deactivated",
                            checkpoint.unkeyed_rejections
                        ));
                    }
                    checkpoint.phase = if deactivates || checkpoint.explicit_deactivations > 0 {
                        Phase::Count
                    } else {
                        Phase::Apply
                    };
                    checkpoint.records_done = 0;
                    checkpoint.scan_cursor = None;
                }
                Phase::Count => {
                    loop {
                        if budget.spent() {
                            return Ok(Pass::Paused);
                        }
                        let (skus, next) = self
                            .ports
                            .catalog
                            .active_skus(checkpoint.scan_cursor.clone())
                            .await?;
                        checkpoint.counts.active_before += skus.len() as u64;
                        let absent_counts = full && checkpoint.unkeyed_rejections == 0;
                        // What this file would switch off: active products it lacks (complete
                        // catalogs) and active products it marks inactive or deletes.
                        checkpoint.counts.deactivated +=
                            skus.iter()
                                .filter(|s| {
                                    index.switches_off(s.as_str())
                                        || (absent_counts && !index.contains(s.as_str()))
                                })
                                .count() as u64;
                        checkpoint.scan_cursor = next;
                        budget.records += skus.len() as u64;
                        if checkpoint.scan_cursor.is_none() {
                            break;
                        }
                    }
                    let counts = &checkpoint.counts;
                    if let Some(reason) = self
                        .settings
                        .guards
                        .check_deactivations(counts.active_before, counts.deactivated)
                    {
                        return Err(Stop::Quarantine(reason));
                    }
                    // Counted again when applied: what the report shows is what was done.
                    checkpoint.counts.deactivated = 0;
                    checkpoint.phase = Phase::Apply;
                    checkpoint.records_done = 0;
                }
                Phase::Apply => {
                    if let Pass::Paused = self
                        .pinned_to(record.version.clone())
                        .apply(
                            file,
                            format,
                            gzip,
                            &record.import_id,
                            checkpoint,
                            index,
                            budget,
                        )
                        .await?
                    {
                        return Ok(Pass::Paused);
                    }
                    checkpoint.records_done = 0;
                    checkpoint.scan_cursor = None;
                    if !full || checkpoint.unkeyed_rejections > 0 {
                        return Ok(Pass::Done);
                    }
                    checkpoint.phase = Phase::Deactivate;
                }
                Phase::Deactivate => loop {
                    if budget.spent() {
                        return Ok(Pass::Paused);
                    }
                    let (skus, next) = self
                        .ports
                        .catalog
                        .active_skus(checkpoint.scan_cursor.clone())
                        .await?;
                    let absent: Vec<Sku> = skus
                        .into_iter()
                        .filter(|s| !index.contains(s.as_str()))
                        .collect();
                    checkpoint.counts.deactivated += self
                        .ports
                        .catalog
                        .deactivate(&absent, &record.import_id)
                        .await?;
                    checkpoint.scan_cursor = next;
                    budget.records += absent.len() as u64;
                    if checkpoint.scan_cursor.is_none() {
                        return Ok(Pass::Done);
                    }
                },
            }
        }
    }

    /// Opens the file and skips the records a previous run consumed (blocking: call from a
    /// blocking thread).
    /// Opens the file and skips the records a previous run consumed (blocking: call from a
    /// blocking thread). Skipping parses, it never writes; at several hundred thousand
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
            match source.next_record() {
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

    async fn scan(
        &self,
        file: &str,
        format: Format,
        gzip: bool,
        checkpoint: &mut Checkpoint,
        index: &mut SkuIndex,
        budget: &mut Budget,
    ) -> Result<Pass, Stop> {
        let importer = self.clone_parts();
        let mut state = std::mem::replace(checkpoint, placeholder());
        let mut idx = std::mem::take(index);
        let mut bud = Budget {
            deadline: budget.deadline,
            max_records: budget.max_records,
            records: budget.records,
        };
        let file = file.to_string();
        let (result, state, idx, bud) = tokio::task::spawn_blocking(move || {
            let result =
                importer.scan_blocking(&file, format, gzip, &mut state, &mut idx, &mut bud);
            (result, state, idx, bud)
        })
        .await
        .map_err(|e| {
            Stop::Port(PortError::retryable(
                "import.scan",
                format!("the scan task failed: {e}"),
            ))
        })?;
        *checkpoint = state;
        *index = idx;
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
        index: &mut SkuIndex,
        budget: &mut Budget,
    ) -> Result<Pass, Stop> {
        let mut source = self.reopen(file, format, gzip, checkpoint.records_done)?;
        loop {
            if budget.spent() {
                checkpoint.warnings.extend(source.warnings());
                return Ok(Pass::Paused);
            }
            let Some(next) = source.next_record() else {
                checkpoint.warnings.extend(source.warnings());
                return Ok(Pass::Done);
            };
            checkpoint.records_done += 1;
            budget.records += 1;
            let ordinal = checkpoint.records_done;
            match next {
                Err(ReadError::File(reason)) => {
                    return Err(Stop::Quarantine(format!(
                        "the file cannot be read: {reason}"
                    )));
                }
                Err(ReadError::Io(reason)) => {
                    return Err(Stop::Port(PortError::retryable("import.read", reason)));
                }
                Err(ReadError::Record(rejection)) => {
                    checkpoint.counts.total += 1;
                    match rejection.sku.as_deref().map(Sku::parse) {
                        Some(Ok(sku)) => self.reject_row(
                            checkpoint,
                            index,
                            &sku,
                            ordinal,
                            rejection.line,
                            vec![rejection],
                        ),
                        // A row without a readable sku: a complete catalog can no longer
                        // tell what it lacks, so it deactivates nothing.
                        _ => {
                            checkpoint.unkeyed_rejections += 1;
                            checkpoint.rejected_lines += 1;
                            checkpoint.rejections.push(rejection);
                        }
                    }
                }
                Ok(record) => {
                    checkpoint.counts.total += 1;
                    let line = record.line;
                    let outcome = if record.raw.deletion {
                        validate_deletion(&record.raw, line).map(|sku| (sku, DELETION, None))
                    } else {
                        validate_product(record.raw, line).and_then(|product| {
                            let (digest, bytes) = content_digest(&product);
                            if bytes > MAX_PRODUCT_BYTES {
                                return Err(vec![Rejection {
                                    line,
                                    sku: Some(product.sku.to_string()),
                                    field: "-".into(),
                                    code: "too_large".into(),
                                    message: format!(
                                        "the product takes {bytes} bytes, more than the {MAX_PRODUCT_BYTES} a record may hold"
                                    ),
                                }]);
                            }
                            Ok((product.sku.clone(), digest as u64, Some(product)))
                        })
                    };
                    match outcome {
                        // Every rejection names the row's sku text, when it had one.
                        Err(problems) => match Sku::parse(
                            problems
                                .first()
                                .and_then(|p| p.sku.as_deref())
                                .unwrap_or_default(),
                        ) {
                            Ok(sku) => {
                                self.reject_row(checkpoint, index, &sku, ordinal, line, problems)
                            }
                            Err(_) => {
                                checkpoint.unkeyed_rejections += 1;
                                checkpoint.rejected_lines += 1;
                                checkpoint.rejections.extend(problems);
                            }
                        },
                        Ok((sku, short, product)) => {
                            match index.valid(sku.as_str(), short, ordinal, line) {
                                Seen::First => {
                                    checkpoint.counts.valid += 1;
                                    let switches_off = product
                                        .as_ref()
                                        .is_none_or(|p| p.status == ProductStatus::Inactive);
                                    if switches_off {
                                        checkpoint.explicit_deactivations += 1;
                                        index.mark_switch_off(sku.as_str());
                                    }
                                }
                                Seen::Repeat { first_line } => {
                                    checkpoint.counts.duplicates += 1;
                                    checkpoint.warnings.insert(format!(
                                    "sku {sku} repeats identically (lines {first_line} and {line}); imported once"
                                ));
                                }
                                Seen::Conflict {
                                    first_line,
                                    first_was_valid,
                                } => {
                                    let message = format!(
                                        "sku {sku} appears with different content on lines {first_line} and {line}; neither row is imported"
                                    );
                                    self.conflict(
                                        checkpoint,
                                        &sku,
                                        first_line,
                                        line,
                                        first_was_valid,
                                        &message,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A rejected row with a readable sku: the sku stays known (not deactivated), and an
    /// earlier valid row of it is no longer imported either.
    fn reject_row(
        &self,
        checkpoint: &mut Checkpoint,
        index: &mut SkuIndex,
        sku: &Sku,
        ordinal: u64,
        line: u64,
        problems: Vec<Rejection>,
    ) {
        checkpoint.rejected_lines += 1;
        checkpoint.rejections.extend(problems);
        if let Some(first_line) = index.rejected(sku.as_str(), ordinal, line) {
            checkpoint.counts.valid = checkpoint.counts.valid.saturating_sub(1);
            checkpoint.counts.conflicts += 1;
            checkpoint.rejected_lines += 1;
            checkpoint.rejections.push(conflict(
                first_line,
                sku,
                &format!(
                    "sku {sku} has a rejected row on line {line}; this row is not imported either"
                ),
            ));
        }
    }

    /// Two rows of one sku that disagree.
    fn conflict(
        &self,
        checkpoint: &mut Checkpoint,
        sku: &Sku,
        first_line: u64,
        line: u64,
        first_was_valid: bool,
        message: &str,
    ) {
        checkpoint.counts.conflicts += 1;
        checkpoint.rejected_lines += 1;
        if first_was_valid {
            // The first row had counted as valid: it is not imported either.
            checkpoint.counts.valid = checkpoint.counts.valid.saturating_sub(1);
            checkpoint.counts.conflicts += 1;
            checkpoint.rejected_lines += 1;
            checkpoint
                .rejections
                .push(conflict(first_line, sku, message));
        }
        checkpoint.rejections.push(conflict(line, sku, message));
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply(
        &self,
        file: &str,
        format: Format,
        gzip: bool,
        import_id: &str,
        checkpoint: &mut Checkpoint,
        index: &mut SkuIndex,
        budget: &mut Budget,
    ) -> Result<Pass, Stop> {
        let importer = self.clone_parts();
        let mut state = std::mem::replace(checkpoint, placeholder());
        let idx = std::mem::take(index);
        let mut bud = Budget {
            deadline: budget.deadline,
            max_records: budget.max_records,
            records: budget.records,
        };
        let file = file.to_string();
        let import_id = import_id.to_string();
        let handle = tokio::runtime::Handle::current();
        let (result, state, idx, bud) = tokio::task::spawn_blocking(move || {
            let result = importer.apply_blocking(
                &handle, &file, format, gzip, &import_id, &mut state, &idx, &mut bud,
            );
            (result, state, idx, bud)
        })
        .await
        .map_err(|e| {
            Stop::Port(PortError::retryable(
                "import.apply",
                format!("the apply task failed: {e}"),
            ))
        })?;
        *checkpoint = state;
        *index = idx;
        budget.records = bud.records;
        result
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
        let mut source = self.reopen(file, format, gzip, checkpoint.records_done)?;
        let mut batch: Vec<Product> = Vec::with_capacity(BATCH);
        let mut deletions: Vec<Sku> = Vec::new();
        // Records read but not yet written: the checkpoint only moves past written ones.
        let mut pending_records = 0u64;
        loop {
            let spent = budget.spent();
            let next = if spent { None } else { source.next_record() };
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
                    Ok(record) if record.raw.deletion => {
                        if let Ok(sku) = validate_deletion(&record.raw, record.line)
                            && index.applies(sku.as_str(), ordinal)
                        {
                            deletions.push(sku);
                        }
                    }
                    Ok(record) => {
                        // Cheap sku check first: most rows of a pass are applied, but not all.
                        let applies = record
                            .raw
                            .sku
                            .as_deref()
                            .is_some_and(|sku| index.applies(sku.trim(), ordinal));
                        if applies && let Ok(product) = validate_product(record.raw, record.line) {
                            batch.push(product);
                        }
                    }
                }
            }
            if batch.len() + deletions.len() >= BATCH || finished {
                handle.block_on(self.write_changed(
                    &mut batch,
                    import_id,
                    &mut checkpoint.counts,
                ))?;
                if !deletions.is_empty() {
                    checkpoint.counts.deactivated +=
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

    /// Writes the products of `batch` whose content changed; counts all of them.
    async fn write_changed(
        &self,
        batch: &mut Vec<Product>,
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
        for product in batch.drain(..) {
            let hash = content_hash(&product);
            match stored.get(&product.sku) {
                Some(existing) if *existing == hash => counts.unchanged += 1,
                Some(_) => {
                    counts.updated += 1;
                    writes.push(StoredProduct {
                        product,
                        content_hash: hash,
                        import_id: import_id.to_string(),
                        updated_at: now,
                    });
                }
                None => {
                    counts.created += 1;
                    writes.push(StoredProduct {
                        product,
                        content_hash: hash,
                        import_id: import_id.to_string(),
                        updated_at: now,
                    });
                }
            }
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
        let mut counts = checkpoint.counts.clone();
        counts.rejected = checkpoint.rejected_lines;
        counts.warnings = checkpoint.warnings.len() as u64;
        if quarantine.is_some() && !failed {
            // A guard or an unreadable file stops the import before anything is applied.
            counts.created = 0;
            counts.updated = 0;
            counts.unchanged = 0;
            counts.deactivated = 0;
        }
        let status = if quarantine.is_some() {
            "quarantined"
        } else {
            "applied"
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
            status: status.to_string(),
            reason: quarantine.clone(),
            moved_to: destination.clone(),
            started_at: checkpoint.started,
            finished_at: finished,
            duration_ms: (finished - checkpoint.started).num_milliseconds().max(0) as u64,
            runs: checkpoint.runs,
            counts,
            warnings: checkpoint.warnings.into_iter().collect(),
            rejections: checkpoint.rejections,
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
        record.status = status.to_string();
        record.phase = "done".into();
        record.records_done = report.counts.total;
        record.report_key = Some(key);
        record.message = quarantine;
        record.lease_until = 0;
        record.updated_at = finished;
        self.ports.ledger.save(record).await?;
        if status == "applied" {
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
        let checkpoint = Checkpoint {
            phase: Phase::Scan,
            records_done: 0,
            scan_cursor: None,
            index: String::new(),
            rejections: Vec::new(),
            warnings: BTreeSet::new(),
            counts: Counts::default(),
            rejected_lines: 0,
            unkeyed_rejections: 0,
            explicit_deactivations: 0,
            started: now,
            runs: 1,
        };
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
            let running = self
                .ports
                .ledger
                .get(&key)
                .await?
                .is_some_and(|r| r.status == "running" && r.lease_until >= now.timestamp());
            if !running {
                self.continue_later(&key).await?;
                queued.push(key);
            }
        }
        Ok(queued)
    }
}

fn conflict(line: u64, sku: &Sku, message: &str) -> Rejection {
    Rejection {
        line,
        sku: Some(sku.to_string()),
        field: "sku".into(),
        code: "conflict".into(),
        message: message.to_string(),
    }
}

fn placeholder() -> Checkpoint {
    Checkpoint {
        phase: Phase::Scan,
        records_done: 0,
        scan_cursor: None,
        index: String::new(),
        rejections: Vec::new(),
        warnings: BTreeSet::new(),
        counts: Counts::default(),
        rejected_lines: 0,
        unkeyed_rejections: 0,
        explicit_deactivations: 0,
        started: Utc::now(),
        runs: 0,
    }
}

/// Why a pass stopped early.
enum Stop {
    Quarantine(String),
    Port(PortError),
}

impl From<PortError> for Stop {
    fn from(err: PortError) -> Self {
        Stop::Port(err)
    }
}

//! One invocation's work on a file: claim it in the ledger, wait for earlier files, load
//! the checkpoint, drive the passes in order within the invocation's budget, and then
//! either save the checkpoint and queue a continuation or finish the import.

use super::checkpoint::{CHECKPOINT_VERSION, Checkpoint, Phase, checkpoint_key};
use super::scan::{Tally, index_error};
use super::{FULL, INBOX, ImportError, Importer};
use crate::formats::{self, Format};
use crate::index::SkuIndex;
use crate::report::ImportReport;
use bridge_domain::PortError;
use bridge_domain::error::cause_chain;
use bridge_domain::ports::{ImportRecord, OutboundMessage};
use chrono::Utc;
use std::time::Instant;
use tracing::{info, warn};

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

/// The file an invocation imports and its ledger record: what every pass of the run
/// reads.
#[derive(Debug, Clone)]
pub(super) struct ImportRun {
    /// The file's key in the inbox.
    pub(super) file: String,
    pub(super) format: Format,
    pub(super) gzip: bool,
    /// A complete catalog (under [`FULL`]): products it lacks are deactivated.
    pub(super) full: bool,
    /// The ledger's record of this import (its id, the pinned version).
    pub(super) record: ImportRecord,
}

/// Whether to stop this invocation now.
pub(super) struct Budget {
    pub(super) deadline: Instant,
    pub(super) max_records: Option<u64>,
    pub(super) records: u64,
}

impl Budget {
    pub(super) fn spent(&self) -> bool {
        Instant::now() >= self.deadline || self.max_records.is_some_and(|m| self.records >= m)
    }
}

pub(super) enum Pass {
    Done,
    Paused,
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

impl Importer {
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
        let mut run = ImportRun {
            file: file.to_string(),
            format,
            gzip,
            full: file.starts_with(FULL),
            record,
        };
        let mut checkpoint = match self
            .ports
            .files
            .read(&checkpoint_key(&run.record.import_id))
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
        // The margin never takes more than a quarter of the time left, so that a short
        // invocation still makes progress instead of only handing over.
        let remaining = deadline.saturating_duration_since(Instant::now());
        let margin = self.settings.safety_margin.min(remaining / 4);
        let mut budget = Budget {
            deadline: deadline.checked_sub(margin).unwrap_or_else(Instant::now),
            max_records: self.settings.max_records_per_run,
            records: 0,
        };
        info!(file, import_id = %run.record.import_id, phase = checkpoint.phase.as_str(), records_done = checkpoint.records_done, "import run starts");

        let result = self.advance(&run, &mut checkpoint, &mut budget).await;
        match result {
            Ok(Pass::Paused) => {
                self.ports
                    .files
                    .write(
                        &checkpoint_key(&run.record.import_id),
                        serde_json::to_vec(&checkpoint).expect("serializes"),
                        "application/json",
                    )
                    .await?;
                run.record.phase = checkpoint.phase.as_str().to_string();
                run.record.records_done = checkpoint.records_done;
                run.record.lease_until = 0;
                run.record.updated_at = Utc::now();
                self.ports.ledger.save(&run.record).await?;
                self.continue_later(file, 0).await?;
                Ok(RunOutcome::Continued {
                    phase: checkpoint.phase.as_str(),
                    records_done: checkpoint.records_done,
                })
            }
            Ok(Pass::Done) => {
                let report = self.finish(&mut run, checkpoint, None, false).await?;
                Ok(RunOutcome::Finished(Box::new(report)))
            }
            Err(Stop::Quarantine(reason)) => {
                let report = self
                    .finish(&mut run, checkpoint, Some(reason), false)
                    .await?;
                Ok(RunOutcome::Finished(Box::new(report)))
            }
            Err(Stop::Port(err)) if !err.is_retryable() => {
                // Retrying cannot help: end it visibly, with what was done so far.
                let reason = format!("the import failed: {}", cause_chain(&err));
                warn!(file, reason = %reason, "import failed");
                let report = self
                    .finish(&mut run, checkpoint, Some(reason), true)
                    .await?;
                Ok(RunOutcome::Finished(Box::new(report)))
            }
            Err(Stop::Port(err)) => {
                // Release the lease so that the redelivered message continues at once.
                warn!(file, error = %cause_chain(&err), "import run failed; it continues from its last checkpoint");
                run.record.lease_until = 0;
                let _ = self.ports.ledger.save(&run.record).await;
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

    pub(super) async fn continue_later(
        &self,
        file: &str,
        delay_seconds: u32,
    ) -> Result<(), PortError> {
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

    /// Runs the passes from the checkpoint's one until the file is done or the budget
    /// is spent.
    async fn advance(
        &self,
        run: &ImportRun,
        checkpoint: &mut Checkpoint,
        budget: &mut Budget,
    ) -> Result<Pass, Stop> {
        let pinned = self.pinned_to(run.record.version.clone());
        // Built by the scan, or rebuilt by reading the file again in a continuation.
        let mut index: Option<SkuIndex> = None;
        loop {
            match checkpoint.phase {
                Phase::Scan => {
                    match pinned.scan(run, checkpoint, budget).await? {
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
                    let deactivates = run.full && tally.unkeyed_rejections == 0;
                    if run.full && !deactivates {
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
                    let index = pinned.ready(&mut index, run).await?;
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
                        let absent_counts = run.full && tally.unkeyed_rejections == 0;
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
                    pinned.ready(&mut index, run).await?;
                    let taken = index.take().expect("made ready above");
                    let (pass, taken) = pinned.apply(run, checkpoint, taken, budget).await;
                    index = taken;
                    if let Pass::Paused = pass? {
                        return Ok(Pass::Paused);
                    }
                    checkpoint.records_done = 0;
                    checkpoint.scan_cursor = None;
                    if !run.full || checkpoint.tally.unkeyed_rejections > 0 {
                        return Ok(Pass::Done);
                    }
                    checkpoint.phase = Phase::Deactivate;
                }
                Phase::Deactivate => {
                    let index = pinned.ready(&mut index, run).await?;
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
                            .deactivate(&absent, &run.record.import_id)
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
}

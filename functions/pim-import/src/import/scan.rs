//! The scan pass and the sku index it builds: every record read once, counted, checked,
//! and put into the index, which finds repeats and conflicts when the scan ends. A
//! continuation that needs the index and has none rebuilds it here from the file.

use super::Importer;
use super::checkpoint::Checkpoint;
use super::run::{Budget, ImportRun, Pass, Stop};
use crate::formats::{self, Checked, Outcome, ReadError, RecordSource};
use crate::index::{IndexBuilder, IndexSettings, Seen, SkuIndex};
use crate::report::Counts;
use bridge_domain::product::Rejection;
use bridge_domain::{PortError, Sku};
use chrono::Utc;
use std::collections::BTreeSet;
use std::time::Instant;
use tracing::info;

/// The content hash a deletion record stands for in the sku index.
const DELETION: u64 = u64::MAX;

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

impl Importer {
    /// Opens the file and skips the records a previous run consumed (blocking: call from a
    /// blocking thread). Skipping parses and checks, it never writes; at a few million
    /// records a second it is small beside a run's budget.
    pub(super) fn reopen(&self, run: &ImportRun, skip: u64) -> Result<Box<dyn RecordSource>, Stop> {
        let input = self.ports.files.open(&run.file, self.pinned.as_deref())?;
        let first_pass = skip == 0;
        let mut source = formats::open(run.format, run.gzip, input).map_err(|e| match e {
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
    pub(super) async fn ready<'a>(
        &self,
        index: &'a mut Option<SkuIndex>,
        run: &ImportRun,
    ) -> Result<&'a mut SkuIndex, Stop> {
        if index.is_none() {
            let importer = self.clone_parts();
            let run = run.clone();
            let started = Instant::now();
            let built = tokio::task::spawn_blocking(move || importer.rebuild_blocking(&run))
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
    fn rebuild_blocking(&self, run: &ImportRun) -> Result<SkuIndex, Stop> {
        let mut index = self.new_index()?;
        let mut source = self.reopen(run, 0).map_err(read_before)?;
        let mut ordinal = 0;
        while let Some(next) = source.next_checked() {
            ordinal += 1;
            scan_record(&mut index, None, ordinal, next).map_err(read_before)?;
        }
        finish_scan(index, None).map_err(index_error)
    }

    /// The scan pass; returns the finished index when the scan is done.
    pub(super) async fn scan(
        &self,
        run: &ImportRun,
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
        let run = run.clone();
        let (result, state, bud) = tokio::task::spawn_blocking(move || {
            let result = importer.scan_blocking(&run, &mut state, &mut bud);
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

    fn scan_blocking(
        &self,
        run: &ImportRun,
        checkpoint: &mut Checkpoint,
        budget: &mut Budget,
    ) -> Result<(Pass, Option<SkuIndex>), Stop> {
        let mut index = self.new_index()?;
        let mut source = self.reopen(run, 0)?;
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
pub(super) fn index_error(e: std::io::Error) -> Stop {
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

//! The end of an import: the report beside the file, the file moved to `processed/` or
//! `quarantine/`, the checkpoint removed, the ledger's record closed and, when products
//! were applied, their freshness recorded. A file of unknown format ends here at once.

use super::checkpoint::{Checkpoint, checkpoint_key};
use super::run::{ImportRun, RunOutcome};
use super::{FULL, ImportError, Importer, relative, report_key};
use crate::formats::Format;
use crate::report::ImportReport;
use bridge_domain::PortError;
use bridge_domain::error::cause_chain;
use bridge_domain::ports::ImportStatus;
use chrono::Utc;
use tracing::warn;

impl Importer {
    /// Ends the import: applied, or quarantined with `quarantine` as the reason. `failed`:
    /// a port failed permanently part-way, so what was applied is kept in the counts.
    pub(super) async fn finish(
        &self,
        run: &mut ImportRun,
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
            relative(&run.file)
        );
        let record = &mut run.record;
        let report = ImportReport {
            file: run.file.clone(),
            import_id: record.import_id.clone(),
            format: match run.format {
                Format::Csv => "csv",
                Format::Ndjson => "ndjson",
                Format::Bmecat => "bmecat",
            }
            .to_string(),
            compressed: run.gzip,
            mode: if run.full { "full" } else { "delta" }.to_string(),
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
        let key = report_key(&run.file);
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
            .rename(&run.file, record.version.as_deref(), &destination)
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

    pub(super) async fn reject_unknown_format(
        &self,
        file: &str,
    ) -> Result<RunOutcome, ImportError> {
        let now = Utc::now();
        let Some(record) = self
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
        let mut run = ImportRun {
            file: file.to_string(),
            format: Format::Csv,
            gzip: false,
            full: file.starts_with(FULL),
            record,
        };
        let report = self
            .finish(&mut run, checkpoint, Some(reason), false)
            .await?;
        Ok(RunOutcome::Finished(Box::new(report)))
    }
}

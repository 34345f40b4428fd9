//! The Lambda side: messages of the import queue (S3 notifications, continuations, sweep
//! picks) and the schedule's sweep.

use crate::import::{ImportError, Importer, RunOutcome};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bridge_domain::error::cause_chain;
use bridge_domain::ports::MessageQueue;
use bridge_lambda::batch::BatchFailed;
use bridge_lambda::{BatchSettings, MessageError, MessageOutcome, Metrics};
use std::time::Instant;
use tracing::{Instrument, info, warn};

pub const FUNCTION_NAME: &str = "pim-import";

/// The files a queue message asks to import (S3 notifications are read by
/// `bridge_lambda::s3_events`, shared with reconciliation).
pub fn files_of(body: &str) -> Result<Vec<String>, MessageError> {
    bridge_lambda::s3_events::keys_of_message(body, "import")
}

pub struct ImportHandler {
    pub importer: Importer,
    pub dead_letter_queue: String,
    pub max_receive_count: u32,
    pub queue: std::sync::Arc<dyn MessageQueue>,
}

fn count_report(metrics: &mut Metrics, outcome: &RunOutcome) {
    match outcome {
        RunOutcome::Finished(report) => {
            let c = &report.counts;
            metrics.add(
                if report.status == bridge_domain::ports::ImportStatus::Applied {
                    "ImportsApplied"
                } else {
                    "ImportsQuarantined"
                },
                1,
            );
            metrics.add("ProductsCreated", c.created);
            metrics.add("ProductsUpdated", c.updated);
            metrics.add("ProductsUnchanged", c.unchanged);
            metrics.add("ProductsRejected", c.rejected);
            metrics.add("ProductsDeactivated", c.deactivated);
        }
        RunOutcome::Continued { .. } => metrics.add("ImportsContinued", 1),
        RunOutcome::Waiting { .. } => metrics.add("ImportsWaiting", 1),
        RunOutcome::Busy | RunOutcome::Skipped(_) => {}
    }
}

impl ImportHandler {
    /// Handles the queue's messages (one at a time: an import can take the whole budget).
    pub async fn handle_sqs(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> Result<SqsBatchResponse, BatchFailed> {
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let settings = BatchSettings {
            function: FUNCTION_NAME,
            dead_letter_queue: &self.dead_letter_queue,
            max_receive_count: self.max_receive_count,
            queue: self.queue.as_ref(),
            backoff: None,
        };
        let outcomes = std::sync::Mutex::new(Vec::new());
        let result = bridge_lambda::process_batch(event, &settings, &mut metrics, |message: SqsMessage| {
            let outcomes = &outcomes;
            async move {
                let mut last: MessageOutcome = "Ignored";
                for file in files_of(message.body.as_deref().unwrap_or_default())? {
                    let span = tracing::info_span!("import", function = FUNCTION_NAME, file = %file);
                    let outcome = self.importer.run(&file, deadline).instrument(span.clone()).await.map_err(|e| import_failure(&e))?;
                    span.in_scope(|| match &outcome {
                        RunOutcome::Finished(report) => info!(status = %report.status, reason = ?report.reason, created = report.counts.created, updated = report.counts.updated, unchanged = report.counts.unchanged, rejected = report.counts.rejected, "import finished"),
                        RunOutcome::Continued { phase, records_done } => info!(phase, records_done, "import continues in the next invocation"),
                        RunOutcome::Busy => info!("another invocation holds this file"),
                        RunOutcome::Waiting { behind } => info!(behind = %behind, "waits for an earlier file"),
                        RunOutcome::Skipped(reason) => warn!(reason = %reason, "skipped"),
                    });
                    last = match &outcome {
                        RunOutcome::Finished(_) => "ImportRuns",
                        RunOutcome::Continued { .. } => "ImportRuns",
                        RunOutcome::Busy => "ImportBusy",
                        RunOutcome::Waiting { .. } => "ImportWaiting",
                        RunOutcome::Skipped(_) => "ImportSkipped",
                    };
                    outcomes.lock().unwrap_or_else(|p| p.into_inner()).push(outcome);
                }
                Ok(last)
            }
        })
        .await;
        for outcome in outcomes.into_inner().unwrap_or_else(|p| p.into_inner()) {
            count_report(&mut metrics, &outcome);
        }
        metrics.flush();
        result
    }

    /// The schedule: queue what the notifications missed.
    pub async fn sweep(&self) -> Result<Vec<String>, ImportError> {
        let queued = self.importer.sweep(chrono::Utc::now()).await?;
        let mut metrics = Metrics::new(FUNCTION_NAME);
        metrics.add("SweepQueued", queued.len() as u64);
        metrics.flush();
        info!(
            function = FUNCTION_NAME,
            queued = queued.len(),
            "sweep finished"
        );
        Ok(queued)
    }
}

fn import_failure(err: &ImportError) -> MessageError {
    let message = match err {
        ImportError::Port(e) => cause_chain(e),
        other => other.to_string(),
    };
    if err.is_retryable() {
        MessageError::retryable("import_unavailable", message)
    } else {
        MessageError::permanent("import_failed", message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_continuations_and_test_events() {
        let s3 = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"pim%2Finbox%2Fa.csv"}}}]}"#;
        assert_eq!(files_of(s3).unwrap(), vec!["pim/inbox/a.csv"]);
        assert_eq!(
            files_of(r#"{"import":"pim/inbox/b.csv"}"#).unwrap(),
            vec!["pim/inbox/b.csv"]
        );
        assert!(files_of(r#"{"Event":"s3:TestEvent"}"#).unwrap().is_empty());
        assert_eq!(files_of("[]").unwrap_err().code, "invalid_message");
    }
}

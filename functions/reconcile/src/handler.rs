//! The Lambda side: S3 notifications of new snapshots (through an SQS queue) and the
//! schedule's sweep of snapshots no notification brought.

use crate::{ReconcileError, ReconcileReport, Reconciler, Status};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bridge_domain::error::cause_chain;
use bridge_domain::ports::MessageQueue;
use bridge_lambda::batch::BatchFailed;
use bridge_lambda::{BatchSettings, MessageError, MessageOutcome, Metrics};
use std::sync::Arc;
use tracing::{Instrument, info, warn};

pub const FUNCTION_NAME: &str = "reconcile";

/// The snapshot keys a queue message names: an S3 notification, or
/// `{"reconcile": "<key>"}` (operations).
pub fn snapshots_of(body: &str) -> Result<Vec<String>, MessageError> {
    bridge_lambda::s3_events::keys_of_message(body, "reconcile")
}

pub struct ReconcileHandler {
    pub reconciler: Reconciler,
    pub dead_letter_queue: String,
    pub max_receive_count: u32,
    /// `DriftAboveThreshold` is 1 for a snapshot with more drifted records than this.
    pub drift_alarm_threshold: u64,
    pub queue: Arc<dyn MessageQueue>,
    /// One snapshot at a time in an invocation: each takes the memory budget.
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl ReconcileHandler {
    pub fn new(
        reconciler: Reconciler,
        dead_letter_queue: String,
        max_receive_count: u32,
        drift_alarm_threshold: u64,
        queue: Arc<dyn MessageQueue>,
    ) -> Self {
        Self {
            reconciler,
            dead_letter_queue,
            max_receive_count,
            drift_alarm_threshold,
            queue,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    /// Counts one snapshot's report: `SnapshotsReconciled` / `SnapshotsFailed`,
    /// `RecordsApplied`, `RecordsUnchanged`, `DriftRecords`, `InvalidRows`,
    /// `DriftAboveThreshold` (1 when drift exceeds the threshold, else 0).
    pub fn count(&self, metrics: &mut Metrics, report: &ReconcileReport) {
        let c = &report.counts;
        match report.status {
            Status::Reconciled => metrics.add("SnapshotsReconciled", 1),
            Status::Failed => metrics.add("SnapshotsFailed", 1),
        }
        metrics.add("RecordsApplied", c.applied);
        metrics.add("RecordsUnchanged", c.unchanged);
        metrics.add("DriftRecords", c.drift_total);
        metrics.add("InvalidRows", c.invalid);
        let above = c.drift_total > self.drift_alarm_threshold;
        metrics.add("DriftAboveThreshold", u64::from(above));
        if above {
            warn!(
                function = FUNCTION_NAME,
                file = %report.file,
                drift_total = c.drift_total,
                threshold = self.drift_alarm_threshold,
                report = %report.report_key,
                "drift above the alarm threshold"
            );
        }
    }

    async fn reconcile_one(&self, key: &str) -> Result<ReconcileReport, ReconcileError> {
        let _turn = self.one_at_a_time.lock().await;
        let span = tracing::info_span!("reconcile", function = FUNCTION_NAME, file = %key);
        self.reconciler.reconcile(key).instrument(span).await
    }

    /// Handles a batch of the queue's messages (failures to the DLQ with their reason).
    pub async fn handle_sqs(&self, event: SqsEvent) -> Result<SqsBatchResponse, BatchFailed> {
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let settings = BatchSettings {
            function: FUNCTION_NAME,
            dead_letter_queue: &self.dead_letter_queue,
            max_receive_count: self.max_receive_count,
            queue: self.queue.as_ref(),
            backoff: None,
        };
        let reports = std::sync::Mutex::new(Vec::new());
        let result =
            bridge_lambda::process_batch(event, &settings, &mut metrics, |message: SqsMessage| {
                let reports = &reports;
                async move {
                    let mut last: MessageOutcome = "Ignored";
                    for key in snapshots_of(message.body.as_deref().unwrap_or_default())? {
                        if key.ends_with('/') {
                            continue;
                        }
                        match self.reconcile_one(&key).await {
                            Ok(report) => {
                                last = "SnapshotRuns";
                                reports
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .push(report);
                            }
                            Err(ReconcileError::NotFound(_)) => {
                                warn!(file = %key, "the snapshot is gone; nothing to reconcile");
                            }
                            Err(ReconcileError::NotASnapshot(_)) => {
                                warn!(file = %key, "not under erp/snapshots/; ignored");
                            }
                            Err(err) => return Err(failure(&err)),
                        }
                    }
                    Ok(last)
                }
            })
            .await;
        for report in reports.into_inner().unwrap_or_else(|p| p.into_inner()) {
            self.count(&mut metrics, &report);
        }
        metrics.flush();
        result
    }

    /// The schedule: reconciles every snapshot that has no report yet (older than the
    /// minimum age, so that notifications go first). A snapshot that fails is logged
    /// and left for the next sweep; the others go on.
    pub async fn sweep(&self) -> Result<Vec<ReconcileReport>, ReconcileError> {
        let pending = self.reconciler.pending(chrono::Utc::now()).await?;
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let mut reports = Vec::new();
        let mut failed = 0;
        for key in &pending {
            match self.reconcile_one(key).await {
                Ok(report) => {
                    self.count(&mut metrics, &report);
                    reports.push(report);
                }
                Err(err) => {
                    failed += 1;
                    warn!(function = FUNCTION_NAME, file = %key, error = %cause_chain(&err), retryable = err.is_retryable(), "sweep: reconciliation failed");
                }
            }
        }
        metrics.add("SweepReconciled", reports.len() as u64);
        metrics.add("SweepFailed", failed);
        metrics.flush();
        info!(
            function = FUNCTION_NAME,
            pending = pending.len(),
            reconciled = reports.len(),
            failed,
            "sweep finished"
        );
        Ok(reports)
    }
}

fn failure(err: &ReconcileError) -> MessageError {
    let message = cause_chain(err);
    if err.is_retryable() {
        MessageError::retryable("reconcile_unavailable", message)
    } else {
        MessageError::permanent("reconcile_failed", message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_requests_and_test_events() {
        let s3 = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"erp%2Fsnapshots%2Fstock-2026-11-26.csv"}}}]}"#;
        assert_eq!(
            snapshots_of(s3).unwrap(),
            vec!["erp/snapshots/stock-2026-11-26.csv"]
        );
        assert_eq!(
            snapshots_of(r#"{"reconcile":"erp/snapshots/prices-1.csv"}"#).unwrap(),
            vec!["erp/snapshots/prices-1.csv"]
        );
        assert!(
            snapshots_of(r#"{"Event":"s3:TestEvent"}"#)
                .unwrap()
                .is_empty()
        );
        assert_eq!(snapshots_of("{}").unwrap_err().code, "invalid_message");
        assert_eq!(snapshots_of("nope").unwrap_err().code, "invalid_message");
    }
}

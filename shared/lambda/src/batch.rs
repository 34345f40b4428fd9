//! The one SQS batch driver every consumer uses: a handler per message in, a partial batch
//! response out. One bad message never fails its neighbours; a message that cannot be
//! applied is moved to the dead-letter queue with its reason; a panic fails its message,
//! not the invocation.

use crate::metrics::Metrics;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use bridge_contract::envelope::attributes;
use bridge_domain::ErrorClass;
use bridge_domain::ports::{MessageQueue, OutboundMessage};
use futures::FutureExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use tracing::{Instrument, error, info, warn};

/// What the handler did with a message: the name of the metric to count it under
/// (`Applied`, `Stale`, ...).
pub type MessageOutcome = &'static str;

/// Why a message could not be handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct MessageError {
    pub class: ErrorClass,
    /// Stable, machine-readable (`invalid_event`, `store_unavailable`, ...).
    pub code: String,
    pub message: String,
}

impl MessageError {
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Permanent,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Retryable,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Where failures go and when retries end.
pub struct BatchSettings<'a> {
    pub function: &'a str,
    /// The dead-letter queue of the queue this batch came from.
    pub dead_letter_queue: &'a str,
    /// The source queue's `maxReceiveCount`: on that delivery a retryable failure is final.
    pub max_receive_count: u32,
    pub queue: &'a dyn MessageQueue,
    /// Backoff of retried messages, through their visibility timeout (no sleeping in the
    /// function); `None` leaves the queue's visibility timeout.
    pub backoff: Option<Backoff<'a>>,
}

/// Exponential backoff with jitter: `base × 2^(attempt-1)`, at most `max`, then a random
/// 50–100 % of it, so that messages failed together do not come back together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff<'a> {
    /// The URL of the queue the batch came from.
    pub queue_url: &'a str,
    pub base_seconds: u32,
    pub max_seconds: u32,
}

impl Backoff<'_> {
    pub fn seconds(&self, attempt: u32, jitter: f64) -> i32 {
        let exponential = u64::from(self.base_seconds) << attempt.saturating_sub(1).min(20);
        let capped = exponential.min(u64::from(self.max_seconds)) as f64;
        (capped * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
            .round()
            .max(1.0) as i32
    }
}

/// The invocation failed as a whole: every message failed with a retryable error, which
/// points at a dependency that is down. Failing the invocation makes it visible (the
/// function's Errors alarm) while SQS redelivers the batch.
#[derive(Debug, thiserror::Error)]
#[error("all {failed} messages of the batch failed with retryable errors; first: {first}")]
pub struct BatchFailed {
    pub failed: usize,
    pub first: MessageError,
}

fn string_attribute(message: &SqsMessage, name: &str) -> Option<String> {
    message
        .message_attributes
        .get(name)
        .and_then(|a| a.string_value.clone())
}

/// How often SQS has delivered `message` (1 on the first delivery).
pub fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Runs `handle` on every message of `event` concurrently and builds the partial batch
/// response.
pub async fn process_batch<F, Fut>(
    event: SqsEvent,
    settings: &BatchSettings<'_>,
    metrics: &mut Metrics,
    handle: F,
) -> Result<SqsBatchResponse, BatchFailed>
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<MessageOutcome, MessageError>>,
{
    let total = event.records.len();
    let runs = event.records.into_iter().map(|message| {
        let span = tracing::info_span!(
            "message",
            message_id = message.message_id.as_deref().unwrap_or_default(),
            event_id = string_attribute(&message, attributes::WEBHOOK_ID).unwrap_or_default(),
            correlation_id =
                string_attribute(&message, attributes::CORRELATION_ID).unwrap_or_default(),
        );
        let run = AssertUnwindSafe(handle(message.clone())).catch_unwind();
        async move {
            let result = match run.await {
                Ok(result) => result,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".to_string());
                    Err(MessageError::permanent(
                        "panic",
                        format!("the handler panicked: {what}"),
                    ))
                }
            };
            (message, result, tracing::Span::current())
        }
        .instrument(span)
    });
    let results = futures::future::join_all(runs).await;

    let mut failures = Vec::new();
    let mut first_retryable: Option<MessageError> = None;
    let mut retryable_failures = 0;
    for (message, result, span) in results {
        let _entered = span.enter();
        let message_id = message.message_id.clone().unwrap_or_default();
        match result {
            Ok(outcome) => {
                metrics.add(outcome, 1);
                info!(outcome, "message handled");
            }
            Err(err) => {
                let attempts = receive_count(&message);
                let final_attempt = attempts >= settings.max_receive_count;
                if err.class == ErrorClass::Retryable && !final_attempt {
                    if let (Some(backoff), Some(handle)) =
                        (&settings.backoff, message.receipt_handle.as_deref())
                    {
                        let seconds =
                            backoff.seconds(attempts, pseudo_random(&message_id, attempts));
                        if let Err(delay_err) = settings
                            .queue
                            .delay(backoff.queue_url, handle, seconds)
                            .await
                        {
                            // The queue's own visibility timeout applies instead.
                            warn!(error = %delay_err, "could not set the retry backoff");
                        }
                    }
                    warn!(code = %err.code, reason = %err.message, attempts, outcome = "retry", "message will be retried");
                    metrics.add("Retried", 1);
                    retryable_failures += 1;
                    first_retryable.get_or_insert(err);
                    failures.push(message_id);
                    continue;
                }
                match dead_letter(&message, &err, attempts, settings).await {
                    Ok(()) => {
                        let metric = if err.class == ErrorClass::Permanent {
                            "Rejected"
                        } else {
                            "RetriesExhausted"
                        };
                        metrics.add(metric, 1);
                        error!(code = %err.code, reason = %err.message, class = %err.class, attempts, outcome = "dead_lettered", "message moved to the dead-letter queue");
                    }
                    Err(dlq_err) => {
                        // Never lose it: leave it on the source queue; SQS redrives it.
                        metrics.add("DeadLetterFailed", 1);
                        error!(code = %err.code, reason = %err.message, dlq_error = %dlq_err, outcome = "retry", "could not move the message to the dead-letter queue; it stays on its queue");
                        failures.push(message_id);
                    }
                }
            }
        }
    }
    if total > 0
        && retryable_failures == total
        && let Some(first) = first_retryable
    {
        return Err(BatchFailed {
            failed: total,
            first,
        });
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    Ok(response)
}

/// A number in [0, 1) that differs per message and attempt (jitter without a RNG crate).
fn pseudo_random(message_id: &str, attempt: u32) -> f64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    message_id.hash(&mut hasher);
    attempt.hash(&mut hasher);
    std::time::SystemTime::now().hash(&mut hasher);
    (hasher.finish() % 10_000) as f64 / 10_000.0
}

/// Sends the original body and attributes to the dead-letter queue, with the reason.
async fn dead_letter(
    message: &SqsMessage,
    err: &MessageError,
    attempts: u32,
    settings: &BatchSettings<'_>,
) -> Result<(), bridge_domain::PortError> {
    let attrs: BTreeMap<String, String> = message
        .message_attributes
        .iter()
        .filter_map(|(k, v)| v.string_value.clone().map(|s| (k.clone(), s)))
        .collect();
    let outbound = OutboundMessage {
        body: message.body.clone().unwrap_or_default(),
        attributes: failure_attributes(attrs, err, attempts, settings.function),
        ..Default::default()
    };
    settings
        .queue
        .send(settings.dead_letter_queue, &outbound)
        .await
        .map(|_| ())
}

/// The attributes of a dead-lettered message: the sender's, with the failure's on top (the
/// one format `bridgectl dlq` reads, whoever dead-letters).
pub fn failure_attributes(
    mut attrs: BTreeMap<String, String>,
    err: &MessageError,
    attempts: u32,
    function: &str,
) -> BTreeMap<String, String> {
    // SQS allows 10 attributes per message: ours replace the sender's extras first.
    let reason: String = err.message.chars().take(1024).collect();
    attrs.insert(attributes::FAILURE_REASON.into(), reason);
    attrs.insert(attributes::FAILURE_CODE.into(), err.code.clone());
    attrs.insert(attributes::FAILURE_CLASS.into(), err.class.to_string());
    attrs.insert(attributes::FAILED_BY.into(), function.to_string());
    attrs.insert(attributes::RECEIVE_COUNT.into(), attempts.to_string());
    while attrs.len() > 10 {
        let extra = attrs
            .keys()
            .find(|k| {
                ![
                    attributes::FAILURE_REASON,
                    attributes::FAILURE_CODE,
                    attributes::FAILURE_CLASS,
                    attributes::FAILED_BY,
                    attributes::RECEIVE_COUNT,
                    attributes::WEBHOOK_ID,
                    attributes::CORRELATION_ID,
                ]
                .contains(&k.as_str())
            })
            .cloned();
        match extra {
            Some(key) => attrs.remove(&key),
            None => break,
        };
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use bridge_domain::PortError;
    use std::sync::Mutex;

    /// In-memory queue fake: unit tests of the driver's decisions only.
    #[derive(Default)]
    struct RecordingQueue {
        sent: Mutex<Vec<(String, OutboundMessage)>>,
        delays: Mutex<Vec<(String, i32)>>,
        fail: bool,
    }

    #[async_trait]
    impl MessageQueue for RecordingQueue {
        async fn send(&self, queue: &str, message: &OutboundMessage) -> Result<String, PortError> {
            if self.fail {
                return Err(PortError::retryable("sqs.send", "down"));
            }
            self.sent
                .lock()
                .unwrap()
                .push((queue.to_string(), message.clone()));
            Ok("id".into())
        }

        async fn delay(&self, _: &str, handle: &str, seconds: i32) -> Result<(), PortError> {
            self.delays
                .lock()
                .unwrap()
                .push((handle.to_string(), seconds));
            Ok(())
        }
    }

    fn message(id: &str, body: &str, receive_count: u32) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_string());
        m.receipt_handle = Some(format!("handle-{id}"));
        m.body = Some(body.to_string());
        m.attributes
            .insert("ApproximateReceiveCount".into(), receive_count.to_string());
        m
    }

    fn event(messages: Vec<SqsMessage>) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = messages;
        e
    }

    async fn run(
        queue: &RecordingQueue,
        messages: Vec<SqsMessage>,
    ) -> (Result<SqsBatchResponse, BatchFailed>, Metrics) {
        let settings = BatchSettings {
            function: "test",
            dead_letter_queue: "dlq",
            max_receive_count: 3,
            queue,
            backoff: Some(Backoff {
                queue_url: "source",
                base_seconds: 10,
                max_seconds: 300,
            }),
        };
        let mut metrics = Metrics::new("test");
        let result = process_batch(event(messages), &settings, &mut metrics, |m| async move {
            match m.body.as_deref() {
                Some("ok") => Ok("Applied"),
                Some("bad") => Err(MessageError::permanent("invalid_event", "broken")),
                Some("panic") => panic!("boom"),
                _ => Err(MessageError::retryable("store_unavailable", "later")),
            }
        })
        .await;
        (result, metrics)
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn a_permanent_failure_goes_to_the_dlq_with_its_reason_and_spares_its_neighbours() {
        let queue = RecordingQueue::default();
        let (result, metrics) =
            run(&queue, vec![message("1", "ok", 1), message("2", "bad", 1)]).await;
        assert!(result.unwrap().batch_item_failures.is_empty());
        let sent = queue.sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "dlq");
        assert_eq!(sent[0].1.body, "bad");
        assert_eq!(sent[0].1.attributes["failure_code"], "invalid_event");
        assert_eq!(sent[0].1.attributes["failure_reason"], "broken");
        assert_eq!(metrics.count("Applied"), 1);
        assert_eq!(metrics.count("Rejected"), 1);
    }

    #[tokio::test]
    async fn a_retryable_failure_is_reported_for_redelivery_until_the_last_attempt() {
        let queue = RecordingQueue::default();
        let (result, _) = run(
            &queue,
            vec![message("1", "ok", 1), message("2", "later", 1)],
        )
        .await;
        assert_eq!(failed_ids(&result.unwrap()), vec!["2"]);
        assert!(queue.sent.lock().unwrap().is_empty());

        let (result, metrics) = run(&queue, vec![message("2", "later", 3)]).await;
        assert!(result.unwrap().batch_item_failures.is_empty());
        assert_eq!(
            queue.sent.lock().unwrap()[0].1.attributes["failure_class"],
            "retryable"
        );
        assert_eq!(metrics.count("RetriesExhausted"), 1);
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_up_to_its_cap() {
        let backoff = Backoff {
            queue_url: "q",
            base_seconds: 10,
            max_seconds: 300,
        };
        assert_eq!(backoff.seconds(1, 1.0), 10);
        assert_eq!(backoff.seconds(2, 1.0), 20);
        assert_eq!(backoff.seconds(3, 0.0), 20);
        assert_eq!(backoff.seconds(10, 1.0), 300);
        assert!((150..=300).contains(&backoff.seconds(10, 0.3)));
    }

    #[tokio::test]
    async fn a_retried_message_is_delayed_by_its_backoff() {
        let queue = RecordingQueue::default();
        let (result, _) = run(
            &queue,
            vec![message("1", "ok", 1), message("2", "later", 2)],
        )
        .await;
        assert_eq!(failed_ids(&result.unwrap()), vec!["2"]);
        let delays = queue.delays.lock().unwrap();
        assert_eq!(delays.len(), 1);
        assert_eq!(delays[0].0, "handle-2");
        assert!((10..=20).contains(&delays[0].1), "{:?}", delays[0]);
    }

    #[tokio::test]
    async fn a_panic_fails_only_its_own_message() {
        let queue = RecordingQueue::default();
        let (result, metrics) = run(
            &queue,
            vec![message("1", "panic", 1), message("2", "ok", 1)],
        )
        .await;
        assert!(result.unwrap().batch_item_failures.is_empty());
        assert_eq!(
            queue.sent.lock().unwrap()[0].1.attributes["failure_code"],
            "panic"
        );
        assert_eq!(metrics.count("Applied"), 1);
    }

    #[tokio::test]
    async fn when_the_dlq_is_unreachable_the_message_stays_on_its_queue() {
        let queue = RecordingQueue {
            fail: true,
            ..Default::default()
        };
        let (result, _) = run(&queue, vec![message("1", "bad", 1), message("2", "ok", 1)]).await;
        assert_eq!(failed_ids(&result.unwrap()), vec!["1"]);
    }

    #[tokio::test]
    async fn a_batch_that_failed_entirely_fails_the_invocation() {
        let queue = RecordingQueue::default();
        let (result, _) = run(
            &queue,
            vec![message("1", "later", 1), message("2", "later", 1)],
        )
        .await;
        assert_eq!(result.unwrap_err().failed, 2);
    }
}

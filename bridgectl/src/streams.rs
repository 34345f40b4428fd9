//! The local stand-in for Lambda's DynamoDB stream event source mapping: each shard's
//! records in order, in batches of the mapping's size; a partial batch response resumes the
//! shard from the failed record, a failed invocation retries its batch (halved when the
//! mapping bisects), and a batch out of retries or older than the record age limit goes to
//! the on-failure destination as Lambda's note of it (shard and sequence range, no records)
//! while the shard moves on.

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord, StreamRecord};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use bridge_infra::template::StreamEventDef;
use bridge_lambda::Handler;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often an idle shard is read again (Lambda polls a stream about four times a second).
const POLL_EVERY: Duration = Duration::from_millis(250);
/// The pause before a failed batch is invoked again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// One stream event source of a function, resolved against the local stack.
#[derive(Clone)]
pub struct StreamSource {
    pub function: String,
    pub stream_arn: String,
    pub settings: StreamEventDef,
    /// The on-failure destination's queue URL.
    pub on_failure: Option<String>,
    pub region: String,
    /// The function's timeout: each invocation's deadline.
    pub timeout: Duration,
}

/// Polls every shard of the source's stream until shutdown.
pub async fn poll_stream(
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    source: StreamSource,
    handler: Arc<dyn Handler>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut shards: Vec<Shard> = Vec::new();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Err(err) = discover_shards(&streams, &source, &mut shards).await {
            tracing::warn!(stream = %source.stream_arn, error = %err, "describing the stream failed; retrying");
        }
        let mut busy = false;
        for shard in &mut shards {
            match shard.step(&streams, &sqs, &source, handler.as_ref()).await {
                Ok(worked) => busy |= worked,
                Err(err) => {
                    tracing::warn!(stream = %source.stream_arn, shard = %shard.id, error = %err, "reading the shard failed; retrying")
                }
            }
        }
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(POLL_EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

async fn discover_shards(
    streams: &aws_sdk_dynamodbstreams::Client,
    source: &StreamSource,
    shards: &mut Vec<Shard>,
) -> anyhow::Result<()> {
    let description = streams
        .describe_stream()
        .stream_arn(&source.stream_arn)
        .send()
        .await?
        .stream_description
        .context("no stream description")?;
    for shard in description.shards.unwrap_or_default() {
        let Some(id) = shard.shard_id else { continue };
        if shards.iter().any(|s| s.id == id) {
            continue;
        }
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&source.stream_arn)
            .shard_id(&id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await?
            .shard_iterator;
        shards.push(Shard {
            id,
            iterator,
            buffer: VecDeque::new(),
            batch_limit: source.settings.batch_size.max(1) as usize,
            attempts: 0,
        });
    }
    Ok(())
}

struct Shard {
    id: String,
    /// `None` once the shard is closed and read to its end.
    iterator: Option<String>,
    /// Records read and not yet settled, in order.
    buffer: VecDeque<EventRecord>,
    /// The batch size, lowered while a failing batch is being bisected.
    batch_limit: usize,
    /// Failed invocations of the batch at the head of the buffer.
    attempts: i64,
}

impl Shard {
    /// Reads more records when the buffer is empty and invokes the head batch once.
    /// Returns whether there was anything to do.
    async fn step(
        &mut self,
        streams: &aws_sdk_dynamodbstreams::Client,
        sqs: &aws_sdk_sqs::Client,
        source: &StreamSource,
        handler: &dyn Handler,
    ) -> anyhow::Result<bool> {
        if self.buffer.is_empty() {
            let Some(iterator) = self.iterator.clone() else {
                return Ok(false);
            };
            let output = streams
                .get_records()
                .shard_iterator(iterator)
                .limit(1000)
                .send()
                .await?;
            self.iterator = output.next_shard_iterator;
            for record in output.records.unwrap_or_default() {
                self.buffer
                    .push_back(lambda_record(record, &source.stream_arn, &source.region));
            }
            if self.buffer.is_empty() {
                return Ok(false);
            }
        }
        let size = self.batch_limit.min(self.buffer.len());
        let mut event = StreamEvent::default();
        event.records = self.buffer.iter().take(size).cloned().collect();
        let deadline = Instant::now() + source.timeout;
        // As on Lambda, an invocation that outlives the function's timeout is a failed one.
        let invoked =
            tokio::time::timeout(source.timeout, handler.on_stream(event, deadline)).await;
        let settled = match invoked {
            // Without ReportBatchItemFailures Lambda ignores the response's failures and
            // checkpoints the whole batch.
            Ok(Ok(_)) if !source.settings.report_batch_item_failures => Settled::All,
            Ok(Ok(response)) => {
                let failed = response
                    .batch_item_failures
                    .first()
                    .map(|failure| failure.item_identifier.clone().unwrap_or_default());
                match failed {
                    None => Settled::All,
                    Some(sequence) => {
                        match self.buffer.iter().take(size).position(|r| {
                            r.change.sequence_number.as_deref() == Some(sequence.as_str())
                        }) {
                            Some(at) => Settled::Before(at),
                            // An identifier that names no record of the batch fails the
                            // whole batch, as on Lambda.
                            None => Settled::Failed,
                        }
                    }
                }
            }
            Ok(Err(failure)) => {
                tracing::warn!(function = %source.function, error = %failure, "stream invocation failed");
                Settled::Failed
            }
            Err(_) => {
                tracing::warn!(function = %source.function, timeout = ?source.timeout, "stream invocation timed out");
                Settled::Failed
            }
        };
        match settled {
            Settled::All => {
                self.buffer.drain(..size);
                self.reset(source);
            }
            Settled::Before(at) => {
                if at > 0 {
                    self.buffer.drain(..at);
                    self.attempts = 0;
                }
                self.failed(sqs, source, false).await?;
            }
            Settled::Failed => self.failed(sqs, source, true).await?,
        }
        Ok(true)
    }

    fn reset(&mut self, source: &StreamSource) {
        self.attempts = 0;
        self.batch_limit = source.settings.batch_size.max(1) as usize;
    }

    /// Counts a failed attempt of the head batch; gives it up when its retries or its
    /// records' age run out.
    async fn failed(
        &mut self,
        sqs: &aws_sdk_sqs::Client,
        source: &StreamSource,
        whole_batch: bool,
    ) -> anyhow::Result<()> {
        self.attempts += 1;
        let settings = &source.settings;
        let out_of_retries =
            settings.maximum_retry_attempts >= 0 && self.attempts > settings.maximum_retry_attempts;
        let too_old = settings.maximum_record_age_seconds >= 0
            && self.buffer.front().is_some_and(|r| {
                Utc::now() - r.change.approximate_creation_date_time
                    > chrono::Duration::seconds(settings.maximum_record_age_seconds)
            });
        if out_of_retries || too_old {
            let size = self.batch_limit.min(self.buffer.len());
            let batch: Vec<EventRecord> = self.buffer.drain(..size).collect();
            self.give_up(sqs, source, &batch).await?;
            self.reset(source);
            return Ok(());
        }
        if whole_batch && settings.bisect_on_error && self.batch_limit > 1 {
            self.batch_limit = self.batch_limit.min(self.buffer.len()).div_ceil(2);
        }
        tokio::time::sleep(RETRY_PAUSE).await;
        Ok(())
    }

    /// Lambda's on-failure record of a stream batch: where it was, not what it held.
    async fn give_up(
        &self,
        sqs: &aws_sdk_sqs::Client,
        source: &StreamSource,
        batch: &[EventRecord],
    ) -> anyhow::Result<()> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        tracing::error!(function = %source.function, shard = %self.id, records = batch.len(), "stream batch given up on");
        let Some(queue) = &source.on_failure else {
            return Ok(());
        };
        let note = json!({
            "requestContext": {
                "requestId": uuid::Uuid::new_v4().to_string(),
                "functionArn": source.function,
                "condition": if source.settings.maximum_retry_attempts >= 0 && self.attempts > source.settings.maximum_retry_attempts { "RetryAttemptsExhausted" } else { "RecordAgeExceeded" },
                "approximateInvokeCount": self.attempts,
            },
            "version": "1.0",
            "timestamp": Utc::now().to_rfc3339(),
            "DDBStreamBatchInfo": {
                "shardId": self.id,
                "startSequenceNumber": first.change.sequence_number,
                "endSequenceNumber": last.change.sequence_number,
                "approximateArrivalOfFirstRecord": first.change.approximate_creation_date_time.to_rfc3339(),
                "approximateArrivalOfLastRecord": last.change.approximate_creation_date_time.to_rfc3339(),
                "batchSize": batch.len(),
                "streamArn": source.stream_arn,
            },
        });
        sqs.send_message()
            .queue_url(queue)
            .message_body(note.to_string())
            .send()
            .await?;
        Ok(())
    }
}

enum Settled {
    All,
    /// The records before this index succeeded; the shard resumes from it.
    Before(usize),
    Failed,
}

/// A stream record as Lambda hands it to the function.
fn lambda_record(record: Record, stream_arn: &str, region: &str) -> EventRecord {
    let mut out = EventRecord::default();
    out.event_id = record.event_id.unwrap_or_default();
    out.event_name = record
        .event_name
        .map(|name| name.as_str().to_string())
        .unwrap_or_default();
    out.event_version = record.event_version;
    out.event_source = Some("aws:dynamodb".to_string());
    out.event_source_arn = Some(stream_arn.to_string());
    out.aws_region = region.to_string();
    if let Some(change) = record.dynamodb {
        let mut stream = StreamRecord::default();
        stream.approximate_creation_date_time = change
            .approximate_creation_date_time
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
            .unwrap_or_else(Utc::now);
        stream.keys = change.keys.unwrap_or_default().into();
        stream.new_image = change.new_image.unwrap_or_default().into();
        stream.old_image = change.old_image.unwrap_or_default().into();
        stream.sequence_number = change.sequence_number;
        stream.size_bytes = change.size_bytes.unwrap_or_default();
        out.change = stream;
    }
    out
}

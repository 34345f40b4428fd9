//! Dead-letter queues for on-call: what is in them and why, without consuming anything,
//! and moving messages back to their source queue once the cause is fixed; `run_list`,
//! `run_show` and `run_redrive` are the commands.

use crate::cli::{Resolved, Target, output};
use anyhow::Context;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use bridge_contract::envelope::attributes;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

/// A dead-letter queue and the queue that feeds it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterQueue {
    pub name: String,
    pub url: String,
    pub source_url: Option<String>,
    pub messages: u64,
}

/// A message as it sits in a dead-letter queue.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub message_id: String,
    pub sent_at: Option<String>,
    pub receive_count: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub body: String,
}

/// The queue that sends its failures to `dlq_url` (its redrive policy names the DLQ).
async fn source_of(client: &Client, dlq_url: &str) -> anyhow::Result<Option<String>> {
    let output = client
        .list_dead_letter_source_queues()
        .queue_url(dlq_url)
        .send()
        .await?;
    Ok(output.queue_urls.into_iter().next())
}

/// Every dead-letter queue among `queues` (name → URL), with its source and depth.
pub async fn list(
    client: &Client,
    queues: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<DeadLetterQueue>> {
    let mut out = Vec::new();
    for (name, url) in queues {
        let sources = source_of(client, url).await?;
        if sources.is_none() && !name.contains("DeadLetter") {
            continue;
        }
        out.push(DeadLetterQueue {
            name: name.clone(),
            url: url.clone(),
            source_url: sources,
            messages: crate::dev::queue_depth(client, url).await?,
        });
    }
    Ok(out)
}

pub fn list_text(queues: &[DeadLetterQueue]) -> String {
    let mut out = format!(
        "{:<32} {:>8}  {}\n",
        "dead-letter queue", "messages", "source"
    );
    for q in queues {
        let source = q
            .source_url
            .as_deref()
            .and_then(|u| u.rsplit('/').next())
            .unwrap_or("-");
        let _ = writeln!(out, "{:<32} {:>8}  {source}", q.name, q.messages);
    }
    out
}

/// Up to `limit` messages, read without consuming them: each is made visible again at once.
pub async fn show(client: &Client, url: &str, limit: usize) -> anyhow::Result<Vec<DeadLetter>> {
    let mut seen = BTreeMap::new();
    let mut handles = Vec::new();
    while seen.len() < limit {
        let messages = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages((limit - seen.len()).clamp(1, 10) as i32)
            // Hidden while we page through, so the next receive returns others.
            .visibility_timeout(30)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            handles.push(message.receipt_handle.clone().unwrap_or_default());
            let id = message.message_id.clone().unwrap_or_default();
            let system = message.attributes.clone().unwrap_or_default();
            seen.entry(id.clone()).or_insert_with(|| DeadLetter {
                message_id: id,
                sent_at: system
                    .get(&MessageSystemAttributeName::SentTimestamp)
                    .and_then(|ms| ms.parse::<i64>().ok())
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.to_rfc3339()),
                receive_count: system
                    .get(&MessageSystemAttributeName::ApproximateReceiveCount)
                    .cloned(),
                attributes: message
                    .message_attributes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                    .collect(),
                body: message.body.unwrap_or_default(),
            });
        }
    }
    // Back to visible: showing is not consuming.
    for handle in handles {
        client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await?;
    }
    Ok(seen.into_values().collect())
}

pub fn show_text(messages: &[DeadLetter]) -> String {
    if messages.is_empty() {
        return "the queue is empty\n".to_string();
    }
    let mut out = String::new();
    for m in messages {
        let attr = |name: &str| m.attributes.get(name).map(String::as_str).unwrap_or("-");
        let _ = writeln!(
            out,
            "message {}  sent {}  deliveries {}",
            m.message_id,
            m.sent_at.as_deref().unwrap_or("-"),
            m.receive_count.as_deref().unwrap_or("-")
        );
        let _ = writeln!(
            out,
            "  failure   {} ({}) by {}",
            attr(attributes::FAILURE_CODE),
            attr(attributes::FAILURE_CLASS),
            attr(attributes::FAILED_BY)
        );
        let _ = writeln!(out, "  reason    {}", attr(attributes::FAILURE_REASON));
        let _ = writeln!(
            out,
            "  event     {} {}  correlation {}",
            attr(attributes::EVENT_TYPE),
            attr(attributes::WEBHOOK_ID),
            attr(attributes::CORRELATION_ID)
        );
        let preview: String = m.body.chars().take(160).collect();
        let _ = writeln!(
            out,
            "  body      {preview}{}",
            if m.body.chars().count() > 160 {
                "…"
            } else {
                ""
            }
        );
    }
    out
}

/// Which messages a redrive moves: all, or those whose attribute has a value.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub attribute: Option<(String, String)>,
}

impl Filter {
    /// `--filter name=value` (e.g. `failure_code=store_unavailable`).
    pub fn parse(text: Option<&str>) -> anyhow::Result<Self> {
        let attribute = text
            .map(|t| {
                t.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .context("--filter takes name=value, e.g. failure_code=store_unavailable")
            })
            .transpose()?;
        Ok(Self { attribute })
    }

    fn matches(&self, message: &aws_sdk_sqs::types::Message) -> bool {
        let Some((name, value)) = &self.attribute else {
            return true;
        };
        message
            .message_attributes()
            .and_then(|a| a.get(name))
            .and_then(|v| v.string_value())
            == Some(value.as_str())
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RedriveResult {
    pub moved: u64,
    pub kept: u64,
    /// `move-task` (SQS did it) or `receive-send-delete`.
    pub method: String,
}

/// How long a redrive hides the messages its filter skips, so that it does not receive them
/// again while it works through the rest.
pub const HIDE_SKIPPED: Duration = Duration::from_secs(300);

/// Moves messages back to the queue that failed them. Uses an SQS message move task when
/// there is no filter and the endpoint supports it; otherwise receives, sends to the source
/// and deletes, one batch at a time (a message is deleted only after it was sent). It ends
/// when a long poll finds nothing, makes the skipped messages visible again, and reports
/// each message once.
pub async fn redrive(
    client: &Client,
    dlq_url: &str,
    filter: &Filter,
    hide_skipped: Duration,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<RedriveResult> {
    let source = source_of(client, dlq_url)
        .await?
        .context("no queue names this one as its dead-letter queue: nothing to move back to")?;
    if filter.attribute.is_none() {
        let arn = |url: &str| {
            let url = url.to_string();
            async move {
                client
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .ok()
                    .and_then(|o| o.attributes)
                    .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            }
        };
        if let (Some(from), Some(to)) = (arn(dlq_url).await, arn(&source).await) {
            let waiting = crate::dev::queue_depth(client, dlq_url).await?;
            let task = client
                .start_message_move_task()
                .source_arn(from)
                .destination_arn(to)
                .send()
                .await;
            match task {
                Ok(_) => {
                    progress(&format!("SQS move task started for {waiting} messages"));
                    return Ok(RedriveResult {
                        moved: waiting,
                        kept: 0,
                        method: "move-task".into(),
                    });
                }
                Err(err) => progress(&format!(
                    "message move tasks are not available here ({}); moving one by one",
                    aws_sdk_sqs::error::DisplayErrorContext(&err)
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or("error")
                )),
            }
        }
    }
    let mut result = RedriveResult {
        method: "receive-send-delete".into(),
        ..Default::default()
    };
    // Skipped messages by id, with their latest receipt handle: one that comes back (its
    // hiding ran out) is the same message, not another one to count.
    let mut kept: HashMap<String, String> = HashMap::new();
    // Messages dead-lettered after the redrive began (a moved one that failed again, while
    // its consumer runs): left for the next redrive, so that this one ends.
    let started_ms = chrono::Utc::now().timestamp_millis();
    let mut arrived: HashMap<String, String> = HashMap::new();
    loop {
        // A long poll asks every SQS server: an empty answer means the queue is empty, where
        // a short poll may come back empty while messages remain.
        let messages = client
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(hide_skipped.as_secs().clamp(1, 43_200) as i32)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await?
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let handle = message.receipt_handle().unwrap_or_default().to_string();
            let id = message.message_id().unwrap_or_default().to_string();
            let sent_ms = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|t| t.parse::<i64>().ok())
                .unwrap_or(0);
            let left = if sent_ms > started_ms {
                Some(&mut arrived)
            } else if !filter.matches(&message) {
                Some(&mut kept)
            } else {
                None
            };
            if let Some(left) = left {
                if left.insert(id, handle.clone()).is_some() {
                    // Its hiding ran out before the run ended: hide it for as long as SQS
                    // allows, so that it comes back once at most and the queue runs empty
                    // (SQS caps a message's total visibility at 12 hours from its receipt).
                    client
                        .change_message_visibility()
                        .queue_url(dlq_url)
                        .receipt_handle(handle)
                        .visibility_timeout(42_000)
                        .send()
                        .await?;
                }
                continue;
            }
            let mut send = client
                .send_message()
                .queue_url(&source)
                .message_body(message.body().unwrap_or_default());
            for (name, value) in message.message_attributes().cloned().unwrap_or_default() {
                // The failure's own attributes stay behind; the event's travel on.
                if name.starts_with("failure_")
                    || name == attributes::FAILED_BY
                    || name == attributes::RECEIVE_COUNT
                {
                    continue;
                }
                if let Some(text) = value.string_value() {
                    send = send.message_attributes(
                        name,
                        MessageAttributeValue::builder()
                            .data_type("String")
                            .string_value(text)
                            .build()?,
                    );
                }
            }
            send.send()
                .await
                .context("sending back to the source queue")?;
            client
                .delete_message()
                .queue_url(dlq_url)
                .receipt_handle(handle)
                .send()
                .await
                .context("deleting the moved message from the dead-letter queue")?;
            result.moved += 1;
        }
        result.kept = kept.len() as u64;
        progress(&format!("moved {}, kept {}", result.moved, result.kept));
    }
    for handle in kept.into_values().chain(arrived.into_values()) {
        client
            .change_message_visibility()
            .queue_url(dlq_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await?;
    }
    Ok(result)
}

/// The queues by name: the local stack's by logical id, or a deployed stack's by prefix.
pub(crate) async fn queues(target: &Target) -> anyhow::Result<(Client, BTreeMap<String, String>)> {
    let r = Resolved::new(target, target.queue_prefix.is_some()).await?;
    let client = Client::new(&r.aws);
    let queues = match (&target.queue_prefix, &r.file) {
        (Some(prefix), _) => client
            .list_queues()
            .queue_name_prefix(prefix)
            .send()
            .await?
            .queue_urls
            .unwrap_or_default()
            .into_iter()
            .map(|url| (url.rsplit('/').next().unwrap_or_default().to_string(), url))
            .collect(),
        (None, Some((_, file))) => file
            .stack
            .queues
            .iter()
            .map(|(id, q)| (id.clone(), q.url.clone()))
            .collect(),
        (None, None) => BTreeMap::new(),
    };
    Ok((client, queues))
}

/// A queue the user named: a URL, a known name, or one SQS can look up.
async fn queue_url(
    client: &Client,
    queues: &BTreeMap<String, String>,
    name: &str,
) -> anyhow::Result<String> {
    if name.starts_with("http://") || name.starts_with("https://") {
        return Ok(name.to_string());
    }
    if let Some(url) = queues.get(name) {
        return Ok(url.clone());
    }
    let output = client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .with_context(|| format!("no queue {name}; `bridgectl dlq list` shows them"))?;
    output.queue_url.with_context(|| format!("no queue {name}"))
}

/// `bridgectl dlq list`.
pub async fn run_list(target: &Target) -> anyhow::Result<ExitCode> {
    let (client, queues) = queues(target).await?;
    let list = list(&client, &queues).await?;
    output(target.json, &list, || list_text(&list))?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl dlq show QUEUE`.
pub async fn run_show(target: &Target, queue: &str, limit: usize) -> anyhow::Result<ExitCode> {
    let (client, queues) = queues(target).await?;
    let url = queue_url(&client, &queues, queue).await?;
    let messages = show(&client, &url, limit).await?;
    output(target.json, &messages, || show_text(&messages))?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl dlq redrive QUEUE`.
pub async fn run_redrive(
    target: &Target,
    queue: &str,
    filter: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (client, queues) = queues(target).await?;
    let url = queue_url(&client, &queues, queue).await?;
    let filter = Filter::parse(filter)?;
    let result = redrive(&client, &url, &filter, HIDE_SKIPPED, |line| {
        eprintln!("{line}")
    })
    .await?;
    output(target.json, &result, || {
        format!(
            "moved {} message(s) back ({}), kept {}\n",
            result.moved, result.method, result.kept
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

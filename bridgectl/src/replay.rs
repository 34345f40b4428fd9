//! Replays an event the intake accepted: its receipt keeps what was queued, for as long as
//! webhook ids are remembered (`ReceiptRetentionDays`). `run_replay` is the command.

use crate::cli::{Resolved, Target, output};
use crate::stackfile::find_root;
use anyhow::Context;
use bridge_aws::DynamoReceiptStore;
use bridge_contract::envelope::attributes;
use bridge_domain::{Route, Source};
use serde::Serialize;
use std::collections::BTreeMap;
use std::process::ExitCode;

#[derive(Debug, Serialize)]
pub struct Replayed {
    pub webhook_id: String,
    pub source: String,
    pub event_type: String,
    pub record: String,
    pub queue: String,
    pub message_id: String,
}

/// The route of a stored receipt.
fn route(receipt: &BTreeMap<String, String>) -> anyhow::Result<Route> {
    let name = receipt
        .get("route")
        .context("the receipt predates replay support (no route)")?;
    Route::ALL
        .into_iter()
        .find(|r| r.as_str() == name)
        .with_context(|| format!("unknown route {name}"))
}

/// Sends the queued envelope of `webhook_id` again, to the queue `queue_for` names for its
/// route. Applying it twice is harmless: consumers keep the newest revision.
pub async fn replay(
    receipts: &DynamoReceiptStore,
    sqs: &aws_sdk_sqs::Client,
    webhook_id: &str,
    source: Option<Source>,
    queue_for: impl Fn(Route) -> Option<String>,
) -> anyhow::Result<Replayed> {
    let named = source.is_some();
    let sources = match source {
        Some(source) => vec![source],
        // The contract's sources; a webhook of another source needs its name.
        None => vec![Source::erp(), Source::shop()],
    };
    let mut found = None;
    for source in sources {
        if let Some(receipt) = receipts.receipt(&format!("{source}#{webhook_id}")).await? {
            found = Some((source, receipt));
            break;
        }
    }
    let (source, receipt) = found.with_context(|| {
        let hint = if named {
            ""
        } else {
            " (looked under erp and shop; name any other source with --source)"
        };
        format!(
            "no receipt for webhook {webhook_id}: never accepted, or older than the retention{hint}"
        )
    })?;
    if receipt.get("status").map(String::as_str) != Some("queued") {
        anyhow::bail!(
            "webhook {webhook_id} was never queued (status {:?})",
            receipt.get("status")
        );
    }
    let envelope = receipt
        .get("envelope")
        .context("the receipt holds no envelope to replay")?;
    let route = route(&receipt)?;
    let queue =
        queue_for(route).with_context(|| format!("no queue known for route {}", route.as_str()))?;
    let string = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
    };
    let get = |k: &str| receipt.get(k).cloned().unwrap_or_default();
    let output = sqs
        .send_message()
        .queue_url(&queue)
        .message_body(envelope)
        .message_attributes(attributes::EVENT_TYPE, string(&get("event_type"))?)
        .message_attributes(attributes::WEBHOOK_ID, string(webhook_id)?)
        .message_attributes(attributes::CORRELATION_ID, string(&get("correlation_id"))?)
        .message_attributes(attributes::SOURCE, string(source.as_str())?)
        .message_attributes("replayed_at", string(&chrono::Utc::now().to_rfc3339())?)
        .send()
        .await?;
    Ok(Replayed {
        webhook_id: webhook_id.to_string(),
        source: source.to_string(),
        event_type: get("event_type"),
        record: get("record"),
        queue,
        message_id: output.message_id.unwrap_or_default(),
    })
}

/// `bridgectl replay WEBHOOK_ID`.
pub async fn run_replay(
    target: &Target,
    webhook_id: &str,
    source: Option<&str>,
    queue_url: &Option<String>,
    receipt_table: &Option<String>,
) -> anyhow::Result<ExitCode> {
    let source = source
        .map(|s| Source::parse(s).context("--source is a source name such as erp or shop"))
        .transpose()?;
    let r = Resolved::new(target, receipt_table.is_some()).await?;
    let receipts = DynamoReceiptStore::new(
        aws_sdk_dynamodb::Client::new(&r.aws),
        r.name(receipt_table, "WebhookReceiptTable")?,
        0,
    );
    // The local stack: the intake's environment in the template names each route's queue.
    let template = find_root()
        .ok()
        .and_then(|root| bridge_infra::Template::load(&root.join("template.yaml")).ok());
    let local = r.file.as_ref().map(|(_, f)| f.stack.clone());
    let queue_for = |route: Route| -> Option<String> {
        if let Some(url) = queue_url {
            return Some(url.clone());
        }
        let (template, stack) = (template.as_ref()?, local.as_ref()?);
        let intake = template
            .functions()
            .ok()?
            .into_iter()
            .find(|f| f.binary == "webhook-intake")?;
        let value = intake
            .environment
            .get(webhook_intake::config::queue_variable(route))?;
        stack.resolve(value).ok()
    };
    let sqs = aws_sdk_sqs::Client::new(&r.aws);
    let replayed = replay(&receipts, &sqs, webhook_id, source, queue_for).await?;
    output(target.json, &replayed, || {
        format!(
            "replayed {} ({} from {}, {}) to {} as message {}\n",
            replayed.webhook_id,
            replayed.event_type,
            replayed.source,
            replayed.record,
            replayed.queue,
            replayed.message_id
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

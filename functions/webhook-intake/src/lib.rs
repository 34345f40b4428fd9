//! Webhook intake (contract section 1): verify the Standard Webhooks signature, validate
//! the event, dedupe by webhook id, route it to its queue, and answer 202 only once the
//! event is durably enqueued.
//!
//! The handler works on a plain [`IntakeRequest`]; `lambda.rs` converts API Gateway HTTP
//! API (payload 2.0) events into it, and the local stack converts real HTTP requests.

pub mod config;
pub mod handover;
pub mod lambda;
pub mod wiring;

use crate::config::SigningSecrets;
use bridge_contract::{
    ContractError, Envelope, Payload, SigningSecret, parse_event_value, parse_json, verify,
};
use bridge_domain::error::cause_chain;
use bridge_domain::ports::{
    MessageQueue, ObjectStore, OutboundMessage, ReceiptClaim, ReceiptStore,
};
use bridge_domain::{Sender, Source};
use bridge_lambda::Metrics;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tracing::{Instrument, error, info, warn};

pub use config::IntakeSettings;

pub const FUNCTION_NAME: &str = "webhook-intake";

/// An HTTP request as the intake needs it. Header names are lower case.
#[derive(Debug, Clone, Default)]
pub struct IntakeRequest {
    pub method: String,
    /// The `{source}` path segment.
    pub source: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntakeResponse {
    pub status: u16,
    pub body: Value,
    /// Extra headers (`retry-after`).
    pub headers: Vec<(&'static str, String)>,
}

impl IntakeResponse {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(status, json!({"error": code, "message": message}))
    }

    fn unavailable(message: &str) -> Self {
        let mut response = Self::error(503, "unavailable", message);
        response.headers.push(("retry-after", "5".to_string()));
        response
    }

    fn invalid(err: &ContractError) -> Self {
        Self::json(
            400,
            json!({"error": err.code, "message": err.message, "field": err.field}),
        )
    }
}

/// What became of an event handed to [`Intake::accept`]: the intake's decision, which the
/// HTTP edge ([`Accepted::to_response`]) and the delta pull each translate for themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// Durable on its route's queue.
    Queued,
    /// The same event under the same id was queued before.
    Duplicate,
    /// The event breaks the contract (its error names the field); sending it again changes
    /// nothing.
    Invalid(ContractError),
    /// The id was queued before for a different event.
    Conflict,
    /// Another delivery of the same id is being processed: try again shortly.
    InFlight,
    /// The event could not be made durable (queue, store or bucket unavailable); nothing
    /// was half-written, so trying again is safe.
    Unavailable,
}

impl Accepted {
    /// The contract's answer (section 1) for `webhook_id`.
    pub fn to_response(&self, webhook_id: &str) -> IntakeResponse {
        match self {
            Accepted::Queued => {
                IntakeResponse::json(202, json!({"id": webhook_id, "status": "queued"}))
            }
            Accepted::Duplicate => {
                IntakeResponse::json(200, json!({"id": webhook_id, "status": "duplicate"}))
            }
            Accepted::Invalid(err) => IntakeResponse::invalid(err),
            Accepted::Conflict => IntakeResponse::error(
                409,
                "webhook_id_conflict",
                "this webhook-id was accepted before for a different event",
            ),
            Accepted::InFlight => {
                IntakeResponse::unavailable("the same webhook-id is being processed; retry shortly")
            }
            Accepted::Unavailable => {
                IntakeResponse::unavailable("the event could not be made durable")
            }
        }
    }
}

/// The intake as other functions use it: the delta pull hands its changes over through
/// this port, so that they get the webhooks' rules, receipts and queues.
#[async_trait::async_trait]
pub trait EventIntake: Send + Sync {
    /// The configured source named `name`.
    fn sender(&self, name: &str) -> Option<Sender>;

    /// Validates, deduplicates and enqueues one authenticated event.
    async fn accept(
        &self,
        sender: &Sender,
        webhook_id: &str,
        correlation_id: &str,
        body: &[u8],
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> Accepted;
}

#[async_trait::async_trait]
impl EventIntake for Intake {
    fn sender(&self, name: &str) -> Option<Sender> {
        self.settings.sources.sender(name)
    }

    /// Takes one authenticated event: validates it, deduplicates it on (source, id) and
    /// content, makes it durable on its route's queue. The webhook path and the delta pull
    /// both come through here, so pulled changes get the same rules as pushed ones.
    async fn accept(
        &self,
        sender: &Sender,
        webhook_id: &str,
        correlation_id: &str,
        body: &[u8],
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> Accepted {
        if !valid_token(webhook_id, MAX_WEBHOOK_ID_LEN) {
            metrics.add("Invalid", 1);
            return Accepted::Invalid(ContractError::new(
                "invalid_webhook_id",
                "webhook-id must be 1 to 256 printable ASCII characters without spaces",
                None,
            ));
        }
        let parsed = match parse_json(body)
            .and_then(|value| parse_event_value(sender, &value).map(|parsed| (parsed, value)))
        {
            Ok(parsed) => parsed,
            Err(err) => {
                warn!(code = %err.code, field = ?err.field, reason = %err.message, outcome = "invalid", "event rejected");
                metrics.add("Invalid", 1);
                return Accepted::Invalid(err);
            }
        };
        let (parsed, body_value) = parsed;
        let body_sha256 = hex(&Sha256::digest(body));
        // What a redelivery must repeat: the event, not the sender's serialization of it
        // (key order, whitespace, a refreshed top-level timestamp).
        let content = json!({"type": body_value["type"], "data": body_value["data"]});
        let content_sha256 = hex(&Sha256::digest(content.to_string().as_bytes()));
        // Ids are unique per sender only: the shop cannot collide with (or pre-empt) the ERP.
        let receipt_id = format!("{}#{webhook_id}", sender.source);

        match self
            .ports
            .receipts
            .claim(&receipt_id, &content_sha256, now, CLAIM_LEASE_SECONDS)
            .await
        {
            Ok(ReceiptClaim::Claimed) => {}
            Ok(ReceiptClaim::AlreadyQueued {
                content_sha256: seen,
            }) if seen == content_sha256 => {
                metrics.add("Duplicate", 1);
                return Accepted::Duplicate;
            }
            Ok(ReceiptClaim::AlreadyQueued { .. }) => {
                // Answering 200 would drop a different event without a trace.
                metrics.add("Invalid", 1);
                warn!(
                    outcome = "conflict",
                    "webhook id reused for a different event"
                );
                return Accepted::Conflict;
            }
            Ok(ReceiptClaim::InFlight) => {
                metrics.add("InFlight", 1);
                return Accepted::InFlight;
            }
            Err(err) => {
                error!(error = %cause_chain(&err), outcome = "unavailable", "receipt store unavailable");
                metrics.add("Unavailable", 1);
                return Accepted::Unavailable;
            }
        }

        match self
            .enqueue(
                Delivery {
                    source: &sender.source,
                    webhook_id,
                    correlation_id,
                    event_type: parsed.event_type,
                    body,
                    body_value,
                    body_sha256: &body_sha256,
                },
                now,
                metrics,
            )
            .await
        {
            Ok((message_id, envelope)) => {
                let details = BTreeMap::from([
                    ("message_id".to_string(), message_id),
                    // What was queued, so that support can replay it (`bridgectl replay`).
                    ("envelope".to_string(), envelope),
                    (
                        "route".to_string(),
                        parsed.event_type.route().as_str().to_string(),
                    ),
                    ("event_type".to_string(), parsed.event_type.to_string()),
                    ("source".to_string(), sender.source.to_string()),
                    ("correlation_id".to_string(), correlation_id.to_string()),
                    ("record".to_string(), parsed.event.record_key()),
                ]);
                if let Err(err) = self
                    .ports
                    .receipts
                    .complete(&receipt_id, &details, now)
                    .await
                {
                    // The event is queued, so the answer is 202; a redelivery after the lease
                    // may enqueue it again, which the consumers' revision guard absorbs.
                    error!(error = %cause_chain(&err), "could not mark the receipt as queued");
                    metrics.add("ReceiptNotCompleted", 1);
                }
                metrics.add("Accepted", 1);
                info!(event_type = %parsed.event_type, record = %parsed.event.record_key(), outcome = "queued", "event queued");
                Accepted::Queued
            }
            Err(err) => {
                error!(error = %cause_chain(&err), outcome = "unavailable", "could not enqueue the event");
                if let Err(release) = self.ports.receipts.release(&receipt_id).await {
                    // The lease expires on its own; until then the sender's retry gets 503.
                    error!(error = %cause_chain(&release), "could not release the claim");
                }
                metrics.add("Unavailable", 1);
                Accepted::Unavailable
            }
        }
    }
}

/// An event that passed every check, on its way to its queue.
struct Delivery<'a> {
    source: &'a Source,
    webhook_id: &'a str,
    correlation_id: &'a str,
    event_type: bridge_domain::EventType,
    body: &'a [u8],
    body_value: Value,
    body_sha256: &'a str,
}

/// The ports the intake writes through.
#[derive(Clone)]
pub struct IntakePorts {
    pub queue: Arc<dyn MessageQueue>,
    pub receipts: Arc<dyn ReceiptStore>,
    pub objects: Arc<dyn ObjectStore>,
}

pub struct Intake {
    settings: IntakeSettings,
    ports: IntakePorts,
    /// The signing secrets, read again as [`SecretRefresh`] says, so that a revoked secret
    /// stops working without a redeploy; without one, those of `settings` for the life of
    /// the instance.
    secrets: bridge_lambda::Refreshing<SigningSecrets>,
}

/// Loads the signing secrets from where they are kept (Secrets Manager when deployed).
pub type SecretLoader = bridge_lambda::refresh::Loader<SigningSecrets>;

/// When the intake reads its signing secrets again.
#[derive(Clone)]
pub struct SecretRefresh {
    pub load: SecretLoader,
    /// At most this old when a request is verified (revocation takes effect within it).
    pub every: std::time::Duration,
    /// A signature no current secret verifies reads them again (a secret just added),
    /// at most once per this gap, so that bad signatures cannot drive reads.
    pub on_unknown_after: std::time::Duration,
}

/// How long a claim on a webhook id blocks concurrent deliveries of the same id; longer
/// than one enqueue can take, short enough that a crashed claim does not block a retry long.
const CLAIM_LEASE_SECONDS: i64 = 60;
const MAX_WEBHOOK_ID_LEN: usize = 256;
/// Bytes SQS counts for our message attributes on top of the body, rounded up.
const ATTRIBUTE_ALLOWANCE: usize = 2048;

fn header<'a>(request: &'a IntakeRequest, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(String::as_str)
}

fn valid_token(value: &str, max_len: usize) -> bool {
    !value.is_empty() && value.len() <= max_len && value.bytes().all(|b| b.is_ascii_graphic())
}

impl Intake {
    pub fn new(settings: IntakeSettings, ports: IntakePorts) -> Self {
        let secrets = bridge_lambda::Refreshing::fixed(settings.secrets.clone());
        Self {
            settings,
            ports,
            secrets,
        }
    }

    /// Reads the signing secrets again as `refresh` says. A failed read keeps the secrets
    /// there are (and says so): the sender's retry is worse off with a 503 than with the
    /// secrets of a minute ago.
    pub fn with_refresh(mut self, refresh: SecretRefresh) -> Self {
        self.secrets = bridge_lambda::Refreshing::new(
            self.settings.secrets.clone(),
            refresh.load,
            refresh.every,
            refresh.on_unknown_after,
        );
        self
    }

    /// Handles one webhook delivery; emits its metrics.
    pub async fn handle(&self, request: IntakeRequest, now: DateTime<Utc>) -> IntakeResponse {
        let webhook_id = header(&request, "webhook-id")
            .unwrap_or_default()
            .to_string();
        let correlation_id = header(&request, "x-correlation-id")
            .filter(|c| valid_token(c, 128))
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let span = tracing::info_span!(
            "webhook",
            function = FUNCTION_NAME,
            source = %request.source,
            event_id = %webhook_id.chars().take(MAX_WEBHOOK_ID_LEN).collect::<String>().escape_debug(),
            correlation_id = %correlation_id,
        );
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let response = self
            .handle_inner(&request, &correlation_id, now, &mut metrics)
            .instrument(span.clone())
            .await;
        let outcome = response
            .body
            .get("status")
            .or(response.body.get("error"))
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        span.in_scope(|| info!(status = response.status, outcome, "webhook answered"));
        metrics.flush();
        response
    }

    async fn handle_inner(
        &self,
        request: &IntakeRequest,
        correlation_id: &str,
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> IntakeResponse {
        if !request.method.eq_ignore_ascii_case("POST") {
            return IntakeResponse::error(405, "method_not_allowed", "use POST");
        }
        let Some(sender) = self.settings.sources.sender(&request.source) else {
            return IntakeResponse::error(
                404,
                "unknown_source",
                "no source of this name is configured",
            );
        };
        if request.body.len() > self.settings.max_body_bytes {
            metrics.add("PayloadTooLarge", 1);
            return IntakeResponse::json(413, json!({"error": "payload_too_large"}));
        }
        let check = |secrets: &[SigningSecret]| {
            verify(
                secrets,
                header(request, "webhook-id"),
                header(request, "webhook-timestamp"),
                header(request, "webhook-signature"),
                &request.body,
                now.timestamp(),
            )
        };
        let mut verified = check(self.secrets.current().await.for_source(&sender.source));
        if verified.is_err()
            && let Some(reread) = self.secrets.recheck().await
        {
            // A secret added since the last read (a rotation) is recognised at once.
            verified = check(reread.for_source(&sender.source));
        }
        if let Err(err) = verified {
            // The reason stays in our logs; the sender only learns that it failed.
            warn!(reason = %err, outcome = "unauthorized", "signature verification failed");
            metrics.add("SignatureFailed", 1);
            return IntakeResponse::json(401, json!({"error": "invalid_signature"}));
        }
        let content_type = header(request, "content-type").unwrap_or_default();
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if !media_type.eq_ignore_ascii_case("application/json") {
            metrics.add("Invalid", 1);
            return IntakeResponse::error(
                415,
                "unsupported_media_type",
                "the body must be application/json",
            );
        }
        let webhook_id = header(request, "webhook-id").unwrap_or_default();
        self.accept(
            &sender,
            webhook_id,
            correlation_id,
            &request.body,
            now,
            metrics,
        )
        .await
        .to_response(webhook_id)
    }

    async fn enqueue(
        &self,
        delivery: Delivery<'_>,
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> Result<(String, String), bridge_domain::PortError> {
        let Delivery {
            source,
            webhook_id,
            correlation_id,
            event_type,
            body,
            body_value,
            body_sha256,
        } = delivery;
        let queue = self.settings.queue_for(event_type.route()).ok_or_else(|| {
            bridge_domain::PortError::permanent(
                "intake.route",
                format!(
                    "no queue is configured for {event_type} (route {})",
                    event_type.route().as_str()
                ),
            )
        })?;
        let mut envelope = Envelope {
            version: bridge_contract::envelope::ENVELOPE_VERSION,
            webhook_id: webhook_id.to_string(),
            source: source.clone(),
            event_type,
            correlation_id: correlation_id.to_string(),
            received_at: now,
            payload: Payload::Inline { body: body_value },
        };
        let mut message_body = envelope.to_json();
        if message_body.len() + ATTRIBUTE_ALLOWANCE > self.settings.max_message_bytes
            || !sqs_accepts(&message_body)
        {
            let key = Envelope::claim_check_key(webhook_id);
            self.ports
                .objects
                .put(&key, body.to_vec(), "application/json")
                .await?;
            envelope.payload = Payload::ClaimCheck {
                key,
                sha256: body_sha256.to_string(),
                bytes: body.len() as u64,
            };
            message_body = envelope.to_json();
            metrics.add("ClaimChecked", 1);
        }
        let message = OutboundMessage {
            body: message_body,
            attributes: envelope.message_attributes(),
            ..Default::default()
        };
        let message_id = self.ports.queue.send(queue, &message).await?;
        Ok((message_id, message.body))
    }
}

/// Whether SQS takes the text as a message body: it refuses characters outside
/// #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF, which JSON may carry.
fn sqs_accepts(text: &str) -> bool {
    text.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

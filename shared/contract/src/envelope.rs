//! The queue message the intake writes and every consumer reads: the accepted webhook
//! with its identity and trace ids, inline or as a claim check on an object in S3.

use bridge_domain::{EventType, Source};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const ENVELOPE_VERSION: u8 = 1;

/// Message attribute names, set beside the body so that tools can filter without parsing.
pub mod attributes {
    pub const EVENT_TYPE: &str = "event_type";
    pub const WEBHOOK_ID: &str = "webhook_id";
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const SOURCE: &str = "source";
    /// Set on messages a consumer moved to its dead-letter queue.
    pub const FAILURE_REASON: &str = "failure_reason";
    pub const FAILURE_CODE: &str = "failure_code";
    pub const FAILURE_CLASS: &str = "failure_class";
    pub const FAILED_BY: &str = "failed_by";
    /// How often SQS had delivered the message when it was dead-lettered.
    pub const RECEIVE_COUNT: &str = "receive_count";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u8,
    pub webhook_id: String,
    pub source: Source,
    pub event_type: EventType,
    pub correlation_id: String,
    pub received_at: DateTime<Utc>,
    pub payload: Payload,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// The webhook body itself.
    Inline { body: Value },
    /// The body is too large for the queue: it is stored under `key` in the payload bucket.
    ClaimCheck {
        key: String,
        sha256: String,
        bytes: u64,
    },
}

impl Envelope {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The message attributes that travel beside the envelope on its queue.
    pub fn message_attributes(&self) -> std::collections::BTreeMap<String, String> {
        [
            (attributes::EVENT_TYPE, self.event_type.to_string()),
            (attributes::WEBHOOK_ID, self.webhook_id.clone()),
            (attributes::CORRELATION_ID, self.correlation_id.clone()),
            (attributes::SOURCE, self.source.to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }

    /// The S3 key of a claim check for `webhook_id` (random suffix: ids are sender-chosen).
    pub fn claim_check_key(webhook_id: &str) -> String {
        let safe: String = webhook_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(128)
            .collect();
        format!("claims/{safe}-{}.json", uuid::Uuid::new_v4())
    }
}

//! Reading a queue message back into the event the intake accepted: the envelope checks,
//! the claim check (fetched and hash-checked), and the event's validation, again. One place
//! for every consumer.

use crate::MessageError;
use bridge_contract::envelope::ENVELOPE_VERSION;
use bridge_contract::{Envelope, ParsedEvent, Payload, parse_event};
use bridge_domain::error::cause_chain;
use bridge_domain::ports::ObjectStore;
use bridge_domain::{EventType, EventTypes, Route, Sender};
use sha2::{Digest, Sha256};

/// The event a message carries, if it belongs on `route`'s queue.
pub async fn read_event(
    body: &str,
    route: Route,
    objects: &dyn ObjectStore,
) -> Result<ParsedEvent, MessageError> {
    let envelope = Envelope::from_json(body).map_err(|e| {
        MessageError::permanent("invalid_envelope", format!("not a bridge envelope: {e}"))
    })?;
    if envelope.version != ENVELOPE_VERSION {
        return Err(MessageError::permanent(
            "unsupported_envelope",
            format!(
                "envelope version {} is not {ENVELOPE_VERSION}",
                envelope.version
            ),
        ));
    }
    if envelope.event_type.route() != route {
        return Err(MessageError::permanent(
            "wrong_queue",
            format!(
                "{} does not belong on the {} queue",
                envelope.event_type,
                route.as_str()
            ),
        ));
    }
    let bytes = payload(&envelope, objects).await?;
    // Which source may send which type is the intake's decision (its configuration); a
    // consumer only checks that the body is the type its envelope says.
    let sender = Sender {
        source: envelope.source.clone(),
        may_send: EventTypes::of(EventType::ALL),
    };
    let parsed = parse_event(&sender, &bytes).map_err(|e| {
        MessageError::permanent(
            "invalid_event",
            format!(
                "{} (field {})",
                e.message,
                e.field.as_deref().unwrap_or("-")
            ),
        )
    })?;
    if parsed.event_type != envelope.event_type {
        return Err(MessageError::permanent(
            "type_mismatch",
            format!(
                "the envelope says {}, the event is {}",
                envelope.event_type, parsed.event_type
            ),
        ));
    }
    Ok(parsed)
}

/// The webhook body, inline or fetched from its claim check and checked against its hash.
async fn payload(envelope: &Envelope, objects: &dyn ObjectStore) -> Result<Vec<u8>, MessageError> {
    match &envelope.payload {
        Payload::Inline { body } => Ok(serde_json::to_vec(body).expect("a JSON value serializes")),
        Payload::ClaimCheck { key, sha256, .. } => {
            let bytes = objects.get(key).await.map_err(|e| MessageError {
                class: e.class,
                code: "claim_check_unreadable".into(),
                message: cause_chain(&e),
            })?;
            let actual: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if &actual != sha256 {
                return Err(MessageError::permanent(
                    "claim_check_mismatch",
                    format!("the object {key} does not match the hash the intake recorded"),
                ));
            }
            Ok(bytes)
        }
    }
}

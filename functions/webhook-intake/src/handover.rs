//! Events another function hands to the intake (the shop's order feed, partners'
//! documents): the source they come in as, checked at init, and the short wait for another
//! delivery of the same event that holds its receipt.

use crate::{Accepted, EventIntake};
use bridge_domain::{EventType, Sender};
use bridge_lambda::Metrics;
use chrono::Utc;
use std::time::Duration;

/// Pauses before each attempt while another delivery of the same event holds its receipt
/// (the first attempt at once): two deliveries of one message often arrive in one batch,
/// and a moment's wait for the other's verdict beats a retry minutes later.
pub const IN_FLIGHT_WAITS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_millis(200),
    Duration::from_millis(500),
    Duration::from_millis(1000),
];

/// The configured source cannot hand the function's events over.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "{setting} names source {name:?}, which WEBHOOK_SOURCES does not configure; add it with {event_type}"
    )]
    Unknown {
        setting: &'static str,
        name: String,
        event_type: &'static str,
    },
    #[error(
        "{setting} names source {name:?}, which WEBHOOK_SOURCES does not allow to send {event_type}"
    )]
    NotAllowed {
        setting: &'static str,
        name: String,
        event_type: &'static str,
    },
}

/// The sender the events come in as (`found`: what the intake's sources say of `name`,
/// the value of the function's `setting`), checked: it exists and may send `event_type`.
pub fn checked_sender(
    found: Option<Sender>,
    setting: &'static str,
    name: &str,
    event_type: EventType,
) -> Result<Sender, SourceError> {
    let Some(sender) = found else {
        return Err(SourceError::Unknown {
            setting,
            name: name.to_string(),
            event_type: event_type.as_str(),
        });
    };
    if !sender.allows(event_type) {
        return Err(SourceError::NotAllowed {
            setting,
            name: name.to_string(),
            event_type: event_type.as_str(),
        });
    }
    Ok(sender)
}

/// `intake.accept`, waiting out [`IN_FLIGHT_WAITS`] while another delivery holds the
/// receipt; `InFlight` if it still does after the last.
pub async fn accept_waiting(
    intake: &dyn EventIntake,
    sender: &Sender,
    receipt: &str,
    correlation_id: &str,
    body: &[u8],
    metrics: &mut Metrics,
) -> Accepted {
    let mut accepted = Accepted::InFlight;
    for wait in IN_FLIGHT_WAITS {
        tokio::time::sleep(wait).await;
        accepted = intake
            .accept(sender, receipt, correlation_id, body, Utc::now(), metrics)
            .await;
        if accepted != Accepted::InFlight {
            break;
        }
    }
    accepted
}

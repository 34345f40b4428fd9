//! The external contract (`contracts.md` sections 1, 2, 7 and 8) on the wire: JSON events and
//! openTRANS documents.
//!
//! **API boundary:** this is the only crate that knows the JSON shape of webhook events
//! and of queue messages. It turns bytes into `bridge_domain` values, reporting every
//! violation with a JSON pointer to the offending field.

pub mod delimited;
pub mod envelope;
pub mod json;
pub mod opentrans;
pub mod read_api;
pub mod signature;
pub mod webhook;
pub mod xml;

pub use envelope::{Envelope, Payload};
pub use json::ContractError;
pub use signature::{SignatureError, SigningSecret, sign, verify};
pub use webhook::{
    ParsedEvent, order_placed_body, parse_data, parse_event, parse_event_value, parse_json,
};

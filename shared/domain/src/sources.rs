//! The systems that push events, and what each may send: configuration, not code
//! (contract version 2, "Sources are configuration"). A new sender (a second ERP, a CRM, a
//! carrier) is one entry here, with its own signing secrets beside it.

use crate::error::InvalidValue;
use crate::events::EventType;
use std::collections::BTreeMap;
use std::fmt;

/// The name a system posts under (`POST /webhooks/{source}`) and signs with its own
/// secrets. It appears in URLs, receipt keys and metrics, hence the narrow alphabet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Source(String);

crate::serialize_as_str!(Source, |v| v.as_str());

const MAX_SOURCE_LEN: usize = 32;

impl Source {
    /// The ERP of contract section 1: master data and order status.
    pub const ERP: &'static str = "erp";
    /// The shop of contract section 1: placed orders.
    pub const SHOP: &'static str = "shop";

    /// A source name: 1 to 32 of `a-z`, `0-9`, `-` and `_`, starting with a letter or digit.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let valid = !value.is_empty()
            && value.len() <= MAX_SOURCE_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && value
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !valid {
            return Err(InvalidValue::new(
                "invalid_source",
                format!(
                    "{value:?} is not a source name (1 to {MAX_SOURCE_LEN} of a-z, 0-9, - and _, starting with a letter or digit)"
                ),
            ));
        }
        Ok(Self(value.to_string()))
    }

    pub fn erp() -> Self {
        Self(Self::ERP.to_string())
    }

    pub fn shop() -> Self {
        Self(Self::SHOP.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Source {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of event types (one bit each: copied per request without allocating).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventTypes(u32);

impl EventTypes {
    pub fn of(types: impl IntoIterator<Item = EventType>) -> Self {
        types.into_iter().fold(Self(0), |set, t| set.with(t))
    }

    pub fn with(self, event_type: EventType) -> Self {
        Self(self.0 | Self::bit(event_type))
    }

    pub fn contains(&self, event_type: EventType) -> bool {
        self.0 & Self::bit(event_type) != 0
    }

    pub fn iter(&self) -> impl Iterator<Item = EventType> + '_ {
        EventType::ALL.into_iter().filter(|t| self.contains(*t))
    }

    fn bit(event_type: EventType) -> u32 {
        let index = EventType::ALL
            .iter()
            .position(|t| *t == event_type)
            .expect("every type is in ALL");
        1 << index
    }
}

/// One configured sender: its name and the event types it may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub source: Source,
    pub may_send: EventTypes,
}

impl Sender {
    pub fn allows(&self, event_type: EventType) -> bool {
        self.may_send.contains(event_type)
    }
}

/// Every configured source with the event types it may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources(BTreeMap<Source, EventTypes>);

impl Sources {
    /// The sources of the contract: the ERP owns master data, order and return status; the
    /// shop placed orders, returns, payments and registrations (section 9); logistics
    /// shipments (section 8); the CRM contacts; the payment service provider payments.
    /// What a stack runs with when it configures nothing else.
    pub fn contract() -> Self {
        Self(BTreeMap::from([
            (
                Source::erp(),
                EventTypes::of([
                    EventType::StockChanged,
                    EventType::PriceChanged,
                    EventType::CustomerChanged,
                    EventType::OrderStatusChanged,
                    EventType::ReturnStatusChanged,
                ]),
            ),
            (
                Source::shop(),
                EventTypes::of([
                    EventType::OrderPlaced,
                    EventType::ReturnRequested,
                    EventType::PaymentReceived,
                    EventType::AccountRegistered,
                ]),
            ),
            (
                Source::parse("logistics").expect("a valid source name"),
                EventTypes::of([EventType::ShipmentUpdated]),
            ),
            (
                Source::parse("crm").expect("a valid source name"),
                EventTypes::of([EventType::ContactChanged]),
            ),
            (
                Source::parse("psp").expect("a valid source name"),
                EventTypes::of([EventType::PaymentReceived]),
            ),
        ]))
    }

    /// Parses `erp=stock.changed,price.changed;shop=order.placed`: sources separated by
    /// `;`, each `name=type,type,...`. Every problem is refused, none skipped: a typo in a
    /// type would otherwise turn a sender's events into 400s only once it sends them.
    pub fn parse(spec: &str) -> Result<Self, InvalidValue> {
        let invalid = |message: String| InvalidValue::new("invalid_sources", message);
        let mut sources = BTreeMap::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, types) = entry.split_once('=').ok_or_else(|| {
                invalid(format!(
                    "{entry:?} is not of the form name=type,type (for example erp=stock.changed,price.changed)"
                ))
            })?;
            let source = Source::parse(name.trim()).map_err(|e| invalid(e.message))?;
            let mut may_send = EventTypes::default();
            for name in types.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                let event_type = EventType::parse(name).ok_or_else(|| {
                    invalid(format!(
                        "source {source}: {name:?} is not an event type of the contract ({})",
                        EventType::ALL.map(|t| t.as_str()).join(", ")
                    ))
                })?;
                may_send = may_send.with(event_type);
            }
            if may_send == EventTypes::default() {
                return Err(invalid(format!("source {source} may send no event type")));
            }
            if sources.insert(source.clone(), may_send).is_some() {
                return Err(invalid(format!("source {source} is configured twice")));
            }
        }
        if sources.is_empty() {
            return Err(invalid("no source is configured".to_string()));
        }
        Ok(Self(sources))
    }

    /// The configured sender named `name` (a path segment of the request).
    pub fn sender(&self, name: &str) -> Option<Sender> {
        self.0.get_key_value(name).map(|(source, may_send)| Sender {
            source: source.clone(),
            may_send: *may_send,
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &Source> {
        self.0.keys()
    }
}

impl std::borrow::Borrow<str> for Source {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = self
            .0
            .iter()
            .map(|(source, types)| {
                let types: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
                format!("{source}={}", types.join(","))
            })
            .collect();
        f.write_str(&entries.join(";"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_sources_send_what_section_1_says() {
        let sources = Sources::contract();
        let erp = sources.sender("erp").unwrap();
        let shop = sources.sender("shop").unwrap();
        assert!(erp.allows(EventType::PriceChanged) && !erp.allows(EventType::OrderPlaced));
        assert!(shop.allows(EventType::OrderPlaced) && !shop.allows(EventType::StockChanged));
        assert!(
            sources
                .sender("crm")
                .unwrap()
                .allows(EventType::ContactChanged)
        );
        assert!(
            sources
                .sender("psp")
                .unwrap()
                .allows(EventType::PaymentReceived)
        );
        assert!(sources.sender("pim").is_none());
        assert_eq!(
            Sources::parse(&Sources::contract().to_string()).unwrap(),
            sources
        );
    }

    #[test]
    fn a_new_source_is_one_entry() {
        let sources = Sources::parse(
            " erp=stock.changed,price.changed ; erp-eu_2=stock.changed;shop=order.placed;",
        )
        .unwrap();
        let eu = sources.sender("erp-eu_2").unwrap();
        assert_eq!(eu.source.as_str(), "erp-eu_2");
        assert!(eu.allows(EventType::StockChanged) && !eu.allows(EventType::PriceChanged));
        assert_eq!(sources.names().count(), 3);
    }

    #[test]
    fn bad_configuration_is_refused_with_what_is_wrong() {
        for (spec, says) in [
            ("", "no source"),
            ("erp", "form name=type"),
            ("ERP=stock.changed", "not a source name"),
            ("erp=stock.chnged", "\"stock.chnged\" is not an event type"),
            ("erp=", "may send no event type"),
            ("erp=stock.changed;erp=price.changed", "configured twice"),
            ("web/hooks=stock.changed", "not a source name"),
        ] {
            let err = Sources::parse(spec).unwrap_err();
            assert!(err.message.contains(says), "{spec:?}: {err}");
        }
    }

    #[test]
    fn source_names_fit_urls_and_keys() {
        for good in ["erp", "shop", "psp", "erp-eu", "3pl_dhl"] {
            assert!(Source::parse(good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(33);
        for bad in ["", "-erp", "Erp", "erp#1", "erp shop", too_long.as_str()] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }
}

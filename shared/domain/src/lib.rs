//! The domain of the B2B bridge.
//!
//! **Architecture invariant:** this crate knows no AWS SDK, no Lambda event shape and no
//! JSON wire format. It holds values that can only be valid once constructed, the rules
//! (revision guard, price resolution) and the ports the adapters implement. Everything
//! here is deterministic and testable without I/O.

/// Serializes a string newtype as its text, without the clone `#[serde(into)]` makes
/// (products are hashed through their serialization, for every row of an import).
macro_rules! serialize_as_str {
    ($name:ty, $text:expr) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let text: fn(&$name) -> &str = $text;
                serializer.serialize_str(text(self))
            }
        }
    };
}
pub(crate) use serialize_as_str;

pub mod error;
pub mod events;
pub mod feedback;
pub mod freshness;
pub mod ids;
#[cfg(feature = "memory")]
pub mod memory;
pub mod money;
pub mod orders;
pub mod ports;
pub mod pricing;
pub mod product;
pub mod pull;
pub mod reconcile;
pub mod revision;
pub mod shipments;
pub mod shop;
pub mod shop_prices;
pub mod sources;

pub use error::{ErrorClass, InvalidValue, PortError};
pub use events::{
    CustomerChanged, DomainEvent, EventType, OrderPlaced, OrderStatusChanged, PriceChanged, Route,
    ShipmentStatus, ShipmentUpdated, StockChanged,
};
pub use ids::{
    ContactId, CostCenter, CustomerId, OrderId, PaymentId, PriceListId, RegistrationId, ReturnId,
    ShipmentId, Sku, WarehouseId,
};
pub use money::{Currency, Money, Quantity, UnitCode};
pub use revision::{ApplyOutcome, Revision};
pub use sources::{EventTypes, Sender, Source, Sources};

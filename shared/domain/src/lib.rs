//! The domain of the B2B bridge.
//!
//! **Architecture invariant:** this crate knows no AWS SDK, no Lambda event shape and no
//! JSON wire format. It holds values that can only be valid once constructed, the rules
//! (revision guard, price resolution) and the ports the adapters implement. Everything
//! here is deterministic and testable without I/O.

pub mod error;
pub mod events;
pub mod ids;
pub mod money;
pub mod ports;
pub mod pricing;
pub mod product;
pub mod revision;

pub use error::{ErrorClass, InvalidValue, PortError};
pub use events::{
    CustomerChanged, DomainEvent, EventType, OrderPlaced, OrderStatusChanged, PriceChanged, Route,
    Source, StockChanged,
};
pub use ids::{CostCenter, CustomerId, OrderId, PriceListId, Sku, WarehouseId};
pub use money::{Currency, Money, Quantity, UnitCode};
pub use revision::{ApplyOutcome, Revision};

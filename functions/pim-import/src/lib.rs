//! PIM import (contract section 3): catalogs dropped under `pim/inbox/` become products,
//! with a quality report, guards against broken exports, and bounded memory.

pub mod content;
pub mod formats;
pub mod handler;
pub mod import;
pub mod index;
pub mod report;
pub mod wiring;

pub use import::{ImportError, ImportPorts, ImportSettings, Importer, RunOutcome};
pub use report::{Counts, ImportReport};

//! The import of one file, in passes that can stop and continue in a later invocation:
//!
//! 1. `scan`: read every record, apply the quality rules, find repeats and conflicts;
//!    nothing is written yet.
//! 2. guards: too many rejections, or (full catalogs) too many deactivations, quarantine
//!    the file with nothing applied.
//! 3. `apply`: read the file again and write the products whose content hash changed.
//! 4. `deactivate` (full catalogs): mark active products absent from the file inactive.
//! 5. report beside the file, file moved to `processed/` or `quarantine/`.
//!
//! Between invocations the state (pass, records done, rejections, counts) is a checkpoint
//! object in the bucket. The sku index (repeats, conflicts, the skus a complete catalog
//! has) is not part of it: it lives in temporary files of the invocation (bounded memory,
//! see `index`), and a continuation rebuilds it by reading the file again, which costs
//! parsing and the quality rules, never a write. The apply pass skips what it had written,
//! and rewriting would be a no-op anyway since unchanged content is not written.
//!
//! The parts: `settings` (what an importer is given), `run` (one invocation: claim, the
//! passes in order, pause or finish), `checkpoint` (the state between invocations),
//! `scan` (the first pass and the sku index), `apply` (writing the products), `finish`
//! (report, move, ledger) and `sweep` (files whose event was lost).

mod apply;
mod checkpoint;
mod finish;
mod run;
mod scan;
mod settings;
mod sweep;

pub use run::{RunOutcome, Stop};
pub use scan::{Tally, finish_scan, scan_record};
pub use settings::{ImportError, ImportPorts, ImportSettings};

use crate::content;
use bridge_domain::product::Product;

pub const INBOX: &str = "pim/inbox/";
pub const FULL: &str = "pim/inbox/full/";

/// The key below the inbox (`full/a.csv` for `pim/inbox/full/a.csv`).
fn relative(file: &str) -> &str {
    file.strip_prefix(INBOX).unwrap_or(file)
}

pub fn report_key(file: &str) -> String {
    format!("pim/reports/{}.json", relative(file))
}

/// The content hash of a product as stored: 128 bits of xxh3 over its canonical encoding
/// (see `content.rs`).
pub fn content_hash(product: &Product) -> String {
    content::hash_text(content::digest(product))
}

pub struct Importer {
    settings: ImportSettings,
    ports: ImportPorts,
    /// The object version the passes read (`None`: the current one).
    pinned: Option<String>,
}

impl Importer {
    pub fn new(settings: ImportSettings, ports: ImportPorts) -> Self {
        Self {
            settings,
            ports,
            pinned: None,
        }
    }

    /// This importer reading one version of the files.
    fn pinned_to(&self, version: Option<String>) -> Importer {
        Importer {
            settings: self.settings.clone(),
            ports: self.ports.clone(),
            pinned: version,
        }
    }

    fn clone_parts(&self) -> Importer {
        self.pinned_to(self.pinned.clone())
    }
}

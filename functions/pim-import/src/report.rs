//! The report written beside every imported file (`pim/reports/<file>.json`).

use bridge_domain::product::Rejection;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records read (rows, lines, products).
    pub total: u64,
    /// Records that passed the quality rules (first occurrence of each sku).
    pub valid: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows not imported (quality rules, unreadable records, conflicts).
    pub rejected: u64,
    pub warnings: u64,
    /// Identical repeats of a sku, imported once.
    pub duplicates: u64,
    /// Rows involved in conflicts (same sku, different content).
    pub conflicts: u64,
    /// Full catalogs: products made inactive because the file lacks them.
    pub deactivated: u64,
    /// Full catalogs: active products before the import.
    pub active_before: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub file: String,
    pub import_id: String,
    pub format: String,
    pub compressed: bool,
    /// `full` (absent products become inactive) or `delta`.
    pub mode: String,
    /// `applied` or `quarantined`.
    pub status: bridge_domain::ports::ImportStatus,
    /// Why the file was quarantined.
    pub reason: Option<String>,
    pub moved_to: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Invocations the import took.
    pub runs: u32,
    pub counts: Counts,
    pub warnings: Vec<String>,
    pub rejections: Vec<Rejection>,
}

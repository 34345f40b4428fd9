//! The state of an import between invocations: the pass it is in, how far it got and
//! what it found, stored as a JSON object in the bucket (`pim/work/<import id>...`).

use super::scan::Tally;
use crate::report::Counts;
use bridge_domain::product::Rejection;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The checkpoint's format: 2 since the sku index is rebuilt instead of carried.
pub(super) const CHECKPOINT_VERSION: u32 = 2;

pub(super) fn checkpoint_key(import_id: &str) -> String {
    format!("pim/work/{import_id}.checkpoint.json")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Phase {
    Scan,
    Count,
    Apply,
    Deactivate,
}

impl Phase {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Phase::Scan => "scan",
            Phase::Count => "count",
            Phase::Apply => "apply",
            Phase::Deactivate => "deactivate",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "CheckpointWire", into = "CheckpointWire")]
pub(super) struct Checkpoint {
    pub(super) phase: Phase,
    /// Records consumed in the current pass.
    pub(super) records_done: u64,
    /// Table scan position in `count` and `deactivate`.
    pub(super) scan_cursor: Option<String>,
    pub(super) tally: Tally,
    pub(super) started: DateTime<Utc>,
    pub(super) runs: u32,
    pub(super) version: u32,
}

/// The checkpoint as stored (the fields of earlier versions, flat).
#[derive(Serialize, Deserialize)]
struct CheckpointWire {
    phase: Phase,
    records_done: u64,
    scan_cursor: Option<String>,
    /// Version 1 carried the sku index here; it is rebuilt now.
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    index: String,
    rejections: Vec<Rejection>,
    warnings: BTreeSet<String>,
    counts: Counts,
    rejected_lines: u64,
    #[serde(default)]
    unkeyed_rejections: u64,
    #[serde(default)]
    explicit_deactivations: u64,
    started: DateTime<Utc>,
    runs: u32,
    #[serde(default)]
    version: u32,
}

impl From<CheckpointWire> for Checkpoint {
    fn from(w: CheckpointWire) -> Self {
        Checkpoint {
            phase: w.phase,
            records_done: w.records_done,
            scan_cursor: w.scan_cursor,
            tally: Tally {
                counts: w.counts,
                rejections: w.rejections,
                warnings: w.warnings,
                rejected_lines: w.rejected_lines,
                unkeyed_rejections: w.unkeyed_rejections,
                explicit_deactivations: w.explicit_deactivations,
            },
            started: w.started,
            runs: w.runs,
            version: w.version,
        }
    }
}

impl From<Checkpoint> for CheckpointWire {
    fn from(c: Checkpoint) -> Self {
        CheckpointWire {
            phase: c.phase,
            records_done: c.records_done,
            scan_cursor: c.scan_cursor,
            index: String::new(),
            rejections: c.tally.rejections,
            warnings: c.tally.warnings,
            counts: c.tally.counts,
            rejected_lines: c.tally.rejected_lines,
            unkeyed_rejections: c.tally.unkeyed_rejections,
            explicit_deactivations: c.tally.explicit_deactivations,
            started: c.started,
            runs: c.runs,
            version: c.version,
        }
    }
}

impl Checkpoint {
    pub(super) fn new(started: DateTime<Utc>) -> Self {
        Checkpoint {
            phase: Phase::Scan,
            records_done: 0,
            scan_cursor: None,
            tally: Tally::default(),
            started,
            runs: 0,
            version: CHECKPOINT_VERSION,
        }
    }
}

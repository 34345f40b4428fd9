//! The report written beside every snapshot (`erp/reports/<file>.json`):
//!
//! ```json
//! {"file": "erp/snapshots/stock-2026-11-26.csv", "version": "...", "kind": "stock",
//!  "started_at": "...", "finished_at": "...", "status": "reconciled", "message": "...",
//!  "counts": {"rows", "records", "unchanged", "applied", "stale_on_apply", "invalid",
//!             "drift": {"content_mismatch", "missing_in_store", "missing_in_snapshot",
//!                       "store_newer"},
//!             "drift_total"},
//!  "drift": [{"kind", "key": {"sku", "warehouse"}, "snapshot": {..} | null,
//!             "store": {..} | null, "applied": bool}],
//!  "invalid": [{"line", "key": {..}, "field", "code", "message"}]}
//! ```
//!
//! The drift and invalid lists can be as long as the snapshot: they are streamed into
//! temporary files and the report file is assembled from them, never held in memory.

use crate::snapshot::SnapshotKind;
use bridge_domain::InvalidValue;
use bridge_domain::reconcile::DriftKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Drifted records by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftCounts {
    pub content_mismatch: u64,
    pub missing_in_store: u64,
    pub missing_in_snapshot: u64,
    pub store_newer: u64,
}

impl DriftCounts {
    pub fn add(&mut self, kind: DriftKind) {
        *match kind {
            DriftKind::ContentMismatch => &mut self.content_mismatch,
            DriftKind::MissingInStore => &mut self.missing_in_store,
            DriftKind::MissingInSnapshot => &mut self.missing_in_snapshot,
            DriftKind::StoreNewer => &mut self.store_newer,
        } += 1;
    }

    pub fn get(&self, kind: DriftKind) -> u64 {
        match kind {
            DriftKind::ContentMismatch => self.content_mismatch,
            DriftKind::MissingInStore => self.missing_in_store,
            DriftKind::MissingInSnapshot => self.missing_in_snapshot,
            DriftKind::StoreNewer => self.store_newer,
        }
    }
}

/// What one run did. Every valid snapshot record ends in exactly one of `unchanged`,
/// `applied`, `stale_on_apply`, `drift.content_mismatch`, `drift.store_newer`:
/// `records` is their sum. `drift.missing_in_store` records were written (`applied`) or
/// found newer on writing (`stale_on_apply`); `drift.missing_in_snapshot` records are the
/// store's only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Data rows read (blank rows aside), valid or not.
    pub rows: u64,
    /// Valid snapshot records (a price record is all tier rows of a price list and sku).
    pub records: u64,
    /// Same revision and content as stored: no write.
    pub unchanged: u64,
    /// Written through the revision guard (newer than stored, or missing in the store).
    pub applied: u64,
    /// A newer revision reached the store between the scan and the write (a webhook).
    pub stale_on_apply: u64,
    /// Entries of the `invalid` list: invalid rows, and records whose rows disagree.
    pub invalid: u64,
    pub drift: DriftCounts,
    pub drift_total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Compared to the end (drift or not).
    Reconciled,
    /// The file could not be used (not a snapshot, a required column missing, corrupt):
    /// nothing applied; `message` says why.
    Failed,
}

/// The report without its lists: what [`crate::Reconciler::reconcile`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileReport {
    /// The snapshot's key.
    pub file: String,
    /// The object version read (`None` in an unversioned bucket).
    pub version: Option<String>,
    /// `None` when the name is not a snapshot's.
    pub kind: Option<SnapshotKind>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub counts: Counts,
    /// Where the report is (not part of it).
    #[serde(skip)]
    pub report_key: String,
}

/// The key of a record as an object of its named parts (an empty part, such as the open
/// start of a price window, is `null`).
pub fn key_object(names: &[&str], parts: &[&str]) -> Value {
    let mut key = Map::new();
    for (name, part) in names.iter().zip(parts) {
        let value = if part.is_empty() {
            Value::Null
        } else {
            Value::String(part.to_string())
        };
        key.insert(name.to_string(), value);
    }
    Value::Object(key)
}

/// One entry of the `drift` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftEntry {
    pub kind: DriftKind,
    pub key: Value,
    pub snapshot: Option<Value>,
    pub store: Option<Value>,
    /// Whether the snapshot's record was written.
    pub applied: bool,
}

/// One entry of the `invalid` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidEntry {
    pub line: u64,
    /// The key as written in the file.
    pub key: Value,
    pub field: String,
    pub code: String,
    pub message: String,
}

impl InvalidEntry {
    pub fn new(
        line: u64,
        names: &[&str],
        parts: &[&str],
        field: &str,
        error: &InvalidValue,
    ) -> Self {
        Self {
            line,
            key: key_object(names, parts),
            field: field.to_string(),
            code: error.code.to_string(),
            message: error.message.clone(),
        }
    }
}

/// Writes the report file: the summary's fields, then the lists copied from their
/// JSON-lines files (absent: empty).
pub fn write_report(
    path: &Path,
    summary: &ReconcileReport,
    drift: Option<&Path>,
    invalid: Option<&Path>,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, File::create(path)?);
    let head = serde_json::to_string(summary).map_err(io::Error::other)?;
    let open = head
        .strip_suffix('}')
        .ok_or_else(|| io::Error::other("the summary is not an object"))?;
    out.write_all(open.as_bytes())?;
    out.write_all(b",\"drift\":[")?;
    copy_lines(drift, &mut out)?;
    out.write_all(b"],\"invalid\":[")?;
    copy_lines(invalid, &mut out)?;
    out.write_all(b"]}\n")?;
    out.flush()
}

/// The lines of a JSON-lines file as the elements of an array.
fn copy_lines(path: Option<&Path>, out: &mut impl Write) -> io::Result<()> {
    let Some(path) = path else {
        return Ok(());
    };
    let mut reader = BufReader::with_capacity(64 * 1024, File::open(path)?);
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let entry = line.strip_suffix(b"\n").unwrap_or(&line);
        if entry.is_empty() {
            continue;
        }
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        out.write_all(entry)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_file_is_the_summary_with_its_lists() {
        let dir = bridge_lambda::scratch::ScratchDir::new(&std::env::temp_dir(), "reconcile-test")
            .unwrap();
        let drift = dir.path().join("drift.jsonl");
        std::fs::write(&drift, "{\"a\":1}\n{\"b\":2}\n").unwrap();
        let summary = ReconcileReport {
            file: "erp/snapshots/stock-1.csv".into(),
            version: Some("v1".into()),
            kind: Some(SnapshotKind::Stock),
            started_at: Utc::now(),
            finished_at: Utc::now(),
            status: Status::Reconciled,
            message: None,
            counts: Counts::default(),
            report_key: "erp/reports/stock-1.csv.json".into(),
        };
        let path = dir.path().join("report.json");
        write_report(&path, &summary, Some(&drift), None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["kind"], "stock");
        assert_eq!(value["status"], "reconciled");
        assert!(value.get("message").is_none());
        assert_eq!(value["drift"].as_array().unwrap().len(), 2);
        assert_eq!(value["invalid"], serde_json::json!([]));
        // The summary reads back from the whole report (the lists are skipped).
        let back: ReconcileReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back.version.as_deref(), Some("v1"));
        assert_eq!(back.counts, summary.counts);
    }
}

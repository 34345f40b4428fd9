//! The reconciliation of one snapshot as a partitioned (Grace) hash join, in memory that
//! does not grow with the file:
//!
//! 1. the snapshot streams once; each valid row goes to one of P partition files by a
//!    hash of its key (all tier rows of a price record land together), each invalid row
//!    to the `invalid` list (and, if its key is valid, a marker to its partition: the
//!    record is in the snapshot but nothing of it applies);
//! 2. the store is scanned once, page by page, each record to the partition file of the
//!    same hash on the store side;
//! 3. per partition, the snapshot side is loaded into a map (a partition larger than
//!    planned is split again with another hash first), the store side streams past it,
//!    every key gets its verdict, drift goes to the `drift` list, and the records to
//!    write are applied through the revision guard.
//!
//! P comes from the object's size (`partition_bytes` of text each), so one partition's
//! map is bounded; everything else is streamed.

use crate::partition::{Lines, MAX_PARTITIONS, Partition, Partitions, bucket, read_lines};
use crate::report::{Counts, DriftEntry, InvalidEntry, key_object};
use crate::snapshot::{CsvSnapshot, ReadError, Snapshot};
use crate::{ReconcileError, ReconcilePorts, ReconcileSettings};
use bridge_domain::ApplyOutcome;
use bridge_domain::reconcile::{DriftKind, Verdict, classify};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::io;
use std::path::{Path, PathBuf};

/// Splitting an oversized partition stops after this many levels (keys that all hash
/// alike are not made smaller by hashing again).
const MAX_LEVELS: u32 = 4;

/// A line of a snapshot-side partition.
#[derive(Serialize, Deserialize)]
enum Entry<R> {
    Row(R),
    /// A row of this key was invalid (and listed): its record applies nothing.
    Invalid(String),
}

/// What the join produced.
pub(crate) enum Ran {
    Joined {
        counts: Counts,
        drift: PathBuf,
        invalid: PathBuf,
    },
    /// The file cannot be used: nothing was applied.
    Failed { message: String, rows: u64 },
}

/// Where a snapshot is read from.
pub(crate) struct Source {
    pub key: String,
    pub version: Option<String>,
    pub size: Option<u64>,
    pub gzip: bool,
}

async fn blocking<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ReconcileError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ReconcileError::Task {
            what,
            panicked: e.is_panic(),
            message: e.to_string(),
        })
}

/// Pass 1's result.
struct Read {
    parts: Vec<Partition>,
    rows: u64,
    bytes: u64,
    invalid: Lines,
    invalid_count: u64,
}

enum PassError {
    Read(ReadError),
    Temp(io::Error),
}

impl From<io::Error> for PassError {
    fn from(e: io::Error) -> Self {
        PassError::Temp(e)
    }
}

impl From<ReadError> for PassError {
    fn from(e: ReadError) -> Self {
        PassError::Read(e)
    }
}

fn read_snapshot<S: Snapshot>(
    input: Box<dyn io::Read + Send>,
    gzip: bool,
    dir: &Path,
    count: usize,
) -> Result<Read, PassError> {
    let mut reader = CsvSnapshot::open(input, gzip, S::REQUIRED, S::OPTIONAL)?;
    let mut parts = Partitions::create(dir, "snapshot", count)?;
    let mut invalid = Lines::create(dir.join("invalid.jsonl"))?;
    let mut rows = 0;
    while let Some(row) = reader.next_row() {
        let row = row?;
        rows += 1;
        match S::parse_row(&row) {
            Ok(parsed) => {
                let key = S::row_key(&parsed);
                parts.write(bucket(&key, 0, count), &Entry::Row(parsed))?;
            }
            Err(error) => {
                invalid.write(&InvalidEntry::new(
                    row.line,
                    S::KEY,
                    &error.raw_key.iter().map(String::as_str).collect::<Vec<_>>(),
                    error.problem.field,
                    &error.problem.error,
                ))?;
                if let Some(key) = error.key {
                    let bucket = bucket(&key, 0, count);
                    parts.write(bucket, &Entry::<S::Row>::Invalid(key))?;
                }
            }
        }
    }
    let bytes = reader.bytes_read();
    let invalid_count = invalid.count();
    Ok(Read {
        parts: parts.finish()?,
        rows,
        bytes,
        invalid,
        invalid_count,
    })
}

/// Reconciles one snapshot of kind `S` using `dir` for its temporary files.
pub(crate) async fn run<S: Snapshot>(
    ports: &ReconcilePorts,
    settings: &ReconcileSettings,
    dir: &Path,
    source: Source,
) -> Result<Ran, ReconcileError> {
    let count =
        crate::partition::partition_count(source.size, source.gzip, settings.partition_bytes);

    // 1. The snapshot, once, into partitions.
    let files = ports.files.clone();
    let snapshot_dir = dir.to_path_buf();
    let read = blocking("snapshot read", move || {
        // `open` blocks on the first bytes of the object: on this thread, as it must.
        let input = files
            .open(&source.key, source.version.as_deref())
            .map_err(ReconcileError::Port)?;
        Ok::<_, ReconcileError>(read_snapshot::<S>(input, source.gzip, &snapshot_dir, count))
    })
    .await??;
    let read = match read {
        Ok(read) => read,
        Err(PassError::Read(ReadError::File(message))) => {
            return Ok(Ran::Failed { message, rows: 0 });
        }
        Err(PassError::Read(ReadError::Io(message))) => return Err(ReconcileError::Read(message)),
        Err(PassError::Temp(e)) => return Err(ReconcileError::TempFiles(e)),
    };

    // 2. The store, once, into the partitions of the other side.
    let store_dir = dir.to_path_buf();
    let mut store = Some(
        blocking("store partitions", move || {
            Partitions::create(&store_dir, "store", count)
        })
        .await??,
    );
    let mut cursor = None;
    loop {
        let (page, next) = S::scan(ports, cursor.take()).await?;
        let mut parts = store.take().expect("the store partitions are there");
        store = Some(
            blocking("store write", move || {
                for record in page {
                    let bucket = bucket(&S::record_key(&record), 0, count);
                    parts.write(bucket, &S::to_stored(record))?;
                }
                Ok::<_, io::Error>(parts)
            })
            .await??,
        );
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let store = store.expect("the store partitions are there");
    let store = blocking("store partitions", move || store.finish()).await??;

    // 3. Partition by partition.
    let entries: u64 = read.parts.iter().map(|p| p.entries).sum();
    // Entries a partition may hold: `partition_bytes` of text at this file's row size.
    let limit = (u128::from(settings.partition_bytes) * u128::from(entries.max(1))
        / u128::from(read.bytes.max(1)))
    .clamp(64, u128::from(u64::MAX)) as u64;
    let mut state = JoinState::<S> {
        counts: Counts {
            rows: read.rows,
            invalid: read.invalid_count,
            ..Counts::default()
        },
        drift: Lines::create(dir.join("drift.jsonl"))?,
        invalid: read.invalid,
        pending: Vec::new(),
    };
    let mut work: Vec<(Partition, Partition, u32)> = read
        .parts
        .into_iter()
        .zip(store)
        .map(|(snapshot, store)| (snapshot, store, 0))
        .rev()
        .collect();
    while let Some((snapshot, store, level)) = work.pop() {
        if snapshot.entries > limit.saturating_mul(2) && level < MAX_LEVELS {
            let children = snapshot
                .entries
                .div_ceil(limit)
                .clamp(2, MAX_PARTITIONS as u64) as usize;
            tracing::debug!(
                entries = snapshot.entries,
                limit,
                children,
                level = level + 1,
                "a partition is larger than planned: split before loading"
            );
            let split = blocking("partition split", move || {
                split::<S>(snapshot, store, level + 1, children)
            })
            .await??;
            work.extend(split);
            continue;
        }
        let (returned, applies) = blocking("partition join", move || {
            let applies = state.plan(&snapshot, &store);
            (state, applies)
        })
        .await?;
        state = returned;
        let applies = applies?;
        state.pending = apply_all::<S>(ports, applies, settings.apply_concurrency).await?;
    }
    let (counts, drift, invalid) = blocking("join finish", move || state.finish()).await??;
    Ok(Ran::Joined {
        counts,
        drift,
        invalid,
    })
}

/// Splits a partition pair into `children` pairs by the hash of `level`.
fn split<S: Snapshot>(
    snapshot: Partition,
    store: Partition,
    level: u32,
    children: usize,
) -> io::Result<Vec<(Partition, Partition, u32)>> {
    let name = |p: &Partition| {
        p.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let dir = snapshot
        .path
        .parent()
        .ok_or_else(|| io::Error::other("a partition has no directory"))?
        .to_path_buf();
    let mut snapshot_parts = Partitions::create(&dir, &name(&snapshot), children)?;
    read_lines(&snapshot.path, |entry: Entry<S::Row>| {
        let key = match &entry {
            Entry::Row(row) => S::row_key(row),
            Entry::Invalid(key) => key.clone(),
        };
        snapshot_parts.write(bucket(&key, level, children), &entry)
    })?;
    let mut store_parts = Partitions::create(&dir, &name(&store), children)?;
    read_lines(&store.path, |stored: S::Stored| {
        let record = S::from_stored(stored);
        let bucket = bucket(&S::record_key(&record), level, children);
        store_parts.write(bucket, &S::to_stored(record))
    })?;
    std::fs::remove_file(&snapshot.path)?;
    std::fs::remove_file(&store.path)?;
    Ok(snapshot_parts
        .finish()?
        .into_iter()
        .zip(store_parts.finish()?)
        .map(|(a, b)| (a, b, level))
        .collect())
}

/// A snapshot record to write.
struct Apply<R> {
    record: R,
    /// The store lacked it (drift, reported once the write's outcome is known).
    missing: bool,
}

/// One partition's snapshot side, by key.
enum Slot<Row, Record> {
    Rows(Vec<Row>),
    Invalid,
    Record(Record),
}

struct JoinState<S: Snapshot> {
    counts: Counts,
    drift: Lines,
    invalid: Lines,
    /// The last partition's writes, to count and report.
    pending: Vec<(Apply<S::Record>, ApplyOutcome)>,
}

impl<S: Snapshot> JoinState<S> {
    /// Loads a partition's snapshot side, streams its store side past it and returns
    /// the records to write. Its files are removed.
    fn plan(
        &mut self,
        snapshot: &Partition,
        store: &Partition,
    ) -> io::Result<Vec<Apply<S::Record>>> {
        self.record_pending()?;
        let mut map: HashMap<String, Slot<S::Row, S::Record>> =
            HashMap::with_capacity(snapshot.entries as usize);
        read_lines(&snapshot.path, |entry: Entry<S::Row>| {
            match entry {
                Entry::Row(row) => match map.entry(S::row_key(&row)) {
                    MapEntry::Occupied(mut slot) => {
                        if let Slot::Rows(rows) = slot.get_mut() {
                            rows.push(row);
                        }
                    }
                    MapEntry::Vacant(slot) => {
                        slot.insert(Slot::Rows(vec![row]));
                    }
                },
                Entry::Invalid(key) => {
                    map.insert(key, Slot::Invalid);
                }
            }
            Ok(())
        })?;
        for (key, slot) in map.iter_mut() {
            let Slot::Rows(rows) = slot else { continue };
            *slot = match S::assemble(std::mem::take(rows)) {
                Ok(record) => {
                    self.counts.records += 1;
                    Slot::Record(record)
                }
                Err(violation) => {
                    let parts: Vec<&str> = key.split('\t').collect();
                    self.invalid.write(&InvalidEntry::new(
                        violation.line,
                        S::KEY,
                        &parts,
                        violation.field,
                        &violation.error,
                    ))?;
                    self.counts.invalid += 1;
                    Slot::Invalid
                }
            };
        }
        let mut applies = Vec::new();
        read_lines(&store.path, |stored: S::Stored| {
            let stored = S::from_stored(stored);
            let key = S::record_key(&stored);
            match map.remove(&key) {
                Some(Slot::Record(snapshot)) => match classify(Some(&snapshot), Some(&stored)) {
                    Some(Verdict::Unchanged) => self.counts.unchanged += 1,
                    Some(Verdict::Newer) => applies.push(Apply {
                        record: S::prepare(snapshot, Some(&stored)),
                        missing: false,
                    }),
                    Some(verdict) => {
                        let kind = verdict.drift().expect("both sides present: drift");
                        self.write_drift(kind, &key, Some(&snapshot), Some(&stored), false)?;
                    }
                    None => unreachable!("both sides are present"),
                },
                // Invalid in the snapshot: listed there; nothing to compare.
                Some(_) => {}
                // `None` from `classify`: a record the ERP deleted, its export lacks it by right.
                None => {
                    if let Some(verdict) = classify(None, Some(&stored)) {
                        let kind = verdict.drift().expect("only the store has it: drift");
                        self.write_drift(kind, &key, None, Some(&stored), false)?;
                    }
                }
            }
            Ok(())
        })?;
        for slot in map.into_values() {
            if let Slot::Record(snapshot) = slot {
                applies.push(Apply {
                    record: S::prepare(snapshot, None),
                    missing: true,
                });
            }
        }
        std::fs::remove_file(&snapshot.path)?;
        std::fs::remove_file(&store.path)?;
        Ok(applies)
    }

    /// Counts the last writes and reports the missing records among them.
    fn record_pending(&mut self) -> io::Result<()> {
        for (apply, outcome) in std::mem::take(&mut self.pending) {
            let applied = outcome == ApplyOutcome::Applied;
            if applied {
                self.counts.applied += 1;
            } else {
                self.counts.stale_on_apply += 1;
            }
            if apply.missing {
                let key = S::record_key(&apply.record);
                self.write_drift(
                    DriftKind::MissingInStore,
                    &key,
                    Some(&apply.record),
                    None,
                    applied,
                )?;
            }
        }
        Ok(())
    }

    fn write_drift(
        &mut self,
        kind: DriftKind,
        key: &str,
        snapshot: Option<&S::Record>,
        store: Option<&S::Record>,
        applied: bool,
    ) -> io::Result<()> {
        let parts: Vec<&str> = key.split('\t').collect();
        self.drift.write(&DriftEntry {
            kind,
            key: key_object(S::KEY, &parts),
            snapshot: snapshot.map(render::<S>(true)).transpose()?,
            store: store.map(render::<S>(false)).transpose()?,
            applied,
        })?;
        self.counts.drift.add(kind);
        self.counts.drift_total += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<(Counts, PathBuf, PathBuf)> {
        self.record_pending()?;
        let drift = self.drift.finish()?;
        let invalid = self.invalid.finish()?;
        Ok((self.counts, drift.path, invalid.path))
    }
}

/// A record as the report shows it; the snapshot's side without the fields a snapshot
/// cannot state.
fn render<S: Snapshot>(snapshot_side: bool) -> impl Fn(&S::Record) -> io::Result<Value> {
    move |record| {
        let mut value = serde_json::to_value(record).map_err(io::Error::other)?;
        if snapshot_side && let Value::Object(fields) = &mut value {
            for field in S::NOT_IN_SNAPSHOT {
                fields.remove(*field);
            }
        }
        Ok(value)
    }
}

/// Writes `applies` through the store's revision guard, `concurrency` at a time.
async fn apply_all<S: Snapshot>(
    ports: &ReconcilePorts,
    applies: Vec<Apply<S::Record>>,
    concurrency: usize,
) -> Result<Vec<(Apply<S::Record>, ApplyOutcome)>, ReconcileError> {
    use futures::{StreamExt, TryStreamExt};
    let outcomes = futures::stream::iter(applies)
        .map(|apply| async move {
            S::apply(ports, &apply.record)
                .await
                .map(|outcome| (apply, outcome))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(outcomes)
}

//! What an import knows about the skus of a file, in memory that does not grow with the
//! file. Every row becomes a short entry (content hash, ordinal, line, kind, sku text)
//! appended to one of 64 partition files chosen by the top bits of the sku's hash, through
//! a small buffer each. At the end of the scan each partition is read, sorted by sku in memory and replayed, which
//! is where repeats and conflicts show; a partition too large for the memory allowed is
//! split again by the next bits of the hash (and one whose rows all share one sku is
//! replayed as it is, in file order). Two sorted files come out:
//!
//! - the sku set: one entry per distinct sku (its hash and flags), what a complete catalog
//!   compares the product table with, read back by binary search over a sparse in-memory
//!   fence of its keys (at most [`FENCE`] of them);
//! - the exceptions: the ordinals of valid rows that are not applied (identical repeats,
//!   rows of conflicting skus), in file order, which the apply pass reads alongside the
//!   file.
//!
//! Rows are identified by their ordinal in the file (lines can be shared: a minified XML
//! file has one), and reported by their line. The files live in a directory of their own
//! under the configured temporary directory, removed when the index is dropped; nothing of
//! it is carried between invocations: a continuation rebuilds it by reading the file again.
//! On disk a row takes about 14 bytes plus its sku text, a distinct sku 9 more.
//!
//! Skus are keyed by a 64-bit hash: two different skus sharing one (about one chance in
//! 10^7 for a million skus) would show as a conflict, reported, never silently merged.
//!
//! The sorting underneath is in `spill` (the partition files of rows and their replay)
//! and `ordinals` (the exceptions, sorted in runs on disk); this module is what the rows
//! mean: the sku's groups, what is seen about them, the sku set and what applies.

mod ordinals;
mod spill;

use bridge_lambda::scratch::ScratchDir;
use ordinals::{OrdinalMerge, OrdinalSorter, SortedOrdinals};
use spill::{Entry, PART_BITS, Partitions, Scratch, partition, replay};
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64;

/// The sku has rows with different content, or a rejected row besides a valid one.
pub const CONFLICT: u8 = 1;
/// The sku has a rejected row.
pub const REJECTED: u8 = 2;
/// The sku's row switches the product off (status inactive, deletion).
pub const SWITCH_OFF: u8 = 4;
const PROBLEM: u8 = CONFLICT | REJECTED;

/// Most keys the sku set keeps in memory to find its blocks.
pub const FENCE: u64 = 4096;
const DIR_KIND: &str = "pim-import-index";

const KIND_VALID: u8 = 0;
const KIND_SWITCH_OFF: u8 = 1;
const KIND_REJECTED: u8 = 2;
/// Bytes of a sku set entry.
const SET_ENTRY: usize = 9;

pub fn sku_key(sku: &str) -> u64 {
    xxh3_64(sku.as_bytes())
}

/// Where the index keeps its files and how much memory it uses.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// The parent of the index's own directory.
    pub temp_dir: PathBuf,
    /// Most row entries sorted in memory at once (40 bytes each); a larger partition is
    /// split further.
    pub sort_rows: usize,
    /// Buffer of each of the 64 partition files while the scan writes them.
    pub write_buffer: usize,
    /// Buffer of each file read back.
    pub read_buffer: usize,
    /// Exception runs merged at once.
    pub fan_in: usize,
}

impl IndexSettings {
    pub fn new(temp_dir: PathBuf) -> Self {
        Self {
            temp_dir,
            sort_rows: 64 * 1024,
            write_buffer: 32 * 1024,
            read_buffer: 64 * 1024,
            fan_in: 32,
        }
    }
}

/// What the merge found about one row of a sku, in file order per sku.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<'a> {
    /// The sku's first row, valid.
    First { switches_off: bool },
    /// The same content again: imported once.
    Repeat {
        sku: &'a str,
        first_line: u64,
        line: u64,
    },
    /// Different content under the same sku: neither row is imported. `first_was_valid`:
    /// the first row had counted as valid and is now rejected too.
    Conflict {
        sku: &'a str,
        first_line: u64,
        line: u64,
        first_was_valid: bool,
    },
    /// A rejected row after a valid first row of its sku, which is not imported either.
    RejectedAfterValid {
        sku: &'a str,
        first_line: u64,
        line: u64,
    },
}

/// The index while the scan reads the file: rows in, partition files out.
pub struct IndexBuilder {
    dir: ScratchDir,
    settings: IndexSettings,
    parts: Partitions,
    rows: u64,
}

impl std::fmt::Debug for IndexBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexBuilder")
            .field("dir", &self.dir.path())
            .field("rows", &self.rows)
            .finish()
    }
}

impl IndexBuilder {
    pub fn new(settings: IndexSettings) -> io::Result<Self> {
        let mut dir = ScratchDir::new(&settings.temp_dir, DIR_KIND)?;
        let parts = Partitions::new(&mut dir, settings.write_buffer);
        Ok(Self {
            dir,
            settings,
            parts,
            rows: 0,
        })
    }

    /// The directory of the index's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Rows recorded.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Records a valid row of `sku` with this content hash.
    pub fn valid(
        &mut self,
        sku: &str,
        content: u64,
        switches_off: bool,
        ordinal: u64,
        line: u64,
    ) -> io::Result<()> {
        let kind = if switches_off {
            KIND_SWITCH_OFF
        } else {
            KIND_VALID
        };
        self.push(sku, content, kind, ordinal, line)
    }

    /// Records a rejected row whose sku could be read: the sku is in the file (a full
    /// catalog does not deactivate it), but nothing of it is applied.
    pub fn rejected(&mut self, sku: &str, ordinal: u64, line: u64) -> io::Result<()> {
        self.push(sku, 0, KIND_REJECTED, ordinal, line)
    }

    #[inline]
    fn push(
        &mut self,
        sku: &str,
        content: u64,
        kind: u8,
        ordinal: u64,
        line: u64,
    ) -> io::Result<()> {
        // Skus are at most 64 characters.
        if sku.len() > 255 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a sku of more than 255 bytes",
            ));
        }
        let key = sku_key(sku);
        self.parts.push(
            partition(key, 0),
            content,
            ordinal,
            line,
            kind,
            sku.as_bytes(),
        )?;
        self.rows += 1;
        Ok(())
    }

    /// Ends the scan: goes through the rows by sku, reports what it finds to `seen` (in sku
    /// order, rows of a sku in file order), and returns the finished index.
    pub fn finish(self, seen: impl FnMut(Seen<'_>)) -> io::Result<SkuIndex> {
        let IndexBuilder {
            mut dir,
            settings,
            parts,
            rows,
        } = self;
        let set_path = dir.next_file("skus");
        let mut merger = Merger {
            // Keys of the sku set in memory: at most FENCE, one per block of the set.
            block: rows.div_ceil(FENCE).max(128),
            set: BufWriter::with_capacity(settings.read_buffer, File::create(&set_path)?),
            fence: Vec::new(),
            distinct: 0,
            exceptions: OrdinalSorter::new(&settings, dir.path().join("exceptions")),
            group: Group::default(),
            text: Vec::with_capacity(64),
            seen,
        };
        let mut scratch = Scratch::default();
        for (path, count) in parts.close()? {
            replay(
                &mut dir,
                &settings,
                &path,
                count,
                PART_BITS,
                &mut scratch,
                &mut |entry, text| merger.visit(entry, text),
            )?;
        }
        merger.end_group()?;
        let Merger {
            block,
            mut set,
            fence,
            distinct,
            exceptions,
            ..
        } = merger;
        set.flush()?;
        drop(set);
        drop(scratch);
        let exceptions = exceptions.finish()?;
        Ok(SkuIndex {
            set: File::open(&set_path)?,
            distinct,
            block,
            fence,
            cached: None,
            block_bytes: Vec::new(),
            exceptions,
            read_buffer: settings.read_buffer,
            dir,
        })
    }
}

/// The replay's output: the sku set, its fence, the exceptions, and what is seen.
struct Merger<F> {
    block: u64,
    set: BufWriter<File>,
    fence: Vec<u64>,
    distinct: u64,
    exceptions: OrdinalSorter,
    group: Group,
    /// The sku text of the current group.
    text: Vec<u8>,
    seen: F,
}

impl<F: FnMut(Seen<'_>)> Merger<F> {
    /// One row, in (sku key, ordinal) order.
    #[inline]
    fn visit(&mut self, entry: &Entry, text: &[u8]) -> io::Result<()> {
        if self.group.started && self.group.key == entry.key {
            let sku = String::from_utf8_lossy(&self.text);
            return self
                .group
                .next(entry, &sku, &mut self.seen, &mut self.exceptions);
        }
        self.end_group()?;
        self.group = Group::start(entry);
        self.text.clear();
        self.text.extend_from_slice(text);
        if entry.kind != KIND_REJECTED {
            (self.seen)(Seen::First {
                switches_off: entry.kind == KIND_SWITCH_OFF,
            });
        }
        Ok(())
    }

    fn end_group(&mut self) -> io::Result<()> {
        if !self.group.started {
            return Ok(());
        }
        self.group.close(&mut self.exceptions)?;
        if self.distinct.is_multiple_of(self.block) {
            self.fence.push(self.group.key);
        }
        self.distinct += 1;
        let mut flags = self.group.flags;
        if flags & PROBLEM != 0 {
            flags &= !SWITCH_OFF;
        }
        let mut bytes = [0u8; SET_ENTRY];
        bytes[..8].copy_from_slice(&self.group.key.to_le_bytes());
        bytes[8] = flags;
        self.set.write_all(&bytes)?;
        self.group.started = false;
        Ok(())
    }
}

/// The rows of one sku seen so far in the replay.
#[derive(Debug, Default)]
struct Group {
    started: bool,
    key: u64,
    first_ordinal: u64,
    first_line: u64,
    first_valid: bool,
    content: u64,
    flags: u8,
}

impl Group {
    fn start(entry: &Entry) -> Self {
        let (flags, first_valid) = match entry.kind {
            KIND_REJECTED => (REJECTED, false),
            KIND_SWITCH_OFF => (SWITCH_OFF, true),
            _ => (0, true),
        };
        Group {
            started: true,
            key: entry.key,
            first_ordinal: entry.ordinal,
            first_line: entry.line,
            first_valid,
            content: entry.content,
            flags,
        }
    }

    /// A further row of the sku.
    fn next(
        &mut self,
        entry: &Entry,
        sku: &str,
        seen: &mut impl FnMut(Seen<'_>),
        exceptions: &mut OrdinalSorter,
    ) -> io::Result<()> {
        let clean = self.flags & PROBLEM == 0;
        if entry.kind == KIND_REJECTED {
            self.flags |= REJECTED | CONFLICT;
            if clean {
                seen(Seen::RejectedAfterValid {
                    sku,
                    first_line: self.first_line,
                    line: entry.line,
                });
            }
            return Ok(());
        }
        // A valid row after the first is never the one applied.
        exceptions.push(entry.ordinal)?;
        if clean && entry.content == self.content {
            seen(Seen::Repeat {
                sku,
                first_line: self.first_line,
                line: entry.line,
            });
        } else {
            self.flags |= CONFLICT;
            seen(Seen::Conflict {
                sku,
                first_line: self.first_line,
                line: entry.line,
                first_was_valid: clean,
            });
        }
        Ok(())
    }

    /// The end of the sku's rows: its first row is not applied either if the sku has a
    /// problem.
    fn close(&self, exceptions: &mut OrdinalSorter) -> io::Result<()> {
        if self.first_valid && self.flags & PROBLEM != 0 {
            exceptions.push(self.first_ordinal)?;
        }
        Ok(())
    }
}

/// The finished index: the sku set and the rows not applied.
#[derive(Debug)]
pub struct SkuIndex {
    set: File,
    distinct: u64,
    /// Entries per block of the set (one fence key each).
    block: u64,
    fence: Vec<u64>,
    cached: Option<u64>,
    block_bytes: Vec<u8>,
    exceptions: SortedOrdinals,
    read_buffer: usize,
    dir: ScratchDir,
}

impl SkuIndex {
    /// Distinct skus in the file.
    pub fn len(&self) -> u64 {
        self.distinct
    }

    pub fn is_empty(&self) -> bool {
        self.distinct == 0
    }

    /// The directory of the index's files (removed when the index is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The sku's flags, `None` if the file has no row of it.
    pub fn flags(&mut self, sku: &str) -> io::Result<Option<u8>> {
        let key = sku_key(sku);
        let Some(block) = self.fence.partition_point(|k| *k <= key).checked_sub(1) else {
            return Ok(None);
        };
        let block = block as u64;
        if self.cached != Some(block) {
            let first = block * self.block;
            let count = self.block.min(self.distinct - first) as usize;
            self.block_bytes.resize(count * SET_ENTRY, 0);
            self.set.seek(SeekFrom::Start(first * SET_ENTRY as u64))?;
            self.set.read_exact(&mut self.block_bytes)?;
            self.cached = Some(block);
        }
        let entries = self.block_bytes.len() / SET_ENTRY;
        let key_at = |i: usize| {
            u64::from_le_bytes(
                self.block_bytes[i * SET_ENTRY..i * SET_ENTRY + 8]
                    .try_into()
                    .expect("8 bytes"),
            )
        };
        let (mut low, mut high) = (0, entries);
        while low < high {
            let mid = (low + high) / 2;
            match key_at(mid).cmp(&key) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => {
                    return Ok(Some(self.block_bytes[mid * SET_ENTRY + 8]));
                }
            }
        }
        Ok(None)
    }

    /// Whether the file has a row of this sku (valid or rejected).
    pub fn contains(&mut self, sku: &str) -> io::Result<bool> {
        Ok(self.flags(sku)?.is_some())
    }

    /// Whether the file switches this sku off (and will apply it).
    pub fn switches_off(&mut self, sku: &str) -> io::Result<bool> {
        Ok(self
            .flags(sku)?
            .is_some_and(|f| f & SWITCH_OFF != 0 && f & PROBLEM == 0))
    }

    /// The rows to apply, asked about in file order.
    pub fn applying(&self) -> io::Result<Applying<'_>> {
        Ok(Applying(match &self.exceptions {
            SortedOrdinals::Memory(ordinals) => {
                ApplyingFrom::Memory(ordinals.iter().copied().peekable())
            }
            SortedOrdinals::Runs(runs) => {
                let mut merge = OrdinalMerge::open(runs, self.read_buffer)?;
                let next = merge.next()?;
                ApplyingFrom::Runs { merge, next }
            }
        }))
    }
}

/// Which valid rows are applied: all but the exceptions (ordinals asked about in order).
pub struct Applying<'a>(ApplyingFrom<'a>);

enum ApplyingFrom<'a> {
    Memory(std::iter::Peekable<std::iter::Copied<std::slice::Iter<'a, u64>>>),
    Runs {
        merge: OrdinalMerge,
        next: Option<u64>,
    },
}

impl Applying<'_> {
    /// Whether the valid row with this ordinal is the one applied for its sku. Ordinals must
    /// not decrease from one call to the next.
    pub fn applies(&mut self, ordinal: u64) -> io::Result<bool> {
        match &mut self.0 {
            ApplyingFrom::Memory(ordinals) => {
                while ordinals.next_if(|&o| o < ordinal).is_some() {}
                Ok(ordinals.peek() != Some(&ordinal))
            }
            ApplyingFrom::Runs { merge, next } => {
                while next.is_some_and(|o| o < ordinal) {
                    *next = merge.next()?;
                }
                Ok(*next != Some(ordinal))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::{Duration, SystemTime};

    /// Tiny buffers, so that files are written, partitions split and exceptions spilled.
    fn settings(dir: &Path, sort_rows: usize, fan_in: usize) -> IndexSettings {
        IndexSettings {
            temp_dir: dir.to_path_buf(),
            sort_rows,
            write_buffer: 0,
            read_buffer: 64,
            fan_in,
        }
    }

    fn test_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("pim-index-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// One row for the index: a sku and its content, or a rejection.
    #[derive(Clone, Copy, Debug)]
    enum Row {
        Valid(&'static str, u64),
        Off(&'static str, u64),
        Rejected(&'static str),
    }

    fn build(rows: &[Row], settings: IndexSettings) -> (SkuIndex, Vec<String>) {
        let mut builder = IndexBuilder::new(settings).unwrap();
        for (n, row) in rows.iter().enumerate() {
            let (ordinal, line) = (n as u64 + 1, n as u64 + 2);
            match *row {
                Row::Valid(sku, content) => builder.valid(sku, content, false, ordinal, line),
                Row::Off(sku, content) => builder.valid(sku, content, true, ordinal, line),
                Row::Rejected(sku) => builder.rejected(sku, ordinal, line),
            }
            .unwrap();
        }
        let mut events = Vec::new();
        let index = builder
            .finish(|seen| events.push(format!("{seen:?}")))
            .unwrap();
        events.sort();
        (index, events)
    }

    fn applied(index: &SkuIndex, rows: &[Row]) -> Vec<u64> {
        let mut applying = index.applying().unwrap();
        (1..=rows.len() as u64)
            .filter(|&o| !matches!(rows[o as usize - 1], Row::Rejected(_)))
            .filter(|&o| applying.applies(o).unwrap())
            .collect()
    }

    /// The index as it was kept in memory before (a map from sku to its first row), as the
    /// reference for what the spilled one must find.
    fn reference(rows: &[Row]) -> (Vec<String>, Vec<u64>, HashMap<&'static str, u8>) {
        struct First {
            content: u64,
            ordinal: u64,
            line: u64,
            flags: u8,
        }
        let mut map: HashMap<&'static str, First> = HashMap::new();
        let mut events = Vec::new();
        for (n, row) in rows.iter().enumerate() {
            let (ordinal, line) = (n as u64 + 1, n as u64 + 2);
            let (sku, content, flags, rejected) = match *row {
                Row::Valid(s, c) => (s, c, 0, false),
                Row::Off(s, c) => (s, c, SWITCH_OFF, false),
                Row::Rejected(s) => (s, 0, REJECTED, true),
            };
            match map.get_mut(sku) {
                None => {
                    map.insert(
                        sku,
                        First {
                            content,
                            ordinal,
                            line,
                            flags,
                        },
                    );
                    if !rejected {
                        events.push(format!(
                            "{:?}",
                            Seen::First {
                                switches_off: flags != 0
                            }
                        ));
                    }
                }
                Some(first) => {
                    let clean = first.flags & PROBLEM == 0;
                    if rejected {
                        first.flags |= REJECTED | CONFLICT;
                        if clean {
                            events.push(format!(
                                "{:?}",
                                Seen::RejectedAfterValid {
                                    sku,
                                    first_line: first.line,
                                    line
                                }
                            ));
                        }
                    } else if clean && first.content == content {
                        events.push(format!(
                            "{:?}",
                            Seen::Repeat {
                                sku,
                                first_line: first.line,
                                line
                            }
                        ));
                    } else {
                        first.flags |= CONFLICT;
                        events.push(format!(
                            "{:?}",
                            Seen::Conflict {
                                sku,
                                first_line: first.line,
                                line,
                                first_was_valid: clean
                            }
                        ));
                    }
                }
            }
        }
        events.sort();
        let mut applied: Vec<u64> = map
            .values()
            .filter(|f| f.flags & PROBLEM == 0)
            .map(|f| f.ordinal)
            .collect();
        applied.sort();
        let flags = map.iter().map(|(s, f)| (*s, f.flags)).collect();
        (events, applied, flags)
    }

    #[test]
    fn repeats_and_conflicts() {
        let dir = test_dir("repeats");
        let rows = [
            Row::Valid("A", 1),
            Row::Valid("A", 1),
            Row::Valid("A", 9),
            Row::Valid("A", 1),
            Row::Valid("B", 1),
            Row::Valid("B", 1),
        ];
        let (mut index, events) = build(&rows, settings(&dir, 1000, 4));
        assert!(events.contains(&format!(
            "{:?}",
            Seen::Conflict {
                sku: "A",
                first_line: 2,
                line: 4,
                first_was_valid: true
            }
        )));
        assert!(events.contains(&format!(
            "{:?}",
            Seen::Conflict {
                sku: "A",
                first_line: 2,
                line: 5,
                first_was_valid: false
            }
        )));
        assert!(events.contains(&format!(
            "{:?}",
            Seen::Repeat {
                sku: "B",
                first_line: 6,
                line: 7
            }
        )));
        assert_eq!(applied(&index, &rows), vec![5]);
        assert!(index.contains("A").unwrap() && !index.contains("C").unwrap());
        assert_eq!(index.len(), 2);
        drop(index);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_rejected_row_blocks_its_sku_either_way_round() {
        let dir = test_dir("rejected");
        let rows = [
            Row::Rejected("C"),
            Row::Valid("C", 1),
            Row::Valid("D", 1),
            Row::Rejected("D"),
        ];
        let (mut index, events) = build(&rows, settings(&dir, 1000, 4));
        assert!(events.contains(&format!(
            "{:?}",
            Seen::Conflict {
                sku: "C",
                first_line: 2,
                line: 3,
                first_was_valid: false
            }
        )));
        assert!(events.contains(&format!(
            "{:?}",
            Seen::RejectedAfterValid {
                sku: "D",
                first_line: 4,
                line: 5
            }
        )));
        assert!(applied(&index, &rows).is_empty());
        assert!(index.contains("C").unwrap() && index.contains("D").unwrap());
        drop(index);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_identical_repeat_of_a_switch_off_row_is_a_repeat() {
        let dir = test_dir("off");
        let rows = [
            Row::Off("E", 3),
            Row::Off("E", 3),
            Row::Off("F", 3),
            Row::Off("F", 4),
        ];
        let (mut index, events) = build(&rows, settings(&dir, 1000, 4));
        assert!(events.contains(&format!(
            "{:?}",
            Seen::Repeat {
                sku: "E",
                first_line: 2,
                line: 3
            }
        )));
        assert_eq!(applied(&index, &rows), vec![1]);
        assert!(index.switches_off("E").unwrap());
        // A conflicting sku is not applied, so it switches nothing off.
        assert!(!index.switches_off("F").unwrap() && index.contains("F").unwrap());
        drop(index);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Many rows through tiny buffers (partitions split down to single skus, exceptions in
    /// runs merged in several levels): the same findings as the in-memory reference, for
    /// duplicates and conflicts far apart.
    #[test]
    fn duplicates_across_runs_match_the_in_memory_reference() {
        const SKUS: [&str; 40] = [
            "S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11", "S12", "S13",
            "S14", "S15", "S16", "S17", "S18", "S19", "S20", "S21", "S22", "S23", "S24", "S25",
            "S26", "S27", "S28", "S29", "S30", "S31", "S32", "S33", "S34", "S35", "S36", "S37",
            "S38", "S39",
        ];
        let dir = test_dir("runs");
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..20 {
            let mut rows = Vec::new();
            for _ in 0..(50 + round * 20) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let sku = SKUS[(state % 40) as usize];
                rows.push(match (state >> 8) % 10 {
                    0 => Row::Rejected(sku),
                    1 => Row::Off(sku, (state >> 16) % 2),
                    _ => Row::Valid(sku, (state >> 16) % 2),
                });
            }
            // Each row once more, far away: duplicates across runs.
            let mut doubled = rows.clone();
            doubled.extend(rows.iter().rev().take(30));
            let (expected_events, expected_applied, expected_flags) = reference(&doubled);
            for (sort_rows, fan_in) in [(7, 3), (1, 2), (64, 32), (10_000, 4)] {
                let (mut index, events) = build(&doubled, settings(&dir, sort_rows, fan_in));
                assert_eq!(
                    events, expected_events,
                    "round {round}, sorts of {sort_rows}"
                );
                assert_eq!(applied(&index, &doubled), expected_applied, "round {round}");
                for sku in SKUS {
                    let flags = expected_flags.get(sku).copied();
                    assert_eq!(index.contains(sku).unwrap(), flags.is_some(), "{sku}");
                    assert_eq!(
                        index.switches_off(sku).unwrap(),
                        flags.is_some_and(|f| f & SWITCH_OFF != 0 && f & PROBLEM == 0),
                        "{sku}"
                    );
                }
                assert_eq!(index.len() as usize, expected_flags.len());
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A large set: lookups go through the fence and blocks, and the applied rows through
    /// exception runs on disk.
    #[test]
    fn the_sku_set_answers_for_every_sku_of_a_large_file() {
        let dir = test_dir("large");
        // Partitions of about 400 rows, split since at most 100 are sorted at once.
        let mut builder = IndexBuilder::new(settings(&dir, 100, 8)).unwrap();
        let skus: Vec<String> = (0..20_000).map(|n| format!("SKU-{n}")).collect();
        for (n, sku) in skus.iter().enumerate() {
            builder
                .valid(sku, 7, n % 5 == 0, n as u64 + 1, n as u64 + 2)
                .unwrap();
        }
        // Every third sku again with other content: 6,667 conflicts, 13,334 exceptions.
        for (k, sku) in skus.iter().step_by(3).enumerate() {
            builder
                .valid(sku, 8, false, 20_001 + k as u64, 20_002 + k as u64)
                .unwrap();
        }
        assert!(std::fs::read_dir(builder.dir()).unwrap().count() > 60);
        let mut conflicts = 0;
        let mut index = builder
            .finish(|seen| conflicts += usize::from(matches!(seen, Seen::Conflict { .. })))
            .unwrap();
        assert_eq!(conflicts, 6667);
        assert_eq!(index.len(), 20_000);
        for (n, sku) in skus.iter().enumerate() {
            assert!(index.contains(sku).unwrap(), "{sku}");
            assert_eq!(
                index.switches_off(sku).unwrap(),
                n % 5 == 0 && n % 3 != 0,
                "{sku}"
            );
        }
        assert!(!index.contains("SKU-20000").unwrap());
        let mut applying = index.applying().unwrap();
        let applied = (1..=26_667u64)
            .filter(|&o| applying.applies(o).unwrap())
            .count();
        assert_eq!(applied, 20_000 - 6667);
        drop(applying);
        drop(index);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_files_are_removed_with_the_index_and_stale_ones_by_the_next() {
        let dir = test_dir("cleanup");
        let mut builder = IndexBuilder::new(settings(&dir, 2, 2)).unwrap();
        for n in 0..5000u64 {
            builder
                .valid(&format!("X{n}"), 1, false, n + 1, n + 1)
                .unwrap();
        }
        let own = builder.dir().to_path_buf();
        assert!(
            std::fs::read_dir(&own).unwrap().count() >= 4,
            "partitions on disk"
        );
        let index = builder.finish(|_| {}).unwrap();
        assert_eq!(index.dir(), own);
        drop(index);
        assert!(!own.exists());
        // A builder dropped half-way cleans up too.
        let builder = IndexBuilder::new(settings(&dir, 2, 2)).unwrap();
        let own = builder.dir().to_path_buf();
        drop(builder);
        assert!(!own.exists());
        // A directory a dead process left, older than an hour, goes with the next index;
        // a recent one (another import running) stays.
        let stale = dir.join(format!("{DIR_KIND}-1-1-1"));
        let recent = dir.join(format!("{DIR_KIND}-1-1-2"));
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::create_dir_all(&recent).unwrap();
        std::fs::write(stale.join("run-1"), b"x").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .or_else(|_| File::open(&stale))
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(7200))
            .unwrap();
        let builder = IndexBuilder::new(settings(&dir, 2, 2)).unwrap();
        assert!(!stale.exists());
        assert!(recent.exists());
        drop(builder);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// One sku on far more rows than are sorted at once: its partition cannot be split by
    /// the key, and is replayed in file order.
    #[test]
    fn one_sku_on_many_rows_is_replayed_without_sorting() {
        let dir = test_dir("skew");
        let mut rows = vec![Row::Valid("SAME", 1); 300];
        rows.push(Row::Valid("OTHER", 1));
        rows.push(Row::Valid("SAME", 2));
        let (expected_events, expected_applied, _) = reference(&rows);
        let (mut index, events) = build(&rows, settings(&dir, 10, 2));
        assert_eq!(events, expected_events);
        assert_eq!(applied(&index, &rows), expected_applied);
        assert_eq!(expected_applied, vec![301]);
        assert!(index.contains("SAME").unwrap());
        drop(index);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! What an import knows about the skus it has read: compact (33 bytes a sku), so a file of
//! millions of rows fits, and serializable, so an import can continue in another
//! invocation. Rows are identified by their ordinal in the file (lines can be shared: a
//! minified XML file has one), and reported by their line.

use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_64;

const CONFLICT: u8 = 1;
const REJECTED: u8 = 2;
/// The row switches the product off (status inactive, deletion); not a problem.
const SWITCH_OFF: u8 = 4;
const PROBLEM: u8 = CONFLICT | REJECTED;
const ENTRY_BYTES: usize = 33;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    content: u64,
    /// Ordinal of the first row of the sku.
    ordinal: u64,
    line: u64,
    flags: u8,
}

/// What reading one more row of a sku means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first row of this sku.
    First,
    /// The same content again: imported once, with a warning.
    Repeat { first_line: u64 },
    /// Different content under the same sku: neither row is imported. `first_was_valid`:
    /// the first row had counted as valid and is now rejected too.
    Conflict {
        first_line: u64,
        first_was_valid: bool,
    },
}

/// Skus by 64-bit hash. Two different skus sharing a hash (about one chance in 10^10 for a
/// million skus) would show as a conflict: reported, never silently merged.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SkuIndex {
    entries: HashMap<u64, Entry>,
}

pub fn sku_key(sku: &str) -> u64 {
    xxh3_64(sku.as_bytes())
}

impl SkuIndex {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a valid row.
    pub fn valid(&mut self, sku: &str, content: u64, ordinal: u64, line: u64) -> Seen {
        match self.entries.get_mut(&sku_key(sku)) {
            None => {
                self.entries.insert(
                    sku_key(sku),
                    Entry {
                        content,
                        ordinal,
                        line,
                        flags: 0,
                    },
                );
                Seen::First
            }
            Some(entry) if entry.flags == 0 && entry.content == content => Seen::Repeat {
                first_line: entry.line,
            },
            Some(entry) => {
                let first_was_valid = entry.flags == 0;
                entry.flags |= CONFLICT;
                Seen::Conflict {
                    first_line: entry.line,
                    first_was_valid,
                }
            }
        }
    }

    /// Records a rejected row whose sku could be read: the sku is in the file (a full
    /// catalog does not deactivate it), but nothing of it is applied. Returns the first
    /// row's line when that row had counted as valid: it is not imported either.
    pub fn rejected(&mut self, sku: &str, ordinal: u64, line: u64) -> Option<u64> {
        match self.entries.get_mut(&sku_key(sku)) {
            None => {
                self.entries.insert(
                    sku_key(sku),
                    Entry {
                        content: 0,
                        ordinal,
                        line,
                        flags: REJECTED,
                    },
                );
                None
            }
            Some(entry) => {
                let was_valid = entry.flags & PROBLEM == 0;
                entry.flags |= REJECTED | CONFLICT;
                was_valid.then_some(entry.line)
            }
        }
    }

    /// Whether the row with `ordinal` is the one to apply for `sku`.
    pub fn applies(&self, sku: &str, ordinal: u64) -> bool {
        self.entries
            .get(&sku_key(sku))
            .is_some_and(|e| e.flags & PROBLEM == 0 && e.ordinal == ordinal)
    }

    /// Marks the sku's first row as one that switches the product off.
    pub fn mark_switch_off(&mut self, sku: &str) {
        if let Some(entry) = self.entries.get_mut(&sku_key(sku)) {
            entry.flags |= SWITCH_OFF;
        }
    }

    /// Whether the file switches this sku off (and will apply it).
    pub fn switches_off(&self, sku: &str) -> bool {
        self.entries
            .get(&sku_key(sku))
            .is_some_and(|e| e.flags & SWITCH_OFF != 0 && e.flags & PROBLEM == 0)
    }

    pub fn contains(&self, sku: &str) -> bool {
        self.entries.contains_key(&sku_key(sku))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * ENTRY_BYTES);
        for (key, entry) in &self.entries {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&entry.content.to_le_bytes());
            out.extend_from_slice(&entry.ordinal.to_le_bytes());
            out.extend_from_slice(&entry.line.to_le_bytes());
            out.push(entry.flags);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(ENTRY_BYTES) {
            return None;
        }
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let entries = bytes
            .chunks_exact(ENTRY_BYTES)
            .map(|c| {
                (
                    word(&c[0..8]),
                    Entry {
                        content: word(&c[8..16]),
                        ordinal: word(&c[16..24]),
                        line: word(&c[24..32]),
                        flags: c[32],
                    },
                )
            })
            .collect();
        Some(Self { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_and_conflicts() {
        let mut index = SkuIndex::default();
        assert_eq!(index.valid("A", 1, 1, 2), Seen::First);
        assert_eq!(index.valid("A", 1, 2, 3), Seen::Repeat { first_line: 2 });
        assert_eq!(
            index.valid("A", 9, 3, 4),
            Seen::Conflict {
                first_line: 2,
                first_was_valid: true
            }
        );
        assert_eq!(
            index.valid("A", 1, 4, 5),
            Seen::Conflict {
                first_line: 2,
                first_was_valid: false
            }
        );
        assert!(!index.applies("A", 1));
        assert_eq!(index.valid("B", 1, 5, 6), Seen::First);
        assert!(index.applies("B", 5));
        assert!(!index.applies("B", 6));
    }

    #[test]
    fn a_rejected_row_blocks_its_sku_either_way_round() {
        let mut index = SkuIndex::default();
        assert_eq!(index.rejected("C", 1, 8), None);
        assert!(index.contains("C") && !index.applies("C", 1));
        assert_eq!(
            index.valid("C", 1, 2, 9),
            Seen::Conflict {
                first_line: 8,
                first_was_valid: false
            }
        );
        assert_eq!(index.valid("D", 1, 3, 10), Seen::First);
        assert_eq!(index.rejected("D", 4, 11), Some(10));
        assert!(!index.applies("D", 3));
    }

    #[test]
    fn rows_on_one_line_are_told_apart_by_ordinal() {
        let mut index = SkuIndex::default();
        assert_eq!(index.valid("A", 1, 1, 1), Seen::First);
        assert_eq!(index.valid("A", 1, 2, 1), Seen::Repeat { first_line: 1 });
        assert!(index.applies("A", 1) && !index.applies("A", 2));
    }

    #[test]
    fn the_index_round_trips_through_bytes() {
        let mut index = SkuIndex::default();
        index.valid("A", 1, 1, 2);
        index.rejected("B", 2, 3);
        assert_eq!(SkuIndex::from_bytes(&index.to_bytes()), Some(index));
    }
}

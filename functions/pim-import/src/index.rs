//! What an import knows about the skus it has read: compact (25 bytes a sku), so a file of
//! millions of rows fits, and serializable, so an import can continue in another
//! invocation.

use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_64;

const CONFLICT: u8 = 1;
const REJECTED: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    content: u64,
    line: u64,
    flags: u8,
}

/// What reading one more valid row of a sku means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first row of this sku.
    First,
    /// The same content again: imported once, with a warning.
    Repeat { first_line: u64 },
    /// Different content under the same sku: neither row is imported.
    Conflict { first_line: u64, first_time: bool },
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
    pub fn valid(&mut self, sku: &str, content: u64, line: u64) -> Seen {
        match self.entries.get_mut(&sku_key(sku)) {
            None => {
                self.entries.insert(
                    sku_key(sku),
                    Entry {
                        content,
                        line,
                        flags: 0,
                    },
                );
                Seen::First
            }
            Some(entry) if entry.flags & REJECTED != 0 => {
                // An earlier row of this sku was rejected: this one is a conflict with it.
                let first_time = entry.flags & CONFLICT == 0;
                entry.flags |= CONFLICT;
                Seen::Conflict {
                    first_line: entry.line,
                    first_time,
                }
            }
            Some(entry) if entry.content == content && entry.flags & CONFLICT == 0 => {
                Seen::Repeat {
                    first_line: entry.line,
                }
            }
            Some(entry) => {
                let first_time = entry.flags & CONFLICT == 0;
                entry.flags |= CONFLICT;
                Seen::Conflict {
                    first_line: entry.line,
                    first_time,
                }
            }
        }
    }

    /// Records a rejected row whose sku could be read: the sku is in the file (a full
    /// catalog does not deactivate it), but nothing of it is applied.
    pub fn rejected(&mut self, sku: &str, line: u64) {
        self.entries
            .entry(sku_key(sku))
            .and_modify(|e| e.flags |= REJECTED)
            .or_insert(Entry {
                content: 0,
                line,
                flags: REJECTED,
            });
    }

    /// Whether the row at `line` is the one to apply for `sku`.
    pub fn applies(&self, sku: &str, line: u64) -> bool {
        self.entries
            .get(&sku_key(sku))
            .is_some_and(|e| e.flags == 0 && e.line == line)
    }

    pub fn contains(&self, sku: &str) -> bool {
        self.entries.contains_key(&sku_key(sku))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 25);
        for (key, entry) in &self.entries {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&entry.content.to_le_bytes());
            out.extend_from_slice(&entry.line.to_le_bytes());
            out.push(entry.flags);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(25) {
            return None;
        }
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let entries = bytes
            .chunks_exact(25)
            .map(|c| {
                (
                    word(&c[0..8]),
                    Entry {
                        content: word(&c[8..16]),
                        line: word(&c[16..24]),
                        flags: c[24],
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
    fn repeats_conflicts_and_rejections() {
        let mut index = SkuIndex::default();
        assert_eq!(index.valid("A", 1, 2), Seen::First);
        assert_eq!(index.valid("A", 1, 3), Seen::Repeat { first_line: 2 });
        assert_eq!(
            index.valid("A", 9, 4),
            Seen::Conflict {
                first_line: 2,
                first_time: true
            }
        );
        assert_eq!(
            index.valid("A", 1, 5),
            Seen::Conflict {
                first_line: 2,
                first_time: false
            }
        );
        assert!(!index.applies("A", 2));
        assert_eq!(index.valid("B", 1, 6), Seen::First);
        assert!(index.applies("B", 6));
        assert!(!index.applies("B", 7));
        index.rejected("C", 8);
        assert!(index.contains("C") && !index.applies("C", 8));
        assert!(matches!(index.valid("C", 1, 9), Seen::Conflict { .. }));
    }

    #[test]
    fn the_index_round_trips_through_bytes() {
        let mut index = SkuIndex::default();
        index.valid("A", 1, 2);
        index.rejected("B", 3);
        assert_eq!(SkuIndex::from_bytes(&index.to_bytes()), Some(index));
    }
}

//! The spill-to-disk sort of the scan's rows: each row a short encoded entry (content
//! hash, ordinal, line, kind, sku text) appended through a small buffer to one of 64
//! partition files chosen by the top bits of its key, and each partition later replayed
//! in (key, ordinal) order: sorted in memory, split again by the next bits of the key when
//! too large for the memory allowed, or (every bit used, so all rows of one sku) replayed
//! as it is, in file order. What the kinds and contents mean is the index's business.

use super::IndexSettings;
use bridge_lambda::scratch::ScratchDir;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64;

/// Partitions per level: the next 6 bits of the sku hash.
pub(super) const PART_BITS: u32 = 6;
const PARTS: usize = 1 << PART_BITS;

/// One row of a sku as the replay reads it back; its sku text is in the buffer it was read
/// from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) key: u64,
    pub(super) content: u64,
    pub(super) ordinal: u64,
    pub(super) line: u64,
    pub(super) kind: u8,
    text_len: u8,
    /// Where the sku text is in the buffer the entry was read from.
    text_at: u32,
}

/// Longest encoded row: content, two varints, kind, length, a text of 255 bytes.
const MAX_ENTRY: usize = 8 + 10 + 10 + 2 + 255;

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7F) << shift;
        if byte < 0x80 {
            return Some(value);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Appends a row as stored (about 26 bytes for a 12-character sku): its content hash, its
/// ordinal, its line as the distance from the ordinal (both varints), its kind and its sku
/// text. The sku's hash is not stored: it is computed again from the text.
#[inline]
fn encode(out: &mut Vec<u8>, content: u64, ordinal: u64, line: u64, kind: u8, text: &[u8]) {
    out.extend_from_slice(&content.to_le_bytes());
    put_varint(out, ordinal);
    let delta = line.wrapping_sub(ordinal) as i64;
    put_varint(out, ((delta << 1) ^ (delta >> 63)) as u64);
    out.push(kind);
    out.push(text.len() as u8);
    out.extend_from_slice(text);
}

/// The row at `*at` of `bytes`, moving `*at` past it; `None` (and `*at` unmoved) if the
/// bytes end before it does.
#[inline]
fn decode(bytes: &[u8], at: &mut usize) -> Option<Entry> {
    let mut pos = *at;
    let content = u64::from_le_bytes(bytes.get(pos..pos + 8)?.try_into().ok()?);
    pos += 8;
    let ordinal = get_varint(bytes, &mut pos)?;
    let zigzag = get_varint(bytes, &mut pos)?;
    let delta = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
    let (kind, text_len) = (*bytes.get(pos)?, *bytes.get(pos + 1)?);
    pos += 2;
    let text = bytes.get(pos..pos + usize::from(text_len))?;
    let entry = Entry {
        key: xxh3_64(text),
        content,
        ordinal,
        line: ordinal.wrapping_add(delta as u64),
        kind,
        text_len,
        text_at: pos as u32,
    };
    *at = pos + usize::from(text_len);
    Some(entry)
}

/// Reads the rows of a file in chunks (for files too large to read whole).
struct Chunks {
    file: File,
    buffer: Vec<u8>,
    at: usize,
    end: usize,
    eof: bool,
}

impl Chunks {
    fn open(path: &Path, size: usize) -> io::Result<Self> {
        Ok(Chunks {
            file: File::open(path)?,
            buffer: vec![0; size.max(4 * MAX_ENTRY)],
            at: 0,
            end: 0,
            eof: false,
        })
    }

    fn next(&mut self) -> io::Result<Option<Entry>> {
        loop {
            let mut at = self.at;
            if let Some(entry) = decode(&self.buffer[..self.end], &mut at) {
                self.at = at;
                return Ok(Some(entry));
            }
            if self.eof {
                return if self.at == self.end {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a partition of the sku index ends inside a row",
                    ))
                };
            }
            self.buffer.copy_within(self.at..self.end, 0);
            self.end -= self.at;
            self.at = 0;
            let read = self.file.read(&mut self.buffer[self.end..])?;
            self.eof = read == 0;
            self.end += read;
        }
    }

    fn text(&self, entry: &Entry) -> &[u8] {
        let at = entry.text_at as usize;
        &self.buffer[at..at + usize::from(entry.text_len)]
    }
}

/// The partition of `key` at the level that has used `shift` bits of it already.
#[inline]
pub(super) fn partition(key: u64, shift: u32) -> usize {
    ((key << shift) >> (64 - PART_BITS)) as usize
}

/// 64 files written through a buffer each.
pub(super) struct Partitions {
    paths: Vec<PathBuf>,
    files: Vec<Option<File>>,
    buffers: Vec<Vec<u8>>,
    counts: Vec<u64>,
    write_buffer: usize,
}

impl Partitions {
    pub(super) fn new(dir: &mut ScratchDir, write_buffer: usize) -> Self {
        Partitions {
            paths: (0..PARTS).map(|_| dir.next_file("part")).collect(),
            files: (0..PARTS).map(|_| None).collect(),
            buffers: (0..PARTS).map(|_| Vec::new()).collect(),
            counts: vec![0; PARTS],
            write_buffer: write_buffer.max(2 * MAX_ENTRY),
        }
    }

    #[inline]
    pub(super) fn push(
        &mut self,
        part: usize,
        content: u64,
        ordinal: u64,
        line: u64,
        kind: u8,
        text: &[u8],
    ) -> io::Result<()> {
        let buffer = &mut self.buffers[part];
        if buffer.capacity() == 0 {
            buffer.reserve_exact(self.write_buffer);
        }
        encode(buffer, content, ordinal, line, kind, text);
        self.counts[part] += 1;
        if buffer.len() + MAX_ENTRY > self.write_buffer {
            self.flush(part)?;
        }
        Ok(())
    }

    fn flush(&mut self, part: usize) -> io::Result<()> {
        if self.buffers[part].is_empty() {
            return Ok(());
        }
        let file = match &mut self.files[part] {
            Some(file) => file,
            slot => slot.insert(File::create(&self.paths[part])?),
        };
        file.write_all(&self.buffers[part])?;
        self.buffers[part].clear();
        Ok(())
    }

    /// Writes what is buffered; returns each partition's file and count.
    pub(super) fn close(mut self) -> io::Result<Vec<(PathBuf, u64)>> {
        for part in 0..PARTS {
            self.flush(part)?;
        }
        Ok(self.paths.into_iter().zip(self.counts).collect())
    }
}

/// Buffers of the replay, reused from one partition to the next.
#[derive(Default)]
pub(super) struct Scratch {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    order: Vec<u64>,
}

/// Bits of a sort key that hold the entry's index (partitions sorted in memory hold at
/// most 2^20 rows).
const INDEX_BITS: u32 = 20;

/// The order of `entries` (all of one partition, `shift` bits of their keys alike) by key
/// and ordinal, as indexes: 8-byte sort keys (the key's next bits, then the index) sort
/// faster than the entries; runs that share those bits (rows of one sku, or rarely two
/// skus alike in them) are then ordered by key and ordinal.
fn sort(entries: &[Entry], shift: u32, order: &mut Vec<u64>) {
    let index_mask = (1u64 << INDEX_BITS) - 1;
    order.clear();
    order.extend(entries.iter().enumerate().map(|(i, e)| {
        let bits = if shift < 64 { e.key << shift } else { 0 };
        (bits & !index_mask) | i as u64
    }));
    order.sort_unstable();
    let mut start = 0;
    while start < order.len() {
        let bits = order[start] & !index_mask;
        let end = start
            + order[start..]
                .iter()
                .position(|o| o & !index_mask != bits)
                .unwrap_or(order.len() - start);
        if end - start > 1 {
            order[start..end].sort_unstable_by_key(|&o| {
                let e = &entries[(o & index_mask) as usize];
                (e.key, e.ordinal)
            });
        }
        start = end;
    }
}

/// Replays one partition file (`count` rows, `shift` bits of the key used) in (key,
/// ordinal) order to `visit` (each row with its sku text), and removes it.
pub(super) fn replay(
    dir: &mut ScratchDir,
    settings: &IndexSettings,
    path: &Path,
    count: u64,
    shift: u32,
    scratch: &mut Scratch,
    visit: &mut impl FnMut(&Entry, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    if count == 0 {
        return Ok(());
    }
    if count <= settings.sort_rows.clamp(1, 1 << INDEX_BITS) as u64 {
        scratch.bytes.clear();
        File::open(path)?.read_to_end(&mut scratch.bytes)?;
        scratch.entries.clear();
        let mut at = 0;
        while let Some(entry) = decode(&scratch.bytes, &mut at) {
            scratch.entries.push(entry);
        }
        if at != scratch.bytes.len() || scratch.entries.len() as u64 != count {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a partition of the sku index is not as written",
            ));
        }
        sort(&scratch.entries, shift, &mut scratch.order);
        for &o in &scratch.order {
            let entry = &scratch.entries[(o & ((1 << INDEX_BITS) - 1)) as usize];
            let at = entry.text_at as usize;
            visit(entry, &scratch.bytes[at..at + usize::from(entry.text_len)])?;
        }
    } else if shift < 64 {
        // Too many rows to sort at once: split by the next bits of the key.
        let mut parts = Partitions::new(dir, settings.write_buffer);
        let mut input = Chunks::open(path, settings.read_buffer)?;
        while let Some(entry) = input.next()? {
            let text = input.text(&entry);
            let part = partition(entry.key, shift);
            parts.push(
                part,
                entry.content,
                entry.ordinal,
                entry.line,
                entry.kind,
                text,
            )?;
        }
        drop(input);
        std::fs::remove_file(path)?;
        for (part, part_count) in parts.close()? {
            replay(
                dir,
                settings,
                &part,
                part_count,
                shift + PART_BITS,
                scratch,
                visit,
            )?;
        }
        return Ok(());
    } else {
        // Every bit of the key is used: these rows are all of one sku, in file order.
        let mut input = Chunks::open(path, settings.read_buffer)?;
        while let Some(entry) = input.next()? {
            visit(&entry, input.text(&entry))?;
        }
    }
    std::fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{KIND_REJECTED, KIND_SWITCH_OFF, KIND_VALID, sku_key};

    #[test]
    fn row_entries_round_trip_through_their_encoding() {
        let rows = [
            (7u64, 1u64, 2u64, KIND_VALID, "A-1"),
            (u64::MAX, 1 << 40, 3, KIND_SWITCH_OFF, "B"),
            // A minified XML file: many records on line 1.
            (0, 500, 1, KIND_REJECTED, "C/2:x"),
            (1, u64::MAX, u64::MAX, KIND_VALID, ""),
        ];
        let mut bytes = Vec::new();
        for (content, ordinal, line, kind, text) in rows {
            encode(&mut bytes, content, ordinal, line, kind, text.as_bytes());
        }
        let mut at = 0;
        for (content, ordinal, line, kind, text) in rows {
            let entry = decode(&bytes, &mut at).unwrap();
            assert_eq!(
                (entry.content, entry.ordinal, entry.line, entry.kind),
                (content, ordinal, line, kind)
            );
            assert_eq!(entry.key, sku_key(text));
            let start = entry.text_at as usize;
            assert_eq!(
                &bytes[start..start + usize::from(entry.text_len)],
                text.as_bytes()
            );
        }
        assert_eq!(at, bytes.len());
        assert!(decode(&bytes, &mut at).is_none());
        // Cut short anywhere: nothing is read, and the position stays.
        for end in 0..bytes.len() {
            let mut at = 0;
            let mut read = 0;
            while decode(&bytes[..end], &mut at).is_some() {
                read += 1;
            }
            assert!(read < rows.len());
        }
    }
}

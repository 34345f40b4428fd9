//! Temporary files of a partitioned (Grace) hash join: records spread over partition
//! files by a hash of their key, so that each partition's snapshot side fits in memory
//! whatever the size of the snapshot, as JSON lines.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Fewest and most partitions of a snapshot (the most: open files stay far below
/// Lambda's 1024 descriptors).
pub const MIN_PARTITIONS: usize = 8;
pub const MAX_PARTITIONS: usize = 256;
/// How much larger a gzip snapshot's text is assumed to be than the object.
pub const GZIP_RATIO: u64 = 8;
/// Buffer of each partition writer (all of them are open during a pass).
const WRITE_BUFFER: usize = 8 * 1024;

/// Partitions for a snapshot of `object_bytes` (`None`: unknown): about `target_bytes`
/// of snapshot text each, gzip assumed [`GZIP_RATIO`] times smaller than its text.
pub fn partition_count(object_bytes: Option<u64>, gzip: bool, target_bytes: u64) -> usize {
    let Some(bytes) = object_bytes else {
        return MAX_PARTITIONS / 4;
    };
    let text = bytes.saturating_mul(if gzip { GZIP_RATIO } else { 1 });
    let count = text.div_ceil(target_bytes.max(1));
    count.clamp(MIN_PARTITIONS as u64, MAX_PARTITIONS as u64) as usize
}

/// The partition of a key among `count`; each `level` of splitting hashes anew.
pub fn bucket(key: &str, level: u32, count: usize) -> usize {
    (xxhash_rust::xxh3::xxh3_64_with_seed(key.as_bytes(), u64::from(level)) % count as u64) as usize
}

/// A file of JSON lines being written.
pub struct Lines {
    path: PathBuf,
    writer: BufWriter<File>,
    count: u64,
}

impl Lines {
    pub fn create(path: PathBuf) -> io::Result<Self> {
        let writer = BufWriter::with_capacity(WRITE_BUFFER, File::create(&path)?);
        Ok(Self {
            path,
            writer,
            count: 0,
        })
    }

    pub fn write<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.writer, value).map_err(io::Error::other)?;
        self.writer.write_all(b"\n")?;
        self.count += 1;
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> io::Result<Partition> {
        self.writer.flush()?;
        Ok(Partition {
            path: self.path,
            entries: self.count,
        })
    }

    /// Flushes what was written so far (the file stays open).
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// A written partition file.
#[derive(Debug, Clone)]
pub struct Partition {
    pub path: PathBuf,
    pub entries: u64,
}

/// Partition files being written, one per bucket.
pub struct Partitions {
    writers: Vec<Lines>,
}

impl Partitions {
    /// `count` files `<dir>/<name>-<i>.jsonl`.
    pub fn create(dir: &Path, name: &str, count: usize) -> io::Result<Self> {
        let writers = (0..count)
            .map(|i| Lines::create(dir.join(format!("{name}-{i}.jsonl"))))
            .collect::<io::Result<_>>()?;
        Ok(Self { writers })
    }

    pub fn len(&self) -> usize {
        self.writers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.writers.is_empty()
    }

    pub fn write<T: Serialize + ?Sized>(&mut self, bucket: usize, value: &T) -> io::Result<()> {
        self.writers[bucket].write(value)
    }

    pub fn finish(self) -> io::Result<Vec<Partition>> {
        self.writers.into_iter().map(Lines::finish).collect()
    }
}

/// Calls `each` with every line of a JSON-lines file, one in memory at a time.
pub fn read_lines<T: DeserializeOwned>(
    path: &Path,
    mut each: impl FnMut(T) -> io::Result<()>,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(64 * 1024, File::open(path)?);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let value = serde_json::from_str(&line).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is corrupt: {e}", path.display()),
            )
        })?;
        each(value)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_size_within_bounds() {
        let kib = 1024;
        assert_eq!(partition_count(Some(10), false, 256 * kib), MIN_PARTITIONS);
        assert_eq!(partition_count(Some(25 * 256 * kib), false, 256 * kib), 25);
        assert_eq!(partition_count(Some(25 * 32 * kib), true, 256 * kib), 25);
        assert_eq!(
            partition_count(Some(u64::MAX), true, 256 * kib),
            MAX_PARTITIONS
        );
        assert_eq!(partition_count(None, false, 256 * kib), 64);
    }

    #[test]
    fn buckets_are_stable_and_levels_hash_anew() {
        let a = bucket("A-1\tW1", 0, 64);
        assert_eq!(a, bucket("A-1\tW1", 0, 64));
        let moved = (0..200)
            .filter(|i| {
                let key = format!("K-{i}");
                bucket(&key, 0, 8) != bucket(&key, 1, 8)
            })
            .count();
        assert!(moved > 100, "level 1 spreads differently ({moved})");
    }

    #[test]
    fn lines_round_trip_and_the_directory_goes_away() {
        let base = std::env::temp_dir();
        let path;
        {
            let dir = bridge_lambda::scratch::ScratchDir::new(&base, "reconcile-test").unwrap();
            path = dir.path().to_path_buf();
            let mut parts = Partitions::create(dir.path(), "s", 2).unwrap();
            parts.write(1, &("a", 1)).unwrap();
            parts.write(1, &("b", 2)).unwrap();
            let done = parts.finish().unwrap();
            assert_eq!((done[0].entries, done[1].entries), (0, 2));
            let mut seen = Vec::new();
            read_lines(&done[1].path, |v: (String, u32)| {
                seen.push(v);
                Ok(())
            })
            .unwrap();
            assert_eq!(seen, [("a".to_string(), 1), ("b".to_string(), 2)]);
        }
        assert!(!path.exists());
    }
}

//! Ordinals sorted in bounded memory: sorted runs of little-endian u64s spilled to files
//! once the buffer is full, merged down to a bounded number of runs, and read back in
//! order through a heap merge.

use super::IndexSettings;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Ordinals, sorted in bounded memory (runs of sorted little-endian u64s).
pub(super) struct OrdinalSorter {
    buffer: Vec<u64>,
    capacity: usize,
    /// Run files are this path with a number.
    base: PathBuf,
    runs: Vec<PathBuf>,
    files: u64,
    fan_in: usize,
    read_buffer: usize,
}

impl OrdinalSorter {
    pub(super) fn new(settings: &IndexSettings, base: PathBuf) -> Self {
        Self {
            buffer: Vec::new(),
            capacity: settings.sort_rows.max(1),
            base,
            runs: Vec::new(),
            files: 0,
            fan_in: settings.fan_in.max(2),
            read_buffer: settings.read_buffer,
        }
    }

    fn next_path(&mut self) -> PathBuf {
        self.files += 1;
        let mut name = self.base.as_os_str().to_owned();
        name.push(format!("-{}", self.files));
        PathBuf::from(name)
    }

    pub(super) fn push(&mut self, ordinal: u64) -> io::Result<()> {
        if self.buffer.len() >= self.capacity {
            self.buffer.sort_unstable();
            let path = self.next_path();
            write_ordinals(&path, self.buffer.drain(..))?;
            self.runs.push(path);
        }
        self.buffer.push(ordinal);
        Ok(())
    }

    pub(super) fn finish(mut self) -> io::Result<SortedOrdinals> {
        self.buffer.sort_unstable();
        if self.runs.is_empty() {
            return Ok(SortedOrdinals::Memory(self.buffer));
        }
        let path = self.next_path();
        write_ordinals(&path, self.buffer.drain(..))?;
        self.runs.push(path);
        self.buffer = Vec::new();
        while self.runs.len() > self.fan_in {
            let group: Vec<PathBuf> = self.runs.drain(..self.fan_in).collect();
            let path = self.next_path();
            let mut merge = OrdinalMerge::open(&group, self.read_buffer)?;
            let mut out = BufWriter::with_capacity(64 * 1024, File::create(&path)?);
            while let Some(ordinal) = merge.next()? {
                out.write_all(&ordinal.to_le_bytes())?;
            }
            out.flush()?;
            for run in group {
                std::fs::remove_file(run)?;
            }
            self.runs.push(path);
        }
        Ok(SortedOrdinals::Runs(self.runs))
    }
}

fn write_ordinals(path: &Path, ordinals: impl Iterator<Item = u64>) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, File::create(path)?);
    for ordinal in ordinals {
        out.write_all(&ordinal.to_le_bytes())?;
    }
    out.flush()
}

/// Sorted runs read back as one sequence, in order.
pub(super) struct OrdinalMerge {
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
}

impl OrdinalMerge {
    pub(super) fn open(runs: &[PathBuf], read_buffer: usize) -> io::Result<Self> {
        let mut merge = OrdinalMerge {
            readers: Vec::new(),
            heap: BinaryHeap::new(),
        };
        for (i, run) in runs.iter().enumerate() {
            let mut reader = BufReader::with_capacity(read_buffer, File::open(run)?);
            if let Some(ordinal) = read_ordinal(&mut reader)? {
                merge.heap.push(Reverse((ordinal, i)));
            }
            merge.readers.push(reader);
        }
        Ok(merge)
    }

    pub(super) fn next(&mut self) -> io::Result<Option<u64>> {
        let Some(Reverse((ordinal, i))) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(next) = read_ordinal(&mut self.readers[i])? {
            self.heap.push(Reverse((next, i)));
        }
        Ok(Some(ordinal))
    }
}

fn read_ordinal(input: &mut impl Read) -> io::Result<Option<u64>> {
    let mut bytes = [0u8; 8];
    match input.read_exact(&mut bytes) {
        Ok(()) => Ok(Some(u64::from_le_bytes(bytes))),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// The sorter's result: the ordinals in memory when they never filled the buffer, else
/// the files of at most `fan_in` sorted runs.
#[derive(Debug)]
pub(super) enum SortedOrdinals {
    Memory(Vec<u64>),
    Runs(Vec<PathBuf>),
}

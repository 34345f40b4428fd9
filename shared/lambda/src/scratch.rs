//! Scratch directories on the function's ephemeral disk (`/tmp`, up to 10 GiB).
//!
//! A Lambda container outlives its invocations, but an invocation killed by its timeout
//! never runs `Drop`: its files stay on the disk the next invocations share. So each
//! directory is removed when dropped, and creating one first removes the directories of the
//! same kind that are older than any invocation can run.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Longer than Lambda's 15-minute maximum: a directory this old has no invocation left.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A directory of its own under a parent, removed with everything in it when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    files: u64,
}

impl ScratchDir {
    /// A fresh `<parent>/<kind>-<pid>-<nanos>-<n>`, after removing `<kind>-*` directories
    /// older than [`STALE_AFTER`] (left by killed invocations).
    pub fn new(parent: &Path, kind: &str) -> io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(parent)?;
        let prefix = format!("{kind}-");
        remove_stale(parent, &prefix);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        loop {
            let path = parent.join(format!(
                "{prefix}{}-{nanos}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path, files: 0 }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new file name in the directory: `<name>-<n>`.
    pub fn next_file(&mut self, name: &str) -> PathBuf {
        self.files += 1;
        self.path.join(format!("{name}-{}", self.files))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn remove_stale(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(prefix)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > STALE_AFTER);
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    #[test]
    fn a_directory_is_removed_when_dropped_and_a_killed_ones_with_the_next() {
        let parent = std::env::temp_dir().join(format!("scratch-test-{}", std::process::id()));
        let mut dir = ScratchDir::new(&parent, "kind").unwrap();
        let file = dir.next_file("part");
        std::fs::write(&file, b"x").unwrap();
        assert_ne!(file, dir.next_file("part"));
        let own = dir.path().to_path_buf();
        drop(dir);
        assert!(!own.exists());

        // Left by an invocation that was killed an hour ago, one running now, another kind.
        let stale = parent.join("kind-1-1-1");
        let recent = parent.join("kind-1-1-2");
        let other = parent.join("other-1-1-1");
        for d in [&stale, &recent, &other] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("part-1"), b"x").unwrap();
        }
        for d in [&stale, &other] {
            File::open(d)
                .unwrap()
                .set_modified(SystemTime::now() - Duration::from_secs(7200))
                .unwrap();
        }
        let dir = ScratchDir::new(&parent, "kind").unwrap();
        assert!(!stale.exists());
        assert!(recent.exists());
        assert!(other.exists(), "only its own kind");
        drop(dir);
        std::fs::remove_dir_all(&parent).unwrap();
    }
}

//! One client per queue file: a lock on a side file `<path>.lock`, taken
//! without waiting, so a second client (in this process or another) is
//! refused instead of sending the same events twice.
//!
//! On Unix it is a POSIX record lock (`fcntl`): the kernel drops it when the
//! process dies, however it dies, and a forked child does not inherit it (the
//! file stays the parent's, design.md §3.7). Such locks do not exclude other
//! descriptors of the same process, so a registry of the paths locked here
//! refuses a second client within the process.

use crate::error::{Error, ErrorKind, Result};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static LOCKED_HERE: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Held for as long as a client owns the queue file.
pub struct QueueLock {
    key: PathBuf,
    _file: File,
    owner_pid: u32,
}

impl QueueLock {
    /// Takes the lock of the queue file `path`, or fails with `STORAGE_ERROR` naming it.
    pub fn acquire(path: &Path) -> Result<QueueLock> {
        let key = registry_key(path);
        let in_use = || {
            Error::new(
                ErrorKind::Storage,
                format!(
                    "the queue file {} is in use by another client (in this or another process); \
                     give each client its own queue.path",
                    path.display()
                ),
            )
        };
        let mut locked = LOCKED_HERE.lock().unwrap_or_else(|p| p.into_inner());
        let set = locked.get_or_insert_with(HashSet::new);
        if set.contains(&key) {
            return Err(in_use());
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Storage,
                    format!(
                        "the queue file {}'s lock file cannot be opened: {e}",
                        path.display()
                    ),
                )
            })?;
        if !try_lock(&file) {
            return Err(in_use());
        }
        set.insert(key.clone());
        Ok(QueueLock {
            key,
            _file: file,
            owner_pid: crate::process::pid(),
        })
    }
}

impl Drop for QueueLock {
    fn drop(&mut self) {
        if self.owner_pid != crate::process::pid() {
            return; // a forked child's copy: the parent's entry is not ours to remove
        }
        if let Some(set) = LOCKED_HERE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            set.remove(&self.key);
        }
        // Closing the descriptor releases the kernel's lock.
    }
}

/// The same key for every spelling of one file: its directory resolved.
fn registry_key(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_owned()).unwrap_or_default();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::canonicalize(&dir).unwrap_or(dir).join(name)
}

#[cfg(unix)]
fn try_lock(file: &File) -> bool {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock is a plain C struct; zeroed is a valid start.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    // l_start 0, l_len 0: the whole file.
    // SAFETY: a valid open descriptor and a valid flock struct.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) == 0 }
}

#[cfg(not(unix))]
fn try_lock(file: &File) -> bool {
    file.try_lock().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_file_whatever_the_spelling() {
        let dir = std::env::temp_dir().join(format!("aep-edge-lock-{}", crate::process::pid()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("q.db");
        let first = QueueLock::acquire(&path).unwrap();
        let other_spelling = dir.join(".").join("q.db");
        let e = QueueLock::acquire(&other_spelling).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Storage);
        assert!(e.message.contains("in use"), "{}", e.message);
        drop(first);
        QueueLock::acquire(&path).expect("free again");
    }
}

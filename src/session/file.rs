//! The session file of `statePath`: a small JSON document written atomically
//! (write a temporary file, fsync, rename, fsync the directory) with mode 0600,
//! under an advisory lock so processes sharing it merge by key instead of
//! overwriting each other. A file of another org or datastream is ignored; a
//! corrupt one is reported and replaced, never a crash.
//!
//! Reading takes no lock: a rename replaces the whole file, so a reader sees
//! the old one or the new one. Locks are only ever tried (`LOCK_NB`) until a
//! deadline, never waited for; one that cannot be had is a storage warning.
//! A child process does not keep the locks that its parent's threads held at
//! `fork()` (see [`forget_inherited_locks`]), so neither waits for the other.

use super::state::{Entry, Hint, SessionData};
use crate::error::{Error, ErrorKind, Result};
use serde_json::{json, Value};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest a write tries for the lock (less when the call's deadline
/// comes first): another process's write takes milliseconds.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

const FORMAT: &str = "aep-edge-session";
const VERSION: u64 = 1;

/// Identifies the file's current contents, to notice another process's write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    modified_ns: i128,
    inode: u64,
}

pub struct StateFile {
    path: PathBuf,
    lock_path: PathBuf,
    identity_lock_path: PathBuf,
    org_id: Option<String>,
    datastream_id: String,
}

/// What reading the file found.
pub struct Loaded {
    pub data: SessionData,
    pub stamp: Option<Stamp>,
    /// Why the file's contents were not used, when they were not.
    pub warning: Option<String>,
}

impl StateFile {
    /// Checks that the file's directory is usable; does not read the file.
    pub fn open(path: &Path, org_id: Option<&str>, datastream_id: &str) -> Result<StateFile> {
        let lock_path = sibling(path, ".lock");
        let file = StateFile {
            path: path.to_path_buf(),
            identity_lock_path: sibling(path, ".identity-lock"),
            lock_path,
            org_id: org_id.map(str::to_string),
            datastream_id: datastream_id.to_string(),
        };
        open_lock_file(&file.lock_path).map_err(|e| storage(path, "cannot be locked", e))?;
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's stamp now, `None` when it does not exist.
    pub fn stamp(&self) -> Option<Stamp> {
        stamp_of(&self.path)
    }

    /// Reads the file. No lock: writers replace it whole.
    pub fn load(&self) -> Loaded {
        let stamp = self.stamp();
        let mut text = String::new();
        match File::open(&self.path).and_then(|mut f| f.read_to_string(&mut text)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Loaded {
                    data: SessionData::default(),
                    stamp,
                    warning: None,
                }
            }
            Err(e) => {
                return Loaded {
                    data: SessionData::default(),
                    stamp,
                    warning: Some(format!(
                        "the state file {} cannot be read ({e}); it will be replaced",
                        self.path.display()
                    )),
                }
            }
        }
        match self.decode(&text) {
            Ok(data) => Loaded {
                data,
                stamp,
                warning: None,
            },
            Err(why) => Loaded {
                data: SessionData::default(),
                stamp,
                warning: Some(format!(
                    "the state file {} {why}; it will be replaced",
                    self.path.display()
                )),
            },
        }
    }

    /// Merges `data` with what is on disk and writes the result atomically.
    /// Returns the merged session and the new file's stamp. The lock is tried
    /// until `lock_by` (at most [`LOCK_WAIT`] from now).
    pub fn save(
        &self,
        data: &SessionData,
        now_ms: u64,
        lock_by: Instant,
    ) -> Result<(SessionData, Option<Stamp>)> {
        let _lock = FileLock::acquire(&self.lock_path, lock_by.min(Instant::now() + LOCK_WAIT))
            .map_err(|e| storage(&self.path, "cannot be locked", e))?;
        let mut merged = data.clone();
        let on_disk = self.load();
        merged.merge_from(&on_disk.data);
        merged.prune(now_ms);
        let text = self.encode(&merged);
        write_atomically(&self.path, text.as_bytes())
            .map_err(|e| storage(&self.path, "cannot be written", e))?;
        Ok((merged, self.stamp()))
    }

    /// Removes the file (a session reset), under the lock.
    pub fn remove(&self, reset: &SessionData, lock_by: Instant) -> Result<Option<Stamp>> {
        let _lock = FileLock::acquire(&self.lock_path, lock_by.min(Instant::now() + LOCK_WAIT))
            .map_err(|e| storage(&self.path, "cannot be locked", e))?;
        // A file holding only the reset time tells other processes to forget too.
        write_atomically(&self.path, self.encode(reset).as_bytes())
            .map_err(|e| storage(&self.path, "cannot be written", e))?;
        Ok(self.stamp())
    }

    /// An exclusive lock that serialises first calls across processes, so
    /// that they do not mint several identities. `None` when it cannot be had.
    pub fn try_identity_lock(&self) -> Option<FileLock> {
        FileLock::try_acquire(&self.identity_lock_path)
    }

    fn encode(&self, data: &SessionData) -> String {
        let entries: Vec<Value> = data
            .entries
            .iter()
            // Entries without maxAge live only as long as this process.
            .filter(|(_, e)| e.expires_at_ms.is_some())
            .map(|(k, e)| {
                json!({
                    "key": k,
                    "value": e.value,
                    "expiresAtMs": e.expires_at_ms,
                    "updatedAtMs": e.updated_at_ms,
                    "deleted": e.deleted,
                })
            })
            .collect();
        let doc = json!({
            "format": FORMAT,
            "version": VERSION,
            "orgId": self.org_id,
            "datastreamId": self.datastream_id,
            "ecid": data.ecid,
            "locationHint": data.hint.as_ref().map(|h| json!({"hint": h.value, "expiresAtMs": h.expires_at_ms})),
            "consent": data.consent,
            "consentUpdatedAtMs": data.consent_updated_at_ms,
            "resetAtMs": data.reset_at_ms,
            "entries": entries,
        });
        serde_json::to_string_pretty(&doc).expect("plain JSON")
    }

    fn decode(&self, text: &str) -> std::result::Result<SessionData, String> {
        let doc: Value = serde_json::from_str(text).map_err(|_| "is not valid JSON".to_string())?;
        if doc["format"] != FORMAT || doc["version"] != VERSION {
            return Err("is not an aep-edge session file of version 1".into());
        }
        if doc["orgId"].as_str() != self.org_id.as_deref()
            || doc["datastreamId"].as_str() != Some(self.datastream_id.as_str())
        {
            return Err("belongs to another org or datastream".into());
        }
        let mut data = SessionData {
            ecid: doc["ecid"].as_str().map(str::to_string),
            consent: doc["consent"].as_str().map(str::to_string),
            consent_updated_at_ms: doc["consentUpdatedAtMs"].as_u64().unwrap_or(0),
            reset_at_ms: doc["resetAtMs"].as_u64().unwrap_or(0),
            ..SessionData::default()
        };
        if let (Some(hint), Some(at)) = (
            doc["locationHint"]["hint"].as_str(),
            doc["locationHint"]["expiresAtMs"].as_u64(),
        ) {
            data.hint = Some(Hint {
                value: hint.to_string(),
                expires_at_ms: at,
            });
        }
        let entries = doc["entries"]
            .as_array()
            .ok_or_else(|| "has no entries list".to_string())?;
        for e in entries {
            let (Some(key), Some(expires), Some(updated)) = (
                e["key"].as_str(),
                e["expiresAtMs"].as_u64(),
                e["updatedAtMs"].as_u64(),
            ) else {
                return Err("has a malformed entry".into());
            };
            data.entries.insert(
                key.to_string(),
                Entry {
                    value: e["value"].as_str().map(str::to_string),
                    expires_at_ms: Some(expires),
                    updated_at_ms: updated,
                    deleted: e["deleted"].as_bool().unwrap_or(false),
                },
            );
        }
        Ok(data)
    }
}

fn storage(path: &Path, what: &str, e: io::Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!("the state file {} {what}: {e}", path.display()),
    )
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn stamp_of(path: &Path) -> Option<Stamp> {
    let meta = fs::metadata(path).ok()?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        len: meta.len(),
        modified_ns,
        inode,
    })
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk,
/// renames it over `path` and flushes the directory, so a crash leaves either
/// the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = sibling(path, &format!(".tmp{}", std::process::id()));
    let result = (|| {
        let mut f = private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        #[cfg(unix)]
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// An exclusive advisory lock on a file (`flock`), released on drop.
/// Elsewhere than Unix it is a no-op, and processes sharing a file may
/// overwrite each other.
pub struct FileLock {
    file: Option<File>,
    /// Where the descriptor is registered for [`forget_inherited_locks`].
    slot: Option<usize>,
}

impl FileLock {
    /// Tries to lock until `deadline`, never blocking in `flock` itself.
    fn acquire(path: &Path, deadline: Instant) -> io::Result<FileLock> {
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(lock) = Self::try_acquire_io(path)? {
                return Ok(lock);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "another process holds its lock",
                ));
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// One attempt; `None` when the lock is held elsewhere.
    fn try_acquire(path: &Path) -> Option<FileLock> {
        Self::try_acquire_io(path).ok().flatten()
    }

    fn try_acquire_io(path: &Path) -> io::Result<Option<FileLock>> {
        let file = open_lock_file(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            loop {
                // SAFETY: a valid open descriptor; flock has no memory effects.
                if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                    break;
                }
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(None),
                    _ => return Err(e),
                }
            }
            let slot = held::register(file.as_raw_fd());
            Ok(Some(FileLock {
                file: Some(file),
                slot,
            }))
        }
        #[cfg(not(unix))]
        Ok(Some(FileLock {
            file: Some(file),
            slot: None,
        }))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let Some(file) = self.file.take() else { return };
        #[cfg(unix)]
        if let Some(slot) = self.slot {
            use std::os::unix::io::{AsRawFd, IntoRawFd};
            if !held::unregister(slot, file.as_raw_fd()) {
                // A child process closed it at fork: the number is not ours.
                let _ = file.into_raw_fd();
                return;
            }
        }
        // Unlock before closing: a child forked between `flock` and the
        // registration above kept a copy of this descriptor, and closing ours
        // alone would leave the lock held until that child exits. LOCK_UN
        // releases it for every copy.
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: a valid open descriptor we own; flock has no memory effects.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        }
        drop(file);
    }
}

/// In a child process right after `fork()`: closes the child's copies of the
/// lock descriptors that the parent's threads held. An `flock` belongs to the
/// open file description, which both processes share after a fork; without
/// this the child would keep the parent's lock for its whole life (the
/// threads that would release it do not exist in the child). Installed with
/// `pthread_atfork` when the first lock is taken; async-signal-safe.
#[cfg(unix)]
pub fn forget_inherited_locks() {
    held::close_all();
}

#[cfg(unix)]
mod held {
    use std::os::unix::io::RawFd;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::Once;

    /// Lock descriptors held now. Lock-free, so the at-fork handler never
    /// waits on a lock some vanished thread held.
    const SLOTS: usize = 64;
    static HELD: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
    static INSTALL: Once = Once::new();

    extern "C" fn in_child() {
        super::forget_inherited_locks();
    }

    /// Remembers `fd`; `None` when every slot is taken (then a child would
    /// keep that one lock: see the module doc).
    pub fn register(fd: RawFd) -> Option<usize> {
        INSTALL.call_once(|| {
            // SAFETY: registers a plain function that only closes descriptors.
            unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
        });
        (0..SLOTS).find(|&i| {
            HELD[i]
                .compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// Forgets `fd`; false when the at-fork handler already closed it.
    pub fn unregister(slot: usize, fd: RawFd) -> bool {
        HELD[slot]
            .compare_exchange(fd, -1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    pub fn close_all() {
        for slot in &HELD {
            let fd = slot.swap(-1, Ordering::AcqRel);
            if fd >= 0 {
                // SAFETY: the descriptor was open in the parent at the fork, so
                // the child has its copy; closing it drops only that copy.
                unsafe { libc::close(fd) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aep-edge-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sample(now: u64) -> SessionData {
        let mut d = SessionData::default();
        d.entries.insert(
            "kndctr_O_AdobeOrg_identity".into(),
            Entry {
                value: Some("v".into()),
                expires_at_ms: Some(now + 10_000),
                updated_at_ms: now,
                deleted: false,
            },
        );
        d.entries.insert(
            "session-only".into(),
            Entry {
                value: Some("s".into()),
                expires_at_ms: None,
                updated_at_ms: now,
                deleted: false,
            },
        );
        d.ecid = Some("123".into());
        d.set_consent("y", now);
        d
    }

    #[test]
    fn round_trip_keeps_persistent_state_only_with_mode_0600() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("session.json");
        let file = StateFile::open(&path, Some("O@AdobeOrg"), "ds").unwrap();
        file.save(&sample(1_000), 1_000, Instant::now()).unwrap();
        let loaded = file.load();
        assert!(loaded.warning.is_none());
        assert_eq!(loaded.data.ecid.as_deref(), Some("123"));
        assert_eq!(loaded.data.consent.as_deref(), Some("y"));
        assert!(loaded
            .data
            .entries
            .contains_key("kndctr_O_AdobeOrg_identity"));
        assert!(!loaded.data.entries.contains_key("session-only"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn another_orgs_file_and_a_corrupt_file_are_reported_and_ignored() {
        let dir = temp_dir("foreign");
        let path = dir.join("session.json");
        StateFile::open(&path, Some("A@AdobeOrg"), "ds")
            .unwrap()
            .save(&sample(1), 1, Instant::now())
            .unwrap();
        let other = StateFile::open(&path, Some("B@AdobeOrg"), "ds").unwrap();
        let loaded = other.load();
        assert_eq!(loaded.data, SessionData::default());
        assert!(loaded.warning.unwrap().contains("another org"));

        fs::write(&path, "{not json").unwrap();
        let loaded = other.load();
        assert!(loaded.warning.unwrap().contains("not valid JSON"));
        other.save(&sample(5), 5, Instant::now()).unwrap();
        assert!(other.load().warning.is_none(), "replaced by a good file");
    }

    #[test]
    fn an_unusable_directory_is_a_storage_error() {
        let e = StateFile::open(Path::new("/nonexistent-dir/x/session.json"), None, "ds")
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Storage);
    }

    #[test]
    fn two_writers_merge_by_key() {
        let dir = temp_dir("merge");
        let path = dir.join("session.json");
        let a = StateFile::open(&path, None, "ds").unwrap();
        let b = StateFile::open(&path, None, "ds").unwrap();
        let entry = |v: &str, at| Entry {
            value: Some(v.into()),
            expires_at_ms: Some(100_000),
            updated_at_ms: at,
            deleted: false,
        };
        let mut da = SessionData::default();
        da.entries.insert("a".into(), entry("from-a", 10));
        a.save(&da, 10, Instant::now()).unwrap();
        let mut db = SessionData::default();
        db.entries.insert("b".into(), entry("from-b", 20));
        let (merged, _) = b.save(&db, 20, Instant::now()).unwrap();
        assert_eq!(merged.entries.len(), 2);
        assert_eq!(a.load().data.entries.len(), 2);
    }

    #[test]
    fn a_held_lock_is_tried_until_the_deadline_never_waited_for() {
        let dir = temp_dir("held");
        let lock_path = dir.join("s.lock");
        let held = FileLock::try_acquire(&lock_path).unwrap();
        let started = Instant::now();
        let e = FileLock::acquire(&lock_path, started + Duration::from_millis(100))
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(held);
        assert!(FileLock::acquire(&lock_path, Instant::now()).is_ok());
    }

    /// A forked child does not keep the lock its parent's thread held: once
    /// that thread lets go, the child can lock, and the parent again after it.
    #[cfg(unix)]
    #[test]
    fn a_child_after_fork_does_not_keep_the_parents_lock() {
        let dir = temp_dir("fork");
        let lock_path = dir.join("s.lock");
        let held = FileLock::try_acquire(&lock_path).unwrap();
        // SAFETY: the child only opens, locks, sleeps and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let got = FileLock::acquire(&lock_path, Instant::now() + Duration::from_secs(10));
            // SAFETY: ends the child at once, without running the parent's destructors.
            unsafe { libc::_exit(if got.is_ok() { 0 } else { 1 }) };
        }
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child got the lock"
        );
        assert!(FileLock::acquire(&lock_path, Instant::now() + Duration::from_secs(5)).is_ok());
    }
}

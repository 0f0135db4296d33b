//! When the state file of `statePath` is written, and that a lock held
//! elsewhere degrades to a warning instead of a hang.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn temp_state_path(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("aep-edge-state-file-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("session.json")
}

/// Each write renames a new file into place: a new inode is a new write.
fn inode(path: &Path) -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
}

fn saved_expiries(path: &Path) -> Vec<u64> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["expiresAtMs"].as_u64().unwrap())
        .collect()
}

#[test]
fn calls_that_only_refresh_expiries_do_not_rewrite_the_file_until_close() {
    let edge = emulator();
    let path = temp_state_path("refresh");
    let client = client(
        &edge.base_url(),
        json!({"statePath": path.to_str().unwrap()}),
    );
    client.interact(source_request()).unwrap();
    let first = inode(&path);
    let expiries = saved_expiries(&path);
    assert!(!expiries.is_empty());
    std::thread::sleep(Duration::from_millis(20));
    for _ in 0..10 {
        client.interact(source_request()).unwrap();
    }
    assert_eq!(
        inode(&path),
        first,
        "same state, refreshed expiries: not written"
    );
    client.close(Duration::from_secs(1));
    assert_ne!(inode(&path), first, "close writes the refreshed expiries");
    let refreshed = saved_expiries(&path);
    assert!(
        refreshed.iter().zip(&expiries).all(|(new, old)| new >= old)
            && refreshed.iter().zip(&expiries).any(|(new, old)| new > old),
        "{refreshed:?} after {expiries:?}"
    );
    assert_eq!(
        client.session()["ecid"].as_str(),
        client_view_of_file(&edge, &path)["ecid"].as_str()
    );
}

/// What a new client reading the file sees.
fn client_view_of_file(edge: &aep_edge_emulator::Emulator, path: &Path) -> Value {
    client(
        &edge.base_url(),
        json!({"statePath": path.to_str().unwrap()}),
    )
    .session()
}

#[test]
fn a_material_change_is_written_at_once() {
    let edge = emulator();
    let path = temp_state_path("material");
    let client = client(
        &edge.base_url(),
        json!({"statePath": path.to_str().unwrap()}),
    );
    client.interact(source_request()).unwrap();
    let before = inode(&path);
    client
        .set_consent(json!({"consent": [{"standard": "Adobe", "version": "2.0",
            "value": {"collect": {"val": "n"}}}]}))
        .unwrap();
    assert_ne!(inode(&path), before, "a new consent is written at once");
    assert_eq!(client_view_of_file(&edge, &path)["consent"], "n");
}

#[test]
fn a_lock_held_elsewhere_is_a_storage_warning_not_a_hang() {
    let edge = emulator();
    let path = temp_state_path("locked");
    let client = client(
        &edge.base_url(),
        json!({"statePath": path.to_str().unwrap(), "timeouts": {"totalMs": 800}}),
    );
    // Another process's write that never ends: its lock on the lock file.
    let lock_path = path.with_file_name("session.json.lock");
    let holder = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap();
    use std::os::unix::io::AsRawFd;
    // SAFETY: a valid descriptor.
    assert_eq!(unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX) }, 0);

    let started = Instant::now();
    let result = client.interact(source_request()).unwrap();
    assert_eq!(result["client"]["httpStatus"], 200);
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "the lock was tried until the call's deadline, not longer: {:?}",
        started.elapsed()
    );
    let warning = client.session()["storageWarning"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(warning.contains("cannot be locked"), "{warning:?}");
    assert!(client.session()["ecid"].is_string(), "kept in memory");

    drop(holder);
    client
        .set_consent(json!({"consent": [{"standard": "Adobe", "version": "2.0",
            "value": {"collect": {"val": "y"}}}]}))
        .unwrap();
    assert_eq!(
        client_view_of_file(&edge, &path)["ecid"],
        client.session()["ecid"],
        "written once the lock is free"
    );
}

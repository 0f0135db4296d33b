//! Where queued events live: one SQLite table, in a file (WAL) or in memory.
//!
//! The file is held with SQLite's exclusive locking mode from the moment it
//! is opened, so a second client on it (in this process or another) is
//! refused instead of sending the same events twice; the lock goes with the
//! connection, and with the process when it dies.

use crate::config::QueueSync;
use crate::error::{Error, ErrorKind, Result};
use rusqlite::{params, Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// One stored event, as the dispatcher reads it back.
#[derive(Clone, Debug)]
pub struct Row {
    pub seq: i64,
    pub event_id: String,
    /// `{"meta": ..., "options": ...}` as JSON: events with equal groups share a batch.
    pub group: String,
    pub event: String,
    /// Attempts already made to deliver it (kept across restarts).
    pub attempts: u32,
    pub bytes: u64,
}

pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
    /// The process that opened it: a forked child must never touch (or close)
    /// a connection that belongs to its parent.
    owner_pid: u32,
}

/// What an opened store already holds.
pub struct Contents {
    pub events: u64,
    pub bytes: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT    NOT NULL,
    grp        TEXT    NOT NULL,
    event      TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_group ON events (grp, seq);
";

impl Store {
    /// Opens (creating when needed) the queue file and takes its lock, or an
    /// in-memory store when `path` is `None`.
    pub fn open(path: Option<&Path>, sync: QueueSync) -> Result<(Store, Contents)> {
        let conn = match path {
            Some(p) => Connection::open_with_flags(
                p,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ),
            None => Connection::open_in_memory(),
        }
        .map_err(|e| storage(path, "cannot be opened", &e))?;
        let store = Store {
            conn,
            path: path.map(Path::to_path_buf),
            owner_pid: std::process::id(),
        };
        store.prepare(sync)?;
        let contents = store.contents()?;
        Ok((store, contents))
    }

    fn prepare(&self, sync: QueueSync) -> Result<()> {
        let fail = |e: rusqlite::Error| {
            if is_busy(&e) {
                Error::new(
                    ErrorKind::Storage,
                    format!(
                        "the queue file {} is in use by another client (in this or another process); \
                         give each client its own queue.path",
                        self.describe()
                    ),
                )
            } else {
                storage(self.path.as_deref(), "cannot be used", &e)
            }
        };
        let synchronous = match sync {
            QueueSync::Normal => "NORMAL",
            QueueSync::Full => "FULL",
        };
        if self.path.is_some() {
            // Exclusive: no other connection may read or write while this one
            // lives; WAL then needs no shared-memory file either.
            self.conn
                .execute_batch("PRAGMA locking_mode = EXCLUSIVE;")
                .map_err(fail)?;
            let mode: String = self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(fail)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::new(
                    ErrorKind::Storage,
                    format!(
                        "the queue file {} cannot use write-ahead logging (journal mode {mode})",
                        self.describe()
                    ),
                ));
            }
        }
        self.conn
            .execute_batch(&format!("PRAGMA synchronous = {synchronous};"))
            .map_err(fail)?;
        // A write takes the exclusive lock now and keeps it.
        self.conn
            .execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
            .map_err(fail)?;
        Ok(())
    }

    fn contents(&self) -> Result<Contents> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(event) + LENGTH(grp)), 0) FROM events",
                [],
                |r| {
                    Ok(Contents {
                        events: r.get::<_, i64>(0)? as u64,
                        bytes: r.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .map_err(|e| self.error("cannot be read", &e))
    }

    /// The file's name for messages, or "(in memory)".
    pub fn describe(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "(in memory)".into(),
        }
    }

    /// Whether this process opened it (false in a forked child).
    pub fn owned_here(&self) -> bool {
        self.owner_pid == std::process::id()
    }

    fn error(&self, what: &str, e: &rusqlite::Error) -> Error {
        storage(self.path.as_deref(), what, e)
    }

    /// Stores one event; it is on disk (in the WAL) when this returns.
    pub fn insert(&self, event_id: &str, group: &str, event: &str, created_ms: u64) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO events (event_id, grp, event, created_ms) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(|e| self.error("cannot be written", &e))?;
        stmt.execute(params![event_id, group, event, created_ms as i64])
            .map_err(|e| self.error("cannot be written", &e))?;
        Ok(())
    }

    /// Up to `limit` events of the oldest event's group, oldest first.
    pub fn next_batch(&self, limit: usize) -> Result<Vec<Row>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, event_id, grp, event, attempts FROM events
                 WHERE grp = (SELECT grp FROM events ORDER BY seq LIMIT 1)
                 ORDER BY seq LIMIT ?1",
            )
            .map_err(|e| self.error("cannot be read", &e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                let group: String = r.get(2)?;
                let event: String = r.get(3)?;
                Ok(Row {
                    seq: r.get(0)?,
                    event_id: r.get(1)?,
                    bytes: (group.len() + event.len()) as u64,
                    group,
                    event,
                    attempts: r.get::<_, i64>(4)?.clamp(0, u32::MAX as i64) as u32,
                })
            })
            .map_err(|e| self.error("cannot be read", &e))?;
        rows.collect::<rusqlite::Result<Vec<Row>>>()
            .map_err(|e| self.error("cannot be read", &e))
    }

    /// Every stored event, oldest first (to reject them all when consent is "n").
    pub fn all(&self) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        let mut after = i64::MIN;
        loop {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT seq, event_id, grp, event, attempts FROM events
                     WHERE seq > ?1 ORDER BY seq LIMIT 1000",
                )
                .map_err(|e| self.error("cannot be read", &e))?;
            let rows = stmt
                .query_map([after], |r| {
                    let group: String = r.get(2)?;
                    let event: String = r.get(3)?;
                    Ok(Row {
                        seq: r.get(0)?,
                        event_id: r.get(1)?,
                        bytes: (group.len() + event.len()) as u64,
                        group,
                        event,
                        attempts: r.get::<_, i64>(4)?.clamp(0, u32::MAX as i64) as u32,
                    })
                })
                .map_err(|e| self.error("cannot be read", &e))?
                .collect::<rusqlite::Result<Vec<Row>>>()
                .map_err(|e| self.error("cannot be read", &e))?;
            let Some(last) = rows.last() else {
                return Ok(out);
            };
            after = last.seq;
            out.extend(rows);
        }
    }

    /// Removes delivered or rejected events, in one transaction.
    pub fn remove(&self, seqs: &[i64]) -> Result<()> {
        self.for_each_in_transaction("DELETE FROM events WHERE seq = ?1", seqs, None)
    }

    /// Records attempts made on events that stay queued.
    pub fn add_attempts(&self, seqs: &[i64], attempts: u32) -> Result<()> {
        self.for_each_in_transaction(
            "UPDATE events SET attempts = attempts + ?2 WHERE seq = ?1",
            seqs,
            Some(attempts),
        )
    }

    fn for_each_in_transaction(&self, sql: &str, seqs: &[i64], extra: Option<u32>) -> Result<()> {
        let fail = |e: rusqlite::Error| self.error("cannot be written", &e);
        let tx = self.conn.unchecked_transaction().map_err(fail)?;
        {
            let mut stmt = tx.prepare_cached(sql).map_err(fail)?;
            for seq in seqs {
                match extra {
                    None => stmt.execute([seq]),
                    Some(n) => stmt.execute(params![seq, n as i64]),
                }
                .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// When the oldest stored event was queued (ms since the epoch).
    pub fn oldest_created_ms(&self) -> Result<Option<u64>> {
        self.conn
            .query_row(
                "SELECT created_ms FROM events ORDER BY seq LIMIT 1",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|ms| Some(ms.max(0) as u64))
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(self.error("cannot be read", &other)),
            })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if !self.owned_here() {
            // Closing would checkpoint and delete the parent's WAL: leave the
            // inherited connection alone (the child's copy is just memory).
            let conn = std::mem::replace(
                &mut self.conn,
                Connection::open_in_memory().expect("an in-memory database opens"),
            );
            std::mem::forget(conn);
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn storage(path: Option<&Path>, what: &str, e: &rusqlite::Error) -> Error {
    let name = match path {
        Some(p) => format!("the queue file {}", p.display()),
        None => "the queue".to_string(),
    };
    Error::new(ErrorKind::Storage, format!("{name} {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "aep-edge-store-{}-{}",
            std::process::id(),
            crate::ids::random_u64()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn events_survive_a_reopen_in_order_and_by_group() {
        let path = temp("q.db");
        {
            let (store, contents) = Store::open(Some(&path), QueueSync::Normal).unwrap();
            assert_eq!(contents.events, 0);
            store.insert("a", "g1", "{\"n\":1}", 1).unwrap();
            store.insert("b", "g2", "{\"n\":2}", 2).unwrap();
            store.insert("c", "g1", "{\"n\":3}", 3).unwrap();
        }
        let (store, contents) = Store::open(Some(&path), QueueSync::Normal).unwrap();
        assert_eq!(contents.events, 3);
        let batch = store.next_batch(10).unwrap();
        let ids: Vec<&str> = batch.iter().map(|r| r.event_id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        store.add_attempts(&[batch[0].seq], 2).unwrap();
        assert_eq!(store.next_batch(1).unwrap()[0].attempts, 2);
        store.remove(&[batch[0].seq, batch[1].seq]).unwrap();
        assert_eq!(store.next_batch(10).unwrap()[0].event_id, "b");
        assert_eq!(store.oldest_created_ms().unwrap(), Some(2));
        assert_eq!(store.all().unwrap().len(), 1);
    }

    #[test]
    fn a_second_store_on_the_file_is_refused_by_name() {
        let path = temp("locked.db");
        let (_first, _) = Store::open(Some(&path), QueueSync::Full).unwrap();
        let e = Store::open(Some(&path), QueueSync::Normal).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Storage);
        assert!(
            e.message.contains(&path.display().to_string()),
            "{}",
            e.message
        );
        assert!(e.message.contains("in use"), "{}", e.message);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_storage_error() {
        let path = temp("junk.db");
        std::fs::write(&path, vec![0x42u8; 4096]).unwrap();
        let e = Store::open(Some(&path), QueueSync::Normal).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Storage);
        assert!(e.message.contains("junk.db"), "{}", e.message);
    }
}

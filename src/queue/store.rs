//! Where queued events live: one SQLite table, in a file (WAL) or in memory.
//!
//! A file has two connections: the writer (inserts, removals; used under the
//! queue's lock, so sends never wait on SQLite's own locking) and the
//! dispatcher's reader (batches, checkpoints). Automatic checkpoints are off
//! on the writer, so no `send_event` ever pays for copying the WAL into the
//! database and its fsync; the dispatcher checkpoints on its own connection.
//! The file belongs to one client at a time (see `lock`).

use super::lock::QueueLock;
use crate::config::QueueSync;
use crate::error::{Error, ErrorKind, Result};
use rusqlite::{params, Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    sync: QueueSync,
    /// The process that opened it: a forked child must never touch (or close)
    /// a connection that belongs to its parent.
    owner_pid: u32,
    _lock: Option<QueueLock>,
}

/// The dispatcher's own connection to a queue file.
pub struct Reader {
    conn: Connection,
    path: PathBuf,
    owner_pid: u32,
}

/// What an opened store already holds.
pub struct Contents {
    pub events: u64,
    pub bytes: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq        INTEGER PRIMARY KEY,
    event_id   TEXT    NOT NULL,
    grp_hash   INTEGER NOT NULL,
    grp        TEXT    NOT NULL,
    event      TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS settled (
    first INTEGER NOT NULL,
    last  INTEGER NOT NULL
);
PRAGMA user_version = 1;
";

// `seq` is a rowid without AUTOINCREMENT: that would update `sqlite_sequence`,
// one more page in the WAL, at every send. A new event still gets a `seq`
// above every stored one (events are ordered among those stored; a `seq` is
// reused only after its event left, and only the dispatcher removes events).
// Files made with AUTOINCREMENT by an earlier version keep it and work alike.
// Settled events (delivered or rejected) are first marked, one `settled` row
// per run of `seq`s, and removed later in bulk (`compact`): deleting a batch's
// rows rewrites a score of pages and holds SQLite's single write lock for
// ~150 µs, and a send arriving then waits for all of it. A mark is one small
// page, like a send. Readers skip marked events; `open` compacts what a
// crash left marked, so a marked event is never sent again.
macro_rules! live {
    ($t:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM settled WHERE ",
            $t,
            ".seq BETWEEN settled.first AND settled.last)"
        )
    };
}

// The first event not marked: the oldest event, or the first one after a
// mark's `last` (the event before the first unmarked one is marked, and its
// mark ends below it). A few index seeks per mark, where a scan in `seq` order
// would test every marked event first.
macro_rules! first_live {
    () => {
        concat!(
            "(SELECT MIN(c) FROM (SELECT (SELECT seq FROM events ORDER BY seq LIMIT 1) AS c UNION ALL ",
            "SELECT (SELECT seq FROM events WHERE seq > s.last ORDER BY seq LIMIT 1) FROM settled s) ",
            "WHERE c IS NOT NULL AND NOT EXISTS (SELECT 1 FROM settled t WHERE c BETWEEN t.first AND t.last))"
        )
    };
}

// No index on the group: every insert would write one more page. Events of one
// group are usually all of them, so a scan in `seq` order from the first
// unmarked event finds a batch at once.
const SELECT_BATCH: &str = concat!(
    "SELECT seq, event_id, grp, event, attempts FROM events e WHERE seq >= ?1",
    " AND grp_hash = (SELECT grp_hash FROM events WHERE seq = ?1)",
    " AND grp = (SELECT grp FROM events WHERE seq = ?1) AND ",
    live!("e"),
    " ORDER BY seq LIMIT ?2"
);

const SELECT_FIRST_LIVE: &str = concat!("SELECT ", first_live!());

const SELECT_AFTER: &str = concat!(
    "SELECT seq, event_id, grp, event, attempts FROM events e WHERE seq > ?1 AND ",
    live!("e"),
    " ORDER BY seq LIMIT 1000"
);

const SELECT_OLDEST: &str = concat!("SELECT created_ms FROM events WHERE seq = ", first_live!());

impl Store {
    /// Opens (creating when needed) the queue file and takes its lock, or an
    /// in-memory store when `path` is `None`.
    pub fn open(path: Option<&Path>, sync: QueueSync) -> Result<(Store, Contents)> {
        let lock = path.map(QueueLock::acquire).transpose()?;
        let conn = match path {
            Some(p) => open_file(p),
            None => Connection::open_in_memory(),
        }
        .map_err(|e| storage(path, "cannot be opened", &e))?;
        let store = Store {
            conn,
            path: path.map(Path::to_path_buf),
            sync,
            owner_pid: crate::process::pid(),
            _lock: lock,
        };
        store.prepare()?;
        store.compact()?;
        let contents = store.contents()?;
        Ok((store, contents))
    }

    fn prepare(&self) -> Result<()> {
        let fail = |e: rusqlite::Error| storage(self.path.as_deref(), "cannot be used", &e);
        if self.path.is_some() {
            self.conn
                .busy_timeout(Duration::from_secs(5))
                .map_err(fail)?;
            // Each send_event commits one leaf page to the WAL: small pages make
            // that write (and its copy into the file) cheap. Only a new file takes it.
            self.conn
                .execute_batch("PRAGMA page_size = 2048;")
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
            self.conn
                .execute_batch("PRAGMA wal_autocheckpoint = 0;")
                .map_err(fail)?;
        }
        self.conn
            .execute_batch(&format!(
                "PRAGMA synchronous = {}; BEGIN IMMEDIATE; {SCHEMA} COMMIT;",
                synchronous(self.sync)
            ))
            .map_err(fail)
    }

    fn contents(&self) -> Result<Contents> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(event AS BLOB)) + LENGTH(CAST(grp AS BLOB))), 0) FROM events",
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

    /// The dispatcher's connection for a file (`None` in memory, where the
    /// dispatcher reads through the writer).
    pub fn reader(&self) -> Result<Option<Reader>> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let fail = |e: rusqlite::Error| storage(Some(path), "cannot be opened", &e);
        let conn = open_file(path).map_err(fail)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(fail)?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {}; PRAGMA wal_autocheckpoint = 0;",
            synchronous(self.sync)
        ))
        .map_err(fail)?;
        Ok(Some(Reader {
            conn,
            path: path.clone(),
            owner_pid: self.owner_pid,
        }))
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
        self.owner_pid == crate::process::pid()
    }

    fn error(&self, what: &str, e: &rusqlite::Error) -> Error {
        storage(self.path.as_deref(), what, e)
    }

    /// Stores one event; it is in the WAL (a process crash keeps it) when this returns.
    pub fn insert(&self, event_id: &str, group: &str, event: &str, created_ms: u64) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO events (event_id, grp_hash, grp, event, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(|e| self.error("cannot be written", &e))?;
        stmt.execute(params![
            event_id,
            group_hash(group),
            group,
            event,
            created_ms as i64
        ])
        .map_err(|e| self.error("cannot be written", &e))?;
        Ok(())
    }

    /// Up to `limit` events of the oldest event's group, oldest first.
    pub fn next_batch(&self, limit: usize) -> Result<Vec<Row>> {
        batch_rows(&self.conn, limit).map_err(|e| self.error("cannot be read", &e))
    }

    /// Every stored event, oldest first (to reject them all when consent is "n").
    pub fn all(&self) -> Result<Vec<Row>> {
        all_rows(&self.conn).map_err(|e| self.error("cannot be read", &e))
    }

    /// Marks delivered or rejected events as settled, in one transaction: one
    /// `settled` row per run of consecutive `seq`s (a batch is usually one run).
    /// Readers no longer see them; `compact` removes them.
    pub fn mark_settled(&self, seqs: &[i64]) -> Result<()> {
        let fail = |e: rusqlite::Error| self.error("cannot be written", &e);
        let tx = self.conn.unchecked_transaction().map_err(fail)?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO settled (first, last) VALUES (?1, ?2)")
                .map_err(fail)?;
            for (first, last) in runs(seqs) {
                stmt.execute([first, last]).map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// Removes the events marked settled, and the marks, in one transaction.
    pub fn compact(&self) -> Result<()> {
        let fail = |e: rusqlite::Error| self.error("cannot be written", &e);
        let tx = self.conn.unchecked_transaction().map_err(fail)?;
        {
            let ranges: Vec<(i64, i64)> = tx
                .prepare_cached("SELECT first, last FROM settled")
                .and_then(|mut stmt| {
                    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect()
                })
                .map_err(fail)?;
            if ranges.is_empty() {
                return Ok(()); // the transaction rolls back: nothing was written
            }
            let mut delete = tx
                .prepare_cached("DELETE FROM events WHERE seq BETWEEN ?1 AND ?2")
                .map_err(fail)?;
            for (first, last) in ranges {
                delete.execute([first, last]).map_err(fail)?;
            }
            tx.execute("DELETE FROM settled", []).map_err(fail)?;
        }
        tx.commit().map_err(fail)
    }

    /// Records attempts made on events that stay queued.
    pub fn add_attempts(&self, seqs: &[i64], attempts: u32) -> Result<()> {
        let fail = |e: rusqlite::Error| self.error("cannot be written", &e);
        let tx = self.conn.unchecked_transaction().map_err(fail)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE events SET attempts = attempts + ?3 WHERE seq BETWEEN ?1 AND ?2",
                )
                .map_err(fail)?;
            for (first, last) in runs(seqs) {
                stmt.execute(params![first, last, attempts as i64])
                    .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// When the oldest stored event was queued (ms since the epoch).
    pub fn oldest_created_ms(&self) -> Result<Option<u64>> {
        self.conn
            .query_row(SELECT_OLDEST, [], |r| r.get::<_, i64>(0))
            .map(|ms| Some(ms.max(0) as u64))
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(self.error("cannot be read", &other)),
            })
    }
}

impl Reader {
    pub fn next_batch(&self, limit: usize) -> Result<Vec<Row>> {
        batch_rows(&self.conn, limit).map_err(|e| storage(Some(&self.path), "cannot be read", &e))
    }

    pub fn all(&self) -> Result<Vec<Row>> {
        all_rows(&self.conn).map_err(|e| storage(Some(&self.path), "cannot be read", &e))
    }

    /// Copies what the WAL holds into the database, without blocking writers.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| storage(Some(&self.path), "cannot be checkpointed", &e))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if !self.owned_here() {
            forget_connection(&mut self.conn);
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.owner_pid != crate::process::pid() {
            forget_connection(&mut self.conn);
        }
    }
}

/// Closing a connection inherited through `fork()` would checkpoint and
/// delete the parent's WAL: leave it alone (the child's copy is just memory).
fn forget_connection(conn: &mut Connection) {
    let inherited = std::mem::replace(
        conn,
        Connection::open_in_memory().expect("an in-memory database opens"),
    );
    std::mem::forget(inherited);
}

fn flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// A connection to a queue file. On Unix through SQLite's "unix-excl" VFS:
/// the file belongs to one process anyway (see `lock`), so SQLite takes its
/// file lock once and keeps the WAL index in this process's memory instead of
/// a `-shm` file. The writer and the dispatcher's reader still share that
/// index (it is per file within the process), but no transaction makes a
/// locking system call any more (a default-VFS send made six `fcntl`s).
fn open_file(path: &Path) -> rusqlite::Result<Connection> {
    #[cfg(unix)]
    {
        Connection::open_with_flags_and_vfs(path, flags(), c"unix-excl")
    }
    #[cfg(not(unix))]
    {
        Connection::open_with_flags(path, flags())
    }
}

fn synchronous(sync: QueueSync) -> &'static str {
    match sync {
        QueueSync::Normal => "NORMAL",
        QueueSync::Full => "FULL",
    }
}

/// FNV-1a: a small stable key for the group index (the text is compared too).
fn group_hash(group: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in group.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// Sorted `seqs` as runs of consecutive numbers, `(first, last)`.
fn runs(seqs: &[i64]) -> Vec<(i64, i64)> {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for seq in sorted {
        match out.last_mut() {
            Some((_, last)) if seq == *last + 1 || seq == *last => *last = seq,
            _ => out.push((seq, seq)),
        }
    }
    out
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
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
}

fn query_rows<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    args: P,
) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(args, read_row)?;
    rows.collect()
}

/// Up to `limit` unmarked events of the oldest unmarked event's group, oldest first.
fn batch_rows(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<Row>> {
    let first: Option<i64> = conn
        .prepare_cached(SELECT_FIRST_LIVE)?
        .query_row([], |r| r.get(0))?;
    match first {
        Some(first) => query_rows(conn, SELECT_BATCH, params![first, limit as i64]),
        None => Ok(Vec::new()),
    }
}

fn all_rows(conn: &Connection) -> rusqlite::Result<Vec<Row>> {
    let mut out = Vec::new();
    let mut after = i64::MIN;
    loop {
        let rows = query_rows(conn, SELECT_AFTER, [after])?;
        let Some(last) = rows.last() else {
            return Ok(out);
        };
        after = last.seq;
        out.extend(rows);
    }
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
            crate::process::pid(),
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
        assert_eq!(runs(&[5, 3, 4, 9, 9, 1]), [(1, 1), (3, 5), (9, 9)]);
        assert_eq!(store.next_batch(1).unwrap()[0].attempts, 2);
        store.mark_settled(&[batch[0].seq, batch[1].seq]).unwrap();
        assert_eq!(store.next_batch(10).unwrap()[0].event_id, "b");
        assert_eq!(store.oldest_created_ms().unwrap(), Some(2));
        assert_eq!(store.all().unwrap().len(), 1);
        drop(store);
        // A reopen removes what was marked (a crash may leave marks behind).
        let (store, contents) = Store::open(Some(&path), QueueSync::Normal).unwrap();
        assert_eq!(contents.events, 1);
        let count = |table: &str| -> i64 {
            store
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!((count("events"), count("settled")), (1, 0));
        store.mark_settled(&[store.all().unwrap()[0].seq]).unwrap();
        assert!(store.next_batch(10).unwrap().is_empty());
        store.compact().unwrap();
        assert_eq!((count("events"), count("settled")), (0, 0));
    }

    #[test]
    fn readers_skip_marked_events_of_interleaved_groups() {
        let (store, _) = Store::open(None, QueueSync::Normal).unwrap();
        for (id, group) in [
            ("a", "g1"),
            ("b", "g2"),
            ("c", "g1"),
            ("d", "g2"),
            ("e", "g1"),
        ] {
            store.insert(id, group, "{}", 1).unwrap();
        }
        let ids = |rows: Vec<Row>| rows.into_iter().map(|r| r.event_id).collect::<Vec<_>>();
        let seq = |id: &str| {
            store
                .all()
                .unwrap()
                .into_iter()
                .find(|r| r.event_id == id)
                .unwrap()
                .seq
        };
        assert_eq!(ids(store.next_batch(10).unwrap()), ["a", "c", "e"]);
        store.mark_settled(&[seq("a"), seq("c")]).unwrap();
        assert_eq!(ids(store.next_batch(10).unwrap()), ["b", "d"]);
        store.mark_settled(&[seq("b")]).unwrap();
        assert_eq!(ids(store.next_batch(10).unwrap()), ["d"]);
        assert_eq!(ids(store.all().unwrap()), ["d", "e"]);
        store.mark_settled(&[seq("d")]).unwrap();
        assert_eq!(ids(store.next_batch(10).unwrap()), ["e"]);
        store.compact().unwrap();
        assert_eq!(ids(store.next_batch(10).unwrap()), ["e"]);
        store.mark_settled(&[seq("e")]).unwrap();
        assert!(store.next_batch(10).unwrap().is_empty());
        assert_eq!(store.oldest_created_ms().unwrap(), None);
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

//! The Edge session rules of design.md §3.4, shared by every call of a client:
//! which state entries and hint a request carries, what a response changes,
//! one identity-minting call at a time, collect consent, reset, and the
//! session file. With session `none` it keeps and adds nothing.

mod file;
mod state;

use crate::config::{Config, DefaultConsent, SessionMode};
use crate::error::{Error, Result};
use crate::lifecycle::{later, Deadline, Lifecycle, Stop};
use crate::request::StateEntry;
use file::{FileLock, Stamp, StateFile};
use serde_json::{json, Value};
use state::{Change, SessionData};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long concurrent first calls wait for the one that mints the identity.
pub const IDENTITY_WAIT: Duration = Duration::from_secs(2);

/// A state file whose only change is refreshed expiries is written at most
/// this often (and when the session is dropped or flushed at close).
pub const REFRESH_WRITE_INTERVAL: Duration = Duration::from_secs(5);

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What a request takes from the session when it is built.
pub struct Snapshot {
    pub entries: Vec<StateEntry>,
    pub hint: Option<String>,
    /// The ECID is unknown: interact asks for it.
    pub needs_ecid: bool,
    /// Responses to requests of an older generation (before a reset) are ignored.
    pub generation: u64,
}

/// Whether collect consent lets a call go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentGate {
    Allow,
    Deny,
    Pending,
}

pub struct Session {
    mode: SessionMode,
    default_consent: DefaultConsent,
    inner: Mutex<Inner>,
    hint_disabled: AtomicBool,
    file: Option<StateFile>,
    gate: Mutex<Gate>,
    /// A storage warning not logged yet: checked without the lock on every call.
    unlogged_warning: AtomicBool,
}

struct Inner {
    data: SessionData,
    generation: u64,
    stamp: Option<Stamp>,
    /// Why the state file could not be used, for the session view and the log.
    warning: Option<String>,
    /// What changed since the state file was last written.
    unsaved: Change,
    last_write: Option<Instant>,
    /// A thread is writing the file now (outside the session lock); it writes
    /// again if more changed meanwhile, so no other thread waits for the disk.
    writing: bool,
}

impl Session {
    pub fn new(config: &Config) -> Result<Session> {
        let file = match &config.state_path {
            Some(path) if config.session == SessionMode::Device => Some(StateFile::open(
                path,
                config.org_id.as_deref(),
                &config.datastream_id,
            )?),
            _ => None,
        };
        let loaded = file.as_ref().map(StateFile::load);
        let (data, stamp, warning) = match loaded {
            Some(l) => (l.data, l.stamp, l.warning),
            None => (SessionData::default(), None, None),
        };
        let unlogged_warning = AtomicBool::new(warning.is_some());
        Ok(Session {
            mode: config.session,
            default_consent: config.default_consent,
            inner: Mutex::new(Inner {
                data,
                generation: 0,
                stamp,
                warning,
                unsaved: Change::None,
                last_write: None,
                writing: false,
            }),
            hint_disabled: AtomicBool::new(false),
            file,
            gate: Mutex::new(Gate::default()),
            unlogged_warning,
        })
    }

    /// Whether this client keeps a visitor's state (session `device`).
    pub fn keeps_state(&self) -> bool {
        self.mode == SessionMode::Device
    }

    /// Whether the session is shared through a state file, whose changes by
    /// other processes no in-process notification announces.
    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Folds in another process's writes when the file changed. The check is
    /// one `stat`; reading happens outside the session lock.
    fn refresh_from_file(&self) {
        let Some(file) = &self.file else { return };
        let stamp = file.stamp();
        let generation = {
            let inner = self.lock();
            if stamp == inner.stamp {
                return;
            }
            inner.generation
        };
        let loaded = file.load();
        let mut inner = self.lock();
        if inner.generation != generation {
            return; // reset meanwhile: what was read is older; the next call reads again
        }
        self.fold_in(&mut inner, &loaded.data);
        inner.stamp = loaded.stamp;
        if loaded.warning.is_some() {
            inner.warning = loaded.warning;
            self.unlogged_warning.store(true, Ordering::Relaxed);
        }
    }

    /// Merges what the file holds into memory; a reset there starts a new generation.
    fn fold_in(&self, inner: &mut Inner, theirs: &SessionData) {
        if theirs.reset_at_ms > inner.data.reset_at_ms {
            inner.generation += 1;
        }
        inner.data.merge_from(theirs);
    }

    /// The state, hint and identity need of a request about to be built.
    pub fn snapshot(&self) -> Snapshot {
        if !self.keeps_state() {
            return Snapshot {
                entries: Vec::new(),
                hint: None,
                needs_ecid: false,
                generation: 0,
            };
        }
        self.refresh_from_file();
        let now = now_ms();
        let inner = self.lock();
        let hint = if self.hint_disabled.load(Ordering::Relaxed) {
            None
        } else {
            inner.data.hint(now).map(str::to_string)
        };
        Snapshot {
            entries: inner.data.entries_to_send(now),
            hint,
            needs_ecid: inner.data.ecid.is_none(),
            generation: inner.generation,
        }
    }

    /// Takes what a successful response says, unless a reset happened since
    /// the request was built. Returns a warning when the file could not be written.
    /// A state-file lock is tried until `deadline` at most.
    pub fn apply(&self, result: &Value, generation: u64, deadline: Instant) -> Option<String> {
        self.update(generation, deadline, |data, now| {
            data.apply_response(result, now)
        })
    }

    /// Records a consent value given by the caller (set-consent without a
    /// `consent:preferences` answer).
    pub fn set_consent(&self, value: &str, generation: u64, deadline: Instant) -> Option<String> {
        self.update(generation, deadline, |data, now| {
            data.set_consent(value, now)
        })
    }

    /// Changes the data of a device session with `change` (which says what it
    /// changed) and saves it when due, unless a reset came in between.
    fn update(
        &self,
        generation: u64,
        deadline: Instant,
        change: impl FnOnce(&mut SessionData, u64) -> Change,
    ) -> Option<String> {
        if !self.keeps_state() {
            return None;
        }
        let now = now_ms();
        let mut inner = self.lock();
        if inner.generation != generation {
            return None;
        }
        let changed = change(&mut inner.data, now);
        self.file.as_ref()?;
        inner.unsaved = inner.unsaved.max(changed);
        if inner.writing || !write_due(&inner) {
            return None;
        }
        inner.writing = true;
        drop(inner);
        self.write_out(deadline)
    }

    /// Writes the file until nothing more is due, without holding the session
    /// lock while the disk works. Called by the one thread that set `writing`.
    fn write_out(&self, deadline: Instant) -> Option<String> {
        let Some(file) = &self.file else {
            self.lock().writing = false;
            return None;
        };
        let mut warning = None;
        // More rounds only when other threads changed the session meanwhile;
        // bounded, so no call writes for ever. What is left waits for the next.
        for _ in 0..3 {
            let (data, generation) = {
                let mut inner = self.lock();
                inner.unsaved = Change::None;
                inner.last_write = Some(Instant::now());
                (inner.data.clone(), inner.generation)
            };
            let saved = file.save(&data, now_ms(), deadline);
            let mut inner = self.lock();
            match saved {
                // A reset came in while writing: memory is newer than what was
                // merged, and the file is read again at the next call.
                Ok(_) if inner.generation != generation => {}
                Ok((merged, stamp)) => {
                    self.fold_in(&mut inner, &merged);
                    inner.data.prune(now_ms());
                    inner.stamp = stamp;
                }
                Err(e) => {
                    // Tried again with the next change, at most once per interval.
                    inner.unsaved = inner.unsaved.max(Change::Refresh);
                    inner.warning = Some(e.message.clone());
                    warning = Some(e.message);
                    inner.writing = false;
                    return warning;
                }
            }
            if inner.unsaved != Change::Material {
                inner.writing = false;
                return warning;
            }
        }
        self.lock().writing = false;
        warning
    }

    /// Writes what is not saved yet (refreshed expiries included), unless
    /// another thread is writing now. For close and drop; the lock is tried
    /// until `deadline`.
    pub fn flush(&self, deadline: Instant) -> Option<String> {
        self.file.as_ref()?;
        let mut inner = self.lock();
        if inner.writing || inner.unsaved == Change::None {
            return None;
        }
        inner.writing = true;
        drop(inner);
        self.write_out(deadline)
    }

    /// A hinted request was answered 404 with an empty body: no more hints for
    /// this client's life.
    pub fn disable_hint(&self) {
        self.hint_disabled.store(true, Ordering::Relaxed);
    }

    pub fn hint_routing(&self) -> bool {
        !self.hint_disabled.load(Ordering::Relaxed)
    }

    /// Forgets the visitor: entries, hint, ECID, consent, and the file's copy.
    /// Responses to requests sent before now are ignored.
    pub fn reset(&self) -> Result<()> {
        let now = now_ms();
        let mut inner = self.lock();
        inner.data.reset(now);
        inner.generation += 1;
        inner.unsaved = Change::None;
        let Some(file) = &self.file else {
            return Ok(());
        };
        let reset = inner.data.clone();
        drop(inner);
        let stamp = file.remove(&reset, Instant::now() + file::LOCK_WAIT)?;
        self.lock().stamp = stamp;
        Ok(())
    }

    pub fn consent_gate(&self) -> ConsentGate {
        if !self.keeps_state() {
            return ConsentGate::Allow;
        }
        self.refresh_from_file();
        let inner = self.lock();
        match inner.data.consent.as_deref() {
            Some("n") => ConsentGate::Deny,
            Some("p") => ConsentGate::Pending,
            Some(_) => ConsentGate::Allow,
            None => match self.default_consent {
                DefaultConsent::In => ConsentGate::Allow,
                DefaultConsent::Pending => ConsentGate::Pending,
            },
        }
    }

    fn consent_view(&self, data: &SessionData) -> Value {
        match (&data.consent, self.default_consent) {
            (Some(v), _) => json!(v),
            (None, DefaultConsent::In) => json!("y"),
            (None, DefaultConsent::Pending) => json!("p"),
        }
    }

    /// The read-only view of `aep_edge_session_get`.
    pub fn view(&self) -> Value {
        if self.keeps_state() {
            self.refresh_from_file();
        }
        let now = now_ms();
        let inner = self.lock();
        let mut view = inner.data.view(now);
        view["session"] = json!(match self.mode {
            SessionMode::Device => "device",
            SessionMode::None => "none",
        });
        view["consent"] = if self.keeps_state() {
            self.consent_view(&inner.data)
        } else {
            Value::Null
        };
        view["hintRouting"] = json!(self.hint_routing());
        view["statePath"] = json!(self.file.as_ref().map(|f| f.path().display().to_string()));
        view["storageWarning"] = json!(inner.warning);
        view
    }

    /// Takes over another session's data (a client reopened after `fork()`).
    /// A lock held by a thread that did not survive the fork is never waited
    /// for: the copy is then skipped and the child starts as a new visitor.
    pub fn adopt_from(&self, other: &Session) {
        let Ok(theirs) = other.inner.try_lock() else {
            return;
        };
        let mut inner = self.lock();
        inner.data.merge_from(&theirs.data);
        if !other.hint_routing() {
            self.disable_hint();
        }
    }

    /// A warning about the state file to log, once per warning. It stays in
    /// the session view.
    pub fn take_warning(&self) -> Option<String> {
        if !self.unlogged_warning.swap(false, Ordering::Relaxed) {
            return None;
        }
        self.lock().warning.clone()
    }

    fn has_identity(&self) -> bool {
        self.refresh_from_file();
        self.lock().data.has_identity(now_ms())
    }

    /// With session `device` and no identity yet, lets one identity-minting
    /// call out at a time (across processes sharing the state file too). The
    /// others wait until it ends, at most [`IDENTITY_WAIT`], the call's
    /// deadline or `close`, then all go out at once with whatever state it
    /// brought, whatever its outcome: a failed mint does not serialise the
    /// rest. A thread that already holds the gate (a log callback calling
    /// interact) goes at once. `CLOSED` when the client closed meanwhile.
    pub fn identity_gate<'a>(
        &'a self,
        deadline: &Deadline<'a>,
    ) -> Result<Option<IdentityTicket<'a>>> {
        if !self.keeps_state() || self.has_identity() {
            return Ok(None);
        }
        let limit = deadline.no_later_than(later(Instant::now(), IDENTITY_WAIT));
        let me = (std::process::id(), std::thread::current().id());
        let mut waiting_on_round = None;
        let mut minting = false;
        let waited = limit.wait_until(
            || {
                if self.has_identity() {
                    return true;
                }
                let mut gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
                if waiting_on_round.is_some_and(|round| round != gate.round) {
                    return true; // the call this one waited for has ended
                }
                match gate.minter {
                    // Free, or held by a thread of the parent process before a
                    // fork(): that thread does not exist here and never ends.
                    None => {
                        gate.minter = Some(me);
                        minting = true;
                        true
                    }
                    Some((pid, _)) if pid != me.0 => {
                        gate.minter = Some(me);
                        minting = true;
                        true
                    }
                    Some(owner) if owner == me => true,
                    Some(_) => {
                        waiting_on_round = Some(gate.round);
                        false
                    }
                }
            },
            None,
        );
        match waited {
            Err(Stop::Closed) => return Err(Error::closed()),
            Err(Stop::Deadline) => return Ok(None),
            Ok(()) if !minting => return Ok(None),
            Ok(()) => {}
        }
        let mut ticket = IdentityTicket {
            session: self,
            lifecycle: deadline.lifecycle(),
            _file_lock: None,
        };
        if let Some(file) = &self.file {
            // Another process may be minting: wait for its identity or its lock.
            let mut minted_elsewhere = false;
            let waited = limit.wait_until(
                || {
                    if self.has_identity() {
                        minted_elsewhere = true;
                        return true;
                    }
                    ticket._file_lock = file.try_identity_lock();
                    ticket._file_lock.is_some()
                },
                Some(Duration::from_millis(10)),
            );
            match waited {
                Err(Stop::Closed) => return Err(Error::closed()),
                _ if minted_elsewhere => return Ok(None),
                _ => {}
            }
        }
        Ok(Some(ticket))
    }
}

/// Whether the file should be written now for what is unsaved.
fn write_due(inner: &Inner) -> bool {
    match inner.unsaved {
        Change::None => false,
        Change::Material => true,
        Change::Refresh => inner
            .last_write
            .is_none_or(|at| at.elapsed() >= REFRESH_WRITE_INTERVAL),
    }
}

impl Drop for Session {
    /// Freeing a client stays quick: the lock is tried briefly.
    fn drop(&mut self) {
        self.flush(Instant::now() + Duration::from_millis(100));
    }
}

/// Who holds the identity gate (process and thread), and how many times it
/// was released.
#[derive(Default)]
struct Gate {
    minter: Option<(u32, ThreadId)>,
    round: u64,
}

/// Held by the one call minting the identity; dropping it lets the others go.
pub struct IdentityTicket<'a> {
    session: &'a Session,
    lifecycle: &'a Lifecycle,
    _file_lock: Option<FileLock>,
}

impl Drop for IdentityTicket<'_> {
    fn drop(&mut self) {
        {
            let mut gate = self.session.gate.lock().unwrap_or_else(|p| p.into_inner());
            gate.minter = None;
            gate.round = gate.round.wrapping_add(1);
        }
        self.lifecycle.notify();
    }
}

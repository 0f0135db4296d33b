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
use state::SessionData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long concurrent first calls wait for the one that mints the identity.
pub const IDENTITY_WAIT: Duration = Duration::from_secs(2);

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

    /// Folds in another process's writes when the file changed.
    fn reload_if_changed(&self, inner: &mut Inner) {
        let Some(file) = &self.file else { return };
        if file.stamp() == inner.stamp {
            return;
        }
        let loaded = file.load();
        if loaded.data.reset_at_ms > inner.data.reset_at_ms {
            inner.generation += 1;
        }
        inner.data.merge_from(&loaded.data);
        inner.stamp = loaded.stamp;
        if loaded.warning.is_some() {
            inner.warning = loaded.warning;
            self.unlogged_warning.store(true, Ordering::Relaxed);
        }
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
        let now = now_ms();
        let mut inner = self.lock();
        self.reload_if_changed(&mut inner);
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
    pub fn apply(&self, result: &Value, generation: u64) -> Option<String> {
        self.update(generation, |data, now| data.apply_response(result, now))
    }

    /// Records a consent value given by the caller (set-consent without a
    /// `consent:preferences` answer).
    pub fn set_consent(&self, value: &str, generation: u64) -> Option<String> {
        self.update(generation, |data, now| {
            data.set_consent(value, now);
            true
        })
    }

    /// Changes the data of a device session with `change` (which says whether
    /// it changed anything) and saves it, unless a reset came in between.
    fn update(
        &self,
        generation: u64,
        change: impl FnOnce(&mut SessionData, u64) -> bool,
    ) -> Option<String> {
        if !self.keeps_state() {
            return None;
        }
        let now = now_ms();
        let mut inner = self.lock();
        if inner.generation != generation || !change(&mut inner.data, now) {
            return None;
        }
        self.persist(&mut inner, now)
    }

    fn persist(&self, inner: &mut Inner, now: u64) -> Option<String> {
        let file = self.file.as_ref()?;
        match file.save(&inner.data, now) {
            Ok((merged, stamp)) => {
                inner.data = merged;
                inner.stamp = stamp;
                None
            }
            Err(e) => Some(e.message),
        }
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
        if let Some(file) = &self.file {
            inner.stamp = file.remove(&inner.data)?;
        }
        Ok(())
    }

    pub fn consent_gate(&self) -> ConsentGate {
        if !self.keeps_state() {
            return ConsentGate::Allow;
        }
        let mut inner = self.lock();
        self.reload_if_changed(&mut inner);
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
        let now = now_ms();
        let mut inner = self.lock();
        if self.keeps_state() {
            self.reload_if_changed(&mut inner);
        }
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
        let mut inner = self.lock();
        self.reload_if_changed(&mut inner);
        inner.data.has_identity(now_ms())
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

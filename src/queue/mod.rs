//! The durable event queue of design.md §3.7: `send_event` stores an event
//! and returns at once; one dispatcher thread per client delivers stored
//! events in batches through the [`Client`], and an event leaves the store
//! only when the Edge Network accepted or rejected it.
//!
//! It sits beside the client and uses it (session, retries, consent); the
//! client knows nothing of it. `store` is the SQLite table, `batch` what goes
//! into one request, `dispatcher` the thread.

mod batch;
mod dispatcher;
mod lock;
mod store;

use crate::config::QueueConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::log::Level;
use crate::session::{now_ms, ConsentGate};
use crate::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use store::Store;

/// Receives one outcome JSON per event, on the dispatcher thread:
/// `{"eventId", "outcome": "delivered" | "rejected", "error"?: {...}, "attempts"}`.
pub type OutcomeFn = Arc<dyn Fn(&Value) + Send + Sync>;

/// The queue of one client. Dropping it (the C ABI's free) stops the
/// dispatcher without waiting for it and without network I/O; what is stored
/// stays stored. When the dispatcher is running, dropping it also closes the
/// client it was opened with, so that the dispatcher's retry waits end at
/// once (`close` first to let it deliver).
pub struct Queue {
    shared: Arc<Shared>,
}

/// What `close` left behind.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueCloseReport {
    /// Events still stored (kept for the next client on the file).
    pub undelivered: u64,
    /// Events inside a request that had not been answered.
    pub in_flight: u64,
    pub stats: Value,
}

struct Shared {
    client: Client,
    config: QueueConfig,
    state: Mutex<State>,
    /// The writer connection, apart from `state`: a send holds it only for its
    /// insert, the dispatcher only for its deletes, and no one holds it while
    /// taking `state` (the order is `state`, then `store`).
    store: Mutex<Slot>,
    /// Wakes the dispatcher: events to send, a flush, close.
    wake: Condvar,
    /// Wakes `flush` and `close`: events left the queue, or the dispatcher stopped.
    changed: Condvar,
    outcome: Mutex<Option<OutcomeFn>>,
    /// Held while an outcome callback runs, so that replacing it can wait for
    /// the running one.
    calling: Mutex<()>,
    /// Set by `close` and drop: no new events.
    closing: AtomicBool,
    /// The process that opened it. In a forked child nothing here may be
    /// locked or used: a thread of the parent may have held it at the fork.
    owner_pid: u32,
}

/// The writer connection's place.
enum Slot {
    /// In memory, before the first event.
    Unopened,
    Open(Store),
    /// The dispatcher stopped for good and let the file go.
    Closed,
}

#[derive(Default)]
struct State {
    dispatcher: Option<ThreadId>,
    dispatcher_running: bool,
    /// Events stored, or being stored by a send that counted them first (so
    /// that the bounds hold exactly under concurrent sends).
    queued: u64,
    bytes: u64,
    /// Sends between counting their event and storing it.
    inserting: u64,
    in_flight: u64,
    /// Outcomes of settled events whose callbacks have not run yet: flush
    /// and close return only after them.
    unreported: u64,
    delivered: u64,
    rejected: BTreeMap<String, u64>,
    retries: u64,
    batches: u64,
    /// The dispatcher must exit (close passed its deadline, or free).
    stop: bool,
    /// Send without waiting for batches to fill (flush, close, a backlog).
    hurry: u64,
    /// When the oldest event not yet picked up by the dispatcher arrived.
    fill_started: Option<Instant>,
}

impl Queue {
    /// The queue of `client`, per its config's `queue`. A file is opened and
    /// locked now (`STORAGE_ERROR` naming it when another client holds it);
    /// when it already holds events, the dispatcher starts now too.
    pub fn open(client: Client) -> Result<Queue> {
        let config = client.config().queue.clone();
        Queue::with_config(client, config)
    }

    /// The queue of a client reopened in a forked child: in memory, whatever
    /// the config says, because the file stays the parent's.
    pub fn open_in_memory(client: Client) -> Result<Queue> {
        let mut config = client.config().queue.clone();
        config.path = None;
        Queue::with_config(client, config)
    }

    fn with_config(client: Client, config: QueueConfig) -> Result<Queue> {
        let mut state = State::default();
        let mut backlog = false;
        let mut slot = Slot::Unopened;
        if let Some(path) = &config.path {
            let (store, contents) = Store::open(Some(path), config.sync)?;
            state.queued = contents.events;
            state.bytes = contents.bytes;
            backlog = contents.events > 0;
            slot = Slot::Open(store);
        }
        let queue = Queue {
            shared: Arc::new(Shared {
                client,
                config,
                state: Mutex::new(state),
                store: Mutex::new(slot),
                wake: Condvar::new(),
                changed: Condvar::new(),
                outcome: Mutex::new(None),
                calling: Mutex::new(()),
                closing: AtomicBool::new(false),
                owner_pid: crate::process::pid(),
            }),
        };
        if backlog {
            let mut state = queue.shared.lock();
            state.hurry += 1;
            queue.shared.client.log(Level::Info, || {
                format!(
                    "the queue file holds {} event(s) from an earlier run; delivering them",
                    state.queued
                )
            });
            queue.shared.start_dispatcher(&mut state)?;
        }
        Ok(queue)
    }

    /// Stores one event (`{"event": {...}, "meta"?: {...}, "options"?: {...}}`)
    /// and returns `{"eventId", "queued"}` at once; never does network I/O.
    pub fn send_event_json(&self, request: &str) -> Result<Value> {
        self.shared.check_accepting()?;
        let queued = batch::prepare_json(request)?;
        self.shared.store_event(queued)
    }

    /// As [`Queue::send_event_json`], from parsed JSON.
    pub fn send_event(&self, request: Value) -> Result<Value> {
        self.shared.check_accepting()?;
        let queued = batch::prepare(request)?;
        self.shared.store_event(queued)
    }

    /// Sends what is waiting without waiting for batches to fill and waits up
    /// to `timeout` for the queue to empty. `Ok(stats)` when it did,
    /// `Err((TIMEOUT error, stats))` when the deadline came first.
    pub fn flush(&self, timeout: Duration) -> std::result::Result<Value, (Error, Value)> {
        let shared = &self.shared;
        if let Err(e) = shared.check_process() {
            return Err((e, self.stats()));
        }
        if let Err(e) = shared.client_open() {
            return Err((e, self.stats()));
        }
        let deadline = Instant::now() + timeout;
        let mut state = shared.lock();
        if state.queued > 0 && !state.dispatcher_running && !state.stop {
            if let Err(e) = shared.start_dispatcher(&mut state) {
                drop(state);
                return Err((e, self.stats()));
            }
        }
        if state.dispatcher == Some(std::thread::current().id()) {
            let queued = state.queued;
            drop(state);
            if queued == 0 {
                return Ok(self.stats());
            }
            let e = Error::new(
                ErrorKind::Timeout,
                "flush cannot wait inside an outcome callback: the dispatcher delivering the events is the calling thread",
            );
            return Err((e, self.stats()));
        }
        state.hurry += 1;
        shared.wake.notify_all();
        let state = shared.wait_until(state, deadline, |s| {
            (s.queued == 0 && s.unreported == 0) || !s.dispatcher_running
        });
        let empty = state.queued == 0;
        let left = state.queued;
        drop(state);
        let stats = self.stats();
        if empty {
            return Ok(stats);
        }
        let why = if shared.lock().stop {
            "the queue was closed"
        } else {
            "the deadline passed"
        };
        Err((
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "{left} event(s) still queued after {} ms: {why}",
                    timeout.as_millis()
                ),
            ),
            stats,
        ))
    }

    /// `{"queued", "inFlight", "delivered", "rejected": {kind or code: n},
    /// "retries", "batches", "oldestAgeMs", "bytes"}`.
    pub fn stats(&self) -> Value {
        if self.shared.check_process().is_err() {
            return json!({"queued": 0, "inFlight": 0, "delivered": 0, "rejected": {},
                          "retries": 0, "batches": 0, "oldestAgeMs": 0, "bytes": 0});
        }
        let queued = self.shared.lock().queued;
        let oldest = match &*self.shared.store() {
            Slot::Open(store) if store.owned_here() && queued > 0 => {
                store.oldest_created_ms().ok().flatten()
            }
            _ => None,
        };
        let state = self.shared.lock();
        let oldest_age_ms = oldest.map_or(0, |ms| now_ms().saturating_sub(ms));
        json!({
            "queued": state.queued,
            "inFlight": state.in_flight,
            "delivered": state.delivered,
            "rejected": state.rejected,
            "retries": state.retries,
            "batches": state.batches,
            "oldestAgeMs": oldest_age_ms,
            "bytes": state.bytes,
        })
    }

    /// Installs the outcome callback (`None` removes it). When this returns,
    /// the previous callback is not running on any other thread.
    pub fn set_outcome_callback(&self, callback: Option<OutcomeFn>) {
        if self.shared.check_process().is_err() {
            return; // a forked child: no dispatcher here will ever call it
        }
        *self
            .shared
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = callback;
        self.shared.wait_for_running_callback();
    }

    /// Stops accepting events, delivers what it can until `deadline`, then
    /// stops the dispatcher (one inside a request finishes it on its own and
    /// exits). What is left stays stored for the next start.
    pub fn close(&self, deadline: Instant) -> QueueCloseReport {
        let shared = &self.shared;
        shared.closing.store(true, Ordering::SeqCst);
        if shared.check_process().is_err() {
            // A forked child: the queue and its events are the parent's.
            return QueueCloseReport {
                undelivered: 0,
                in_flight: 0,
                stats: self.stats(),
            };
        }
        let mut state = shared.lock();
        // Inside an outcome callback the dispatcher is this thread: do not wait for it.
        let own_thread = state.dispatcher == Some(std::thread::current().id());
        state.hurry += 1;
        shared.wake.notify_all();
        if !own_thread {
            state = shared.wait_until(state, deadline, |s| {
                (s.queued == 0 && s.unreported == 0) || !s.dispatcher_running
            });
        }
        state.stop = true;
        shared.wake.notify_all();
        let (undelivered, in_flight) = (state.queued, state.in_flight);
        drop(state);
        QueueCloseReport {
            undelivered,
            in_flight,
            stats: self.stats(),
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.closing.store(true, Ordering::SeqCst);
        if shared.check_process().is_err() {
            return; // a forked child leaves the parent's queue alone
        }
        *shared.outcome.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let running = {
            let mut state = shared.lock();
            state.stop = true;
            shared.wake.notify_all();
            state.dispatcher_running
        };
        if running {
            // Cut its retry waits short; its request in flight ends on its own.
            shared.client.close(Duration::ZERO);
        }
        shared.wait_for_running_callback();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn store(&self) -> MutexGuard<'_, Slot> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn client_open(&self) -> Result<()> {
        if self.client.is_closed() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    /// `STORAGE_ERROR` in a forked child, before any lock is touched.
    fn check_process(&self) -> Result<()> {
        if self.owner_pid == crate::process::pid() {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Storage,
            format!(
                "this client's queue belongs to the parent process (pid {}); create a new client after fork()",
                self.owner_pid
            ),
        ))
    }

    fn check_accepting(&self) -> Result<()> {
        self.check_process()?;
        if self.closing.load(Ordering::SeqCst) {
            return Err(Error::closed());
        }
        self.client_open()?;
        if self.client.consent_gate() == ConsentGate::Deny {
            return Err(Error::new(
                ErrorKind::ConsentDenied,
                "the visitor's collect consent is \"n\": the event was not stored",
            ));
        }
        Ok(())
    }

    fn store_event(self: &Arc<Self>, event: batch::Queued) -> Result<Value> {
        let bytes = event.bytes();
        self.reserve(bytes)?;
        // Outside `state`: the dispatcher updates its counters meanwhile, and
        // `flush` or `stats` never wait for this write.
        let stored = self.insert(&event);
        let mut state = self.lock();
        state.inserting -= 1;
        if let Err(e) = stored {
            state.queued -= 1;
            state.bytes -= bytes;
            return Err(e);
        }
        let queued = state.queued;
        if state.fill_started.is_none() {
            state.fill_started = Some(Instant::now());
        }
        if !state.dispatcher_running {
            self.start_dispatcher(&mut state)?;
        } else if queued % self.config.max_batch_events as u64 == 0 {
            // A batch is full: no need to wait for the interval.
            self.wake.notify_all();
        }
        Ok(json!({"eventId": event.event_id, "queued": queued}))
    }

    /// Counts an event of `bytes` as queued before it is stored, or refuses
    /// it with `QUEUE_FULL`: the bounds hold however many threads send.
    fn reserve(&self, bytes: u64) -> Result<()> {
        let mut state = self.lock();
        if state.stop {
            return Err(Error::closed());
        }
        if state.queued >= self.config.max_events {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!(
                    "the queue holds queue.maxEvents ({}) events; the event was not stored",
                    self.config.max_events
                ),
            ));
        }
        if state.bytes + bytes > self.config.max_bytes {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!(
                    "the queue holds {} bytes; {bytes} more would pass queue.maxBytes ({}); the event was not stored",
                    state.bytes, self.config.max_bytes
                ),
            ));
        }
        state.queued += 1;
        state.bytes += bytes;
        state.inserting += 1;
        Ok(())
    }

    /// Writes the event through the writer connection (opening the in-memory
    /// store at the first event).
    fn insert(&self, event: &batch::Queued) -> Result<()> {
        let mut slot = self.store();
        if matches!(*slot, Slot::Unopened) {
            *slot = Slot::Open(Store::open(None, self.config.sync)?.0);
        }
        let Slot::Open(store) = &*slot else {
            return Err(Error::closed());
        };
        if !store.owned_here() {
            return Err(Error::new(
                ErrorKind::Storage,
                format!(
                    "the queue {} belongs to the parent process; reopen the client after fork()",
                    store.describe()
                ),
            ));
        }
        store.insert(&event.event_id, &event.group, &event.event, now_ms())
    }

    fn start_dispatcher(self: &Arc<Self>, state: &mut State) -> Result<()> {
        if state.dispatcher_running || state.stop {
            return Ok(());
        }
        let shared = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("aep-edge-queue".into())
            .spawn(move || dispatcher::run(shared))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Storage,
                    format!("the queue's dispatcher thread cannot start: {e}"),
                )
            })?;
        state.dispatcher = Some(handle.thread().id());
        state.dispatcher_running = true;
        Ok(())
    }

    /// Waits on `changed` until `done` holds or `deadline` passes.
    fn wait_until<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        deadline: Instant,
        done: impl Fn(&State) -> bool,
    ) -> MutexGuard<'a, State> {
        loop {
            if done(&state) {
                return state;
            }
            let now = Instant::now();
            if now >= deadline {
                return state;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn wait_for_running_callback(&self) {
        let on_dispatcher = self.lock().dispatcher == Some(std::thread::current().id());
        if !on_dispatcher {
            drop(self.calling.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    /// Runs the outcome callback for each outcome, outside every lock but
    /// `calling`, then lets `flush` and `close` waiting on them go.
    fn deliver_outcomes(&self, outcomes: &[Value]) {
        {
            let _calling = self.calling.lock().unwrap_or_else(|p| p.into_inner());
            for outcome in outcomes {
                let callback = self
                    .outcome
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                match callback {
                    Some(f) => f(outcome),
                    None => break,
                }
            }
        }
        let mut state = self.lock();
        state.unreported = state.unreported.saturating_sub(outcomes.len() as u64);
        self.changed.notify_all();
    }
}

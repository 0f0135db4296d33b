//! Async calls (design.md §3.6): worker threads, started at the first call,
//! run the blocking client calls and hand each completion over exactly once:
//! to a callback on the worker thread, or to the poll queue.
//!
//! Beside [`Client`], using it and never used by it. One [`Workers`] belongs
//! to one host handle (the C ABI's client, the Python client): `close` goes
//! through it, and dropping it is the C ABI's `free`.
//!
//! Every count lives under one mutex; workers sleep on `work`, and poll and
//! close sleep on `done`.

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::lifecycle::CloseReport;
use crate::request::{Draft, Endpoint};
use serde_json::Value;
use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::LocalKey;
use std::time::{Duration, Instant};

/// Receives a call's id and what the blocking call would have returned.
pub type CompletionFn = Box<dyn FnOnce(u64, Result<Value>) + Send>;

/// Where a call's completion goes.
pub enum Completion {
    /// Called once: on a worker thread, or on the thread in [`Workers::close`]
    /// for a call that close ended before it started.
    Callback(CompletionFn),
    /// Kept until [`Workers::poll`] hands it out.
    Poll,
}

/// A finished call, as [`Workers::poll`] hands it out.
#[derive(Debug)]
pub struct Finished {
    pub call_id: u64,
    pub result: Result<Value>,
}

/// The async calls of one client. Starts no thread until the first call.
pub struct Workers {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    max_threads: usize,
    max_pending: usize,
    state: Mutex<State>,
    /// Idle workers wait here for a job.
    work: Condvar,
    /// `poll`, `close` and `free` wait here for completions.
    done: Condvar,
    /// A panic was caught in a call or a callback: the host should stop using the client.
    panicked: AtomicBool,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    ready: VecDeque<Finished>,
    last_id: u64,
    /// Calls that count against `maxPending`: accepted, and not yet handed
    /// to their callback or polled.
    pending: usize,
    /// Calls whose completion is not delivered yet, except those a `close`
    /// took from the queue (that close delivers them before it returns).
    undelivered: usize,
    /// Poll-mode calls not yet in `ready`.
    poll_outstanding: usize,
    /// Callbacks running on worker threads now.
    callbacks_running: usize,
    /// Worker threads waiting in `close` (called from a callback of their
    /// job, completion or log): close does not wait for the calling thread's own call.
    closing_on_workers: usize,
    threads: usize,
    idle: usize,
    closed: bool,
    freed: bool,
}

struct Job {
    id: u64,
    draft: Draft,
    accepted: Instant,
    completion: Completion,
}

thread_local! {
    /// On a worker thread: the pool (its `Shared` address, 0 for none) whose
    /// job it is running, and whether it is inside the job's completion callback.
    static WORKER: Cell<(usize, bool)> = const { Cell::new((0, false)) };
    /// The pool this worker thread is counted in `closing_on_workers` for; 0 for none.
    static CLOSING: Cell<usize> = const { Cell::new(0) };
}

impl Workers {
    /// Sizes the pool from the client's `async` settings; no thread starts
    /// here, so a host may fork after creating the client.
    pub fn new(client: Client) -> Workers {
        let settings = client.config().async_calls;
        Workers {
            shared: Arc::new(Shared {
                client,
                max_threads: settings.workers,
                max_pending: settings.max_pending,
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                done: Condvar::new(),
                panicked: AtomicBool::new(false),
            }),
        }
    }

    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// Validates `request` (a JSON string) as the blocking call does and
    /// queues it. On `Ok` the call has a unique, non-zero id and exactly one
    /// completion will follow; on `Err` nothing was queued and no completion follows.
    pub fn submit_json(
        &self,
        endpoint: Endpoint,
        request: &str,
        completion: Completion,
    ) -> Result<u64> {
        let draft = self
            .shared
            .client
            .check_async(endpoint, || Draft::from_json(endpoint, request))?;
        self.enqueue(draft, completion)
    }

    /// As [`Workers::submit_json`], for a parsed request.
    pub fn submit(
        &self,
        endpoint: Endpoint,
        request: Value,
        completion: Completion,
    ) -> Result<u64> {
        let draft = self
            .shared
            .client
            .check_async(endpoint, || Draft::from_value(endpoint, request))?;
        self.enqueue(draft, completion)
    }

    /// The oldest finished poll-mode call, waiting up to `timeout` for one.
    /// `None` when none finished in time, or at once when the client is
    /// closed and no poll-mode call is left to finish.
    pub fn poll(&self, timeout: Duration) -> Option<Finished> {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.shared.lock();
        loop {
            if let Some(finished) = state.ready.pop_front() {
                state.pending -= 1;
                return Some(finished);
            }
            if state.closed && state.poll_outstanding == 0 {
                return None;
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return None;
            }
            state = self
                .shared
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Closes the client (design.md §3.6): refuses new calls, ends the queued
    /// ones with `CLOSED` (their callbacks run on this thread), lets running
    /// ones end as blocking calls end on close, and waits up to `timeout`
    /// until every completion is delivered. From inside a callback it does
    /// not wait for that callback. Idempotent, from any thread.
    pub fn close(&self, timeout: Duration) -> CloseReport {
        let started = Instant::now();
        let shared = &self.shared;
        // A worker thread counts itself once, also when close is nested (a
        // callback that close runs here closes again).
        let own_job = shared.is_worker_here() && !CLOSING.with(|c| c.get() == shared.key());
        let _closing = own_job.then(|| Marker::set(&CLOSING, shared.key()));
        let ended: Vec<Job> = {
            let mut state = shared.lock();
            state.closed = true;
            let ended: Vec<Job> = state.queue.drain(..).collect();
            state.undelivered -= ended.len();
            shared.work.notify_all();
            ended
        };
        for job in ended {
            shared.deliver(job.id, Err(Error::closed()), job.completion, false);
        }
        let report = shared
            .client
            .close(timeout.saturating_sub(started.elapsed()));

        let mut state = shared.lock();
        if own_job {
            state.closing_on_workers += 1;
        }
        let left = loop {
            let left = state.undelivered - state.closing_on_workers;
            let remaining = timeout.saturating_sub(started.elapsed());
            if left == 0 || remaining.is_zero() {
                break left;
            }
            state = shared
                .done
                .wait_timeout(state, remaining)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        if own_job {
            state.closing_on_workers -= 1;
        }
        CloseReport {
            in_flight: report.in_flight.max(left),
            waited: started.elapsed(),
        }
    }

    /// Whether a panic was caught in an async call or callback.
    pub fn has_panicked(&self) -> bool {
        self.shared.panicked.load(Ordering::Acquire)
    }

    /// What `free` does: no callback starts from now on, queued calls and
    /// unpolled completions are dropped, running calls make no further
    /// attempts (their completions are dropped), and this waits only for
    /// callbacks running now. No network I/O, no join. Idempotent.
    fn release(&self) {
        let shared = &self.shared;
        let own_callback = usize::from(shared.is_in_callback_here());
        let (queued, ready) = {
            let mut state = shared.lock();
            state.freed = true;
            state.closed = true;
            let queued: Vec<Job> = state.queue.drain(..).collect();
            let ready: Vec<Finished> = state.ready.drain(..).collect();
            let polled = queued
                .iter()
                .filter(|j| matches!(j.completion, Completion::Poll))
                .count();
            state.pending -= queued.len() + ready.len();
            state.undelivered -= queued.len();
            state.poll_outstanding -= polled;
            shared.work.notify_all();
            shared.done.notify_all();
            (queued, ready)
        };
        // Dropped outside the lock: a host's closure may do anything in drop.
        drop(queued);
        drop(ready);
        if !shared.client.is_closed() {
            shared.client.close(Duration::ZERO);
        }
        let mut state = shared.lock();
        while state.callbacks_running > own_callback {
            state = shared.done.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn enqueue(&self, draft: Draft, completion: Completion) -> Result<u64> {
        let shared = &self.shared;
        let polled = matches!(completion, Completion::Poll);
        let mut state = shared.lock();
        if state.closed {
            return Err(Error::closed());
        }
        if state.pending >= shared.max_pending {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!(
                    "{} async calls are already pending (async.maxPending); let some complete{} first",
                    state.pending,
                    if polled { " and poll them" } else { "" }
                ),
            ));
        }
        state.last_id += 1;
        let id = state.last_id;
        state.pending += 1;
        state.undelivered += 1;
        if polled {
            state.poll_outstanding += 1;
        }
        state.queue.push_back(Job {
            id,
            draft,
            accepted: Instant::now(),
            completion,
        });
        if state.idle > 0 {
            shared.work.notify_one();
        }
        let spawn = state.queue.len() > state.idle && state.threads < shared.max_threads;
        if !spawn {
            return Ok(id);
        }
        state.threads += 1;
        drop(state);
        let worker = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("aep-edge-async".into())
            .spawn(move || worker.work());
        if let Err(e) = spawned {
            let mut state = shared.lock();
            state.threads -= 1;
            if state.threads == 0 {
                // No worker would ever run it: take it back if it is still queued.
                if let Some(at) = state.queue.iter().position(|j| j.id == id) {
                    let job = state.queue.remove(at);
                    state.pending -= 1;
                    state.undelivered -= 1;
                    if polled {
                        state.poll_outstanding -= 1;
                    }
                    drop(state);
                    drop(job);
                    return Err(Error::new(
                        ErrorKind::QueueFull,
                        format!("no worker thread could be started for the async call: {e}"),
                    ));
                }
            }
        }
        Ok(id)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.release();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self) -> usize {
        self as *const Shared as usize
    }

    fn is_worker_here(&self) -> bool {
        WORKER.with(|w| w.get().0 == self.key())
    }

    fn is_in_callback_here(&self) -> bool {
        WORKER.with(|w| w.get() == (self.key(), true))
    }

    /// A worker thread: takes jobs until the client is closed and the queue is empty.
    fn work(self: Arc<Self>) {
        loop {
            let job = {
                let mut state = self.lock();
                loop {
                    if let Some(job) = state.queue.pop_front() {
                        break job;
                    }
                    if state.closed {
                        state.threads -= 1;
                        return;
                    }
                    state.idle += 1;
                    state = self.work.wait(state).unwrap_or_else(|p| p.into_inner());
                    state.idle -= 1;
                }
            };
            let _marker = Marker::set(&WORKER, (self.key(), false));
            let result = self.run(job.draft, job.accepted);
            self.deliver(job.id, result, job.completion, true);
        }
    }

    fn run(&self, draft: Draft, accepted: Instant) -> Result<Value> {
        let call = || {
            // The panic-boundary tests' hook (debug builds only), as in the C ABI.
            #[cfg(debug_assertions)]
            if std::env::var_os("AEP_EDGE_TEST_PANIC").is_some_and(|v| v == "async_worker") {
                panic!("test hook AEP_EDGE_TEST_PANIC=async_worker");
            }
            self.client.run_draft(draft, accepted)
        };
        catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|panic| {
            self.panicked.store(true, Ordering::Release);
            Err(Error::new(
                ErrorKind::Panic,
                format!(
                    "internal error in an async call: {}",
                    panic_message(&*panic)
                ),
            ))
        })
    }

    /// Hands a completion over: to `ready`, or to its callback. `by_worker`
    /// is false for calls that `close` ended (already out of `undelivered`).
    fn deliver(&self, id: u64, result: Result<Value>, completion: Completion, by_worker: bool) {
        let mut state = self.lock();
        let callback = match completion {
            Completion::Poll => {
                state.poll_outstanding -= 1;
                if by_worker {
                    state.undelivered -= 1;
                }
                if state.freed {
                    state.pending -= 1;
                } else {
                    state.ready.push_back(Finished {
                        call_id: id,
                        result,
                    });
                }
                self.done.notify_all();
                return;
            }
            Completion::Callback(callback) => callback,
        };
        state.pending -= 1;
        if state.freed {
            if by_worker {
                state.undelivered -= 1;
            }
            self.done.notify_all();
            drop(state);
            drop(callback);
            return;
        }
        if by_worker {
            state.callbacks_running += 1;
        }
        drop(state);

        let marker = by_worker.then(|| Marker::set(&WORKER, (self.key(), true)));
        if catch_unwind(AssertUnwindSafe(|| callback(id, result))).is_err() {
            self.panicked.store(true, Ordering::Release);
        }
        drop(marker);

        if by_worker {
            let mut state = self.lock();
            state.callbacks_running -= 1;
            state.undelivered -= 1;
            self.done.notify_all();
        }
    }
}

/// Sets a thread-local marker (`WORKER`, `CLOSING`) for a scope and restores
/// what was there before when dropped: markers nest.
struct Marker<T: Copy + 'static> {
    key: &'static LocalKey<Cell<T>>,
    before: T,
}

impl<T: Copy + 'static> Marker<T> {
    fn set(key: &'static LocalKey<Cell<T>>, value: T) -> Marker<T> {
        Marker {
            key,
            before: key.with(|c| c.replace(value)),
        }
    }
}

impl<T: Copy + 'static> Drop for Marker<T> {
    fn drop(&mut self) {
        let before = self.before;
        self.key.with(|c| c.set(before));
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A client whose calls fail fast: nothing listens on port 9 of loopback.
    fn workers(extra: &str) -> Workers {
        let config = format!(
            r#"{{"datastreamId": "ds", "baseUrl": "http://127.0.0.1:9", "retry": {{"maxAttempts": 1}}{extra}}}"#
        );
        Workers::new(Client::from_json(&config).unwrap())
    }

    const EVENT: &str = r#"{"event": {"xdm": {}}}"#;

    #[test]
    fn no_thread_before_the_first_call_and_ids_are_unique() {
        let w = workers(r#", "async": {"workers": 2}"#);
        assert_eq!(w.shared.lock().threads, 0);
        let a = w
            .submit_json(Endpoint::Interact, EVENT, Completion::Poll)
            .unwrap();
        let b = w
            .submit_json(Endpoint::Interact, EVENT, Completion::Poll)
            .unwrap();
        assert!(a != 0 && b != 0 && a != b);
        assert!(w.shared.lock().threads >= 1);
        let mut seen = vec![];
        while seen.len() < 2 {
            let f = w.poll(Duration::from_secs(10)).expect("a completion");
            assert_eq!(f.result.unwrap_err().kind, ErrorKind::Transport);
            seen.push(f.call_id);
        }
        seen.sort();
        assert_eq!(seen, vec![a, b]);
        assert!(w.poll(Duration::ZERO).is_none());
    }

    #[test]
    fn invalid_requests_are_refused_before_queueing() {
        let w = workers("");
        let e = w
            .submit_json(Endpoint::Interact, "{", Completion::Poll)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidJson);
        let e = w
            .submit_json(Endpoint::Collect, r#"{"events": []}"#, Completion::Poll)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(w.shared.lock().pending, 0);
        assert_eq!(w.shared.lock().threads, 0);
    }

    #[test]
    fn max_pending_counts_unpolled_completions() {
        let w = workers(r#", "async": {"maxPending": 2}"#);
        for _ in 0..2 {
            w.submit_json(Endpoint::Interact, EVENT, Completion::Poll)
                .unwrap();
        }
        let e = w
            .submit_json(Endpoint::Interact, EVENT, Completion::Poll)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::QueueFull);
        assert!(w.poll(Duration::from_secs(10)).is_some());
        w.submit_json(Endpoint::Interact, EVENT, Completion::Poll)
            .unwrap();
    }

    #[test]
    fn close_ends_queued_calls_on_the_closing_thread() {
        // One worker, busy with a call that waits on consent: the rest stay queued.
        let w = workers(r#", "async": {"workers": 1}, "defaultConsent": "pending""#);
        let (tx, rx) = mpsc::channel();
        for _ in 0..5 {
            let tx = tx.clone();
            w.submit_json(
                Endpoint::Interact,
                EVENT,
                Completion::Callback(Box::new(move |id, r| {
                    tx.send((id, std::thread::current().id(), r.unwrap_err().kind))
                        .unwrap();
                })),
            )
            .unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        let report = w.close(Duration::from_secs(10));
        assert_eq!(report.in_flight, 0);
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got.len(), 5, "exactly one completion each");
        assert!(got.iter().all(|(_, _, kind)| *kind == ErrorKind::Closed));
        let here = std::thread::current().id();
        assert_eq!(got.iter().filter(|(_, t, _)| *t == here).count(), 4);
        let e = w
            .submit_json(Endpoint::Interact, EVENT, Completion::Poll)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Closed);
    }

    #[test]
    fn close_from_a_callback_does_not_wait_for_it() {
        let w = Arc::new(workers(""));
        let (tx, rx) = mpsc::channel();
        let inner = Arc::clone(&w);
        w.submit_json(
            Endpoint::Interact,
            EVENT,
            Completion::Callback(Box::new(move |_, _| {
                tx.send(inner.close(Duration::from_secs(30))).unwrap();
            })),
        )
        .unwrap();
        let report = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(report.in_flight, 0);
        assert!(report.waited < Duration::from_secs(5));
    }

    #[test]
    fn close_from_a_log_callback_of_a_running_call_does_not_wait_for_it() {
        let w = Arc::new(workers(""));
        let (tx, rx) = mpsc::channel();
        let inner = Arc::downgrade(&w);
        let once = AtomicBool::new(false);
        let sink: crate::LogFn = Arc::new(move |_, message: &str| {
            if message.starts_with("POST") && !once.swap(true, Ordering::SeqCst) {
                if let Some(w) = inner.upgrade() {
                    tx.send(w.close(Duration::from_secs(30))).unwrap();
                }
            }
        });
        w.client().set_logger(5, Some(sink));
        let (done_tx, done_rx) = mpsc::channel();
        w.submit_json(
            Endpoint::Interact,
            EVENT,
            Completion::Callback(Box::new(move |_, r| done_tx.send(r.is_err()).unwrap())),
        )
        .unwrap();
        let report = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(
            report.in_flight, 0,
            "close did not wait for its own thread's call"
        );
        assert!(report.waited < Duration::from_secs(5));
        assert!(done_rx.recv_timeout(Duration::from_secs(10)).unwrap());
    }
}

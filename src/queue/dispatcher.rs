//! The dispatcher thread: waits for a batch to fill (or a flush), sends it
//! through the client, and removes each event once the Edge Network accepted
//! or rejected it. Failures wait with backoff and go again with the same
//! `_id`s; a batch refused for its content is split in halves down to single
//! events, so one bad event never takes good ones with it.

use super::batch;
use super::store::{Reader, Row, Store};
use super::{Shared, Slot, State};
use crate::error::{Error, ErrorKind, Result};
use crate::log::Level;
use crate::request::Endpoint;
use crate::retry;
use crate::session::ConsentGate;
use serde_json::{json, Value};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

/// How often held events look at a pending consent again.
const CONSENT_POLL: Duration = Duration::from_millis(50);
/// The longest wait a `Retry-After` may impose on the queue.
const MAX_SERVER_WAIT: Duration = Duration::from_secs(3600);
/// How long the dispatcher waits for a send that counted its event but has
/// not stored it yet.
const INSERT_WAIT: Duration = Duration::from_millis(1);
/// How often the dispatcher copies the WAL into the queue file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How many settled events stay marked before they are removed in one go
/// (sooner when the queue is empty). Removing holds the write lock that sends
/// need, for about 1.5 µs an event: once per this many sends it delays one.
const COMPACT_AT: u64 = 1000;

pub(super) fn run(shared: Arc<Shared>) {
    let reader = match &*shared.store() {
        Slot::Open(store) => Some(store.reader()),
        _ => None,
    };
    let reader = match reader {
        Some(Ok(reader)) => reader,
        Some(Err(e)) => {
            shared.client.log(Level::Warn, || {
                format!("queue: {e}; reading through the writer")
            });
            None
        }
        None => None,
    };
    let mut dispatcher = Dispatcher {
        shared,
        reader,
        last_checkpoint: Instant::now(),
        marked: 0,
        failures: 0,
        backoff_until: None,
        identity_asked: false,
        seen_hurry: 0,
        hurrying: false,
    };
    dispatcher.run();
    if dispatcher.marked > 0 {
        dispatcher.compact();
    }
    // Its connection closes before the writer and the file lock go.
    drop(dispatcher.reader.take());
    let shared = &dispatcher.shared;
    let mut state = shared.lock();
    state.dispatcher_running = false;
    state.in_flight = 0;
    state.unreported = 0;
    if state.stop || shared.client.is_closed() {
        // Nothing will be sent any more: free the file for the next client.
        *shared.store() = Slot::Closed;
    }
    shared.changed.notify_all();
}

struct Dispatcher {
    shared: Arc<Shared>,
    /// Its own connection to a queue file: reads and checkpoints never hold
    /// the lock that `send_event` takes.
    reader: Option<Reader>,
    last_checkpoint: Instant,
    /// Settled events marked in the store and not yet removed.
    marked: u64,
    /// Failed sends in a row, for the backoff.
    failures: u32,
    backoff_until: Option<Instant>,
    /// The identity-minting interact of a device session without ECID was answered.
    identity_asked: bool,
    seen_hurry: u64,
    /// A flush or close asked for everything now: no waiting for batches to fill.
    hurrying: bool,
}

/// How one request ended for the events in it.
enum Verdict {
    /// 2xx: delivered, except those a 207 names by `report.eventIndex`.
    Accepted(Option<Value>),
    /// 400, 413, 422 (or too large with the state entries): split, or reject one.
    Split(Error),
    /// Any other final 4xx: the request itself was refused.
    RejectAll(Error),
    /// Try again later with the same `_id`s.
    Retry(Error),
    /// Consent is pending (the call waited its deadline): hold the events.
    Held,
    ConsentDenied,
    /// The client was closed: leave the events stored and exit.
    Closed,
}

/// What the main loop does after a step.
enum Next {
    Go,
    Wait(Duration),
    Exit,
}

impl Dispatcher {
    fn run(&mut self) {
        loop {
            if !self.wait_for_work() {
                return;
            }
            let next = match self.shared.client.consent_gate() {
                ConsentGate::Deny => self.reject_everything_for_consent(),
                ConsentGate::Pending => Next::Wait(CONSENT_POLL),
                ConsentGate::Allow => self.send_next(),
            };
            match next {
                Next::Go => {}
                Next::Wait(wait) => self.backoff_until = Some(Instant::now() + wait),
                Next::Exit => return,
            }
        }
    }

    /// Waits until a batch is due; false when the dispatcher must exit.
    fn wait_for_work(&mut self) -> bool {
        let shared = Arc::clone(&self.shared);
        let mut state = shared.lock();
        loop {
            if state.stop || shared.client.is_closed() {
                return false;
            }
            if state.hurry != self.seen_hurry {
                self.seen_hurry = state.hurry;
                self.hurrying = true;
            }
            let now = Instant::now();
            if let Some(until) = self.backoff_until {
                if now < until {
                    state = wait(&shared, state, Some(until - now));
                    continue;
                }
                self.backoff_until = None;
            }
            if state.queued == 0 {
                state.fill_started = None;
                self.hurrying = false;
                shared.changed.notify_all();
                state = wait(&shared, state, None);
                continue;
            }
            let interval = shared.config.flush_interval;
            let waited = state
                .fill_started
                .map_or(interval, |t| now.saturating_duration_since(t));
            let full = state.queued >= shared.config.max_batch_events as u64;
            if self.hurrying || full || waited >= interval {
                return true;
            }
            state = wait(&shared, state, Some(interval - waited));
        }
    }

    /// Sends the next batch: the oldest event alone through interact while a
    /// device session has no ECID yet, else a collect batch.
    fn send_next(&mut self) -> Next {
        let limit = self.shared.config.max_batch_events;
        let read = match &self.reader {
            Some(reader) => reader.next_batch(limit),
            None => self.with_store(|s| s.next_batch(limit)),
        };
        let mut rows = match read {
            Ok(rows) => rows,
            Err(e) => return self.failed(&e, None),
        };
        if rows.is_empty() {
            let mut state = self.shared.lock();
            if state.inserting > 0 {
                // Counted by a send that is still writing it.
                return Next::Wait(INSERT_WAIT);
            }
            // The count was off (it never should be): trust the store.
            state.queued = 0;
            state.bytes = 0;
            return Next::Go;
        }
        if !self.identity_asked && self.shared.client.needs_ecid() {
            rows.truncate(1);
            return self.deliver(&mut rows, Endpoint::Interact);
        }
        let n = batch::fitting(&rows);
        rows.truncate(n);
        self.deliver(&mut rows, Endpoint::Collect)
    }

    /// Sends `rows` and settles each of them, splitting when the content was refused.
    fn deliver(&mut self, rows: &mut [Row], endpoint: Endpoint) -> Next {
        let request = match batch::request(rows, endpoint) {
            Ok(r) => r,
            Err(e) => {
                // A stored event that no longer parses can never be sent.
                let outcomes = rows.iter().map(|r| (r.clone(), Some(e.clone()))).collect();
                return self.settle(outcomes);
            }
        };
        {
            let mut state = self.shared.lock();
            state.in_flight = rows.len() as u64;
            state.batches += 1;
        }
        self.shared.client.log(Level::Debug, || {
            format!(
                "queue: sending {} event(s) to {}",
                rows.len(),
                endpoint.path()
            )
        });
        let result = match endpoint {
            Endpoint::Interact => self.shared.client.interact(request),
            _ => self.shared.client.collect(request),
        };
        self.shared.lock().in_flight = 0;
        let attempts = match &result {
            Ok(v) => v["client"]["attempts"].as_u64().unwrap_or(1) as u32,
            Err(e) => e.attempts,
        };
        if endpoint == Endpoint::Interact
            && (result.is_ok() || result.as_ref().is_err_and(|e| e.http_status.is_some()))
        {
            self.identity_asked = true;
        }
        self.count_attempts(rows, attempts);
        match verdict(result) {
            Verdict::Accepted(value) => {
                let mut rejected = value
                    .as_ref()
                    .map(|v| batch::rejected_by_index(v, rows.len()))
                    .unwrap_or_default();
                let outcomes = rows
                    .iter()
                    .enumerate()
                    .map(|(i, row)| {
                        let error = rejected
                            .iter()
                            .position(|(index, _)| *index == i)
                            .map(|p| rejected.swap_remove(p).1);
                        (row.clone(), error)
                    })
                    .collect();
                self.failures = 0;
                self.settle(outcomes)
            }
            Verdict::Split(_) if rows.len() > 1 => {
                self.keep_attempts(rows, attempts);
                let mid = rows.len() / 2;
                let (first, second) = rows.split_at_mut(mid);
                match self.deliver(first, endpoint) {
                    Next::Go => self.deliver(second, endpoint),
                    other => other,
                }
            }
            Verdict::Split(e) | Verdict::RejectAll(e) => {
                let outcomes = rows.iter().map(|r| (r.clone(), Some(e.clone()))).collect();
                self.settle(outcomes)
            }
            Verdict::Retry(e) => {
                self.keep_attempts(rows, attempts);
                let wait = e.retry_after_ms.map(Duration::from_millis);
                self.failed(&e, wait)
            }
            Verdict::Held => {
                self.keep_attempts(rows, attempts);
                Next::Wait(CONSENT_POLL)
            }
            Verdict::ConsentDenied => self.reject_everything_for_consent(),
            Verdict::Closed => {
                self.keep_attempts(rows, attempts);
                Next::Exit
            }
        }
    }

    /// A send failed: wait (the server's `Retry-After`, else backoff) and go again.
    fn failed(&mut self, e: &Error, server_wait: Option<Duration>) -> Next {
        self.failures = self.failures.saturating_add(1);
        self.checkpoint_now_and_then();
        let policy = &self.shared.client.config().retry;
        let wait = server_wait
            .map(|w| w.min(MAX_SERVER_WAIT))
            .unwrap_or_else(|| retry::backoff(policy, self.failures).max(Duration::from_millis(1)));
        self.shared.client.log(Level::Warn, || {
            format!(
                "queue: delivery failed ({e}); the events stay queued and go again in {} ms",
                wait.as_millis()
            )
        });
        Next::Wait(wait)
    }

    fn count_attempts(&self, rows: &mut [Row], attempts: u32) {
        if attempts == 0 {
            return;
        }
        let mut retries = 0u64;
        for row in rows.iter_mut() {
            // Every send of an event after its first is a retry.
            retries += u64::from(if row.attempts == 0 {
                attempts - 1
            } else {
                attempts
            });
            row.attempts = row.attempts.saturating_add(attempts);
        }
        self.shared.lock().retries += retries;
    }

    /// Events that stay queued keep their attempt count across restarts.
    fn keep_attempts(&self, rows: &[Row], attempts: u32) {
        if attempts == 0 {
            return;
        }
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        if let Err(e) = self.with_store(|s| s.add_attempts(&seqs, attempts)) {
            self.shared
                .client
                .log(Level::Warn, || format!("queue: {e}"));
        }
    }

    /// Consent is "n": every waiting event leaves as rejected.
    fn reject_everything_for_consent(&mut self) -> Next {
        let read = match &self.reader {
            Some(reader) => reader.all(),
            None => self.with_store(|s| s.all()),
        };
        let rows = match read {
            Ok(rows) => rows,
            Err(e) => return self.failed(&e, None),
        };
        let e = Error::new(
            ErrorKind::ConsentDenied,
            "the visitor's collect consent turned \"n\": the event was not sent",
        );
        self.shared.client.log(Level::Info, || {
            format!(
                "queue: collect consent is \"n\"; rejecting {} queued event(s)",
                rows.len()
            )
        });
        let outcomes = rows.into_iter().map(|r| (r, Some(e.clone()))).collect();
        self.settle(outcomes)
    }

    /// Removes settled events (error `None`: delivered) and reports their outcomes.
    fn settle(&mut self, settled: Vec<(Row, Option<Error>)>) -> Next {
        let seqs: Vec<i64> = settled.iter().map(|(r, _)| r.seq).collect();
        // Just before the mark: when the checkpoint copied the whole WAL,
        // the next write starts it over and fsyncs its header (even with
        // synchronous NORMAL). Let that write be this mark, not a send.
        self.checkpoint_now_and_then();
        if let Err(e) = self.with_store(|s| s.mark_settled(&seqs)) {
            // They would go again with the same _ids; the Edge drops duplicates.
            return self.failed(&e, None);
        }
        self.marked += seqs.len() as u64;
        let mut outcomes = Vec::with_capacity(settled.len());
        let empty;
        {
            let mut state = self.shared.lock();
            for (row, error) in &settled {
                state.queued = state.queued.saturating_sub(1);
                state.bytes = state.bytes.saturating_sub(row.bytes);
                let mut outcome = json!({
                    "eventId": row.event_id,
                    "outcome": "delivered",
                    "attempts": row.attempts,
                });
                match error {
                    None => state.delivered += 1,
                    Some(e) => {
                        let key = e.code.clone().unwrap_or_else(|| e.kind.name().to_string());
                        *state.rejected.entry(key).or_default() += 1;
                        outcome["outcome"] = json!("rejected");
                        outcome["error"] = e.to_json()["error"].clone();
                    }
                }
                outcomes.push(outcome);
            }
            state.unreported += outcomes.len() as u64;
            empty = state.queued == 0;
        }
        let rejected = settled.iter().filter(|(_, e)| e.is_some()).count();
        if rejected > 0 {
            self.shared.client.log(Level::Warn, || {
                format!("queue: the Edge Network rejected {rejected} event(s)")
            });
        }
        self.shared.deliver_outcomes(&outcomes);
        if self.marked >= COMPACT_AT || empty {
            self.compact();
        }
        Next::Go
    }

    /// Removes the events marked settled (a failure leaves them marked: they
    /// are not sent again, and the next compaction or open removes them).
    fn compact(&mut self) {
        match self.with_store(Store::compact) {
            Ok(()) => self.marked = 0,
            Err(e) => self
                .shared
                .client
                .log(Level::Warn, || format!("queue: {e}")),
        }
    }

    fn checkpoint_now_and_then(&mut self) {
        let Some(reader) = &self.reader else { return };
        if self.last_checkpoint.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        self.last_checkpoint = Instant::now();
        if let Err(e) = reader.checkpoint() {
            self.shared
                .client
                .log(Level::Warn, || format!("queue: {e}"));
        }
    }

    /// Runs `f` on the writer connection (sends wait meanwhile: keep it short).
    fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        match &*self.shared.store() {
            Slot::Open(store) => f(store),
            _ => Err(Error::new(ErrorKind::Storage, "the queue is not open")),
        }
    }
}

fn wait<'a>(
    shared: &'a Shared,
    state: MutexGuard<'a, State>,
    timeout: Option<Duration>,
) -> MutexGuard<'a, State> {
    match timeout {
        Some(t) => {
            shared
                .wake
                .wait_timeout(state, t)
                .unwrap_or_else(|p| p.into_inner())
                .0
        }
        None => shared.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
    }
}

fn verdict(result: Result<Value>) -> Verdict {
    let e = match result {
        Ok(value) => return Verdict::Accepted(Some(value)),
        Err(e) => e,
    };
    if e.kind == ErrorKind::InvalidResponse
        && e.http_status.is_some_and(|s| (200..300).contains(&s))
    {
        // The Edge Network took it; only its answer was unreadable.
        return Verdict::Accepted(None);
    }
    match e.kind {
        ErrorKind::Closed => return Verdict::Closed,
        ErrorKind::ConsentDenied => return Verdict::ConsentDenied,
        // Refused before sending: too large once the state entries were added.
        ErrorKind::InvalidRequest if e.attempts == 0 => return Verdict::Split(e),
        ErrorKind::Timeout if e.attempts == 0 => return Verdict::Held,
        _ => {}
    }
    if e.kind != ErrorKind::Http {
        // Transport, timeouts, tokens (an IMS answer is no verdict on the
        // events), 5xx bodies that are not JSON: the events wait and go again.
        return Verdict::Retry(e);
    }
    match e.http_status {
        Some(400 | 413 | 422) => Verdict::Split(e),
        Some(s) if (400..500).contains(&s) && !matches!(s, 401 | 403 | 408 | 429) => {
            Verdict::RejectAll(e)
        }
        _ => Verdict::Retry(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> Error {
        let mut e = Error::new(ErrorKind::Http, "answered");
        e.http_status = Some(status);
        e.attempts = 1;
        e
    }

    #[test]
    fn only_the_edges_answers_reject_events() {
        assert!(matches!(verdict(Err(http(422))), Verdict::Split(_)));
        assert!(matches!(verdict(Err(http(400))), Verdict::Split(_)));
        assert!(matches!(verdict(Err(http(413))), Verdict::Split(_)));
        assert!(matches!(verdict(Err(http(404))), Verdict::RejectAll(_)));
        for retried in [401, 403, 408, 429, 500, 503] {
            assert!(
                matches!(verdict(Err(http(retried))), Verdict::Retry(_)),
                "{retried}"
            );
        }
        // An IMS 400 while fetching a token says nothing about the events.
        let mut token = Error::new(ErrorKind::Auth, "no token");
        token.http_status = Some(400);
        assert!(matches!(verdict(Err(token)), Verdict::Retry(_)));
        let mut unreadable = Error::new(ErrorKind::InvalidResponse, "not JSON");
        unreadable.http_status = Some(200);
        assert!(matches!(verdict(Err(unreadable)), Verdict::Accepted(None)));
        let too_big = Error::invalid_request("over 64 KB with the state entries");
        assert!(matches!(verdict(Err(too_big)), Verdict::Split(_)));
        assert!(matches!(verdict(Err(Error::closed())), Verdict::Closed));
    }
}

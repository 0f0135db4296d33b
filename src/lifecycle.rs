//! Open/closed state, the count of calls in flight, and the one wait primitive
//! every wait inside a call uses ([`Deadline`]), so that `close` stops new
//! calls at once, wakes every waiting call and waits for the rest
//! (design.md §3.10).
//!
//! The hot path touches a few atomics; the mutex is only taken to sleep or wake.
//! Whoever changes something a waiter may be waiting for (an identity minted, a
//! token fetched, consent decided) calls [`Lifecycle::notify`]; `close` does too.

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Lifecycle {
    closed: AtomicBool,
    in_flight: AtomicUsize,
    /// Bumped by every `notify`, so a waiter never misses a wake-up that came
    /// between its check and its sleep (its check runs without the mutex).
    epoch: AtomicU64,
    /// Threads that may be asleep on `wake` (counted before their last epoch
    /// check): `notify` skips the mutex and the wake-up syscall when there
    /// are none, as on nearly every call.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

/// Counts its thread among the sleepers while it lives.
struct Sleeper<'a>(&'a AtomicUsize);

impl<'a> Sleeper<'a> {
    fn new(sleepers: &'a AtomicUsize) -> Sleeper<'a> {
        sleepers.fetch_add(1, SeqCst);
        Sleeper(sleepers)
    }
}

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

thread_local! {
    /// Calls this thread has in flight, per lifecycle (by address): `close` from
    /// inside a callback must not wait for its own thread's call.
    static OWN_CALLS: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
}

/// Held for the length of one call; dropping it ends the call.
pub struct CallGuard<'a>(&'a Lifecycle);

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.0.count_own_call(false);
        self.0.in_flight.fetch_sub(1, SeqCst);
        if self.0.closed.load(SeqCst) {
            self.0.notify();
        }
    }
}

/// What `close` saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseReport {
    /// Calls still running when `close` returned (0 unless it timed out). A
    /// call of the thread calling `close` (close from inside a callback) is
    /// not waited for and not counted.
    pub in_flight: usize,
    pub waited: Duration,
}

/// Why a wait ended before what it waited for happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The client was closed: no new attempt may start.
    Closed,
    /// The deadline passed.
    Deadline,
}

/// The deadline of one call and the client it runs on: every wait inside the
/// call takes one and ends at whichever comes first, the deadline or `close`.
#[derive(Clone, Copy)]
pub struct Deadline<'a> {
    at: Instant,
    life: &'a Lifecycle,
}

impl<'a> Deadline<'a> {
    pub fn lifecycle(&self) -> &'a Lifecycle {
        self.life
    }

    /// The same client, with a deadline no later than `at`.
    pub fn no_later_than(&self, at: Instant) -> Deadline<'a> {
        Deadline {
            at: self.at.min(at),
            life: self.life,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// `Closed` once the client is closed, else `Deadline` once it passed.
    pub fn check(&self) -> std::result::Result<(), Stop> {
        self.check_left().map(drop)
    }

    /// [`Deadline::check`] with the time left when it passes (one clock read
    /// for both).
    pub fn check_left(&self) -> std::result::Result<Duration, Stop> {
        if self.life.is_closed() {
            return Err(Stop::Closed);
        }
        match self.remaining() {
            left if left.is_zero() => Err(Stop::Deadline),
            left => Ok(left),
        }
    }

    /// Sleeps for `duration`; ends early at the deadline or at `close`.
    pub fn sleep(&self, duration: Duration) -> std::result::Result<(), Stop> {
        let until = later(Instant::now(), duration);
        let nap = self.no_later_than(until);
        match nap.wait_until(|| false, None) {
            Err(Stop::Deadline) if until <= self.at => Ok(()),
            other => other,
        }
    }

    /// Waits until `ready()` is true, the deadline passes or the client is
    /// closed, whichever comes first. `ready` runs without any lock of the
    /// lifecycle held, after every `notify` and, with `recheck`, at least that
    /// often (for conditions no notify announces, such as another process's
    /// write to the state file).
    pub fn wait_until(
        &self,
        mut ready: impl FnMut() -> bool,
        recheck: Option<Duration>,
    ) -> std::result::Result<(), Stop> {
        let life = self.life;
        loop {
            let seen = life.epoch.load(SeqCst);
            if life.is_closed() {
                return Err(Stop::Closed);
            }
            if ready() {
                return Ok(());
            }
            let remaining = self.remaining();
            if remaining.is_zero() {
                return Err(Stop::Deadline);
            }
            let nap = recheck.map_or(remaining, |r| r.min(remaining));
            let _sleeper = Sleeper::new(&life.sleepers);
            let held = life.lock.lock().unwrap_or_else(|p| p.into_inner());
            if life.epoch.load(SeqCst) == seen && !life.is_closed() {
                drop(
                    life.wake
                        .wait_timeout(held, nap)
                        .unwrap_or_else(|p| p.into_inner()),
                );
            }
        }
    }
}

/// `from + duration`, saturating far in the future instead of overflowing.
pub fn later(from: Instant, duration: Duration) -> Instant {
    from.checked_add(duration)
        .or_else(|| from.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(from)
}

impl Lifecycle {
    /// Starts a call, or fails with `CLOSED`.
    pub fn enter(&self) -> Result<CallGuard<'_>> {
        self.in_flight.fetch_add(1, SeqCst);
        self.count_own_call(true);
        let guard = CallGuard(self);
        if self.closed.load(SeqCst) {
            return Err(Error::closed());
        }
        Ok(guard)
    }

    /// The deadline of a call starting now that may last `total`.
    #[cfg(test)]
    pub fn deadline(&self, total: Duration) -> Deadline<'_> {
        self.deadline_at(later(Instant::now(), total))
    }

    /// A call's deadline at `at`.
    pub fn deadline_at(&self, at: Instant) -> Deadline<'_> {
        Deadline { at, life: self }
    }

    /// `CLOSED` when the client is closed; for calls that are not counted in flight.
    pub fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    /// Wakes every wait so that it checks its condition again.
    pub fn notify(&self) {
        self.epoch.fetch_add(1, SeqCst);
        // A sleeper counts itself before it checks the epoch for the last
        // time (both SeqCst): one this load misses sees the new epoch and
        // does not sleep.
        if self.sleepers.load(SeqCst) == 0 {
            return;
        }
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.wake.notify_all();
    }

    /// Refuses new calls, wakes every waiting call, and waits up to `timeout`
    /// for the calls in flight, except the calling thread's own (close from
    /// inside a callback). Safe to call many times from any thread.
    pub fn close(&self, timeout: Duration) -> CloseReport {
        let start = Instant::now();
        let until = later(start, timeout);
        self.closed.store(true, SeqCst);
        self.notify();
        let own = self.own_calls();
        // Counted before the first look at in_flight: a call ending after it
        // (CallGuard's notify) sees this sleeper.
        let _sleeper = Sleeper::new(&self.sleepers);
        let mut held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let in_flight = self.in_flight.load(SeqCst).saturating_sub(own);
            let now = Instant::now();
            if in_flight == 0 || now >= until {
                return CloseReport {
                    in_flight,
                    waited: now - start,
                };
            }
            held = self
                .wake
                .wait_timeout(held, until - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn key(&self) -> usize {
        self as *const Lifecycle as usize
    }

    fn count_own_call(&self, start: bool) {
        let key = self.key();
        let _ = OWN_CALLS.try_with(|calls| {
            let mut calls = calls.borrow_mut();
            match calls.iter().position(|(k, _)| *k == key) {
                Some(i) if start => calls[i].1 += 1,
                Some(i) => {
                    calls[i].1 -= 1;
                    if calls[i].1 == 0 {
                        calls.swap_remove(i);
                    }
                }
                None if start => calls.push((key, 1)),
                None => {}
            }
        });
    }

    fn own_calls(&self) -> usize {
        let key = self.key();
        OWN_CALLS
            .try_with(|calls| {
                calls
                    .borrow()
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(0, |(_, n)| *n)
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn close_refuses_new_calls_and_waits_for_running_ones() {
        let life = Arc::new(Lifecycle::default());
        let l2 = life.clone();
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f2 = finished.clone();
        let (entered, has_entered) = std::sync::mpsc::channel();
        let running = thread::spawn(move || {
            let _g = l2.enter().unwrap();
            entered.send(()).unwrap();
            thread::sleep(Duration::from_millis(100));
            f2.store(true, SeqCst);
        });
        // Close only once the call is surely running (no timing guess).
        has_entered.recv().unwrap();
        let report = life.close(Duration::from_secs(30));
        assert_eq!(report.in_flight, 0);
        assert!(
            finished.load(SeqCst),
            "close returned before the running call ended"
        );
        assert_eq!(life.enter().err().unwrap().kind, crate::ErrorKind::Closed);
        running.join().unwrap();
    }

    #[test]
    fn close_times_out_and_wakes_sleepers() {
        let life = Arc::new(Lifecycle::default());
        let l2 = life.clone();
        let sleeper = thread::spawn(move || {
            let _g = l2.enter().unwrap();
            let slept = l2
                .deadline(Duration::from_secs(60))
                .sleep(Duration::from_secs(30));
            thread::sleep(Duration::from_millis(200));
            slept
        });
        thread::sleep(Duration::from_millis(20));
        let report = life.close(Duration::from_millis(50));
        assert_eq!(report.in_flight, 1);
        assert_eq!(
            sleeper.join().unwrap(),
            Err(Stop::Closed),
            "the sleep was cut short"
        );
        assert_eq!(life.close(Duration::from_secs(1)).in_flight, 0);
    }

    #[test]
    fn a_wait_ends_at_notify_close_or_deadline() {
        let life = Arc::new(Lifecycle::default());
        let flag = Arc::new(AtomicBool::new(false));
        let (l2, f2) = (life.clone(), flag.clone());
        let waiter = thread::spawn(move || {
            let d = l2.deadline(Duration::from_secs(30));
            d.wait_until(|| f2.load(SeqCst), None)
        });
        thread::sleep(Duration::from_millis(20));
        flag.store(true, SeqCst);
        life.notify();
        assert_eq!(waiter.join().unwrap(), Ok(()));

        let d = life.deadline(Duration::from_millis(30));
        assert_eq!(d.wait_until(|| false, None), Err(Stop::Deadline));
        assert_eq!(d.sleep(Duration::from_millis(5)), Err(Stop::Deadline));
        let d = life.deadline(Duration::from_secs(30));
        assert_eq!(d.sleep(Duration::from_millis(5)), Ok(()));

        let l2 = life.clone();
        let waiter = thread::spawn(move || {
            l2.deadline(Duration::from_secs(30))
                .wait_until(|| false, None)
        });
        thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        life.close(Duration::from_secs(1));
        assert_eq!(waiter.join().unwrap(), Err(Stop::Closed));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn close_does_not_wait_for_the_calling_threads_own_call() {
        let life = Lifecycle::default();
        let _mine = life.enter().unwrap();
        let report = life.close(Duration::from_secs(30));
        assert_eq!(report.in_flight, 0);
        assert!(report.waited < Duration::from_secs(5));
    }

    #[test]
    fn huge_durations_saturate() {
        let life = Lifecycle::default();
        let d = life.deadline(Duration::MAX);
        assert!(d.check().is_ok());
        assert!(later(Instant::now(), Duration::MAX) > Instant::now());
    }
}

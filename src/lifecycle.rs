//! Open/closed state and the count of calls in flight, so that `close` can stop
//! new calls at once, cut retry waits short and wait for the rest.
//!
//! The hot path touches two atomics; the mutex is only taken to sleep or wake.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Lifecycle {
    closed: AtomicBool,
    in_flight: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

/// Held for the length of one call; dropping it ends the call.
pub struct CallGuard<'a>(&'a Lifecycle);

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, SeqCst);
        if self.0.closed.load(SeqCst) {
            self.0.notify();
        }
    }
}

/// What `close` saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseReport {
    /// Calls still running when `close` returned (0 unless it timed out).
    pub in_flight: usize,
    pub waited: Duration,
}

impl Lifecycle {
    /// Starts a call, or fails with `CLOSED`.
    pub fn enter(&self) -> Result<CallGuard<'_>> {
        self.in_flight.fetch_add(1, SeqCst);
        let guard = CallGuard(self);
        if self.closed.load(SeqCst) {
            return Err(Error::closed());
        }
        Ok(guard)
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

    /// Sleeps for `duration` unless the client is closed first.
    /// Returns false when it was closed (the caller must not send again).
    pub fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        let mut held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.closed.load(SeqCst) {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            held = self
                .wake
                .wait_timeout(held, until - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Refuses new calls, wakes sleeping retries, and waits up to `timeout`
    /// for the calls in flight. Safe to call many times from any thread.
    pub fn close(&self, timeout: Duration) -> CloseReport {
        let start = Instant::now();
        let mut held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.closed.store(true, SeqCst);
        self.wake.notify_all();
        loop {
            let in_flight = self.in_flight.load(SeqCst);
            let waited = start.elapsed();
            if in_flight == 0 || waited >= timeout {
                return CloseReport { in_flight, waited };
            }
            held = self
                .wake
                .wait_timeout(held, timeout - waited)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn notify(&self) {
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.wake.notify_all();
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
        let running = thread::spawn(move || {
            let _g = l2.enter().unwrap();
            thread::sleep(Duration::from_millis(100));
        });
        thread::sleep(Duration::from_millis(20));
        let report = life.close(Duration::from_secs(5));
        assert_eq!(report.in_flight, 0);
        assert!(report.waited >= Duration::from_millis(50));
        assert_eq!(life.enter().err().unwrap().kind, crate::ErrorKind::Closed);
        running.join().unwrap();
    }

    #[test]
    fn close_times_out_and_wakes_sleepers() {
        let life = Arc::new(Lifecycle::default());
        let l2 = life.clone();
        let sleeper = thread::spawn(move || {
            let _g = l2.enter().unwrap();
            let slept = l2.sleep(Duration::from_secs(30));
            thread::sleep(Duration::from_millis(200));
            slept
        });
        thread::sleep(Duration::from_millis(20));
        let report = life.close(Duration::from_millis(50));
        assert_eq!(report.in_flight, 1);
        assert!(!sleeper.join().unwrap(), "the sleep was cut short");
        assert_eq!(life.close(Duration::from_secs(1)).in_flight, 0);
    }
}

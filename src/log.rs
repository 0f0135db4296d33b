//! The client's log sink: a level and one callback, set per client.
//!
//! Messages are built only when the level is enabled; the hot path with no
//! callback costs one atomic load. A callback may call back into the library,
//! `set` included (design.md §3.10). Nothing logged ever contains a token or
//! secret: the client logs methods, paths, statuses and timings, never headers
//! or bodies.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Log levels, numbered as in the C ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// A log callback; it may be called from any thread that makes a call.
pub type LogFn = Arc<dyn Fn(Level, &str) + Send + Sync>;

#[derive(Default)]
pub struct Logger {
    /// 0 = off; otherwise messages with `level <= min` are delivered.
    min: AtomicU32,
    state: Mutex<State>,
    /// Signalled when a delivery ends, for `set` waiting on the old callback.
    delivered: Condvar,
}

#[derive(Default)]
struct State {
    sink: Option<LogFn>,
    /// Bumped by every `set`.
    generation: u64,
    /// Deliveries running now: the generation of their callback.
    running: Vec<u64>,
}

thread_local! {
    /// How many log callbacks (of any client) this thread is inside.
    static DELIVERING: Cell<u32> = const { Cell::new(0) };
}

fn inside_a_callback() -> bool {
    DELIVERING.try_with(|d| d.get() > 0).unwrap_or(false)
}

impl Logger {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Installs (or with `None` removes) the callback.
    ///
    /// When this returns, the previous callback is no longer running on any
    /// thread, so a host may free what it captured. Called from inside a log
    /// callback (of any client; a callback may call anything), it does not
    /// wait: the calling thread is itself inside a callback, and the
    /// deliveries it would wait for may be waiting for it. Nothing spins: it
    /// sleeps on a condvar that every ending delivery signals.
    pub fn set(&self, min_level: u32, sink: Option<LogFn>) {
        let enabled = sink.is_some();
        let mut state = self.state();
        let previous = std::mem::replace(&mut state.sink, sink);
        state.generation = state.generation.wrapping_add(1);
        let generation = state.generation;
        self.min.store(
            if enabled { min_level.min(5) } else { 0 },
            Ordering::Release,
        );
        if inside_a_callback() {
            return;
        }
        while state.running.iter().any(|g| *g != generation) {
            state = self
                .delivered
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        drop(state);
        drop(previous);
    }

    /// The level and callback in force. Never blocks: a lock held at `fork()`
    /// by a thread the child does not have gives `(0, None)` (the callback is
    /// then not carried over to a reopened client).
    pub fn current(&self) -> (u32, Option<LogFn>) {
        let sink = match self.state.try_lock() {
            Ok(state) => state.sink.clone(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().sink.clone(),
            Err(std::sync::TryLockError::WouldBlock) => return (0, None),
        };
        (self.min.load(Ordering::Acquire), sink)
    }

    pub fn enabled(&self, level: Level) -> bool {
        (level as u32) <= self.min.load(Ordering::Acquire)
    }

    /// Delivers `message()` when `level` is enabled. A panicking callback is
    /// contained here so that logging can never take a call down.
    pub fn log(&self, level: Level, message: impl FnOnce() -> String) {
        if !self.enabled(level) {
            return;
        }
        let (sink, generation) = {
            let mut state = self.state();
            let Some(sink) = state.sink.clone() else {
                return;
            };
            let generation = state.generation;
            state.running.push(generation);
            (sink, generation)
        };
        let text = message();
        let _ = DELIVERING.try_with(|d| d.set(d.get() + 1));
        let _ = catch_unwind(AssertUnwindSafe(|| sink(level, &text)));
        let _ = DELIVERING.try_with(|d| d.set(d.get().saturating_sub(1)));
        drop(sink);
        let mut state = self.state();
        if let Some(i) = state.running.iter().position(|g| *g == generation) {
            state.running.swap_remove(i);
        }
        drop(state);
        self.delivered.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn levels_filter_and_none_removes() {
        let logger = Logger::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        logger.set(
            Level::Warn as u32,
            Some(Arc::new(move |l, m: &str| {
                s2.lock().unwrap().push((l, m.to_string()))
            })),
        );
        logger.log(Level::Error, || "e".into());
        logger.log(Level::Info, || panic!("an info message must not be built"));
        logger.set(5, None);
        logger.log(Level::Error, || "after removal".into());
        assert_eq!(*seen.lock().unwrap(), vec![(Level::Error, "e".to_string())]);
    }

    #[test]
    fn set_from_inside_the_callback_and_with_a_shared_sink_returns() {
        let logger = Arc::new(Logger::default());
        let inner = logger.clone();
        let calls = Arc::new(Mutex::new(0));
        let c2 = calls.clone();
        let sink: LogFn = Arc::new(move |_, _: &str| {
            *c2.lock().unwrap() += 1;
            inner.set(5, None);
        });
        logger.set(5, Some(sink.clone()));
        logger.log(Level::Error, || "x".into());
        assert_eq!(*calls.lock().unwrap(), 1);
        // The same callback shared with another logger (a reopened client).
        let other = Logger::default();
        other.set(5, Some(sink.clone()));
        logger.set(5, Some(sink.clone()));
        other.set(5, None);
        logger.set(5, None);
    }

    #[test]
    fn set_waits_for_a_delivery_on_another_thread() {
        let logger = Arc::new(Logger::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d2 = done.clone();
        logger.set(
            5,
            Some(Arc::new(move |_, _: &str| {
                tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(100));
                d2.store(true, Ordering::SeqCst);
            })),
        );
        let l2 = logger.clone();
        let t = std::thread::spawn(move || l2.log(Level::Error, || "x".into()));
        rx.recv().unwrap();
        logger.set(5, None);
        assert!(
            done.load(Ordering::SeqCst),
            "set returned while the callback ran"
        );
        t.join().unwrap();
    }

    #[test]
    fn a_panicking_callback_is_contained() {
        let logger = Logger::default();
        logger.set(5, Some(Arc::new(|_, _: &str| panic!("host bug"))));
        logger.log(Level::Error, || "x".into());
    }
}

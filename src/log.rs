//! The client's log sink: a level and one callback, set per client.
//!
//! Messages are built only when the level is enabled; the hot path with no
//! callback costs one atomic load. Nothing logged ever contains a token or
//! secret: the client logs methods, paths, statuses and timings, never headers
//! or bodies.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

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
    sink: RwLock<Option<LogFn>>,
}

impl Logger {
    /// Installs (or with `None` removes) the callback.
    ///
    /// When this returns, the previous callback is no longer running on any
    /// thread, so a host may free what it captured. A callback must therefore
    /// never call `set` itself.
    pub fn set(&self, min_level: u32, sink: Option<LogFn>) {
        let enabled = sink.is_some();
        let previous = std::mem::replace(
            &mut *self.sink.write().unwrap_or_else(|p| p.into_inner()),
            sink,
        );
        self.min.store(
            if enabled { min_level.min(5) } else { 0 },
            Ordering::Release,
        );
        // Threads delivering a message hold a clone of the callback.
        if let Some(previous) = previous {
            while Arc::strong_count(&previous) > 1 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }

    /// The level and callback in force.
    pub fn current(&self) -> (u32, Option<LogFn>) {
        let sink = self.sink.read().unwrap_or_else(|p| p.into_inner()).clone();
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
        let sink = self.sink.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(sink) = sink {
            let text = message();
            let _ = catch_unwind(AssertUnwindSafe(|| sink(level, &text)));
        }
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
    fn a_panicking_callback_is_contained() {
        let logger = Logger::default();
        logger.set(5, Some(Arc::new(|_, _: &str| panic!("host bug"))));
        logger.log(Level::Error, || "x".into());
    }
}

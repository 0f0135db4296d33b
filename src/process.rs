//! What changes when the process forks: its id, and a generation number that
//! per-thread caches compare to know they were copied into a child.
//!
//! `std::process::id()` is a system call each time, and the hot paths ask
//! often (the queue checks its owner on every send; random ids are drawn from
//! a per-thread pool that a child must not share with its parent). Both are
//! cached here and reset by a `pthread_atfork` child handler, installed the
//! first time either is read (a fork before that leaves nothing to reset).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Once;

/// 0 until first read, and again in a child right after a fork.
static PID: AtomicU32 = AtomicU32::new(0);
/// Bumped in every child right after a fork.
static GENERATION: AtomicU64 = AtomicU64::new(1);
static INSTALL: Once = Once::new();

#[cfg(unix)]
extern "C" fn in_child() {
    // Async-signal-safe: two atomic stores.
    PID.store(0, Ordering::Relaxed);
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

fn install() {
    INSTALL.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registers a plain function that only stores to atomics.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

/// This process's id, without a system call after the first read.
pub fn pid() -> u32 {
    let cached = PID.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    install();
    let pid = std::process::id();
    PID.store(pid, Ordering::Relaxed);
    pid
}

/// A number that changes in a child after every fork (never 0).
pub fn generation() -> u64 {
    install();
    GENERATION.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cached_pid_is_the_process_id() {
        assert_eq!(pid(), std::process::id());
        assert_eq!(pid(), std::process::id());
        assert_ne!(generation(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_child_sees_its_own_pid_and_a_new_generation() {
        let parent_generation = generation();
        let parent_pid = pid();
        // SAFETY: the child only reads atomics and calls getpid/_exit.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            let ok = pid() == std::process::id()
                && pid() != parent_pid
                && generation() != parent_generation;
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert_eq!(pid(), parent_pid);
        assert_eq!(generation(), parent_generation);
    }
}

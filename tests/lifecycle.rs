//! design.md §3.10 from Rust: a log callback shared by a reopened client, or
//! replaced from inside itself, never makes `set_logger` spin; `close` from
//! inside a callback does not wait for its own call. (The C tests in
//! tests/c/robust_test.c cover the same rules and the waits through the ABI.)
#![allow(clippy::result_large_err)]

mod common;

use aep_edge::{Client, ErrorKind, Level, LogFn};
use common::*;
use serde_json::json;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs `f` on a thread and fails the test if it has not returned in 10 s
/// (a spinning or deadlocked call would otherwise hang the test run).
fn within_10s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} did not return within 10 s"))
}

#[test]
fn a_callback_shared_by_a_reopened_client_can_be_replaced() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let sink: LogFn = Arc::new(|_, _: &str| {});
    client.set_logger(5, Some(sink));
    let reopened = client.reopen().unwrap();
    within_10s("set_logger with a shared callback", move || {
        client.set_logger(5, None);
        reopened.set_logger(5, None);
    });
}

#[test]
fn a_callback_may_replace_itself_and_close_its_client() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"session": "none"}));
    let slot: Arc<Mutex<Option<Client>>> = Arc::new(Mutex::new(Some(client.clone())));
    let close_took: Arc<Mutex<Option<Duration>>> = Arc::new(Mutex::new(None));
    let (s2, t2) = (slot.clone(), close_took.clone());
    let sink: LogFn = Arc::new(move |level, message: &str| {
        if level != Level::Debug || !message.starts_with("POST") {
            return;
        }
        let Some(me) = s2.lock().unwrap().take() else {
            return;
        };
        me.set_logger(5, None);
        let started = Instant::now();
        let report = me.close(Duration::from_secs(3600));
        assert_eq!(report.in_flight, 0);
        *t2.lock().unwrap() = Some(started.elapsed());
    });
    client.set_logger(5, Some(sink));
    let outcome = within_10s("interact whose callback closes the client", move || {
        client.interact(source_request())
    });
    let took = close_took
        .lock()
        .unwrap()
        .expect("the callback closed the client");
    assert!(took < Duration::from_secs(2), "close waited {took:?}");
    let e = outcome.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Closed, "{e}");
    assert_eq!((e.attempts, e.request_id.as_deref()), (0, None));
    assert!(edge.requests().is_empty(), "no attempt after close");
}

//! `options.timeouts` (design.md §4.1 "per call"): one call's own attempt and
//! total timeouts, over the config's, against the emulator's delays.

mod common;

use aep_edge::ErrorKind;
use aep_edge_emulator::Fault;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn request_with(timeouts: serde_json::Value) -> serde_json::Value {
    json!({"event": source_event(), "options": {"timeouts": timeouts}})
}

#[test]
fn request_ms_bounds_each_attempt_of_this_call_only() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"retry": {"maxAttempts": 1}}));
    edge.inject(Fault::delay(1500).on_path("/interact"));
    let started = Instant::now();
    let e = client
        .interact(request_with(json!({"requestMs": 200})))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(
        started.elapsed() < Duration::from_millis(1300),
        "{:?}",
        started.elapsed()
    );

    // The next call keeps the config's 5 s per attempt and outlasts the delay.
    edge.inject(Fault::delay(600).on_path("/interact"));
    assert_eq!(
        client.interact(source_request()).unwrap()["client"]["httpStatus"],
        200
    );
}

#[test]
fn total_ms_bounds_the_whole_call_and_is_named() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    edge.inject(Fault::delay(1500).on_path("/interact"));
    let started = Instant::now();
    let e = client
        .interact(request_with(json!({"totalMs": 300})))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(e.message.contains("300 ms"), "{}", e.message);
    assert!(
        started.elapsed() < Duration::from_millis(1300),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn bad_timeouts_are_invalid_requests_naming_the_key() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    for (timeouts, named) in [
        (json!({"requestMs": 0}), "options.timeouts.requestMs"),
        (json!({"totalMs": "5"}), "options.timeouts.totalMs"),
        (json!({"connectMs": 5}), "options.timeouts.connectMs"),
        (json!(5), "options.timeouts"),
    ] {
        let e = client.interact(request_with(timeouts)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains(named), "{}", e.message);
    }
    assert!(edge.requests().is_empty(), "nothing was sent");
}

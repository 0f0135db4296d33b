//! `close`: new calls refused, calls in flight finish, retry waits cut short.
#![allow(clippy::result_large_err)]

mod common;

use aep_edge::ErrorKind;
use aep_edge_emulator::Fault;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn close_waits_for_calls_in_flight_then_refuses_new_ones() {
    let edge = emulator();
    // Session none: no identity gate, so all three calls are on the wire when
    // close comes (a call still waiting for the first call's identity would
    // end with CLOSED instead).
    let client = client(&edge.base_url(), json!({"session": "none"}));
    edge.inject(Fault::delay(400).times(3));
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..3)
            .map(|_| s.spawn(|| client.interact(source_request())))
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        let report = client.close(Duration::from_secs(5));
        assert_eq!(report.in_flight, 0);
        assert!(
            report.waited >= Duration::from_millis(200),
            "{:?}",
            report.waited
        );
        for call in calls {
            assert!(
                call.join().unwrap().is_ok(),
                "calls in flight end with their own outcome"
            );
        }
    });
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Closed);
    assert_eq!(e.attempts, 0);
    assert_eq!(
        client.collect(json!({"events": [{}]})).unwrap_err().kind,
        ErrorKind::Closed
    );
    assert_eq!(
        client.close(Duration::ZERO).in_flight,
        0,
        "close is idempotent"
    );
}

#[test]
fn close_times_out_when_a_call_outlasts_it() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    edge.inject(Fault::delay(1000));
    std::thread::scope(|s| {
        let call = s.spawn(|| client.interact(source_request()));
        std::thread::sleep(Duration::from_millis(100));
        let report = client.close(Duration::from_millis(50));
        assert_eq!(report.in_flight, 1);
        assert!(call.join().unwrap().is_ok());
    });
}

#[test]
fn close_stops_a_call_waiting_to_retry() {
    let edge = emulator();
    let client = client(
        &edge.base_url(),
        json!({"retry": {"maxDelayMs": 30000}, "timeouts": {"totalMs": 60000}}),
    );
    edge.inject(Fault::status(503).with_retry_after("10"));
    std::thread::scope(|s| {
        let started = Instant::now();
        let call = s.spawn(|| client.interact(source_request()));
        std::thread::sleep(Duration::from_millis(200));
        client.close(Duration::from_secs(5));
        let e = call.join().unwrap().unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(e.kind, ErrorKind::Closed);
        assert_eq!(e.attempts, 1);
        assert_eq!(
            e.http_status,
            Some(503),
            "the skipped retry keeps the last failure"
        );
    });
    assert_eq!(edge.requests().len(), 1, "no further attempt");
}

#[test]
fn the_session_stays_readable_after_close() {
    // A kiosk saves the visitor's ECID after its last call: reading the
    // session is not a call, so close does not refuse it.
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"session": "device"}));
    client.interact(source_request()).unwrap();
    let before = client.session();
    assert!(before["ecid"].is_string(), "{before}");
    client.close(Duration::from_secs(5));
    assert_eq!(client.session(), before);
    let refused = client.interact(source_request()).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Closed);
}

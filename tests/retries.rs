//! The retry table of design.md §3.4 and the error kinds of §3.3, against the
//! emulator's injected faults.

mod common;

use aep_edge::ErrorKind;
use aep_edge_emulator::{Fault, Options};
use common::*;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime};

#[test]
fn retryable_statuses_are_sent_again_with_the_same_ids() {
    for status in [408, 429, 502, 503, 504, 507] {
        let edge = emulator();
        let client = client(&edge.base_url(), json!({}));
        edge.inject(Fault::status(status).with_retry_after("0"));
        let result = client.interact(source_request()).unwrap();
        assert_eq!(result["client"]["attempts"], 2, "status {status}");

        let sent = edge.requests();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].response_status, status);
        assert_eq!(
            sent[0].query_param("requestId"),
            sent[1].query_param("requestId")
        );
        let id = |i: usize| sent[i].json().unwrap()["event"]["xdm"]["_id"].clone();
        assert_eq!(id(0), id(1), "the event keeps its _id on a re-send");
    }
}

#[test]
fn five_hundred_and_other_client_errors_are_never_retried() {
    for status in [400, 404, 413, 422, 500] {
        let edge = emulator();
        let client = client(&edge.base_url(), json!({}));
        edge.inject(Fault::status(status));
        assert_not_retried(&edge, &client, status);
    }
}

#[test]
fn redirects_are_not_followed() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    // A redirect-following client would chase the Location to the emulator
    // itself, and a second request would be recorded.
    edge.inject(Fault {
        status: Some(307),
        body: Some(String::new()),
        location: Some(format!(
            "{}/ee/v2/interact?dataStreamId=elsewhere",
            edge.base_url()
        )),
        ..Fault::default()
    });
    assert_not_retried(&edge, &client, 307);
}

fn assert_not_retried(edge: &aep_edge_emulator::Emulator, client: &aep_edge::Client, status: u16) {
    {
        let e = client.interact(source_request()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Http, "status {status}");
        assert_eq!(e.http_status, Some(status));
        assert_eq!(e.attempts, 1);
        assert!(!e.retryable);
        assert_eq!(edge.requests().len(), 1);
    }
}

#[test]
fn an_unknown_datastream_is_an_http_error_with_the_exeg_code() {
    let edge = emulator_with(Options {
        datastreams: vec!["known".into()],
        ..Options::default()
    });
    let client = client(&edge.base_url(), json!({"datastreamId": "BOGUS"}));
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Http);
    assert_eq!(e.code.as_deref(), Some("EXEG-0003-400"));
    assert_eq!(e.problem.as_ref().unwrap()["status"], 400);
    assert!(e.message.contains("BOGUS"), "{}", e.message);
    let sent_id = edge.requests()[0]
        .query_param("requestId")
        .unwrap()
        .to_string();
    assert_eq!(e.request_id.as_deref(), Some(sent_id.as_str()));
    let j = e.to_json();
    assert_eq!(j["error"]["kind"], "http");
    assert_eq!(j["error"]["status"], 8);
    assert_eq!(j["error"]["httpStatus"], 400);
}

#[test]
fn retries_stop_at_max_attempts_and_say_retryable() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"retry": {"maxAttempts": 2}}));
    edge.inject(Fault::status(503).times(5));
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Http);
    assert_eq!(e.code.as_deref(), Some("EXEG-0000-503"));
    assert_eq!(e.attempts, 2);
    assert!(e.retryable);
    assert_eq!(edge.requests().len(), 2);
}

#[test]
fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"retry": {"maxDelayMs": 5000}}));
    edge.inject(Fault::status(429).with_retry_after("1"));
    let started = Instant::now();
    let result = client.interact(source_request()).unwrap();
    assert_eq!(result["client"]["attempts"], 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );

    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    edge.inject(Fault::status(503).with_retry_after(&date));
    let started = Instant::now();
    client.interact(source_request()).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_longer_wait_than_max_delay_or_total_stops_with_retry_after() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"retry": {"maxDelayMs": 1000}}));
    edge.inject(Fault::status(503).with_retry_after("120"));
    let started = Instant::now();
    let e = client.interact(source_request()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(e.attempts, 1);
    assert!(e.retryable);
    assert_eq!(e.retry_after_ms, Some(120_000));
    assert_eq!(e.to_json()["error"]["retryAfterMs"], 120_000);

    let bounded = client_with_total(&edge.base_url(), 1500);
    edge.inject(Fault::status(503).with_retry_after("3"));
    let e = bounded.interact(source_request()).unwrap_err();
    assert_eq!(e.attempts, 1);
    assert!(e.retryable);
    assert!(e.message.contains("totalMs"), "{}", e.message);
}

fn client_with_total(base_url: &str, total_ms: u64) -> aep_edge::Client {
    client(
        base_url,
        json!({"timeouts": {"requestMs": 1000, "totalMs": total_ms}, "retry": {"maxDelayMs": 10000}}),
    )
}

#[test]
fn resets_are_retried_and_reported_as_transport_errors() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    edge.inject(Fault::reset());
    let result = client.interact(source_request()).unwrap();
    assert_eq!(result["client"]["attempts"], 2);

    edge.inject(Fault::reset().times(3));
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport);
    assert_eq!(e.attempts, 3);
    assert!(e.retryable);
}

#[test]
fn a_closed_port_is_a_transport_error() {
    let edge = emulator();
    let url = edge.base_url();
    edge.shutdown();
    let client = client(&url, json!({"retry": {"maxAttempts": 2}}));
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport);
    assert_eq!(e.attempts, 2, "connect failures are retried");
    assert!(e.message.contains("connect"), "{}", e.message);
}

#[test]
fn read_timeouts_are_retried_unless_the_policy_says_no() {
    let edge = emulator();
    let patient = client(&edge.base_url(), json!({"timeouts": {"requestMs": 300}}));
    edge.inject(Fault::delay(1000));
    let result = patient.interact(source_request()).unwrap();
    assert_eq!(result["client"]["attempts"], 2);

    let strict = client(
        &edge.base_url(),
        json!({"timeouts": {"requestMs": 300}, "retry": {"retryReadTimeouts": false}}),
    );
    edge.inject(Fault::delay(1000));
    let e = strict.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(e.attempts, 1);
    assert!(!e.retryable);
}

#[test]
fn total_timeout_bounds_the_whole_call() {
    let edge = emulator();
    let client = client(
        &edge.base_url(),
        json!({"timeouts": {"requestMs": 400, "totalMs": 1000}, "retry": {"maxAttempts": 10, "baseDelayMs": 10}}),
    );
    edge.inject(Fault::delay(2000).times(10));
    let started = Instant::now();
    let e = client.interact(source_request()).unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(took < Duration::from_millis(1600), "{took:?}");
    assert!(e.attempts >= 2, "{}", e.attempts);
}

#[test]
fn malformed_and_truncated_bodies() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"retry": {"maxAttempts": 1}}));
    edge.inject(Fault {
        malformed: true,
        ..Fault::default()
    });
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidResponse);
    assert_eq!(e.http_status, Some(200));
    assert!(!e.retryable);

    edge.inject(Fault {
        truncate: true,
        ..Fault::default()
    });
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
}

#[test]
fn responses_over_the_size_cap_are_refused() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"maxResponseBytes": 4096}));
    let big = json!({"handle": [], "padding": "p".repeat(10_000)});
    edge.inject(Fault {
        status: Some(200),
        body: Some(big.to_string()),
        content_type: Some("application/json".into()),
        ..Fault::default()
    });
    let e = client.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidResponse);
    assert!(e.message.contains("4096"), "{}", e.message);
}

#[test]
fn auth_errors_and_token_headers() {
    let edge = emulator_with(Options {
        require_auth: true,
        ..Options::default()
    });
    let anonymous = client(&edge.base_url(), json!({}));
    let e = anonymous.interact(source_request()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.http_status, Some(401));
    assert_eq!(e.code.as_deref(), Some("EXEG-0500-401"));
    assert_eq!(e.to_json()["error"]["status"], 9);

    let logged: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let authed = client(
        &edge.base_url(),
        json!({"orgId": "53A16ACB5CC1D3760A495C99@AdobeOrg",
               "auth": {"type": "token", "accessToken": "secret-token-123", "apiKey": "my-client-id"}}),
    );
    let sink = logged.clone();
    authed.set_logger(
        5,
        Some(std::sync::Arc::new(move |_, m: &str| {
            sink.lock().unwrap().push(m.to_string())
        })),
    );
    authed.interact(source_request()).unwrap();
    let sent = edge.requests().pop().unwrap();
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer secret-token-123")
    );
    assert_eq!(sent.header("x-api-key"), Some("my-client-id"));
    assert_eq!(
        sent.header("x-gw-ims-org-id"),
        Some("53A16ACB5CC1D3760A495C99@AdobeOrg")
    );

    let lines = logged.lock().unwrap();
    assert!(!lines.is_empty(), "debug lines were logged");
    assert!(
        lines.iter().all(|l| !l.contains("secret-token-123")),
        "the token is never logged"
    );
    assert!(!format!("{authed:?}").contains("secret-token-123"));
}

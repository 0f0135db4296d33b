//! An outside conformance check of design.md §3 through the real C ABI: the
//! promises no other test asserts, each in a small test that quotes the line
//! it checks. Everything goes through the exported `extern "C"` functions
//! against the bundled emulator over loopback.
#![cfg(feature = "capi")]

mod common;

use aep_edge::ffi::*;
use aep_edge_status::*;
use serde_json::{json, Value};
use std::ffi::{c_char, CStr, CString};
use std::ptr;

/// A pointer value the library never returns: proves an out-parameter was written.
fn sentinel() -> *mut c_char {
    0x10usize as *mut c_char
}

fn take(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    assert_ne!(s, sentinel(), "the out-parameter was not written");
    // SAFETY: a NUL-terminated string returned by the library.
    let text = unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_string();
    // SAFETY: returned by the library, freed once.
    unsafe { aep_edge_string_free(s) };
    Some(text)
}

fn json_of(s: Option<String>) -> Value {
    serde_json::from_str(&s.expect("a string was written")).expect("it is JSON")
}

/// `aep_edge_client_new`: the client or (status, error object).
fn new_client(config: &Value) -> Result<*mut aep_edge_client, (aep_edge_status, Value)> {
    let text = CString::new(config.to_string()).unwrap();
    let mut client = 0x20usize as *mut aep_edge_client;
    let mut err = sentinel();
    // SAFETY: valid NUL-terminated input and out pointers.
    let status = unsafe { aep_edge_client_new(text.as_ptr(), &mut client, &mut err) };
    let err = take(err);
    if status == AEP_EDGE_OK {
        assert!(err.is_none(), "error_json_out is NULL on success: {err:?}");
        Ok(client)
    } else {
        assert!(client.is_null(), "*client_out is NULL on failure");
        Err((status, json_of(err)))
    }
}

type Call = unsafe extern "C" fn(
    *const aep_edge_client,
    *const c_char,
    *mut *mut c_char,
) -> aep_edge_status;

fn call(f: Call, client: *const aep_edge_client, request: &Value) -> (aep_edge_status, Value) {
    let text = CString::new(request.to_string()).unwrap();
    let mut out = sentinel();
    // SAFETY: valid NUL-terminated input and out pointer.
    let status = unsafe { f(client, text.as_ptr(), &mut out) };
    (status, json_of(take(out)))
}

fn config_refused(config: Value, needle: &str) {
    match new_client(&config) {
        Ok(c) => {
            // SAFETY: a client this test created.
            unsafe { aep_edge_client_free(c) };
            panic!("accepted {config}, expected INVALID_CONFIG naming {needle}");
        }
        Err((status, err)) => {
            assert_eq!(status, AEP_EDGE_INVALID_CONFIG, "{config}: {err}");
            assert_eq!(err["error"]["kind"], "invalid_config");
            let message = err["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(needle),
                "{config}: message {message:?} does not name {needle}"
            );
        }
    }
}

/// §3.1 "Unknown keys, at any depth, are rejected ... naming the key": and a
/// key of the right name with the wrong type is refused by its name too.
#[test]
fn every_config_key_with_a_wrong_type_is_refused_by_name() {
    let base = "http://127.0.0.1:9";
    let cases: Vec<(Value, &str)> = vec![
        (json!({"datastreamId": 1}), "datastreamId"),
        (json!({"orgId": 7}), "orgId"),
        (json!({"session": 1}), "session"),
        (json!({"session": "visitor"}), "session"),
        (json!({"auth": "none"}), "auth"),
        (json!({"auth": {"type": "basic"}}), "auth.type"),
        (
            json!({"auth": {"type": "token", "accessToken": 1, "apiKey": "k"}}),
            "accessToken",
        ),
        (json!({"edgeDomain": 5}), "edgeDomain"),
        (json!({"baseUrl": 5}), "baseUrl"),
        (json!({"timeouts": 5}), "timeouts"),
        (json!({"timeouts": {"connectMs": "5000"}}), "connectMs"),
        (json!({"timeouts": {"requestMs": -1}}), "requestMs"),
        (json!({"timeouts": {"totalMs": true}}), "totalMs"),
        (json!({"retry": {"maxAttempts": "3"}}), "maxAttempts"),
        (json!({"retry": {"maxAttempts": 0}}), "maxAttempts"),
        (json!({"retry": {"baseDelayMs": 1.5}}), "baseDelayMs"),
        (json!({"retry": {"maxDelayMs": "30000"}}), "maxDelayMs"),
        (
            json!({"retry": {"retryReadTimeouts": "yes"}}),
            "retryReadTimeouts",
        ),
        (json!({"tls": {"roots": "none"}}), "roots"),
        (json!({"tls": {"caFile": 1}}), "caFile"),
        (json!({"proxy": {"url": 1}}), "proxy.url"),
        (json!({"proxy": {"fromEnv": "no"}}), "fromEnv"),
        (json!({"maxConnections": "16"}), "maxConnections"),
        (json!({"maxConnections": 0}), "maxConnections"),
        (json!({"statePath": 1}), "statePath"),
        (json!({"defaultConsent": "out"}), "defaultConsent"),
        (json!({"queue": []}), "queue"),
        (json!({"queue": {"path": 1}}), "queue.path"),
        (json!({"queue": {"maxEvents": "1"}}), "queue.maxEvents"),
        (json!({"queue": {"maxBytes": "1"}}), "queue.maxBytes"),
        (
            json!({"queue": {"flushIntervalMs": "1"}}),
            "queue.flushIntervalMs",
        ),
        (
            json!({"queue": {"maxBatchEvents": 0}}),
            "queue.maxBatchEvents",
        ),
        (json!({"async": {"workers": 0}}), "async.workers"),
        (json!({"async": {"workers": 257}}), "async.workers"),
        (json!({"async": {"maxPending": "9"}}), "async.maxPending"),
        (json!({"async": {"bogus": 1}}), "bogus"),
        (json!({"headers": ["User-Agent"]}), "headers"),
        (json!({"hintRouting": "sometimes"}), "hintRouting"),
        (json!({"resolve": "x"}), "resolve"),
    ];
    for (extra, needle) in cases {
        let mut config = json!({"datastreamId": "ds", "baseUrl": base});
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        config_refused(config, needle);
    }
}

/// §3.1: every documented key is accepted with a value of its documented form.
#[test]
fn every_documented_config_key_is_accepted() {
    let dir = std::env::temp_dir().join(format!("aep-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = json!({
        "datastreamId": "ds",
        "orgId": "ABC123@AdobeOrg",
        "session": "device",
        "auth": {"type": "none"},
        "baseUrl": "http://127.0.0.1:9",
        "timeouts": {"connectMs": 5000, "requestMs": 10000, "totalMs": 30000},
        "retry": {"maxAttempts": 3, "baseDelayMs": 1000, "maxDelayMs": 30000, "retryReadTimeouts": true},
        "tls": {"roots": "system"},
        "proxy": {"fromEnv": false},
        "maxConnections": 16,
        "statePath": dir.join("state.json").to_str().unwrap(),
        "defaultConsent": "pending",
        "queue": {"path": dir.join("q.sqlite").to_str().unwrap(), "maxEvents": 100000,
                  "maxBytes": 67108864, "flushIntervalMs": 1000, "maxBatchEvents": 100, "sync": "full"},
        "async": {"workers": 4, "maxPending": 1024},
        "headers": {"Accept-Language": "en-US"},
        "hintRouting": "path",
        "edgeBasePath": "ee",
        "resolve": {"edge.example.test": "127.0.0.1:9"}
    });
    let client = new_client(&config).unwrap_or_else(|e| panic!("refused: {e:?}"));
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
    let with_auth = json!({"datastreamId": "ds", "orgId": "ABC123@AdobeOrg",
        "auth": {"type": "oauth", "clientId": "c", "clientSecret": "s", "scopes": "openid",
                 "tokenUrl": "http://127.0.0.1:9/ims/token/v3"},
        "edgeDomain": "server.adobedc.net", "hintRouting": "host"});
    let client = new_client(&with_auth).unwrap_or_else(|e| panic!("refused: {e:?}"));
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
    let _ = std::fs::remove_dir_all(&dir);
}

/// §3.3: "every error object has `attempts` (0 when nothing was sent) and
/// `requestId` (`null` when nothing was sent)"; "`httpStatus`, `code` ... and
/// `problem` are `null` where they do not apply"; `kind` is the lower-case
/// status name; `status` the number. Checked on the refusals of many functions.
#[test]
fn every_error_object_has_the_documented_keys() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    let mut errors: Vec<(aep_edge_status, &str, Value)> = Vec::new();
    let (s, e) = call(aep_edge_interact, client, &json!({"nope": 1}));
    errors.push((s, "invalid_request", e));
    let bad = CString::new("{").unwrap();
    let mut out = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_collect(client, bad.as_ptr(), &mut out) };
    errors.push((s, "invalid_json", json_of(take(out))));
    let mut out = sentinel();
    // SAFETY: NULL request on purpose.
    let s = unsafe { aep_edge_set_consent(client, ptr::null(), &mut out) };
    errors.push((s, "null_argument", json_of(take(out))));
    let (s, e) = new_client(&json!({"datastreamId": "ds", "bogus": 1})).unwrap_err();
    errors.push((s, "invalid_config", e));
    let (s, e) = call(aep_edge_send_event, client, &json!({"events": []}));
    errors.push((s, "invalid_request", e));
    // SAFETY: valid client; close, then call.
    let s = unsafe { aep_edge_client_close(client, 5000, ptr::null_mut()) };
    assert_eq!(s, AEP_EDGE_OK);
    let (s, e) = call(aep_edge_interact, client, &common::source_request());
    errors.push((s, "closed", e));
    for (status, kind, e) in errors {
        let err = &e["error"];
        assert_eq!(err["kind"], kind, "{e}");
        assert_eq!(err["status"], status as u32, "{e}");
        for key in common::ERROR_KEYS {
            assert!(err.get(key).is_some(), "{kind}: no {key:?} in {e}");
        }
        assert_eq!(err["attempts"], 0, "{e}");
        assert_eq!(err["requestId"], Value::Null, "{e}");
        assert_eq!(err["httpStatus"], Value::Null, "{e}");
        assert_eq!(err["code"], Value::Null, "{e}");
        assert_eq!(err["problem"], Value::Null, "{e}");
    }
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3: "`error_json_out` and `report_json_out` are set to NULL when there is
/// nothing to say" — on success of the functions whose out is an error.
#[test]
fn error_out_is_set_to_null_on_success() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"orgId": "ABC@AdobeOrg", "auth": {"type": "token", "accessToken": "t", "apiKey": "k"}}),
    ))
    .unwrap();
    let mut out = sentinel();
    // SAFETY: valid client and out pointer.
    assert_eq!(
        unsafe { aep_edge_session_reset(client, &mut out) },
        AEP_EDGE_OK
    );
    assert!(out.is_null(), "session_reset leaves error_json_out NULL");
    let token = CString::new("new-token").unwrap();
    let mut out = sentinel();
    // SAFETY: valid client, token and out pointer.
    assert_eq!(
        unsafe { aep_edge_client_set_access_token(client, token.as_ptr(), &mut out) },
        AEP_EDGE_OK
    );
    assert!(out.is_null(), "set_access_token leaves error_json_out NULL");
    let mut id = 0u64;
    let mut out = sentinel();
    let request = CString::new(common::source_request().to_string()).unwrap();
    // SAFETY: valid pointers; poll mode (NULL callback).
    let s = unsafe {
        aep_edge_interact_async(
            client,
            request.as_ptr(),
            None,
            ptr::null_mut(),
            &mut id,
            &mut out,
        )
    };
    assert_eq!(s, AEP_EDGE_OK);
    assert!(out.is_null(), "interact_async leaves error_json_out NULL");
    assert_ne!(id, 0, "a non-zero call id");
    let mut done = sentinel();
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe { aep_edge_poll(client, 20_000, &mut done) },
        AEP_EDGE_OK
    );
    let done = json_of(take(done));
    assert_eq!(done["callId"], id);
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3: "`aep_edge_version(void)` static "X.Y.Z" (no suffix)" — and it is the
/// crate's version.
#[test]
fn the_version_is_the_crates_without_suffix() {
    // SAFETY: a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(aep_edge_version()) }
        .to_str()
        .unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    let parts: Vec<&str> = v.split('.').collect();
    assert_eq!(parts.len(), 3, "{v}");
    assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()), "{v}");
    assert_eq!(aep_edge_abi_version(), 1);
}

/// §3.8: every allowed visitor header is forwarded, with names case-insensitive.
#[test]
fn every_allowed_context_header_is_forwarded() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    let headers = json!({
        "User-Agent": "ua/1",
        "ACCEPT-LANGUAGE": "de-DE",
        "Referer": "https://r.example/",
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "shop.example",
        "Forwarded": "for=203.0.113.9;proto=https",
        "X-Real-IP": "203.0.113.9",
        "Sec-CH-UA": "\"Chromium\";v=\"130\"",
        "Sec-CH-UA-Mobile": "?0",
        "sec-ch-ua-full-version-list": "\"Chromium\";v=\"130.0.1\"",
        "X-Adobe-AEP-Validation-Token": "assurance-1",
        "x-sandbox-name": "dev",
    });
    let mut request = common::source_request();
    request["options"] = json!({"headers": headers});
    let (s, r) = call(aep_edge_interact, client, &request);
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let sent = edge.requests();
    for (name, value) in headers.as_object().unwrap() {
        assert_eq!(
            sent[0].header(&name.to_ascii_lowercase()),
            value.as_str(),
            "{name} forwarded"
        );
    }
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.8: "a value with CR, LF or NUL, or a value over 8 KiB is
/// `AEP_EDGE_INVALID_REQUEST` / `AEP_EDGE_INVALID_CONFIG` naming it"; exactly
/// 8 KiB is allowed.
#[test]
fn header_values_with_cr_lf_nul_or_over_8_kib_are_refused_by_name() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    for value in [
        "a\rb".to_string(),
        "a\nb".to_string(),
        "a\u{0}b".to_string(),
        "x".repeat(8 * 1024 + 1),
    ] {
        let mut request = common::source_request();
        request["options"] = json!({"headers": {"X-Real-IP": value}});
        let (s, e) = call(aep_edge_interact, client, &request);
        assert_eq!(s, AEP_EDGE_INVALID_REQUEST, "{e}");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.contains("X-Real-IP"), "{message}");
        config_refused(
            common::config(&edge.base_url(), json!({"headers": {"X-Real-IP": value}})),
            "X-Real-IP",
        );
    }
    // Other names in the config are refused by name too.
    for name in [
        "Authorization",
        "Host",
        "Cookie",
        "Content-Type",
        "X-Api-Key",
    ] {
        config_refused(
            common::config(&edge.base_url(), json!({"headers": {name: "v"}})),
            name,
        );
    }
    assert!(edge.requests().is_empty(), "nothing was sent");
    let mut request = common::source_request();
    request["options"] = json!({"headers": {"Referer": "r".repeat(8 * 1024)}});
    let (s, r) = call(aep_edge_interact, client, &request);
    assert_eq!(s, AEP_EDGE_OK, "a value of exactly 8 KiB is allowed: {r}");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.8 "per-call wins over config" for a header that is not User-Agent.
#[test]
fn a_per_call_header_wins_over_the_configs() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"headers": {"X-Forwarded-For": "198.51.100.1"}}),
    ))
    .unwrap();
    let mut request = common::source_request();
    request["options"] = json!({"headers": {"x-forwarded-for": "203.0.113.5"}});
    let (s, r) = call(aep_edge_interact, client, &request);
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let sent = edge.requests();
    let values: Vec<&str> = sent[0]
        .headers
        .iter()
        .filter(|(k, _)| k == "x-forwarded-for")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(values, ["203.0.113.5"]);
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.3: success results have `handle`/`errors`/`warnings` always present
/// (`[]` when absent, a 202/204 included) and the `client` facts.
#[test]
fn collect_results_have_handle_errors_warnings_and_client_facts() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    let (s, r) = call(
        aep_edge_collect,
        client,
        &json!({"events": [common::source_event()], "options": {"requestId": "rid-c-1"}}),
    );
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    for key in ["handle", "errors", "warnings"] {
        assert!(r[key].is_array(), "{key} missing in {r}");
    }
    let c = &r["client"];
    assert_eq!(c["httpStatus"], 202, "{r}");
    assert_eq!(c["attempts"], 1);
    assert_eq!(c["requestId"], "rid-c-1");
    assert!(c["elapsedMs"].is_u64(), "{r}");
    assert!(c.get("region").is_some(), "{r}");
    assert!(
        r["requestId"].as_str().unwrap().starts_with("rid-c-1"),
        "the server's id: {r}"
    );
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.7: `send_event` returns `{"eventId": "<xdm._id>", "queued": N}`; the
/// queue is bounded by `queue.maxEvents` exactly.
#[test]
fn send_event_answers_event_id_and_queued_and_max_events_is_exact() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"session": "none", "queue": {"maxEvents": 3, "flushIntervalMs": 600000}}),
    ))
    .unwrap();
    for n in 1..=3 {
        let id = format!("evt-{n}");
        let (s, r) = call(
            aep_edge_send_event,
            client,
            &json!({"event": {"xdm": {"_id": id, "eventType": "t"}}}),
        );
        assert_eq!(s, AEP_EDGE_OK, "{r}");
        assert_eq!(r["eventId"], id, "{r}");
        assert_eq!(r["queued"], n, "{r}");
    }
    let (s, e) = call(
        aep_edge_send_event,
        client,
        &json!({"event": {"xdm": {"eventType": "t"}}}),
    );
    assert_eq!(s, AEP_EDGE_QUEUE_FULL, "{e}");
    assert_eq!(e["error"]["kind"], "queue_full");
    let mut stats = sentinel();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { aep_edge_stats(client, &mut stats) }, AEP_EDGE_OK);
    let stats = json_of(take(stats));
    for key in [
        "queued",
        "inFlight",
        "delivered",
        "rejected",
        "retries",
        "batches",
        "oldestAgeMs",
        "bytes",
    ] {
        assert!(stats.get(key).is_some(), "stats lack {key}: {stats}");
    }
    assert_eq!(stats["queued"], 3);
    assert!(stats["rejected"].is_object());
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.7: "each body at most 64 KB including `meta` and state entries" and at
/// most `queue.maxBatchEvents` events.
#[test]
fn queued_batches_stay_within_64_kb_counting_meta_and_state() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"session": "none", "queue": {"flushIntervalMs": 600000, "maxBatchEvents": 50}}),
    ))
    .unwrap();
    let meta =
        json!({"configOverrides": {"com_adobe_target": {"propertyToken": "m".repeat(12_000)}}});
    let state = json!([{"key": "kndctr_ABC_AdobeOrg_identity", "value": "s".repeat(12_000)}]);
    let identity = json!({"FPID": [{"id": "visitor-1", "primary": true}]});
    for n in 0..12 {
        let (s, r) = call(
            aep_edge_send_event,
            client,
            &json!({"event": {"xdm": {"eventType": "t", "identityMap": identity}, "data": {"n": n, "pad": "p".repeat(6_000)}},
                    "meta": meta, "options": {"state": state}}),
        );
        assert_eq!(s, AEP_EDGE_OK, "{r}");
    }
    for n in 0..120 {
        let (s, r) = call(
            aep_edge_send_event,
            client,
            &json!({"event": {"xdm": {"eventType": "small", "identityMap": identity}, "data": {"n": n}}}),
        );
        assert_eq!(s, AEP_EDGE_OK, "{r}");
    }
    let mut report = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_flush(client, 30_000, &mut report) };
    let report = json_of(take(report));
    assert_eq!(s, AEP_EDGE_OK, "{report}");
    assert_eq!(report["delivered"], 132, "{report}");
    let batches: Vec<_> = edge
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/v2/collect"))
        .collect();
    let mut events = 0;
    for b in &batches {
        assert!(
            b.body.len() <= 64 * 1024,
            "a batch body of {} bytes",
            b.body.len()
        );
        assert_eq!(b.response_status / 100, 2);
        let body = b.json().unwrap();
        let n = body["events"].as_array().unwrap().len();
        assert!(n <= 50, "{n} events in a batch over maxBatchEvents 50");
        events += n;
    }
    assert_eq!(events, 132);
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.7: flush's "report is written in both cases and is the stats (not an
/// error object)"; close's "report has top-level `inFlight` and `undelivered`".
#[test]
fn flush_and_close_reports_on_timeout() {
    // Nothing listens here: every batch fails and waits.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = new_client(&common::config(
        &format!("http://127.0.0.1:{port}"),
        json!({"session": "none", "queue": {"flushIntervalMs": 0}}),
    ))
    .unwrap();
    let (s, r) = call(
        aep_edge_send_event,
        client,
        &json!({"event": {"xdm": {"eventType": "t"}}}),
    );
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let mut report = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_flush(client, 300, &mut report) };
    let report = json_of(take(report));
    assert_eq!(s, AEP_EDGE_TIMEOUT, "{report}");
    assert!(
        report.get("error").is_none(),
        "the stats, not an error: {report}"
    );
    assert_eq!(report["queued"], 1, "{report}");
    let mut report = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_client_close(client, 300, &mut report) };
    let report = json_of(take(report));
    assert_eq!(s, AEP_EDGE_TIMEOUT, "{report}");
    assert!(report.get("inFlight").is_some(), "{report}");
    assert_eq!(report["undelivered"], 1, "{report}");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.9: the proposition event needs no client and its output is exactly the
/// documented shape: `{"event": {"xdm": {...}}}` with `id`, `scope`,
/// `scopeDetails` of each proposition (nothing else, e.g. no `items`).
#[test]
fn a_proposition_event_carries_only_id_scope_and_scope_details() {
    let input = json!({"kind": "interact", "label": "buy", "tokens": ["t1"], "propositions": [{
        "id": "p1", "scope": "__view__", "scopeDetails": {"decisionProvider": "TGT"},
        "items": [{"id": "i1", "schema": "s", "data": {}}]
    }]});
    let text = CString::new(input.to_string()).unwrap();
    let mut out = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_proposition_event(text.as_ptr(), &mut out) };
    let event = json_of(take(out));
    assert_eq!(s, AEP_EDGE_OK, "{event}");
    assert_eq!(
        event,
        json!({"event": {"xdm": {
            "eventType": "decisioning.propositionInteract",
            "_experience": {"decisioning": {
                "propositions": [{"id": "p1", "scope": "__view__", "scopeDetails": {"decisionProvider": "TGT"}}],
                "propositionEventType": {"interact": 1},
                "propositionAction": {"label": "buy", "tokens": ["t1"]}
            }}
        }}})
    );
    let mut out = sentinel();
    // SAFETY: NULL input on purpose.
    let s = unsafe { aep_edge_proposition_event(ptr::null(), &mut out) };
    assert_eq!(s, AEP_EDGE_NULL_ARGUMENT);
    assert_eq!(json_of(take(out))["error"]["kind"], "null_argument");
}

/// §3.6: "`aep_edge_poll` returns `AEP_EDGE_NOT_READY` with
/// `*completion_json_out` NULL" — and `call_id_out` may be NULL.
#[test]
fn async_call_id_out_may_be_null_and_poll_hands_the_completion() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    let request = CString::new(json!({"events": [common::source_event()]}).to_string()).unwrap();
    let mut err = sentinel();
    // SAFETY: valid pointers; NULL callback and call_id_out.
    let s = unsafe {
        aep_edge_collect_async(
            client,
            request.as_ptr(),
            None,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut err,
        )
    };
    assert_eq!(s, AEP_EDGE_OK);
    assert!(err.is_null());
    let mut done = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_poll(client, 20_000, &mut done) };
    assert_eq!(s, AEP_EDGE_OK);
    let done = json_of(take(done));
    assert_eq!(done["status"], 0, "{done}");
    assert!(done["callId"].as_u64().unwrap() > 0);
    assert_eq!(done["result"]["client"]["httpStatus"], 202, "{done}");
    let mut done = sentinel();
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe { aep_edge_poll(client, 0, &mut done) },
        AEP_EDGE_NOT_READY
    );
    assert!(done.is_null(), "NOT_READY writes NULL");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// An HTTPS emulator that answers for `names` (through config `resolve`), the
/// CA file to trust it, and a config template without `baseUrl`.
struct HttpsEdge {
    edge: aep_edge_emulator::Emulator,
    dir: std::path::PathBuf,
    config: Value,
}

impl Drop for HttpsEdge {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn https_edge(tag: &str, names: &[&str]) -> HttpsEdge {
    let (ca, chain, key) = common::test_pki_for(names);
    let edge = common::emulator_with(aep_edge_emulator::Options {
        tls: Some(aep_edge_emulator::TlsIdentity {
            cert_chain_pem: chain,
            key_pem: key,
        }),
        ..aep_edge_emulator::Options::default()
    });
    let dir = std::env::temp_dir().join(format!("aep-conf-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca).unwrap();
    let address = edge.base_url().trim_start_matches("https://").to_string();
    let resolve: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| (n.to_string(), json!(address)))
        .collect();
    let mut config = common::config("https://unused.example", json!({}));
    config.as_object_mut().unwrap().remove("baseUrl");
    config["tls"] = json!({"caFile": ca_path});
    config["resolve"] = Value::Object(resolve);
    config["retry"]["maxAttempts"] = json!(1);
    HttpsEdge { edge, dir, config }
}

/// (Host header, path) of every request the emulator saw.
fn hosts_and_paths(edge: &aep_edge_emulator::Emulator) -> Vec<(String, String)> {
    edge.requests()
        .iter()
        .map(|r| {
            (
                r.header("host").unwrap_or_default().to_string(),
                r.path.clone(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .collect()
}

/// §3.1 "edgeDomain: default server.adobedc.net with auth, edge.adobedc.net
/// without"; §3.8 "on `edge.adobedc.net` ... as the path `/ee/{hint}/v2/...`".
#[test]
fn without_auth_the_default_host_is_edge_adobedc_net_and_hints_go_in_the_path() {
    let h = https_edge("edge-host", &["edge.adobedc.net"]);
    let client = new_client(&h.config).unwrap();
    for _ in 0..2 {
        let (s, r) = call(aep_edge_interact, client, &common::source_request());
        assert_eq!(s, AEP_EDGE_OK, "{r}");
    }
    let (s, r) = call(
        aep_edge_collect,
        client,
        &json!({"events": [common::source_event()]}),
    );
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let hint = r["client"]["locationHint"]
        .as_str()
        .unwrap_or("or2")
        .to_string();
    let hinted = format!("/ee/{hint}/v2/interact");
    let hinted_collect = format!("/ee/{hint}/v2/collect");
    assert_eq!(
        hosts_and_paths(&h.edge),
        pairs(&[
            ("edge.adobedc.net", "/ee/v2/interact"),
            ("edge.adobedc.net", &hinted),
            ("edge.adobedc.net", &hinted_collect),
        ])
    );
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.1 "default server.adobedc.net with auth".
#[test]
fn with_auth_the_default_host_is_server_adobedc_net() {
    let h = https_edge("server-host", &["server.adobedc.net"]);
    let mut config = h.config.clone();
    config["orgId"] = json!("ABC123@AdobeOrg");
    config["auth"] = json!({"type": "token", "accessToken": "tok", "apiKey": "key"});
    let client = new_client(&config).unwrap();
    let (s, r) = call(aep_edge_interact, client, &common::source_request());
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let sent = h.edge.requests();
    assert_eq!(sent[0].header("host"), Some("server.adobedc.net"));
    assert_eq!(sent[0].header("authorization"), Some("Bearer tok"));
    assert_eq!(sent[0].header("x-api-key"), Some("key"));
    assert_eq!(sent[0].header("x-gw-ims-org-id"), Some("ABC123@AdobeOrg"));
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.8 `"hintRouting": "path"` on server.adobedc.net, and `"host"` on a
/// custom `edgeDomain`, override the automatic form.
#[test]
fn hint_routing_path_and_host_override_the_automatic_form() {
    let h = https_edge(
        "forms",
        &[
            "server.adobedc.net",
            "acme.data.example",
            "or2.acme.data.example",
        ],
    );
    let mut config = h.config.clone();
    config["edgeDomain"] = json!("server.adobedc.net");
    config["hintRouting"] = json!("path");
    let client = new_client(&config).unwrap();
    for _ in 0..2 {
        let (s, r) = call(aep_edge_interact, client, &common::source_request());
        assert_eq!(s, AEP_EDGE_OK, "{r}");
    }
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };

    let mut config = h.config.clone();
    config["edgeDomain"] = json!("acme.data.example");
    config["hintRouting"] = json!("host");
    let client = new_client(&config).unwrap();
    for _ in 0..2 {
        let (s, r) = call(aep_edge_interact, client, &common::source_request());
        assert_eq!(s, AEP_EDGE_OK, "{r}");
    }
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
    assert_eq!(
        hosts_and_paths(&h.edge),
        pairs(&[
            ("server.adobedc.net", "/ee/v2/interact"),
            ("server.adobedc.net", "/ee/or2/v2/interact"),
            ("acme.data.example", "/ee/v2/interact"),
            ("or2.acme.data.example", "/ee/v2/interact"),
        ])
    );
    // "host" cannot prefix an address or go over plain http.
    config_refused(
        common::config("http://127.0.0.1:9", json!({"hintRouting": "host"})),
        "hintRouting",
    );
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`: RFC 3339, UTC, milliseconds.
fn is_rfc3339_utc_millis(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b.iter()
            .enumerate()
            .all(|(i, c)| [8, 13, 18, 23].contains(&i) || c.is_ascii_hexdigit())
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
}

/// §3.2 "an event without `xdm` gets an empty one"; "The client fills
/// `xdm._id` (UUID v4) and `xdm.timestamp` (RFC 3339 UTC, milliseconds) of
/// every event when absent" — for interact, collect and the queue alike;
/// "sends a `requestId` query parameter (generated when none is given)".
#[test]
fn ids_and_timestamps_have_the_documented_formats_on_every_path() {
    let edge = common::emulator_with(aep_edge_emulator::Options {
        lenient_identity: true,
        ..aep_edge_emulator::Options::default()
    });
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"session": "none", "queue": {"flushIntervalMs": 0}}),
    ))
    .unwrap();
    let (s, r) = call(
        aep_edge_interact,
        client,
        &json!({"event": {"data": {"a": 1}}}),
    );
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let (s, r) = call(
        aep_edge_collect,
        client,
        &json!({"events": [{"data": {"b": 1}}, {"xdm": {"eventType": "x"}}]}),
    );
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let (s, r) = call(
        aep_edge_send_event,
        client,
        &json!({"event": {"data": {"c": 1}}}),
    );
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let queued_id = r["eventId"].as_str().unwrap().to_string();
    let mut report = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_flush(client, 20_000, &mut report) };
    assert_eq!(s, AEP_EDGE_OK, "{:?}", take(report));
    let mut events = Vec::new();
    for req in edge.requests() {
        let request_id = req.query_param("requestId").unwrap_or_default();
        assert!(is_uuid_v4(request_id), "generated requestId {request_id:?}");
        let body = req.json().unwrap();
        if let Some(e) = body.get("event") {
            events.push(e.clone());
        }
        for e in body["events"].as_array().into_iter().flatten() {
            events.push(e.clone());
        }
    }
    assert_eq!(events.len(), 4, "{events:?}");
    for e in &events {
        let id = e["xdm"]["_id"].as_str().unwrap();
        let ts = e["xdm"]["timestamp"].as_str().unwrap();
        assert!(is_uuid_v4(id), "_id {id:?}");
        assert!(is_rfc3339_utc_millis(ts), "timestamp {ts:?}");
    }
    assert!(events.iter().any(|e| e["xdm"]["_id"] == queued_id.as_str()));
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.1 "Plain `http://` is allowed only to loopback (`localhost`,
/// 127.0.0.0/8, `::1`), for the Edge Network and the token URL alike".
#[test]
fn plain_http_is_allowed_to_every_loopback_form_and_to_nothing_that_looks_like_one() {
    for ok in ["http://127.1.2.3:9", "http://LocalHost:9", "http://[::1]:9"] {
        if let Err(e) = new_client(&json!({"datastreamId": "ds", "baseUrl": ok})) {
            panic!("{ok} refused: {e:?}");
        }
    }
    for bad in [
        "http://localhost.evil.example:9",
        "http://127.0.0.1.nip.io:9",
        "http://evil.example#@127.0.0.1:9",
        "http://evil.example?@127.0.0.1:9",
        "http://0.0.0.0:9",
        "http://[::ffff:10.0.0.1]:9",
        "http://10.0.0.1:9",
    ] {
        config_refused(json!({"datastreamId": "ds", "baseUrl": bad}), "baseUrl");
    }
    config_refused(
        json!({"datastreamId": "ds", "orgId": "A@AdobeOrg", "baseUrl": "http://127.0.0.1:9",
               "auth": {"type": "oauth", "clientId": "c", "clientSecret": "s", "scopes": "x",
                        "tokenUrl": "http://ims.example/ims/token/v3"}}),
        "tokenUrl",
    );
}

/// §3 "`aep_edge_client_close` ... thread-safe, idempotent": a second close
/// answers OK again and later calls are CLOSED.
#[test]
fn close_is_idempotent() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    for _ in 0..3 {
        // SAFETY: a valid client.
        let s = unsafe { aep_edge_client_close(client, 1000, ptr::null_mut()) };
        assert_eq!(s, AEP_EDGE_OK);
    }
    let (s, e) = call(aep_edge_collect, client, &json!({"events": [{}]}));
    assert_eq!(s, AEP_EDGE_CLOSED, "{e}");
    let (s, e) = call(aep_edge_send_event, client, &json!({"event": {}}));
    assert_eq!(s, AEP_EDGE_CLOSED, "{e}");
    let mut err = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_session_reset(client, &mut err) };
    let err = take(err);
    assert!(
        s == AEP_EDGE_OK && err.is_none() || s == AEP_EDGE_CLOSED && err.is_some(),
        "{s:?} {err:?}"
    );
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.6 "at most `async.maxPending` calls ... wait, run, or sit finished but
/// not yet polled; beyond that the call is refused with `AEP_EDGE_QUEUE_FULL`".
#[test]
fn finished_unpolled_calls_count_against_max_pending() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"async": {"workers": 2, "maxPending": 2}}),
    ))
    .unwrap();
    let request = CString::new(common::source_request().to_string()).unwrap();
    let submit = || {
        let mut err = sentinel();
        // SAFETY: valid pointers; poll mode.
        let s = unsafe {
            aep_edge_interact_async(
                client,
                request.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
                &mut err,
            )
        };
        (s, take(err))
    };
    assert_eq!(submit().0, AEP_EDGE_OK);
    assert_eq!(submit().0, AEP_EDGE_OK);
    // Wait until both were answered (and so sit finished, unpolled).
    let start = std::time::Instant::now();
    while edge
        .requests()
        .iter()
        .filter(|r| r.response_status == 200)
        .count()
        < 2
    {
        assert!(
            start.elapsed().as_secs() < 20,
            "the calls were not answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let (s, err) = submit();
    assert_eq!(s, AEP_EDGE_QUEUE_FULL, "{err:?}");
    let mut done = sentinel();
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe { aep_edge_poll(client, 5000, &mut done) },
        AEP_EDGE_OK
    );
    take(done);
    assert_eq!(submit().0, AEP_EDGE_OK, "room again after one poll");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.7 "events of equal `meta`/`options` together": a batch never mixes
/// events of different `meta`.
#[test]
fn a_batch_never_mixes_events_of_different_meta() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"session": "none", "queue": {"flushIntervalMs": 600000}}),
    ))
    .unwrap();
    let identity = json!({"FPID": [{"id": "v", "primary": true}]});
    for n in 0..6 {
        let token = if n % 2 == 0 { "even" } else { "odd" };
        let (s, r) = call(
            aep_edge_send_event,
            client,
            &json!({"event": {"xdm": {"identityMap": identity}, "data": {"parity": token}},
                    "meta": {"configOverrides": {"com_adobe_target": {"propertyToken": token}}}}),
        );
        assert_eq!(s, AEP_EDGE_OK, "{r}");
    }
    let mut report = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_flush(client, 20_000, &mut report) };
    assert_eq!(s, AEP_EDGE_OK, "{:?}", take(report));
    let mut seen = 0;
    for r in edge.requests() {
        let body = r.json().unwrap();
        let token = body["meta"]["configOverrides"]["com_adobe_target"]["propertyToken"].clone();
        let events = body["events"].as_array().cloned().unwrap_or_default();
        for e in &events {
            assert_eq!(e["data"]["parity"], token, "mixed batch: {body}");
        }
        seen += events.len();
    }
    assert_eq!(seen, 6);
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.8 "Every result reports `client.locationHint`"; "every result with
/// session `none`, has `client.state`" — collect and set-consent results too.
#[test]
fn every_result_reports_the_location_hint_and_session_none_results_the_state() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"session": "none"}),
    ))
    .unwrap();
    let results = [
        call(aep_edge_interact, client, &common::source_request()),
        call(
            aep_edge_collect,
            client,
            &json!({"events": [common::source_event()]}),
        ),
        call(
            aep_edge_set_consent,
            client,
            &json!({"consent": [{"standard": "Adobe", "version": "2.0",
                                 "value": {"collect": {"val": "y"}}}],
                    "identityMap": {"FPID": [{"id": "v", "primary": true}]}}),
        ),
    ];
    for (s, r) in results {
        assert_eq!(s, AEP_EDGE_OK, "{r}");
        assert!(
            r["client"].get("locationHint").is_some(),
            "no client.locationHint: {r}"
        );
        assert!(r["client"]["state"].is_array(), "no client.state: {r}");
    }
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3 "A request over 1 MiB is `AEP_EDGE_INVALID_REQUEST` ... before parsing";
/// "invalid UTF-8 `AEP_EDGE_INVALID_UTF8`" — for every function that takes a
/// request, not only interact and collect.
#[test]
fn every_request_taking_function_checks_size_before_parsing_and_utf8() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    let over = CString::new("[".repeat(1024 * 1024 + 1)).unwrap();
    let bad_utf8 = CString::new(b"{\"event\":{\"data\":{\"v\":\"\xff\"}}}".to_vec()).unwrap();
    let run = |input: &CString| -> Vec<(&str, aep_edge_status, Value)> {
        let mut got = Vec::new();
        for (name, f) in [
            ("set_consent", aep_edge_set_consent as Call),
            ("send_event", aep_edge_send_event as Call),
        ] {
            let mut out = sentinel();
            // SAFETY: valid pointers.
            let s = unsafe { f(client, input.as_ptr(), &mut out) };
            got.push((name, s, json_of(take(out))));
        }
        let mut out = sentinel();
        // SAFETY: valid pointers.
        let s = unsafe { aep_edge_proposition_event(input.as_ptr(), &mut out) };
        got.push(("proposition_event", s, json_of(take(out))));
        for (name, f) in [
            ("collect_async", aep_edge_collect_async as AsyncCall),
            ("set_consent_async", aep_edge_set_consent_async as AsyncCall),
        ] {
            let mut out = sentinel();
            let mut id = 7u64;
            // SAFETY: valid pointers; poll mode.
            let s = unsafe {
                f(
                    client,
                    input.as_ptr(),
                    None,
                    ptr::null_mut(),
                    &mut id,
                    &mut out,
                )
            };
            got.push((name, s, json_of(take(out))));
        }
        got
    };
    for (name, s, e) in run(&over) {
        assert_eq!(s, AEP_EDGE_INVALID_REQUEST, "{name}: {e}");
        assert_eq!(e["error"]["kind"], "invalid_request", "{name}");
    }
    for (name, s, e) in run(&bad_utf8) {
        assert_eq!(s, AEP_EDGE_INVALID_UTF8, "{name}: {e}");
        assert_eq!(e["error"]["kind"], "invalid_utf8", "{name}");
    }
    let mut out = sentinel();
    // SAFETY: valid pointers.
    let s = unsafe { aep_edge_client_set_access_token(client, bad_utf8.as_ptr(), &mut out) };
    assert_eq!(s, AEP_EDGE_INVALID_UTF8, "{:?}", take(out));
    assert!(edge.requests().is_empty(), "nothing was sent");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

type AsyncCall = unsafe extern "C" fn(
    *const aep_edge_client,
    *const c_char,
    aep_edge_completion_fn,
    *mut std::ffi::c_void,
    *mut u64,
    *mut *mut c_char,
) -> aep_edge_status;

/// §3.7 "One dispatcher thread per client, started at the first `send_event`
/// (or at `client_new` when the queue file already holds events from an
/// earlier run)": a reopened backlog goes out with no call at all.
#[test]
fn a_backlog_on_disk_is_delivered_from_client_new_alone() {
    let dir = std::env::temp_dir().join(format!("aep-conf-backlog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("q.sqlite");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let queue = json!({"path": path, "flushIntervalMs": 10});
    let down = new_client(&common::config(
        &format!("http://127.0.0.1:{port}"),
        json!({"session": "none", "queue": queue}),
    ))
    .unwrap();
    let identity = json!({"FPID": [{"id": "v", "primary": true}]});
    for _ in 0..3 {
        let (s, r) = call(
            aep_edge_send_event,
            down,
            &json!({"event": {"xdm": {"identityMap": identity}}}),
        );
        assert_eq!(s, AEP_EDGE_OK, "{r}");
    }
    // SAFETY: the client this test created.
    unsafe {
        aep_edge_client_close(down, 200, ptr::null_mut());
        aep_edge_client_free(down);
    }
    let edge = common::emulator_with(aep_edge_emulator::Options {
        port,
        ..aep_edge_emulator::Options::default()
    });
    let config = common::config(&edge.base_url(), json!({"session": "none", "queue": queue}));
    let start = std::time::Instant::now();
    let up = loop {
        match new_client(&config) {
            Ok(c) => break c,
            // The first dispatcher may still hold the file for a moment.
            Err((AEP_EDGE_STORAGE_ERROR, _)) if start.elapsed().as_secs() < 10 => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    let delivered = || {
        edge.requests()
            .iter()
            .filter(|r| r.response_status / 100 == 2)
            .map(|r| {
                r.json().unwrap()["events"]
                    .as_array()
                    .map_or(0, |e| e.len())
            })
            .sum::<usize>()
    };
    while delivered() < 3 {
        assert!(
            start.elapsed().as_secs() < 20,
            "the backlog was not sent without a call"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: the client this test created.
    unsafe {
        aep_edge_client_close(up, 5000, ptr::null_mut());
        aep_edge_client_free(up);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// §3 "Every function's doc comment states ownership, NULL behaviour and
/// threading; cbindgen copies it into the header": each declaration in the
/// committed header has a doc comment that speaks of all three.
#[test]
fn every_header_function_documents_ownership_null_and_threading() {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/aep_edge.h"))
            .unwrap();
    let mut checked = 0;
    let mut rest = header.as_str();
    while let Some(end) = rest.find("*/") {
        let doc_start = rest[..end].rfind("/**").unwrap_or(0);
        let doc = rest[doc_start..end].to_ascii_lowercase();
        rest = &rest[end + 2..];
        let decl = rest.trim_start();
        let line = decl.lines().next().unwrap_or_default();
        let Some(open) = line.find('(') else { continue };
        let Some(name) = line[..open].split_whitespace().last() else {
            continue;
        };
        let name = name.trim_start_matches('*');
        if !name.starts_with("aep_edge_") || line.starts_with("typedef") {
            continue;
        }
        checked += 1;
        let ownership = ["free", "own", "borrow", "static", "caller"];
        assert!(
            ownership.iter().any(|w| doc.contains(w)),
            "{name}: no ownership"
        );
        assert!(doc.contains("null"), "{name}: no NULL behaviour");
        assert!(doc.contains("thread"), "{name}: no threading");
    }
    assert!(checked >= 22, "only {checked} functions found");
}

unsafe extern "C" fn record_outcome(user_data: *mut std::ffi::c_void, outcome: *const c_char) {
    // SAFETY: user_data is the Mutex<Vec<Value>> the test passed; outcome is
    // NUL-terminated for the callback's duration.
    let sink = unsafe { &*(user_data as *const std::sync::Mutex<Vec<Value>>) };
    let text = unsafe { CStr::from_ptr(outcome) }.to_str().unwrap();
    sink.lock()
        .unwrap()
        .push(serde_json::from_str(text).unwrap());
}

/// §3.7 "a batch answered 400, 413 or 422 is split in halves and each half sent
/// again, down to single events; an event rejected alone ... leaves the queue
/// with outcome `rejected` and the error object"; the outcome is
/// `{"eventId", "outcome", "error"?, "attempts"}`. (422 is checked in queue.rs.)
#[test]
fn batches_answered_400_or_413_are_split_and_only_the_bad_event_is_rejected() {
    for (status, code) in [(400, "EXEG-0102-400"), (413, "EXEG-0112-413")] {
        let edge = common::emulator();
        let client = new_client(&common::config(
            &edge.base_url(),
            json!({"session": "none", "queue": {"flushIntervalMs": 600000}}),
        ))
        .unwrap();
        let sink = Box::new(std::sync::Mutex::new(Vec::<Value>::new()));
        // SAFETY: the sink outlives the client (freed after aep_edge_client_free).
        let s = unsafe {
            aep_edge_set_outcome_callback(
                client,
                Some(record_outcome),
                &*sink as *const _ as *mut std::ffi::c_void,
            )
        };
        assert_eq!(s, AEP_EDGE_OK);
        let identity = json!({"FPID": [{"id": "v", "primary": true}]});
        let mut ids = Vec::new();
        for n in 0..8 {
            let (s, r) = call(
                aep_edge_send_event,
                client,
                &json!({"event": {"xdm": {"identityMap": identity}, "data": {"n": n}}}),
            );
            assert_eq!(s, AEP_EDGE_OK, "{r}");
            ids.push(r["eventId"].as_str().unwrap().to_string());
        }
        let bad = ids[5].clone();
        edge.inject(
            aep_edge_emulator::Fault::reject_events(&[bad.as_str()], status)
                .times(100)
                .on_path("/collect"),
        );
        let mut report = sentinel();
        // SAFETY: valid pointers.
        let s = unsafe { aep_edge_flush(client, 20_000, &mut report) };
        let report = json_of(take(report));
        assert_eq!(s, AEP_EDGE_OK, "{status}: {report}");
        assert_eq!(report["delivered"], 7, "{status}: {report}");
        assert_eq!(report["rejected"], json!({code: 1}), "{status}: {report}");
        // SAFETY: the client this test created; no callback runs after free.
        unsafe { aep_edge_client_free(client) };
        let outcomes = sink.lock().unwrap().clone();
        assert_eq!(outcomes.len(), 8, "{outcomes:?}");
        for o in &outcomes {
            assert!(o["attempts"].as_u64().unwrap() >= 1, "{o}");
            if o["eventId"] == bad.as_str() {
                assert_eq!(o["outcome"], "rejected", "{o}");
                assert_eq!(o["error"]["httpStatus"], status, "{o}");
                assert_eq!(o["error"]["code"], code, "{o}");
            } else {
                assert_eq!(o["outcome"], "delivered", "{o}");
                assert!(o.get("error").is_none_or(Value::is_null), "{o}");
            }
        }
    }
}

/// §3.8 "Any other name ... is `AEP_EDGE_INVALID_REQUEST` naming it": a name
/// that starts like an allowed one but is no header name (CR/LF, space, NUL)
/// never reaches the wire.
#[test]
fn header_names_that_only_start_like_allowed_ones_are_refused() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    for name in [
        "Sec-CH-UA-X\r\nX-Evil",
        "Sec-CH-UA-Bad Name",
        "Sec-CH-UA-\u{0}",
        "User-Agent ",
        "Sec-CH-UA-",
    ] {
        let mut request = common::source_request();
        request["options"] = json!({"headers": {name: "v"}});
        let (s, e) = call(aep_edge_interact, client, &request);
        assert_eq!(s, AEP_EDGE_INVALID_REQUEST, "{name:?} accepted: {e}");
    }
    assert!(edge.requests().is_empty(), "nothing was sent");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.2 "sends a `requestId` query parameter ... `options.datastreamId`
/// (override of the query parameter only)": values with `&`, `=`, `#`, `%`
/// and `?` travel as one parameter each, percent-encoded, never as extra
/// parameters. (A space or non-ASCII in `requestId` is refused by name.)
#[test]
fn request_id_and_datastream_override_are_encoded_as_single_query_parameters() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    let rid = "a&b=c#d/e?f%20g+h";
    let ds = "ds&requestId=x";
    let mut request = common::source_request();
    request["options"] = json!({"requestId": rid, "datastreamId": ds});
    let (s, r) = call(aep_edge_interact, client, &request);
    let sent = edge.requests();
    if s == AEP_EDGE_INVALID_REQUEST {
        // Refusing the datastream id is honest too, if it names it and sends nothing.
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains("datastreamId"), "{r}");
        assert!(sent.is_empty());
        request["options"] = json!({"requestId": rid});
        let (s, r) = call(aep_edge_interact, client, &request);
        assert_eq!(s, AEP_EDGE_OK, "{r}");
    } else {
        assert_eq!(s, AEP_EDGE_OK, "{r}");
        let ds_params: Vec<&str> = sent[0]
            .query
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("datastreamId"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(ds_params, [ds], "{:?}", sent[0].query);
    }
    let sent = edge.requests();
    let q = &sent.last().unwrap().query;
    assert_eq!(
        q.iter().filter(|(k, _)| k == "requestId").count(),
        1,
        "{q:?}"
    );
    assert_eq!(
        sent.last().unwrap().query_param("requestId"),
        Some(rid),
        "{q:?}"
    );
    let mut spaced = common::source_request();
    spaced["options"] = json!({"requestId": "a b"});
    let (s, e) = call(aep_edge_interact, client, &spaced);
    assert_eq!(s, AEP_EDGE_INVALID_REQUEST, "{e}");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("options.requestId"));
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.3 "`code` (parsed from the problem `type`) and `problem` are `null`
/// where they do not apply": a 4xx whose body is a problem without `type`, or
/// no JSON at all, is still an `http` error with the status, and null where
/// nothing could be read.
#[test]
fn http_errors_without_a_problem_type_or_json_body_have_nulls_not_guesses() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"retry": {"maxAttempts": 1}}),
    ))
    .unwrap();
    let fault = |body: &str, content_type: &str| aep_edge_emulator::Fault {
        status: Some(400),
        body: Some(body.to_string()),
        content_type: Some(content_type.to_string()),
        ..aep_edge_emulator::Fault::default()
    };
    edge.inject(fault(
        r#"{"title": "Bad", "status": 400}"#,
        "application/problem+json",
    ));
    let (s, e) = call(aep_edge_interact, client, &common::source_request());
    assert_eq!(s, AEP_EDGE_HTTP_ERROR, "{e}");
    let err = &e["error"];
    assert_eq!(err["kind"], "http");
    assert_eq!(err["httpStatus"], 400);
    assert_eq!(err["code"], Value::Null, "{e}");
    assert_eq!(err["problem"]["title"], "Bad", "{e}");
    assert_eq!(err["attempts"], 1);
    assert!(err["requestId"].is_string(), "{e}");

    edge.inject(fault("<html>Bad Request</html>", "text/html"));
    let (s, e) = call(aep_edge_interact, client, &common::source_request());
    assert_eq!(s, AEP_EDGE_HTTP_ERROR, "{e}");
    let err = &e["error"];
    assert_eq!(err["httpStatus"], 400);
    assert_eq!(err["code"], Value::Null, "{e}");
    assert!(
        err["problem"].is_null() || err["problem"].is_object(),
        "problem is an object or null: {e}"
    );
    assert_eq!(err["retryable"], false);

    edge.inject(fault(
        r#"{"type": "https://ns.adobe.com/aep/errors/EXEG-0104-422", "status": 400}"#,
        "application/problem+json",
    ));
    let (s, e) = call(aep_edge_interact, client, &common::source_request());
    assert_eq!(s, AEP_EDGE_HTTP_ERROR, "{e}");
    assert_eq!(
        e["error"]["code"], "EXEG-0104-422",
        "the code is the type's: {e}"
    );
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.7 `send_event` "validates it as interact would": an event whose
/// encoded body could never go out (over 64 KB) and bad `options.headers`
/// are refused at once, by name, and nothing is stored.
#[test]
fn send_event_refuses_what_interact_would_refuse_and_stores_nothing() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"session": "none", "queue": {"flushIntervalMs": 600000}}),
    ))
    .unwrap();
    let huge = json!({"event": {"data": {"blob": "x".repeat(70_000)}}});
    let (s, e) = call(aep_edge_interact, client, &huge);
    assert_eq!(s, AEP_EDGE_INVALID_REQUEST, "interact: {e}");
    let (s, e) = call(aep_edge_send_event, client, &huge);
    assert_eq!(s, AEP_EDGE_INVALID_REQUEST, "send_event: {e}");
    let (s, e) = call(
        aep_edge_send_event,
        client,
        &json!({"event": {}, "options": {"headers": {"Cookie": "a=b"}}}),
    );
    assert_eq!(s, AEP_EDGE_INVALID_REQUEST, "{e}");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("options.headers.Cookie"));
    let (s, e) = call(aep_edge_send_event, client, &json!({"event": [1]}));
    assert_eq!(s, AEP_EDGE_INVALID_REQUEST, "{e}");
    let mut stats = sentinel();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { aep_edge_stats(client, &mut stats) }, AEP_EDGE_OK);
    assert_eq!(json_of(take(stats))["queued"], 0, "nothing was stored");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// The `meta.state.entries` keys a recorded request sent.
fn sent_keys(request: &aep_edge_emulator::RecordedRequest) -> Vec<String> {
    let body = request.json().unwrap();
    body["meta"]["state"]["entries"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| e["key"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// §3.4 "the client keeps every `state:store` entry it receives (expiry from
/// `maxAge`; `maxAge` ≤ 0 deletes; no `maxAge` = this process only, never
/// persisted)".
#[test]
fn an_entry_without_max_age_is_sent_in_this_process_and_never_persisted() {
    let edge = common::emulator();
    let dir = std::env::temp_dir().join(format!("aep-conf-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = common::config(
        &edge.base_url(),
        json!({"statePath": dir.join("state.json")}),
    );
    let client = new_client(&config).unwrap();
    edge.inject(aep_edge_emulator::Fault {
        status: Some(200),
        content_type: Some("application/json".into()),
        body: Some(
            json!({"requestId": "r-1", "handle": [{"type": "state:store", "payload": [
                {"key": "kept_entry", "value": "a", "maxAge": 3600},
                {"key": "session_only_entry", "value": "b"}
            ]}]})
            .to_string(),
        ),
        ..aep_edge_emulator::Fault::default()
    });
    for _ in 0..2 {
        let (s, r) = call(aep_edge_interact, client, &common::source_request());
        assert_eq!(s, AEP_EDGE_OK, "{r}");
    }
    // SAFETY: the client this test created.
    unsafe {
        assert_eq!(
            aep_edge_client_close(client, 5000, ptr::null_mut()),
            AEP_EDGE_OK
        );
        aep_edge_client_free(client);
    }
    let again = new_client(&config).unwrap();
    let (s, r) = call(aep_edge_interact, again, &common::source_request());
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(again) };
    let sent = edge.requests();
    let second = sent_keys(&sent[1]);
    assert!(second.contains(&"kept_entry".to_string()), "{second:?}");
    assert!(
        second.contains(&"session_only_entry".to_string()),
        "{second:?}"
    );
    let after_restart = sent_keys(&sent[2]);
    assert!(
        after_restart.contains(&"kept_entry".to_string()),
        "{after_restart:?}"
    );
    assert!(
        !after_restart.contains(&"session_only_entry".to_string()),
        "a session-only entry was persisted: {after_restart:?}"
    );
    let file = std::fs::read_to_string(dir.join("state.json")).unwrap_or_default();
    assert!(!file.contains("session_only_entry"), "{file}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// §3.4 "the EdgeNetwork `locationHint:result` routes later calls — interact,
/// collect, consent — as `/ee/{hint}/...`"; §3.8 the datastream override on
/// collect and consent too (`configId` on v1, edge-api.md §1.2), with
/// `meta.sdkConfig.datastream.original`.
#[test]
fn the_hint_and_the_datastream_override_apply_to_collect_and_consent_too() {
    let edge = common::emulator();
    let client = new_client(&common::config(&edge.base_url(), json!({}))).unwrap();
    let (s, r) = call(aep_edge_interact, client, &common::source_request());
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let hint = r["client"]["locationHint"]
        .as_str()
        .expect("a hint")
        .to_string();
    let override_ds = json!({"datastreamId": "other-ds"});
    let (s, r) = call(
        aep_edge_collect,
        client,
        &json!({"events": [common::source_event()], "options": override_ds}),
    );
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let (s, r) = call(
        aep_edge_set_consent,
        client,
        &json!({"consent": [{"standard": "Adobe", "version": "2.0",
                             "value": {"collect": {"val": "y"}}}],
                "options": override_ds}),
    );
    assert_eq!(s, AEP_EDGE_OK, "{r}");
    let sent = edge.requests();
    assert_eq!(sent[1].path, format!("/ee/{hint}/v2/collect"));
    assert_eq!(sent[2].path, format!("/ee/{hint}/v1/privacy/set-consent"));
    assert_eq!(sent[1].query_param("dataStreamId"), Some("other-ds"));
    assert_eq!(sent[2].query_param("configId"), Some("other-ds"));
    for r in &sent[1..] {
        assert_eq!(
            r.json().unwrap()["meta"]["sdkConfig"]["datastream"]["original"],
            "demo-datastream",
            "{}",
            r.path
        );
    }
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

type Completions = std::sync::Mutex<Vec<(u64, aep_edge_status, std::thread::ThreadId)>>;

unsafe extern "C" fn record_completion(
    user_data: *mut std::ffi::c_void,
    call_id: u64,
    status: aep_edge_status,
    _result: *const c_char,
) {
    // SAFETY: user_data is the Completions the test passed and outlives the client.
    let sink = unsafe { &*(user_data as *const Completions) };
    sink.lock()
        .unwrap()
        .push((call_id, status, std::thread::current().id()));
}

/// §3.6 "A callback runs on a worker thread, or, for a call that close ended
/// before it started, on the thread calling close"; close "ends queued ...
/// ones ... (`AEP_EDGE_CLOSED` where a send ... was skipped)" and returns OK
/// once every completion was delivered.
#[test]
fn calls_close_ended_before_they_started_complete_closed_on_the_closing_thread() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"async": {"workers": 1}}),
    ))
    .unwrap();
    edge.inject(aep_edge_emulator::Fault::delay(400));
    let sink: Box<Completions> = Box::default();
    let request = CString::new(common::source_request().to_string()).unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let mut id = 0u64;
        // SAFETY: valid pointers; the sink outlives the client.
        let s = unsafe {
            aep_edge_interact_async(
                client,
                request.as_ptr(),
                Some(record_completion),
                &*sink as *const Completions as *mut std::ffi::c_void,
                &mut id,
                ptr::null_mut(),
            )
        };
        assert_eq!(s, AEP_EDGE_OK);
        ids.push(id);
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "call ids are unique: {ids:?}");
    // Let the first call start (it waits 400 ms on the emulator).
    let start = std::time::Instant::now();
    while edge.requests().is_empty() {
        assert!(start.elapsed().as_secs() < 10);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: a valid client.
    let s = unsafe { aep_edge_client_close(client, 10_000, ptr::null_mut()) };
    assert_eq!(s, AEP_EDGE_OK);
    let done = sink.lock().unwrap().clone();
    assert_eq!(
        done.len(),
        5,
        "every completion delivered before close returned: {done:?}"
    );
    let me = std::thread::current().id();
    let first = done.iter().find(|(id, _, _)| *id == ids[0]).unwrap();
    assert_eq!(
        first.1, AEP_EDGE_OK,
        "the running call ends with its own outcome"
    );
    assert_ne!(first.2, me, "the running call completes on a worker");
    for (id, status, thread) in done.iter().filter(|(id, _, _)| *id != ids[0]) {
        assert_eq!(*status, AEP_EDGE_CLOSED, "call {id}");
        assert_eq!(
            *thread, me,
            "call {id} did not complete on the closing thread"
        );
    }
    assert_eq!(edge.requests().len(), 1, "no queued call was sent");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

/// §3.3 "A 2xx body that is not a JSON object is `AEP_EDGE_INVALID_RESPONSE`,
/// except that collect accepts an empty 202/204 body as `{}`", and
/// `handle`/`errors`/`warnings` are present then too.
#[test]
fn non_object_2xx_bodies_are_invalid_responses_except_an_empty_collect_answer() {
    let edge = common::emulator();
    let client = new_client(&common::config(
        &edge.base_url(),
        json!({"retry": {"maxAttempts": 1}}),
    ))
    .unwrap();
    let answer = |status: u16, body: &str| aep_edge_emulator::Fault {
        status: Some(status),
        body: Some(body.to_string()),
        content_type: Some("application/json".into()),
        ..aep_edge_emulator::Fault::default()
    };
    for body in ["[]", "\"text\"", "null", "42", ""] {
        edge.inject(answer(200, body));
        let (s, e) = call(aep_edge_interact, client, &common::source_request());
        assert_eq!(s, AEP_EDGE_INVALID_RESPONSE, "interact {body:?}: {e}");
        assert_eq!(e["error"]["kind"], "invalid_response");
        assert_eq!(e["error"]["attempts"], 1);
    }
    let collect = json!({"events": [common::source_event()]});
    for status in [202, 204] {
        edge.inject(answer(status, ""));
        let (s, r) = call(aep_edge_collect, client, &collect);
        assert_eq!(s, AEP_EDGE_OK, "collect empty {status}: {r}");
        assert_eq!(r["client"]["httpStatus"], status);
        for key in ["handle", "errors", "warnings"] {
            assert_eq!(r[key], json!([]), "{key} on an empty {status}: {r}");
        }
    }
    edge.inject(answer(202, "[]"));
    let (s, e) = call(aep_edge_collect, client, &collect);
    assert_eq!(s, AEP_EDGE_INVALID_RESPONSE, "collect []: {e}");
    // SAFETY: the client this test created.
    unsafe { aep_edge_client_free(client) };
}

unsafe extern "C" fn record_log(
    user_data: *mut std::ffi::c_void,
    level: u32,
    message: *const c_char,
) {
    // SAFETY: user_data is the Mutex<Vec<..>> the test passed; message is
    // NUL-terminated for the callback's duration.
    let sink = unsafe { &*(user_data as *const std::sync::Mutex<Vec<(u32, String)>>) };
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    sink.lock().unwrap().push((level, text));
}

/// Brief and §4 "never a secret": at trace level, neither the OAuth client
/// secret nor the minted access token reaches the log callback or an error
/// object, on success and on a refused secret.
#[test]
fn oauth_secrets_and_minted_tokens_never_reach_logs_or_errors() {
    let secret = "conformance-oauth-s3cr3t";
    let edge = common::emulator_with(aep_edge_emulator::Options {
        require_auth: true,
        validate_tokens: true,
        ims_clients: vec![("my-client".into(), secret.into())],
        ..aep_edge_emulator::Options::default()
    });
    let sink: Box<std::sync::Mutex<Vec<(u32, String)>>> = Box::default();
    let mut texts = Vec::new();
    for (given, ok) in [(secret, true), ("wrong-s3cr3t-value", false)] {
        let client = new_client(&common::config(
            &edge.base_url(),
            json!({"orgId": "53A16ACB5CC1D3760A495C99@AdobeOrg", "retry": {"maxAttempts": 1},
                   "auth": {"type": "oauth", "clientId": "my-client", "clientSecret": given,
                            "scopes": "openid", "tokenUrl": format!("{}/ims/token/v3", edge.base_url())}}),
        ))
        .unwrap();
        // SAFETY: the sink outlives the client.
        let s = unsafe {
            aep_edge_set_log_callback(
                client,
                AEP_EDGE_LOG_TRACE,
                Some(record_log),
                &*sink as *const _ as *mut std::ffi::c_void,
            )
        };
        assert_eq!(s, AEP_EDGE_OK);
        let (s, r) = call(aep_edge_interact, client, &common::source_request());
        assert_eq!(s == AEP_EDGE_OK, ok, "{r}");
        texts.push(r.to_string());
        let mut session = sentinel();
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe { aep_edge_session_get(client, &mut session) },
            AEP_EDGE_OK
        );
        texts.push(take(session).unwrap());
        // SAFETY: the client this test created.
        unsafe { aep_edge_client_free(client) };
    }
    let tokens: Vec<String> = edge
        .requests()
        .iter()
        .filter(|r| r.path == "/ims/token/v3" && r.response_status == 200)
        .filter_map(|r| serde_json::from_slice::<Value>(&r.response_body).ok())
        .filter_map(|v| v["access_token"].as_str().map(str::to_string))
        .collect();
    assert!(!tokens.is_empty(), "a token was minted");
    let logs = sink.lock().unwrap().clone();
    assert!(logs.len() > 2, "trace logging produced lines");
    texts.extend(logs.into_iter().map(|(_, m)| m));
    for text in &texts {
        for secret in [secret, "wrong-s3cr3t-value"]
            .iter()
            .copied()
            .chain(tokens.iter().map(String::as_str))
        {
            assert!(!text.contains(secret), "a secret leaked: {text}");
        }
    }
}

/// §3.1 "Unknown keys, at any depth, are rejected with
/// `AEP_EDGE_INVALID_CONFIG` naming the key" — in every nested object.
#[test]
fn unknown_keys_in_every_nested_config_object_are_named() {
    let base = json!({"datastreamId": "ds", "baseUrl": "http://127.0.0.1:9"});
    let cases = [
        json!({"auth": {"type": "none", "zzAuthKey": 1}}),
        json!({"orgId": "A@AdobeOrg", "auth": {"type": "token", "accessToken": "a", "apiKey": "k", "zzAuthKey": 1}}),
        json!({"orgId": "A@AdobeOrg", "auth": {"type": "oauth", "clientId": "c", "clientSecret": "s", "scopes": "x", "zzAuthKey": 1}}),
        json!({"timeouts": {"zzTimeoutKey": 1}}),
        json!({"tls": {"zzTlsKey": 1}}),
        json!({"proxy": {"zzProxyKey": 1}}),
        json!({"queue": {"zzQueueKey": 1}}),
        json!({"async": {"zzAsyncKey": 1}}),
    ];
    for extra in cases {
        let mut config = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        let key = extra
            .to_string()
            .split('"')
            .find(|s| s.starts_with("zz"))
            .unwrap()
            .to_string();
        config_refused(config, &key);
    }
}

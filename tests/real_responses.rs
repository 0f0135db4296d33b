//! Real Edge Network response bodies (tests/fixtures/real/, see its SOURCES.md), each
//! served verbatim by the emulator for one call, and what the client makes of it through
//! the C ABI: the status the contract maps it to (design.md §3), a result or error JSON
//! with the fields §3.3 names, the session effects of §3.4 and the retry table.
#![cfg(feature = "capi")]

mod common;

use aep_edge::ffi::*;
use aep_edge_emulator::{Emulator, Fault};
use serde_json::{json, Value};
use std::ffi::{c_char, CStr, CString};
use std::ptr;

type CallFn = unsafe extern "C" fn(
    *const aep_edge_client,
    *const c_char,
    *mut *mut c_char,
) -> aep_edge_status;

#[derive(Clone, Copy, Debug)]
enum Call {
    Interact,
    Collect,
    Consent,
}

impl Call {
    fn function(self) -> CallFn {
        match self {
            Call::Interact => aep_edge_interact,
            Call::Collect => aep_edge_collect,
            Call::Consent => aep_edge_set_consent,
        }
    }

    fn request(self) -> Value {
        match self {
            Call::Interact => common::source_request(),
            Call::Collect => json!({"events": [common::source_event()]}),
            Call::Consent => json!({"consent": [{
                "standard": "Adobe", "version": "2.0",
                "value": {"collect": {"val": "y"}}
            }]}),
        }
    }

    fn path(self) -> &'static str {
        match self {
            Call::Interact => "/interact",
            Call::Collect => "/collect",
            Call::Consent => "/set-consent",
        }
    }
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/real/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"))
}

fn take(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    let text = unsafe { CStr::from_ptr(s) }
        .to_str()
        .expect("UTF-8")
        .to_owned();
    unsafe { aep_edge_string_free(s) };
    Some(text)
}

/// A client made, called and freed through the C ABI.
struct Capi(*mut aep_edge_client);

impl Capi {
    fn new(edge: &Emulator, extra: Value) -> Capi {
        let config = CString::new(common::config(&edge.base_url(), extra).to_string()).unwrap();
        let mut client = ptr::null_mut();
        let mut error = ptr::null_mut();
        let status = unsafe { aep_edge_client_new(config.as_ptr(), &mut client, &mut error) };
        assert_eq!(status, aep_edge_status::AEP_EDGE_OK, "{:?}", take(error));
        Capi(client)
    }

    /// The status number and the parsed result or error JSON of one call.
    fn call(&self, call: Call, request: &Value) -> (u32, Value) {
        let request = CString::new(request.to_string()).unwrap();
        let mut out = ptr::null_mut();
        let status = unsafe { (call.function())(self.0, request.as_ptr(), &mut out) };
        let text = take(out).expect("result_json_out is always written");
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the result is not JSON ({e}): {text}"));
        (status as u32, value)
    }

    fn session(&self) -> Value {
        let mut out = ptr::null_mut();
        let status = unsafe { aep_edge_session_get(self.0, &mut out) };
        assert_eq!(status, aep_edge_status::AEP_EDGE_OK);
        serde_json::from_str(&take(out).unwrap()).unwrap()
    }
}

impl Drop for Capi {
    fn drop(&mut self) {
        unsafe {
            aep_edge_client_close(self.0, 5000, ptr::null_mut());
            aep_edge_client_free(self.0);
        }
    }
}

/// How one body is served.
struct Serve {
    file: &'static str,
    status: u16,
    content_type: Option<&'static str>,
    retry_after: Option<&'static str>,
    headers: Vec<(&'static str, &'static str)>,
    /// How many requests in a row get it (the retried cases need every attempt).
    times: u32,
}

impl Serve {
    fn new(file: &'static str, status: u16) -> Serve {
        Serve {
            file,
            status,
            content_type: None,
            retry_after: None,
            headers: Vec::new(),
            times: 1,
        }
    }
    fn header(mut self, name: &'static str, value: &'static str) -> Serve {
        self.headers.push((name, value));
        self
    }
    fn content_type(mut self, value: &'static str) -> Serve {
        self.content_type = Some(value);
        self
    }
    fn retry_after(mut self, value: &'static str) -> Serve {
        self.retry_after = Some(value);
        self
    }
    fn times(mut self, n: u32) -> Serve {
        self.times = n;
        self
    }

    fn inject(&self, edge: &Emulator, call: Call) -> String {
        let body = fixture(self.file);
        let mut fault = Fault {
            status: Some(self.status),
            body: Some(body.clone()),
            content_type: self.content_type.map(String::from),
            retry_after: self.retry_after.map(String::from),
            ..Fault::default()
        };
        for (name, value) in &self.headers {
            fault = fault.with_header(name, value);
        }
        edge.inject(fault.times(self.times).on_path(call.path()));
        body
    }
}

/// One call answered with `serve`; the client, the body served and the call's outcome.
fn run(serve: &Serve, call: Call, extra: Value) -> (Emulator, Capi, String, u32, Value) {
    let edge = common::emulator();
    let client = Capi::new(&edge, extra);
    let body = serve.inject(&edge, call);
    let (status, result) = client.call(call, &call.request());
    (edge, client, body, status, result)
}

const OK: u32 = 0;
const HTTP_ERROR: u32 = 8;
const AUTH_ERROR: u32 = 9;
const INVALID_RESPONSE: u32 = 10;

/// A success result (§3.3): the server's object with unknown keys kept, `handle`, `errors`
/// and `warnings` always arrays, each handle as sent (a missing `eventIndex` may read 0),
/// plus `client` with the HTTP status and the attempts.
fn assert_success(body: &str, http_status: u16, status: u32, result: &Value) {
    assert_eq!(status, OK, "{result}");
    let served: Value = if body.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(body).unwrap()
    };
    let served = served.as_object().expect("served an object");
    let result_obj = result.as_object().expect("the result is an object");
    for (key, value) in served {
        if ["handle", "errors", "warnings"].contains(&key.as_str()) {
            continue;
        }
        assert_eq!(
            &result_obj[key], value,
            "top-level key {key} is kept as sent"
        );
    }
    for key in result_obj.keys() {
        let known = served.contains_key(key)
            || ["handle", "errors", "warnings", "client"].contains(&key.as_str());
        assert!(known, "the result adds only `client`, not {key}");
    }
    for key in ["errors", "warnings"] {
        let expected = match served.get(key) {
            None | Some(Value::Null) => json!([]),
            Some(v) => v.clone(),
        };
        assert_eq!(result[key], expected, "{key} as sent, [] when absent");
    }
    let sent = match served.get("handle") {
        None | Some(Value::Null) => vec![],
        Some(v) => v.as_array().unwrap().clone(),
    };
    let got = result["handle"].as_array().expect("handle is an array");
    assert_eq!(got.len(), sent.len(), "every handle is kept");
    for (got, sent) in got.iter().zip(&sent) {
        match sent.get("eventIndex") {
            Some(index) => assert_eq!(&got["eventIndex"], index),
            None => assert!(
                got.get("eventIndex").is_none_or(|i| i == 0),
                "a missing eventIndex stays missing or reads 0: {got}"
            ),
        }
        let strip = |h: &Value| {
            let mut h = h.clone();
            h.as_object_mut().map(|o| o.remove("eventIndex"));
            h
        };
        assert_eq!(strip(got), strip(sent), "the handle is kept as sent");
    }
    let client = &result["client"];
    assert_eq!(client["httpStatus"], http_status, "{client}");
    assert_eq!(client["attempts"], 1, "{client}");
    assert!(client["requestId"].is_string(), "{client}");
}

/// What an error object must say (§3.3).
struct Expected {
    status: u32,
    kind: &'static str,
    http_status: u16,
    code: Option<&'static str>,
    /// The problem is the body parsed, when it is a JSON object.
    problem_is_body: bool,
    attempts: u32,
    retryable: bool,
}

fn assert_error(edge: &Emulator, body: &str, status: u32, result: &Value, want: &Expected) {
    assert_eq!(status, want.status, "{result}");
    let e = result["error"].as_object().expect("an error object");
    for key in common::ERROR_KEYS {
        assert!(
            e.contains_key(key),
            "the error object names {key}: {result}"
        );
    }
    assert_eq!(e["kind"], want.kind);
    assert_eq!(e["status"], want.status);
    assert_eq!(e["httpStatus"], want.http_status);
    assert_eq!(e["code"], json!(want.code), "{result}");
    let problem = if want.problem_is_body {
        serde_json::from_str(body).unwrap()
    } else {
        Value::Null
    };
    assert_eq!(e["problem"], problem, "{result}");
    assert_eq!(e["attempts"], want.attempts, "{result}");
    assert_eq!(e["retryable"], want.retryable, "{result}");
    let message = e["message"].as_str().unwrap();
    assert!(!message.is_empty());
    assert!(
        !message.chars().any(char::is_control),
        "the message is printable: {message:?}"
    );
    assert!(
        message.contains(&want.http_status.to_string()),
        "the message names the HTTP status: {message}"
    );
    let recorded = edge.requests();
    assert_eq!(
        recorded.len(),
        want.attempts as usize,
        "one request per attempt"
    );
    assert_eq!(
        e["requestId"].as_str(),
        recorded[0].query_param("requestId"),
        "the error names the request id that was sent"
    );
}

fn entries(session: &Value) -> Vec<(String, String)> {
    session["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has_entry(session: &Value, key: &str, value: &str) -> bool {
    entries(session).iter().any(|(k, v)| k == key && v == value)
}

/// The path of the request the emulator recorded last.
fn last_path(edge: &Emulator) -> String {
    edge.requests().last().expect("a request").path.clone()
}

// ---------------------------------------------------------------------------------------
// Success bodies: returned as sent, one test per body.

macro_rules! success {
    ($name:ident, $call:expr, $file:literal, $status:literal) => {
        #[test]
        fn $name() {
            let serve = Serve::new($file, $status);
            let (_edge, _client, body, status, result) = run(&serve, $call, json!({}));
            assert_success(&body, $status, status, &result);
        }
    };
}

success!(
    alloy_207_upstream_timeout,
    Call::Interact,
    "alloy-interact-207-upstream-timeout-aam.json",
    207
);
success!(
    alloy_207_body_at_200,
    Call::Interact,
    "alloy-interact-207-upstream-timeout-aam.json",
    200
);
success!(
    alloy_activation_push,
    Call::Interact,
    "alloy-interact-200-activation-push-two-handles.json",
    200
);
success!(
    alloy_ajo_in_app_large,
    Call::Interact,
    "alloy-interact-200-ajo-in-app-messages-large.json",
    200
);
success!(
    alloy_ajo_content_cards,
    Call::Interact,
    "alloy-interact-200-ajo-content-cards.json",
    200
);
success!(
    alloy_target_custom_code,
    Call::Interact,
    "alloy-interact-200-target-custom-code.json",
    200
);
success!(
    alloy_identity_acquire,
    Call::Interact,
    "alloy-identity-acquire-200.json",
    200
);
success!(
    alloy_media_new_session,
    Call::Interact,
    "alloy-interact-200-media-new-session.json",
    200
);
success!(
    ios_state_store_without_payload,
    Call::Interact,
    "ios-sdk-interact-200-state-store-without-payload.json",
    200
);
success!(
    ios_handle_empty_type,
    Call::Interact,
    "ios-sdk-interact-200-handle-empty-type.json",
    200
);
success!(
    ios_handle_without_type,
    Call::Interact,
    "ios-sdk-interact-200-handle-without-type.json",
    200
);
success!(
    ios_event_index_1_unpaired,
    Call::Interact,
    "ios-sdk-interact-200-event-index-1-unpaired.json",
    200
);
success!(
    ios_207_error_without_type,
    Call::Interact,
    "ios-sdk-interact-207-error-without-type.json",
    207
);
success!(
    ios_207_error_without_type_on_collect,
    Call::Collect,
    "ios-sdk-interact-207-error-without-type.json",
    207
);
success!(
    ios_hint_two_scopes,
    Call::Interact,
    "ios-sdk-interact-200-location-hint-two-scopes.json",
    200
);
success!(
    ios_warning_status_0_without_type,
    Call::Interact,
    "ios-interact-200-warning-status-0-without-type.json",
    200
);
success!(
    ios_state_store_max_age_zero,
    Call::Interact,
    "ios-interact-200-state-store-max-age-zero.json",
    200
);
success!(
    ios_consent_empty_state_value,
    Call::Consent,
    "ios-set-consent-200-state-store-empty-value.json",
    200
);
success!(
    docs_hint_state_redacted,
    Call::Interact,
    "docs-interact-200-location-hint-state-store-redacted.json",
    200
);
success!(
    docs_hint_state_on_collect,
    Call::Collect,
    "docs-interact-200-location-hint-state-store-redacted.json",
    200
);
success!(
    docs_target_view_dom_action,
    Call::Interact,
    "docs-interact-200-target-view-dom-action.json",
    200
);
success!(
    synthetic_unicode_nulls_large,
    Call::Interact,
    "synthetic-200-unicode-nulls-large.json",
    200
);
success!(empty_204_on_collect, Call::Collect, "empty-body.bin", 204);
success!(empty_202_on_collect, Call::Collect, "empty-body.bin", 202);

// ---------------------------------------------------------------------------------------
// What the session keeps (session "device", §3.4).

#[test]
fn ecid_hint_and_cluster_state_come_from_a_real_207() {
    let serve = Serve::new("alloy-interact-207-upstream-timeout-aam.json", 207);
    let (edge, client, _, status, _) = run(&serve, Call::Interact, json!({}));
    assert_eq!(status, OK);
    let session = client.session();
    assert_eq!(
        session["ecid"], "75142138344462263894507331812511658810",
        "the ECID, not the CORE id: {session}"
    );
    assert_eq!(session["locationHint"]["hint"], "or2", "{session}");
    assert!(has_entry(
        &session,
        "kndctr_5BFE274A5F6980A50A495C08_AdobeOrg_cluster",
        "or2"
    ));
    // The EdgeNetwork hint, not Target's "35" or AAM's "9", routes the next call.
    let (status, _) = client.call(Call::Interact, &Call::Interact.request());
    assert_eq!(status, OK);
    assert_eq!(last_path(&edge), "/ee/or2/v2/interact");
}

#[test]
fn the_edge_network_hint_wins_over_the_target_hint() {
    let serve = Serve::new("ios-sdk-interact-200-location-hint-two-scopes.json", 200);
    let (edge, client, _, _, _) = run(&serve, Call::Interact, json!({}));
    assert_eq!(client.session()["locationHint"]["hint"], "or2");
    client.call(Call::Collect, &Call::Collect.request());
    assert_eq!(last_path(&edge), "/ee/or2/v2/collect");
}

/// Hints the Edge Network did not give for the EdgeNetwork scope, or gave without a value,
/// route nothing: later calls keep the plain `/ee/v2/...` path.
fn assert_no_hint_adopted(file: &'static str) {
    let serve = Serve::new(file, 200);
    let (edge, client, body, status, result) = run(&serve, Call::Interact, json!({}));
    assert_success(&body, 200, status, &result);
    let session = client.session();
    assert_eq!(session["locationHint"], Value::Null, "{file}: {session}");
    let (status, result) = client.call(Call::Interact, &Call::Interact.request());
    assert_eq!(status, OK, "{result}");
    assert_eq!(last_path(&edge), "/ee/v2/interact", "{file}");
}

#[test]
fn a_target_only_hint_does_not_route_edge_calls() {
    assert_no_hint_adopted("ios-sdk-interact-200-location-hint-target-only.json");
}

#[test]
fn a_hint_entry_without_hint_is_ignored() {
    assert_no_hint_adopted("ios-sdk-interact-200-location-hint-missing-hint.json");
}

#[test]
fn an_empty_hint_is_ignored() {
    assert_no_hint_adopted("ios-sdk-interact-200-location-hint-empty-hint.json");
}

#[test]
fn a_string_ttl_without_hint_is_ignored() {
    assert_no_hint_adopted("ios-sdk-interact-200-location-hint-ttl-string.json");
}

#[test]
fn a_hint_without_ttl_never_routes_forever() {
    let serve = Serve::new("ios-sdk-interact-200-location-hint-missing-ttl.json", 200);
    let (edge, client, body, status, result) = run(&serve, Call::Interact, json!({}));
    assert_success(&body, 200, status, &result);
    let hint = &client.session()["locationHint"];
    // Adopting it is allowed only with a finite lifetime; ignoring it (as the iOS SDK
    // does) is the other correct reading.
    if !hint.is_null() {
        assert_eq!(hint["hint"], "or2");
        assert!(hint["expiresInMs"].is_u64(), "{hint}");
    }
    let (status, _) = client.call(Call::Interact, &Call::Interact.request());
    assert_eq!(status, OK);
    assert!(["/ee/v2/interact", "/ee/or2/v2/interact"].contains(&last_path(&edge).as_str()));
}

#[test]
fn handles_without_a_state_store_type_are_not_kept_as_state() {
    for file in [
        "ios-sdk-interact-200-handle-without-type.json",
        "ios-sdk-interact-200-handle-empty-type.json",
    ] {
        let serve = Serve::new(file, 200);
        let (_edge, client, _, status, _) = run(&serve, Call::Interact, json!({}));
        assert_eq!(status, OK);
        let session = client.session();
        assert!(
            !entries(&session).iter().any(|(k, _)| k == "s_ecid"),
            "{file}: {session}"
        );
    }
}

#[test]
fn state_entries_are_kept_and_max_age_zero_is_not() {
    let serve = Serve::new("ios-interact-200-state-store-max-age-zero.json", 200);
    let (edge, client, _, status, _) = run(&serve, Call::Interact, json!({}));
    assert_eq!(status, OK);
    let session = client.session();
    assert!(has_entry(
        &session,
        "kndctr_testOrg_AdobeOrg_identity",
        "hashed_value"
    ));
    assert!(has_entry(
        &session,
        "kndctr_testOrg_AdobeOrg_consent_check",
        "1"
    ));
    assert!(
        !entries(&session).iter().any(|(k, _)| k == "expired_key"),
        "{session}"
    );
    // ... and sent with the next request.
    client.call(Call::Interact, &Call::Interact.request());
    let sent = edge.requests().last().unwrap().json().unwrap();
    let sent_entries = sent["meta"]["state"]["entries"].as_array().unwrap().clone();
    assert!(sent_entries
        .iter()
        .any(|e| e["key"] == "kndctr_testOrg_AdobeOrg_identity" && e["value"] == "hashed_value"));
    assert!(!sent_entries.iter().any(|e| e["key"] == "expired_key"));
}

#[test]
fn a_state_store_without_payload_changes_nothing() {
    let serve = Serve::new("ios-sdk-interact-200-state-store-without-payload.json", 200);
    let (_edge, client, _, status, _) = run(&serve, Call::Interact, json!({}));
    assert_eq!(status, OK);
    assert_eq!(client.session()["entries"], json!([]));
}

#[test]
fn set_consent_keeps_its_state_entries_including_an_empty_value() {
    let serve = Serve::new("ios-set-consent-200-state-store-empty-value.json", 200);
    let (_edge, client, _, status, _) = run(&serve, Call::Consent, json!({}));
    assert_eq!(status, OK);
    let session = client.session();
    assert!(has_entry(
        &session,
        "kndctr_example_AdobeOrg_identity",
        "abcd"
    ));
    assert!(has_entry(
        &session,
        "kndctr_example_AdobeOrg_consent_check",
        "1"
    ));
    assert!(
        has_entry(&session, "kndctr_example_AdobeOrg_consent", ""),
        "{session}"
    );
}

#[test]
fn identity_result_gives_the_ecid_and_the_redacted_docs_body_gives_state() {
    let serve = Serve::new("alloy-identity-acquire-200.json", 200);
    let (_edge, client, body, _, _) = run(&serve, Call::Interact, json!({}));
    let served: Value = serde_json::from_str(&body).unwrap();
    let ecid = served["handle"][0]["payload"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["namespace"]["code"] == "ECID")
        .unwrap()["id"]
        .clone();
    assert_eq!(client.session()["ecid"], ecid);

    let serve = Serve::new(
        "docs-interact-200-location-hint-state-store-redacted.json",
        200,
    );
    let (_edge, client, _, _, _) = run(&serve, Call::Interact, json!({}));
    let session = client.session();
    assert!(has_entry(
        &session,
        "kndctr_53A[...]C99_AdobeOrg_identity",
        "CiYzM[...]snTI="
    ));
    assert_eq!(session["locationHint"]["hint"], "or2");
    assert_eq!(session["ecid"], Value::Null, "no identity:result, no ECID");
}

#[test]
fn session_none_returns_state_to_the_caller_and_keeps_nothing() {
    let serve = Serve::new("ios-interact-200-state-store-max-age-zero.json", 200);
    let (_edge, client, _, status, result) =
        run(&serve, Call::Interact, json!({"session": "none"}));
    assert_eq!(status, OK);
    assert_eq!(client.session()["entries"], json!([]));
    assert_eq!(common::handles(&result, "state:store").len(), 1);
}

// ---------------------------------------------------------------------------------------
// Bodies that are not usable JSON objects on a 2xx: INVALID_RESPONSE, nothing kept.

fn assert_invalid_response(file: &'static str, call: Call, http_status: u16, ct: &'static str) {
    let serve = Serve::new(file, http_status).content_type(ct);
    let (edge, client, _, status, result) = run(&serve, call, json!({}));
    assert_eq!(status, INVALID_RESPONSE, "{file}: {result}");
    let e = &result["error"];
    assert_eq!(e["kind"], "invalid_response");
    assert_eq!(e["httpStatus"], http_status);
    assert_eq!(e["attempts"], 1, "a 2xx is never re-sent");
    assert_eq!(edge.requests().len(), 1);
    let message = e["message"].as_str().unwrap();
    assert!(
        !message.chars().any(char::is_control),
        "printable: {message:?}"
    );
    let session = client.session();
    assert_eq!(session["entries"], json!([]));
    assert_eq!(session["locationHint"], Value::Null);
}

#[test]
fn a_streaming_framed_body_is_an_invalid_response() {
    assert_invalid_response(
        "ios-interact-200-streaming-framed-warning.bin",
        Call::Interact,
        200,
        "application/json",
    );
}

#[test]
fn a_captive_portal_page_is_an_invalid_response() {
    assert_invalid_response(
        "synthetic-200-captive-portal-html.html",
        Call::Interact,
        200,
        "text/html; charset=utf-8",
    );
}

#[test]
fn an_empty_200_on_interact_is_an_invalid_response() {
    assert_invalid_response("empty-body.bin", Call::Interact, 200, "application/json");
}

// ---------------------------------------------------------------------------------------
// Fatal errors: status, error object and the retry table.

fn error_case(serve: Serve, call: Call, extra: Value, want: Expected) -> Value {
    let (edge, client, body, status, result) = run(&serve, call, extra);
    assert_error(&edge, &body, status, &result, &want);
    // A failed call keeps no state.
    let session = client.session();
    assert_eq!(session["entries"], json!([]), "{session}");
    assert_eq!(session["locationHint"], Value::Null, "{session}");
    result
}

fn http(http_status: u16, code: Option<&'static str>, attempts: u32, retryable: bool) -> Expected {
    Expected {
        status: HTTP_ERROR,
        kind: "http",
        http_status,
        code,
        problem_is_body: true,
        attempts,
        retryable,
    }
}

#[test]
fn docs_422_with_report_errors() {
    let result = error_case(
        Serve::new("docs-422-EXEG-0104-report-errors.json", 422),
        Call::Consent,
        json!({}),
        http(422, Some("EXEG-0104-422"), 1, false),
    );
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.contains("Unprocessable entity"), "{message}");
}

#[test]
fn docs_400_no_primary_identity() {
    error_case(
        Serve::new("docs-interact-400-EXEG-0306-no-primary-identity.json", 400),
        Call::Interact,
        json!({}),
        http(400, Some("EXEG-0306-400"), 1, false),
    );
}

#[test]
fn alloy_400_with_empty_report_on_set_consent() {
    let serve = Serve::new("alloy-set-consent-400-EXEG-0003-empty-report.json", 400);
    let (edge, client, body, status, result) = run(&serve, Call::Consent, json!({}));
    assert_error(
        &edge,
        &body,
        status,
        &result,
        &http(400, Some("EXEG-0003-400"), 1, false),
    );
    // The refused consent changed nothing: the default ("in") stands.
    assert_eq!(client.session()["consent"], "y");
}

#[test]
fn alloy_400_problem_with_type_and_status_only() {
    error_case(
        Serve::new(
            "alloy-set-consent-400-EXEG-0102-type-and-status-only.json",
            400,
        ),
        Call::Consent,
        json!({}),
        http(400, Some("EXEG-0102-400"), 1, false),
    );
}

#[test]
fn a_503_whose_body_is_an_envelope_is_retried_then_an_http_error() {
    error_case(
        Serve::new(
            "android-interact-503-envelope-warning-EXEG-0204-502.json",
            503,
        )
        .times(3),
        Call::Interact,
        json!({}),
        Expected {
            // The body has no problem `type`: no code.
            ..http(503, None, 3, true)
        },
    );
}

#[test]
fn synthetic_401_invalid_token_is_an_auth_error() {
    error_case(
        Serve::new("synthetic-401-EXEG-0500-invalid-token.json", 401),
        Call::Interact,
        json!({}),
        Expected {
            status: AUTH_ERROR,
            kind: "auth",
            ..http(401, Some("EXEG-0500-401"), 1, false)
        },
    );
}

#[test]
fn synthetic_401_token_expired_without_oauth_is_not_retried() {
    error_case(
        Serve::new("synthetic-401-EXEG-0503-token-expired.json", 401),
        Call::Collect,
        json!({}),
        Expected {
            status: AUTH_ERROR,
            kind: "auth",
            ..http(401, Some("EXEG-0503-401"), 1, false)
        },
    );
}

#[test]
fn synthetic_403_geo_is_an_http_error_not_auth() {
    error_case(
        Serve::new("synthetic-403-EXEG-0400-geo-restricted.json", 403),
        Call::Interact,
        json!({}),
        http(403, Some("EXEG-0400-403"), 1, false),
    );
}

#[test]
fn an_empty_404_without_hint_is_not_retried() {
    error_case(
        Serve::new("empty-body.bin", 404),
        Call::Interact,
        json!({}),
        Expected {
            problem_is_body: false,
            ..http(404, None, 1, false)
        },
    );
}

#[test]
fn synthetic_408_is_retried() {
    error_case(
        Serve::new("synthetic-408-EXEG-0109-empty-request.json", 408).times(3),
        Call::Collect,
        json!({}),
        http(408, Some("EXEG-0109-408"), 3, true),
    );
}

#[test]
fn synthetic_413_is_not_retried() {
    error_case(
        Serve::new("synthetic-413-EXEG-0112-payload-too-large.json", 413),
        Call::Collect,
        json!({}),
        http(413, Some("EXEG-0112-413"), 1, false),
    );
}

#[test]
fn synthetic_500_is_not_retried() {
    error_case(
        Serve::new("synthetic-500-EXEG-0001-unexpected.json", 500),
        Call::Interact,
        json!({}),
        http(500, Some("EXEG-0001-500"), 1, false),
    );
}

#[test]
fn synthetic_429_without_retry_after_is_retried_with_backoff() {
    error_case(
        Serve::new("synthetic-429-problem-without-code.json", 429).times(3),
        Call::Interact,
        json!({}),
        http(429, None, 3, true),
    );
}

/// Served on every attempt with `Retry-After: 1`: the client waits at least about a second
/// between its two attempts (no upper bound: a busy machine may be slower).
fn assert_retry_after_honoured(serve: Serve, call: Call, want: Expected) {
    let serve = serve.retry_after("1").times(2);
    let extra = json!({"retry": {"maxAttempts": 2, "maxDelayMs": 5000}});
    let (edge, _client, body, status, result) = run(&serve, call, extra);
    assert_error(&edge, &body, status, &result, &want);
    let recorded = edge.requests();
    let gap = recorded[1].received_ms - recorded[0].received_ms;
    assert!(gap >= 900, "Retry-After: 1 waited only {gap} ms");
    assert_eq!(result["error"]["retryAfterMs"], 1000, "{result}");
}

#[test]
fn synthetic_429_retry_after_is_honoured() {
    assert_retry_after_honoured(
        Serve::new("synthetic-429-problem-without-code.json", 429),
        Call::Interact,
        http(429, None, 2, true),
    );
}

#[test]
fn synthetic_503_retry_after_is_honoured_on_set_consent() {
    assert_retry_after_honoured(
        Serve::new("synthetic-503-EXEG-0000-service-unavailable.json", 503),
        Call::Consent,
        http(503, Some("EXEG-0000-503"), 2, true),
    );
}

#[test]
fn a_past_http_date_retry_after_means_no_wait() {
    error_case(
        Serve::new("synthetic-503-EXEG-0000-service-unavailable.json", 503)
            .retry_after("Wed, 21 Oct 2015 07:28:00 GMT")
            .times(3),
        Call::Interact,
        json!({}),
        http(503, Some("EXEG-0000-503"), 3, true),
    );
}

#[test]
fn a_retry_after_beyond_max_delay_stops_with_retry_after_ms() {
    let result = error_case(
        Serve::new("synthetic-429-problem-without-code.json", 429).retry_after("120"),
        Call::Interact,
        json!({}),
        http(429, None, 1, true),
    );
    assert_eq!(result["error"]["retryAfterMs"], 120_000, "{result}");
}

#[test]
fn an_nginx_502_page_is_retried_and_quoted() {
    let result = error_case(
        Serve::new("synthetic-502-nginx-html.html", 502)
            .content_type("text/html")
            .times(3),
        Call::Interact,
        json!({}),
        Expected {
            problem_is_body: false,
            ..http(502, None, 3, true)
        },
    );
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.contains("502 Bad Gateway"), "{message}");
}

#[test]
fn a_cdn_504_page_is_retried() {
    error_case(
        Serve::new("synthetic-504-cdn-html.html", 504)
            .content_type("text/html; charset=UTF-8")
            .times(3),
        Call::Collect,
        json!({}),
        Expected {
            problem_is_body: false,
            ..http(504, None, 3, true)
        },
    );
}

#[test]
fn an_error_body_then_a_success_recovers() {
    // Two 503 envelopes, then the emulator's own answer: the third attempt succeeds.
    let edge = common::emulator();
    let client = Capi::new(&edge, json!({}));
    Serve::new(
        "android-interact-503-envelope-warning-EXEG-0204-502.json",
        503,
    )
    .times(2)
    .inject(&edge, Call::Interact);
    let (status, result) = client.call(Call::Interact, &Call::Interact.request());
    assert_eq!(status, OK, "{result}");
    assert_eq!(result["client"]["attempts"], 3);
    let ids: Vec<_> = edge
        .requests()
        .iter()
        .map(|r| r.query_param("requestId").map(String::from))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "same requestId on every attempt: {ids:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Headers, content types and the routing facts that ride on real answers.

#[test]
fn recorded_headers_reach_the_result() {
    // alloy's identity spec serves this body with `x-adobe-edge: or2;35` and
    // `Content-Type: application/json`.
    let serve = Serve::new("alloy-identity-acquire-200.json", 200)
        .content_type("application/json")
        .header("x-adobe-edge", "or2;35");
    let (_edge, _client, body, status, result) = run(&serve, Call::Interact, json!({}));
    assert_success(&body, 200, status, &result);
    assert_eq!(result["client"]["region"], "or2;35", "{result}");
    assert_eq!(result["client"]["headers"]["x-adobe-edge"], "or2;35");
}

#[test]
fn without_x_adobe_edge_the_region_is_null() {
    let serve = Serve::new("docs-interact-200-target-view-dom-action.json", 200);
    let (_edge, _client, _, status, result) = run(&serve, Call::Interact, json!({}));
    assert_eq!(status, OK);
    assert_eq!(result["client"]["region"], Value::Null, "{result}");
}

#[test]
fn a_body_served_as_text_plain_is_read_the_same() {
    // alloy's msw handlers answer with HttpResponse.text: text/plain;charset=UTF-8.
    let serve = Serve::new("alloy-interact-200-ajo-content-cards.json", 200)
        .content_type("text/plain;charset=UTF-8");
    let (_edge, client, body, status, result) = run(&serve, Call::Interact, json!({}));
    assert_success(&body, 200, status, &result);
    assert_eq!(client.session()["locationHint"]["hint"], "or2");
}

#[test]
fn hint_ttl_and_state_max_age_are_read_as_seconds() {
    let serve = Serve::new("alloy-interact-207-upstream-timeout-aam.json", 207);
    let (_edge, client, _, _, _) = run(&serve, Call::Interact, json!({}));
    let session = client.session();
    let expires = session["locationHint"]["expiresInMs"]
        .as_u64()
        .expect("expiresInMs");
    assert!(
        (1_700_000..=1_800_000).contains(&expires),
        "ttlSeconds 1800 → about 1 800 000 ms, got {expires}"
    );
    let entry = session["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "kndctr_5BFE274A5F6980A50A495C08_AdobeOrg_cluster")
        .unwrap()
        .clone();
    // The session reports the seconds left.
    let left = entry["maxAge"].as_u64().expect("maxAge");
    assert!((1700..=1800).contains(&left), "{entry}");
}

#[test]
fn a_hinted_empty_404_is_sent_again_without_the_hint() {
    let edge = common::emulator();
    let client = Capi::new(&edge, json!({}));
    Serve::new("alloy-interact-207-upstream-timeout-aam.json", 207).inject(&edge, Call::Interact);
    assert_eq!(client.call(Call::Interact, &Call::Interact.request()).0, OK);
    // The hinted cluster answers the documented empty 404 (an unknown hint).
    Serve::new("empty-body.bin", 404).inject(&edge, Call::Interact);
    let (status, result) = client.call(Call::Interact, &Call::Interact.request());
    assert_eq!(status, OK, "{result}");
    assert_eq!(result["client"]["attempts"], 2, "{result}");
    let paths: Vec<String> = edge.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/ee/v2/interact", "/ee/or2/v2/interact", "/ee/v2/interact"]
    );
    assert_eq!(client.session()["hintRouting"], false);
}

#[test]
fn collect_and_set_consent_answers_feed_the_session_too() {
    let serve = Serve::new(
        "docs-interact-200-location-hint-state-store-redacted.json",
        200,
    );
    let (_edge, client, _, status, _) = run(&serve, Call::Collect, json!({}));
    assert_eq!(status, OK);
    let session = client.session();
    assert_eq!(session["locationHint"]["hint"], "or2", "{session}");
    assert!(has_entry(
        &session,
        "kndctr_53A[...]C99_AdobeOrg_cluster",
        "or2"
    ));

    let serve = Serve::new("alloy-interact-207-upstream-timeout-aam.json", 200);
    let (_edge, client, _, status, _) = run(&serve, Call::Consent, json!({}));
    assert_eq!(status, OK);
    let session = client.session();
    assert_eq!(session["locationHint"]["hint"], "or2", "{session}");
    assert_eq!(session["ecid"], "75142138344462263894507331812511658810");
}

/// `query.identity.fetch` as the last recorded request sent it.
fn fetches_ecid(edge: &Emulator) -> bool {
    let sent = edge.requests().last().unwrap().json().unwrap();
    sent["query"]["identity"]["fetch"]
        .as_array()
        .is_some_and(|f| f.iter().any(|n| n == "ECID"))
}

#[test]
fn the_ecid_is_asked_for_until_an_identity_result_gives_it() {
    let edge = common::emulator();
    let client = Capi::new(&edge, json!({}));
    // State with an identity cookie but no identity:result: the ECID is still unknown.
    Serve::new(
        "docs-interact-200-location-hint-state-store-redacted.json",
        200,
    )
    .inject(&edge, Call::Interact);
    client.call(Call::Interact, &Call::Interact.request());
    assert!(fetches_ecid(&edge), "the first call asks for the ECID");
    Serve::new("alloy-interact-200-target-custom-code.json", 200).inject(&edge, Call::Interact);
    client.call(Call::Interact, &Call::Interact.request());
    assert!(
        fetches_ecid(&edge),
        "still unknown after a body without identity:result"
    );
    assert!(client.session()["ecid"].is_string());
    client.call(Call::Interact, &Call::Interact.request());
    assert!(!fetches_ecid(&edge), "known now: not asked again");
}

#[test]
fn state_from_an_answer_to_a_request_sent_before_a_reset_is_ignored() {
    let edge = common::emulator();
    let client = Capi::new(&edge, json!({}));
    edge.inject(
        Fault {
            status: Some(207),
            body: Some(fixture("alloy-interact-207-upstream-timeout-aam.json")),
            delay_ms: 600,
            ..Fault::default()
        }
        .on_path("/interact"),
    );
    let raw = client.0 as usize;
    let call = std::thread::spawn(move || {
        let request = CString::new(Call::Interact.request().to_string()).unwrap();
        let mut out = ptr::null_mut();
        let client = raw as *const aep_edge_client;
        let status = unsafe { aep_edge_interact(client, request.as_ptr(), &mut out) };
        (status, take(out))
    });
    while edge.requests().is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut error = ptr::null_mut();
    let status = unsafe { aep_edge_session_reset(client.0, &mut error) };
    assert_eq!(status, aep_edge_status::AEP_EDGE_OK, "{:?}", take(error));
    let (status, result) = call.join().unwrap();
    assert_eq!(status, aep_edge_status::AEP_EDGE_OK, "{result:?}");
    let session = client.session();
    assert_eq!(session["ecid"], Value::Null, "{session}");
    assert_eq!(session["entries"], json!([]), "{session}");
    assert_eq!(session["locationHint"], Value::Null, "{session}");
}

#[test]
fn a_redirect_page_is_an_http_error_and_is_not_followed() {
    let edge = common::emulator();
    let client = Capi::new(&edge, json!({}));
    edge.inject(
        Fault {
            status: Some(302),
            body: Some(fixture("synthetic-302-cdn-redirect-html.html")),
            content_type: Some("text/html".into()),
            location: Some(format!("{}/ee/v2/interact?dataStreamId=x", edge.base_url())),
            ..Fault::default()
        }
        .on_path("/interact"),
    );
    let (status, result) = client.call(Call::Interact, &Call::Interact.request());
    let body = fixture("synthetic-302-cdn-redirect-html.html");
    assert_error(
        &edge,
        &body,
        status,
        &result,
        &Expected {
            problem_is_body: false,
            ..http(302, None, 1, false)
        },
    );
}

#[test]
fn a_retry_after_of_zero_is_retried() {
    error_case(
        Serve::new("synthetic-429-problem-without-code.json", 429)
            .retry_after("0")
            .times(3),
        Call::Collect,
        json!({"retry": {"baseDelayMs": 5000, "maxDelayMs": 30000}}),
        http(429, None, 3, true),
    );
}

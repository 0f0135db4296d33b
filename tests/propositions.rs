//! Proposition events (design.md §3.9) through the C ABI, from the
//! propositions of real personalization responses (tests/fixtures), checked
//! field by field against the shape Adobe documents, then sent to the emulator.
#![cfg(feature = "capi")]

mod common;

use aep_edge::ffi::{aep_edge_proposition_event, aep_edge_status, aep_edge_string_free};
use common::*;
use serde_json::{json, Value};
use std::ffi::{c_char, CStr, CString};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The propositions of every `personalization:decisions` handle of a response.
fn propositions_of(response: &Value) -> Vec<Value> {
    handles(response, "personalization:decisions")
        .iter()
        .flat_map(|h| h["payload"].as_array().unwrap().clone())
        .collect()
}

/// Calls `aep_edge_proposition_event` and returns its status and JSON.
fn proposition_event(input: &Value) -> (aep_edge_status, Value) {
    let text = CString::new(input.to_string()).unwrap();
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: a NUL-terminated input and a valid out pointer.
    let status = unsafe { aep_edge_proposition_event(text.as_ptr(), &mut out) };
    assert!(!out.is_null(), "the out-parameter is always written");
    // SAFETY: the library returned a NUL-terminated string.
    let json = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
    // SAFETY: returned by the library, freed once.
    unsafe { aep_edge_string_free(out) };
    (status, serde_json::from_str(&json).unwrap())
}

const FIXTURES: [&str; 3] = [
    "response-interact-200-target-json-offer.json",
    "response-interact-200-target-default-content.json",
    "response-interact-200-offer-decisioning.json",
];

#[test]
fn display_events_report_every_proposition_as_adobe_documents() {
    for name in FIXTURES {
        let propositions = propositions_of(&fixture(name));
        assert!(!propositions.is_empty(), "{name} has propositions");
        let (status, out) =
            proposition_event(&json!({"kind": "display", "propositions": propositions}));
        assert_eq!(status, aep_edge_status::AEP_EDGE_OK, "{name}: {out}");
        let xdm = &out["event"]["xdm"];
        assert_eq!(out.as_object().unwrap().len(), 1, "{name}: only event");
        assert_eq!(
            out["event"].as_object().unwrap().len(),
            1,
            "{name}: only xdm"
        );
        assert_eq!(xdm["eventType"], "decisioning.propositionDisplay");
        let decisioning = &xdm["_experience"]["decisioning"];
        assert_eq!(decisioning["propositionEventType"], json!({"display": 1}));
        assert!(decisioning.get("propositionAction").is_none());
        let reported = decisioning["propositions"].as_array().unwrap();
        assert_eq!(reported.len(), propositions.len(), "{name}");
        for (sent, given) in reported.iter().zip(&propositions) {
            let keys: Vec<&String> = sent.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["id", "scope", "scopeDetails"], "{name}");
            assert_eq!(sent["id"], given["id"], "{name}");
            assert_eq!(sent["scope"], given["scope"], "{name}");
            let details = given.get("scopeDetails").cloned().unwrap_or(json!({}));
            assert_eq!(sent["scopeDetails"], details, "{name}");
        }
    }
    // The documented notification puts them at the same path with the same names.
    let documented = fixture("request-collect-proposition-display-notification.json");
    let doc = &documented["events"][0]["xdm"]["_experience"]["decisioning"]["propositions"][0];
    assert!(doc["id"].is_string() && doc["scope"].is_string());
}

#[test]
fn an_interaction_carries_its_label_and_tokens() {
    let propositions = propositions_of(&fixture(FIXTURES[0]));
    let token = propositions[0]["scopeDetails"]["characteristics"]["eventToken"].clone();
    let (status, out) = proposition_event(&json!({
        "kind": "interact", "label": "Add to cart", "tokens": [token],
        "propositions": propositions
    }));
    assert_eq!(status, aep_edge_status::AEP_EDGE_OK, "{out}");
    let decisioning = &out["event"]["xdm"]["_experience"]["decisioning"];
    assert_eq!(
        out["event"]["xdm"]["eventType"],
        "decisioning.propositionInteract"
    );
    assert_eq!(decisioning["propositionEventType"], json!({"interact": 1}));
    assert_eq!(
        decisioning["propositionAction"],
        json!({"label": "Add to cart", "tokens": [token]})
    );
}

#[test]
fn a_whole_result_gives_the_propositions_of_its_decision_handles() {
    // A C host without a JSON library passes the result as it came back;
    // identity and state handles (first in a real answer) are passed over.
    for name in FIXTURES {
        let response = fixture(name);
        let (status, from_response) =
            proposition_event(&json!({"kind": "display", "response": response}));
        assert_eq!(
            status,
            aep_edge_status::AEP_EDGE_OK,
            "{name}: {from_response}"
        );
        let (_, from_list) = proposition_event(
            &json!({"kind": "display", "propositions": propositions_of(&response)}),
        );
        assert_eq!(from_response, from_list, "{name}");
    }
    for (input, needle) in [
        (
            json!({"kind": "display", "response": fixture("response-identity-acquire-200.json")}),
            "response has no propositions",
        ),
        (
            json!({"kind": "display", "response": [], }),
            "response must be a result object",
        ),
        (
            json!({"kind": "display", "response": {"handle": {}}}),
            "response.handle must be an array",
        ),
        (
            json!({"kind": "display", "response": fixture(FIXTURES[0]),
                   "propositions": propositions_of(&fixture(FIXTURES[0]))}),
            "not both",
        ),
    ] {
        let (status, out) = proposition_event(&input);
        assert_eq!(status, aep_edge_status::AEP_EDGE_INVALID_REQUEST, "{out}");
        let message = out["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message} lacks {needle}");
    }
}

#[test]
fn bad_input_is_refused_with_the_field_named() {
    for (input, needle) in [
        (
            json!({"kind": "shown", "propositions": [{}]}),
            "kind must be",
        ),
        (
            json!({"kind": "display", "propositions": [{"id": "x"}]}),
            "propositions[0].scope",
        ),
        (
            json!({"kind": "display", "propositions": {}}),
            "propositions must be an array",
        ),
    ] {
        let (status, out) = proposition_event(&input);
        assert_eq!(status, aep_edge_status::AEP_EDGE_INVALID_REQUEST);
        assert_eq!(out["error"]["kind"], "invalid_request");
        let message = out["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message} lacks {needle}");
    }
}

#[test]
fn the_event_is_a_request_the_edge_network_takes() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let propositions = propositions_of(&fixture(FIXTURES[0]));
    let (_, request) = proposition_event(&json!({"kind": "display", "propositions": propositions}));
    let result = client.interact(request.clone()).unwrap();
    assert_eq!(result["client"]["httpStatus"], 200);
    let (_, request) = proposition_event(&json!({"kind": "display", "propositions": propositions}));
    client
        .collect(json!({"events": [request["event"]]}))
        .unwrap();
    for sent in edge.requests() {
        let body = sent.json().unwrap();
        let event = if sent.path.ends_with("interact") {
            body["event"].clone()
        } else {
            body["events"][0].clone()
        };
        assert_eq!(
            event["xdm"]["_experience"],
            request["event"]["xdm"]["_experience"]
        );
        assert!(event["xdm"]["_id"].is_string(), "the client filled _id");
    }
}

#[test]
fn any_bytes_get_a_known_status_and_an_error_object() {
    let call = |bytes: &[u8]| -> (aep_edge_status, Value) {
        let text = CString::new(bytes.to_vec()).unwrap();
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: a NUL-terminated input and a valid out pointer.
        let status = unsafe { aep_edge_proposition_event(text.as_ptr(), &mut out) };
        // SAFETY: the library returned a NUL-terminated string.
        let json = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
        // SAFETY: returned by the library, freed once.
        unsafe { aep_edge_string_free(out) };
        (status, serde_json::from_str(&json).unwrap())
    };
    use aep_edge_status::*;
    let huge = format!(
        "{{\"kind\":\"display\",\"propositions\":[{{\"id\":\"{}\",\"scope\":\"s\"}}]}}",
        "x".repeat(1024 * 1024)
    );
    for (input, want) in [
        (&b"\xff\xfe"[..], AEP_EDGE_INVALID_UTF8),
        (b"", AEP_EDGE_INVALID_JSON),
        (b"null", AEP_EDGE_INVALID_REQUEST),
        (b"[1,2]", AEP_EDGE_INVALID_REQUEST),
        (b"{\"kind\":1}", AEP_EDGE_INVALID_REQUEST),
        (
            b"{\"kind\":\"display\",\"propositions\":[null]}",
            AEP_EDGE_INVALID_REQUEST,
        ),
        (huge.as_bytes(), AEP_EDGE_INVALID_REQUEST),
    ] {
        let (status, out) = call(input);
        assert_eq!(status, want, "{out}");
        assert_eq!(out["error"]["status"], want as u32);
        assert_eq!(out["error"]["attempts"], 0);
    }
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: NULL input is allowed and refused.
    let status = unsafe { aep_edge_proposition_event(std::ptr::null(), &mut out) };
    assert_eq!(status, AEP_EDGE_NULL_ARGUMENT);
    assert!(!out.is_null());
    // SAFETY: returned by the library.
    unsafe { aep_edge_string_free(out) };
    // SAFETY: a NULL out pointer is refused without a write.
    let status = unsafe { aep_edge_proposition_event(c"{}".as_ptr(), std::ptr::null_mut()) };
    assert_eq!(status, AEP_EDGE_NULL_ARGUMENT);
}

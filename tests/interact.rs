//! Interact and collect over real loopback HTTP against the emulator.

mod common;

use aep_edge::ErrorKind;
use common::*;
use serde_json::{json, Value};

#[test]
fn the_source_documents_event_comes_back_with_handles() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let result = client.interact(source_request()).unwrap();

    assert!(result["requestId"].as_str().unwrap().len() > 36);
    assert_eq!(handles(&result, "state:store").len(), 1);
    assert_eq!(handles(&result, "locationHint:result").len(), 1);
    assert_eq!(result["errors"], json!([]));
    assert_eq!(result["warnings"], json!([]));
    let facts = &result["client"];
    assert_eq!(facts["httpStatus"], 200);
    assert_eq!(facts["attempts"], 1);
    assert_eq!(facts["region"], "or2;35");
    assert!(facts["elapsedMs"].is_u64());
    let sent_id = facts["requestId"].as_str().unwrap();
    assert!(result["requestId"].as_str().unwrap().starts_with(sent_id));
}

#[test]
fn the_request_on_the_wire_is_what_the_edge_network_expects() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let mut event = source_event();
    event["xdm"].as_object_mut().unwrap().remove("timestamp");
    let result = client
        .interact(json!({
            "event": event,
            "meta": {"konductorConfig": {"streaming": {"enabled": true}}},
            "options": {"requestId": "my-request-1"}
        }))
        .unwrap();
    assert_eq!(result["client"]["requestId"], "my-request-1");

    let sent = edge.requests().pop().unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/ee/v2/interact");
    assert_eq!(sent.query_param("dataStreamId"), Some("demo-datastream"));
    assert_eq!(sent.query_param("requestId"), Some("my-request-1"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let agent = sent.header("user-agent").unwrap();
    assert!(
        agent.starts_with(&format!("aep-edge/{}", aep_edge::VERSION)),
        "{agent}"
    );
    assert!(sent.header("authorization").is_none());

    let body = sent.json().unwrap();
    assert!(body.get("options").is_none(), "options are never sent");
    assert!(
        body["meta"].get("konductorConfig").is_none(),
        "streaming removed"
    );
    let xdm = &body["event"]["xdm"];
    assert_eq!(xdm["_id"].as_str().unwrap().len(), 36);
    assert!(xdm["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["event"]["data"]["prop1"], "custom value");
}

#[test]
fn requested_decision_scopes_bring_personalization_decisions() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let result = client
        .interact(json!({
            "event": source_event(),
            "query": {"personalization": {"decisionScopes": ["__view__", "hero-banner"]}}
        }))
        .unwrap();
    let decisions = handles(&result, "personalization:decisions");
    assert_eq!(decisions.len(), 1);
    let scopes: Vec<&str> = decisions[0]["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["__view__", "hero-banner"]);
}

#[test]
fn explicit_state_and_datastream_override_go_on_the_wire() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"session": "none"}));
    client
        .interact(json!({
            "event": {"xdm": {"identityMap": {"FPID": [{"id": "visitor-1", "primary": true}]}}},
            "options": {"datastreamId": "override-ds", "state": [{"key": "k1", "value": "v1", "maxAge": 30}]}
        }))
        .unwrap();
    let sent = edge.requests().pop().unwrap();
    assert_eq!(sent.query_param("dataStreamId"), Some("override-ds"));
    assert_eq!(
        sent.json().unwrap()["meta"]["state"]["entries"],
        json!([{"key": "k1", "value": "v1"}])
    );
}

#[test]
fn collect_posts_a_batch_and_reads_202_and_204() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let click = json!({"xdm": {
        "eventType": "web.webinteraction.linkClicks",
        "identityMap": {"FPID": [{"id": "visitor-1", "primary": true}]}
    }});
    let events = json!([source_event(), click]);
    let result = client.collect(json!({"events": events})).unwrap();
    assert_eq!(result["client"]["httpStatus"], 202);
    assert!(result["requestId"].is_string());
    assert_eq!(result["handle"], json!([]));

    let sent = edge.requests().pop().unwrap();
    assert_eq!(sent.path, "/ee/v2/collect");
    let body = sent.json().unwrap();
    assert_eq!(body["events"].as_array().unwrap().len(), 2);
    let ids: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["xdm"]["_id"].as_str().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1], "every event gets its own _id");

    // A silent collect answers 204 with no body: a success with empty lists.
    edge.inject(aep_edge_emulator::Fault {
        status: Some(204),
        body: Some(String::new()),
        ..Default::default()
    });
    let result = client.collect(json!({"events": [{}]})).unwrap();
    assert_eq!(result["client"]["httpStatus"], 204);
    assert_eq!(result["errors"], json!([]));
}

#[test]
fn a_207_is_a_success_with_errors_and_unknown_keys_are_kept() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let mut body: Value = serde_json::from_str(include_str!(
        "fixtures/response-interact-207-errors-warnings-docs.json"
    ))
    .unwrap();
    body["futureKey"] = json!({"nested": true});
    edge.inject(aep_edge_emulator::Fault {
        status: Some(207),
        body: Some(body.to_string()),
        content_type: Some("application/json".into()),
        ..Default::default()
    });
    let result = client.interact(source_request()).unwrap();
    assert_eq!(result["client"]["httpStatus"], 207);
    assert_eq!(result["errors"][0]["status"], 503);
    assert_eq!(result["warnings"].as_array().unwrap().len(), 1);
    assert_eq!(result["futureKey"]["nested"], true);
    assert_eq!(
        result["client"]["region"],
        Value::Null,
        "no x-adobe-edge header"
    );
}

#[test]
fn bad_requests_are_refused_before_anything_is_sent() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    let too_big = json!({"event": {"data": {"blob": "x".repeat(70_000)}}});
    for (request, needle) in [
        (json!({}), "event is required"),
        (
            json!({"event": {}, "options": {"retry": 1}}),
            "options.retry",
        ),
        (too_big, "at most 65536"),
    ] {
        let e = client.interact(request).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains(needle), "{}", e.message);
        assert_eq!(e.attempts, 0);
        assert_eq!(e.request_id, None);
    }
    assert_eq!(
        client.interact_json("{oops").unwrap_err().kind,
        ErrorKind::InvalidJson
    );
    assert!(edge.requests().is_empty(), "nothing was sent");
}

#[test]
fn one_client_serves_eight_threads() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({}));
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..20 {
                    client.interact(source_request()).unwrap();
                }
            });
        }
    });
    assert_eq!(edge.requests().len(), 160);
}

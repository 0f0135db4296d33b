//! The text paths of the C ABI (`interact_json_text`: a request encoded from
//! its text, a result written from the response body, src/request.rs and
//! src/answer.rs) against the map paths, through the real emulator: the
//! same bytes go out and the same result comes back.

mod common;

use aep_edge_emulator::Fault;
use common::*;
use serde_json::{json, Value};

/// Each call mints a new ECID: state entries of the identity say "ecid";
/// expiries only say that they are there.
fn blank_identities(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let identity = map
                .get("key")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("_identity"));
            if identity {
                map.insert("value".into(), json!("ecid"));
            }
            if map.get("namespace").is_some_and(|n| n["code"] == "ECID") {
                map.insert("id".into(), json!("ecid"));
            }
            // Expiries count from the call's own clock.
            if let Some(at) = map.get_mut("expiresAt") {
                *at = json!(at.is_u64());
            }
            map.values_mut().for_each(blank_identities);
        }
        Value::Array(items) => items.iter_mut().for_each(blank_identities),
        _ => {}
    }
}

/// A session view's times left count from the moment it is taken.
fn blank_clock(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in ["expiresInMs", "maxAge"] {
                if let Some(v) = map.get_mut(key) {
                    *v = json!(v.is_number());
                }
            }
            map.values_mut().for_each(blank_clock);
        }
        Value::Array(items) => items.iter_mut().for_each(blank_clock),
        _ => {}
    }
}

/// The result without what differs between two calls.
fn comparable(mut result: Value) -> Value {
    blank_identities(&mut result);
    let client = result["client"].as_object_mut().unwrap();
    client.remove("elapsedMs");
    client.remove("requestId");
    client["headers"]
        .as_object_mut()
        .unwrap()
        .remove("x-request-id");
    result.as_object_mut().unwrap().remove("requestId");
    result
}

/// A sent body without the ids and timestamps the client generates.
fn sent_body(edge: &aep_edge_emulator::Emulator) -> String {
    let mut body = edge.requests().pop().unwrap().json().unwrap();
    let xdm = body["event"]["xdm"].as_object_mut().unwrap();
    for key in ["_id", "timestamp"] {
        if let Some(v) = xdm.get_mut(key) {
            *v = json!("generated");
        }
    }
    body.to_string()
}

#[test]
fn text_and_map_paths_send_and_return_the_same() {
    let edge = emulator();
    for session in ["none", "device"] {
        // A client per call and path: a device session changes with each call.
        let fresh = || client(&edge.base_url(), json!({"session": session}));
        let with = |extra: Value| {
            let mut request = source_request();
            for (k, v) in extra.as_object().unwrap() {
                request[k] = v.clone();
            }
            request
        };
        let mut odd_xdm = source_request();
        odd_xdm["event"]["xdm"]["_id"] = Value::Null;
        odd_xdm["event"]["xdm"]
            .as_object_mut()
            .unwrap()
            .remove("timestamp");
        odd_xdm["event"]["data"] = json!({"n": 1.5, "s": "caf\u{e9} \"q\""});
        for request in [
            source_request(),
            odd_xdm,
            with(
                json!({"query": {"identity": {"fetch": ["ECID"]}}, "options": {"requestId": "r-text-1", "state": [{"key": "k", "value": "v", "maxAge": 60}]}}),
            ),
            with(json!({"meta": {"state": {"entries": [{"key": "a", "value": "b"}]}}})),
        ] {
            let text = request.to_string();
            let map_client = fresh();
            let by_map = map_client.interact_json(&text).unwrap();
            let map_body = sent_body(&edge);
            let text_client = fresh();
            let by_text: Value =
                serde_json::from_str(&text_client.interact_json_text(&text).unwrap()).unwrap();
            let text_body = sent_body(&edge);
            assert_eq!(text_body, map_body, "{session}: {text}");
            assert_eq!(comparable(by_text), comparable(by_map), "{session}: {text}");
            // The session took the same from both (a device one: ECID, hint, entries).
            let mut seen = [map_client.session(), text_client.session()];
            for view in &mut seen {
                blank_identities(view);
                blank_clock(view);
                if view["ecid"].is_string() {
                    view["ecid"] = json!("ecid");
                }
            }
            assert_eq!(seen[0], seen[1], "{session}: {text}");
            if session == "device" {
                assert!(seen[1]["ecid"].is_string(), "{}", seen[1]);
            }
        }
    }
}

#[test]
fn an_odd_body_takes_the_map_path_and_the_same_errors_come_back() {
    let edge = emulator();
    let client = client(
        &edge.base_url(),
        json!({"session": "none", "retry": {"maxAttempts": 1}}),
    );
    for body in [
        r#"{"handle": {}}"#,
        r#"{"client": 1, "handle": []}"#,
        "[1]",
        "{\"a\": 1e999}",
    ] {
        edge.inject(Fault {
            status: Some(200),
            body: Some(body.into()),
            content_type: Some("application/json".into()),
            count: 2,
            ..Fault::default()
        });
        let text = source_request().to_string();
        let by_map = client.interact_json(&text);
        let by_text = client.interact_json_text(&text);
        match (by_map, by_text) {
            (Ok(m), Ok(t)) => {
                assert_eq!(
                    comparable(serde_json::from_str(&t).unwrap()),
                    comparable(m),
                    "{body}"
                )
            }
            (Err(m), Err(t)) => assert_eq!((m.kind, m.message), (t.kind, t.message), "{body}"),
            (m, t) => panic!("{body}: map {m:?}, text {t:?}"),
        }
    }
    for bad in [
        r#"{"event": null}"#,
        r#"{"event": {}, "evnt": 1}"#,
        "{",
        r#"{"event": {}, "options": {"x": 1}}"#,
    ] {
        let m = client.interact_json(bad).unwrap_err();
        let t = client.interact_json_text(bad).unwrap_err();
        assert_eq!((m.kind, m.message), (t.kind, t.message), "{bad}");
    }
}

#[test]
fn the_facts_beside_the_text_are_the_ones_it_states() {
    let edge = emulator();
    let client = client(
        &edge.base_url(),
        json!({"session": "none", "retry": {"maxAttempts": 2}}),
    );
    let text = source_request().to_string();
    // A plain body (written by the fast path), an odd one (the map path),
    // and a retried call (attempts 2).
    let faults = [
        None,
        Some((200, r#"{"client": 1, "handle": []}"#, 2)),
        Some((503, "{}", 1)),
    ];
    for fault in faults {
        if let Some((status, body, count)) = fault {
            edge.inject(Fault {
                status: Some(status),
                body: Some(body.into()),
                content_type: Some("application/json".into()),
                count,
                ..Fault::default()
            });
        }
        let (result, facts) = client.interact_json_text_facts(&text, None).unwrap();
        let result: Value = serde_json::from_str(&result).unwrap();
        let stated = &result["client"];
        assert_eq!(stated["httpStatus"], json!(facts.http_status), "{result}");
        assert_eq!(stated["attempts"], json!(facts.attempts), "{result}");
        assert_eq!(stated["requestId"], json!(facts.request_id), "{result}");
        assert_eq!(stated["region"], json!(facts.region), "{result}");
        assert_eq!(stated["elapsedMs"], json!(facts.elapsed_ms), "{result}");
    }
    let by_map = client.interact_json("{").unwrap_err();
    let by_facts = client.interact_json_text_facts("{", None).unwrap_err();
    assert_eq!(
        (by_map.kind, by_map.message),
        (by_facts.kind, by_facts.message)
    );
}

/// The id a binding chose (`interact_json_text_facts(text, Some(id))`) is
/// the one sent and stated, unless the request names its own in
/// `options.requestId`; the body sent is the same either way.
#[test]
fn a_chosen_request_id_is_sent_unless_the_request_names_one() {
    let edge = emulator();
    let client = client(&edge.base_url(), json!({"session": "none"}));
    let sent_id = |edge: &aep_edge_emulator::Emulator| {
        let sent = edge.requests().pop().unwrap();
        let id = sent.query.iter().find(|(k, _)| k == "requestId").unwrap();
        (id.1.clone(), sent.body)
    };
    let plain = source_request().to_string();
    let mut named = source_request();
    named["options"] = json!({"requestId": "rid-named"});
    let mut timed = source_request();
    timed["options"] = json!({"timeouts": {"totalMs": 5000}});
    let mut odd = source_request(); // meta: the map path
    odd["meta"] = json!({"state": {"domain": "example.com"}});
    for (text, chosen, expected) in [
        (plain.clone(), Some("rid-chosen"), "rid-chosen"),
        (named.to_string(), Some("rid-chosen"), "rid-named"),
        (timed.to_string(), Some("rid-chosen"), "rid-chosen"),
        (odd.to_string(), Some("rid-chosen"), "rid-chosen"),
        (named.to_string(), None, "rid-named"),
    ] {
        let (_, facts) = client
            .interact_json_text_facts(&text, chosen.map(str::to_string))
            .unwrap();
        let (id, body) = sent_id(&edge);
        assert_eq!(
            (id.as_str(), facts.request_id.as_str()),
            (expected, expected),
            "{text}"
        );
        client.interact_json_text(&text).unwrap();
        let (other, same_body) = sent_id(&edge);
        assert_ne!(other, "rid-chosen");
        let mut body: Value = serde_json::from_slice(&body).unwrap();
        let mut same_body: Value = serde_json::from_slice(&same_body).unwrap();
        blank_identities(&mut body);
        blank_identities(&mut same_body);
        for b in [&mut body, &mut same_body] {
            // A new event id and timestamp per call.
            b["event"]["xdm"]["_id"] = json!("id");
        }
        assert_eq!(body, same_body, "{text}");
    }
}

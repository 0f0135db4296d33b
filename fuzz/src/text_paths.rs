//! Differential targets: the text fast paths (`Draft::from_json_fast`, the
//! request encoded from its text; `answer::result_text`, the result written
//! from the response body) against the `Value` paths, through the public Rust
//! API and a loopback server. Both must send the same bytes, return the same
//! result and fail with the same error.

use super::{http, server, Server, TEXT_REQUEST_SERVER, TEXT_RESPONSE_SERVER};
use aep_edge::{Client, Error};
use serde_json::Value;
use std::sync::OnceLock;

/// What the request target's server answers to every call.
const REQUEST_ANSWER: &str = r#"{"requestId": "r", "handle": [{"type": "locationHint:result", "payload": [{"scope": "EdgeNetwork", "hint": "or2", "ttlSeconds": 1800}]}]}"#;

/// The bytes are a request text, sent with `interact_json_text` and, when
/// serde_json parses them, with `interact(value)`. Session "none": nothing
/// of one call changes the next.
pub fn text_paths_request(data: &[u8]) {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    // The `&str` API cannot carry other bytes (the C ABI refuses them before
    // either path runs).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let srv = server(&TEXT_REQUEST_SERVER);
    let client = CLIENT.get_or_init(|| {
        srv.answer_with(|_| http(200, "application/json", REQUEST_ANSWER.as_bytes()));
        client_for(srv, "none")
    });
    srv.take_request();
    let by_text = client.interact_json_text(text);
    let sent_by_text = srv.take_request();
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(e) => {
            // The text path falls back to the same parse for its message.
            let error = by_text.expect_err("the text path took what serde_json refuses");
            assert_eq!(error.kind, aep_edge::ErrorKind::InvalidJson, "{error:?}");
            assert_eq!(
                error.message,
                format!("the request is not valid JSON: {e}"),
                "{text:?}"
            );
            assert!(sent_by_text.is_empty(), "invalid JSON was sent: {text:?}");
            return;
        }
    };
    let by_value = client.interact(value.clone());
    let sent_by_value = srv.take_request();
    match (by_text, by_value) {
        (Ok(t), Ok(v)) => {
            assert_eq!(
                comparable_request(&sent_by_text, &value),
                comparable_request(&sent_by_value, &value),
                "sent bodies differ for {text:?}"
            );
            let t: Value = serde_json::from_str(&t).expect("the text result is JSON");
            compare_results(t, v, text);
        }
        (Err(t), Err(v)) => {
            assert_eq!(comparable_error(&t), comparable_error(&v), "{text:?}");
            assert_eq!(
                sent_by_text.is_empty(),
                sent_by_value.is_empty(),
                "{text:?}"
            );
        }
        (t, v) => panic!("one path failed: text {t:?}, value {v:?}, for {text:?}"),
    }
}

/// The first byte picks the status, the content type and the session; the
/// rest is the response body, served to `interact_json_text` and to
/// `interact(value)` for the same request.
pub fn text_paths_response(data: &[u8]) {
    static NONE: OnceLock<Client> = OnceLock::new();
    static DEVICE: OnceLock<Client> = OnceLock::new();
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let status = [200, 200, 200, 207, 400, 429, 500, 202][usize::from(selector & 7)];
    let content_type = [
        "application/json",
        "application/json",
        "application/problem+json",
        "text/html",
    ][usize::from((selector >> 3) & 3)];
    let device = selector & 0x80 != 0;
    let srv = server(&TEXT_RESPONSE_SERVER);
    let client = if device {
        DEVICE.get_or_init(|| client_for(srv, "device"))
    } else {
        NONE.get_or_init(|| client_for(srv, "none"))
    };
    let answer = http(status, content_type, body);
    srv.answer_with(move |_| answer.clone());
    // A fixed request id: the two calls' results and errors then say the same.
    let request = r#"{"event": {"xdm": {"eventType": "web.webpagedetails.pageViews", "_id": "e-1", "timestamp": "2021-08-09T14:09:20.859Z"}}, "options": {"requestId": "fuzz-text-1"}}"#;
    let value: Value = serde_json::from_str(request).expect("fixed request");
    let run = |by_text: bool| {
        client.reset_session().expect("reset");
        let result = if by_text {
            client
                .interact_json_text(request)
                .map(|t| serde_json::from_str::<Value>(&t).expect("the text result is JSON"))
        } else {
            client.interact(value.clone())
        };
        let mut view = client.session();
        blank_clock(&mut view);
        (result, view)
    };
    let (by_text, text_view) = run(true);
    let (by_value, value_view) = run(false);
    let what = String::from_utf8_lossy(data);
    match (by_text, by_value) {
        (Ok(t), Ok(v)) => compare_results(t, v, &what),
        (Err(t), Err(v)) => assert_eq!(t.to_json(), v.to_json(), "{what:?}"),
        (t, v) => panic!("one path failed: text {t:?}, value {v:?}, for {what:?}"),
    }
    assert_eq!(text_view, value_view, "the sessions differ after {what:?}");
    client.reset_session().expect("reset");
}

fn client_for(srv: &Server, session: &str) -> Client {
    let port = srv.port;
    Client::from_json(&format!(
        r#"{{"datastreamId": "ds", "orgId": "ORG@AdobeOrg", "baseUrl": "http://127.0.0.1:{port}",
            "session": "{session}", "retry": {{"maxAttempts": 1}},
            "timeouts": {{"connectMs": 1000, "requestMs": 1000, "totalMs": 2000}}}}"#
    ))
    .expect("client")
}

/// Two results, the same but for what differs by call: `client.elapsedMs`,
/// and `client.state[].expiresAt` (counted from each call's clock; they must
/// still be there in both, close together).
fn compare_results(mut t: Value, mut v: Value, what: &str) {
    for result in [&mut t, &mut v] {
        let client = result["client"].as_object_mut().expect("client facts");
        assert!(client.remove("elapsedMs").is_some_and(|e| e.is_u64()));
    }
    let expiries = |r: &mut Value| -> Vec<Option<u64>> {
        let Some(state) = r["client"]["state"].as_array_mut() else {
            return Vec::new();
        };
        state
            .iter_mut()
            .map(|e| {
                let at = e
                    .get("expiresAt")
                    .map(|a| a.as_u64().expect("a u64 expiry"));
                if let Some(map) = e.as_object_mut() {
                    map.remove("expiresAt");
                }
                at
            })
            .collect()
    };
    let (te, ve) = (expiries(&mut t), expiries(&mut v));
    assert_eq!(te.len(), ve.len(), "{what:?}");
    for (a, b) in te.iter().zip(&ve) {
        match (a, b) {
            (Some(a), Some(b)) => assert!(a.abs_diff(*b) < 600_000, "{a} vs {b}: {what:?}"),
            (None, None) => {}
            _ => panic!("an expiry on one side only: {te:?} {ve:?}: {what:?}"),
        }
    }
    // A generated request id (none was given) differs by call; a given one not.
    let ids = [&t, &v].map(|r| r["client"]["requestId"].as_str().map(str::to_string));
    if ids[0] != ids[1] {
        for (r, id) in [&mut t, &mut v].into_iter().zip(&ids) {
            assert!(id.as_deref().is_some_and(is_uuid), "{id:?}: {what:?}");
            r["client"]["requestId"] = Value::from("GENERATED");
        }
    }
    assert_eq!(t, v, "results differ for {what:?}");
}

/// An error with the request id it was sent under (generated per call) as
/// `GENERATED`, in its field and its message.
fn comparable_error(e: &Error) -> Value {
    let mut json = e.to_json();
    if let Some(id) = e.request_id.as_deref().filter(|id| is_uuid(id)) {
        let error = &mut json["error"];
        error["requestId"] = Value::from("GENERATED");
        let message = error["message"]
            .as_str()
            .unwrap_or("")
            .replace(id, "GENERATED");
        error["message"] = Value::from(message);
    }
    json
}

/// A recorded request (head and body) with what the client generates per call
/// as `GENERATED`: the `requestId` query parameter (unless the request gave
/// `options.requestId`), `xdm._id` and `xdm.timestamp` (unless the request
/// gave them). `Content-Length` is checked against the body and left out.
fn comparable_request(raw: &[u8], request: &Value) -> (Vec<String>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a request head")
        + 4;
    let head = std::str::from_utf8(&raw[..end]).expect("an ASCII head");
    let mut body = raw[end..].to_vec();
    let mut lines = Vec::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if let Some(length) = lower.strip_prefix("content-length:") {
            assert_eq!(
                length.trim().parse::<usize>().ok(),
                Some(body.len()),
                "{head}"
            );
            continue;
        }
        lines.push(line.to_string());
    }
    if !request["options"]["requestId"].is_string() {
        let line = &mut lines[0];
        let at = line.find("requestId=").expect("a requestId parameter") + "requestId=".len();
        let len = line[at..].find(['&', ' ']).expect("the parameter ends");
        assert!(is_uuid(&line[at..at + len]), "{line}");
        line.replace_range(at..at + len, "GENERATED");
    }
    let sent: Value = serde_json::from_slice(&body).expect("the sent body is JSON");
    for key in ["_id", "timestamp"] {
        if !request["event"]["xdm"][key].is_null() {
            continue;
        }
        let generated = sent["event"]["xdm"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no generated {key}: {sent}"));
        let shaped = if key == "_id" {
            is_uuid(generated)
        } else {
            generated.len() >= 20 && generated.ends_with('Z')
        };
        assert!(shaped, "generated {key} {generated:?}");
        let member = format!("\"{key}\":\"{generated}\"");
        let blank = format!("\"{key}\":\"GENERATED\"");
        body = replace_once(&body, member.as_bytes(), blank.as_bytes())
            .unwrap_or_else(|| panic!("{member} not in {}", String::from_utf8_lossy(&body)));
    }
    (lines, body)
}

/// `haystack` with its one occurrence of `needle` replaced (`None` when it has
/// none or several).
fn replace_once(haystack: &[u8], needle: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    let mut found = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    let at = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let mut out = haystack[..at].to_vec();
    out.extend_from_slice(with);
    out.extend_from_slice(&haystack[at + needle.len()..]);
    Some(out)
}

/// A UUID as the client writes one (8-4-4-4-12 lowercase hex digits).
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// A session view's times left count from the moment it is taken.
fn blank_clock(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in ["expiresInMs", "maxAge"] {
                if let Some(v) = map.get_mut(key) {
                    *v = Value::Bool(v.is_number());
                }
            }
            map.values_mut().for_each(blank_clock);
        }
        Value::Array(items) => items.iter_mut().for_each(blank_clock),
        _ => {}
    }
}

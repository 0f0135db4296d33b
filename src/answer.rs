//! The result JSON of a successful call (design.md §3.3) written as text
//! straight from the response body, without a `serde_json::Value` round trip.
//!
//! The Value path (parse the body into a map, add the missing lists and the
//! `client` facts, serialise it all again) costs about half of a call's CPU
//! time on loopback: every key is hashed into an index map, every string is
//! allocated, copied and escaped again. Here the body's top-level members are
//! only *scanned* (`RawValue`: validated, borrowed, not built) and copied
//! verbatim into the result; only `handle`'s `type`, and the payloads of
//! `locationHint:result` and `state:store` (for `client.locationHint` and
//! `client.state`), are read into small borrowed structs.
//!
//! This is a fast path, never a second opinion: whenever the body has a shape
//! it does not expect (a top-level `client` or duplicate key, a non-object
//! handle, a non-string `type` or `key`, an `errors` that is not a list ...), it
//! gives up and the caller takes the Value path, which produces the same
//! result or the same error as before. A test checks both paths agree on
//! every fixture.

use crate::visitor::PassedEntry;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// The `client` facts of a result, in the order design.md §3.3 lists them.
pub struct Facts<'a> {
    pub http_status: u16,
    pub attempts: u32,
    pub request_id: &'a str,
    pub region: Option<&'a str>,
    pub elapsed_ms: u64,
    pub headers: &'a [(&'static str, String)],
    /// `Some`: `client.state` is written from these passed entries.
    pub passed_state: Option<&'a [PassedEntry]>,
    pub now_ms: u64,
}

/// The result JSON text for a 2xx `body`, or `None` when the body is not the
/// plain object this fast path handles (the caller then takes the Value path).
pub fn result_text(body: &[u8], facts: &Facts<'_>) -> Option<String> {
    let top: Members<'_> = serde_json::from_slice(body).ok()?;
    let mut lists = [("handle", false), ("errors", false), ("warnings", false)];
    let mut handles: Vec<Handle<'_>> = Vec::new();
    for (i, (key, value)) in top.0.iter().enumerate() {
        // serde_json's map keeps the last of duplicate keys at the first's
        // place: leave such bodies to it. A body's own `client` is replaced there.
        if key == "client" || top.0[..i].iter().any(|(k, _)| k == key) {
            return None;
        }
        // Scanning checks the syntax only: what the Value path would refuse
        // (a number out of range, a lone surrogate) is looked for here.
        serde_json::from_str::<Valid>(value.get()).ok()?;
        if let Some(seen) = lists.iter_mut().find(|(name, _)| name == key) {
            seen.1 = true;
            match value.get().as_bytes().first() {
                Some(b'[') if key == "handle" => {
                    handles = serde_json::from_str(value.get()).ok()?;
                }
                Some(b'[') => {}
                Some(b'n') => {} // null: written as []
                _ => return None,
            }
        }
    }

    let mut out = String::with_capacity(body.len() + 512);
    out.push('{');
    for (key, value) in &top.0 {
        if out.len() > 1 {
            out.push(',');
        }
        push_str(&mut out, key);
        out.push(':');
        let raw = value.get();
        if raw == "null" && lists.iter().any(|(name, _)| name == key) {
            out.push_str("[]");
        } else {
            out.push_str(raw);
        }
    }
    for (name, seen) in lists {
        if !seen {
            if out.len() > 1 {
                out.push(',');
            }
            out.push('"');
            out.push_str(name);
            out.push_str("\":[]");
        }
    }
    out.push_str(",\"client\":");
    push_facts(&mut out, facts, &handles)?;
    out.push('}');
    Some(out)
}

fn push_facts(out: &mut String, facts: &Facts<'_>, handles: &[Handle<'_>]) -> Option<()> {
    use std::fmt::Write;
    let _ = write!(
        out,
        "{{\"httpStatus\":{},\"attempts\":{},\"requestId\":",
        facts.http_status, facts.attempts
    );
    push_str(out, facts.request_id);
    out.push_str(",\"region\":");
    push_opt_str(out, facts.region);
    let _ = write!(out, ",\"elapsedMs\":{},\"locationHint\":", facts.elapsed_ms);
    push_opt_str(out, edge_hint(handles)?.as_deref());
    out.push_str(",\"headers\":{");
    for (i, (name, value)) in facts.headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, name);
        out.push(':');
        push_str(out, value);
    }
    out.push('}');
    if let Some(passed) = facts.passed_state {
        out.push_str(",\"state\":[");
        for (i, entry) in next_state(passed, handles, facts.now_ms)?
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"key\":");
            push_str(out, &entry.key);
            if let Some(value) = &entry.value {
                out.push_str(",\"value\":");
                push_str(out, value);
            }
            if let Some(at) = entry.expires_at_ms {
                let _ = write!(out, ",\"expiresAt\":{at}");
            }
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
    Some(())
}

/// As `visitor::edge_hint_of`: the `EdgeNetwork` hint of `locationHint:result`.
fn edge_hint(handles: &[Handle<'_>]) -> Option<Option<String>> {
    for handle in handles {
        if handle.kind.as_deref() != Some("locationHint:result") {
            continue;
        }
        let Some(payload) = handle.payload else {
            continue;
        };
        let items: Option<Vec<HintItem<'_>>> = serde_json::from_str(payload.get()).ok()?;
        for item in items.into_iter().flatten() {
            if item
                .scope
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("EdgeNetwork"))
            {
                return Some(item.hint.map(Cow::into_owned));
            }
        }
    }
    Some(None)
}

/// As `visitor::next_state`: the passed entries updated by `state:store`.
fn next_state(
    passed: &[PassedEntry],
    handles: &[Handle<'_>],
    now_ms: u64,
) -> Option<Vec<PassedEntry>> {
    let mut entries: Vec<PassedEntry> = passed.to_vec();
    for handle in handles {
        if handle.kind.as_deref() != Some("state:store") {
            continue;
        }
        let Some(payload) = handle.payload else {
            continue;
        };
        let items: Option<Vec<StoreItem<'_>>> = serde_json::from_str(payload.get()).ok()?;
        for item in items.into_iter().flatten() {
            let Some(key) = item.key.filter(|k| !k.is_empty()) else {
                continue;
            };
            entries.retain(|e| e.key != key);
            let expires_at_ms = match item.max_age.as_ref().map(|n| n.as_i64()) {
                Some(Some(age)) if age <= 0 => continue,
                Some(Some(age)) => Some(now_ms.saturating_add((age as u64).saturating_mul(1000))),
                _ => None,
            };
            entries.push(PassedEntry {
                key: key.into_owned(),
                value: item.value.map(Cow::into_owned),
                expires_at_ms,
            });
        }
    }
    Some(entries)
}

/// A result Value as text, written once into a buffer sized for a typical answer.
pub fn value_text(value: &Value) -> String {
    let mut text = Vec::with_capacity(4096);
    serde_json::to_writer(&mut text, value).expect("a Value always serialises");
    // SAFETY: serde_json writes UTF-8 only.
    unsafe { String::from_utf8_unchecked(text) }
}

/// A JSON string literal, escaped as serde_json escapes it.
fn push_str(out: &mut String, s: &str) {
    let needs_escape = s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
    if needs_escape {
        out.push_str(&serde_json::to_string(s).expect("a str always serialises"));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// A JSON object's members in order, keys decoded, values only scanned.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((Key(key), value)) = map.next_entry::<Key<'de>, &RawValue>()? {
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// Any JSON value the Value path accepts, read without building anything.
struct Valid;

impl<'de> Deserialize<'de> for Valid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Valid;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_unit<E>(self) -> Result<Valid, E> {
                Ok(Valid)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Valid, A::Error> {
                while seq.next_element::<Valid>()?.is_some() {}
                Ok(Valid)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Valid, A::Error> {
                while map.next_entry::<Valid, Valid>()?.is_some() {}
                Ok(Valid)
            }
        }
        d.deserialize_any(V)
    }
}

/// A key, borrowed from the body unless it holds escapes.
#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct Handle<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct HintItem<'a> {
    #[serde(borrow, default)]
    scope: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    hint: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct StoreItem<'a> {
    #[serde(borrow, default)]
    key: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    value: Option<Cow<'a, str>>,
    #[serde(rename = "maxAge", default)]
    max_age: Option<serde_json::Number>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Endpoint;
    use crate::response::{interpret, RawResponse};
    use crate::visitor::{edge_hint_of, headers_fact, next_state as value_next_state};
    use serde_json::json;

    /// The result the Value path builds (client.rs `success`), for comparison.
    fn value_path(body: &[u8], facts: &Facts<'_>) -> Option<String> {
        let raw = RawResponse {
            status: facts.http_status,
            body: body.to_vec(),
            ..Default::default()
        };
        let mut body = Value::Object(interpret(Endpoint::Interact, &raw).ok()?);
        let mut client = json!({
            "httpStatus": facts.http_status,
            "attempts": facts.attempts,
            "requestId": facts.request_id,
            "region": facts.region,
            "elapsedMs": facts.elapsed_ms,
            "locationHint": edge_hint_of(&body),
            "headers": headers_fact(facts.headers),
        });
        if let Some(passed) = facts.passed_state {
            client["state"] = value_next_state(passed, &body, facts.now_ms);
        }
        body["client"] = client;
        Some(value_text(&body))
    }

    fn facts<'a>(
        headers: &'a [(&'static str, String)],
        passed: Option<&'a [PassedEntry]>,
    ) -> Facts<'a> {
        Facts {
            http_status: 200,
            attempts: 2,
            request_id: "r-\"1\"",
            region: Some("or2;35"),
            elapsed_ms: 7,
            headers,
            passed_state: passed,
            now_ms: 1_700_000_000_000,
        }
    }

    /// Both paths give the same text, or the fast one steps aside. Whether
    /// it took the body when `client.state` is asked for.
    fn check(body: &[u8]) -> bool {
        let headers = [
            ("x-request-id", "abc".to_string()),
            ("x-adobe-edge", "or2;\u{1}35".to_string()),
        ];
        let passed = [PassedEntry {
            key: "kndctr_53A16ACB5CC1D3760A495C99_AdobeOrg_cluster".into(),
            value: Some("va6".into()),
            expires_at_ms: Some(5),
        }];
        let mut took_fast = false;
        for passed in [None, Some(&[][..]), Some(&passed[..])] {
            let f = facts(&headers, passed);
            let slow = value_path(body, &f);
            took_fast = false;
            if let Some(fast) = result_text(body, &f) {
                took_fast = true;
                let reparsed: Value = serde_json::from_str(&fast).expect("fast text is JSON");
                assert_eq!(
                    Some(value_text(&reparsed)),
                    slow,
                    "{}",
                    String::from_utf8_lossy(body)
                );
            }
        }
        took_fast
    }

    #[test]
    fn every_fixture_gives_the_value_paths_result() {
        let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
        let mut fast = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("response-") {
                fast += usize::from(check(&std::fs::read(&path).unwrap()));
            }
        }
        assert!(fast >= 8, "the fast path took only {fast} fixtures");
    }

    #[test]
    fn odd_bodies_agree_or_step_aside() {
        let taken = [
            r#"{"handle": null, "errors": null, "x": {"a": [1, 2.5, "é\u00e9\n"]}}"#,
            r#"{ "warnings" : [ ] , "handle" : [ { "type" : "state:store", "payload" : [ {"key": "k", "value": "v", "maxAge": 0}, {"key": "k2", "maxAge": -1}, {"key": "", "value": "x"}, {"key": "k3", "value": null, "maxAge": 1.5}, {"key": "k\"4", "maxAge": 10} ] } ] }"#,
            r#"{"handle": [{"type": "locationHint:result", "payload": [{"scope": "edgenetwork", "hint": "va6"}, {"scope": "EdgeNetwork", "hint": "or2"}]}, {"type": null}, {"payload": null}]}"#,
            r#"{"handle": [{"type": "state:store", "payload": null}, {"type": "locationHint:result"}]}"#,
            r#"{"\u0068andle": [], "big": 123456789012345678901234567890}"#,
            r#"{}"#,
            r#"{"smile": "\ud83d\ude00", "n": -1.5e300}"#,
        ];
        for body in taken {
            assert!(check(body.as_bytes()), "fast path not taken: {body}");
        }
        let aside = [
            r#"{"client": 1}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"handle": {}}"#,
            r#"{"handle": [3]}"#,
            r#"{"errors": 3}"#,
            r#"{"handle": [{"type": 1}]}"#,
            r#"{"handle": [{"type": "state:store", "payload": [{"key": 1}]}]}"#,
            r#"{"handle": [{"type": "state:store", "payload": [{"key": "k", "maxAge": "1"}]}]}"#,
            r#"{"handle": [{"type": "locationHint:result", "payload": [{"scope": "EdgeNetwork", "hint": 3}]}]}"#,
            r#"{"handle": [{"type": "a", "type": "b"}]}"#,
            "[1]",
            "",
            "{\"a\": 1} x",
            "{\"a\": \"\\ud800\"}",
            "{\"a\": 1e999}",
        ];
        for body in aside {
            assert!(!check(body.as_bytes()), "fast path taken: {body}");
        }
    }
}

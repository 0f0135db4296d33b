//! The result JSON of a successful call (design.md §3.3) written as text
//! straight from the response body, without a `serde_json::Value` round trip.
//!
//! The Value path (parse the body into a map, add the missing lists and the
//! `client` facts, serialise it all again) cost about half of a call's CPU
//! time on loopback: every key is hashed into an index map, every string is
//! allocated, copied and escaped again. Here the body is only *scanned*
//! (`json_scan`: validated, spans found, nothing built) and its top-level
//! members are copied verbatim into the result; only `handle`'s `type`, and
//! the payloads of `locationHint:result` and `state:store` (for
//! `client.locationHint` and `client.state`), are looked into.
//!
//! This is a fast path, never a second opinion: whenever the body has a shape
//! it does not expect (a top-level `client` or duplicate key, a non-object
//! handle, a non-string `type` or `key`, an `errors` that is not a list ...), it
//! gives up and the caller takes the Value path, which produces the same
//! result or the same error as before. A test checks both paths agree on
//! every fixture and on odd bodies.

use crate::json_scan::{Doc, RawStr};
use crate::response::HeaderFacts;
use crate::visitor::{PassedEntry, FACT_HEADERS};
use serde_json::Value;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::ops::Range;

/// The body's top-level members: key as found, key decoded, value's span.
type Members<'a> = SmallVec<[(RawStr<'a>, Cow<'a, str>, Range<usize>); 8]>;
type Handles<'a> = SmallVec<[Handle<'a>; 4]>;
type Items<'a> = SmallVec<[Item<'a>; 8]>;

/// The `client` facts of a result, in the order design.md §3.3 lists them.
pub struct Facts<'a> {
    pub http_status: u16,
    pub attempts: u32,
    pub request_id: &'a str,
    pub region: Option<&'a str>,
    pub elapsed_ms: u64,
    pub headers: &'a HeaderFacts,
    /// `Some`: `client.state` is written from these passed entries.
    pub passed_state: Option<&'a [PassedEntry]>,
    pub now_ms: u64,
}

/// The fields of a payload item the facts use, by index (`scope`, `hint`,
/// `key`, `value`, `maxAge`: [`field_index`]).
#[derive(Default)]
struct Item<'a> {
    fields: [Option<Field<'a>>; 5],
}

/// Where a field's value is, and the string it is if it is one (found as
/// it was scanned: no second look for escapes).
struct Field<'a> {
    span: Range<usize>,
    text: Option<RawStr<'a>>,
}

/// A string of the result and whether it is known to need no escaping (one
/// found in the body without escapes: written as found).
struct Text<'a> {
    text: Cow<'a, str>,
    plain: bool,
}

impl<'a> Text<'a> {
    fn of(raw: RawStr<'a>) -> Text<'a> {
        Text {
            text: raw.decode(),
            plain: !raw.escaped,
        }
    }
}

/// A `client.state` entry as [`next_state`] finds it, borrowed from the
/// passed entries or the body (nothing copied until it is written).
struct NextEntry<'a> {
    key: Text<'a>,
    value: Option<Text<'a>>,
    expires_at_ms: Option<u64>,
}

const SCOPE: usize = 0;
const HINT: usize = 1;
const KEY: usize = 2;
const VALUE: usize = 3;
const MAX_AGE: usize = 4;

enum Payload {
    /// Missing or null.
    Absent,
    /// Where its items are in the one list of every payload's items.
    Items(Range<usize>),
    /// Not an array of objects, or an item with a field twice.
    Odd,
}

/// One `handle` item: its `type` and the fields of its `payload`.
struct Handle<'a> {
    kind: Option<Cow<'a, str>>,
    payload: Payload,
}

const LISTS: [&str; 3] = ["handle", "errors", "warnings"];

/// The most top-level members the fast path lists: a body with more takes
/// the Value path (a map), so that a hostile one of many keys costs no
/// quadratic duplicate check here.
const ROOT_MEMBERS_LISTED: usize = 32;

/// The result JSON text for a 2xx `body`, or `None` when the body is not the
/// plain object this fast path handles (the caller then takes the Value path).
/// With `want_handle`, also `{"handle": [...]}` as a Value: all a session
/// that keeps state reads of a result.
pub fn result_text(
    body: &[u8],
    facts: &Facts<'_>,
    want_handle: bool,
) -> Option<(String, Option<Value>)> {
    let doc = Doc::new(body)?;
    // On the stack for the usual body (no allocation per list).
    let mut members: Members<'_> = SmallVec::new();
    let mut handles: Handles<'_> = SmallVec::new();
    let mut items: Items<'_> = SmallVec::new();
    // One pass: validates the whole body and reads `handle` on the way.
    doc.root_members(|key, start| {
        let name = key.decode();
        // serde_json's map keeps the last of duplicate keys at the first's
        // place: leave such bodies to it. A body's own `client` is replaced
        // there. Many members: the Value path (a linear duplicate check here).
        if name == "client"
            || members.len() == ROOT_MEMBERS_LISTED
            || members.iter().any(|(_, n, _)| *n == name)
        {
            return None;
        }
        let end = if name == "handle" && doc.byte(start) == Some(b'[') {
            read_handles(&doc, start, &mut handles, &mut items)?
        } else {
            doc.skip(start, 1)?
        };
        members.push((key, name, start..end));
        Some(end)
    })?;
    for (_, name, span) in &members {
        let list = LISTS.contains(&name.as_ref());
        if list && !doc.is_null(span) && doc.byte(span.start) != Some(b'[') {
            return None;
        }
    }

    // Room for the body, the facts and their headers: no regrowth.
    let headers = facts.headers.text_len() + 8 * FACT_HEADERS.len();
    let mut out = String::with_capacity(body.len() + headers + 512);
    out.push('{');
    for (key, name, span) in &members {
        if out.len() > 1 {
            out.push(',');
        }
        if key.escaped {
            push_str(&mut out, name);
        } else {
            out.push('"');
            out.push_str(key.inner);
            out.push('"');
        }
        out.push(':');
        if doc.is_null(span) && LISTS.contains(&name.as_ref()) {
            out.push_str("[]");
        } else {
            out.push_str(doc.slice(span));
        }
    }
    for list in LISTS {
        if !members.iter().any(|(_, n, _)| n == list) {
            if out.len() > 1 {
                out.push(',');
            }
            out.push('"');
            out.push_str(list);
            out.push_str("\":[]");
        }
    }
    out.push_str(",\"client\":");
    push_facts(&mut out, &doc, facts, &handles, &items)?;
    out.push('}');
    let handle = if want_handle {
        let list = match members.iter().find(|(_, n, _)| n == "handle") {
            Some((_, _, span)) if !doc.is_null(span) => {
                serde_json::from_str(doc.slice(span)).ok()?
            }
            _ => Value::Array(Vec::new()),
        };
        let mut map = serde_json::Map::new();
        map.insert("handle".into(), list);
        Some(Value::Object(map))
    } else {
        None
    };
    Some((out, handle))
}

/// Reads the `handle` array at `start` into `out`; returns where it ends.
fn read_handles<'a>(
    doc: &Doc<'a>,
    start: usize,
    out: &mut Handles<'a>,
    items: &mut Items<'a>,
) -> Option<usize> {
    doc.items(start, 1, |item| {
        let mut handle = Handle {
            kind: None,
            payload: Payload::Absent,
        };
        let (mut saw_type, mut saw_payload) = (false, false);
        let end = doc.members(item, 2, |key, value| match key.decode().as_ref() {
            "type" if !saw_type => {
                saw_type = true;
                let (kind, end) = optional_str_at(doc, value, 3)?;
                handle.kind = kind.map(|raw| raw.decode());
                Some(end)
            }
            "payload" if !saw_payload => {
                saw_payload = true;
                let (payload, end) = read_payload(doc, value, items)?;
                handle.payload = payload;
                Some(end)
            }
            "type" | "payload" => None,
            _ => doc.skip(value, 3),
        })?;
        out.push(handle);
        Some(end)
    })
}

fn read_payload<'a>(
    doc: &Doc<'a>,
    start: usize,
    items: &mut Items<'a>,
) -> Option<(Payload, usize)> {
    if doc.byte(start) != Some(b'[') {
        let end = doc.skip(start, 3)?;
        let payload = if doc.is_null(&(start..end)) {
            Payload::Absent
        } else {
            Payload::Odd
        };
        return Some((payload, end));
    }
    let first = items.len();
    let mut odd = false;
    let end = doc.items(start, 3, |item| {
        if doc.byte(item) != Some(b'{') {
            odd = true;
            return doc.skip(item, 4);
        }
        // Filled in place (an item is some 200 bytes: no copy into the list).
        items.push(Item::default());
        let found = items.last_mut().expect("just pushed");
        let end = doc.members(item, 4, |key, value| {
            let (text, end) = match doc.string_at(value) {
                Some((raw, end)) => (Some(raw), end),
                None => (None, doc.skip(value, 5)?),
            };
            if let Some(i) = field_index(key) {
                odd |= found.fields[i].is_some();
                found.fields[i] = Some(Field {
                    span: value..end,
                    text,
                });
            }
            Some(end)
        })?;
        Some(end)
    })?;
    let payload = if odd {
        Payload::Odd
    } else {
        Payload::Items(first..items.len())
    };
    Some((payload, end))
}

/// The index in [`Item::fields`] of a payload item's key, compared as found when it
/// has no escapes (most keys: no decoding, no `Cow` per key).
#[inline(always)]
fn field_index(key: RawStr<'_>) -> Option<usize> {
    // By length and first byte, then one compare of a known length (no
    // memcmp call per candidate).
    let index = |name: &str| {
        let b = name.as_bytes();
        match (b.len(), b.first()) {
            (5, Some(b's')) if b == b"scope" => Some(SCOPE),
            (4, Some(b'h')) if b == b"hint" => Some(HINT),
            (3, Some(b'k')) if b == b"key" => Some(KEY),
            (5, Some(b'v')) if b == b"value" => Some(VALUE),
            (6, Some(b'm')) if b == b"maxAge" => Some(MAX_AGE),
            _ => None,
        }
    };
    if key.escaped {
        index(&key.decode())
    } else {
        index(key.inner)
    }
}

/// The string or null (`None`) at `start`, and where it ends; anything else
/// makes the fast path give up.
fn optional_str_at<'a>(
    doc: &Doc<'a>,
    start: usize,
    depth: u32,
) -> Option<(Option<RawStr<'a>>, usize)> {
    if let Some((raw, end)) = doc.string_at(start) {
        return Some((Some(raw), end));
    }
    let end = doc.skip(start, depth)?;
    doc.is_null(&(start..end)).then_some((None, end))
}

/// The string field `i` of an item: `Some(None)` when missing or null.
fn field_str<'a>(doc: &Doc<'a>, item: &Item<'a>, i: usize) -> Option<Option<RawStr<'a>>> {
    match &item.fields[i] {
        None => Some(None),
        Some(Field {
            text: Some(raw), ..
        }) => Some(Some(*raw)),
        Some(Field { span, .. }) => doc.is_null(span).then_some(None),
    }
}

/// The items of a payload the facts look into; `None` gives up.
fn items_of<'h, 'a>(handle: &Handle<'_>, items: &'h [Item<'a>]) -> Option<&'h [Item<'a>]> {
    match &handle.payload {
        Payload::Absent => Some(&[]),
        Payload::Items(range) => Some(&items[range.clone()]),
        Payload::Odd => None,
    }
}

fn push_facts<'a>(
    out: &mut String,
    doc: &Doc<'a>,
    facts: &'a Facts<'a>,
    handles: &[Handle<'a>],
    items: &[Item<'a>],
) -> Option<()> {
    let mut digits = itoa::Buffer::new();
    out.push_str("{\"httpStatus\":");
    out.push_str(digits.format(facts.http_status));
    out.push_str(",\"attempts\":");
    out.push_str(digits.format(facts.attempts));
    out.push_str(",\"requestId\":");
    push_str(out, facts.request_id);
    out.push_str(",\"region\":");
    push_opt_str(out, facts.region);
    out.push_str(",\"elapsedMs\":");
    out.push_str(digits.format(facts.elapsed_ms));
    out.push_str(",\"locationHint\":");
    match edge_hint(doc, handles, items)? {
        Some(hint) => push_text(out, &hint),
        None => out.push_str("null"),
    }
    out.push_str(",\"headers\":{");
    for (i, (name, value)) in facts.headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Names are FACT_HEADERS: nothing to escape.
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        push_str(out, value);
    }
    out.push('}');
    if let Some(passed) = facts.passed_state {
        out.push_str(",\"state\":[");
        for (i, entry) in next_state(doc, passed, handles, items, facts.now_ms)?
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"key\":");
            push_text(out, &entry.key);
            if let Some(value) = &entry.value {
                out.push_str(",\"value\":");
                push_text(out, value);
            }
            if let Some(at) = entry.expires_at_ms {
                out.push_str(",\"expiresAt\":");
                out.push_str(digits.format(at));
            }
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
    Some(())
}

/// As `visitor::edge_hint_of`: the `EdgeNetwork` hint of `locationHint:result`.
fn edge_hint<'a>(
    doc: &Doc<'a>,
    handles: &[Handle<'a>],
    items: &[Item<'a>],
) -> Option<Option<Text<'a>>> {
    let mut hint: Option<Option<Text<'a>>> = None;
    for handle in handles {
        if handle.kind.as_deref() != Some("locationHint:result") {
            continue;
        }
        for item in items_of(handle, items)? {
            let scope = field_str(doc, item, SCOPE)?;
            let value = field_str(doc, item, HINT)?;
            if hint.is_none()
                && scope.is_some_and(|s| s.decode().eq_ignore_ascii_case("EdgeNetwork"))
            {
                hint = Some(value.map(Text::of));
            }
        }
    }
    Some(hint.flatten())
}

/// As `visitor::next_state`: the passed entries updated by `state:store`.
fn next_state<'a>(
    doc: &Doc<'a>,
    passed: &'a [PassedEntry],
    handles: &[Handle<'a>],
    items: &[Item<'a>],
    now_ms: u64,
) -> Option<SmallVec<[NextEntry<'a>; 4]>> {
    let mut entries: SmallVec<[NextEntry<'a>; 4]> = SmallVec::with_capacity(passed.len());
    entries.extend(passed.iter().map(|e| NextEntry {
        key: Text {
            text: Cow::Borrowed(&e.key),
            plain: false,
        },
        value: e.value.as_deref().map(|v| Text {
            text: Cow::Borrowed(v),
            plain: false,
        }),
        expires_at_ms: e.expires_at_ms,
    }));
    for handle in handles {
        if handle.kind.as_deref() != Some("state:store") {
            continue;
        }
        for item in items_of(handle, items)? {
            let key = field_str(doc, item, KEY)?;
            let value = field_str(doc, item, VALUE)?;
            let age = match &item.fields[MAX_AGE] {
                Some(Field { span, .. }) if doc.is_null(span) => None,
                Some(Field { span, .. }) if doc.is_number(span) => Some(doc.as_i64(span)),
                Some(_) => return None,
                None => None,
            };
            let Some(key) = key.filter(|k| !k.inner.is_empty()).map(Text::of) else {
                continue;
            };
            entries.retain(|e| e.key.text != key.text);
            let expires_at_ms = match age {
                Some(Some(age)) if age <= 0 => continue,
                Some(Some(age)) => Some(now_ms.saturating_add((age as u64).saturating_mul(1000))),
                _ => None,
            };
            entries.push(NextEntry {
                key,
                value: value.map(Text::of),
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
    let needs_escape = crate::json_scan::plain_run_end(s.as_bytes(), 0) < s.len();
    if needs_escape {
        out.push_str(&serde_json::to_string(s).expect("a str always serialises"));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// A string of the result: as found when it is known plain, else as [`push_str`].
fn push_text(out: &mut String, t: &Text<'_>) {
    if t.plain {
        out.push('"');
        out.push_str(&t.text);
        out.push('"');
    } else {
        push_str(out, &t.text);
    }
}

fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
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

    fn facts<'a>(headers: &'a HeaderFacts, passed: Option<&'a [PassedEntry]>) -> Facts<'a> {
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
        let mut headers = HeaderFacts::default();
        for (name, value) in [("x-request-id", "abc"), ("x-adobe-edge", "or2;\u{1}35")] {
            let index = FACT_HEADERS.iter().position(|f| *f == name).unwrap();
            headers.keep_first(index, value);
        }
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
            if let Some((fast, handle)) = result_text(body, &f, true) {
                took_fast = true;
                let reparsed: Value = serde_json::from_str(&fast).unwrap();
                assert_eq!(handle.unwrap()["handle"], reparsed["handle"]);
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
        let root = env!("CARGO_MANIFEST_DIR");
        let mut fast = 0;
        for dir in ["tests/fixtures", "tests/fixtures/real"] {
            for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                // Every body the real fixtures hold, whatever its status: the
                // fast path must agree or step aside on each.
                if name.starts_with("response-") || (dir.ends_with("real") && name != "SOURCES.md")
                {
                    fast += usize::from(check(&std::fs::read(&path).unwrap()));
                }
            }
        }
        assert!(fast >= 30, "the fast path took only {fast} fixtures");
    }

    #[test]
    fn bodies_of_many_members_step_aside() {
        let members = |n: usize| {
            let list: Vec<String> = (0..n).map(|i| format!("\"m{i}\":{i}")).collect();
            format!("{{{}}}", list.join(","))
        };
        assert!(check(members(ROOT_MEMBERS_LISTED).as_bytes()));
        assert!(!check(members(ROOT_MEMBERS_LISTED + 1).as_bytes()));
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

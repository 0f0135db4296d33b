//! Turning a caller's request JSON into the body that is sent (design.md §3.2):
//! validate, take out `options`, fill `xdm._id` and `xdm.timestamp`, merge state
//! entries, drop the streaming switch, and check the encoded size.

use crate::error::{Error, ErrorKind, Result};
use crate::ids;
use crate::json_fields::{type_name, Fields};
use crate::json_scan::SeenKeys;
use crate::visitor::CallOptions;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::time::Duration;

/// The largest request JSON accepted from a caller, checked before parsing.
pub const MAX_REQUEST_JSON_BYTES: usize = 1024 * 1024;
/// The Edge Network's limit on an encoded request body (64 KB; edge-api.md §2.7).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The Edge Network call a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Interact,
    Collect,
    /// `/ee/v1/privacy/set-consent`.
    Consent,
}

impl Endpoint {
    /// Every endpoint, in declaration order: `ALL[e as usize] == e` (tables
    /// per endpoint index by `as usize`).
    pub const ALL: [Endpoint; 3] = [Endpoint::Interact, Endpoint::Collect, Endpoint::Consent];

    /// The path after `/ee[/{hint}]/`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Interact => "v2/interact",
            Endpoint::Collect => "v2/collect",
            Endpoint::Consent => "v1/privacy/set-consent",
        }
    }

    /// The query parameter naming the datastream: v2 takes `dataStreamId`
    /// (the spelling of the product's source document), v1 `configId`.
    pub fn datastream_param(self) -> &'static str {
        match self {
            Endpoint::Interact | Endpoint::Collect => "dataStreamId",
            Endpoint::Consent => "configId",
        }
    }

    fn allowed_keys(self) -> &'static [&'static str] {
        match self {
            Endpoint::Interact => &["event", "query", "meta"],
            Endpoint::Collect => &["events", "query", "meta"],
            Endpoint::Consent => &["consent", "identityMap", "query", "meta"],
        }
    }
}

/// One `meta.state.entries` item to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    pub key: String,
    pub value: Option<String>,
}

impl StateEntry {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("key".into(), Value::String(self.key.clone()));
        if let Some(v) = &self.value {
            m.insert("value".into(), Value::String(v.clone()));
        }
        Value::Object(m)
    }
}

/// A validated request, before state is merged and the body is encoded.
#[derive(Debug)]
pub struct Draft {
    pub endpoint: Endpoint,
    /// The id sent as the `requestId` query parameter, on every attempt.
    pub request_id: String,
    /// `options.datastreamId`: overrides the query parameter only.
    pub datastream_override: Option<String>,
    /// `options.state`: the entries to send instead of the client's own.
    pub explicit_state: Option<Vec<StateEntry>>,
    /// `options.timeouts`: this call's own attempt and total timeouts.
    pub timeouts: CallTimeouts,
    /// `options.headers`, `options.locationHint` and `options.state` (design.md §3.8).
    pub visitor: CallOptions,
    body: Body,
}

/// A draft's body: a map, or (from the fast path of [`Draft::from_json`])
/// already encoded, byte for byte what encoding the map would give; it
/// becomes a map again only if something has to change it.
#[derive(Debug)]
enum Body {
    Map(Map<String, Value>),
    Encoded {
        text: Vec<u8>,
        /// What [`Draft::has_own_identity`] says of it.
        own_identity: bool,
    },
}

/// Per-call overrides of the config's `timeouts.requestMs` and `totalMs`;
/// `None` keeps the client's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallTimeouts {
    pub request: Option<Duration>,
    pub total: Option<Duration>,
}

/// What goes on the wire.
#[derive(Debug)]
pub struct Prepared {
    pub endpoint: Endpoint,
    pub request_id: String,
    pub datastream_override: Option<String>,
    pub timeouts: CallTimeouts,
    pub visitor: CallOptions,
    pub body: Vec<u8>,
}

impl Draft {
    /// Parses and validates a request JSON string.
    pub fn from_json(endpoint: Endpoint, text: &str) -> Result<Draft> {
        Draft::from_json_with_id(endpoint, text, None)
    }

    /// As [`Draft::from_json`]; `request_id`, when given, is the id sent if
    /// the request names none in `options.requestId` (instead of a new one):
    /// for a binding that must know the id before the call starts.
    pub fn from_json_with_id(
        endpoint: Endpoint,
        text: &str,
        mut request_id: Option<String>,
    ) -> Result<Draft> {
        if text.len() > MAX_REQUEST_JSON_BYTES {
            return Err(Error::invalid_request(format!(
                "the request is {} bytes; at most {MAX_REQUEST_JSON_BYTES} are accepted",
                text.len()
            )));
        }
        if endpoint == Endpoint::Interact {
            if let Some(draft) = Draft::from_json_fast(text, &mut request_id) {
                return draft;
            }
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::InvalidJson,
                format!("the request is not valid JSON: {e}"),
            )
        })?;
        Draft::from_value_with_id(endpoint, value, request_id)
    }

    /// Validates a parsed request and fills in what the client adds.
    pub fn from_value(endpoint: Endpoint, value: Value) -> Result<Draft> {
        Draft::from_value_with_id(endpoint, value, None)
    }

    /// As [`Draft::from_value`], with the fallback `request_id` of
    /// [`Draft::from_json_with_id`].
    fn from_value_with_id(
        endpoint: Endpoint,
        value: Value,
        request_id: Option<String>,
    ) -> Result<Draft> {
        let Value::Object(mut body) = value else {
            return Err(Error::invalid_request(format!(
                "the request must be a JSON object, not {}",
                type_name(&value)
            )));
        };
        let options = match body.remove("options") {
            None | Some(Value::Null) => Options::default(),
            Some(v) => Options::parse(&v).map_err(Error::invalid_request)?,
        };
        check_top_level(endpoint, &mut body).map_err(Error::invalid_request)?;
        Ok(Draft::with_options(
            endpoint,
            options,
            request_id,
            Body::Map(body),
        ))
    }

    /// A draft of `body` with what its `options` ask; `request_id` is the
    /// id sent when they name none (else a new one).
    fn with_options(
        endpoint: Endpoint,
        options: Options,
        request_id: Option<String>,
        body: Body,
    ) -> Draft {
        Draft {
            endpoint,
            request_id: options
                .request_id
                .or(request_id)
                .unwrap_or_else(ids::uuid_v4),
            datastream_override: options.datastream_id,
            explicit_state: options.visitor.entries_to_send(),
            visitor: options.visitor,
            timeouts: options.timeouts,
            body,
        }
    }

    /// [`Draft::from_json`] for an interact request without `meta`, encoded
    /// straight from the text (`json_scan`) instead of parsed into a map,
    /// changed and written again: the same bytes, a fraction of the work.
    /// `None` whenever the request is anything but plainly valid (the map
    /// path then gives the same result, or its precise error).
    fn from_json_fast(text: &str, request_id: &mut Option<String>) -> Option<Result<Draft>> {
        use crate::json_scan::{push_json_str, Doc};
        // Already a str: no second UTF-8 check.
        let doc = Doc { text };
        // One pass: each member but `options` is written to `parts` as it is
        // read (after a `{` and commas, so that `parts` is the body itself
        // when nothing must move); `members` holds (decoded key, where it
        // went in `parts`, comma excluded).
        let mut parts = Vec::with_capacity(text.len() + 96);
        parts.push(b'{');
        let mut members: smallvec::SmallVec<[(Cow<'_, str>, std::ops::Range<usize>); 4]> =
            smallvec::SmallVec::new();
        let mut options = None;
        let mut own_identity = false;
        doc.root_members(|key, start| {
            let name = key.decode();
            // At most three members (`event`, `query`, `options`; any other
            // leaves it to the map path): a linear duplicate check is fine.
            if members.iter().any(|(n, _)| *n == name) {
                return None;
            }
            if name != "options" && parts.len() > 1 {
                parts.push(b',');
            }
            let begin = parts.len();
            let end = match name.as_ref() {
                "options" => {
                    let end = doc.skip(start, 1)?;
                    options = Some(start..end);
                    end
                }
                "event" => {
                    push_json_str(&mut parts, key, &name);
                    parts.push(b':');
                    let (own, end) = copy_event(&doc, start, &mut parts)?;
                    own_identity = own;
                    end
                }
                "query" if doc.byte(start) == Some(b'{') => {
                    push_json_str(&mut parts, key, &name);
                    parts.push(b':');
                    doc.copy_canonical(start, 1, &mut parts)?
                }
                _ => return None,
            };
            members.push((name, begin..parts.len()));
            Some(end)
        })?;
        if !members.iter().any(|(n, _)| n == "event") {
            return None;
        }
        let options = match &options {
            None => Options::default(),
            Some(span) => match serde_json::from_str::<Value>(doc.slice(span)).ok()? {
                Value::Null => Options::default(),
                v => match Options::parse(&v) {
                    Ok(o) => o,
                    Err(e) => return Some(Err(Error::invalid_request(e))),
                },
            },
        };
        // `Map::remove` swaps the last member into the removed one's place:
        // the members then move, unless `options` was missing or last.
        let out = match members.iter().position(|(n, _)| n == "options") {
            Some(i) if i + 1 < members.len() => {
                members.swap_remove(i);
                let mut out = Vec::with_capacity(parts.len() + 1);
                out.push(b'{');
                for (i, (_, range)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&parts[range.clone()]);
                }
                out.push(b'}');
                out
            }
            _ => {
                parts.push(b'}');
                parts
            }
        };
        Some(Ok(Draft::with_options(
            Endpoint::Interact,
            options,
            request_id.take(),
            Body::Encoded {
                text: out,
                own_identity,
            },
        )))
    }

    /// The interact request `{"event": …}` encoded by a binding from its own
    /// objects: byte for byte what [`Draft::from_json`]'s fast path writes
    /// for the same request (`copy_event`: the members as serde_json writes
    /// them, `xdm._id` and `xdm.timestamp` filled with [`EventIds`]), and
    /// `own_identity` as `copy_event` tells it. The Python binding writes it
    /// as it converts the event (python/src/event_body.rs), instead of text
    /// for this module to scan and write again.
    ///
    /// The bytes are sent as they are: the caller answers for them (a body
    /// that is not a JSON object panics if state must be merged into a map,
    /// which the binding's panic boundary turns into `InternalError`).
    #[doc(hidden)]
    pub fn from_event_body(body: Vec<u8>, own_identity: bool, request_id: Option<String>) -> Draft {
        // What the fast path makes of a request without `options`.
        let body = Body::Encoded {
            text: body,
            own_identity,
        };
        Draft::with_options(Endpoint::Interact, Options::default(), request_id, body)
    }

    /// The body as a map, decoding an encoded one first.
    fn map_mut(&mut self) -> &mut Map<String, Value> {
        if let Body::Encoded { text, .. } = &self.body {
            let map = serde_json::from_slice(text).expect("an encoded body is a JSON object");
            self.body = Body::Map(map);
        }
        match &mut self.body {
            Body::Map(map) => map,
            Body::Encoded { .. } => unreachable!("decoded above"),
        }
    }

    fn map(&self) -> Cow<'_, Map<String, Value>> {
        match &self.body {
            Body::Map(map) => Cow::Borrowed(map),
            Body::Encoded { text, .. } => {
                Cow::Owned(serde_json::from_slice(text).expect("an encoded body is a JSON object"))
            }
        }
    }

    /// Whether the interact event carries its own device identity (an ECID or
    /// FPID in `xdm.identityMap`), so it cannot mint a new ECID.
    pub fn has_own_identity(&self) -> bool {
        let body = match &self.body {
            Body::Encoded { own_identity, .. } => return *own_identity,
            Body::Map(map) => map,
        };
        let map = &body["event"]["xdm"]["identityMap"];
        ["ECID", "FPID"]
            .iter()
            .any(|ns| map[*ns].as_array().is_some_and(|ids| !ids.is_empty()))
    }

    /// With `options.datastreamId`, tells the Edge Network which datastream was
    /// configured (`meta.sdkConfig.datastream.original`), as Adobe's SDKs do.
    pub fn note_datastream_override(&mut self, configured: &str) {
        if self.datastream_override.is_some() {
            crate::visitor::add_original_datastream(self.map_mut(), configured);
        }
    }

    /// Adds `query.identity.fetch: ["ECID"]`, keeping what the caller asked for.
    pub fn ask_for_ecid(&mut self) {
        let query = self
            .map_mut()
            .entry("query")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(query) = query else { return };
        let identity = query
            .entry("identity")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(identity) = identity else {
            return;
        };
        let fetch = identity
            .entry("fetch")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = fetch {
            if !list.iter().any(|v| v == "ECID") {
                list.push(Value::String("ECID".into()));
            }
        }
    }

    /// The collect consent a set-consent request asks for, when it says so
    /// plainly (Adobe 1.0 `general`, Adobe 2.0 `collect.val`).
    pub fn requested_consent(&self) -> Option<String> {
        self.map()["consent"].as_array()?.iter().find_map(|c| {
            match (c["version"].as_str(), c["standard"].as_str()) {
                (Some("2.0"), Some("Adobe")) => {
                    c["value"]["collect"]["val"].as_str().map(str::to_string)
                }
                (Some("1.0"), Some("Adobe")) => match c["value"]["general"].as_str() {
                    Some("in") => Some("y".into()),
                    Some("out") => Some("n".into()),
                    Some("pending") => Some("p".into()),
                    _ => None,
                },
                _ => None,
            }
        })
    }

    /// The validated body, for the durable queue: it stores the event and its
    /// `meta` and sends them later in batches.
    pub fn into_body(mut self) -> Map<String, Value> {
        std::mem::take(self.map_mut())
    }

    /// Refuses a body already over the 64 KB limit before state is merged, so
    /// an async call is refused at once (design.md §3.6); `finish` checks the
    /// final body. Counts the encoded bytes without keeping them.
    pub fn check_body_size(&self) -> Result<()> {
        struct Count(usize);
        impl std::io::Write for Count {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let body = match &self.body {
            Body::Encoded { text, .. } if text.len() > MAX_BODY_BYTES => {
                return Err(too_large(text.len()))
            }
            Body::Encoded { .. } => return Ok(()),
            Body::Map(map) => map,
        };
        let mut count = Count(0);
        serde_json::to_writer(&mut count, body)
            .map_err(|e| Error::invalid_request(format!("the request cannot be encoded: {e}")))?;
        if count.0 > MAX_BODY_BYTES {
            return Err(too_large(count.0));
        }
        Ok(())
    }

    /// Merges state entries into `meta.state.entries` (the caller's own entries
    /// there win, key by key) and encodes the body, enforcing the 64 KB limit.
    pub fn finish(mut self, client_state: &[StateEntry]) -> Result<Prepared> {
        let explicit = self.explicit_state.take();
        let state = explicit.as_deref().unwrap_or(client_state);
        if !state.is_empty() {
            match &mut self.body {
                Body::Encoded { text, .. } => append_state(text, state),
                Body::Map(map) => merge_state(map, state),
            }
        }
        let body = match std::mem::replace(&mut self.body, Body::Map(Map::new())) {
            Body::Encoded { text, .. } => text,
            Body::Map(map) => {
                let mut body = Vec::with_capacity(2048);
                serde_json::to_writer(&mut body, &map).map_err(|e| {
                    Error::invalid_request(format!("the request cannot be encoded: {e}"))
                })?;
                body
            }
        };
        if body.len() > MAX_BODY_BYTES {
            return Err(too_large(body.len()));
        }
        Ok(Prepared {
            endpoint: self.endpoint,
            request_id: self.request_id,
            datastream_override: self.datastream_override,
            timeouts: self.timeouts,
            visitor: self.visitor,
            body,
        })
    }
}

/// Copies an interact `event` object as the map path leaves it (an `xdm`
/// with `_id` and `timestamp`, filled where missing or null, at the end
/// where added); `None` where the map path would refuse it or do more.
/// Returns whether `xdm.identityMap` holds an ECID or FPID, and where the
/// event ends.
fn copy_event(
    doc: &crate::json_scan::Doc<'_>,
    start: usize,
    out: &mut Vec<u8>,
) -> Option<(bool, usize)> {
    use crate::json_scan::push_json_str;
    if doc.byte(start) != Some(b'{') {
        return None;
    }
    out.push(b'{');
    let mut names = SeenKeys::default();
    let mut own_identity = false;
    let end = doc.members(start, 1, |key, value| {
        let name = key.decode();
        if names.contains(&name) {
            return None;
        }
        if !names.is_empty() {
            out.push(b',');
        }
        push_json_str(out, key, &name);
        out.push(b':');
        let end = match name.as_ref() {
            "xdm" => copy_xdm(doc, value, out, &mut own_identity)?,
            "data" if doc.byte(value) != Some(b'{') => return None,
            _ => doc.copy_canonical(value, 2, out)?,
        };
        names.push(name);
        Some(end)
    })?;
    if !names.contains("xdm") {
        if !names.is_empty() {
            out.push(b',');
        }
        EventIds::push_xdm(out);
    }
    out.push(b'}');
    Some((own_identity, end))
}

/// Copies `event.xdm`, filling `_id` and `timestamp` as `fill_event` does.
fn copy_xdm(
    doc: &crate::json_scan::Doc<'_>,
    start: usize,
    out: &mut Vec<u8>,
    own_identity: &mut bool,
) -> Option<usize> {
    use crate::json_scan::push_json_str;
    if doc.byte(start) != Some(b'{') {
        return None;
    }
    out.push(b'{');
    let mut names = SeenKeys::default();
    let end = doc.members(start, 2, |key, value| {
        let name = key.decode();
        if names.contains(&name) {
            return None;
        }
        if !names.is_empty() {
            out.push(b',');
        }
        push_json_str(out, key, &name);
        out.push(b':');
        // A null id or timestamp is filled in its place; anything else is
        // validated and copied in one pass.
        let null = doc.text.as_bytes()[value..].starts_with(b"null");
        let end = match name.as_ref() {
            "_id" if null => {
                EventIds::push_id(out);
                value + 4
            }
            "timestamp" if null => {
                EventIds::push_timestamp(out);
                value + 4
            }
            _ => {
                if name == "identityMap" {
                    *own_identity = has_device_id(doc, value);
                }
                doc.copy_canonical(value, 3, out)?
            }
        };
        names.push(name);
        Some(end)
    })?;
    EventIds::push_missing(
        out,
        !names.contains("_id"),
        !names.contains("timestamp"),
        !names.is_empty(),
    );
    out.push(b'}');
    Some(end)
}

/// What the client fills in an interact event (design.md §3.2): a new
/// `xdm._id` and the time as `xdm.timestamp`, where missing or null. One
/// place for `copy_event` and for a binding that encodes the event itself
/// ([`Draft::from_event_body`]).
pub struct EventIds;

impl EventIds {
    /// A new `_id` value (a quoted UUID v4), written in the place of a null.
    pub fn push_id(out: &mut Vec<u8>) {
        push_quoted(out, &ids::uuid_v4_text());
    }

    /// The time now as a `timestamp` value (quoted RFC 3339), for a null.
    pub fn push_timestamp(out: &mut Vec<u8>) {
        push_quoted(out, ids::now_rfc3339().as_bytes());
    }

    /// Appends the `_id` and `timestamp` members an xdm lacks, before its
    /// `}`; `comma` when the xdm has members.
    pub fn push_missing(out: &mut Vec<u8>, id: bool, timestamp: bool, mut comma: bool) {
        if id {
            if comma {
                out.push(b',');
            }
            out.extend_from_slice(b"\"_id\":");
            EventIds::push_id(out);
            comma = true;
        }
        if timestamp {
            if comma {
                out.push(b',');
            }
            out.extend_from_slice(b"\"timestamp\":");
            EventIds::push_timestamp(out);
        }
    }

    /// The member `"xdm":{"_id":…,"timestamp":…}` of an event without xdm
    /// (its comma, if one is needed, written before).
    pub fn push_xdm(out: &mut Vec<u8>) {
        out.extend_from_slice(b"\"xdm\":{");
        EventIds::push_missing(out, true, true, false);
        out.push(b'}');
    }
}

/// A string of ours (ids, timestamps: nothing to escape).
fn push_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(s);
    out.push(b'"');
}

/// `identityMap.ECID` or `.FPID` is a non-empty array (as `has_own_identity`).
fn has_device_id(doc: &crate::json_scan::Doc<'_>, start: usize) -> bool {
    let mut found = false;
    let walked = doc.members(start, 3, |key, value| {
        let end = doc.skip(value, 4)?;
        if matches!(key.decode().as_ref(), "ECID" | "FPID") {
            let inner = doc.slice(&(value..end));
            found |= inner.starts_with('[') && inner[1..].trim_start() != "]";
        }
        Some(end)
    });
    walked.is_some() && found
}

fn too_large(bytes: usize) -> Error {
    Error::invalid_request(format!(
        "the encoded request body is {bytes} bytes; the Edge Network accepts at most {MAX_BODY_BYTES}"
    ))
}

#[derive(Default)]
struct Options {
    request_id: Option<String>,
    datastream_id: Option<String>,
    visitor: CallOptions,
    timeouts: CallTimeouts,
}

impl Options {
    fn parse(value: &Value) -> std::result::Result<Options, String> {
        let mut f = Fields::new("options", value)?;
        let request_id = f.string("requestId")?.map(str::to_string);
        if let Some(id) = &request_id {
            check_id("options.requestId", id)?;
        }
        let datastream_id = f.string("datastreamId")?.map(str::to_string);
        if let Some(id) = &datastream_id {
            check_id("options.datastreamId", id)?;
        }
        let visitor = CallOptions::take(&mut f, crate::session::now_ms())?;
        let timeouts = match f.take("timeouts") {
            None => CallTimeouts::default(),
            Some(v) => parse_timeouts(v)?,
        };
        f.finish()?;
        Ok(Options {
            request_id,
            datastream_id,
            visitor,
            timeouts,
        })
    }
}

/// `options.timeouts`: `requestMs` and `totalMs`, in the config's range.
fn parse_timeouts(value: &Value) -> std::result::Result<CallTimeouts, String> {
    const ONE_DAY_MS: u64 = 24 * 3600 * 1000;
    let mut t = Fields::new("options.timeouts", value)?;
    let request = t.integer("requestMs", 1, ONE_DAY_MS)?;
    let total = t.integer("totalMs", 1, ONE_DAY_MS)?;
    t.finish()?;
    Ok(CallTimeouts {
        request: request.map(Duration::from_millis),
        total: total.map(Duration::from_millis),
    })
}

/// Ids that travel in a query string: non-empty, printable ASCII, bounded.
fn check_id(name: &str, id: &str) -> std::result::Result<(), String> {
    if id.is_empty() || id.len() > 256 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{name} must be 1 to 256 printable ASCII characters without spaces"
        ));
    }
    Ok(())
}

fn check_top_level(
    endpoint: Endpoint,
    body: &mut Map<String, Value>,
) -> std::result::Result<(), String> {
    let allowed = endpoint.allowed_keys();
    if let Some(unknown) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "unknown key {unknown} (a {} request has {} and options)",
            endpoint.path(),
            allowed.join(", ")
        ));
    }
    for key in ["query", "meta", "identityMap"] {
        if let Some(v) = body.get(key) {
            if !v.is_object() {
                return Err(format!("{key} must be an object, not {}", type_name(v)));
            }
        }
    }
    match endpoint {
        Endpoint::Interact => match body.get_mut("event") {
            None | Some(Value::Null) => return Err("event is required".into()),
            Some(event) => fill_event("event", event)?,
        },
        Endpoint::Collect => match body.get_mut("events") {
            None | Some(Value::Null) => return Err("events is required".into()),
            Some(Value::Array(events)) if events.is_empty() => {
                return Err("events must not be empty".into())
            }
            Some(Value::Array(events)) => {
                for (i, event) in events.iter_mut().enumerate() {
                    fill_event(&format!("events[{i}]"), event)?;
                }
            }
            Some(other) => {
                return Err(format!("events must be an array, not {}", type_name(other)))
            }
        },
        Endpoint::Consent => check_consent(body.get("consent"))?,
    }
    if let Some(meta) = body.get_mut("meta") {
        check_meta(meta)?;
    }
    Ok(())
}

/// `consent` of a set-consent body: `[{"standard", "version", "value"}]` in
/// Adobe 1.0, Adobe 2.0 or IAB TCF 2.0 (edge-api.md §2.6).
fn check_consent(consent: Option<&Value>) -> std::result::Result<(), String> {
    let items = match consent {
        None | Some(Value::Null) => return Err("consent is required".into()),
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(_) => return Err("consent must be a non-empty array".into()),
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("consent[{i}]");
        let standard = item["standard"].as_str();
        let version = item["version"].as_str();
        let value = &item["value"];
        match (standard, version) {
            (Some("Adobe"), Some("1.0")) => {
                if !value["general"].is_string() {
                    return Err(format!(
                        "{path}.value.general must be in, out, pending or not_provided"
                    ));
                }
            }
            (Some("Adobe"), Some("2.0")) => {
                if !value.is_object() {
                    return Err(format!(
                        "{path}.value must be an object of Adobe 2.0 consent"
                    ));
                }
            }
            (Some("IAB TCF"), Some("2.0")) => {
                if value.as_str().is_none_or(str::is_empty) {
                    return Err(format!("{path}.value must be a non-empty TC string"));
                }
            }
            _ => {
                return Err(format!(
                    "{path} must have standard and version \"Adobe\" 1.0 or 2.0, or \"IAB TCF\" 2.0"
                ))
            }
        }
    }
    Ok(())
}

/// Gives an event an `xdm` with `_id` and `timestamp` when it lacks them.
fn fill_event(path: &str, event: &mut Value) -> std::result::Result<(), String> {
    let Value::Object(event) = event else {
        return Err(format!(
            "{path} must be an object, not {}",
            type_name(event)
        ));
    };
    let xdm = event
        .entry("xdm")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(xdm) = xdm else {
        return Err(format!(
            "{path}.xdm must be an object, not {}",
            type_name(xdm)
        ));
    };
    if xdm.get("_id").is_none_or(Value::is_null) {
        xdm.insert("_id".into(), Value::String(ids::uuid_v4()));
    }
    if xdm.get("timestamp").is_none_or(Value::is_null) {
        xdm.insert("timestamp".into(), Value::String(ids::now_rfc3339()));
    }
    if let Some(data) = event.get("data") {
        if !data.is_object() {
            return Err(format!(
                "{path}.data must be an object, not {}",
                type_name(data)
            ));
        }
    }
    Ok(())
}

/// Removes `meta.konductorConfig.streaming` (this client reads whole JSON
/// bodies) and checks the shape of `meta.state.entries`.
fn check_meta(meta: &mut Value) -> std::result::Result<(), String> {
    let Value::Object(meta) = meta else {
        return Ok(());
    };
    if let Some(Value::Object(konductor)) = meta.get_mut("konductorConfig") {
        konductor.remove("streaming");
        if konductor.is_empty() {
            meta.remove("konductorConfig");
        }
    }
    if let Some(state) = meta.get("state") {
        let Value::Object(state) = state else {
            return Err(format!(
                "meta.state must be an object, not {}",
                type_name(state)
            ));
        };
        if let Some(entries) = state.get("entries") {
            let Value::Array(entries) = entries else {
                return Err("meta.state.entries must be an array".into());
            };
            for (i, e) in entries.iter().enumerate() {
                if !e.get("key").is_some_and(Value::is_string) {
                    return Err(format!("meta.state.entries[{i}].key must be a string"));
                }
            }
        }
    }
    Ok(())
}

/// [`merge_state`] on an encoded body, which has no `meta` (the fast path
/// takes none): the map path appends `meta` last, holding just the entries.
fn append_state(text: &mut Vec<u8>, entries: &[StateEntry]) {
    text.pop(); // the closing brace
    text.extend_from_slice(b",\"meta\":{\"state\":{\"entries\":[");
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        text.extend_from_slice(b"{\"key\":");
        serde_json::to_writer(&mut *text, &entry.key).expect("a str always serialises");
        if let Some(value) = &entry.value {
            text.extend_from_slice(b",\"value\":");
            serde_json::to_writer(&mut *text, value).expect("a str always serialises");
        }
        text.push(b'}');
    }
    text.extend_from_slice(b"]}}}");
}

/// Adds `entries` to `meta.state.entries`, skipping keys the caller already put there.
fn merge_state(body: &mut Map<String, Value>, entries: &[StateEntry]) {
    let meta = body
        .entry("meta")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else { return };
    let state = meta
        .entry("state")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(state) = state else { return };
    let list = state
        .entry("entries")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(list) = list else { return };
    let callers: Vec<String> = list
        .iter()
        .filter_map(|e| e.get("key").and_then(Value::as_str).map(str::to_string))
        .collect();
    for entry in entries {
        if !callers.contains(&entry.key) {
            list.push(entry.to_json());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoint_tables_index_by_the_discriminant() {
        for (i, endpoint) in Endpoint::ALL.into_iter().enumerate() {
            assert_eq!(endpoint as usize, i, "{endpoint:?}");
        }
    }

    fn body_of(p: &Prepared) -> Value {
        serde_json::from_slice(&p.body).unwrap()
    }

    /// The fast path of `from_json` against the map path, on `text`:
    /// whether it was taken. Generated ids and timestamps are copied from
    /// the fast body into the map's before the bytes are compared.
    fn same_as_map_path(text: &str) -> bool {
        let stored = [
            StateEntry {
                key: "kndctr_X_identity".into(),
                value: Some("Ci\"Y\u{1}".into()),
            },
            StateEntry {
                key: "k2".into(),
                value: None,
            },
        ];
        same_with_state(text, &[]) && same_with_state(text, &stored)
    }

    fn same_with_state(text: &str, stored: &[StateEntry]) -> bool {
        let Some(fast) = Draft::from_json_fast(text, &mut None) else {
            return false;
        };
        let slow = serde_json::from_str::<Value>(text)
            .map_err(|e| Error::new(ErrorKind::InvalidJson, e.to_string()))
            .and_then(|v| Draft::from_value(Endpoint::Interact, v));
        let (fast, mut slow) = match (fast, slow) {
            (Ok(f), Ok(s)) => (f, s),
            (Err(f), Err(s)) => {
                assert_eq!((f.kind, f.message), (s.kind, s.message), "{text}");
                return true;
            }
            (f, s) => panic!("{text}: fast {f:?}, map {s:?}"),
        };
        assert!(matches!(fast.body, Body::Encoded { .. }));
        assert_eq!(fast.has_own_identity(), slow.has_own_identity(), "{text}");
        assert_eq!(fast.visitor, slow.visitor);
        assert_eq!(fast.timeouts, slow.timeouts);
        assert_eq!(fast.datastream_override, slow.datastream_override);
        if text.contains("requestId") {
            assert_eq!(fast.request_id, slow.request_id);
        }
        let fast_body = fast.finish(stored).unwrap().body;
        let generated: Value = serde_json::from_slice(&fast_body).unwrap();
        let given: Value = serde_json::from_str(text).unwrap();
        if let Body::Map(map) = &mut slow.body {
            for key in ["_id", "timestamp"] {
                let event = given
                    .as_object()
                    .and_then(|o| o.iter().find(|(k, _)| k.as_str() == "event"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                if event["xdm"][key].is_null() {
                    map["event"]["xdm"][key] = generated["event"]["xdm"][key].clone();
                }
            }
        }
        let slow_body = slow.finish(stored).unwrap().body;
        assert_eq!(
            String::from_utf8(fast_body).unwrap(),
            String::from_utf8(slow_body).unwrap(),
            "{text}"
        );
        true
    }

    #[test]
    fn the_fast_path_encodes_what_the_map_path_encodes() {
        let taken = [
            r#"{"event": {}}"#,
            r#"{"event": {"xdm": {}}}"#,
            r#"{"event": {"xdm": {"_id": null, "a": 1, "timestamp": null}, "data": {"x": [1.50, 2e3, -3]}}}"#,
            r#"{"event": {"xdm": {"timestamp": "t", "identityMap": {"ECID": [{"id": "1"}]}}}}"#,
            r#"{"event": {"xdm": {"identityMap": {"FPID": [ ], "ECID": []}}}}"#,
            r#"{"event": {"xdm": {"_id": 7, "identityMap": 3}}}"#,
            r#"{"options": {"requestId": "r-1"}, "event": {}, "query": {"identity": {"fetch": ["ECID"]}}}"#,
            r#"{"event": {}, "options": {"requestId": "r-2"}, "query": {}}"#,
            r#"{"event": {}, "query": {}, "options": null}"#,
            r#"{"options": {"timeouts": {"requestMs": 250}, "locationHint": "or2", "headers": {"User-Agent": "x"}}, "event": {"data": {}}}"#,
            r#" { "ev\u0065nt" : { "x\"y" : "caf\u00e9 \ud83d\ude00 \/" , "data" : { } } } "#,
            r#"{"options": {"retries": 1}, "event": {}}"#,
        ];
        for text in taken {
            assert!(same_as_map_path(text), "not taken: {text}");
        }
        for name in [
            "request-interact-v2-pageview.json",
            "request-interact-v2-target-personalization.json",
        ] {
            let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(path).unwrap();
            same_as_map_path(&text);
        }
        let aside = [
            r#"{"event": {}, "meta": {}}"#,
            r#"{"event": null}"#,
            r#"{"event": []}"#,
            r#"{"event": {"xdm": 1}}"#,
            r#"{"event": {"data": 1}}"#,
            r#"{"event": {}, "event": {}}"#,
            r#"{"event": {"a": 1, "a": 2}}"#,
            r#"{"event": {}, "query": 1}"#,
            r#"{"event": {}, "evnt": {}}"#,
            r#"{}"#,
            r#"[1]"#,
            r#"{"event": {}"#,
        ];
        for text in aside {
            assert!(!same_as_map_path(text), "taken: {text}");
        }
    }

    #[test]
    fn interact_fills_id_and_timestamp_but_keeps_given_ones() {
        let d = Draft::from_value(Endpoint::Interact, json!({"event": {}})).unwrap();
        let b = body_of(&d.finish(&[]).unwrap());
        assert_eq!(b["event"]["xdm"]["_id"].as_str().unwrap().len(), 36);
        assert!(b["event"]["xdm"]["timestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z'));

        let given =
            json!({"event": {"xdm": {"_id": "mine", "timestamp": "2021-08-09T14:09:20.859Z"}}});
        let b = body_of(
            &Draft::from_value(Endpoint::Interact, given)
                .unwrap()
                .finish(&[])
                .unwrap(),
        );
        assert_eq!(b["event"]["xdm"]["_id"], "mine");
        assert_eq!(b["event"]["xdm"]["timestamp"], "2021-08-09T14:09:20.859Z");
    }

    #[test]
    fn options_are_taken_out_and_validated() {
        let d = Draft::from_value(
            Endpoint::Interact,
            json!({"event": {}, "options": {"requestId": "r-1", "datastreamId": "other"}}),
        )
        .unwrap();
        assert_eq!(d.request_id, "r-1");
        assert_eq!(d.datastream_override.as_deref(), Some("other"));
        assert!(body_of(&d.finish(&[]).unwrap()).get("options").is_none());

        let e = Draft::from_value(
            Endpoint::Interact,
            json!({"event": {}, "options": {"retries": 1}}),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains("options.retries"), "{}", e.message);
    }

    #[test]
    fn per_call_timeouts_are_read_from_options() {
        let d = Draft::from_value(
            Endpoint::Interact,
            json!({"event": {}, "options": {"timeouts": {"requestMs": 250, "totalMs": 900}}}),
        )
        .unwrap();
        assert_eq!(d.timeouts.request, Some(Duration::from_millis(250)));
        assert_eq!(d.timeouts.total, Some(Duration::from_millis(900)));
        let d = Draft::from_value(Endpoint::Interact, json!({"event": {}})).unwrap();
        assert_eq!(d.timeouts, CallTimeouts::default());
    }

    #[test]
    fn callers_entries_win_key_by_key() {
        let req =
            json!({"event": {}, "meta": {"state": {"entries": [{"key": "a", "value": "caller"}]}}});
        let stored = [
            StateEntry {
                key: "a".into(),
                value: Some("stored".into()),
            },
            StateEntry {
                key: "b".into(),
                value: Some("stored".into()),
            },
        ];
        let b = body_of(
            &Draft::from_value(Endpoint::Interact, req)
                .unwrap()
                .finish(&stored)
                .unwrap(),
        );
        assert_eq!(
            b["meta"]["state"]["entries"],
            json!([{"key": "a", "value": "caller"}, {"key": "b", "value": "stored"}])
        );
    }

    #[test]
    fn explicit_state_replaces_the_clients() {
        let req =
            json!({"event": {}, "options": {"state": [{"key": "v", "value": "1", "maxAge": 10}]}});
        let stored = [StateEntry {
            key: "b".into(),
            value: Some("stored".into()),
        }];
        let b = body_of(
            &Draft::from_value(Endpoint::Interact, req)
                .unwrap()
                .finish(&stored)
                .unwrap(),
        );
        assert_eq!(
            b["meta"]["state"]["entries"],
            json!([{"key": "v", "value": "1"}])
        );
    }

    #[test]
    fn bad_shapes_are_invalid_requests() {
        for (endpoint, req, needle) in [
            (Endpoint::Interact, json!({}), "event is required"),
            (
                Endpoint::Interact,
                json!({"event": []}),
                "event must be an object",
            ),
            (
                Endpoint::Interact,
                json!({"event": {"xdm": 1}}),
                "event.xdm must be an object",
            ),
            (Endpoint::Interact, json!({"evnt": {}}), "unknown key evnt"),
            (Endpoint::Interact, json!([1]), "JSON object"),
            (
                Endpoint::Collect,
                json!({"events": []}),
                "events must not be empty",
            ),
            (
                Endpoint::Collect,
                json!({"events": [{}, 3]}),
                "events[1] must be an object",
            ),
            (
                Endpoint::Collect,
                json!({"events": [{}], "meta": 2}),
                "meta must be an object",
            ),
        ] {
            let e = Draft::from_value(endpoint, req).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
            assert!(
                e.message.contains(needle),
                "{} does not contain {needle}",
                e.message
            );
        }
    }

    #[test]
    fn streaming_is_removed_and_size_is_checked() {
        let req =
            json!({"event": {}, "meta": {"konductorConfig": {"streaming": {"enabled": true}}}});
        let b = body_of(
            &Draft::from_value(Endpoint::Interact, req)
                .unwrap()
                .finish(&[])
                .unwrap(),
        );
        assert!(b.get("meta").unwrap().get("konductorConfig").is_none());

        let big = "x".repeat(MAX_BODY_BYTES);
        let e = Draft::from_value(Endpoint::Interact, json!({"event": {"data": {"big": big}}}))
            .unwrap()
            .finish(&[])
            .unwrap_err();
        assert!(e.message.contains("at most 65536"), "{}", e.message);

        let huge = format!(
            "{{\"event\": {{\"data\": {{\"x\": \"{}\"}}}}}}",
            "y".repeat(MAX_REQUEST_JSON_BYTES)
        );
        assert_eq!(
            Draft::from_json(Endpoint::Interact, &huge)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            Draft::from_json(Endpoint::Interact, "{").unwrap_err().kind,
            ErrorKind::InvalidJson
        );
    }
}

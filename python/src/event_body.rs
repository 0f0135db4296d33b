//! The body of `interact(event)` written while the event is converted:
//! `{"event":…}` byte for byte as the core's fast path would write it from
//! the converted text (`copy_event` in src/request.rs), `xdm._id` and
//! `xdm.timestamp` filled by the core's own [`EventIds`]. The core then
//! sends it as it is ([`aep_edge::Draft::from_event_body`]) instead of
//! scanning the text again: the event is walked once, the body written once.
//!
//! The rules are `copy_event`'s, restated over the converter's stream:
//! - the event must be an object, and its `xdm` and `data`, when present;
//! - in the xdm, a null `_id` or `timestamp` is filled in its place, and
//!   a missing one appended at its end; an event without xdm gets
//!   `"xdm":{"_id":…,"timestamp":…}` at its end;
//! - the call has its own identity when `xdm.identityMap.ECID` or `.FPID`
//!   is a non-empty list.
//!
//! Anything else (the event, its xdm or data not an object, a `Mapping`
//! that is not a dict, nesting deeper than [`MAX_NESTING`], a body near the
//! 1 MiB limit) is declined: the caller then takes the text path, whose core
//! decides as before. `tests/test_plain_call.py` holds both paths to the
//! same bytes on the wire.

use crate::convert::{self, Sink, TextSink};
use aep_edge::request::{Draft, Endpoint, EventIds, MAX_REQUEST_JSON_BYTES};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// Containers deeper than this are declined (far below the core scanner's
/// own limit of 100, and serde_json's 128: the text path then tells).
const MAX_NESTING: usize = 32;

/// Room kept below the 1 MiB request limit for what this writes beyond the
/// text the text path checks (ids, timestamps): a body this close to the
/// limit takes the text path, which decides exactly.
const LIMIT_SLACK: usize = 256;

/// The request body `{"event":…}` and what the core asks of it.
pub(crate) struct EventBody {
    pub text: String,
    /// `xdm.identityMap` holds an ECID or FPID (no identity wait).
    pub own_identity: bool,
}

/// How `interact(event)` hands its request to the core.
pub(crate) enum EventRequest {
    /// The body itself (`Client::interact_event_body_facts`).
    Body(EventBody),
    /// Request text for the core's text path, where [`event_body`] declines.
    Text(String),
}

/// The request of `interact(event)`: its body when this module can write
/// it, else its text.
pub(crate) fn event_request(event: &Bound<'_, PyAny>) -> PyResult<EventRequest> {
    Ok(match event_body(event)? {
        Some(body) => EventRequest::Body(body),
        None => EventRequest::Text(request_text(event)?),
    })
}

/// The request `{"event": event}` as the converter writes it.
fn request_text(event: &Bound<'_, PyAny>) -> PyResult<String> {
    let mut text = String::with_capacity(512);
    text.push_str("{\"event\":");
    // Paths in errors start at "event", as for the whole request.
    convert::to_text(event, "event", &mut text)?;
    text.push('}');
    Ok(text)
}

/// `{"event": event}` written as the core sends it, or `None` when the
/// event is one for the text path (see the module's comment). Conversion
/// errors are raised as the text path raises them (the same converter).
pub(crate) fn event_body(event: &Bound<'_, PyAny>) -> PyResult<Option<EventBody>> {
    let mut text = String::with_capacity(512);
    text.push_str("{\"event\":");
    let mut shaper = Shaper::new(TextSink::new(&mut text));
    // Paths in errors start at "event", as for the whole request.
    convert::write(event, "event", &mut shaper)?;
    let (declined, own_identity) = (shaper.declined, shaper.own_identity);
    drop(shaper);
    text.push('}');
    if declined || text.len() > MAX_REQUEST_JSON_BYTES - LIMIT_SLACK {
        return Ok(None);
    }
    Ok(Some(EventBody { text, own_identity }))
}

/// The member whose value comes next, when it is one the rules watch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    Other,
    /// `event.xdm`, `event.data`: must be objects.
    Xdm,
    Data,
    /// `xdm._id`, `xdm.timestamp`: filled when null.
    Id,
    Timestamp,
    /// `xdm.identityMap`, and its `ECID` or `FPID` list.
    IdentityMap,
    DeviceIds,
}

/// What the member named `name` is to the rules, in an object at `depth`
/// whose keys are watched.
fn watched(depth: usize, name: &[u8]) -> Next {
    match (depth, name) {
        (1, b"xdm") => Next::Xdm,
        (1, b"data") => Next::Data,
        (2, b"_id") => Next::Id,
        (2, b"timestamp") => Next::Timestamp,
        (2, b"identityMap") => Next::IdentityMap,
        (3, b"ECID" | b"FPID") => Next::DeviceIds,
        _ => Next::Other,
    }
}

/// What a value is, as far as the rules care.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Scalar,
    Object,
    Array,
}

/// A [`TextSink`] that applies the rules as the converter writes.
struct Shaper<'a> {
    inner: TextSink<'a>,
    /// Containers open: the event is at 1, its xdm at 2, and so on.
    depth: usize,
    next: Next,
    /// The container open at depth 2 is `event.xdm`; at 3, its identityMap;
    /// at 4, that map's ECID or FPID list.
    in_xdm: bool,
    in_identity_map: bool,
    in_device_ids: bool,
    has_xdm: bool,
    has_id: bool,
    has_timestamp: bool,
    /// The ECID or FPID list being read has an item.
    device_id: bool,
    own_identity: bool,
    declined: bool,
}

impl<'a> Shaper<'a> {
    fn new(inner: TextSink<'a>) -> Shaper<'a> {
        Shaper {
            inner,
            depth: 0,
            next: Next::Other,
            in_xdm: false,
            in_identity_map: false,
            in_device_ids: false,
            has_xdm: false,
            has_id: false,
            has_timestamp: false,
            device_id: false,
            own_identity: false,
            declined: false,
        }
    }

    /// Whether the keys of the open object are among those watched.
    fn watches_keys(&self) -> bool {
        match self.depth {
            1 => true,
            2 => self.in_xdm,
            3 => self.in_identity_map,
            _ => false,
        }
    }

    /// A value starts: checks it against the member it is the value of, and
    /// opens what the rules follow inside it. `true` when the shaper wrote
    /// the value itself (a filled `_id` or `timestamp`).
    fn value(&mut self, kind: Kind) -> bool {
        let next = std::mem::replace(&mut self.next, Next::Other);
        match (self.depth, next) {
            (0, _) if kind != Kind::Object => self.declined = true,
            (1, Next::Xdm) if kind == Kind::Object => self.in_xdm = true,
            (1, Next::Xdm | Next::Data) if kind != Kind::Object => self.declined = true,
            (2, Next::Id) if kind == Kind::Null => {
                // SAFETY: a quoted UUID, ASCII.
                unsafe { self.inner.raw_value(EventIds::push_id) };
                return true;
            }
            (2, Next::Timestamp) if kind == Kind::Null => {
                // SAFETY: a quoted RFC 3339 time, ASCII.
                unsafe { self.inner.raw_value(EventIds::push_timestamp) };
                return true;
            }
            (2, Next::IdentityMap) => {
                self.in_identity_map = kind == Kind::Object;
                self.device_id = false;
                self.own_identity = false;
            }
            (3, Next::DeviceIds) => self.in_device_ids = kind == Kind::Array,
            (4, _) if self.in_device_ids => self.device_id = true,
            _ => {}
        }
        false
    }

    /// The member whose key was just written: `next` is what its value is to
    /// the rules.
    fn watch(&mut self, next: Next) {
        match next {
            Next::Xdm => self.has_xdm = true,
            Next::Id => self.has_id = true,
            Next::Timestamp => self.has_timestamp = true,
            _ => {}
        }
        self.next = next;
    }

    fn open(&mut self, kind: Kind) {
        self.value(kind);
        self.depth += 1;
        if self.depth > MAX_NESTING {
            self.declined = true;
        }
    }

    fn close(&mut self) {
        self.depth -= 1;
    }
}

impl Sink for Shaper<'_> {
    fn null(&mut self) {
        if !self.value(Kind::Null) {
            self.inner.null();
        }
    }
    fn bool(&mut self, b: bool) {
        self.value(Kind::Scalar);
        self.inner.bool(b);
    }
    fn i64(&mut self, i: i64) {
        self.value(Kind::Scalar);
        self.inner.i64(i);
    }
    fn u64(&mut self, u: u64) {
        self.value(Kind::Scalar);
        self.inner.u64(u);
    }
    fn f64(&mut self, x: f64) {
        self.value(Kind::Scalar);
        self.inner.f64(x);
    }
    fn str(&mut self, s: &str) {
        self.value(Kind::Scalar);
        self.inner.str(s);
    }
    fn begin_object(&mut self, len: usize) {
        self.open(Kind::Object);
        self.inner.begin_object(len);
    }
    fn key(&mut self, key: &str) {
        if self.watches_keys() {
            self.watch(watched(self.depth, key.as_bytes()));
        }
        self.inner.key(key);
    }
    fn known_key(&mut self, key: &Bound<'_, PyString>) -> bool {
        if !self.watches_keys() {
            return self.inner.known_key(key);
        }
        // Told by its JSON text: a watched name has nothing to escape, so
        // the text between the quotes is the name exactly when it is one.
        let depth = self.depth;
        let mut next = Next::Other;
        let written = self.inner.known_key_seen(key, |json| {
            next = watched(
                depth,
                json.get(1..json.len().saturating_sub(1))
                    .unwrap_or_default(),
            );
        });
        if written {
            self.watch(next);
        }
        written
    }
    fn not_a_dict(&mut self) {
        self.declined = true;
    }
    fn end_object(&mut self) {
        match self.depth {
            1 if !self.has_xdm => {
                let comma = self.inner.has_member();
                // SAFETY: a comma and the member `"xdm":{…}` of ids, ASCII.
                unsafe {
                    self.inner.raw(|out| {
                        if comma {
                            out.push(b',');
                        }
                        EventIds::push_xdm(out);
                    })
                };
            }
            2 if self.in_xdm => {
                self.in_xdm = false;
                let (id, timestamp) = (!self.has_id, !self.has_timestamp);
                let comma = self.inner.has_member();
                // SAFETY: the members `_id` and `timestamp`, ASCII.
                unsafe {
                    self.inner
                        .raw(|out| EventIds::push_missing(out, id, timestamp, comma))
                };
            }
            3 if self.in_identity_map => {
                self.in_identity_map = false;
                self.own_identity = self.device_id;
            }
            _ => {}
        }
        self.close();
        self.inner.end_object();
    }
    fn begin_array(&mut self, len: usize) {
        self.open(Kind::Array);
        self.inner.begin_array(len);
    }
    fn end_array(&mut self) {
        if self.depth == 4 {
            self.in_device_ids = false;
        }
        self.close();
        self.inner.end_array();
    }
}

/// A body and whether it carries its own identity, for Python.
type BodyOf<'py> = (Bound<'py, PyBytes>, bool);

/// For `tests/test_event_body.py`, which holds this module to the core:
/// `(shaped, reference)` for `event`. `shaped` is the body `interact(event)`
/// sends ([`event_request`]), `(body, own_identity)`, or `None` where it
/// sends text instead;
/// `reference` is what the core's text path makes of the converter's text
/// `{"event": …}` (`Draft::from_json`, then the body it would send with no
/// state), or the message of its error.
#[pyfunction]
pub fn _event_bodies<'py>(
    py: Python<'py>,
    event: &Bound<'py, PyAny>,
) -> PyResult<(Option<BodyOf<'py>>, Bound<'py, PyAny>)> {
    let shaped = match event_request(event)? {
        EventRequest::Body(body) => {
            Some((PyBytes::new(py, body.text.as_bytes()), body.own_identity))
        }
        EventRequest::Text(_) => None,
    };
    let text = request_text(event)?;
    let reference = Draft::from_json(Endpoint::Interact, &text).and_then(|draft| {
        let own_identity = draft.has_own_identity();
        Ok((draft.finish(&[])?.body, own_identity))
    });
    let reference = match reference {
        Ok((body, own_identity)) => (PyBytes::new(py, &body), own_identity)
            .into_pyobject(py)?
            .into_any(),
        Err(error) => PyString::new(py, &error.message).into_any(),
    };
    Ok((shaped, reference))
}

//! Recording of the Edge and IMS requests received, for tests to inspect.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::http::Request;

/// One request as the emulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The status sent back; 0 when the connection was reset instead.
    pub response_status: u16,
}

impl RecordedRequest {
    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The control endpoint's form: `{method, path, query, headers, body, status}` with the
    /// body as JSON when it parses, else as a string.
    pub(crate) fn to_control_json(&self) -> Value {
        let pairs = |list: &[(String, String)]| {
            let mut map = Map::new();
            for (k, v) in list {
                // Repeated names are joined as HTTP allows for most headers.
                let joined = match map.get(k).and_then(Value::as_str) {
                    Some(prev) => format!("{prev}, {v}"),
                    None => v.clone(),
                };
                map.insert(k.clone(), Value::String(joined));
            }
            Value::Object(map)
        };
        let body = self
            .json()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&self.body).into_owned()));
        serde_json::json!({
            "method": self.method,
            "path": self.path,
            "query": pairs(&self.query),
            "headers": pairs(&self.headers),
            "body": body,
            "status": self.response_status,
        })
    }
}

/// The status of a recorded request, filled in once the answer is known. Shared with the
/// connection so the record can be taken at arrival (keeping arrival order) and completed
/// before the response leaves (so a client that has its answer sees the status).
pub(crate) type StatusSlot = Arc<AtomicU16>;

pub(crate) struct Recorder {
    limit: usize,
    entries: Mutex<VecDeque<(RecordedRequest, StatusSlot)>>,
}

impl Recorder {
    pub fn new(limit: usize) -> Recorder {
        Recorder {
            limit,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    pub fn record(&self, req: &Request) -> StatusSlot {
        let slot = StatusSlot::default();
        if self.limit == 0 {
            return slot;
        }
        let entry = RecordedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            response_status: 0,
        };
        let mut entries = self.lock();
        // Oldest first out, so a long benchmark run cannot grow memory without bound.
        while entries.len() >= self.limit {
            entries.pop_front();
        }
        entries.push_back((entry, slot.clone()));
        slot
    }

    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock()
            .iter()
            .map(|(req, slot)| RecordedRequest {
                response_status: slot.load(Ordering::Acquire),
                ..req.clone()
            })
            .collect()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<(RecordedRequest, StatusSlot)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

//! Recording of the Edge and IMS requests received, and of what was answered, for tests
//! to inspect and for the live view.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::http::{Request, Response};

/// Answers (headers and body) are kept for this many of the latest requests; older
/// records keep only their status, so a long benchmark run holds little memory.
const KEEP_ANSWERS: usize = 1000;

/// One request as the emulator received it, and its answer.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Position in arrival order since the emulator started, from 1 (not reset by
    /// [`crate::Emulator::reset`]).
    pub seq: u64,
    /// Arrival time, milliseconds since the Unix epoch.
    pub received_ms: u64,
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The status sent back; 0 while unanswered and when the connection was reset instead.
    pub response_status: u16,
    /// The answer's headers (without Content-Length and Connection); empty for answers
    /// older than the latest 1000.
    pub response_headers: Vec<(String, String)>,
    /// The answer's body; empty for answers older than the latest 1000.
    pub response_body: Vec<u8>,
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

    /// The control endpoint's form: `{seq, receivedMs, method, path, query, headers, body,
    /// status, response: {status, headers, body}}`, bodies as JSON when they parse, else
    /// as strings.
    pub(crate) fn to_control_json(&self) -> Value {
        serde_json::json!({
            "seq": self.seq,
            "receivedMs": self.received_ms,
            "method": self.method,
            "path": self.path,
            "query": pairs(&self.query),
            "headers": pairs(&self.headers),
            "body": body_json(&self.body),
            "status": self.response_status,
            "response": {
                "status": self.response_status,
                "headers": pairs(&self.response_headers),
                "body": body_json(&self.response_body),
            },
        })
    }
}

fn pairs(list: &[(String, String)]) -> Value {
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
}

fn body_json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// What was answered to one recorded request.
#[derive(Default)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The answer of a recorded request, filled in once known. Shared with the connection so
/// the record can be taken at arrival (keeping arrival order) and completed before the
/// response leaves (so a client that has its answer sees it). Each slot has its own lock:
/// no lock shared by connections is held while an answer is stored or written.
#[derive(Default)]
pub(crate) struct AnswerSlot(Mutex<Answer>);

impl AnswerSlot {
    pub fn answered(&self, resp: &Response) {
        let mut answer = lock(&self.0);
        answer.status = resp.status;
        answer.headers = resp.headers.clone();
        answer.body = resp.body.clone();
    }

    /// The connection was reset: status 0, nothing sent.
    pub fn reset(&self) {
        *lock(&self.0) = Answer::default();
    }

    fn forget_content(&self) {
        let mut answer = lock(&self.0);
        answer.headers = Vec::new();
        answer.body = Vec::new();
    }
}

pub(crate) struct Recorder {
    limit: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    next_seq: u64,
    list: VecDeque<(RecordedRequest, Arc<AnswerSlot>)>,
}

impl Recorder {
    pub fn new(limit: usize) -> Recorder {
        Recorder {
            limit,
            inner: Mutex::new(Entries {
                next_seq: 1,
                list: VecDeque::new(),
            }),
        }
    }

    /// Records a request at arrival; `None` when nothing is recorded (`max_recorded` 0), so
    /// the answer need not be copied either.
    pub fn record(&self, req: &Request) -> Option<Arc<AnswerSlot>> {
        if self.limit == 0 {
            return None;
        }
        let slot = Arc::new(AnswerSlot::default());
        let received_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut entry = RecordedRequest {
            seq: 0,
            received_ms,
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            response_status: 0,
            response_headers: Vec::new(),
            response_body: Vec::new(),
        };
        let mut inner = self.lock();
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        // Oldest first out, so a long benchmark run cannot grow memory without bound.
        while inner.list.len() >= self.limit {
            inner.list.pop_front();
        }
        inner.list.push_back((entry, slot.clone()));
        if let Some(old) = inner.list.len().checked_sub(KEEP_ANSWERS + 1) {
            inner.list[old].1.forget_content();
        }
        Some(slot)
    }

    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.since(0)
    }

    /// The records after `seq` (all with 0), in arrival order.
    pub fn since(&self, seq: u64) -> Vec<RecordedRequest> {
        let inner = self.lock();
        let start = inner.list.partition_point(|(r, _)| r.seq <= seq);
        Self::copy(&inner, start)
    }

    /// The latest `n` records and how many are recorded, copying no more than those.
    pub fn latest(&self, n: usize) -> (Vec<RecordedRequest>, usize) {
        let inner = self.lock();
        let total = inner.list.len();
        (Self::copy(&inner, total.saturating_sub(n)), total)
    }

    fn copy(inner: &Entries, start: usize) -> Vec<RecordedRequest> {
        inner
            .list
            .range(start..)
            .map(|(req, slot)| {
                let answer = lock(&slot.0);
                RecordedRequest {
                    response_status: answer.status,
                    response_headers: answer.headers.clone(),
                    response_body: answer.body.clone(),
                    ..req.clone()
                }
            })
            .collect()
    }

    pub fn clear(&self) {
        self.lock().list.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        lock(&self.inner)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves still-valid records.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

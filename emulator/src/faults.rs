//! Injected faults: what the next matching Edge or IMS request gets instead of (or on top
//! of) its normal answer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::Value;

/// A fault for the next `count` requests whose path contains `path_contains`.
/// See the crate docs for how the fields combine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    /// How many matching requests it applies to (0 is treated as 1).
    pub count: u32,
    /// Only requests whose path contains this.
    pub path_contains: Option<String>,
    /// Sleep this long before answering (then answer normally, or with `status`).
    pub delay_ms: u64,
    /// Answer with this status; the body is `body` if given, else a problem+json.
    pub status: Option<u16>,
    /// `Retry-After` header value, verbatim (seconds or an HTTP-date).
    pub retry_after: Option<String>,
    pub body: Option<String>,
    pub content_type: Option<String>,
    /// `Location` header value, for redirect statuses.
    pub location: Option<String>,
    /// More headers set on whatever is sent (a recorded answer's `x-adobe-edge`, ...),
    /// in order; not the framing headers (`content-length`, `transfer-encoding`, `connection`).
    pub headers: Vec<(String, String)>,
    /// Read the request, then drop the connection with a TCP RST and no response.
    pub reset: bool,
    /// 200 with a Content-Length larger than the bytes sent, then close.
    pub truncate: bool,
    /// 200, `Content-Type: application/json`, a body that is not JSON.
    pub malformed: bool,
    /// Refuse the events with these `xdm._id`s: the fault applies only to a request whose
    /// events (`event`, or `events[]`) include one of them, and answers it with
    /// `reject_status`. Requests without a named event pass untouched and do not use it up.
    pub reject_event_ids: Vec<String>,
    /// With `reject_event_ids`: 422 (EXEG-0104-422, the default), 400 (EXEG-0102-400) or
    /// 413 (EXEG-0112-413) refuse the whole request; 207 serves it and reports one error
    /// per named event, with its index in the request in `report.eventIndex`.
    pub reject_status: Option<u16>,
}

/// The statuses a rejection fault may answer with.
const REJECT_STATUSES: [u16; 4] = [400, 413, 422, 207];

impl Fault {
    /// Answer the next matching request with `status`.
    pub fn status(status: u16) -> Fault {
        Fault {
            status: Some(status),
            ..Fault::default()
        }
    }

    /// Sleep `ms` before answering the next matching request normally.
    pub fn delay(ms: u64) -> Fault {
        Fault {
            delay_ms: ms,
            ..Fault::default()
        }
    }

    /// Reset the connection of the next matching request.
    pub fn reset() -> Fault {
        Fault {
            reset: true,
            ..Fault::default()
        }
    }

    /// Refuse the events with these `xdm._id`s with `status` (400, 413, 422 or 207; see
    /// [`Fault::reject_event_ids`]).
    pub fn reject_events<S: AsRef<str>>(ids: &[S], status: u16) -> Fault {
        Fault {
            reject_event_ids: ids.iter().map(|s| s.as_ref().to_string()).collect(),
            reject_status: Some(status),
            ..Fault::default()
        }
    }

    /// The status a rejection fault answers with (422 unless set).
    pub fn rejection_status(&self) -> u16 {
        self.reject_status.unwrap_or(422)
    }

    /// Apply to `count` matching requests instead of one.
    pub fn times(mut self, count: u32) -> Fault {
        self.count = count;
        self
    }

    /// Apply only to requests whose path contains `fragment`.
    pub fn on_path(mut self, fragment: &str) -> Fault {
        self.path_contains = Some(fragment.to_string());
        self
    }

    /// Add a `Retry-After` header.
    pub fn with_retry_after(mut self, value: &str) -> Fault {
        self.retry_after = Some(value.to_string());
        self
    }

    /// Add a response header (see [`Fault::headers`]).
    pub fn with_header(mut self, name: &str, value: &str) -> Fault {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Parses one fault object or an array of them, as posted to `/__emulator/faults`
    /// (camelCase keys). Unknown keys are an error, so a typo does not silently inject
    /// nothing.
    pub fn from_json(value: &Value) -> Result<Vec<Fault>, String> {
        match value {
            Value::Array(items) => items.iter().map(Fault::from_object).collect(),
            other => Fault::from_object(other).map(|f| vec![f]),
        }
    }

    fn from_object(value: &Value) -> Result<Fault, String> {
        let obj = value.as_object().ok_or("a fault must be a JSON object")?;
        let mut fault = Fault::default();
        for (key, v) in obj {
            let bad = || format!("fault key '{key}' has the wrong type");
            match key.as_str() {
                "count" => {
                    fault.count = uint(v)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(bad)?
                }
                "pathContains" => fault.path_contains = opt_string(v).ok_or_else(bad)?,
                "delayMs" => fault.delay_ms = uint(v).ok_or_else(bad)?,
                "status" => {
                    fault.status = match v {
                        Value::Null => None,
                        _ => Some(
                            uint(v)
                                .and_then(|n| u16::try_from(n).ok())
                                .filter(|s| (200..=599).contains(s))
                                .ok_or_else(|| {
                                    format!("fault status {v} is not an HTTP status 200..599")
                                })?,
                        ),
                    }
                }
                // Seconds are often written as a number; the header carries them verbatim.
                "retryAfter" => {
                    fault.retry_after = match v {
                        Value::Number(n) => Some(n.to_string()),
                        _ => opt_string(v).ok_or_else(bad)?,
                    }
                }
                // A JSON body may be given as JSON rather than as a string holding JSON.
                "body" => {
                    fault.body = match v {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    }
                }
                "contentType" => fault.content_type = opt_string(v).ok_or_else(bad)?,
                "location" => fault.location = opt_string(v).ok_or_else(bad)?,
                "headers" => fault.headers = headers(v)?,
                "reset" => fault.reset = v.as_bool().ok_or_else(bad)?,
                "truncate" => fault.truncate = v.as_bool().ok_or_else(bad)?,
                "malformed" => fault.malformed = v.as_bool().ok_or_else(bad)?,
                "rejectEventIds" => {
                    fault.reject_event_ids = v
                        .as_array()
                        .and_then(|ids| {
                            ids.iter()
                                .map(|id| id.as_str().filter(|s| !s.is_empty()).map(String::from))
                                .collect::<Option<Vec<String>>>()
                        })
                        .filter(|ids| !ids.is_empty())
                        .ok_or(
                            "fault key 'rejectEventIds' must be a non-empty array of event ids",
                        )?
                }
                "rejectStatus" => {
                    fault.reject_status = Some(
                        uint(v)
                            .and_then(|n| u16::try_from(n).ok())
                            .filter(|s| REJECT_STATUSES.contains(s))
                            .ok_or_else(|| {
                                format!("fault rejectStatus {v} is not one of 400, 413, 422, 207")
                            })?,
                    )
                }
                _ => return Err(format!("unknown fault key '{key}'")),
            }
        }
        fault.check_rejection()?;
        Ok(fault)
    }

    /// A rejection names its events and answers on its own: it combines with `count`,
    /// `pathContains`, `delayMs` and the header fields, not with another kind of answer.
    fn check_rejection(&self) -> Result<(), String> {
        if self.reject_event_ids.is_empty() {
            return match self.reject_status {
                Some(_) => Err("fault key 'rejectStatus' needs 'rejectEventIds'".into()),
                None => Ok(()),
            };
        }
        let others = [
            ("status", self.status.is_some()),
            ("body", self.body.is_some()),
            ("reset", self.reset),
            ("truncate", self.truncate),
            ("malformed", self.malformed),
        ];
        match others.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(format!(
                "fault key '{name}' cannot be combined with 'rejectEventIds' (use 'rejectStatus')"
            )),
            None => Ok(()),
        }
    }

    /// Whether the fault applies to a request for `path` whose events have these ids
    /// (`None` when the request's events were not looked at: no rejection fault queued).
    fn matches(&self, path: &str, event_ids: Option<&[Option<String>]>) -> bool {
        let path_ok = self
            .path_contains
            .as_deref()
            .is_none_or(|fragment| path.contains(fragment));
        if !path_ok {
            return false;
        }
        if self.reject_event_ids.is_empty() {
            return true;
        }
        event_ids.is_some_and(|ids| {
            ids.iter()
                .flatten()
                .any(|id| self.reject_event_ids.contains(id))
        })
    }
}

/// `{"name": "value", ...}`: names are HTTP tokens and not framing headers, values have
/// no control characters, so a fault cannot break the response it rides on.
fn headers(v: &Value) -> Result<Vec<(String, String)>, String> {
    let obj = v
        .as_object()
        .ok_or("fault key 'headers' must be an object of header names to string values")?;
    let mut out = Vec::new();
    for (name, value) in obj {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(format!("fault header name {name:?} is not an HTTP token"));
        }
        let lower = name.to_ascii_lowercase();
        if ["content-length", "transfer-encoding", "connection"].contains(&lower.as_str()) {
            return Err(format!(
                "fault header '{name}' would break the response framing"
            ));
        }
        let value = value
            .as_str()
            .filter(|s| !s.chars().any(|c| c.is_control() && c != '\t'))
            .ok_or_else(|| {
                format!("fault header '{name}' needs a string without control characters")
            })?;
        out.push((name.clone(), value.to_string()));
    }
    Ok(out)
}

fn uint(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn opt_string(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    }
}

/// FIFO queue of faults; each request takes (one use of) the first fault that matches it.
#[derive(Default)]
pub(crate) struct FaultQueue {
    queue: Mutex<VecDeque<(Fault, u32)>>,
    /// Queued faults, and how many of them reject events: read without the lock, so a
    /// request skips the lock when nothing is queued and parses its body for event ids
    /// only while a rejection fault waits.
    queued: AtomicUsize,
    rejecting: AtomicUsize,
}

impl FaultQueue {
    pub fn push(&self, fault: Fault) {
        let uses = fault.count.max(1);
        let mut queue = self.lock();
        queue.push_back((fault, uses));
        self.recount(&queue);
    }

    pub fn clear(&self) {
        let mut queue = self.lock();
        queue.clear();
        self.recount(&queue);
    }

    /// Whether a request must bring its event ids to [`FaultQueue::take`].
    pub fn wants_event_ids(&self) -> bool {
        self.rejecting.load(Ordering::Acquire) > 0
    }

    /// The fault that applies to a request for `path` (with these event ids, when
    /// [`FaultQueue::wants_event_ids`] asked for them), if any, using it up once.
    pub fn take(&self, path: &str, event_ids: Option<&[Option<String>]>) -> Option<Fault> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut queue = self.lock();
        let index = queue.iter().position(|(f, _)| f.matches(path, event_ids))?;
        let (fault, uses) = &mut queue[index];
        *uses -= 1;
        let taken = if *uses == 0 {
            queue.remove(index).map(|(f, _)| f)
        } else {
            Some(fault.clone())
        };
        self.recount(&queue);
        taken
    }

    fn recount(&self, queue: &VecDeque<(Fault, u32)>) {
        let rejecting = queue
            .iter()
            .filter(|(f, _)| !f.reject_event_ids.is_empty())
            .count();
        self.queued.store(queue.len(), Ordering::Release);
        self.rejecting.store(rejecting, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Fault, u32)>> {
        // A panic elsewhere while holding the lock leaves a still-valid queue.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_camel_case_object_and_array() {
        let faults = Fault::from_json(&json!({
            "count": 2, "pathContains": "/interact", "delayMs": 10, "status": 503,
            "retryAfter": 3, "body": {"a": 1}, "contentType": "text/plain",
            "reset": false, "truncate": true, "malformed": false
        }))
        .unwrap();
        assert_eq!(
            faults,
            vec![Fault {
                count: 2,
                path_contains: Some("/interact".into()),
                delay_ms: 10,
                status: Some(503),
                retry_after: Some("3".into()),
                body: Some("{\"a\":1}".into()),
                content_type: Some("text/plain".into()),
                truncate: true,
                ..Fault::default()
            }]
        );
        let two = Fault::from_json(&json!([{"reset": true}, {"status": 429}])).unwrap();
        assert_eq!(two.len(), 2);
        assert!(two[0].reset);
    }

    #[test]
    fn parses_headers_and_refuses_unsafe_ones() {
        let f = &Fault::from_json(&json!({"headers": {"x-adobe-edge": "or2;35"}})).unwrap()[0];
        assert_eq!(f.headers, vec![("x-adobe-edge".into(), "or2;35".into())]);
        for bad in [
            json!({"headers": {"x-a": "b\r\nx-evil: 1"}}),
            json!({"headers": {"bad name": "v"}}),
            json!({"headers": {"Content-Length": "9"}}),
            json!({"headers": {"x-a": 1}}),
            json!({"headers": ["x-a"]}),
        ] {
            assert!(Fault::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_unknown_keys_and_bad_types() {
        assert!(Fault::from_json(&json!({"stauts": 503}))
            .unwrap_err()
            .contains("stauts"));
        assert!(Fault::from_json(&json!({"status": "503"})).is_err());
        assert!(Fault::from_json(&json!({"status": 99})).is_err());
        assert!(Fault::from_json(&json!({"reset": 1})).is_err());
        assert!(Fault::from_json(&json!(3)).is_err());
    }

    #[test]
    fn queue_is_fifo_by_match_and_counts_uses() {
        let q = FaultQueue::default();
        q.push(Fault::status(500).on_path("/collect"));
        q.push(Fault::status(503).times(2));
        assert_eq!(q.take("/ee/v2/interact", None).unwrap().status, Some(503));
        assert_eq!(q.take("/ee/v2/collect", None).unwrap().status, Some(500));
        assert_eq!(q.take("/ee/v2/collect", None).unwrap().status, Some(503));
        assert_eq!(q.take("/ee/v2/collect", None), None);
    }

    #[test]
    fn count_zero_means_once() {
        let q = FaultQueue::default();
        q.push(Fault::reset().times(0));
        assert!(q.take("/x", None).is_some());
        assert!(q.take("/x", None).is_none());
    }

    #[test]
    fn parses_rejections_and_refuses_bad_ones() {
        let f = Fault::from_json(
            &json!({"rejectEventIds": ["a", "b"], "rejectStatus": 207, "count": 9}),
        )
        .unwrap();
        assert_eq!(
            f,
            vec![Fault {
                count: 9,
                ..Fault::reject_events(&["a", "b"], 207)
            }]
        );
        let default = &Fault::from_json(&json!({"rejectEventIds": ["a"]})).unwrap()[0];
        assert_eq!(default.rejection_status(), 422);
        for bad in [
            json!({"rejectEventIds": []}),
            json!({"rejectEventIds": "a"}),
            json!({"rejectEventIds": [1]}),
            json!({"rejectEventIds": ["a"], "rejectStatus": 500}),
            json!({"rejectStatus": 422}),
            json!({"rejectEventIds": ["a"], "status": 422}),
            json!({"rejectEventIds": ["a"], "reset": true}),
        ] {
            assert!(Fault::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejections_match_only_requests_naming_their_events() {
        let q = FaultQueue::default();
        assert!(!q.wants_event_ids());
        q.push(Fault::reject_events(&["x"], 422).times(2));
        assert!(q.wants_event_ids());
        let other = [Some("y".to_string()), None];
        let named = [None, Some("x".to_string())];
        assert!(q.take("/ee/v2/collect", Some(&other)).is_none());
        assert!(q.take("/ee/v2/collect", None).is_none());
        assert!(q.take("/ee/v2/collect", Some(&named)).is_some());
        assert!(q.take("/ee/v2/collect", Some(&named)).is_some());
        assert!(q.take("/ee/v2/collect", Some(&named)).is_none());
        assert!(!q.wants_event_ids());
    }
}

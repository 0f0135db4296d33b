//! Injected faults: what the next matching Edge or IMS request gets instead of (or on top
//! of) its normal answer.

use std::collections::VecDeque;
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
    /// Read the request, then drop the connection with a TCP RST and no response.
    pub reset: bool,
    /// 200 with a Content-Length larger than the bytes sent, then close.
    pub truncate: bool,
    /// 200, `Content-Type: application/json`, a body that is not JSON.
    pub malformed: bool,
}

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
                "reset" => fault.reset = v.as_bool().ok_or_else(bad)?,
                "truncate" => fault.truncate = v.as_bool().ok_or_else(bad)?,
                "malformed" => fault.malformed = v.as_bool().ok_or_else(bad)?,
                _ => return Err(format!("unknown fault key '{key}'")),
            }
        }
        Ok(fault)
    }

    fn matches(&self, path: &str) -> bool {
        self.path_contains
            .as_deref()
            .is_none_or(|fragment| path.contains(fragment))
    }
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
}

impl FaultQueue {
    pub fn push(&self, fault: Fault) {
        let uses = fault.count.max(1);
        self.lock().push_back((fault, uses));
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The fault that applies to a request for `path`, if any, using it up once.
    pub fn take(&self, path: &str) -> Option<Fault> {
        let mut queue = self.lock();
        let index = queue.iter().position(|(f, _)| f.matches(path))?;
        let (fault, uses) = &mut queue[index];
        *uses -= 1;
        if *uses == 0 {
            queue.remove(index).map(|(f, _)| f)
        } else {
            Some(fault.clone())
        }
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
        assert_eq!(q.take("/ee/v2/interact").unwrap().status, Some(503));
        assert_eq!(q.take("/ee/v2/collect").unwrap().status, Some(500));
        assert_eq!(q.take("/ee/v2/collect").unwrap().status, Some(503));
        assert_eq!(q.take("/ee/v2/collect"), None);
    }

    #[test]
    fn count_zero_means_once() {
        let q = FaultQueue::default();
        q.push(Fault::reset().times(0));
        assert!(q.take("/x").is_some());
        assert!(q.take("/x").is_none());
    }
}

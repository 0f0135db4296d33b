//! The one error type of the core, and its JSON form (design.md §3.3).
//!
//! Every binding maps [`ErrorKind`] to its own world in one place: the C ABI to
//! `aep_edge_status`, the Python crate to its exception tree.

use serde_json::{json, Map, Value};
use std::fmt;

/// What went wrong, in the words of the C ABI status enum.
///
/// The numbers are the `aep_edge_status` values and are fixed forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NullArgument,
    InvalidUtf8,
    InvalidJson,
    InvalidConfig,
    InvalidRequest,
    Transport,
    Timeout,
    Http,
    Auth,
    InvalidResponse,
    QueueFull,
    Closed,
    Storage,
    ConsentDenied,
    Panic,
}

/// Every kind, for bindings and tests that map them all.
pub const ERROR_KINDS: [ErrorKind; 15] = [
    ErrorKind::NullArgument,
    ErrorKind::InvalidUtf8,
    ErrorKind::InvalidJson,
    ErrorKind::InvalidConfig,
    ErrorKind::InvalidRequest,
    ErrorKind::Transport,
    ErrorKind::Timeout,
    ErrorKind::Http,
    ErrorKind::Auth,
    ErrorKind::InvalidResponse,
    ErrorKind::QueueFull,
    ErrorKind::Closed,
    ErrorKind::Storage,
    ErrorKind::ConsentDenied,
    ErrorKind::Panic,
];

impl ErrorKind {
    /// The `aep_edge_status` number of this kind.
    pub fn status(self) -> u32 {
        match self {
            ErrorKind::NullArgument => 1,
            ErrorKind::InvalidUtf8 => 2,
            ErrorKind::InvalidJson => 3,
            ErrorKind::InvalidConfig => 4,
            ErrorKind::InvalidRequest => 5,
            ErrorKind::Transport => 6,
            ErrorKind::Timeout => 7,
            ErrorKind::Http => 8,
            ErrorKind::Auth => 9,
            ErrorKind::InvalidResponse => 10,
            ErrorKind::QueueFull => 11,
            ErrorKind::Closed => 12,
            ErrorKind::Storage => 13,
            ErrorKind::ConsentDenied => 14,
            ErrorKind::Panic => 99,
        }
    }

    /// The `kind` string of the error JSON: the status name, lower case, without the prefix.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::NullArgument => "null_argument",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Http => "http",
            ErrorKind::Auth => "auth",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::QueueFull => "queue_full",
            ErrorKind::Closed => "closed",
            ErrorKind::Storage => "storage",
            ErrorKind::ConsentDenied => "consent_denied",
            ErrorKind::Panic => "panic",
        }
    }
}

/// An error with everything a caller needs to decide what to do next.
///
/// `attempts` is 0 and `request_id` is `None` when nothing was sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// The HTTP status of the last response, when there was one.
    pub http_status: Option<u16>,
    /// The error code parsed from the problem `type`, e.g. `EXEG-0003-400`.
    pub code: Option<String>,
    /// The RFC 7807 problem body, when the server sent one.
    pub problem: Option<Value>,
    /// Whether the same request may succeed if sent again later.
    pub retryable: bool,
    /// How long the server asked to wait (`Retry-After`), in milliseconds.
    pub retry_after_ms: Option<u64>,
    pub attempts: u32,
    /// The `requestId` that was sent.
    pub request_id: Option<String>,
}

impl Error {
    /// An error about the caller's input or the client's state: nothing was sent.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            http_status: None,
            code: None,
            problem: None,
            retryable: false,
            retry_after_ms: None,
            attempts: 0,
            request_id: None,
        }
    }

    pub fn invalid_config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidConfig, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidRequest, message)
    }

    pub fn closed() -> Error {
        Error::new(ErrorKind::Closed, "the client is closed")
    }

    /// The `aep_edge_status` number.
    pub fn status(&self) -> u32 {
        self.kind.status()
    }

    /// The error JSON object of design.md §3.3: `{"error": {...}}`.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("kind".into(), json!(self.kind.name()));
        body.insert("status".into(), json!(self.kind.status()));
        body.insert("message".into(), json!(self.message));
        body.insert("httpStatus".into(), json!(self.http_status));
        body.insert("code".into(), json!(self.code));
        body.insert(
            "problem".into(),
            self.problem.clone().unwrap_or(Value::Null),
        );
        body.insert("retryable".into(), json!(self.retryable));
        body.insert("retryAfterMs".into(), json!(self.retry_after_ms));
        body.insert("attempts".into(), json!(self.attempts));
        body.insert("requestId".into(), json!(self.request_id));
        json!({ "error": body })
    }

    /// The error JSON as a string (never fails: every field is plain JSON).
    pub fn to_json_string(&self) -> String {
        self.to_json().to_string()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand used across the core.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_every_field_of_the_contract() {
        let mut e = Error::invalid_request("event is required");
        e.attempts = 0;
        let v = e.to_json();
        let body = v["error"].as_object().unwrap();
        for key in [
            "kind",
            "status",
            "message",
            "httpStatus",
            "code",
            "problem",
            "retryable",
            "retryAfterMs",
            "attempts",
            "requestId",
        ] {
            assert!(body.contains_key(key), "missing {key}");
        }
        assert_eq!(body["kind"], "invalid_request");
        assert_eq!(body["status"], 5);
        assert_eq!(body["requestId"], Value::Null);
    }

    #[test]
    fn numbers_and_names_are_unique() {
        let mut numbers: Vec<u32> = ERROR_KINDS.iter().map(|k| k.status()).collect();
        let mut names: Vec<&str> = ERROR_KINDS.iter().map(|k| k.name()).collect();
        numbers.sort();
        numbers.dedup();
        names.sort();
        names.dedup();
        assert_eq!(numbers.len(), 15);
        assert_eq!(names.len(), 15);
    }

    #[test]
    fn status_numbers_are_the_abi_numbers() {
        assert_eq!(ErrorKind::Closed.status(), 12);
        assert_eq!(ErrorKind::Panic.status(), 99);
        assert_eq!(ErrorKind::ConsentDenied.status(), 14);
    }
}

//! The C ABI, version 1 (design.md §3). The only module with `extern "C"`.
//!
//! Conventions of every function, stated once here and again in each doc
//! comment that cbindgen copies into `include/aep_edge.h`:
//! - inputs are NUL-terminated UTF-8 JSON strings, borrowed for the call;
//! - every non-NULL `char **..._out` is always written: the result on success,
//!   an error object `{"error": {...}}` on failure, NULL when there is nothing
//!   to say; release it with `aep_edge_string_free`, never `free()`;
//! - a panic never crosses the boundary: it returns `AEP_EDGE_PANIC` and poisons
//!   the client it happened in.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // The safety rules are in each doc comment, for C readers.

mod boundary;
mod calls_async;
mod propositions;
mod queue;

pub use boundary::aep_edge_client;
pub use calls_async::*;
pub use propositions::aep_edge_proposition_event;
pub use queue::*;

use crate::config::MAX_CONFIG_BYTES;
use crate::{Client, Config, ErrorKind, Level};
use boundary::{
    client_ref, free_host_string, guard, guard_with, handle_ref, null_argument, read_request,
    read_str, to_c_string, Poison, Reply,
};
use serde_json::json;
use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

/// Major version of this library (the `X` of `aep_edge_version()`).
pub const AEP_EDGE_VERSION_MAJOR: u32 = 0;
/// Minor version of this library.
pub const AEP_EDGE_VERSION_MINOR: u32 = 1;
/// Patch version of this library.
pub const AEP_EDGE_VERSION_PATCH: u32 = 0;
/// The C ABI version this header describes; `aep_edge_abi_version()` returns it.
pub const AEP_EDGE_ABI_VERSION: u32 = 1;
/// The largest request JSON accepted, in bytes (1 MiB); larger is `AEP_EDGE_INVALID_REQUEST`.
pub const AEP_EDGE_MAX_REQUEST_JSON_BYTES: usize = 1048576;
/// The largest config JSON accepted, in bytes (64 KiB); larger is `AEP_EDGE_INVALID_CONFIG`.
pub const AEP_EDGE_MAX_CONFIG_JSON_BYTES: usize = 65536;

/// Log levels passed to an `aep_edge_log_fn`.
pub const AEP_EDGE_LOG_ERROR: u32 = 1;
/// Warnings: a retried attempt, a failed call.
pub const AEP_EDGE_LOG_WARN: u32 = 2;
/// Lifecycle events such as close.
pub const AEP_EDGE_LOG_INFO: u32 = 3;
/// One line per attempt and per finished call.
pub const AEP_EDGE_LOG_DEBUG: u32 = 4;
/// Everything.
pub const AEP_EDGE_LOG_TRACE: u32 = 5;

/// The status every function returns. The numbers are fixed forever and never
/// reused; a host treats a number it does not know as a failure and reads the
/// error object's `kind`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum aep_edge_status {
    AEP_EDGE_OK = 0,
    /// A required pointer argument was NULL.
    AEP_EDGE_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    AEP_EDGE_INVALID_UTF8 = 2,
    /// A string argument was not parsable JSON.
    AEP_EDGE_INVALID_JSON = 3,
    /// The config is invalid, over 64 KiB, or uses a setting this build does not support yet.
    AEP_EDGE_INVALID_CONFIG = 4,
    /// Valid JSON, but not a valid request (or over the size limits).
    AEP_EDGE_INVALID_REQUEST = 5,
    /// DNS, connect, TLS or reset.
    AEP_EDGE_TRANSPORT_ERROR = 6,
    /// An attempt or the whole call ran past its deadline.
    AEP_EDGE_TIMEOUT = 7,
    /// A non-2xx answer from the Edge Network, after retries.
    AEP_EDGE_HTTP_ERROR = 8,
    /// No token could be obtained, or the Edge Network answered 401/403 with an
    /// EXEG-05xx code (httpStatus, code and problem are filled in).
    AEP_EDGE_AUTH_ERROR = 9,
    /// A 2xx answer whose body is not the expected JSON.
    AEP_EDGE_INVALID_RESPONSE = 10,
    /// The durable queue is full.
    AEP_EDGE_QUEUE_FULL = 11,
    /// The client was closed.
    AEP_EDGE_CLOSED = 12,
    /// The state file or queue could not be read or written.
    AEP_EDGE_STORAGE_ERROR = 13,
    /// Collect consent is "n": nothing was sent.
    AEP_EDGE_CONSENT_DENIED = 14,
    /// `aep_edge_poll` found no finished call within its timeout. Not a failure.
    AEP_EDGE_NOT_READY = 15,
    /// An internal bug; the panic did not cross into the host and the client is now unusable.
    AEP_EDGE_PANIC = 99,
}

/// A log callback: `level` is 1 error, 2 warn, 3 info, 4 debug, 5 trace;
/// `message` is valid only during the call and never contains a secret.
/// It runs on whichever thread logs, possibly on several threads at once; it
/// must not throw or longjmp. It may call any function of the library (on any
/// client), except `aep_edge_client_free` of the client that is logging.
pub type aep_edge_log_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: u32, message: *const c_char)>;

/// The library version as a static "X.Y.Z" string (no suffix).
///
/// Ownership: static; never free it. Never NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn aep_edge_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The C ABI version of the library: `AEP_EDGE_ABI_VERSION` (1).
///
/// Ownership: takes and returns no pointer (nothing to free, no NULL case).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn aep_edge_abi_version() -> u32 {
    AEP_EDGE_ABI_VERSION
}

/// Creates a client from a config JSON string (README "Configuration"): at
/// least `{"datastreamId": "..."}`; unknown keys are refused by name. Does no
/// network I/O.
///
/// - `config_json`: borrowed for the call; NULL is `AEP_EDGE_NULL_ARGUMENT`;
///   over 64 KiB is `AEP_EDGE_INVALID_CONFIG` before parsing.
/// - `client_out`: required; set to the new client on success and to NULL on
///   failure. The caller owns the client and releases it with `aep_edge_client_free`.
/// - `error_json_out`: may be NULL; otherwise set to NULL on success and to an
///   error object on failure, released with `aep_edge_string_free`.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_client_new(
    config_json: *const c_char,
    client_out: *mut *mut aep_edge_client,
    error_json_out: *mut *mut c_char,
) -> aep_edge_status {
    if !client_out.is_null() {
        // SAFETY: the caller promises client_out is valid for a write.
        unsafe { *client_out = std::ptr::null_mut() };
    }
    guard(
        "aep_edge_client_new",
        std::ptr::null(),
        error_json_out,
        || {
            if client_out.is_null() {
                return Err(null_argument("client_out"));
            }
            // SAFETY: the caller promises a NUL-terminated string or NULL.
            let text = unsafe {
                read_str(
                    config_json,
                    "config_json",
                    MAX_CONFIG_BYTES,
                    ErrorKind::InvalidConfig,
                )
            }?;
            let client = Client::new(Config::from_json(text)?)?;
            let queue = crate::Queue::open(client.clone())?;
            let handle = Box::into_raw(Box::new(aep_edge_client::new(client, queue)));
            // SAFETY: checked non-NULL above.
            unsafe { *client_out = handle };
            Ok(Reply::ok(None))
        },
    )
}

/// Closes a client: new calls and `aep_edge_send_event` return
/// `AEP_EDGE_CLOSED` at once, the durable queue delivers what it can until
/// `timeout_ms` and keeps the rest stored (in the queue file for the next
/// client on it; an in-memory queue loses it), calls in flight make no further
/// attempts, and this waits for them within the same `timeout_ms`.
///
/// Calls waiting for something (a retry's backoff, the identity of a first
/// call, an access token, pending consent) are woken and end with
/// `AEP_EDGE_CLOSED`; a call whose attempt is on the wire ends with its own
/// outcome. No attempt starts after close has begun.
///
/// Returns `AEP_EDGE_OK` when no call is left in flight and no queued event is
/// undelivered, `AEP_EDGE_TIMEOUT` otherwise; it returns within `timeout_ms`.
/// `report_json_out` may be NULL; otherwise it is set to `{"inFlight": calls,
/// "undelivered": events, "waitedMs": m, "queue": {stats as aep_edge_stats}}`
/// (with an `"error"` object on failure, and `"poisoned": true` for a client
/// that had an internal panic), released with `aep_edge_string_free`.
///
/// Async calls: queued ones end with `AEP_EDGE_CLOSED` (their callbacks run on
/// this thread), running ones end as blocking calls do, and `AEP_EDGE_OK` means
/// every completion has been delivered (callbacks returned, poll-mode
/// completions queued; they stay pollable after close).
///
/// Thread-safe and idempotent: may be called from any thread, while other
/// threads are in calls on the same client, and from inside a callback, where
/// it does not wait for the calling thread's own call (from an outcome
/// callback: not for the queue). A poisoned client answers it too (it waits
/// for the calls in flight). Does not free the client.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_client_close(
    client: *mut aep_edge_client,
    timeout_ms: u32,
    report_json_out: *mut *mut c_char,
) -> aep_edge_status {
    let handle = client;
    let started = std::time::Instant::now();
    let timeout = Duration::from_millis(u64::from(timeout_ms));
    let body = move || {
        // SAFETY: the caller promises a live handle or NULL.
        let poisoned = unsafe { handle.as_ref() }.is_some_and(aep_edge_client::is_poisoned);
        // SAFETY: as above.
        let queue = unsafe { handle_ref(handle) }?
            .queue
            .close(started + timeout);
        // SAFETY: as above.
        let workers = unsafe { boundary::workers_ref(handle) }?;
        // Ends the async calls too, and waits until their completions are delivered.
        let report = workers.close(timeout.saturating_sub(started.elapsed()));
        let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut body = json!({
            "inFlight": report.in_flight,
            "undelivered": queue.undelivered,
            "waitedMs": waited_ms,
            "queue": queue.stats,
        });
        if poisoned {
            body["poisoned"] = json!(true);
        }
        if report.in_flight == 0 && queue.undelivered == 0 {
            return Ok(Reply::ok(Some(body.to_string())));
        }
        let error = crate::Error::new(
            ErrorKind::Timeout,
            format!(
                "{} call(s) still in flight and {} queued event(s) undelivered after {timeout_ms} ms",
                report.in_flight, queue.undelivered
            ),
        );
        // The error object first, as every failure's JSON reads.
        let mut failure = error.to_json();
        if let (Some(failure), Some(report)) = (failure.as_object_mut(), body.as_object()) {
            failure.extend(report.clone());
        }
        Ok(Reply {
            status: aep_edge_status::AEP_EDGE_TIMEOUT,
            json: Some(failure.to_string()),
        })
    };
    guard_with(
        "aep_edge_client_close",
        client,
        report_json_out,
        Poison::Allow,
        body,
    )
}

/// Frees a client. NULL-safe. Never does network I/O and never blocks on it:
/// call `aep_edge_client_close` first to let calls finish and the queue
/// deliver. Events still queued stay in the queue file (an in-memory queue
/// loses them); a dispatcher inside a request finishes it on its own, and no
/// outcome callback runs after this returns (it waits only for one running
/// at that moment).
///
/// Async calls: queued calls and unpolled completions are dropped without a
/// callback, running calls make no further attempts, and this waits only for
/// completion callbacks running at this moment; after it returns no callback
/// of this client runs.
///
/// Threading: must not race with any other call on the same client, nor be
/// called from a callback of this client; the handle is invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_client_free(client: *mut aep_edge_client) {
    guard(
        "aep_edge_client_free",
        std::ptr::null(),
        std::ptr::null_mut(),
        || {
            if !client.is_null() {
                // SAFETY: the caller promises a live handle from aep_edge_client_new,
                // freed once.
                drop(unsafe { Box::from_raw(client) });
            }
            Ok(Reply::ok(None))
        },
    );
}

/// Sends one event to `/ee/v2/interact` and waits for the result. With session
/// "device" the client adds its state entries, routes by the location hint,
/// and asks for the ECID while it is unknown.
///
/// - `client`: required; used concurrently by any number of threads.
/// - `request_json`: borrowed for the call; `{"event": {...}, "query": {...},
///   "meta": {...}, "options": {...}}`; over 1 MiB is `AEP_EDGE_INVALID_REQUEST`.
///   `options` may hold `requestId`, `datastreamId`, `state` (the visitor's
///   entries, `[{"key", "value", "expiresAt"? | "maxAge"?}]`, sent instead of the
///   client's; expired ones and `maxAge` <= 0 are not sent), `locationHint`
///   (routes this call) and `headers` (the visitor's `User-Agent`,
///   `Accept-Language`, `Referer`, `X-Forwarded-*`, `Forwarded`, `X-Real-IP`,
///   `Sec-CH-UA*`, `X-Adobe-AEP-Validation-Token`, `x-sandbox-name`; any other
///   name is `AEP_EDGE_INVALID_REQUEST`).
/// - `result_json_out`: required (NULL is `AEP_EDGE_NULL_ARGUMENT`); set to the
///   result JSON (the response body plus `"client": {httpStatus, attempts,
///   requestId, region, elapsedMs, locationHint, headers, state?}`: `headers`
///   holds the response's `x-request-id`, `x-rate-limit-remaining`,
///   `retry-after` and `x-adobe-edge` when present; `state`, the visitor's next
///   state `[{"key", "value", "expiresAt"?}]`, is there when `options.state` was
///   passed or the session is "none") or an error object; release it with
///   `aep_edge_string_free`.
///
/// Blocks the calling thread for at most the config's `timeouts.totalMs` (or the
/// request's `options.timeouts.totalMs`).
#[no_mangle]
pub unsafe extern "C" fn aep_edge_interact(
    client: *const aep_edge_client,
    request_json: *const c_char,
    result_json_out: *mut *mut c_char,
) -> aep_edge_status {
    // SAFETY: forwarded caller promises.
    unsafe {
        call(
            "aep_edge_interact",
            client,
            request_json,
            result_json_out,
            Client::interact_json_text,
        )
    }
}

/// Posts a batch of events to `/ee/v2/collect` at once and returns the outcome.
///
/// - `request_json`: `{"events": [...], "query": {...}, "meta": {...},
///   "options": {...}}`; `events` must be a non-empty array.
///
/// Ownership, NULL behaviour and threading as `aep_edge_interact`.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_collect(
    client: *const aep_edge_client,
    request_json: *const c_char,
    result_json_out: *mut *mut c_char,
) -> aep_edge_status {
    // SAFETY: forwarded caller promises.
    unsafe {
        call(
            "aep_edge_collect",
            client,
            request_json,
            result_json_out,
            Client::collect_json_text,
        )
    }
}

/// Posts a consent decision to `/ee/v1/privacy/set-consent` and keeps what it
/// returns: state entries and the collect consent, which gates interact and
/// collect (collect consent "n": they return `AEP_EDGE_CONSENT_DENIED` and send
/// nothing; pending: they wait for a decision up to their deadline).
///
/// - `request_json`: `{"consent": [{"standard": "Adobe", "version": "2.0",
///   "value": {"collect": {"val": "y"}}}], "identityMap": {...}, "options": {...}}`;
///   Adobe 1.0 and 2.0 and IAB TCF 2.0 are accepted.
/// - `result_json_out`: required; the result JSON or an error object.
///
/// Ownership, NULL behaviour and threading as `aep_edge_interact`.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_set_consent(
    client: *const aep_edge_client,
    request_json: *const c_char,
    result_json_out: *mut *mut c_char,
) -> aep_edge_status {
    // SAFETY: forwarded caller promises.
    unsafe {
        call(
            "aep_edge_set_consent",
            client,
            request_json,
            result_json_out,
            Client::set_consent_json_text,
        )
    }
}

/// Reads the session as JSON: `{"session": "device", "ecid": ..., "locationHint":
/// {"hint", "expiresInMs"} | null, "hintRouting": true, "consent": "y" | "n" | "p"
/// | ..., "entries": [{"key", "value", "maxAge", "persistent"}], "statePath": ...,
/// "storageWarning": ...}`. Read-only.
///
/// - `result_json_out`: required; release it with `aep_edge_string_free`.
///
/// Thread-safe; works after close too, so a host can keep the visitor's ECID
/// and state after its last call.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_session_get(
    client: *const aep_edge_client,
    result_json_out: *mut *mut c_char,
) -> aep_edge_status {
    if result_json_out.is_null() {
        return aep_edge_status::AEP_EDGE_NULL_ARGUMENT;
    }
    guard("aep_edge_session_get", client, result_json_out, || {
        // SAFETY: the caller promises a live handle or NULL.
        let client = unsafe { client_ref(client) }?;
        Ok(Reply::ok(Some(client.session().to_string())))
    })
}

/// Resets the session (a kiosk's next visitor starts fresh): clears the state
/// entries, location hint, ECID and consent, and the state file's copy;
/// `state:store` from requests sent before the reset is ignored.
///
/// `error_json_out` may be NULL; otherwise NULL on success and an error object
/// on failure (`AEP_EDGE_STORAGE_ERROR` when the file cannot be written,
/// `AEP_EDGE_CLOSED` after close), released with `aep_edge_string_free`. A NULL
/// client is `AEP_EDGE_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_session_reset(
    client: *const aep_edge_client,
    error_json_out: *mut *mut c_char,
) -> aep_edge_status {
    guard("aep_edge_session_reset", client, error_json_out, || {
        // SAFETY: the caller promises a live handle or NULL.
        let client = unsafe { client_ref(client) }?;
        client.reset_session()?;
        Ok(Reply::ok(None))
    })
}

/// Replaces the static access token of a client configured with
/// `"auth": {"type": "token", ...}`, for the calls that start afterwards.
///
/// - `access_token`: borrowed; NUL-terminated; never logged.
/// - `error_json_out`: may be NULL; otherwise NULL on success and an error
///   object on failure (`AEP_EDGE_INVALID_REQUEST` for another auth type or a
///   token with spaces or control characters, `AEP_EDGE_CLOSED` after close).
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_client_set_access_token(
    client: *const aep_edge_client,
    access_token: *const c_char,
    error_json_out: *mut *mut c_char,
) -> aep_edge_status {
    guard(
        "aep_edge_client_set_access_token",
        client,
        error_json_out,
        || {
            // SAFETY: the caller promises a live handle or NULL.
            let client = unsafe { client_ref(client) }?;
            // SAFETY: the caller promises a NUL-terminated string or NULL.
            let token = unsafe {
                read_str(
                    access_token,
                    "access_token",
                    8192,
                    ErrorKind::InvalidRequest,
                )
            }?;
            client.set_access_token(token)?;
            Ok(Reply::ok(None))
        },
    )
}

/// Installs a log callback on a client (NULL `callback` removes it). Messages
/// whose level is at most `min_level` are delivered.
///
/// `user_data` is passed back unchanged and must stay valid until the callback
/// is replaced or removed, or the client freed. When this function returns,
/// the previous callback is no longer running on any thread; called from
/// inside a log callback it does not wait (the previous callback may still be
/// running on other threads for a moment).
///
/// The callback runs on whichever thread logs, possibly on several at once; it
/// must not throw or longjmp, and may call any function of the library except
/// `aep_edge_client_free` of this client. Thread-safe; allowed after close
/// (to remove a callback before freeing what it uses).
#[no_mangle]
pub unsafe extern "C" fn aep_edge_set_log_callback(
    client: *const aep_edge_client,
    min_level: u32,
    callback: aep_edge_log_fn,
    user_data: *mut c_void,
) -> aep_edge_status {
    guard(
        "aep_edge_set_log_callback",
        client,
        std::ptr::null_mut(),
        || {
            // SAFETY: the caller promises a live handle or NULL.
            let client = unsafe { client_ref(client) }?;
            let sink = callback.map(|f| {
                let host = HostLogger { f, user_data };
                Arc::new(move |level: Level, message: &str| host.deliver(level, message))
                    as crate::LogFn
            });
            client.set_logger(min_level, sink);
            Ok(Reply::ok(None))
        },
    )
}

/// Frees a string this library returned through a `char **..._out`. NULL-safe.
///
/// The caller may have modified the string's bytes (strtok, in-place
/// parsing) before freeing it. Never pass a string from anywhere else, and
/// never release these with `free()`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_string_free(s: *mut c_char) {
    guard(
        "aep_edge_string_free",
        std::ptr::null(),
        std::ptr::null_mut(),
        || {
            // SAFETY: the caller promises `s` is NULL or came from this library.
            unsafe { free_host_string(s) };
            Ok(Reply::ok(None))
        },
    );
}

/// The shared body of interact and collect.
unsafe fn call(
    function: &'static str,
    client: *const aep_edge_client,
    request_json: *const c_char,
    result_json_out: *mut *mut c_char,
    send: fn(&Client, &str) -> crate::Result<String>,
) -> aep_edge_status {
    if result_json_out.is_null() {
        return aep_edge_status::AEP_EDGE_NULL_ARGUMENT;
    }
    guard(function, client, result_json_out, || {
        // SAFETY: the caller promises a live handle or NULL.
        let client = unsafe { client_ref(client) }?;
        // SAFETY: the caller promises a NUL-terminated string or NULL.
        let text = unsafe { read_request(request_json) }?;
        send(client, text).map(|text| Reply::ok(Some(text)))
    })
}

/// A host's log callback and its `user_data`.
struct HostLogger {
    f: unsafe extern "C" fn(*mut c_void, u32, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the header requires the callback and its user_data to be usable from
// any thread; the library only passes user_data back.
unsafe impl Send for HostLogger {}
// SAFETY: as above.
unsafe impl Sync for HostLogger {}

impl HostLogger {
    fn deliver(&self, level: Level, message: &str) {
        let text = to_c_string(message.to_string());
        // SAFETY: a host-supplied function pointer with the documented signature.
        unsafe { (self.f)(self.user_data, level as u32, text.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::MAX_REQUEST_JSON_BYTES;

    #[test]
    fn header_limits_are_the_cores() {
        // Written as literals above so the header shows numbers.
        assert_eq!(AEP_EDGE_MAX_REQUEST_JSON_BYTES, MAX_REQUEST_JSON_BYTES);
        assert_eq!(AEP_EDGE_MAX_CONFIG_JSON_BYTES, MAX_CONFIG_BYTES);
    }

    #[test]
    fn every_kind_maps_to_its_status_number() {
        for kind in crate::ERROR_KINDS {
            assert_eq!(boundary::status_of(kind) as u32, kind.status(), "{kind:?}");
        }
    }
}

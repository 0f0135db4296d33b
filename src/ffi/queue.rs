//! The C ABI of the durable event queue (design.md §3.7): send, flush,
//! stats and the outcome callback.

use super::boundary::{guard, handle_ref, read_request, to_c_string, Reply};
use super::{aep_edge_client, aep_edge_status};
use crate::ErrorKind;
use serde_json::Value;
use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

/// An outcome callback: `outcome_json` is `{"eventId": "...", "outcome":
/// "delivered" | "rejected", "error"?: {...}, "attempts": n}`, borrowed for
/// the duration of the call (copy what you keep).
///
/// It runs on the client's dispatcher thread, one event at a time; it must
/// not throw or longjmp, and must not call `aep_edge_client_free` on the
/// client it belongs to. It may call any other function: `aep_edge_flush` of
/// its own client returns `AEP_EDGE_TIMEOUT` at once from there (the
/// dispatcher is the calling thread) and `aep_edge_client_close` does not wait
/// for the queue.
pub type aep_edge_outcome_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, outcome_json: *const c_char)>;

/// Queues one event for delivery and returns at once; never does network I/O.
///
/// The event is validated as `aep_edge_interact` would, gets `xdm._id` and
/// `xdm.timestamp` when absent, and is stored before this returns: in the
/// SQLite file of the config's `queue.path` (WAL; a process crash loses
/// nothing, and with `queue.sync` "full" neither does power loss), or in
/// memory without a path (lost on a crash). The client's dispatcher thread
/// (started at the first event) delivers stored events in batches to
/// `/ee/v2/collect`, with the session's state, hint and consent and the retry
/// rules, and removes each only when the Edge Network accepted or rejected it.
///
/// - `client`: required.
/// - `request_json`: borrowed; `{"event": {...}, "meta"?: {...}, "options"?:
///   {"datastreamId", "state"}}`; events of equal meta and options share
///   batches. Over 1 MiB is `AEP_EDGE_INVALID_REQUEST`.
/// - `result_json_out`: required (NULL is `AEP_EDGE_NULL_ARGUMENT`); set to
///   `{"eventId": "<xdm._id>", "queued": <events now waiting>}` or an error
///   object; release it with `aep_edge_string_free`.
///
/// Statuses besides the input errors: `AEP_EDGE_QUEUE_FULL` (queue.maxEvents
/// or queue.maxBytes reached: nothing already accepted is dropped),
/// `AEP_EDGE_CONSENT_DENIED` (collect consent is "n": nothing stored; while it
/// is pending, events are stored and held), `AEP_EDGE_CLOSED`,
/// `AEP_EDGE_STORAGE_ERROR`.
///
/// Thread-safe. After `fork()`, this function answers `AEP_EDGE_STORAGE_ERROR`
/// in the child for a client the parent created with a queue file, or whose
/// in-memory queue the parent had used: that queue stays the parent's.
/// Create a new client in the child, with another `queue.path` or none (an
/// in-memory queue); the Python package does this for you, in memory.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_send_event(
    client: *const aep_edge_client,
    request_json: *const c_char,
    result_json_out: *mut *mut c_char,
) -> aep_edge_status {
    if result_json_out.is_null() {
        return aep_edge_status::AEP_EDGE_NULL_ARGUMENT;
    }
    guard("aep_edge_send_event", client, result_json_out, || {
        // SAFETY: the caller promises a live handle or NULL.
        let handle = unsafe { handle_ref(client) }?;
        // SAFETY: the caller promises a NUL-terminated string or NULL.
        let text = unsafe { read_request(request_json) }?;
        let result = handle.queue.send_event_json(text)?;
        Ok(Reply::ok(Some(result.to_string())))
    })
}

/// Sends every queued event without waiting for batches to fill, and waits
/// up to `timeout_ms` for the queue to empty.
///
/// Returns `AEP_EDGE_OK` when it is empty, `AEP_EDGE_TIMEOUT` when the
/// deadline came first (the events stay queued and keep going). In both cases
/// `report_json_out` (may be NULL) is set to the stats of `aep_edge_stats`,
/// not an error object; on other failures (`AEP_EDGE_CLOSED`, a NULL client)
/// to an error object. Release it with `aep_edge_string_free`.
///
/// Blocks the calling thread for at most `timeout_ms`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_flush(
    client: *const aep_edge_client,
    timeout_ms: u32,
    report_json_out: *mut *mut c_char,
) -> aep_edge_status {
    guard("aep_edge_flush", client, report_json_out, || {
        // SAFETY: the caller promises a live handle or NULL.
        let handle = unsafe { handle_ref(client) }?;
        match handle
            .queue
            .flush(Duration::from_millis(u64::from(timeout_ms)))
        {
            Ok(stats) => Ok(Reply::ok(Some(stats.to_string()))),
            Err((e, stats)) if e.kind == ErrorKind::Timeout => Ok(Reply {
                status: aep_edge_status::AEP_EDGE_TIMEOUT,
                json: Some(stats.to_string()),
            }),
            Err((e, _)) => Err(e),
        }
    })
}

/// The queue's counters as JSON: `{"queued", "inFlight", "delivered",
/// "rejected": {"<EXEG code, or error kind>": n}, "retries", "batches",
/// "oldestAgeMs", "bytes"}`. `queued` (every stored event not yet delivered
/// or rejected, those in flight included), `inFlight`, `bytes` and
/// `oldestAgeMs` describe now; the others count since `aep_edge_client_new`;
/// `retries` counts every re-send of an event.
///
/// - `stats_json_out`: required (NULL is `AEP_EDGE_NULL_ARGUMENT`); a NULL
///   client is `AEP_EDGE_NULL_ARGUMENT` with an error object here. Release it
///   with `aep_edge_string_free`.
///
/// Never blocks on the network. Thread-safe; works after close too.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_stats(
    client: *const aep_edge_client,
    stats_json_out: *mut *mut c_char,
) -> aep_edge_status {
    if stats_json_out.is_null() {
        return aep_edge_status::AEP_EDGE_NULL_ARGUMENT;
    }
    guard("aep_edge_stats", client, stats_json_out, || {
        // SAFETY: the caller promises a live handle or NULL.
        let handle = unsafe { handle_ref(client) }?;
        Ok(Reply::ok(Some(handle.queue.stats().to_string())))
    })
}

/// Installs the outcome callback (NULL `callback` removes it): one call per
/// queued event when it leaves the queue, delivered or rejected (with the
/// error: an EXEG code from a 400/413/422 answer or a 207's
/// `report.eventIndex`, or kind `consent_denied`).
///
/// `user_data` is passed back unchanged and must stay valid until the callback
/// is replaced or removed, or the client freed. When this returns, the
/// previous callback is no longer running (unless this is called from inside
/// it). The callback runs on the dispatcher thread (see `aep_edge_outcome_fn`).
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_set_outcome_callback(
    client: *const aep_edge_client,
    callback: aep_edge_outcome_fn,
    user_data: *mut c_void,
) -> aep_edge_status {
    guard(
        "aep_edge_set_outcome_callback",
        client,
        std::ptr::null_mut(),
        || {
            // SAFETY: the caller promises a live handle or NULL.
            let handle = unsafe { handle_ref(client) }?;
            let sink = callback.map(|f| {
                let host = HostOutcome { f, user_data };
                Arc::new(move |outcome: &Value| host.deliver(outcome)) as crate::OutcomeFn
            });
            handle.queue.set_outcome_callback(sink);
            Ok(Reply::ok(None))
        },
    )
}

/// A host's outcome callback and its `user_data`.
struct HostOutcome {
    f: unsafe extern "C" fn(*mut c_void, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the header says the callback runs on the dispatcher thread; the
// library only passes user_data back.
unsafe impl Send for HostOutcome {}
// SAFETY: as above.
unsafe impl Sync for HostOutcome {}

impl HostOutcome {
    fn deliver(&self, outcome: &Value) {
        let text = to_c_string(outcome.to_string());
        // SAFETY: a host-supplied function pointer with the documented signature.
        unsafe { (self.f)(self.user_data, text.as_ptr()) };
    }
}

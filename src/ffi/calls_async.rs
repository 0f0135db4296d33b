//! The non-blocking calls (design.md §3.6): `aep_edge_interact_async`,
//! `aep_edge_collect_async`, `aep_edge_set_consent_async` and `aep_edge_poll`,
//! over the client's worker pool (`crate::workers`).

use super::aep_edge_status;
use super::boundary::{
    aep_edge_client, guard, read_request, status_of, to_c_string, workers_ref, Reply,
};
use crate::request::Endpoint;
use crate::workers::Completion;
use crate::Result;
use serde_json::{json, Value};
use std::ffi::{c_char, c_void};
use std::time::Duration;

/// A completion callback: `call_id` is the id the async call wrote to
/// `*call_id_out`; `status` and `result_json` are what the blocking call would
/// have returned (the result JSON, or an error object). `result_json` is
/// borrowed for the duration of the callback; copy it to keep it.
///
/// It runs once per accepted call, on one of the client's worker threads (or,
/// for a call that `aep_edge_client_close` ended before it started, on the
/// thread calling close), possibly on several threads at once. It may call any
/// function of this library except `aep_edge_client_free` of its own client; it
/// must not throw or longjmp.
pub type aep_edge_completion_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        call_id: u64,
        status: aep_edge_status,
        result_json: *const c_char,
    ),
>;

/// Starts `aep_edge_interact` without waiting on the network.
///
/// The request is validated at once, exactly as `aep_edge_interact` does: a
/// request it would refuse before sending (NULL, invalid UTF-8 or JSON, over
/// 1 MiB or 64 KB encoded, unknown keys, a closed client, collect consent "n")
/// is refused here with the same status and error object, and no completion
/// follows. `AEP_EDGE_QUEUE_FULL` means `async.maxPending` calls are already
/// waiting, running, or finished but not yet polled. The first async call of a
/// client starts its worker threads (`async.workers`).
///
/// - `client`: required.
/// - `request_json`: borrowed for the call; the same JSON as `aep_edge_interact`.
/// - `callback`: receives the one completion of the call on a worker thread (see
///   `aep_edge_completion_fn`). NULL keeps the completion in the client until
///   `aep_edge_poll` hands it out.
/// - `user_data`: passed back to `callback` unchanged; it must stay valid until
///   the callback ran, or until `aep_edge_client_free` returned.
/// - `call_id_out`: may be NULL; otherwise set to the call's unique, non-zero id
///   on `AEP_EDGE_OK` and to 0 on failure.
/// - `error_json_out`: may be NULL; otherwise NULL on `AEP_EDGE_OK` and an error
///   object on failure, released with `aep_edge_string_free`.
///
/// Exactly one completion follows every `AEP_EDGE_OK`, also when the client is
/// closed meanwhile (`AEP_EDGE_CLOSED` for a call that had not started).
/// Thread-safe; never blocks on the network.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_interact_async(
    client: *const aep_edge_client,
    request_json: *const c_char,
    callback: aep_edge_completion_fn,
    user_data: *mut c_void,
    call_id_out: *mut u64,
    error_json_out: *mut *mut c_char,
) -> aep_edge_status {
    // SAFETY: forwarded caller promises.
    unsafe {
        submit(
            "aep_edge_interact_async",
            Endpoint::Interact,
            client,
            request_json,
            callback,
            user_data,
            call_id_out,
            error_json_out,
        )
    }
}

/// Starts `aep_edge_collect` without waiting on the network; the request JSON
/// is `aep_edge_collect`'s.
///
/// Validation, completion, ownership, NULL behaviour and threading as
/// `aep_edge_interact_async`.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_collect_async(
    client: *const aep_edge_client,
    request_json: *const c_char,
    callback: aep_edge_completion_fn,
    user_data: *mut c_void,
    call_id_out: *mut u64,
    error_json_out: *mut *mut c_char,
) -> aep_edge_status {
    // SAFETY: forwarded caller promises.
    unsafe {
        submit(
            "aep_edge_collect_async",
            Endpoint::Collect,
            client,
            request_json,
            callback,
            user_data,
            call_id_out,
            error_json_out,
        )
    }
}

/// Starts `aep_edge_set_consent` without waiting on the network; the request
/// JSON is `aep_edge_set_consent`'s. The consent it sets gates the calls that
/// start after it completed.
///
/// Validation, completion, ownership, NULL behaviour and threading as
/// `aep_edge_interact_async`.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_set_consent_async(
    client: *const aep_edge_client,
    request_json: *const c_char,
    callback: aep_edge_completion_fn,
    user_data: *mut c_void,
    call_id_out: *mut u64,
    error_json_out: *mut *mut c_char,
) -> aep_edge_status {
    // SAFETY: forwarded caller promises.
    unsafe {
        submit(
            "aep_edge_set_consent_async",
            Endpoint::Consent,
            client,
            request_json,
            callback,
            user_data,
            call_id_out,
            error_json_out,
        )
    }
}

/// Hands out the oldest finished async call started with a NULL callback,
/// waiting up to `timeout_ms` for one (a game loop polls once per frame with 0).
///
/// Returns `AEP_EDGE_OK` with `*completion_json_out` set to `{"callId": N,
/// "status": S, "result": {...}}`, where `S` and `result` are the status and
/// JSON the blocking call would have returned; or `AEP_EDGE_NOT_READY` with
/// `*completion_json_out` NULL when none finished in time (at once when the
/// client is closed and no poll-mode call is left). Completions stay pollable
/// after `aep_edge_client_close`.
///
/// - `client`: required.
/// - `completion_json_out`: required (NULL is `AEP_EDGE_NULL_ARGUMENT`);
///   released with `aep_edge_string_free`.
///
/// Thread-safe: any thread may poll; each completion is handed out once.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_poll(
    client: *const aep_edge_client,
    timeout_ms: u32,
    completion_json_out: *mut *mut c_char,
) -> aep_edge_status {
    if completion_json_out.is_null() {
        return aep_edge_status::AEP_EDGE_NULL_ARGUMENT;
    }
    guard("aep_edge_poll", client, completion_json_out, || {
        // SAFETY: the caller promises a live handle or NULL.
        let workers = unsafe { workers_ref(client) }?;
        let Some(finished) = workers.poll(Duration::from_millis(u64::from(timeout_ms))) else {
            return Ok(Reply {
                status: aep_edge_status::AEP_EDGE_NOT_READY,
                json: None,
            });
        };
        let (status, result) = outcome(finished.result);
        let completion =
            json!({"callId": finished.call_id, "status": status as u32, "result": result});
        Ok(Reply::ok(Some(completion.to_string())))
    })
}

/// The shared body of the three async calls.
#[allow(clippy::too_many_arguments)]
unsafe fn submit(
    function: &'static str,
    endpoint: Endpoint,
    client: *const aep_edge_client,
    request_json: *const c_char,
    callback: aep_edge_completion_fn,
    user_data: *mut c_void,
    call_id_out: *mut u64,
    error_json_out: *mut *mut c_char,
) -> aep_edge_status {
    if !call_id_out.is_null() {
        // SAFETY: the caller promises call_id_out is valid for a write.
        unsafe { *call_id_out = 0 };
    }
    guard(function, client, error_json_out, || {
        // SAFETY: the caller promises a live handle or NULL.
        let workers = unsafe { workers_ref(client) }?;
        // SAFETY: the caller promises a NUL-terminated string or NULL.
        let text = unsafe { read_request(request_json) }?;
        let completion = match callback {
            None => Completion::Poll,
            Some(f) => {
                let host = HostCompletion { f, user_data };
                Completion::Callback(Box::new(move |id, result| host.deliver(id, result)))
            }
        };
        let id = workers.submit_json(endpoint, text, completion)?;
        if !call_id_out.is_null() {
            // SAFETY: as above.
            unsafe { *call_id_out = id };
        }
        Ok(Reply::ok(None))
    })
}

/// The status and JSON the blocking call returns for `result`.
fn outcome(result: Result<Value>) -> (aep_edge_status, Value) {
    match result {
        Ok(value) => (aep_edge_status::AEP_EDGE_OK, value),
        Err(e) => (status_of(e.kind), e.to_json()),
    }
}

/// A host's completion callback and its `user_data`.
struct HostCompletion {
    f: unsafe extern "C" fn(*mut c_void, u64, aep_edge_status, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the header requires the callback and its user_data to be usable from
// any thread; the library only passes user_data back.
unsafe impl Send for HostCompletion {}

impl HostCompletion {
    fn deliver(self, call_id: u64, result: Result<Value>) {
        let (status, json) = outcome(result);
        let text = to_c_string(json.to_string());
        // SAFETY: a host-supplied function pointer with the documented signature;
        // `text` outlives the call.
        unsafe { (self.f)(self.user_data, call_id, status, text.as_ptr()) };
    }
}

//! The C export of design.md §3.9: proposition display and interaction events.

use super::aep_edge_status;
use super::boundary::{guard, read_request, Reply};
use std::ffi::c_char;

/// Builds the event that reports propositions as shown or clicked, so Target
/// and Journey Optimizer count them. Needs no client and does no I/O.
///
/// - `request_json`: borrowed for the call; `{"kind": "display" | "interact",
///   "propositions": [...], "label"?: "...", "tokens"?: ["..."]}` with the
///   propositions as a `personalization:decisions` handle's payload gives them
///   (each needs `id` and `scope`; `scopeDetails` is copied, items are not);
///   `label` and `tokens` only with `"interact"`. In place of
///   `"propositions"`, `"response": <a result of aep_edge_interact>` reports
///   every proposition of its `personalization:decisions` handles (none is
///   `AEP_EDGE_INVALID_REQUEST`, "response has no propositions"). NULL is
///   `AEP_EDGE_NULL_ARGUMENT`; over 1 MiB or an invalid input is
///   `AEP_EDGE_INVALID_REQUEST` naming the field.
/// - `event_json_out`: required (NULL is `AEP_EDGE_NULL_ARGUMENT`); set to
///   `{"event": {"xdm": {"eventType": "decisioning.propositionDisplay" |
///   "decisioning.propositionInteract", "_experience": {"decisioning":
///   {"propositions": [{"id", "scope", "scopeDetails"}], "propositionEventType":
///   {"display" | "interact": 1}, "propositionAction"?: {"label"?, "tokens"?}}}}}}`
///   (a request for `aep_edge_interact`; its `event` goes into a collect's
///   `events`), or to an error object; release it with `aep_edge_string_free`.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn aep_edge_proposition_event(
    request_json: *const c_char,
    event_json_out: *mut *mut c_char,
) -> aep_edge_status {
    if event_json_out.is_null() {
        return aep_edge_status::AEP_EDGE_NULL_ARGUMENT;
    }
    guard(
        "aep_edge_proposition_event",
        std::ptr::null(),
        event_json_out,
        || {
            // SAFETY: the caller promises a NUL-terminated string or NULL.
            let text = unsafe { read_request(request_json) }?;
            let event = crate::propositions::proposition_event_json(text)?;
            Ok(Reply::ok(Some(event.to_string())))
        },
    )
}

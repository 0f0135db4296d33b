//! The one panic boundary, the handle type and the string rules of the C ABI.
//!
//! Every exported function runs its body through [`guard`]: a panic becomes
//! `AEP_EDGE_PANIC`, never unwinds into the host, and poisons the client it
//! happened in. Strings go out only through [`write_out`] (library-allocated,
//! released by `aep_edge_string_free`) and come in only through [`read_str`].

use super::aep_edge_status;
use crate::request::MAX_REQUEST_JSON_BYTES;
use crate::workers::Workers;
use crate::{Client, Error, ErrorKind, Queue};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

/// An opaque client handle. Shared by many threads through `const` pointers.
pub struct aep_edge_client {
    /// The async calls. Declared first so that it is dropped first: `free`
    /// waits there for running callbacks, which may still use `client`.
    pub(super) workers: Workers,
    pub(super) client: Client,
    /// The durable event queue of `aep_edge_send_event`.
    pub(super) queue: Queue,
    /// Set when a panic escaped a call on this client; the client then answers
    /// every call with `AEP_EDGE_PANIC`, because its state may be inconsistent.
    poisoned: AtomicBool,
}

impl aep_edge_client {
    pub(super) fn new(client: Client, queue: Queue) -> aep_edge_client {
        aep_edge_client {
            workers: Workers::new(client.clone()),
            client,
            queue,
            poisoned: AtomicBool::new(false),
        }
    }

    /// Poisoned by a panic in a call on the host's thread or on a worker.
    pub(super) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire) || self.workers.has_panicked()
    }
}

/// The status for an error kind. The one place the core's kinds meet the ABI.
pub(super) fn status_of(kind: ErrorKind) -> aep_edge_status {
    use aep_edge_status::*;
    match kind {
        ErrorKind::NullArgument => AEP_EDGE_NULL_ARGUMENT,
        ErrorKind::InvalidUtf8 => AEP_EDGE_INVALID_UTF8,
        ErrorKind::InvalidJson => AEP_EDGE_INVALID_JSON,
        ErrorKind::InvalidConfig => AEP_EDGE_INVALID_CONFIG,
        ErrorKind::InvalidRequest => AEP_EDGE_INVALID_REQUEST,
        ErrorKind::Transport => AEP_EDGE_TRANSPORT_ERROR,
        ErrorKind::Timeout => AEP_EDGE_TIMEOUT,
        ErrorKind::Http => AEP_EDGE_HTTP_ERROR,
        ErrorKind::Auth => AEP_EDGE_AUTH_ERROR,
        ErrorKind::InvalidResponse => AEP_EDGE_INVALID_RESPONSE,
        ErrorKind::QueueFull => AEP_EDGE_QUEUE_FULL,
        ErrorKind::Closed => AEP_EDGE_CLOSED,
        ErrorKind::Storage => AEP_EDGE_STORAGE_ERROR,
        ErrorKind::ConsentDenied => AEP_EDGE_CONSENT_DENIED,
        ErrorKind::Panic => AEP_EDGE_PANIC,
    }
}

pub(super) fn null_argument(name: &str) -> Error {
    Error::new(ErrorKind::NullArgument, format!("{name} is NULL"))
}

/// What a function body hands back: its status and the JSON for its out-parameter.
pub(super) struct Reply {
    pub status: aep_edge_status,
    pub json: Option<String>,
}

impl Reply {
    pub fn ok(json: Option<String>) -> Reply {
        Reply {
            status: aep_edge_status::AEP_EDGE_OK,
            json,
        }
    }
}

/// Runs `body` so that no panic crosses into the host.
///
/// `out` (may be NULL) is set to NULL first, then to the JSON of the `Reply`
/// or to the error object. `client` (may be NULL) is checked for poison before
/// and poisoned after a panic.
pub(super) fn guard(
    function: &'static str,
    client: *const aep_edge_client,
    out: *mut *mut c_char,
    body: impl FnOnce() -> Result<Reply, Error>,
) -> aep_edge_status {
    guard_with(function, client, out, Poison::Refuse, body)
}

/// Whether a function refuses a poisoned client (all but close, which must
/// still let a host wait for the calls in flight before `free`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Poison {
    Refuse,
    Allow,
}

/// [`guard`], saying what to do with a poisoned client.
pub(super) fn guard_with(
    function: &'static str,
    client: *const aep_edge_client,
    out: *mut *mut c_char,
    poison: Poison,
    body: impl FnOnce() -> Result<Reply, Error>,
) -> aep_edge_status {
    // SAFETY: the caller promises `out` is NULL or valid for a write.
    unsafe { set_out(out, None) };
    // SAFETY: the caller promises `client` is NULL or a live handle.
    let handle = unsafe { client.as_ref() };
    if poison == Poison::Refuse && handle.is_some_and(aep_edge_client::is_poisoned) {
        let e = Error::new(
            ErrorKind::Panic,
            "the client is unusable after an internal panic; free it and create a new one",
        );
        return fail(out, e);
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        test_hook(function);
        body()
    }));
    match outcome {
        Ok(Ok(reply)) => {
            // SAFETY: as above.
            unsafe { set_out(out, reply.json) };
            reply.status
        }
        Ok(Err(e)) => fail(out, e),
        Err(panic) => {
            if let Some(h) = handle {
                h.poisoned.store(true, Ordering::Release);
            }
            let what = panic_message(panic.as_ref());
            fail(
                out,
                Error::new(
                    ErrorKind::Panic,
                    format!("internal error in {function}: {what}"),
                ),
            )
        }
    }
}

fn fail(out: *mut *mut c_char, error: Error) -> aep_edge_status {
    // SAFETY: `out` was checked by the caller of `guard`.
    unsafe { set_out(out, Some(error.to_json_string())) };
    status_of(error.kind)
}

/// Writes a library-owned string (or NULL) to `out` when `out` is not NULL.
///
/// # Safety
/// `out` must be NULL or valid for a pointer-sized write.
pub(super) unsafe fn set_out(out: *mut *mut c_char, value: Option<String>) {
    if out.is_null() {
        return;
    }
    let ptr = match value {
        None => std::ptr::null_mut(),
        Some(s) => host_string(&s),
    };
    // SAFETY: the caller promises `out` is valid for a write.
    unsafe { *out = ptr };
}

/// A NUL-terminated copy of `s` in memory from the C library's `malloc`, so
/// that [`free_host_string`] needs nothing from its contents: a host may write
/// into it (strtok) before freeing it. Interior NULs become spaces. Aborts
/// like any Rust allocation when memory runs out.
pub(super) fn host_string(s: &str) -> *mut c_char {
    let bytes = s.as_bytes();
    // SAFETY: malloc with a non-zero size; checked for NULL below.
    let ptr = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
    if ptr.is_null() {
        std::alloc::handle_alloc_error(
            std::alloc::Layout::array::<u8>(bytes.len() + 1).expect("a string's size"),
        );
    }
    // SAFETY: `len + 1` writable bytes at `ptr`, not overlapping `s`.
    let copy = unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len());
        *ptr.add(bytes.len()) = 0;
        std::slice::from_raw_parts_mut(ptr, bytes.len())
    };
    // One memcpy and a memchr look for NULs (JSON text has none; a
    // byte-by-byte copy cost as much as the rest of the C boundary).
    // SAFETY: `len` readable bytes at `ptr` (glibc's memchr is vectorised;
    // core's is a word at a time).
    let nul = unsafe { libc::memchr(ptr.cast(), 0, bytes.len()) };
    if !nul.is_null() {
        copy.iter_mut().filter(|b| **b == 0).for_each(|b| *b = b' ');
    }
    ptr.cast()
}

/// Frees a string made by [`host_string`].
///
/// # Safety
/// `s` must be NULL or a pointer returned by `host_string`, not yet freed.
pub(super) unsafe fn free_host_string(s: *mut c_char) {
    // SAFETY: the caller promises it came from libc::malloc in host_string.
    unsafe { libc::free(s.cast()) };
}

/// A C string for any Rust string: interior NULs (impossible in JSON made by
/// serde_json, possible in a log message) become spaces.
pub(super) fn to_c_string(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let bytes: Vec<u8> = e
            .into_vec()
            .into_iter()
            .map(|b| if b == 0 { b' ' } else { b })
            .collect();
        CString::new(bytes).expect("NULs were replaced")
    })
}

/// Reads a call's `request_json` argument: required, at most
/// `AEP_EDGE_MAX_REQUEST_JSON_BYTES`, UTF-8 (the rules every function taking
/// a request shares: design.md §3.2).
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that outlives the returned `&str`.
pub(super) unsafe fn read_request<'a>(ptr: *const c_char) -> Result<&'a str, Error> {
    // SAFETY: passed on from the caller.
    unsafe {
        read_str(
            ptr,
            "request_json",
            MAX_REQUEST_JSON_BYTES,
            ErrorKind::InvalidRequest,
        )
    }
}

/// Borrows a NUL-terminated UTF-8 input, refusing NULL, more than `max_bytes`
/// bytes (with `too_big`, before any parsing) and invalid UTF-8.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives `'a`.
pub(super) unsafe fn read_str<'a>(
    ptr: *const c_char,
    name: &str,
    max_bytes: usize,
    too_big: ErrorKind,
) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(null_argument(name));
    }
    // SAFETY: the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    if bytes.len() > max_bytes {
        return Err(Error::new(
            too_big,
            format!(
                "{name} is {} bytes; at most {max_bytes} are accepted",
                bytes.len()
            ),
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidUtf8,
            format!(
                "{name} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Borrows a live client handle, or fails with `NULL_ARGUMENT`.
///
/// # Safety
/// `ptr` must be NULL or a handle from `aep_edge_client_new` not yet freed.
pub(super) unsafe fn client_ref<'a>(ptr: *const aep_edge_client) -> Result<&'a Client, Error> {
    // SAFETY: the caller promises the handle is live.
    unsafe { ptr.as_ref() }
        .map(|h| &h.client)
        .ok_or_else(|| null_argument("client"))
}

/// Borrows a live handle (client and queue), or fails with `NULL_ARGUMENT`.
///
/// # Safety
/// As [`client_ref`].
pub(super) unsafe fn handle_ref<'a>(
    ptr: *const aep_edge_client,
) -> Result<&'a aep_edge_client, Error> {
    // SAFETY: the caller promises the handle is live.
    unsafe { ptr.as_ref() }.ok_or_else(|| null_argument("client"))
}

/// Borrows a live handle's async calls, or fails with `NULL_ARGUMENT`.
///
/// # Safety
/// As [`client_ref`].
pub(super) unsafe fn workers_ref<'a>(ptr: *const aep_edge_client) -> Result<&'a Workers, Error> {
    // SAFETY: the caller promises the handle is live.
    unsafe { ptr.as_ref() }
        .map(|h| &h.workers)
        .ok_or_else(|| null_argument("client"))
}

/// A debug-build hook for the panic-boundary tests: when the environment
/// variable `AEP_EDGE_TEST_PANIC` names the running function, it panics inside
/// the boundary. Release builds compile it away.
fn test_hook(function: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("AEP_EDGE_TEST_PANIC").is_some_and(|v| v == function) {
        quiet_test_hook_panics();
        std::panic::panic_any(TestHookPanic(format!(
            "test hook AEP_EDGE_TEST_PANIC={function}"
        )));
    }
    #[cfg(not(debug_assertions))]
    let _ = function;
}

/// The payload of a deliberate test-hook panic: the panic hook stays silent
/// for it (a test watching its output must not read it as a failure), and
/// prints every other panic as before.
#[cfg(debug_assertions)]
struct TestHookPanic(String);

#[cfg(debug_assertions)]
fn quiet_test_hook_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<TestHookPanic>().is_none() {
                previous(info);
            }
        }));
    });
}

/// The message of a caught panic's payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    #[cfg(debug_assertions)]
    if let Some(TestHookPanic(what)) = panic.downcast_ref::<TestHookPanic>() {
        return what.clone();
    }
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_strings_are_whole_copies_with_nuls_as_spaces() {
        let long = "x".repeat(5000);
        for (given, want) in [
            ("", ""),
            ("{\"a\":1}", "{\"a\":1}"),
            ("\0a\0\0b\0", " a  b "),
            (long.as_str(), long.as_str()),
        ] {
            let ptr = host_string(given);
            // SAFETY: a NUL-terminated string host_string just made.
            let got = unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_string();
            // SAFETY: made by host_string, freed once.
            unsafe { free_host_string(ptr) };
            assert_eq!(got, want);
        }
    }
}

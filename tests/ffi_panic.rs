//! The panic boundary seen from Rust through the exported functions: a panic
//! inside `aep_edge_interact` (the debug-build hook) returns AEP_EDGE_PANIC, an
//! error object, and poisons the client; `free` still works. One test in this
//! binary, because the hook is an environment variable.
#![cfg(all(feature = "capi", debug_assertions))]

use aep_edge::ffi::*;
use std::ffi::{CStr, CString};
use std::ptr;

fn take(s: *mut std::ffi::c_char) -> String {
    assert!(!s.is_null());
    let text = unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_string();
    unsafe { aep_edge_string_free(s) };
    text
}

#[test]
fn a_panic_is_caught_reported_and_poisons_the_client() {
    let config = CString::new(r#"{"datastreamId": "d", "baseUrl": "http://127.0.0.1:9"}"#).unwrap();
    let mut client = ptr::null_mut();
    let status = unsafe { aep_edge_client_new(config.as_ptr(), &mut client, ptr::null_mut()) };
    assert_eq!(status, aep_edge_status::AEP_EDGE_OK);

    let request = CString::new(r#"{"event": {}}"#).unwrap();
    let mut out = ptr::null_mut();
    std::env::set_var("AEP_EDGE_TEST_PANIC", "aep_edge_interact");
    let status = unsafe { aep_edge_interact(client, request.as_ptr(), &mut out) };
    std::env::remove_var("AEP_EDGE_TEST_PANIC");
    assert_eq!(status, aep_edge_status::AEP_EDGE_PANIC);
    let error: serde_json::Value = serde_json::from_str(&take(out)).unwrap();
    assert_eq!(error["error"]["kind"], "panic");
    assert_eq!(error["error"]["status"], 99);

    // Poisoned: the next call answers at once, without the hook.
    let status = unsafe { aep_edge_interact(client, request.as_ptr(), &mut out) };
    assert_eq!(status, aep_edge_status::AEP_EDGE_PANIC);
    assert!(take(out).contains("unusable"));
    unsafe { aep_edge_client_free(client) };
}

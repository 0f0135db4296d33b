//! The panic boundary around async calls: a panic on a worker thread (the
//! debug-build hook) completes the call with AEP_EDGE_PANIC and an error
//! object, poisons the client, and close and free still work. One test in
//! this binary, because the hook is an environment variable.
#![cfg(all(feature = "capi", debug_assertions))]

use aep_edge::ffi::*;
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::mpsc::{channel, Sender};
use std::time::Duration;

unsafe extern "C" fn on_complete(
    user_data: *mut c_void,
    call_id: u64,
    status: aep_edge_status,
    result_json: *const c_char,
) {
    let tx = unsafe { &*(user_data as *const Sender<(u64, aep_edge_status, String)>) };
    let json = unsafe { CStr::from_ptr(result_json) }
        .to_str()
        .unwrap()
        .to_string();
    tx.send((call_id, status, json)).unwrap();
}

#[test]
fn a_panic_on_a_worker_completes_the_call_and_poisons_the_client() {
    let config = CString::new(r#"{"datastreamId": "d", "baseUrl": "http://127.0.0.1:9"}"#).unwrap();
    let mut client = ptr::null_mut();
    let status = unsafe { aep_edge_client_new(config.as_ptr(), &mut client, ptr::null_mut()) };
    assert_eq!(status, aep_edge_status::AEP_EDGE_OK);

    let (tx, rx) = channel::<(u64, aep_edge_status, String)>();
    let request = CString::new(r#"{"event": {}}"#).unwrap();
    let mut id = 0;
    std::env::set_var("AEP_EDGE_TEST_PANIC", "async_worker");
    let status = unsafe {
        aep_edge_interact_async(
            client,
            request.as_ptr(),
            Some(on_complete),
            &tx as *const _ as *mut c_void,
            &mut id,
            ptr::null_mut(),
        )
    };
    assert_eq!(status, aep_edge_status::AEP_EDGE_OK);
    let (call_id, status, json) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    std::env::remove_var("AEP_EDGE_TEST_PANIC");
    assert_eq!((call_id, status), (id, aep_edge_status::AEP_EDGE_PANIC));
    let error: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(error["error"]["kind"], "panic");
    assert!(json.contains("async call"), "{json}");

    // Poisoned: the next call answers at once.
    let mut out = ptr::null_mut();
    let status = unsafe { aep_edge_interact(client, request.as_ptr(), &mut out) };
    assert_eq!(status, aep_edge_status::AEP_EDGE_PANIC);
    unsafe { aep_edge_string_free(out) };
    let status = unsafe {
        aep_edge_interact_async(
            client,
            request.as_ptr(),
            None,
            ptr::null_mut(),
            &mut id,
            ptr::null_mut(),
        )
    };
    assert_eq!((status, id), (aep_edge_status::AEP_EDGE_PANIC, 0));

    // close and free still work.
    let status = unsafe { aep_edge_client_close(client, 5000, ptr::null_mut()) };
    assert_eq!(status, aep_edge_status::AEP_EDGE_OK);
    unsafe { aep_edge_client_free(client) };
    assert!(rx.try_recv().is_err(), "one completion only");
}

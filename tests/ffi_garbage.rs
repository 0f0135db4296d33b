//! Whatever bytes a host passes, the C ABI answers with a known status and an
//! error object, never a crash, and a bad call changes nothing: a client that
//! took thousands of bad inputs still works. Deterministic pseudo-random input.
#![cfg(feature = "capi")]

mod common;

use aep_edge::ffi::*;
use std::ffi::{c_char, CStr, CString};
use std::ptr;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"event\"",
    "\"events\"",
    "\"xdm\"",
    "\"options\"",
    "\"meta\"",
    "\"state\"",
    "\"entries\"",
    "\"key\"",
    "\"query\"",
    "\"consent\"",
    "\"requestId\"",
    "null",
    "true",
    "1e999",
    "-0",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"é\"",
    "{}",
    "[]",
    "\"datastreamId\"",
    "\"baseUrl\"",
    "\"http://10.0.0.1\"",
    "\"timeouts\"",
    "{\"connectMs\":0}",
    "\"auth\"",
    "{\"type\":\"token\"}",
    "\"statePath\"",
    "\"/\"",
    "9999999999999999999999",
];

/// Random bytes, or random JSON-ish text, never containing NUL.
fn input(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(40);
    let mut out = Vec::new();
    if rng.below(3) == 0 {
        for _ in 0..len * 4 {
            out.push((rng.below(255) + 1) as u8);
        }
    } else {
        for _ in 0..len {
            out.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
        }
    }
    out
}

fn take(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    unsafe { aep_edge_string_free(s) };
    Some(text)
}

fn assert_error_object(status: aep_edge_status, out: Option<String>) {
    let out = out.expect("an error object is always written");
    let v: serde_json::Value = serde_json::from_str(&out).expect("the error object is JSON");
    assert_eq!(v["error"]["status"], status as u32, "{out}");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[test]
fn garbage_in_never_crashes_and_changes_nothing() {
    let edge = common::emulator();
    let config =
        CString::new(common::config(&edge.base_url(), serde_json::json!({})).to_string()).unwrap();
    let mut client = ptr::null_mut();
    assert_eq!(
        unsafe { aep_edge_client_new(config.as_ptr(), &mut client, ptr::null_mut()) },
        aep_edge_status::AEP_EDGE_OK
    );
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let bytes = CString::new(input(&mut rng)).unwrap();
        let mut out = ptr::null_mut();

        let mut other = ptr::null_mut();
        let status = unsafe { aep_edge_client_new(bytes.as_ptr(), &mut other, &mut out) };
        if status == aep_edge_status::AEP_EDGE_OK {
            unsafe { aep_edge_client_free(other) };
            assert!(take(out).is_none());
        } else {
            assert!(other.is_null());
            assert_error_object(status, take(out));
        }

        for call in [aep_edge_interact, aep_edge_collect, aep_edge_set_consent] {
            let status = unsafe { call(client, bytes.as_ptr(), &mut out) };
            let text = take(out);
            if status != aep_edge_status::AEP_EDGE_OK {
                assert_error_object(status, text);
            }
        }
        let status = unsafe { aep_edge_client_set_access_token(client, bytes.as_ptr(), &mut out) };
        assert_error_object(status, take(out));
    }
    // The client still works after all of it.
    let before = edge.requests().len();
    let request = CString::new(common::source_request().to_string()).unwrap();
    let mut out = ptr::null_mut();
    assert_eq!(
        unsafe { aep_edge_interact(client, request.as_ptr(), &mut out) },
        aep_edge_status::AEP_EDGE_OK
    );
    assert!(take(out).unwrap().contains("\"handle\""));
    assert_eq!(edge.requests().len(), before + 1);
    unsafe { aep_edge_client_free(client) };
}

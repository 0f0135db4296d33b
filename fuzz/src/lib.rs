//! The fuzz harness: one function per target, each feeding bytes to a real
//! path of the library and checking the answer keeps the C ABI's promises
//! (a known status, never `AEP_EDGE_PANIC`; an error object that says what
//! went wrong). libFuzzer calls these from `fuzz_targets/`; `tests/replay.rs`
//! calls them on the committed seeds and regression inputs.
//!
//! Network targets talk to a tiny loopback server in this process that answers
//! with the fuzzed bytes, so the whole path runs: ureq's parsing, the client's
//! retry table and response interpretation, the session update.

use aep_edge::ffi::{self, aep_edge_client, aep_edge_status};
use serde_json::Value;
use std::ffi::{c_char, CStr, CString};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::ptr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

mod text_paths;
pub use text_paths::{text_paths_request, text_paths_response};

/// `Config::from_json` and `aep_edge_client_new` on the bytes (configs that
/// name files are parsed but not opened: a fuzzer must not write anywhere).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = aep_edge::Config::from_json(text);
    let touches_files = ["statePath", "caFile", "queue", "path"]
        .iter()
        .any(|k| text.contains(k));
    if parsed.is_err() || touches_files {
        return;
    }
    let c = c_string(data);
    let mut client: *mut aep_edge_client = ptr::null_mut();
    let mut error: *mut c_char = ptr::null_mut();
    let status = unsafe { ffi::aep_edge_client_new(c.as_ptr(), &mut client, &mut error) };
    if status == aep_edge_status::AEP_EDGE_OK {
        assert!(!client.is_null(), "OK without a client");
        assert!(error.is_null(), "OK with an error object");
        unsafe { ffi::aep_edge_client_free(client) };
    } else {
        check_error(status, take(error).as_deref());
    }
}

/// Interact, collect or set-consent through the C ABI with the bytes as the
/// request, against a closed port: validation and enrichment run, then the
/// transport fails (no retries).
pub fn request(data: &[u8]) {
    static CLIENT: OnceLock<Handle> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        let port = closed_port();
        Handle::new(&format!(
            r#"{{"datastreamId": "ds", "baseUrl": "http://127.0.0.1:{port}",
                "retry": {{"maxAttempts": 1}}, "timeouts": {{"connectMs": 500, "totalMs": 2000}}}}"#
        ))
    });
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (status, result) = client.call(selector, &c_string(body));
    if status == aep_edge_status::AEP_EDGE_OK {
        panic!("a call to a closed port succeeded: {result:?}");
    }
    check_error(status, result.as_deref());
}

/// The bytes are the whole HTTP answer (status line, headers, body) to an
/// interact, collect or consent call. The session is reset after each call so
/// state from one input does not pile up into the next.
pub fn response(data: &[u8]) {
    static CLIENT: OnceLock<Handle> = OnceLock::new();
    let Some((&selector, answer)) = data.split_first() else {
        return;
    };
    let client = CLIENT.get_or_init(|| {
        let port = server(&RESPONSE_SERVER).port;
        Handle::new(&format!(
            r#"{{"datastreamId": "ds", "orgId": "ORG@AdobeOrg", "baseUrl": "http://127.0.0.1:{port}",
                "retry": {{"maxAttempts": 1}},
                "timeouts": {{"connectMs": 1000, "requestMs": 1000, "totalMs": 2000}}}}"#
        ))
    });
    let answer = answer.to_vec();
    server(&RESPONSE_SERVER).answer_with(move |_| answer.clone());
    let request = match selector % 3 {
        0 => &br#"{"event": {"xdm": {"eventType": "web.webpagedetails.pageViews"}}}"#[..],
        1 => &br#"{"events": [{"xdm": {"eventType": "a"}}, {"xdm": {"eventType": "b"}}]}"#[..],
        _ => &br#"{"consent": [{"standard": "Adobe", "version": "2.0", "value": {"collect": {"val": "y"}}}]}"#[..],
    };
    let (status, result) = client.call(selector, &c_string(request));
    check_result(status, result.as_deref());
    let (status, view) = client.session();
    assert_eq!(
        status,
        aep_edge_status::AEP_EDGE_OK,
        "session_get failed: {view:?}"
    );
    serde_json::from_str::<Value>(view.as_deref().unwrap_or("")).expect("session view is JSON");
    client.reset();
}

/// The bytes after the first are the IMS token answer's body (the first picks
/// its status); a new OAuth client fetches a token and makes one call.
pub fn token(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let ims_status = [200, 200, 200, 400, 401, 429, 500, 503][usize::from(selector % 8)];
    let body = body.to_vec();
    let srv = server(&TOKEN_SERVER);
    srv.answer_with(move |path| {
        if path.contains("/ims/") {
            http(ims_status, "application/json", &body)
        } else {
            http(200, "application/json", EDGE_OK.as_bytes())
        }
    });
    let port = srv.port;
    let client = Handle::new(&format!(
        r#"{{"datastreamId": "ds", "orgId": "ORG@AdobeOrg", "baseUrl": "http://127.0.0.1:{port}",
            "auth": {{"type": "oauth", "clientId": "id", "clientSecret": "secret", "scopes": "openid",
                      "tokenUrl": "http://127.0.0.1:{port}/ims/token/v3"}},
            "retry": {{"maxAttempts": 1}},
            "timeouts": {{"connectMs": 1000, "requestMs": 1000, "totalMs": 2000}}}}"#
    ));
    let (status, result) = client.call(0, &c_string(INTERACT.as_bytes()));
    check_result(status, result.as_deref());
}

/// The bytes are the `statePath` file a new client loads.
pub fn state_file(data: &[u8]) {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("aep-edge-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    });
    let path = dir.join("session.json");
    std::fs::write(&path, data).expect("write the state file");
    let config = serde_json::json!({
        "datastreamId": "ds", "orgId": "ORG@AdobeOrg", "baseUrl": "http://127.0.0.1:9",
        "statePath": path,
    });
    let client = Handle::new(&config.to_string());
    let (status, view) = client.session();
    assert_eq!(
        status,
        aep_edge_status::AEP_EDGE_OK,
        "session_get failed: {view:?}"
    );
    let view: Value = serde_json::from_str(view.as_deref().unwrap_or("")).expect("JSON view");
    assert!(
        view["entries"].is_array() || view["entries"].is_object(),
        "{view}"
    );
}

const INTERACT: &str = r#"{"event": {"xdm": {"eventType": "web.webpagedetails.pageViews"}}}"#;
const EDGE_OK: &str = r#"{"requestId": "r", "handle": [{"type": "state:store", "payload": [{"key": "kndctr_ORG_AdobeOrg_cluster", "value": "or2", "maxAge": 1800}]}]}"#;

/// An owned client handle, freed on drop.
struct Handle(*mut aep_edge_client);

// The C ABI documents a client as safe to share between threads.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Handle {
    fn new(config: &str) -> Handle {
        let c = CString::new(config).expect("config without NUL");
        let mut client = ptr::null_mut();
        let mut error = ptr::null_mut();
        let status = unsafe { ffi::aep_edge_client_new(c.as_ptr(), &mut client, &mut error) };
        assert_eq!(
            status,
            aep_edge_status::AEP_EDGE_OK,
            "client_new: {:?}",
            take(error)
        );
        Handle(client)
    }

    /// Interact, collect or set-consent, by `selector`.
    fn call(&self, selector: u8, request: &CStr) -> (aep_edge_status, Option<String>) {
        let mut out = ptr::null_mut();
        let status = unsafe {
            match selector % 3 {
                0 => ffi::aep_edge_interact(self.0, request.as_ptr(), &mut out),
                1 => ffi::aep_edge_collect(self.0, request.as_ptr(), &mut out),
                _ => ffi::aep_edge_set_consent(self.0, request.as_ptr(), &mut out),
            }
        };
        (status, take(out))
    }

    fn session(&self) -> (aep_edge_status, Option<String>) {
        let mut out = ptr::null_mut();
        let status = unsafe { ffi::aep_edge_session_get(self.0, &mut out) };
        (status, take(out))
    }

    fn reset(&self) {
        let mut error = ptr::null_mut();
        let status = unsafe { ffi::aep_edge_session_reset(self.0, &mut error) };
        assert_eq!(
            status,
            aep_edge_status::AEP_EDGE_OK,
            "reset: {:?}",
            take(error)
        );
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        unsafe { ffi::aep_edge_client_free(self.0) };
    }
}

/// A returned string, copied and freed; `None` for NULL.
fn take(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    unsafe { ffi::aep_edge_string_free(s) };
    Some(text)
}

/// The bytes up to the first NUL, as C sees a string.
fn c_string(data: &[u8]) -> CString {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    CString::new(&data[..end]).expect("no NUL before end")
}

/// Any outcome but a panic; a failure must carry a well-formed error object.
fn check_result(status: aep_edge_status, result: Option<&str>) {
    if status == aep_edge_status::AEP_EDGE_OK {
        let body: Value = serde_json::from_str(result.expect("OK writes a result")).expect("JSON");
        for key in ["handle", "errors", "warnings"] {
            assert!(body[key].is_array(), "success without {key} list: {body}");
        }
        assert!(body["client"]["httpStatus"].is_u64(), "{body}");
    } else {
        check_error(status, result);
    }
}

fn check_error(status: aep_edge_status, error: Option<&str>) {
    assert_ne!(
        status,
        aep_edge_status::AEP_EDGE_PANIC,
        "the library panicked: {error:?}"
    );
    let text = error.expect("a failure writes an error object");
    let body: Value = serde_json::from_str(text).expect("the error object is JSON");
    let e = &body["error"];
    assert_eq!(e["status"].as_u64(), Some(status as u64), "{body}");
    assert!(e["kind"].is_string() && e["message"].is_string(), "{body}");
    assert!(e["attempts"].is_u64(), "{body}");
    assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{body}");
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

type Answer = Box<dyn Fn(&str) -> Vec<u8> + Send>;

/// One loopback server per process, answering every request with what the
/// current input says, then closing the connection.
struct Server {
    port: u16,
    answer: Mutex<Answer>,
    /// The last request read (head and body), for targets that compare what
    /// was sent.
    last_request: Mutex<Vec<u8>>,
}

impl Server {
    fn answer_with(&self, answer: impl Fn(&str) -> Vec<u8> + Send + 'static) {
        *self.answer.lock().unwrap_or_else(|p| p.into_inner()) = Box::new(answer);
    }

    /// Takes the last request read (empty when none came since).
    fn take_request(&self) -> Vec<u8> {
        std::mem::take(&mut *self.last_request.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Each target has its own server (the replay tests run targets in parallel).
type ServerSlot = OnceLock<&'static Server>;
static RESPONSE_SERVER: ServerSlot = OnceLock::new();
static TOKEN_SERVER: ServerSlot = OnceLock::new();
static TEXT_REQUEST_SERVER: ServerSlot = OnceLock::new();
static TEXT_RESPONSE_SERVER: ServerSlot = OnceLock::new();

fn server(slot: &'static ServerSlot) -> &'static Server {
    slot.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let server: &'static Server = Box::leak(Box::new(Server {
            port: listener.local_addr().expect("addr").port(),
            answer: Mutex::new(Box::new(|_| Vec::new())),
            last_request: Mutex::new(Vec::new()),
        }));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(server, stream);
            }
        });
        server
    })
}

/// Reads one request (headers and a Content-Length body), writes the answer,
/// closes. Calls are sequential, so one connection at a time is enough.
fn serve(server: &Server, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    *server
        .last_request
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = buf;
    let answer = (server.answer.lock().unwrap_or_else(|p| p.into_inner()))(&path);
    let _ = stream.write_all(&answer);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

fn http(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

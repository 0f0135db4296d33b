//! The Rust part of the benchmark suite (`bash bench/run.sh` runs it against
//! an emulator process, so only the client is measured here):
//!
//! - allocations and bytes allocated per `aep_edge_interact` (a counting
//!   allocator; the calls go through the C ABI, as a C host makes them);
//! - `statePath` on vs off (session `device`), one thread;
//! - peak RSS, and RSS growth from call 10 000 to call 100 000.
//!
//! `cargo run --release --example bench -- BASE_URL [CALLS]` prints one JSON
//! line per measurement (bench/report.py turns them into the table).

use aep_edge::ffi;
use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Counts every allocation of the process (the emulator runs elsewhere).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only adds counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as the caller promised for this layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller promised.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: as the caller promised.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The source document's event (README).
const REQUEST: &str = concat!(
    r#"{"event":{"xdm":{"identityMap":{"Email_LC_SHA256":[{"id":"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b","primary":true}]},"eventType":"web.webpagedetails.pageViews","web":{"webPageDetails":{"URL":"https://alloystore.dev/","name":"home-demo-Home Page"}},"timestamp":"2021-08-09T14:09:20.859Z"},"data":{"prop1":"custom value"}}}"#,
    "\0"
);

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn client(base_url: &str, extra: serde_json::Value) -> CClient {
    let mut config = json!({"datastreamId": "bench", "baseUrl": base_url});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let text = CString::new(config.to_string()).unwrap();
    let mut handle = std::ptr::null_mut();
    // SAFETY: a NUL-terminated config and a valid out pointer.
    let status =
        unsafe { ffi::aep_edge_client_new(text.as_ptr(), &mut handle, std::ptr::null_mut()) };
    assert_eq!(status as u32, 0, "client_new failed");
    CClient(handle)
}

/// One call through the C ABI itself, as a C host makes it.
fn call(client: &CClient) {
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: a live handle, a NUL-terminated request, a valid out pointer.
    let status = unsafe { ffi::aep_edge_interact(client.0, REQUEST.as_ptr().cast(), &mut out) };
    assert_eq!(status as u32, 0, "interact failed");
    // SAFETY: a string this library returned, freed once.
    unsafe { ffi::aep_edge_string_free(out) };
}

/// A client made and freed through the C ABI.
struct CClient(*mut ffi::aep_edge_client);

impl Drop for CClient {
    fn drop(&mut self) {
        // SAFETY: our handle, no call in flight.
        unsafe {
            ffi::aep_edge_client_close(self.0, 1000, std::ptr::null_mut());
            ffi::aep_edge_client_free(self.0);
        }
    }
}

fn allocations(base_url: &str, session: &str) {
    let client = client(base_url, json!({"session": session}));
    for _ in 0..200 {
        call(&client);
    }
    let n = 2000;
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    for _ in 0..n {
        call(&client);
    }
    let allocs = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / n as f64;
    let bytes = (BYTES.load(Ordering::Relaxed) - b0) as f64 / n as f64;
    println!(
        "{}",
        json!({"measure": "allocations", "session": session, "calls": n,
               "allocsPerCall": (allocs * 10.0).round() / 10.0, "bytesPerCall": bytes.round()})
    );
}

/// Median calls/s and p50 of interleaved rounds, with and without a state file.
fn state_path(base_url: &str, calls: usize, rounds: usize) {
    let dir = std::env::temp_dir().join(format!("aep-edge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session.json");
    let on = client(
        base_url,
        json!({"statePath": path.to_str().unwrap(), "session": "device"}),
    );
    let off = client(base_url, json!({"session": "device"}));
    let mut results = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    for c in [&on, &off] {
        for _ in 0..200 {
            call(c);
        }
    }
    for round in 0..rounds {
        for k in 0..2 {
            let which = (k + round) % 2;
            let c = if which == 0 { &on } else { &off };
            let started = Instant::now();
            for _ in 0..calls {
                let t = Instant::now();
                call(c);
                results[which].1.push(t.elapsed().as_secs_f64() * 1e6);
            }
            results[which]
                .0
                .push(calls as f64 / started.elapsed().as_secs_f64());
        }
    }
    for (which, name) in [(0, "on"), (1, "off")] {
        let (rates, lat) = &mut results[which];
        rates.sort_by(f64::total_cmp);
        lat.sort_by(f64::total_cmp);
        println!(
            "{}",
            json!({"measure": "statePath", "statePath": name, "calls": lat.len(),
                   "callsPerSec": rates[rates.len() / 2].round(),
                   "p50Us": (lat[lat.len() / 2] * 10.0).round() / 10.0,
                   "p99Us": (lat[lat.len() * 99 / 100] * 10.0).round() / 10.0})
        );
    }
    drop(on);
    let _ = std::fs::remove_dir_all(&dir);
}

fn memory(base_url: &str, total: usize) {
    let client = client(base_url, json!({"session": "device"}));
    let mut at_10k = 0;
    let started = Instant::now();
    for i in 1..=total {
        call(&client);
        if i == total.min(10_000) {
            at_10k = status_kib("VmRSS:");
        }
    }
    let at_end = status_kib("VmRSS:");
    println!(
        "{}",
        json!({"measure": "memory", "calls": total, "rssAt10kKiB": at_10k, "rssAtEndKiB": at_end,
               "growthKiB": at_end as i64 - at_10k as i64, "peakRssKiB": status_kib("VmHWM:"),
               "callsPerSec": (total as f64 / started.elapsed().as_secs_f64()).round()})
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(base_url) = args.get(1) else {
        eprintln!("usage: bench BASE_URL [CALLS_FOR_MEMORY]");
        std::process::exit(64);
    };
    let memory_calls = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    allocations(base_url, "none");
    allocations(base_url, "device");
    state_path(base_url, 2000, 3);
    memory(base_url, memory_calls);
}

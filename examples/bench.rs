//! Throughput, latency and memory of `interact` against the in-process
//! emulator over loopback: `cargo run --release --example bench`.
//! Prints a Markdown table (the README keeps the latest one).

use aep_edge::Client;
use aep_edge_emulator::{Emulator, Options};
use serde_json::json;
use std::time::{Duration, Instant};

fn request() -> serde_json::Value {
    json!({"event": {"xdm": {
        "identityMap": {"Email_LC_SHA256": [{"id": "0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b", "primary": true}]},
        "eventType": "web.webpagedetails.pageViews",
        "web": {"webPageDetails": {"URL": "https://alloystore.dev/", "name": "home-demo-Home Page"}}
    }, "data": {"prop1": "custom value"}}})
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn run(client: &Client, threads: usize, per_thread: usize) -> (f64, Duration, Duration) {
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..per_thread)
                        .map(|_| {
                            let t = Instant::now();
                            client.interact(request()).expect("interact");
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    (
        (threads * per_thread) as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
    )
}

fn main() {
    let edge = Emulator::start(Options {
        max_recorded: 0,
        ..Options::default()
    })
    .expect("emulator");
    println!("| session | threads | calls | calls/s | p50 | p99 |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for session in ["device", "none"] {
        let client = Client::from_json(
            &json!({"datastreamId": "bench", "baseUrl": edge.base_url(), "session": session})
                .to_string(),
        )
        .expect("client");
        run(&client, 1, 200); // warm up the pool
        for (threads, per_thread) in [(1, 5000), (8, 2000)] {
            let (rate, p50, p99) = run(&client, threads, per_thread);
            println!(
                "| {session} | {threads} | {} | {rate:.0} | {:.0} µs | {:.0} µs |",
                threads * per_thread,
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
        }
    }
    println!(
        "\npeak RSS of the process (client and emulator): {} MiB",
        peak_rss_kib() / 1024
    );
}

//! The durable event queue (design.md §3.7) against the emulator over real
//! HTTP: batching, splits of refused batches, 207 event errors, consent,
//! bounds, the file lock, an outage, and a host killed mid-delivery.

mod common;

use aep_edge::{Client, Config, ErrorKind, Queue};
use aep_edge_emulator::{Emulator, Fault, Options};
use common::{config, emulator};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn open(base_url: &str, extra: Value) -> (Client, Queue) {
    let client = Client::new(Config::from_value(&config(base_url, extra)).unwrap()).unwrap();
    let queue = Queue::open(client.clone()).expect("queue opens");
    (client, queue)
}

/// Opens a queue file that a closed client's dispatcher may still hold for a
/// moment (the file is free once that thread has exited).
fn reopen(base_url: &str, extra: Value) -> (Client, Queue) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let client =
            Client::new(Config::from_value(&config(base_url, extra.clone())).unwrap()).unwrap();
        match Queue::open(client.clone()) {
            Ok(queue) => return (client, queue),
            Err(e) if e.kind == ErrorKind::Storage && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "aep-edge-queue-test-{}-{}",
        std::process::id(),
        name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("events.db")
}

fn event(n: usize) -> Value {
    json!({"event": {"xdm": {"eventType": "test.queued",
        "identityMap": {"FPID": [{"id": format!("visitor-{n}")}]}}, "data": {"n": n}}})
}

fn send_many(queue: &Queue, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let r = queue.send_event(event(i)).expect("stored");
            r["eventId"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Every event `_id` in requests the emulator answered 2xx, with repeats.
fn delivered_ids(edge: &Emulator) -> Vec<String> {
    let mut ids = Vec::new();
    for r in edge.requests() {
        if !(200..300).contains(&r.response_status) {
            continue;
        }
        let Some(body) = r.json() else { continue };
        let events: Vec<Value> = if r.path.contains("/collect") {
            body["events"].as_array().cloned().unwrap_or_default()
        } else if r.path.contains("/interact") {
            vec![body["event"].clone()]
        } else {
            continue;
        };
        for e in events {
            if let Some(id) = e["xdm"]["_id"].as_str() {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

/// Outcomes seen by the callback, by event id.
fn record_outcomes(queue: &Queue) -> Arc<Mutex<HashMap<String, Value>>> {
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let sink = seen.clone();
    queue.set_outcome_callback(Some(Arc::new(move |o: &Value| {
        let id = o["eventId"].as_str().unwrap().to_string();
        assert!(
            sink.lock().unwrap().insert(id, o.clone()).is_none(),
            "one outcome per event"
        );
    })));
    seen
}

#[test]
fn events_go_out_in_batches_and_leave_only_when_accepted() {
    let edge = emulator();
    let (_client, queue) = open(&edge.base_url(), json!({"queue": {"maxBatchEvents": 40}}));
    let outcomes = record_outcomes(&queue);
    let ids = send_many(&queue, 101);
    let stats = queue.flush(Duration::from_secs(20)).expect("flushed");
    assert_eq!(stats["queued"], 0, "{stats}");
    assert_eq!(stats["delivered"], 101, "{stats}");
    assert_eq!(stats["bytes"], 0, "{stats}");

    let requests = edge.requests();
    // A device session without an ECID: the oldest event alone through interact, first.
    assert!(
        requests[0].path.ends_with("/v2/interact"),
        "{}",
        requests[0].path
    );
    assert_eq!(
        requests[0].json().unwrap()["query"]["identity"]["fetch"],
        json!(["ECID"])
    );
    let collects: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/v2/collect"))
        .collect();
    assert_eq!(collects.len(), 3, "100 events in batches of at most 40");
    for c in &collects {
        let body = c.json().unwrap();
        assert!(body["events"].as_array().unwrap().len() <= 40);
        let entries = body["meta"]["state"]["entries"].as_array().unwrap();
        assert!(
            entries
                .iter()
                .any(|e| e["key"].as_str().unwrap().ends_with("_identity")),
            "collect batches carry the identity the interact brought: {body}"
        );
    }
    assert_eq!(
        delivered_ids(&edge),
        ids,
        "every event once, in the order sent"
    );
    let outcomes = outcomes.lock().unwrap();
    assert_eq!(outcomes.len(), 101);
    assert!(outcomes
        .values()
        .all(|o| o["outcome"] == "delivered" && o["attempts"] == 1));
}

#[test]
fn a_poisoned_event_is_rejected_alone_and_the_99_others_are_delivered() {
    let edge = emulator();
    let (_client, queue) = open(&edge.base_url(), json!({"session": "none"}));
    let outcomes = record_outcomes(&queue);
    let ids = send_many(&queue, 100);
    let poisoned = ids[37].clone();
    edge.inject(
        Fault::reject_events(&[poisoned.as_str()], 422)
            .times(100)
            .on_path("/collect"),
    );
    let stats = queue.flush(Duration::from_secs(20)).expect("flushed");
    assert_eq!(stats["delivered"], 99, "{stats}");
    assert_eq!(stats["rejected"], json!({"EXEG-0104-422": 1}), "{stats}");

    let delivered: BTreeSet<String> = delivered_ids(&edge).into_iter().collect();
    assert_eq!(delivered.len(), 99);
    assert!(!delivered.contains(&poisoned));
    // Halving around event 37: 100 → 50 → 25 → 13 → 6 → 3 → 1, each refused part split again.
    let refused = edge
        .requests()
        .iter()
        .filter(|r| r.response_status == 422)
        .count();
    assert_eq!(refused, 7, "one refused request per halving");

    let outcomes = outcomes.lock().unwrap();
    let bad = &outcomes[&poisoned];
    assert_eq!(bad["outcome"], "rejected");
    assert_eq!(bad["error"]["httpStatus"], 422);
    assert_eq!(bad["error"]["code"], "EXEG-0104-422");
    assert_eq!(bad["attempts"], 7);
    assert_eq!(
        outcomes
            .values()
            .filter(|o| o["outcome"] == "delivered")
            .count(),
        99
    );
}

#[test]
fn events_named_by_a_207_event_index_are_rejected_alone() {
    let edge = emulator();
    let (_client, queue) = open(&edge.base_url(), json!({"session": "none"}));
    let outcomes = record_outcomes(&queue);
    let ids = send_many(&queue, 10);
    edge.inject(Fault::reject_events(&[ids[2].as_str(), ids[7].as_str()], 207).times(5));
    let stats = queue.flush(Duration::from_secs(20)).expect("flushed");
    assert_eq!(stats["delivered"], 8, "{stats}");
    assert_eq!(stats["rejected"], json!({"EXEG-0102-400": 2}), "{stats}");
    assert_eq!(stats["batches"], 1, "one request, no re-send: {stats}");
    let outcomes = outcomes.lock().unwrap();
    for (i, id) in ids.iter().enumerate() {
        let expected = if i == 2 || i == 7 {
            "rejected"
        } else {
            "delivered"
        };
        assert_eq!(outcomes[id]["outcome"], expected, "event {i}");
    }
    assert_eq!(
        outcomes[&ids[7]]["error"]["problem"]["report"]["eventIndex"],
        7
    );
}

#[test]
fn a_full_queue_refuses_and_drops_nothing() {
    let edge = emulator();
    let (_client, queue) = open(
        &edge.base_url(),
        json!({"session": "none", "queue": {"maxEvents": 5, "flushIntervalMs": 600000}}),
    );
    let ids = send_many(&queue, 5);
    let full = queue.send_event(event(99)).unwrap_err();
    assert_eq!(full.kind, ErrorKind::QueueFull);
    assert!(full.message.contains("queue.maxEvents"), "{}", full.message);
    assert_eq!(queue.stats()["queued"], 5);
    assert!(
        edge.requests().is_empty(),
        "nothing sent before the interval"
    );
    queue.flush(Duration::from_secs(20)).expect("flushed");
    assert_eq!(delivered_ids(&edge), ids);
    queue.send_event(event(6)).expect("room again");

    let (_c2, small) = open(
        &edge.base_url(),
        json!({"session": "none", "queue": {"maxBytes": 65536, "flushIntervalMs": 600000}}),
    );
    let big = json!({"event": {"data": {"blob": "x".repeat(30_000)}}});
    small.send_event(big.clone()).unwrap();
    small.send_event(big.clone()).unwrap();
    let e = small.send_event(big).unwrap_err();
    assert_eq!(e.kind, ErrorKind::QueueFull);
    assert!(e.message.contains("queue.maxBytes"), "{}", e.message);
    assert_eq!(small.stats()["queued"], 2);
}

#[test]
fn the_bound_is_exact_under_concurrent_senders() {
    // Sends count their event before they store it (outside the counters'
    // lock): however they interleave, exactly maxEvents are accepted.
    let edge = emulator();
    let path = temp_file("bound");
    let (_client, queue) = open(
        &edge.base_url(),
        json!({"session": "none", "queue": {"path": path, "maxEvents": 90, "flushIntervalMs": 600000}}),
    );
    // Fewer than a batch (100): nothing leaves before the flush.
    let queue = Arc::new(queue);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                let (mut ok, mut full) = (0u64, 0u64);
                for i in 0..30 {
                    match queue.send_event(event(t * 1000 + i)) {
                        Ok(_) => ok += 1,
                        Err(e) if e.kind == ErrorKind::QueueFull => full += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                (ok, full)
            })
        })
        .collect();
    let (ok, full) = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!((ok, full), (90, 90));
    assert_eq!(queue.stats()["queued"], 90);
    assert!(
        edge.requests().is_empty(),
        "nothing sent before the interval"
    );
    queue.flush(Duration::from_secs(20)).expect("flushed");
    assert_eq!(delivered_ids(&edge).len(), 90);
}

#[test]
fn consent_n_refuses_new_events_and_rejects_waiting_ones_pending_holds_them() {
    let edge = emulator();
    let (client, queue) = open(&edge.base_url(), json!({"defaultConsent": "pending"}));
    let outcomes = record_outcomes(&queue);
    send_many(&queue, 3);
    let (e, stats) = queue.flush(Duration::from_millis(400)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(stats["queued"], 3, "held while consent is pending");
    assert!(edge.requests().is_empty(), "nothing sent while pending");

    client
        .set_consent(json!({"consent": [{"standard": "Adobe", "version": "2.0",
            "value": {"collect": {"val": "n"}}}]}))
        .unwrap();
    let stats = queue
        .flush(Duration::from_secs(10))
        .expect("rejected, so empty");
    assert_eq!(stats["rejected"], json!({"consent_denied": 3}), "{stats}");
    assert!(outcomes
        .lock()
        .unwrap()
        .values()
        .all(|o| o["outcome"] == "rejected" && o["error"]["kind"] == "consent_denied"));
    let refused = queue.send_event(event(4)).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::ConsentDenied);
    assert_eq!(queue.stats()["queued"], 0, "nothing stored");
    assert!(!edge
        .requests()
        .iter()
        .any(|r| r.path.contains("/collect") || r.path.contains("/interact")));

    // Pending, then yes: the held events go out.
    let (client, queue) = open(&edge.base_url(), json!({"defaultConsent": "pending"}));
    let ids = send_many(&queue, 2);
    std::thread::sleep(Duration::from_millis(100));
    client
        .set_consent(json!({"consent": [{"standard": "Adobe", "version": "2.0",
            "value": {"collect": {"val": "y"}}}]}))
        .unwrap();
    queue.flush(Duration::from_secs(10)).expect("delivered");
    assert_eq!(delivered_ids(&edge), ids);
}

#[test]
fn a_second_client_on_the_same_file_is_refused_by_name() {
    let edge = emulator();
    let path = temp_file("locked");
    let extra = json!({"queue": {"path": path}});
    let (_first, queue) = open(&edge.base_url(), extra.clone());
    let client =
        Client::new(Config::from_value(&config(&edge.base_url(), extra.clone())).unwrap()).unwrap();
    let e = Queue::open(client).err().expect("refused");
    assert_eq!(e.kind, ErrorKind::Storage);
    assert!(
        e.message.contains(&path.display().to_string()),
        "{}",
        e.message
    );
    queue.close(Instant::now());
    drop(queue);
    let (_again, _queue) = reopen(&edge.base_url(), extra);
}

#[test]
fn after_an_outage_a_new_host_delivers_everything_kept_on_disk() {
    let path = temp_file("outage");
    // Nothing listens on this port yet: the Edge Network is unreachable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let extra = json!({"queue": {"path": path, "flushIntervalMs": 10}});
    let (client, queue) = open(&base, extra.clone());
    let ids = send_many(&queue, 250);
    std::thread::sleep(Duration::from_millis(300));
    let report = queue.close(Instant::now() + Duration::from_millis(200));
    client.close(Duration::from_millis(200));
    assert_eq!(report.undelivered, 250, "{report:?}");
    assert!(report.stats["retries"].as_u64().unwrap() > 0, "{report:?}");
    drop(queue);

    let edge = Emulator::start(Options {
        port,
        ..Options::default()
    })
    .expect("the emulator starts on the port");
    let (_client, queue) = reopen(&edge.base_url(), extra);
    assert_eq!(queue.stats()["queued"], 250, "the backlog was kept");
    let stats = queue.flush(Duration::from_secs(30)).expect("delivered");
    assert_eq!(stats["delivered"], 250);
    let delivered = delivered_ids(&edge);
    assert_eq!(delivered, ids, "all delivered, once, in order");
}

/// The host process of the crash test; run by `a_host_killed_mid_delivery...`.
#[test]
#[ignore = "a helper process for the crash test"]
fn crash_test_host() {
    let (Ok(path), Ok(base), Ok(n)) = (
        std::env::var("AEP_EDGE_CRASH_QUEUE"),
        std::env::var("AEP_EDGE_CRASH_BASE_URL"),
        std::env::var("AEP_EDGE_CRASH_EVENTS"),
    ) else {
        panic!("run by the crash test only");
    };
    let (_client, queue) = open(
        &base,
        json!({"queue": {"path": path, "maxBatchEvents": 50, "flushIntervalMs": 0}}),
    );
    for i in 0..n.parse::<usize>().unwrap() {
        let r = queue.send_event(event(i)).expect("stored");
        println!("accepted {}", r["eventId"].as_str().unwrap());
    }
    println!("all accepted");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_host_killed_mid_delivery_loses_nothing_and_repeats_only_same_ids() {
    let edge = emulator();
    // Slow batches, so that the kill lands while some are on the wire.
    edge.inject(Fault::delay(150).times(1000).on_path("/collect"));
    let path = temp_file("crash");
    const N: usize = 1000;
    let mut host = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_test_host", "--ignored", "--nocapture"])
        .env("AEP_EDGE_CRASH_QUEUE", &path)
        .env("AEP_EDGE_CRASH_BASE_URL", edge.base_url())
        .env("AEP_EDGE_CRASH_EVENTS", N.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut accepted = BTreeSet::new();
    let mut lines = BufReader::new(host.stdout.take().unwrap()).lines();
    let mut killed_at_line = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(id) = line.strip_prefix("accepted ") {
            accepted.insert(id.to_string());
            // Kill while sending and delivering, once some batches are out.
            if accepted.len() >= N / 2 && !delivered_ids(&edge).is_empty() {
                killed_at_line = Some(accepted.len());
                break;
            }
        }
        if line == "all accepted" {
            let deadline = Instant::now() + Duration::from_secs(20);
            while delivered_ids(&edge).len() < 100 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            break;
        }
    }
    host.kill().expect("SIGKILL");
    host.wait().unwrap();
    // What it printed before it died counts as accepted too.
    for line in lines.map_while(|l| l.ok()) {
        if let Some(id) = line.strip_prefix("accepted ") {
            accepted.insert(id.to_string());
        }
    }
    let before_restart = delivered_ids(&edge).len();
    assert!(
        before_restart > 0 && before_restart < N,
        "killed mid-delivery ({before_restart} delivered, killed after {killed_at_line:?} accepted)"
    );

    let (_client, queue) = open(&edge.base_url(), json!({"queue": {"path": path}}));
    queue
        .flush(Duration::from_secs(60))
        .expect("the rest delivered");
    let delivered = delivered_ids(&edge);
    let distinct: BTreeSet<String> = delivered.iter().cloned().collect();
    assert!(
        accepted.is_subset(&distinct),
        "lost: {:?}",
        accepted.difference(&distinct).take(5).collect::<Vec<_>>()
    );
    // An event stored but not yet reported as accepted when the kill came may be
    // there too; nothing else is.
    assert!(
        distinct.len() <= accepted.len() + 1,
        "{} distinct ids for {} accepted",
        distinct.len(),
        accepted.len()
    );
    eprintln!(
        "crash test: {} accepted, {} distinct delivered, {} sends in all, 0 lost",
        accepted.len(),
        distinct.len(),
        delivered.len()
    );
}
